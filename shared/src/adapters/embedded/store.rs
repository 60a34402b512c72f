//! The store port on the embedded database: the same items as DynamoDB,
//! each use case's writes in one transaction.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::Database;

use super::kv::{ITEMS, add, get, key, partition, put, remove, scan};
use crate::adapters::keys::*;
use crate::error::StoreError;
use crate::event::EventType;
use crate::model::{Channel, Connection, DeliveryRecord, EventClaim, MarkRead, Notification, Page};
use crate::ports::{NewNotification, Recorded, Store, USER_SHARDS};
use crate::preferences::Preferences;
use crate::template::TemplateOverride;

use super::kv::{read, write};

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
}

impl EmbeddedStore {
    pub(super) fn new(db: Arc<Database>) -> Self {
        Self { db }
    }
}

type Table<'a> = redb::Table<'a, &'static str, &'static [u8]>;

fn unread_key(user: &str) -> String {
    key(&user_pk(user), "UNREAD")
}

fn stats_key(at: DateTime<Utc>) -> String {
    key(&stats_pk(at), "COUNTS")
}

/// Counters of one hour live in one item, as in DynamoDB.
fn bump(t: &mut Table, at: DateTime<Utc>, counter: &str) -> Result<(), StoreError> {
    let k = stats_key(at);
    let mut counts: HashMap<String, i64> = get(t, &k)?.unwrap_or_default();
    *counts.entry(counter.to_owned()).or_default() += 1;
    put(t, &k, &counts)
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
impl Store for EmbeddedStore {
    async fn put_connection(&self, conn: &Connection) -> Result<(), StoreError> {
        let conn = conn.clone();
        write(&self.db, ITEMS, false, move |t| {
            put(
                t,
                &key(&user_pk(&conn.user_id), &conn_sk(&conn.connection_id)),
                &conn,
            )?;
            put(
                t,
                &key(&owner_pk(&conn.connection_id), "META"),
                &conn.user_id,
            )?;
            register_user(t, &conn.user_id)
        })
        .await
    }

    async fn remove_connection(&self, connection_id: &str) -> Result<Option<String>, StoreError> {
        let id = connection_id.to_owned();
        write(&self.db, ITEMS, false, move |t| {
            let owner: Option<String> = get(t, &key(&owner_pk(&id), "META"))?;
            if let Some(user) = &owner {
                remove(t, &key(&user_pk(user), &conn_sk(&id)))?;
                remove(t, &key(&owner_pk(&id), "META"))?;
            }
            Ok(owner)
        })
        .await
    }

    async fn connection_owner(&self, connection_id: &str) -> Result<Option<String>, StoreError> {
        let k = key(&owner_pk(connection_id), "META");
        read(&self.db, ITEMS, move |t| get(t, &k)).await
    }

    async fn connections_of(&self, user_id: &str) -> Result<Vec<Connection>, StoreError> {
        let pk = user_pk(user_id);
        read(&self.db, ITEMS, move |t| {
            let (start, end) = (key(&pk, "CONN#"), key(&pk, "CONN$"));
            Ok(
                scan::<Connection>(t, &start, &end, false, |_, _| true, usize::MAX)?
                    .into_iter()
                    .map(|(_, c)| c)
                    .collect(),
            )
        })
        .await
    }

    async fn record_notification(&self, new: &NewNotification) -> Result<Recorded, StoreError> {
        let new = new.clone();
        write(&self.db, ITEMS, false, move |t| {
            let claim_key = key(&claim_pk(&new.claim.event_id), "EVENT");
            if let Some(existing) = get::<EventClaim>(t, &claim_key)? {
                return Ok(Recorded::Duplicate(existing));
            }
            put(t, &claim_key, &new.claim)?;
            register_user(t, &new.claim.user_id)?;
            if let Some(n) = &new.notification {
                put(t, &key(&user_pk(&new.claim.user_id), &notif_sk(&n.id)), n)?;
                if !n.read {
                    add(t, &unread_key(&new.claim.user_id), 1)?;
                }
                bump(t, new.claim.created_at, &created_counter(new.kind))?;
            }
            Ok(Recorded::Stored)
        })
        .await
    }

    async fn take_over_claim(
        &self,
        claim: &EventClaim,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let claim = claim.clone();
        write(&self.db, ITEMS, false, move |t| {
            let k = key(&claim_pk(&claim.event_id), "EVENT");
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
        let k = key(&claim_pk(event_id), "EVENT");
        write(&self.db, ITEMS, false, move |t| {
            if let Some(mut c) = get::<EventClaim>(t, &k)? {
                c.dispatched = true;
                put(t, &k, &c)?;
            }
            Ok(())
        })
        .await
    }

    async fn get_notification(
        &self,
        user_id: &str,
        id: &str,
    ) -> Result<Option<Notification>, StoreError> {
        let k = key(&user_pk(user_id), &notif_sk(id));
        read(&self.db, ITEMS, move |t| get(t, &k)).await
    }

    async fn notifications_after(
        &self,
        user_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let pk = user_pk(user_id);
        let start = key(&pk, &notif_after(after));
        read(&self.db, ITEMS, move |t| {
            let items: Vec<Notification> = scan(
                t,
                &start,
                &key(&pk, NOTIF_END),
                false,
                |_, _| true,
                limit + 1,
            )?
            .into_iter()
            .map(|(_, n)| n)
            .collect();
            Ok(Page::from_overfetch(items, limit))
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
        write(&self.db, ITEMS, true, move |t| {
            let Some(mut n) = get::<Notification>(t, &k)? else {
                return Ok(MarkRead::NotFound);
            };
            if n.read {
                return Ok(MarkRead::AlreadyRead {
                    unread: unread(t, &user)?,
                });
            }
            n.read = true;
            n.read_at = Some(at);
            put(t, &k, &n)?;
            add(t, &unread_key(&user), -1)?;
            Ok(MarkRead::Marked {
                unread: unread(t, &user)?,
            })
        })
        .await
    }

    async fn unread_count(&self, user_id: &str) -> Result<u64, StoreError> {
        let user = user_id.to_owned();
        read(&self.db, ITEMS, move |t| unread(t, &user)).await
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
        read(&self.db, ITEMS, move |t| {
            let items: Vec<Notification> = scan(
                t,
                &key(&pk, NOTIF_PREFIX),
                &end,
                true,
                |_, n: &Notification| !unread_only || !n.read,
                limit + 1,
            )?
            .into_iter()
            .map(|(_, n)| n)
            .collect();
            Ok(Page::from_overfetch(items, limit))
        })
        .await
    }

    async fn delete_notification(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        let (user, id) = (user_id.to_owned(), id.to_owned());
        write(&self.db, ITEMS, true, move |t| {
            let pk = user_pk(&user);
            let Some(n) = get::<Notification>(t, &key(&pk, &notif_sk(&id)))? else {
                return Ok(false);
            };
            remove(t, &key(&pk, &notif_sk(&id)))?;
            for ch in Channel::ALL {
                remove(t, &key(&pk, &delivery_sk(&id, ch)))?;
            }
            if !n.read {
                add(t, &unread_key(&user), -1)?;
            }
            Ok(true)
        })
        .await
    }

    async fn users_page(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        let (mut shard, mut last) = parse_user_cursor(after)
            .ok_or_else(|| StoreError::Backend("bad user cursor".into()))?;
        read(&self.db, ITEMS, move |t| {
            let mut users = Vec::new();
            while shard < USER_SHARDS {
                let pk = directory_pk(shard);
                let (start, end) = partition(&pk);
                let start = match &last {
                    Some(u) => format!("{}!", key(&pk, &user_pk(u))),
                    None => start,
                };
                let page =
                    scan::<String>(t, &start, &end, false, |_, _| true, limit - users.len() + 1)?;
                let more_here = page.len() > limit - users.len();
                users.extend(page.into_iter().take(limit - users.len()).map(|(_, u)| u));
                if users.len() >= limit {
                    let next = if more_here {
                        users.last().map(|u| format!("{shard}:{u}"))
                    } else if shard + 1 < USER_SHARDS {
                        Some(format!("{}:", shard + 1))
                    } else {
                        None
                    };
                    return Ok((users, next));
                }
                shard += 1;
                last = None;
            }
            Ok((users, None))
        })
        .await
    }

    async fn stats(&self, hours: &[String]) -> Result<Vec<HashMap<String, i64>>, StoreError> {
        let keys: Vec<String> = hours
            .iter()
            .map(|h| key(&stats_pk_of_hour(h), "COUNTS"))
            .collect();
        read(&self.db, ITEMS, move |t| {
            keys.iter()
                .map(|k| Ok(get(t, k)?.unwrap_or_default()))
                .collect()
        })
        .await
    }

    async fn preferences(&self, user_id: &str) -> Result<Preferences, StoreError> {
        let k = key(&user_pk(user_id), "PREFS");
        read(
            &self.db,
            ITEMS,
            move |t| Ok(get(t, &k)?.unwrap_or_default()),
        )
        .await
    }

    async fn put_preferences(&self, user_id: &str, prefs: &Preferences) -> Result<(), StoreError> {
        let (user, prefs) = (user_id.to_owned(), prefs.clone());
        write(&self.db, ITEMS, true, move |t| {
            put(t, &key(&user_pk(&user), "PREFS"), &prefs)?;
            register_user(t, &user)
        })
        .await
    }

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

    async fn record_delivery(&self, rec: &DeliveryRecord) -> Result<(), StoreError> {
        let rec = rec.clone();
        write(&self.db, ITEMS, false, move |t| {
            put(
                t,
                &key(
                    &user_pk(&rec.user_id),
                    &delivery_sk(&rec.notification_id, rec.channel),
                ),
                &rec,
            )?;
            bump(
                t,
                rec.at,
                &delivery_counter(rec.channel, rec.status.as_str()),
            )
        })
        .await
    }

    async fn delivery(
        &self,
        user_id: &str,
        notification_id: &str,
        channel: Channel,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let k = key(&user_pk(user_id), &delivery_sk(notification_id, channel));
        read(&self.db, ITEMS, move |t| get(t, &k)).await
    }
}
