//! Lambda on the webhook queue: signs each webhook (Standard Webhooks) and
//! posts it to the shop, retrying with backoff for more than a day.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::adapters::aws;
use shared::aws_lambda_events::sqs::SqsEvent;

// One invocation at a time: a single-threaded runtime spends no CPU on
// waking worker threads (what Lambda bills) and starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = aws::start(aws::Uses {
        webhook_endpoint: true,
        ..aws::Uses::default()
    })
    .await?;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(shared::handlers::webhooks::handle(app, event.payload).await)
    }))
    .await
}
