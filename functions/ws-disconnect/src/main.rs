//! Lambda for the WebSocket `$disconnect` route: removes the connection rows.

use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};
use shared::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use shared::{Config, adapters::aws};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON logs when the function's log format is JSON (set in the SAM template).
    tracing::init_default_subscriber();
    let uses = aws::Uses::default();
    let app = aws::aws_app_using(Config::from_env(), &aws::load_sdk_config().await, uses);
    // Built once per cold start, used by every invocation of this instance.
    let app: &'static shared::App = Box::leak(Box::new(app));
    run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(shared::handlers::ws_disconnect::handle(app, event.payload).await)
        },
    ))
    .await
}
