//! One adapter per outside service, each implementing a port, and the
//! embedded ones the local stack runs on.

#[cfg(feature = "aws")]
pub mod apigw;
#[cfg(feature = "aws")]
pub mod aws;
pub mod conflicts;
pub mod disabled;
#[cfg(feature = "aws")]
pub mod dynamo;
#[cfg(feature = "embedded")]
pub mod embedded;
#[cfg(feature = "aws")]
pub mod https;
pub mod keys;
pub mod mailbox_simulator;
#[cfg(feature = "aws")]
pub mod secrets;
#[cfg(feature = "aws")]
pub mod ses;
#[cfg(feature = "aws")]
pub mod sns;
#[cfg(feature = "aws")]
pub mod sqs;
pub mod stats_buffer;
