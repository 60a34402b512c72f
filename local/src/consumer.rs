//! The event source mapping, in process: polls a queue, hands SQS-shaped
//! batches to a handler, deletes what succeeded and leaves failures to the
//! visibility timeout (then the dead-letter list).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use shared::adapters::embedded::{EmbeddedQueue, QueuedMessage};
use shared::aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use tokio::sync::{Semaphore, watch};

use crate::tasks::Tracker;

/// How many batches run at once without `--aws-quotas`.
pub const CONCURRENCY: usize = 16;
pub const BATCH: usize = 10;

fn to_sqs(queue: &str, m: &QueuedMessage) -> SqsMessage {
    let mut s = SqsMessage::default();
    s.message_id = Some(m.id.clone());
    s.receipt_handle = Some(m.id.clone());
    s.body = Some(m.body.clone());
    s.attributes = [
        (
            "ApproximateReceiveCount".to_owned(),
            m.receive_count.to_string(),
        ),
        ("SentTimestamp".to_owned(), m.sent_at_ms.to_string()),
        (
            "ApproximateFirstReceiveTimestamp".to_owned(),
            m.first_receive_ms.unwrap_or_default().to_string(),
        ),
    ]
    .into_iter()
    .collect();
    s.event_source = Some("aws:sqs".into());
    s.event_source_arn = Some(format!("arn:aws:sqs:local:000000000000:{queue}"));
    s.aws_region = Some("local".into());
    s
}

/// Polls `queue` with at most `concurrency` batches of `batch` in flight
/// (the mapping's `MaximumConcurrency` and `BatchSize`).
pub async fn run<F, Fut>(
    queue: EmbeddedQueue,
    (concurrency, batch_size): (usize, usize),
    tracker: Tracker,
    handler: F,
    mut stop: watch::Receiver<bool>,
) where
    F: Fn(SqsEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = SqsBatchResponse> + Send + 'static,
{
    let handler = Arc::new(handler);
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    loop {
        if *stop.borrow() {
            return;
        }
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("semaphore open"),
            _ = stop.changed() => return,
        };
        let batch = match queue.receive(batch_size).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(queue = queue.name(), error = %e, "cannot read the queue");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if batch.is_empty() {
            drop(permit);
            let wait = queue
                .next_visible_in()
                .await
                .ok()
                .flatten()
                .unwrap_or(Duration::from_secs(1))
                .min(Duration::from_secs(1));
            tokio::select! {
                _ = queue.wait_for_messages(wait) => {}
                _ = stop.changed() => return,
            }
            continue;
        }
        let (queue, handler, token) = (queue.clone(), handler.clone(), tracker.token());
        tokio::spawn(async move {
            let _token = token;
            let mut event = SqsEvent::default();
            event.records = batch.iter().map(|m| to_sqs(queue.name(), m)).collect();
            let response = handler(event).await;
            let done: Vec<String> = batch
                .iter()
                .filter(|m| {
                    !response
                        .batch_item_failures
                        .iter()
                        .any(|f| f.item_identifier == m.id)
                })
                .map(|m| m.id.clone())
                .collect();
            if let Err(e) = queue.delete(done).await {
                tracing::error!(queue = queue.name(), error = %e, "cannot delete processed messages; they will be redelivered");
            }
            drop(permit);
        });
    }
}
