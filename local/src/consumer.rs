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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use shared::adapters::embedded::Embedded;
    use shared::ports::{OutMessage, Queue};

    use super::*;

    /// The mapping's MaximumConcurrency: never more batches at once, and
    /// every message still handled.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_the_configured_batches_run_at_once() {
        let dir = std::env::temp_dir().join(format!("consumer-{}", ulid::Ulid::new()));
        let db = Embedded::open(&dir).unwrap();
        let queue = db.queue("q", Duration::from_secs(30), 3).unwrap();
        let messages = (0..60).map(|i| OutMessage::now(format!("m{i}"))).collect();
        queue.send(messages).await.unwrap();
        let (running, peak, done) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let (stop_tx, stop) = watch::channel(false);
        let task = {
            let (running, peak, done) = (running.clone(), peak.clone(), done.clone());
            tokio::spawn(run(
                queue.clone(),
                (3, 2),
                Tracker::default(),
                move |e: SqsEvent| {
                    let (running, peak, done) = (running.clone(), peak.clone(), done.clone());
                    async move {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        done.fetch_add(e.records.len(), Ordering::SeqCst);
                        running.fetch_sub(1, Ordering::SeqCst);
                        SqsBatchResponse::default()
                    }
                },
                stop,
            ))
        };
        let began = std::time::Instant::now();
        while done.load(Ordering::SeqCst) < 60 && began.elapsed() < Duration::from_secs(20) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = stop_tx.send(true);
        let _ = task.await;
        assert_eq!(done.load(Ordering::SeqCst), 60);
        assert_eq!(peak.load(Ordering::SeqCst), 3, "batches at once");
        drop(queue);
        let _ = db.close(Duration::from_secs(5)).await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
