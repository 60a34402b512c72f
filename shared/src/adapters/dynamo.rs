//! The store port on one DynamoDB table (single-table design; the keys are
//! in [`super::keys`], the reasons in docs/architecture.md).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::keys::*;
use crate::adapters::stats_buffer::StatsBuffer;
use crate::error::StoreError;
use crate::event::EventType;
use crate::model::{
    CLAIM_RETENTION, Channel, Connection, Counts, DeliveryRecord, EventClaim, MarkRead,
    Notification, Page, Retention, Suppression,
};
use crate::ports::{
    Claims, Connections, Deliveries, Directory, Inbox, NewNotification, PreferenceStore,
    PushSubscriptions, Recorded, Statistics, StatsHour, Suppressions, TemplateStore,
    check_read_page, sort_deliveries, subscription_change,
};
use crate::preferences::Preferences;
use crate::template::TemplateOverride;

type Item = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    retention: Retention,
    /// Statistics counted and not yet written (see [`StatsBuffer`]).
    stats: std::sync::Arc<StatsBuffer>,
    /// Users this instance has seen in the directory. Nothing removes a
    /// user from it, so a warm instance asks once per user, not once per
    /// event or connect (a read saved on the hot path).
    listed: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Users remembered as listed; past it the set starts over (a few reads).
const LISTED_CACHE: usize = 10_000;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Timestamps as serde writes them, so conditions compare equal strings.
fn ts(at: DateTime<Utc>) -> AttributeValue {
    s(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("PK".to_owned(), s(pk)), ("SK".to_owned(), s(sk))])
}

/// The user's entry in the directory that broadcasts page through.
fn directory_item(user: &str) -> Item {
    let mut item = key(directory_pk_of(user), user_pk(user));
    item.insert("userId".into(), s(user));
    item
}

fn to_item<T: Serialize>(
    pk: impl Into<String>,
    sk: impl Into<String>,
    value: &T,
) -> Result<Item, StoreError> {
    let mut item: Item =
        serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    item.extend(key(pk, sk));
    Ok(item)
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn backend<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = err
        .as_service_error()
        .and_then(|e| e.code())
        .unwrap_or_default()
        .to_owned();
    let text = DisplayErrorContext(&err).to_string();
    match code.as_str() {
        "ConditionalCheckFailedException" => StoreError::ConditionFailed,
        // What is left after `transact` retried a conflict a few times.
        "TransactionConflictException" | "TransactionInProgressException" => {
            StoreError::Conflict(text)
        }
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded" => StoreError::Throttled(text),
        _ => StoreError::Backend(text),
    }
}

fn is_transaction_conflict(err: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>) -> bool {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => e
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("TransactionConflict")),
        Some(TransactWriteItemsError::TransactionInProgressException(_)) => true,
        _ => false,
    }
}

/// A transaction cancelled because an item's partition was throttled: the
/// SDK does not retry a cancellation, so `transact` does.
fn is_transaction_throttled(err: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>) -> bool {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => e
            .cancellation_reasons()
            .iter()
            // On-demand tables answer ThrottlingError, provisioned ones
            // ProvisionedThroughputExceeded.
            .any(|r| {
                matches!(
                    r.code(),
                    Some("ThrottlingError" | "ProvisionedThroughputExceeded")
                )
            }),
        _ => false,
    }
}

/// A failed transaction as a store error: conflicts that outlasted the
/// retries in `transact` are `Conflict`, so callers can tell them apart.
fn tx_error(
    err: SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError {
    if is_transaction_conflict(&err) {
        StoreError::Conflict(DisplayErrorContext(&err).to_string())
    } else if is_transaction_throttled(&err) {
        StoreError::Throttled(DisplayErrorContext(&err).to_string())
    } else {
        backend(err)
    }
}

/// Which actions of a cancelled transaction failed their condition.
fn cancelled_by_condition(
    err: &SdkError<TransactWriteItemsError, impl std::fmt::Debug>,
) -> Option<Vec<bool>> {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => Some(
            e.cancellation_reasons()
                .iter()
                .map(|r| r.code() == Some("ConditionalCheckFailed"))
                .collect(),
        ),
        _ => None,
    }
}

