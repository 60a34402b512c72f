//! The local stack: the whole product in one process, on the same handler
//! code as the Lambda functions. It only carries events between handlers:
//! HTTP requests and WebSocket frames become API Gateway events, queued
//! messages become SQS batches.

mod consumer;
mod events;
mod gateway;
mod http;
mod tasks;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::adapters::embedded::{Embedded, EmbeddedQueue, OutboxMailer};
use shared::adapters::{apigw::ApiGatewayPusher, dynamo::DynamoStore, ses::SesMailer};
use shared::ports::{Mailer, Store};
use shared::{App, Config};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use gateway::Limits;

/// Development defaults; every one can be overridden by its environment variable.
pub const DEV_JWT_SECRET: &str = "local-dev-secret-not-for-production";
pub const DEV_EVENTS_API_KEY: &str = "local-dev-key";
pub const DEV_EMAIL_FROM: &str = "notify@localhost";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// redb in the data directory: durable, no outside service.
    Embedded,
    /// DynamoDB and SES through the AWS SDK (`AWS_ENDPOINT_URL`, e.g. moto).
    Aws,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub http: SocketAddr,
    pub ws: SocketAddr,
    pub data_dir: PathBuf,
    pub backend: Backend,
    pub config: Config,
    pub limits: Limits,
    /// How long a received message stays invisible before it is retried.
    pub visibility_timeout: Duration,
    /// Receives before a message is dead-lettered (SQS maxReceiveCount).
    pub max_receives: u32,
    /// `--aws-quotas [--quota-scale F]`: AWS's default quotas times F.
    pub quota_scale: Option<f64>,
    /// The new-connections quota's own scale (default: `quota_scale`), so a
    /// benchmark can set up its devices faster than the scaled rate.
    pub connect_quota_scale: Option<f64>,
    /// `--signed-pushes`: push through the real management API client
    /// (SigV4-signed `POST /@connections/{id}` to the gateway) instead of
    /// straight into its sockets.
    pub signed_pushes: bool,
}

