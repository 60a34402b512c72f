//! The webhooks function: signs and posts each queued webhook to the shop.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};

use crate::app::App;
use crate::usecases::MessageError;
use crate::usecases::webhooks::deliver;

pub async fn handle(app: &App, event: SqsEvent) -> SqsBatchResponse {
    let sender = app.webhook_sender();
    let sender = &sender;
    super::sqs::for_each_message(
        &event,
        app.config.batch_concurrency,
        |body, received| async move {
            let Some(sender) = sender else {
                return Err(MessageError::Retry(
                    "WEBHOOK_URL or WEBHOOK_SECRET is not set: webhooks wait on the queue".into(),
                ));
            };
            deliver(
                sender,
                body,
                received.receipt_handle,
                received.receive_count,
            )
            .await
        },
    )
    .await
}
