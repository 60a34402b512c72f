//! The SMS port on SNS `Publish` to a phone number.

use async_trait::async_trait;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::operation::publish::PublishError;
use aws_sdk_sns::types::MessageAttributeValue;

use crate::error::MailError;
use crate::ports::SmsSender;

pub struct SnsSms {
    client: aws_sdk_sns::Client,
}

impl SnsSms {
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl SmsSender for SnsSms {
    async fn send_sms(&self, to: &str, text: &str) -> Result<String, MailError> {
        // Transactional: delivered even to numbers that opted out of marketing.
        let kind = MessageAttributeValue::builder()
            .data_type("String")
            .string_value("Transactional")
            .build()
            .map_err(|e| MailError::Rejected(e.to_string()))?;
        let out = self
            .client
            .publish()
            .phone_number(to)
            .message(text)
            .message_attributes("AWS.SNS.SMS.SMSType", kind)
            .send()
            .await
            .map_err(|e| {
                let text = DisplayErrorContext(&e).to_string();
                match e.as_service_error() {
                    Some(
                        PublishError::InvalidParameterException(_)
                        | PublishError::InvalidParameterValueException(_)
                        | PublishError::AuthorizationErrorException(_),
                    ) => MailError::Rejected(text),
                    _ => MailError::Temporary(text),
                }
            })?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}
