//! The store port on the embedded database: the same items as DynamoDB,
//! each use case's writes in one transaction.
//!
//! redb runs one write transaction at a time, so on its own it would never
//! show what DynamoDB does to two transactions on the same item at once:
//! cancel one with TransactionConflict. [`ItemLocks`] brings that back, so
//! code that would conflict on AWS conflicts here too, and the same retry
//! policy as the DynamoDB adapter absorbs short races.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::ReadableTable;

use super::Db as Database;

use super::kv::{ITEMS, add, get, key, partition, put, remove, scan};
use crate::adapters::keys::*;
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

use super::kv::{read, write};
use crate::adapters::stats_buffer::StatsBuffer;

/// The items held by transactions in flight.
#[derive(Default)]
pub struct ItemLocks(Mutex<HashSet<String>>);

impl ItemLocks {
    fn set(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes every key or none: false if another transaction holds one.
    fn try_take(&self, keys: &[String]) -> bool {
        let mut held = self.set();
        if keys.iter().any(|k| held.contains(k)) {
            return false;
        }
        held.extend(keys.iter().cloned());
        true
    }
}

/// Releases a transaction's items when it ends, however it ends.
struct Held<'a> {
    locks: &'a ItemLocks,
    keys: Vec<String>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut held = self.locks.set();
        for k in &self.keys {
            held.remove(k);
        }
    }
}

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    locks: Arc<ItemLocks>,
    retention: Retention,
    conflict_retries: u32,
    stats: Arc<StatsBuffer>,
}

impl EmbeddedStore {
    pub(super) fn new(db: Arc<Database>, locks: Arc<ItemLocks>, stats: Arc<StatsBuffer>) -> Self {
        Self {
            db,
            locks,
            retention: Retention::default(),
            conflict_retries: crate::adapters::conflicts::RETRIES,
            stats,
        }
    }

    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Conflicts surface at once instead of being retried: for tests that
    /// show which access patterns conflict.
    pub fn without_conflict_retries(mut self) -> Self {
        self.conflict_retries = 0;
        self
    }

    /// Deletes what DynamoDB's TTL would have deleted by `now`: read
    /// notifications past their expiry, delivery records past the
    /// retention, event claims past [`CLAIM_RETENTION`]. Returns how many.
    pub async fn purge_expired(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let retention = self.retention;
        // DynamoDB's TTL deletes cost no capacity: not metered.
        super::kv::write_unmetered(&self.db, ITEMS, true, move |t| {
            let mut doomed = Vec::new();
            for entry in t.iter().map_err(super::kv::err)? {
                let (k, v) = entry.map_err(super::kv::err)?;
                let key = k.value();
                let Some((_, sk)) = key.split_once(super::kv::SEP) else {
                    continue;
                };
                let expired = if sk.starts_with(NOTIF_PREFIX) {
                    serde_json::from_slice::<Notification>(v.value()).is_ok_and(|n| n.expired(now))
                } else if sk.starts_with(DELIVERY_PREFIX) {
                    serde_json::from_slice::<DeliveryRecord>(v.value())
                        .is_ok_and(|d| retention.delivery_expiry(&d.notification_id, d.at) <= now)
                } else if sk == CLAIM_SK {
                    serde_json::from_slice::<EventClaim>(v.value())
                        .is_ok_and(|c| c.claimed_at + CLAIM_RETENTION <= now)
                } else {
                    false
                };
                if expired {
                    doomed.push(key.to_owned());
                }
            }
            for k in &doomed {
                remove(t, k)?;
            }
            Ok(doomed.len())
        })
        .await
    }

    /// One transaction over the items `keys`: refused with
    /// `StoreError::Conflict` while another transaction holds one of them
    /// (after the quick retries), as DynamoDB refuses it.
    async fn transact<T: Send + 'static>(
        &self,
        keys: Vec<String>,
        durable: bool,
        f: impl Fn(&mut Table) -> Result<T, StoreError> + Send + Sync + 'static,
    ) -> Result<T, StoreError> {
        let mut attempt = 0;
        while !self.locks.try_take(&keys) {
            if attempt >= self.conflict_retries {
                return Err(StoreError::Conflict(
                    "another transaction on the same item is in progress".into(),
                ));
            }
            attempt += 1;
            tokio::time::sleep(crate::adapters::conflicts::backoff(attempt)).await;
        }
        let _held = Held {
            locks: &self.locks,
            keys,
        };
        write(&self.db, ITEMS, durable, f).await
    }
}

