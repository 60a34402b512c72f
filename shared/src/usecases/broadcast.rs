//! Broadcasts: one admin send to every known user, at the speed API
//! Gateway's account throttle allows.
//!
//! The send queues one page per directory shard on the broadcast queue, so
//! the shards are read and notified in parallel; each page (up to
//! [`BROADCAST_PAGE_SIZE`] users) queues the next page of its shard. Every
//! user's copy carries the broadcast's own notification id (the ULID of the
//! send), so storing it is its own idempotency check: no claim item, two
//! items in one transaction (4 write units). The push goes from here
//! straight to the user's devices, not through the deliveries queue, which
//! stays free for order events.

use chrono::{DateTime, Utc};
use futures::StreamExt;

use crate::adapters::keys::delivery_counter;
use crate::event::BusinessEvent;
use crate::ids::NotificationId;
use crate::jobs::DeliveryJob;
use crate::model::{Channel, DeliveryStatus, EventClaim};
use crate::ports::{NewNotification, OutMessage, Recorded};
use crate::protocol::ServerMessage;
use crate::quotas::BROADCAST_PAGE_SIZE;
use crate::usecases::MessageError;
use crate::usecases::admin::{BroadcastPage, event_for};
use crate::usecases::process::{
    Outside, Worker, in_app_notification, outside_jobs, process, take_over_if_stalled,
};

/// Users of one page handled at once.
const PAGE_CONCURRENCY: usize = 64;
/// No user of a page is started after this: the worker's timeout is 30 s
/// and a broadcast push may try for 14 s, so a user started in time is
/// pushed before Lambda stops the page (a stop between a user's store and
/// push would leave the copy unpushed: in the inbox, not on the screen).
/// The rest go on as a page of their own.
const PAGE_TIME_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);
/// Users that failed come back this many times, after a pause, before the
/// page goes the SQS way (retries, then the dead-letter queue).
const LEFTOVER_ATTEMPTS: u32 = 5;
const LEFTOVER_DELAY_SECONDS: u32 = 2;

/// What happened to one user of a page.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Stored and pushed to this many devices.
    Notified(usize),
    /// Already had it (a page seen twice): nothing done.
    AlreadyNotified,
    /// In-app off: went the order-event way (claimed, jobs queued).
    Queued,
    /// Not started: the page's time was up.
    Deferred,
}

/// The notification id every copy of a send shares, and when it was made.
fn broadcast_id(send_id: &str) -> Result<(NotificationId, DateTime<Utc>), MessageError> {
    let ulid = send_id
        .strip_prefix("adm_")
        .and_then(|u| ulid::Ulid::from_string(u).ok())
        .ok_or_else(|| MessageError::Poison(format!("`{send_id}` is not a broadcast id")))?;
    let at: DateTime<Utc> = ulid.datetime().into();
    let id = NotificationId::try_from(ulid.to_string())
        .map_err(|e| MessageError::Poison(e.to_string()))?;
    Ok((id, at))
}

/// One page: its users notified, then the next page of its shard queued
/// (once, whatever the number of times this page is processed). A page can
/// also be a list of users left over by an earlier run of it: those that
/// failed, or were not started within the time budget.
pub async fn process_page(w: &Worker<'_>, page: BroadcastPage) -> Result<usize, MessageError> {
    let (id, at) = broadcast_id(&page.send_id)?;
    let (users, next) = match &page.users {
        Some(users) => (users.clone(), None),
        None => {
            w.directory
                .users_in_shard(
                    page.shard,
                    page.cursor.as_deref(),
                    w.broadcast_page_size.clamp(1, BROADCAST_PAGE_SIZE),
                )
                .await?
        }
    };
    let deadline = tokio::time::Instant::now() + PAGE_TIME_BUDGET;
    let (page_ref, id_ref) = (&page, &id);
    let outcomes: Vec<(String, Result<Outcome, MessageError>)> =
        futures::stream::iter(users.clone())
            .map(|user| async move {
                if tokio::time::Instant::now() > deadline {
                    return (user, Ok(Outcome::Deferred));
                }
                let outcome = notify(w, page_ref, &user, id_ref, at).await;
                (user, outcome)
            })
            .buffer_unordered(PAGE_CONCURRENCY)
            .collect()
            .await;
    let devices: usize = outcomes
        .iter()
        .map(|(_, o)| match o {
            Ok(Outcome::Notified(d)) => *d,
            _ => 0,
        })
        .sum();
    let mut first_error = None;
    let mut failed = Vec::new();
    let mut deferred = Vec::new();
    for (user, o) in outcomes {
        match o {
            Ok(Outcome::Deferred) => deferred.push(user),
            Ok(_) => {}
            Err(e) => {
                first_error.get_or_insert(e.to_string());
                failed.push(user);
            }
        }
    }
    tracing::info!(send_id = %page.send_id, shard = page.shard, page = page.page, users = users.len(), devices, failed = failed.len(), deferred = deferred.len(), "broadcast page done");
    // Every user of the page is now notified or in a leftover message, so
    // a second run of this page never has to reach past where the next begins.
    if failed.is_empty() && deferred.is_empty() {
        if let Some(cursor) = next {
            queue_next(w, &page, cursor).await?;
        }
        return Ok(users.len());
    }
    if page.attempt >= LEFTOVER_ATTEMPTS {
        // Let SQS retry it, then keep it in the dead-letter queue for redrive.
        return Err(MessageError::Retry(format!(
            "{} of {} users still failing after {} tries, e.g. {}",
            failed.len(),
            users.len(),
            page.attempt,
            first_error.unwrap_or_default()
        )));
    }
    // Only the leftovers come again (the failed ones after a pause); a user
    // reached already is skipped by the stored copy if one comes twice.
    let leftover = |users: Vec<String>, attempt: u32, delay: u32| OutMessage {
        body: BroadcastPage {
            users: Some(users),
            attempt,
            ..page.clone()
        }
        .to_body(),
        delay_seconds: delay,
    };
    let mut messages = Vec::new();
    if !deferred.is_empty() {
        messages.push(leftover(deferred, page.attempt, 0));
    }
    if !failed.is_empty() {
        tracing::warn!(
            failed = failed.len(),
            error = first_error.as_deref().unwrap_or_default(),
            "broadcast users failed; retrying them"
        );
        messages.push(leftover(failed, page.attempt + 1, LEFTOVER_DELAY_SECONDS));
    }
    w.broadcasts.send(messages).await?;
    if let Some(cursor) = next {
        queue_next(w, &page, cursor).await?;
    }
    Ok(users.len())
}

