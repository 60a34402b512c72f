//! Reading and marking the inbox; shared by ws-message and the REST API.

use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::model::MarkRead;
use crate::ports::{Inbox, MAX_READ_PAGE, Queue};
use crate::protocol::ServerMessage;
use crate::usecases::fanout::Devices;

/// Marks one notification read and tells every open device of the user,
/// and the shop (`notification.read`) when it has a webhook endpoint.
pub async fn mark_read(
    inbox: &dyn Inbox,
    devices: Devices<'_>,
    webhooks: Option<&dyn Queue>,
    user_id: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Result<MarkRead, StoreError> {
    let outcome = if ulid::Ulid::from_string(id).is_err() {
        // Not an id we ever issued: no need to ask the store.
        MarkRead::NotFound
    } else {
        inbox.mark_read(user_id, id, now).await?
    };
    if let MarkRead::Marked { unread } = outcome {
        // The user's read stands whatever the shop's queue says.
        crate::usecases::webhooks::emit_or_log(
            webhooks,
            vec![crate::webhook::WebhookMessage::read(user_id, id, now)],
        )
        .await;
        devices
            .broadcast(
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
    inbox: &dyn Inbox,
    user_id: &str,
    since: Option<&str>,
    limit: usize,
) -> Result<ServerMessage, SyncError> {
    if let Some(c) = since {
        ulid::Ulid::from_string(c).map_err(|_| SyncError::BadCursor)?;
    }
    let page = inbox.notifications_after(user_id, since, limit).await?;
    let unread = inbox.unread_count(user_id).await?;
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
        .map(|n| n.id.to_string())
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
pub async fn mark_all_read(
    inbox: &dyn Inbox,
    devices: Devices<'_>,
    webhooks: Option<&dyn Queue>,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut marked = 0;
    let mut raced = 0;
    loop {
        let page = inbox
            .list_notifications(user_id, None, MAX_READ_PAGE, true)
            .await?;
        if page.items.is_empty() {
            break;
        }
        let ids: Vec<String> = page.items.into_iter().map(|n| n.id.into()).collect();
        match inbox.mark_read_page(user_id, &ids, now).await {
            Ok(n) => {
                marked += n;
                let read = ids
                    .iter()
                    .map(|id| crate::webhook::WebhookMessage::read(user_id, id, now))
                    .collect();
                crate::usecases::webhooks::emit_or_log(webhooks, read).await;
            }
            // Another device marked one of them meanwhile: list again.
            Err(StoreError::ConditionFailed) if raced < 5 => raced += 1,
            Err(e) => return Err(e),
        }
    }
    let unread = inbox.unread_count(user_id).await?;
    devices
        .broadcast(
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
pub async fn delete(
    inbox: &dyn Inbox,
    devices: Devices<'_>,
    user_id: &str,
    id: &str,
) -> Result<bool, StoreError> {
    if ulid::Ulid::from_string(id).is_err() || !inbox.delete_notification(user_id, id).await? {
        return Ok(false);
    }
    let unread = inbox.unread_count(user_id).await?;
    devices
        .broadcast(
            user_id,
            &ServerMessage::Deleted {
                id: id.to_owned(),
                unread_count: unread,
            },
        )
        .await;
    Ok(true)
}
