//! feedback: what SES says happened to an email after it accepted it
//! (delivered, bounced, complained about, rejected, delayed) goes into the
//! notification's delivery log; a hard bounce or a complaint suppresses the
//! address; the shop hears of it by webhook.

use crate::model::{Channel, DeliveryRecord, DeliveryStatus, Suppression, SuppressionReason};
use crate::ports::{Deliveries, Queue, Suppressions};
use crate::ses_events::SesEvent;
use crate::usecases::MessageError;

#[derive(Clone, Copy)]
pub struct Feedback<'a> {
    pub log: &'a dyn Deliveries,
    pub suppressions: &'a dyn Suppressions,
    pub webhooks: Option<&'a dyn Queue>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Kept in the log with this status; `suppressed`: the address now is.
    Logged {
        status: DeliveryStatus,
        suppressed: bool,
    },
    /// Not about a notification of ours (no tags), or an event type the
    /// log does not keep (opens, clicks): acknowledged, nothing stored.
    Ignored(String),
}

/// What one SES event means: a log entry's status, time and reason, and
/// whether it suppresses the address.
type Meaning = (
    DeliveryStatus,
    chrono::DateTime<chrono::Utc>,
    Option<String>,
    Option<SuppressionReason>,
);

/// The log entry (and suppression) one SES event stands for.
fn interpret(e: &SesEvent) -> Option<Meaning> {
    let first = |r: &[crate::ses_events::Recipient]| {
        r.first()
            .and_then(|r| r.diagnostic_code.clone().or(r.status.clone()))
    };
    match e.event_type.as_str() {
        "Send" => Some((DeliveryStatus::Sent, e.mail.timestamp, None, None)),
        "Delivery" => {
            let d = e.delivery.as_ref()?;
            Some((
                DeliveryStatus::Delivered,
                d.timestamp,
                d.smtp_response.clone(),
                None,
            ))
        }
        "Bounce" => {
            let b = e.bounce.as_ref()?;
            let mut reason = format!("{}/{}", b.bounce_type, b.bounce_sub_type);
            if let Some(d) = first(&b.bounced_recipients) {
                reason = format!("{reason}: {d}");
            }
            if b.is_suppression() {
                Some((
                    DeliveryStatus::Suppressed,
                    b.timestamp,
                    Some(reason),
                    Some(SuppressionReason::Bounce),
                ))
            } else if b.is_hard() {
                Some((
                    DeliveryStatus::Bounced,
                    b.timestamp,
                    Some(reason),
                    Some(SuppressionReason::Bounce),
                ))
            } else {
                // Soft bounces (mailbox full, too large): recorded, not suppressed.
                Some((DeliveryStatus::Bounced, b.timestamp, Some(reason), None))
            }
        }
        "Complaint" => {
            let c = e.complaint.as_ref()?;
            let reason = c
                .complaint_feedback_type
                .clone()
                .map(|t| format!("complaint: {t}"));
            Some((
                DeliveryStatus::Complained,
                c.timestamp,
                reason,
                Some(SuppressionReason::Complaint),
            ))
        }
        "Reject" => {
            let r = e.reject.as_ref()?;
            Some((
                DeliveryStatus::Rejected,
                e.mail.timestamp,
                Some(r.reason.clone()),
                None,
            ))
        }
        "DeliveryDelay" => {
            let d = e.delivery_delay.as_ref()?;
            let mut reason = format!("{}{}", crate::model::DELAY_PREFIX, d.delay_type);
            if let Some(until) = d.expiration_time {
                reason = format!("{reason}; SES keeps trying until {}", until.to_rfc3339());
            }
            Some((DeliveryStatus::Sent, d.timestamp, Some(reason), None))
        }
        _ => None,
    }
}

pub async fn record_feedback(app: &Feedback<'_>, body: &str) -> Result<Recorded, MessageError> {
    let event: SesEvent = serde_json::from_str(body)
        .map_err(|e| MessageError::Poison(format!("not an SES event: {e}")))?;
    let Some(tags) = event.tags() else {
        tracing::info!(event_type = %event.event_type, message_id = %event.mail.message_id, "SES event without our tags; ignored");
        return Ok(Recorded::Ignored("no notification tags".into()));
    };
    let Some((status, at, reason, suppress)) = interpret(&event) else {
        return Ok(Recorded::Ignored(format!(
            "event type {}",
            event.event_type
        )));
    };
    let span = tracing::info_span!("feedback", event_type = %event.event_type, user_id = %tags.user_id, notification_id = %tags.notification_id);
    let _enter = span.enter();
    let mut suppressed = false;
    if let Some(why) = suppress {
        let addresses: Vec<String> = match (&event.bounce, &event.complaint) {
            (Some(b), _) => b
                .bounced_recipients
                .iter()
                .map(|r| r.email_address.clone())
                .collect(),
            (_, Some(c)) => c
                .complained_recipients
                .iter()
                .map(|r| r.email_address.clone())
                .collect(),
            _ => Vec::new(),
        };
        let addresses = if addresses.is_empty() {
            event.mail.destination.clone()
        } else {
            addresses
        };
        for address in addresses {
            app.suppressions
                .suppress(&Suppression {
                    address: address.clone(),
                    reason: why,
                    at,
                    detail: reason.clone(),
                    notification_id: Some(tags.notification_id.clone()),
                    user_id: Some(tags.user_id.clone()),
                })
                .await?;
            tracing::warn!(%address, reason = ?why, "address suppressed: no more email goes to it until the user confirms it");
            suppressed = true;
        }
    }
    let rec = DeliveryRecord {
        user_id: tags.user_id,
        notification_id: tags.notification_id,
        channel: Channel::Email,
        status,
        reason,
        detail: None,
        provider_message_id: Some(event.mail.message_id.clone()),
        at,
        source: None,
    };
    crate::usecases::webhooks::record_and_emit(app.log, app.webhooks, &rec, true).await?;
    Ok(Recorded::Logged { status, suppressed })
}
