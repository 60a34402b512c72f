//! Building the SDK configuration and the AWS adapters a function uses.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};

use crate::adapters::disabled::Disabled;
use crate::adapters::{
    apigw::ApiGatewayPusher, dynamo::DynamoStore, ses::SesMailer, sqs::SqsQueue,
};
use crate::app::App;
use crate::config::Config;
use crate::ports::{Mailer, Pusher, Queue};

/// Loads region, credentials and `AWS_ENDPOINT_URL` the standard way.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// Which outside services a function talks to besides DynamoDB. A function
/// only links the SDK clients it names here.
#[derive(Clone, Copy, Debug, Default)]
pub struct Uses {
    pub events_queue: bool,
    pub deliveries_queue: bool,
    pub push: bool,
    pub email: bool,
    pub sms: bool,
    /// The dead-letter queues, for the admin console.
    pub dead_letters: bool,
    /// Verifies tokens: refuses to start without a JWT key.
    pub tokens: bool,
    /// Queues webhooks to the shop (when `WEBHOOK_URL` is set).
    pub webhooks: bool,
    /// Delivers them: the webhooks function.
    pub webhook_endpoint: bool,
    /// Sends web pushes (the sender): the push services' HTTPS client.
    pub web_push: bool,
}

impl Uses {
    pub const ALL: Uses = Uses {
        events_queue: true,
        deliveries_queue: true,
        push: true,
        email: true,
        sms: true,
        dead_letters: true,
        tokens: true,
        webhooks: true,
        webhook_endpoint: false,
        web_push: true,
    };
}

/// What every function's `main` does before `run`: structured logs (JSON
/// when the function's log format says so, at its log level), the SDK
/// configuration, the secrets, and the adapters `uses` names, built once per
/// cold start and kept for every invocation of this instance. A missing
/// secret or JWT key stops the cold start with the reason, rather than
/// failing every request later.
pub async fn start(uses: Uses) -> Result<&'static App, crate::config::ConfigError> {
    lambda_runtime::tracing::init_default_subscriber();
    tracing::debug!(?uses, "cold start: building the application");
    let sdk = load_sdk_config().await;
    let config = crate::adapters::secrets::resolve(Config::from_env(), &sdk).await?;
    // An http:// or malformed WEBHOOK_URL stops every function at once.
    config.check_webhooks(uses.webhook_endpoint)?;
    let mut app = aws_app_using(config, &sdk, uses);
    if uses.tokens {
        app.require_verifier()?;
    }
    if uses.webhook_endpoint {
        app = with_webhook_endpoint(app)?;
    }
    // A VAPID key that does not parse stops the cold start, with the reason.
    app.require_vapid()?;
    // Only with a key: loading the system's TLS roots is cold-start time
    // a sender without web push should not pay.
    if uses.web_push && app.vapid.is_some() {
        let client =
            crate::adapters::https::HttpsClient::new().map_err(crate::config::ConfigError)?;
        app = app.with_push_service(Arc::new(client));
    }
    Ok(Box::leak(Box::new(app)))
}

/// The shop's endpoint for the webhooks function: `WEBHOOK_URL` (checked),
/// signed with `WEBHOOK_SECRET`.
pub fn with_webhook_endpoint(app: App) -> Result<App, crate::config::ConfigError> {
    use crate::config::ConfigError;
    let url = Config::require(&app.config.webhook_url, "WEBHOOK_URL")?;
    let url =
        crate::webhook::check_url(url, app.config.loopback_http_links).map_err(ConfigError)?;
    let endpoint = crate::adapters::https::HttpWebhookEndpoint::new(url).map_err(ConfigError)?;
    if app.webhooks.is_none() {
        return Err(ConfigError("WEBHOOK_QUEUE_URL is not set".into()));
    }
    app.with_webhook_endpoint(Arc::new(endpoint))
}

