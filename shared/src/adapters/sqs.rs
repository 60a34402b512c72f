//! The queue port on SQS.

use async_trait::async_trait;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sqs::types::{
    MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};

use crate::error::QueueError;
use crate::ports::{DeadLetter, DeadLetters, OutMessage, Queue, QueueName, Redrive};

/// SQS takes at most ten messages per batch call.
const BATCH: usize = 10;

pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: Option<String>,
    setting: &'static str,
}

impl SqsQueue {
    /// `setting` names the variable that holds `url`, for the error when it is unset.
    pub fn new(client: aws_sdk_sqs::Client, url: Option<String>, setting: &'static str) -> Self {
        Self {
            client,
            url,
            setting,
        }
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn retry_after(
        &self,
        receipt_handle: &str,
        delay: std::time::Duration,
    ) -> Result<(), QueueError> {
        let url = self
            .url
            .as_deref()
            .ok_or_else(|| QueueError(format!("{} is not set", self.setting)))?;
        self.client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt_handle)
            // SQS's limit; the webhook schedule stays under it.
            .visibility_timeout(delay.as_secs().min(43_200) as i32)
            .send()
            .await
            .map_err(|e| QueueError(DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }

    async fn send(&self, messages: Vec<OutMessage>) -> Result<(), QueueError> {
        let url = self.url()?;
        for chunk in messages.chunks(BATCH) {
            let mut reasons: Vec<String> = self
                .send_chunk(url, chunk)
                .await
                .into_iter()
                .filter_map(|r| r.err().map(|e| e.0))
                .collect();
            if !reasons.is_empty() {
                let failed = reasons.len();
                reasons.dedup();
                return Err(QueueError(format!(
                    "{failed} of {} messages not sent: {}{}",
                    chunk.len(),
                    reasons.join("; "),
                    if messages.len() > BATCH {
                        " (later ones not tried)"
                    } else {
                        ""
                    }
                )));
            }
        }
        Ok(())
    }

    async fn send_each(&self, messages: Vec<OutMessage>) -> Vec<Result<(), QueueError>> {
        let url = match self.url() {
            Ok(url) => url,
            Err(e) => return messages.iter().map(|_| Err(e.clone())).collect(),
        };
        let mut outcomes = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(BATCH) {
            outcomes.extend(self.send_chunk(url, chunk).await);
        }
        outcomes
    }
}

impl SqsQueue {
    fn url(&self) -> Result<&str, QueueError> {
        self.url
            .as_deref()
            .ok_or_else(|| QueueError(format!("{} is not set", self.setting)))
    }

    /// One SendMessageBatch of at most ten messages: each message's outcome.
    /// Per-entry failures are not retried by the SDK: those that are not
    /// the sender's fault get one more try. A failed call fails every entry
    /// (whether SQS took some of them cannot be known).
    async fn send_chunk(&self, url: &str, chunk: &[OutMessage]) -> Vec<Result<(), QueueError>> {
        let mut failed: Vec<Option<QueueError>> = vec![None; chunk.len()];
        let mut pending: Vec<usize> = (0..chunk.len()).collect();
        for attempt in 0..2 {
            let entries = pending
                .iter()
                .map(|&i| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&chunk[i].body)
                        .delay_seconds(chunk[i].delay_seconds as i32)
                        .build()
                        .map_err(|e| QueueError(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>();
            let sent = match entries {
                Ok(entries) => self
                    .client
                    .send_message_batch()
                    .queue_url(url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| QueueError(DisplayErrorContext(&e).to_string())),
                Err(e) => Err(e),
            };
            let out = match sent {
                Ok(out) => out,
                Err(e) => {
                    for &i in &pending {
                        failed[i] = Some(e.clone());
                    }
                    break;
                }
            };
            let mut retry = Vec::new();
            for f in out.failed() {
                let Some(i) = f.id().parse::<usize>().ok().filter(|&i| i < chunk.len()) else {
                    continue;
                };
                if attempt == 0 && !f.sender_fault() {
                    retry.push(i);
                } else {
                    failed[i] = Some(QueueError(format!(
                        "{}: {}",
                        f.code(),
                        f.message().unwrap_or_default()
                    )));
                }
            }
            // An entry SQS reported neither way (an id it did not echo) is
            // not known to be sent: failed, never reported sent.
            let reported: Vec<&str> = out
                .successful()
                .iter()
                .map(|m| m.id())
                .chain(out.failed().iter().map(|f| f.id()))
                .collect();
            for &i in &pending {
                if !reported.contains(&i.to_string().as_str()) {
                    failed[i] = Some(QueueError("SQS reported no outcome".into()));
                }
            }
            pending = retry;
            if pending.is_empty() {
                break;
            }
        }
        failed.into_iter().map(|f| f.map_or(Ok(()), Err)).collect()
    }
}

/// Dead-letter queues on SQS: a peek without consuming, and a redrive.
pub struct SqsDeadLetters {
    client: aws_sdk_sqs::Client,
    /// (source queue URL, its DLQ URL) of each queue the stack has.
    queues: Vec<(QueueName, (String, String))>,
}

impl SqsDeadLetters {
    pub fn new(
        client: aws_sdk_sqs::Client,
        events: Option<(String, String)>,
        deliveries: Option<(String, String)>,
    ) -> Self {
        Self {
            client,
            queues: Vec::new(),
        }
        .with(QueueName::Events, events)
        .with(QueueName::Deliveries, deliveries)
    }

    /// Another queue and its DLQ, where the stack has them.
    pub fn with(mut self, queue: QueueName, urls: Option<(String, String)>) -> Self {
        if let Some(urls) = urls {
            self.queues.push((queue, urls));
        }
        self
    }

    /// The broadcast queue and its DLQ, where the stack has them.
    pub fn with_broadcast(self, broadcast: Option<(String, String)>) -> Self {
        self.with(QueueName::Broadcast, broadcast)
    }

    fn urls(&self, q: QueueName) -> Result<&(String, String), QueueError> {
        self.queues
            .iter()
            .find(|(name, _)| *name == q)
            .map(|(_, urls)| urls)
            .ok_or_else(|| {
                QueueError(format!(
                    "the {} dead-letter queue is not configured ({}_QUEUE_URL and {}_DLQ_URL)",
                    q.as_str(),
                    q.env_prefix(),
                    q.env_prefix()
                ))
            })
    }

    async fn arn(&self, url: &str) -> Result<String, QueueError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| QueueError(DisplayErrorContext(&e).to_string()))?;
        out.attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .ok_or_else(|| QueueError("no QueueArn".into()))
    }

    /// Receive, re-send, delete: what StartMessageMoveTask does, for
    /// endpoints that lack it (moto, some emulators).
    async fn move_by_hand(&self, source: &str, dlq: &str) -> Result<usize, QueueError> {
        let err = |e: String| QueueError(e);
        let mut moved = 0;
        loop {
            let got = self
                .client
                .receive_message()
                .queue_url(dlq)
                .max_number_of_messages(10)
                .visibility_timeout(30)
                .send()
                .await
                .map_err(|e| err(DisplayErrorContext(&e).to_string()))?;
            let msgs = got.messages.unwrap_or_default();
            if msgs.is_empty() {
                return Ok(moved);
            }
            let entries = msgs
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(m.body().unwrap_or_default())
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(e.to_string()))?;
            let sent = self
                .client
                .send_message_batch()
                .queue_url(source)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| err(DisplayErrorContext(&e).to_string()))?;
            for (i, m) in msgs.iter().enumerate() {
                // Only what reached the source queue leaves the DLQ.
                if sent.failed().iter().any(|f| f.id() == i.to_string()) {
                    continue;
                }
                self.client
                    .delete_message()
                    .queue_url(dlq)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .map_err(|e| err(DisplayErrorContext(&e).to_string()))?;
                moved += 1;
            }
        }
    }
}