fn build<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Backend(format!("request build: {e}")))
}

impl DynamoStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            retention: Retention::default(),
            stats: Default::default(),
            listed: Default::default(),
        }
    }

    fn remember_listed(&self, user_id: &str) {
        let mut listed = self.listed.lock().expect("listed");
        if listed.len() >= LISTED_CACHE {
            listed.clear();
        }
        listed.insert(user_id.to_owned());
    }

    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Notifications of `pk` between `lo` and `hi` (inclusive) in key order
    /// (newest first unless `forward`), without expired ones and, if asked,
    /// only unread ones; reads on until `want` are found or the range ends
    /// (a filter applies after DynamoDB's read limit).
    async fn query_notifications(
        &self,
        pk: &str,
        (lo, hi): (String, String),
        forward: bool,
        mut start: Option<Item>,
        want: usize,
        unread_only: bool,
    ) -> Result<Vec<Notification>, StoreError> {
        let now = Utc::now();
        let mut items: Vec<Notification> = Vec::new();
        loop {
            let mut filter = "(attribute_not_exists(#ttl) OR #ttl > :now)".to_owned();
            if unread_only {
                filter.push_str(" AND #read = :false");
            }
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND SK BETWEEN :lo AND :hi")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":lo", s(lo.clone()))
                .expression_attribute_values(":hi", s(hi.clone()))
                .expression_attribute_values(":now", n(now.timestamp()))
                .expression_attribute_names("#ttl", "ttl")
                .filter_expression(filter)
                .scan_index_forward(forward)
                .consistent_read(true)
                .limit((want - items.len()).max(1) as i32)
                .set_exclusive_start_key(start.take());
            if unread_only {
                q = q
                    .expression_attribute_names("#read", "read")
                    .expression_attribute_values(":false", AttributeValue::Bool(false));
            }
            let out = q.send().await.map_err(backend)?;
            for item in out.items.unwrap_or_default() {
                let n: Notification = from_item(item)?;
                // TTL is in whole seconds; the item knows the exact time.
                if !n.expired(now) {
                    items.push(n);
                }
            }
            start = out.last_evaluated_key;
            if items.len() >= want || start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Writes one item, replacing what was there.
    async fn put_plain(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Deletes one item; whether it existed.
    async fn delete_existing(
        &self,
        pk: impl Into<String>,
        sk: impl Into<String>,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(backend)?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn get(&self, pk: String, sk: impl Into<String>) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        Ok(out.item)
    }

    fn put(&self, item: Item) -> Result<Put, StoreError> {
        build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .build(),
        )
    }

    /// `ADD #name :by` on one counter attribute of one item.
    fn add(&self, k: Item, attr: &str, by: i64) -> Result<Update, StoreError> {
        build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(k))
                .update_expression("ADD #a :by")
                .expression_attribute_names("#a", attr)
                .expression_attribute_values(":by", n(by))
                .build(),
        )
    }

    /// One transaction; a conflict with another transaction on the same
    /// items (two events of one user at once) is retried here, with jittered
    /// backoff, rather than sent back through the queue's visibility timeout.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>>
    {
        let mut attempt = 0u32;
        loop {
            let res = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await
                .map(|_| ());
            match res {
                Err(e)
                    if attempt < super::conflicts::RETRIES
                        && (is_transaction_conflict(&e) || is_transaction_throttled(&e)) =>
                {
                    attempt += 1;
                    tokio::time::sleep(super::conflicts::backoff(attempt)).await;
                }
                other => return other,
            }
        }
    }

    /// Marks one unread notification read (fails its condition otherwise)
    /// and starts its retention clock: `expiresAt` for readers, `ttl` for
    /// DynamoDB's deletion.
    fn set_read(&self, pk: &str, id: &str, at: DateTime<Utc>) -> Result<Update, StoreError> {
        let expires = self.retention.read_expiry(id, at);
        build(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(pk, notif_sk(id))))
                .update_expression("SET #read = :true, readAt = :at, expiresAt = :exp, #ttl = :ttl")
                .condition_expression("attribute_exists(PK) AND #read = :false")
                .expression_attribute_names("#read", "read")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":true", AttributeValue::Bool(true))
                .expression_attribute_values(":false", AttributeValue::Bool(false))
                .expression_attribute_values(":at", ts(at))
                .expression_attribute_values(":exp", ts(expires))
                .expression_attribute_values(":ttl", n(expires.timestamp()))
                .build(),
        )
    }
}

