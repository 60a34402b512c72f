//! Lambda for the WebSocket `$disconnect` route: removes the connection rows.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::adapters::aws;
use shared::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;

/// DynamoDB only.
const USES: aws::Uses = aws::Uses::NONE.built();

// One invocation at a time: a single-threaded runtime spends no CPU on
// waking worker threads (what Lambda bills) and starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = aws::start(USES).await?;
    run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(shared::handlers::ws_disconnect::handle(app, event.payload).await)
        },
    ))
    .await
}
