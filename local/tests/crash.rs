//! The local stack killed with SIGKILL in the middle of a load, then
//! restarted on the same data directory: every event that was answered 202
//! ends as exactly one stored notification, and a client gets the ones it
//! missed by sync.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use integration::client::request;
use integration::process::LocalProcess;
use tokio_tungstenite::tungstenite::Message;

/// One exchange with the stack; `None` once the process is gone.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, String)> {
    request(addr, method, path, headers, Some(body)).ok()
}

fn token(addr: SocketAddr, user: &str) -> String {
    let (_, body) = http(addr, "GET", &format!("/dev/token?user={user}"), &[], "").unwrap();
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn event_ids(addr: SocketAddr, user: &str) -> Vec<String> {
    let auth = format!("Bearer {}", token(addr, user));
    let (s, body) = http(
        addr,
        "GET",
        "/notifications?limit=100",
        &[("authorization", &auth)],
        "",
    )
    .unwrap();
    assert_eq!(s, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["eventId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_no_accepted_event() {
    let dir = integration::TestDir::new("crash");
    let mut stack = LocalProcess::start(&dir, &[], &[]).await;
    let addr = stack.http_addr;

    // Post from a thread while the main flow pulls the plug.
    let poster = std::thread::spawn(move || {
        let mut accepted: HashMap<String, String> = HashMap::new();
        for i in 0..400 {
            let user = format!("u{}", i % 8);
            let id = format!("evt_crash_{i}");
            let body = serde_json::json!({"id": id, "type": "order.created", "userId": user, "occurredAt": "2026-11-27T10:00:00Z", "data": {"orderId": format!("o_{i}")}}).to_string();
            match http(
                addr,
                "POST",
                "/events",
                &[
                    ("x-api-key", local::DEV_EVENTS_API_KEY),
                    ("content-type", "application/json"),
                ],
                &body,
            ) {
                Some((202, _)) => {
                    accepted.insert(id, user);
                }
                Some(_) => {}
                None => break, // the process is gone
            }
        }
        accepted
    });
    std::thread::sleep(Duration::from_millis(300));
    stack.kill();
    let accepted = poster.join().unwrap();
    assert!(
        !accepted.is_empty() && accepted.len() < 400,
        "the kill must land mid-load ({} accepted)",
        accepted.len()
    );

    let stack = LocalProcess::start(&dir, &[], &[]).await;
    let (addr, ws) = (stack.http_addr, stack.ws_url.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut by_user: HashMap<String, Vec<String>> = HashMap::new();
    loop {
        by_user.clear();
        for u in 0..8 {
            by_user.insert(format!("u{u}"), event_ids(addr, &format!("u{u}")));
        }
        let stored = by_user.values().map(Vec::len).sum::<usize>();
        if accepted
            .keys()
            .all(|id| by_user[&accepted[id]].contains(id))
            || Instant::now() > deadline
        {
            println!(
                "accepted {} before the kill, {stored} stored after the restart",
                accepted.len()
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for (id, user) in &accepted {
        let n = by_user[user].iter().filter(|e| *e == id).count();
        assert_eq!(n, 1, "{id} for {user} stored {n} times");
    }

    // A client that was connected before the crash catches up by sync.
    let t = token(addr, "u0");
    let (mut c, _) = tokio_tungstenite::connect_async(format!("{ws}/?token={t}"))
        .await
        .unwrap();
    c.send(Message::text(
        r#"{"action":"notification:sync","limit":100}"#,
    ))
    .await
    .unwrap();
    let synced: Vec<String> = loop {
        let Some(Ok(Message::Text(txt))) = tokio::time::timeout(Duration::from_secs(10), c.next())
            .await
            .unwrap()
        else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(txt.as_str()).unwrap();
        if v["event"] == "notification:sync" {
            break v["data"]["notifications"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["eventId"].as_str().unwrap().to_owned())
                .collect();
        }
    };
    // Every accepted event of u0 is there. (An event queued just before the
    // kill whose 202 never reached the poster may be there too: the shop
    // would have retried it with the same id.)
    for (id, user) in &accepted {
        if user == "u0" {
            assert!(synced.contains(id), "{id} missing from sync");
        }
    }
    drop(stack);
}
