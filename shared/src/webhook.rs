//! Webhooks to the shop, signed as the Standard Webhooks specification says
//! (<https://www.standardwebhooks.com>): headers `webhook-id`,
//! `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "id.timestamp.body">`, body `{"type","timestamp","data"}`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::model::{DeliveryRecord, DeliveryStatus, Notification};

/// What happened, as the `type` of a webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookType {
    #[serde(rename = "notification.created")]
    NotificationCreated,
    #[serde(rename = "notification.read")]
    NotificationRead,
    #[serde(rename = "delivery.succeeded")]
    DeliverySucceeded,
    #[serde(rename = "delivery.failed")]
    DeliveryFailed,
    #[serde(rename = "email.bounced")]
    EmailBounced,
    #[serde(rename = "email.complained")]
    EmailComplained,
}

/// One webhook as it waits on the webhook queue: everything but the
/// signature, which is made at each attempt (its timestamp is the attempt's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookMessage {
    /// `msg_` and a digest of what happened: the same fact queued twice
    /// (a retried SQS message) has the same id, so the shop can dedupe.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: WebhookType,
    pub timestamp: DateTime<Utc>,
    pub data: Value,
}

fn stable_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

impl WebhookMessage {
    /// The body that is signed and sent.
    pub fn body(&self) -> String {
        json!({
            "type": self.kind,
            "timestamp": self.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": self.data,
        })
        .to_string()
    }

    pub fn created(user_id: &str, n: &Notification) -> Self {
        let mut data = serde_json::to_value(n).unwrap_or_default();
        data["userId"] = json!(user_id);
        Self {
            id: stable_id(&["notification.created", user_id, &n.id]),
            kind: WebhookType::NotificationCreated,
            timestamp: n.created_at,
            data,
        }
    }

    pub fn read(user_id: &str, notification_id: &str, at: DateTime<Utc>) -> Self {
        Self {
            id: stable_id(&["notification.read", user_id, notification_id]),
            kind: WebhookType::NotificationRead,
            timestamp: at,
            data: json!({"userId": user_id, "notificationId": notification_id, "readAt": at}),
        }
    }

    /// The webhook of a delivery log entry, if it is one the shop hears of:
    /// a delivery that succeeded, failed for good, bounced or was complained
    /// about. Steps on the way (queued, sent, a retried failure) are not.
    pub fn delivery(rec: &DeliveryRecord, final_failure: bool) -> Option<Self> {
        use crate::model::Channel;
        let kind = match rec.status {
            DeliveryStatus::Delivered => WebhookType::DeliverySucceeded,
            // SMS has no delivery receipt: accepted by SNS is as far as it goes.
            DeliveryStatus::Sent if rec.channel == Channel::Sms => WebhookType::DeliverySucceeded,
            DeliveryStatus::Bounced => WebhookType::EmailBounced,
            DeliveryStatus::Complained => WebhookType::EmailComplained,
            DeliveryStatus::Rejected | DeliveryStatus::Suppressed => WebhookType::DeliveryFailed,
            DeliveryStatus::Failed if final_failure => WebhookType::DeliveryFailed,
            _ => return None,
        };
        let mut data = json!({
            "userId": rec.user_id,
            "notificationId": rec.notification_id,
            "channel": rec.channel,
            "status": rec.status,
            "at": rec.at,
            "providerMessageId": rec.provider_message_id,
            "reason": rec.reason,
        });
        if rec.status == DeliveryStatus::Bounced {
            // A soft bounce (mailbox full) is no reason to drop the address.
            data["permanent"] = json!(
                rec.reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("Permanent/"))
            );
        }
        Some(Self {
            id: stable_id(&[
                "delivery",
                &rec.user_id,
                &rec.notification_id,
                rec.channel.as_str(),
                &rec.entry_key(),
            ]),
            kind,
            timestamp: rec.at,
            data,
        })
    }
}

