//! The admin routes: sends, templates and statistics.

use chrono::Utc;
use serde_json::{Value, json};

use super::{ApiError, Call};
use crate::event::EventType;
use crate::model::Channel;
use crate::ports::QueueName;
use crate::template::{
    TemplateBody, TemplateOverride, Templates, sample_event, sms_length, validate_override,
};
use crate::usecases::admin::{SendError, SendRequest, send as queue_send};
use crate::usecases::stats::{stats as load_stats, window};

type Out = Result<(u16, Option<Value>), ApiError>;

pub async fn send(call: &Call<'_>) -> Out {
    let req = SendRequest::parse(call.body, call.app.config.loopback_http_links)?;
    match queue_send(call.app, &req).await {
        Ok((id, recipients)) => Ok((
            202,
            Some(json!({"id": id, "recipients": recipients, "broadcast": recipients.is_none()})),
        )),
        Err(SendError::Queue(e)) => Err(ApiError::Unavailable(e.to_string())),
    }
}

fn type_and_channel(call: &Call) -> Result<(EventType, Channel), ApiError> {
    let kind = EventType::parse(&call.params[0])
        .ok_or_else(|| ApiError::NotFound(format!("no template type `{}`", call.params[0])))?;
    let channel = Channel::parse(&call.params[1])
        .ok_or_else(|| ApiError::NotFound(format!("no channel `{}`", call.params[1])))?;
    Ok((kind, channel))
}

/// What a template renders for its type's sample data, per channel.
fn rendered(templates: &Templates, kind: EventType, channel: Channel) -> Value {
    let event = sample_event(kind);
    let show = |r: Result<Value, crate::template::RenderError>| {
        r.unwrap_or_else(|e| json!({"error": e.to_string()}))
    };
    match channel {
        Channel::InApp => show(templates.render_in_app(&event).map(|r| {
            json!({"title": r.title, "message": r.message, "actionUrl": r.action_url, "actionText": r.action_text, "priority": r.priority})
        })),
        Channel::Email => show(templates.render_email(&event).map(|r| json!(r))),
        Channel::Sms => show(templates.render_sms(&event).map(|text| json!({"text": text, "length": sms_length(&text)}))),
    }
}

/// Renders a template that is not saved, for the console's editor: the same
/// checks as saving, and the result for the type's sample data.
pub async fn preview_template(call: &Call<'_>) -> Out {
    let (kind, channel) = type_and_channel(call)?;
    let body = TemplateBody::parse(channel, call.body)?;
    validate_override(kind, &body)?;
    let templates = Templates::compile(&[TemplateOverride {
        kind,
        channel,
        body,
        updated_at: Utc::now(),
    }]);
    Ok((
        200,
        Some(
            json!({"sample": kind.sample_data(), "rendered": rendered(&templates, kind, channel)}),
        ),
    ))
}

pub async fn dead_letters(call: &Call<'_>) -> Out {
    let mut queues = Vec::new();
    for q in [QueueName::Events, QueueName::Deliveries] {
        let (count, messages) = call
            .app
            .dead_letters
            .peek(q, 10)
            .await
            .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        queues.push(json!({"queue": q, "count": count, "messages": messages}));
    }
    Ok((200, Some(json!({"queues": queues}))))
}

pub async fn redrive(call: &Call<'_>) -> Out {
    let q = QueueName::parse(&call.params[0]).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no queue `{}`; use events or deliveries",
            call.params[0]
        ))
    })?;
    let r = call
        .app
        .dead_letters
        .redrive(q)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    tracing::info!(queue = ?q, moved = ?r.moved, task = ?r.task, "dead letters redriven");
    Ok((
        202,
        Some(json!({"queue": q, "moved": r.moved, "task": r.task})),
    ))
}

pub async fn list_templates(call: &Call<'_>) -> Out {
    // Read fresh, not from the worker's cache: admins see what they saved.
    let overrides = call.app.store.template_overrides().await?;
    let compiled = Templates::compile(&overrides);
    let mut out = Vec::new();
    for kind in EventType::ALL {
        for channel in Channel::ALL {
            let (body, is_override) = compiled.effective(kind, channel);
            let updated = overrides
                .iter()
                .find(|o| o.kind == kind && o.channel == channel)
                .map(|o| o.updated_at);
            out.push(json!({
                "type": kind.as_str(),
                "channel": channel.as_str(),
                "override": is_override,
                "updatedAt": updated,
                "template": body,
                "variables": kind.data_fields(),
                "preview": rendered(&compiled, kind, channel),
            }));
        }
    }
    Ok((200, Some(json!({"templates": out}))))
}

pub async fn put_template(call: &Call<'_>) -> Out {
    let (kind, channel) = type_and_channel(call)?;
    let body = TemplateBody::parse(channel, call.body)?;
    validate_override(kind, &body)?;
    let o = TemplateOverride {
        kind,
        channel,
        body,
        updated_at: Utc::now(),
    };
    call.app.store.put_template_override(&o).await?;
    call.app.templates.invalidate().await;
    Ok((200, Some(json!(o))))
}

pub async fn delete_template(call: &Call<'_>) -> Out {
    let (kind, channel) = type_and_channel(call)?;
    if call
        .app
        .store
        .delete_template_override(kind, channel)
        .await?
    {
        call.app.templates.invalidate().await;
        Ok((204, None))
    } else {
        Err(ApiError::NotFound(format!(
            "no override for {}/{}; the built-in default is in use",
            kind.as_str(),
            channel.as_str()
        )))
    }
}

pub async fn stats(call: &Call<'_>) -> Out {
    let (from, to) =
        window(call.query("from"), call.query("to"), Utc::now()).map_err(ApiError::from)?;
    let s = load_stats(call.app, from, to).await?;
    Ok((200, Some(json!(s))))
}
