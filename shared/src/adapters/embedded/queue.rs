//! Durable in-process queues with SQS's semantics: visibility timeout,
//! receive counts, delays, and a dead-letter list after `max_receives`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use redb::{Database, TableDefinition};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::kv::{get, partition, put, read, remove, scan, write};
use crate::error::{QueueError, StoreError};
use crate::ports::{OutMessage, Queue};

pub const QUEUE: TableDefinition<&str, &[u8]> = TableDefinition::new("queue");

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedMessage {
    /// A ULID: unique, and sorts by send time.
    pub id: String,
    pub body: String,
    pub sent_at_ms: i64,
    pub visible_at_ms: i64,
    pub receive_count: u32,
    #[serde(default)]
    pub first_receive_ms: Option<i64>,
}

#[derive(Clone)]
pub struct EmbeddedQueue {
    db: Arc<Database>,
    name: Arc<str>,
    dlq: Arc<str>,
    visibility: Duration,
    max_receives: u32,
    wake: Arc<Notify>,
}

fn qkey(queue: &str, id: &str) -> String {
    super::kv::key(queue, id)
}

fn q(e: StoreError) -> QueueError {
    QueueError(e.to_string())
}

impl EmbeddedQueue {
    pub(super) fn new(
        db: Arc<Database>,
        name: &str,
        visibility: Duration,
        max_receives: u32,
    ) -> Self {
        Self {
            db,
            name: name.into(),
            dlq: format!("{name}-dlq").into(),
            visibility,
            max_receives: max_receives.max(1),
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Resolves when a message may have become available.
    pub async fn wait_for_messages(&self, at_most: Duration) {
        let _ = tokio::time::timeout(at_most, self.wake.notified()).await;
    }

    /// Up to `max` visible messages, now invisible for the visibility timeout.
    /// One that has been received `max_receives` times already goes to the
    /// dead-letter list instead, as SQS's redrive policy does.
    pub async fn receive(&self, max: usize) -> Result<Vec<QueuedMessage>, QueueError> {
        let (name, dlq, visibility, max_receives) = (
            self.name.clone(),
            self.dlq.clone(),
            self.visibility,
            self.max_receives,
        );
        write(&self.db, QUEUE, false, move |t| {
            let now = Utc::now().timestamp_millis();
            let (start, end) = partition(&name);
            let mut taken = Vec::new();
            let mut dead = Vec::new();
            for (k, mut m) in scan::<QueuedMessage>(t, &start, &end, false, |_, m: &QueuedMessage| m.visible_at_ms <= now, usize::MAX)? {
                if taken.len() >= max {
                    break;
                }
                if m.receive_count >= max_receives {
                    dead.push((k, m));
                    continue;
                }
                m.receive_count += 1;
                m.first_receive_ms.get_or_insert(now);
                m.visible_at_ms = now + visibility.as_millis() as i64;
                put(t, &k, &m)?;
                taken.push(m);
            }
            for (k, m) in dead {
                remove(t, &k)?;
                tracing::error!(queue = %name, message_id = %m.id, receives = m.receive_count, "message moved to the dead-letter list");
                put(t, &qkey(&dlq, &m.id), &m)?;
            }
            Ok(taken)
        })
        .await
        .map_err(q)
    }

    /// Deletes processed messages (what the event source mapping does for
    /// the records a batch did not report as failed).
    pub async fn delete(&self, ids: Vec<String>) -> Result<(), QueueError> {
        let name = self.name.clone();
        write(&self.db, QUEUE, false, move |t| {
            for id in ids {
                remove(t, &qkey(&name, &id))?;
            }
            Ok(())
        })
        .await
        .map_err(q)
    }

    /// Milliseconds until the next invisible or delayed message shows up.
    pub async fn next_visible_in(&self) -> Result<Option<Duration>, QueueError> {
        let name = self.name.clone();
        read(&self.db, QUEUE, move |t| {
            let now = Utc::now().timestamp_millis();
            let (start, end) = partition(&name);
            let soonest = scan::<QueuedMessage>(t, &start, &end, false, |_, _| true, usize::MAX)?
                .into_iter()
                .map(|(_, m)| m.visible_at_ms)
                .min();
            Ok(soonest.map(|at| Duration::from_millis((at - now).max(0) as u64)))
        })
        .await
        .map_err(q)
    }

    /// Messages waiting or in flight.
    pub async fn depth(&self) -> Result<usize, QueueError> {
        let name = self.name.clone();
        read(&self.db, QUEUE, move |t| {
            let (start, end) = partition(&name);
            Ok(scan::<QueuedMessage>(t, &start, &end, false, |_, _| true, usize::MAX)?.len())
        })
        .await
        .map_err(q)
    }

    pub async fn dead_letters(&self) -> Result<Vec<QueuedMessage>, QueueError> {
        let dlq = self.dlq.clone();
        read(&self.db, QUEUE, move |t| {
            let (start, end) = partition(&dlq);
            Ok(
                scan::<QueuedMessage>(t, &start, &end, false, |_, _| true, usize::MAX)?
                    .into_iter()
                    .map(|(_, m)| m)
                    .collect(),
            )
        })
        .await
        .map_err(q)
    }

    /// Moves every dead letter back onto the queue with a fresh receive count.
    pub async fn redrive(&self) -> Result<usize, QueueError> {
        let (name, dlq) = (self.name.clone(), self.dlq.clone());
        let moved = write(&self.db, QUEUE, true, move |t| {
            let (start, end) = partition(&dlq);
            let all = scan::<QueuedMessage>(t, &start, &end, false, |_, _| true, usize::MAX)?;
            let now = Utc::now().timestamp_millis();
            for (k, mut m) in all.iter().cloned() {
                remove(t, &k)?;
                m.receive_count = 0;
                m.first_receive_ms = None;
                m.visible_at_ms = now;
                put(t, &qkey(&name, &m.id), &m)?;
            }
            Ok(all.len())
        })
        .await
        .map_err(q)?;
        self.wake.notify_one();
        Ok(moved)
    }

    pub async fn get(&self, id: &str) -> Result<Option<QueuedMessage>, QueueError> {
        let k = qkey(&self.name, id);
        read(&self.db, QUEUE, move |t| get(t, &k)).await.map_err(q)
    }
}

#[async_trait]
impl Queue for EmbeddedQueue {
    /// Durable before it returns: an event answered 202 survives a crash.
    async fn send(&self, messages: Vec<OutMessage>) -> Result<(), QueueError> {
        let name = self.name.clone();
        write(&self.db, QUEUE, true, move |t| {
            let now = Utc::now().timestamp_millis();
            for m in messages {
                let id = crate::ids::new_id();
                let msg = QueuedMessage {
                    id: id.clone(),
                    body: m.body,
                    sent_at_ms: now,
                    visible_at_ms: now + i64::from(m.delay_seconds) * 1000,
                    receive_count: 0,
                    first_receive_ms: None,
                };
                put(t, &qkey(&name, &id), &msg)?;
            }
            Ok(())
        })
        .await
        .map_err(q)?;
        // A stored permit: a consumer that is between two polls still wakes.
        self.wake.notify_one();
        Ok(())
    }
}
