//! Web Push: the browser's subscription, the server's VAPID key (RFC 8292),
//! and the encrypted request to the push service (RFC 8291, `aes128gcm`).
//! The encryption is web-push-native's (rust-crypto, no OpenSSL); the
//! VAPID JWT is signed with jsonwebtoken (rust-crypto), as the JWTs we verify.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::{DateTime, Duration, Utc};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// The application server's key pair: the browser subscribes with its
/// public half, and every push request is signed with the private one.
#[derive(Clone)]
pub struct VapidKey {
    secret: p256::SecretKey,
    signing: jsonwebtoken::EncodingKey,
    public: String,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VapidKey({})", self.public)
    }
}

impl VapidKey {
    pub fn generate() -> Self {
        Self::from_secret(p256::SecretKey::random(
            &mut p256::elliptic_curve::rand_core::OsRng,
        ))
        .expect("a fresh P-256 key encodes")
    }

    /// `VAPID_PRIVATE_KEY`: the 32-byte private scalar, base64url (the form
    /// `web-push generate-vapid-keys` and most libraries print).
    pub fn from_base64url(private: &str) -> Result<Self, String> {
        let raw = B64URL
            .decode(private.trim().trim_end_matches('='))
            .map_err(|e| format!("VAPID_PRIVATE_KEY is not base64url: {e}"))?;
        let secret = p256::SecretKey::from_slice(&raw)
            .map_err(|_| "VAPID_PRIVATE_KEY is not a P-256 private key (32 bytes)".to_owned())?;
        Self::from_secret(secret)
    }

    fn from_secret(secret: p256::SecretKey) -> Result<Self, String> {
        let der = secret.to_pkcs8_der().map_err(|e| e.to_string())?;
        let signing = jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes());
        let public = B64URL.encode(secret.public_key().to_encoded_point(false).as_bytes());
        Ok(Self {
            secret,
            signing,
            public,
        })
    }

    /// The private scalar, base64url: what the local stack keeps on disk.
    pub fn private_base64url(&self) -> String {
        B64URL.encode(self.secret.to_bytes())
    }

    /// The uncompressed public point, base64url: the browser's
    /// `applicationServerKey`.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// `Authorization: vapid t=<JWT>, k=<public key>` for a push to
    /// `endpoint`: ES256, `aud` the endpoint's origin, `exp` 12 hours ahead
    /// (RFC 8292 allows 24), `sub` the operator's contact.
    pub fn authorization(
        &self,
        endpoint: &url::Url,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<String, String> {
        #[derive(Serialize)]
        struct Claims<'a> {
            aud: String,
            exp: i64,
            sub: &'a str,
        }
        let claims = Claims {
            aud: endpoint.origin().ascii_serialization(),
            exp: (now + Duration::hours(12)).timestamp(),
            sub: subject,
        };
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        let jwt = jsonwebtoken::encode(&header, &claims, &self.signing)
            .map_err(|e| format!("VAPID JWT: {e}"))?;
        Ok(format!("vapid t={jwt}, k={}", self.public))
    }
}

/// The browser's `PushSubscription.toJSON()`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub endpoint: String,
    #[serde(default)]
    pub expiration_time: Option<i64>,
    pub keys: SubscriptionKeys,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionKeys {
    /// The browser's P-256 public key, uncompressed, base64url.
    pub p256dh: String,
    /// 16 random bytes, base64url.
    pub auth: String,
}

/// A subscription as stored for a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSubscription {
    pub subscription: Subscription,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Subscriptions kept per user; a new one past this drops the oldest.
pub const MAX_SUBSCRIPTIONS: usize = 20;

/// Longest endpoint accepted (push services' are a few hundred bytes).
pub const MAX_ENDPOINT_LEN: usize = 2048;

impl Subscription {
    /// Reads a body: a bad key (not a P-256 point, auth not 16 bytes) or an
    /// endpoint that is not https (http only to loopback where allowed: the
    /// local stack) is refused, naming the field.
    pub fn parse(body: &[u8], loopback_http: bool) -> Result<Self, ValidationError> {
        let sub: Self = serde_json::from_slice(body)
            .map_err(|e| ValidationError::new("body", e.to_string()))?;
        sub.check(loopback_http)?;
        Ok(sub)
    }

