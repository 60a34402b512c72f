//! The ws-disconnect function: `$disconnect` (best effort on API Gateway's side).

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};

use super::http::proxy;
use crate::app::App;
use crate::usecases::session::disconnect;

pub async fn handle(app: &App, req: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let Some(connection_id) = req.request_context.connection_id.as_deref() else {
        return proxy(400, None);
    };
    match disconnect(app.store.as_ref(), connection_id).await {
        Ok(_) => proxy(200, None),
        Err(e) => {
            // Rows left behind expire by TTL and are dropped on the first 410.
            tracing::error!(connection_id, error = %e, "could not remove the connection");
            proxy(500, None)
        }
    }
}
