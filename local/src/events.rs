//! Turning what arrives on a socket into the events API Gateway sends, so
//! the handlers cannot tell the local stack from AWS.

use std::collections::HashMap;
use std::net::SocketAddr;

use chrono::Utc;
use shared::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayWebsocketProxyRequest};
use shared::aws_lambda_events::http::{HeaderMap, Method};
use shared::aws_lambda_events::query_map::QueryMap;

pub const STAGE: &str = "local";
pub const API_ID: &str = "local";

fn query_map(query: Option<&str>) -> QueryMap {
    let pairs: HashMap<String, String> = query
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect()
        })
        .unwrap_or_default();
    pairs.into()
}

fn decode(s: &str) -> String {
    shared::api::percent_decode(&s.replace('+', " "))
}

/// What every WebSocket route event of one connection shares.
pub struct WsContext<'a> {
    pub connection_id: &'a str,
    pub connected_at_ms: i64,
    pub domain: &'a str,
    pub source_ip: String,
}

/// A `$connect`, `$default` or `$disconnect` event.
pub fn ws_event(
    ctx: &WsContext,
    route: &str,
    headers: Option<&HeaderMap>,
    query: Option<&str>,
    body: Option<String>,
) -> ApiGatewayWebsocketProxyRequest {
    let now = Utc::now();
    let mut req = ApiGatewayWebsocketProxyRequest::default();
    if let Some(h) = headers {
        req.headers = h.clone();
        req.multi_value_headers = h.clone();
    }
    if route == "$connect" {
        req.query_string_parameters = query_map(query);
        req.multi_value_query_string_parameters = req.query_string_parameters.clone();
    }
    req.body = body;
    req.is_base64_encoded = false;
    let rc = &mut req.request_context;
    rc.route_key = Some(route.to_owned());
    rc.event_type = Some(
        match route {
            "$connect" => "CONNECT",
            "$disconnect" => "DISCONNECT",
            _ => "MESSAGE",
        }
        .to_owned(),
    );
    rc.connection_id = Some(ctx.connection_id.to_owned());
    rc.connected_at = ctx.connected_at_ms;
    rc.domain_name = Some(ctx.domain.to_owned());
    rc.stage = Some(STAGE.to_owned());
    rc.apiid = Some(API_ID.to_owned());
    rc.message_direction = Some("IN".to_owned());
    rc.request_id = Some(shared::ids::new_id());
    rc.extended_request_id = rc.request_id.clone();
    rc.request_time_epoch = now.timestamp_millis();
    rc.request_time = Some(now.format("%d/%b/%Y:%H:%M:%S %z").to_string());
    rc.identity.source_ip = Some(ctx.source_ip.clone());
    if route != "$connect" && route != "$disconnect" {
        rc.message_id = Some(shared::ids::new_id());
    }
    req
}

/// An HTTP API (payload v2) event for the order-events function.
pub fn http_event(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Vec<u8>,
    peer: SocketAddr,
) -> ApiGatewayV2httpRequest {
    let mut req = ApiGatewayV2httpRequest::default();
    req.version = Some("2.0".into());
    req.route_key = Some(format!("{method} {path}"));
    req.raw_path = Some(path.to_owned());
    req.raw_query_string = query.map(str::to_owned);
    req.headers = headers.clone();
    req.query_string_parameters = query_map(query);
    match String::from_utf8(body) {
        Ok(text) => req.body = Some(text),
        Err(e) => {
            use base64::Engine;
            req.body = Some(base64::engine::general_purpose::STANDARD.encode(e.into_bytes()));
            req.is_base64_encoded = true;
        }
    }
    let rc = &mut req.request_context;
    rc.http.method = method.clone();
    rc.http.path = Some(path.to_owned());
    rc.http.protocol = Some("HTTP/1.1".into());
    rc.http.source_ip = Some(peer.ip().to_string());
    rc.http.user_agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    rc.route_key = req.route_key.clone();
    rc.stage = Some("$default".into());
    rc.apiid = Some(API_ID.into());
    rc.request_id = Some(shared::ids::new_id());
    rc.time_epoch = Utc::now().timestamp_millis();
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_events_carry_the_query_and_context() {
        let ctx = WsContext {
            connection_id: "abc=",
            connected_at_ms: 5,
            domain: "127.0.0.1:3001",
            source_ip: "127.0.0.1".into(),
        };
        let e = ws_event(&ctx, "$connect", None, Some("token=a.b%2Bc&x=1"), None);
        assert_eq!(e.query_string_parameters.first("token"), Some("a.b+c"));
        assert_eq!(e.request_context.event_type.as_deref(), Some("CONNECT"));
        assert_eq!(e.request_context.connection_id.as_deref(), Some("abc="));
        let m = ws_event(&ctx, "$default", None, Some("token=zzz"), Some("{}".into()));
        assert!(
            m.query_string_parameters.first("token").is_none(),
            "only $connect carries the query"
        );
        assert_eq!(m.request_context.event_type.as_deref(), Some("MESSAGE"));
    }
}
