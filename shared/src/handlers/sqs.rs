//! Running a handler over an SQS batch with partial batch failure reporting.

use std::future::Future;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::future::join_all;

use crate::usecases::MessageError;

/// Processes every record concurrently; the response lists only the ids of
/// the records that failed, so SQS retries exactly those.
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
    let runs = event.records.iter().map(|record| {
        let f = &f;
        async move {
            let id = record.message_id.clone().unwrap_or_default();
            let receive_count = record.attributes.get("ApproximateReceiveCount").cloned().unwrap_or_default();
            let result = match record.body.as_deref() {
                Some(body) => f(body).await,
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
