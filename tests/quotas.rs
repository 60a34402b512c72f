//! The local stack's `--aws-quotas`: each AWS limit answered as AWS answers it.

use std::sync::Arc;
use std::time::Duration;

use integration::client::{Client, http, try_http};
use integration::stack::{start_with, temp_dir, token};
use shared::adapters::embedded::Embedded;
use shared::adapters::embedded::capacity::Capacity;
use shared::error::{PushError, StoreError};
use shared::ports::*;

#[tokio::test]
async fn the_management_api_throttles_past_the_account_rate_with_429() {
    // 10,000 requests/s x 0.01 = 100/s, burst 50.
    let stack = start_with(temp_dir("quota-mgmt"), |o| o.quota_scale = Some(0.01)).await;
    let ws = stack.ws_addr;
    let posts = (0..120).map(|_| async move {
        try_http(ws, "POST", "/local/@connections/nobody", &[], Some("{}"))
            .await
            .unwrap()
    });
    let answers = futures::future::join_all(posts).await;
    let throttled = answers.iter().filter(|(s, _)| *s == 429).count();
    let gone = answers.iter().filter(|(s, _)| *s == 410).count();
    assert_eq!(throttled + gone, 120, "{answers:?}");
    assert!(
        (50..=69).contains(&gone),
        "a burst of 50 (and what refilled meanwhile) gets through, got {gone}"
    );
    assert!(answers.iter().any(|(_, b)| b.contains("Too Many Requests")));
    // The SDK adapter (signed calls to the management API) and the stack's
    // own direct path both see API Gateway's throttle as one.
    let sdk_pusher = shared::adapters::apigw::ApiGatewayPusher::new(
        &integration::sdk_config(&format!("http://{ws}")),
        Some(&format!("http://{ws}/local")),
    );
    let pushers: [&dyn Pusher; 2] = [&sdk_pusher, stack.app.pusher.as_ref()];
    for pusher in pushers {
        let mut seen_throttle = false;
        for _ in 0..200 {
            match pusher.post("nobody", b"{}").await {
                Err(PushError::Throttled(_)) => {
                    seen_throttle = true;
                    break;
                }
                Err(PushError::Gone) => continue,
                other => panic!("{other:?}"),
            }
        }
        assert!(seen_throttle, "the pusher never reported Throttled");
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (s, _) = http(ws, "POST", "/local/@connections/nobody", &[], Some("{}")).await;
    assert_eq!(s, 410, "the rate refills");
    let (s, q) = http(stack.http_addr, "GET", "/dev/quotas", &[], None).await;
    assert_eq!(s, 200);
    assert!(
        q["throttled"]["managementApi"].as_u64().unwrap() >= 51,
        "{q}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn client_messages_pings_included_count_against_the_account_rate() {
    // 100 requests/s, burst 50: the connect takes one, pings the rest.
    let stack = start_with(temp_dir("quota-messages"), |o| o.quota_scale = Some(0.01)).await;
    let t = token(&stack, "alice").await;
    let mut c = Client::connect(&stack.ws_url(), &t).await.unwrap();
    for _ in 0..80 {
        c.send(&serde_json::json!({"action": "ping"})).await;
    }
    let (mut pongs, mut refused) = (0, 0);
    for _ in 0..80 {
        let e = c.next_event(5).await;
        if e["event"] == "pong" {
            pongs += 1;
        } else if e["message"] == "Too Many Requests" {
            refused += 1;
        } else {
            panic!("{e}");
        }
    }
    assert!((49..=60).contains(&pongs), "{pongs} pongs");
    assert_eq!(pongs + refused, 80);
    stack.stop().await;
}

#[tokio::test]
async fn new_connections_past_the_rate_are_refused_at_the_handshake() {
    // 500 new connections/s x 0.01 = 5/s.
    let stack = start_with(temp_dir("quota-connect"), |o| o.quota_scale = Some(0.01)).await;
    let t = token(&stack, "alice").await;
    let url = stack.ws_url();
    let tries = (0..12).map(|_| Client::connect(&url, &t));
    let results = futures::future::join_all(tries).await;
    let refused: Vec<_> = results
        .iter()
        .filter_map(|r| match r {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Some(resp.status().as_u16()),
            Err(e) => panic!("{e}"),
            Ok(_) => None,
        })
        .collect();
    assert!(refused.len() >= 6, "{refused:?}");
    assert!(refused.iter().all(|s| *s == 429), "{refused:?}");
    assert!(results.iter().filter(|r| r.is_ok()).count() >= 5);
    let (_, q) = http(stack.http_addr, "GET", "/dev/quotas", &[], None).await;
    assert_eq!(
        q["throttled"]["newConnections"].as_u64().unwrap(),
        refused.len() as u64
    );
    // The mappings' MaximumConcurrency, scaled, never below AWS's minimum of 2.
    assert_eq!(q["concurrency"]["events"], 2);
    assert_eq!(q["concurrency"]["broadcast"], 2);
    assert_eq!(q["concurrency"]["deliveries"], 2);
    stack.stop().await;
}

/// A store on its own database with DynamoDB's limits times `scale` and a
/// table at `table_wru` write units a second.
fn metered(
    name: &str,
    scale: f64,
    table_wru: f64,
) -> (Arc<Capacity>, impl Store, integration::TestDir) {
    let dir = temp_dir(name);
    let db = Embedded::open(dir.path()).unwrap();
    let cap = db.enforce_capacity(Capacity::new(scale, table_wru, 12_000.0));
    (cap, db.store(), dir)
}

#[tokio::test]
async fn dynamodb_units_are_metered_as_aws_counts_them() {
    let (cap, store, _dir) = metered("quota-units", 1.0, 40_000.0);
    let before = cap.consumed();
    store.list_user("u1").await.unwrap(); // one small item
    assert_eq!(cap.consumed().0 - before.0, 1);
    let before = cap.consumed();
    // Preferences and the directory entry in one transaction: 2 items x 2.
    store
        .put_preferences("u2", &Default::default())
        .await
        .unwrap();
    assert_eq!(cap.consumed().0 - before.0, 4);
    let before = cap.consumed();
    store.unread_count("u2").await.unwrap();
    assert_eq!(
        cap.consumed().1 - before.1,
        1,
        "a read up to 4 KB is one unit"
    );
}

#[tokio::test]
async fn a_hot_partition_key_is_throttled_and_other_keys_are_not() {
    // 1,000 WRU/s per key x 0.01 = 10/s; the table is far above.
    let (cap, store, _dir) = metered("quota-hot", 0.01, 4_000_000.0);
    let store = Arc::new(store);
    // Distinct items of one partition key (no transaction, so no conflict).
    let writes = (0..40).map(|i| {
        let store = store.clone();
        async move { store.record_delivery(&delivery("hot", i)).await }
    });
    let results = futures::future::join_all(writes).await;
    let throttled = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Throttled(m)) if m.contains("ProvisionedThroughputExceeded")))
        .count();
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(StoreError::Throttled(_)))),
        "{results:?}"
    );
    assert!(
        throttled > 0,
        "40 writes on one key at 10 WRU/s must throttle"
    );
    assert!(
        results.iter().filter(|r| r.is_ok()).count() >= 10,
        "the burst gets through"
    );
    assert!(cap.throttles().partition_writes > 0);
    // Another key is served at once.
    store.record_delivery(&delivery("cold", 0)).await.unwrap();
}

fn delivery(user: &str, i: u32) -> shared::model::DeliveryRecord {
    shared::model::DeliveryRecord {
        user_id: user.into(),
        notification_id: format!("01JD{i:022}"),
        channel: shared::model::Channel::Email,
        status: shared::model::DeliveryStatus::Delivered,
        reason: None,
        detail: None,
        provider_message_id: None,
        at: chrono::Utc::now(),
        source: None,
    }
}

#[tokio::test]
async fn the_tables_throughput_throttles_writes_spread_over_keys() {
    let (cap, store, _dir) = metered("quota-table", 1.0, 20.0);
    let store = Arc::new(store);
    let writes = (0..60).map(|i| {
        let store = store.clone();
        async move {
            store
                .put_preferences(&format!("u{i}"), &Default::default())
                .await
        }
    });
    let results = futures::future::join_all(writes).await;
    assert!(
        results.iter().any(
            |r| matches!(r, Err(StoreError::Throttled(m)) if m.contains("ThrottlingException"))
        ),
        "240 WRU over many keys at a 20 WRU/s table must throttle"
    );
    assert!(cap.throttles().table_writes > 0);
    assert_eq!(cap.throttles().partition_writes, 0);
}
