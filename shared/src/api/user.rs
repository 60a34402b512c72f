//! The user routes: the inbox and preferences of the caller, and nobody else's.

use base64::Engine;
use serde_json::json;

use super::{ApiError, Call, Out, Reply};
use crate::error::ValidationError;
use crate::model::MarkRead;
use crate::preferences::Preferences;
use crate::usecases::inbox;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const CURSOR_PREFIX: &str = "n1:";

/// Cursors are opaque to clients: a versioned, encoded notification id.
pub fn encode_cursor(id: &str) -> String {
    B64.encode(format!("{CURSOR_PREFIX}{id}"))
}

pub fn decode_cursor(cursor: &str) -> Result<String, ValidationError> {
    let bad = || ValidationError::new("cursor", "is not a cursor this API issued");
    let raw = B64.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let id = text.strip_prefix(CURSOR_PREFIX).ok_or_else(bad)?;
    ulid::Ulid::from_string(id).map_err(|_| bad())?;
    Ok(id.to_owned())
}

/// Notification ids are ULIDs; anything else cannot exist (404, not 400,
/// so the answer is the same as for someone else's notification).
fn id_param(call: &Call) -> Result<String, ApiError> {
    let id = &call.params[0];
    ulid::Ulid::from_string(id)
        .map_err(|_| ApiError::NotFound(format!("no notification `{id}`")))?;
    Ok(id.clone())
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no notification `{id}`"))
}

pub async fn list(call: &Call<'_>) -> Out {
    let limit = match call.query("limit") {
        None => 20,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ValidationError::new("limit", "must be a whole number from 1 to 100"))?,
    };
    let unread_only = match call.query("unread") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ValidationError::new("unread", "must be true or false").into()),
    };
    let before = call.query("cursor").map(decode_cursor).transpose()?;
    let user = &call.who.user_id;
    let inbox = call.app.store.as_ref();
    let page = inbox
        .list_notifications(user, before.as_deref(), limit, unread_only)
        .await?;
    let unread = inbox.unread_count(user).await?;
    Ok(Reply::ok(json!({
        "notifications": page.items,
        "nextCursor": page.next.as_deref().map(encode_cursor),
        "unreadCount": unread,
    })))
}

pub async fn unread_count(call: &Call<'_>) -> Out {
    let n = call.app.store.unread_count(&call.who.user_id).await?;
    Ok(Reply::ok(json!({ "unreadCount": n })))
}

pub async fn get(call: &Call<'_>) -> Out {
    let id = id_param(call)?;
    match call
        .app
        .store
        .get_notification(&call.who.user_id, &id)
        .await?
    {
        Some(n) => Ok(Reply::ok(n)),
        None => Err(not_found(&id)),
    }
}

pub async fn mark_read(call: &Call<'_>) -> Out {
    let id = id_param(call)?;
    let app = call.app;
    let outcome = inbox::mark_read(
        app.store.as_ref(),
        app.devices(),
        &call.who.user_id,
        &id,
        app.clock.now(),
    )
    .await?;
    match outcome {
        MarkRead::Marked { unread } | MarkRead::AlreadyRead { unread } => Ok(Reply::ok(
            json!({"id": id, "read": true, "unreadCount": unread}),
        )),
        MarkRead::NotFound => Err(not_found(&id)),
    }
}

pub async fn mark_all_read(call: &Call<'_>) -> Out {
    let app = call.app;
    let marked = inbox::mark_all_read(
        app.store.as_ref(),
        app.devices(),
        &call.who.user_id,
        app.clock.now(),
    )
    .await?;
    Ok(Reply::ok(json!({"marked": marked, "unreadCount": 0})))
}

pub async fn delete(call: &Call<'_>) -> Out {
    let id = id_param(call)?;
    let app = call.app;
    if inbox::delete(app.store.as_ref(), app.devices(), &call.who.user_id, &id).await? {
        Ok(Reply::no_content())
    } else {
        Err(not_found(&id))
    }
}

pub async fn get_preferences(call: &Call<'_>) -> Out {
    let prefs = call.app.store.preferences(&call.who.user_id).await?;
    Ok(Reply::ok(prefs.effective()))
}

/// Updates the preferences with a JSON merge patch (RFC 7396): what the
/// patch leaves out is kept, `null` clears.
pub async fn patch_preferences(call: &Call<'_>) -> Out {
    let current = call.app.store.preferences(&call.who.user_id).await?;
    let prefs = current.merge_patch(call.body)?;
    call.app
        .store
        .put_preferences(&call.who.user_id, &prefs)
        .await?;
    Ok(Reply::ok(prefs.effective()))
}

/// Replaces the preferences; what is left out falls back to the defaults.
pub async fn put_preferences(call: &Call<'_>) -> Out {
    let prefs = Preferences::parse_update(call.body)?;
    call.app
        .store
        .put_preferences(&call.who.user_id, &prefs)
        .await?;
    Ok(Reply::ok(prefs.effective()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let id = ulid::Ulid::new().to_string();
        assert_eq!(decode_cursor(&encode_cursor(&id)).unwrap(), id);
        for bad in [
            "",
            "!!!",
            &B64.encode("n1:nope"),
            &B64.encode(format!("n0:{id}")),
        ] {
            assert_eq!(decode_cursor(bad).unwrap_err().field, "cursor", "{bad}");
        }
    }
}
