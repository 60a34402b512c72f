//! order-events: accept a business event from a shop backend onto the events queue.

use subtle::ConstantTimeEq;

use crate::error::{QueueError, ValidationError};
use crate::event::BusinessEvent;
use crate::ports::{OutMessage, Queue};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("missing or wrong API key")]
    Unauthorized,
    #[error("EVENTS_API_KEY is not configured")]
    NotConfigured,
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Compares the presented key with the configured one in constant time.
pub fn check_api_key(expected: Option<&str>, presented: Option<&str>) -> Result<(), IngestError> {
    let expected = expected.ok_or(IngestError::NotConfigured)?;
    let presented = presented.ok_or(IngestError::Unauthorized)?;
    if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(IngestError::Unauthorized)
    }
}

/// Validates and enqueues one event; returns it once it is on the queue.
pub async fn accept_event(events: &dyn Queue, body: &[u8]) -> Result<BusinessEvent, IngestError> {
    let event = BusinessEvent::parse_public(body)?;
    let message = serde_json::to_string(&event).expect("events always serialize");
    events.send(vec![OutMessage::now(message)]).await?;
    tracing::info!(event_id = %event.id, kind = event.kind.as_str(), user_id = %event.user_id, "event accepted");
    Ok(event)
}
