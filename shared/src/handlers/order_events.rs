//! The order-events function: `POST /events` from a shop backend (HTTP API, payload v2).

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::http::Method;
use serde_json::json;

use super::http::{body_bytes, error_body, header, v2_json};
use crate::app::App;
use crate::event::MAX_EVENT_BYTES;
use crate::usecases::ingest::{IngestError, accept_event, check_api_key};

pub async fn handle(app: &App, req: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let method = &req.request_context.http.method;
    if method != Method::POST {
        return v2_json(
            405,
            &error_body("method_not_allowed", "use POST /events", None),
        );
    }
    if let Err(e) = check_api_key(
        app.config.events_api_key.as_deref(),
        header(&req.headers, "x-api-key"),
    ) {
        return match e {
            IngestError::NotConfigured => {
                tracing::error!("EVENTS_API_KEY is not set: refusing every event");
                v2_json(
                    500,
                    &error_body(
                        "not_configured",
                        "the events endpoint has no API key configured",
                        None,
                    ),
                )
            }
            _ => v2_json(
                401,
                &error_body("unauthorized", "missing or wrong x-api-key header", None),
            ),
        };
    }
    let body = match body_bytes(req.body.as_deref(), req.is_base64_encoded) {
        Ok(b) => b,
        Err(msg) => return v2_json(400, &error_body("invalid_body", &msg, Some("body"))),
    };
    if body.len() > MAX_EVENT_BYTES {
        return v2_json(
            413,
            &error_body(
                "payload_too_large",
                &format!(
                    "event is {} bytes; the limit is {MAX_EVENT_BYTES}",
                    body.len()
                ),
                Some("body"),
            ),
        );
    }
    match accept_event(app.events.as_ref(), &body).await {
        Ok(event) => v2_json(202, &json!({"id": event.id, "status": "accepted"})),
        Err(IngestError::Invalid(v)) => v2_json(
            400,
            &error_body("invalid_event", &v.to_string(), Some(&v.field)),
        ),
        Err(e) => {
            tracing::error!(error = %e, "could not enqueue an event");
            v2_json(
                503,
                &error_body(
                    "unavailable",
                    "the event could not be queued; retry with the same id",
                    None,
                ),
            )
        }
    }
}
