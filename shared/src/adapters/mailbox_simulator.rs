//! The local stack's SES feedback: after the mailer takes an email, the
//! events SES's mailbox simulator would publish for its address go onto the
//! feedback queue, a moment later, and the feedback consumer (the same code
//! as the deployed feedback function) records them.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::MailError;
use crate::ports::{MailTags, Mailer, OutMessage, Queue};
use crate::ses_events::simulate;
use crate::template::RenderedEmail;

pub struct MailboxSimulator {
    inner: Arc<dyn Mailer>,
    feedback: Arc<dyn Queue>,
    from: String,
    /// How long after the send the feedback arrives.
    delay_seconds: u32,
}

impl MailboxSimulator {
    pub fn new(inner: Arc<dyn Mailer>, feedback: Arc<dyn Queue>, from: &str) -> Self {
        Self {
            inner,
            feedback,
            from: from.to_owned(),
            delay_seconds: 1,
        }
    }
}

#[async_trait]
impl Mailer for MailboxSimulator {
    async fn send(
        &self,
        to: &str,
        email: &RenderedEmail,
        tags: &MailTags,
    ) -> Result<String, MailError> {
        let message_id = self.inner.send(to, email, tags).await?;
        let events = simulate(to, &self.from, &message_id, tags, chrono::Utc::now());
        let messages = events
            .iter()
            .map(|e| OutMessage {
                body: serde_json::to_string(e).expect("SES events serialize"),
                delay_seconds: self.delay_seconds,
            })
            .collect();
        // SES accepted the mail whatever happens to its events afterwards.
        if let Err(e) = self.feedback.send(messages).await {
            tracing::error!(error = %e, "simulated SES feedback not queued");
        }
        Ok(message_id)
    }

    async fn unsuppress(&self, address: &str) -> Result<(), MailError> {
        self.inner.unsuppress(address).await
    }
}
