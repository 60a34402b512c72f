//! worker: one business event becomes a stored notification and its delivery jobs.

use chrono::{DateTime, Duration, Utc};
use tracing::Instrument;

use crate::event::BusinessEvent;
use crate::jobs::{DeliveryJob, EventsMessage};
use crate::model::{Channel, DeliveryRecord, DeliveryStatus, EventClaim, Notification};
use crate::ports::{
    Claims, Clock, Deliveries, Directory, PreferenceStore, Queue, Statistics, TemplateStore,
};
use crate::ports::{NewNotification, OutMessage, Recorded};
use crate::template::Templates;
use crate::usecases::MessageError;
use crate::usecases::catalog::TemplateCache;
use crate::usecases::fanout::Devices;

/// A claim older than this whose jobs were never queued belongs to an
/// invocation that died; another may take it over. Longer than the worker's timeout.
pub const CLAIM_LEASE: Duration = Duration::seconds(90);

#[derive(Debug, PartialEq, Eq)]
pub enum Processed {
    /// Stored (if in-app is on) and these channels queued for delivery.
    Created {
        notification_id: String,
        channels: Vec<Channel>,
    },
    /// Seen before and fully handled: nothing done.
    Duplicate,
    /// One page of a broadcast fanned out to this many users.
    BroadcastPage { users: usize },
}

/// What the worker uses: the user's preferences, the templates, the claim
/// and the notification, the delivery log, and the queues it feeds.
#[derive(Clone, Copy)]
pub struct Worker<'a> {
    pub prefs: &'a dyn PreferenceStore,
    pub templates: &'a TemplateCache,
    pub template_store: &'a dyn TemplateStore,
    pub claims: &'a dyn Claims,
    pub log: &'a dyn Deliveries,
    pub directory: &'a dyn Directory,
    /// Delivery jobs go here.
    pub deliveries: &'a dyn Queue,
    /// Broadcast pages go through here.
    pub broadcasts: &'a dyn Queue,
    pub stats: &'a dyn Statistics,
    /// Where the shop's webhooks are queued, when it has an endpoint.
    pub webhooks: Option<&'a dyn Queue>,
    /// Whether the user has web push subscriptions (only then a push job).
    pub push_subscriptions: &'a dyn crate::ports::PushSubscriptions,
    /// Broadcasts are pushed from the worker itself, not through the deliveries queue.
    pub devices: Devices<'a>,
    pub clock: &'a dyn Clock,
    /// Users per broadcast page (at most [`crate::quotas::BROADCAST_PAGE_SIZE`]).
    pub broadcast_page_size: usize,
    pub loopback_http_links: bool,
}

pub async fn process_event(app: &Worker<'_>, body: &str) -> Result<Processed, MessageError> {
    let event = match EventsMessage::parse(body)? {
        EventsMessage::Event(e) => e,
        EventsMessage::BroadcastPage(page) => {
            let users = crate::usecases::broadcast::process_page(app, page).await?;
            return Ok(Processed::BroadcastPage { users });
        }
    };
    let span = tracing::info_span!("event", event_id = %event.id, kind = event.kind.as_str(), user_id = %event.user_id);
    process(app, &event, app.clock.now(), false)
        .instrument(span)
        .await
}

/// What to do with a claim found taken: false when its holder finished
/// (nothing left to do); a retry while the holder may still be at work
/// (claimed less than [`CLAIM_LEASE`] ago); true once this invocation took
/// over a claim whose holder died before dispatching.
pub(crate) async fn take_over_if_stalled(
    claims: &dyn Claims,
    existing: &EventClaim,
    now: DateTime<Utc>,
    what: &str,
) -> Result<bool, MessageError> {
    if existing.dispatched {
        return Ok(false);
    }
    if now - existing.claimed_at < CLAIM_LEASE {
        return Err(MessageError::Retry(format!(
            "{what} is being dispatched by another invocation"
        )));
    }
    if !claims.take_over_claim(existing, now).await? {
        return Err(MessageError::Retry(format!(
            "lost the race to take over a stalled {what}"
        )));
    }
    tracing::warn!("taking over a {what} whose dispatch stalled");
    Ok(true)
}