impl Options {
    /// Ports 3000 and 3001 on 127.0.0.1, data in `.local/`, settings from the
    /// environment with the dev defaults filled in.
    pub fn from_env() -> Self {
        let mut config = Config::from_env();
        if config.jwt_secret.is_none() && config.jwt_public_key.is_none() {
            config.jwt_secret = Some(DEV_JWT_SECRET.into());
        }
        config
            .events_api_key
            .get_or_insert_with(|| DEV_EVENTS_API_KEY.into());
        config
            .email_from
            .get_or_insert_with(|| DEV_EMAIL_FROM.into());
        // Everything here is on loopback: let admins link to it over http.
        if std::env::var_os("ALLOW_LOOPBACK_HTTP_LINKS").is_none() {
            config.loopback_http_links = true;
        }
        Self {
            http: "127.0.0.1:3000".parse().expect("valid address"),
            ws: "127.0.0.1:3001".parse().expect("valid address"),
            data_dir: ".local".into(),
            backend: Backend::Embedded,
            config,
            limits: Limits::default(),
            visibility_timeout: Duration::from_secs(10),
            max_receives: 3,
            quota_scale: None,
            connect_quota_scale: None,
            signed_pushes: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the data directory: {0}")]
    Store(#[from] shared::error::StoreError),
    #[error("{0}")]
    Aws(String),
    #[error("{0}")]
    Config(String),
}

/// A running stack.
/// The emulated quotas' meters: what each limit refused.
#[derive(Clone)]
pub struct QuotaMeters {
    pub scale: f64,
    gateway: Arc<gateway::Gateway>,
    store: Option<Arc<shared::adapters::embedded::capacity::Capacity>>,
    /// Each queue's consumer concurrency, as the template's mapping limits scaled.
    pub concurrency: [(&'static str, usize); 5],
}

impl QuotaMeters {
    pub fn report(&self) -> serde_json::Value {
        let q = self.gateway.quotas.as_ref();
        let n = |a: Option<&std::sync::atomic::AtomicU64>| {
            a.map_or(0, |a| a.load(std::sync::atomic::Ordering::Relaxed))
        };
        let (wru, rru) = self.store.as_ref().map_or((0, 0), |c| c.consumed());
        serde_json::json!({
            "scale": self.scale,
            "throttled": {
                "managementApi": n(q.map(|q| &q.management_throttled)),
                "newConnections": n(q.map(|q| &q.connects_throttled)),
                "dynamodb": self.store.as_ref().map(|c| c.throttles()),
            },
            "consumed": {"writeUnits": wru, "readUnits": rru},
            "concurrency": self.concurrency.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
        })
    }
}

/// The local stack's VAPID key: `vapid.key` in the data directory, made
/// the first time.
fn local_vapid_key(data_dir: &std::path::Path) -> Result<String, StartError> {
    let path = data_dir.join("vapid.key");
    if let Ok(k) = std::fs::read_to_string(&path) {
        return Ok(k.trim().to_owned());
    }
    let key = shared::push::VapidKey::generate().private_base64url();
    std::fs::create_dir_all(data_dir)
        .and_then(|_| {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            // A private key: readable by this user only.
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?
                .write_all(format!("{key}\n").as_bytes())
        })
        .map_err(|e| {
            StartError::Config(format!(
                "cannot keep the VAPID key in {}: {e}",
                path.display()
            ))
        })?;
    Ok(key)
}

/// A mapping's MaximumConcurrency scaled, at least AWS's minimum of 2.
fn scaled_concurrency(max: u32, scale: f64) -> usize {
    ((f64::from(max) * scale).floor() as usize).max(2)
}

pub struct Running {
    pub http_addr: SocketAddr,
    pub ws_addr: SocketAddr,
    pub app: Arc<App>,
    pub events: EmbeddedQueue,
    pub broadcasts: EmbeddedQueue,
    pub deliveries: EmbeddedQueue,
    /// SES's feedback, as the mailbox simulator publishes it.
    pub feedback: EmbeddedQueue,
    /// Webhooks to `WEBHOOK_URL`.
    pub webhooks: EmbeddedQueue,
    pub outbox: Option<OutboxMailer>,
    pub started_in: Duration,
    pub quotas: Option<QuotaMeters>,
    gateway: Arc<gateway::Gateway>,
    embedded: Embedded,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    tracker: tasks::Tracker,
}

impl Running {
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.ws_addr)
    }

    /// Pushes that went through the signed management API
    /// (`--signed-pushes`) rather than straight into the sockets.
    pub fn signed_pushes_served(&self) -> u64 {
        self.gateway.management_posts()
    }

    pub fn open_connections(&self) -> usize {
        self.gateway.connection_count()
    }

    /// Closes every socket (1001), finishes in-flight work and releases the data directory.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        if !self.tracker.drained(Duration::from_secs(10)).await {
            tracing::warn!("some connections did not close within 10 s");
        }
        let Running {
            embedded,
            app,
            events,
            broadcasts,
            deliveries,
            feedback,
            webhooks,
            outbox,
            gateway,
            quotas,
            ..
        } = self;
        drop((app, events, broadcasts, deliveries, outbox, gateway, quotas));
        drop((feedback, webhooks));
        // Every task has ended; work they started off the async threads
        // (a store call whose caller was cancelled) may still hold the
        // database for a moment: wait for it to close, woken by the close.
        if !embedded.close(Duration::from_secs(10)).await {
            tracing::warn!("the database was still open 10 s after stop");
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

/// Deletes expired items from the embedded store now and every hour, as
/// DynamoDB's TTL does on AWS.
async fn purge_hourly(
    store: Option<shared::adapters::embedded::EmbeddedStore>,
    mut stop: watch::Receiver<bool>,
) {
    let Some(store) = store else { return };
    loop {
        match store.purge_expired(chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(items = n, "expired items purged"),
            Err(e) => tracing::warn!(error = %e, "could not purge expired items"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Credentials and region for the SDK clients that talk to the local
/// management API: it does not check signatures, but the SDK must sign.
pub fn local_sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .http_client(shared::adapters::aws::sdk_http_client())
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "local-stack"),
        ))
        .build()
}

/// With `--aws` against an emulator, create what the SAM template would.
async fn prepare_aws(sdk: &aws_config::SdkConfig, config: &Config) -> Result<(), StartError> {
    if sdk.endpoint_url().is_none() {
        return Ok(()); // A real account: the deployed stack owns its resources.
    }
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let db = aws_sdk_dynamodb::Client::new(sdk);
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("valid")
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .expect("valid")
    };
    let created = db
        .create_table()
        .table_name(&config.table_name)
        .attribute_definitions(attr("PK"))
        .attribute_definitions(attr("SK"))
        .key_schema(key("PK", KeyType::Hash))
        .key_schema(key("SK", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    if let Err(e) = created {
        let text = aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string();
        if !text.contains("ResourceInUse") && !text.contains("already exists") {
            return Err(StartError::Aws(format!(
                "create table {}: {text}",
                config.table_name
            )));
        }
    }
    if let Some(from) = &config.email_from {
        let _ = aws_sdk_sesv2::Client::new(sdk)
            .create_email_identity()
            .email_identity(from)
            .send()
            .await;
    }
    Ok(())
}

pub async fn start(mut opts: Options) -> Result<Running, StartError> {
    let began = Instant::now();
    let http_listener = bind(opts.http).await?;
    let ws_listener = bind(opts.ws).await?;
    let (http_addr, ws_addr) = (
        http_listener.local_addr().expect("bound"),
        ws_listener.local_addr().expect("bound"),
    );
    opts.config.ws_endpoint = Some(format!("http://{ws_addr}"));

    let embedded = Embedded::open(&opts.data_dir)?;
    let events = embedded.queue("events", opts.visibility_timeout, opts.max_receives)?;
    let deliveries = embedded.queue("deliveries", opts.visibility_timeout, opts.max_receives)?;
    // A broadcast page may run for most of the worker's 30 s: the template
    // gives its queue 180 s, so a page is not handed out again while it runs.
    let broadcasts = embedded.queue(
        "broadcast",
        opts.visibility_timeout.max(Duration::from_secs(180)),
        opts.max_receives,
    )?;
    // The local stack signs and posts webhooks itself.
    opts.config
        .check_webhooks(true)
        .map_err(|e| StartError::Config(e.to_string()))?;
    opts.config.deliveries_max_receives = opts.max_receives;
    let feedback = embedded.queue("feedback", opts.visibility_timeout, opts.max_receives)?;
    // One attempt per wait of the schedule and a last one; then the DLQ.
    let webhooks = embedded.queue(
        "webhooks",
        opts.visibility_timeout,
        opts.config.webhook_retry_schedule.len() as u32 + 1,
    )?;
    let capacity = opts.quota_scale.map(|scale| {
        use shared::quotas::{TABLE_WARM_READ_UNITS, TABLE_WARM_WRITE_UNITS};
        embedded.enforce_capacity(shared::adapters::embedded::capacity::Capacity::new(
            scale,
            f64::from(TABLE_WARM_WRITE_UNITS),
            f64::from(TABLE_WARM_READ_UNITS),
        ))
    });
    let local_sdk = local_sdk_config();
    // The embedded store has no TTL sweeper of its own: the stack purges.
    let mut purgeable = None;
    let (store, mailer, outbox): (Arc<dyn Store>, Arc<dyn Mailer>, Option<OutboxMailer>) =
        match opts.backend {
            Backend::Embedded => {
                let outbox = embedded.outbox(
                    opts.config.email_from.as_deref().unwrap_or(DEV_EMAIL_FROM),
                    &opts.data_dir.join("outbox"),
                );
                let store = embedded.store().with_retention(opts.config.retention);
                purgeable = Some(store.clone());
                (Arc::new(store), Arc::new(outbox.clone()), Some(outbox))
            }
            Backend::Aws => {
                let sdk = shared::adapters::aws::load_sdk_config().await;
                prepare_aws(&sdk, &opts.config).await?;
                (
                    Arc::new(
                        DynamoStore::new(
                            aws_sdk_dynamodb::Client::new(&sdk),
                            opts.config.table_name.clone(),
                        )
                        .with_retention(opts.config.retention),
                    ),
                    Arc::new(SesMailer::new(
                        aws_sdk_sesv2::Client::new(&sdk),
                        opts.config.email_from.clone(),
                    )),
                    None,
                )
            }
        };
    // SES's mailbox simulator: every email's feedback, a moment later.
    let mailer: Arc<dyn Mailer> =
        Arc::new(shared::adapters::mailbox_simulator::MailboxSimulator::new(
            mailer,
            Arc::new(feedback.clone()),
            opts.config.email_from.as_deref().unwrap_or(DEV_EMAIL_FROM),
        ));
    let direct = Arc::new(gateway::DirectPusher::default());
    let pusher: Arc<dyn shared::ports::Pusher> = if opts.signed_pushes {
        Arc::new(ApiGatewayPusher::new(
            &local_sdk,
            opts.config.ws_endpoint.as_deref(),
        ))
    } else {
        direct.clone()
    };
    let jwt_secret = opts.config.jwt_secret.clone();
    // SMS goes to the outbox beside email, whichever store is in use.
    let sms_outbox = embedded.outbox(
        opts.config.email_from.as_deref().unwrap_or(DEV_EMAIL_FROM),
        &opts.data_dir.join("outbox"),
    );
    // Web push: the key from VAPID_PRIVATE_KEY, or one made on the first
    // start and kept in the data directory (subscriptions outlive restarts
    // only if the key does).
    if opts.config.vapid_private_key.is_none() {
        opts.config.vapid_private_key = Some(local_vapid_key(&opts.data_dir)?);
    }
    // Push services want a contact; Apple's refuses a localhost one, so
    // locally (pushes to real browsers from a laptop) a neutral example.
    opts.config
        .vapid_subject
        .get_or_insert_with(|| "mailto:notify-local@example.com".into());
    let dead_letters = Arc::new(shared::adapters::embedded::EmbeddedDeadLetters {
        events: events.clone(),
        broadcast: broadcasts.clone(),
        deliveries: deliveries.clone(),
        feedback: feedback.clone(),
        webhooks: webhooks.clone(),
    });
    let push_client = shared::adapters::https::HttpsClient::new().map_err(StartError::Config)?;
    let mut app = App::new(
        opts.config.clone(),
        store,
        Arc::new(events.clone()),
        Arc::new(deliveries.clone()),
        pusher,
        mailer,
    )
    .with_sms(Arc::new(sms_outbox.clone()))
    .with_dead_letters(dead_letters)
    .with_broadcasts(Arc::new(broadcasts.clone()))
    .with_push_service(Arc::new(push_client));
    app.require_vapid()
        .map_err(|e| StartError::Config(e.to_string()))?;
    if let Some(url) = &opts.config.webhook_url {
        let url = shared::webhook::check_url(url, true).map_err(StartError::Config)?;
        let endpoint =
            shared::adapters::https::HttpWebhookEndpoint::new(url).map_err(StartError::Config)?;
        app = app
            .with_webhooks(Arc::new(webhooks.clone()))
            .with_webhook_endpoint(Arc::new(endpoint))
            .map_err(|e| StartError::Config(e.to_string()))?;
    }
    let app = Arc::new(app);
    let outbox = outbox.or(Some(sms_outbox));

    let (stop, stop_rx) = watch::channel(false);
    let tracker = tasks::Tracker::default();
    let gateway = gateway::Gateway::new(
        app.clone(),
        opts.limits,
        ws_addr.to_string(),
        stop_rx.clone(),
        tracker.clone(),
        opts.quota_scale
            .map(|f| gateway::Quotas::new(f, opts.connect_quota_scale.unwrap_or(f))),
    );
    direct.attach(&gateway);
    use shared::quotas::{
        BROADCAST_MAX_CONCURRENCY, DELIVERIES_MAX_CONCURRENCY, EVENTS_MAX_CONCURRENCY,
        FEEDBACK_MAX_CONCURRENCY, WEBHOOKS_MAX_CONCURRENCY,
    };
    // Without quotas, as fast as this machine goes; with them, the
    // template's mapping limits, scaled. Broadcast pages come one a batch.
    let concurrency = match opts.quota_scale {
        None => [
            ("events", consumer::CONCURRENCY),
            ("broadcast", 4),
            ("deliveries", consumer::CONCURRENCY),
            ("feedback", 2),
            ("webhooks", 2),
        ],
        Some(f) => [
            ("events", scaled_concurrency(EVENTS_MAX_CONCURRENCY, f)),
            (
                "broadcast",
                scaled_concurrency(BROADCAST_MAX_CONCURRENCY, f),
            ),
            (
                "deliveries",
                scaled_concurrency(DELIVERIES_MAX_CONCURRENCY, f),
            ),
            ("feedback", scaled_concurrency(FEEDBACK_MAX_CONCURRENCY, f)),
            ("webhooks", scaled_concurrency(WEBHOOKS_MAX_CONCURRENCY, f)),
        ],
    };
    let quotas = opts.quota_scale.map(|scale| QuotaMeters {
        scale,
        gateway: gateway.clone(),
        store: capacity.clone(),
        concurrency,
    });
    let site = Arc::new(http::Site {
        app: app.clone(),
        events: events.clone(),
        deliveries: deliveries.clone(),
        outbox: outbox.clone(),
        jwt_secret,
        ws_url: format!("ws://{ws_addr}"),
        quotas: quotas.clone(),
    });

    let worker_app = app.clone();
    let broadcast_app = app.clone();
    let sender_app = app.clone();
    let feedback_app = app.clone();
    let webhooks_app = app.clone();
    let purge_stop = stop_rx.clone();
    let mut tasks = vec![
        tokio::spawn(purge_hourly(purgeable, purge_stop)),
        tokio::spawn(gateway.clone().serve(ws_listener)),
        tokio::spawn(site.serve(http_listener, stop_rx.clone(), tracker.clone())),
        tokio::spawn(consumer::run(
            events.clone(),
            (concurrency[0].1, consumer::BATCH),
            tracker.clone(),
            move |e| {
                let app = worker_app.clone();
                async move { shared::handlers::worker::handle(&app, e).await }
            },
            stop_rx.clone(),
        )),
        tokio::spawn(consumer::run(
            broadcasts.clone(),
            (concurrency[1].1, 1),
            tracker.clone(),
            move |e| {
                let app = broadcast_app.clone();
                async move { shared::handlers::worker::handle(&app, e).await }
            },
            stop_rx.clone(),
        )),
        tokio::spawn(consumer::run(
            deliveries.clone(),
            (concurrency[2].1, consumer::BATCH),
            tracker.clone(),
            move |e| {
                let app = sender_app.clone();
                async move { shared::handlers::sender::handle(&app, e).await }
            },
            stop_rx.clone(),
        )),
        tokio::spawn(consumer::run(
            feedback.clone(),
            (concurrency[3].1, consumer::BATCH),
            tracker.clone(),
            move |e| {
                let app = feedback_app.clone();
                async move { shared::handlers::feedback::handle(&app, e).await }
            },
            stop_rx.clone(),
        )),
    ];
    // Webhooks wait on their queue until an endpoint is configured.
    if app.webhook_endpoint.is_some() {
        tasks.push(tokio::spawn(consumer::run(
            webhooks.clone(),
            (concurrency[4].1, consumer::BATCH),
            tracker.clone(),
            move |e| {
                let app = webhooks_app.clone();
                async move { shared::handlers::webhooks::handle(&app, e).await }
            },
            stop_rx,
        )));
    }
    Ok(Running {
        http_addr,
        ws_addr,
        app,
        events,
        broadcasts,
        deliveries,
        feedback,
        webhooks,
        outbox,
        started_in: began.elapsed(),
        quotas,
        gateway,
        embedded,
        stop,
        tasks,
        tracker,
    })
}
