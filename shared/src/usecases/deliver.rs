//! sender: one delivery job reaches the user's devices or mailbox.

use tracing::Instrument;

use crate::error::MailError;
use crate::jobs::DeliveryJob;
use crate::model::{Channel, DeliveryRecord, DeliveryStatus};
use crate::ports::{
    Clock, Deliveries, MailTags, Mailer, OutMessage, PushService, PushSubscriptions, Queue,
    SmsSender, Suppressions,
};
use crate::protocol::ServerMessage;
use crate::usecases::MessageError;
use crate::usecases::fanout::Devices;

/// What the sender uses: the devices, the providers, the delivery log, and
/// the deliveries queue for follow-up jobs.
#[derive(Clone, Copy)]
pub struct Sender<'a> {
    pub devices: Devices<'a>,
    pub mailer: &'a dyn Mailer,
    pub sms: &'a dyn SmsSender,
    pub log: &'a dyn Deliveries,
    pub suppressions: &'a dyn Suppressions,
    pub push_subscriptions: &'a dyn PushSubscriptions,
    pub push: &'a dyn PushService,
    /// The VAPID key and `VAPID_SUBJECT`: web pushes are signed with them.
    pub vapid: Option<(&'a crate::push::VapidKey, &'a str)>,
    /// http push endpoints on loopback are allowed (the local stack only).
    pub loopback_http: bool,
    pub retries: &'a dyn Queue,
    /// Where the shop's webhooks are queued, when it has an endpoint.
    pub webhooks: Option<&'a dyn Queue>,
    pub clock: &'a dyn Clock,
}

/// Delay before a follow-up job retries the connections that failed.
const RETRY_DELAY_SECONDS: u32 = 2;

#[derive(Debug, PartialEq, Eq)]
pub enum Delivered {
    /// Web pushes taken by this many push services; `retrying` more later.
    WebPushed {
        devices: usize,
        gone: usize,
        retrying: usize,
    },
    /// Not pushed: an open tab of the user got it in-app, or the user has
    /// no subscription left.
    NotPushed { reason: String },
    /// Pushed to this many devices; `retrying` more were throttled and re-queued.
    Pushed {
        devices: usize,
        gone: usize,
        retrying: usize,
    },
    /// The user had no open connection: the inbox and sync will serve it.
    NoConnection,
    /// Email or SMS accepted by the provider.
    Sent { message_id: String },
    /// The provider refused this message for good; recorded, not retried.
    Rejected { reason: String },
    /// Not sent: the address is suppressed (a hard bounce or a complaint).
    Suppressed,
}

/// One attempt at one job: the queue message it came from (its SQS id, the
/// same at each redelivery), whether it is the queue's last, and when it began.
#[derive(Clone, Copy, Debug)]
pub struct Attempt<'a> {
    pub source: Option<&'a str>,
    /// 1 for the first receive of the message.
    pub number: u32,
    pub last: bool,
    pub started: chrono::DateTime<chrono::Utc>,
}

pub async fn deliver_job(
    app: &Sender<'_>,
    body: &str,
    attempt: Attempt<'_>,
) -> Result<Delivered, MessageError> {
    let job: DeliveryJob = serde_json::from_str(body)
        .map_err(|e| MessageError::Poison(format!("invalid delivery job: {e}")))?;
    let span = match &job {
        DeliveryJob::WebSocket {
            user_id,
            notification,
            ..
        } => {
            tracing::info_span!("delivery", channel = "in_app", user_id = %user_id, notification_id = %notification.id)
        }
        DeliveryJob::Email {
            user_id,
            notification_id,
            ..
        } => {
            tracing::info_span!("delivery", channel = "email", user_id = %user_id, notification_id = %notification_id)
        }
        DeliveryJob::Sms {
            user_id,
            notification_id,
            ..
        } => {
            tracing::info_span!("delivery", channel = "sms", user_id = %user_id, notification_id = %notification_id)
        }
        DeliveryJob::Push {
            user_id, payload, ..
        } => {
            tracing::info_span!("delivery", channel = "push", user_id = %user_id, notification_id = %payload.id)
        }
    };
    deliver(app, job, attempt).instrument(span).await
}

