//! End to end on this machine: N WebSocket clients (two devices per user),
//! business events posted at a steady rate, latency from POST /events to
//! `notification:new` at each device. The same load generator drives the local stack and the seed-style
//! Socket.IO baseline. Everything stays on 127.0.0.1 and stops by itself.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Ours,
    SocketIo,
}

/// Where a server under test listens.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    pub kind: Kind,
    pub http: SocketAddr,
    pub ws: SocketAddr,
}

pub struct Target {
    pub at: Endpoint,
    child: Child,
}

impl Target {
    /// Peak resident memory of the server process so far, in MB.
    pub fn peak_rss_mb(&self) -> f64 {
        let pid = self.child.id().unwrap_or(0);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

async fn read_ready(
    child: &mut Child,
    pattern: impl Fn(&str) -> Option<(String, String)>,
) -> (String, String) {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        let mut seen = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push_str(&line);
            seen.push('\n');
            if let Some(x) = pattern(&seen) {
                return x;
            }
        }
        panic!("the server exited before it was ready:\n{seen}");
    })
    .await
    .expect("server ready within 30 s");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    found
}

fn addr_after(text: &str, marker: &str) -> Option<String> {
    let i = text.find(marker)? + marker.len();
    let rest = text[i..].trim_start();
    let rest = rest.split("://").nth(1)?;
    Some(rest.split(['/', ' ', '\n']).next()?.to_owned())
}

pub async fn start_ours(bin: &Path, data_dir: &Path) -> Target {
    start_ours_with(bin, data_dir, &[]).await
}

/// The local stack with extra command-line options.
pub async fn start_ours_with(bin: &Path, data_dir: &Path, extra: &[String]) -> Target {
    let mut child = Command::new(bin)
        .args(["--http-port", "0", "--ws-port", "0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let (http, ws) = read_ready(&mut child, |t| {
        Some((addr_after(t, "demo page")?, addr_after(t, "WebSocket")?))
    })
    .await;
    Target {
        at: Endpoint {
            kind: Kind::Ours,
            http: http.parse().unwrap(),
            ws: ws.parse().unwrap(),
        },
        child,
    }
}

pub async fn start_socketio(dir: &Path, db: &Path) -> Target {
    let mut child = Command::new("node")
        .arg(dir.join("server.mjs"))
        .arg("0")
        .arg(db)
        .env("JWT_SECRET", local::DEV_JWT_SECRET)
        .env("EVENTS_API_KEY", local::DEV_EVENTS_API_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node");
    let (http, _) = read_ready(&mut child, |t| {
        Some((addr_after(t, "ready")?, String::new()))
    })
    .await;
    let addr: SocketAddr = http.parse().unwrap();
    Target {
        at: Endpoint {
            kind: Kind::SocketIo,
            http: addr,
            ws: addr,
        },
        child,
    }
}

/// Per (event id, device): when it first arrived and how many times.
type Seen = Arc<Mutex<HashMap<(String, usize), (Instant, usize)>>>;

/// Devices (WebSocket clients) per user: every event must reach both.
pub const DEVICES_PER_USER: usize = 2;

pub fn token(user: &str) -> String {
    let config = shared::Config::default();
    shared::auth::sign_hs256(
        local::DEV_JWT_SECRET,
        &shared::auth::claims_for(user, false, 3600, &config),
    )
}

/// Connects one client and records every `notification:new` it receives.
async fn client(
    target: Endpoint,
    user: String,
    device: usize,
    seen: Seen,
    ready: tokio::sync::mpsc::Sender<()>,
) {
    let url = match target.kind {
        Kind::Ours => format!("ws://{}/?token={}", target.ws, token(&user)),
        Kind::SocketIo => format!("ws://{}/socket.io/?EIO=4&transport=websocket", target.ws),
    };
    let (mut ws, _) = match connect_async(&url).await {
        Ok(x) => x,
        Err(e) => panic!("client {user} cannot connect: {e}"),
    };
    if target.kind == Kind::Ours {
        let _ = ready.send(()).await;
    }
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(t) = msg else { continue };
        let t = t.as_str();
        let json = match target.kind {
            Kind::Ours => Some(t),
            Kind::SocketIo => {
                // Engine.IO / Socket.IO v4 framing.
                if t.starts_with('0') {
                    let auth = serde_json::json!({"token": token(&user)});
                    let _ = ws.send(Message::text(format!("40{auth}"))).await;
                    None
                } else if t.starts_with("40") {
                    let _ = ready.send(()).await;
                    None
                } else if t == "2" {
                    let _ = ws.send(Message::text("3")).await;
                    None
                } else {
                    t.strip_prefix("42")
                }
            }
        };
        let Some(json) = json else { continue };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
            continue;
        };
        let data = match target.kind {
            Kind::Ours if v["event"] == "notification:new" => &v["data"],
            Kind::SocketIo if v[0] == "notification:new" => &v[1],
            _ => continue,
        };
        if let Some(eid) = data["eventId"].as_str() {
            let now = Instant::now();
            let mut s = seen.lock().unwrap();
            let e = s.entry((eid.to_owned(), device)).or_insert((now, 0));
            e.1 += 1;
        }
    }
}

