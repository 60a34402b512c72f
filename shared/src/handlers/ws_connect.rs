//! The ws-connect function: `$connect`. The answer decides whether API Gateway
//! completes the upgrade: 200 with the echoed subprotocol, or 401 and no row.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::http::HeaderValue;

use super::http::{error_body, header, proxy};
use crate::app::App;
use crate::auth::{SUBPROTOCOL, offers_notify, token_from_subprotocols};
use crate::usecases::session::{ConnectError, connect};

pub async fn handle(app: &App, req: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let Some(connection_id) = req.request_context.connection_id.as_deref() else {
        return proxy(
            400,
            Some(&error_body(
                "bad_request",
                "no connection id in the request context",
                None,
            )),
        );
    };
    // Browsers cannot set headers on a WebSocket: the token comes in the query
    // string or as a subprotocol next to `notify`.
    let from_query = req.query_string_parameters.first("token");
    let protocols = header(&req.headers, "sec-websocket-protocol");
    let from_protocol = protocols.and_then(token_from_subprotocols);
    let token = from_query.or(from_protocol);
    match connect(
        app.verifier.as_ref(),
        app.store.as_ref(),
        token,
        connection_id,
        app.clock.now(),
    )
    .await
    {
        Ok(_) => {
            let mut r = proxy(200, None);
            // Browsers abort a handshake that does not pick one of the
            // subprotocols they offered, wherever the token came from.
            if protocols.is_some_and(offers_notify) {
                r.headers.insert(
                    "sec-websocket-protocol",
                    HeaderValue::from_static(SUBPROTOCOL),
                );
            }
            r
        }
        Err(ConnectError::Auth(e)) => {
            tracing::info!(connection_id, reason = %e, "connection refused");
            proxy(401, Some(&error_body("unauthorized", &e.to_string(), None)))
        }
        Err(ConnectError::Store(e)) => {
            tracing::error!(connection_id, error = %e, "could not store the connection");
            proxy(500, Some(&error_body("unavailable", "try again", None)))
        }
    }
}