/// The application on AWS adapters, with only the clients `uses` asks for.
#[inline]
pub fn aws_app_using(config: Config, sdk: &SdkConfig, uses: Uses) -> App {
    let store = Arc::new(
        DynamoStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            config.table_name.clone(),
        )
        .with_retention(config.retention),
    );
    let webhooks_on = (uses.webhooks || uses.webhook_endpoint) && config.webhook_url.is_some();
    let sqs = (uses.events_queue || uses.deliveries_queue || uses.dead_letters || webhooks_on)
        .then(|| aws_sdk_sqs::Client::new(sdk));
    let queue = |on: bool, url: &Option<String>, setting: &'static str| -> Arc<dyn Queue> {
        match (&sqs, on) {
            (Some(c), true) => Arc::new(SqsQueue::new(c.clone(), url.clone(), setting)),
            _ => Arc::new(Disabled(setting)),
        }
    };
    let events = queue(
        uses.events_queue,
        &config.events_queue_url,
        "EVENTS_QUEUE_URL",
    );
    let deliveries = queue(
        uses.deliveries_queue,
        &config.deliveries_queue_url,
        "DELIVERIES_QUEUE_URL",
    );
    let pusher: Arc<dyn Pusher> = if uses.push {
        Arc::new(ApiGatewayPusher::new(sdk, config.ws_endpoint.as_deref()))
    } else {
        Arc::new(Disabled("the management API"))
    };
    let mailer: Arc<dyn Mailer> = if uses.email {
        Arc::new(
            SesMailer::new(aws_sdk_sesv2::Client::new(sdk), config.email_from.clone())
                .with_configuration_set(config.ses_configuration_set.clone()),
        )
    } else {
        Arc::new(Disabled("email"))
    };
    let pairs = |q: &Option<String>, d: &Option<String>| q.clone().zip(d.clone());
    let dead_letters: Option<Arc<dyn crate::ports::DeadLetters>> = match (&sqs, uses.dead_letters) {
        (Some(c), true) => Some(Arc::new(
            crate::adapters::sqs::SqsDeadLetters::new(
                c.clone(),
                pairs(&config.events_queue_url, &config.events_dlq_url),
                pairs(&config.deliveries_queue_url, &config.deliveries_dlq_url),
            )
            .with_broadcast(pairs(
                &config.broadcast_queue_url,
                &config.broadcast_dlq_url,
            ))
            .with(
                crate::ports::QueueName::Feedback,
                pairs(&config.feedback_queue_url, &config.feedback_dlq_url),
            )
            .with(
                crate::ports::QueueName::Webhooks,
                pairs(&config.webhook_queue_url, &config.webhook_dlq_url),
            ),
        )),
        _ => None,
    };
    let sms = uses.sms.then(|| {
        Arc::new(crate::adapters::sns::SnsSms::new(aws_sdk_sns::Client::new(
            sdk,
        )))
    });
    let broadcasts = match (&sqs, uses.events_queue, &config.broadcast_queue_url) {
        (Some(c), true, Some(_)) => Some(Arc::new(SqsQueue::new(
            c.clone(),
            config.broadcast_queue_url.clone(),
            "BROADCAST_QUEUE_URL",
        ))),
        _ => None,
    };
    let webhooks = match (&sqs, webhooks_on) {
        (Some(c), true) => Some(Arc::new(SqsQueue::new(
            c.clone(),
            config.webhook_queue_url.clone(),
            "WEBHOOK_QUEUE_URL",
        ))),
        _ => None,
    };
    let mut app = App::new(config, store, events, deliveries, pusher, mailer);
    if let Some(w) = webhooks {
        app = app.with_webhooks(w);
    }
    if let Some(b) = broadcasts {
        app = app.with_broadcasts(b);
    }
    if let Some(s) = sms {
        app = app.with_sms(s);
    }
    if let Some(d) = dead_letters {
        app = app.with_dead_letters(d);
    }
    app
}

/// The whole application on AWS adapters.
pub fn aws_app(config: Config, sdk: &SdkConfig) -> App {
    aws_app_using(config, sdk, Uses::ALL)
}
