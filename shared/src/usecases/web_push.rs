//! The sender's web push: one signed, encrypted request per subscription of
//! the user, only when no tab of theirs is open.

use futures::future::join_all;

use crate::model::{Channel, DeliveryStatus};
use crate::ports::OutMessage;
use crate::push::{Options, PushPayload};
use crate::usecases::MessageError;
use crate::usecases::deliver::{Attempt, Delivered, Sender, record, record_sent};

/// Wait before a follow-up job retries the push services that asked for it.
const RETRY_DELAY_SECONDS: u32 = 5;

/// Logs why there was no push (an entry, no webhook) and says so.
async fn not_pushed(
    app: &Sender<'_>,
    attempt: Attempt<'_>,
    target: (&str, &str, Channel),
    reason: &str,
) -> Result<Delivered, MessageError> {
    let why = Some(reason.to_owned());
    record(
        app,
        attempt,
        target,
        DeliveryStatus::Skipped,
        why,
        None,
        false,
    )
    .await?;
    Ok(Delivered::NotPushed {
        reason: reason.to_owned(),
    })
}

pub async fn push(
    app: &Sender<'_>,
    attempt: Attempt<'_>,
    user_id: &str,
    payload: PushPayload,
    only: Option<Vec<String>>,
) -> Result<Delivered, MessageError> {
    let target = (user_id, payload.id.as_str(), Channel::Push);
    // The rule: a user with an open tab got it in-app; the desktop is not
    // told twice.
    if !app.devices.live(user_id).await?.is_empty() {
        return not_pushed(
            app,
            attempt,
            target,
            "an open tab of the user got it in-app",
        )
        .await;
    }
    let Some((key, subject)) = app.vapid else {
        // Subscriptions made while a key was configured, which is gone now.
        return not_pushed(
            app,
            attempt,
            target,
            "web push is not configured (VAPID_PRIVATE_KEY)",
        )
        .await;
    };
    let mut subs = app.push_subscriptions.subscriptions_of(user_id).await?;
    if let Some(only) = &only {
        subs.retain(|s| only.contains(&s.subscription.endpoint));
    }
    if subs.is_empty() {
        return not_pushed(app, attempt, target, "no push subscription").await;
    }
    let body = payload.to_bytes();
    let (ttl_seconds, urgency) = payload.options();
    let topic = payload.tag.as_deref().map(crate::push::topic_of);
    let options = Options {
        ttl_seconds,
        urgency,
        topic: topic.as_deref(),
        loopback_http: app.loopback_http,
    };
    let now = app.clock.now();
    // A request that cannot be built (a stored subscription no longer
    // valid, say) will not be built later either: refused, not retried.
    let answers = join_all(subs.iter().map(|s| {
        let body = &body;
        async move {
            match crate::push::request(key, subject, &s.subscription, body, options, now) {
                Ok(req) => Some(app.push.push(&req).await),
                Err(e) => {
                    tracing::warn!(error = %e, "web push request not built");
                    None
                }
            }
        }
    }))
    .await;
    let (mut delivered, mut gone, mut retry, mut refused) = (0, 0, Vec::new(), Vec::new());
    let mut wait = RETRY_DELAY_SECONDS;
    for (s, answer) in subs.iter().zip(answers) {
        let endpoint = &s.subscription.endpoint;
        let Some(answer) = answer else {
            refused.push("the subscription cannot be pushed to".to_owned());
            continue;
        };
        match answer {
            Ok(a) if (200..300).contains(&a.status) => delivered += 1,
            Ok(a) if a.status == 404 || a.status == 410 => {
                // The browser unsubscribed or the subscription expired. Best
                // effort: failing here must not push again to the others.
                if let Err(e) = app
                    .push_subscriptions
                    .delete_subscription(user_id, endpoint)
                    .await
                {
                    tracing::warn!(error = %e, "a gone subscription was not deleted");
                }
                gone += 1;
            }
            Ok(a) if a.status == 429 || a.status >= 500 => {
                if let Some(after) = a.retry_after {
                    wait = wait.max(after.min(900) as u32);
                }
                retry.push((
                    endpoint.clone(),
                    format!("push service answered {}", a.status),
                ));
            }
            Ok(a) => refused.push(format!("push service refused it: {}", a.status)),
            Err(e) => retry.push((endpoint.clone(), e)),
        }
    }
    let detail = format!("{delivered} device(s)");
    if !retry.is_empty() && delivered == 0 {
        // Nobody got it: the whole job (these endpoints) is retried by SQS.
        let reason = retry
            .iter()
            .map(|(_, e)| e.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        record(
            app,
            attempt,
            target,
            DeliveryStatus::Failed,
            Some(reason.clone()),
            None,
            true,
        )
        .await?;
        return Err(MessageError::Retry(format!("web push: {reason}")));
    }
    let retrying = retry.len();
    if retrying > 0 {
        // Some devices have it: retry only the others, after the wait the
        // push service asked for.
        let follow_up = crate::jobs::DeliveryJob::Push {
            user_id: user_id
                .to_owned()
                .try_into()
                .map_err(|e| MessageError::Poison(format!("{e}")))?,
            payload: payload.clone(),
            endpoints: Some(retry.into_iter().map(|(e, _)| e).collect()),
        };
        // Some devices have it: a failure here must not push to them again.
        if let Err(e) = app
            .retries
            .send(vec![OutMessage {
                body: follow_up.to_body(),
                delay_seconds: wait,
            }])
            .await
        {
            tracing::error!(error = %e, retrying, "the follow-up push job was not queued");
        }
    }
    if delivered > 0 {
        record_sent(
            app,
            attempt,
            target,
            DeliveryStatus::Delivered,
            Some(detail),
        )
        .await;
    } else if !refused.is_empty() {
        record(
            app,
            attempt,
            target,
            DeliveryStatus::Failed,
            Some(refused.join("; ")),
            None,
            false,
        )
        .await?;
    } else {
        let reason = "every subscription was gone".to_owned();
        record(
            app,
            attempt,
            target,
            DeliveryStatus::Skipped,
            Some(reason),
            None,
            false,
        )
        .await?;
    }
    Ok(Delivered::WebPushed {
        devices: delivered,
        gone,
        retrying,
    })
}
