//! Broadcasts on the local stack: every device of every user once, also
//! when pages are processed again.

use std::time::Duration;

use integration::client::{Client, http};
use integration::stack::{admin_token, start_with, temp_dir, token};
use integration::wait_until;
use serde_json::json;
use shared::ports::*;
use shared::usecases::admin::{BroadcastPage, SendRequest};

#[tokio::test]
async fn a_broadcast_reaches_every_device_once_also_when_its_pages_come_again() {
    // Pages of 2: the shards' chains have several pages each.
    let stack = start_with(temp_dir("broadcast"), |o| o.config.broadcast_page_size = 2).await;
    let online: Vec<String> = (0..10).map(|i| format!("on{i}")).collect();
    let offline: Vec<String> = (0..30).map(|i| format!("off{i}")).collect();
    let mut devices = Vec::new();
    for u in &online {
        let t = token(&stack, u).await;
        for _ in 0..2 {
            devices.push((
                u.clone(),
                Client::connect(&stack.ws_url(), &t).await.unwrap(),
            ));
        }
    }
    for u in &offline {
        stack
            .app
            .store
            .put_preferences(u, &Default::default())
            .await
            .unwrap();
    }
    let body = json!({"broadcast": true, "title": "Flash sale", "message": "Two hours only"});
    let admin = admin_token(&stack, "root").await;
    let auth = format!("Bearer {admin}");
    let (s, b) = http(
        stack.http_addr,
        "POST",
        "/admin/notifications",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    let send_id = b["id"].as_str().unwrap().to_owned();
    for (user, d) in &mut devices {
        let e = d.expect("notification:new").await;
        assert_eq!(e["data"]["title"], "Flash sale", "{user}: {e}");
    }
    let everyone: Vec<&String> = online.iter().chain(&offline).collect();
    let inbox_holds_it_once = |u: String| {
        let store = stack.app.store.clone();
        async move {
            let page = store.notifications_after(&u, None, 10).await.unwrap();
            (page.items.len(), store.unread_count(&u).await.unwrap())
        }
    };
    wait_until(
        "every user's inbox to hold the broadcast",
        Duration::from_secs(20),
        || async {
            let mut all = true;
            for u in &everyone {
                all &= inbox_holds_it_once((*u).clone()).await == (1, 1);
            }
            all
        },
    )
    .await;

    // Every page of every shard again, as SQS may deliver them twice.
    let req = SendRequest::parse(body.to_string().as_bytes(), true).unwrap();
    let mut again = Vec::new();
    for shard in 0..USER_SHARDS {
        again.push(OutMessage::now(
            BroadcastPage::first(&send_id, &req.content, shard).to_body(),
        ));
    }
    // And a page of leftover users, as a run that failed for them queues.
    again.push(OutMessage::now(
        BroadcastPage {
            users: Some(vec![online[0].clone(), offline[0].clone()]),
            attempt: 1,
            ..BroadcastPage::first(&send_id, &req.content, 0)
        }
        .to_body(),
    ));
    stack.broadcasts.send(again).await.unwrap();
    wait_until(
        "the repeated pages to be worked off",
        Duration::from_secs(20),
        || async { stack.broadcasts.depth().await.unwrap() == 0 },
    )
    .await;
    for (user, d) in &mut devices {
        assert!(d.silent_for(300).await, "{user} got the broadcast twice");
    }
    for u in &everyone {
        assert_eq!(inbox_holds_it_once((*u).clone()).await, (1, 1), "{u}");
    }
    assert!(stack.broadcasts.dead_letters().await.unwrap().is_empty());
    // The console lists the broadcast queue's dead letters beside the others.
    let (s, b) = http(
        stack.http_addr,
        "GET",
        "/admin/dead-letters",
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let names: Vec<&str> = b["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["queue"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["events", "broadcast", "deliveries", "feedback", "webhooks"]
    );
    drop(devices);
    stack.stop().await;
}
