//! Web Push requests checked by independent implementations: Python's
//! `http_ece` decrypts the RFC 8291 body with the subscriber's private key,
//! PyJWT (with `cryptography`) verifies the VAPID JWT with the advertised key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::{Value, json};
use shared::push::{Options, Subscription, SubscriptionKeys, Urgency, VapidKey, request};

fn python(script: &str, input: &Value) -> Value {
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python");
    assert!(
        std::path::Path::new(python).exists(),
        "{python} is missing: scripts/test.sh installs the test tools (http-ece, PyJWT)"
    );
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const CHECK: &str = r#"
import base64, json, sys
import http_ece, jwt
from cryptography.hazmat.primitives.asymmetric import ec
b64 = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
a = json.load(sys.stdin)
priv = ec.derive_private_key(int.from_bytes(b64(a["uaPrivate"]), "big"), ec.SECP256R1())
plain = http_ece.decrypt(b64(a["body"]), private_key=priv, auth_secret=b64(a["auth"]), version="aes128gcm")
t, k = a["authorization"][len("vapid t="):].split(", k=")
pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64(k))
claims = jwt.decode(t, pub, algorithms=["ES256"], audience=a["aud"])
print(json.dumps({"plain": plain.decode(), "claims": claims, "k": k}))
"#;

#[test]
fn push_requests_decrypt_and_verify_with_independent_implementations() {
    let key = VapidKey::generate();
    let ua = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    let auth = [7u8; 16];
    let sub = Subscription {
        endpoint: "https://fcm.googleapis.com/fcm/send/abc123".into(),
        expiration_time: None,
        keys: SubscriptionKeys {
            p256dh: B64URL.encode(ua.public_key().to_encoded_point(false).as_bytes()),
            auth: B64URL.encode(auth),
        },
    };
    let payload = json!({"title": "Order o_1 shipped", "body": "ü ✓ long ".repeat(50)}).to_string();
    let req = request(
        &key,
        "mailto:ops@shop.example",
        &sub,
        payload.as_bytes(),
        Options {
            ttl_seconds: 86_400,
            urgency: Urgency::Normal,
            topic: None,
        },
        chrono::Utc::now(),
    )
    .unwrap();
    let authorization = req
        .headers
        .iter()
        .find(|(k, _)| *k == "authorization")
        .unwrap()
        .1
        .clone();
    let out = python(
        CHECK,
        &json!({
            "uaPrivate": B64URL.encode(ua.to_bytes()),
            "auth": B64URL.encode(auth),
            "body": B64URL.encode(&req.body),
            "authorization": authorization,
            "aud": "https://fcm.googleapis.com",
        }),
    );
    assert_eq!(out["plain"], payload);
    assert_eq!(out["claims"]["sub"], "mailto:ops@shop.example");
    assert_eq!(out["k"], key.public_key());
}
