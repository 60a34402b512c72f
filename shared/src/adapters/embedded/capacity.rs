//! DynamoDB's capacity limits, emulated on the embedded store (the local
//! stack's `--aws-quotas`): write and read units per partition key and per
//! table, metered from the bytes each operation touches. A request over a
//! limit is refused with the error the DynamoDB adapter maps AWS's
//! throttling to (`StoreError::Throttled`), nothing of it applied, and the
//! same retry policy as on AWS runs.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::error::StoreError;
use crate::quotas::{TokenBucket, aws};

/// 1 KB per write unit, 4 KB per read unit.
const WRITE_UNIT: usize = 1024;
const READ_UNIT: usize = 4096;

thread_local! {
    /// What the operation running on this thread touched: (key, bytes, written).
    static TOUCHED: RefCell<Option<Vec<Touched>>> = const { RefCell::new(None) };
}

pub(super) type Touched = (String, usize, bool);

/// Runs `f`, recording what it touches when `on` (nothing is recorded,
/// nor allocated, when the limits are not emulated).
pub(super) fn metering<T>(on: bool, f: impl FnOnce() -> T) -> (T, Vec<Touched>) {
    if !on {
        return (f(), Vec::new());
    }
    TOUCHED.with(|t| *t.borrow_mut() = Some(Vec::new()));
    let out = f();
    let touched = TOUCHED.with(|t| t.borrow_mut().take().unwrap_or_default());
    (out, touched)
}

/// Records an item read or written by the running operation.
pub(super) fn touch(key: &str, value_bytes: usize, written: bool) {
    TOUCHED.with(|t| {
        if let Some(v) = t.borrow_mut().as_mut() {
            v.push((key.to_owned(), key.len() + value_bytes, written));
        }
    });
}

/// The items written (the last size of each), not those only read for conditions.
pub(super) fn writes(touched: &[Touched]) -> Vec<(String, usize)> {
    let mut last: std::collections::BTreeMap<&str, usize> = Default::default();
    for (k, b, w) in touched {
        if *w {
            last.insert(k, *b);
        }
    }
    last.into_iter().map(|(k, b)| (k.to_owned(), b)).collect()
}

pub(super) fn reads(touched: &[Touched]) -> Vec<(String, usize)> {
    touched
        .iter()
        .filter(|t| !t.2)
        .map(|(k, b, _)| (k.clone(), *b))
        .collect()
}

fn partition_of(key: &str) -> &str {
    key.split_once(super::kv::SEP).map_or(key, |(pk, _)| pk)
}

/// Throttles met so far, per limit.
#[derive(Debug, Default, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Throttles {
    pub partition_writes: u64,
    pub partition_reads: u64,
    pub table_writes: u64,
    pub table_reads: u64,
}

struct Buckets {
    table_write: TokenBucket,
    table_read: TokenBucket,
    partitions: HashMap<String, (TokenBucket, TokenBucket)>,
}

/// The limits of one table, scaled.
pub struct Capacity {
    scale: f64,
    buckets: Mutex<Buckets>,
    counts: [AtomicU64; 4],
    write_units: AtomicU64,
    read_units: AtomicU64,
}

impl Capacity {
    /// AWS's limits times `scale`; the table's at its warm throughput
    /// (`table_wru`, `table_rru` per second, before scaling).
    pub fn new(scale: f64, table_wru: f64, table_rru: f64) -> Self {
        Self {
            scale,
            buckets: Mutex::new(Buckets {
                table_write: TokenBucket::new(table_wru * scale, table_wru * scale),
                table_read: TokenBucket::new(table_rru * scale, table_rru * scale),
                partitions: HashMap::new(),
            }),
            counts: Default::default(),
            write_units: AtomicU64::new(0),
            read_units: AtomicU64::new(0),
        }
    }

    /// A new on-demand table at AWS's defaults, scaled.
    pub fn on_demand(scale: f64) -> Self {
        Self::new(scale, aws::TABLE_WRU, aws::TABLE_RRU)
    }

