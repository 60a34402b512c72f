//! Running a handler over an SQS batch with partial batch failure reporting.

use std::future::Future;

use std::panic::AssertUnwindSafe;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::FutureExt;
use futures::future::join_all;

use crate::usecases::MessageError;

/// Processes every record concurrently; the response lists only the ids of
/// the records that failed, so SQS retries exactly those. A panic while
/// handling one record fails that record only (release builds unwind for
/// this): the others of the batch are not retried with it.
pub async fn for_each_record<'a, F, Fut, T>(
    event: &'a SqsEvent,
    concurrency: usize,
    f: F,
) -> SqsBatchResponse
where
    F: Fn(&'a str) -> Fut,
    Fut: Future<Output = Result<T, MessageError>>,
    T: std::fmt::Debug,
{
    for_each_message(event, concurrency, |body, _| f(body)).await
}

/// What a handler may want of a record besides its body.
#[derive(Clone, Copy, Debug)]
pub struct Received<'a> {
    /// SQS's id of the message: the same at every redelivery.
    pub message_id: Option<&'a str>,
    pub receipt_handle: Option<&'a str>,
    /// 1 on the first attempt.
    pub receive_count: u32,
}

/// [`for_each_record`] for handlers that also need the record's receipt
/// handle and receive count (to set their own retry backoff).
pub async fn for_each_message<'a, F, Fut, T>(
    event: &'a SqsEvent,
    concurrency: usize,
    f: F,
) -> SqsBatchResponse
where
    F: Fn(&'a str, Received<'a>) -> Fut,
    Fut: Future<Output = Result<T, MessageError>>,
    T: std::fmt::Debug,
{
    let runs = event.records.iter().map(|record| {
        let f = &f;
        async move {
            let id = record.message_id.clone().unwrap_or_default();
            let receive_count = record.attributes.get("ApproximateReceiveCount").cloned().unwrap_or_default();
            let received = Received {
                message_id: record.message_id.as_deref(),
                receipt_handle: record.receipt_handle.as_deref(),
                receive_count: receive_count.parse().unwrap_or(1),
            };
            let result = match record.body.as_deref() {
                Some(body) => AssertUnwindSafe(f(body, received))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|panic| Err(MessageError::Poison(format!("handler panicked: {}", panic_text(&panic))))),
                None => Err(MessageError::Poison("message has no body".into())),
            };
            match result {
                Ok(outcome) => {
                    tracing::debug!(message_id = %id, ?outcome, "message done");
                    None
                }
                Err(e) => {
                    match &e {
                        MessageError::Poison(reason) => tracing::error!(message_id = %id, %receive_count, %reason, "poison message; it will go to the dead-letter queue"),
                        MessageError::Retry(reason) => tracing::warn!(message_id = %id, %receive_count, %reason, "message failed; SQS will retry it"),
                    }
                    Some(id)
                }
            }
        }
    });
    let mut response = SqsBatchResponse::default();
    // At most `concurrency` records at once, in waves.
    let mut runs: Vec<_> = runs.collect();
    let mut done: Vec<Option<String>> = Vec::with_capacity(runs.len());
    while !runs.is_empty() {
        let wave: Vec<_> = runs.drain(..concurrency.clamp(1, runs.len())).collect();
        done.extend(join_all(wave).await);
    }
    for id in done.into_iter().flatten() {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}

/// Once per batch: the statistics every record of it counted, in one write.
pub async fn flush_stats(app: &crate::app::App) {
    if let Err(e) = app.store.flush_stats().await {
        tracing::warn!(error = %e, "statistics not written; kept for the next batch");
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-text panic")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::sqs::SqsMessage;

    fn batch(bodies: &[&str]) -> SqsEvent {
        let mut e = SqsEvent::default();
        e.records = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let mut m = SqsMessage::default();
                m.message_id = Some(format!("m{i}"));
                m.body = Some((*b).to_owned());
                m
            })
            .collect();
        e
    }

    #[tokio::test]
    async fn a_panic_fails_its_record_only() {
        let e = batch(&["ok", "boom", "ok", "retry"]);
        let seen = std::sync::atomic::AtomicUsize::new(0);
        let resp = for_each_record(&e, 2, |body| {
            let seen = &seen;
            async move {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                match body {
                    "boom" => panic!("bad input reached an unwrap"),
                    "retry" => Err(MessageError::Retry("later".into())),
                    _ => Ok(()),
                }
            }
        })
        .await;
        let failed: Vec<_> = resp
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["m1", "m3"]);
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 4);
    }

    #[test]
    fn release_builds_unwind_so_the_catch_works() {
        // With panic = "abort" the catch above never runs in Lambda.
        let manifest = include_str!("../../../Cargo.toml");
        let release = manifest
            .split("[profile.release]")
            .nth(1)
            .expect("a release profile");
        let release = release.split("\n[").next().unwrap_or(release);
        assert!(
            !release.contains("panic = \"abort\""),
            "the release profile must unwind"
        );
    }
}
