//! Domain records: notifications, connections, deliveries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::EventType;

/// A delivery channel a user can switch on or off per category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    InApp,
    Email,
    Sms,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::InApp, Channel::Email, Channel::Sms];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::InApp => "in_app",
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Groups of event types that preferences are set for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Order,
    Payment,
    System,
}

impl Category {
    pub const ALL: [Category; 3] = [Category::Order, Category::Payment, Category::System];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Order => "order",
            Category::Payment => "payment",
            Category::System => "system",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "low" => Some(Self::Low),
            "normal" => Some(Self::Normal),
            "high" => Some(Self::High),
            "urgent" => Some(Self::Urgent),
            _ => None,
        }
    }
}

/// A stored inbox entry; its JSON form is the `data` of `notification:new`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// A ULID: sorts by creation time, so it doubles as the paging cursor.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub title: String,
    pub message: String,
    pub priority: Priority,
    pub action_url: Option<String>,
    pub action_text: Option<String>,
    pub created_at: DateTime<Utc>,
    pub read: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<DateTime<Utc>>,
    pub event_id: String,
}

/// One open WebSocket of a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub connection_id: String,
    pub user_id: String,
    pub connected_at: DateTime<Utc>,
    /// Epoch seconds after which the row is stale (DynamoDB TTL).
    pub expires_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Delivered,
    Failed,
    Skipped,
}

impl DeliveryStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Skipped => "skipped",
        }
    }
}

/// The latest outcome of delivering one notification on one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRecord {
    pub user_id: String,
    pub notification_id: String,
    pub channel: Channel,
    pub status: DeliveryStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Devices reached (websocket) or the provider's message id (email).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

/// The idempotency record of a business event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventClaim {
    pub event_id: String,
    pub user_id: String,
    pub notification_id: String,
    pub created_at: DateTime<Utc>,
    /// When the claiming invocation stored the notification (its lease start).
    pub claimed_at: DateTime<Utc>,
    /// Set once the delivery jobs are on the queue.
    pub dispatched: bool,
}

/// One page of notifications and where the next one starts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Notification>,
    pub next: Option<String>,
}

impl Page {
    /// Stores read one item more than the page holds: if it came, there is a
    /// next page, which starts after the page's last item.
    pub fn from_overfetch(mut items: Vec<Notification>, limit: usize) -> Self {
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more {
            items.last().map(|n| n.id.clone())
        } else {
            None
        };
        Self { items, next }
    }
}

/// Result of marking one notification read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarkRead {
    /// It was unread and now is read; the unread count after the change.
    Marked { unread: u64 },
    /// It was read already; nothing changed.
    AlreadyRead { unread: u64 },
    /// No such notification for this user.
    NotFound,
}
