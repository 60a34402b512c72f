//! The built-in templates and sample events, from each type's spec
//! (`crate::event::specs`): the template sources are the files under
//! `shared/templates/<type>/`, included at build time.

use super::{EmailTemplate, InAppTemplate, PushTemplate, SmsTemplate, TemplateBody};
use crate::event::{BusinessEvent, EventType};
use crate::model::Channel;

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
        Channel::Push => TemplateBody::Push(PushTemplate {
            title: s(t.push.title),
            body: s(t.push.body),
            action_url: s(t.push.action_url),
        }),
    }
}

/// An event of `kind` carrying the type's sample data, for previews.
pub fn sample_event(kind: EventType) -> BusinessEvent {
    BusinessEvent {
        id: "evt_preview"
            .to_owned()
            .try_into()
            .expect("a valid event id"),
        kind,
        user_id: "preview".to_owned().try_into().expect("a valid user id"),
        occurred_at: chrono::Utc::now(),
        data: kind.sample_data(),
        recipient: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{Templates, validate_override};
    use serde_json::json;

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

    /// What the defaults were before they moved into `shared/templates/`,
    /// captured from the code that built them in Rust: for each type its
    /// schema, each default's source, and what it renders for the sample
    /// data and for the required fields alone. Sources and renderings must
    /// stay byte-identical; a deliberate change to a default (or a spec of
    /// the original five types) updates `testdata/defaults.json` with it.
    /// Types added later are not in the fixture.
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
                Channel::Push => json!(t.render_push(e).unwrap()),
            }
        }
        let expected: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(include_str!("testdata/defaults.json")).unwrap();
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
            // The push channel came later: not in the fixture.
            for ch in [Channel::InApp, Channel::Email, Channel::Sms] {
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
