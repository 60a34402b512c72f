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
pub(super) fn id_param(call: &Call) -> Result<String, ApiError> {
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
        app.webhooks.as_deref(),
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
        app.webhooks.as_deref(),
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

/// The preferences as clients see them: every choice spelled out, and
/// `emailSuppressed` when no email goes to the address any more.
async fn preferences_view(call: &Call<'_>, prefs: &Preferences) -> Out {
    let mut body = serde_json::to_value(prefs.effective()).expect("preferences serialize");
    if let Some(email) = &prefs.email
        && let Some(s) = call.app.store.suppression(email).await?
    {
        body["emailSuppressed"] = json!({
            "address": email,
            "reason": s.reason,
            "at": s.at,
            "detail": s.detail,
            "lift": "PATCH /preferences with this address as `email` once the user confirms it",
        });
    }
    Ok(Reply::ok(body))
}

pub async fn get_preferences(call: &Call<'_>) -> Out {
    let prefs = call.app.store.preferences(&call.who.user_id).await?;
    preferences_view(call, &prefs).await
}

/// Updates the preferences with a JSON merge patch (RFC 7396): what the
/// patch leaves out is kept, `null` clears. An `email` in the patch is the
/// user confirming that address: its suppression, here and in SES, is lifted.
pub async fn patch_preferences(call: &Call<'_>) -> Out {
    let current = call.app.store.preferences(&call.who.user_id).await?;
    let prefs = current.merge_patch(call.body)?;
    call.app
        .store
        .put_preferences(&call.who.user_id, &prefs)
        .await?;
    let confirmed = serde_json::from_slice::<serde_json::Value>(call.body)
        .ok()
        .and_then(|v| v.get("email").and_then(|e| e.as_str()).map(str::to_owned));
    if let Some(address) = confirmed {
        lift_suppression(call, &address).await?;
    }
    preferences_view(call, &prefs).await
}

/// Lifts the suppression of `address` if it came from the caller's own
/// mail: one account naming an address that bounced or complained for
/// another cannot lift it (the sender's reputation is the whole account's).
async fn lift_suppression(call: &Call<'_>, address: &str) -> Result<(), ApiError> {
    let store = call.app.store.as_ref();
    let Some(s) = store.suppression(address).await? else {
        return Ok(());
    };
    if s.user_id.as_deref().is_some_and(|u| call.who.user_id != u) {
        tracing::warn!(user_id = %call.who.user_id, "confirmed an address suppressed for another user's mail; not lifted");
        return Ok(());
    }
    store.lift_suppression(address).await?;
    tracing::info!(user_id = %call.who.user_id, reason = ?s.reason, "suppressed address confirmed by its user; lifted");
    // SES keeps its own list (the configuration set suppresses bounces and
    // complaints too): without this the next email would bounce unsent.
    if let Err(e) = call.app.mailer.unsuppress(address).await {
        tracing::warn!(error = %e, "could not take the address off SES's suppression list");
    }
    Ok(())
}

/// Replaces the preferences; what is left out falls back to the defaults.
pub async fn put_preferences(call: &Call<'_>) -> Out {
    let prefs = Preferences::parse_update(call.body)?;
    call.app
        .store
        .put_preferences(&call.who.user_id, &prefs)
        .await?;
    preferences_view(call, &prefs).await
}

/// The delivery log of one of the caller's notifications.
pub async fn deliveries(call: &Call<'_>) -> Out {
    let id = id_param(call)?;
    delivery_log(call, &call.who.user_id, &id).await
}

/// `{"notificationId", "userId", "deliveries": [...]}`, oldest first; 404
/// when the user has neither the notification nor a log of it (a user who
/// turned in-app off has a log of email and SMS without a notification).
pub async fn delivery_log(call: &Call<'_>, user_id: &str, id: &str) -> Out {
    let store = call.app.store.as_ref();
    let log = store.deliveries(user_id, id).await?;
    if log.is_empty() && store.get_notification(user_id, id).await?.is_none() {
        return Err(not_found(id));
    }
    let deliveries: Vec<_> = log
        .iter()
        .map(|d| {
            json!({
                "channel": d.channel,
                "status": d.status,
                "at": d.at,
                "providerMessageId": d.provider_message_id,
                "reason": d.reason,
                "detail": d.detail,
            })
        })
        .collect();
    Ok(Reply::ok(json!({
        "notificationId": id,
        "userId": user_id,
        "deliveries": deliveries,
    })))
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
