//! Stand-ins for the ports a function does not use, so its binary does not
//! link SDK clients it never calls (smaller bootstraps, less to load at init).

use async_trait::async_trait;

use crate::error::{MailError, PushError, QueueError};
use crate::ports::{Mailer, OutMessage, Pusher, Queue};
use crate::template::RenderedEmail;

/// Says, if ever called, that this function was built without the port.
pub struct Disabled(pub &'static str);

#[async_trait]
impl Queue for Disabled {
    async fn send(&self, _: Vec<OutMessage>) -> Result<(), QueueError> {
        Err(QueueError(format!(
            "{} is not available in this function",
            self.0
        )))
    }
}

#[async_trait]
impl Pusher for Disabled {
    async fn post(&self, _: &str, _: &[u8]) -> Result<(), PushError> {
        Err(PushError::Failed(format!(
            "{} is not available in this function",
            self.0
        )))
    }
}

#[async_trait]
impl Mailer for Disabled {
    async fn send(&self, _: &str, _: &RenderedEmail) -> Result<String, MailError> {
        Err(MailError::Temporary(format!(
            "{} is not available in this function",
            self.0
        )))
    }
}
