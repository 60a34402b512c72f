//! Hourly statistics counted in memory and written once per batch: a count
//! per notification would cost a write unit each and pile every writer onto
//! one partition key; a batch of them costs one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::ports::StatsHour;

/// Counts waiting to be written, per hour.
#[derive(Default)]
pub struct StatsBuffer(Mutex<BTreeMap<StatsHour, HashMap<String, i64>>>);

impl StatsBuffer {
    pub fn count(&self, at: DateTime<Utc>, counter: &str, by: i64) {
        let mut pending = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *pending
            .entry(StatsHour::of(at))
            .or_default()
            .entry(counter.to_owned())
            .or_default() += by;
    }

    /// Everything counted so far, emptied out.
    pub fn take(&self) -> Vec<(StatsHour, HashMap<String, i64>)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
            .into_iter()
            .collect()
    }

    /// Puts counts back after a failed write, so the next flush tries again.
    pub fn restore(&self, hour: StatsHour, counts: HashMap<String, i64>) {
        let mut pending = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let slot = pending.entry(hour).or_default();
        for (k, v) in counts {
            *slot.entry(k).or_default() += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_hour_and_empty_on_take() {
        let b = StatsBuffer::default();
        let t = "2026-11-28T10:15:00Z".parse().unwrap();
        let later = "2026-11-28T11:01:00Z".parse().unwrap();
        b.count(t, "created.order.created", 1);
        b.count(t, "created.order.created", 2);
        b.count(later, "websocket.delivered", 1);
        let taken = b.take();
        assert_eq!(taken.len(), 2);
        assert_eq!(taken[0].1["created.order.created"], 3);
        assert_eq!(taken[1].1["websocket.delivered"], 1);
        assert!(b.take().is_empty());
        b.restore(taken[0].0, taken[0].1.clone());
        assert_eq!(b.take()[0].1["created.order.created"], 3);
    }
}
