//! The application in one process, for fast tests of the use cases: the
//! embedded store in a temporary directory, queues in memory, pushes, email
//! and SMS recorded, and a clock that moves only when told. Neither moto nor
//! the local stack is needed. In-memory fakes stand in for the outside
//! services only here; adapters are tested against moto and the local stack.

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};

use crate::adapters::embedded::{Embedded, EmbeddedStore};
use crate::app::App;
use crate::config::Config;
use crate::error::{MailError, PushError, QueueError};
use crate::ports::{Mailer, ManualClock, OutMessage, Pusher, Queue, SmsSender};
use crate::template::RenderedEmail;

/// Messages sent, in order; taken by [`InProcess::settle`].
#[derive(Default)]
pub struct MemoryQueue(Mutex<VecDeque<OutMessage>>);

impl MemoryQueue {
    pub fn take(&self) -> Vec<OutMessage> {
        lock(&self.0).drain(..).collect()
    }

    pub fn len(&self) -> usize {
        lock(&self.0).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send(&self, messages: Vec<OutMessage>) -> Result<(), QueueError> {
        lock(&self.0).extend(messages);
        Ok(())
    }
}

/// Every push, as JSON; connections marked gone answer 410.
#[derive(Default)]
pub struct RecordingPusher {
    pub posts: Mutex<Vec<(String, serde_json::Value)>>,
    pub gone: Mutex<HashSet<String>>,
}

impl RecordingPusher {
    pub fn to(&self, connection_id: &str) -> Vec<serde_json::Value> {
        lock(&self.posts)
            .iter()
            .filter(|(c, _)| c == connection_id)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

#[async_trait]
impl Pusher for RecordingPusher {
    async fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), PushError> {
        if lock(&self.gone).contains(connection_id) {
            return Err(PushError::Gone);
        }
        let v = serde_json::from_slice(payload).map_err(|e| PushError::Failed(e.to_string()))?;
        lock(&self.posts).push((connection_id.to_owned(), v));
        Ok(())
    }
}

/// Every email and SMS sent: (to, subject or text).
#[derive(Default)]
pub struct RecordingMail(pub Mutex<Vec<(String, String)>>);

#[async_trait]
impl Mailer for RecordingMail {
    async fn send(
        &self,
        to: &str,
        email: &RenderedEmail,
        _tags: &crate::ports::MailTags,
    ) -> Result<String, MailError> {
        let mut sent = lock(&self.0);
        sent.push((to.to_owned(), email.subject.clone()));
        Ok(format!("mail-{}", sent.len()))
    }
}

#[async_trait]
impl SmsSender for RecordingMail {
    async fn send_sms(&self, to: &str, text: &str) -> Result<String, MailError> {
        let mut sent = lock(&self.0);
        sent.push((to.to_owned(), text.to_owned()));
        Ok(format!("sms-{}", sent.len()))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct InProcess {
    pub app: App,
    pub store: EmbeddedStore,
    pub events: Arc<MemoryQueue>,
    pub deliveries: Arc<MemoryQueue>,
    /// SES's feedback, as the mailbox simulator answers each email.
    pub feedback: Arc<MemoryQueue>,
    pub pushes: Arc<RecordingPusher>,
    pub mail: Arc<RecordingMail>,
    pub sms: Arc<RecordingMail>,
    pub clock: Arc<ManualClock>,
    /// DynamoDB's capacity meter on the store, limits out of reach: what
    /// each use case costs in write and read units.
    pub capacity: Arc<crate::adapters::embedded::capacity::Capacity>,
    dir: PathBuf,
}

impl InProcess {
    /// A fresh application; `tweak` adjusts the configuration.
    pub fn new(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = std::env::temp_dir().join(format!("notify-inprocess-{}", ulid::Ulid::new()));
        let db = Embedded::open_with_cache(&dir, 1 << 20).expect("open the embedded store");
        let capacity = db.enforce_capacity(crate::adapters::embedded::capacity::Capacity::new(
            1e6, 1e6, 1e6,
        ));
        let store = db.store();
        let mut config = Config {
            jwt_secret: Some("in-process-secret".into()),
            ..Config::default()
        };
        tweak(&mut config);
        let store = store.with_retention(config.retention);
        let (events, deliveries) = (
            Arc::new(MemoryQueue::default()),
            Arc::new(MemoryQueue::default()),
        );
        let pushes = Arc::new(RecordingPusher::default());
        let (mail, sms) = (
            Arc::new(RecordingMail::default()),
            Arc::new(RecordingMail::default()),
        );
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let feedback = Arc::new(MemoryQueue::default());
        let mailer = crate::adapters::mailbox_simulator::MailboxSimulator::new(
            mail.clone(),
            feedback.clone(),
            "notify@localhost",
        );
        let app = App::new(
            config,
            Arc::new(store.clone()),
            events.clone(),
            deliveries.clone(),
            pushes.clone(),
            Arc::new(mailer),
        )
        .with_sms(sms.clone())
        .with_clock(clock.clone());
        Self {
            app,
            store,
            events,
            deliveries,
            feedback,
            pushes,
            mail,
            sms,
            clock,
            capacity,
            dir,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        crate::ports::Clock::now(self.clock.as_ref())
    }

    /// An admin's broadcast of `title` and `message`, worked off; the ids
    /// of the messages that failed.
    pub async fn broadcast(&self, title: &str, message: &str) -> Vec<String> {
        let body = serde_json::json!({"broadcast": true, "title": title, "message": message});
        let req = crate::usecases::admin::SendRequest::parse(body.to_string().as_bytes(), false)
            .expect("a valid broadcast");
        crate::usecases::admin::send(self.app.events.as_ref(), self.app.broadcasts.as_ref(), &req)
            .await
            .expect("queued");
        self.settle().await
    }

    /// What ws-connect does: a connection row for two hours, the user listed.
    pub async fn connect(&self, user: &str, connection_id: &str) {
        use crate::ports::{Connections, Directory};
        self.store.list_user(user).await.expect("list the user");
        self.store
            .put_connection(&crate::model::Connection {
                connection_id: connection_id.into(),
                user_id: user.into(),
                connected_at: self.now(),
                expires_at: (self.now() + chrono::Duration::hours(2)).timestamp(),
            })
            .await
            .expect("store the connection");
    }

    /// Runs the worker over the events queue, the sender over the
    /// deliveries queue and the feedback function over SES's feedback, as
    /// Lambda would, until all are empty. Returns the ids of the messages
    /// that failed (they are not retried here).
    pub async fn settle(&self) -> Vec<String> {
        let mut failed = Vec::new();
        for _ in 0..100 {
            let (ev, dl, fb) = (
                self.events.take(),
                self.deliveries.take(),
                self.feedback.take(),
            );
            if ev.is_empty() && dl.is_empty() && fb.is_empty() {
                return failed;
            }
            for (batch, consumer) in [(ev, 0), (dl, 1), (fb, 2)] {
                if batch.is_empty() {
                    continue;
                }
                let event = sqs_event(&batch);
                let resp = match consumer {
                    0 => crate::handlers::worker::handle(&self.app, event).await,
                    1 => crate::handlers::sender::handle(&self.app, event).await,
                    _ => crate::handlers::feedback::handle(&self.app, event).await,
                };
                failed.extend(
                    resp.batch_item_failures
                        .into_iter()
                        .map(|f| f.item_identifier),
                );
            }
        }
        panic!("the queues did not settle in 100 rounds");
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn sqs_event(messages: &[OutMessage]) -> SqsEvent {
    let mut e = SqsEvent::default();
    e.records = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut r = SqsMessage::default();
            r.message_id = Some(format!("m{i}"));
            r.body = Some(m.body.clone());
            r
        })
        .collect();
    e
}
