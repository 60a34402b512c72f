//! A sorted key-value layer over redb: `PK␟SK` keys and JSON values, the
//! same item layout as the DynamoDB table.

use std::sync::Arc;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StoreError;

pub const ITEMS: TableDefinition<&str, &[u8]> = TableDefinition::new("items");
/// Separates the partition and sort key; sorts below every printable character.
pub const SEP: char = '\u{1f}';

pub fn key(pk: &str, sk: &str) -> String {
    format!("{pk}{SEP}{sk}")
}

/// Every key of partition `pk` lies in `[start, end)`.
pub fn partition(pk: &str) -> (String, String) {
    (
        format!("{pk}{SEP}"),
        format!("{pk}{}", (SEP as u8 + 1) as char),
    )
}

pub fn err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Backend(format!("embedded store: {}", e.into()))
}

pub fn init(db: &Database) -> Result<(), StoreError> {
    let tx = db.begin_write().map_err(err)?;
    tx.open_table(ITEMS).map_err(err)?;
    tx.open_table(super::queue::QUEUE).map_err(err)?;
    tx.commit().map_err(err)
}

pub fn get<T: DeserializeOwned>(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    k: &str,
) -> Result<Option<T>, StoreError> {
    match t.get(k).map_err(err)? {
        Some(v) => {
            super::capacity::touch(k, v.value().len(), false);
            serde_json::from_slice(v.value())
                .map(Some)
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        }
        None => {
            // DynamoDB charges a read that finds nothing too.
            super::capacity::touch(k, 0, false);
            Ok(None)
        }
    }
}

pub fn put<T: Serialize>(
    t: &mut redb::Table<&'static str, &'static [u8]>,
    k: &str,
    v: &T,
) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(v).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    super::capacity::touch(k, bytes.len(), true);
    t.insert(k, bytes.as_slice()).map_err(err)?;
    Ok(())
}

pub fn remove(
    t: &mut redb::Table<&'static str, &'static [u8]>,
    k: &str,
) -> Result<bool, StoreError> {
    super::capacity::touch(k, 0, true);
    Ok(t.remove(k).map_err(err)?.is_some())
}

/// Adds `by` to a counter item and returns the new value.
pub fn add(
    t: &mut redb::Table<&'static str, &'static [u8]>,
    k: &str,
    by: i64,
) -> Result<i64, StoreError> {
    let n = get::<i64>(t, k)?.unwrap_or(0) + by;
    put(t, k, &n)?;
    Ok(n)
}

/// Values of the keys in `[start, end)`, in key order (reversed if asked).
pub fn scan<T: DeserializeOwned>(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    start: &str,
    end: &str,
    reverse: bool,
    mut keep: impl FnMut(&str, &T) -> bool,
    limit: usize,
) -> Result<Vec<(String, T)>, StoreError> {
    let range = t.range(start..end).map_err(err)?;
    let mut out = Vec::new();
    let mut visit = |entry: Result<
        (
            redb::AccessGuard<&'static str>,
            redb::AccessGuard<&'static [u8]>,
        ),
        redb::StorageError,
    >|
     -> Result<bool, StoreError> {
        let (k, v) = entry.map_err(err)?;
        super::capacity::touch(k.value(), v.value().len(), false);
        let value: T =
            serde_json::from_slice(v.value()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if keep(k.value(), &value) {
            out.push((k.value().to_owned(), value));
        }
        Ok(out.len() < limit)
    };
    if reverse {
        for entry in range.rev() {
            if !visit(entry)? {
                break;
            }
        }
    } else {
        for entry in range {
            if !visit(entry)? {
                break;
            }
        }
    }
    Ok(out)
}

/// Runs `f` in one write transaction off the async threads. `durable`
/// commits wait for the disk; the others are made durable by the next
/// durable commit (a crash loses only a suffix of them, which queue
/// redelivery replays).
pub type Def = TableDefinition<'static, &'static str, &'static [u8]>;

pub async fn write<T: Send + 'static>(
    db: &Arc<super::Db>,
    def: Def,
    durable: bool,
    f: impl Fn(&mut redb::Table<&'static str, &'static [u8]>) -> Result<T, StoreError>
    + Send
    + Sync
    + 'static,
) -> Result<T, StoreError> {
    write_metered(db, def, durable, def.name() == ITEMS.name(), f).await
}