#[async_trait]
impl DeadLetters for SqsDeadLetters {
    fn has(&self, queue: QueueName) -> bool {
        self.urls(queue).is_ok()
    }

    async fn peek(
        &self,
        queue: QueueName,
        limit: usize,
    ) -> Result<(usize, Vec<DeadLetter>), QueueError> {
        let (_, dlq) = self.urls(queue)?;
        let attrs = self
            .client
            .get_queue_attributes()
            .queue_url(dlq)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| QueueError(DisplayErrorContext(&e).to_string()))?;
        let count = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        // A zero visibility timeout leaves them where they are.
        let got = self
            .client
            .receive_message()
            .queue_url(dlq)
            .max_number_of_messages(limit.clamp(1, 10) as i32)
            .visibility_timeout(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| QueueError(DisplayErrorContext(&e).to_string()))?;
        let letters = got
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let attr =
                    |k: MessageSystemAttributeName| m.attributes().and_then(|a| a.get(&k)).cloned();
                DeadLetter {
                    id: m.message_id().unwrap_or_default().to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                    receive_count: attr(MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                    sent_at: attr(MessageSystemAttributeName::SentTimestamp)
                        .and_then(|v| v.parse::<i64>().ok())
                        .and_then(chrono::DateTime::from_timestamp_millis),
                }
            })
            .collect();
        Ok((count, letters))
    }

    async fn redrive(&self, queue: QueueName) -> Result<Redrive, QueueError> {
        let (source, dlq) = self.urls(queue)?;
        let (source_arn, dlq_arn) = (self.arn(source).await?, self.arn(dlq).await?);
        match self
            .client
            .start_message_move_task()
            .source_arn(&dlq_arn)
            .destination_arn(&source_arn)
            .send()
            .await
        {
            Ok(out) => Ok(Redrive {
                moved: None,
                task: out.task_handle().map(str::to_owned),
            }),
            Err(e) => {
                let body = e
                    .raw_response()
                    .and_then(|r| r.body().bytes())
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default();
                if !move_task_missing(
                    e.code(),
                    e.raw_response().map(|r| r.status().as_u16()),
                    &body,
                ) {
                    // Refused (access denied, a task already running, ...):
                    // say so; moving by hand would hide it or race the task.
                    return Err(QueueError(format!(
                        "StartMessageMoveTask: {}",
                        DisplayErrorContext(&e)
                    )));
                }
                tracing::info!(error = %DisplayErrorContext(&e), "StartMessageMoveTask is not implemented here; moving the messages one by one");
                let moved = self.move_by_hand(source, dlq).await?;
                Ok(Redrive {
                    moved: Some(moved),
                    task: None,
                })
            }
        }
    }
}

