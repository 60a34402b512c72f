//! The push port on the API Gateway WebSocket management API.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_apigatewaymanagement::config::http::HttpResponse;
use aws_sdk_apigatewaymanagement::error::{DisplayErrorContext, SdkError};
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;

use crate::error::PushError;
use crate::ports::Pusher;

pub struct ApiGatewayPusher {
    client: Option<aws_sdk_apigatewaymanagement::Client>,
}

impl ApiGatewayPusher {
    /// `endpoint` is the stage URL, `https://{api}.execute-api.{region}.amazonaws.com/{stage}`.
    pub fn new(sdk: &SdkConfig, endpoint: Option<&str>) -> Self {
        let client = endpoint.map(|url| {
            // Throttling is retried by the fan-out, jittered in milliseconds,
            // not after the SDK's default backoff of up to a second.
            let retry = aws_config::retry::RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(std::time::Duration::from_millis(10));
            let conf = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
                .endpoint_url(url.trim_end_matches('/'))
                .retry_config(retry)
                .build();
            aws_sdk_apigatewaymanagement::Client::from_conf(conf)
        });
        Self { client }
    }
}

#[async_trait]
impl Pusher for ApiGatewayPusher {
    async fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), PushError> {
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| PushError::Failed("WS_ENDPOINT is not set".into()))?;
        match client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(payload))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => Err(classify(err)),
        }
    }
}

fn classify(err: SdkError<PostToConnectionError, HttpResponse>) -> PushError {
    let status = err.raw_response().map(|r| r.status().as_u16());
    let text = DisplayErrorContext(&err).to_string();
    match err.as_service_error() {
        Some(PostToConnectionError::GoneException(_)) => return PushError::Gone,
        Some(PostToConnectionError::LimitExceededException(_)) => {
            return PushError::Throttled(text);
        }
        Some(PostToConnectionError::PayloadTooLargeException(_)) => {
            return PushError::TooLarge(text);
        }
        _ => {}
    }
    match status {
        Some(410) => PushError::Gone,
        Some(413) => PushError::TooLarge(text),
        Some(429) => PushError::Throttled(text),
        _ => PushError::Failed(text),
    }
}