type Table<'a> = redb::Table<'a, &'static str, &'static [u8]>;

fn unread_key(user: &str) -> String {
    key(&user_pk(user), UNREAD_SK)
}

fn stats_key(hour: StatsHour, shard: u32) -> String {
    key(&stats_pk(hour, shard), STATS_SK)
}

/// Counters of one hour live in one item, as in DynamoDB.
fn add_counts(
    t: &mut Table,
    hour: StatsHour,
    shard: u32,
    by: &HashMap<String, i64>,
) -> Result<(), StoreError> {
    let k = stats_key(hour, shard);
    let mut counts: HashMap<String, i64> = get(t, &k)?.unwrap_or_default();
    for (name, n) in by {
        *counts.entry(name.clone()).or_default() += n;
    }
    put(t, &k, &counts)
}

/// One page of the notifications in `[start, end)` that `keep` accepts,
/// reading one more to know whether a next page exists.
fn notification_page(
    t: &impl redb::ReadableTable<&'static str, &'static [u8]>,
    (start, end): (&str, &str),
    reverse: bool,
    limit: usize,
    keep: impl Fn(&Notification) -> bool,
) -> Result<Page, StoreError> {
    let items = scan(
        t,
        start,
        end,
        reverse,
        |_, n: &Notification| keep(n),
        limit + 1,
    )?
    .into_iter()
    .map(|(_, n)| n)
    .collect();
    Ok(Page::from_overfetch(items, limit))
}

fn register_user(t: &mut Table, user: &str) -> Result<(), StoreError> {
    put(t, &key(&directory_pk_of(user), &user_pk(user)), &user)
}

fn unread(
    t: &impl redb::ReadableTable<&'static str, &'static [u8]>,
    user: &str,
) -> Result<u64, StoreError> {
    Ok(get::<i64>(t, &unread_key(user))?.unwrap_or(0).max(0) as u64)
}

#[async_trait]
impl Connections for EmbeddedStore {
    async fn put_connection(&self, conn: &Connection) -> Result<(), StoreError> {
        let conn = conn.clone();
        let keys = vec![
            key(&user_pk(&conn.user_id), &conn_sk(&conn.connection_id)),
            key(&owner_pk(&conn.connection_id), OWNER_SK),
        ];
        self.transact(keys, false, move |t| {
            put(
                t,
                &key(&user_pk(&conn.user_id), &conn_sk(&conn.connection_id)),
                &conn,
            )?;
            put(
                t,
                &key(&owner_pk(&conn.connection_id), OWNER_SK),
                &conn.user_id,
            )
        })
        .await
    }

    async fn remove_connection(&self, connection_id: &str) -> Result<Option<String>, StoreError> {
        let id = connection_id.to_owned();
        let keys = vec![key(&owner_pk(&id), OWNER_SK)];
        self.transact(keys, false, move |t| {
            let owner: Option<String> = get(t, &key(&owner_pk(&id), OWNER_SK))?;
            if let Some(user) = &owner {
                remove(t, &key(&user_pk(user), &conn_sk(&id)))?;
                remove(t, &key(&owner_pk(&id), OWNER_SK))?;
            }
            Ok(owner)
        })
        .await
    }

    async fn connection_owner(&self, connection_id: &str) -> Result<Option<String>, StoreError> {
        let k = key(&owner_pk(connection_id), OWNER_SK);
        read(&self.db, ITEMS, move |t| get(t, &k)).await
    }

    async fn connections_of(&self, user_id: &str) -> Result<Vec<Connection>, StoreError> {
        let pk = user_pk(user_id);
        read(&self.db, ITEMS, move |t| {
            let (start, end) = (key(&pk, CONN_PREFIX), key(&pk, CONN_END));
            Ok(
                scan::<Connection>(t, &start, &end, false, |_, _| true, usize::MAX)?
                    .into_iter()
                    .map(|(_, c)| c)
                    .collect(),
            )
        })
        .await
    }
}

