//! The use cases in one process (embedded store, recorded pushes and mail,
//! queues in memory, a manual clock): fast, and no moto or local stack.

use chrono::Duration;
use serde_json::json;
use shared::model::{Channel, DeliveryStatus, EventClaim, MarkRead};
use shared::ports::*;
use shared::testing::InProcess;
use shared::usecases::inbox;

fn event(id: &str, user: &str) -> String {
    json!({"id": id, "type": "order.created", "userId": user, "occurredAt": "2026-11-27T10:00:00Z",
        "data": {"orderId": "o_7", "total": "12.00", "currency": "EUR"},
        "recipient": {"email": "ann@example.com"}})
    .to_string()
}

async fn connect(p: &InProcess, user: &str, id: &str) {
    p.connect(user, id).await;
}

#[tokio::test]
async fn an_event_is_stored_pushed_and_mailed_once() {
    let p = InProcess::new(|_| {});
    connect(&p, "auth0|ann", "c1").await;
    connect(&p, "auth0|ann", "c2").await;
    // The same event twice, the second after the first was handled (a
    // copy arriving while the first is mid-dispatch is retried by SQS: the
    // lease test covers that).
    for _ in 0..2 {
        p.events
            .send(vec![OutMessage::now(event("e1", "auth0|ann"))])
            .await
            .unwrap();
        assert!(p.settle().await.is_empty());
    }
    let inbox = p
        .store
        .list_notifications("auth0|ann", None, 10, false)
        .await
        .unwrap();
    assert_eq!(inbox.items.len(), 1, "the duplicate is absorbed");
    let n = &inbox.items[0];
    assert_eq!(n.data["orderId"], "o_7");
    for c in ["c1", "c2"] {
        let got = p.pushes.to(c);
        assert_eq!(got.len(), 1, "one push to {c}");
        assert_eq!(got[0]["event"], "notification:new");
        assert_eq!(got[0]["data"]["id"], n.id.as_str());
    }
    assert_eq!(p.mail.0.lock().unwrap().len(), 1);
    let d = p
        .store
        .delivery("auth0|ann", &n.id, Channel::Email)
        .await
        .unwrap()
        .unwrap();
    // Sent, and then SES's feedback (its mailbox simulator here) said delivered.
    assert_eq!(d.status, DeliveryStatus::Delivered);
    let steps: Vec<_> = p
        .store
        .deliveries("auth0|ann", &n.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.channel == Channel::Email)
        .map(|d| d.status)
        .collect();
    assert_eq!(
        steps,
        [
            DeliveryStatus::Queued,
            DeliveryStatus::Sent,
            DeliveryStatus::Delivered
        ]
    );
    assert_eq!(p.store.unread_count("auth0|ann").await.unwrap(), 1);
}

