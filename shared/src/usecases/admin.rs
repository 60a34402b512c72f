//! Admin sends: to a list of users, or to everyone through paged fan-out on
//! the events queue (never one invocation looping over every user).

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{QueueError, ValidationError};
use crate::event::{BusinessEvent, EventType, check_user_id};
use crate::model::Priority;
use crate::ports::{OutMessage, Queue};

/// Largest explicit recipient list; beyond it, broadcast.
pub const MAX_RECIPIENTS: usize = 1000;

/// What an admin sends: a template type with its data, or literal text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    #[serde(rename = "type")]
    pub kind: EventType,
    pub data: Map<String, Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Audience {
    Users(Vec<String>),
    Everyone,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SendRequest {
    pub audience: Audience,
    pub content: Content,
}

/// One page of one directory shard of a broadcast, carried on the broadcast queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BroadcastPage {
    /// Always "broadcast": tells this message from a business event.
    pub kind: String,
    pub send_id: String,
    pub content: Content,
    #[serde(default)]
    pub shard: u32,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub page: u32,
    /// Users left over by an earlier run of this page: only these, and no
    /// directory read or next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<String>>,
    /// How many times those users failed already.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempt: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl BroadcastPage {
    /// The first page of one directory shard.
    pub fn first(send_id: &str, content: &Content, shard: u32) -> Self {
        Self {
            kind: BROADCAST.into(),
            send_id: send_id.to_owned(),
            content: content.clone(),
            shard,
            cursor: None,
            page: 0,
            users: None,
            attempt: 0,
        }
    }

    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("pages serialize")
    }
}

/// The `kind` that tells a broadcast page from a business event.
pub const BROADCAST: &str = "broadcast";

fn text(
    obj: &Map<String, Value>,
    field: &str,
    max: usize,
    required: bool,
) -> Result<Option<String>, ValidationError> {
    match obj.get(field) {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(ValidationError::new(field, "is required")),
        Some(Value::String(s)) if s.trim().is_empty() && required => {
            Err(ValidationError::new(field, "must not be empty"))
        }
        Some(Value::String(s)) if s.chars().count() > max => Err(ValidationError::new(
            field,
            format!("is longer than {max} characters"),
        )),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ValidationError::new(field, "must be a string")),
    }
}

impl SendRequest {
    /// `{"userIds":[..]}` or `{"broadcast":true}`, with either `{"type","data"}`
    /// (a business template) or `{"title","message",...}` (literal text).
    pub fn parse(body: &[u8], loopback_http_links: bool) -> Result<Self, ValidationError> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| ValidationError::new("body", format!("not valid JSON: {e}")))?;
        let Value::Object(obj) = v else {
            return Err(ValidationError::new("body", "must be a JSON object"));
        };
        const KNOWN: [&str; 9] = [
            "userIds",
            "broadcast",
            "type",
            "data",
            "title",
            "message",
            "actionUrl",
            "actionText",
            "priority",
        ];
        if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(ValidationError::new(k.as_str(), "is not a known field"));
        }
        let broadcast = match obj.get("broadcast") {
            None | Some(Value::Bool(false)) => false,
            Some(Value::Bool(true)) => true,
            Some(_) => return Err(ValidationError::new("broadcast", "must be true or false")),
        };
        let audience = match (obj.get("userIds"), broadcast) {
            (Some(_), true) => {
                return Err(ValidationError::new(
                    "userIds",
                    "give userIds or broadcast, not both",
                ));
            }
            (None, false) => {
                return Err(ValidationError::new(
                    "userIds",
                    "give a list of user ids, or \"broadcast\": true",
                ));
            }
            (None, true) => Audience::Everyone,
            (Some(Value::Array(ids)), false) => {
                if ids.is_empty() || ids.len() > MAX_RECIPIENTS {
                    return Err(ValidationError::new(
                        "userIds",
                        format!("must hold 1 to {MAX_RECIPIENTS} ids; use broadcast for everyone"),
                    ));
                }
                let mut users = Vec::with_capacity(ids.len());
                for (i, id) in ids.iter().enumerate() {
                    let Value::String(s) = id else {
                        return Err(ValidationError::new(
                            format!("userIds[{i}]"),
                            "must be a string",
                        ));
                    };
                    check_user_id(&format!("userIds[{i}]"), s)?;
                    if !users.contains(s) {
                        users.push(s.clone());
                    }
                }
                Audience::Users(users)
            }
            (Some(_), false) => {
                return Err(ValidationError::new(
                    "userIds",
                    "must be an array of strings",
                ));
            }
        };
        let content = match obj.get("type") {
            Some(Value::String(t)) => {
                let kind = EventType::parse(t)
                    .filter(|k| EventType::BUSINESS.contains(k))
                    .ok_or_else(|| {
                        ValidationError::new("type", format!("unknown template type `{t}`"))
                    })?;
                if obj.contains_key("title") || obj.contains_key("message") {
                    return Err(ValidationError::new(
                        "title",
                        "give a template type or literal title and message, not both",
                    ));
                }
                let data = match obj.get("data") {
                    Some(Value::Object(m)) => m.clone(),
                    None | Some(Value::Null) => Map::new(),
                    Some(_) => return Err(ValidationError::new("data", "must be a JSON object")),
                };
                let content = Content { kind, data };
                // The same checks a business event of this type gets.
                BusinessEvent::parse(sample_event(&content, "u").to_string().as_bytes())?;
                content
            }
            Some(_) => return Err(ValidationError::new("type", "must be a string")),
            None => {
                let mut data = Map::new();
                data.insert("title".into(), text(&obj, "title", 200, true)?.into());
                data.insert("message".into(), text(&obj, "message", 2000, true)?.into());
                for (field, max) in [("actionUrl", 2000), ("actionText", 100)] {
                    if let Some(v) = text(&obj, field, max, false)? {
                        data.insert(field.into(), v.into());
                    }
                }
                if let Some(Value::String(url)) = data.get("actionUrl") {
                    crate::links::check_action_url("actionUrl", url, loopback_http_links)?;
                }
                if let Some(p) = text(&obj, "priority", 10, false)? {
                    Priority::parse(&p).ok_or_else(|| {
                        ValidationError::new("priority", "must be low, normal, high or urgent")
                    })?;
                    data.insert("priority".into(), p.into());
                }
                Content {
                    kind: EventType::AdminMessage,
                    data,
                }
            }
        };
        Ok(Self { audience, content })
    }
}

