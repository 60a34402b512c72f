//! Web Push requests checked by independent implementations: Python's
//! `http_ece` decrypts the RFC 8291 body with the subscriber's private key,
//! PyJWT (with `cryptography`) verifies the VAPID JWT with the advertised key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::{Value, json};
use shared::push::{Options, Subscription, SubscriptionKeys, Urgency, VapidKey, request};

fn python(script: &str, input: &Value) -> Value {
    let out = integration::python::run(script, input).unwrap_or_else(|e| panic!("python: {e}"));
    serde_json::from_str(&out).unwrap()
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
            loopback_http: false,
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

mod stack {
    //! Web push end to end on the local stack: the test is the browser (it
    //! makes the subscriber's keys) and the push service (a loopback sink).

    use std::time::Duration;

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
    use integration::client::{Client, http};
    use integration::hooks::{Answer, Receiver};
    use integration::stack::{post_event, start_with, temp_dir, token};
    use integration::*;
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use serde_json::{Value, json};

    use integration::client::authed as call;

    /// The owner's delivery log of notification `id`.
    async fn delivery_log(addr: std::net::SocketAddr, token: &str, id: &str) -> Value {
        call(
            addr,
            "GET",
            &format!("/notifications/{id}/deliveries"),
            token,
            Value::Null,
        )
        .await
        .1
    }

    fn event(id: &str, user: &str, order: &str) -> Value {
        json!({"id": id, "type": "order.status_changed", "userId": user,
            "occurredAt": "2026-11-29T10:00:00Z",
            "data": {"orderId": order, "status": "shipped"}})
    }

    #[tokio::test]
    async fn a_user_with_no_tab_open_gets_an_encrypted_signed_web_push_and_an_open_tab_gets_none() {
        let sink = Receiver::start().await;
        // Nothing here waits on a redelivery: a visibility timeout longer
        // than a slow attempt under the full suite's load (200 ms is the
        // tests' default) so a job is not received again while it runs.
        let stack = start_with(temp_dir("web-push"), |o| {
            o.visibility_timeout = Duration::from_secs(10)
        })
        .await;
        let addr = stack.http_addr;
        // The key, without a token.
        let (s, key) = http(addr, "GET", "/push/vapid-public-key", &[], None).await;
        assert_eq!(s, 200, "{key}");
        let public_key = key["publicKey"].as_str().unwrap().to_owned();
        assert_eq!(B64URL.decode(&public_key).unwrap().len(), 65);

        // The browser's keys and subscription (its endpoint: our sink).
        let ua = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let auth = [9u8; 16];
        let endpoint = format!("http://{}/push/abc", sink.addr);
        let sub = json!({"endpoint": endpoint, "expirationTime": null, "keys": {
            "p256dh": B64URL.encode(ua.public_key().to_encoded_point(false).as_bytes()),
            "auth": B64URL.encode(auth)}});
        let t = token(&stack, "pat").await;
        let (s, b) = call(addr, "POST", "/push/subscriptions", &t, sub.clone()).await;
        assert_eq!(s, 201, "{b}");
        // Again: an update, not a second subscription.
        assert_eq!(
            call(addr, "POST", "/push/subscriptions", &t, sub.clone())
                .await
                .0,
            201
        );
        assert_eq!(
            stack.app.store.subscriptions_of("pat").await.unwrap().len(),
            1
        );
        // Bad ones name the field.
        for (bad, field) in [
            (
                json!({"endpoint": endpoint, "keys": {"p256dh": B64URL.encode([4u8; 65]), "auth": B64URL.encode(auth)}}),
                "keys.p256dh",
            ),
            (
                json!({"endpoint": endpoint, "keys": {"p256dh": sub["keys"]["p256dh"], "auth": "AAAA"}}),
                "keys.auth",
            ),
            (
                json!({"endpoint": "http://push.example.net/x", "keys": sub["keys"]}),
                "endpoint",
            ),
        ] {
            let (s, b) = call(addr, "POST", "/push/subscriptions", &t, bad).await;
            assert_eq!((s, b["error"]["field"].as_str()), (400, Some(field)), "{b}");
        }
        let big = json!({"endpoint": endpoint, "keys": sub["keys"], "pad": "x".repeat(5000)});
        let (s, b) = call(addr, "POST", "/push/subscriptions", &t, big).await;
        assert_eq!(
            (s, b["error"]["field"].as_str()),
            (400, Some("body")),
            "{b}"
        );

        // No tab open: the event becomes a web push.
        assert_eq!(
            post_event(&stack, &event("wp1", "pat", "o_77")).await.0,
            202
        );
        wait_until("the push at the sink", Duration::from_secs(20), || async {
            !sink.received().is_empty()
        })
        .await;
        let push = sink.received()[0].clone();
        assert_eq!(push.header("content-encoding"), Some("aes128gcm"));
        assert_eq!(push.header("urgency"), Some("normal"));
        assert_eq!(push.header("ttl"), Some("86400"));
        assert_eq!(push.header("topic").map(str::len), Some(32));
        let out = super::python(
            super::CHECK,
            &json!({
                "uaPrivate": B64URL.encode(ua.to_bytes()),
                "auth": B64URL.encode(auth),
                "body": B64URL.encode(&push.raw),
                "authorization": push.header("authorization").unwrap(),
                "aud": format!("http://{}", sink.addr),
            }),
        );
        assert_eq!(out["k"], public_key, "signed with the advertised key");
        let payload: Value = serde_json::from_str(out["plain"].as_str().unwrap()).unwrap();
        assert_eq!(payload["title"], "Order o_77 is shipped");
        assert_eq!(payload["actionUrl"], "/orders/o_77");
        assert_eq!(payload["tag"], "order-o_77");
        let id = payload["id"].as_str().unwrap().to_owned();
        let log = delivery_log(addr, &t, &id).await;
        let push_steps: Vec<&str> = log["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["channel"] == "push")
            .map(|d| d["status"].as_str().unwrap())
            .collect();
        assert_eq!(push_steps, ["queued", "delivered"], "{log}");
        assert_eq!(sink.received().len(), 1, "one push for one event");

        // A tab open: the in-app notification, no web push.
        let mut tab = Client::connect(&stack.ws_url(), &t).await.unwrap();
        assert_eq!(
            post_event(&stack, &event("wp2", "pat", "o_78")).await.0,
            202
        );
        let n = tab.expect("notification:new").await;
        let id2 = n["data"]["id"].as_str().unwrap().to_owned();
        let skipped = wait_for(
            "the push step in the log",
            Duration::from_secs(10),
            || async {
                let log = delivery_log(addr, &t, &id2).await;
                log["deliveries"]
                    .as_array()?
                    .iter()
                    .find(|d| d["channel"] == "push" && d["status"] != "queued")
                    .cloned()
            },
        )
        .await;
        assert_eq!(skipped["status"], "skipped", "{skipped}");
        assert_eq!(
            sink.received().len(),
            1,
            "no second push while a tab is open"
        );
        drop(tab);

        // The push service says the subscription is gone: it is deleted.
        wait_until(
            "the tab's connection to close",
            Duration::from_secs(10),
            || async {
                stack
                    .app
                    .store
                    .connections_of("pat")
                    .await
                    .unwrap()
                    .is_empty()
            },
        )
        .await;
        sink.answer(Answer::Status(410));
        assert_eq!(
            post_event(&stack, &event("wp3", "pat", "o_79")).await.0,
            202
        );
        wait_until(
            "the subscription to be dropped",
            Duration::from_secs(20),
            || async {
                stack
                    .app
                    .store
                    .subscriptions_of("pat")
                    .await
                    .unwrap()
                    .is_empty()
            },
        )
        .await;
        assert_eq!(sink.received().len(), 2);
        // Unsubscribing something unknown is fine.
        let (s, _) = call(
            addr,
            "DELETE",
            "/push/subscriptions",
            &t,
            json!({"endpoint": endpoint}),
        )
        .await;
        assert_eq!(s, 204);
        stack.stop().await;
    }

    #[tokio::test]
    async fn a_busy_push_service_is_retried_and_a_refusal_is_recorded() {
        let sink = Receiver::start().await;
        let stack = start_with(temp_dir("web-push-retry"), |_| {}).await;
        let addr = stack.http_addr;
        let ua = p256::SecretKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let sub = json!({"endpoint": format!("http://{}/push/r", sink.addr), "keys": {
            "p256dh": B64URL.encode(ua.public_key().to_encoded_point(false).as_bytes()),
            "auth": B64URL.encode([3u8; 16])}});
        let t = token(&stack, "ray").await;
        assert_eq!(
            call(addr, "POST", "/push/subscriptions", &t, sub).await.0,
            201
        );
        let push_steps = |log: &Value| -> Vec<String> {
            log["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["channel"] == "push")
                .map(|d| d["status"].as_str().unwrap().to_owned())
                .collect()
        };
        // 503, then taken: the job comes back through the queue.
        sink.script(&[Answer::Status(503)]);
        assert_eq!(post_event(&stack, &event("wr1", "ray", "o_5")).await.0, 202);
        let (_, log) = wait_for(
            "the push delivered on its retry",
            Duration::from_secs(20),
            || async {
                let (_, list) = call(addr, "GET", "/notifications?limit=1", &t, Value::Null).await;
                let id = list["notifications"][0]["id"].as_str()?.to_owned();
                let log = delivery_log(addr, &t, &id).await;
                (push_steps(&log).last().map(String::as_str) == Some("delivered"))
                    .then_some((id, log))
            },
        )
        .await;
        assert_eq!(push_steps(&log), ["queued", "failed", "delivered"], "{log}");
        assert_eq!(sink.received().len(), 2);
        // 413: refused for good, recorded as failed, not retried.
        sink.answer(Answer::Status(413));
        assert_eq!(post_event(&stack, &event("wr2", "ray", "o_6")).await.0, 202);
        let (_, log) = wait_for(
            "the refusal in the log",
            Duration::from_secs(20),
            || async {
                let (_, list) = call(addr, "GET", "/notifications?limit=1", &t, Value::Null).await;
                let id = list["notifications"][0]["id"].as_str()?.to_owned();
                if id == log["notificationId"].as_str().unwrap_or_default() {
                    return None;
                }
                let l = delivery_log(addr, &t, &id).await;
                (push_steps(&l).len() >= 2).then_some((id, l))
            },
        )
        .await;
        assert_eq!(push_steps(&log), ["queued", "failed"], "{log}");
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(sink.received().len(), 3, "a 413 is not retried");
        assert_eq!(
            stack.app.store.subscriptions_of("ray").await.unwrap().len(),
            1
        );
        stack.stop().await;
    }
}