fn put_item(p: Put) -> TransactWriteItem {
    TransactWriteItem::builder().put(p).build()
}

fn update_item(u: Update) -> TransactWriteItem {
    TransactWriteItem::builder().update(u).build()
}

#[async_trait]
impl Connections for DynamoStore {
    async fn put_connection(&self, conn: &Connection) -> Result<(), StoreError> {
        let mut row = to_item(user_pk(&conn.user_id), conn_sk(&conn.connection_id), conn)?;
        row.insert("ttl".into(), n(conn.expires_at));
        let mut owner = key(owner_pk(&conn.connection_id), OWNER_SK);
        owner.insert("userId".into(), s(&conn.user_id));
        owner.insert("ttl".into(), n(conn.expires_at));
        self.transact(vec![put_item(self.put(row)?), put_item(self.put(owner)?)])
            .await
            .map_err(tx_error)
    }

    async fn remove_connection(&self, connection_id: &str) -> Result<Option<String>, StoreError> {
        let Some(owner) = self.connection_owner(connection_id).await? else {
            return Ok(None);
        };
        let del = |k: Item| {
            build(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(k))
                    .build(),
            )
        };
        self.transact(vec![
            TransactWriteItem::builder()
                .delete(del(key(user_pk(&owner), conn_sk(connection_id)))?)
                .build(),
            TransactWriteItem::builder()
                .delete(del(key(owner_pk(connection_id), OWNER_SK))?)
                .build(),
        ])
        .await
        .map_err(tx_error)?;
        Ok(Some(owner))
    }

    async fn connection_owner(&self, connection_id: &str) -> Result<Option<String>, StoreError> {
        let item = self.get(owner_pk(connection_id), OWNER_SK).await?;
        Ok(item
            .and_then(|i| i.get("userId").cloned())
            .and_then(|v| v.as_s().ok().cloned()))
    }

    async fn connections_of(&self, user_id: &str) -> Result<Vec<Connection>, StoreError> {
        self.query_all(
            "PK = :pk AND begins_with(SK, :sk)",
            &[(":pk", user_pk(user_id)), (":sk", CONN_PREFIX.to_owned())],
        )
        .await?
        .into_iter()
        .map(from_item)
        .collect()
    }
}