    pub fn throttles(&self) -> Throttles {
        let c = |i: usize| self.counts[i].load(Ordering::Relaxed);
        Throttles {
            partition_writes: c(0),
            partition_reads: c(1),
            table_writes: c(2),
            table_reads: c(3),
        }
    }

    /// Write and read units consumed so far.
    pub fn consumed(&self) -> (u64, u64) {
        (
            self.write_units.load(Ordering::Relaxed),
            self.read_units.load(Ordering::Relaxed),
        )
    }

    /// Charges a write of `touched` items: each item 1 unit per started KB,
    /// doubled when several items are written at once (a transaction).
    pub(super) fn charge_write(&self, touched: &[(String, usize)]) -> Result<(), StoreError> {
        let factor = if touched.len() > 1 { 2 } else { 1 };
        let per_item = touched.iter().map(|(k, bytes)| {
            (
                partition_of(k),
                (bytes.div_ceil(WRITE_UNIT).max(1) * factor) as f64,
            )
        });
        self.charge(per_item, true)
    }

    /// Charges a read: per partition, 1 unit per started 4 KB read.
    pub(super) fn charge_read(&self, touched: &[(String, usize)]) -> Result<(), StoreError> {
        let mut bytes: HashMap<&str, usize> = HashMap::new();
        for (k, b) in touched {
            *bytes.entry(partition_of(k)).or_default() += b;
        }
        self.charge(
            bytes
                .into_iter()
                .map(|(pk, b)| (pk, b.div_ceil(READ_UNIT).max(1) as f64)),
            false,
        )
    }

    fn charge<'a>(
        &self,
        units: impl Iterator<Item = (&'a str, f64)>,
        write: bool,
    ) -> Result<(), StoreError> {
        let mut per_pk: HashMap<&str, f64> = HashMap::new();
        for (pk, u) in units {
            *per_pk.entry(pk).or_default() += u;
        }
        if per_pk.is_empty() {
            return Ok(());
        }
        let total: f64 = per_pk.values().sum();
        let (partition_rate, counter) = if write {
            (aws::PARTITION_WRU * self.scale, 0)
        } else {
            (aws::PARTITION_RRU * self.scale, 1)
        };
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if b.partitions.len() > 100_000 {
            // Full buckets are as good as new ones: forget them.
            b.partitions
                .retain(|_, (w, r)| !(w.has(f64::MAX) && r.has(f64::MAX)));
        }
        for (pk, u) in &per_pk {
            let (w, r) = b.partitions.entry((*pk).to_owned()).or_insert_with(|| {
                (
                    TokenBucket::new(
                        aws::PARTITION_WRU * self.scale,
                        aws::PARTITION_WRU * self.scale,
                    ),
                    TokenBucket::new(
                        aws::PARTITION_RRU * self.scale,
                        aws::PARTITION_RRU * self.scale,
                    ),
                )
            });
            let bucket = if write { w } else { r };
            if !bucket.has(*u) {
                self.counts[counter].fetch_add(1, Ordering::Relaxed);
                return Err(StoreError::Throttled(format!(
                    "ProvisionedThroughputExceededException: partition key {pk} is over {partition_rate:.0} {} units/s",
                    if write { "write" } else { "read" }
                )));
            }
        }
        let table = if write {
            &mut b.table_write
        } else {
            &mut b.table_read
        };
        if !table.has(total) {
            self.counts[counter + 2].fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::Throttled(format!(
                "ThrottlingException: the table is over its {} throughput",
                if write { "write" } else { "read" }
            )));
        }
        table.take(total);
        for (pk, u) in per_pk {
            let (w, r) = b.partitions.get_mut(pk).expect("inserted above");
            if write { w } else { r }.take(u);
        }
        let consumed = if write {
            &self.write_units
        } else {
            &self.read_units
        };
        consumed.fetch_add(total as u64, Ordering::Relaxed);
        Ok(())
    }
}