pub struct Run {
    pub rate: u32,
    pub sent: usize,
    pub accepted: usize,
    pub delivered: usize,
    pub duplicates: usize,
    pub latencies: Vec<f64>,
    pub achieved_rate: f64,
}

impl Run {
    /// Deliveries that never came: every accepted event owes one per device.
    pub fn lost(&self) -> usize {
        (self.accepted * DEVICES_PER_USER).saturating_sub(self.delivered)
    }
}

pub struct Clients {
    seen: Seen,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Clients {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// `n` clients: user `load{i / 2}` on devices `i`, two per user.
pub async fn connect_clients(target: Endpoint, n: usize) -> Clients {
    let seen: Seen = Arc::default();
    let (tx, mut rx) = tokio::sync::mpsc::channel(n);
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        tasks.push(tokio::spawn(client(
            target,
            format!("load{}", i / DEVICES_PER_USER),
            i,
            seen.clone(),
            tx.clone(),
        )));
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for _ in 0..n {
        tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("all clients connected within 60 s");
    }
    Clients { seen, tasks }
}

/// Posts `rate` events a second for `secs`, spread over `users` users
/// (`clients / DEVICES_PER_USER`).
pub async fn load(
    target: Endpoint,
    clients: &Clients,
    users: usize,
    rate: u32,
    secs: u64,
    tag: &str,
) -> Run {
    // Only this step's deliveries: earlier steps' are done with.
    clients.seen.lock().unwrap().clear();
    // When each event was posted, for those answered 202.
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let total = rate as u64 * secs;
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    let mut posts = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = started + period * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let id = format!("evt_{tag}_{rate}_{i}");
        let body = serde_json::json!({
            "id": id, "type": "order.created", "userId": format!("load{}", i as usize % users),
            "occurredAt": "2026-11-27T10:00:00Z", "data": {"orderId": format!("o_{i}"), "total": "9.90", "currency": "EUR"}
        })
        .to_string();
        let (http, sent_at) = (target.http, sent_at.clone());
        posts.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let (status, _) = integration::client::http(
                http,
                "POST",
                "/events",
                &[
                    ("x-api-key", local::DEV_EVENTS_API_KEY),
                    ("content-type", "application/json"),
                ],
                Some(&body),
            )
            .await;
            if status == 202 {
                sent_at.lock().unwrap().insert(id, t0);
            }
        }));
    }
    for p in posts {
        let _ = p.await;
    }
    let achieved_rate = total as f64 / started.elapsed().as_secs_f64();
    let accepted = sent_at.lock().unwrap().len();
    // Stragglers get three seconds.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let delivered = {
            let sent = sent_at.lock().unwrap();
            let seen = clients.seen.lock().unwrap();
            seen.keys().filter(|(id, _)| sent.contains_key(id)).count()
        };
        if delivered >= accepted * DEVICES_PER_USER || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sent_at = sent_at.lock().unwrap();
    let seen = clients.seen.lock().unwrap();
    let mut latencies = Vec::new();
    let mut duplicates = 0;
    for ((id, _), (t1, n)) in seen.iter() {
        if let Some(t0) = sent_at.get(id) {
            latencies.push(t1.saturating_duration_since(*t0).as_secs_f64() * 1000.0);
            duplicates += n - 1;
        }
    }
    Run {
        rate,
        sent: total as usize,
        accepted,
        delivered: latencies.len(),
        duplicates,
        latencies,
        achieved_rate,
    }
}
