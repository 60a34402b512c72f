//! Domain records: notifications, connections, deliveries.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::event::EventType;
use crate::ids::NotificationId;

/// A delivery channel a user can switch on or off per category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    InApp,
    Email,
    Sms,
    /// Web Push (VAPID): the lock screen or desktop of a user with no tab open.
    Push,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::InApp, Channel::Email, Channel::Sms, Channel::Push];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::InApp => "in_app",
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
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
    pub id: NotificationId,
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
    /// The event's structured data (order id, amount, ...), so clients can
    /// deep-link and format without parsing the text. At most 4 KB.
    #[serde(default)]
    pub data: Map<String, Value>,
    /// Set when it is read: from then on it is deleted at this time (unread
    /// notifications never expire, so the unread counter stays exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl Notification {
    /// Past its expiry: invisible before the store gets round to deleting it.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

/// What happened in one hour (or a sum of hours).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Notifications created, per event type.
    pub created: BTreeMap<String, i64>,
    /// Delivery outcomes per channel: delivered, failed, skipped.
    pub deliveries: BTreeMap<String, BTreeMap<String, i64>>,
}

impl Counts {
    /// Adds `n` to the counter named `key` as the stores name them
    /// (`created.<type>`, `<channel>.<status>`; see `adapters::keys`).
    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Counts) {
        for (kind, n) in &other.created {
            *self.created.entry(kind.clone()).or_default() += n;
        }
        for (channel, per) in &other.deliveries {
            let mine = self.deliveries.entry(channel.clone()).or_default();
            for (status, n) in per {
                *mine.entry(status.clone()).or_default() += n;
            }
        }
    }

    pub fn add(&mut self, key: &str, n: i64) {
        if let Some(kind) = key.strip_prefix("created.") {
            *self.created.entry(kind.to_owned()).or_default() += n;
        } else if let Some((channel, status)) = key.split_once('.') {
            *self
                .deliveries
                .entry(channel.to_owned())
                .or_default()
                .entry(status.to_owned())
                .or_default() += n;
        }
    }
}

/// How long read notifications, delivery records and event claims are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Kept this long after creation once read (`NOTIFICATION_RETENTION_DAYS`).
    pub notifications: chrono::Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self::days(DEFAULT_RETENTION_DAYS)
    }
}

pub const DEFAULT_RETENTION_DAYS: i64 = 180;

/// SQS keeps a message at most 14 days: a claim must outlive every redelivery.
pub const CLAIM_RETENTION: chrono::Duration = chrono::Duration::days(15);

impl Retention {
    pub fn days(days: i64) -> Self {
        Self {
            notifications: chrono::Duration::days(days.max(1)),
        }
    }

    /// When notification `id` (a ULID, so it knows its creation time), read
    /// at `read_at`, expires: its retention after creation, and never
    /// sooner than a day after it was read, so a device that just marked it
    /// still finds it.
    pub fn read_expiry(&self, id: &str, read_at: DateTime<Utc>) -> DateTime<Utc> {
        let created = ulid::Ulid::from_string(id)
            .ok()
            .and_then(|u| DateTime::from_timestamp_millis(u.timestamp_ms() as i64))
            .unwrap_or(read_at);
        (created + self.notifications).max(read_at + chrono::Duration::days(1))
    }

    /// When the delivery log of notification `id` (a ULID) goes: with the
    /// notification's retention, counted from its creation.
    pub fn delivery_expiry(&self, id: &str, fallback: DateTime<Utc>) -> DateTime<Utc> {
        let created = ulid::Ulid::from_string(id)
            .ok()
            .and_then(|u| DateTime::from_timestamp_millis(u.timestamp_ms() as i64))
            .unwrap_or(fallback);
        created + self.notifications
    }
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

/// Where one delivery of a notification on one channel stands. Every step is
/// kept in the delivery log, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// On the deliveries queue for the sender.
    Queued,
    /// Accepted by the provider (SES, SNS); for email, its feedback follows.
    Sent,
    /// Pushed to a device, or (email) the recipient's server accepted it.
    Delivered,
    /// The recipient's server refused it (SES bounce; hard or soft in `reason`).
    Bounced,
    /// The recipient marked it as spam.
    Complained,
    /// The provider refused to send it (content, sender, or SES's `Reject`).
    Rejected,
    /// Not sent: the address is suppressed after a hard bounce or complaint.
    Suppressed,
    Failed,
    Skipped,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 9] = [
        Self::Queued,
        Self::Sent,
        Self::Delivered,
        Self::Bounced,
        Self::Complained,
        Self::Rejected,
        Self::Suppressed,
        Self::Failed,
        Self::Skipped,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Bounced => "bounced",
            Self::Complained => "complained",
            Self::Rejected => "rejected",
            Self::Suppressed => "suppressed",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

/// One entry of the delivery log: one attempt, or one piece of feedback
/// from the provider, for one notification on one channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRecord {
    pub user_id: String,
    pub notification_id: String,
    pub channel: Channel,
    pub status: DeliveryStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Devices reached and retried (in-app).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The provider's id of the message (SES, SNS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    pub at: DateTime<Utc>,
    /// The queue message this entry came from (the SQS message id, the
    /// same at every redelivery): a redelivered job's entry is the one
    /// already kept, not a second one, and so is its webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl DeliveryRecord {
    /// What tells this entry from the other entries of its notification and
    /// channel, so that the same fact recorded twice (a redelivered SQS
    /// message, SES's `Send` event after the sender's own `sent`) is one
    /// entry: the provider's id for `sent`, else the time and the status.
    pub fn entry_key(&self) -> String {
        match (&self.status, &self.provider_message_id, &self.source) {
            (DeliveryStatus::Sent, Some(id), _) if self.reason.is_none() => format!("sent-{id}"),
            (status, _, Some(source)) => format!("{}-{source}", status.as_str()),
            _ => format!(
                "{}-{}",
                self.at.format("%Y%m%dT%H%M%S%.3f"),
                self.status.as_str()
            ),
        }
    }

    /// SES's delivery delays are logged as `sent` with the delay as the
    /// reason; in the statistics they are `delayed`, not a second send.
    pub fn is_delay(&self) -> bool {
        self.status == DeliveryStatus::Sent
            && self
                .reason
                .as_deref()
                .is_some_and(|r| r.starts_with(DELAY_PREFIX))
    }

    /// The statistics counter this entry adds to: none for a wait on the queue.
    pub fn counted_as(&self) -> Option<&'static str> {
        match self.status {
            DeliveryStatus::Queued => None,
            _ if self.is_delay() => Some("delayed"),
            s => Some(s.as_str()),
        }
    }
}

/// How a delivery delay's reason starts.
pub const DELAY_PREFIX: &str = "delayed: ";

/// An email address no mail goes to any more, until the user confirms it
/// again: it hard-bounced, its owner complained, or SES suppresses it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suppression {
    pub address: String,
    pub reason: SuppressionReason,
    pub at: DateTime<Utc>,
    /// What the provider said (bounce type and diagnostic, feedback type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The notification whose delivery caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<String>,
    /// Whose mail it was: only that user can lift it by confirming the
    /// address (another account naming the address cannot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuppressionReason {
    Bounce,
    Complaint,
}

/// The idempotency record of a business event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventClaim {
    pub event_id: String,
    pub user_id: String,
    pub notification_id: NotificationId,
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
            items.last().map(|n| n.id.to_string())
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
