//! The local stack started in-process on free ports with its own data dir.

use std::path::PathBuf;
use std::time::Duration;

use local::{Options, Running};
use serde_json::Value;

use crate::client::http;

pub fn temp_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("notify-{name}-{}", ulid::Ulid::new()))
}

pub fn options(data_dir: PathBuf) -> Options {
    let mut o = Options::from_env();
    o.http = "127.0.0.1:0".parse().unwrap();
    o.ws = "127.0.0.1:0".parse().unwrap();
    o.data_dir = data_dir;
    o.visibility_timeout = Duration::from_millis(200);
    o.max_receives = 2;
    o.config.jwt_secret = Some(local::DEV_JWT_SECRET.into());
    o.config.events_api_key = Some(local::DEV_EVENTS_API_KEY.into());
    o
}

pub async fn start(data_dir: PathBuf) -> Running {
    local::start(options(data_dir))
        .await
        .expect("the local stack starts")
}

pub async fn token(stack: &Running, user: &str) -> String {
    let (status, body) = http(
        stack.http_addr,
        "GET",
        &format!("/dev/token?user={user}"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

pub async fn post_event(stack: &Running, event: &Value) -> (u16, Value) {
    http(
        stack.http_addr,
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
