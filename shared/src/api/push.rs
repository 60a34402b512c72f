//! The web push routes: the VAPID key browsers subscribe with, and each
//! user's subscriptions.

use serde_json::json;

use super::{ApiError, Call, Out, Reply};
use crate::error::ValidationError;
use crate::push::Subscription;

const MAX_SUBSCRIPTION_BYTES: usize = 4096;

/// No token: the browser needs it before it subscribes.
pub async fn vapid_public_key(call: &Call<'_>) -> Out {
    let key = call.app.vapid.as_ref().ok_or_else(|| {
        ApiError::Unavailable("web push is not configured (VAPID_PRIVATE_KEY)".into())
    })?;
    Ok(Reply::ok(json!({ "publicKey": key.public_key() })))
}

/// Stores `PushSubscription.toJSON()`; the same endpoint again updates it.
pub async fn subscribe(call: &Call<'_>) -> Out {
    if call.app.vapid.is_none() {
        return Err(ApiError::Unavailable(
            "web push is not configured (VAPID_PRIVATE_KEY)".into(),
        ));
    }
    // A subscription is a few hundred bytes; far more is not one.
    if call.body.len() > MAX_SUBSCRIPTION_BYTES {
        return Err(ValidationError::new(
            "body",
            format!("is larger than {MAX_SUBSCRIPTION_BYTES} bytes"),
        )
        .into());
    }
    let sub = Subscription::parse(call.body, call.app.config.loopback_http_links)?;
    call.app
        .store
        .put_subscription(&call.who.user_id, &sub, call.app.clock.now())
        .await?;
    Ok(Reply::created(json!({ "endpoint": sub.endpoint })))
}

/// `{"endpoint"}`: forgets that subscription (the browser unsubscribed, or
/// the user signed out).
pub async fn unsubscribe(call: &Call<'_>) -> Out {
    #[derive(serde::Deserialize)]
    struct Body {
        endpoint: String,
    }
    let body: Body = serde_json::from_slice(call.body)
        .map_err(|e| ValidationError::new("endpoint", e.to_string()))?;
    call.app
        .store
        .delete_subscription(&call.who.user_id, &body.endpoint)
        .await?;
    Ok(Reply::no_content())
}
