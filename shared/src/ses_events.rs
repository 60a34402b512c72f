//! SES's email sending events, as its configuration set's event destination
//! publishes them (through SNS, raw, onto the feedback queue), and the
//! mailbox simulator the local stack answers with: the same JSON SES sends
//! for `success@`, `bounce@`, `complaint@` and `suppressionlist@` at
//! `simulator.amazonses.com`.
//!
//! Format: <https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html>

use std::collections::BTreeMap;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::MailTags;

/// Message tag names. SES tag values take only ASCII letters, digits, `_` and `-`, up to
/// 256 characters: the user id (any text from an identity provider) goes
/// base64url-encoded.
pub const TAG_NOTIFICATION: &str = "notificationId";
pub const TAG_USER: &str = "userB64";
/// Which channel of the notification the email is (always `email` for now;
/// named so that a log entry never has to guess).
pub const TAG_CHANNEL: &str = "channel";

pub const SIMULATOR_DOMAIN: &str = "simulator.amazonses.com";

const TAG_VALUE_MAX: usize = 256;

/// The tags an email is sent with. A user id longer than one tag value
/// holds continues in `userB64_1`, `userB64_2`, ...
pub fn tags_of(tags: &MailTags) -> Vec<(String, String)> {
    let user = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tags.user_id);
    let mut out = vec![
        (TAG_NOTIFICATION.to_owned(), tags.notification_id.clone()),
        (TAG_CHANNEL.to_owned(), "email".to_owned()),
    ];
    for (i, chunk) in user.as_bytes().chunks(TAG_VALUE_MAX).enumerate() {
        let name = match i {
            0 => TAG_USER.to_owned(),
            i => format!("{TAG_USER}_{i}"),
        };
        out.push((name, String::from_utf8_lossy(chunk).into_owned()));
    }
    out
}

