//! Checks an override must pass before it is stored.

use std::collections::HashSet;

use super::render::new_env;
use super::sms_length::{MAX_SMS_SEGMENTS, sms_length};
use super::{TemplateBody, TemplateOverride, Templates, sample_event};
use crate::error::ValidationError;
use crate::event::EventType;
use crate::model::Channel;

/// Bounds a single template's source.
pub const MAX_TEMPLATE_BYTES: usize = 16 * 1024;

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
        check_rendered_link(
            templates
                .render_in_app(&sample_event(kind))
                .map(|r| r.action_url),
        )?;
    }
    if let TemplateBody::Push(t) = body {
        if t.title.trim().is_empty() {
            return Err(ValidationError::new("title", "must not be empty"));
        }
        // A click opens the link: the same rule as the in-app one.
        let templates = Templates::compile(&[TemplateOverride {
            kind,
            channel: Channel::Push,
            body: body.clone(),
            updated_at: chrono::Utc::now(),
        }]);
        check_rendered_link(
            templates
                .render_push(&sample_event(kind))
                .map(|r| r.action_url),
        )?;
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

/// A template's link, rendered for sample data, held to the rule for an
/// admin's actionUrl. Only the link is judged: another field that fails to
/// render for sample data is the worker's to report, not a reason to refuse.
fn check_rendered_link(
    rendered: Result<Option<String>, super::RenderError>,
) -> Result<(), ValidationError> {
    match rendered {
        Ok(Some(url)) => crate::links::check_action_url("actionUrl", &url, false),
        Ok(None) => Ok(()),
        Err(e) if e.name.ends_with("/actionUrl") => {
            Err(ValidationError::new("actionUrl", e.to_string()))
        }
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{InAppTemplate, SmsTemplate};

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
}
