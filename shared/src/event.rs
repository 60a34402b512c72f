//! Business events: the contract of `POST /events` and of the events queue.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ValidationError;
use crate::ids::{EventId, UserId};
use crate::model::Category;

pub mod specs;

pub use specs::EventSpec;
use specs::SPECS;

/// Largest accepted event body. SQS takes 256 KB, but an order event is a few
/// hundred bytes; a bound keeps rendering and storage predictable.
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
/// Largest `data` object: it is stored and sent with every notification.
pub const MAX_DATA_BYTES: usize = 4 * 1024;
/// Longest event id a shop backend may post.
const MAX_ID_LEN: usize = 128;
/// Longest user id: identity providers' subjects (`auth0|…`, e-mail
/// addresses, UUIDs) are far shorter.
pub const MAX_USER_ID_CHARS: usize = 256;
/// Admin sends derive one event id per recipient: `<send id>:<user id>`.
const MAX_EVENT_ID_LEN: usize = 32 + MAX_USER_ID_CHARS * 4;

/// The kinds of event. Each has one [`EventSpec`] in [`specs::SPECS`]
/// (fields, category, sample data, default templates); the methods below
/// read it. To add a type, see [`specs`]: a variant here (last, with its
/// serde name), a spec there, and its template files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "order.created")]
    OrderCreated,
    #[serde(rename = "order.status_changed")]
    OrderStatusChanged,
    #[serde(rename = "payment.verified")]
    PaymentVerified,
    #[serde(rename = "payment.failed")]
    PaymentFailed,
    /// Sent by an admin through the REST API, never by a shop backend.
    #[serde(rename = "admin.message")]
    AdminMessage,
}

impl EventType {
    pub const ALL: [EventType; SPECS.len()] = specs::all();

    /// The types a shop backend may post to `/events`.
    pub const BUSINESS: [EventType; specs::BUSINESS_COUNT] = specs::business();

    /// Everything about this type.
    pub fn spec(self) -> &'static EventSpec {
        &SPECS[self as usize]
    }

    pub fn as_str(self) -> &'static str {
        self.spec().name
    }

    pub fn parse(s: &str) -> Option<Self> {
        SPECS
            .iter()
            .find(|spec| spec.name == s)
            .map(|spec| spec.kind)
    }

    pub fn category(self) -> Category {
        self.spec().category
    }

    /// `data` fields an event of this type must carry.
    pub fn required_data(self) -> &'static [&'static str] {
        self.spec().required
    }

    /// Plausible data for previews of this type's templates.
    pub fn sample_data(self) -> Map<String, Value> {
        serde_json::from_str(self.spec().sample).expect("samples are JSON objects (unit tested)")
    }

    /// Every `data` field templates of this type may use (required and optional).
    pub fn data_fields(self) -> &'static [&'static str] {
        self.spec().fields
    }
}

/// Where to reach the user outside the app, when the event knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// E.164, e.g. +4915112345678.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessEvent {
    /// The idempotency key: the same id twice gives one notification.
    pub id: EventId,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub user_id: UserId,
    pub occurred_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub data: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<Recipient>,
}

impl BusinessEvent {
    /// Parses and validates a body posted by a shop backend: only business types.
    pub fn parse_public(body: &[u8]) -> Result<Self, ValidationError> {
        let event = Self::parse(body)?;
        if event.id.len() > MAX_ID_LEN {
            return Err(ValidationError::new(
                "id",
                format!("is longer than {MAX_ID_LEN} bytes"),
            ));
        }
        if !EventType::BUSINESS.contains(&event.kind) {
            return Err(unknown_type(event.kind.as_str()));
        }
        Ok(event)
    }

