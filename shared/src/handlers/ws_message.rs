//! The ws-message function: the `$default` route, every client action.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use tracing::Instrument;

use super::http::{body_bytes, proxy};
use crate::app::App;
use crate::error::PushError;
use crate::model::MarkRead;
use crate::protocol::{ClientMessage, ServerMessage, room_of};
use crate::usecases::inbox::{SyncError, mark_read, sync};

pub async fn handle(app: &App, req: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let Some(connection_id) = req.request_context.connection_id.clone() else {
        return proxy(400, None);
    };
    let span = tracing::info_span!("ws_message", connection_id = %connection_id);
    let reply = match answer(app, &connection_id, &req).instrument(span).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(connection_id, error = %e, "message failed");
            Some(ServerMessage::error(
                "unavailable",
                "the server could not handle this message; try again",
            ))
        }
    };
    if let Some(reply) = reply {
        let bytes = reply.to_bytes();
        match app.pusher.post(&connection_id, &bytes).await {
            Ok(()) => {}
            Err(PushError::TooLarge(e)) => {
                // Replies are sized under 100 KB: this is a bug, never a shrug.
                tracing::error!(connection_id, bytes = bytes.len(), error = %e, "reply refused as too large");
            }
            Err(PushError::Gone) => {
                tracing::info!(connection_id, "connection gone before the reply");
                let _ = app.store.remove_connection(&connection_id).await;
            }
            Err(e) => tracing::warn!(connection_id, error = %e, "could not answer the client"),
        }
    }
    proxy(200, None)
}

/// What to send back to the caller, if anything beyond a broadcast.
async fn answer(
    app: &App,
    connection_id: &str,
    req: &ApiGatewayWebsocketProxyRequest,
) -> Result<Option<ServerMessage>, crate::error::StoreError> {
    let Some(user_id) = app.store.connection_owner(connection_id).await? else {
        return Ok(Some(ServerMessage::error(
            "not_connected",
            "this connection is not registered; reconnect",
        )));
    };
    let body = match body_bytes(req.body.as_deref(), req.is_base64_encoded) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(msg) => return Ok(Some(ServerMessage::error("bad_request", msg))),
    };
    let message = match ClientMessage::parse(&body) {
        Ok(m) => m,
        Err(e) => return Ok(Some(ServerMessage::error(e.code, e.message))),
    };
    Ok(match message {
        ClientMessage::MarkRead { id } => match mark_read(
            app.store.as_ref(),
            app.devices(),
            app.webhooks.as_deref(),
            &user_id,
            &id,
            app.clock.now(),
        )
        .await?
        {
            // Every device, this one included, got the read-ack by broadcast.
            MarkRead::Marked { .. } => None,
            MarkRead::AlreadyRead { unread } => Some(ServerMessage::ReadAck {
                id: Some(id),
                unread_count: unread,
            }),
            MarkRead::NotFound => Some(ServerMessage::error(
                "not_found",
                format!("no notification `{id}`"),
            )),
        },
        ClientMessage::Sync { since, limit } => {
            match sync(app.store.as_ref(), &user_id, since.as_deref(), limit).await {
                Ok(m) => Some(m),
                Err(SyncError::BadCursor) => Some(ServerMessage::error(
                    "bad_cursor",
                    SyncError::BadCursor.to_string(),
                )),
                Err(SyncError::Store(e)) => return Err(e),
            }
        }
        ClientMessage::Join { room } => {
            let own = room_of(&user_id);
            match room {
                Some(r) if r != own => Some(ServerMessage::error(
                    "forbidden",
                    "a user can only join their own room",
                )),
                _ => Some(ServerMessage::Joined { room: own }),
            }
        }
        // Only reached where no `ping` route answers first (a direct invoke).
        ClientMessage::Ping => Some(ServerMessage::Pong),
    })
}