#[async_trait]
impl Claims for DynamoStore {
    async fn record_notification(&self, new: &NewNotification) -> Result<Recorded, StoreError> {
        let claim = &new.claim;
        let mut claim_item = to_item(claim_pk(&claim.event_id), CLAIM_SK, claim)?;
        claim_item.insert(
            "ttl".into(),
            n((claim.claimed_at + CLAIM_RETENTION).timestamp()),
        );
        let mut actions = vec![put_item(build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(claim_item))
                .condition_expression("attribute_not_exists(PK)")
                .build(),
        )?)];
        if let Some(notification) = &new.notification {
            let pk = user_pk(&claim.user_id);
            actions.push(put_item(self.put(to_item(
                pk.clone(),
                notif_sk(&notification.id),
                notification,
            )?)?));
            if !notification.read {
                actions.push(update_item(self.add(key(pk, UNREAD_SK), "count", 1)?));
            }
        }
        match self.transact(actions).await {
            Ok(()) => {
                if new.notification.is_some() {
                    self.stats
                        .count(claim.created_at, &created_counter(new.kind), 1);
                }
                Ok(Recorded::Stored)
            }
            Err(e) if cancelled_by_condition(&e).is_some_and(|r| r.first() == Some(&true)) => {
                let item = self
                    .get(claim_pk(&claim.event_id), CLAIM_SK)
                    .await?
                    .ok_or_else(|| {
                        StoreError::Backend("event claim vanished after a conflict".into())
                    })?;
                Ok(Recorded::Duplicate(from_item(item)?))
            }
            Err(e) => Err(tx_error(e)),
        }
    }

    async fn take_over_claim(
        &self,
        claim: &EventClaim,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(claim_pk(&claim.event_id), CLAIM_SK)))
            .update_expression("SET claimedAt = :now")
            .condition_expression("claimedAt = :old AND dispatched = :false")
            .expression_attribute_values(":now", ts(now))
            .expression_attribute_values(":old", ts(claim.claimed_at))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .send()
            .await;
        match res.map_err(backend) {
            Ok(_) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn mark_dispatched(&self, event_id: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(claim_pk(event_id), CLAIM_SK)))
            .update_expression("SET dispatched = :true")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn record_broadcast(
        &self,
        user_id: &str,
        notification: &Notification,
    ) -> Result<bool, StoreError> {
        let pk = user_pk(user_id);
        let put = build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(to_item(
                    pk.clone(),
                    notif_sk(&notification.id),
                    notification,
                )?))
                .condition_expression("attribute_not_exists(PK)")
                .build(),
        )?;
        let actions = vec![
            put_item(put),
            update_item(self.add(key(pk, UNREAD_SK), "count", 1)?),
        ];
        match self.transact(actions).await {
            Ok(()) => {
                self.stats.count(
                    notification.created_at,
                    &created_counter(notification.kind),
                    1,
                );
                Ok(true)
            }
            Err(e) if cancelled_by_condition(&e).is_some_and(|r| r.first() == Some(&true)) => {
                Ok(false)
            }
            Err(e) => Err(tx_error(e)),
        }
    }
}

#[async_trait]
impl Inbox for DynamoStore {
    async fn get_notification(
        &self,
        user_id: &str,
        id: &str,
    ) -> Result<Option<Notification>, StoreError> {
        let found: Option<Notification> = self
            .get(user_pk(user_id), notif_sk(id))
            .await?
            .map(from_item)
            .transpose()?;
        Ok(found.filter(|n| !n.expired(Utc::now())))
    }

    async fn notifications_after(
        &self,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        // BETWEEN is inclusive; `!` sorts below every ULID character, so the
        // lower bound excludes the cursor itself and keeps everything after it.
        let items = self
            .query_notifications(
                &user_pk(user_id),
                (notif_after(after), NOTIF_END.to_owned()),
                true,
                None,
                limit + 1,
                false,
            )
            .await?;
        Ok(Page::from_overfetch(items, limit))
    }

    async fn list_notifications(
        &self,
        user_id: &str,
        before: Option<&str>,
        limit: usize,
        unread_only: bool,
    ) -> Result<Page, StoreError> {
        let pk = user_pk(user_id);
        let start = before.map(|b| key(pk.clone(), notif_sk(b)));
        let items = self
            .query_notifications(
                &pk,
                (NOTIF_PREFIX.to_owned(), NOTIF_END.to_owned()),
                false,
                start,
                limit + 1,
                unread_only,
            )
            .await?;
        Ok(Page::from_overfetch(items, limit))
    }

