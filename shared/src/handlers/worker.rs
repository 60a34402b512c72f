//! The worker function: the events queue's consumer.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};

use crate::app::App;
use crate::usecases::process::process_event;

pub async fn handle(app: &App, event: SqsEvent) -> SqsBatchResponse {
    let worker = app.worker();
    let worker = &worker;
    let response = super::sqs::for_each_record(&event, app.config.batch_concurrency, |body| {
        process_event(worker, body)
    })
    .await;
    super::sqs::flush_stats(app).await;
    response
}
