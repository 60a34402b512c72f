//! One isolated environment per test on the shared moto server: its own
//! table, queues (with dead-letter queues) and management API stand-in.

use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_lambda_events::apigw::{
    ApiGatewayProxyResponse, ApiGatewayV2httpRequest, ApiGatewayWebsocketProxyRequest,
};
use aws_lambda_events::http::{HeaderMap, HeaderValue, Method};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use shared::auth::{claims_for, sign_hs256};
use shared::{App, Config};

use crate::mgmt::Mgmt;
use crate::moto::{Moto, moto};
use crate::wait::wait_until;

pub const SECRET: &str = "test-secret";
pub const API_KEY: &str = "test-api-key";
pub const FROM: &str = "notify@shop.example";
/// Receives before SQS moves a message to the dead-letter queue.
pub const MAX_RECEIVES: i32 = 2;

pub struct Queue {
    pub url: String,
    pub dlq_url: String,
}

pub struct TestEnv {
    pub sdk: SdkConfig,
    pub config: Config,
    pub app: Arc<App>,
    pub mgmt: Mgmt,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub events: Queue,
    pub deliveries: Queue,
}

pub fn sdk_config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .http_client(shared::adapters::aws::sdk_http_client())
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests"),
        ))
        .build()
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

pub async fn create_table(dynamo: &aws_sdk_dynamodb::Client, name: &str) {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    dynamo
        .create_table()
        .table_name(name)
        .attribute_definitions(attr("PK"))
        .attribute_definitions(attr("SK"))
        .key_schema(key("PK", KeyType::Hash))
        .key_schema(key("SK", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table on moto");
}

/// How the test queues behave: SQS's visibility timeout and maxReceiveCount.
#[derive(Clone, Copy, Debug)]
pub struct QueueSettings {
    pub visibility_secs: u32,
    pub max_receives: i32,
}

impl Default for QueueSettings {
    /// Failed messages come back at once, so tests need not wait.
    fn default() -> Self {
        Self {
            visibility_secs: 0,
            max_receives: MAX_RECEIVES,
        }
    }
}

pub async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str, qs: QueueSettings) -> Queue {
    let dlq_url = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let url = sqs
        .create_queue()
        .queue_name(name)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            qs.visibility_secs.to_string(),
        )
        .attributes(
            QueueAttributeName::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": qs.max_receives})
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    Queue { url, dlq_url }
}

impl TestEnv {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// A new environment, with `tweak` applied to its configuration.
    pub async fn with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::with_queues(QueueSettings::default(), tweak).await
    }

    pub async fn with_queues(qs: QueueSettings, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::on(moto(), qs, tweak).await
    }

    /// An environment on the given moto server.
    pub async fn on(moto: &Moto, qs: QueueSettings, tweak: impl FnOnce(&mut Config)) -> Self {
        let sdk = sdk_config(&moto.endpoint());
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let table = unique("notify");
        create_table(&dynamo, &table).await;
        let events = create_queue(&sqs, &unique("events"), qs).await;
        let deliveries = create_queue(&sqs, &unique("deliveries"), qs).await;
        aws_sdk_sesv2::Client::new(&sdk)
            .create_email_identity()
            .email_identity(FROM)
            .send()
            .await
            .expect("verify the sender identity on moto");
        let mgmt = Mgmt::start().await;
        let mut config = Config {
            table_name: table,
            events_queue_url: Some(events.url.clone()),
            deliveries_queue_url: Some(deliveries.url.clone()),
            events_dlq_url: Some(events.dlq_url.clone()),
            deliveries_dlq_url: Some(deliveries.dlq_url.clone()),
            ws_endpoint: Some(mgmt.endpoint()),
            email_from: Some(FROM.into()),
            events_api_key: Some(API_KEY.into()),
            jwt_secret: Some(SECRET.into()),
            template_cache_ttl: std::time::Duration::ZERO,
            // moto runs concurrent TransactWriteItems unsafely (a failing one
            // restores a snapshot of the whole table over the others' writes),
            // so batches run one record at a time here; the local stack's tests
            // cover concurrency on a store that isolates transactions.
            batch_concurrency: 1,
            ..Config::default()
        };
        tweak(&mut config);
        let app = Arc::new(shared::adapters::aws::aws_app(config.clone(), &sdk));
        Self {
            sdk,
            config,
            app,
            mgmt,
            sqs,
            dynamo,
            events,
            deliveries,
        }
    }

    pub fn token(&self, user: &str) -> String {
        sign_hs256(SECRET, &claims_for(user, false, 600, &self.config))
    }

    pub fn admin_token(&self, user: &str) -> String {
        sign_hs256(SECRET, &claims_for(user, true, 600, &self.config))
    }

    /// Opens a connection the way a browser would, with `?token=`.
    pub async fn connect(&self, user: &str, connection_id: &str) -> ApiGatewayProxyResponse {
        let mut req = ws_request(connection_id, "$connect", None);
        req.query_string_parameters = [("token".to_owned(), self.token(user))]
            .into_iter()
            .collect::<std::collections::HashMap<_, _>>()
            .into();
        let resp = shared::handlers::ws_connect::handle(&self.app, req).await;
        assert_eq!(
            resp.status_code, 200,
            "connect {user}/{connection_id}: {:?}",
            resp.body
        );
        resp
    }

    /// Sends a client frame through the ws-message handler.
    pub async fn send_frame(&self, connection_id: &str, body: &str) -> ApiGatewayProxyResponse {
        shared::handlers::ws_message::handle(
            &self.app,
            ws_request(connection_id, "$default", Some(body)),
        )
        .await
    }

    /// Posts an event through the order-events handler with the right key.
    pub async fn post_event(
        &self,
        body: &serde_json::Value,
    ) -> aws_lambda_events::apigw::ApiGatewayV2httpResponse {
        shared::handlers::order_events::handle(
            &self.app,
            http_post("/events", &body.to_string(), Some(API_KEY)),
        )
        .await
    }

    /// Up to ten messages from a queue, as the Lambda event source would pass them.
    pub async fn receive(&self, url: &str) -> SqsEvent {
        let out = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive from moto");
        let mut event = SqsEvent::default();
        for m in out.messages.unwrap_or_default() {
            let mut msg = SqsMessage::default();
            msg.message_id = m.message_id;
            msg.receipt_handle = m.receipt_handle;
            msg.body = m.body;
            msg.attributes = m
                .attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.as_str().to_owned(), v))
                .collect();
            event.records.push(msg);
        }
        event
    }

    /// Deletes what the handler did not report as failed, as the event source mapping does.
    pub async fn ack(&self, url: &str, event: &SqsEvent, resp: &SqsBatchResponse) {
        for m in &event.records {
            let id = m.message_id.as_deref().unwrap_or_default();
            if resp
                .batch_item_failures
                .iter()
                .any(|f| f.item_identifier == id)
            {
                continue;
            }
            let res = self
                .sqs
                .delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle.as_deref().unwrap())
                .send()
                .await;
            // With a zero visibility timeout another poller may have received
            // the message again, which invalidates this receipt: it then
            // handles (and deletes) it, as after a visibility timeout in SQS.
            if let Err(e) = res {
                let invalid = e
                    .as_service_error()
                    .is_some_and(|e| e.is_receipt_handle_is_invalid());
                assert!(invalid, "delete failed: {e:?}");
            }
        }
    }

    /// One round of the worker over whatever is on the events queue.
    pub async fn run_worker(&self) -> (SqsEvent, SqsBatchResponse) {
        let event = self.receive(&self.events.url).await;
        let resp = shared::handlers::worker::handle(&self.app, event.clone()).await;
        self.ack(&self.events.url, &event, &resp).await;
        (event, resp)
    }

    /// One round of the sender over whatever is on the deliveries queue.
    pub async fn run_sender(&self) -> (SqsEvent, SqsBatchResponse) {
        let event = self.receive(&self.deliveries.url).await;
        let resp = shared::handlers::sender::handle(&self.app, event.clone()).await;
        self.ack(&self.deliveries.url, &event, &resp).await;
        (event, resp)
    }

    pub async fn queue_depth(&self, url: &str) -> usize {
        let attrs = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        let n = |k| {
            attrs
                .get(&k)
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
        };
        n(QueueAttributeName::ApproximateNumberOfMessages)
            + n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
    }
}

