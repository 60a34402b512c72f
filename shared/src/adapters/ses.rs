//! The mail port on SES v2: every email goes out with the configuration set
//! whose event destination brings its feedback back (bounces, complaints,
//! deliveries), tagged with the notification it belongs to.

use async_trait::async_trait;
use aws_sdk_sesv2::error::DisplayErrorContext;
use aws_sdk_sesv2::operation::delete_suppressed_destination::DeleteSuppressedDestinationError;
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};

use crate::error::MailError;
use crate::ports::{MailTags, Mailer};
use crate::ses_events::tags_of;
use crate::template::RenderedEmail;

pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: Option<String>,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, from: Option<String>) -> Self {
        Self {
            client,
            from,
            configuration_set: None,
        }
    }

    /// `SES_CONFIGURATION_SET`: without one, SES publishes no feedback and
    /// the delivery log ends at `sent`.
    pub fn with_configuration_set(mut self, name: Option<String>) -> Self {
        self.configuration_set = name;
        self
    }
}

fn utf8(data: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError::Rejected(e.to_string()))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(
        &self,
        to: &str,
        email: &RenderedEmail,
        tags: &MailTags,
    ) -> Result<String, MailError> {
        let from = self
            .from
            .as_deref()
            .ok_or_else(|| MailError::Temporary("EMAIL_FROM is not set".into()))?;
        let message = Message::builder()
            .subject(utf8(&email.subject)?)
            .body(
                Body::builder()
                    .text(utf8(&email.text)?)
                    .html(utf8(&email.html)?)
                    .build(),
            )
            .build();
        let tags = tags_of(tags)
            .into_iter()
            .map(|(name, value)| MessageTag::builder().name(name).value(value).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| MailError::Rejected(e.to_string()))?;
        let out = self
            .client
            .send_email()
            .from_email_address(from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .set_email_tags(Some(tags))
            .send()
            .await
            .map_err(|e| {
                let text = DisplayErrorContext(&e).to_string();
                match e.as_service_error() {
                    // These will fail the same way however often we retry.
                    Some(
                        SendEmailError::MessageRejected(_)
                        | SendEmailError::MailFromDomainNotVerifiedException(_)
                        | SendEmailError::BadRequestException(_)
                        | SendEmailError::NotFoundException(_),
                    ) => MailError::Rejected(text),
                    _ => MailError::Temporary(text),
                }
            })?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }

    async fn unsuppress(&self, address: &str) -> Result<(), MailError> {
        match self
            .client
            .delete_suppressed_destination()
            .email_address(address)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Not on SES's list: nothing to lift.
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(DeleteSuppressedDestinationError::NotFoundException(_))
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(MailError::Temporary(DisplayErrorContext(&e).to_string())),
        }
    }
}
