//! Real clients for end-to-end tests: HTTP over a TCP socket (the one HTTP
//! client of the tests, for the local stack and moto alike) and WebSockets
//! through tokio-tungstenite.

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// One HTTP/1.0 exchange on a new connection: the status and the raw body.
/// An error when the server cannot be reached or hangs up (a killed
/// process), or does not answer within 30 s.
pub async fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let body = body.unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    let exchange = async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(req.as_bytes()).await?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer from {addr} in 30 s"),
            )
        })??;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("no complete HTTP answer from {addr}: {text:?}"),
        )
    })?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_owned()))
}

/// [`try_http`] for async tests: the status and the body as [`json`].
/// Panics when there is no answer.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, Value) {
    let (status, body) = try_http(addr, method, path, headers, body)
        .await
        .unwrap_or_else(|e| panic!("{method} http://{addr}{path}: {e}"));
    (status, json(&body))
}

/// [`http`] as a signed-in user: a JSON body (none for `Value::Null`).
pub async fn authed(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let body = (!body.is_null()).then(|| body.to_string());
    http(
        addr,
        method,
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body.as_deref(),
    )
    .await
}

/// [`try_http`] from code that is not async (starting moto, a poster
/// thread), also when called from inside a runtime: it runs on a thread of
/// its own with a runtime of its own.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(try_http(addr, method, path, headers, body))
        })
        .join()
        .expect("the HTTP thread")
    })
}

/// A body as JSON: `Null` when empty, the text itself when it is not JSON.
pub fn json(body: &str) -> Value {
    if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Client {
    pub ws: Ws,
}

impl Client {
    /// Connects with `?token=`.
    pub async fn connect(
        ws_url: &str,
        token: &str,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let (ws, _) = connect_async(format!("{ws_url}/?token={token}")).await?;
        Ok(Self { ws })
    }

    /// Connects the way browsers do: the token as a subprotocol beside `notify`.
    pub async fn connect_subprotocol(
        ws_url: &str,
        token: &str,
    ) -> Result<(Self, Option<String>), tokio_tungstenite::tungstenite::Error> {
        let mut req = format!("{ws_url}/").into_client_request()?;
        req.headers_mut().insert(
            "sec-websocket-protocol",
            format!("notify, {token}").parse().unwrap(),
        );
        let (ws, resp) = connect_async(req).await?;
        let chosen = resp
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap().to_owned());
        Ok((Self { ws }, chosen))
    }

    pub async fn send(&mut self, v: &Value) {
        self.ws
            .send(Message::text(v.to_string()))
            .await
            .expect("send");
    }

    /// The next JSON event, failing after `secs`.
    pub async fn next_event(&mut self, secs: u64) -> Value {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(secs), self.ws.next())
                .await
                .expect("an event in time")
                .expect("socket open")
                .expect("frame");
            if let Message::Text(t) = msg {
                return serde_json::from_str(t.as_str()).expect("JSON event");
            }
        }
    }

    /// The next event named `name`, skipping others.
    pub async fn expect(&mut self, name: &str) -> Value {
        loop {
            let e = self.next_event(10).await;
            if e["event"] == name {
                return e;
            }
        }
    }

    /// Nothing arrives for `ms` milliseconds.
    pub async fn silent_for(&mut self, ms: u64) -> bool {
        tokio::time::timeout(Duration::from_millis(ms), self.ws.next())
            .await
            .is_err()
    }

    /// Waits for the server to close, returning the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("close in time")
            {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }
}
