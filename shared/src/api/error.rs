//! API errors: `{"error":{"code","message"}}` with the right status.

use serde_json::Value;

use crate::error::{QueueError, StoreError, ValidationError};
use crate::handlers::error_body;
use crate::usecases::templates::TemplateError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("{0}")]
    Unauthorized(String),
    #[error("this route needs the admin role")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    #[error("body is {0} bytes; the limit is {max}", max = super::MAX_BODY_BYTES)]
    PayloadTooLarge(usize),
    #[error("{0}")]
    Unavailable(String),
}

// Every use case error maps to a status here, and only here.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl From<TemplateError> for ApiError {
    fn from(e: TemplateError) -> Self {
        match e {
            TemplateError::Invalid(v) => ApiError::Invalid(v),
            TemplateError::NotFound(m) => ApiError::NotFound(m),
            TemplateError::Store(s) => s.into(),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Invalid(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::Unavailable(_) => 503,
        }
    }

    pub fn body(&self) -> Option<Value> {
        let (code, field) = match self {
            ApiError::Invalid(v) => ("invalid_request", Some(v.field.as_str())),
            ApiError::Unauthorized(_) => ("unauthorized", None),
            ApiError::Forbidden => ("forbidden", None),
            ApiError::NotFound(_) => ("not_found", None),
            ApiError::MethodNotAllowed => ("method_not_allowed", None),
            ApiError::PayloadTooLarge(_) => ("payload_too_large", Some("body")),
            // Details of an outage stay in the logs.
            ApiError::Unavailable(_) => {
                return Some(error_body(
                    "unavailable",
                    "the service is unavailable; try again",
                    None,
                ));
            }
        };
        Some(error_body(code, &self.to_string(), field))
    }
}
