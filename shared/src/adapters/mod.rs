//! One adapter per outside service, each implementing a port, and the
//! embedded ones the local stack runs on.

#[cfg(feature = "apigw")]
pub mod apigw;
#[cfg(feature = "dynamodb")]
pub mod aws;
pub mod conflicts;
pub mod disabled;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
#[cfg(feature = "embedded")]
pub mod embedded;
#[cfg(feature = "https")]
pub mod https;
pub mod keys;
#[cfg(feature = "dynamodb")]
pub mod logs;
pub mod mailbox_simulator;
#[cfg(feature = "secrets")]
pub mod secrets;
#[cfg(feature = "ses")]
pub mod ses;
#[cfg(feature = "sns")]
pub mod sns;
#[cfg(feature = "sqs")]
pub mod sqs;
pub mod stats_buffer;
