//! `cargo run -p local -- --aws`: the same local stack on the AWS adapters
//! (DynamoDB, SES) against moto through AWS_ENDPOINT_URL. The binary runs as
//! its own process: the environment the SDK reads is set for it alone, never
//! in this test process, which other tests share.

use std::time::Duration;

use integration::TestDir;
use integration::client::{Client, http};
use integration::process::LocalProcess;
use integration::stack::{post_event, token};
use integration::{moto, moto_data, order_event, wait_until};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_backend_runs_the_whole_flow_against_moto() {
    let endpoint = moto().endpoint();
    let table = format!("local-aws-{}", ulid::Ulid::new().to_string().to_lowercase());
    let dir = TestDir::new("aws");
    let stack = LocalProcess::start(
        &dir,
        &["--aws", "--retry-after-ms", "200", "--max-receives", "2"],
        &[
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("TABLE_NAME", table.as_str()),
            ("EMAIL_FROM", "local@shop.example"),
            ("JWT_SECRET", local::DEV_JWT_SECRET),
            ("EVENTS_API_KEY", local::DEV_EVENTS_API_KEY),
        ],
    )
    .await;
    let (status, outbox) = http(stack.http_addr, "GET", "/dev/outbox", &[], None).await;
    assert_eq!(status, 200, "SMS still goes to the outbox: {outbox}");

    let t = token(&stack, "vic").await;
    let mut c = Client::connect(&stack.ws_url, &t).await.unwrap();
    let mut e = order_event("evt_aws_1", "vic");
    e["recipient"] = json!({"email": "vic@example.com"});
    assert_eq!(post_event(&stack, &e).await.0, 202);
    let pushed = c.expect("notification:new").await;
    assert_eq!(pushed["data"]["eventId"], "evt_aws_1");

    // Stored in DynamoDB (the table the stack created on moto), mailed by SES.
    let auth = format!("Bearer {t}");
    let (s, b) = http(
        stack.http_addr,
        "GET",
        "/notifications",
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["notifications"].as_array().unwrap().len(), 1);
    let sdk = integration::sdk_config(&endpoint);
    let tables = aws_sdk_dynamodb::Client::new(&sdk)
        .list_tables()
        .send()
        .await
        .unwrap();
    assert!(tables.table_names().iter().any(|n| n == &table));
    wait_until(
        "the email to go through SES on moto",
        Duration::from_secs(10),
        || async { moto_data().to_string().contains("vic@example.com") },
    )
    .await;
}
