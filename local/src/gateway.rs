//! The WebSocket gateway and the management API, on one port, as API
//! Gateway serves them: upgrades become `$connect` (whose answer decides the
//! upgrade), frames become `$default`, closes become `$disconnect`; and
//! `POST/GET/DELETE /@connections/{id}` reach the live sockets.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use shared::App;
use shared::aws_lambda_events::encodings::Body;
use shared::quotas::TokenBucket;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::events::{WsContext, ws_event};
use crate::tasks::Tracker;

/// API Gateway's limits, configurable.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 128 * 1024,
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(7200),
        }
    }
}

enum Outbound {
    Data(Vec<u8>),
    Close(u16, &'static str),
}

struct Live {
    tx: mpsc::UnboundedSender<Outbound>,
    connected_at: DateTime<Utc>,
    last_active: Arc<Mutex<DateTime<Utc>>>,
    source_ip: String,
    user_agent: Option<String>,
}

/// API Gateway's request-rate quotas, scaled (`--aws-quotas`).
pub struct Quotas {
    /// The account's requests/s, shared "across HTTP APIs, REST APIs,
    /// WebSocket APIs, and WebSocket callback APIs": every management API
    /// call, every message a client sends (pings too), every connect.
    management: Mutex<TokenBucket>,
    /// New WebSocket connections per second.
    connects: Mutex<TokenBucket>,
    /// Requests refused by the account's rate.
    pub management_throttled: AtomicU64,
    pub connects_throttled: AtomicU64,
}

impl Quotas {
    /// Request rates times `scale`; new connections times `connect_scale`.
    pub fn new(scale: f64, connect_scale: f64) -> Self {
        use shared::quotas::aws;
        Self {
            management: Mutex::new(TokenBucket::new(
                aws::APIGW_RATE * scale,
                aws::APIGW_BURST * scale,
            )),
            connects: Mutex::new(TokenBucket::new(
                aws::APIGW_NEW_CONNECTIONS * connect_scale,
                aws::APIGW_NEW_CONNECTIONS * connect_scale,
            )),
            management_throttled: AtomicU64::new(0),
            connects_throttled: AtomicU64::new(0),
        }
    }

    fn allow(bucket: &Mutex<TokenBucket>, refused: &AtomicU64) -> bool {
        let ok = bucket.lock().expect("bucket").try_take(1.0);
        if !ok {
            refused.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }
}

pub struct Gateway {
    app: Arc<App>,
    limits: Limits,
    pub quotas: Option<Quotas>,
    domain: String,
    live: Mutex<HashMap<String, Live>>,
    /// `POST /@connections/{id}` requests answered 200: pushes that came
    /// through the signed management API rather than the direct path.
    management_posts: AtomicU64,
    stop: watch::Receiver<bool>,
    tracker: Tracker,
}

type Resp = Response<Full<Bytes>>;

fn reply(status: u16, body: serde_json::Value, error_type: Option<&str>) -> Resp {
    let mut r = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(t) = error_type {
        r = r.header("x-amzn-errortype", t);
    }
    r.body(Full::new(Bytes::from(body.to_string())))
        .expect("valid response")
}

fn gone(id: &str) -> Resp {
    reply(
        410,
        json!({"message": format!("connection {id} is gone")}),
        Some("GoneException"),
    )
}

/// What the template's MOCK `ping` route answers (its integration response).
pub const PONG: &str = r#"{"event":"pong"}"#;

/// What a client gets for a message over the account's request rate.
pub const THROTTLED: &str = r#"{"message":"Too Many Requests"}"#;

/// Route selection as the template's: `$request.body.action` is `ping`.
fn is_ping(frame: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Action<'a> {
        #[serde(borrow)]
        action: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_str::<Action>(frame).is_ok_and(|a| a.action.as_deref() == Some("ping"))
}

/// Ids like API Gateway's: 10 random bytes, base64 (URL-safe, so no escaping).
fn new_connection_id() -> String {
    let random = ulid::Ulid::from_string(&shared::ids::new_id())
        .map(|u| u.random())
        .unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE.encode(&random.to_be_bytes()[6..16])
}

impl Gateway {
    pub fn new(
        app: Arc<App>,
        limits: Limits,
        domain: String,
        stop: watch::Receiver<bool>,
        tracker: Tracker,
        quotas: Option<Quotas>,
    ) -> Arc<Self> {
        Arc::new(Self {
            app,
            limits,
            quotas,
            domain,
            live: Mutex::new(HashMap::new()),
            management_posts: AtomicU64::new(0),
            stop,
            tracker,
        })
    }

