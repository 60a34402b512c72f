//! The WebSocket protocol: what clients send (`action`) and what they receive (`event`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::Notification;

/// Frames above this are refused with an error event (API Gateway caps at 128 KB).
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 8 * 1024;
/// Longest id a client may send; ULIDs are 26 characters.
const MAX_CLIENT_ID: usize = 128;
pub const DEFAULT_SYNC_PAGE: usize = 50;
pub const MAX_SYNC_PAGE: usize = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientMessage {
    MarkRead { id: String },
    Sync { since: Option<String>, limit: usize },
    Join { room: Option<String> },
    Ping,
}

/// A frame we refuse, with the code and text sent back in an `error` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError {
    pub code: &'static str,
    pub message: String,
}

impl ProtocolError {
    fn bad(message: impl Into<String>) -> Self {
        Self {
            code: "bad_request",
            message: message.into(),
        }
    }
}

impl ClientMessage {
    pub fn parse(body: &str) -> Result<Self, ProtocolError> {
        if body.len() > MAX_CLIENT_MESSAGE_BYTES {
            return Err(ProtocolError {
                code: "payload_too_large",
                message: format!(
                    "message is {} bytes; the limit is {MAX_CLIENT_MESSAGE_BYTES}",
                    body.len()
                ),
            });
        }
        let v: Value = serde_json::from_str(body).map_err(|e| ProtocolError {
            code: "bad_json",
            message: format!("message is not valid JSON: {e}"),
        })?;
        let Value::Object(obj) = v else {
            return Err(ProtocolError::bad("message must be a JSON object"));
        };
        let action = match obj.get("action") {
            Some(Value::String(a)) => a.as_str(),
            Some(_) => return Err(ProtocolError::bad("`action` must be a string")),
            None => return Err(ProtocolError::bad("`action` is required")),
        };
        let opt_str = |field: &str| -> Result<Option<String>, ProtocolError> {
            match obj.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.len() <= MAX_CLIENT_ID => Ok(Some(s.clone())),
                Some(Value::String(_)) => Err(ProtocolError::bad(format!(
                    "`{field}` is longer than {MAX_CLIENT_ID} characters"
                ))),
                Some(_) => Err(ProtocolError::bad(format!("`{field}` must be a string"))),
            }
        };
        match action {
            "notification:mark-read" => match opt_str("id")? {
                Some(id) if !id.is_empty() => Ok(Self::MarkRead { id }),
                _ => Err(ProtocolError::bad(
                    "`id` is required for notification:mark-read",
                )),
            },
            "notification:sync" => {
                let limit = match obj.get("limit") {
                    None | Some(Value::Null) => DEFAULT_SYNC_PAGE,
                    Some(Value::Number(n)) => match n.as_u64() {
                        Some(n) if (1..=MAX_SYNC_PAGE as u64).contains(&n) => n as usize,
                        _ => {
                            return Err(ProtocolError::bad(format!(
                                "`limit` must be 1 to {MAX_SYNC_PAGE}"
                            )));
                        }
                    },
                    Some(_) => return Err(ProtocolError::bad("`limit` must be a number")),
                };
                Ok(Self::Sync {
                    since: opt_str("since")?.filter(|s| !s.is_empty()),
                    limit,
                })
            }
            "join" => Ok(Self::Join {
                room: opt_str("room")?,
            }),
            "ping" => Ok(Self::Ping),
            other => Err(ProtocolError {
                code: "unknown_action",
                message: format!(
                    "unknown action `{}`; expected notification:mark-read, notification:sync, join or ping",
                    other.chars().take(64).collect::<String>()
                ),
            }),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data")]
pub enum ServerMessage {
    #[serde(rename = "notification:new")]
    New(Notification),
    #[serde(rename = "notification:read-ack")]
    ReadAck {
        /// The notification marked read; `null` after mark-all-read.
        id: Option<String>,
        #[serde(rename = "unreadCount")]
        unread_count: u64,
    },
    #[serde(rename = "notification:sync")]
    Sync {
        notifications: Vec<Notification>,
        /// Pass back as `since` to continue; the newest id seen.
        cursor: Option<String>,
        #[serde(rename = "hasMore")]
        has_more: bool,
        #[serde(rename = "unreadCount")]
        unread_count: u64,
    },
    /// A notification was deleted (on another device or through the API).
    #[serde(rename = "notification:deleted")]
    Deleted {
        id: String,
        #[serde(rename = "unreadCount")]
        unread_count: u64,
    },
    #[serde(rename = "joined")]
    Joined { room: String },
    /// The answer to a ping. On AWS the `ping` route's MOCK integration
    /// sends it with no function call, so it carries nothing but its type.
    #[serde(rename = "pong")]
    Pong,
    #[serde(rename = "error")]
    Error { code: String, message: String },
}

impl ServerMessage {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("server messages always serialize")
    }

    pub fn error(code: &str, message: impl Into<String>) -> Self {
        Self::Error {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// The room a user is always in, and the only one they may join.
pub fn room_of(user_id: &str) -> String {
    format!("user:{user_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_action() {
        assert_eq!(
            ClientMessage::parse(r#"{"action":"notification:mark-read","id":"01J"}"#).unwrap(),
            ClientMessage::MarkRead { id: "01J".into() }
        );
        assert_eq!(
            ClientMessage::parse(r#"{"action":"notification:sync","since":"01J"}"#).unwrap(),
            ClientMessage::Sync {
                since: Some("01J".into()),
                limit: DEFAULT_SYNC_PAGE
            }
        );
        assert_eq!(
            ClientMessage::parse(r#"{"action":"notification:sync","limit":5}"#).unwrap(),
            ClientMessage::Sync {
                since: None,
                limit: 5
            }
        );
        assert_eq!(
            ClientMessage::parse(r#"{"action":"join"}"#).unwrap(),
            ClientMessage::Join { room: None }
        );
        assert_eq!(
            ClientMessage::parse(r#"{"action":"ping"}"#).unwrap(),
            ClientMessage::Ping
        );
    }

    #[test]
    fn refuses_bad_frames_with_a_code() {
        let code = |s: &str| ClientMessage::parse(s).unwrap_err().code;
        assert_eq!(code("{"), "bad_json");
        assert_eq!(code("[]"), "bad_request");
        assert_eq!(code(r#"{"id":"x"}"#), "bad_request");
        assert_eq!(
            code(r#"{"action":"notification:delete"}"#),
            "unknown_action"
        );
        assert_eq!(
            code(r#"{"action":"notification:mark-read"}"#),
            "bad_request"
        );
        assert_eq!(
            code(&format!(
                r#"{{"action":"notification:mark-read","id":"{}"}}"#,
                "x".repeat(500)
            )),
            "bad_request"
        );
        assert_eq!(
            code(r#"{"action":"notification:sync","limit":0}"#),
            "bad_request"
        );
        assert_eq!(
            code(&format!(
                r#"{{"action":"ping","pad":"{}"}}"#,
                "x".repeat(MAX_CLIENT_MESSAGE_BYTES)
            )),
            "payload_too_large"
        );
    }

    #[test]
    fn server_messages_have_the_contract_shape() {
        let v: Value = serde_json::from_slice(
            &ServerMessage::ReadAck {
                id: Some("n1".into()),
                unread_count: 3,
            }
            .to_bytes(),
        )
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"event":"notification:read-ack","data":{"id":"n1","unreadCount":3}})
        );
        let v: Value =
            serde_json::from_slice(&ServerMessage::error("bad_json", "nope").to_bytes()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"event":"error","data":{"code":"bad_json","message":"nope"}})
        );
    }
}
