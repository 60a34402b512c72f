//! A minimal Lambda Runtime API (the 2018-06-01 interface) for timing a
//! function binary's cold start and warm invocations without AWS.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::{Notify, mpsc};

/// What came back for one invocation.
#[derive(Debug)]
pub struct Answer {
    pub request_id: String,
    pub at: Instant,
    pub ok: bool,
    pub body: String,
}

struct State {
    pending: Mutex<VecDeque<(String, String)>>,
    more: Notify,
    answers: mpsc::UnboundedSender<Answer>,
}

pub struct RuntimeApi {
    pub addr: SocketAddr,
    state: Arc<State>,
    pub answers: mpsc::UnboundedReceiver<Answer>,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            pending: Mutex::new(VecDeque::new()),
            more: Notify::new(),
            answers: tx,
        });
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let _ = stream.set_nodelay(true);
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| serve(st.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Self {
            addr,
            state,
            answers: rx,
        }
    }

    /// Queues an event; returns its request id.
    pub fn invoke(&self, event: &str) -> String {
        let id = ulid::Ulid::new().to_string();
        self.state
            .pending
            .lock()
            .unwrap()
            .push_back((id.clone(), event.to_owned()));
        self.state.more.notify_one();
        id
    }
}

fn text(status: u16, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

async fn serve(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    if path == "/2018-06-01/runtime/invocation/next" {
        loop {
            if let Some((id, event)) = state.pending.lock().unwrap().pop_front() {
                let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
                return Ok(Response::builder()
                    .header("lambda-runtime-aws-request-id", id)
                    .header("lambda-runtime-deadline-ms", deadline.to_string())
                    .header(
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:bench",
                    )
                    .header(
                        "lambda-runtime-trace-id",
                        "Root=1-00000000-000000000000000000000000",
                    )
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(event)))
                    .unwrap());
            }
            state.more.notified().await;
        }
    }
    let at = Instant::now();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    if let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/") {
        let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
        let _ = state.answers.send(Answer {
            request_id: id.to_owned(),
            at,
            ok: kind == "response",
            body,
        });
        return Ok(text(202, "{}".into()));
    }
    if path == "/2018-06-01/runtime/init/error" {
        let _ = state.answers.send(Answer {
            request_id: "init".into(),
            at,
            ok: false,
            body,
        });
        return Ok(text(202, "{}".into()));
    }
    Ok(text(404, "{}".into()))
}