    /// Pushes delivered through `POST /@connections/{id}`.
    pub fn management_posts(&self) -> u64 {
        self.management_posts.load(Ordering::Relaxed)
    }

    pub fn connection_count(&self) -> usize {
        self.live.lock().expect("registry").len()
    }

    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        crate::http::accept_loop(
            listener,
            self.stop.clone(),
            self.tracker.clone(),
            move |peer, req| {
                let gw = self.clone();
                async move { Ok::<_, Infallible>(gw.route(peer, req).await) }
            },
        )
        .await
    }

    async fn route(self: Arc<Self>, peer: SocketAddr, req: Request<Incoming>) -> Resp {
        let is_upgrade = req
            .headers()
            .get("upgrade")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        if is_upgrade {
            return self.upgrade(peer, req).await;
        }
        let path = req.uri().path().to_owned();
        match path.split_once("/@connections/") {
            Some((_stage, id)) if !id.is_empty() && !id.contains('/') => {
                let id = shared::api::percent_decode(id);
                self.manage(&id, req).await
            }
            _ => reply(
                404,
                json!({"message": "not found; WebSocket clients connect to /?token=JWT"}),
                Some("NotFoundException"),
            ),
        }
    }

    async fn upgrade(self: Arc<Self>, peer: SocketAddr, req: Request<Incoming>) -> Resp {
        let Some(key) = req
            .headers()
            .get("sec-websocket-key")
            .map(|k| k.as_bytes().to_vec())
        else {
            return reply(400, json!({"message": "missing Sec-WebSocket-Key"}), None);
        };
        if req
            .headers()
            .get("sec-websocket-version")
            .and_then(|v| v.to_str().ok())
            != Some("13")
        {
            return Response::builder()
                .status(426)
                .header("sec-websocket-version", "13")
                .body(Full::new(Bytes::new()))
                .expect("valid response");
        }
        if let Some(q) = &self.quotas
            && !(Quotas::allow(&q.connects, &q.connects_throttled)
                && Quotas::allow(&q.management, &q.management_throttled))
        {
            return reply(
                429,
                json!({"message": "Limit Exceeded"}),
                Some("LimitExceededException"),
            );
        }
        let id = new_connection_id();
        let connected_at = Utc::now();
        let ctx = WsContext {
            connection_id: &id,
            connected_at_ms: connected_at.timestamp_millis(),
            domain: &self.domain,
            source_ip: peer.ip().to_string(),
        };
        let event = ws_event(
            &ctx,
            "$connect",
            Some(req.headers()),
            req.uri().query(),
            None,
        );
        let answer = shared::handlers::ws_connect::handle(&self.app, event).await;
        if answer.status_code != 200 {
            // The handler refused: so does the upgrade, with its status and body.
            let body = match answer.body {
                Some(Body::Text(t)) => Bytes::from(t),
                Some(Body::Binary(b)) => Bytes::from(b),
                _ => Bytes::new(),
            };
            let status =
                StatusCode::from_u16(answer.status_code as u16).unwrap_or(StatusCode::FORBIDDEN);
            return Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Full::new(body))
                .expect("valid response");
        }
        // Registered before the 101 goes out: a push that races the upgrade
        // waits in the channel instead of answering 410.
        let (tx, rx) = mpsc::unbounded_channel();
        let last_active = Arc::new(Mutex::new(connected_at));
        let user_agent = req
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        self.live.lock().expect("registry").insert(
            id.clone(),
            Live {
                tx,
                connected_at,
                last_active: last_active.clone(),
                source_ip: peer.ip().to_string(),
                user_agent,
            },
        );
        let mut resp = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-accept", derive_accept_key(&key));
        if let Some(p) = answer.headers.get("sec-websocket-protocol") {
            resp = resp.header("sec-websocket-protocol", p.clone());
        }
        let gw = self.clone();
        let token = self.tracker.token();
        tokio::spawn(async move {
            let _token = token;
            match hyper::upgrade::on(req).await {
                Ok(upgraded) => {
                    // Small per-socket buffers: tungstenite's defaults (128 KiB
                    // each way) cost 2.5 GB at 10,000 connections; larger
                    // frames still arrive, in more reads.
                    let config = WebSocketConfig::default()
                        .read_buffer_size(4 * 1024)
                        .write_buffer_size(0)
                        .max_message_size(Some(gw.limits.max_message_bytes * 2))
                        .max_frame_size(Some(gw.limits.max_message_bytes * 2));
                    let ws = WebSocketStream::from_raw_socket(
                        TokioIo::new(upgraded),
                        Role::Server,
                        Some(config),
                    )
                    .await;
                    gw.clone()
                        .run(id.clone(), connected_at, peer, ws, rx, last_active)
                        .await;
                }
                Err(e) => tracing::warn!(connection_id = %id, error = %e, "upgrade failed"),
            }
            gw.closed(&id, connected_at, peer).await;
        });
        resp.body(Full::new(Bytes::new())).expect("valid response")
    }

