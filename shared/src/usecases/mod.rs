//! Use cases: what each function does, independent of Lambda and of AWS.

pub mod admin;
pub mod broadcast;
pub mod catalog;
pub mod coalesce;
pub mod deliver;
pub mod fanout;
pub mod feedback;
pub mod inbox;
pub mod ingest;
pub mod process;
pub mod session;
pub mod stats;
pub mod templates;
pub mod web_push;
pub mod webhooks;

/// Why one queue message was not processed. Either way the message is
/// reported as a batch item failure: SQS retries it and, after
/// `maxReceiveCount`, moves it to the dead-letter queue.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The message itself is bad: retrying cannot help; the DLQ keeps it.
    #[error("poison message: {0}")]
    Poison(String),
    /// Something outside failed (store, queue, push, mail): retry.
    #[error("retryable failure: {0}")]
    Retry(String),
}

impl From<crate::error::StoreError> for MessageError {
    fn from(e: crate::error::StoreError) -> Self {
        MessageError::Retry(e.to_string())
    }
}

impl From<crate::error::QueueError> for MessageError {
    fn from(e: crate::error::QueueError) -> Self {
        MessageError::Retry(e.to_string())
    }
}
