//! Durable in-process queues with SQS's semantics: visibility timeout,
//! receive counts, delays, and a dead-letter list after `max_receives`.
//!
//! Messages live in the database (so an acknowledged send survives a crash)
//! and, for speed, in an in-memory index that receives and visibility work
//! on. Sends are group-committed: every send waiting while a commit runs
//! goes into the next one, so many concurrent sends share one disk flush.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use redb::{Durability, ReadableDatabase, TableDefinition};

use super::Db as Database;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, oneshot};

use super::kv::{err, partition, put, read, remove, scan, write};
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

type Pending = Arc<Mutex<BTreeMap<String, QueuedMessage>>>;
type SendRequest = (Vec<QueuedMessage>, oneshot::Sender<Result<(), String>>);

#[derive(Clone)]
pub struct EmbeddedQueue {
    db: Arc<Database>,
    name: Arc<str>,
    dlq: Arc<str>,
    visibility: Duration,
    max_receives: u32,
    wake: Arc<Notify>,
    pending: Pending,
    sends: mpsc::Sender<SendRequest>,
}

fn qkey(queue: &str, id: &str) -> String {
    super::kv::key(queue, id)
}

fn q(e: StoreError) -> QueueError {
    QueueError(e.to_string())
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Writes every send that is waiting in one durable transaction, then
/// publishes the messages and answers their senders. Holds the database
/// only while it commits, so that dropping the last handle closes it.
fn committer(
    db: std::sync::Weak<Database>,
    name: Arc<str>,
    pending: Pending,
    wake: Arc<Notify>,
    rx: mpsc::Receiver<SendRequest>,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
            if batch.len() >= 512 {
                break;
            }
        }
        let result = (|| -> Result<(), StoreError> {
            let db = db
                .upgrade()
                .ok_or_else(|| StoreError::Backend("the database is closed".into()))?;
            let mut tx = db.begin_write().map_err(err)?;
            tx.set_durability(Durability::Immediate)
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            {
                let mut t = tx.open_table(QUEUE).map_err(err)?;
                for (msgs, _) in &batch {
                    for m in msgs {
                        put(&mut t, &qkey(&name, &m.id), m)?;
                    }
                }
            }
            tx.commit().map_err(err)
        })();
        if result.is_ok() {
            let mut p = pending.lock().expect("queue index");
            for (msgs, _) in &batch {
                for m in msgs {
                    p.insert(m.id.clone(), m.clone());
                }
            }
        }
        for (_, reply) in batch {
            let _ = reply.send(result.as_ref().map(|_| ()).map_err(|e| e.to_string()));
        }
        // A stored permit: a consumer between two polls still wakes.
        wake.notify_one();
    }
}

impl EmbeddedQueue {
    /// Fails if the messages kept on disk cannot be loaded: starting empty
    /// would silently drop them.
    pub(super) fn new(
        db: Arc<Database>,
        name: &str,
        visibility: Duration,
        max_receives: u32,
    ) -> Result<Self, StoreError> {
        let name: Arc<str> = name.into();
        // Everything not yet deleted is pending again after a restart:
        // in-flight work that a crash interrupted is simply redelivered.
        let loaded: BTreeMap<String, QueuedMessage> = (|| -> Result<_, StoreError> {
            let tx = db.begin_read().map_err(err)?;
            let t = tx.open_table(QUEUE).map_err(err)?;
            let (start, end) = partition(&name);
            Ok(
                scan::<QueuedMessage>(&t, &start, &end, false, |_, _| true, usize::MAX)?
                    .into_iter()
                    .map(|(_, mut m)| {
                        m.visible_at_ms = m.visible_at_ms.min(now_ms());
                        (m.id.clone(), m)
                    })
                    .collect(),
            )
        })()
        .map_err(|e| StoreError::Backend(format!("loading queue `{name}`: {e}")))?;
        let pending: Pending = Arc::new(Mutex::new(loaded));
        let wake = Arc::new(Notify::new());
        let (sends, rx) = mpsc::channel();
        let (d, n, p, w) = (
            Arc::downgrade(&db),
            name.clone(),
            pending.clone(),
            wake.clone(),
        );
        std::thread::Builder::new()
            .name(format!("queue-{name}"))
            .spawn(move || committer(d, n, p, w, rx))
            .expect("spawn the queue committer");
        Ok(Self {
            db,
            dlq: format!("{name}-dlq").into(),
            name,
            visibility,
            max_receives: max_receives.max(1),
            wake,
            pending,
            sends,
        })
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
        let now = now_ms();
        let (taken, dead) = {
            let mut p = self.pending.lock().expect("queue index");
            let mut taken = Vec::new();
            let mut dead = Vec::new();
            for m in p.values_mut().filter(|m| m.visible_at_ms <= now) {
                if taken.len() >= max {
                    break;
                }
                if m.receive_count >= self.max_receives {
                    dead.push(m.clone());
                    continue;
                }
                m.receive_count += 1;
                m.first_receive_ms.get_or_insert(now);
                m.visible_at_ms = now + self.visibility.as_millis() as i64;
                taken.push(m.clone());
            }
            for m in &dead {
                p.remove(&m.id);
            }
            (taken, dead)
        };
        if !dead.is_empty() {
            let (name, dlq) = (self.name.clone(), self.dlq.clone());
            write(&self.db, QUEUE, true, move |t| {
                for m in &dead {
                    remove(t, &qkey(&name, &m.id))?;
                    tracing::error!(queue = %name, message_id = %m.id, receives = m.receive_count, "message moved to the dead-letter list");
                    put(t, &qkey(&dlq, &m.id), m)?;
                }
                Ok(())
            })
            .await
            .map_err(q)?;
        }
        Ok(taken)
    }

