//! The SMS channel over SNS on moto, and the admin console's routes:
//! template previews with SMS lengths, the dead-letter view and its redrive.

use integration::*;
use serde_json::json;
use shared::model::{Channel, DeliveryStatus};
use shared::ports::OutMessage;

fn sms_in_moto() -> Vec<(String, String)> {
    moto_data()["sns"]["SMS"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["phone_number"].as_str().unwrap_or_default().to_owned(),
                m["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_opted_in_user_gets_an_sms_through_sns() {
    let env = TestEnv::new().await;
    let t = env.token("sia");
    let (s, b) = env
        .api(
            "PUT",
            "/preferences",
            Some(&t),
            Some(json!({"phone": "+4915112345678", "channels": {"payment": {"sms": true}}})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["channels"]["payment"]["sms"], true);
    assert_eq!(b["channels"]["order"]["sms"], false, "SMS is opt-in");
    let mut e = order_event("evt_sms_1", "sia");
    e["type"] = "payment.failed".into();
    e["data"] = json!({"orderId": "o_55", "reason": "card declined"});
    assert_eq!(env.post_event(&e).await.status_code, 202);
    env.settle().await;
    let sent = sms_in_moto();
    assert!(
        sent.iter().any(|(to, text)| to == "+4915112345678"
            && text == "Payment for order o_55 failed: card declined. Please retry."),
        "{sent:?}"
    );
    let id = env
        .app
        .store
        .notifications_after("sia", None, 1)
        .await
        .unwrap()
        .items[0]
        .id
        .clone();
    assert_eq!(
        env.app
            .store
            .delivery("sia", &id, Channel::Sms)
            .await
            .unwrap()
            .unwrap()
            .status,
        DeliveryStatus::Sent
    );
    // Orders are not opted in: no SMS for them. (Counted for this number
    // only: other tests share the moto server.)
    let to_sia = || {
        sms_in_moto()
            .into_iter()
            .filter(|(to, _)| to == "+4915112345678")
            .count()
    };
    let before = to_sia();
    assert_eq!(
        env.post_event(&order_event("evt_sms_2", "sia"))
            .await
            .status_code,
        202
    );
    env.settle().await;
    assert_eq!(to_sia(), before);
}

#[tokio::test]
async fn phone_numbers_are_checked_and_a_missing_one_is_recorded_as_skipped() {
    let env = TestEnv::new().await;
    let mut bad = order_event("evt_sms_bad", "tom");
    bad["recipient"] = json!({"phone": "0151 1234"});
    let resp = env.post_event(&bad).await;
    assert_eq!(resp.status_code, 400);
    let t = env.token("tom");
    let (s, b) = env
        .api(
            "PUT",
            "/preferences",
            Some(&t),
            Some(json!({"phone": "12345"})),
        )
        .await;
    assert_eq!((s, b["error"]["field"].as_str()), (400, Some("phone")));
    env.api(
        "PUT",
        "/preferences",
        Some(&t),
        Some(json!({"channels": {"order": {"sms": true}}})),
    )
    .await;
    assert_eq!(
        env.post_event(&order_event("evt_sms_none", "tom"))
            .await
            .status_code,
        202
    );
    env.settle().await;
    let id = env
        .app
        .store
        .notifications_after("tom", None, 1)
        .await
        .unwrap()
        .items[0]
        .id
        .clone();
    let rec = env
        .app
        .store
        .delivery("tom", &id, Channel::Sms)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, DeliveryStatus::Skipped);
    assert!(rec.reason.unwrap().contains("no phone number"));
}

#[tokio::test]
async fn templates_show_sms_lengths_and_previews_check_without_saving() {
    let env = TestEnv::new().await;
    let admin = env.admin_token("root");
    let (_, b) = env.api("GET", "/admin/templates", Some(&admin), None).await;
    let sms = b["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "order.created" && t["channel"] == "sms")
        .unwrap()
        .clone();
    assert_eq!(
        sms["preview"]["text"],
        "Order o_1042 confirmed (49.90 EUR). Thank you!"
    );
    assert_eq!(sms["preview"]["length"]["encoding"], "GSM-7");
    assert_eq!(sms["preview"]["length"]["segments"], 1);

    let path = "/admin/templates/order.created/sms/preview";
    let (s, b) = env
        .api(
            "POST",
            path,
            Some(&admin),
            Some(json!({"text": "Ваш заказ {{ orderId }} подтверждён"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["rendered"]["text"], "Ваш заказ o_1042 подтверждён");
    assert_eq!(b["rendered"]["length"]["encoding"], "UCS-2");
    let (s, b) = env
        .api(
            "POST",
            path,
            Some(&admin),
            Some(json!({"text": "x".repeat(700)})),
        )
        .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (400, Some("text")),
        "{b}"
    );
    let (s, b) = env
        .api(
            "POST",
            "/admin/templates/order.created/in_app/preview",
            Some(&admin),
            Some(json!({"title": "New: {{ orderId }}", "message": "{{ total }}"})),
        )
        .await;
    assert_eq!(
        (s, b["rendered"]["title"].as_str()),
        (200, Some("New: o_1042"))
    );
    // Nothing was saved.
    let (_, b) = env.api("GET", "/admin/templates", Some(&admin), None).await;
    assert!(
        b["templates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["override"] == false)
    );
    assert_eq!(
        env.api(
            "POST",
            path,
            Some(&env.token("eve")),
            Some(json!({"text": "x"}))
        )
        .await
        .0,
        403
    );
}

#[tokio::test]
async fn dead_letters_are_listed_and_redriven_to_their_queue() {
    let env = TestEnv::new().await;
    let admin = env.admin_token("root");
    env.app
        .events
        .send(vec![OutMessage::now(
            r#"{"id":"evt_dead","type":"order.created"}"#.into(),
        )])
        .await
        .unwrap();
    for _ in 0..(MAX_RECEIVES + 1) {
        env.run_worker().await;
    }
    let (s, b) = env
        .api("GET", "/admin/dead-letters", Some(&admin), None)
        .await;
    assert_eq!(s, 200, "{b}");
    let events = b["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "events")
        .unwrap()
        .clone();
    assert_eq!(events["count"], 1, "{b}");
    assert!(
        events["messages"][0]["body"]
            .as_str()
            .unwrap()
            .contains("evt_dead")
    );
    // Peeking does not consume.
    let (_, again) = env
        .api("GET", "/admin/dead-letters", Some(&admin), None)
        .await;
    assert_eq!(again["queues"][0]["count"], 1);

    let (s, b) = env
        .api(
            "POST",
            "/admin/dead-letters/events/redrive",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(
        b["moved"], 1,
        "moto lacks StartMessageMoveTask: moved by hand"
    );
    assert_eq!(env.queue_depth(&env.events.dlq_url).await, 0);
    let back = env.receive(&env.events.url).await;
    assert!(
        back.records[0]
            .body
            .as_deref()
            .unwrap()
            .contains("evt_dead")
    );
    assert_eq!(
        env.api(
            "POST",
            "/admin/dead-letters/nowhere/redrive",
            Some(&admin),
            None
        )
        .await
        .0,
        404
    );
}
