//! Errors shared by the ports and the use cases.

use thiserror::Error;

/// A rejected input, naming the field at fault so callers can fix it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Error)]
pub enum StoreError {
    /// A conditional write lost (the item changed or exists already).
    #[error("condition failed")]
    ConditionFailed,
    /// The backend refused to serve the request right now (throttling, capacity).
    #[error("store throttled: {0}")]
    Throttled(String),
    /// Another transaction on the same item was in progress (DynamoDB's
    /// TransactionConflict), still so after a few quick retries.
    #[error("store transaction conflict: {0}")]
    Conflict(String),
    #[error("store: {0}")]
    Backend(String),
    #[error("stored item could not be decoded: {0}")]
    Corrupt(String),
}

#[derive(Clone, Debug, Error)]
#[error("queue: {0}")]
pub struct QueueError(pub String);

/// Outcome of one push to one connection that did not reach it.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PushError {
    /// The connection is gone (HTTP 410): drop its row.
    #[error("connection gone")]
    Gone,
    /// 413 PayloadTooLarge: the message is over API Gateway's 128 KB. A bug
    /// (replies are sized below it): retrying cannot help.
    #[error("message too large: {0}")]
    TooLarge(String),
    /// 429 or LimitExceeded: try again later.
    #[error("throttled: {0}")]
    Throttled(String),
    /// Any other failure (5xx, network): try again later.
    #[error("push failed: {0}")]
    Failed(String),
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum MailError {
    /// The message can never be sent as it is (bad address, rejected content).
    #[error("rejected: {0}")]
    Rejected(String),
    /// Throttling, a sending pause or a network error: retry later.
    #[error("temporary failure: {0}")]
    Temporary(String),
}
