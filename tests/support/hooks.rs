//! A shop's webhook endpoint for tests: records every request and answers
//! what the test says (a status, or no answer at all), and checks each
//! signature with an independent implementation: the `standardwebhooks`
//! package from PyPI, in the test virtualenv.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming};
use serde_json::Value;

/// A secret in the `whsec_` format (32 random bytes, fixed for the tests).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwVGhpcyBpcyBhIHRlc3Q=";

/// What the endpoint answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// Holds the request open without an answer.
    Hang,
}

#[derive(Clone, Debug)]
pub struct Hook {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    /// The body's bytes (a web push's is encrypted, not text).
    pub raw: Vec<u8>,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Hook {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Hook {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("webhook bodies are JSON")
    }

    pub fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }
}

#[derive(Default)]
struct State {
    received: Vec<Hook>,
    /// Answers for the next requests, in order; then `default`.
    script: VecDeque<Answer>,
    default: Option<Answer>,
    /// Requests whose body contains the text get the answer, this many
    /// more times (`usize::MAX`: until told otherwise).
    refuse: Option<(String, Answer, usize)>,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let state: Arc<Mutex<State>> = Arc::default();
        let addr = crate::serve::serve(state.clone(), handle).await;
        Self { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next requests get these answers, in order.
    pub fn script(&self, answers: &[Answer]) {
        self.lock().script.extend(answers.iter().copied());
    }

    /// Every request not scripted gets this (200 unless set).
    pub fn answer(&self, a: Answer) {
        self.lock().default = Some(a);
    }

    /// Requests whose body contains `needle` get `answer`.
    pub fn refuse(&self, needle: &str, answer: Answer) {
        self.refuse_times(needle, answer, usize::MAX);
    }

    /// The next `times` requests whose body contains `needle` get `answer`.
    pub fn refuse_times(&self, needle: &str, answer: Answer, times: usize) {
        self.lock().refuse = Some((needle.to_owned(), answer, times));
    }

    pub fn stop_refusing(&self) {
        self.lock().refuse = None;
    }

    pub fn received(&self) -> Vec<Hook> {
        self.lock().received.clone()
    }

    pub fn of_type(&self, kind: &str) -> Vec<Hook> {
        self.received()
            .into_iter()
            .filter(|h| h.kind() == kind)
            .collect()
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let raw = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&raw).into_owned();
    let answer = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        s.received.push(Hook {
            id,
            timestamp,
            signature,
            body: body.clone(),
            raw,
            headers,
        });
        match &mut s.refuse {
            Some((needle, a, n)) if *n > 0 && body.contains(needle.as_str()) => {
                *n = n.saturating_sub(1);
                *a
            }
            _ => s
                .script
                .pop_front()
                .or(s.default)
                .unwrap_or(Answer::Status(200)),
        }
    };
    let status = match answer {
        Answer::Status(s) => s,
        Answer::Hang => {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            200
        }
    };
    Ok(Response::builder()
        .status(status)
        .body(Full::new(Bytes::new()))
        .unwrap())
}

/// Verifies a received webhook with the `standardwebhooks` package (an
/// implementation independent of ours); the error is its message.
pub fn verify(secret: &str, hook: &Hook) -> Result<(), String> {
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
a = json.load(sys.stdin)
try:
    Webhook(a["secret"]).verify(a["body"], a["headers"])
except Exception as e:
    print(f"{type(e).__name__}: {e}")
    sys.exit(1)
"#;
    let input = serde_json::json!({
        "secret": secret,
        "body": hook.body,
        "headers": {
            "webhook-id": hook.id,
            "webhook-timestamp": hook.timestamp,
            "webhook-signature": hook.signature,
        },
    });
    crate::python::run(script, &input).map(|_| ())
}
