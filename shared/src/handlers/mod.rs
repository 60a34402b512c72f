//! Lambda event in, Lambda response out: the code every function's `main`
//! hands its events to, and that the local stack and tests call directly.

pub mod feedback;
mod http;
pub mod order_events;
pub mod sender;
mod sqs;
pub mod webhooks;
pub mod worker;
pub mod ws_connect;
pub mod ws_disconnect;
pub mod ws_message;

pub use http::{error_body, header};
