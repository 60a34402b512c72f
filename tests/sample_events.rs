//! Every file in events/ (the samples for `cargo lambda invoke --data-file`)
//! parses into its function's event type and means what its name says.

use std::path::PathBuf;

use shared::auth::JwtVerifier;
use shared::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayWebsocketProxyRequest};
use shared::aws_lambda_events::sqs::SqsEvent;
use shared::config::Config;
use shared::event::BusinessEvent;
use shared::jobs::DeliveryJob;

fn files() -> Vec<(String, String)> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../events"));
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("events/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn verifier() -> JwtVerifier {
    JwtVerifier::from_config(&Config {
        jwt_secret: Some(local::DEV_JWT_SECRET.into()),
        ..Config::default()
    })
    .unwrap()
}

#[test]
fn every_sample_parses_into_its_function_event() {
    let all = files();
    assert!(all.len() >= 15, "a sample for every function and route");
    for (name, text) in &all {
        if name.starts_with("ws-") {
            let e: ApiGatewayWebsocketProxyRequest =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(e.request_context.connection_id.is_some(), "{name}");
            let route = e.request_context.route_key.clone().unwrap();
            let expected = match name {
                n if n.starts_with("ws-connect") => "$connect",
                n if n.starts_with("ws-disconnect") => "$disconnect",
                _ => "$default",
            };
            assert_eq!(route, expected, "{name}");
            if route == "$default" {
                let body = e.body.as_deref().unwrap();
                let parsed = shared::protocol::ClientMessage::parse(body);
                assert_eq!(
                    parsed.is_ok(),
                    !name.contains("unknown"),
                    "{name}: {parsed:?}"
                );
            }
        } else if name.starts_with("order-events") || name.starts_with("api-") {
            let e: ApiGatewayV2httpRequest =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let path = e.raw_path.clone().unwrap();
            if name.starts_with("api-") {
                assert!(
                    shared::api::find_route(&e.request_context.http.method, &path).is_ok(),
                    "{name}: no route {path}"
                );
            } else {
                assert_eq!(path, "/events");
                let valid = BusinessEvent::parse_public(e.body.as_deref().unwrap().as_bytes());
                assert_eq!(
                    valid.is_ok(),
                    !name.contains("invalid"),
                    "{name}: {valid:?}"
                );
            }
        } else if name.starts_with("worker") || name.starts_with("sender") {
            let e: SqsEvent = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!e.records.is_empty(), "{name}");
            for r in &e.records {
                let body = r.body.as_deref().unwrap();
                if name.starts_with("sender") {
                    serde_json::from_str::<DeliveryJob>(body)
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                } else if !body.contains("evt_poison") {
                    BusinessEvent::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
                }
            }
        } else if name.starts_with("feedback") || name.starts_with("webhooks") {
            let e: SqsEvent = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            for r in &e.records {
                let body = r.body.as_deref().unwrap();
                // The sample's last record is the bad one.
                let last = r.message_id == e.records.last().unwrap().message_id;
                let ok = if name.starts_with("feedback") {
                    serde_json::from_str::<shared::ses_events::SesEvent>(body).is_ok()
                } else {
                    serde_json::from_str::<shared::webhook::WebhookMessage>(body).is_ok()
                };
                assert_eq!(ok, !last, "{name}: {body}");
            }
        } else {
            panic!("{name}: which function is this sample for? name it after it");
        }
    }
}

#[test]
fn sample_tokens_work_with_the_dev_secret() {
    let v = verifier();
    for (name, text) in files() {
        if let Some(start) = text.find("eyJ") {
            let token: String = text[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                .collect();
            assert_eq!(v.verify(&token).unwrap().user_id, "alice", "{name}");
        }
    }
}

#[test]
fn every_function_has_samples() {
    let names: Vec<String> = files().into_iter().map(|(n, _)| n).collect();
    for prefix in [
        "ws-connect",
        "ws-disconnect",
        "ws-message",
        "order-events",
        "worker",
        "sender",
        "api-",
        "feedback",
        "webhooks",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(prefix)),
            "no sample for {prefix}"
        );
    }
}
