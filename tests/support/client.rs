//! Real clients for end-to-end tests: HTTP over a TCP socket (the one HTTP
//! client of the tests, for the local stack and moto alike) and WebSockets
//! through tokio-tungstenite.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

/// One HTTP/1.0 exchange on a new connection, blocking: the status and the
/// raw body. An error when the server cannot be reached or hangs up (a
/// killed process), or does not answer within 30 s.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
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
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
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

/// A body as JSON: `Null` when empty, the text itself when it is not JSON.
pub fn json(body: &str) -> Value {
    if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
    }
}

/// [`request`] from async code (on a blocking thread, so concurrent calls
/// run at once): the status and the body as [`json`]. Panics when there is
/// no answer.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, Value) {
    let what = format!("{method} http://{addr}{path}");
    let (method, path, body) = (method.to_owned(), path.to_owned(), body.map(str::to_owned));
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let answer = tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        request(addr, &method, &path, &headers, body.as_deref())
    })
    .await
    .expect("the HTTP thread");
    let (status, body) = answer.unwrap_or_else(|e| panic!("{what}: {e}"));
    (status, json(&body))
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
