//! The order-events function: authentication, validation, and queueing on moto SQS.

use base64::Engine;
use integration::*;
use serde_json::{Value, json};

fn body_json(resp: &aws_lambda_events::apigw::ApiGatewayV2httpResponse) -> Value {
    match resp.body.as_ref().unwrap() {
        aws_lambda_events::encodings::Body::Text(t) => serde_json::from_str(t).unwrap(),
        other => panic!("unexpected body {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_event_is_queued_and_answered_202() {
    let env = TestEnv::new().await;
    let resp = env.post_event(&order_event("evt_ok", "u_42")).await;
    assert_eq!(resp.status_code, 202);
    assert_eq!(body_json(&resp), json!({"id":"evt_ok","status":"accepted"}));
    let got = env.receive(&env.events.url).await;
    assert_eq!(got.records.len(), 1);
    let queued: Value = serde_json::from_str(got.records[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(queued["userId"], "u_42");
    assert_eq!(queued["data"]["total"], "49.90");
}

#[tokio::test]
async fn a_base64_body_is_decoded() {
    let env = TestEnv::new().await;
    let raw = order_event("evt_b64", "u_1").to_string();
    let mut req = http_post(
        "/events",
        &base64::engine::general_purpose::STANDARD.encode(raw),
        Some(API_KEY),
    );
    req.is_base64_encoded = true;
    let resp = shared::handlers::order_events::handle(&env.app, req).await;
    assert_eq!(resp.status_code, 202);
}

#[tokio::test]
async fn bad_requests_are_refused_with_the_field_and_nothing_is_queued() {
    let env = TestEnv::new().await;
    let mut missing_user = order_event("e", "u");
    missing_user.as_object_mut().unwrap().remove("userId");
    let mut unknown_type = order_event("e", "u");
    unknown_type["type"] = "order.teleported".into();
    let mut no_status = order_event("e", "u");
    no_status["type"] = "order.status_changed".into();
    let cases: Vec<(String, Option<&str>, i64, Option<&str>)> = vec![
        (order_event("e", "u").to_string(), None, 401, None),
        (
            order_event("e", "u").to_string(),
            Some("wrong-key"),
            401,
            None,
        ),
        (
            order_event("e", "u").to_string(),
            Some(&API_KEY[..API_KEY.len() - 1]),
            401,
            None,
        ),
        ("{not json".into(), Some(API_KEY), 400, Some("body")),
        (missing_user.to_string(), Some(API_KEY), 400, Some("userId")),
        (unknown_type.to_string(), Some(API_KEY), 400, Some("type")),
        (
            no_status.to_string(),
            Some(API_KEY),
            400,
            Some("data.status"),
        ),
        ("x".repeat(40_000), Some(API_KEY), 413, Some("body")),
    ];
    for (body, key, status, field) in cases {
        let resp =
            shared::handlers::order_events::handle(&env.app, http_post("/events", &body, key))
                .await;
        assert_eq!(resp.status_code, status, "{}", &body[..body.len().min(80)]);
        let b = body_json(&resp);
        assert!(
            b["error"]["code"].is_string() && b["error"]["message"].is_string(),
            "{b}"
        );
        if let Some(f) = field {
            assert_eq!(b["error"]["field"], f, "{b}");
        }
    }
    let mut get = http_post("/events", "", Some(API_KEY));
    get.request_context.http.method = aws_lambda_events::http::Method::GET;
    assert_eq!(
        shared::handlers::order_events::handle(&env.app, get)
            .await
            .status_code,
        405
    );
    assert_eq!(env.queue_depth(&env.events.url).await, 0);
}

#[tokio::test]
async fn a_queue_outage_is_a_503_so_the_shop_retries() {
    let env = TestEnv::with(|c| {
        c.events_queue_url = Some(format!("{}/123456789012/no-such-queue", moto().endpoint()))
    })
    .await;
    let resp = env.post_event(&order_event("evt_down", "u_1")).await;
    assert_eq!(resp.status_code, 503);
    assert_eq!(body_json(&resp)["error"]["code"], "unavailable");
}

#[tokio::test]
async fn without_a_configured_key_every_event_is_refused() {
    let env = TestEnv::with(|c| c.events_api_key = None).await;
    let resp = env.post_event(&order_event("evt_nokey", "u_1")).await;
    assert_eq!(resp.status_code, 500);
    assert_eq!(env.queue_depth(&env.events.url).await, 0);
}