    pub fn check(&self, loopback_http: bool) -> Result<(), ValidationError> {
        if self.endpoint.len() > MAX_ENDPOINT_LEN {
            return Err(ValidationError::new(
                "endpoint",
                format!("is longer than {MAX_ENDPOINT_LEN} bytes"),
            ));
        }
        check_endpoint(&self.endpoint, loopback_http)?;
        self.ua_public()?;
        self.ua_auth()?;
        Ok(())
    }

    fn ua_public(&self) -> Result<p256::PublicKey, ValidationError> {
        let raw = B64URL
            .decode(self.keys.p256dh.trim_end_matches('='))
            .map_err(|_| ValidationError::new("keys.p256dh", "is not base64url"))?;
        p256::PublicKey::from_sec1_bytes(&raw)
            .map_err(|_| ValidationError::new("keys.p256dh", "is not a P-256 public key"))
    }

    fn ua_auth(&self) -> Result<web_push_native::Auth, ValidationError> {
        let raw = B64URL
            .decode(self.keys.auth.trim_end_matches('='))
            .map_err(|_| ValidationError::new("keys.auth", "is not base64url"))?;
        if raw.len() != 16 {
            return Err(ValidationError::new("keys.auth", "must be 16 bytes"));
        }
        Ok(web_push_native::Auth::clone_from_slice(&raw))
    }
}

fn check_endpoint(endpoint: &str, loopback_http: bool) -> Result<url::Url, ValidationError> {
    let u = url::Url::parse(endpoint)
        .map_err(|e| ValidationError::new("endpoint", format!("is not a URL: {e}")))?;
    let loopback = match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    // Deployed, only a push service's name on the standard port: not an
    // address, not this host, not an internal name, so a subscription
    // cannot make the sender post inside the network.
    let public_name = match u.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.to_ascii_lowercase();
            d.contains('.')
                && !["localhost", ".local", ".internal", ".localhost"]
                    .iter()
                    .any(|s| d == s.trim_start_matches('.') || d.ends_with(s))
        }
        _ => false,
    };
    match u.scheme() {
        "https" if loopback_http && u.host().is_some() => Ok(u),
        "https" if public_name && u.port().is_none() => Ok(u),
        "http" if loopback_http && loopback => Ok(u),
        _ => Err(ValidationError::new(
            "endpoint",
            "must be an https URL of a push service (a host name, the standard port)",
        )),
    }
}

/// How soon the push service should deliver, and how long it may keep
/// trying (RFC 8030 `Urgency`, `TTL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Urgency {
    Low,
    Normal,
    High,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
        }
    }
}

/// One encrypted, signed push request, ready to POST.
#[derive(Clone, Debug)]
pub struct PushRequest {
    pub endpoint: url::Url,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// What goes to one subscription: `payload` encrypted for its keys, VAPID
/// for its push service, `TTL` and `Urgency`, and `Topic` (so a newer
/// message of the same topic replaces an undelivered older one).
#[derive(Clone, Copy, Debug)]
pub struct Options<'a> {
    pub ttl_seconds: u32,
    pub urgency: Urgency,
    /// At most 32 characters of the URL-safe base64 alphabet (RFC 8030).
    pub topic: Option<&'a str>,
    /// http endpoints on loopback are allowed (the local stack only).
    pub loopback_http: bool,
}

pub fn request(
    key: &VapidKey,
    subject: &str,
    sub: &Subscription,
    payload: &[u8],
    options: Options<'_>,
    now: DateTime<Utc>,
) -> Result<PushRequest, String> {
    let endpoint =
        check_endpoint(&sub.endpoint, options.loopback_http).map_err(|e| e.to_string())?;
    let (public, auth) = (
        sub.ua_public().map_err(|e| e.to_string())?,
        sub.ua_auth().map_err(|e| e.to_string())?,
    );
    let body = web_push_native::encrypt(payload.to_vec(), &public, &auth)
        .map_err(|e| format!("encrypting the payload: {e:?}"))?;
    let mut headers = vec![
        ("authorization", key.authorization(&endpoint, subject, now)?),
        ("content-encoding", "aes128gcm".to_owned()),
        ("content-type", "application/octet-stream".to_owned()),
        ("ttl", options.ttl_seconds.to_string()),
        ("urgency", options.urgency.as_str().to_owned()),
    ];
    if let Some(topic) = options.topic {
        headers.push(("topic", topic.to_owned()));
    }
    Ok(PushRequest {
        endpoint,
        headers,
        body,
    })
}