    /// Deletes processed messages (what the event source mapping does for
    /// the records a batch did not report as failed).
    pub async fn delete(&self, ids: Vec<String>) -> Result<(), QueueError> {
        if ids.is_empty() {
            return Ok(());
        }
        {
            let mut p = self.pending.lock().expect("queue index");
            for id in &ids {
                p.remove(id);
            }
        }
        let name = self.name.clone();
        // Not waiting for the disk: a delete lost in a crash only means a
        // redelivery, which idempotency absorbs.
        write(&self.db, QUEUE, false, move |t| {
            for id in &ids {
                remove(t, &qkey(&name, id))?;
            }
            Ok(())
        })
        .await
        .map_err(q)
    }

    /// Time until the next invisible or delayed message shows up.
    pub async fn next_visible_in(&self) -> Result<Option<Duration>, QueueError> {
        let now = now_ms();
        let soonest = self
            .pending
            .lock()
            .expect("queue index")
            .values()
            .map(|m| m.visible_at_ms)
            .min();
        Ok(soonest.map(|at| Duration::from_millis((at - now).max(0) as u64)))
    }

    /// Messages waiting or in flight.
    pub async fn depth(&self) -> Result<usize, QueueError> {
        Ok(self.pending.lock().expect("queue index").len())
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
            let now = now_ms();
            let mut back = Vec::new();
            for (k, mut m) in all {
                remove(t, &k)?;
                m.receive_count = 0;
                m.first_receive_ms = None;
                m.visible_at_ms = now;
                put(t, &qkey(&name, &m.id), &m)?;
                back.push(m);
            }
            Ok(back)
        })
        .await
        .map_err(q)?;
        let n = moved.len();
        let mut p = self.pending.lock().expect("queue index");
        for m in moved {
            p.insert(m.id.clone(), m);
        }
        drop(p);
        self.wake.notify_one();
        Ok(n)
    }
}

#[async_trait]
impl Queue for EmbeddedQueue {
    /// The receipt handle is the message id (see the local consumer).
    async fn retry_after(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        let mut p = self.pending.lock().expect("queue index");
        let m = p.get_mut(receipt_handle).ok_or_else(|| {
            QueueError(format!("no message in flight with handle {receipt_handle}"))
        })?;
        m.visible_at_ms = now_ms() + delay.as_millis() as i64;
        drop(p);
        self.wake.notify_one();
        Ok(())
    }

    /// Durable before it returns: an event answered 202 survives a crash.
    async fn send(&self, messages: Vec<OutMessage>) -> Result<(), QueueError> {
        if messages.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let msgs = messages
            .into_iter()
            .map(|m| QueuedMessage {
                id: crate::ids::new_id(),
                body: m.body,
                sent_at_ms: now,
                visible_at_ms: now + i64::from(m.delay_seconds) * 1000,
                receive_count: 0,
                first_receive_ms: None,
            })
            .collect();
        let (tx, rx) = oneshot::channel();
        self.sends
            .send((msgs, tx))
            .map_err(|_| QueueError("the queue is shut down".into()))?;
        rx.await
            .map_err(|_| QueueError("the queue committer stopped".into()))?
            .map_err(QueueError)
    }
}

/// The local stack's dead-letter lists, behind the same port as SQS's.
pub struct EmbeddedDeadLetters {
    pub events: EmbeddedQueue,
    pub broadcast: EmbeddedQueue,
    pub deliveries: EmbeddedQueue,
    pub feedback: EmbeddedQueue,
    pub webhooks: EmbeddedQueue,
}

impl EmbeddedDeadLetters {
    fn queue(&self, queue: crate::ports::QueueName) -> &EmbeddedQueue {
        use crate::ports::QueueName;
        match queue {
            QueueName::Events => &self.events,
            QueueName::Broadcast => &self.broadcast,
            QueueName::Deliveries => &self.deliveries,
            QueueName::Feedback => &self.feedback,
            QueueName::Webhooks => &self.webhooks,
        }
    }
}

#[async_trait]
impl crate::ports::DeadLetters for EmbeddedDeadLetters {
    async fn peek(
        &self,
        queue: crate::ports::QueueName,
        limit: usize,
    ) -> Result<(usize, Vec<crate::ports::DeadLetter>), QueueError> {
        let q = self.queue(queue);
        let all = q.dead_letters().await?;
        let letters = all
            .iter()
            .take(limit)
            .map(|m| crate::ports::DeadLetter {
                id: m.id.clone(),
                body: m.body.clone(),
                receive_count: m.receive_count,
                sent_at: chrono::DateTime::from_timestamp_millis(m.sent_at_ms),
            })
            .collect();
        Ok((all.len(), letters))
    }

    async fn redrive(
        &self,
        queue: crate::ports::QueueName,
    ) -> Result<crate::ports::Redrive, QueueError> {
        let q = self.queue(queue);
        Ok(crate::ports::Redrive {
            moved: Some(q.redrive().await?),
            task: None,
        })
    }
}
