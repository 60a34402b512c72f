//! Webhooks to the shop: queued where something happens, delivered by their
//! own consumer, so a slow or failing endpoint never holds a notification.

use std::time::Duration;

use crate::error::QueueError;
use crate::model::DeliveryRecord;
use crate::ports::{Clock, OutMessage, Queue, WebhookEndpoint};
use crate::usecases::MessageError;
use crate::webhook::{WebhookMessage, WebhookSecret};

/// Queues `messages` on the webhook queue, when webhooks are configured.
pub async fn emit(
    queue: Option<&dyn Queue>,
    messages: Vec<WebhookMessage>,
) -> Result<(), QueueError> {
    let Some(queue) = queue else {
        return Ok(());
    };
    if messages.is_empty() {
        return Ok(());
    }
    let out = messages
        .iter()
        .map(|m| OutMessage::now(serde_json::to_string(m).expect("webhooks serialize")))
        .collect();
    queue.send(out).await
}

/// Records one delivery log entry and queues its webhook, if it has one.
pub async fn record_and_emit(
    log: &dyn crate::ports::Deliveries,
    webhooks: Option<&dyn Queue>,
    rec: &DeliveryRecord,
    final_failure: bool,
) -> Result<(), MessageError> {
    log.record_delivery(rec).await?;
    emit(
        webhooks,
        WebhookMessage::delivery(rec, final_failure)
            .into_iter()
            .collect(),
    )
    .await?;
    Ok(())
}

/// Queues `messages` where a failure must not fail what the user did (a
/// read): logged, not returned.
pub async fn emit_or_log(queue: Option<&dyn Queue>, messages: Vec<WebhookMessage>) {
    let n = messages.len();
    if let Err(e) = emit(queue, messages).await {
        tracing::error!(error = %e, webhooks = n, "webhooks not queued");
    }
}

/// What the webhooks consumer uses.
#[derive(Clone, Copy)]
pub struct WebhookSender<'a> {
    pub endpoint: &'a dyn WebhookEndpoint,
    pub secret: &'a WebhookSecret,
    /// The webhook queue itself, to set a failed message's next attempt.
    pub queue: &'a dyn Queue,
    pub clock: &'a dyn Clock,
    /// The wait after each failed attempt; one attempt more than entries.
    pub schedule: &'a [u64],
}

#[derive(Debug, PartialEq, Eq)]
pub struct Delivered {
    pub status: u16,
}

/// One attempt at one webhook. A failure sets the message's next attempt
/// (its receive count says which this was) and fails it back to SQS; after
/// the last the dead-letter queue keeps it.
pub async fn deliver(
    app: &WebhookSender<'_>,
    body: &str,
    receipt_handle: Option<&str>,
    receive_count: u32,
) -> Result<Delivered, MessageError> {
    let message: WebhookMessage = serde_json::from_str(body)
        .map_err(|e| MessageError::Poison(format!("invalid webhook message: {e}")))?;
    let payload = message.body();
    let headers = app.secret.headers(&message, &payload, app.clock.now());
    let failure = match app.endpoint.post(&headers, &payload).await {
        Ok(status) if (200..300).contains(&status) => {
            tracing::info!(webhook_id = %message.id, kind = ?message.kind, status, "webhook delivered");
            return Ok(Delivered { status });
        }
        Ok(status) => format!("the endpoint answered {status}"),
        Err(e) => e,
    };
    let attempt = receive_count.max(1) as usize;
    let next = app.schedule.get(attempt - 1).copied();
    match (next, receipt_handle) {
        (Some(secs), Some(handle)) => {
            if let Err(e) = app
                .queue
                .retry_after(handle, Duration::from_secs(secs))
                .await
            {
                // The queue's own visibility timeout applies instead.
                tracing::warn!(error = %e, "could not set the webhook's next attempt");
            }
            Err(MessageError::Retry(format!(
                "webhook {} attempt {attempt} failed ({failure}); next in {secs} s",
                message.id
            )))
        }
        _ => {
            if let Some(handle) = receipt_handle {
                // Straight to the dead-letter queue at its next receive.
                let _ = app.queue.retry_after(handle, Duration::ZERO).await;
            }
            Err(MessageError::Retry(format!(
                "webhook {} attempt {attempt}, the last, failed ({failure}); \
                 it goes to the dead-letter queue",
                message.id
            )))
        }
    }
}

/// How long a webhook is retried for, its attempts' own time aside.
pub fn retry_span(schedule: &[u64]) -> chrono::Duration {
    chrono::Duration::seconds(schedule.iter().sum::<u64>() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::RETRY_SCHEDULE_SECS;

    #[test]
    fn the_default_schedule_retries_for_more_than_a_day() {
        let span = retry_span(&RETRY_SCHEDULE_SECS);
        assert!(span >= chrono::Duration::hours(24), "{span}");
        // Each wait is a visibility timeout: SQS takes at most 12 hours.
        assert!(RETRY_SCHEDULE_SECS.iter().all(|s| *s <= 12 * 3600));
        // And the queue keeps messages 4 days: far longer than the retries.
        assert!(span < chrono::Duration::days(4));
    }
}
