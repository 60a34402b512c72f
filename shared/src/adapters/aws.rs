//! Building the SDK configuration and every AWS adapter from it.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};

use crate::adapters::{
    apigw::ApiGatewayPusher, dynamo::DynamoStore, ses::SesMailer, sqs::SqsQueue,
};
use crate::app::App;
use crate::config::Config;

/// Loads region, credentials and `AWS_ENDPOINT_URL` the standard way.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// The whole application on AWS adapters.
pub fn aws_app(config: Config, sdk: &SdkConfig) -> App {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let store = Arc::new(DynamoStore::new(dynamo, config.table_name.clone()));
    let events = Arc::new(SqsQueue::new(
        sqs.clone(),
        config.events_queue_url.clone(),
        "EVENTS_QUEUE_URL",
    ));
    let deliveries = Arc::new(SqsQueue::new(
        sqs,
        config.deliveries_queue_url.clone(),
        "DELIVERIES_QUEUE_URL",
    ));
    let pusher = Arc::new(ApiGatewayPusher::new(sdk, config.ws_endpoint.as_deref()));
    let mailer = Arc::new(SesMailer::new(
        aws_sdk_sesv2::Client::new(sdk),
        config.email_from.clone(),
    ));
    App::new(config, store, events, deliveries, pusher, mailer)
}
