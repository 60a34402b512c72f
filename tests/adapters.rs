//! The SQS, SES v2 and API Gateway management adapters on the wire.

use integration::*;
use shared::adapters::apigw::ApiGatewayPusher;
use shared::adapters::ses::SesMailer;
use shared::adapters::sqs::SqsQueue;
use shared::error::{MailError, PushError};
use shared::ports::{Mailer, OutMessage, Pusher, Queue};
use shared::template::RenderedEmail;

/// The SDK is built without its default HTTPS client (aws-lc): a
/// configuration without ours fails at its first call. The workspace build
/// has the default client anyway (the rust-minimal baseline keeps it), so
/// the other tests would not notice one that lacks it; the functions,
/// built one at a time, would.
#[tokio::test]
async fn every_sdk_configuration_carries_our_https_client() {
    let lambda = shared::adapters::aws::load_sdk_config().await;
    assert!(lambda.http_client().is_some(), "the functions'");
    assert!(
        local::local_sdk_config().http_client().is_some(),
        "the local stack's"
    );
    assert!(
        sdk_config("http://127.0.0.1:1").http_client().is_some(),
        "the tests'"
    );
}

#[tokio::test]
async fn sqs_sends_more_than_one_batch_and_everything_arrives() {
    let env = TestEnv::new().await;
    let q = SqsQueue::new(
        env.sqs.clone(),
        Some(env.deliveries.url.clone()),
        "DELIVERIES_QUEUE_URL",
    );
    q.send((0..25).map(|i| OutMessage::now(format!("m{i}"))).collect())
        .await
        .unwrap();
    assert_eq!(env.queue_depth(&env.deliveries.url).await, 25);
    let unset = SqsQueue::new(env.sqs.clone(), None, "EVENTS_QUEUE_URL");
    let err = unset
        .send(vec![OutMessage::now("x".into())])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("EVENTS_QUEUE_URL"), "{err}");
}

#[tokio::test]
async fn sqs_reports_each_message_of_a_batch_on_its_own() {
    let env = TestEnv::new().await;
    let q = SqsQueue::new(
        env.sqs.clone(),
        Some(env.deliveries.url.clone()),
        "DELIVERIES_QUEUE_URL",
    );
    // SQS refuses a delay over 15 minutes, per entry (the sender's fault).
    let batch = || {
        let mut b: Vec<OutMessage> = ["first", "second", "third"]
            .iter()
            .map(|b| OutMessage::now((*b).into()))
            .collect();
        b[1].delay_seconds = 1000;
        b
    };
    let outcomes = q.send_each(batch()).await;
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes[0].is_ok() && outcomes[2].is_ok(), "{outcomes:?}");
    assert!(outcomes[1].is_err(), "{outcomes:?}");
    assert_eq!(env.queue_depth(&env.deliveries.url).await, 2);
    // send() of the same batch fails as a whole.
    let err = q.send(batch()).await.unwrap_err();
    assert!(
        err.to_string().contains("1 of 3 messages not sent"),
        "{err}"
    );
}

