//! Notification templates: built-in defaults for every type and channel,
//! overrides from the table, compiled once and rendered with minijinja.

use std::collections::{BTreeMap, HashSet};

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::event::{BusinessEvent, EventType};
use crate::model::{Channel, Priority};

/// Bounds the work one render may do, so a hostile template cannot spin.
const FUEL: u64 = 100_000;
/// Bounds a single template's source.
pub const MAX_TEMPLATE_BYTES: usize = 16 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InAppTemplate {
    pub title: String,
    pub message: String,
    #[serde(default)]
    pub action_url: String,
    #[serde(default)]
    pub action_text: String,
    /// Renders to low, normal, high or urgent.
    #[serde(default = "default_priority")]
    pub priority: String,
}

fn default_priority() -> String {
    "normal".into()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailTemplate {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SmsTemplate {
    /// Plain text; its length decides how many SMS segments it costs.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TemplateBody {
    InApp(InAppTemplate),
    Email(EmailTemplate),
    Sms(SmsTemplate),
}

impl TemplateBody {
    pub fn channel(&self) -> Channel {
        match self {
            TemplateBody::InApp(_) => Channel::InApp,
            TemplateBody::Email(_) => Channel::Email,
            TemplateBody::Sms(_) => Channel::Sms,
        }
    }

    /// (field name, source) pairs, in a fixed order.
    fn fields(&self) -> Vec<(&'static str, &str)> {
        match self {
            TemplateBody::InApp(t) => vec![
                ("title", &t.title),
                ("message", &t.message),
                ("actionUrl", &t.action_url),
                ("actionText", &t.action_text),
                ("priority", &t.priority),
            ],
            TemplateBody::Email(t) => {
                vec![
                    ("subject", &t.subject),
                    ("text", &t.text),
                    ("html", &t.html),
                ]
            }
            TemplateBody::Sms(t) => vec![("text", &t.text)],
        }
    }

    /// Parses a body for `channel`, refusing fields of the other channel.
    pub fn parse(channel: Channel, body: &[u8]) -> Result<Self, ValidationError> {
        let res = match channel {
            Channel::InApp => serde_json::from_slice(body).map(TemplateBody::InApp),
            Channel::Email => serde_json::from_slice(body).map(TemplateBody::Email),
            Channel::Sms => serde_json::from_slice(body).map(TemplateBody::Sms),
        };
        res.map_err(|e| ValidationError::new("body", e.to_string()))
    }
}

/// A template stored in the table, replacing the default of one type and channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateOverride {
    #[serde(rename = "type")]
    pub kind: EventType,
    pub channel: Channel,
    pub body: TemplateBody,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// The built-in template of a type and channel.
pub fn default_template(kind: EventType, channel: Channel) -> TemplateBody {
    let t = &kind.spec().templates;
    let s = |v: &str| v.to_owned();
    match channel {
        Channel::InApp => TemplateBody::InApp(InAppTemplate {
            title: s(t.in_app.title),
            message: s(t.in_app.message),
            action_url: s(t.in_app.action_url),
            action_text: s(t.in_app.action_text),
            priority: s(t.in_app.priority),
        }),
        Channel::Email => TemplateBody::Email(EmailTemplate {
            subject: s(t.email.subject),
            text: s(t.email.text),
            html: s(t.email.html),
        }),
        Channel::Sms => TemplateBody::Sms(SmsTemplate {
            text: s(t.sms.text),
        }),
    }
}

/// How many SMS segments a text costs: GSM-7 texts fit 160 characters in one
/// segment (153 each when split); anything else is UCS-2, 70 (67 when split).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsLength {
    pub encoding: &'static str,
    /// In the encoding's units: GSM-7 extension characters count twice.
    pub units: usize,
    pub segments: usize,
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION: &str = "^{}\\[~]|€\x0c";

pub fn sms_length(text: &str) -> SmsLength {
    let gsm = text
        .chars()
        .all(|c| GSM7_BASIC.contains(c) || GSM7_EXTENSION.contains(c));
    if gsm {
        let units: usize = text
            .chars()
            .map(|c| if GSM7_EXTENSION.contains(c) { 2 } else { 1 })
            .sum();
        let segments = if units <= 160 { 1 } else { units.div_ceil(153) };
        SmsLength {
            encoding: "GSM-7",
            units,
            segments,
        }
    } else {
        // UTF-16 code units: characters outside the BMP (emoji) take two.
        let units = text.encode_utf16().count();
        let segments = if units <= 70 { 1 } else { units.div_ceil(67) };
        SmsLength {
            encoding: "UCS-2",
            units,
            segments,
        }
    }
}

/// Longest SMS a template may render for its sample data.
pub const MAX_SMS_SEGMENTS: usize = 4;

/// What the in-app channel shows, rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedInApp {
    pub title: String,
    pub message: String,
    pub action_url: Option<String>,
    pub action_text: Option<String>,
    pub priority: Priority,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
#[error("template {name}: {source}")]
pub struct RenderError {
    pub name: String,
    #[source]
    pub source: minijinja::Error,
}

/// All effective templates compiled into one environment.
pub struct Templates {
    env: Environment<'static>,
    effective: BTreeMap<(EventType, Channel), (TemplateBody, bool)>,
}

fn new_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_fuel(Some(FUEL));
    // Only the HTML part of an email is markup; every other field is plain
    // text that clients must insert as text.
    env.set_auto_escape_callback(|name| {
        if name.ends_with("/html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env
}

fn template_name(kind: EventType, channel: Channel, field: &str) -> String {
    format!("{}/{}/{}", kind.as_str(), channel.as_str(), field)
}

impl Templates {
    /// Compiles the defaults with `overrides` on top. An override that no longer
    /// compiles (it was validated on write) falls back to the default, loudly.
    pub fn compile(overrides: &[TemplateOverride]) -> Self {
        let mut env = new_env();
        let mut effective = BTreeMap::new();
        for kind in EventType::ALL {
            for channel in Channel::ALL {
                let custom = overrides.iter().find(|o| {
                    o.kind == kind && o.channel == channel && o.body.channel() == channel
                });
                let mut chosen = custom.map(|o| (o.body.clone(), true));
                if let Some((body, _)) = &chosen
                    && let Err(e) = add_body(&mut env, kind, channel, body)
                {
                    tracing::error!(kind = kind.as_str(), channel = channel.as_str(), error = %e, "stored template override does not compile; using the default");
                    chosen = None;
                }
                let (body, is_override) =
                    chosen.unwrap_or_else(|| (default_template(kind, channel), false));
                if !is_override {
                    add_body(&mut env, kind, channel, &body)
                        .expect("built-in templates compile (unit tested)");
                }
                effective.insert((kind, channel), (body, is_override));
            }
        }
        Self { env, effective }
    }

    /// The effective template of a type and channel, and whether it is an override.
    pub fn effective(&self, kind: EventType, channel: Channel) -> (&TemplateBody, bool) {
        let (body, is_override) = &self.effective[&(kind, channel)];
        (body, *is_override)
    }

    fn render_field(
        &self,
        kind: EventType,
        channel: Channel,
        field: &str,
        ctx: &Value,
    ) -> Result<String, RenderError> {
        let name = template_name(kind, channel, field);
        let tmpl = self.env.get_template(&name).map_err(|source| RenderError {
            name: name.clone(),
            source,
        })?;
        tmpl.render(ctx)
            .map(|s| s.trim().to_owned())
            .map_err(|source| RenderError { name, source })
    }

    pub fn render_in_app(&self, event: &BusinessEvent) -> Result<RenderedInApp, RenderError> {
        let ctx = context(event);
        let r = |f| self.render_field(event.kind, Channel::InApp, f, &ctx);
        let non_empty = |s: String| if s.is_empty() { None } else { Some(s) };
        let priority_src = r("priority")?;
        let priority = Priority::parse(&priority_src).unwrap_or_else(|| {
            tracing::warn!(event_id = %event.id, rendered = %priority_src, "template priority is not low|normal|high|urgent; using normal");
            Priority::Normal
        });
        Ok(RenderedInApp {
            title: r("title")?,
            message: r("message")?,
            action_url: non_empty(r("actionUrl")?),
            action_text: non_empty(r("actionText")?),
            priority,
        })
    }

    pub fn render_sms(&self, event: &BusinessEvent) -> Result<String, RenderError> {
        // One line of plain text: newlines would only cost characters.
        let text = self.render_field(event.kind, Channel::Sms, "text", &context(event))?;
        Ok(text.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    pub fn render_email(&self, event: &BusinessEvent) -> Result<RenderedEmail, RenderError> {
        let ctx = context(event);
        let r = |f| self.render_field(event.kind, Channel::Email, f, &ctx);
        Ok(RenderedEmail {
            subject: r("subject")?.replace(['\r', '\n'], " "),
            text: r("text")?,
            html: r("html")?,
        })
    }
}

fn add_body(
    env: &mut Environment<'static>,
    kind: EventType,
    channel: Channel,
    body: &TemplateBody,
) -> Result<(), minijinja::Error> {
    for (field, src) in body.fields() {
        env.add_template_owned(template_name(kind, channel, field), src.to_owned())?;
    }
    Ok(())
}

/// The variables a template sees: the event's data fields at the top level,
/// plus `data`, `userId` and `event` (id, type, occurredAt).
fn context(event: &BusinessEvent) -> Value {
    let mut map: BTreeMap<String, Value> = event
        .data
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(minijinja::value::Serde(v))))
        .collect();
    map.insert(
        "data".into(),
        Value::from(minijinja::value::Serde(&event.data)),
    );
    map.insert("userId".into(), Value::from(event.user_id.clone()));
    map.insert(
        "event".into(),
        Value::from(minijinja::value::Serde(serde_json::json!({
            "id": event.id, "type": event.kind.as_str(), "occurredAt": event.occurred_at.to_rfc3339(),
        }))),
    );
    Value::from(map)
}

/// An event of `kind` carrying the type's sample data, for previews.
pub fn sample_event(kind: EventType) -> BusinessEvent {
    BusinessEvent {
        id: "evt_preview".into(),
        kind,
        user_id: "preview".into(),
        occurred_at: chrono::Utc::now(),
        data: kind.sample_data(),
        recipient: None,
    }
}

/// Checks an override before it is stored: every field compiles and uses only
/// variables that events of `kind` provide. The error names the field.
pub fn validate_override(kind: EventType, body: &TemplateBody) -> Result<(), ValidationError> {
    let mut allowed: HashSet<&str> = kind.data_fields().iter().copied().collect();
    allowed.extend(["data", "userId", "event"]);
    let env = new_env();
    // Built-in functions (range, dict, namespace) look like variables too.
    let globals: HashSet<String> = env.globals().map(|(k, _)| k.to_owned()).collect();
    allowed.extend(globals.iter().map(String::as_str));
    for (field, src) in body.fields() {
        if src.len() > MAX_TEMPLATE_BYTES {
            return Err(ValidationError::new(
                field,
                format!("is longer than {MAX_TEMPLATE_BYTES} bytes"),
            ));
        }
        let tmpl = env
            .template_from_str(src)
            .map_err(|e| ValidationError::new(field, format!("does not compile: {e}")))?;
        let mut unknown: Vec<String> = tmpl
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| !allowed.contains(v.as_str()))
            .collect();
        unknown.sort();
        if let Some(v) = unknown.first() {
            let mut known: Vec<&str> = kind.data_fields().to_vec();
            known.extend(["userId", "event", "data"]);
            return Err(ValidationError::new(
                field,
                format!(
                    "uses `{v}`, which {} events do not provide (available: {})",
                    kind.as_str(),
                    known.join(", ")
                ),
            ));
        }
    }
    if let TemplateBody::InApp(t) = body
        && t.title.trim().is_empty()
    {
        return Err(ValidationError::new("title", "must not be empty"));
    }
    if let TemplateBody::InApp(_) = body {
        // The link lands in an href on every device: render it with sample
        // data and hold it to the same rule as an admin's actionUrl (the
        // worker checks each rendered link again).
        let templates = Templates::compile(&[TemplateOverride {
            kind,
            channel: Channel::InApp,
            body: body.clone(),
            updated_at: chrono::Utc::now(),
        }]);
        let rendered = templates
            .render_in_app(&sample_event(kind))
            .map_err(|e| ValidationError::new("actionUrl", e.to_string()))?;
        if let Some(url) = rendered.action_url {
            crate::links::check_action_url("actionUrl", &url, false)?;
        }
    }
    if let TemplateBody::Sms(_) = body {
        // Render with sample data: the length is what a user would receive.
        let sample = sample_event(kind);
        let templates = Templates::compile(&[TemplateOverride {
            kind,
            channel: Channel::Sms,
            body: body.clone(),
            updated_at: chrono::Utc::now(),
        }]);
        let text = templates
            .render_sms(&sample)
            .map_err(|e| ValidationError::new("text", e.to_string()))?;
        let len = sms_length(&text);
        if len.segments > MAX_SMS_SEGMENTS {
            return Err(ValidationError::new(
                "text",
                format!(
                    "renders to {} {} units for sample data, {} segments; the limit is {MAX_SMS_SEGMENTS}",
                    len.units, len.encoding, len.segments
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, data: serde_json::Value) -> BusinessEvent {
        BusinessEvent::parse(
            json!({"id":"evt_1","type":kind,"userId":"u_1","occurredAt":"2026-11-27T10:00:00Z","data":data})
                .to_string()
                .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn every_default_compiles_and_validates() {
        let t = Templates::compile(&[]);
        for kind in EventType::ALL {
            for ch in Channel::ALL {
                let (body, is_override) = t.effective(kind, ch);
                assert!(!is_override);
                validate_override(kind, body).unwrap_or_else(|e| panic!("{kind:?}/{ch:?}: {e}"));
            }
        }
    }

    #[test]
    fn renders_order_created() {
        let t = Templates::compile(&[]);
        let e = event(
            "order.created",
            json!({"orderId":"o_1","total":"49.90","currency":"EUR"}),
        );
        let r = t.render_in_app(&e).unwrap();
        assert_eq!(r.title, "Order o_1 confirmed");
        assert!(r.message.contains("49.90 EUR"), "{}", r.message);
        assert_eq!(r.action_url.as_deref(), Some("/orders/o_1"));
        assert_eq!(r.priority, Priority::Normal);
        let m = t.render_email(&e).unwrap();
        assert_eq!(m.subject, "Your order o_1 is confirmed");
        assert!(m.html.starts_with("<p>Hello,</p>"), "{}", m.html);
    }

    #[test]
    fn status_drives_text_and_priority() {
        let t = Templates::compile(&[]);
        let r = t
            .render_in_app(&event(
                "order.status_changed",
                json!({"orderId":"o_1","status":"out_for_delivery"}),
            ))
            .unwrap();
        assert_eq!(r.title, "Order o_1 is out for delivery");
        let r = t
            .render_in_app(&event(
                "order.status_changed",
                json!({"orderId":"o_1","status":"cancelled"}),
            ))
            .unwrap();
        assert_eq!(r.priority, Priority::High);
        let r = t
            .render_in_app(&event(
                "payment.failed",
                json!({"orderId":"o_9","reason":"card declined"}),
            ))
            .unwrap();
        assert!(
            r.message
                .ends_with("card declined. Please try another payment method."),
            "{}",
            r.message
        );
        assert_eq!(r.priority, Priority::High);
    }

    #[test]
    fn user_values_are_text_never_code_and_html_is_escaped() {
        let t = Templates::compile(&[]);
        let e = event(
            "order.created",
            json!({"orderId":"{{ 7*7 }}<script>x</script>","customerName":"<b>Eve</b>"}),
        );
        let r = t.render_in_app(&e).unwrap();
        assert_eq!(r.title, "Order {{ 7*7 }}<script>x</script> confirmed");
        let m = t.render_email(&e).unwrap();
        assert!(
            m.html.contains("&lt;b&gt;Eve&lt;&#x2f;b&gt;")
                || m.html.contains("&lt;b&gt;Eve&lt;/b&gt;"),
            "{}",
            m.html
        );
        assert!(!m.html.contains("<script>"));
        assert!(m.text.contains("<b>Eve</b>"));
    }

    #[test]
    fn overrides_replace_defaults() {
        let o = TemplateOverride {
            kind: EventType::OrderCreated,
            channel: Channel::InApp,
            body: TemplateBody::InApp(InAppTemplate {
                title: "New order {{ orderId | upper }}".into(),
                message: "m".into(),
                action_url: String::new(),
                action_text: String::new(),
                priority: "urgent".into(),
            }),
            updated_at: chrono::Utc::now(),
        };
        let t = Templates::compile(&[o]);
        let r = t
            .render_in_app(&event("order.created", json!({"orderId":"o_1"})))
            .unwrap();
        assert_eq!(r.title, "New order O_1");
        assert_eq!(r.action_url, None);
        assert_eq!(r.priority, Priority::Urgent);
        assert!(t.effective(EventType::OrderCreated, Channel::InApp).1);
    }

    #[test]
    fn validation_names_the_field_and_the_variable() {
        let body = |title: &str| {
            TemplateBody::InApp(InAppTemplate {
                title: title.into(),
                message: "ok".into(),
                action_url: String::new(),
                action_text: String::new(),
                priority: "normal".into(),
            })
        };
        let link = |url: &str| {
            TemplateBody::InApp(InAppTemplate {
                title: "t".into(),
                message: "m".into(),
                action_url: url.into(),
                action_text: String::new(),
                priority: "normal".into(),
            })
        };
        for bad in [
            "javascript:alert({{ orderId }})",
            "//evil.example/{{ orderId }}",
        ] {
            let e = validate_override(EventType::OrderCreated, &link(bad)).unwrap_err();
            assert_eq!(e.field, "actionUrl", "{bad}");
        }
        validate_override(
            EventType::OrderCreated,
            &link("https://shop.example/o/{{ orderId }}"),
        )
        .unwrap();
        let e = validate_override(EventType::OrderCreated, &body("{% if %}")).unwrap_err();
        assert_eq!(e.field, "title");
        assert!(e.message.contains("does not compile"));
        let e = validate_override(EventType::OrderCreated, &body("{{ status }}")).unwrap_err();
        assert_eq!(e.field, "title");
        assert!(e.message.contains("`status`"), "{}", e.message);
        validate_override(EventType::OrderStatusChanged, &body("{{ status }}")).unwrap();
        // Built-in functions are not unknown variables.
        validate_override(
            EventType::OrderCreated,
            &body("{% for i in range(3) %}{{ i }}{% endfor %}"),
        )
        .unwrap();
    }

    #[test]
    fn sms_segments_follow_gsm7_and_ucs2_rules() {
        assert_eq!(
            sms_length(&"a".repeat(160)),
            SmsLength {
                encoding: "GSM-7",
                units: 160,
                segments: 1
            }
        );
        assert_eq!(sms_length(&"a".repeat(161)).segments, 2);
        assert_eq!(sms_length(&"a".repeat(306)).segments, 2);
        assert_eq!(sms_length(&"a".repeat(307)).segments, 3);
        assert_eq!(sms_length("€").units, 2, "extension characters count twice");
        assert_eq!(
            sms_length(&"ж".repeat(70)),
            SmsLength {
                encoding: "UCS-2",
                units: 70,
                segments: 1
            }
        );
        assert_eq!(sms_length(&"ж".repeat(71)).segments, 2);
        assert_eq!(sms_length("🎉").units, 2);
    }

    #[test]
    fn sms_defaults_fit_one_segment_and_long_overrides_are_refused() {
        let t = Templates::compile(&[]);
        for kind in EventType::ALL {
            let text = t.render_sms(&sample_event(kind)).unwrap();
            assert_eq!(sms_length(&text).segments, 1, "{kind:?}: {text}");
        }
        let long = TemplateBody::Sms(SmsTemplate {
            text: "x".repeat(700),
        });
        let e = validate_override(EventType::OrderCreated, &long).unwrap_err();
        assert_eq!(e.field, "text");
        assert!(e.message.contains("segments"), "{}", e.message);
    }

    #[test]
    fn a_runaway_template_runs_out_of_fuel() {
        let o = TemplateOverride {
            kind: EventType::OrderCreated,
            channel: Channel::InApp,
            body: TemplateBody::InApp(InAppTemplate {
                title: "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}".into(),
                message: "m".into(),
                action_url: String::new(),
                action_text: String::new(),
                priority: "normal".into(),
            }),
            updated_at: chrono::Utc::now(),
        };
        let t = Templates::compile(&[o]);
        assert!(
            t.render_in_app(&event("order.created", json!({"orderId":"o_1"})))
                .is_err()
        );
    }
    /// What the defaults were before they moved into `shared/templates/`,
    /// captured from the code that built them in Rust: for each type its
    /// schema, each default's source, and what it renders for the sample
    /// data and for the required fields alone. Sources and renderings must
    /// stay byte-identical.
    #[test]
    fn defaults_are_unchanged_byte_for_byte() {
        fn rendered(t: &Templates, e: &BusinessEvent, ch: Channel) -> serde_json::Value {
            match ch {
                Channel::InApp => {
                    let r = t.render_in_app(e).unwrap();
                    json!({"title": r.title, "message": r.message, "actionUrl": r.action_url, "actionText": r.action_text, "priority": r.priority})
                }
                Channel::Email => json!(t.render_email(e).unwrap()),
                Channel::Sms => json!({"text": t.render_sms(e).unwrap()}),
            }
        }
        let expected: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(include_str!("template/testdata/defaults.json")).unwrap();
        assert_eq!(
            expected.len(),
            5,
            "the fixture holds the five original types"
        );
        let t = Templates::compile(&[]);
        for (name, want) in &expected {
            let kind = EventType::parse(name).unwrap_or_else(|| panic!("{name} is gone"));
            let schema = json!({
                "category": kind.category(),
                "business": EventType::BUSINESS.contains(&kind),
                "required": kind.required_data(),
                "fields": kind.data_fields(),
                "sample": kind.sample_data(),
            });
            for key in ["category", "business", "required", "fields", "sample"] {
                assert_eq!(schema[key], want[key], "{name}: {key}");
            }
            let sample = sample_event(kind);
            let mut required_only = sample.clone();
            required_only
                .data
                .retain(|k, _| kind.required_data().contains(&k.as_str()));
            for ch in Channel::ALL {
                let want = &want["templates"][ch.as_str()];
                let source = serde_json::to_value(default_template(kind, ch)).unwrap();
                assert_eq!(source, want["source"], "{name}/{}: source", ch.as_str());
                assert_eq!(
                    rendered(&t, &sample, ch),
                    want["sample"],
                    "{name}/{}: rendered for the sample data",
                    ch.as_str()
                );
                assert_eq!(
                    rendered(&t, &required_only, ch),
                    want["required_only"],
                    "{name}/{}: rendered for the required fields only",
                    ch.as_str()
                );
            }
        }
    }
}
