//! Delivery truth on the local stack: SES's mailbox simulator answering each
//! address through the same feedback code as on AWS, suppression and its
//! lifting, the delivery log routes, and signed webhooks to the shop with
//! their retries and dead-letter queue.

use std::net::SocketAddr;
use std::time::Duration;

use integration::client::{Client, http};
use integration::hooks::{self, Answer, Receiver};
use integration::stack::{admin_token, post_event, start_with, temp_dir, token};
use integration::*;
use serde_json::{Value, json};

const SIM: &str = "simulator.amazonses.com";

async fn get(addr: SocketAddr, path: &str, token: &str) -> (u16, Value) {
    send(addr, "GET", path, token, Value::Null).await
}

use integration::client::authed as send;

fn event(id: &str, user: &str) -> Value {
    json!({
        "id": id, "type": "order.created", "userId": user, "occurredAt": "2026-11-29T10:00:00Z",
        "data": {"orderId": format!("o_{id}"), "total": "19.90", "currency": "EUR"}
    })
}

/// The email steps of a log, in order.
fn email_steps(log: &Value) -> Vec<String> {
    log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["channel"] == "email")
        .map(|d| d["status"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits for the user's newest notification's log to reach `last` on email.
async fn log_until(addr: SocketAddr, token: &str, user: &str, last: &str) -> (String, Value) {
    wait_for(
        &format!("{user}'s email log to reach `{last}`"),
        Duration::from_secs(20),
        || async {
            let (_, list) = get(addr, "/notifications?limit=1", token).await;
            let id = list["notifications"][0]["id"].as_str()?.to_owned();
            let (s, log) = get(addr, &format!("/notifications/{id}/deliveries"), token).await;
            (s == 200 && email_steps(&log).last().map(String::as_str) == Some(last))
                .then_some((id, log))
        },
    )
    .await
}

#[tokio::test]
async fn each_simulator_address_gets_the_feedback_ses_sends_and_suppression_holds_until_confirmed()
{
    let stack = start_with(temp_dir("feedback-sim"), |_| {}).await;
    let addr = stack.http_addr;
    let cases = [
        ("success", vec!["queued", "sent", "delivered"], None),
        ("bounce", vec!["queued", "sent", "bounced"], Some("bounce")),
        (
            "complaint",
            vec!["queued", "sent", "delivered", "complained"],
            Some("complaint"),
        ),
        (
            "suppressionlist",
            vec!["queued", "sent", "suppressed"],
            Some("bounce"),
        ),
    ];
    for (mailbox, steps, suppressed) in &cases {
        let user = format!("sim_{mailbox}");
        let t = token(&stack, &user).await;
        let address = format!("{mailbox}@{SIM}");
        let (s, b) = send(addr, "PUT", "/preferences", &t, json!({"email": address})).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(
            post_event(&stack, &event(&format!("e1_{mailbox}"), &user))
                .await
                .0,
            202
        );
        let last = steps.last().unwrap();
        let (id, log) = log_until(addr, &t, &user, last).await;
        assert_eq!(email_steps(&log), *steps, "{mailbox}: {log}");
        let sent = log["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["status"] == "sent")
            .unwrap();
        let provider_id = sent["providerMessageId"]
            .as_str()
            .expect("SES's message id");
        // Every entry after the send is about that message.
        for d in log["deliveries"].as_array().unwrap() {
            if d["channel"] == "email" && d["status"] != "queued" {
                assert_eq!(d["providerMessageId"], provider_id, "{d}");
            }
        }
        if *mailbox == "bounce" {
            let bounced = log["deliveries"].as_array().unwrap().last().unwrap();
            assert!(
                bounced["reason"]
                    .as_str()
                    .unwrap()
                    .contains("Permanent/General"),
                "{bounced}"
            );
        }
        let (_, prefs) = get(addr, "/preferences", &t).await;
        match suppressed {
            None => assert!(prefs.get("emailSuppressed").is_none(), "{prefs}"),
            Some(reason) => {
                assert_eq!(prefs["emailSuppressed"]["reason"], *reason, "{prefs}");
                assert_eq!(prefs["emailSuppressed"]["address"], address);
            }
        }
        // The admin sees the same log, given whose it is.
        let admin = admin_token(&stack, "ops").await;
        let (s, a) = get(
            addr,
            &format!("/admin/notifications/{id}/deliveries?userId={user}"),
            &admin,
        )
        .await;
        assert_eq!((s, &a["deliveries"]), (200, &log["deliveries"]));
    }

    // A suppressed address gets no more mail: the log says so, SES is not called.
    let t = token(&stack, "sim_bounce").await;
    let to_bounce = |sent: &[shared::adapters::embedded::SentEmail]| {
        sent.iter()
            .filter(|m| m.to == format!("bounce@{SIM}"))
            .count()
    };
    let outbox = stack.outbox.clone().unwrap();
    let before = to_bounce(&outbox.sent().await.unwrap());
    assert_eq!(
        post_event(&stack, &event("e2_bounce", "sim_bounce"))
            .await
            .0,
        202
    );
    let (_, log) = log_until(addr, &t, "sim_bounce", "suppressed").await;
    assert_eq!(email_steps(&log), ["queued", "suppressed"]);
    assert_eq!(to_bounce(&outbox.sent().await.unwrap()), before);

    // A client that sends back what it read is not refused for the
    // read-only field, and that does not lift the suppression either.
    let (_, prefs) = get(addr, "/preferences", &t).await;
    let (s, b) = send(addr, "PUT", "/preferences", &t, prefs.clone()).await;
    assert_eq!(s, 200, "{b}");
    assert!(
        b.get("emailSuppressed").is_some(),
        "PUT does not confirm: {b}"
    );

    // The user confirms the address: mail goes out again (and bounces again).
    let (s, b) = send(
        addr,
        "PATCH",
        "/preferences",
        &t,
        json!({"email": format!("bounce@{SIM}")}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("emailSuppressed").is_none(), "lifted: {b}");
    assert_eq!(
        post_event(&stack, &event("e3_bounce", "sim_bounce"))
            .await
            .0,
        202
    );
    let (_, log) = log_until(addr, &t, "sim_bounce", "bounced").await;
    assert_eq!(email_steps(&log), ["queued", "sent", "bounced"]);
    assert_eq!(to_bounce(&outbox.sent().await.unwrap()), before + 1);

    // Another account naming that address cannot lift its suppression.
    let (_, log) = log_until(addr, &t, "sim_bounce", "bounced").await;
    assert_eq!(email_steps(&log).last().unwrap(), "bounced");
    let thief = token(&stack, "sim_thief").await;
    let (s, b) = send(
        addr,
        "PATCH",
        "/preferences",
        &thief,
        json!({"email": format!("bounce@{SIM}")}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["emailSuppressed"]["reason"], "bounce",
        "still suppressed: {b}"
    );
    let (_, mine) = get(addr, "/preferences", &t).await;
    assert!(mine.get("emailSuppressed").is_some(), "{mine}");

    // A new address is not suppressed.
    let t = token(&stack, "sim_complaint").await;
    let (s, b) = send(
        addr,
        "PATCH",
        "/preferences",
        &t,
        json!({"email": format!("success@{SIM}")}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("emailSuppressed").is_none(), "{b}");
    stack.stop().await;
}

#[tokio::test]
async fn the_delivery_log_routes_answer_only_for_the_owner_and_say_what_is_wrong() {
    let stack = start_with(temp_dir("feedback-routes"), |_| {}).await;
    let addr = stack.http_addr;
    let t = token(&stack, "lou").await;
    send(
        addr,
        "PUT",
        "/preferences",
        &t,
        json!({"email": format!("success@{SIM}")}),
    )
    .await;
    // An open device: the in-app push is in the log too.
    let mut device = Client::connect(&stack.ws_url(), &t).await.unwrap();
    assert_eq!(post_event(&stack, &event("r1", "lou")).await.0, 202);
    device.expect("notification:new").await;
    let (id, log) = log_until(addr, &t, "lou", "delivered").await;
    let in_app: Vec<_> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["channel"] == "in_app")
        .collect();
    assert_eq!(in_app.len(), 1, "{log}");
    assert_eq!(in_app[0]["status"], "delivered");
    assert_eq!(in_app[0]["detail"], "1 device(s)");
    // Not someone else's, and not without a token.
    let other = token(&stack, "max").await;
    let path = format!("/notifications/{id}/deliveries");
    assert_eq!(get(addr, &path, &other).await.0, 404);
    assert_eq!(http(addr, "GET", &path, &[], None).await.0, 401);
    assert_eq!(get(addr, "/notifications/nope/deliveries", &t).await.0, 404);
    // The admin route needs the user, and the admin role.
    let admin = admin_token(&stack, "ops").await;
    let (s, b) = get(
        addr,
        &format!("/admin/notifications/{id}/deliveries"),
        &admin,
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["field"], "userId");
    let admin_path = format!("/admin/notifications/{id}/deliveries?userId=lou");
    assert_eq!(get(addr, &admin_path, &t).await.0, 403);
    assert_eq!(
        get(
            addr,
            &format!("/admin/notifications/{id}/deliveries?userId=max"),
            &admin
        )
        .await
        .0,
        404
    );
    // Deleting the notification deletes its log.
    let auth = format!("Bearer {t}");
    let (s, _) = http(
        addr,
        "DELETE",
        &format!("/notifications/{id}"),
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(get(addr, &admin_path, &admin).await.0, 404);
    drop(device);
    stack.stop().await;
}

#[tokio::test]
async fn webhooks_reach_the_shop_signed_retried_and_dead_lettered_without_holding_notifications() {
    let shop = Receiver::start().await;
    let url = shop.url();
    let stack = start_with(temp_dir("webhooks"), move |o| {
        o.config.webhook_url = Some(url);
        o.config.webhook_secret = Some(hooks::SECRET.into());
        // 1 s between attempts, 3 attempts: the schedule's shape, quickly.
        o.config.webhook_retry_schedule = vec![1, 1];
        // Longer than an attempt's 10 s timeout, as the template's 360 s is
        // longer than the function's: no attempt overlaps another.
        o.visibility_timeout = Duration::from_secs(15);
    })
    .await;
    let addr = stack.http_addr;
    let t = token(&stack, "wes").await;
    send(
        addr,
        "PUT",
        "/preferences",
        &t,
        json!({"email": format!("bounce@{SIM}")}),
    )
    .await;
    let mut device = Client::connect(&stack.ws_url(), &t).await.unwrap();

    // notification.created's first two attempts fail (503, 500): the third lands.
    shop.refuse_times("notification.created", Answer::Status(503), 2);
    assert_eq!(post_event(&stack, &event("w1", "wes")).await.0, 202);
    let pushed = device.expect("notification:new").await;
    let id = pushed["data"]["id"].as_str().unwrap().to_owned();
    for kind in [
        "notification.created",
        "delivery.succeeded",
        "email.bounced",
    ] {
        wait_until(
            &format!("a {kind} webhook"),
            Duration::from_secs(20),
            || async { !shop.of_type(kind).is_empty() },
        )
        .await;
    }
    // Every request is signed as the specification says, checked by the
    // standardwebhooks package; a changed body fails that check.
    for hook in shop.received() {
        hooks::verify(hooks::SECRET, &hook).unwrap_or_else(|e| panic!("{e}: {hook:?}"));
        let body = hook.json();
        assert!(
            body["timestamp"].is_string() && body["data"].is_object(),
            "{body}"
        );
    }
    let mut forged = shop.received()[0].clone();
    forged.body = forged.body.replace("wes", "eve");
    assert!(hooks::verify(hooks::SECRET, &forged).is_err());
    let wrong = "whsec_QW5vdGhlciBzZWNyZXQgb2YgZW5vdWdoIGJ5dGVzIQ==";
    assert!(hooks::verify(wrong, &shop.received()[0]).is_err());

    // The retried one kept its id, with a new timestamp per attempt.
    wait_until("the third attempt", Duration::from_secs(10), || async {
        shop.of_type("notification.created").len() >= 3
    })
    .await;
    let created = shop.of_type("notification.created");
    assert_eq!(
        created.len(),
        3,
        "two failures and the success: {created:?}"
    );
    assert!(created.iter().all(|h| h.id == created[0].id));
    let stamps: std::collections::BTreeSet<_> = created.iter().map(|h| &h.signature).collect();
    assert_eq!(stamps.len(), 3, "each attempt signed anew");
    assert_eq!(created[0].json()["data"]["id"], id);
    assert_eq!(created[0].json()["data"]["userId"], "wes");
    let bounced = &shop.of_type("email.bounced")[0].json();
    assert_eq!(bounced["data"]["notificationId"], id);
    assert_eq!(bounced["data"]["status"], "bounced");
    let in_app: Vec<_> = shop
        .of_type("delivery.succeeded")
        .into_iter()
        .filter(|h| h.json()["data"]["channel"] == "in_app")
        .collect();
    assert_eq!(in_app.len(), 1, "one push, one webhook: {in_app:?}");

    // notification.read when the user reads it (over the WebSocket here).
    device
        .send(&json!({"action": "notification:mark-read", "id": id}))
        .await;
    device.expect("notification:read-ack").await;
    wait_until(
        "a notification.read webhook",
        Duration::from_secs(10),
        || async {
            shop.of_type("notification.read")
                .iter()
                .any(|h| h.json()["data"]["notificationId"] == id)
        },
    )
    .await;

    // An endpoint that never answers holds nothing: the next notification
    // reaches the device and the mailbox while its webhooks wait.
    shop.answer(Answer::Hang);
    let before = shop.received().len();
    assert_eq!(post_event(&stack, &event("w2", "wes")).await.0, 202);
    let second = device.expect("notification:new").await;
    let (second_id, _) = log_until(addr, &t, "wes", "suppressed").await;
    assert_eq!(second["data"]["id"], second_id);
    wait_until(
        "the hanging endpoint to be called",
        Duration::from_secs(10),
        || async { shop.received().len() > before },
    )
    .await;

    // An endpoint that keeps failing one webhook: after the last attempt it
    // waits in the dead-letter queue, visible to the admin, and a redrive
    // delivers it.
    shop.answer(Answer::Status(200));
    shop.refuse(r#""eventId":"w3""#, Answer::Status(500));
    assert_eq!(post_event(&stack, &event("w3", "wes")).await.0, 202);
    let admin = admin_token(&stack, "ops").await;
    let dead = wait_for(
        "the webhook in the dead-letter queue",
        Duration::from_secs(60),
        || async {
            let (_, b) = get(addr, "/admin/dead-letters", &admin).await;
            let q = b["queues"]
                .as_array()?
                .iter()
                .find(|q| q["queue"] == "webhooks")?
                .clone();
            q["messages"]
                .as_array()?
                .iter()
                .find(|m| {
                    m["body"]
                        .as_str()
                        .unwrap_or_default()
                        .contains(r#""eventId":"w3""#)
                })
                .cloned()
        },
    )
    .await;
    let body: Value = serde_json::from_str(dead["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["type"], "notification.created");
    let w3_id = body["id"].as_str().unwrap().to_owned();
    let attempts = shop.received().iter().filter(|h| h.id == w3_id).count();
    assert_eq!(
        attempts, 3,
        "one attempt per wait of the schedule and a last one"
    );
    shop.stop_refusing();
    let (s, b) = send(
        addr,
        "POST",
        "/admin/dead-letters/webhooks/redrive",
        &admin,
        json!({}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    assert!(b["moved"].as_u64() >= Some(1), "{b}");
    wait_until(
        "the redriven webhook to land",
        Duration::from_secs(20),
        || async { shop.received().iter().filter(|h| h.id == w3_id).count() == 4 },
    )
    .await;
    drop(device);
    stack.stop().await;
}

#[tokio::test]
async fn the_stack_refuses_a_webhook_url_that_is_not_https_or_loopback_and_an_unsigned_one() {
    for (url, secret, says) in [
        ("http://shop.example/hooks", Some(hooks::SECRET), "loopback"),
        ("ftp://127.0.0.1/hooks", Some(hooks::SECRET), "https"),
        ("https://shop.example/hooks", None, "WEBHOOK_SECRET"),
        ("https://shop.example/hooks", Some("not-a-secret"), "whsec_"),
    ] {
        let dir = temp_dir("webhook-config");
        let mut o = integration::stack::options(&dir);
        o.config.webhook_url = Some(url.into());
        o.config.webhook_secret = secret.map(str::to_owned);
        let err = match local::start(o).await {
            Ok(running) => {
                running.stop().await;
                panic!("{url} was accepted");
            }
            Err(e) => e.to_string(),
        };
        assert!(err.contains(says), "{url}: {err}");
    }
    // Deployed (no loopback allowance), plain http is refused even to loopback.
    let deployed = shared::Config {
        webhook_url: Some("http://127.0.0.1:9/hooks".into()),
        webhook_secret: Some(hooks::SECRET.into()),
        ..shared::Config::default()
    };
    assert!(
        deployed
            .check_webhooks(false)
            .unwrap_err()
            .to_string()
            .contains("https")
    );
}
