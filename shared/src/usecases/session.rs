//! ws-connect and ws-disconnect: the connection rows of a user.

use chrono::{DateTime, Duration, Utc};

use crate::app::App;
use crate::auth::{AuthError, Identity};
use crate::error::StoreError;
use crate::model::Connection;

/// API Gateway closes every WebSocket after 2 hours; rows outlive that a little.
pub const CONNECTION_TTL: Duration = Duration::minutes(130);

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Verifies the token and, only if it is valid, stores the connection.
pub async fn connect(
    app: &App,
    token: Option<&str>,
    connection_id: &str,
    now: DateTime<Utc>,
) -> Result<Identity, ConnectError> {
    let verifier = app
        .verifier
        .as_ref()
        .ok_or_else(|| AuthError::Invalid("no JWT key is configured".into()))?;
    let identity = verifier.verify(token.ok_or(AuthError::Missing)?)?;
    app.store
        .put_connection(&Connection {
            connection_id: connection_id.to_owned(),
            user_id: identity.user_id.clone(),
            connected_at: now,
            expires_at: (now + CONNECTION_TTL).timestamp(),
        })
        .await?;
    tracing::info!(user_id = %identity.user_id, connection_id, "connected");
    Ok(identity)
}

/// Removes both rows of the connection; fine if they are gone already.
pub async fn disconnect(app: &App, connection_id: &str) -> Result<Option<String>, StoreError> {
    let owner = app.store.remove_connection(connection_id).await?;
    tracing::info!(connection_id, user_id = ?owner, "disconnected");
    Ok(owner)
}