    /// Parses and validates any event the worker accepts, naming the first bad field.
    pub fn parse(body: &[u8]) -> Result<Self, ValidationError> {
        if body.len() > MAX_EVENT_BYTES {
            return Err(ValidationError::new(
                "body",
                format!(
                    "event is {} bytes; the limit is {MAX_EVENT_BYTES}",
                    body.len()
                ),
            ));
        }
        // Typed by serde; the error names the field at fault by its path.
        let event: Self =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(body))
                .map_err(wire_error)?;
        let (kind, data) = (event.kind, &event.data);
        // Admin messages' text moves out of `data` into the notification.
        let data_bytes = serde_json::to_vec(&data)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if kind.spec().notification_fields.is_empty() && data_bytes > MAX_DATA_BYTES {
            return Err(ValidationError::new(
                "data",
                format!("is {data_bytes} bytes; the limit is {MAX_DATA_BYTES}"),
            ));
        }
        for field in kind.required_data() {
            match data.get(*field) {
                Some(Value::String(s)) if !s.trim().is_empty() => {}
                Some(Value::Number(_)) => {}
                Some(_) => {
                    return Err(ValidationError::new(
                        format!("data.{field}"),
                        "must be a non-empty string or a number",
                    ));
                }
                None => {
                    return Err(ValidationError::new(
                        format!("data.{field}"),
                        format!("is required for {}", kind.as_str()),
                    ));
                }
            }
        }
        if let Some(r) = &event.recipient {
            if let Some(email) = &r.email {
                check_email("recipient.email", email)?;
            }
            if let Some(phone) = &r.phone {
                check_phone("recipient.phone", phone)?;
            }
        }
        Ok(event)
    }

    /// The structured data a notification of this event carries: the
    /// event's `data`, less what an admin message's template turns into
    /// the notification's own fields.
    pub fn notification_data(&self) -> Map<String, Value> {
        let mut data = self.data.clone();
        for f in self.kind.spec().notification_fields {
            data.remove(*f);
        }
        data
    }

    pub fn recipient_email(&self) -> Option<&str> {
        self.recipient.as_ref().and_then(|r| r.email.as_deref())
    }

    pub fn recipient_phone(&self) -> Option<&str> {
        self.recipient.as_ref().and_then(|r| r.phone.as_deref())
    }
}

/// `"data": null` is no data.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::<Map<String, Value>>::deserialize(d)?.unwrap_or_default())
}

/// A serde error as a validation error naming the field, with the messages
/// a shop's developer can act on.
fn wire_error(e: serde_path_to_error::Error<serde_json::Error>) -> ValidationError {
    use serde_json::error::Category;
    let path = e.path().to_string();
    let inner = e.into_inner();
    let text = inner.to_string();
    // Drop serde_json's " at line 1 column 42": the field says where.
    let text = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(t, _)| t)
        .to_owned();
    if matches!(
        inner.classify(),
        Category::Syntax | Category::Eof | Category::Io
    ) {
        return ValidationError::new("body", format!("not valid JSON: {text}"));
    }
    let at_root = path == ".";
    if let Some(missing) = text
        .strip_prefix("missing field `")
        .and_then(|t| t.strip_suffix('`'))
    {
        let field = if at_root {
            missing.to_owned()
        } else {
            format!("{path}.{missing}")
        };
        return ValidationError::new(field, "is required");
    }
    if at_root {
        return ValidationError::new("body", "must be a JSON object");
    }
    match path.as_str() {
        "type" => {
            let got = text
                .strip_prefix("unknown variant `")
                .and_then(|t| t.split('`').next())
                .unwrap_or("?");
            unknown_type(got)
        }
        "occurredAt" => ValidationError::new(
            "occurredAt",
            "must be an RFC 3339 timestamp such as 2026-11-27T10:00:00Z",
        ),
        _ => ValidationError::new(path, text),
    }
}

fn unknown_type(got: &str) -> ValidationError {
    let expected: Vec<&str> = EventType::BUSINESS.iter().map(|t| t.as_str()).collect();
    ValidationError::new(
        "type",
        format!(
            "unknown event type `{}`; expected one of {}",
            truncate(got, 64),
            expected.join(", ")
        ),
    )
}

/// A user id: what the identity provider put in the token's `sub`, any
/// 1 to 256 printable characters. Stores escape it inside keys
/// (`adapters::keys::key_part`), so no character is special.
pub fn check_user_id(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.chars().count() > MAX_USER_ID_CHARS {
        return Err(ValidationError::new(
            field,
            format!("is longer than {MAX_USER_ID_CHARS} characters"),
        ));
    }
    check_text_id(field, value, usize::MAX)
}

/// An event id: printable text, at most the length admin sends derive.
pub fn check_event_id(field: &str, value: &str) -> Result<(), ValidationError> {
    check_text_id(field, value, MAX_EVENT_ID_LEN)
}

/// Non-empty, at most `max` bytes, no control characters, not only spaces.
fn check_text_id(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(ValidationError::new(
            field,
            format!("is longer than {max} bytes"),
        ));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(ValidationError::new(
            field,
            format!("contains the control character U+{:04X}", c as u32),
        ));
    }
    Ok(())
}

pub fn check_email(field: &str, email: &str) -> Result<(), ValidationError> {
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@'));
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(field, "is not an email address"))
    }
}

