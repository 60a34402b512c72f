//! The admin routes: sends, templates, statistics and dead letters.

use serde_json::json;

use super::{ApiError, Call, Out, Reply};
use crate::ports::QueueName;
use crate::usecases::admin::{SendRequest, send as queue_send};
use crate::usecases::stats::{stats as load_stats, window};
use crate::usecases::templates;

pub async fn send(call: &Call<'_>) -> Out {
    let req = SendRequest::parse(call.body, call.app.config.loopback_http_links)?;
    let (id, recipients) =
        queue_send(call.app.events.as_ref(), call.app.broadcasts.as_ref(), &req).await?;
    Ok(Reply::accepted(
        json!({"id": id, "recipients": recipients, "broadcast": recipients.is_none()}),
    ))
}

fn target(call: &Call) -> Result<(crate::event::EventType, crate::model::Channel), ApiError> {
    Ok(templates::target(&call.params[0], &call.params[1])?)
}

pub async fn preview_template(call: &Call<'_>) -> Out {
    let p = templates::preview(target(call)?, call.body, call.app.clock.now())?;
    Ok(Reply::ok(p))
}

pub async fn list_templates(call: &Call<'_>) -> Out {
    let list = templates::list(call.app.store.as_ref()).await?;
    Ok(Reply::ok(json!({ "templates": list })))
}

pub async fn put_template(call: &Call<'_>) -> Out {
    let app = call.app;
    let o = templates::save(
        app.store.as_ref(),
        &app.templates,
        target(call)?,
        call.body,
        app.clock.now(),
    )
    .await?;
    Ok(Reply::ok(o))
}

pub async fn delete_template(call: &Call<'_>) -> Out {
    templates::reset(call.app.store.as_ref(), &call.app.templates, target(call)?).await?;
    Ok(Reply::no_content())
}

pub async fn stats(call: &Call<'_>) -> Out {
    let (from, to) = window(call.query("from"), call.query("to"), call.app.clock.now())?;
    Ok(Reply::ok(
        load_stats(call.app.store.as_ref(), from, to).await?,
    ))
}

pub async fn dead_letters(call: &Call<'_>) -> Out {
    let mut queues = Vec::new();
    for q in QueueName::ALL {
        if !call.app.dead_letters.has(q) {
            continue;
        }
        let (count, messages) = call.app.dead_letters.peek(q, 10).await?;
        queues.push(json!({"queue": q, "count": count, "messages": messages}));
    }
    Ok(Reply::ok(json!({ "queues": queues })))
}

pub async fn redrive(call: &Call<'_>) -> Out {
    let q = QueueName::parse(&call.params[0]).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no queue `{}`; use events, broadcast, deliveries, feedback or webhooks",
            call.params[0]
        ))
    })?;
    let r = call.app.dead_letters.redrive(q).await?;
    tracing::info!(queue = ?q, moved = ?r.moved, task = ?r.task, "dead letters redriven");
    Ok(Reply::accepted(
        json!({"queue": q, "moved": r.moved, "task": r.task}),
    ))
}

/// Any user's delivery log of one notification (`?userId=`: notifications
/// live under their user, and a broadcast's copies share one id).
pub async fn deliveries(call: &Call<'_>) -> Out {
    let id = super::user::id_param(call)?;
    let user = call
        .query("userId")
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| {
            crate::error::ValidationError::new(
                "userId",
                "is required: whose notification (a webhook's data.userId)",
            )
        })?;
    super::user::delivery_log(call, user, &id).await
}