/// Whether an endpoint lacks StartMessageMoveTask altogether, as opposed
/// to refusing this call. SQS itself answers every refusal and every outage
/// with an error code (AccessDenied, UnsupportedOperation for a task already
/// running, InternalError, ...); emulators without the operation answer an
/// unknown-operation code, 501, or, as moto does, a bare HTML 500 page with
/// no error code at all.
fn move_task_missing(code: Option<&str>, status: Option<u16>, body: &str) -> bool {
    matches!(code, Some("InvalidAction" | "UnknownOperationException"))
        || status == Some(501)
        || (status == Some(500) && (code.is_none() || body.contains("has not been implemented")))
}

#[cfg(test)]
mod tests {
    use super::move_task_missing;

    #[test]
    fn redrive_falls_back_only_where_the_move_task_does_not_exist() {
        assert!(move_task_missing(
            None,
            Some(500),
            "NotImplementedError: The StartMessageMoveTask action has not been implemented"
        ));
        assert!(move_task_missing(Some("InvalidAction"), Some(400), ""));
        assert!(move_task_missing(None, Some(501), ""));
        assert!(move_task_missing(
            None,
            Some(500),
            "<!doctype html><title>500 Internal Server Error</title>"
        ));
        // Refusals and real outages are reported, not worked around.
        assert!(!move_task_missing(Some("AccessDenied"), Some(403), ""));
        assert!(!move_task_missing(
            Some("UnsupportedOperation"),
            Some(400),
            ""
        ));
        assert!(!move_task_missing(
            Some("AWS.SimpleQueueService.UnsupportedOperation"),
            Some(400),
            "There is already a task running"
        ));
        assert!(!move_task_missing(
            Some("InternalError"),
            Some(500),
            r#"{"__type":"InternalError"}"#
        ));
        assert!(!move_task_missing(None, Some(503), ""));
    }
}
