//! The sender and the worker's channel choices: partial failures, retries,
//! preferences, email outcomes, all recorded per channel.

use integration::*;
use serde_json::{Value, json};
use shared::model::{Channel, DeliveryStatus};

async fn pipeline(env: &TestEnv, event: Value) -> String {
    let user = event["userId"].as_str().unwrap().to_owned();
    let id = event["id"].as_str().unwrap().to_owned();
    assert_eq!(env.post_event(&event).await.status_code, 202);
    let (_, r) = env.run_worker().await;
    assert!(r.batch_item_failures.is_empty(), "{r:?}");
    let claim_id = env
        .app
        .store
        .notifications_after(&user, None, 100)
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|n| n.event_id == id)
        .map(|n| n.id.to_string());
    claim_id.unwrap_or_default()
}

fn jobs(batch: &aws_lambda_events::sqs::SqsEvent) -> Vec<Value> {
    batch
        .records
        .iter()
        .map(|r| serde_json::from_str(r.body.as_deref().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn a_throttled_device_is_retried_alone_and_nobody_gets_it_twice() {
    let env = TestEnv::new().await;
    for c in ["a1", "a2", "a3"] {
        env.connect("alice", c).await;
    }
    env.mgmt.fail("a2", Fault::Throttled);
    let id = pipeline(&env, order_event("evt_t1", "alice")).await;
    let (_, r) = env.run_sender().await;
    assert!(
        r.batch_item_failures.is_empty(),
        "partial success is not a failed job: {r:?}"
    );
    assert_eq!(env.mgmt.posts_to("a1").len(), 1);
    assert_eq!(env.mgmt.posts_to("a3").len(), 1);
    assert!(env.mgmt.posts_to("a2").is_empty());

    // A follow-up job for a2 only.
    env.mgmt.heal("a2");
    let follow = wait_for(
        "a follow-up job for a2",
        std::time::Duration::from_secs(10),
        || async {
            let (batch, r) = env.run_sender().await;
            assert!(r.batch_item_failures.is_empty());
            let follow = jobs(&batch);
            (!follow.is_empty()).then_some(follow)
        },
    )
    .await;
    assert_eq!(follow.len(), 1, "{follow:?}");
    assert_eq!(follow[0]["connectionIds"], json!(["a2"]));
    for c in ["a1", "a2", "a3"] {
        assert_eq!(env.mgmt.posts_to(c).len(), 1, "{c}");
        assert_eq!(env.mgmt.posts_to(c)[0]["data"]["id"], id.as_str());
    }
    let rec = env
        .app
        .store
        .delivery("alice", &id, Channel::InApp)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, DeliveryStatus::Delivered);
}

#[tokio::test]
async fn when_every_push_fails_the_job_fails_and_a_retry_delivers() {
    let env = TestEnv::new().await;
    env.connect("alice", "a1").await;
    env.mgmt.fail("a1", Fault::ServerError);
    let id = pipeline(&env, order_event("evt_5xx", "alice")).await;
    let (batch, r) = env.run_sender().await;
    let inapp = batch
        .records
        .iter()
        .find(|m| m.body.as_deref().unwrap().contains("\"in_app\""))
        .unwrap();
    let failed: Vec<&str> = r
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, [inapp.message_id.as_deref().unwrap()]);
    let rec = env
        .app
        .store
        .delivery("alice", &id, Channel::InApp)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, DeliveryStatus::Failed);
    assert!(rec.reason.unwrap().contains("a1"));

    env.mgmt.heal("a1");
    let (_, r) = env.run_sender().await;
    assert!(r.batch_item_failures.is_empty());
    assert_eq!(env.mgmt.posts_to("a1").len(), 1);
    let rec = env
        .app
        .store
        .delivery("alice", &id, Channel::InApp)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, DeliveryStatus::Delivered);
}

#[tokio::test]
async fn an_offline_user_is_skipped_and_keeps_the_notification() {
    let env = TestEnv::new().await;
    let id = pipeline(&env, order_event("evt_off", "olga")).await;
    let (_, r) = env.run_sender().await;
    assert!(r.batch_item_failures.is_empty());
    let rec = env
        .app
        .store
        .delivery("olga", &id, Channel::InApp)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, DeliveryStatus::Skipped);
    assert_eq!(env.app.store.unread_count("olga").await.unwrap(), 1);
}

#[tokio::test]
async fn preferences_choose_the_channels_and_the_address() {
    let env = TestEnv::new().await;
    env.connect("pat", "p1").await;
    let prefs = shared::preferences::Preferences::parse_update(
        br#"{"email":"pat@example.com","channels":{"order":{"in_app":false},"payment":{"email":false}}}"#,
    )
    .unwrap();
    env.app.store.put_preferences("pat", &prefs).await.unwrap();

    // Orders: no inbox entry, no push, but an email to the stored address.
    pipeline(&env, order_event("evt_p1", "pat")).await;
    let (batch, _) = env.run_sender().await;
    let j = jobs(&batch);
    assert_eq!(j.len(), 1);
    assert_eq!(j[0]["channel"], "email");
    assert_eq!(j[0]["to"], "pat@example.com");
    assert!(
        env.app
            .store
            .notifications_after("pat", None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(env.mgmt.posts_to("p1").is_empty());

    // Payments: in-app only.
    let mut pay = order_event("evt_p2", "pat");
    pay["type"] = "payment.failed".into();
    pay["data"] = json!({"orderId":"o_7","reason":"card declined"});
    let id = pipeline(&env, pay).await;
    let (batch, _) = env.run_sender().await;
    assert_eq!(
        jobs(&batch)
            .iter()
            .map(|j| j["channel"].clone())
            .collect::<Vec<_>>(),
        [json!("in_app")]
    );
    let pushed = &env.mgmt.posts_to("p1")[0]["data"];
    assert_eq!(pushed["id"], id.as_str());
    assert_eq!(pushed["priority"], "high");
    assert_eq!(pushed["title"], "Payment failed for order o_7");
}

#[tokio::test]
async fn without_an_address_email_is_skipped_and_recorded() {
    let env = TestEnv::new().await;
    let id = pipeline(&env, order_event("evt_noaddr", "nina")).await;
    let (batch, _) = env.run_sender().await;
    assert_eq!(jobs(&batch).len(), 1, "only the in-app job");
    let rec = env
        .app
        .store
        .delivery("nina", &id, Channel::Email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, DeliveryStatus::Skipped);
    assert!(rec.reason.unwrap().contains("no email address"));
}

#[tokio::test]
async fn a_rejected_email_is_recorded_and_not_retried() {
    // moto refuses to send from an identity that was never verified.
    let env = TestEnv::with(|c| c.email_from = Some("nobody@unverified.example".into())).await;
    let mut event = order_event("evt_rej", "rita");
    event["recipient"] = json!({"email":"rita@example.com"});
    let id = pipeline(&env, event).await;
    let (_, r) = env.run_sender().await;
    assert!(
        r.batch_item_failures.is_empty(),
        "a permanent rejection must not loop: {r:?}"
    );
    let rec = env
        .app
        .store
        .delivery("rita", &id, Channel::Email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, DeliveryStatus::Rejected);
    assert!(rec.reason.is_some());
}

#[tokio::test]
async fn a_malformed_job_fails_alone() {
    let env = TestEnv::new().await;
    env.app
        .deliveries
        .send(vec![shared::ports::OutMessage::now(
            "{\"channel\":\"pigeon\"}".into(),
        )])
        .await
        .unwrap();
    let (batch, r) = env.run_sender().await;
    assert_eq!(batch.records.len(), 1);
    assert_eq!(r.batch_item_failures.len(), 1);
}
