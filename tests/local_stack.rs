//! End to end on the local stack: real sockets, real WebSocket clients, the
//! real SDK against the local management API.

use std::time::Duration;

use integration::client::{Client, http};
use integration::stack::{admin_token, post_event, start, start_with, temp_dir, token};
use integration::{order_event, wait_for, wait_until};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_device_of_the_user_gets_it_and_nobody_else() {
    let stack = start(temp_dir("fanout")).await;
    every_device_and_nobody_else(&stack).await;
    assert_eq!(
        stack.signed_pushes_served(),
        0,
        "the default path pushes straight into the sockets"
    );
    stack.stop().await;
}

/// The same through the real SDK client: SigV4-signed PostToConnection
/// calls to the gateway's management API, as the sender makes on AWS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_signed_pushes_every_device_gets_it_through_the_management_api() {
    let stack = start_with(temp_dir("fanout-signed"), |o| o.signed_pushes = true).await;
    every_device_and_nobody_else(&stack).await;
    // Three devices got the notification and the read receipt.
    assert_eq!(stack.signed_pushes_served(), 6);
    stack.stop().await;
}

async fn every_device_and_nobody_else(stack: &integration::stack::Stack) {
    let ws = stack.ws_url();
    let (alice, bob) = (token(stack, "alice").await, token(stack, "bob").await);
    let mut a1 = Client::connect(&ws, &alice).await.unwrap();
    let mut a2 = Client::connect(&ws, &alice).await.unwrap();
    let (mut a3, chosen) = Client::connect_subprotocol(&ws, &alice).await.unwrap();
    assert_eq!(
        chosen.as_deref(),
        Some("notify"),
        "the subprotocol is echoed"
    );
    let mut b1 = Client::connect(&ws, &bob).await.unwrap();

    let (status, body) = post_event(stack, &order_event("evt_e2e_1", "alice")).await;
    assert_eq!(status, 202, "{body}");
    let mut ids = Vec::new();
    for c in [&mut a1, &mut a2, &mut a3] {
        let e = c.expect("notification:new").await;
        assert_eq!(e["data"]["title"], "Order o_1 confirmed");
        ids.push(e["data"]["id"].as_str().unwrap().to_owned());
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    assert!(b1.silent_for(300).await, "bob must get nothing");

    // Mark read on one device: every device hears it, with the same count.
    a1.send(&json!({"action":"notification:mark-read","id": ids[0]}))
        .await;
    for c in [&mut a1, &mut a2, &mut a3] {
        let ack = c.expect("notification:read-ack").await;
        assert_eq!(ack["data"], json!({"id": ids[0], "unreadCount": 0}));
    }
    assert!(b1.silent_for(200).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_client_catches_up_by_sync() {
    let stack = start(temp_dir("sync")).await;
    let t = token(&stack, "carol").await;
    let mut c = Client::connect(&stack.ws_url(), &t).await.unwrap();
    post_event(&stack, &order_event("evt_sync_1", "carol")).await;
    let first = c.expect("notification:new").await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(c);

    for i in 2..=3 {
        let (s, _) = post_event(&stack, &order_event(&format!("evt_sync_{i}"), "carol")).await;
        assert_eq!(s, 202);
    }
    // Wait until both are stored (the user is offline, so nothing is pushed).
    wait_until(
        "carol's 3 notifications stored",
        Duration::from_secs(10),
        || async { stack.app.store.unread_count("carol").await.unwrap() == 3 },
    )
    .await;
    let mut c = Client::connect(&stack.ws_url(), &t).await.unwrap();
    c.send(&json!({"action":"notification:sync","since": first}))
        .await;
    let sync = c.expect("notification:sync").await;
    let got: Vec<&str> = sync["data"]["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            n["data"]
                .as_str()
                .unwrap_or_else(|| n["id"].as_str().unwrap())
        })
        .collect();
    assert_eq!(got.len(), 2, "{sync}");
    assert_eq!(sync["data"]["unreadCount"], 3);
    assert_eq!(sync["data"]["hasMore"], false);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_inbox_preferences_and_templates() {
    let stack = start(temp_dir("restart")).await;
    let t = token(&stack, "dora").await;
    let admin = admin_token(&stack, "root").await;
    let auth = format!("Bearer {t}");
    let admin_auth = format!("Bearer {admin}");
    post_event(&stack, &order_event("evt_keep_1", "dora")).await;
    let (s, _) = http(
        stack.http_addr,
        "PUT",
        "/preferences",
        &[("authorization", &auth)],
        Some(r#"{"channels":{"order":{"email":false}}}"#),
    )
    .await;
    assert_eq!(s, 200);
    let (s, b) = http(
        stack.http_addr,
        "PUT",
        "/admin/templates/order.created/in_app",
        &[("authorization", &admin_auth)],
        Some(r#"{"title":"Kept {{ orderId }}","message":"m"}"#),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    wait_until(
        "dora's notification stored",
        Duration::from_secs(10),
        || async { stack.app.store.unread_count("dora").await.unwrap() == 1 },
    )
    .await;
    let dir = stack.stop().await;

    let stack = start(dir).await;
    let (s, b) = http(
        stack.http_addr,
        "GET",
        "/notifications",
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["notifications"].as_array().unwrap().len(), 1, "{b}");
    assert_eq!(b["unreadCount"], 1);
    let (_, b) = http(
        stack.http_addr,
        "GET",
        "/preferences",
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(b["channels"]["order"]["email"], false);
    let (_, b) = http(
        stack.http_addr,
        "GET",
        "/admin/templates",
        &[("authorization", &admin_auth)],
        None,
    )
    .await;
    assert!(
        b["templates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["override"] == true && t["template"]["title"] == "Kept {{ orderId }}")
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_at_the_upgrade() {
    let stack = start(temp_dir("badtoken")).await;
    for bad in ["", "garbage", "a.b.c"] {
        match Client::connect(&stack.ws_url(), bad).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), 401, "{bad}")
            }
            Err(e) => panic!("{bad}: expected an HTTP 401, got {e}"),
            Ok(_) => panic!("{bad}: the upgrade must be refused"),
        }
    }
    assert_eq!(stack.open_connections(), 0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_management_api_serves_the_sdk_and_answers_410_after_a_close() {
    use aws_sdk_apigatewaymanagement::primitives::Blob;
    let stack = start(temp_dir("mgmt")).await;
    let t = token(&stack, "erin").await;
    let mut c = Client::connect(&stack.ws_url(), &t).await.unwrap();
    let id = stack.app.store.connections_of("erin").await.unwrap()[0]
        .connection_id
        .clone();

    let sdk = integration::sdk_config("http://127.0.0.1:1");
    let conf = aws_sdk_apigatewaymanagement::config::Builder::from(&sdk)
        .endpoint_url(format!("http://{}", stack.ws_addr))
        .build();
    let mgmt = aws_sdk_apigatewaymanagement::Client::from_conf(conf);
    mgmt.post_to_connection()
        .connection_id(&id)
        .data(Blob::new(br#"{"event":"hello"}"#.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(c.next_event(5).await, json!({"event":"hello"}));
    let info = mgmt
        .get_connection()
        .connection_id(&id)
        .send()
        .await
        .unwrap();
    assert!(info.connected_at().is_some());
    assert_eq!(
        info.identity().and_then(|i| i.source_ip()),
        Some("127.0.0.1")
    );
    assert!(info.last_active_at().is_some());

    mgmt.delete_connection()
        .connection_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(c.closed().await, Some(1000));
    wait_until(
        "the gateway to drop the connection",
        Duration::from_secs(10),
        || async { stack.open_connections() == 0 },
    )
    .await;
    let err = mgmt
        .post_to_connection()
        .connection_id(&id)
        .data(Blob::new(b"{}".to_vec()))
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error()
            .is_some_and(|e| e.is_gone_exception()),
        "{err:?}"
    );
    assert!(
        mgmt.get_connection()
            .connection_id(&id)
            .send()
            .await
            .unwrap_err()
            .as_service_error()
            .is_some_and(|e| e.is_gone_exception())
    );
    // $disconnect ran: the rows are gone too.
    assert!(
        stack
            .app
            .store
            .connections_of("erin")
            .await
            .unwrap()
            .is_empty()
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_closes_with_1009_and_bad_frames_get_errors() {
    let stack = start(temp_dir("limits")).await;
    let t = token(&stack, "fay").await;
    let mut c = Client::connect(&stack.ws_url(), &t).await.unwrap();
    c.send(&json!({"action":"notification:explode"})).await;
    assert_eq!(c.expect("error").await["data"]["code"], "unknown_action");
    c.send(&json!({"action":"ping","pad":"x".repeat(130 * 1024)}))
        .await;
    assert_eq!(c.closed().await, Some(1009));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_lands_in_the_outbox_and_poison_in_the_dead_letter_list() {
    let stack = start(temp_dir("outbox")).await;
    let mut e = order_event("evt_mail_1", "gil");
    e["recipient"] = json!({"email":"gil@example.com"});
    post_event(&stack, &e).await;
    stack
        .app
        .events
        .send(vec![shared::ports::OutMessage::now(
            "{\"not\":\"an event\"}".into(),
        )])
        .await
        .unwrap();

    let (mails, dlq) = wait_for(
        "an email in the outbox and a dead letter",
        Duration::from_secs(10),
        || async {
            let mails = http(stack.http_addr, "GET", "/dev/outbox", &[], None)
                .await
                .1;
            let dlq = http(stack.http_addr, "GET", "/dev/dlq", &[], None).await.1;
            (mails["emails"].as_array().is_some_and(|m| !m.is_empty())
                && dlq["events"].as_array().is_some_and(|d| !d.is_empty()))
            .then_some((mails, dlq))
        },
    )
    .await;
    let mail = &mails["emails"][0];
    assert_eq!(mail["to"], "gil@example.com");
    assert_eq!(mail["subject"], "Your order o_1 is confirmed");
    let eml = std::fs::read_to_string(mail["file"].as_str().unwrap()).unwrap();
    assert!(eml.contains("Subject: Your order o_1 is confirmed"));
    assert_eq!(dlq["events"][0]["body"], "{\"not\":\"an event\"}");
    assert_eq!(dlq["events"][0]["receiveCount"], 2);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_1000_times_at_once_gives_one_notification_and_one_push_per_device() {
    // A thousand concurrent transactions on one claim conflict (as on
    // DynamoDB) and are retried for a while: give messages a visibility
    // timeout longer than those retries, as the template does (6x the
    // function timeout), or they come back while still being handled.
    let dir = temp_dir("dup1000");
    let mut o = integration::stack::options(&dir);
    o.visibility_timeout = std::time::Duration::from_secs(3);
    let stack = local::start(o).await.expect("the local stack starts");
    let t = token(&stack, "hana").await;
    let mut d1 = Client::connect(&stack.ws_url(), &t).await.unwrap();
    let mut d2 = Client::connect(&stack.ws_url(), &t).await.unwrap();
    let body = order_event("evt_dup_1000", "hana");
    // 1,000 concurrent POSTs of one event, in waves of 100.
    for _ in 0..10 {
        let posts = (0..100).map(|_| post_event(&stack, &body));
        for (status, b) in futures::future::join_all(posts).await {
            assert_eq!(status, 202, "{b}");
        }
    }
    for d in [&mut d1, &mut d2] {
        assert_eq!(
            d.expect("notification:new").await["data"]["eventId"],
            "evt_dup_1000"
        );
    }
    wait_until("both queues to drain", Duration::from_secs(20), || async {
        stack.events.depth().await.unwrap() == 0 && stack.deliveries.depth().await.unwrap() == 0
    })
    .await;
    assert_eq!(
        stack.events.depth().await.unwrap(),
        0,
        "every copy was absorbed"
    );
    assert!(
        d1.silent_for(300).await && d2.silent_for(100).await,
        "exactly one push per device"
    );
    assert_eq!(
        stack
            .app
            .store
            .notifications_after("hana", None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(stack.app.store.unread_count("hana").await.unwrap(), 1);
    let dead = stack.events.dead_letters().await.unwrap();
    assert!(
        dead.is_empty(),
        "{} dead letters, e.g. {:?}",
        dead.len(),
        dead.first()
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_mark_reads_of_the_same_notifications_decrement_once_each() {
    let stack = start(temp_dir("race")).await;
    let t = token(&stack, "ivan").await;
    let auth = format!("Bearer {t}");
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(
            integration::contract::add(stack.app.store.as_ref(), "ivan", &format!("evt_race_{i}"))
                .await
                .id,
        );
    }
    // 25 notifications, each marked by two callers at once: 50 calls.
    let calls = ids[..25].iter().chain(ids[..25].iter()).map(|id| {
        let (auth, addr) = (auth.clone(), stack.http_addr);
        async move {
            http(
                addr,
                "PATCH",
                &format!("/notifications/{id}/read"),
                &[("authorization", &auth)],
                None,
            )
            .await
            .0
        }
    });
    let statuses = futures::future::join_all(calls).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(stack.app.store.unread_count("ivan").await.unwrap(), 5);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_lands_in_the_outbox_beside_email() {
    let stack = start(temp_dir("sms")).await;
    let auth = format!("Bearer {}", token(&stack, "uma").await);
    let (s, b) = http(
        stack.http_addr,
        "PUT",
        "/preferences",
        &[("authorization", &auth)],
        Some(r#"{"phone":"+14155550100","channels":{"order":{"sms":true}}}"#),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    post_event(&stack, &order_event("evt_sms_local", "uma")).await;
    let sms = wait_for("an SMS in the outbox", Duration::from_secs(10), || async {
        let sms = http(stack.http_addr, "GET", "/dev/outbox", &[], None)
            .await
            .1["sms"]
            .clone();
        sms.as_array().is_some_and(|a| !a.is_empty()).then_some(sms)
    })
    .await;
    assert_eq!(sms[0]["to"], "+14155550100");
    assert_eq!(
        sms[0]["text"],
        "Order o_1 confirmed (49.90 EUR). Thank you!"
    );
    stack.stop().await;
}

/// API Gateway refuses a message over 128 KB: a sync of big notifications
/// comes in replies under 100 KB with `hasMore`, and the client gets all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_sync_is_split_under_the_message_limit() {
    let stack = start(temp_dir("bigsync")).await;
    let admin = format!("Bearer {}", admin_token(&stack, "root").await);
    // 60 notifications of about 3 KB each: 180 KB in one reply otherwise.
    let message = "é".repeat(1500);
    for i in 0..60 {
        let send = json!({"userIds":["auth0|big"],"title":format!("Notice {i}"),"message":message});
        let (s, b) = http(
            stack.http_addr,
            "POST",
            "/admin/notifications",
            &[
                ("authorization", &admin),
                ("content-type", "application/json"),
            ],
            Some(&send.to_string()),
        )
        .await;
        assert_eq!(s, 202, "{b}");
    }
    wait_until(
        "60 notifications stored",
        Duration::from_secs(30),
        || async { stack.app.store.unread_count("auth0|big").await.unwrap() == 60 },
    )
    .await;
    let t = token(&stack, "auth0%7Cbig").await;
    let mut c = Client::connect(&stack.ws_url(), &t).await.unwrap();
    let mut since: Option<String> = None;
    let mut got = Vec::new();
    for round in 0.. {
        assert!(round < 10, "sync did not finish");
        c.send(&json!({"action":"notification:sync","since":since,"limit":100}))
            .await;
        let reply = c.expect("notification:sync").await;
        let bytes = reply.to_string().len();
        assert!(bytes < 100 * 1024, "a sync reply of {bytes} bytes");
        let items = reply["data"]["notifications"].as_array().unwrap();
        assert!(!items.is_empty());
        got.extend(
            items
                .iter()
                .map(|n| n["title"].as_str().unwrap().to_owned()),
        );
        since = reply["data"]["cursor"].as_str().map(str::to_owned);
        if reply["data"]["hasMore"] == false {
            break;
        }
    }
    // Sends are processed concurrently, so compare as sets, counting twins.
    got.sort();
    let mut want: Vec<String> = (0..60).map(|i| format!("Notice {i}")).collect();
    want.sort();
    assert_eq!(got, want, "every notification exactly once");
    stack.stop().await;
}
