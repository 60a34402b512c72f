//! ws-connect and ws-disconnect: the connection rows of a user.

use chrono::{DateTime, Duration, Utc};

use crate::auth::{AuthError, Identity, JwtVerifier};
use crate::error::StoreError;
use crate::model::Connection;
use crate::ports::{Connections, Directory};

/// API Gateway closes every WebSocket after 2 hours; rows outlive that a little.
pub const CONNECTION_TTL: Duration = Duration::minutes(130);

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Verifies the token and, only if it is valid, stores the connection and
/// lists the user for broadcasts (the first time only: a read is cheaper
/// than a write on every connect).
pub async fn connect<S: Connections + Directory + ?Sized>(
    verifier: Option<&JwtVerifier>,
    store: &S,
    token: Option<&str>,
    connection_id: &str,
    now: DateTime<Utc>,
) -> Result<Identity, ConnectError> {
    let verifier = verifier.ok_or_else(|| AuthError::Invalid("no JWT key is configured".into()))?;
    let identity = verifier.verify(token.ok_or(AuthError::Missing)?)?;
    let connection = Connection {
        connection_id: connection_id.to_owned(),
        user_id: identity.user_id.to_string(),
        connected_at: now,
        expires_at: (now + CONNECTION_TTL).timestamp(),
    };
    let (stored, listed) = futures::join!(
        store.put_connection(&connection),
        store.is_listed(&identity.user_id)
    );
    stored?;
    if !listed? {
        store.list_user(&identity.user_id).await?;
    }
    tracing::info!(user_id = %identity.user_id, connection_id, "connected");
    Ok(identity)
}

/// Removes both rows of the connection; fine if they are gone already.
pub async fn disconnect(
    connections: &dyn Connections,
    connection_id: &str,
) -> Result<Option<String>, StoreError> {
    let owner = connections.remove_connection(connection_id).await?;
    tracing::info!(connection_id, user_id = ?owner, "disconnected");
    Ok(owner)
}
