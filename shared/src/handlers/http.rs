//! Small helpers for API Gateway responses.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use base64::Engine;
use serde_json::{Value, json};

/// `{"error":{"code","message"}}`, plus `field` when one input is at fault.
pub fn error_body(code: &str, message: &str, field: Option<&str>) -> Value {
    let mut err = json!({"code": code, "message": message});
    if let Some(f) = field {
        err["field"] = Value::from(f);
    }
    json!({ "error": err })
}

fn json_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h
}

pub fn v2_json(status: i64, body: &Value) -> ApiGatewayV2httpResponse {
    let mut r = ApiGatewayV2httpResponse::default();
    r.status_code = status;
    r.headers = json_headers();
    r.body = Some(Body::Text(body.to_string()));
    r
}

pub fn proxy(status: i64, body: Option<&Value>) -> ApiGatewayProxyResponse {
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = status;
    if let Some(b) = body {
        r.headers = json_headers();
        r.body = Some(Body::Text(b.to_string()));
    }
    r
}

/// A header's value, if present and valid text. Header names are case-insensitive.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The request body as bytes, decoding base64 when API Gateway encoded it.
pub fn body_bytes(body: Option<&str>, base64_encoded: bool) -> Result<Vec<u8>, String> {
    let body = body.unwrap_or_default();
    if base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("body is not valid base64: {e}"))
    } else {
        Ok(body.as_bytes().to_vec())
    }
}
