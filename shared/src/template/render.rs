//! Rendering: every effective template compiled into one minijinja
//! environment, rendered per channel for an event.

use std::collections::BTreeMap;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde::{Deserialize, Serialize};

use super::{TemplateBody, TemplateOverride, default_template};
use crate::event::{BusinessEvent, EventType};
use crate::model::{Channel, Priority};

/// Bounds the work one render may do, so a hostile template cannot spin.
const FUEL: u64 = 100_000;

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
#[serde(rename_all = "camelCase")]
pub struct RenderedPush {
    pub title: String,
    pub body: String,
    pub action_url: Option<String>,
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

pub(super) fn new_env() -> Environment<'static> {
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

    /// The web push's title, body and link (empty link: none).
    pub fn render_push(&self, event: &BusinessEvent) -> Result<RenderedPush, RenderError> {
        let ctx = context(event);
        let r = |f| self.render_field(event.kind, Channel::Push, f, &ctx);
        let url = r("actionUrl")?;
        Ok(RenderedPush {
            title: r("title")?,
            body: r("body")?,
            action_url: if url.is_empty() { None } else { Some(url) },
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
    map.insert("userId".into(), Value::from(event.user_id.to_string()));
    map.insert(
        "event".into(),
        Value::from(minijinja::value::Serde(serde_json::json!({
            "id": event.id, "type": event.kind.as_str(), "occurredAt": event.occurred_at.to_rfc3339(),
        }))),
    );
    Value::from(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::InAppTemplate;
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
}
