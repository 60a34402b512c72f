//! Admins' template overrides: listing with previews, saving, resetting,
//! and rendering an unsaved draft.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::{StoreError, ValidationError};
use crate::event::EventType;
use crate::model::Channel;
use crate::ports::TemplateStore;
use crate::template::{
    RenderError, TemplateBody, TemplateOverride, Templates, sample_event, sms_length,
    validate_override,
};
use crate::usecases::catalog::TemplateCache;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No such type or channel, or no override to delete.
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One type and channel's effective template, as the console shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateView {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub channel: &'static str,
    #[serde(rename = "override")]
    pub is_override: bool,
    pub updated_at: Option<DateTime<Utc>>,
    pub template: TemplateBody,
    pub variables: &'static [&'static str],
    pub preview: Value,
}

/// What a draft renders for its type's sample data.
#[derive(Debug, Serialize)]
pub struct Preview {
    pub sample: Map<String, Value>,
    pub rendered: Value,
}

/// The type and channel named in a path, or NotFound.
pub fn target(kind: &str, channel: &str) -> Result<(EventType, Channel), TemplateError> {
    let k = EventType::parse(kind)
        .ok_or_else(|| TemplateError::NotFound(format!("no template type `{kind}`")))?;
    let c = Channel::parse(channel)
        .ok_or_else(|| TemplateError::NotFound(format!("no channel `{channel}`")))?;
    Ok((k, c))
}

/// Every type and channel, read fresh (not from the worker's cache: admins
/// see what they saved), each with its preview.
pub async fn list(store: &dyn TemplateStore) -> Result<Vec<TemplateView>, StoreError> {
    let overrides = store.template_overrides().await?;
    let compiled = Templates::compile(&overrides);
    let mut out = Vec::new();
    for kind in EventType::ALL {
        for channel in Channel::ALL {
            let (body, is_override) = compiled.effective(kind, channel);
            out.push(TemplateView {
                kind: kind.as_str(),
                channel: channel.as_str(),
                is_override,
                updated_at: overrides
                    .iter()
                    .find(|o| o.kind == kind && o.channel == channel)
                    .map(|o| o.updated_at),
                template: body.clone(),
                variables: kind.data_fields(),
                preview: rendered(&compiled, kind, channel),
            });
        }
    }
    Ok(out)
}

/// Validates and stores an override; the next notification uses it.
pub async fn save(
    store: &dyn TemplateStore,
    cache: &TemplateCache,
    (kind, channel): (EventType, Channel),
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<TemplateOverride, TemplateError> {
    let body = TemplateBody::parse(channel, body)?;
    validate_override(kind, &body)?;
    let o = TemplateOverride {
        kind,
        channel,
        body,
        updated_at: now,
    };
    store.put_template_override(&o).await?;
    cache.invalidate().await;
    Ok(o)
}

/// Back to the built-in default; NotFound if there was no override.
pub async fn reset(
    store: &dyn TemplateStore,
    cache: &TemplateCache,
    (kind, channel): (EventType, Channel),
) -> Result<(), TemplateError> {
    if !store.delete_template_override(kind, channel).await? {
        return Err(TemplateError::NotFound(format!(
            "no override for {}/{}; the built-in default is in use",
            kind.as_str(),
            channel.as_str()
        )));
    }
    cache.invalidate().await;
    Ok(())
}

/// Renders a draft that is not saved, for the console's editor: the same
/// checks as saving, and the result for the type's sample data.
pub fn preview(
    (kind, channel): (EventType, Channel),
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Preview, ValidationError> {
    let body = TemplateBody::parse(channel, body)?;
    validate_override(kind, &body)?;
    let templates = Templates::compile(&[TemplateOverride {
        kind,
        channel,
        body,
        updated_at: now,
    }]);
    Ok(Preview {
        sample: kind.sample_data(),
        rendered: rendered(&templates, kind, channel),
    })
}

/// What a template renders for its type's sample data, per channel.
fn rendered(templates: &Templates, kind: EventType, channel: Channel) -> Value {
    let event = sample_event(kind);
    let show =
        |r: Result<Value, RenderError>| r.unwrap_or_else(|e| json!({"error": e.to_string()}));
    match channel {
        Channel::InApp => show(templates.render_in_app(&event).map(|r| {
            json!({"title": r.title, "message": r.message, "actionUrl": r.action_url, "actionText": r.action_text, "priority": r.priority})
        })),
        Channel::Email => show(templates.render_email(&event).map(|r| json!(r))),
        Channel::Sms => show(
            templates
                .render_sms(&event)
                .map(|text| json!({"text": text, "length": sms_length(&text)})),
        ),
        Channel::Push => show(templates.render_push(&event).map(|r| json!(r))),
    }
}
