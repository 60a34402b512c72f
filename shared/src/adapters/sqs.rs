//! The queue port on SQS.

use async_trait::async_trait;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::error::QueueError;
use crate::ports::{OutMessage, Queue};

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
    async fn send(&self, messages: Vec<OutMessage>) -> Result<(), QueueError> {
        let url = self
            .url
            .as_deref()
            .ok_or_else(|| QueueError(format!("{} is not set", self.setting)))?;
        for chunk in messages.chunks(BATCH) {
            let mut pending: Vec<(String, &OutMessage)> = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| (i.to_string(), m))
                .collect();
            // Per-entry failures are not retried by the SDK: give them one more try.
            for attempt in 0..2 {
                let entries = pending
                    .iter()
                    .map(|(id, m)| {
                        SendMessageBatchRequestEntry::builder()
                            .id(id)
                            .message_body(&m.body)
                            .delay_seconds(m.delay_seconds as i32)
                            .build()
                            .map_err(|e| QueueError(e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let out = self
                    .client
                    .send_message_batch()
                    .queue_url(url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| QueueError(DisplayErrorContext(&e).to_string()))?;
                let failed: Vec<&str> = out.failed().iter().map(|f| f.id()).collect();
                if failed.is_empty() {
                    break;
                }
                let reasons: Vec<String> = out
                    .failed()
                    .iter()
                    .map(|f| format!("{}: {}", f.code(), f.message().unwrap_or_default()))
                    .collect();
                if attempt == 1 || out.failed().iter().any(|f| f.sender_fault()) {
                    return Err(QueueError(format!(
                        "{} of {} messages not sent: {}",
                        failed.len(),
                        chunk.len(),
                        reasons.join("; ")
                    )));
                }
                pending.retain(|(id, _)| failed.contains(&id.as_str()));
            }
        }
        Ok(())
    }
}
