//! The local stack started in-process on free ports with its own data dir.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use local::{Options, Running};
use serde_json::Value;

use crate::client::http;
use crate::process::LocalProcess;
use crate::temp::TestDir;

/// A fresh data directory, deleted with the test.
pub fn temp_dir(name: &str) -> TestDir {
    TestDir::new(name)
}

pub fn options(data_dir: &Path) -> Options {
    let mut o = Options::from_env();
    o.http = "127.0.0.1:0".parse().unwrap();
    o.ws = "127.0.0.1:0".parse().unwrap();
    o.data_dir = data_dir.to_owned();
    o.visibility_timeout = Duration::from_millis(200);
    o.max_receives = 2;
    o.config.jwt_secret = Some(local::DEV_JWT_SECRET.into());
    o.config.events_api_key = Some(local::DEV_EVENTS_API_KEY.into());
    o
}

/// A running stack and the data directory it owns.
pub struct Stack {
    // Dropped in this order: the stack before its directory.
    running: Running,
    dir: TestDir,
}

impl std::ops::Deref for Stack {
    type Target = Running;

    fn deref(&self) -> &Running {
        &self.running
    }
}

impl Stack {
    /// Stops the stack and hands its data directory back (to start it again
    /// on the same data); dropping that deletes it.
    pub async fn stop(self) -> TestDir {
        self.running.stop().await;
        self.dir
    }
}

pub async fn start(dir: TestDir) -> Stack {
    let running = local::start(options(&dir))
        .await
        .expect("the local stack starts");
    Stack { running, dir }
}

/// Where a local stack, in process or not, answers HTTP.
pub trait HttpAddr {
    fn http_addr(&self) -> SocketAddr;
}

impl HttpAddr for Running {
    fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }
}

impl HttpAddr for Stack {
    fn http_addr(&self) -> SocketAddr {
        self.running.http_addr
    }
}

impl HttpAddr for LocalProcess {
    fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }
}

/// A token from the stack's `/dev/token` (`user` as it goes in a query).
pub async fn token(stack: &impl HttpAddr, user: &str) -> String {
    dev_token(stack, &format!("user={user}")).await
}

/// A token for `user` with the admin role.
pub async fn admin_token(stack: &impl HttpAddr, user: &str) -> String {
    dev_token(stack, &format!("user={user}&role=admin")).await
}

async fn dev_token(stack: &impl HttpAddr, query: &str) -> String {
    let (status, body) = http(
        stack.http_addr(),
        "GET",
        &format!("/dev/token?{query}"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

pub async fn post_event(stack: &impl HttpAddr, event: &Value) -> (u16, Value) {
    http(
        stack.http_addr(),
        "POST",
        "/events",
        &[
            ("x-api-key", local::DEV_EVENTS_API_KEY),
            ("content-type", "application/json"),
        ],
        Some(&event.to_string()),
    )
    .await
}

/// [`start`] with options changed by `change` first.
pub async fn start_with(dir: TestDir, change: impl FnOnce(&mut Options)) -> Stack {
    let mut o = options(&dir);
    change(&mut o);
    let running = local::start(o).await.expect("the local stack starts");
    Stack { running, dir }
}