#[tokio::test]
async fn the_pusher_maps_each_answer_of_the_management_api() {
    let mgmt = Mgmt::start().await;
    let sdk = sdk_config(&moto().endpoint());
    let pusher = ApiGatewayPusher::new(&sdk, Some(&mgmt.endpoint()));
    pusher.post("ok-1", br#"{"event":"pong"}"#).await.unwrap();
    assert_eq!(
        mgmt.posts_to("ok-1"),
        vec![serde_json::json!({"event":"pong"})]
    );
    mgmt.fail("gone-1", Fault::Gone);
    assert_eq!(pusher.post("gone-1", b"{}").await, Err(PushError::Gone));
    mgmt.fail("slow-1", Fault::Throttled);
    assert!(matches!(
        pusher.post("slow-1", b"{}").await,
        Err(PushError::Throttled(_))
    ));
    mgmt.fail("big-1", Fault::TooLarge);
    assert!(matches!(
        pusher.post("big-1", b"{}").await,
        Err(PushError::TooLarge(_))
    ));
    mgmt.fail("bad-1", Fault::ServerError);
    assert!(matches!(
        pusher.post("bad-1", b"{}").await,
        Err(PushError::Failed(_))
    ));
    let unset = ApiGatewayPusher::new(&sdk, None);
    assert!(
        matches!(unset.post("x", b"{}").await, Err(PushError::Failed(m)) if m.contains("WS_ENDPOINT"))
    );
}

#[tokio::test]
async fn ses_sends_from_a_verified_identity_and_rejects_otherwise() {
    let env = TestEnv::new().await;
    let email = RenderedEmail {
        subject: "Hello adapters".into(),
        text: "plain".into(),
        html: "<p>html</p>".into(),
    };
    let ses = aws_sdk_sesv2::Client::new(&env.sdk);
    let tags = shared::ports::MailTags {
        user_id: "auth0|zoe".into(),
        notification_id: "01JZOE".into(),
    };
    // With the configuration set and the tags the feedback comes back with.
    let id = SesMailer::new(ses.clone(), Some(FROM.into()))
        .with_configuration_set(Some("notify-feedback".into()))
        .send("zoe@example.com", &email, &tags)
        .await
        .unwrap();
    assert!(!id.is_empty());
    assert!(moto_data().to_string().contains("zoe@example.com"));
    let err = SesMailer::new(ses.clone(), Some("ghost@nowhere.example".into()))
        .send("zoe@example.com", &email, &tags)
        .await
        .unwrap_err();
    assert!(matches!(err, MailError::Rejected(_)), "{err:?}");
    let err = SesMailer::new(ses, None)
        .send("zoe@example.com", &email, &tags)
        .await
        .unwrap_err();
    assert!(matches!(err, MailError::Temporary(m) if m.contains("EMAIL_FROM")));
}

#[tokio::test]
async fn secrets_are_read_from_secrets_manager_at_cold_start() {
    let sdk = sdk_config(&moto().endpoint());
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = |n: &str| format!("{n}-{}", ulid::Ulid::new());
    let jwt = sm
        .create_secret()
        .name(name("jwt"))
        .secret_string("from-secrets-manager")
        .send()
        .await
        .unwrap();
    let key = sm
        .create_secret()
        .name(name("key"))
        .secret_string("events-key-42")
        .send()
        .await
        .unwrap();
    let config = shared::Config::from_lookup(|k| match k {
        "JWT_SECRET_ARN" => jwt.arn().map(str::to_owned),
        "EVENTS_API_KEY_ARN" => key.arn().map(str::to_owned),
        _ => None,
    });
    assert_eq!(
        config.jwt_secret, None,
        "the value is not in the environment"
    );
    let config = shared::adapters::secrets::resolve(config, &sdk)
        .await
        .unwrap();
    assert_eq!(config.jwt_secret.as_deref(), Some("from-secrets-manager"));
    assert_eq!(config.events_api_key.as_deref(), Some("events-key-42"));

    // A value set directly wins and nothing is fetched for it.
    let direct = shared::Config::from_lookup(|k| match k {
        "JWT_SECRET" => Some("direct".into()),
        "JWT_SECRET_ARN" => {
            Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:nope".into())
        }
        _ => None,
    });
    let direct = shared::adapters::secrets::resolve(direct, &sdk)
        .await
        .unwrap();
    assert_eq!(direct.jwt_secret.as_deref(), Some("direct"));

    // A secret that cannot be read stops the cold start, naming the setting.
    let missing = shared::Config::from_lookup(|k| {
        (k == "EVENTS_API_KEY_ARN")
            .then(|| "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-AbCdEf".into())
    });
    let err = shared::adapters::secrets::resolve(missing, &sdk)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("EVENTS_API_KEY_ARN"), "{err}");
}
