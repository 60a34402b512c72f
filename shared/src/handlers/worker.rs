//! The worker function: the events queue's consumer.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};

use crate::app::App;
use crate::usecases::coalesce::Coalescing;
use crate::usecases::process::process_event;

pub async fn handle(app: &App, event: SqsEvent) -> SqsBatchResponse {
    // The records run at once (the configured concurrency at a time; the
    // event source mapping hands ten): their delivery jobs share the queue's
    // calls. Only those with a body run; a later wave's records each send
    // alone (none of the first wave is left to wait for).
    let concurrency = app.config.batch_concurrency;
    let first_wave = event.records.iter().take(concurrency.max(1));
    let running = first_wave.filter(|r| r.body.is_some()).count();
    let coalescing = Coalescing::new(app.deliveries.as_ref(), running);
    let mut worker = app.worker();
    worker.deliveries = &coalescing;
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
