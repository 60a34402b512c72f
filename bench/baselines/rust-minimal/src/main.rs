//! The floor ws-connect's cold start is measured against: the least a Rust
//! Lambda on DynamoDB does. The SDK configuration and one client are built
//! at start; each invocation makes one call (a PutItem, as ws-connect
//! stores its connection) and answers 200.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

// Single-threaded, as the functions are.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = std::env::var("TABLE_NAME")?;
    let (client, table) = (&client, table.as_str());
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let id = event.payload["requestContext"]["connectionId"]
            .as_str()
            .unwrap_or("minimal")
            .to_owned();
        client
            .put_item()
            .table_name(table)
            .item("PK", AttributeValue::S(format!("MINIMAL#{id}")))
            .item("SK", AttributeValue::S("MINIMAL".into()))
            .send()
            .await?;
        Ok::<_, Error>(json!({ "statusCode": 200 }))
    }))
    .await
}
