//! Lambda for `POST /events`: validates a business event and queues it.

use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};
use shared::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use shared::{Config, adapters::aws};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON logs when the function's log format is JSON (set in the SAM template).
    tracing::init_default_subscriber();
    let uses = aws::Uses {
        events_queue: true,
        ..aws::Uses::default()
    };
    let sdk = aws::load_sdk_config().await;
    // Secrets come from Secrets Manager (JWT_SECRET_ARN, EVENTS_API_KEY_ARN).
    let config = shared::adapters::secrets::resolve(Config::from_env(), &sdk).await?;
    let app = aws::aws_app_using(config, &sdk, uses);
    // Built once per cold start, used by every invocation of this instance.
    let app: &'static shared::App = Box::leak(Box::new(app));
    run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2httpRequest>| async move {
            Ok::<_, Error>(shared::handlers::order_events::handle(app, event.payload).await)
        },
    ))
    .await
}
