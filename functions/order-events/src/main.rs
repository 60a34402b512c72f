//! Lambda for `POST /events`: validates a business event and queues it.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::adapters::aws;
use shared::aws_lambda_events::apigw::ApiGatewayV2httpRequest;

// One invocation at a time: a single-threaded runtime spends no CPU on
// waking worker threads (what Lambda bills) and starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = aws::start(aws::Uses {
        events_queue: true,
        ..aws::Uses::default()
    })
    .await?;
    run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2httpRequest>| async move {
            Ok::<_, Error>(shared::handlers::order_events::handle(app, event.payload).await)
        },
    ))
    .await
}
