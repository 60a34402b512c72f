//! Ports: what the use cases need from the outside world. One adapter per
//! service implements each (DynamoDB, SQS, API Gateway management, SES v2).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::{MailError, PushError, QueueError, StoreError};
use crate::event::EventType;
use crate::model::{
    Channel, Connection, Counts, DeliveryRecord, EventClaim, MarkRead, Notification, Page,
    Suppression,
};
use crate::preferences::Preferences;
use crate::template::{RenderedEmail, TemplateOverride};

/// What the worker writes for one event, atomically.
#[derive(Clone, Debug)]
pub struct NewNotification {
    pub claim: EventClaim,
    pub kind: EventType,
    /// The inbox entry; `None` when the user switched the in-app channel off.
    pub notification: Option<Notification>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// First time this event was seen: claim, notification and counters written.
    Stored,
    /// The event was claimed before; here is that claim.
    Duplicate(EventClaim),
}

/// The connections of users: one row per open WebSocket.
#[async_trait]
pub trait Connections: Send + Sync {
    async fn put_connection(&self, conn: &Connection) -> Result<(), StoreError>;
    /// Removes both rows of a connection; returns its owner if it was known.
    async fn remove_connection(&self, connection_id: &str) -> Result<Option<String>, StoreError>;
    async fn connection_owner(&self, connection_id: &str) -> Result<Option<String>, StoreError>;
    async fn connections_of(&self, user_id: &str) -> Result<Vec<Connection>, StoreError>;
}

