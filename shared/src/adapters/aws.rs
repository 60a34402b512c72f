//! Building the SDK configuration and the AWS adapters a function uses.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};

use crate::adapters::disabled::Disabled;
use crate::adapters::dynamo::DynamoStore;
#[cfg(feature = "sqs")]
use crate::adapters::sqs::SqsQueue;
use crate::app::App;
use crate::config::{Config, ConfigError};
use crate::ports::{Mailer, Pusher, Queue};

/// Loads region, credentials and `AWS_ENDPOINT_URL` the standard way.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(sdk_http_client())
        .load()
        .await
}

/// The SDK's own hyper client, on rustls with ring rather than its default
/// aws-lc: one crypto stack for the SDK, our HTTPS client and the JWTs,
/// and no second C/assembly crypto library in the bootstraps. Built as the
/// SDK builds its default client (the configuration's timeouts, its sleep,
/// `HTTP(S)_PROXY` and `NO_PROXY`). Every SDK configuration (Lambda, the
/// local stack, the tests) is built with it.
pub fn sdk_http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = aws_smithy_http_client::Connector::builder()
            .tls_provider(Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
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
    /// Nothing but DynamoDB; a function's `main` names what it adds.
    pub const NONE: Uses = Uses {
        events_queue: false,
        deliveries_queue: false,
        push: false,
        email: false,
        sms: false,
        dead_letters: false,
        tokens: false,
        webhooks: false,
        webhook_endpoint: false,
        web_push: false,
    };

    /// The cargo feature of the shared crate a use needs and this build
    /// lacks, if any: a function's `Cargo.toml` must enable the clients
    /// its `main` asks for.
    pub const fn missing_feature(&self) -> Option<&'static str> {
        let sqs = self.events_queue
            || self.deliveries_queue
            || self.dead_letters
            || self.webhooks
            || self.webhook_endpoint;
        if sqs && !cfg!(feature = "sqs") {
            Some("sqs")
        } else if self.push && !cfg!(feature = "apigw") {
            Some("apigw")
        } else if self.email && !cfg!(feature = "ses") {
            Some("ses")
        } else if self.sms && !cfg!(feature = "sns") {
            Some("sns")
        } else if (self.web_push || self.webhook_endpoint) && !cfg!(feature = "https") {
            Some("https")
        } else {
            None
        }
    }

    /// For a `const` in a function's `main`: a build without a client the
    /// function uses fails to compile (a panic in a constant), rather than
    /// at its first cold start.
    pub const fn built(self) -> Self {
        if self.missing_feature().is_some() {
            panic!(
                "this function uses an AWS client its Cargo.toml does not enable (see shared's [features])"
            );
        }
        self
    }

    /// The same at run time, naming the feature.
    pub fn check_features(&self) -> Result<(), ConfigError> {
        match self.missing_feature() {
            Some(feature) => Err(ConfigError(format!(
                "this function is built without the shared crate's `{feature}` feature its main asks for"
            ))),
            None => Ok(()),
        }
    }

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
pub async fn start(uses: Uses) -> Result<&'static App, ConfigError> {
    crate::adapters::logs::init();
    tracing::debug!(?uses, "cold start: building the application");
    uses.check_features()?;
    let sdk = load_sdk_config().await;
    let config = resolve_secrets(Config::from_env(), &sdk).await?;
    // An http:// or malformed WEBHOOK_URL stops every function at once.
    config.check_webhooks(uses.webhook_endpoint)?;
    // Reassigned only with the `https` feature (webhooks, web push).
    #[allow(unused_mut)]
    let mut app = aws_app_using(config, &sdk, uses);
    if uses.tokens {
        app.require_verifier()?;
    }
    #[cfg(feature = "https")]
    if uses.webhook_endpoint {
        app = with_webhook_endpoint(app)?;
    }
    // A VAPID key that does not parse stops the cold start, with the reason.
    app.require_vapid()?;
    // Only with a key: loading the system's TLS roots is cold-start time
    // a sender without web push should not pay.
    #[cfg(feature = "https")]
    if uses.web_push && app.vapid.is_some() {
        let client = crate::adapters::https::HttpsClient::new().map_err(ConfigError)?;
        app = app.with_push_service(Arc::new(client));
    }
    Ok(Box::leak(Box::new(app)))
}

