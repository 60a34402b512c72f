//! The delivery jobs of one SQS batch, sent together. Each record of the
//! batch queues its jobs as soon as they are ready; the records ready at the
//! same time share the queue's calls (SendMessageBatch takes ten messages)
//! instead of one call per record: on SQS about 0.25 calls per event instead
//! of 1 (docs/benchmarks.md, issue 16). A record's messages never span two
//! calls, and each record gets the outcome of its own messages (SQS reports
//! each entry), so a failure of one record's message fails that record only.
//!
//! A group commit: a send waits until every record still at work is
//! waiting too (or sending, or done), or until [`MAX_WAIT`] after the first
//! wait, so a slow record (a throttled call retrying) holds the others' jobs
//! back for that long at most; then the send waits for its own call.

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
/// And at most this many bytes of bodies: SendMessageBatch's total payload
/// limit (256 KiB), less room for the request's own fields.
const PER_CALL_BYTES: usize = 240 * 1024;

/// The longest a ready record's jobs wait for the rest of the batch.
pub const MAX_WAIT: Duration = Duration::from_millis(20);

/// A [`Queue`] that coalesces the sends of the records of one batch. Every
/// record holds a [`Participant`] while it runs.
pub struct Coalescing<'a> {
    inner: &'a dyn Queue,
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
    /// Sends taken by a flush and not answered yet.
    sending: usize,
    next_id: u64,
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

/// The sends of one call, answered when it ends, or with an error if the
/// call is dropped before (its sender cancelled): nobody waits forever.
struct Call<'c, 'a> {
    queue: &'c Coalescing<'a>,
    ids: Vec<(u64, usize)>,
}

impl Call<'_, '_> {
    fn answer(&mut self, outcomes: Option<Vec<Result<(), QueueError>>>) {
        let ids = std::mem::take(&mut self.ids);
        let mut outcomes = outcomes.map(Vec::into_iter);
        let mut s = self.queue.lock();
        for (id, n) in ids {
            let mine = match outcomes.as_mut() {
                // A send is sent when every one of its messages is.
                Some(o) => {
                    // Exactly this send's outcomes, the next send's after them.
                    let own: Vec<_> = o.by_ref().take(n).collect();
                    if own.len() < n {
                        Err(QueueError("the queue reported no outcome".into()))
                    } else {
                        own.into_iter().collect()
                    }
                }
                None => Err(QueueError("the send was cancelled".into())),
            };
            s.sending = s.sending.saturating_sub(1);
            s.results.insert(id, mine);
        }
        drop(s);
        self.queue.wake.notify_waiters();
    }
}

impl Drop for Call<'_, '_> {
    fn drop(&mut self) {
        if !self.ids.is_empty() {
            self.answer(None);
        }
    }
}