    async fn mark_read(
        &self,
        user_id: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<MarkRead, StoreError> {
        let pk = user_pk(user_id);
        let res = self
            .transact(vec![
                update_item(self.set_read(&pk, id, at)?),
                update_item(self.add(key(pk, UNREAD_SK), "count", -1)?),
            ])
            .await;
        match res {
            Ok(()) => Ok(MarkRead::Marked {
                unread: self.unread_count(user_id).await?,
            }),
            Err(e) if cancelled_by_condition(&e).is_some_and(|r| r.first() == Some(&true)) => {
                match self.get_notification(user_id, id).await? {
                    None => Ok(MarkRead::NotFound),
                    Some(_) => Ok(MarkRead::AlreadyRead {
                        unread: self.unread_count(user_id).await?,
                    }),
                }
            }
            Err(e) => Err(tx_error(e)),
        }
    }

    async fn mark_read_page(
        &self,
        user_id: &str,
        ids: &[String],
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        if !check_read_page(ids)? {
            return Ok(0);
        }
        let pk = user_pk(user_id);
        let mut actions = ids
            .iter()
            .map(|id| self.set_read(&pk, id, at).map(update_item))
            .collect::<Result<Vec<_>, _>>()?;
        actions.push(update_item(self.add(
            key(pk, UNREAD_SK),
            "count",
            -(ids.len() as i64),
        )?));
        match self.transact(actions).await {
            Ok(()) => Ok(ids.len() as u64),
            Err(e) if cancelled_by_condition(&e).is_some_and(|r| r.contains(&true)) => {
                Err(StoreError::ConditionFailed)
            }
            Err(e) => Err(tx_error(e)),
        }
    }

    async fn unread_count(&self, user_id: &str) -> Result<u64, StoreError> {
        let item = self.get(user_pk(user_id), UNREAD_SK).await?;
        let count = item
            .and_then(|i| i.get("count").cloned())
            .and_then(|v| v.as_n().ok().and_then(|n| n.parse::<i64>().ok()))
            .unwrap_or(0);
        Ok(count.max(0) as u64)
    }

    async fn delete_notification(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        let pk = user_pk(user_id);
        // The counter moves only if the deleted one was unread; the condition
        // pins the read state we saw, and a race is simply tried again.
        for _ in 0..3 {
            let Some(current) = self.get_notification(user_id, id).await? else {
                return Ok(false);
            };
            let delete = build(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(pk.clone(), notif_sk(id))))
                    .condition_expression("attribute_exists(PK) AND #read = :read")
                    .expression_attribute_names("#read", "read")
                    .expression_attribute_values(":read", AttributeValue::Bool(current.read))
                    .build(),
            )?;
            let mut actions = vec![TransactWriteItem::builder().delete(delete).build()];
            if !current.read {
                actions.push(update_item(self.add(
                    key(pk.clone(), UNREAD_SK),
                    "count",
                    -1,
                )?));
            }
            match self.transact(actions).await {
                Ok(()) => {
                    // Its delivery log goes after it; what a failure here
                    // leaves, TTL removes with the notification's retention.
                    if let Err(e) = self.delete_delivery_log(user_id, id).await {
                        tracing::warn!(error = %e, "notification deleted, its delivery log left to TTL");
                    }
                    return Ok(true);
                }
                Err(e) if cancelled_by_condition(&e).is_some_and(|r| r.first() == Some(&true)) => {
                    continue;
                }
                Err(e) => return Err(tx_error(e)),
            }
        }
        Err(StoreError::Backend(
            "notification kept changing while being deleted".into(),
        ))
    }
}

#[async_trait]
impl PreferenceStore for DynamoStore {
    async fn preferences(&self, user_id: &str) -> Result<Preferences, StoreError> {
        match self.get(user_pk(user_id), PREFS_SK).await? {
            Some(mut item) => match item.remove("prefs") {
                Some(AttributeValue::M(m)) => from_item(m),
                _ => Ok(Preferences::default()),
            },
            None => Ok(Preferences::default()),
        }
    }

