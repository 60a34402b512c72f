//! Knowing when every spawned task has finished, so a stopped stack has
//! released its database before a new one opens it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

#[derive(Default)]
struct Inner {
    live: AtomicUsize,
    /// Woken when the last token goes.
    idle: Notify,
}

/// Counts live tasks; clones share the count.
#[derive(Clone, Default)]
pub struct Tracker(Arc<Inner>);

/// Held by a task while it runs.
pub struct Token(Arc<Inner>);

impl Drop for Token {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Tracker {
    pub fn token(&self) -> Token {
        self.0.live.fetch_add(1, Ordering::AcqRel);
        Token(self.0.clone())
    }

    /// Waits until no token is alive (woken by the last one to go, not by
    /// polling), or `at_most` has passed.
    pub async fn drained(&self, at_most: Duration) -> bool {
        tokio::time::timeout(at_most, async {
            loop {
                // Registered before the check, so a drop in between still wakes us.
                let idle = self.0.idle.notified();
                tokio::pin!(idle);
                idle.as_mut().enable();
                if self.0.live.load(Ordering::Acquire) == 0 {
                    return;
                }
                idle.await;
            }
        })
        .await
        .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drained_wakes_when_the_last_token_goes() {
        let t = Tracker::default();
        assert!(t.drained(Duration::from_millis(1)).await);
        let a = t.token();
        let b = t.token();
        assert!(!t.drained(Duration::from_millis(20)).await);
        let waiter = tokio::spawn({
            let t = t.clone();
            async move { t.drained(Duration::from_secs(5)).await }
        });
        drop(a);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished());
        drop(b);
        assert!(waiter.await.unwrap());
    }
}
