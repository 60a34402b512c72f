//! Delivery jobs: what the worker puts on the deliveries queue for the sender.

use serde::{Deserialize, Serialize};

use crate::event::BusinessEvent;
use crate::ids::{NotificationId, UserId};
use crate::model::Notification;
use crate::template::RenderedEmail;
use crate::usecases::MessageError;
use crate::usecases::admin::{BROADCAST, BroadcastPage};

/// One channel's delivery of one notification. Self-contained, so the sender
/// reads nothing but the user's connections.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum DeliveryJob {
    /// Push `notification:new` to the user's open connections.
    #[serde(rename = "in_app")]
    WebSocket {
        #[serde(rename = "userId")]
        user_id: UserId,
        notification: Notification,
        /// Only these connections: a retry of the ones that failed last time.
        #[serde(
            rename = "connectionIds",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        connection_ids: Option<Vec<String>>,
    },
    Email {
        #[serde(rename = "userId")]
        user_id: UserId,
        #[serde(rename = "notificationId")]
        notification_id: NotificationId,
        to: String,
        #[serde(flatten)]
        content: RenderedEmail,
    },
    Sms {
        #[serde(rename = "userId")]
        user_id: UserId,
        #[serde(rename = "notificationId")]
        notification_id: NotificationId,
        /// E.164.
        to: String,
        text: String,
    },
    /// A web push to the user's subscriptions, unless a tab of theirs is
    /// open (it gets the in-app notification).
    Push {
        #[serde(rename = "userId")]
        user_id: UserId,
        payload: crate::push::PushPayload,
        /// Only these endpoints: a retry of the ones that failed last time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoints: Option<Vec<String>>,
    },
}

impl DeliveryJob {
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("jobs always serialize")
    }
}

/// What the events queue carries: a business event (as posted, so shops'
/// events and admin sends are one shape), or one page of a broadcast
/// (tagged `"kind": "broadcast"`, a key business events never have).
#[derive(Clone, Debug, PartialEq)]
pub enum EventsMessage {
    Event(BusinessEvent),
    BroadcastPage(BroadcastPage),
}

impl EventsMessage {
    /// Reads one message; a bad one is poison, with the reason.
    pub fn parse(body: &str) -> Result<Self, MessageError> {
        #[derive(Deserialize)]
        struct Probe<'a> {
            #[serde(borrow, default)]
            kind: Option<&'a str>,
        }
        let probe: Probe = serde_json::from_str(body)
            .map_err(|e| MessageError::Poison(format!("invalid message: {e}")))?;
        match probe.kind {
            Some(BROADCAST) => serde_json::from_str(body)
                .map(Self::BroadcastPage)
                .map_err(|e| MessageError::Poison(format!("invalid broadcast page: {e}"))),
            Some(other) => Err(MessageError::Poison(format!(
                "unknown message kind `{}`",
                other.chars().take(40).collect::<String>()
            ))),
            None => BusinessEvent::parse(body.as_bytes())
                .map(Self::Event)
                .map_err(|e| MessageError::Poison(format!("invalid event: {e}"))),
        }
    }

    pub fn to_body(&self) -> String {
        match self {
            Self::Event(e) => serde_json::to_string(e),
            Self::BroadcastPage(p) => serde_json::to_string(p),
        }
        .expect("queue messages serialize")
    }
}

#[cfg(test)]
mod events_message_tests {
    use super::*;
    use crate::event::EventType;
    use crate::usecases::admin::Content;

    #[test]
    fn tells_pages_from_events_and_refuses_the_rest() {
        let e = r#"{"id":"e","type":"order.created","userId":"u","occurredAt":"2026-11-27T10:00:00Z","data":{"orderId":"o"}}"#;
        assert!(matches!(
            EventsMessage::parse(e),
            Ok(EventsMessage::Event(_))
        ));
        let page = BroadcastPage {
            kind: BROADCAST.into(),
            send_id: "s".into(),
            content: Content {
                kind: EventType::AdminMessage,
                data: Default::default(),
            },
            shard: 3,
            cursor: None,
            page: 0,
            users: None,
            attempt: 0,
        };
        let m = EventsMessage::BroadcastPage(page);
        assert_eq!(EventsMessage::parse(&m.to_body()).unwrap(), m);
        for bad in [
            r#"{"kind":"nope"}"#,
            "[]",
            "{",
            r#"{"kind":"broadcast"}"#,
            r#"{"id":"e"}"#,
        ] {
            assert!(
                matches!(EventsMessage::parse(bad), Err(MessageError::Poison(_))),
                "{bad}"
            );
        }
    }
}
