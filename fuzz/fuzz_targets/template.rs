//! The template validator and renderer: any override source and any event
//! data are validated, compiled and rendered within the fuel budget, with no
//! panic and no unbounded work.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::event::{BusinessEvent, EventType};
use shared::model::Channel;
use shared::template::{InAppTemplate, TemplateBody, TemplateOverride, Templates, validate_override};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // First line: the template; the rest: a value for orderId.
    let (source, value) = text.split_once('\n').unwrap_or((&text, "o_1"));
    let body = TemplateBody::InApp(InAppTemplate {
        title: source.to_owned(),
        message: "{{ orderId }}".into(),
        action_url: String::new(),
        action_text: String::new(),
        priority: "normal".into(),
    });
    let _ = validate_override(EventType::OrderCreated, &body);
    let templates = Templates::compile(&[TemplateOverride { kind: EventType::OrderCreated, channel: Channel::InApp, body, updated_at: chrono_now() }]);
    let event = serde_json::json!({"id":"evt_f","type":"order.created","userId":"u","occurredAt":"2026-11-27T10:00:00Z","data":{"orderId": value}});
    if let Ok(e) = BusinessEvent::parse(event.to_string().as_bytes()) {
        let _ = templates.render_in_app(&e);
        let _ = templates.render_email(&e);
    }
});

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_796_032_800, 0).unwrap()
}
