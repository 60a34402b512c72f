//! `bench broadcast`: a broadcast to N devices on the local stack started
//! with `--quota-scale F`, so N devices at F stand for N / F at AWS's
//! quotas. Real WebSocket clients (two per user) behind the local gateway;
//! order events posted during the broadcast measure what it does to them.
//!
//! Devices ping as the web client does (every 9 minutes, spread out): their
//! keepalives share the account's request rate with the pushes.
//!
//! The devices connect before the broadcast at the unscaled 500 new
//! connections/s (`--connect-quota-scale 1`): in production they arrive over
//! hours; every other quota is scaled by F.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

use crate::e2e::{Endpoint, start_ours_with, token};

/// Arrivals per device: (first arrival, count) for the broadcast; and the
/// order events' first arrival by event id.
#[derive(Default)]
struct Seen {
    broadcast: HashMap<usize, (Instant, usize)>,
    orders: HashMap<String, Instant>,
}

type Shared = Arc<Mutex<Seen>>;

async fn device(
    at: Endpoint,
    user: String,
    index: usize,
    seen: Shared,
    ready: tokio::sync::mpsc::Sender<()>,
) {
    let url = format!("ws://{}/?token={}", at.ws, token(&user));
    let mut ws = loop {
        match connect_async(&url).await {
            Ok((ws, _)) => break ws,
            // 429: over the new-connection rate; come back a little later.
            Err(_) => tokio::time::sleep(Duration::from_millis(50 + (index % 50) as u64 * 4)).await,
        }
    };
    let _ = ready.send(()).await;
    // Keepalives as the web client sends them: every CLIENT_PING_SECS, at a
    // phase of its own, so N devices ping N / CLIENT_PING_SECS times a second.
    let every = Duration::from_secs(shared::quotas::CLIENT_PING_SECS);
    let phase =
        every.mul_f64(((index as u64).wrapping_mul(2_654_435_761) % 10_000) as f64 / 10_000.0);
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + phase, every);
    loop {
        let msg = tokio::select! {
            m = ws.next() => match m {
                Some(Ok(m)) => m,
                _ => break,
            },
            _ = pings.tick() => {
                let _ = ws.send(Message::text(r#"{"action":"ping"}"#)).await;
                continue;
            }
        };
        let Message::Text(t) = msg else { continue };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(t.as_str()) else {
            continue;
        };
        if v["event"] != "notification:new" {
            continue;
        }
        let now = Instant::now();
        let eid = v["data"]["eventId"].as_str().unwrap_or_default();
        let mut s = seen.lock().unwrap();
        if eid.starts_with("adm_") && !user.starts_with('o') {
            s.broadcast.entry(index).or_insert((now, 0)).1 += 1;
        } else {
            s.orders.entry(eid.to_owned()).or_insert(now);
        }
    }
    let _ = ws.close(None).await;
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

pub async fn run(args: &[String]) {
    let devices: usize = arg(args, "--devices")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let scale: f64 = arg(args, "--quota-scale")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.05);
    // Order events meanwhile: 400/s at full scale, scaled like the quotas.
    let order_rate: u64 = arg(args, "--order-rate")
        .and_then(|v| v.parse().ok())
        .unwrap_or(((400.0 * scale).round() as u64).max(1));
    let users = devices.div_ceil(2);
    let order_users = 100;
    let dir = std::env::temp_dir().join(format!("bench-broadcast-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let target = start_ours_with(
        &crate::bin_dir().join("local"),
        &dir,
        &[
            "--quota-scale".into(),
            scale.to_string(),
            "--connect-quota-scale".into(),
            "1".into(),
        ],
    )
    .await;
    let at = target.at;
    let seen: Shared = Arc::default();
    let (tx, mut rx) = tokio::sync::mpsc::channel(devices + order_users);
    let began = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..devices {
        tasks.push(tokio::spawn(device(
            at,
            format!("b{}", i / 2),
            i,
            seen.clone(),
            tx.clone(),
        )));
    }
    for i in 0..order_users {
        tasks.push(tokio::spawn(device(
            at,
            format!("o{i}"),
            devices + i,
            seen.clone(),
            tx.clone(),
        )));
    }
    for _ in 0..devices + order_users {
        tokio::time::timeout(Duration::from_secs(600), rx.recv())
            .await
            .expect("every device connected within 10 minutes");
    }
    println!(
        "{devices} devices of {users} users connected in {:.1} s",
        began.elapsed().as_secs_f64()
    );

    let http = reqwest_like::Http(at.http);
    let admin = shared::auth::sign_hs256(
        local::DEV_JWT_SECRET,
        &shared::auth::claims_for("bench-admin", true, 3600, &shared::Config::default()),
    );
    let floor = devices as f64 / (10_000.0 * scale);
    // Order events all along the broadcast, to users outside it.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let posted: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let poster = {
        let (stop, posted) = (stop.clone(), posted.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            let mut tick =
                tokio::time::interval(Duration::from_micros(1_000_000 / order_rate.max(1)));
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                n += 1;
                let id = format!("bo-{n}");
                let body = serde_json::json!({"id": id, "type": "order.created", "userId": format!("o{}", n % order_users as u64),
                    "occurredAt": chrono::Utc::now().to_rfc3339(), "data": {"orderId": id, "total": 10, "currency": "EUR"}});
                let t = Instant::now();
                let (s, _) = http
                    .post(
                        "/events",
                        &[("x-api-key", local::DEV_EVENTS_API_KEY)],
                        &body.to_string(),
                    )
                    .await;
                if s == 202 {
                    posted.lock().unwrap().push((id, t));
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    // What the set-up met (connections, their rows) is not the broadcast's.
    let (_, at_start) = http.get("/dev/quotas").await;
    let t0 = Instant::now();
    let auth = format!("Bearer {admin}");
    let body =
        serde_json::json!({"broadcast": true, "title": "Flash sale", "message": "Two hours only"});
    let (s, b) = http
        .post(
            "/admin/notifications",
            &[("authorization", &auth)],
            &body.to_string(),
        )
        .await;
    assert_eq!(s, 202, "{b}");
    let deadline = t0 + Duration::from_secs_f64((floor * 5.0).max(60.0));
    loop {
        let reached = seen.lock().unwrap().broadcast.len();
        if reached >= devices || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment more for duplicates and the last order events.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = poster.await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, at_end) = http.get("/dev/quotas").await;
    let s = std::mem::take(&mut *seen.lock().unwrap());
    let reached = s.broadcast.len();
    let duplicates: usize = s.broadcast.values().map(|(_, n)| n - 1).sum();
    let last = s.broadcast.values().map(|(t, _)| *t).max().unwrap_or(t0);
    let elapsed = last.duration_since(t0).as_secs_f64();
    let posted = posted.lock().unwrap().clone();
    let during: Vec<f64> = posted
        .iter()
        .filter(|(_, t)| *t >= t0 && *t <= last)
        .filter_map(|(id, t)| {
            s.orders
                .get(id)
                .map(|a| a.duration_since(*t).as_secs_f64() * 1000.0)
        })
        .collect();
    let lost_orders = posted
        .iter()
        .filter(|(id, _)| !s.orders.contains_key(id))
        .count();
    let mut lat = during.clone();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let delta = |path: &[&str]| {
        let get = |v: &serde_json::Value| path.iter().fold(v, |v, k| &v[*k]).as_u64().unwrap_or(0);
        get(&at_end).saturating_sub(get(&at_start))
    };
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!("| devices (users x 2) | {devices} ({users} users) |");
    println!("| quota scale F | {scale} |");
    println!("| floor N / (10,000 x F) | {floor:.1} s |");
    println!("| elapsed, admin request to last device | {elapsed:.1} s |");
    println!("| ratio elapsed / floor | {:.2} |", elapsed / floor);
    println!("| devices reached | {reached} of {devices} |");
    println!("| duplicates | {duplicates} |");
    println!(
        "| order events during the broadcast | {} (p50 {:.0} ms, p99 {:.0} ms) |",
        lat.len(),
        pct(0.5),
        pct(0.99)
    );
    println!("| order events lost | {lost_orders} of {} |", posted.len());
    println!(
        "| throttled during the broadcast: management API (429) | {} |",
        delta(&["throttled", "managementApi"])
    );
    println!(
        "| throttled during the broadcast: DynamoDB partition writes / reads | {} / {} |",
        delta(&["throttled", "dynamodb", "partitionWrites"]),
        delta(&["throttled", "dynamodb", "partitionReads"])
    );
    println!(
        "| throttled during the broadcast: DynamoDB table writes / reads | {} / {} |",
        delta(&["throttled", "dynamodb", "tableWrites"]),
        delta(&["throttled", "dynamodb", "tableReads"])
    );
    println!(
        "| throttled during set-up: new connections (429) | {} |",
        at_start["throttled"]["newConnections"]
    );
    println!(
        "| DynamoDB units during the broadcast (write, read) | {}, {} |",
        delta(&["consumed", "writeUnits"]),
        delta(&["consumed", "readUnits"])
    );
    println!(
        "| consumer concurrency (scaled MaximumConcurrency) | {} |",
        at_end["concurrency"]
    );
    for t in tasks {
        t.abort();
    }
    target.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    if reached < devices || duplicates > 0 || lost_orders > 0 {
        eprintln!(
            "broadcast: {reached} of {devices} devices reached, {duplicates} duplicates, {lost_orders} order events lost"
        );
        std::process::exit(1);
    }
}

/// Minimal HTTP/1.1 over a TCP stream: the bench needs two calls, not a client crate.
mod reqwest_like {
    use std::net::SocketAddr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[derive(Clone, Copy)]
    pub struct Http(pub SocketAddr);

    impl Http {
        async fn call(
            &self,
            method: &str,
            path: &str,
            headers: &[(&str, &str)],
            body: &str,
        ) -> (u16, serde_json::Value) {
            let mut s = tokio::net::TcpStream::connect(self.0)
                .await
                .expect("connect");
            let mut req = format!(
                "{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
                self.0,
                body.len()
            );
            for (k, v) in headers {
                req.push_str(&format!("{k}: {v}\r\n"));
            }
            req.push_str("\r\n");
            req.push_str(body);
            s.write_all(req.as_bytes()).await.expect("write");
            let mut out = Vec::new();
            s.read_to_end(&mut out).await.expect("read");
            let text = String::from_utf8_lossy(&out);
            let status = text
                .split_whitespace()
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
            (
                status,
                serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
            )
        }

        pub async fn post(
            &self,
            path: &str,
            headers: &[(&str, &str)],
            body: &str,
        ) -> (u16, serde_json::Value) {
            self.call("POST", path, headers, body).await
        }

        pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
            self.call("GET", path, &[], "").await
        }
    }
}