#[async_trait]
impl Claims for EmbeddedStore {
    async fn record_notification(&self, new: &NewNotification) -> Result<Recorded, StoreError> {
        let new = new.clone();
        let user = &new.claim.user_id;
        let mut keys = vec![key(&claim_pk(&new.claim.event_id), CLAIM_SK)];
        if let Some(n) = &new.notification {
            keys.push(key(&user_pk(user), &notif_sk(&n.id)));
            keys.push(unread_key(user));
        }
        let (at, kind, stored_one) = (new.claim.created_at, new.kind, new.notification.is_some());
        let recorded = self
            .transact(keys, false, move |t| {
                let claim_key = key(&claim_pk(&new.claim.event_id), CLAIM_SK);
                if let Some(existing) = get::<EventClaim>(t, &claim_key)? {
                    return Ok(Recorded::Duplicate(existing));
                }
                put(t, &claim_key, &new.claim)?;
                if let Some(n) = &new.notification {
                    put(t, &key(&user_pk(&new.claim.user_id), &notif_sk(&n.id)), n)?;
                    if !n.read {
                        add(t, &unread_key(&new.claim.user_id), 1)?;
                    }
                }
                Ok(Recorded::Stored)
            })
            .await?;
        if recorded == Recorded::Stored && stored_one {
            self.stats.count(at, &created_counter(kind), 1);
        }
        Ok(recorded)
    }

    async fn record_broadcast(
        &self,
        user_id: &str,
        notification: &Notification,
    ) -> Result<bool, StoreError> {
        let (user, n) = (user_id.to_owned(), notification.clone());
        let keys = vec![key(&user_pk(&user), &notif_sk(&n.id)), unread_key(&user)];
        let (at, kind) = (n.created_at, n.kind);
        let stored = self
            .transact(keys, false, move |t| {
                let k = key(&user_pk(&user), &notif_sk(&n.id));
                if t.get(k.as_str()).map_err(super::kv::err)?.is_some() {
                    return Ok(false);
                }
                put(t, &k, &n)?;
                add(t, &unread_key(&user), 1)?;
                Ok(true)
            })
            .await?;
        if stored {
            self.stats.count(at, &created_counter(kind), 1);
        }
        Ok(stored)
    }

