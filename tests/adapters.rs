//! The SQS, SES v2 and API Gateway management adapters on the wire.

use integration::*;
use shared::adapters::apigw::ApiGatewayPusher;
use shared::adapters::ses::SesMailer;
use shared::adapters::sqs::SqsQueue;
use shared::error::{MailError, PushError};
use shared::ports::{Mailer, OutMessage, Pusher, Queue};
use shared::template::RenderedEmail;

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
    let id = SesMailer::new(ses.clone(), Some(FROM.into()))
        .send("zoe@example.com", &email)
        .await
        .unwrap();
    assert!(!id.is_empty());
    assert!(moto_data().to_string().contains("zoe@example.com"));
    let err = SesMailer::new(ses.clone(), Some("ghost@nowhere.example".into()))
        .send("zoe@example.com", &email)
        .await
        .unwrap_err();
    assert!(matches!(err, MailError::Rejected(_)), "{err:?}");
    let err = SesMailer::new(ses, None)
        .send("zoe@example.com", &email)
        .await
        .unwrap_err();
    assert!(matches!(err, MailError::Temporary(m) if m.contains("EMAIL_FROM")));
}
