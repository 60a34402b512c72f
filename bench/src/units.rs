//! `bench units`: DynamoDB write and read units per order event and per
//! broadcast recipient, metered by the embedded store's emulation of
//! DynamoDB's capacity accounting (1 KB per write unit, 4 KB per read unit,
//! transactions double), running the worker and the sender in process.

use serde_json::json;
use shared::ports::*;
use shared::testing::InProcess;

async fn connect(p: &InProcess, user: &str, id: &str) {
    p.connect(user, id).await;
}

fn event(id: &str, user: &str, email: bool) -> String {
    let mut e = json!({"id": id, "type": "order.status_changed", "userId": user, "occurredAt": "2026-11-27T10:00:00Z",
        "data": {"orderId": "o_7", "status": "shipped"}});
    if email {
        e["recipient"] = json!({"email": "ann@example.com"});
    }
    e.to_string()
}

/// (write units, read units) consumed by `n` events of one user, per event.
async fn per_event(devices: usize, email: bool) -> (f64, f64) {
    let p = InProcess::new(|_| {});
    let user = "u";
    if !email {
        let mut prefs = p.store.preferences(user).await.unwrap();
        prefs
            .channels
            .entry(shared::model::Category::Order)
            .or_default()
            .insert(shared::model::Channel::Email, false);
        p.store.put_preferences(user, &prefs).await.unwrap();
    }
    for d in 0..devices {
        connect(&p, user, &format!("c{d}")).await;
    }
    p.events
        .send(vec![OutMessage::now(event("warm", user, email))])
        .await
        .unwrap();
    p.settle().await;
    let n = 10;
    let before = p.capacity.consumed();
    // One batch of ten, as the event source mapping hands them over.
    let batch = (0..n)
        .map(|i| OutMessage::now(event(&format!("e{i}"), user, email)))
        .collect();
    p.events.send(batch).await.unwrap();
    assert!(p.settle().await.is_empty());
    let after = p.capacity.consumed();
    (
        (after.0 - before.0) as f64 / n as f64,
        (after.1 - before.1) as f64 / n as f64,
    )
}

async fn per_recipient(users: usize) -> (f64, f64) {
    let p = InProcess::new(|_| {});
    for u in 0..users {
        connect(&p, &format!("b{u}"), &format!("b{u}-c0")).await;
        connect(&p, &format!("b{u}"), &format!("b{u}-c1")).await;
    }
    let before = p.capacity.consumed();
    assert!(p.broadcast("Flash sale", "Two hours only").await.is_empty());
    let after = p.capacity.consumed();
    (
        (after.0 - before.0) as f64 / users as f64,
        (after.1 - before.1) as f64 / users as f64,
    )
}

pub async fn run() {
    println!("| what | write units | read units |");
    println!("|---|---|---|");
    for devices in [1, 2, 5] {
        let (w, r) = per_event(devices, false).await;
        println!("| order event, in-app only, {devices} device(s) | {w:.1} | {r:.1} |");
    }
    let (w, r) = per_event(2, true).await;
    println!("| order event, in-app + email, 2 devices | {w:.1} | {r:.1} |");
    let (w, r) = per_recipient(2000).await;
    println!("| broadcast recipient (2,000 users x 2 devices) | {w:.2} | {r:.2} |");
}