/// [`write`] that DynamoDB would not bill: the TTL sweeper's deletes.
pub async fn write_unmetered<T: Send + 'static>(
    db: &Arc<super::Db>,
    def: Def,
    durable: bool,
    f: impl Fn(&mut redb::Table<&'static str, &'static [u8]>) -> Result<T, StoreError>
    + Send
    + Sync
    + 'static,
) -> Result<T, StoreError> {
    write_metered(db, def, durable, false, f).await
}

async fn write_metered<T: Send + 'static>(
    db: &Arc<super::Db>,
    def: Def,
    durable: bool,
    metered: bool,
    f: impl Fn(&mut redb::Table<&'static str, &'static [u8]>) -> Result<T, StoreError>
    + Send
    + Sync
    + 'static,
) -> Result<T, StoreError> {
    let db = db.clone();
    // Writes wait for the single writer (which may be fsyncing a durable
    // commit): off the async threads.
    retried(Where::OffThread, move || {
        let mut tx = db.begin_write().map_err(err)?;
        if !durable {
            tx.set_durability(Durability::None)
                .map_err(|e| StoreError::Backend(e.to_string()))?;
        }
        let cap = db.capacity.get().filter(|_| metered);
        let (out, touched) = super::capacity::metering(cap.is_some(), || {
            tx.open_table(def).map_err(err).and_then(|mut t| f(&mut t))
        });
        let out = out?;
        if let Some(cap) = cap {
            // Refused: the transaction is dropped, nothing applied.
            cap.charge_write(&super::capacity::writes(&touched))?;
        }
        tx.commit().map_err(err)?;
        Ok(out)
    })
    .await
}

pub async fn read<T: Send + 'static>(
    db: &Arc<super::Db>,
    def: Def,
    f: impl Fn(&redb::ReadOnlyTable<&'static str, &'static [u8]>) -> Result<T, StoreError>
    + Send
    + Sync
    + 'static,
) -> Result<T, StoreError> {
    let db = db.clone();
    let metered = def.name() == ITEMS.name();
    // Reads run on the calling thread: a read transaction never waits for
    // a writer (redb is MVCC) and takes microseconds, less than handing it
    // to a blocking thread and waking the task again.
    retried(Where::Inline, move || {
        let tx = db.begin_read().map_err(err)?;
        let table = tx.open_table(def).map_err(err)?;
        let cap = db.capacity.get().filter(|_| metered);
        let (out, touched) = super::capacity::metering(cap.is_some(), || f(&table));
        let out = out?;
        if let Some(cap) = cap {
            cap.charge_read(&super::capacity::reads(&touched))?;
        }
        Ok(out)
    })
    .await
}

enum Where {
    Inline,
    OffThread,
}

/// Runs `job` (inline or off the async threads); a throttled run is tried
/// again with the same policy as on AWS (the SDK's and the DynamoDB
/// adapter's): jittered backoff, a few times.
async fn retried<T: Send + 'static>(
    place: Where,
    job: impl Fn() -> Result<T, StoreError> + Send + Sync + 'static,
) -> Result<T, StoreError> {
    let job = Arc::new(job);
    let mut attempt = 0;
    loop {
        let res = match place {
            Where::Inline => job(),
            Where::OffThread => {
                let run = job.clone();
                tokio::task::spawn_blocking(move || run())
                    .await
                    .map_err(|e| StoreError::Backend(format!("embedded store task: {e}")))?
            }
        };
        match res {
            Err(StoreError::Throttled(_)) if attempt < crate::adapters::conflicts::RETRIES => {
                attempt += 1;
                tokio::time::sleep(crate::adapters::conflicts::backoff(attempt)).await;
            }
            other => return other,
        }
    }
}
