//! Hostile and foreign tokens against the one verifier that `$connect` and
//! the REST API share: tokens made by our signer and by a second JWT
//! implementation (PyJWT), HS256 and RS256, and the classic attacks.

use std::process::Command;

use integration::*;
use shared::auth::{JwtVerifier, claims_for, sign_hs256};
use shared::config::Config;

const PRIVATE: &str = include_str!("fixtures/rs256-test-private.pem");
const PUBLIC: &str = include_str!("fixtures/rs256-test-public.pem");

fn python() -> String {
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python");
    assert!(
        std::path::Path::new(venv).exists(),
        "no .venv: run scripts/test.sh, which installs PyJWT there"
    );
    venv.to_owned()
}

/// Signs `claims` with PyJWT. `alg` none, HS256 (key = secret) or RS256 (key = PEM).
fn pyjwt(alg: &str, key: &str, claims: serde_json::Value) -> String {
    let script = r#"
import json, sys, jwt
alg, key, claims = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
print(jwt.encode(claims, None if alg == "none" else key, algorithm=alg))
"#;
    let out = Command::new(python())
        .args(["-c", script, alg, key, &claims.to_string()])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "PyJWT failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn config(secret: Option<&str>, public: Option<&str>) -> Config {
    Config {
        jwt_secret: secret.map(str::to_owned),
        jwt_public_key: public.map(str::to_owned),
        jwt_issuer: Some("https://shop.example".into()),
        jwt_audience: Some("notify".into()),
        ..Config::default()
    }
}

fn claims(sub: &str, exp: i64) -> serde_json::Value {
    serde_json::json!({"sub": sub, "exp": exp, "iss": "https://shop.example", "aud": "notify"})
}

#[test]
fn tokens_from_a_second_implementation_are_accepted_when_valid() {
    let v = JwtVerifier::from_config(&config(Some("s3cret"), Some(PUBLIC))).unwrap();
    let hs = pyjwt("HS256", "s3cret", claims("alice", now() + 300));
    assert_eq!(v.verify(&hs).unwrap().user_id, "alice");
    let mut admin = claims("root", now() + 300);
    admin["role"] = "admin".into();
    let rs = pyjwt("RS256", PRIVATE, admin);
    let id = v.verify(&rs).unwrap();
    assert!(id.is_admin && id.user_id == "root");
}

/// What Auth0, Cognito, Okta and Entra issue: `aud` arrays and subjects
/// such as `auth0|…`, `google-oauth2|…` or an e-mail address.
#[test]
fn identity_provider_tokens_are_accepted() {
    let v = JwtVerifier::from_config(&config(Some("s3cret"), Some(PUBLIC))).unwrap();
    for sub in [
        "auth0|64f1c2e9a1",
        "google-oauth2|1234567890",
        "alice@example.com",
        "Ünïcode user",
    ] {
        let mut c = claims(sub, now() + 300);
        c["aud"] = serde_json::json!(["https://api.shop.example", "notify"]);
        let t = pyjwt("RS256", PRIVATE, c);
        assert_eq!(v.verify(&t).unwrap().user_id, sub);
    }
    // With no JWT_AUDIENCE configured, `aud` is not checked, string or array.
    let open = JwtVerifier::from_config(&Config {
        jwt_audience: None,
        ..config(Some("s3cret"), None)
    })
    .unwrap();
    for aud in [serde_json::json!("anything"), serde_json::json!(["a", "b"])] {
        let mut c = claims("auth0|1", now() + 300);
        c["aud"] = aud;
        assert!(open.verify(&pyjwt("HS256", "s3cret", c)).is_ok());
    }
}