/// Event claims: exactly one notification per event id.
#[async_trait]
pub trait Claims: Send + Sync {
    /// In one transaction: claim the event id (fails if claimed), store the
    /// notification, bump the unread counter.
    async fn record_notification(&self, new: &NewNotification) -> Result<Recorded, StoreError>;
    /// Takes over a claim whose holder stalled, if nobody else did first.
    async fn take_over_claim(
        &self,
        claim: &EventClaim,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    async fn mark_dispatched(&self, event_id: &str) -> Result<(), StoreError>;
    /// A broadcast's copy for one user, keyed by the broadcast's own
    /// notification id so no claim is needed: in one transaction, stores it
    /// unless it exists and bumps the unread counter. False if it existed.
    async fn record_broadcast(
        &self,
        user_id: &str,
        notification: &Notification,
    ) -> Result<bool, StoreError>;
}

/// A user's notifications and unread counter.
#[async_trait]
pub trait Inbox: Send + Sync {
    async fn get_notification(
        &self,
        user_id: &str,
        id: &str,
    ) -> Result<Option<Notification>, StoreError>;
    /// Notifications newer than `after`, oldest first.
    async fn notifications_after(
        &self,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError>;
    /// Notifications older than `before`, newest first; only unread ones if asked.
    async fn list_notifications(
        &self,
        user_id: &str,
        before: Option<&str>,
        limit: usize,
        unread_only: bool,
    ) -> Result<Page, StoreError>;
    /// Marks read and decrements the unread counter exactly once.
    async fn mark_read(
        &self,
        user_id: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<MarkRead, StoreError>;
    /// Marks every one of `ids` (all unread, at most [`MAX_READ_PAGE`]) read
    /// and lowers the unread counter by their number, in one transaction.
    /// `ConditionFailed`, with nothing changed, if one was no longer unread.
    async fn mark_read_page(
        &self,
        user_id: &str,
        ids: &[String],
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    async fn unread_count(&self, user_id: &str) -> Result<u64, StoreError>;
    /// Deletes one notification (and its delivery records), keeping the
    /// unread counter exact. Returns whether it existed.
    async fn delete_notification(&self, user_id: &str, id: &str) -> Result<bool, StoreError>;
}

/// What each user chose per category and channel, and their addresses.
#[async_trait]
pub trait PreferenceStore: Send + Sync {
    async fn preferences(&self, user_id: &str) -> Result<Preferences, StoreError>;
    /// The preferences and, where the store can tell in the same read,
    /// whether the user has a web push subscription (`None`: ask
    /// [`PushSubscriptions`]). The worker's read per event.
    async fn preferences_and_push(
        &self,
        user_id: &str,
    ) -> Result<(Preferences, Option<bool>), StoreError> {
        Ok((self.preferences(user_id).await?, None))
    }
    async fn put_preferences(&self, user_id: &str, prefs: &Preferences) -> Result<(), StoreError>;
}

/// Admins' template overrides.
#[async_trait]
pub trait TemplateStore: Send + Sync {
    async fn template_overrides(&self) -> Result<Vec<TemplateOverride>, StoreError>;
    async fn put_template_override(&self, o: &TemplateOverride) -> Result<(), StoreError>;
    /// Returns whether there was an override to delete.
    async fn delete_template_override(
        &self,
        kind: EventType,
        channel: Channel,
    ) -> Result<bool, StoreError>;
}

/// The delivery log: every attempt and every piece of provider feedback,
/// per notification and channel, kept as long as the notification.
#[async_trait]
pub trait Deliveries: Send + Sync {
    /// Adds one entry and counts it in the statistics; the same entry twice
    /// (see [`DeliveryRecord::entry_key`]) is kept and counted once, the
    /// first time.
    async fn record_delivery(&self, rec: &DeliveryRecord) -> Result<(), StoreError>;
    /// The whole log of one notification of one user, oldest first.
    async fn deliveries(
        &self,
        user_id: &str,
        notification_id: &str,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;
    /// The latest entry of one channel, if any.
    async fn delivery(
        &self,
        user_id: &str,
        notification_id: &str,
        channel: Channel,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        Ok(self
            .deliveries(user_id, notification_id)
            .await?
            .into_iter()
            .rfind(|d| d.channel == channel))
    }
}

/// Oldest first; one moment's entries in the order a delivery goes through them.
pub fn sort_deliveries(log: &mut [DeliveryRecord]) {
    log.sort_by_key(|d| {
        let step = crate::model::DeliveryStatus::ALL
            .iter()
            .position(|s| *s == d.status);
        (d.at, step)
    });
}

/// Each user's Web Push subscriptions (at most
/// [`crate::push::MAX_SUBSCRIPTIONS`], the oldest dropped first).
#[async_trait]
pub trait PushSubscriptions: Send + Sync {
    /// Stores a subscription, or updates the one with its endpoint.
    async fn put_subscription(
        &self,
        user_id: &str,
        subscription: &crate::push::Subscription,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Returns whether there was one with that endpoint.
    async fn delete_subscription(&self, user_id: &str, endpoint: &str) -> Result<bool, StoreError>;
    /// Oldest first.
    async fn subscriptions_of(
        &self,
        user_id: &str,
    ) -> Result<Vec<crate::push::StoredSubscription>, StoreError>;
}

/// What a new subscription keeps: updated in place when its endpoint is
/// known (its first `created_at` stays), and past the limit the oldest go.
/// Returns the one to store and the endpoints to delete.
pub fn subscription_change(
    existing: &[crate::push::StoredSubscription],
    subscription: &crate::push::Subscription,
    now: DateTime<Utc>,
) -> (crate::push::StoredSubscription, Vec<String>) {
    let created_at = existing
        .iter()
        .find(|s| s.subscription.endpoint == subscription.endpoint)
        .map_or(now, |s| s.created_at);
    let mut others: Vec<&crate::push::StoredSubscription> = existing
        .iter()
        .filter(|s| s.subscription.endpoint != subscription.endpoint)
        .collect();
    others.sort_by_key(|s| s.created_at);
    let excess = (others.len() + 1).saturating_sub(crate::push::MAX_SUBSCRIPTIONS);
    let dropped = others
        .iter()
        .take(excess)
        .map(|s| s.subscription.endpoint.clone())
        .collect();
    (
        crate::push::StoredSubscription {
            subscription: subscription.clone(),
            created_at,
            updated_at: now,
        },
        dropped,
    )
}

/// Addresses no email goes to: hard bounces and complaints.
#[async_trait]
pub trait Suppressions: Send + Sync {
    async fn suppression(&self, address: &str) -> Result<Option<Suppression>, StoreError>;
    async fn suppress(&self, suppression: &Suppression) -> Result<(), StoreError>;
    /// Returns whether the address was suppressed.
    async fn lift_suppression(&self, address: &str) -> Result<bool, StoreError>;
}

/// Every known user, for broadcasts, spread over [`USER_SHARDS`] partitions
/// that a broadcast reads in parallel.
#[async_trait]
pub trait Directory: Send + Sync {
    /// One page of the user ids of `shard` after `after`, and the cursor of
    /// the next page of that shard (None: the shard is done).
    async fn users_in_shard(
        &self,
        shard: u32,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, Option<String>), StoreError>;
    async fn is_listed(&self, user_id: &str) -> Result<bool, StoreError>;
    /// Adds a user (idempotent). Outside every other write on purpose: done
    /// once per user, not once per notification.
    async fn list_user(&self, user_id: &str) -> Result<(), StoreError>;
}

/// Hourly counters of what happened.
#[async_trait]
pub trait Statistics: Send + Sync {
    /// The counts of each of `hours`, in the same order.
    async fn stats(&self, hours: &[StatsHour]) -> Result<Vec<Counts>, StoreError>;
    /// Counts one thing in memory; [`Statistics::flush_stats`] writes the
    /// counts (the SQS handlers flush once per batch, reads flush first).
    fn count(&self, at: DateTime<Utc>, counter: &str);
    /// Writes what was counted: one write per hour, whatever the number of counts.
    async fn flush_stats(&self) -> Result<(), StoreError>;
}

/// Every store port at once: what an adapter implements and what [`App`]
/// holds. Use cases take only the role ports they use.
///
/// [`App`]: crate::app::App
pub trait Store:
    Connections
    + Claims
    + Inbox
    + PreferenceStore
    + TemplateStore
    + Deliveries
    + Suppressions
    + PushSubscriptions
    + Directory
    + Statistics
{
}

impl<T> Store for T where
    T: Connections
        + Claims
        + Inbox
        + PreferenceStore
        + TemplateStore
        + Deliveries
        + Suppressions
        + PushSubscriptions
        + Directory
        + Statistics
{
}

/// DynamoDB takes 100 actions per transaction: the page plus the counter.
pub const MAX_READ_PAGE: usize = 99;

/// For [`Inbox::mark_read_page`] implementations: whether there is anything
/// to mark, or an error if the page is over [`MAX_READ_PAGE`].
pub fn check_read_page(ids: &[String]) -> Result<bool, StoreError> {
    if ids.len() > MAX_READ_PAGE {
        return Err(StoreError::Backend(format!(
            "at most {MAX_READ_PAGE} notifications per transaction"
        )));
    }
    Ok(!ids.is_empty())
}

/// The hour bucket statistics are counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatsHour(DateTime<Utc>);

impl StatsHour {
    /// The hour `at` falls in.
    pub fn of(at: DateTime<Utc>) -> Self {
        use chrono::DurationRound;
        Self(
            at.duration_trunc(chrono::Duration::hours(1))
                .expect("an hour is a valid truncation"),
        )
    }

    pub fn start(self) -> DateTime<Utc> {
        self.0
    }

    /// As stored in keys: `2026-11-27T10`.
    pub fn key(self) -> String {
        self.0.format("%Y-%m-%dT%H").to_string()
    }

    pub fn next(self) -> Self {
        Self(self.0 + chrono::Duration::hours(1))
    }
}

/// Users are spread over this many directory partitions, so neither writes
/// nor a broadcast's reads pile onto one key.
pub const USER_SHARDS: u32 = crate::quotas::DIRECTORY_SHARDS;

pub fn user_shard(user_id: &str) -> u32 {
    // FNV-1a: stable across processes and releases, unlike std's hasher.
    let mut h: u32 = 0x811c_9dc5;
    for b in user_id.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h % USER_SHARDS
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutMessage {
    pub body: String,
    pub delay_seconds: u32,
}

impl OutMessage {
    pub fn now(body: String) -> Self {
        Self {
            body,
            delay_seconds: 0,
        }
    }
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends all messages or fails: no message is reported sent that was not.
    async fn send(&self, messages: Vec<OutMessage>) -> Result<(), QueueError>;
    /// Sends all messages; each one's outcome, in order. Where the queue
    /// cannot tell them apart, all share the outcome of [`Queue::send`].
    async fn send_each(&self, messages: Vec<OutMessage>) -> Vec<Result<(), QueueError>> {
        let n = messages.len();
        let outcome = self.send(messages).await;
        (0..n).map(|_| outcome.clone()).collect()
    }
    /// Keeps a received message (by its receipt handle) hidden for `delay`
    /// from now: its next attempt's backoff (SQS ChangeMessageVisibility,
    /// at most 12 hours).
    async fn retry_after(
        &self,
        _receipt_handle: &str,
        _delay: std::time::Duration,
    ) -> Result<(), QueueError> {
        Err(QueueError(
            "this queue cannot delay a message's retry".into(),
        ))
    }
}

#[async_trait]
pub trait Pusher: Send + Sync {
    async fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), PushError>;
}

/// The queues that have dead-letter queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueName {
    Events,
    Broadcast,
    Deliveries,
    /// SES's delivery feedback (bounces, complaints, deliveries).
    Feedback,
    /// Signed webhooks to the shop.
    Webhooks,
}

impl QueueName {
    pub const ALL: [QueueName; 5] = [
        Self::Events,
        Self::Broadcast,
        Self::Deliveries,
        Self::Feedback,
        Self::Webhooks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Broadcast => "broadcast",
            Self::Deliveries => "deliveries",
            Self::Feedback => "feedback",
            Self::Webhooks => "webhooks",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|q| q.as_str() == s)
    }

    /// How its settings are named: `<prefix>_QUEUE_URL`, `<prefix>_DLQ_URL`.
    pub fn env_prefix(self) -> &'static str {
        match self {
            Self::Events => "EVENTS",
            Self::Broadcast => "BROADCAST",
            Self::Deliveries => "DELIVERIES",
            Self::Feedback => "FEEDBACK",
            Self::Webhooks => "WEBHOOK",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub id: String,
    pub body: String,
    pub receive_count: u32,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Redrive {
    /// Messages moved back, when the move is done by the time we answer.
    pub moved: Option<usize>,
    /// The provider's handle, when it moves them in the background (SQS).
    pub task: Option<String>,
}

#[async_trait]
pub trait DeadLetters: Send + Sync {
    /// The approximate number of dead letters and up to `limit` of them.
    async fn peek(
        &self,
        queue: QueueName,
        limit: usize,
    ) -> Result<(usize, Vec<DeadLetter>), QueueError>;
    /// Moves every dead letter back to the queue it came from.
    async fn redrive(&self, queue: QueueName) -> Result<Redrive, QueueError>;
    /// Whether this deployment has that queue (a stack without a broadcast
    /// queue runs broadcasts on the events queue).
    fn has(&self, _queue: QueueName) -> bool {
        true
    }
}

/// Sends one SMS; returns the provider's message id. Failures use the same
/// two kinds as email: rejected for good, or temporary.
#[async_trait]
pub trait SmsSender: Send + Sync {
    async fn send_sms(&self, to: &str, text: &str) -> Result<String, MailError>;
}

/// What a sent email carries back in its provider's feedback (SES message
/// tags): whose and which notification it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailTags {
    pub user_id: String,
    pub notification_id: String,
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one email; returns the provider's message id.
    async fn send(
        &self,
        to: &str,
        email: &RenderedEmail,
        tags: &MailTags,
    ) -> Result<String, MailError>;
    /// Takes `address` off the provider's own suppression list (the user
    /// confirmed it again). Nothing to do where the provider keeps none.
    async fn unsuppress(&self, _address: &str) -> Result<(), MailError> {
        Ok(())
    }
}

/// What a push service answered: 201 (taken), 404/410 (the subscription is
/// gone), 429 and 5xx (later, perhaps after `Retry-After` seconds), 400 or
/// 413 (never).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushAnswer {
    pub status: u16,
    pub retry_after: Option<u64>,
}

/// Browsers' push services (FCM, Mozilla's, Apple's), one POST per
/// subscription.
#[async_trait]
pub trait PushService: Send + Sync {
    /// The answer, or why there was none (timeout, connection, TLS).
    async fn push(&self, req: &crate::push::PushRequest) -> Result<PushAnswer, String>;
}

/// The shop's webhook endpoint.
#[async_trait]
pub trait WebhookEndpoint: Send + Sync {
    /// POSTs one signed webhook; the HTTP status, or why there was none
    /// (timeout, connection refused, TLS).
    async fn post(&self, headers: &[(&'static str, String)], body: &str) -> Result<u16, String>;
}

/// The time, so that tests can set it.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved: for tests of expiry and leases.
pub struct ManualClock(std::sync::Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(std::sync::Mutex::new(at))
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
