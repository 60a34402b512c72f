//! Lambda for the REST API (HTTP API, payload v2): inbox, preferences, admin.

use lambda_http::{Body, Error, Request, Response, run, service_fn, tracing};
use shared::{Config, adapters::aws};

/// lambda_http's request, as the plain `http` request the shared router takes.
fn to_plain(req: Request) -> shared::aws_lambda_events::http::Request<Vec<u8>> {
    let (parts, body) = req.into_parts();
    let bytes = match body {
        Body::Empty => Vec::new(),
        Body::Text(t) => t.into_bytes(),
        Body::Binary(b) => b,
        _ => Vec::new(),
    };
    shared::aws_lambda_events::http::Request::from_parts(parts, bytes)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let uses = aws::Uses {
        events_queue: true,
        push: true,
        dead_letters: true,
        ..aws::Uses::default()
    };
    let sdk = aws::load_sdk_config().await;
    // Secrets come from Secrets Manager (JWT_SECRET_ARN, EVENTS_API_KEY_ARN).
    let config = shared::adapters::secrets::resolve(Config::from_env(), &sdk).await?;
    let app = aws::aws_app_using(config, &sdk, uses);
    // Refuse to start rather than refuse every caller later.
    app.require_verifier()?;
    let app: &'static shared::App = Box::leak(Box::new(app));
    run(service_fn(move |req: Request| async move {
        let resp = shared::api::handle(app, to_plain(req)).await;
        Ok::<Response<Body>, Error>(resp.map(Body::from))
    }))
    .await
}
