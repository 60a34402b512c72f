//! The application: configuration plus one implementation of every port.

use std::sync::Arc;

use crate::adapters::disabled::Disabled;
use crate::auth::JwtVerifier;
use crate::config::Config;
use crate::ports::{
    Clock, DeadLetters, Mailer, PushService, Pusher, Queue, SmsSender, Store, SystemClock,
    WebhookEndpoint,
};
use crate::usecases::catalog::TemplateCache;
use crate::usecases::deliver::Sender;
use crate::usecases::fanout::Devices;
use crate::usecases::process::Worker;

/// What stands for `VAPID_SUBJECT` where none is set (tests); the
/// functions refuse to start with a key and no subject.
pub const DEFAULT_VAPID_SUBJECT: &str = "mailto:webmaster@example.com";

/// Built once per cold start and shared by every invocation.
pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub events: Arc<dyn Queue>,
    /// Broadcast pages: their own queue and consumer, so a broadcast never
    /// queues ahead of order events (the events queue when not configured).
    pub broadcasts: Arc<dyn Queue>,
    pub deliveries: Arc<dyn Queue>,
    pub pusher: Arc<dyn Pusher>,
    pub mailer: Arc<dyn Mailer>,
    pub sms: Arc<dyn SmsSender>,
    /// Dead-letter queues, for the admin console's view and redrive.
    pub dead_letters: Arc<dyn DeadLetters>,
    /// `None` when no JWT key is configured; functions that verify tokens
    /// refuse to start without one (see [`App::require_verifier`]).
    pub verifier: Option<JwtVerifier>,
    pub templates: TemplateCache,
    pub clock: Arc<dyn Clock>,
    /// The webhook queue, when the shop has an endpoint (`WEBHOOK_URL`).
    pub webhooks: Option<Arc<dyn Queue>>,
    /// The shop's endpoint and the secret webhooks are signed with: the
    /// webhooks consumer's.
    pub webhook_endpoint: Option<Arc<dyn WebhookEndpoint>>,
    pub webhook_secret: Option<crate::webhook::WebhookSecret>,
    /// Browsers' push services (the sender's; disabled elsewhere).
    pub push_service: Arc<dyn PushService>,
    /// The VAPID key from `VAPID_PRIVATE_KEY`: `None` without one (or with
    /// one that does not parse: see [`App::require_vapid`]).
    pub vapid: Option<crate::push::VapidKey>,
}