/// E.164: a plus, a non-zero country digit, at most fifteen digits in all.
pub fn check_phone(field: &str, phone: &str) -> Result<(), ValidationError> {
    let digits = phone.strip_prefix('+').unwrap_or("");
    let ok = (2..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            "is not an E.164 phone number such as +4915112345678",
        ))
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    fn valid() -> Value {
        serde_json::json!({"id":"evt_1","type":"order.created","userId":"u_42",
            "occurredAt":"2026-11-27T10:00:00Z","data":{"orderId":"o_1","total":"49.90","currency":"EUR"}})
    }

    #[test]
    fn parses_the_contract_example() {
        let e = BusinessEvent::parse_public(&body(valid())).unwrap();
        assert_eq!(e.id, "evt_1");
        assert_eq!(e.kind, EventType::OrderCreated);
        assert_eq!(e.user_id, "u_42");
        assert_eq!(e.data["total"], "49.90");
        assert_eq!(e.kind.category(), Category::Order);
    }

    #[test]
    fn names_the_missing_or_bad_field() {
        for (field, mutate) in [
            (
                "id",
                Box::new(|v: &mut Value| {
                    v.as_object_mut().unwrap().remove("id");
                }) as Box<dyn Fn(&mut Value)>,
            ),
            (
                "userId",
                Box::new(|v: &mut Value| {
                    v["userId"] = Value::from(7);
                }),
            ),
            (
                "userId",
                Box::new(|v: &mut Value| {
                    v["userId"] = Value::from("a\nb");
                }),
            ),
            (
                "userId",
                Box::new(|v: &mut Value| {
                    v["userId"] = Value::from("x".repeat(257));
                }),
            ),
            (
                "id",
                Box::new(|v: &mut Value| {
                    v["id"] = Value::from("e".repeat(129));
                }),
            ),
            (
                "occurredAt",
                Box::new(|v: &mut Value| {
                    v["occurredAt"] = Value::from("yesterday");
                }),
            ),
            (
                "data",
                Box::new(|v: &mut Value| {
                    v["data"] = Value::from("x");
                }),
            ),
            (
                "data.orderId",
                Box::new(|v: &mut Value| {
                    v["data"].as_object_mut().unwrap().remove("orderId");
                }),
            ),
            (
                "type",
                Box::new(|v: &mut Value| {
                    v["type"] = Value::from("order.deleted");
                }),
            ),
            (
                "recipient.email",
                Box::new(|v: &mut Value| {
                    v["recipient"] = serde_json::json!({"email":"not an address"});
                }),
            ),
        ] {
            let mut v = valid();
            mutate(&mut v);
            let err = BusinessEvent::parse_public(&body(v)).unwrap_err();
            assert_eq!(err.field, field, "{err}");
        }
    }

    #[test]
    fn user_ids_from_identity_providers_are_accepted() {
        for user in [
            "auth0|64f1c2",
            "google-oauth2|1234",
            "alice@example.com",
            "a#b",
            "a/b",
            "ü",
            "x y",
        ] {
            let mut v = valid();
            v["userId"] = user.into();
            let e = BusinessEvent::parse_public(&body(v)).unwrap();
            assert_eq!(e.user_id, user);
        }
        let mut v = valid();
        v["userId"] = "é".repeat(256).into();
        assert!(BusinessEvent::parse_public(&body(v)).is_ok());
    }

    #[test]
    fn status_changed_needs_a_status() {
        let mut v = valid();
        v["type"] = "order.status_changed".into();
        let err = BusinessEvent::parse_public(&body(v)).unwrap_err();
        assert_eq!(err.field, "data.status");
    }

    #[test]
    fn refuses_bad_json_oversized_bodies_and_admin_types() {
        assert_eq!(
            BusinessEvent::parse_public(b"{nope").unwrap_err().field,
            "body"
        );
        assert_eq!(
            BusinessEvent::parse_public(b"[]").unwrap_err().field,
            "body"
        );
        let mut v = valid();
        v["data"]["blob"] = "x".repeat(MAX_EVENT_BYTES).into();
        assert!(
            BusinessEvent::parse_public(&body(v))
                .unwrap_err()
                .message
                .contains("limit")
        );
        let mut v = valid();
        v["type"] = "admin.message".into();
        v["data"] = serde_json::json!({"title":"t","message":"m"});
        assert_eq!(
            BusinessEvent::parse_public(&body(v.clone()))
                .unwrap_err()
                .field,
            "type"
        );
        assert!(BusinessEvent::parse(&body(v)).is_ok());
    }

    #[test]
    fn round_trips_through_json() {
        let e = BusinessEvent::parse(&body(valid())).unwrap();
        let again = BusinessEvent::parse(&serde_json::to_vec(&e).unwrap()).unwrap();
        assert_eq!(e, again);
    }
}
