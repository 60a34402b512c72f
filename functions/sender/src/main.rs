//! Lambda on the deliveries queue: pushes to every device and sends email.

use lambda_runtime::{Error, LambdaEvent, run, service_fn, tracing};
use shared::aws_lambda_events::sqs::SqsEvent;
use shared::{Config, adapters::aws};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON logs when the function's log format is JSON (set in the SAM template).
    tracing::init_default_subscriber();
    let uses = aws::Uses {
        deliveries_queue: true,
        push: true,
        email: true,
        sms: true,
        ..aws::Uses::default()
    };
    let app = aws::aws_app_using(Config::from_env(), &aws::load_sdk_config().await, uses);
    // Built once per cold start, used by every invocation of this instance.
    let app: &'static shared::App = Box::leak(Box::new(app));
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(shared::handlers::sender::handle(app, event.payload).await)
    }))
    .await
}
