//! Faults over moto server: duplicates in bulk, poison in every batch,
//! a mail provider that fails then recovers, stale connection rows.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use integration::logs::Logs;
use integration::*;
use serde_json::json;
use shared::error::MailError;
use shared::model::{Channel, Connection, DeliveryStatus};
use shared::ports::{Mailer, OutMessage};
use shared::template::RenderedEmail;

/// Runs the worker over the events queue from `consumers` concurrent
/// pollers until it stays empty, like several Lambda instances would.
async fn drain_with_pollers(env: &TestEnv, consumers: usize) {
    let rounds = (0..consumers).map(|_| {
        wait_until(
            "the events queue to drain",
            Duration::from_secs(60),
            || async {
                env.run_worker().await.0.records.is_empty()
                    && env.queue_depth(&env.events.url).await == 0
            },
        )
    });
    futures::future::join_all(rounds).await;
}

#[tokio::test]
async fn the_same_event_300_times_at_once_gives_one_notification_and_one_push_per_device() {
    // Realistic redelivery: a copy that raced the first one comes back after
    // the visibility timeout, by when it is a plain duplicate.
    let env = TestEnv::with_queues(
        QueueSettings {
            visibility_secs: 5,
            max_receives: 5,
        },
        |_| {},
    )
    .await;
    env.connect("alice", "a1").await;
    env.connect("alice", "a2").await;
    let body = order_event("evt_storm", "alice").to_string();
    env.app
        .events
        .send((0..300).map(|_| OutMessage::now(body.clone())).collect())
        .await
        .unwrap();
    drain_with_pollers(&env, 1).await;
    wait_until(
        "the deliveries queue to drain",
        Duration::from_secs(30),
        || async { env.run_sender().await.0.records.is_empty() },
    )
    .await;
    assert_eq!(
        env.app
            .store
            .notifications_after("alice", None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(env.app.store.unread_count("alice").await.unwrap(), 1);
    assert_eq!(env.mgmt.posts_to("a1").len(), 1);
    assert_eq!(env.mgmt.posts_to("a2").len(), 1);
    assert_eq!(
        env.queue_depth(&env.events.dlq_url).await,
        0,
        "no copy was dead-lettered"
    );
}

#[tokio::test]
async fn one_poison_message_in_every_batch_lands_in_the_dlq_with_its_reason_logged() {
    let logs = Logs::capture();
    let env = TestEnv::new().await;
    for batch in 0..5 {
        let msgs: Vec<OutMessage> = (0..10)
            .map(|i| {
                if i == 7 {
                    OutMessage::now(format!(r#"{{"id":"evt_poison_{batch}","type":"order.created","userId":"bob","occurredAt":"yesterday"}}"#))
                } else {
                    OutMessage::now(order_event(&format!("evt_ok_{batch}_{i}"), "bob").to_string())
                }
            })
            .collect();
        env.app.events.send(msgs).await.unwrap();
    }
    wait_until(
        "the events queue to drain, the poison dead-lettered",
        Duration::from_secs(30),
        || async {
            env.run_worker().await.0.records.is_empty()
                && env.queue_depth(&env.events.url).await == 0
        },
    )
    .await;
    assert_eq!(
        env.app
            .store
            .notifications_after("bob", None, 100)
            .await
            .unwrap()
            .items
            .len(),
        45
    );
    let mut dead = Vec::new();
    loop {
        let got = env.receive(&env.events.dlq_url).await;
        if got.records.is_empty() {
            break;
        }
        env.ack(&env.events.dlq_url, &got, &Default::default())
            .await;
        dead.extend(got.records.into_iter().map(|r| r.body.unwrap()));
    }
    assert_eq!(dead.len(), 5, "{dead:?}");
    assert!(dead.iter().all(|b| b.contains("evt_poison_")));
    let text = logs.text();
    assert!(
        text.contains("poison message")
            && text.contains("occurredAt: must be an RFC 3339 timestamp"),
        "the reason is logged:\n{text}"
    );
}

/// The real SES adapter behind a switch that makes it fail for a while.
struct Flaky {
    inner: shared::adapters::ses::SesMailer,
    failures_left: AtomicUsize,
}

#[async_trait]
impl Mailer for Flaky {
    async fn send(
        &self,
        to: &str,
        email: &RenderedEmail,
        tags: &shared::ports::MailTags,
    ) -> Result<String, MailError> {
        if self.failures_left.load(Ordering::SeqCst) > 0 {
            self.failures_left.fetch_sub(1, Ordering::SeqCst);
            return Err(MailError::Temporary("SES throttled (injected)".into()));
        }
        self.inner.send(to, email, tags).await
    }
}

#[tokio::test]
async fn email_that_fails_is_retried_through_the_queue_and_sent_once_it_recovers() {
    let base = TestEnv::new().await;
    let flaky = Arc::new(Flaky {
        inner: shared::adapters::ses::SesMailer::new(
            aws_sdk_sesv2::Client::new(&base.sdk),
            Some(FROM.into()),
        ),
        failures_left: AtomicUsize::new(1),
    });
    let app = Arc::new(shared::App::new(
        base.config.clone(),
        base.app.store.clone(),
        base.app.events.clone(),
        base.app.deliveries.clone(),
        base.app.pusher.clone(),
        flaky,
    ));
    let env = TestEnv { app, ..base };
    let mut e = order_event("evt_mail_retry", "mia");
    e["recipient"] = json!({"email": "mia@example.com"});
    assert_eq!(env.post_event(&e).await.status_code, 202);
    env.run_worker().await;
    let (_, first) = env.run_sender().await;
    assert_eq!(
        first.batch_item_failures.len(),
        1,
        "the email job fails and goes back to the queue"
    );
    let id = env
        .app
        .store
        .notifications_after("mia", None, 1)
        .await
        .unwrap()
        .items[0]
        .id
        .clone();
    assert_eq!(
        env.app
            .store
            .delivery("mia", &id, Channel::Email)
            .await
            .unwrap()
            .unwrap()
            .status,
        DeliveryStatus::Failed
    );
    let (again, second) = env.run_sender().await;
    assert_eq!(again.records.len(), 1, "only the email job comes back");
    assert!(second.batch_item_failures.is_empty());
    assert_eq!(
        env.app
            .store
            .delivery("mia", &id, Channel::Email)
            .await
            .unwrap()
            .unwrap()
            .status,
        DeliveryStatus::Sent
    );
    let sent = moto_data().to_string().matches("mia@example.com").count();
    assert!(sent >= 1, "the email is in moto");
}

#[tokio::test]
async fn a_stale_connection_row_is_skipped_and_removed() {
    let env = TestEnv::new().await;
    env.connect("sam", "s-live").await;
    // $disconnect never came for this one, and its TTL has passed.
    env.app
        .store
        .put_connection(&Connection {
            connection_id: "s-stale".into(),
            user_id: "sam".into(),
            connected_at: chrono::Utc::now(),
            expires_at: chrono::Utc::now().timestamp() - 60,
        })
        .await
        .unwrap();
    assert_eq!(
        env.post_event(&order_event("evt_stale", "sam"))
            .await
            .status_code,
        202
    );
    env.settle().await;
    assert_eq!(env.mgmt.posts_to("s-live").len(), 1);
    assert!(
        env.mgmt.posts_to("s-stale").is_empty(),
        "no push to an expired row"
    );
    let left: Vec<String> = env
        .app
        .store
        .connections_of("sam")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.connection_id)
        .collect();
    assert_eq!(left, ["s-live"]);
}