/// One delivery log entry; its webhook, if it has one, is queued with it.
/// `detail` is the devices' count (in-app) or the provider's message id.
/// Keyed by the job's queue message, so a redelivered job's entry (and
/// webhook) is the one already kept. A failure that will be retried
/// (`retried`, and not the queue's last attempt) sends no webhook.
pub(crate) async fn record(
    app: &Sender<'_>,
    attempt: Attempt<'_>,
    (user_id, notification_id, channel): (&str, &str, Channel),
    status: DeliveryStatus,
    reason: Option<String>,
    detail: Option<String>,
    retried: bool,
) -> Result<(), MessageError> {
    let (detail, provider_message_id) = match channel {
        Channel::InApp | Channel::Push => (detail, None),
        _ => (None, detail),
    };
    let rec = DeliveryRecord {
        user_id: user_id.to_owned(),
        notification_id: notification_id.to_owned(),
        channel,
        status,
        reason,
        detail,
        provider_message_id,
        at: attempt.started,
        // A job has one outcome, whatever its redeliveries; each failed
        // attempt is an entry of its own.
        source: attempt.source.map(|s| match status {
            DeliveryStatus::Failed => format!("{s}-{}", attempt.number),
            _ => s.to_owned(),
        }),
    };
    let final_outcome = !retried || attempt.last;
    crate::usecases::webhooks::record_and_emit(app.log, app.webhooks, &rec, final_outcome).await
}

/// After the provider or a device took the message: logging it must not
/// fail the job, or SQS would send it again. An error is logged instead.
pub(crate) async fn record_sent(
    app: &Sender<'_>,
    attempt: Attempt<'_>,
    target: (&str, &str, Channel),
    status: DeliveryStatus,
    detail: Option<String>,
) {
    if let Err(e) = record(app, attempt, target, status, None, detail, false).await {
        tracing::error!(error = %e, "delivered, but not logged (or its webhook not queued)");
    }
}

