//! `cargo run -p local -- --aws`: the same local stack on the AWS adapters
//! (DynamoDB, SES) against moto through AWS_ENDPOINT_URL. Its own test
//! binary: it sets the process environment the SDK reads.

use integration::client::{Client, http};
use integration::stack::{options, post_event, temp_dir, token};
use integration::{moto, moto_data, order_event};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_backend_runs_the_whole_flow_against_moto() {
    let endpoint = moto().endpoint();
    // SAFETY: this binary has this one test; nothing else reads the
    // environment concurrently.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL", &endpoint);
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    }
    let dir = temp_dir("aws");
    let mut opts = options(&dir);
    opts.backend = local::Backend::Aws;
    opts.config.table_name = format!("local-aws-{}", ulid::Ulid::new().to_string().to_lowercase());
    opts.config.email_from = Some("local@shop.example".into());
    let stack = local::start(opts).await.expect("start with --aws");
    assert!(stack.outbox.is_some(), "SMS still goes to the outbox");

    let t = token(&stack, "vic").await;
    let mut c = Client::connect(&stack.ws_url(), &t).await.unwrap();
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
    assert!(
        tables
            .table_names()
            .iter()
            .any(|n| n == &stack.app.config.table_name)
    );
    for _ in 0..200 {
        if moto_data().to_string().contains("vic@example.com") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        moto_data().to_string().contains("vic@example.com"),
        "the email went through SES on moto"
    );
    stack.stop().await;
}