/// What the service worker receives (decrypted): enough to show the
/// notification and to open its link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushPayload {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub body: String,
    pub action_url: Option<String>,
    /// Groups a notification with the newer ones about the same order: the
    /// device shows the newest (and `Topic` replaces an undelivered one).
    pub tag: Option<String>,
    pub priority: crate::model::Priority,
    pub created_at: DateTime<Utc>,
}

/// Longest `tag` kept (an order id is a few dozen bytes).
const MAX_TAG_BYTES: usize = 128;

/// Push services take 4,096 bytes of encrypted record; 3,993 of plaintext
/// after RFC 8291's header, tag and padding. Kept below, with room.
pub const MAX_PAYLOAD_BYTES: usize = 3_800;

impl PushPayload {
    /// The JSON, within [`MAX_PAYLOAD_BYTES`]: the body is cut (at a
    /// character, with an ellipsis) before anything else; the id and the
    /// link never are.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut p = self.clone();
        // The tag only groups notifications: a long one is not worth bytes.
        if p.tag.as_ref().is_some_and(|t| t.len() > MAX_TAG_BYTES) {
            p.tag = None;
        }
        loop {
            let bytes = serde_json::to_vec(&p).expect("payloads serialize");
            if bytes.len() <= MAX_PAYLOAD_BYTES {
                return bytes;
            }
            let over = bytes.len() - MAX_PAYLOAD_BYTES;
            // The body first, then the title; each cut makes it shorter, so
            // this ends. With both empty, only the id and link are left.
            let text = if !p.body.is_empty() {
                &mut p.body
            } else if !p.title.is_empty() {
                &mut p.title
            } else {
                return bytes;
            };
            let kept = text.trim_end_matches('…').to_owned();
            // JSON escapes can make a byte of text cost six: cut at least
            // what is over, and at least a quarter, so a few rounds do it.
            let mut keep = kept.len().saturating_sub((over + 3).max(kept.len() / 4));
            while keep > 0 && !kept.is_char_boundary(keep) {
                keep -= 1;
            }
            *text = if keep == 0 {
                String::new()
            } else {
                format!("{}…", &kept[..keep])
            };
        }
    }

    /// `TTL` and `Urgency` from the priority: an urgent message is pointless
    /// hours later, a low one may wait for the device for days.
    pub fn options(&self) -> (u32, Urgency) {
        use crate::model::Priority;
        match self.priority {
            Priority::Low => (3 * 86_400, Urgency::Low),
            Priority::Normal => (86_400, Urgency::Normal),
            Priority::High => (12 * 3_600, Urgency::High),
            Priority::Urgent => (3_600, Urgency::High),
        }
    }
}

