//! The WebSocket functions ($connect, $disconnect, $default) with the store on moto.

use aws_lambda_events::http::HeaderValue;
use integration::*;
use serde_json::{Value, json};
use shared::auth::{Claims, sign_hs256};

async fn notify(env: &TestEnv, event_id: &str, user: &str) -> String {
    assert_eq!(
        env.post_event(&order_event(event_id, user))
            .await
            .status_code,
        202
    );
    env.run_worker().await;
    env.run_sender().await;
    let page = env
        .app
        .store
        .notifications_after(user, None, 100)
        .await
        .unwrap();
    page.items
        .iter()
        .find(|n| n.event_id == event_id)
        .unwrap()
        .id
        .to_string()
}

fn last(env: &TestEnv, conn: &str) -> Value {
    env.mgmt
        .posts_to(conn)
        .pop()
        .unwrap_or_else(|| panic!("nothing pushed to {conn}"))
}

#[tokio::test]
async fn connect_accepts_a_token_in_the_query_or_the_subprotocol() {
    let env = TestEnv::new().await;
    let resp = env.connect("alice", "c-query").await;
    assert!(resp.headers.get("sec-websocket-protocol").is_none());

    let mut req = ws_request("c-proto", "$connect", None);
    req.headers.insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(&format!("notify, {}", env.token("alice"))).unwrap(),
    );
    let resp = shared::handlers::ws_connect::handle(&env.app, req).await;
    assert_eq!(resp.status_code, 200);
    assert_eq!(
        resp.headers.get("sec-websocket-protocol").unwrap(),
        "notify"
    );

    // Token in the query, `notify` offered alone: still echoed, or a
    // browser aborts the handshake.
    let mut req = ws_request("c-both", "$connect", None);
    req.query_string_parameters = [("token".to_owned(), env.token("alice"))]
        .into_iter()
        .collect::<std::collections::HashMap<_, _>>()
        .into();
    req.headers
        .insert("sec-websocket-protocol", HeaderValue::from_static("notify"));
    let resp = shared::handlers::ws_connect::handle(&env.app, req).await;
    assert_eq!(resp.status_code, 200);
    assert_eq!(
        resp.headers.get("sec-websocket-protocol").unwrap(),
        "notify"
    );
    assert_eq!(
        env.app.store.remove_connection("c-both").await.unwrap(),
        Some("alice".to_owned())
    );

    let mut conns: Vec<String> = env
        .app
        .store
        .connections_of("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.connection_id)
        .collect();
    conns.sort();
    assert_eq!(conns, ["c-proto", "c-query"]);
    let c = &env.app.store.connections_of("alice").await.unwrap()[0];
    let ttl = c.expires_at - chrono::Utc::now().timestamp();
    assert!(
        (7200..7200 + 900).contains(&ttl),
        "TTL a bit over 2 h, got {ttl}s"
    );
}