/// An email or SMS the user wants for an event: its job, or why it cannot go.
pub(crate) enum Outside {
    Job(Channel, Box<DeliveryJob>),
    NoAddress(Channel, &'static str),
}

/// The email and SMS jobs of `event` for a user with `prefs`, rendered.
/// Each needs an address: from the event, else the user's own.
pub(crate) fn outside_jobs(
    templates: &Templates,
    event: &BusinessEvent,
    prefs: &crate::preferences::Preferences,
    notification_id: &crate::ids::NotificationId,
) -> Result<Vec<Outside>, MessageError> {
    let outside = [
        (
            Channel::Email,
            event.recipient_email().or(prefs.email.as_deref()),
            "no email address in the event or the user's preferences",
        ),
        (
            Channel::Sms,
            event.recipient_phone().or(prefs.phone.as_deref()),
            "no phone number in the event or the user's preferences",
        ),
    ];
    let poison = |e: crate::template::RenderError| MessageError::Poison(e.to_string());
    let mut out = Vec::new();
    for (channel, address, missing) in outside {
        if !prefs.enabled(event.kind.category(), channel) {
            continue;
        }
        let Some(to) = address.map(str::to_owned) else {
            out.push(Outside::NoAddress(channel, missing));
            continue;
        };
        let (user_id, notification_id) = (event.user_id.clone(), notification_id.clone());
        let job = match channel {
            Channel::Sms => DeliveryJob::Sms {
                user_id,
                notification_id,
                to,
                text: templates.render_sms(event).map_err(poison)?,
            },
            _ => DeliveryJob::Email {
                user_id,
                notification_id,
                to,
                content: templates.render_email(event).map_err(poison)?,
            },
        };
        out.push(Outside::Job(channel, Box::new(job)));
    }
    Ok(out)
}

/// The in-app notification of `event`, rendered; its action URL checked.
pub(crate) fn in_app_notification(
    templates: &Templates,
    event: &BusinessEvent,
    id: crate::ids::NotificationId,
    created_at: DateTime<Utc>,
    loopback_http_links: bool,
) -> Result<Notification, MessageError> {
    let r = templates
        .render_in_app(event)
        .map_err(|e| MessageError::Poison(e.to_string()))?;
    // A template can render an event's data into the link: check the
    // result too, not only what admins save.
    let action_url = r.action_url.filter(|url| {
        let ok = crate::links::check_action_url("actionUrl", url, loopback_http_links);
        if let Err(e) = &ok {
            tracing::warn!(reason = %e, "rendered action URL dropped");
        }
        ok.is_ok()
    });
    Ok(Notification {
        id,
        kind: event.kind,
        title: r.title,
        message: r.message,
        priority: r.priority,
        action_url,
        action_text: r.action_text,
        created_at,
        read: false,
        read_at: None,
        event_id: event.id.to_string(),
        data: event.notification_data(),
        expires_at: None,
    })
}

/// One event for one user: claimed, stored, its delivery jobs queued.
/// `listed`: the user is known to be in the directory (a broadcast's).
pub(crate) async fn process(
    app: &Worker<'_>,
    event: &BusinessEvent,
    now: DateTime<Utc>,
    listed: bool,
) -> Result<Processed, MessageError> {
    // The preferences and (DynamoDB: in the same read) whether the user
    // has a web push subscription.
    let ((prefs, has_push), listed) = if listed {
        (app.prefs.preferences_and_push(&event.user_id).await?, true)
    } else {
        let (prefs, listed) = futures::join!(
            app.prefs.preferences_and_push(&event.user_id),
            app.directory.is_listed(&event.user_id)
        );
        (prefs?, listed?)
    };
    if !listed {
        // Once per user, outside the notification's transaction.
        app.directory.list_user(&event.user_id).await?;
    }
    let category = event.kind.category();
    let in_app = prefs.enabled(category, Channel::InApp);
    let templates = app.templates.get(app.template_store).await?;

    let mut claim = EventClaim {
        event_id: event.id.to_string(),
        user_id: event.user_id.to_string(),
        notification_id: crate::ids::NotificationId::new(),
        created_at: now,
        claimed_at: now,
        dispatched: false,
    };
    let render = |claim: &EventClaim| -> Result<Option<Notification>, MessageError> {
        if !in_app {
            return Ok(None);
        }
        in_app_notification(
            &templates,
            event,
            claim.notification_id.clone(),
            claim.created_at,
            app.loopback_http_links,
        )
        .map(Some)
    };

    let mut notification = render(&claim)?;
    let recorded = app
        .claims
        .record_notification(&NewNotification {
            claim: claim.clone(),
            kind: event.kind,
            notification: notification.clone(),
        })
        .await?;
    if let Recorded::Duplicate(existing) = recorded {
        if !take_over_if_stalled(app.claims, &existing, now, "event").await? {
            tracing::info!("duplicate event absorbed");
            return Ok(Processed::Duplicate);
        }
        claim = existing;
        notification = render(&claim)?;
    }

    let mut jobs = Vec::new();
    let mut channels = Vec::new();
    let mut webhooks = Vec::new();
    let mut queued = Vec::new();
    let notification_priority = notification.as_ref().map(|n| n.priority);
    if let Some(n) = notification {
        webhooks.push(crate::webhook::WebhookMessage::created(&event.user_id, &n));
        jobs.push(DeliveryJob::WebSocket {
            user_id: event.user_id.clone(),
            notification: n,
            connection_ids: None,
        });
        channels.push(Channel::InApp);
    }
    for outside in outside_jobs(&templates, event, &prefs, &claim.notification_id)? {
        match outside {
            Outside::Job(channel, job) => {
                jobs.push(*job);
                channels.push(channel);
                queued.push(channel);
            }
            Outside::NoAddress(channel, missing) => {
                app.log
                    .record_delivery(&DeliveryRecord {
                        user_id: event.user_id.to_string(),
                        notification_id: claim.notification_id.to_string(),
                        channel,
                        status: DeliveryStatus::Skipped,
                        reason: Some(missing.into()),
                        detail: None,
                        provider_message_id: None,
                        // The claim's time: a retried event logs it once.
                        at: claim.created_at,
                        source: None,
                    })
                    .await?;
            }
        }
    }
    if let Some(job) = push_job(
        app,
        &templates,
        event,
        (&prefs, has_push),
        &claim,
        notification_priority,
    )
    .await?
    {
        jobs.push(job);
        channels.push(Channel::Push);
        queued.push(Channel::Push);
    }
    // Everything that can fail, and be done twice harmlessly, comes before
    // the jobs are queued: once they are, only the claim's `dispatched` is
    // left, so a failure can never queue (and send) them a second time.
    //
    // Email and SMS wait on the queue for the sender; the log shows it (a
    // job stuck there, or dead-lettered, is `queued` and nothing after).
    // In-app goes out within milliseconds: no entry for its wait.
    for channel in queued {
        app.log
            .record_delivery(&DeliveryRecord {
                user_id: event.user_id.to_string(),
                notification_id: claim.notification_id.to_string(),
                channel,
                status: DeliveryStatus::Queued,
                reason: None,
                detail: None,
                provider_message_id: None,
                at: claim.created_at,
                source: None,
            })
            .await?;
    }
    // A failure retries the event, which queues the webhook again (same id,
    // so the shop can dedupe).
    crate::usecases::webhooks::emit(app.webhooks, webhooks).await?;
    if !jobs.is_empty() {
        app.deliveries
            .send(jobs.iter().map(|j| OutMessage::now(j.to_body())).collect())
            .await?;
    }
    app.claims.mark_dispatched(&event.id).await?;
    tracing::info!(notification_id = %claim.notification_id, channels = ?channels, "notification created");
    Ok(Processed::Created {
        notification_id: claim.notification_id.into(),
        channels,
    })
}

/// The web push of an event, when the user wants it (push on for the
/// event's category) and has a subscription (known from the preferences
/// read on DynamoDB, else one Query of their own partition), so users
/// without one cost no job.
async fn push_job(
    app: &Worker<'_>,
    templates: &Templates,
    event: &BusinessEvent,
    (prefs, has_push): (&crate::preferences::Preferences, Option<bool>),
    claim: &EventClaim,
    priority: Option<crate::model::Priority>,
) -> Result<Option<DeliveryJob>, MessageError> {
    if !prefs.enabled(event.kind.category(), Channel::Push) {
        return Ok(None);
    }
    let has_push = match has_push {
        Some(known) => known,
        None => !app
            .push_subscriptions
            .subscriptions_of(&event.user_id)
            .await?
            .is_empty(),
    };
    if !has_push {
        return Ok(None);
    }
    let r = templates
        .render_push(event)
        .map_err(|e| MessageError::Poison(e.to_string()))?;
    let action_url = r.action_url.filter(|url| {
        crate::links::check_action_url("actionUrl", url, app.loopback_http_links).is_ok()
    });
    let priority = match priority {
        Some(p) => p,
        None => templates
            .render_in_app(event)
            .map(|r| r.priority)
            .unwrap_or_default(),
    };
    // Notifications about one order replace each other on the device.
    let tag = event
        .data
        .get("orderId")
        .and_then(|v| v.as_str())
        .map(|o| format!("order-{o}"));
    Ok(Some(DeliveryJob::Push {
        user_id: event.user_id.clone(),
        payload: crate::push::PushPayload {
            id: claim.notification_id.to_string(),
            kind: event.kind.as_str().to_owned(),
            title: r.title,
            body: r.body,
            action_url,
            tag,
            priority,
            created_at: claim.created_at,
        },
        endpoints: None,
    }))
}