    /// One strongly consistent Query of the user's partition from `PREFS`
    /// to `PUSH$`: the preferences item and the push subscriptions sort
    /// next to each other (nothing else does), so one read answers both.
    async fn preferences_and_push(
        &self,
        user_id: &str,
    ) -> Result<(Preferences, Option<bool>), StoreError> {
        let (mut prefs, mut push) = (Preferences::default(), false);
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND SK BETWEEN :lo AND :hi")
                .expression_attribute_values(":pk", s(user_pk(user_id)))
                .expression_attribute_values(":lo", s(PREFS_SK))
                .expression_attribute_values(":hi", s(PUSH_END))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(backend)?;
            for mut item in page.items.unwrap_or_default() {
                match item.get("SK").and_then(|v| v.as_s().ok()) {
                    Some(sk) if sk == PREFS_SK => {
                        if let Some(AttributeValue::M(m)) = item.remove("prefs") {
                            prefs = from_item(m)?;
                        }
                    }
                    Some(sk) if sk.starts_with(PUSH_PREFIX) => push = true,
                    _ => {}
                }
            }
            start = page.last_evaluated_key;
            // One subscription is enough to know.
            if start.is_none() || push {
                return Ok((prefs, Some(push)));
            }
        }
    }

    async fn put_preferences(&self, user_id: &str, prefs: &Preferences) -> Result<(), StoreError> {
        let mut item = key(user_pk(user_id), PREFS_SK);
        let m: Item =
            serde_dynamo::to_item(prefs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        item.insert("prefs".into(), AttributeValue::M(m));
        self.transact(vec![
            put_item(self.put(item)?),
            put_item(self.put(directory_item(user_id))?),
        ])
        .await
        .map_err(tx_error)
    }
}

#[async_trait]
impl TemplateStore for DynamoStore {
    async fn template_overrides(&self) -> Result<Vec<TemplateOverride>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(TEMPLATE_PK))
            .send()
            .await
            .map_err(backend)?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn put_template_override(&self, o: &TemplateOverride) -> Result<(), StoreError> {
        let item = to_item(TEMPLATE_PK, template_sk(o.kind, o.channel), o)?;
        self.put_plain(item).await?;
        Ok(())
    }

    async fn delete_template_override(
        &self,
        kind: EventType,
        channel: Channel,
    ) -> Result<bool, StoreError> {
        self.delete_existing(TEMPLATE_PK, template_sk(kind, channel))
            .await
    }
}

impl DynamoStore {
    /// Every item of a Query, page after page.
    async fn query_all(
        &self,
        key_condition: &str,
        values: &[(&str, String)],
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(key_condition)
                .set_exclusive_start_key(start);
            for (name, value) in values {
                q = q.expression_attribute_values(*name, s(value.clone()));
            }
            let page = q.send().await.map_err(backend)?;
            out.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    async fn delivery_log_items(
        &self,
        user_id: &str,
        notification_id: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let (lo, hi) = delivery_range(notification_id);
        self.query_all(
            "PK = :pk AND SK BETWEEN :lo AND :hi",
            &[(":pk", user_pk(user_id)), (":lo", lo), (":hi", hi)],
        )
        .await
    }

    async fn delete_delivery_log(&self, user_id: &str, id: &str) -> Result<(), StoreError> {
        for item in self.delivery_log_items(user_id, id).await? {
            let (Some(pk), Some(sk)) = (item.get("PK"), item.get("SK")) else {
                continue;
            };
            self.client
                .delete_item()
                .table_name(&self.table)
                .key("PK", pk.clone())
                .key("SK", sk.clone())
                .send()
                .await
                .map_err(backend)?;
        }
        Ok(())
    }
}

#[async_trait]
impl Deliveries for DynamoStore {
    async fn record_delivery(&self, rec: &DeliveryRecord) -> Result<(), StoreError> {
        let mut item = to_item(
            user_pk(&rec.user_id),
            delivery_sk(&rec.notification_id, rec.channel, &rec.entry_key()),
            rec,
        )?;
        item.insert(
            "ttl".into(),
            n(self
                .retention
                .delivery_expiry(&rec.notification_id, rec.at)
                .timestamp()),
        );
        // The same fact twice (SES's Send event after the sender's `sent`,
        // a redelivered message) is kept, and counted, once.
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(backend)
        {
            Ok(_) => {}
            Err(StoreError::ConditionFailed) => return Ok(()),
            Err(e) => return Err(e),
        }
        if let Some(status) = rec.counted_as() {
            self.stats
                .count(rec.at, &delivery_counter(rec.channel, status), 1);
        }
        Ok(())
    }