#[tokio::test]
async fn connect_refuses_bad_tokens_and_writes_nothing() {
    let env = TestEnv::new().await;
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64| Claims {
        sub: "mallory".into(),
        role: None,
        exp,
        nbf: None,
        iat: None,
        iss: None,
        aud: None,
    };
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("garbage", Some("garbage".into())),
        (
            "wrong secret",
            Some(sign_hs256("not-the-secret", &claims(now + 600))),
        ),
        ("expired", Some(sign_hs256(SECRET, &claims(now - 600)))),
    ];
    for (i, (name, token)) in cases.into_iter().enumerate() {
        let mut req = ws_request(&format!("bad-{i}"), "$connect", None);
        if let Some(t) = token {
            req.query_string_parameters = [("token".to_owned(), t)]
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>()
                .into();
        }
        let resp = shared::handlers::ws_connect::handle(&env.app, req).await;
        assert_eq!(resp.status_code, 401, "{name}");
        assert_eq!(
            env.app
                .store
                .connection_owner(&format!("bad-{i}"))
                .await
                .unwrap(),
            None,
            "{name} wrote a row"
        );
    }
    assert!(
        env.app
            .store
            .connections_of("mallory")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn disconnect_removes_both_rows_and_tolerates_a_repeat() {
    let env = TestEnv::new().await;
    env.connect("alice", "c1").await;
    env.connect("alice", "c2").await;
    for _ in 0..2 {
        let resp = shared::handlers::ws_disconnect::handle(
            &env.app,
            ws_request("c1", "$disconnect", None),
        )
        .await;
        assert_eq!(resp.status_code, 200);
    }
    assert_eq!(env.app.store.connection_owner("c1").await.unwrap(), None);
    let left: Vec<String> = env
        .app
        .store
        .connections_of("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.connection_id)
        .collect();
    assert_eq!(left, ["c2"]);
}

#[tokio::test]
async fn mark_read_acks_every_device_of_the_user_only() {
    let env = TestEnv::new().await;
    env.connect("alice", "a1").await;
    env.connect("alice", "a2").await;
    env.connect("bob", "b1").await;
    let first = notify(&env, "evt_r1", "alice").await;
    notify(&env, "evt_r2", "alice").await;
    env.mgmt.clear();

    let resp = env
        .send_frame(
            "a1",
            &json!({"action":"notification:mark-read","id": first}).to_string(),
        )
        .await;
    assert_eq!(resp.status_code, 200);
    for device in ["a1", "a2"] {
        assert_eq!(
            last(&env, device),
            json!({"event":"notification:read-ack","data":{"id": first, "unreadCount": 1}})
        );
    }
    assert!(env.mgmt.posts_to("b1").is_empty());
    assert_eq!(env.app.store.unread_count("alice").await.unwrap(), 1);

    // Again: nothing changes, only the caller hears back.
    env.mgmt.clear();
    env.send_frame(
        "a2",
        &json!({"action":"notification:mark-read","id": first}).to_string(),
    )
    .await;
    assert_eq!(last(&env, "a2")["data"]["unreadCount"], 1);
    assert!(env.mgmt.posts_to("a1").is_empty());
    assert_eq!(env.app.store.unread_count("alice").await.unwrap(), 1);

    // Bob cannot mark alice's notification, and learns nothing about it.
    env.send_frame(
        "b1",
        &json!({"action":"notification:mark-read","id": first}).to_string(),
    )
    .await;
    assert_eq!(last(&env, "b1")["data"]["code"], "not_found");
    let n = env
        .app
        .store
        .get_notification("alice", &first)
        .await
        .unwrap()
        .unwrap();
    assert!(n.read);
}

#[tokio::test]
async fn mark_read_over_the_socket_keeps_the_counter_exact() {
    let env = TestEnv::new().await;
    env.connect("alice", "a1").await;
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(notify(&env, &format!("evt_c{i}"), "alice").await);
    }
    assert_eq!(env.app.store.unread_count("alice").await.unwrap(), 8);
    // Each of six marked twice. (Racing marks run on the embedded store in
    // local_stack.rs: moto's transactions are not safe under concurrency.)
    for id in ids[..6].iter().chain(ids[..6].iter()) {
        env.send_frame(
            "a1",
            &json!({"action":"notification:mark-read","id": id}).to_string(),
        )
        .await;
    }
    assert_eq!(env.app.store.unread_count("alice").await.unwrap(), 2);
}

#[tokio::test]
async fn sync_returns_what_was_missed_oldest_first_in_pages() {
    let env = TestEnv::new().await;
    env.connect("alice", "a1").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(notify(&env, &format!("evt_s{i}"), "alice").await);
    }
    env.mgmt.clear();
    env.send_frame(
        "a1",
        &json!({"action":"notification:sync","since": ids[0], "limit": 3}).to_string(),
    )
    .await;
    let page = last(&env, "a1");
    assert_eq!(page["event"], "notification:sync");
    let got: Vec<&str> = page["data"]["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, &ids[1..4]);
    assert_eq!(page["data"]["hasMore"], true);
    assert_eq!(page["data"]["unreadCount"], 5);
    let cursor = page["data"]["cursor"].as_str().unwrap().to_owned();
    env.send_frame(
        "a1",
        &json!({"action":"notification:sync","since": cursor}).to_string(),
    )
    .await;
    let page = last(&env, "a1");
    let got: Vec<&str> = page["data"]["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, &ids[4..]);
    assert_eq!(page["data"]["hasMore"], false);
    // Without a cursor: everything from the start.
    env.send_frame("a1", &json!({"action":"notification:sync"}).to_string())
        .await;
    assert_eq!(
        last(&env, "a1")["data"]["notifications"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    env.send_frame(
        "a1",
        &json!({"action":"notification:sync","since":"not-a-cursor"}).to_string(),
    )
    .await;
    assert_eq!(last(&env, "a1")["data"]["code"], "bad_cursor");
}

#[tokio::test]
async fn join_ping_and_bad_frames_get_answers_never_a_500() {
    let env = TestEnv::new().await;
    env.connect("alice", "a1").await;
    let cases = [
        (json!({"action":"join"}).to_string(), "joined", None),
        (
            json!({"action":"join","room":"user:alice"}).to_string(),
            "joined",
            None,
        ),
        (
            json!({"action":"join","room":"user:bob"}).to_string(),
            "error",
            Some("forbidden"),
        ),
        (json!({"action":"ping"}).to_string(), "pong", None),
        ("{not json".to_owned(), "error", Some("bad_json")),
        (
            json!({"action":"notification:explode"}).to_string(),
            "error",
            Some("unknown_action"),
        ),
        (
            json!({"action":"notification:mark-read"}).to_string(),
            "error",
            Some("bad_request"),
        ),
        (
            json!({"action":"notification:mark-read","id": "x".repeat(10_000)}).to_string(),
            "error",
            Some("payload_too_large"),
        ),
        (
            json!({"action":"notification:mark-read","id": "x".repeat(500)}).to_string(),
            "error",
            Some("bad_request"),
        ),
    ];
    for (frame, event, code) in cases {
        env.mgmt.clear();
        let resp = env.send_frame("a1", &frame).await;
        assert_eq!(resp.status_code, 200, "{frame}");
        let got = last(&env, "a1");
        assert_eq!(got["event"], event, "{frame}: {got}");
        if let Some(code) = code {
            assert_eq!(got["data"]["code"], code, "{frame}: {got}");
        }
    }
    assert_eq!(last(&env, "a1")["event"], "error");
    env.send_frame("a1", r#"{"action":"join"}"#).await;
    assert_eq!(last(&env, "a1")["data"]["room"], "user:alice");
    // A connection with no row (expired, or never registered) is told so.
    env.send_frame("ghost", r#"{"action":"ping"}"#).await;
    assert_eq!(last(&env, "ghost")["data"]["code"], "not_connected");
}
