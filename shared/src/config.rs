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
    /// The SES configuration set every email is sent with; its event
    /// destination brings bounces, complaints and deliveries back.
    pub ses_configuration_set: Option<String>,
    /// Where signed webhooks go (`WEBHOOK_URL`); none are queued without it.
    pub webhook_url: Option<String>,
    /// `whsec_<base64>` (`WEBHOOK_SECRET`, or read from `WEBHOOK_SECRET_ARN`).
    pub webhook_secret: Option<String>,
    pub webhook_secret_arn: Option<String>,
    pub webhook_queue_url: Option<String>,
    pub webhook_dlq_url: Option<String>,
    pub feedback_queue_url: Option<String>,
    pub feedback_dlq_url: Option<String>,
    /// Seconds between a webhook's attempts (`WEBHOOK_RETRY_SCHEDULE`,
    /// comma-separated; default [`crate::webhook::RETRY_SCHEDULE_SECS`]).
    /// One attempt more than delays; then the dead-letter queue.
    pub webhook_retry_schedule: Vec<u64>,
    /// `WEBHOOK_RETRY_SCHEDULE` as given, when it could not be read: the
    /// functions refuse to start rather than fall back silently.
    pub webhook_retry_schedule_error: Option<String>,
    /// Receives before the deliveries queue dead-letters a job (the
    /// template's `maxReceiveCount`): the sender's last attempt is final.
    pub deliveries_max_receives: u32,
    /// The VAPID private key (base64url P-256 scalar; `VAPID_PRIVATE_KEY`,
    /// or read from `VAPID_PRIVATE_KEY_ARN`). Without one, no web push.
    pub vapid_private_key: Option<String>,
    pub vapid_private_key_arn: Option<String>,
    /// Who runs the sender, for push services (`mailto:` or `https:`).
    pub vapid_subject: Option<String>,
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
            ses_configuration_set: get("SES_CONFIGURATION_SET"),
            webhook_url: get("WEBHOOK_URL"),
            webhook_secret: get("WEBHOOK_SECRET"),
            webhook_secret_arn: get("WEBHOOK_SECRET_ARN"),
            webhook_queue_url: get("WEBHOOK_QUEUE_URL"),
            webhook_dlq_url: get("WEBHOOK_DLQ_URL"),
            feedback_queue_url: get("FEEDBACK_QUEUE_URL"),
            feedback_dlq_url: get("FEEDBACK_DLQ_URL"),
            webhook_retry_schedule: get("WEBHOOK_RETRY_SCHEDULE")
                .and_then(|v| parse_schedule(&v))
                .unwrap_or_else(|| crate::webhook::RETRY_SCHEDULE_SECS.to_vec()),
            webhook_retry_schedule_error: get("WEBHOOK_RETRY_SCHEDULE")
                .filter(|v| parse_schedule(v).is_none()),
            vapid_private_key: get("VAPID_PRIVATE_KEY"),
            vapid_private_key_arn: get("VAPID_PRIVATE_KEY_ARN"),
            vapid_subject: get("VAPID_SUBJECT"),
            deliveries_max_receives: get("DELIVERIES_MAX_RECEIVES")
                .and_then(|v| v.parse().ok())
                .filter(|n| (1..=1000).contains(n))
                .unwrap_or(crate::quotas::DELIVERIES_MAX_RECEIVES),
        }
    }

    /// Checks the webhook settings: an https URL (http only to loopback
    /// where `loopback_http_links` allows it, i.e. the local stack), a
    /// readable retry schedule, and, where webhooks are signed (`signs`: the
    /// webhooks function, the local stack), a well-formed secret. The
    /// functions that only queue webhooks get no secret. Functions refuse
    /// to start otherwise.
    pub fn check_webhooks(&self, signs: bool) -> Result<(), ConfigError> {
        if let Some(v) = &self.webhook_retry_schedule_error {
            return Err(ConfigError(format!(
                "WEBHOOK_RETRY_SCHEDULE `{v}`: seconds between attempts, comma-separated, each at most 43200 (SQS's 12 hours)"
            )));
        }
        let Some(url) = &self.webhook_url else {
            return Ok(());
        };
        crate::webhook::check_url(url, self.loopback_http_links).map_err(ConfigError)?;
        if !signs {
            return Ok(());
        }
        if self.webhook_secret.is_none() && self.webhook_secret_arn.is_none() {
            return Err(ConfigError(
                "WEBHOOK_URL is set but WEBHOOK_SECRET is not: webhooks must be signed".into(),
            ));
        }
        if let Some(secret) = &self.webhook_secret {
            crate::webhook::WebhookSecret::parse(secret).map_err(ConfigError)?;
        }
        Ok(())
    }

    /// The secrets to read from Secrets Manager: `(index, ARN, the ARN
    /// setting's name)` for each `*_ARN` set whose plain value is not;
    /// [`Config::set_secret`] takes the index back with the value.
    pub fn secrets_wanted(&self) -> Vec<(usize, String, &'static str)> {
        [
            (&self.jwt_secret, &self.jwt_secret_arn, "JWT_SECRET_ARN"),
            (
                &self.events_api_key,
                &self.events_api_key_arn,
                "EVENTS_API_KEY_ARN",
            ),
            (
                &self.webhook_secret,
                &self.webhook_secret_arn,
                "WEBHOOK_SECRET_ARN",
            ),
            (
                &self.vapid_private_key,
                &self.vapid_private_key_arn,
                "VAPID_PRIVATE_KEY_ARN",
            ),
        ]
        .into_iter()
        .enumerate()
        .filter_map(|(i, (value, arn, name))| {
            value
                .is_none()
                .then(|| arn.clone())
                .flatten()
                .map(|a| (i, a, name))
        })
        .collect()
    }

    /// The value of the secret [`Config::secrets_wanted`] listed at `index`.
    pub fn set_secret(&mut self, index: usize, value: String) {
        let slot = match index {
            0 => &mut self.jwt_secret,
            1 => &mut self.events_api_key,
            2 => &mut self.webhook_secret,
            _ => &mut self.vapid_private_key,
        };
        *slot = Some(value);
    }

    pub fn require<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, ConfigError> {
        value
            .as_deref()
            .ok_or_else(|| ConfigError(format!("{name} is not set")))
    }
}