    async fn deliveries(
        &self,
        user_id: &str,
        notification_id: &str,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let mut log = self
            .delivery_log_items(user_id, notification_id)
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<DeliveryRecord>, _>>()?;
        sort_deliveries(&mut log);
        Ok(log)
    }
}

#[async_trait]
impl PushSubscriptions for DynamoStore {
    async fn put_subscription(
        &self,
        user_id: &str,
        subscription: &crate::push::Subscription,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // The endpoint's previous owner (the browser's last user) loses it.
        let owner_pk = push_owner_pk(&subscription.endpoint);
        let previous = self
            .get(owner_pk.clone(), PUSH_OWNER_SK)
            .await?
            .and_then(|i| i.get("userId").and_then(|v| v.as_s().ok().cloned()));
        if let Some(previous) = previous.filter(|p| p != user_id) {
            self.delete_subscription(&previous, &subscription.endpoint)
                .await?;
        }
        let mut owner = key(owner_pk, PUSH_OWNER_SK);
        owner.insert("userId".into(), s(user_id));
        self.put_plain(owner).await?;
        let existing = self.subscriptions_of(user_id).await?;
        let (stored, dropped) = subscription_change(&existing, subscription, now);
        let item = to_item(user_pk(user_id), push_sk(&subscription.endpoint), &stored)?;
        self.put_plain(item).await?;
        for endpoint in dropped {
            self.delete_subscription(user_id, &endpoint).await?;
        }
        Ok(())
    }

    async fn delete_subscription(&self, user_id: &str, endpoint: &str) -> Result<bool, StoreError> {
        self.delete_existing(user_pk(user_id), push_sk(endpoint))
            .await
    }

