//! Knowing when every spawned task has finished, so a stopped stack has
//! released its database before a new one opens it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Counts live tasks; clones share the count.
#[derive(Clone, Default)]
pub struct Tracker(Arc<AtomicUsize>);

/// Held by a task while it runs.
pub struct Token(Arc<AtomicUsize>);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Tracker {
    pub fn token(&self) -> Token {
        self.0.fetch_add(1, Ordering::AcqRel);
        Token(self.0.clone())
    }

    /// Waits until no token is alive, or `at_most` has passed.
    pub async fn drained(&self, at_most: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + at_most;
        while self.0.load(Ordering::Acquire) > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}
