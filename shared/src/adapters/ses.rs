//! The mail port on SES v2.

use async_trait::async_trait;
use aws_sdk_sesv2::error::DisplayErrorContext;
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use crate::error::MailError;
use crate::ports::Mailer;
use crate::template::RenderedEmail;

pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: Option<String>,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, from: Option<String>) -> Self {
        Self { client, from }
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
    async fn send(&self, to: &str, email: &RenderedEmail) -> Result<String, MailError> {
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
        let out = self
            .client
            .send_email()
            .from_email_address(from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().simple(message).build())
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
}