/// The `*_ARN` settings, read from Secrets Manager.
#[cfg(feature = "secrets")]
async fn resolve_secrets(config: Config, sdk: &SdkConfig) -> Result<Config, ConfigError> {
    crate::adapters::secrets::resolve(config, sdk).await
}

/// Built without Secrets Manager: a `*_ARN` setting this function would
/// need is refused rather than ignored.
#[cfg(not(feature = "secrets"))]
async fn resolve_secrets(config: Config, _sdk: &SdkConfig) -> Result<Config, ConfigError> {
    match config.secrets_wanted().first() {
        Some((_, _, name)) => Err(ConfigError(format!(
            "{name} is set but this function is built without Secrets Manager (the shared crate's `secrets` feature)"
        ))),
        None => Ok(config),
    }
}

/// The shop's endpoint for the webhooks function: `WEBHOOK_URL` (checked),
/// signed with `WEBHOOK_SECRET`.
#[cfg(feature = "https")]
pub fn with_webhook_endpoint(app: App) -> Result<App, ConfigError> {
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
    #[cfg(feature = "sqs")]
    let sqs = (uses.events_queue || uses.deliveries_queue || uses.dead_letters || webhooks_on)
        .then(|| aws_sdk_sqs::Client::new(sdk));
    #[cfg(feature = "sqs")]
    let sqs_queue =
        |on: bool, url: &Option<String>, setting: &'static str| -> Option<Arc<SqsQueue>> {
            match (&sqs, on) {
                (Some(c), true) => Some(Arc::new(SqsQueue::new(c.clone(), url.clone(), setting))),
                _ => None,
            }
        };
    #[cfg(not(feature = "sqs"))]
    let sqs_queue =
        |_: bool, _: &Option<String>, _: &'static str| -> Option<Arc<Disabled>> { None };
    let queue = |on: bool, url: &Option<String>, setting: &'static str| -> Arc<dyn Queue> {
        match sqs_queue(on, url, setting) {
            Some(q) => q,
            None => Arc::new(Disabled(setting)),
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
    let pusher: Arc<dyn Pusher> = match uses.push {
        #[cfg(feature = "apigw")]
        true => Arc::new(crate::adapters::apigw::ApiGatewayPusher::new(
            sdk,
            config.ws_endpoint.as_deref(),
        )),
        _ => Arc::new(Disabled("the management API")),
    };
    let mailer: Arc<dyn Mailer> = match uses.email {
        #[cfg(feature = "ses")]
        true => Arc::new(
            crate::adapters::ses::SesMailer::new(
                aws_sdk_sesv2::Client::new(sdk),
                config.email_from.clone(),
            )
            .with_configuration_set(config.ses_configuration_set.clone()),
        ),
        _ => Arc::new(Disabled("email")),
    };
    #[cfg(feature = "sqs")]
    let dead_letters: Option<Arc<dyn crate::ports::DeadLetters>> = match (&sqs, uses.dead_letters) {
        (Some(c), true) => {
            let pairs = |q: &Option<String>, d: &Option<String>| q.clone().zip(d.clone());
            Some(Arc::new(
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
            ))
        }
        _ => None,
    };
    #[cfg(not(feature = "sqs"))]
    let dead_letters: Option<Arc<dyn crate::ports::DeadLetters>> = None;
    let sms: Option<Arc<dyn crate::ports::SmsSender>> = match uses.sms {
        #[cfg(feature = "sns")]
        true => Some(Arc::new(crate::adapters::sns::SnsSms::new(
            aws_sdk_sns::Client::new(sdk),
        ))),
        _ => None,
    };
    let broadcasts = match &config.broadcast_queue_url {
        Some(_) => sqs_queue(
            uses.events_queue,
            &config.broadcast_queue_url,
            "BROADCAST_QUEUE_URL",
        ),
        None => None,
    };
    let webhooks = sqs_queue(webhooks_on, &config.webhook_queue_url, "WEBHOOK_QUEUE_URL");
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
