//! The sender function: the deliveries queue's consumer.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};

use crate::app::App;
use crate::usecases::deliver::deliver_job;

pub async fn handle(app: &App, event: SqsEvent) -> SqsBatchResponse {
    let sender = app.sender();
    let sender = &sender;
    let response = super::sqs::for_each_record(&event, app.config.batch_concurrency, |body| {
        deliver_job(sender, body)
    })
    .await;
    super::sqs::flush_stats(app).await;
    response
}