    async fn run(
        self: Arc<Self>,
        id: String,
        connected_at: DateTime<Utc>,
        peer: SocketAddr,
        ws: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>,
        mut rx: mpsc::UnboundedReceiver<Outbound>,
        last_active: Arc<Mutex<DateTime<Utc>>>,
    ) {
        let (mut sink, mut stream) = ws.split();
        let mut stop = self.stop.clone();
        let deadline = tokio::time::Instant::now() + self.limits.max_lifetime;
        let mut idle_until = tokio::time::Instant::now() + self.limits.idle_timeout;
        let close = |code: u16, reason: &'static str| {
            Message::Close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            }))
        };
        let touch = |idle_until: &mut tokio::time::Instant| {
            *idle_until = tokio::time::Instant::now() + self.limits.idle_timeout;
            *last_active.lock().expect("last active") = Utc::now();
        };
        loop {
            tokio::select! {
                frame = stream.next() => match frame {
                    Some(Ok(Message::Text(t))) => {
                        touch(&mut idle_until);
                        if t.len() > self.limits.max_message_bytes {
                            let _ = sink.send(close(1009, "Message too big")).await;
                            break;
                        }
                        if let Some(q) = &self.quotas
                            && !Quotas::allow(&q.management, &q.management_throttled)
                        {
                            // Over the account's rate: the message is not routed.
                            // (AWS does not document the shape of this answer.)
                            if sink.send(Message::text(THROTTLED)).await.is_err() {
                                break;
                            }
                            continue;
                        }
                        if is_ping(t.as_str()) {
                            // The `ping` route: answered by the gateway itself, as the
                            // template's MOCK integration does, with no function call.
                            if sink.send(Message::text(PONG)).await.is_err() {
                                break;
                            }
                            continue;
                        }
                        self.clone().message(&id, connected_at, peer, t.as_str().to_owned());
                    }
                    Some(Ok(Message::Binary(b))) => {
                        touch(&mut idle_until);
                        if b.len() > self.limits.max_message_bytes {
                            let _ = sink.send(close(1009, "Message too big")).await;
                            break;
                        }
                        if let Some(q) = &self.quotas
                            && !Quotas::allow(&q.management, &q.management_throttled)
                        {
                            if sink.send(Message::text(THROTTLED)).await.is_err() {
                                break;
                            }
                            continue;
                        }
                        self.clone().message(&id, connected_at, peer, String::from_utf8_lossy(&b).into_owned());
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => touch(&mut idle_until),
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Err(WsError::Capacity(_))) => {
                        let _ = sink.send(close(1009, "Message too big")).await;
                        break;
                    }
                    Some(Err(e)) => {
                        tracing::debug!(connection_id = %id, error = %e, "socket error");
                        break;
                    }
                },
                out = rx.recv() => match out {
                    Some(Outbound::Data(bytes)) => {
                        touch(&mut idle_until);
                        let msg = match String::from_utf8(bytes) {
                            Ok(text) => Message::text(text),
                            Err(e) => Message::binary(e.into_bytes()),
                        };
                        if sink.send(msg).await.is_err() {
                            break;
                        }
                    }
                    Some(Outbound::Close(code, reason)) => {
                        let _ = sink.send(close(code, reason)).await;
                        break;
                    }
                    None => break,
                },
                _ = tokio::time::sleep_until(idle_until) => {
                    let _ = sink.send(close(1001, "Idle timeout")).await;
                    break;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let _ = sink.send(close(1001, "Connection lifetime reached")).await;
                    break;
                }
                _ = stop.changed() => {
                    let _ = sink.send(close(1001, "Going away")).await;
                    break;
                }
            }
        }
        let _ = sink.close().await;
    }

    /// One frame: a `$default` event, handled concurrently like Lambda would.
    fn message(
        self: Arc<Self>,
        id: &str,
        connected_at: DateTime<Utc>,
        peer: SocketAddr,
        body: String,
    ) {
        let id = id.to_owned();
        let token = self.tracker.token();
        tokio::spawn(async move {
            let _token = token;
            let ctx = WsContext {
                connection_id: &id,
                connected_at_ms: connected_at.timestamp_millis(),
                domain: &self.domain,
                source_ip: peer.ip().to_string(),
            };
            let event = ws_event(&ctx, "$default", None, None, Some(body));
            shared::handlers::ws_message::handle(&self.app, event).await;
        });
    }

    async fn closed(&self, id: &str, connected_at: DateTime<Utc>, peer: SocketAddr) {
        self.live.lock().expect("registry").remove(id);
        let ctx = WsContext {
            connection_id: id,
            connected_at_ms: connected_at.timestamp_millis(),
            domain: &self.domain,
            source_ip: peer.ip().to_string(),
        };
        shared::handlers::ws_disconnect::handle(
            &self.app,
            ws_event(&ctx, "$disconnect", None, None, None),
        )
        .await;
    }

    /// Hands `data` to the connection's socket; `Err` when it is gone.
    fn deliver(&self, id: &str, data: Vec<u8>) -> Result<(), ()> {
        let live = self.live.lock().expect("registry");
        match live.get(id) {
            Some(l) if l.tx.send(Outbound::Data(data)).is_ok() => Ok(()),
            _ => Err(()),
        }
    }

    async fn manage(&self, id: &str, req: Request<Incoming>) -> Resp {
        if let Some(q) = &self.quotas
            && !Quotas::allow(&q.management, &q.management_throttled)
        {
            return reply(
                429,
                json!({"message": "Too Many Requests"}),
                Some("LimitExceededException"),
            );
        }
        match req.method().as_str() {
            "POST" => {
                let limit = self.limits.max_message_bytes;
                let body = match Limited::new(req.into_body(), limit).collect().await {
                    Ok(b) => b.to_bytes(),
                    Err(_) => {
                        return reply(
                            413,
                            json!({"message": format!("payload over {limit} bytes")}),
                            Some("PayloadTooLargeException"),
                        );
                    }
                };
                match self.deliver(id, body.to_vec()) {
                    Ok(()) => {
                        self.management_posts.fetch_add(1, Ordering::Relaxed);
                        Response::new(Full::new(Bytes::new()))
                    }
                    Err(_) => gone(id),
                }
            }
            "GET" => {
                let live = self.live.lock().expect("registry");
                match live.get(id) {
                    Some(l) => reply(
                        200,
                        json!({
                            "connectedAt": l.connected_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                            "identity": {"sourceIp": l.source_ip, "userAgent": l.user_agent},
                            "lastActiveAt": l.last_active.lock().expect("last active").to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                        }),
                        None,
                    ),
                    None => gone(id),
                }
            }
            "DELETE" => {
                let sent = self.live.lock().expect("registry").get(id).map(|l| {
                    l.tx.send(Outbound::Close(1000, "Closed by the server"))
                        .is_ok()
                });
                match sent {
                    Some(true) => Response::builder()
                        .status(204)
                        .body(Full::new(Bytes::new()))
                        .expect("valid response"),
                    _ => gone(id),
                }
            }
            _ => reply(405, json!({"message": "use POST, GET or DELETE"}), None),
        }
    }
}