/// A WebSocket route event as API Gateway sends it.
pub fn ws_request(
    connection_id: &str,
    route: &str,
    body: Option<&str>,
) -> ApiGatewayWebsocketProxyRequest {
    let mut req = ApiGatewayWebsocketProxyRequest::default();
    req.request_context.connection_id = Some(connection_id.to_owned());
    req.request_context.route_key = Some(route.to_owned());
    req.request_context.event_type = Some(
        match route {
            "$connect" => "CONNECT",
            "$disconnect" => "DISCONNECT",
            _ => "MESSAGE",
        }
        .to_owned(),
    );
    req.request_context.stage = Some(crate::mgmt::STAGE.to_owned());
    req.request_context.domain_name = Some("localhost".to_owned());
    req.body = body.map(str::to_owned);
    req
}

/// An HTTP API (payload v2) POST request.
pub fn http_post(path: &str, body: &str, api_key: Option<&str>) -> ApiGatewayV2httpRequest {
    let mut req = ApiGatewayV2httpRequest::default();
    req.request_context.http.method = Method::POST;
    req.request_context.http.path = Some(path.to_owned());
    req.raw_path = Some(path.to_owned());
    req.route_key = Some(format!("POST {path}"));
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(k) = api_key {
        headers.insert("x-api-key", HeaderValue::from_str(k).unwrap());
    }
    req.headers = headers;
    req.body = Some(body.to_owned());
    req
}

/// A business event for `user` in the contract's shape.
pub fn order_event(id: &str, user: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "type": "order.created", "userId": user, "occurredAt": "2026-11-27T10:00:00Z",
        "data": {"orderId": "o_1", "total": "49.90", "currency": "EUR"}
    })
}

impl TestEnv {
    /// Calls the REST API router as the `api` function would.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = aws_lambda_events::http::Request::builder()
            .method(method)
            .uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let resp = shared::api::handle(&self.app, req.body(body).unwrap()).await;
        let status = resp.status().as_u16();
        let json = if resp.body().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(resp.body()).expect("API answers JSON")
        };
        (status, json)
    }

    /// Drains the events queue through the worker and the deliveries queue
    /// through the sender until both are empty.
    pub async fn settle(&self) {
        wait_until("the queues to settle", Duration::from_secs(30), || async {
            let (w, _) = self.run_worker().await;
            let (s, _) = self.run_sender().await;
            w.records.is_empty() && s.records.is_empty()
        })
        .await;
    }
}
