//! Reading and marking the inbox; shared by ws-message and the REST API.

use chrono::Utc;

use crate::app::App;
use crate::error::StoreError;
use crate::model::MarkRead;
use crate::protocol::ServerMessage;
use crate::usecases::fanout::{fan_out, live_connections};

/// Marks one notification read and tells every open device of the user.
pub async fn mark_read(app: &App, user_id: &str, id: &str) -> Result<MarkRead, StoreError> {
    let outcome = if ulid::Ulid::from_string(id).is_err() {
        // Not an id we ever issued: no need to ask the store.
        MarkRead::NotFound
    } else {
        app.store.mark_read(user_id, id, Utc::now()).await?
    };
    if let MarkRead::Marked { unread } = outcome {
        broadcast(
            app,
            user_id,
            &ServerMessage::ReadAck {
                id: Some(id.to_owned()),
                unread_count: unread,
            },
        )
        .await;
    }
    Ok(outcome)
}

/// Sends a message to every open connection of a user; failures are logged,
/// gone connections removed. Best effort: the state is already stored.
pub async fn broadcast(app: &App, user_id: &str, message: &ServerMessage) {
    match live_connections(app, user_id).await {
        Ok(conns) => {
            let out = fan_out(app, &conns, &message.to_bytes()).await;
            if !out.failed.is_empty() {
                tracing::warn!(failed = ?out.failed, "broadcast did not reach every device");
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not list connections for a broadcast"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("`since` is not a cursor this server issued")]
    BadCursor,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The notifications after `since`, oldest first, one page at a time.
pub async fn sync(
    app: &App,
    user_id: &str,
    since: Option<&str>,
    limit: usize,
) -> Result<ServerMessage, SyncError> {
    if let Some(c) = since {
        ulid::Ulid::from_string(c).map_err(|_| SyncError::BadCursor)?;
    }
    let page = app.store.notifications_after(user_id, since, limit).await?;
    let unread = app.store.unread_count(user_id).await?;
    let cursor = page
        .items
        .last()
        .map(|n| n.id.clone())
        .or_else(|| since.map(str::to_owned));
    Ok(ServerMessage::Sync {
        has_more: page.next.is_some(),
        notifications: page.items,
        cursor,
        unread_count: unread,
    })
}

/// Marks every unread notification read, one exact decrement each, then
/// tells every device the new count once. Returns how many were marked.
pub async fn mark_all_read(app: &App, user_id: &str) -> Result<u64, StoreError> {
    let mut marked = 0;
    let now = Utc::now();
    loop {
        let page = app
            .store
            .list_notifications(user_id, None, 100, true)
            .await?;
        if page.items.is_empty() {
            break;
        }
        let results = futures::future::join_all(
            page.items
                .iter()
                .map(|n| app.store.mark_read(user_id, &n.id, now)),
        )
        .await;
        for r in results {
            if let MarkRead::Marked { .. } = r? {
                marked += 1;
            }
        }
    }
    let unread = app.store.unread_count(user_id).await?;
    broadcast(
        app,
        user_id,
        &ServerMessage::ReadAck {
            id: None,
            unread_count: unread,
        },
    )
    .await;
    Ok(marked)
}

/// Deletes one notification and tells every device; false if there was none.
pub async fn delete(app: &App, user_id: &str, id: &str) -> Result<bool, StoreError> {
    if ulid::Ulid::from_string(id).is_err() || !app.store.delete_notification(user_id, id).await? {
        return Ok(false);
    }
    let unread = app.store.unread_count(user_id).await?;
    broadcast(
        app,
        user_id,
        &ServerMessage::Deleted {
            id: id.to_owned(),
            unread_count: unread,
        },
    )
    .await;
    Ok(true)
}