fn sample_event(content: &Content, user: &str) -> Value {
    json!({"id": "check", "type": content.kind.as_str(), "userId": user, "occurredAt": Utc::now().to_rfc3339(), "data": content.data})
}

/// The event one recipient gets: its id is derived from the send, so a page
/// processed twice notifies nobody twice.
pub(crate) fn event_for(send_id: &str, content: &Content, user: &str) -> String {
    let mut e = sample_event(content, user);
    e["id"] = Value::from(format!("{send_id}:{user}"));
    e.to_string()
}

/// Queues the send; returns its id and how many users it targets (None:
/// everyone). A broadcast starts as one page per directory shard, on the
/// broadcast queue, so the shards are read and notified in parallel.
pub async fn send(
    events: &dyn Queue,
    broadcasts: &dyn Queue,
    req: &SendRequest,
) -> Result<(String, Option<usize>), QueueError> {
    let send_id = format!("adm_{}", crate::ids::new_id());
    match &req.audience {
        Audience::Users(users) => {
            let messages = users
                .iter()
                .map(|u| OutMessage::now(event_for(&send_id, &req.content, u)))
                .collect();
            events.send(messages).await?;
            tracing::info!(send_id, recipients = users.len(), "admin send queued");
            Ok((send_id, Some(users.len())))
        }
        Audience::Everyone => {
            let pages = (0..crate::ports::USER_SHARDS)
                .map(|shard| {
                    OutMessage::now(BroadcastPage::first(&send_id, &req.content, shard).to_body())
                })
                .collect();
            broadcasts.send(pages).await?;
            tracing::info!(
                send_id,
                shards = crate::ports::USER_SHARDS,
                "broadcast queued"
            );
            Ok((send_id, None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<SendRequest, ValidationError> {
        SendRequest::parse(v.to_string().as_bytes(), false)
    }

    #[test]
    fn literal_and_template_sends() {
        let r = parse(
            json!({"userIds":["a","b","a"],"title":"Hi","message":"There","priority":"high"}),
        )
        .unwrap();
        assert_eq!(r.audience, Audience::Users(vec!["a".into(), "b".into()]));
        assert_eq!(r.content.kind, EventType::AdminMessage);
        assert_eq!(r.content.data["priority"], "high");
        let r = parse(json!({"broadcast":true,"type":"order.status_changed","data":{"orderId":"o","status":"shipped"}})).unwrap();
        assert_eq!(r.audience, Audience::Everyone);
        assert_eq!(r.content.kind, EventType::OrderStatusChanged);
    }

    #[test]
    fn refuses_with_the_field() {
        let field = |v: Value| parse(v).unwrap_err().field;
        assert_eq!(field(json!({"title":"t","message":"m"})), "userIds");
        assert_eq!(
            field(json!({"userIds":["a"],"broadcast":true,"title":"t","message":"m"})),
            "userIds"
        );
        assert_eq!(
            field(json!({"userIds":[],"title":"t","message":"m"})),
            "userIds"
        );
        assert_eq!(
            field(json!({"userIds":[7],"title":"t","message":"m"})),
            "userIds[0]"
        );
        assert_eq!(field(json!({"userIds":["a"],"message":"m"})), "title");
        assert_eq!(
            field(json!({"userIds":["a"],"title":"t","message":"m","priority":"meh"})),
            "priority"
        );
        assert_eq!(
            field(json!({"userIds":["a"],"type":"order.status_changed","data":{"orderId":"o"}})),
            "data.status"
        );
        assert_eq!(
            field(json!({"userIds":["a"],"type":"admin.message"})),
            "type"
        );
        assert_eq!(
            field(json!({"userIds":["a"],"title":"t","message":"m","colour":"red"})),
            "colour"
        );
        for url in [
            "javascript:alert(1)",
            "//evil.example",
            "http://127.0.0.1/x",
        ] {
            assert_eq!(
                field(json!({"userIds":["a"],"title":"t","message":"m","actionUrl":url})),
                "actionUrl"
            );
        }
        let ok =
            json!({"userIds":["a"],"title":"t","message":"m","actionUrl":"http://127.0.0.1/x"});
        assert!(SendRequest::parse(ok.to_string().as_bytes(), true).is_ok());
        assert!(parse(json!({"userIds":["auth0|1", "a@b.co"],"title":"t","message":"m"})).is_ok());
    }

    #[test]
    fn recipients_get_derived_event_ids() {
        let r = parse(json!({"userIds":["a"],"title":"t","message":"m"})).unwrap();
        let e = BusinessEvent::parse(event_for("adm_X", &r.content, "a").as_bytes()).unwrap();
        assert_eq!(e.id, "adm_X:a");
        assert_eq!(e.user_id, "a");
    }
}
