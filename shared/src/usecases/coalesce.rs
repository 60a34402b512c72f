//! The delivery jobs of one SQS batch, sent together. Each record of the
//! batch queues its jobs as soon as they are ready; the records ready at the
//! same time share the queue's calls (SendMessageBatch takes ten messages)
//! instead of one call per record: on SQS, 0.2 calls per event instead of 1
//! (docs/benchmarks.md, issue 16). A record's messages never span two calls,
//! so each record learns whether its own were sent, as before.
//!
//! A group commit: a send waits until every record still at work is
//! waiting too (or done), or until [`MAX_WAIT`] after the first wait, so a
//! slow record (a throttled call retrying) holds the others' jobs back for
//! that long at most.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::QueueError;
use crate::ports::{OutMessage, Queue};

/// At most this many messages per call of the queue (SQS's batch limit).
const PER_CALL: usize = 10;

/// The longest a ready record's jobs wait for the rest of the batch.
pub const MAX_WAIT: Duration = Duration::from_millis(20);

/// A [`Queue`] that coalesces the sends of the records of one batch. Every
/// record holds a [`Participant`] while it runs.
pub struct Coalescing<'a> {
    inner: &'a dyn Queue,
    max_wait: Duration,
    state: Mutex<State>,
    wake: Notify,
}

#[derive(Default)]
struct State {
    /// Records still at work (not done).
    active: usize,
    /// Sends waiting for the next flush: their id and messages.
    waiting: Vec<(u64, Vec<OutMessage>)>,
    /// When the oldest of them began to wait.
    since: Option<Instant>,
    next_id: u64,
    /// A send is flushing the queue's calls.
    flushing: bool,
    /// Each flushed send's outcome, until it picks it up.
    results: HashMap<u64, Result<(), QueueError>>,
}

/// One record of the batch at work: dropping it (the record is done,
/// whatever its outcome, panics included) lets the others go without it.
pub struct Participant<'c, 'a>(&'c Coalescing<'a>);

impl Drop for Participant<'_, '_> {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.active = s.active.saturating_sub(1);
        drop(s);
        self.0.wake.notify_waiters();
    }
}

impl<'a> Coalescing<'a> {
    /// For `records` records, each of which takes a [`Participant`].
    pub fn new(inner: &'a dyn Queue, records: usize) -> Self {
        Self::with_max_wait(inner, records, MAX_WAIT)
    }

    pub fn with_max_wait(inner: &'a dyn Queue, records: usize, max_wait: Duration) -> Self {
        Self {
            inner,
            max_wait,
            state: Mutex::new(State {
                active: records,
                ..State::default()
            }),
            wake: Notify::new(),
        }
    }

    /// One of the `records` given to [`Coalescing::new`].
    pub fn participant(&self) -> Participant<'_, 'a> {
        Participant(self)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The queue's calls for these sends, at most [`PER_CALL`] messages each,
    /// a send's messages in one call; every send's outcome is kept.
    async fn flush(&self, sends: Vec<(u64, Vec<OutMessage>)>) {
        let mut calls: Vec<(Vec<u64>, Vec<OutMessage>)> = Vec::new();
        for (id, messages) in sends {
            match calls.last_mut() {
                Some((ids, batch)) if batch.len() + messages.len() <= PER_CALL => {
                    ids.push(id);
                    batch.extend(messages);
                }
                _ => calls.push((vec![id], messages)),
            }
        }
        let outcomes = futures::future::join_all(
            calls
                .into_iter()
                .map(|(ids, batch)| async { (ids, self.inner.send(batch).await) }),
        )
        .await;
        let mut s = self.lock();
        for (ids, outcome) in outcomes {
            for id in ids {
                let mine = match &outcome {
                    Ok(()) => Ok(()),
                    Err(e) => Err(QueueError(e.0.clone())),
                };
                s.results.insert(id, mine);
            }
        }
        s.flushing = false;
        drop(s);
        self.wake.notify_waiters();
    }
}

#[async_trait]
impl Queue for Coalescing<'_> {
    async fn send(&self, messages: Vec<OutMessage>) -> Result<(), QueueError> {
        if messages.is_empty() {
            return Ok(());
        }
        if messages.len() > PER_CALL {
            // Cannot share a call anyway.
            return self.inner.send(messages).await;
        }
        let id = {
            let mut s = self.lock();
            let id = s.next_id;
            s.next_id += 1;
            s.waiting.push((id, messages));
            s.since.get_or_insert_with(Instant::now);
            id
        };
        // This send may complete the set the others wait for.
        self.wake.notify_waiters();
        loop {
            let notified = self.wake.notified();
            tokio::pin!(notified);
            // Registered before the state is read: no wake-up is missed.
            notified.as_mut().enable();
            let (sends, deadline) = {
                let mut s = self.lock();
                if let Some(outcome) = s.results.remove(&id) {
                    return outcome;
                }
                let deadline = s.since.map(|t| t + self.max_wait);
                let due =
                    s.waiting.len() >= s.active || deadline.is_some_and(|d| Instant::now() >= d);
                if !s.flushing && due && !s.waiting.is_empty() {
                    s.flushing = true;
                    s.since = None;
                    (Some(std::mem::take(&mut s.waiting)), None)
                } else {
                    (None, deadline.filter(|_| !s.flushing))
                }
            };
            match (sends, deadline) {
                (Some(sends), _) => self.flush(sends).await,
                (None, Some(deadline)) => {
                    let _ = tokio::time::timeout_at(deadline, notified).await;
                }
                (None, None) => notified.await,
            }
        }
    }