impl<'a> Coalescing<'a> {
    /// For `records` records, each of which takes a [`Participant`].
    pub fn new(inner: &'a dyn Queue, records: usize) -> Self {
        Self {
            inner,
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

    /// The queue's calls for these sends, at most [`PER_CALL`] messages and
    /// [`PER_CALL_BYTES`] each, a send's messages in one call; each call's
    /// sends answered as soon as it ends.
    async fn flush(&self, sends: Vec<(u64, Vec<OutMessage>)>) {
        /// One call: its sends (id, number of messages), messages and bytes.
        struct Packed(Vec<(u64, usize)>, Vec<OutMessage>, usize);
        let mut calls: Vec<Packed> = Vec::new();
        for (id, messages) in sends {
            let bytes: usize = messages.iter().map(|m| m.body.len()).sum();
            match calls.last_mut() {
                Some(Packed(ids, batch, size))
                    if batch.len() + messages.len() <= PER_CALL
                        && *size + bytes <= PER_CALL_BYTES =>
                {
                    ids.push((id, messages.len()));
                    batch.extend(messages);
                    *size += bytes;
                }
                _ => calls.push(Packed(vec![(id, messages.len())], messages, bytes)),
            }
        }
        futures::future::join_all(calls.into_iter().map(|Packed(ids, batch, _)| async move {
            let mut call = Call { queue: self, ids };
            let outcomes = self.inner.send_each(batch).await;
            call.answer(Some(outcomes));
        }))
        .await;
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
                let deadline = s.since.map(|t| t + MAX_WAIT);
                // Records in a call are not at work: they send nothing more.
                let due = s.waiting.len() + s.sending >= s.active
                    || deadline.is_some_and(|d| Instant::now() >= d);
                if due && !s.waiting.is_empty() {
                    s.since = None;
                    let sends = std::mem::take(&mut s.waiting);
                    s.sending += sends.len();
                    (Some(sends), None)
                } else {
                    (None, deadline)
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

    /// Records each call's messages; a message "fail" is refused alone, as
    /// SQS refuses one entry of a batch; each call takes `delay`.
    #[derive(Default)]
    struct Calls {
        calls: Mutex<Vec<Vec<String>>>,
        delay: Duration,
    }

    impl Calls {
        fn calls(&self) -> Vec<Vec<String>> {
            self.calls.lock().unwrap().clone()
        }
    }

    #[async_trait]
    impl Queue for Calls {
        async fn send(&self, messages: Vec<OutMessage>) -> Result<(), QueueError> {
            self.send_each(messages).await.into_iter().collect()
        }

        async fn send_each(&self, messages: Vec<OutMessage>) -> Vec<Result<(), QueueError>> {
            let bodies: Vec<String> = messages.into_iter().map(|m| m.body).collect();
            self.calls.lock().unwrap().push(bodies.clone());
            // A call takes a while, as SQS's does.
            tokio::time::sleep(self.delay).await;
            tokio::task::yield_now().await;
            bodies
                .iter()
                .map(|b| match b.as_str() {
                    "fail" => Err(QueueError("refused".into())),
                    _ => Ok(()),
                })
                .collect()
        }
    }

    fn msgs(prefix: &str, n: usize) -> Vec<OutMessage> {
        (0..n)
            .map(|i| OutMessage::now(format!("{prefix}{i}")))
            .collect()
    }

    /// Each record works for `delay` ms, then sends these messages.
    async fn record(
        c: &Coalescing<'_>,
        delay: u64,
        messages: Vec<OutMessage>,
    ) -> Result<(), QueueError> {
        let _p = c.participant();
        tokio::time::sleep(Duration::from_millis(delay)).await;
        c.send(messages).await
    }

    #[tokio::test(start_paused = true)]
    async fn the_records_of_a_batch_share_calls_of_at_most_ten_without_splitting_one() {
        let q = Calls::default();
        let c = Coalescing::new(&q, 5);
        let outcomes = futures::future::join_all([
            record(&c, 1, msgs("a", 2)),
            record(&c, 2, msgs("b", 3)),
            record(&c, 3, msgs("c", 4)),
            record(&c, 4, msgs("d", 2)),
            record(&c, 5, msgs("e", 3)),
        ])
        .await;
        assert!(outcomes.iter().all(Result::is_ok));
        let calls = q.calls();
        // 14 messages: two calls, a record's messages in one of them.
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(
            calls[0],
            ["a0", "a1", "b0", "b1", "b2", "c0", "c1", "c2", "c3"]
        );
        assert_eq!(calls[1], ["d0", "d1", "e0", "e1", "e2"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_holds_at_most_its_byte_limit() {
        let q = Calls::default();
        let c = Coalescing::new(&q, 3);
        let big = |tag: &str| vec![OutMessage::now(format!("{tag}{}", "x".repeat(100 * 1024)))];
        let (a, b, d) = futures::join!(
            record(&c, 1, big("a")),
            record(&c, 2, big("b")),
            record(&c, 3, big("d"))
        );
        assert!(a.is_ok() && b.is_ok() && d.is_ok());
        let sizes: Vec<usize> = q.calls().iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 1], "two 100 KiB bodies per call, not three");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_message_fails_its_own_record_only_even_in_a_shared_call() {
        let q = Calls::default();
        let c = Coalescing::new(&q, 3);
        let mut failing = msgs("x", 2);
        failing.push(OutMessage::now("fail".into()));
        let (a, x, b) = futures::join!(
            record(&c, 1, msgs("a", 2)),
            record(&c, 2, failing),
            record(&c, 3, msgs("b", 2))
        );
        assert_eq!(q.calls().len(), 1, "one shared call: {:?}", q.calls());
        assert!(a.is_ok(), "a's messages were all sent");
        assert!(x.is_err(), "one of x's messages was refused");
        assert!(b.is_ok(), "b's messages were all sent");
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
        let outcomes = futures::join!(
            record(&c, 1, msgs("a", 1)),
            done_early,
            record(&c, 3, msgs("b", 1))
        );
        assert!(outcomes.0.is_ok() && outcomes.1.is_ok() && outcomes.2.is_ok());
        assert_eq!(q.calls(), [vec!["a0", "b0"]]);
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
            let r = record(&c, 0, msgs("a", 1)).await;
            (r, Instant::now())
        };
        let started = Instant::now();
        let ((fast, sent_at), slow) = futures::join!(fast, record(&c, 1000, msgs("b", 1)));
        assert!(fast.is_ok() && slow.is_ok());
        let waited = sent_at - started;
        assert!(
            waited >= MAX_WAIT && waited < MAX_WAIT * 2,
            "the fast record's jobs went after {waited:?}"
        );
        assert_eq!(q.calls(), [vec!["a0"], vec!["b0"]]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_send_ready_during_a_call_does_not_wait_for_it() {
        // Calls take 100 ms. a and b wait for d until the 20 ms deadline and
        // share a call; d is ready at 25 ms, while it runs: a and b send
        // nothing more, so d goes at once, in a call of its own, instead of
        // after theirs (at 120 ms).
        let q = Calls {
            delay: Duration::from_millis(100),
            ..Calls::default()
        };
        let c = Coalescing::new(&q, 3);
        let started = Instant::now();
        let d = async {
            let r = record(&c, 25, msgs("d", 1)).await;
            (r, started.elapsed())
        };
        let (a, b, (d, d_took)) =
            futures::join!(record(&c, 0, msgs("a", 1)), record(&c, 1, msgs("b", 1)), d);
        assert!(a.is_ok() && b.is_ok() && d.is_ok());
        assert_eq!(q.calls(), [vec!["a0", "b0"], vec!["d0"]]);
        assert!(d_took < Duration::from_millis(130), "{d_took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_sender_leaves_no_send_waiting_forever() {
        let q = Calls {
            delay: Duration::from_secs(60),
            ..Calls::default()
        };
        let c = Coalescing::new(&q, 2);
        // b leads the flush of both sends, and is dropped in the middle of it.
        let b = async {
            let _p = c.participant();
            tokio::time::sleep(Duration::from_millis(1)).await;
            let _ = tokio::time::timeout(Duration::from_millis(10), c.send(msgs("b", 1))).await;
        };
        let a = tokio::time::timeout(Duration::from_secs(1), record(&c, 0, msgs("a", 1)));
        let (a, ()) = futures::join!(a, b);
        let a = a.expect("a is answered, not left waiting");
        assert!(a.is_err(), "its call was cancelled: {a:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn several_sends_of_one_record_go_without_waiting() {
        // A broadcast page: one record, a send per user at once. Each goes
        // as soon as it is ready (nobody else is at work to wait for).
        let q = Calls::default();
        let c = Coalescing::new(&q, 1);
        let _p = c.participant();
        let started = Instant::now();
        let (a, b) = futures::join!(c.send(msgs("u1-", 2)), c.send(msgs("u2-", 2)));
        assert!(a.is_ok() && b.is_ok());
        assert_eq!(q.calls().iter().map(Vec::len).sum::<usize>(), 4);
        assert!(started.elapsed() < MAX_WAIT, "{:?}", started.elapsed());
    }

    /// Answers no outcome at all.
    struct Silent;

    #[async_trait]
    impl Queue for Silent {
        async fn send(&self, _: Vec<OutMessage>) -> Result<(), QueueError> {
            Ok(())
        }
        async fn send_each(&self, _: Vec<OutMessage>) -> Vec<Result<(), QueueError>> {
            Vec::new()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_send_without_an_outcome_is_not_taken_for_sent() {
        let c = Coalescing::new(&Silent, 1);
        assert!(record(&c, 0, msgs("a", 2)).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn more_than_ten_messages_go_alone_and_at_once() {
        let q = Calls::default();
        let c = Coalescing::new(&q, 2);
        let started = Instant::now();
        let big = async {
            let r = record(&c, 0, msgs("big", 12)).await;
            (r, started.elapsed())
        };
        let ((big, big_took), small) = futures::join!(big, record(&c, 5, msgs("s", 1)));
        assert!(big.is_ok() && small.is_ok());
        assert!(
            big_took < Duration::from_millis(5),
            "did not wait for s: {big_took:?}"
        );
        let calls = q.calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].len(), 12, "passed to the queue, which splits it");
        assert_eq!(calls[1], ["s0"]);
    }
}
