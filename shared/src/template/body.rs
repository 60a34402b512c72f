//! What a template is: its fields per channel, and an override as stored.

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::event::EventType;
use crate::model::Channel;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InAppTemplate {
    pub title: String,
    pub message: String,
    #[serde(default)]
    pub action_url: String,
    #[serde(default)]
    pub action_text: String,
    /// Renders to low, normal, high or urgent.
    #[serde(default = "default_priority")]
    pub priority: String,
}

fn default_priority() -> String {
    "normal".into()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailTemplate {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SmsTemplate {
    /// Plain text; its length decides how many SMS segments it costs.
    pub text: String,
}

/// A web push: what the lock screen or desktop shows, and where a click goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushTemplate {
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub action_url: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TemplateBody {
    InApp(InAppTemplate),
    Email(EmailTemplate),
    Sms(SmsTemplate),
    Push(PushTemplate),
}

impl TemplateBody {
    pub fn channel(&self) -> Channel {
        match self {
            TemplateBody::InApp(_) => Channel::InApp,
            TemplateBody::Email(_) => Channel::Email,
            TemplateBody::Sms(_) => Channel::Sms,
            TemplateBody::Push(_) => Channel::Push,
        }
    }

    /// (field name, source) pairs, in a fixed order.
    pub(super) fn fields(&self) -> Vec<(&'static str, &str)> {
        match self {
            TemplateBody::InApp(t) => vec![
                ("title", &t.title),
                ("message", &t.message),
                ("actionUrl", &t.action_url),
                ("actionText", &t.action_text),
                ("priority", &t.priority),
            ],
            TemplateBody::Email(t) => {
                vec![
                    ("subject", &t.subject),
                    ("text", &t.text),
                    ("html", &t.html),
                ]
            }
            TemplateBody::Sms(t) => vec![("text", &t.text)],
            TemplateBody::Push(t) => vec![
                ("title", &t.title),
                ("body", &t.body),
                ("actionUrl", &t.action_url),
            ],
        }
    }

    /// Parses a body for `channel`, refusing fields of the other channel.
    pub fn parse(channel: Channel, body: &[u8]) -> Result<Self, ValidationError> {
        let res = match channel {
            Channel::InApp => serde_json::from_slice(body).map(TemplateBody::InApp),
            Channel::Email => serde_json::from_slice(body).map(TemplateBody::Email),
            Channel::Sms => serde_json::from_slice(body).map(TemplateBody::Sms),
            Channel::Push => serde_json::from_slice(body).map(TemplateBody::Push),
        };
        res.map_err(|e| ValidationError::new("body", e.to_string()))
    }
}

/// A template stored in the table, replacing the default of one type and channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateOverride {
    #[serde(rename = "type")]
    pub kind: EventType,
    pub channel: Channel,
    pub body: TemplateBody,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}