/// The local stack's default push path: straight into the gateway's
/// sockets, with the management API's answers (429 over the account's
/// rate under `--aws-quotas`, 413 over the message size, 410 for a gone
/// connection) but without SigV4 signing and an HTTP round trip per device.
/// `--signed-pushes` keeps the real SDK client on `POST /@connections/{id}`.
#[derive(Default)]
pub struct DirectPusher {
    gateway: std::sync::OnceLock<std::sync::Weak<Gateway>>,
}

impl DirectPusher {
    /// The gateway is built after the application that pushes through it.
    pub fn attach(&self, gateway: &Arc<Gateway>) {
        let _ = self.gateway.set(Arc::downgrade(gateway));
    }
}

#[async_trait::async_trait]
impl shared::ports::Pusher for DirectPusher {
    async fn post(
        &self,
        connection_id: &str,
        payload: &[u8],
    ) -> Result<(), shared::error::PushError> {
        use shared::error::PushError;
        let gw = self
            .gateway
            .get()
            .and_then(std::sync::Weak::upgrade)
            .ok_or_else(|| PushError::Failed("the gateway is not running".into()))?;
        if let Some(q) = &gw.quotas
            && !Quotas::allow(&q.management, &q.management_throttled)
        {
            return Err(PushError::Throttled(
                "LimitExceededException: Too Many Requests".into(),
            ));
        }
        let limit = gw.limits.max_message_bytes;
        if payload.len() > limit {
            return Err(PushError::TooLarge(format!(
                "PayloadTooLargeException: payload over {limit} bytes"
            )));
        }
        gw.deliver(connection_id, payload.to_vec())
            .map_err(|()| PushError::Gone)
    }
}
