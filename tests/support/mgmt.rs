//! A stand-in for the API Gateway management API (`POST /{stage}/@connections/{id}`)
//! that records every push and fails the connections a test chooses.
//! moto's own one never answers 410, so it cannot be used for pushes.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Gone,
    Throttled,
    ServerError,
    TooLarge,
}

#[derive(Default)]
struct State {
    posts: Vec<(String, serde_json::Value)>,
    faults: HashMap<String, Fault>,
    delay: std::time::Duration,
}

#[derive(Clone)]
pub struct Mgmt {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

pub const STAGE: &str = "test";

impl Mgmt {
    pub async fn start() -> Self {
        let state: Arc<Mutex<State>> = Arc::default();
        let addr = crate::serve::serve(state.clone(), handle).await;
        Self { addr, state }
    }

    /// The stage URL the pusher is configured with, path included as in AWS.
    pub fn endpoint(&self) -> String {
        format!("http://{}/{STAGE}", self.addr)
    }

    pub fn fail(&self, connection_id: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .insert(connection_id.into(), fault);
    }

    /// Adds this much latency to every call, like a distant API would.
    pub fn set_delay(&self, delay: std::time::Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    pub fn heal(&self, connection_id: &str) {
        self.state.lock().unwrap().faults.remove(connection_id);
    }

    /// Every successful push so far, in order: (connection id, JSON payload).
    pub fn posts(&self) -> Vec<(String, serde_json::Value)> {
        self.state.lock().unwrap().posts.clone()
    }

    pub fn posts_to(&self, connection_id: &str) -> Vec<serde_json::Value> {
        self.posts()
            .into_iter()
            .filter(|(c, _)| c == connection_id)
            .map(|(_, v)| v)
            .collect()
    }

    pub fn clear(&self) {
        self.state.lock().unwrap().posts.clear();
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let prefix = format!("/{STAGE}/@connections/");
    let Some(id) = path.strip_prefix(&prefix).map(|s| s.to_owned()) else {
        return Ok(reply(404, "NotFoundException", "no such route"));
    };
    if req.method() != hyper::Method::POST {
        return Ok(reply(405, "MethodNotAllowed", "POST only"));
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let delay = state.lock().unwrap().delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let fault = state.lock().unwrap().faults.get(&id).copied();
    Ok(match fault {
        Some(Fault::Gone) => reply(410, "GoneException", "connection is gone"),
        Some(Fault::TooLarge) => reply(413, "PayloadTooLargeException", "too large"),
        Some(Fault::Throttled) => reply(429, "LimitExceededException", "slow down"),
        Some(Fault::ServerError) => reply(500, "InternalServerErrorException", "boom"),
        None => {
            let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            state.lock().unwrap().posts.push((id, json));
            Response::new(Full::new(Bytes::new()))
        }
    })
}

fn reply(status: u16, kind: &str, message: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-errortype", kind)
        .body(Full::new(Bytes::from(format!(
            r#"{{"message":"{message}"}}"#
        ))))
        .unwrap()
}