async fn deliver(
    app: &Sender<'_>,
    job: DeliveryJob,
    attempt: Attempt<'_>,
) -> Result<Delivered, MessageError> {
    match job {
        DeliveryJob::WebSocket {
            user_id,
            notification,
            connection_ids,
        } => {
            let mut connections = app.devices.live(&user_id).await?;
            if let Some(only) = &connection_ids {
                connections.retain(|c| only.contains(&c.connection_id));
            }
            if connections.is_empty() {
                record(
                    app,
                    attempt,
                    (&user_id, &notification.id, Channel::InApp),
                    DeliveryStatus::Skipped,
                    Some("no open connection".into()),
                    None,
                    false,
                )
                .await?;
                return Ok(Delivered::NoConnection);
            }
            let payload = ServerMessage::New(notification.clone()).to_bytes();
            let out = app.devices.fan_out(&connections, &payload).await;
            let (devices, gone) = (out.delivered.len(), out.gone.len());
            if out.failed.is_empty() {
                let (status, reason) = if devices > 0 {
                    (DeliveryStatus::Delivered, None)
                } else if !out.too_large.is_empty() {
                    (
                        DeliveryStatus::Failed,
                        Some("refused as larger than API Gateway's 128 KB".into()),
                    )
                } else {
                    (
                        DeliveryStatus::Skipped,
                        Some("every connection was gone".into()),
                    )
                };
                let target = (user_id.as_str(), notification.id.as_str(), Channel::InApp);
                let detail = Some(format!("{devices} device(s)"));
                if devices > 0 {
                    record_sent(app, attempt, target, status, detail).await;
                } else {
                    record(app, attempt, target, status, reason, detail, false).await?;
                }
                return Ok(Delivered::Pushed {
                    devices,
                    gone,
                    retrying: 0,
                });
            }
            let reason = out
                .failed
                .iter()
                .map(|(id, e)| format!("{id}: {e}"))
                .collect::<Vec<_>>()
                .join("; ");
            if devices == 0 {
                // Nobody got it: the whole job is retried by SQS, no duplicate possible.
                record(
                    app,
                    attempt,
                    (&user_id, &notification.id, Channel::InApp),
                    DeliveryStatus::Failed,
                    Some(reason.clone()),
                    None,
                    true,
                )
                .await?;
                return Err(MessageError::Retry(format!(
                    "push failed on every connection: {reason}"
                )));
            }
            // Some devices have it: retry only the others, so none gets it twice.
            let retry_ids: Vec<String> = out.failed.iter().map(|(id, _)| id.clone()).collect();
            let retrying = retry_ids.len();
            let follow_up = DeliveryJob::WebSocket {
                user_id: user_id.clone(),
                notification: notification.clone(),
                connection_ids: Some(retry_ids),
            };
            app.retries
                .send(vec![OutMessage {
                    body: follow_up.to_body(),
                    delay_seconds: RETRY_DELAY_SECONDS,
                }])
                .await?;
            tracing::warn!(%reason, retrying, "some pushes failed; re-queued for those connections");
            record_sent(
                app,
                attempt,
                (&user_id, &notification.id, Channel::InApp),
                DeliveryStatus::Delivered,
                Some(format!("{devices} device(s), {retrying} retrying")),
            )
            .await;
            Ok(Delivered::Pushed {
                devices,
                gone,
                retrying,
            })
        }
        DeliveryJob::Email {
            user_id,
            notification_id,
            to,
            content,
        } => {
            if let Some(s) = app.suppressions.suppression(&to).await? {
                let reason = format!(
                    "{to} is suppressed since {} ({:?}{}); the user lifts it by confirming the address",
                    s.at.to_rfc3339(),
                    s.reason,
                    s.detail.map(|d| format!(": {d}")).unwrap_or_default()
                )
                .to_lowercase();
                tracing::info!(%reason, "email not sent");
                record(
                    app,
                    attempt,
                    (&user_id, &notification_id, Channel::Email),
                    DeliveryStatus::Suppressed,
                    Some(reason),
                    None,
                    false,
                )
                .await?;
                return Ok(Delivered::Suppressed);
            }
            let tags = MailTags {
                user_id: user_id.to_string(),
                notification_id: notification_id.to_string(),
            };
            let sent = app.mailer.send(&to, &content, &tags).await;
            outcome(
                app,
                attempt,
                (&user_id, &notification_id, Channel::Email),
                sent,
            )
            .await
        }
        DeliveryJob::Sms {
            user_id,
            notification_id,
            to,
            text,
        } => {
            let sent = app.sms.send_sms(&to, &text).await;
            outcome(
                app,
                attempt,
                (&user_id, &notification_id, Channel::Sms),
                sent,
            )
            .await
        }
        DeliveryJob::Push {
            user_id,
            payload,
            endpoints,
        } => crate::usecases::web_push::push(app, attempt, &user_id, payload, endpoints).await,
    }
}

/// Records what the mail or SMS provider said; a temporary failure goes back
/// to the queue (final on the queue's last attempt), a permanent one is
/// recorded and not retried.
async fn outcome(
    app: &Sender<'_>,
    attempt: Attempt<'_>,
    target: (&str, &str, Channel),
    sent: Result<String, MailError>,
) -> Result<Delivered, MessageError> {
    let channel = target.2;
    match sent {
        // Accepted; email's feedback (delivered, bounced) comes from SES later.
        Ok(message_id) => {
            let id = Some(message_id.clone());
            record_sent(app, attempt, target, DeliveryStatus::Sent, id).await;
            Ok(Delivered::Sent { message_id })
        }
        Err(MailError::Rejected(reason)) => {
            tracing::error!(%reason, channel = channel.as_str(), "rejected by the provider; not retried");
            let why = Some(reason.clone());
            record(
                app,
                attempt,
                target,
                DeliveryStatus::Rejected,
                why,
                None,
                false,
            )
            .await?;
            Ok(Delivered::Rejected { reason })
        }
        Err(MailError::Temporary(reason)) => {
            let logged = if attempt.last {
                format!("{reason} (the last attempt; the job goes to the dead-letter queue)")
            } else {
                format!("{reason} (retrying)")
            };
            record(
                app,
                attempt,
                target,
                DeliveryStatus::Failed,
                Some(logged),
                None,
                true,
            )
            .await?;
            Err(MessageError::Retry(format!(
                "{}: {reason}",
                channel.as_str()
            )))
        }
    }
}
