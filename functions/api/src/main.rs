//! Lambda for the REST API (HTTP API, payload v2): inbox, preferences, admin.

use lambda_http::{Body, Error, Request, Response, run, service_fn};
use shared::adapters::aws;

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

/// The clients this function uses: the build fails if its Cargo.toml
/// leaves one out.
const USES: aws::Uses = aws::Uses {
    events_queue: true,
    push: true,
    dead_letters: true,
    tokens: true,
    // Lifting an address from SES's suppression list (PATCH /preferences).
    email: true,
    webhooks: true,
    ..aws::Uses::NONE
}
.built();

// One invocation at a time: a single-threaded runtime spends no CPU on
// waking worker threads (what Lambda bills) and starts faster.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = aws::start(USES).await?;
    run(service_fn(move |req: Request| async move {
        let resp = shared::api::handle(app, to_plain(req)).await;
        Ok::<Response<Body>, Error>(resp.map(Body::from))
    }))
    .await
}