    async fn take_over_claim(
        &self,
        claim: &EventClaim,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let claim = claim.clone();
        write(&self.db, ITEMS, false, move |t| {
            let k = key(&claim_pk(&claim.event_id), CLAIM_SK);
            match get::<EventClaim>(t, &k)? {
                Some(mut c) if c.claimed_at == claim.claimed_at && !c.dispatched => {
                    c.claimed_at = now;
                    put(t, &k, &c)?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
        .await
    }

    async fn mark_dispatched(&self, event_id: &str) -> Result<(), StoreError> {
        let k = key(&claim_pk(event_id), CLAIM_SK);
        write(&self.db, ITEMS, false, move |t| {
            if let Some(mut c) = get::<EventClaim>(t, &k)? {
                c.dispatched = true;
                put(t, &k, &c)?;
            }
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl Inbox for EmbeddedStore {
    async fn get_notification(
        &self,
        user_id: &str,
        id: &str,
    ) -> Result<Option<Notification>, StoreError> {
        let k = key(&user_pk(user_id), &notif_sk(id));
        let now = Utc::now();
        read(&self.db, ITEMS, move |t| {
            Ok(get::<Notification>(t, &k)?.filter(|n| !n.expired(now)))
        })
        .await
    }

    async fn notifications_after(
        &self,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let pk = user_pk(user_id);
        let start = key(&pk, &notif_after(after));
        let now = Utc::now();
        read(&self.db, ITEMS, move |t| {
            notification_page(t, (&start, &key(&pk, NOTIF_END)), false, limit, |n| {
                !n.expired(now)
            })
        })
        .await
    }

    async fn list_notifications(
        &self,
        user_id: &str,
        before: Option<&str>,
        limit: usize,
        unread_only: bool,
    ) -> Result<Page, StoreError> {
        let pk = user_pk(user_id);
        let end = match before {
            Some(b) => key(&pk, &notif_sk(b)),
            None => key(&pk, NOTIF_END),
        };
        let now = Utc::now();
        read(&self.db, ITEMS, move |t| {
            notification_page(t, (&key(&pk, NOTIF_PREFIX), &end), true, limit, |n| {
                (!unread_only || !n.read) && !n.expired(now)
            })
        })
        .await
    }

    async fn mark_read(
        &self,
        user_id: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> Result<MarkRead, StoreError> {
        let (user, k) = (user_id.to_owned(), key(&user_pk(user_id), &notif_sk(id)));
        let expires = self.retention.read_expiry(id, at);
        let keys = vec![k.clone(), unread_key(user_id)];
        self.transact(keys, true, move |t| {
            let Some(mut n) = get::<Notification>(t, &k)?.filter(|n| !n.expired(at)) else {
                return Ok(MarkRead::NotFound);
            };
            if n.read {
                return Ok(MarkRead::AlreadyRead {
                    unread: unread(t, &user)?,
                });
            }
            n.read = true;
            n.read_at = Some(at);
            n.expires_at = Some(expires);
            put(t, &k, &n)?;
            add(t, &unread_key(&user), -1)?;
            Ok(MarkRead::Marked {
                unread: unread(t, &user)?,
            })
        })
        .await
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
        let items: Vec<(String, DateTime<Utc>)> = ids
            .iter()
            .map(|id| (key(&pk, &notif_sk(id)), self.retention.read_expiry(id, at)))
            .collect();
        let counter = unread_key(user_id);
        let mut keys: Vec<String> = items.iter().map(|(k, _)| k.clone()).collect();
        keys.push(counter.clone());
        self.transact(keys, true, move |t| {
            // All or nothing, like the DynamoDB transaction's conditions:
            // check every one before writing any.
            let mut found = Vec::with_capacity(items.len());
            for (k, expires) in &items {
                match get::<Notification>(t, k)? {
                    Some(n) if !n.read && !n.expired(at) => found.push((k, n, *expires)),
                    _ => return Err(StoreError::ConditionFailed),
                }
            }
            for (k, mut n, expires) in found {
                n.read = true;
                n.read_at = Some(at);
                n.expires_at = Some(expires);
                put(t, k, &n)?;
            }
            add(t, &counter, -(items.len() as i64))?;
            Ok(items.len() as u64)
        })
        .await
    }

    async fn unread_count(&self, user_id: &str) -> Result<u64, StoreError> {
        let user = user_id.to_owned();
        read(&self.db, ITEMS, move |t| unread(t, &user)).await
    }

    async fn delete_notification(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        let (user, id) = (user_id.to_owned(), id.to_owned());
        let pk = user_pk(&user);
        let keys = vec![key(&pk, &notif_sk(&id)), unread_key(&user)];
        self.transact(keys, true, move |t| {
            let pk = user_pk(&user);
            let Some(n) = get::<Notification>(t, &key(&pk, &notif_sk(&id)))? else {
                return Ok(false);
            };
            remove(t, &key(&pk, &notif_sk(&id)))?;
            let (lo, hi) = delivery_range(&id);
            let log = scan::<serde_json::Value>(
                t,
                &key(&pk, &lo),
                &key(&pk, &hi),
                false,
                |_, _| true,
                usize::MAX,
            )?;
            for (k, _) in log {
                remove(t, &k)?;
            }
            if !n.read {
                add(t, &unread_key(&user), -1)?;
            }
            Ok(true)
        })
        .await
    }
}

#[async_trait]
impl PreferenceStore for EmbeddedStore {
    async fn preferences(&self, user_id: &str) -> Result<Preferences, StoreError> {
        let k = key(&user_pk(user_id), PREFS_SK);
        read(
            &self.db,
            ITEMS,
            move |t| Ok(get(t, &k)?.unwrap_or_default()),
        )
        .await
    }

    async fn put_preferences(&self, user_id: &str, prefs: &Preferences) -> Result<(), StoreError> {
        let (user, prefs) = (user_id.to_owned(), prefs.clone());
        let keys = vec![
            key(&user_pk(&user), PREFS_SK),
            key(&directory_pk_of(&user), &user_pk(&user)),
        ];
        self.transact(keys, true, move |t| {
            put(t, &key(&user_pk(&user), PREFS_SK), &prefs)?;
            register_user(t, &user)
        })
        .await
    }
}

#[async_trait]
impl TemplateStore for EmbeddedStore {
    async fn template_overrides(&self) -> Result<Vec<TemplateOverride>, StoreError> {
        read(&self.db, ITEMS, |t| {
            let (start, end) = partition(TEMPLATE_PK);
            Ok(
                scan::<TemplateOverride>(t, &start, &end, false, |_, _| true, usize::MAX)?
                    .into_iter()
                    .map(|(_, o)| o)
                    .collect(),
            )
        })
        .await
    }

    async fn put_template_override(&self, o: &TemplateOverride) -> Result<(), StoreError> {
        let o = o.clone();
        write(&self.db, ITEMS, true, move |t| {
            put(t, &key(TEMPLATE_PK, &template_sk(o.kind, o.channel)), &o)
        })
        .await
    }

    async fn delete_template_override(
        &self,
        kind: EventType,
        channel: Channel,
    ) -> Result<bool, StoreError> {
        write(&self.db, ITEMS, true, move |t| {
            remove(t, &key(TEMPLATE_PK, &template_sk(kind, channel)))
        })
        .await
    }
}

#[async_trait]
impl Deliveries for EmbeddedStore {
    async fn record_delivery(&self, rec: &DeliveryRecord) -> Result<(), StoreError> {
        let rec = rec.clone();
        let at = rec.at;
        let counter = rec
            .counted_as()
            .map(|status| delivery_counter(rec.channel, status));
        // The same fact twice is kept, and counted, once (as on DynamoDB).
        let new = write(&self.db, ITEMS, false, move |t| {
            let k = key(
                &user_pk(&rec.user_id),
                &delivery_sk(&rec.notification_id, rec.channel, &rec.entry_key()),
            );
            if get::<serde_json::Value>(t, &k)?.is_some() {
                // DynamoDB charges a failed conditional put a write unit too.
                super::capacity::touch(&k, 0, true);
                return Ok(false);
            }
            put(t, &k, &rec)?;
            Ok(true)
        })
        .await?;
        if let (Some(counter), true) = (counter, new) {
            self.stats.count(at, &counter, 1);
        }
        Ok(())
    }

    async fn deliveries(
        &self,
        user_id: &str,
        notification_id: &str,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let pk = user_pk(user_id);
        let (lo, hi) = delivery_range(notification_id);
        let (lo, hi) = (key(&pk, &lo), key(&pk, &hi));
        let mut log: Vec<DeliveryRecord> = read(&self.db, ITEMS, move |t| {
            scan(t, &lo, &hi, false, |_, _| true, usize::MAX)
        })
        .await?
        .into_iter()
        .map(|(_, d)| d)
        .collect();
        sort_deliveries(&mut log);
        Ok(log)
    }
}

#[async_trait]
impl PushSubscriptions for EmbeddedStore {
    async fn put_subscription(
        &self,
        user_id: &str,
        subscription: &crate::push::Subscription,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (user, sub) = (user_id.to_owned(), subscription.clone());
        write(&self.db, ITEMS, true, move |t| {
            let pk = user_pk(&user);
            let existing: Vec<crate::push::StoredSubscription> = scan(
                t,
                &key(&pk, PUSH_PREFIX),
                &key(&pk, PUSH_END),
                false,
                |_, _| true,
                usize::MAX,
            )?
            .into_iter()
            .map(|(_, s)| s)
            .collect();
            let (stored, dropped) = subscription_change(&existing, &sub, now);
            // The endpoint's previous owner (the browser's last user) loses it.
            let owner = key(&push_owner_pk(&sub.endpoint), PUSH_OWNER_SK);
            if let Some(previous) = get::<String>(t, &owner)?.filter(|p| *p != user) {
                remove(t, &key(&user_pk(&previous), &push_sk(&sub.endpoint)))?;
            }
            put(t, &owner, &user)?;
            put(t, &key(&pk, &push_sk(&sub.endpoint)), &stored)?;
            for endpoint in dropped {
                remove(t, &key(&pk, &push_sk(&endpoint)))?;
            }
            Ok(())
        })
        .await
    }

    async fn delete_subscription(&self, user_id: &str, endpoint: &str) -> Result<bool, StoreError> {
        let k = key(&user_pk(user_id), &push_sk(endpoint));
        write(&self.db, ITEMS, true, move |t| remove(t, &k)).await
    }

    async fn subscriptions_of(
        &self,
        user_id: &str,
    ) -> Result<Vec<crate::push::StoredSubscription>, StoreError> {
        let pk = user_pk(user_id);
        let (lo, hi) = (key(&pk, PUSH_PREFIX), key(&pk, PUSH_END));
        let mut subs: Vec<crate::push::StoredSubscription> = read(&self.db, ITEMS, move |t| {
            scan(t, &lo, &hi, false, |_, _| true, usize::MAX)
        })
        .await?
        .into_iter()
        .map(|(_, s)| s)
        .collect();
        subs.sort_by_key(|s| s.created_at);
        Ok(subs)
    }
}

#[async_trait]
impl Suppressions for EmbeddedStore {
    async fn suppression(&self, address: &str) -> Result<Option<Suppression>, StoreError> {
        let k = key(&suppression_pk(address), SUPPRESSION_SK);
        read(&self.db, ITEMS, move |t| get(t, &k)).await
    }

    async fn suppress(&self, suppression: &Suppression) -> Result<(), StoreError> {
        let s = suppression.clone();
        write(&self.db, ITEMS, true, move |t| {
            put(t, &key(&suppression_pk(&s.address), SUPPRESSION_SK), &s)
        })
        .await
    }

    async fn lift_suppression(&self, address: &str) -> Result<bool, StoreError> {
        let k = key(&suppression_pk(address), SUPPRESSION_SK);
        write(&self.db, ITEMS, true, move |t| {
            let was = get::<Suppression>(t, &k)?.is_some();
            remove(t, &k)?;
            Ok(was)
        })
        .await
    }
}

#[async_trait]
impl Directory for EmbeddedStore {
    async fn users_in_shard(
        &self,
        shard: u32,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        let after = after.map(str::to_owned);
        read(&self.db, ITEMS, move |t| {
            let pk = directory_pk(shard);
            let (start, end) = partition(&pk);
            let start = match &after {
                Some(u) => format!("{}!", key(&pk, &user_pk(u))),
                None => start,
            };
            let mut page = scan::<String>(t, &start, &end, false, |_, _| true, limit + 1)?;
            let more = page.len() > limit;
            page.truncate(limit);
            let users: Vec<String> = page.into_iter().map(|(_, u)| u).collect();
            let next = if more { users.last().cloned() } else { None };
            Ok((users, next))
        })
        .await
    }

    async fn is_listed(&self, user_id: &str) -> Result<bool, StoreError> {
        let k = key(&directory_pk_of(user_id), &user_pk(user_id));
        read(
            &self.db,
            ITEMS,
            move |t| Ok(get::<String>(t, &k)?.is_some()),
        )
        .await
    }

    async fn list_user(&self, user_id: &str) -> Result<(), StoreError> {
        let user = user_id.to_owned();
        write(&self.db, ITEMS, false, move |t| register_user(t, &user)).await
    }
}

#[async_trait]
impl Statistics for EmbeddedStore {
    async fn stats(&self, hours: &[StatsHour]) -> Result<Vec<Counts>, StoreError> {
        if let Err(e) = self.flush_stats().await {
            tracing::warn!(error = %e, "statistics not written yet; showing what is");
        }
        let hours = hours.to_vec();
        read(&self.db, ITEMS, move |t| {
            hours
                .iter()
                .map(|h| {
                    let mut counts = Counts::default();
                    for shard in 0..STATS_SHARDS {
                        let raw: HashMap<String, i64> =
                            get(t, &stats_key(*h, shard))?.unwrap_or_default();
                        for (name, n) in raw {
                            counts.add(&name, n);
                        }
                    }
                    Ok(counts)
                })
                .collect()
        })
        .await
    }

    fn count(&self, at: DateTime<Utc>, counter: &str) {
        self.stats.count(at, counter, 1);
    }

    async fn flush_stats(&self) -> Result<(), StoreError> {
        let pending = self.stats.take();
        if pending.is_empty() {
            return Ok(());
        }
        let shard = random_stats_shard();
        let keys = pending.iter().map(|(h, _)| stats_key(*h, shard)).collect();
        let retry = pending.clone();
        let res = self
            .transact(keys, false, move |t| {
                for (hour, counts) in &pending {
                    add_counts(t, *hour, shard, counts)?;
                }
                Ok(())
            })
            .await;
        if res.is_err() {
            for (hour, counts) in retry {
                self.stats.restore(hour, counts);
            }
        }
        res
    }
}