    async fn retry_after(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        self.inner.retry_after(receipt_handle, delay).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records each call's messages; fails calls holding a body "fail".
    #[derive(Default)]
    struct Calls(Mutex<Vec<Vec<String>>>);

    #[async_trait]
    impl Queue for Calls {
        async fn send(&self, messages: Vec<OutMessage>) -> Result<(), QueueError> {
            // A call takes a while, as SQS's does.
            tokio::task::yield_now().await;
            let bodies: Vec<String> = messages.into_iter().map(|m| m.body).collect();
            let fail = bodies.iter().any(|b| b == "fail");
            self.0.lock().unwrap().push(bodies);
            if fail {
                Err(QueueError("refused".into()))
            } else {
                Ok(())
            }
        }
    }

    fn msgs(prefix: &str, n: usize) -> Vec<OutMessage> {
        (0..n)
            .map(|i| OutMessage::now(format!("{prefix}{i}")))
            .collect()
    }

    /// Each record works for `delay` ms, then sends `n` messages.
    async fn record(
        c: &Coalescing<'_>,
        delay: u64,
        prefix: &str,
        n: usize,
    ) -> Result<(), QueueError> {
        let _p = c.participant();
        tokio::time::sleep(Duration::from_millis(delay)).await;
        c.send(msgs(prefix, n)).await
    }

    #[tokio::test(start_paused = true)]
    async fn the_records_of_a_batch_share_calls_of_at_most_ten_without_splitting_one() {
        let q = Calls::default();
        let c = Coalescing::new(&q, 5);
        let outcomes = futures::future::join_all([
            record(&c, 1, "a", 2),
            record(&c, 2, "b", 3),
            record(&c, 3, "c", 4),
            record(&c, 4, "d", 2),
            record(&c, 5, "e", 3),
        ])
        .await;
        assert!(outcomes.iter().all(Result::is_ok));
        let calls = q.0.lock().unwrap().clone();
        // 14 messages: two calls, a record's messages in one of them.
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(
            calls[0],
            ["a0", "a1", "b0", "b1", "b2", "c0", "c1", "c2", "c3"]
        );
        assert_eq!(calls[1], ["d0", "d1", "e0", "e1", "e2"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_call_fails_only_the_records_whose_messages_it_held() {
        let q = Calls::default();
        let c = Coalescing::new(&q, 3);
        let mut failing = msgs("x", 8);
        failing.push(OutMessage::now("fail".into()));
        let failing_record = async {
            let _p = c.participant();
            c.send(failing).await
        };
        let outcomes = futures::join!(record(&c, 1, "a", 2), failing_record, record(&c, 2, "b", 2));
        assert!(outcomes.0.is_ok(), "a's call held only a's messages");
        assert!(outcomes.1.is_err(), "the refused call's record fails");
        assert!(outcomes.2.is_ok(), "b shared no call with the failure");
        let calls = q.0.lock().unwrap().clone();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(calls[1], ["a0", "a1", "b0", "b1"]);
    }

    #[tokio::test(start_paused = true)]
    async fn records_done_without_sending_do_not_hold_the_others() {
        let q = Calls::default();
        let c = Coalescing::new(&q, 3);
        let done_early = async {
            let _p = c.participant();
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok::<(), QueueError>(())
        };
        let started = Instant::now();
        let outcomes = futures::join!(record(&c, 1, "a", 1), done_early, record(&c, 3, "b", 1));
        assert!(outcomes.0.is_ok() && outcomes.1.is_ok() && outcomes.2.is_ok());
        assert_eq!(q.0.lock().unwrap().clone(), [vec!["a0", "b0"]]);
        assert!(
            started.elapsed() < MAX_WAIT,
            "flushed when the last record at work sent, not at the deadline"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_record_holds_the_others_for_the_maximum_wait_only() {
        let q = Calls::default();
        let c = Coalescing::new(&q, 2);
        let fast = async {
            let r = record(&c, 0, "a", 1).await;
            (r, Instant::now())
        };
        let started = Instant::now();
        let ((fast, sent_at), slow) = futures::join!(fast, record(&c, 1000, "b", 1));
        assert!(fast.is_ok() && slow.is_ok());
        let waited = sent_at - started;
        assert!(
            waited >= MAX_WAIT && waited < MAX_WAIT * 2,
            "the fast record's jobs went after {waited:?}"
        );
        assert_eq!(q.0.lock().unwrap().clone(), [vec!["a0"], vec!["b0"]]);
    }

    #[tokio::test(start_paused = true)]
    async fn more_than_ten_messages_go_alone_and_at_once() {
        let q = Calls::default();
        let c = Coalescing::new(&q, 2);
        let (big, small) = futures::join!(record(&c, 0, "big", 12), record(&c, 1, "s", 1));
        assert!(big.is_ok() && small.is_ok());
        let calls = q.0.lock().unwrap().clone();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].len(), 12, "passed to the queue, which splits it");
        assert_eq!(calls[1], ["s0"]);
    }
}
