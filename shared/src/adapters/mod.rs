//! One adapter per outside service, each implementing a port.

pub mod apigw;
pub mod aws;
pub mod dynamo;
pub mod ses;
pub mod sqs;
