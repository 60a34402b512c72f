//! Lambda on the events queue: stores notifications and queues their deliveries.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::adapters::aws;
use shared::aws_lambda_events::sqs::SqsEvent;

/// The clients this function uses: the build fails if its Cargo.toml
/// leaves one out.
const USES: aws::Uses = aws::Uses {
    events_queue: true,
    deliveries_queue: true,
    push: true,
    webhooks: true,
    ..aws::Uses::NONE
}
.built();

// One invocation at a time: a single-threaded runtime spends no CPU on
// waking worker threads (what Lambda bills) and starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = aws::start(USES).await?;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(shared::handlers::worker::handle(app, event.payload).await)
    }))
    .await
}