/// Queues the next page of the shard, once: a page claim (by send, shard
/// and page) keeps the chain single when a page is processed twice, also at
/// the same time. Only the run that stored the claim sends; a claim left
/// unsent by a run that died is taken over after the lease, as events' are.
async fn queue_next(
    w: &Worker<'_>,
    page: &BroadcastPage,
    cursor: String,
) -> Result<(), MessageError> {
    let next = BroadcastPage {
        cursor: Some(cursor),
        page: page.page + 1,
        ..page.clone()
    };
    let now = w.clock.now();
    let claim = EventClaim {
        event_id: format!("{}:page:{}:{}", page.send_id, page.shard, next.page),
        user_id: String::new(),
        notification_id: NotificationId::new(),
        created_at: now,
        claimed_at: now,
        dispatched: false,
    };
    let recorded = w
        .claims
        .record_notification(&NewNotification {
            claim: claim.clone(),
            kind: page.content.kind,
            notification: None,
        })
        .await?;
    if let Recorded::Duplicate(existing) = recorded
        && !take_over_if_stalled(w.claims, &existing, now, "broadcast page").await?
    {
        return Ok(());
    }
    w.broadcasts
        .send(vec![OutMessage::now(next.to_body())])
        .await?;
    w.claims.mark_dispatched(&claim.event_id).await?;
    Ok(())
}

async fn notify(
    w: &Worker<'_>,
    page: &BroadcastPage,
    user: &str,
    id: &NotificationId,
    at: DateTime<Utc>,
) -> Result<Outcome, MessageError> {
    let event = BusinessEvent::parse(event_for(&page.send_id, &page.content, user).as_bytes())
        .map_err(|e| MessageError::Poison(e.to_string()))?;
    let prefs = w.prefs.preferences(user).await?;
    let category = event.kind.category();
    if !prefs.enabled(category, Channel::InApp) {
        // Nothing to key the idempotency on but a claim: the event's way.
        process(w, &event, w.clock.now(), true).await?;
        return Ok(Outcome::Queued);
    }
    let templates = w.templates.get(w.template_store).await?;
    let notification =
        in_app_notification(&templates, &event, id.clone(), at, w.loopback_http_links)?;
    // Email and SMS, if this user wants them for this category: rendered
    // before the store (nothing may fail between the store and the push),
    // queued once, right after the store that makes a second pass skip this user.
    let jobs: Vec<DeliveryJob> = outside_jobs(&templates, &event, &prefs, id)?
        .into_iter()
        .filter_map(|o| match o {
            Outside::Job(_, job) => Some(*job),
            Outside::NoAddress(..) => None,
        })
        .collect();
    if !w.claims.record_broadcast(user, &notification).await? {
        return Ok(Outcome::AlreadyNotified);
    }
    let devices = push(w, &event.user_id, notification).await;
    if !jobs.is_empty()
        && let Err(e) = w
            .deliveries
            .send(jobs.iter().map(|j| OutMessage::now(j.to_body())).collect())
            .await
    {
        tracing::error!(user_id = user, error = %e, "broadcast email/SMS not queued; the in-app copy is stored");
    }
    Ok(Outcome::Notified(devices))
}

/// Pushes to the user's open devices; those that failed (after the
/// throttling retries) get a follow-up job on the deliveries queue. Counted
/// in the statistics, not logged per user.
async fn push(
    w: &Worker<'_>,
    user_id: &crate::ids::UserId,
    notification: crate::model::Notification,
) -> usize {
    let user: &str = user_id;
    let now = w.clock.now();
    let connections = match w.devices.live(user).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(user_id = user, error = %e, "could not list connections; the inbox has the broadcast");
            return 0;
        }
    };
    if connections.is_empty() {
        w.stats.count(
            now,
            &delivery_counter(Channel::InApp, DeliveryStatus::Skipped.as_str()),
        );
        return 0;
    }
    let payload = ServerMessage::New(notification.clone()).to_bytes();
    let out = w
        .devices
        .fan_out_paced(&connections, &payload, crate::usecases::fanout::BULK)
        .await;
    let status = if out.delivered.is_empty() {
        DeliveryStatus::Failed
    } else {
        DeliveryStatus::Delivered
    };
    w.stats
        .count(now, &delivery_counter(Channel::InApp, status.as_str()));
    if !out.failed.is_empty() {
        let job = DeliveryJob::WebSocket {
            user_id: user_id.clone(),
            notification,
            connection_ids: Some(out.failed.iter().map(|(id, _)| id.clone()).collect()),
        };
        if let Err(e) = w
            .deliveries
            .send(vec![OutMessage {
                body: job.to_body(),
                delay_seconds: 2,
            }])
            .await
        {
            tracing::error!(user_id = user, error = %e, "could not queue the retry of failed pushes");
        }
    }
    out.delivered.len()
}
