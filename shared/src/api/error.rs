//! API errors: `{"error":{"code","message"}}` with the right status.

use serde_json::Value;

use crate::error::{StoreError, ValidationError};
use crate::handlers::error_body;

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

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Unavailable(e.to_string())
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