/// A `Topic` header value for `key` (an order id, say): RFC 8030 allows 32
/// URL-safe base64 characters, so it is a digest of the key.
pub fn topic_of(key: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    B64URL.encode(&digest[..24])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscriber() -> (p256::SecretKey, [u8; 16], Subscription) {
        let secret = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let auth = *b"0123456789abcdef";
        let sub = Subscription {
            endpoint: "https://push.example.net/send/abc".into(),
            expiration_time: None,
            keys: SubscriptionKeys {
                p256dh: B64URL.encode(secret.public_key().to_encoded_point(false).as_bytes()),
                auth: B64URL.encode(auth),
            },
        };
        (secret, auth, sub)
    }

    #[test]
    fn a_key_survives_its_own_encoding_and_its_public_half_is_a_point() {
        let k = VapidKey::generate();
        let again = VapidKey::from_base64url(&k.private_base64url()).unwrap();
        assert_eq!(again.public_key(), k.public_key());
        let point = B64URL.decode(k.public_key()).unwrap();
        assert_eq!((point.len(), point[0]), (65, 4), "uncompressed P-256");
        assert!(VapidKey::from_base64url("AAAA").is_err());
        assert!(VapidKey::from_base64url("not base64!").is_err());
    }

    #[test]
    fn the_request_decrypts_for_the_subscriber_and_its_jwt_verifies() {
        let key = VapidKey::generate();
        let (secret, auth, sub) = subscriber();
        let now = Utc::now();
        let req = request(
            &key,
            "mailto:ops@shop.example",
            &sub,
            br#"{"title":"Order shipped"}"#,
            Options {
                ttl_seconds: 3600,
                urgency: Urgency::High,
                topic: Some(&topic_of("order-o_1")),
                loopback_http: false,
            },
            now,
        )
        .unwrap();
        let plain = web_push_native::decrypt(
            req.body.clone(),
            &secret,
            &web_push_native::Auth::clone_from_slice(&auth),
        )
        .unwrap();
        assert_eq!(plain, br#"{"title":"Order shipped"}"#);
        let header = |n: &str| {
            req.headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("content-encoding"), Some("aes128gcm"));
        assert_eq!(header("urgency"), Some("high"));
        assert_eq!(header("topic").unwrap().len(), 32);
        let auth_header = header("authorization").unwrap();
        let (t, k) = auth_header
            .strip_prefix("vapid t=")
            .and_then(|r| r.split_once(", k="))
            .unwrap();
        assert_eq!(k, key.public_key());
        // Verified with the advertised public key, as the push service does.
        let point = B64URL.decode(k).unwrap();
        let (x, y) = (B64URL.encode(&point[1..33]), B64URL.encode(&point[33..]));
        let decoding = jsonwebtoken::DecodingKey::from_ec_components(&x, &y).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        v.set_audience(&["https://push.example.net"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(t, &decoding, &v)
            .unwrap()
            .claims;
        assert_eq!(claims["sub"], "mailto:ops@shop.example");
        let exp = claims["exp"].as_i64().unwrap();
        assert!(exp > now.timestamp() && exp <= (now + Duration::hours(24)).timestamp());
    }

    #[test]
    fn a_long_payload_is_cut_in_its_body_never_its_id_or_link() {
        let p = PushPayload {
            id: "01JABC".into(),
            kind: "order.created".into(),
            title: "Order o_1 confirmed".into(),
            body: "ü".repeat(5_000),
            action_url: Some("/orders/o_1".into()),
            tag: Some("order-o_1".into()),
            priority: crate::model::Priority::High,
            created_at: Utc::now(),
        };
        let bytes = p.to_bytes();
        assert!(bytes.len() <= MAX_PAYLOAD_BYTES, "{}", bytes.len());
        let back: PushPayload = serde_json::from_slice(&bytes).unwrap();
        assert_eq!((&back.id, &back.action_url), (&p.id, &p.action_url));
        assert!(back.body.ends_with('…') && back.body.len() > 3_000);
        assert_eq!(p.options(), (12 * 3_600, Urgency::High));
        // Nothing but the id and the link fits the title's room: it ends,
        // within the limit where it can be.
        let huge = PushPayload {
            title: "\u{1}".repeat(2_000),
            body: "\u{2}".repeat(2_000),
            tag: Some("t".repeat(2_000)),
            ..p.clone()
        };
        let bytes = huge.to_bytes();
        assert!(bytes.len() <= MAX_PAYLOAD_BYTES, "{}", bytes.len());
        let back: PushPayload = serde_json::from_slice(&bytes).unwrap();
        assert_eq!((back.id.as_str(), back.tag), ("01JABC", None));
    }

    #[test]
    fn bad_subscriptions_are_refused_naming_the_field() {
        let (_, _, good) = subscriber();
        assert!(good.check(false).is_ok());
        let field = |sub: &Subscription, loopback| sub.check(loopback).unwrap_err().field;
        let mut s = good.clone();
        s.keys.p256dh = B64URL.encode([4u8; 65]);
        assert_eq!(field(&s, false), "keys.p256dh", "not on the curve");
        let mut s = good.clone();
        s.keys.auth = B64URL.encode([1u8; 8]);
        assert_eq!(field(&s, false), "keys.auth");
        let mut s = good.clone();
        s.endpoint = "http://push.example.net/x".into();
        assert_eq!(field(&s, false), "endpoint");
        s.endpoint = "http://127.0.0.1:9/x".into();
        assert_eq!(field(&s, false), "endpoint", "loopback only where allowed");
        assert!(s.check(true).is_ok());
        for inside in [
            "https://169.254.169.254/latest",
            "https://10.0.0.5/x",
            "https://localhost/x",
            "https://metadata.internal/x",
            "https://push.example.net:8443/x",
            "https://intranet/x",
        ] {
            s.endpoint = inside.into();
            assert_eq!(field(&s, false), "endpoint", "{inside}");
        }
        assert!(Subscription::parse(b"{}", false).is_err());
    }
}
