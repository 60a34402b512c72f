//! Stand-ins for the ports a function does not use, so its binary does not
//! link SDK clients it never calls (smaller bootstraps, less to load at init).

use async_trait::async_trait;

use crate::error::{MailError, PushError, QueueError};
use crate::ports::{
    DeadLetter, DeadLetters, MailTags, Mailer, OutMessage, PushAnswer, PushService, Pusher, Queue,
    QueueName, Redrive, SmsSender,
};
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
    async fn send(&self, _: &str, _: &RenderedEmail, _: &MailTags) -> Result<String, MailError> {
        Err(MailError::Temporary(format!(
            "{} is not available in this function",
            self.0
        )))
    }
}

#[async_trait]
impl PushService for Disabled {
    async fn push(&self, _: &crate::push::PushRequest) -> Result<PushAnswer, String> {
        Err(format!("{} is not available in this function", self.0))
    }
}

#[async_trait]
impl SmsSender for Disabled {
    async fn send_sms(&self, _: &str, _: &str) -> Result<String, MailError> {
        Err(MailError::Temporary(format!(
            "{} is not available in this function",
            self.0
        )))
    }
}

#[async_trait]
impl DeadLetters for Disabled {
    async fn peek(&self, _: QueueName, _: usize) -> Result<(usize, Vec<DeadLetter>), QueueError> {
        Err(QueueError(format!("{} are not configured", self.0)))
    }

    async fn redrive(&self, _: QueueName) -> Result<Redrive, QueueError> {
        Err(QueueError(format!("{} are not configured", self.0)))
    }
}
