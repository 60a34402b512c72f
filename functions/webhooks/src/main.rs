//! Lambda on the webhook queue: signs each webhook (Standard Webhooks) and
//! posts it to the shop, retrying with backoff for more than a day.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::adapters::aws;
use shared::aws_lambda_events::sqs::SqsEvent;

/// The clients this function uses: the build fails if its Cargo.toml
/// leaves one out.
const USES: aws::Uses = aws::Uses {
    webhook_endpoint: true,
    ..aws::Uses::NONE
}
.built();

// One invocation at a time: a single-threaded runtime spends no CPU on
// waking worker threads (what Lambda bills) and starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = aws::start(USES).await?;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(shared::handlers::webhooks::handle(app, event.payload).await)
    }))
    .await
}
