//! One spec per event type: its name, category, `data` fields, sample data
//! and default templates. Everything `EventType` knows about a type comes
//! from here.
//!
//! # Adding an event type
//!
//! 1. In `event.rs`, add a variant to `EventType` after the last one, with
//!    `#[serde(rename = "<name>")]`, e.g. `#[serde(rename = "order.refunded")]
//!    OrderRefunded,`.
//! 2. Add its `EventSpec` at the end of [`SPECS`] below (same position as the
//!    variant; a compile-time check holds the order). `EventType::ALL` and
//!    `EventType::BUSINESS` follow from the table.
//! 3. Add its default templates: one file per channel and field under
//!    `shared/templates/<name>/` (copy a folder; see its README), which
//!    `templates!("<name>")` includes at build time.
//! 4. Document it in `docs/openapi.yaml`: the `EventType` enum, and for a
//!    business type the `type` enums of `BusinessEvent` and of admin sends
//!    and the `data` description (no test derives these from the table).
//!
//! A unit test checks that every variant has a spec whose name is its serde
//! name, and that every default compiles, validates and renders.

use super::EventType;
use crate::model::Category;

/// Everything that makes one event type.
#[derive(Debug)]
pub struct EventSpec {
    pub kind: EventType,
    /// The type's name on the wire, in keys and in the templates folder;
    /// the same as the variant's serde name.
    pub name: &'static str,
    /// What preferences are set for.
    pub category: Category,
    /// Whether a shop backend may post it to `/events`; otherwise only the
    /// system itself creates it (an admin's send).
    pub business: bool,
    /// `data` fields an event must carry, each a non-empty string or a number.
    pub required: &'static [&'static str],
    /// Every `data` field templates may use: the required ones first, then
    /// the optional ones.
    pub fields: &'static [&'static str],
    /// `data` fields the in-app template turns into the notification's own
    /// fields (title, message, ...): they are dropped from the notification's
    /// `data`, and an event that has such fields is not held to
    /// `MAX_DATA_BYTES` (its text moves out of `data`).
    pub notification_fields: &'static [&'static str],
    /// Plausible `data` for template previews and validation: a JSON object.
    pub sample: &'static str,
    /// The built-in template sources, from `shared/templates/<name>/`.
    pub templates: DefaultTemplates,
}

/// The built-in template sources of one type, per channel and field.
#[derive(Debug)]
pub struct DefaultTemplates {
    /// The folder under `shared/templates/` they were read from.
    pub folder: &'static str,
    pub in_app: DefaultInApp,
    pub email: DefaultEmail,
    pub sms: DefaultSms,
    pub push: DefaultPush,
}

#[derive(Debug)]
pub struct DefaultInApp {
    pub title: &'static str,
    pub message: &'static str,
    pub action_url: &'static str,
    pub action_text: &'static str,
    pub priority: &'static str,
}

#[derive(Debug)]
pub struct DefaultEmail {
    pub subject: &'static str,
    pub text: &'static str,
    pub html: &'static str,
}

#[derive(Debug)]
pub struct DefaultSms {
    pub text: &'static str,
}

#[derive(Debug)]
pub struct DefaultPush {
    pub title: &'static str,
    pub body: &'static str,
    pub action_url: &'static str,
}

/// The default templates of the type named `$name`, from
/// `shared/templates/$name/<channel>.<field>.j2`, included at build time.
macro_rules! templates {
    ($name:literal) => {
        DefaultTemplates {
            folder: $name,
            in_app: DefaultInApp {
                title: templates!(@file $name, "in_app.title"),
                message: templates!(@file $name, "in_app.message"),
                action_url: templates!(@file $name, "in_app.actionUrl"),
                action_text: templates!(@file $name, "in_app.actionText"),
                priority: templates!(@file $name, "in_app.priority"),
            },
            email: DefaultEmail {
                subject: templates!(@file $name, "email.subject"),
                text: templates!(@file $name, "email.text"),
                html: templates!(@file $name, "email.html"),
            },
            sms: DefaultSms {
                text: templates!(@file $name, "sms.text"),
            },
            push: DefaultPush {
                title: templates!(@file $name, "push.title"),
                body: templates!(@file $name, "push.body"),
                action_url: templates!(@file $name, "push.actionUrl"),
            },
        }
    };
    (@file $name:literal, $field:literal) => {
        template_file(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/templates/",
            $name,
            "/",
            $field,
            ".j2"
        )))
    };
}

