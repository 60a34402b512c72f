//! Embedded adapters: the store, durable queues and an email outbox in one
//! redb file, so the local stack needs no outside service and a restart (or
//! a crash) loses nothing that was acknowledged. See docs/architecture.md.

pub mod capacity;
mod kv;
mod outbox;
mod queue;
mod store;

use std::path::Path;
use std::sync::Arc;

pub use outbox::{OutboxMailer, SentEmail};
pub use queue::{EmbeddedDeadLetters, EmbeddedQueue, QueuedMessage};
pub use store::EmbeddedStore;

use crate::error::StoreError;

/// The redb database, and a signal sent as it closes: the sender drops
/// just after the database (fields drop in order).
pub struct Db {
    db: redb::Database,
    /// DynamoDB's capacity limits, when the local stack emulates them.
    capacity: std::sync::OnceLock<Arc<capacity::Capacity>>,
    _on_close: tokio::sync::oneshot::Sender<()>,
}

impl std::ops::Deref for Db {
    type Target = redb::Database;

    fn deref(&self) -> &redb::Database {
        &self.db
    }
}

/// One database file for everything embedded.
#[derive(Clone)]
pub struct Embedded {
    db: Arc<Db>,
    /// Fires once the database has closed (see [`Embedded::close`]).
    closed: Arc<std::sync::Mutex<Option<tokio::sync::oneshot::Receiver<()>>>>,
    /// Items of the store's transactions in flight, shared by every handle.
    locks: Arc<store::ItemLocks>,
    /// Statistics counted and not yet written, shared by every handle.
    stats: Arc<crate::adapters::stats_buffer::StatsBuffer>,
}

impl Embedded {
    /// Opens (or creates) `dir/notify.redb`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(dir, 64 << 20)
    }

    /// redb's default page cache is 1 GiB; the local stack does not need it.
    pub fn open_with_cache(dir: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Backend(format!("create {}: {e}", dir.display())))?;
        let path = dir.join("notify.redb");
        let db = redb::Database::builder()
            .set_cache_size(cache_bytes)
            .create(&path)
            .map_err(|e| StoreError::Backend(format!("open {}: {e}", path.display())))?;
        let (on_close, closed) = tokio::sync::oneshot::channel();
        let e = Self {
            db: Arc::new(Db {
                db,
                capacity: Default::default(),
                _on_close: on_close,
            }),
            closed: Arc::new(std::sync::Mutex::new(Some(closed))),
            locks: Arc::default(),
            stats: Arc::default(),
        };
        kv::init(&e.db)?;
        Ok(e)
    }

    /// Drops this handle and waits, at most `within`, until every other
    /// one is gone too and the database is closed (its file can be opened
    /// again). Woken by the close itself, not by polling. False on timeout.
    pub async fn close(self, within: std::time::Duration) -> bool {
        let closed = self.closed.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(self);
        match closed {
            Some(rx) => tokio::time::timeout(within, rx).await.is_ok(),
            None => true,
        }
    }

    /// Enforces DynamoDB's capacity limits on the store from now on
    /// (once; later calls keep the first). Returns the meter.
    pub fn enforce_capacity(&self, capacity: capacity::Capacity) -> Arc<capacity::Capacity> {
        self.db.capacity.get_or_init(|| Arc::new(capacity)).clone()
    }

    pub fn store(&self) -> EmbeddedStore {
        EmbeddedStore::new(self.db.clone(), self.locks.clone(), self.stats.clone())
    }

    /// A durable queue; `max_receives` deliveries before it dead-letters a
    /// message. Fails if the messages kept on disk cannot be loaded.
    pub fn queue(
        &self,
        name: &str,
        visibility: std::time::Duration,
        max_receives: u32,
    ) -> Result<EmbeddedQueue, StoreError> {
        EmbeddedQueue::new(self.db.clone(), name, visibility, max_receives)
    }

    /// Emails land in the database and as `.eml` files in `dir`.
    pub fn outbox(&self, from: &str, dir: &Path) -> OutboxMailer {
        OutboxMailer::new(self.db.clone(), from, dir)
    }
}