#[test]
fn every_classic_attack_is_refused() {
    let rs_only = JwtVerifier::from_config(&config(None, Some(PUBLIC))).unwrap();
    let both = JwtVerifier::from_config(&config(Some("s3cret"), Some(PUBLIC))).unwrap();
    let good = claims("alice", now() + 300);
    let cases = vec![
        ("alg none", pyjwt("none", "", good.clone()), &both),
        // Algorithm confusion: HS256 keyed with the RSA public key (PyJWT
        // refuses to make this one, so our signer does).
        (
            "HS256 with the public key as secret",
            sign_hs256(PUBLIC, &serde_json::from_value(good.clone()).unwrap()),
            &rs_only,
        ),
        ("wrong secret", pyjwt("HS256", "guess", good.clone()), &both),
        (
            "expired",
            pyjwt("HS256", "s3cret", claims("alice", now() - 3600)),
            &both,
        ),
        (
            "not yet valid",
            pyjwt("HS256", "s3cret", {
                let mut c = good.clone();
                c["nbf"] = (now() + 3600).into();
                c
            }),
            &both,
        ),
        (
            "wrong issuer",
            pyjwt("HS256", "s3cret", {
                let mut c = good.clone();
                c["iss"] = "https://evil.example".into();
                c
            }),
            &both,
        ),
        (
            "wrong audience",
            pyjwt("HS256", "s3cret", {
                let mut c = good.clone();
                c["aud"] = "other".into();
                c
            }),
            &both,
        ),
        (
            "no audience",
            pyjwt("HS256", "s3cret", {
                let mut c = good.clone();
                c.as_object_mut().unwrap().remove("aud");
                c
            }),
            &both,
        ),
        (
            "no expiry",
            pyjwt("HS256", "s3cret", {
                let mut c = good.clone();
                c.as_object_mut().unwrap().remove("exp");
                c
            }),
            &both,
        ),
        (
            "no subject",
            pyjwt("HS256", "s3cret", {
                let mut c = good.clone();
                c.as_object_mut().unwrap().remove("sub");
                c
            }),
            &both,
        ),
        (
            "a subject with a control character",
            pyjwt("HS256", "s3cret", claims("bob\u{0}", now() + 300)),
            &both,
        ),
        (
            "a subject over 256 characters",
            pyjwt("HS256", "s3cret", claims(&"b".repeat(257), now() + 300)),
            &both,
        ),
        (
            "an audience array without ours",
            pyjwt("RS256", PRIVATE, {
                let mut c = good.clone();
                c["aud"] = serde_json::json!(["https://api.shop.example", "billing"]);
                c
            }),
            &both,
        ),
        ("HS384", pyjwt("HS384", "s3cret", good.clone()), &both),
        (
            "truncated",
            pyjwt("HS256", "s3cret", good.clone())[..40].to_owned(),
            &both,
        ),
        (
            "tampered payload",
            {
                let t = pyjwt("HS256", "s3cret", good.clone());
                let parts: Vec<&str> = t.split('.').collect();
                let forged = pyjwt("HS256", "other", claims("bob", now() + 300));
                format!(
                    "{}.{}.{}",
                    parts[0],
                    forged.split('.').nth(1).unwrap(),
                    parts[2]
                )
            },
            &both,
        ),
    ];
    for (name, token, verifier) in cases {
        assert!(verifier.verify(&token).is_err(), "{name} was accepted");
    }
}

#[tokio::test]
async fn a_refused_token_writes_nothing_and_bob_cannot_read_alice() {
    let env = TestEnv::new().await;
    // Through the real handlers: a foreign-signed token for bob, then alice's inbox.
    let bob = sign_hs256(SECRET, &claims_for("bob", false, 300, &env.config));
    let alice_n = integration::contract::add(env.app.store.as_ref(), "alice", "evt_tok").await;
    let (s, _) = env
        .api(
            "GET",
            &format!("/notifications/{}", alice_n.id),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = env
        .api(
            "PATCH",
            &format!("/notifications/{}/read", alice_n.id),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(env.app.store.unread_count("alice").await.unwrap(), 1);
    env.connect("bob", "bob-1").await;
    env.send_frame(
        "bob-1",
        &serde_json::json!({"action":"notification:sync"}).to_string(),
    )
    .await;
    let sync = env.mgmt.posts_to("bob-1").pop().unwrap();
    assert_eq!(sync["data"]["notifications"], serde_json::json!([]));

    let none = pyjwt(
        "none",
        "",
        serde_json::json!({"sub": "alice", "exp": now() + 300}),
    );
    let mut req = ws_request("evil-1", "$connect", None);
    req.query_string_parameters = [("token".to_owned(), none)]
        .into_iter()
        .collect::<std::collections::HashMap<_, _>>()
        .into();
    assert_eq!(
        shared::handlers::ws_connect::handle(&env.app, req)
            .await
            .status_code,
        401
    );
    assert_eq!(
        env.app.store.connection_owner("evil-1").await.unwrap(),
        None
    );
}