/// A `whsec_<base64>` secret: the key is the decoded part.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    pub fn parse(s: &str) -> Result<Self, String> {
        let encoded = s
            .trim()
            .strip_prefix("whsec_")
            .ok_or("WEBHOOK_SECRET must look like whsec_<base64>")?;
        let key = B64
            .decode(encoded)
            .map_err(|e| format!("WEBHOOK_SECRET: the part after whsec_ is not base64: {e}"))?;
        if key.len() < 24 {
            return Err(format!(
                "WEBHOOK_SECRET: {} bytes of key; use at least 24 (32 random bytes: \
                 echo \"whsec_$(openssl rand -base64 32)\")",
                key.len()
            ));
        }
        Ok(Self(key))
    }

    /// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes keys of any length");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body.as_bytes());
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }

    /// The headers of one attempt at `now`.
    pub fn headers(
        &self,
        message: &WebhookMessage,
        body: &str,
        now: DateTime<Utc>,
    ) -> Vec<(&'static str, String)> {
        let ts = now.timestamp();
        vec![
            ("content-type", "application/json".into()),
            ("user-agent", "notify-webhooks/1".into()),
            ("webhook-id", message.id.clone()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", self.sign(&message.id, ts, body)),
        ]
    }
}

/// Each failed attempt waits this long before the next: 8 attempts over
/// 27.6 hours (the last waits are under SQS's 12-hour visibility limit).
pub const RETRY_SCHEDULE_SECS: [u64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

/// A URL the webhooks may go to: https, or http to a loopback host where
/// the local stack allows it.
pub fn check_url(url: &str, loopback_http: bool) -> Result<url::Url, String> {
    let u = url::Url::parse(url).map_err(|e| format!("WEBHOOK_URL `{url}`: {e}"))?;
    let loopback = match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match u.scheme() {
        "https" if u.host().is_some() => Ok(u),
        "http" if loopback_http && loopback => Ok(u),
        "http" if loopback_http => Err(format!(
            "WEBHOOK_URL `{url}`: http is allowed only to a loopback host; use https"
        )),
        _ => Err(format!("WEBHOOK_URL `{url}`: must be an https:// URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_specifications_test_vector() {
        // From the Standard Webhooks reference libraries' tests.
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn refuses_malformed_secrets_and_plain_http() {
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(WebhookSecret::parse("whsec_not base64!").is_err());
        assert!(WebhookSecret::parse("whsec_c2hvcnQ=").is_err());
        assert!(check_url("https://shop.example/hooks", false).is_ok());
        assert!(check_url("http://shop.example/hooks", false).is_err());
        assert!(check_url("http://127.0.0.1:9/hooks", false).is_err());
        assert!(check_url("http://127.0.0.1:9/hooks", true).is_ok());
        assert!(check_url("http://localhost:9/hooks", true).is_ok());
        assert!(check_url("http://shop.example/hooks", true).is_err());
        assert!(check_url("ftp://shop.example/", true).is_err());
    }

    #[test]
    fn one_fact_has_one_id_and_steps_on_the_way_send_nothing() {
        let rec = DeliveryRecord {
            user_id: "u".into(),
            notification_id: "01J".into(),
            channel: crate::model::Channel::Email,
            status: DeliveryStatus::Bounced,
            reason: Some("Permanent/General".into()),
            detail: None,
            provider_message_id: Some("m".into()),
            at: Utc::now(),
            source: None,
        };
        let a = WebhookMessage::delivery(&rec, false).unwrap();
        assert_eq!(a.kind, WebhookType::EmailBounced);
        assert_eq!(a.id, WebhookMessage::delivery(&rec, false).unwrap().id);
        let body: Value = serde_json::from_str(&a.body()).unwrap();
        assert_eq!(body["type"], "email.bounced");
        assert_eq!(body["data"]["status"], "bounced");
        assert_eq!(body["data"]["permanent"], true);
        for s in [
            DeliveryStatus::Queued,
            DeliveryStatus::Sent,
            DeliveryStatus::Skipped,
        ] {
            let r = DeliveryRecord {
                status: s,
                ..rec.clone()
            };
            assert!(WebhookMessage::delivery(&r, false).is_none(), "{s:?}");
        }
        let failed = DeliveryRecord {
            status: DeliveryStatus::Failed,
            ..rec
        };
        assert!(WebhookMessage::delivery(&failed, false).is_none());
        assert_eq!(
            WebhookMessage::delivery(&failed, true).unwrap().kind,
            WebhookType::DeliveryFailed
        );
    }
}
