//! The whole pipeline over the real AWS wire protocols: POST /events ->
//! order-events -> SQS (moto) -> worker -> SQS -> sender -> management API
//! and SES (moto), with DynamoDB (moto) underneath.

use std::time::Duration;

use integration::*;
use serde_json::{Value, json};

#[tokio::test]
async fn an_order_event_reaches_every_device_of_its_user_and_their_mailbox() {
    let env = TestEnv::new().await;
    for c in ["alice-laptop", "alice-phone", "alice-tablet", "alice-stale"] {
        env.connect("alice", c).await;
    }
    env.connect("bob", "bob-phone").await;
    // API Gateway's $disconnect is best effort: this row outlived its socket.
    env.mgmt.fail("alice-stale", Fault::Gone);

    let mut event = order_event("evt_pipeline_1", "alice");
    event["recipient"] = json!({"email": "alice@example.com"});
    let resp = env.post_event(&event).await;
    assert_eq!(resp.status_code, 202);

    // The event really is on the SQS queue, in the contract's shape.
    let (batch, result) = env.run_worker().await;
    assert_eq!(batch.records.len(), 1);
    let queued: Value = serde_json::from_str(batch.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(queued["id"], "evt_pipeline_1");
    assert!(result.batch_item_failures.is_empty(), "{result:?}");

    // One job per enabled channel on the deliveries queue.
    let (jobs, result) = env.run_sender().await;
    let mut channels: Vec<String> = jobs
        .records
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(r.body.as_deref().unwrap()).unwrap()["channel"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    channels.sort();
    assert_eq!(channels, ["email", "in_app"]);
    assert!(result.batch_item_failures.is_empty(), "{result:?}");

    for device in ["alice-laptop", "alice-phone", "alice-tablet"] {
        let got = env.mgmt.posts_to(device);
        assert_eq!(got.len(), 1, "{device}: {got:?}");
        assert_eq!(got[0]["event"], "notification:new");
        let data = &got[0]["data"];
        for field in [
            "id",
            "type",
            "title",
            "message",
            "priority",
            "actionUrl",
            "actionText",
            "createdAt",
        ] {
            assert!(!data[field].is_null(), "{device} misses {field}: {data}");
        }
        assert_eq!(data["type"], "order.created");
        assert_eq!(data["title"], "Order o_1 confirmed");
        assert_eq!(data["read"], false);
    }
    assert!(
        env.mgmt.posts_to("bob-phone").is_empty(),
        "bob got alice's notification"
    );

    // The 410 connection is dropped, and only that one.
    let mut left: Vec<String> = env
        .app
        .store
        .connections_of("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.connection_id)
        .collect();
    left.sort();
    assert_eq!(left, ["alice-laptop", "alice-phone", "alice-tablet"]);
    assert_eq!(
        env.app.store.connection_owner("alice-stale").await.unwrap(),
        None
    );
    assert_eq!(env.app.store.connections_of("bob").await.unwrap().len(), 1);

    // The email went out through SES v2 (moto keeps it).
    let data = moto_data();
    let sent = data.to_string();
    assert!(
        sent.contains("alice@example.com"),
        "no email to alice in moto: {}",
        &sent[..sent.len().min(2000)]
    );
    assert!(sent.contains("Your order o_1 is confirmed"));

    // Stored first, with unread count and delivery statuses.
    let page = env
        .app
        .store
        .notifications_after("alice", None, 10)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let id = &page.items[0].id;
    assert_eq!(env.app.store.unread_count("alice").await.unwrap(), 1);
    let dlv = env
        .app
        .store
        .delivery("alice", id, shared::model::Channel::InApp)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dlv.status, shared::model::DeliveryStatus::Delivered);
    let dlv = env
        .app
        .store
        .delivery("alice", id, shared::model::Channel::Email)
        .await
        .unwrap()
        .unwrap();
    // Accepted by SES (moto): what comes after is SES's feedback.
    assert_eq!(dlv.status, shared::model::DeliveryStatus::Sent);
    assert!(dlv.provider_message_id.is_some(), "{dlv:?}");
}

#[tokio::test]
async fn the_same_event_twice_gives_one_notification_and_one_push() {
    let env = TestEnv::new().await;
    env.connect("carol", "carol-1").await;
    let event = order_event("evt_dup", "carol");
    assert_eq!(env.post_event(&event).await.status_code, 202);
    assert_eq!(env.post_event(&event).await.status_code, 202);
    // Both copies in one batch, and a third in a later one.
    let (batch, result) = env.run_worker().await;
    assert_eq!(batch.records.len(), 2);
    assert!(result.batch_item_failures.len() <= 1, "{result:?}");
    // A copy that raced the first one is retried; by then it is a plain duplicate.
    wait_until(
        "the events queue to drain",
        Duration::from_secs(30),
        || async {
            let (batch, result) = env.run_worker().await;
            assert!(result.batch_item_failures.is_empty(), "{result:?}");
            batch.records.is_empty()
        },
    )
    .await;
    assert_eq!(env.post_event(&event).await.status_code, 202);
    let (batch, result) = env.run_worker().await;
    assert_eq!(batch.records.len(), 1);
    assert!(result.batch_item_failures.is_empty());

    wait_until(
        "the deliveries queue to drain",
        Duration::from_secs(30),
        || async { env.run_sender().await.0.records.is_empty() },
    )
    .await;
    assert_eq!(
        env.app
            .store
            .notifications_after("carol", None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(env.app.store.unread_count("carol").await.unwrap(), 1);
    assert_eq!(env.mgmt.posts_to("carol-1").len(), 1);
}

/// Puts these bodies on the events queue as they are (order-events' output).
async fn enqueue(env: &TestEnv, bodies: Vec<String>) {
    let messages = bodies.into_iter().map(shared::ports::OutMessage::now);
    env.app.events.send(messages.collect()).await.unwrap();
}

#[tokio::test]
async fn one_poison_message_in_a_batch_of_ten_fails_alone_and_reaches_the_dlq() {
    let env = TestEnv::new().await;
    let bodies: Vec<String> = (0..10)
        .map(|i| {
            if i == 4 {
                r#"{"id":"evt_bad","type":"order.created"}"#.to_owned()
            } else {
                order_event(&format!("evt_batch_{i}"), "dave").to_string()
            }
        })
        .collect();
    enqueue(&env, bodies).await;

    let (batch, result) = env.run_worker().await;
    assert_eq!(batch.records.len(), 10);
    let poison_id = batch
        .records
        .iter()
        .find(|r| r.body.as_deref().unwrap().contains("evt_bad"))
        .unwrap()
        .message_id
        .clone()
        .unwrap();
    let failed: Vec<&str> = result
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, [poison_id.as_str()]);
    assert_eq!(
        env.app
            .store
            .notifications_after("dave", None, 20)
            .await
            .unwrap()
            .items
            .len(),
        9
    );

    // Retried until maxReceiveCount, then SQS moves it to the dead-letter queue.
    for _ in 0..MAX_RECEIVES + 1 {
        env.run_worker().await;
    }
    assert_eq!(env.queue_depth(&env.events.url).await, 0);
    let dlq = env.receive(&env.events.dlq_url).await;
    assert_eq!(dlq.records.len(), 1);
    assert!(dlq.records[0].body.as_deref().unwrap().contains("evt_bad"));
}

/// Counts the calls the worker makes of the deliveries queue (SQS on moto).
struct CountingQueue {
    inner: std::sync::Arc<dyn shared::ports::Queue>,
    calls: std::sync::Mutex<Vec<usize>>,
}

#[async_trait::async_trait]
impl shared::ports::Queue for CountingQueue {
    async fn send(
        &self,
        messages: Vec<shared::ports::OutMessage>,
    ) -> Result<(), shared::error::QueueError> {
        self.calls.lock().unwrap().push(messages.len());
        self.inner.send(messages).await
    }
}

#[tokio::test]
async fn the_jobs_of_a_batch_of_ten_events_share_sqs_calls_and_all_are_delivered() {
    // As deployed: the ten records of a batch at once. (The other moto tests
    // run one at a time; these events never conflict.)
    let env = TestEnv::with(|c| c.batch_concurrency = 10).await;
    let users: Vec<String> = (0..10).map(|i| format!("coalesce-{i}")).collect();
    for u in &users {
        env.connect(u, &format!("{u}-tab")).await;
    }
    let bodies: Vec<String> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let mut e = order_event(&format!("evt_coalesce_{i}"), u);
            e["recipient"] = json!({"email": format!("{u}@example.com")});
            let e = shared::event::BusinessEvent::parse_public(e.to_string().as_bytes()).unwrap();
            serde_json::to_string(&e).unwrap()
        })
        .collect();
    enqueue(&env, bodies).await;

    let mut app = shared::adapters::aws::aws_app(env.config.clone(), &env.sdk);
    let counting = std::sync::Arc::new(CountingQueue {
        inner: app.deliveries.clone(),
        calls: Default::default(),
    });
    app.deliveries = counting.clone();
    let batch = env.receive(&env.events.url).await;
    assert_eq!(batch.records.len(), 10);
    let result = shared::handlers::worker::handle(&app, batch.clone()).await;
    env.ack(&env.events.url, &batch, &result).await;
    assert!(result.batch_item_failures.is_empty(), "{result:?}");

    // Twenty jobs (in-app and email of each event), at most ten per call,
    // in fewer calls than one per record.
    let calls = counting.calls.lock().unwrap().clone();
    assert_eq!(calls.iter().sum::<usize>(), 20, "{calls:?}");
    assert!(calls.iter().all(|&n| n <= 10), "{calls:?}");
    assert!(calls.len() < 10, "one call per record: {calls:?}");

    // And each reached its user: one push per tab, an email to each address.
    while !env.run_sender().await.0.records.is_empty() {}
    let sent = moto_data().to_string();
    for u in &users {
        let posts = env.mgmt.posts_to(&format!("{u}-tab"));
        assert_eq!(posts.len(), 1, "{u}: {posts:?}");
        assert!(
            sent.contains(&format!("{u}@example.com")),
            "no email to {u}"
        );
    }
}
