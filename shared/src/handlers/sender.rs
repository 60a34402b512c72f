//! The sender function: the deliveries queue's consumer.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};

use crate::app::App;
use crate::usecases::deliver::deliver_job;

pub async fn handle(app: &App, event: SqsEvent) -> SqsBatchResponse {
    let sender = app.sender();
    let sender = &sender;
    let last = app.config.deliveries_max_receives;
    let response =
        super::sqs::for_each_message(&event, app.config.batch_concurrency, |body, received| {
            let attempt = crate::usecases::deliver::Attempt {
                source: received.message_id,
                number: received.receive_count,
                last: received.receive_count >= last,
                started: app.clock.now(),
            };
            deliver_job(sender, body, attempt)
        })
        .await;
    super::sqs::flush_stats(app).await;
    response
}
