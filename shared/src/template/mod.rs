//! Notification templates: built-in defaults for every type and channel,
//! overrides from the table, compiled once and rendered with minijinja.
//!
//! - `body`: what a template is, per channel, and a stored override;
//! - `defaults`: the built-in templates (files under `shared/templates/`,
//!   named in each type's spec) and sample events for previews;
//! - `render`: `Templates`, compiling the effective templates and rendering them;
//! - `validate`: the checks an override passes before it is stored;
//! - `sms_length`: GSM-7 / UCS-2 length and segments of an SMS.

mod body;
mod defaults;
mod render;
mod sms_length;
mod validate;

pub use body::{
    EmailTemplate, InAppTemplate, PushTemplate, SmsTemplate, TemplateBody, TemplateOverride,
};
pub use defaults::{default_template, sample_event};
pub use render::{RenderError, RenderedEmail, RenderedInApp, RenderedPush, Templates};
pub use sms_length::{MAX_SMS_SEGMENTS, SmsLength, sms_length};
pub use validate::{MAX_TEMPLATE_BYTES, validate_override};
