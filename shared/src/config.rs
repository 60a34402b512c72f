//! Settings read once per cold start from the environment.

use std::time::Duration;

use thiserror::Error;

#[derive(Debug, Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// Everything the functions read from their environment. Each function only
/// needs some of it; missing values fail where they are used, with the name of
/// the variable in the message.
#[derive(Clone, Debug)]
pub struct Config {
    pub table_name: String,
    pub events_queue_url: Option<String>,
    pub deliveries_queue_url: Option<String>,
    pub broadcast_queue_url: Option<String>,
    pub broadcast_dlq_url: Option<String>,
    pub events_dlq_url: Option<String>,
    pub deliveries_dlq_url: Option<String>,
    /// `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`.
    pub ws_endpoint: Option<String>,
    pub email_from: Option<String>,
    pub events_api_key: Option<String>,
    pub jwt_secret: Option<String>,
    pub jwt_public_key: Option<String>,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    pub template_cache_ttl: Duration,
    /// Users per page when a broadcast fans out through the events queue.
    pub broadcast_page_size: usize,
    /// Records of one SQS batch handled at once (`BATCH_CONCURRENCY`, default 10).
    pub batch_concurrency: usize,
    /// Days read notifications and delivery records are kept
    /// (`NOTIFICATION_RETENTION_DAYS`, default 180).
    pub retention: crate::model::Retention,
    /// `http:` action URLs to loopback hosts are accepted: the local stack
    /// only (`ALLOW_LOOPBACK_HTTP_LINKS=1`); deployed, only `https:`.
    pub loopback_http_links: bool,
    /// Secrets Manager ARNs the JWT secret and the events API key are read
    /// from at cold start, when `JWT_SECRET` / `EVENTS_API_KEY` are not set.
    pub jwt_secret_arn: Option<String>,
    pub events_api_key_arn: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self::from_lookup(|_| None)
    }
}

impl Config {
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        Self {
            table_name: get("TABLE_NAME").unwrap_or_else(|| "notifications".into()),
            events_queue_url: get("EVENTS_QUEUE_URL"),
            deliveries_queue_url: get("DELIVERIES_QUEUE_URL"),
            broadcast_queue_url: get("BROADCAST_QUEUE_URL"),
            broadcast_dlq_url: get("BROADCAST_DLQ_URL"),
            events_dlq_url: get("EVENTS_DLQ_URL"),
            deliveries_dlq_url: get("DELIVERIES_DLQ_URL"),
            ws_endpoint: get("WS_ENDPOINT"),
            email_from: get("EMAIL_FROM"),
            events_api_key: get("EVENTS_API_KEY"),
            jwt_secret: get("JWT_SECRET"),
            // PEM keys often travel through env vars with escaped newlines.
            jwt_public_key: get("JWT_PUBLIC_KEY").map(|k| k.replace("\\n", "\n")),
            jwt_issuer: get("JWT_ISSUER"),
            jwt_audience: get("JWT_AUDIENCE"),
            template_cache_ttl: Duration::from_secs(
                get("TEMPLATE_CACHE_SECONDS")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(30),
            ),
            broadcast_page_size: get("BROADCAST_PAGE_SIZE")
                .and_then(|v| v.parse().ok())
                .filter(|n| (1..=crate::quotas::BROADCAST_PAGE_SIZE).contains(n))
                .unwrap_or(crate::quotas::BROADCAST_PAGE_SIZE),
            batch_concurrency: get("BATCH_CONCURRENCY")
                .and_then(|v| v.parse().ok())
                .filter(|n| (1..=100).contains(n))
                .unwrap_or(10),
            retention: crate::model::Retention::days(
                get("NOTIFICATION_RETENTION_DAYS")
                    .and_then(|v| v.parse().ok())
                    .filter(|n| (1..=3650).contains(n))
                    .unwrap_or(crate::model::DEFAULT_RETENTION_DAYS),
            ),
            loopback_http_links: get("ALLOW_LOOPBACK_HTTP_LINKS").as_deref() == Some("1"),
            jwt_secret_arn: get("JWT_SECRET_ARN"),
            events_api_key_arn: get("EVENTS_API_KEY_ARN"),
        }
    }

    pub fn require<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, ConfigError> {
        value
            .as_deref()
            .ok_or_else(|| ConfigError(format!("{name} is not set")))
    }
}