/// `5,300,1800`: seconds, each within SQS's 12-hour visibility limit.
fn parse_schedule(v: &str) -> Option<Vec<u64>> {
    v.split(',')
        .map(|s| s.trim().parse::<u64>().ok().filter(|n| *n <= 43_200))
        .collect::<Option<Vec<_>>>()
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_lookup(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        })
    }

    /// An ARN is read only where its plain value is not set, and each value
    /// lands in its own setting.
    #[test]
    fn secrets_are_wanted_only_without_their_value() {
        let mut c = config(&[
            ("JWT_SECRET_ARN", "arn:jwt"),
            ("EVENTS_API_KEY", "plain-key"),
            ("EVENTS_API_KEY_ARN", "arn:key"),
            ("VAPID_PRIVATE_KEY_ARN", "arn:vapid"),
        ]);
        let wanted = c.secrets_wanted();
        let names: Vec<_> = wanted
            .iter()
            .map(|(_, arn, name)| (*name, arn.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("JWT_SECRET_ARN", "arn:jwt"),
                ("VAPID_PRIVATE_KEY_ARN", "arn:vapid")
            ]
        );
        for (i, _, name) in wanted {
            c.set_secret(i, format!("value of {name}"));
        }
        assert_eq!(c.jwt_secret.as_deref(), Some("value of JWT_SECRET_ARN"));
        assert_eq!(
            c.vapid_private_key.as_deref(),
            Some("value of VAPID_PRIVATE_KEY_ARN")
        );
        assert_eq!(c.events_api_key.as_deref(), Some("plain-key"));
        assert!(c.secrets_wanted().is_empty());
    }

    #[test]
    fn only_the_function_that_signs_needs_the_webhook_secret() {
        // What the template gives the worker, sender, feedback, api, ws-message.
        let queues_only = config(&[
            ("WEBHOOK_URL", "https://shop.example/hooks"),
            ("WEBHOOK_QUEUE_URL", "https://sqs/q"),
        ]);
        assert!(queues_only.check_webhooks(false).is_ok());
        assert!(queues_only.check_webhooks(true).is_err());
        let signs = config(&[
            ("WEBHOOK_URL", "https://shop.example/hooks"),
            ("WEBHOOK_SECRET_ARN", "arn:aws:secretsmanager:x"),
        ]);
        assert!(signs.check_webhooks(true).is_ok());
        // Plain http is refused deployed, whoever checks.
        let http = config(&[("WEBHOOK_URL", "http://shop.example/hooks")]);
        assert!(http.check_webhooks(false).is_err());
        // Webhooks off: nothing to check.
        assert!(config(&[]).check_webhooks(true).is_ok());
    }

    #[test]
    fn a_bad_retry_schedule_is_refused_not_replaced() {
        let ok = config(&[("WEBHOOK_RETRY_SCHEDULE", "1, 2,3")]);
        assert_eq!(ok.webhook_retry_schedule, [1, 2, 3]);
        assert!(ok.check_webhooks(false).is_ok());
        for bad in ["1,x", "50000", ","] {
            let c = config(&[("WEBHOOK_RETRY_SCHEDULE", bad)]);
            assert!(c.check_webhooks(false).is_err(), "{bad}");
        }
    }
}