impl App {
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
        events: Arc<dyn Queue>,
        deliveries: Arc<dyn Queue>,
        pusher: Arc<dyn Pusher>,
        mailer: Arc<dyn Mailer>,
    ) -> Self {
        let verifier = JwtVerifier::from_config(&config).ok();
        let vapid = config
            .vapid_private_key
            .as_deref()
            .and_then(|k| crate::push::VapidKey::from_base64url(k).ok());
        let templates = TemplateCache::new(config.template_cache_ttl);
        Self {
            config,
            store,
            broadcasts: events.clone(),
            events,
            deliveries,
            pusher,
            mailer,
            sms: Arc::new(Disabled("SMS")),
            dead_letters: Arc::new(Disabled("the dead-letter queues")),
            verifier,
            templates,
            clock: Arc::new(SystemClock),
            webhooks: None,
            webhook_endpoint: None,
            webhook_secret: None,
            push_service: Arc::new(Disabled("web push")),
            vapid,
        }
    }

    pub fn with_push_service(mut self, push: Arc<dyn PushService>) -> Self {
        self.push_service = push;
        self
    }

    /// Fails at start-up, with the reason, when `VAPID_PRIVATE_KEY` is set
    /// but unusable (web push would otherwise fail on every job), or
    /// without a real `VAPID_SUBJECT` (Apple's push service refuses a
    /// localhost contact).
    pub fn require_vapid(&self) -> Result<(), crate::config::ConfigError> {
        use crate::config::ConfigError;
        let Some(k) = &self.config.vapid_private_key else {
            return Ok(());
        };
        crate::push::VapidKey::from_base64url(k).map_err(ConfigError)?;
        match self.config.vapid_subject.as_deref() {
            Some(s)
                if (s.starts_with("mailto:") || s.starts_with("https://"))
                    && !s.contains("localhost") =>
            {
                Ok(())
            }
            Some(s) => Err(ConfigError(format!(
                "VAPID_SUBJECT `{s}`: a mailto: or https: contact push services accept (not localhost)"
            ))),
            None => Err(ConfigError(
                "VAPID_SUBJECT is required with VAPID_PRIVATE_KEY (mailto: or https:)".into(),
            )),
        }
    }

    /// Queues webhooks on `queue` (the shop has an endpoint).
    pub fn with_webhooks(mut self, queue: Arc<dyn Queue>) -> Self {
        self.webhooks = Some(queue);
        self
    }

    /// Delivers webhooks to `endpoint`, signed with `WEBHOOK_SECRET`.
    pub fn with_webhook_endpoint(
        mut self,
        endpoint: Arc<dyn WebhookEndpoint>,
    ) -> Result<Self, crate::config::ConfigError> {
        let secret = self
            .config
            .webhook_secret
            .as_deref()
            .ok_or_else(|| crate::config::ConfigError("WEBHOOK_SECRET is not set".into()))?;
        self.webhook_secret =
            Some(crate::webhook::WebhookSecret::parse(secret).map_err(crate::config::ConfigError)?);
        self.webhook_endpoint = Some(endpoint);
        Ok(self)
    }

    /// What the feedback consumer uses.
    pub fn feedback(&self) -> crate::usecases::feedback::Feedback<'_> {
        crate::usecases::feedback::Feedback {
            log: self.store.as_ref(),
            suppressions: self.store.as_ref(),
            webhooks: self.webhooks.as_deref(),
        }
    }

    /// What the webhooks consumer uses; `None` without an endpoint.
    pub fn webhook_sender(&self) -> Option<crate::usecases::webhooks::WebhookSender<'_>> {
        Some(crate::usecases::webhooks::WebhookSender {
            endpoint: self.webhook_endpoint.as_deref()?,
            secret: self.webhook_secret.as_ref()?,
            queue: self.webhooks.as_deref()?,
            clock: self.clock.as_ref(),
            schedule: &self.config.webhook_retry_schedule,
        })
    }

    pub fn with_broadcasts(mut self, broadcasts: Arc<dyn Queue>) -> Self {
        self.broadcasts = broadcasts;
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// What the worker uses.
    pub fn worker(&self) -> Worker<'_> {
        Worker {
            prefs: self.store.as_ref(),
            templates: &self.templates,
            template_store: self.store.as_ref(),
            claims: self.store.as_ref(),
            log: self.store.as_ref(),
            directory: self.store.as_ref(),
            deliveries: self.deliveries.as_ref(),
            broadcasts: self.broadcasts.as_ref(),
            stats: self.store.as_ref(),
            webhooks: self.webhooks.as_deref(),
            push_subscriptions: self.store.as_ref(),
            devices: self.devices(),
            clock: self.clock.as_ref(),
            broadcast_page_size: self.config.broadcast_page_size,
            loopback_http_links: self.config.loopback_http_links,
        }
    }

    /// What the sender uses.
    pub fn sender(&self) -> Sender<'_> {
        Sender {
            devices: self.devices(),
            mailer: self.mailer.as_ref(),
            sms: self.sms.as_ref(),
            log: self.store.as_ref(),
            suppressions: self.store.as_ref(),
            push_subscriptions: self.store.as_ref(),
            push: self.push_service.as_ref(),
            vapid: self.vapid.as_ref().map(|k| {
                (
                    k,
                    self.config
                        .vapid_subject
                        .as_deref()
                        .unwrap_or(DEFAULT_VAPID_SUBJECT),
                )
            }),
            loopback_http: self.config.loopback_http_links,
            retries: self.deliveries.as_ref(),
            webhooks: self.webhooks.as_deref(),
            clock: self.clock.as_ref(),
        }
    }

    /// The user's devices: connection rows and the push port.
    pub fn devices(&self) -> Devices<'_> {
        Devices {
            connections: self.store.as_ref(),
            pusher: self.pusher.as_ref(),
        }
    }

    pub fn with_sms(mut self, sms: Arc<dyn SmsSender>) -> Self {
        self.sms = sms;
        self
    }

    pub fn with_dead_letters(mut self, dead_letters: Arc<dyn DeadLetters>) -> Self {
        self.dead_letters = dead_letters;
        self
    }

    /// Fails at start-up, with the reason, when tokens cannot be verified.
    pub fn require_verifier(&self) -> Result<(), crate::config::ConfigError> {
        JwtVerifier::from_config(&self.config).map(|_| ())
    }
}
