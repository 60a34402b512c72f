//! Delivery jobs: what the worker puts on the deliveries queue for the sender.

use serde::{Deserialize, Serialize};

use crate::model::Notification;
use crate::template::RenderedEmail;

/// One channel's delivery of one notification. Self-contained, so the sender
/// reads nothing but the user's connections.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum DeliveryJob {
    /// Push `notification:new` to the user's open connections.
    #[serde(rename = "in_app")]
    WebSocket {
        #[serde(rename = "userId")]
        user_id: String,
        notification: Notification,
        /// Only these connections: a retry of the ones that failed last time.
        #[serde(
            rename = "connectionIds",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        connection_ids: Option<Vec<String>>,
    },
    Email {
        #[serde(rename = "userId")]
        user_id: String,
        #[serde(rename = "notificationId")]
        notification_id: String,
        to: String,
        #[serde(flatten)]
        content: RenderedEmail,
    },
    Sms {
        #[serde(rename = "userId")]
        user_id: String,
        #[serde(rename = "notificationId")]
        notification_id: String,
        /// E.164.
        to: String,
        text: String,
    },
}

impl DeliveryJob {
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("jobs always serialize")
    }
}
