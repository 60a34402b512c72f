//! Domain, use cases, ports and adapters of the notification system.
//!
//! The Lambda crates in `functions/` are thin: they build an [`app::App`] once
//! per cold start and hand every event to a function in [`handlers`]. The same
//! handlers serve the local stack and the tests.

pub mod adapters;
pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod event;
pub mod handlers;
pub mod ids;
pub mod jobs;
pub mod links;
pub mod model;
pub mod ports;
pub mod preferences;
pub mod protocol;
pub mod push;
pub mod quotas;
pub mod ses_events;
pub mod template;
#[cfg(feature = "embedded")]
pub mod testing;
pub mod usecases;
pub mod webhook;

pub use app::App;
pub use config::Config;

/// Re-exported so the function crates use exactly the event types the handlers take.
pub use aws_lambda_events;
