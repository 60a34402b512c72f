//! One adapter per outside service, each implementing a port, and the
//! embedded ones the local stack runs on.

pub mod apigw;
pub mod aws;
pub mod disabled;
pub mod dynamo;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod keys;
pub mod ses;
pub mod sns;
pub mod sqs;
