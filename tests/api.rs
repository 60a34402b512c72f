//! The REST API (the `api` function's router) with the store and queues on moto.

use integration::contract;
use integration::*;
use serde_json::{Value, json};

async fn seed(env: &TestEnv, user: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            contract::add(env.app.store.as_ref(), user, &format!("evt_{user}_{i}"))
                .await
                .id
                .into(),
        );
    }
    ids
}

#[tokio::test]
async fn auth_routing_and_size_errors() {
    let env = TestEnv::new().await;
    let alice = env.token("alice");
    let (s, b) = env.api("GET", "/notifications", None, None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    assert_eq!(
        env.api("GET", "/notifications", Some("not.a.token"), None)
            .await
            .0,
        401
    );
    let forged = shared::auth::sign_hs256(
        "wrong",
        &shared::auth::claims_for("alice", true, 60, &env.config),
    );
    assert_eq!(
        env.api("GET", "/admin/stats", Some(&forged), None).await.0,
        401
    );
    let (s, b) = env.api("GET", "/admin/stats", Some(&alice), None).await;
    assert_eq!((s, b["error"]["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(env.api("GET", "/nowhere", Some(&alice), None).await.0, 404);
    assert_eq!(
        env.api("POST", "/notifications", Some(&alice), None)
            .await
            .0,
        405
    );
    let (s, b) = env
        .api(
            "PUT",
            "/preferences",
            Some(&alice),
            Some(json!({"pad": "x".repeat(70_000)})),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );
}

#[tokio::test]
async fn paging_newest_first_loses_and_repeats_nothing() {
    let env = TestEnv::new().await;
    let ids = seed(&env, "alice", 25).await;
    seed(&env, "bob", 3).await;
    let t = env.token("alice");
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/notifications?limit=10&cursor={c}"),
            None => "/notifications?limit=10".into(),
        };
        let (s, b) = env.api("GET", &path, Some(&t), None).await;
        assert_eq!(s, 200, "{b}");
        pages += 1;
        seen.extend(
            b["notifications"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned()),
        );
        assert_eq!(b["unreadCount"], 25);
        match b["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    // Unread filter, across pages too.
    for id in ids.iter().step_by(2) {
        assert_eq!(
            env.api(
                "PATCH",
                &format!("/notifications/{id}/read"),
                Some(&t),
                None
            )
            .await
            .0,
            200
        );
    }
    let (_, b) = env
        .api("GET", "/notifications?unread=true&limit=5", Some(&t), None)
        .await;
    assert_eq!(b["notifications"].as_array().unwrap().len(), 5);
    assert!(
        b["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["read"] == false)
    );
    let c = b["nextCursor"].as_str().unwrap();
    let (_, b2) = env
        .api(
            "GET",
            &format!("/notifications?unread=true&limit=100&cursor={c}"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(b2["notifications"].as_array().unwrap().len(), 12 - 5);
    assert!(b2["nextCursor"].is_null());

    for bad in [
        "/notifications?limit=0",
        "/notifications?limit=101",
        "/notifications?limit=x",
        "/notifications?cursor=forged",
        "/notifications?unread=maybe",
    ] {
        let (s, b) = env.api("GET", bad, Some(&t), None).await;
        assert_eq!(s, 400, "{bad}: {b}");
        assert!(b["error"]["field"].is_string(), "{bad}: {b}");
    }
}

#[tokio::test]
async fn one_notification_read_delete_and_other_users() {
    let env = TestEnv::new().await;
    env.connect("alice", "a1").await;
    env.connect("alice", "a2").await;
    let ids = seed(&env, "alice", 3).await;
    let bob_ids = seed(&env, "bob", 1).await;
    let (t, bob) = (env.token("alice"), env.token("bob"));

    let (s, b) = env
        .api("GET", &format!("/notifications/{}", ids[0]), Some(&t), None)
        .await;
    assert_eq!((s, b["id"].as_str()), (200, Some(ids[0].as_str())));
    // Someone else's, or an id that cannot exist: the same 404.
    for path in [
        format!("/notifications/{}", bob_ids[0]),
        "/notifications/nope".into(),
    ] {
        let (s, b) = env.api("GET", &path, Some(&t), None).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    assert_eq!(
        env.api(
            "PATCH",
            &format!("/notifications/{}/read", bob_ids[0]),
            Some(&t),
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        env.api(
            "DELETE",
            &format!("/notifications/{}", bob_ids[0]),
            Some(&t),
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(env.app.store.unread_count("bob").await.unwrap(), 1);

    let (s, b) = env
        .api(
            "PATCH",
            &format!("/notifications/{}/read", ids[0]),
            Some(&t),
            None,
        )
        .await;
    assert_eq!((s, b["unreadCount"].as_u64()), (200, Some(2)));
    for dev in ["a1", "a2"] {
        assert_eq!(
            env.mgmt.posts_to(dev).last().unwrap(),
            &json!({"event":"notification:read-ack","data":{"id": ids[0], "unreadCount": 2}})
        );
    }
    assert_eq!(
        env.api("GET", "/notifications/unread-count", Some(&t), None)
            .await
            .1,
        json!({"unreadCount": 2})
    );

    // Deleting an unread one lowers the count; a read one does not.
    assert_eq!(
        env.api(
            "DELETE",
            &format!("/notifications/{}", ids[1]),
            Some(&t),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        env.mgmt.posts_to("a2").last().unwrap()["event"],
        "notification:deleted"
    );
    assert_eq!(
        env.api(
            "DELETE",
            &format!("/notifications/{}", ids[0]),
            Some(&t),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        env.api(
            "DELETE",
            &format!("/notifications/{}", ids[0]),
            Some(&t),
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        env.api("GET", "/notifications/unread-count", Some(&t), None)
            .await
            .1["unreadCount"],
        1
    );

    let (s, b) = env
        .api("PATCH", "/notifications/read-all", Some(&t), None)
        .await;
    assert_eq!((s, b["marked"].as_u64()), (200, Some(1)));
    assert_eq!(
        env.mgmt.posts_to("a1").last().unwrap(),
        &json!({"event":"notification:read-ack","data":{"id": null, "unreadCount": 0}})
    );
    assert_eq!(
        env.api("GET", "/notifications/unread-count", Some(&bob), None)
            .await
            .1["unreadCount"],
        1
    );
}

#[tokio::test]
async fn fifty_mark_reads_keep_the_counter_exact_on_dynamodb() {
    let env = TestEnv::new().await;
    let ids = seed(&env, "alice", 55).await;
    let t = env.token("alice");
    // One after the other: moto runs concurrent transactions unsafely (a
    // cancelled one restores a whole-table snapshot over the others' writes).
    // Fifty racing calls, twice per notification, run against the embedded
    // store in local_stack.rs; DynamoDB itself isolates transactions.
    for id in &ids[..50] {
        let (s, _) = env
            .api(
                "PATCH",
                &format!("/notifications/{id}/read"),
                Some(&t),
                None,
            )
            .await;
        assert_eq!(s, 200);
    }
    assert_eq!(env.app.store.unread_count("alice").await.unwrap(), 5);
    // Marking again changes nothing.
    for id in &ids[..3] {
        let (s, b) = env
            .api(
                "PATCH",
                &format!("/notifications/{id}/read"),
                Some(&t),
                None,
            )
            .await;
        assert_eq!((s, b["unreadCount"].as_u64()), (200, Some(5)));
    }
}

#[tokio::test]
async fn preferences_read_with_defaults_and_replace_strictly() {
    let env = TestEnv::new().await;
    let t = env.token("alice");
    let (s, b) = env.api("GET", "/preferences", Some(&t), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        b["channels"]["order"],
        json!({"in_app": true, "email": true, "sms": false, "push": true})
    );
    assert_eq!(b["channels"]["system"]["email"], false);
    let (s, b) = env
        .api(
            "PUT",
            "/preferences",
            Some(&t),
            Some(json!({"email":"al@example.com","channels":{"order":{"email":false}}})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["channels"]["order"],
        json!({"in_app": true, "email": false, "sms": false, "push": true})
    );
    let (_, b) = env.api("GET", "/preferences", Some(&t), None).await;
    assert_eq!(b["email"], "al@example.com");
    assert_eq!(b["channels"]["order"]["email"], false);
    for bad in [
        json!({"channels":{"shipping":{"email":true}}}),
        json!({"channels":{"order":{"pigeon":true}}}),
        json!({"volume": 11}),
    ] {
        let (s, b) = env
            .api("PUT", "/preferences", Some(&t), Some(bad.clone()))
            .await;
        assert_eq!(s, 400, "{bad}: {b}");
    }
    // Nothing of the refused bodies was stored.
    assert_eq!(
        env.api("GET", "/preferences", Some(&t), None).await.1["channels"]["order"]["email"],
        false
    );
}

#[tokio::test]
async fn patch_merges_preferences_and_null_clears() {
    let env = TestEnv::new().await;
    let t = env.token("auth0|pat");
    let (s, _) = env
        .api(
            "PUT",
            "/preferences",
            Some(&t),
            Some(json!({"email":"p@example.com","phone":"+4915112345678","channels":{"order":{"email":false}}})),
        )
        .await;
    assert_eq!(s, 200);
    // Turning SMS on for payments keeps the addresses and the order choice.
    let (s, b) = env
        .api(
            "PATCH",
            "/preferences",
            Some(&t),
            Some(json!({"channels":{"payment":{"sms":true}}})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["email"], "p@example.com");
    assert_eq!(b["phone"], "+4915112345678");
    assert_eq!(b["channels"]["order"]["email"], false);
    assert_eq!(b["channels"]["payment"]["sms"], true);
    // null clears: the phone goes, the order switch falls back to its default.
    let (s, b) = env
        .api(
            "PATCH",
            "/preferences",
            Some(&t),
            Some(json!({"phone":null,"channels":{"order":{"email":null}}})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("phone").is_none(), "{b}");
    assert_eq!(b["email"], "p@example.com");
    assert_eq!(b["channels"]["order"]["email"], true);
    let (_, stored) = env.api("GET", "/preferences", Some(&t), None).await;
    assert_eq!(stored, b);
    // A bad patch is a 400 naming the field, and changes nothing.
    let (s, e) = env
        .api(
            "PATCH",
            "/preferences",
            Some(&t),
            Some(json!({"email":"nope"})),
        )
        .await;
    assert_eq!((s, e["error"]["field"].as_str()), (400, Some("email")));
    assert_eq!(
        env.api("GET", "/preferences", Some(&t), None).await.1,
        stored
    );
    // PUT still replaces the whole document.
    let (_, b) = env
        .api("PUT", "/preferences", Some(&t), Some(json!({})))
        .await;
    assert!(b.get("email").is_none(), "{b}");
}

#[tokio::test]
async fn notifications_carry_the_events_data_everywhere() {
    let env = TestEnv::new().await;
    env.connect("google-oauth2|77", "g-phone").await;
    let mut e = order_event("evt_data_1", "google-oauth2|77");
    e["data"] =
        json!({"orderId":"o_42","total":"19.99","currency":"EUR","items":[{"sku":"a","qty":2}]});
    assert_eq!(env.post_event(&e).await.status_code, 202);
    env.settle().await;
    let want = e["data"].clone();
    // WebSocket push.
    assert_eq!(env.mgmt.posts_to("g-phone")[0]["data"]["data"], want);
    // REST list and one.
    let t = env.token("google-oauth2|77");
    let (_, list) = env.api("GET", "/notifications", Some(&t), None).await;
    assert_eq!(list["notifications"][0]["data"], want);
    let id = list["notifications"][0]["id"].as_str().unwrap().to_owned();
    let (_, one) = env
        .api("GET", &format!("/notifications/{id}"), Some(&t), None)
        .await;
    assert_eq!(one["data"], want);
    // Sync.
    env.send_frame("g-phone", r#"{"action":"notification:sync"}"#)
        .await;
    let sync = env.mgmt.posts_to("g-phone").pop().unwrap();
    assert_eq!(sync["data"]["notifications"][0]["data"], want);
    // Over 4 KB of data is refused with the field named.
    let mut big = order_event("evt_data_2", "google-oauth2|77");
    big["data"]["note"] = "x".repeat(5000).into();
    let r = env.post_event(&big).await;
    assert_eq!(r.status_code, 400);
    let body = match r.body.unwrap() {
        aws_lambda_events::encodings::Body::Text(t) => t,
        other => panic!("unexpected body {other:?}"),
    };
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["field"], "data", "{body}");
}

#[tokio::test]
async fn action_urls_must_be_https_or_site_paths() {
    let env = TestEnv::new().await;
    let admin = env.admin_token("root");
    for bad in [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/x",
        "http://evil.example/x",
    ] {
        let (s, b) = env
            .api(
                "POST",
                "/admin/notifications",
                Some(&admin),
                Some(json!({"userIds":["u1"],"title":"t","message":"m","actionUrl":bad})),
            )
            .await;
        assert_eq!(
            (s, b["error"]["field"].as_str()),
            (400, Some("actionUrl")),
            "{bad}"
        );
        let (s, b) = env
            .api(
                "PUT",
                "/admin/templates/order.created/in_app",
                Some(&admin),
                Some(json!({"title":"t","message":"m","actionUrl":bad})),
            )
            .await;
        assert_eq!(
            (s, b["error"]["field"].as_str()),
            (400, Some("actionUrl")),
            "template {bad}"
        );
    }
    for ok in ["https://shop.example/orders/o_1", "/orders/o_1"] {
        let (s, b) = env
            .api(
                "POST",
                "/admin/notifications",
                Some(&admin),
                Some(json!({"userIds":["u1"],"title":"t","message":"m","actionUrl":ok})),
            )
            .await;
        assert_eq!(s, 202, "{ok}: {b}");
    }
    // A bare `{{ orderId }}` does not render to a link for sample data.
    let (s, b) = env
        .api(
            "PUT",
            "/admin/templates/order.created/in_app",
            Some(&admin),
            Some(json!({"title":"t","message":"m","actionUrl":"{{ orderId }}"})),
        )
        .await;
    assert_eq!((s, b["error"]["field"].as_str()), (400, Some("actionUrl")));
    // One that passes with sample data but takes the link from the event:
    // the worker drops a link that renders to anything else.
    let sneaky = "{% if orderId == 'o_1042' %}/orders/o_1042{% else %}{{ orderId }}{% endif %}";
    let (s, b) = env
        .api(
            "PUT",
            "/admin/templates/order.created/in_app",
            Some(&admin),
            Some(json!({"title":"t","message":"m","actionUrl":sneaky})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    env.settle().await;
    let mut e = order_event("evt_link", "u1");
    e["data"]["orderId"] = "javascript:alert(1)".into();
    assert_eq!(env.post_event(&e).await.status_code, 202);
    env.settle().await;
    let items = env
        .app
        .store
        .notifications_after("u1", None, 50)
        .await
        .unwrap()
        .items;
    let n = items.iter().find(|n| n.event_id == "evt_link").unwrap();
    assert_eq!(n.action_url, None);
    for n in &items {
        if let Some(u) = &n.action_url {
            assert!(u.starts_with("https://") || u.starts_with('/'), "{u}");
        }
    }
}

#[tokio::test]
async fn admin_sends_to_users_through_the_pipeline() {
    let env = TestEnv::new().await;
    env.connect("u1", "u1-phone").await;
    let admin = env.admin_token("root");
    let (s, b) = env
        .api("POST", "/admin/notifications", Some(&admin), Some(json!({"userIds":["u1","u2"],"title":"Sale <b>today</b>","message":"20% off","priority":"high"})))
        .await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(b["recipients"], 2);
    env.settle().await;
    for u in ["u1", "u2"] {
        let items = env
            .app
            .store
            .notifications_after(u, None, 10)
            .await
            .unwrap()
            .items;
        assert_eq!(items.len(), 1, "{u}");
        assert_eq!(items[0].title, "Sale <b>today</b>");
        assert_eq!(items[0].priority, shared::model::Priority::High);
    }
    assert_eq!(
        env.mgmt.posts_to("u1-phone")[0]["data"]["message"],
        "20% off"
    );
    let (s, b) = env
        .api("POST", "/admin/notifications", Some(&admin), Some(json!({"userIds":["u1"],"type":"order.status_changed","data":{"orderId":"o_9","status":"shipped"}})))
        .await;
    assert_eq!(s, 202, "{b}");
    env.settle().await;
    let items = env
        .app
        .store
        .notifications_after("u1", None, 10)
        .await
        .unwrap()
        .items;
    assert_eq!(items.last().unwrap().title, "Order o_9 is shipped");
    let (s, b) = env
        .api(
            "POST",
            "/admin/notifications",
            Some(&admin),
            Some(json!({"userIds":["u1"],"message":"no title"})),
        )
        .await;
    assert_eq!((s, b["error"]["field"].as_str()), (400, Some("title")));
}

#[tokio::test]
async fn a_broadcast_fans_out_page_by_page_to_everyone_once() {
    let env = TestEnv::with(|c| c.broadcast_page_size = 3).await;
    let users: Vec<String> = (0..8).map(|i| format!("user{i}")).collect();
    for u in &users {
        env.app
            .store
            .put_preferences(u, &Default::default())
            .await
            .unwrap();
    }
    let admin = env.admin_token("root");
    let (s, b) = env
        .api(
            "POST",
            "/admin/notifications",
            Some(&admin),
            Some(json!({"broadcast":true,"title":"Maintenance","message":"Tonight 2-3am"})),
        )
        .await;
    assert_eq!((s, b["broadcast"].as_bool()), (202, Some(true)), "{b}");
    // Each worker round handles what is queued: pages arrive one at a time.
    let pages = std::cell::Cell::new(0);
    wait_until(
        "the broadcast's pages to be worked through",
        std::time::Duration::from_secs(30),
        || async {
            let (batch, r) = env.run_worker().await;
            assert!(r.batch_item_failures.is_empty(), "{r:?}");
            let here = batch
                .records
                .iter()
                .filter(|m| m.body.as_deref().unwrap().contains("\"broadcast\""))
                .count();
            pages.set(pages.get() + here);
            batch.records.is_empty()
        },
    )
    .await;
    let pages = pages.get();
    assert!(
        pages >= 3,
        "8 users in pages of 3 need at least 3 pages, got {pages}"
    );
    for u in &users {
        let items = env
            .app
            .store
            .notifications_after(u, None, 10)
            .await
            .unwrap()
            .items;
        assert_eq!(items.len(), 1, "{u}");
        assert_eq!(items[0].title, "Maintenance");
    }
}

#[tokio::test]
async fn template_overrides_are_validated_and_used_by_the_next_notification() {
    let env = TestEnv::new().await;
    let admin = env.admin_token("root");
    let (s, b) = env.api("GET", "/admin/templates", Some(&admin), None).await;
    assert_eq!(s, 200);
    let list = b["templates"].as_array().unwrap();
    assert_eq!(list.len(), 20, "five types, four channels");
    assert!(list.iter().all(|t| t["override"] == false));

    let path = "/admin/templates/order.created/in_app";
    let (s, b) = env
        .api(
            "PUT",
            path,
            Some(&admin),
            Some(json!({"title":"{% if %}","message":"m"})),
        )
        .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (400, Some("title")),
        "{b}"
    );
    let (s, b) = env
        .api(
            "PUT",
            path,
            Some(&admin),
            Some(json!({"title":"Hi","message":"{{ status }}"})),
        )
        .await;
    assert_eq!(
        (s, b["error"]["field"].as_str()),
        (400, Some("message")),
        "{b}"
    );
    assert!(b["error"]["message"].as_str().unwrap().contains("status"));
    let (s, _) = env
        .api(
            "PUT",
            path,
            Some(&admin),
            Some(json!({"subject":"email fields on in_app"})),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        env.api(
            "PUT",
            "/admin/templates/order.exploded/in_app",
            Some(&admin),
            Some(json!({"title":"x","message":"y"}))
        )
        .await
        .0,
        404
    );

    let (s, b) = env.api("PUT", path, Some(&admin), Some(json!({"title":"🎉 {{ orderId }} is in!","message":"Total {{ total }}","priority":"high"}))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        env.post_event(&order_event("evt_tpl_1", "ann"))
            .await
            .status_code,
        202
    );
    env.settle().await;
    let n = env
        .app
        .store
        .notifications_after("ann", None, 10)
        .await
        .unwrap()
        .items
        .pop()
        .unwrap();
    assert_eq!(n.title, "🎉 o_1 is in!");
    assert_eq!(n.priority, shared::model::Priority::High);

    let (_, b) = env.api("GET", "/admin/templates", Some(&admin), None).await;
    let t = b["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "order.created" && t["channel"] == "in_app")
        .unwrap()
        .clone();
    assert_eq!(t["override"], true);
    assert_eq!(env.api("DELETE", path, Some(&admin), None).await.0, 204);
    assert_eq!(env.api("DELETE", path, Some(&admin), None).await.0, 404);
    assert_eq!(
        env.post_event(&order_event("evt_tpl_2", "ann"))
            .await
            .status_code,
        202
    );
    env.settle().await;
    let n = env
        .app
        .store
        .notifications_after("ann", None, 10)
        .await
        .unwrap()
        .items
        .pop()
        .unwrap();
    assert_eq!(n.title, "Order o_1 confirmed");
}

#[tokio::test]
async fn stats_count_what_happened_without_a_scan() {
    let env = TestEnv::new().await;
    env.connect("sam", "s1").await;
    for i in 0..3 {
        assert_eq!(
            env.post_event(&order_event(&format!("evt_st{i}"), "sam"))
                .await
                .status_code,
            202
        );
    }
    let mut pay = order_event("evt_st_pay", "sam");
    pay["type"] = "payment.verified".into();
    env.post_event(&pay).await;
    env.settle().await;
    let admin = env.admin_token("root");
    let (s, b) = env.api("GET", "/admin/stats", Some(&admin), None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["totals"]["created"]["order.created"], 3);
    assert_eq!(b["totals"]["created"]["payment.verified"], 1);
    assert_eq!(b["totals"]["deliveries"]["in_app"]["delivered"], 4);
    assert_eq!(b["totals"]["deliveries"]["email"]["skipped"], 4);
    // The last 24 hours touch 24 or 25 hourly buckets.
    assert!((24..=25).contains(&b["hourly"].as_array().unwrap().len()));
    let (s, b) = env
        .api("GET", "/admin/stats?from=yesterday", Some(&admin), None)
        .await;
    assert_eq!((s, b["error"]["field"].as_str()), (400, Some("from")));
    let old: Value = env
        .api(
            "GET",
            "/admin/stats?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z",
            Some(&admin),
            None,
        )
        .await
        .1;
    assert_eq!(old["totals"]["created"], json!({}));
}