/// One event record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SesEvent {
    /// `Send`, `Delivery`, `Bounce`, `Complaint`, `Reject`, `DeliveryDelay`,
    /// ... (`notificationType` in identity notifications, which carry no tags).
    #[serde(alias = "notificationType")]
    pub event_type: String,
    pub mail: Mail,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounce: Option<Bounce>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complaint: Option<Complaint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject: Option<Reject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_delay: Option<DeliveryDelay>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mail {
    pub timestamp: DateTime<Utc>,
    pub message_id: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub destination: Vec<String>,
    /// Configuration-set events carry the message tags, each a list.
    #[serde(default)]
    pub tags: BTreeMap<String, Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    pub email_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostic_code: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bounce {
    /// `Permanent` (hard), `Transient` (soft) or `Undetermined`.
    pub bounce_type: String,
    pub bounce_sub_type: String,
    #[serde(default)]
    pub bounced_recipients: Vec<Recipient>,
    pub timestamp: DateTime<Utc>,
    #[serde(default)]
    pub feedback_id: String,
}

impl Bounce {
    pub fn is_hard(&self) -> bool {
        self.bounce_type == "Permanent"
    }

    /// SES did not even try: the address is on a suppression list.
    pub fn is_suppression(&self) -> bool {
        matches!(
            self.bounce_sub_type.as_str(),
            "OnAccountSuppressionList" | "Suppressed"
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Complaint {
    #[serde(default)]
    pub complained_recipients: Vec<Recipient>,
    pub timestamp: DateTime<Utc>,
    #[serde(default)]
    pub feedback_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complaint_feedback_type: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub timestamp: DateTime<Utc>,
    #[serde(default)]
    pub recipients: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_response: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reject {
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDelay {
    pub timestamp: DateTime<Utc>,
    pub delay_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub delayed_recipients: Vec<Recipient>,
}

impl SesEvent {
    /// Whose and which notification this email was, from its tags; `None`
    /// for mail this product did not send (or sent without tags).
    pub fn tags(&self) -> Option<MailTags> {
        let one = |name: &str| self.mail.tags.get(name)?.first().cloned();
        let mut encoded = one(TAG_USER)?;
        for i in 1.. {
            match one(&format!("{TAG_USER}_{i}")) {
                Some(more) => encoded.push_str(&more),
                None => break,
            }
        }
        let user = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())?;
        Some(MailTags {
            user_id: user,
            notification_id: one(TAG_NOTIFICATION)?,
        })
    }

    fn new(event_type: &str, mail: &Mail) -> Self {
        Self {
            event_type: event_type.into(),
            mail: mail.clone(),
            bounce: None,
            complaint: None,
            delivery: None,
            send: None,
            reject: None,
            delivery_delay: None,
        }
    }
}

/// The events SES publishes for an email sent at `sent_at` to `to`, as its
/// mailbox simulator answers: `success@` is delivered, `bounce@` bounces
/// hard, `complaint@` is delivered and then complained about,
/// `suppressionlist@` bounces as on the account's suppression list
/// (`+label`s allowed). Any other address is delivered: the local outbox
/// took it.
pub fn simulate(
    to: &str,
    from: &str,
    message_id: &str,
    tags: &MailTags,
    sent_at: DateTime<Utc>,
) -> Vec<SesEvent> {
    let mail = Mail {
        timestamp: sent_at,
        message_id: message_id.to_owned(),
        source: from.to_owned(),
        destination: vec![to.to_owned()],
        tags: tags_of(tags)
            .into_iter()
            .map(|(k, v)| (k, vec![v]))
            .chain([("ses:configuration-set".to_owned(), vec!["local".to_owned()])])
            .collect(),
    };
    let (local, domain) = to.rsplit_once('@').unwrap_or((to, ""));
    let mailbox = local.split('+').next().unwrap_or(local).to_lowercase();
    let simulated = domain.eq_ignore_ascii_case(SIMULATOR_DOMAIN);
    let later = |ms: i64| sent_at + Duration::milliseconds(ms);
    let mut send = SesEvent::new("Send", &mail);
    send.send = Some(serde_json::json!({}));
    let delivered = || {
        let mut e = SesEvent::new("Delivery", &mail);
        e.delivery = Some(Delivery {
            timestamp: later(300),
            recipients: vec![to.to_owned()],
            smtp_response: Some("250 2.6.0 Message received".into()),
        });
        e
    };
    let bounce = |sub_type: &str, status: &str, diagnostic: &str| {
        let mut e = SesEvent::new("Bounce", &mail);
        e.bounce = Some(Bounce {
            bounce_type: "Permanent".into(),
            bounce_sub_type: sub_type.into(),
            bounced_recipients: vec![Recipient {
                email_address: to.to_owned(),
                action: Some("failed".into()),
                status: Some(status.into()),
                diagnostic_code: Some(diagnostic.into()),
            }],
            timestamp: later(300),
            feedback_id: format!("{message_id}-bounce"),
        });
        e
    };
    match (simulated, mailbox.as_str()) {
        (true, "bounce") => vec![
            send,
            bounce("General", "5.1.1", "smtp; 550 5.1.1 user unknown"),
        ],
        (true, "suppressionlist") => vec![
            send,
            bounce(
                "OnAccountSuppressionList",
                "5.1.1",
                "Amazon SES did not send the message to this address because it is on the suppression list for your account.",
            ),
        ],
        (true, "complaint") => {
            let mut complaint = SesEvent::new("Complaint", &mail);
            complaint.complaint = Some(Complaint {
                complained_recipients: vec![Recipient {
                    email_address: to.to_owned(),
                    action: None,
                    status: None,
                    diagnostic_code: None,
                }],
                timestamp: later(600),
                feedback_id: format!("{message_id}-complaint"),
                complaint_feedback_type: Some("abuse".into()),
            });
            vec![send, delivered(), complaint]
        }
        _ => vec![send, delivered()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags() -> MailTags {
        MailTags {
            user_id: "auth0|ann#1".into(),
            notification_id: "01JABCDEF".into(),
        }
    }

    #[test]
    fn parses_the_documented_bounce_record_and_reads_its_tags_back() {
        let sample = r#"{"eventType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"recipient@example.com","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"timestamp":"2017-08-05T00:41:02.669Z","feedbackId":"01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000","reportingMTA":"dsn; mta.example.com"},"mail":{"timestamp":"2017-08-05T00:40:02.012Z","source":"Sender Name <sender@example.com>","sourceArn":"arn:aws:ses:us-east-1:123456789012:identity/sender@example.com","sendingAccountId":"123456789012","messageId":"EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000","destination":["recipient@example.com"],"headersTruncated":false,"headers":[],"commonHeaders":{},"tags":{"ses:configuration-set":["ConfigSet"],"notificationId":["01JABCDEF"],"userB64":["YXV0aDB8YW5uIzE"]}}}"#;
        let e: SesEvent = serde_json::from_str(sample).unwrap();
        let b = e.bounce.as_ref().unwrap();
        assert!(b.is_hard() && !b.is_suppression());
        assert_eq!(
            b.bounced_recipients[0].email_address,
            "recipient@example.com"
        );
        assert_eq!(e.tags(), Some(tags()));
    }

    #[test]
    fn a_long_user_id_spans_several_tags_each_within_ses_limits() {
        let long = MailTags {
            user_id: "é".repeat(256),
            notification_id: "01JABCDEF".into(),
        };
        let t = tags_of(&long);
        assert!(t.len() > 2);
        for (name, value) in &t {
            assert!(value.len() <= 256 && !value.is_empty(), "{name}");
            assert!(
                value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            );
        }
        let e = simulate("a@b.co", "f@b.co", "m", &long, Utc::now()).remove(0);
        assert_eq!(e.tags(), Some(long));
    }

    #[test]
    fn the_simulator_answers_each_address_as_ses_does() {
        let at = Utc::now();
        let kinds = |to: &str| -> Vec<String> {
            simulate(to, "me@shop.example", "m1", &tags(), at)
                .into_iter()
                .map(|e| e.event_type)
                .collect()
        };
        assert_eq!(
            kinds("success@simulator.amazonses.com"),
            ["Send", "Delivery"]
        );
        assert_eq!(
            kinds("bounce+x@simulator.amazonses.com"),
            ["Send", "Bounce"]
        );
        assert_eq!(
            kinds("complaint@simulator.amazonses.com"),
            ["Send", "Delivery", "Complaint"]
        );
        assert_eq!(kinds("ann@example.com"), ["Send", "Delivery"]);
        let s = simulate(
            "suppressionlist@simulator.amazonses.com",
            "me@shop.example",
            "m1",
            &tags(),
            at,
        );
        assert!(s[1].bounce.as_ref().unwrap().is_suppression());
        // What the simulator publishes reads back as what SES publishes.
        for e in s {
            let json = serde_json::to_string(&e).unwrap();
            let back: SesEvent = serde_json::from_str(&json).unwrap();
            assert_eq!(back, e);
            assert_eq!(back.tags(), Some(tags()));
        }
    }
}
