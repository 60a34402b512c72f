//! Lambda for the WebSocket `$connect` route: verifies the JWT and stores the connection.

use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};
use shared::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use shared::{Config, adapters::aws};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON logs when the function's log format is JSON (set in the SAM template).
    tracing::init_default_subscriber();
    let uses = aws::Uses::default();
    let sdk = aws::load_sdk_config().await;
    // Secrets come from Secrets Manager (JWT_SECRET_ARN, EVENTS_API_KEY_ARN).
    let config = shared::adapters::secrets::resolve(Config::from_env(), &sdk).await?;
    let app = aws::aws_app_using(config, &sdk, uses);
    // Refuse to start rather than refuse every client later.
    app.require_verifier()?;
    // Built once per cold start, used by every invocation of this instance.
    let app: &'static shared::App = Box::leak(Box::new(app));
    run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(shared::handlers::ws_connect::handle(app, event.payload).await)
        },
    ))
    .await
}
