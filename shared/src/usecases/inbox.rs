//! Reading and marking the inbox; shared by ws-message and the REST API.

use chrono::Utc;

use crate::app::App;
use crate::error::StoreError;
use crate::model::MarkRead;
use crate::ports::MAX_READ_PAGE;
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

/// Largest serialized reply sent over the WebSocket: API Gateway refuses a
/// message over 128 KB (413), and a refused sync would hit the same wall on
/// every reconnect.
pub const MAX_REPLY_BYTES: usize = 100 * 1024;

/// The notifications after `since`, oldest first, one page at a time, cut
/// short (with `hasMore`) where the reply would pass [`MAX_REPLY_BYTES`].
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
    let mut notifications = page.items;
    let mut has_more = page.next.is_some();
    // The envelope and counters are small; measure each item as sent.
    let envelope = 200 + since.map_or(0, str::len);
    let mut size = envelope;
    let mut fit = 0;
    for n in &notifications {
        let bytes = serde_json::to_vec(n).map(|v| v.len()).unwrap_or(usize::MAX) + 1;
        if size + bytes > MAX_REPLY_BYTES && fit > 0 {
            break;
        }
        size += bytes;
        fit += 1;
    }
    if fit < notifications.len() {
        notifications.truncate(fit);
        has_more = true;
    }
    let cursor = notifications
        .last()
        .map(|n| n.id.clone())
        .or_else(|| since.map(str::to_owned));
    Ok(ServerMessage::Sync {
        has_more,
        notifications,
        cursor,
        unread_count: unread,
    })
}

/// Marks every unread notification read, one transaction per page (the
/// page's updates and a single decrement of the counter: concurrent
/// transactions on the one counter item would cancel each other on
/// DynamoDB), then tells every device the new count once. Returns how
/// many were marked.
pub async fn mark_all_read(app: &App, user_id: &str) -> Result<u64, StoreError> {
    let mut marked = 0;
    let mut raced = 0;
    loop {
        let page = app
            .store
            .list_notifications(user_id, None, MAX_READ_PAGE, true)
            .await?;
        if page.items.is_empty() {
            break;
        }
        let ids: Vec<String> = page.items.into_iter().map(|n| n.id).collect();
        match app.store.mark_read_page(user_id, &ids, Utc::now()).await {
            Ok(n) => marked += n,
            // Another device marked one of them meanwhile: list again.
            Err(StoreError::ConditionFailed) if raced < 5 => raced += 1,
            Err(e) => return Err(e),
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
