//! Every integration test in one binary, so the AWS SDK and the local stack
//! are linked once instead of once per file. Each file stays a module of its
//! own: `cargo test -p integration --test suite api::` runs one of them.
//!
//! Tests share this process: none may set environment variables, use fixed
//! ports or shared directories. The moto server is started once for all.

mod adapters;
mod api;
mod broadcast;
#[path = "../local/tests/crash.rs"]
mod crash;
mod feedback;
mod feedback_aws;
mod local_aws;
mod local_stack;
mod openapi;
mod order_events;
mod pipeline;
mod push;
mod quotas;
mod reliability;
mod sample_events;
mod sender;
mod sms_and_console;
mod store_dynamo;
mod store_embedded;
mod tokens;
mod usecases;
mod websocket;
