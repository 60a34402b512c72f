//! The HTTP side on the main port: the REST API, `POST /events`, the web
//! client, and the dev-only routes.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use shared::App;
use shared::adapters::embedded::{EmbeddedQueue, OutboxMailer};
use shared::aws_lambda_events::encodings::Body;
use shared::aws_lambda_events::http::HeaderValue;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::events::http_event;
use crate::tasks::Tracker;

/// Requests larger than this are refused before any handler sees them.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

type Resp = Response<Full<Bytes>>;

/// Accepts connections until `stop`, serving each with `handle` (upgrades allowed).
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
    tracker: Tracker,
    handle: F,
) where
    F: Fn(SocketAddr, Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, Infallible>> + Send + 'static,
{
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let (handle, mut stop, token) = (handle.clone(), stop.clone(), tracker.token());
        tokio::spawn(async move {
            let _token = token;
            let svc = service_fn(move |req| handle.clone()(peer, req));
            let conn = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}

pub struct Site {
    pub app: Arc<App>,
    pub events: EmbeddedQueue,
    pub deliveries: EmbeddedQueue,
    pub outbox: Option<OutboxMailer>,
    pub jwt_secret: Option<String>,
    pub ws_url: String,
    /// What `--aws-quotas` refused so far, for `/dev/quotas`.
    pub quotas: Option<crate::QuotaMeters>,
}

fn json_resp(status: u16, body: serde_json::Value) -> Resp {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("valid response")
}

fn asset(content_type: &'static str, body: &'static str) -> Resp {
    Response::builder()
        .header("content-type", content_type)
        .header("cache-control", "no-cache")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("valid response")
}

fn with_cors(mut r: Resp) -> Resp {
    let h = r.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static("authorization, content-type, x-api-key"),
    );
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    r
}

impl Site {
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        stop: watch::Receiver<bool>,
        tracker: Tracker,
    ) {
        accept_loop(listener, stop, tracker, move |peer, req| {
            let site = self.clone();
            async move { Ok(with_cors(site.route(peer, req).await)) }
        })
        .await
    }

    async fn route(&self, peer: SocketAddr, req: Request<Incoming>) -> Resp {
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
            Ok(b) => b.to_bytes().to_vec(),
            Err(_) => {
                return json_resp(
                    413,
                    shared::handlers::error_body(
                        "payload_too_large",
                        "request over 1 MB",
                        Some("body"),
                    ),
                );
            }
        };
        let path = parts.uri.path().to_owned();
        match (parts.method.as_str(), path.as_str()) {
            ("OPTIONS", _) => Response::builder()
                .status(204)
                .body(Full::new(Bytes::new()))
                .expect("valid response"),
            ("GET", "/" | "/index.html") => asset("text/html; charset=utf-8", crate::web::INDEX),
            ("GET", "/notify-client.js") => {
                asset("text/javascript; charset=utf-8", crate::web::CLIENT)
            }
            ("GET", "/sw.js") => {
                let mut r = asset("text/javascript; charset=utf-8", crate::web::SERVICE_WORKER);
                // It may control the whole site from the root.
                r.headers_mut().insert(
                    "service-worker-allowed",
                    hyper::header::HeaderValue::from_static("/"),
                );
                r
            }
            ("GET", "/admin" | "/admin.html") => {
                asset("text/html; charset=utf-8", crate::web::ADMIN)
            }
            ("GET", "/health") => json_resp(200, json!({"status": "ok"})),
            ("GET", "/dev/config") => json_resp(
                200,
                // What the demo page needs; dev only, like every /dev route.
                json!({"wsUrl": self.ws_url, "eventsApiKey": self.app.config.events_api_key}),
            ),
            ("GET", "/dev/token") => self.token(parts.uri.query()),
            ("GET", "/dev/outbox") => self.outbox().await,
            ("GET", "/dev/dlq") => self.dlq().await,
            ("GET", "/dev/quotas") => match &self.quotas {
                Some(q) => json_resp(200, q.report()),
                None => json_resp(
                    404,
                    json!({"error": {"code": "not_found", "message": "start with --aws-quotas to emulate AWS's quotas"}}),
                ),
            },
            (_, "/events") => {
                let event = http_event(
                    &parts.method,
                    &path,
                    parts.uri.query(),
                    &parts.headers,
                    body,
                    peer,
                );
                let answer = shared::handlers::order_events::handle(&self.app, event).await;
                let mut r = Response::builder().status(answer.status_code as u16);
                for (k, v) in &answer.headers {
                    r = r.header(k, v);
                }
                let bytes = match answer.body {
                    Some(Body::Text(t)) => Bytes::from(t),
                    Some(Body::Binary(b)) => Bytes::from(b),
                    _ => Bytes::new(),
                };
                r.body(Full::new(bytes)).expect("valid response")
            }
            _ => {
                let req = Request::from_parts(parts, body);
                shared::api::handle(&self.app, req)
                    .await
                    .map(|b| Full::new(Bytes::from(b)))
            }
        }
    }

    /// `GET /dev/token?user=ID[&role=admin]`: a token signed with the configured secret.
    fn token(&self, query: Option<&str>) -> Resp {
        let params: Vec<(String, String)> = query
            .unwrap_or_default()
            .split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_owned(), shared::api::percent_decode(v)))
            .collect();
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let Some(user) = get("user") else {
            return json_resp(
                400,
                shared::handlers::error_body(
                    "invalid_request",
                    "give ?user=ID (and &role=admin for an admin)",
                    Some("user"),
                ),
            );
        };
        if let Err(e) = shared::event::check_user_id("user", user) {
            return json_resp(
                400,
                shared::handlers::error_body("invalid_request", &e.to_string(), Some("user")),
            );
        }
        let Some(secret) = &self.jwt_secret else {
            return json_resp(
                404,
                shared::handlers::error_body(
                    "not_found",
                    "dev tokens need JWT_SECRET (HS256)",
                    None,
                ),
            );
        };
        let admin = get("role") == Some("admin");
        let claims = shared::auth::claims_for(user, admin, 12 * 3600, &self.app.config);
        json_resp(
            200,
            json!({"token": shared::auth::sign_hs256(secret, &claims), "user": user, "admin": admin, "expiresIn": 12 * 3600}),
        )
    }

    async fn outbox(&self) -> Resp {
        match &self.outbox {
            Some(o) => match o.sent().await {
                Ok(all) => {
                    let (sms, emails): (Vec<_>, Vec<_>) =
                        all.into_iter().partition(|m| m.channel == "sms");
                    json_resp(200, json!({"emails": emails, "sms": sms}))
                }
                Err(e) => json_resp(
                    503,
                    shared::handlers::error_body("unavailable", &e.to_string(), None),
                ),
            },
            None => json_resp(
                404,
                shared::handlers::error_body(
                    "not_found",
                    "with --aws, email goes through SES",
                    None,
                ),
            ),
        }
    }

    async fn dlq(&self) -> Resp {
        let (events, deliveries) = (
            self.events.dead_letters().await,
            self.deliveries.dead_letters().await,
        );
        match (events, deliveries) {
            (Ok(e), Ok(d)) => json_resp(200, json!({"events": e, "deliveries": d})),
            (Err(e), _) | (_, Err(e)) => json_resp(
                503,
                shared::handlers::error_body("unavailable", &e.to_string(), None),
            ),
        }
    }
}