#[tokio::test]
async fn preferences_decide_the_channels() {
    let p = InProcess::new(|_| {});
    let prefs = shared::preferences::Preferences::parse_update(
        br#"{"channels":{"order":{"in_app":false,"email":true,"sms":true}}}"#,
    )
    .unwrap();
    p.store.put_preferences("bo", &prefs).await.unwrap();
    p.events
        .send(vec![OutMessage::now(event("e2", "bo"))])
        .await
        .unwrap();
    assert!(p.settle().await.is_empty());
    assert!(
        p.store
            .list_notifications("bo", None, 10, false)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(p.mail.0.lock().unwrap().len(), 1);
    // SMS is on but there is no number anywhere: recorded as skipped.
    assert!(p.sms.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_gone_connection_is_dropped_and_the_others_still_get_it() {
    let p = InProcess::new(|_| {});
    connect(&p, "cy", "alive").await;
    connect(&p, "cy", "dead").await;
    p.pushes.gone.lock().unwrap().insert("dead".into());
    p.events
        .send(vec![OutMessage::now(event("e3", "cy"))])
        .await
        .unwrap();
    assert!(p.settle().await.is_empty());
    assert_eq!(p.pushes.to("alive").len(), 1);
    let left: Vec<_> = p
        .store
        .connections_of("cy")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.connection_id)
        .collect();
    assert_eq!(left, ["alive"]);
}

#[tokio::test]
async fn marking_read_tells_every_device_and_mark_all_pages_through() {
    let p = InProcess::new(|_| {});
    connect(&p, "di", "d1").await;
    connect(&p, "di", "d2").await;
    for i in 0..120 {
        p.events
            .send(vec![OutMessage::now(event(&format!("m{i}"), "di"))])
            .await
            .unwrap();
    }
    assert!(p.settle().await.is_empty());
    assert_eq!(p.store.unread_count("di").await.unwrap(), 120);
    let first = p
        .store
        .notifications_after("di", None, 1)
        .await
        .unwrap()
        .items[0]
        .id
        .clone();
    let out = inbox::mark_read(&p.store, p.app.devices(), None, "di", &first, p.now())
        .await
        .unwrap();
    assert_eq!(out, MarkRead::Marked { unread: 119 });
    for d in ["d1", "d2"] {
        let last = p.pushes.to(d).pop().unwrap();
        assert_eq!(
            last,
            json!({"event":"notification:read-ack","data":{"id": first, "unreadCount": 119}})
        );
    }
    let marked = inbox::mark_all_read(&p.store, p.app.devices(), None, "di", p.now())
        .await
        .unwrap();
    assert_eq!(marked, 119);
    assert_eq!(p.store.unread_count("di").await.unwrap(), 0);
    assert_eq!(
        p.pushes.to("d2").pop().unwrap()["data"],
        json!({"id": null, "unreadCount": 0})
    );
}

/// The manual clock: a claim whose holder stalled past the lease is taken
/// over by the next delivery of the event, and its notification is sent.
#[tokio::test]
async fn a_stalled_claim_is_taken_over_after_the_lease() {
    let p = InProcess::new(|_| {});
    connect(&p, "ed", "e1").await;
    let now = p.now();
    let id = shared::ids::NotificationId::new();
    p.store
        .record_notification(&NewNotification {
            claim: EventClaim {
                event_id: "stalled".into(),
                user_id: "ed".into(),
                notification_id: id.clone(),
                created_at: now,
                claimed_at: now,
                dispatched: false,
            },
            kind: shared::event::EventType::OrderCreated,
            notification: None,
        })
        .await
        .unwrap();
    // Within the lease: another invocation is dispatching; retry later.
    p.events
        .send(vec![OutMessage::now(event("stalled", "ed"))])
        .await
        .unwrap();
    assert_eq!(p.settle().await.len(), 1);
    assert!(p.pushes.to("e1").is_empty());
    // Past it: taken over, notified once, under the claimed id.
    p.clock
        .advance(shared::usecases::process::CLAIM_LEASE + Duration::seconds(1));
    p.events
        .send(vec![OutMessage::now(event("stalled", "ed"))])
        .await
        .unwrap();
    assert!(p.settle().await.is_empty());
    let pushed = p.pushes.to("e1");
    assert_eq!(pushed.len(), 1);
    assert_eq!(pushed[0]["data"]["id"], id.as_str());
}

/// Write units the store consumed while `f` ran.
async fn units<F: std::future::Future<Output = ()>>(p: &InProcess, f: F) -> u64 {
    let before = p.capacity.consumed().0;
    f.await;
    p.capacity.consumed().0 - before
}

#[tokio::test]
async fn an_events_write_units_do_not_grow_with_devices_and_a_broadcast_copy_costs_four() {
    let p = InProcess::new(|_| {});
    let mut costs = Vec::new();
    for devices in [1, 2, 5] {
        let user = format!("dev{devices}");
        for d in 0..devices {
            connect(&p, &user, &format!("{user}-c{d}")).await;
        }
        // The first event lists the user (once); the second is the steady cost.
        p.events
            .send(vec![OutMessage::now(event(&format!("{user}-e0"), &user))])
            .await
            .unwrap();
        assert!(p.settle().await.is_empty());
        let cost = units(&p, async {
            p.events
                .send(vec![OutMessage::now(event(&format!("{user}-e1"), &user))])
                .await
                .unwrap();
            assert!(p.settle().await.is_empty());
        })
        .await;
        assert_eq!(p.pushes.to(&format!("{user}-c0")).len(), 2);
        costs.push(cost);
    }
    assert!(
        costs.windows(2).all(|w| w[0] == w[1]),
        "units by devices 1, 2, 5: {costs:?}"
    );

    // A broadcast: each recipient's copy is one 2-item transaction (4 units);
    // beyond that only each page's statistics write.
    let users = 12u64;
    for u in 0..users {
        connect(&p, &format!("b{u}"), &format!("b{u}-c")).await;
    }
    let everyone = users + 3; // and the three users above
    let cost = units(&p, async {
        assert!(p.broadcast("Flash sale", "Now").await.is_empty());
    })
    .await;
    assert_eq!(p.pushes.to("b0-c").len(), 1);
    assert!(
        (4 * everyone..=4 * everyone + u64::from(USER_SHARDS)).contains(&cost),
        "{cost} units for {everyone} recipients"
    );
}

#[tokio::test]
async fn a_page_run_twice_at_once_queues_its_next_page_once() {
    let p = InProcess::new(|c| c.broadcast_page_size = 1);
    // Two users of one directory shard: a page of one user each.
    let shard = shared::ports::user_shard("pa");
    let second = (0..1000)
        .map(|i| format!("pb{i}"))
        .find(|u| shared::ports::user_shard(u) == shard)
        .unwrap();
    p.connect("pa", "pa-c").await;
    p.connect(&second, "pb-c").await;
    let req = shared::usecases::admin::SendRequest::parse(
        br#"{"broadcast":true,"title":"Flash sale","message":"Now"}"#,
        false,
    )
    .unwrap();
    let send_id = format!("adm_{}", shared::ids::new_id());
    let page = shared::usecases::admin::BroadcastPage::first(&send_id, &req.content, shard);
    let worker = p.app.worker();
    let (a, b) = futures::join!(
        shared::usecases::broadcast::process_page(&worker, page.clone()),
        shared::usecases::broadcast::process_page(&worker, page.clone()),
    );
    assert!(a.is_ok() || b.is_ok(), "{a:?} {b:?}");
    let queued: Vec<_> = p
        .events
        .take()
        .into_iter()
        .filter(|m| m.body.contains("\"page\":1"))
        .collect();
    assert_eq!(queued.len(), 1, "the next page, once: {queued:?}");
    // The first user got one copy and one push, whichever run reached them.
    let first = p
        .store
        .notifications_after(&page_user(shard, &second), None, 10)
        .await
        .unwrap();
    assert_eq!(first.items.len(), 1);
}

/// The user the first page of `shard` holds (directory order).
fn page_user(_shard: u32, second: &str) -> String {
    if "USER#pa" < format!("USER#{second}").as_str() {
        "pa".into()
    } else {
        second.into()
    }
}

/// The sender's last attempt (the deliveries queue's maxReceiveCount) makes
/// a temporary failure final: logged so, and the shop hears of it once. A
/// redelivered job logs and notifies once, however often it comes.
#[tokio::test]
async fn the_last_attempt_is_final_and_a_redelivered_job_is_logged_once() {
    use std::sync::Arc;

    use async_trait::async_trait;
    use shared::error::MailError;
    use shared::jobs::DeliveryJob;
    use shared::template::RenderedEmail;
    use shared::testing::MemoryQueue;
    use shared::usecases::deliver::{Attempt, deliver_job};

    struct Down;
    #[async_trait]
    impl Mailer for Down {
        async fn send(
            &self,
            _: &str,
            _: &RenderedEmail,
            _: &MailTags,
        ) -> Result<String, MailError> {
            Err(MailError::Temporary("SES throttled".into()))
        }
    }
    let p = InProcess::new(|_| {});
    let hooks = Arc::new(MemoryQueue::default());
    let app = shared::App::new(
        p.app.config.clone(),
        p.app.store.clone(),
        p.events.clone(),
        p.deliveries.clone(),
        p.pushes.clone(),
        Arc::new(Down),
    )
    .with_webhooks(hooks.clone());
    let id = ulid::Ulid::new().to_string();
    let job = |to: &str| {
        serde_json::from_value::<DeliveryJob>(json!({"channel": "email", "userId": "zed",
            "notificationId": id, "to": to, "subject": "s", "text": "t", "html": "<p>t</p>"}))
        .unwrap()
        .to_body()
    };
    let attempt = |source, number, last| Attempt {
        source: Some(source),
        number,
        last,
        started: chrono::Utc::now(),
    };
    let sender = app.sender();
    let hooks_sent = || -> Vec<serde_json::Value> {
        hooks
            .take()
            .iter()
            .map(|m| serde_json::from_str(&m.body).unwrap())
            .collect()
    };
    // Attempt 1 of 2: retried, logged, the shop not told.
    let r = deliver_job(&sender, &job("zed@example.com"), attempt("m1", 1, false)).await;
    assert!(r.is_err(), "a temporary failure goes back to the queue");
    assert!(hooks_sent().is_empty(), "not final yet");
    // Attempt 2, the queue's last: final, and the shop hears of it.
    let r = deliver_job(&sender, &job("zed@example.com"), attempt("m1", 2, true)).await;
    assert!(r.is_err(), "failed back, so SQS moves it to the DLQ");
    let log = p.store.deliveries("zed", &id).await.unwrap();
    let failed: Vec<_> = log
        .iter()
        .filter(|d| d.status == DeliveryStatus::Failed)
        .collect();
    assert_eq!(failed.len(), 2, "each attempt is an entry: {log:?}");
    assert!(failed[0].reason.as_deref().unwrap().contains("(retrying)"));
    assert!(
        failed[1]
            .reason
            .as_deref()
            .unwrap()
            .contains("the last attempt")
    );
    let sent = hooks_sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["type"], "delivery.failed");

    // A suppressed address: the job is redelivered (say its batch failed
    // elsewhere): one `suppressed` entry, one webhook, the same id.
    p.store
        .suppress(&shared::model::Suppression {
            address: "gone@example.com".into(),
            reason: shared::model::SuppressionReason::Bounce,
            at: chrono::Utc::now(),
            detail: None,
            notification_id: None,
            user_id: Some("zed".into()),
        })
        .await
        .unwrap();
    for _ in 0..2 {
        deliver_job(&sender, &job("gone@example.com"), attempt("m3", 1, false))
            .await
            .unwrap();
    }
    let log = p.store.deliveries("zed", &id).await.unwrap();
    let suppressed = log
        .iter()
        .filter(|d| d.status == DeliveryStatus::Suppressed)
        .count();
    assert_eq!(suppressed, 1, "{log:?}");
    let hooks_sent = hooks.take();
    assert_eq!(
        hooks_sent.len(),
        2,
        "queued at each delivery, as at least once"
    );
    let ids: std::collections::BTreeSet<String> = hooks_sent
        .iter()
        .map(|m| {
            serde_json::from_str::<serde_json::Value>(&m.body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one webhook id: the shop dedupes");
}
