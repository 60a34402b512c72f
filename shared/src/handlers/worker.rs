//! The worker function: the events queue's consumer.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};

use crate::app::App;
use crate::usecases::coalesce::Coalescing;
use crate::usecases::process::process_event;

pub async fn handle(app: &App, event: SqsEvent) -> SqsBatchResponse {
    // The records run at once (up to the configured concurrency; the event
    // source mapping hands ten): their delivery jobs share the queue's calls.
    let records = event.records.len();
    let concurrency = app.config.batch_concurrency;
    let coalescing = Coalescing::new(app.deliveries.as_ref(), records.min(concurrency));
    let mut worker = app.worker();
    if records <= concurrency {
        worker.deliveries = &coalescing;
    }
    let worker = &worker;
    let coalescing = &coalescing;
    let response = super::sqs::for_each_record(&event, concurrency, |body| async move {
        let _running = coalescing.participant();
        process_event(worker, body).await
    })
    .await;
    super::sqs::flush_stats(app).await;
    response
}