    async fn subscriptions_of(
        &self,
        user_id: &str,
    ) -> Result<Vec<crate::push::StoredSubscription>, StoreError> {
        let mut subs = self
            .query_all(
                "PK = :pk AND begins_with(SK, :sk)",
                &[(":pk", user_pk(user_id)), (":sk", PUSH_PREFIX.to_owned())],
            )
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<crate::push::StoredSubscription>, _>>()?;
        subs.sort_by_key(|s| s.created_at);
        Ok(subs)
    }
}

#[async_trait]
impl Suppressions for DynamoStore {
    async fn suppression(&self, address: &str) -> Result<Option<Suppression>, StoreError> {
        self.get(suppression_pk(address), SUPPRESSION_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn suppress(&self, suppression: &Suppression) -> Result<(), StoreError> {
        let item = to_item(
            suppression_pk(&suppression.address),
            SUPPRESSION_SK,
            suppression,
        )?;
        self.put_plain(item).await?;
        Ok(())
    }

    async fn lift_suppression(&self, address: &str) -> Result<bool, StoreError> {
        self.delete_existing(suppression_pk(address), SUPPRESSION_SK)
            .await
    }
}

#[async_trait]
impl Directory for DynamoStore {
    async fn users_in_shard(
        &self,
        shard: u32,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        let pk = directory_pk(shard);
        let mut users = Vec::new();
        let mut start = after.map(|u| key(pk.clone(), user_pk(u)));
        // A Query stops at 1 MB: read on until the page is full or the shard ends.
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", s(pk.clone()))
                .limit((limit - users.len()) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(backend)?;
            for item in out.items.unwrap_or_default() {
                if let Some(AttributeValue::S(u)) = item.get("userId") {
                    users.push(u.clone());
                }
            }
            match out.last_evaluated_key {
                Some(last) if users.len() < limit => start = Some(last),
                Some(_) => return Ok((users.clone(), users.last().cloned())),
                None => return Ok((users, None)),
            }
        }
    }

    async fn is_listed(&self, user_id: &str) -> Result<bool, StoreError> {
        if self.listed.lock().expect("listed").contains(user_id) {
            return Ok(true);
        }
        let listed = self
            .get(directory_pk_of(user_id), user_pk(user_id))
            .await?
            .is_some();
        if listed {
            self.remember_listed(user_id);
        }
        Ok(listed)
    }

    async fn list_user(&self, user_id: &str) -> Result<(), StoreError> {
        self.put_plain(directory_item(user_id)).await?;
        self.remember_listed(user_id);
        Ok(())
    }
}

#[async_trait]
impl Statistics for DynamoStore {
    async fn stats(&self, hours: &[StatsHour]) -> Result<Vec<Counts>, StoreError> {
        if let Err(e) = self.flush_stats().await {
            tracing::warn!(error = %e, "statistics not written yet; showing what is");
        }
        let mut found: HashMap<String, Counts> = HashMap::new();
        // Four shards an hour, at most 100 keys a call.
        for chunk in hours.chunks((100 / STATS_SHARDS) as usize) {
            let keys: Vec<Item> = chunk
                .iter()
                .flat_map(|h| (0..STATS_SHARDS).map(move |s| key(stats_pk(*h, s), stats_sk(s))))
                .collect();
            let mut request = Some(build(
                aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .build(),
            )?);
            while let Some(req) = request.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, req)
                    .send()
                    .await
                    .map_err(backend)?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    let hour = item
                        .get("PK")
                        .and_then(|v| v.as_s().ok())
                        .and_then(|p| hour_of_stats_pk(p))
                        .unwrap_or_default()
                        .to_owned();
                    let sums = found.entry(hour).or_default();
                    for (k, v) in &item {
                        if let Some(n) = v.as_n().ok().and_then(|n| n.parse::<i64>().ok()) {
                            sums.add(k, n);
                        }
                    }
                }
                // Throttled keys come back unprocessed: ask again for those.
                request = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table));
            }
        }
        Ok(hours
            .iter()
            .map(|h| found.remove(&h.key()).unwrap_or_default())
            .collect())
    }

    fn count(&self, at: DateTime<Utc>, counter: &str) {
        self.stats.count(at, counter, 1);
    }

    /// One UpdateItem per hour with every count of the batch, on a random
    /// shard of the hour's item so concurrent flushes rarely meet.
    async fn flush_stats(&self) -> Result<(), StoreError> {
        let mut pending = self.stats.take().into_iter();
        while let Some((hour, counts)) = pending.next() {
            let shard = random_stats_shard();
            let mut update = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(stats_pk(hour, shard), stats_sk(shard))));
            let mut parts = Vec::new();
            for (i, (name, by)) in counts.iter().enumerate() {
                parts.push(format!("#c{i} :v{i}"));
                update = update
                    .expression_attribute_names(format!("#c{i}"), name)
                    .expression_attribute_values(format!(":v{i}"), n(*by));
            }
            let res = update
                .update_expression(format!("ADD {}", parts.join(", ")))
                .send()
                .await;
            if let Err(e) = res {
                // This hour and every one not written yet wait for the next flush.
                self.stats.restore(hour, counts);
                for (hour, counts) in pending {
                    self.stats.restore(hour, counts);
                }
                return Err(backend(e));
            }
        }
        Ok(())
    }
}