/// Every event type, in the order of `EventType`'s variants.
pub const SPECS: &[EventSpec] = &[
    EventSpec {
        kind: EventType::OrderCreated,
        name: "order.created",
        category: Category::Order,
        business: true,
        required: &["orderId"],
        fields: &["orderId", "total", "currency", "items", "customerName"],
        notification_fields: &[],
        sample: r#"{"orderId": "o_1042", "total": "49.90", "currency": "EUR", "customerName": "Alice"}"#,
        templates: templates!("order.created"),
    },
    EventSpec {
        kind: EventType::OrderStatusChanged,
        name: "order.status_changed",
        category: Category::Order,
        business: true,
        required: &["orderId", "status"],
        fields: &["orderId", "status", "previousStatus", "customerName"],
        notification_fields: &[],
        sample: r#"{"orderId": "o_1042", "status": "shipped", "previousStatus": "processing", "customerName": "Alice"}"#,
        templates: templates!("order.status_changed"),
    },
    EventSpec {
        kind: EventType::PaymentVerified,
        name: "payment.verified",
        category: Category::Payment,
        business: true,
        required: &["orderId"],
        fields: &[
            "orderId",
            "paymentId",
            "amount",
            "currency",
            "method",
            "customerName",
        ],
        notification_fields: &[],
        sample: r#"{"orderId": "o_1042", "paymentId": "p_77", "amount": "49.90", "currency": "EUR", "method": "card", "customerName": "Alice"}"#,
        templates: templates!("payment.verified"),
    },
    EventSpec {
        kind: EventType::PaymentFailed,
        name: "payment.failed",
        category: Category::Payment,
        business: true,
        required: &["orderId"],
        fields: &[
            "orderId",
            "paymentId",
            "amount",
            "currency",
            "reason",
            "customerName",
        ],
        notification_fields: &[],
        sample: r#"{"orderId": "o_1042", "paymentId": "p_77", "amount": "49.90", "currency": "EUR", "reason": "card declined", "customerName": "Alice"}"#,
        templates: templates!("payment.failed"),
    },
    EventSpec {
        kind: EventType::AdminMessage,
        name: "admin.message",
        category: Category::System,
        business: false,
        required: &["title", "message"],
        fields: &[
            "title",
            "message",
            "actionUrl",
            "actionText",
            "priority",
            "customerName",
        ],
        notification_fields: &["title", "message", "actionUrl", "actionText", "priority"],
        sample: r#"{"title": "Planned maintenance", "message": "The shop is read-only tonight from 2 to 3 am.", "priority": "normal"}"#,
        templates: templates!("admin.message"),
    },
];

/// A template file holds the template followed by one newline, which is
/// not part of it (so an email body whose template ends with a newline ends
/// with a blank line in its file).
const fn template_file(contents: &'static str) -> &'static str {
    match contents.as_bytes() {
        [template @ .., b'\n'] => match std::str::from_utf8(template) {
            Ok(t) => t,
            Err(_) => unreachable!(),
        },
        _ => panic!("a template file must end with a newline"),
    }
}

/// `EventType::ALL`: every kind, in table order.
pub(super) const fn all<const N: usize>() -> [EventType; N] {
    let mut out = [EventType::OrderCreated; N];
    let mut i = 0;
    while i < N {
        out[i] = SPECS[i].kind;
        i += 1;
    }
    out
}

/// How many types shop backends may post.
pub(super) const BUSINESS_COUNT: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < SPECS.len() {
        if SPECS[i].business {
            n += 1;
        }
        i += 1;
    }
    n
};

/// `EventType::BUSINESS`: the business kinds, in table order.
pub(super) const fn business<const N: usize>() -> [EventType; N] {
    let mut out = [EventType::OrderCreated; N];
    let (mut i, mut n) = (0, 0);
    while i < SPECS.len() {
        if SPECS[i].business {
            out[n] = SPECS[i].kind;
            n += 1;
        }
        i += 1;
    }
    assert!(n == N);
    out
}

// `EventType::spec` indexes the table by variant: the order must match.
const _: () = {
    let mut i = 0;
    while i < SPECS.len() {
        assert!(
            SPECS[i].kind as usize == i,
            "SPECS must list the event types in the order of EventType's variants"
        );
        i += 1;
    }
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::{self, Visitor};

    /// Asks serde's derived `Deserialize` for `EventType`'s variant names
    /// (its renames), in declaration order.
    fn serde_names() -> &'static [&'static str] {
        struct Names;
        #[derive(Debug)]
        struct Found(&'static [&'static str]);
        impl std::fmt::Display for Found {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{:?}", self.0)
            }
        }
        impl std::error::Error for Found {}
        impl de::Error for Found {
            fn custom<T: std::fmt::Display>(_: T) -> Self {
                Found(&[])
            }
        }
        impl<'de> de::Deserializer<'de> for Names {
            type Error = Found;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
                Err(Found(&[]))
            }
            fn deserialize_enum<V: Visitor<'de>>(
                self,
                _: &'static str,
                variants: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Found> {
                Err(Found(variants))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
                bytes byte_buf option unit unit_struct newtype_struct seq tuple
                tuple_struct map struct identifier ignored_any
            }
        }
        match <EventType as serde::Deserialize>::deserialize(Names) {
            Err(Found(names)) => names,
            Ok(_) => unreachable!(),
        }
    }

    #[test]
    fn every_variant_has_a_spec_named_as_serde_names_it() {
        let names: Vec<&str> = SPECS.iter().map(|s| s.name).collect();
        assert_eq!(names, serde_names());
        for spec in SPECS {
            assert_eq!(
                serde_json::to_value(spec.kind).unwrap(),
                spec.name,
                "{spec:?}"
            );
            assert_eq!(spec.kind.spec().name, spec.name);
        }
    }

    #[test]
    fn specs_are_consistent() {
        for spec in SPECS {
            assert_eq!(spec.templates.folder, spec.name, "templates!(name)");
            for f in spec.required.iter().chain(spec.notification_fields) {
                assert!(
                    spec.fields.contains(f),
                    "{}: `{f}` not in fields",
                    spec.name
                );
            }
            let sample: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(spec.sample)
                    .unwrap_or_else(|e| panic!("{}: sample is not a JSON object: {e}", spec.name));
            for f in spec.required {
                assert!(sample.contains_key(*f), "{}: sample lacks `{f}`", spec.name);
            }
            for f in sample.keys() {
                assert!(
                    spec.fields.contains(&f.as_str()),
                    "{}: sample has `{f}`, not in fields",
                    spec.name
                );
            }
        }
    }
}
