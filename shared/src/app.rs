//! The application: configuration plus one implementation of every port.

use std::sync::Arc;

use crate::auth::JwtVerifier;
use crate::config::Config;
use crate::ports::{Mailer, Pusher, Queue, Store};
use crate::usecases::catalog::TemplateCache;

/// Built once per cold start and shared by every invocation.
pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub events: Arc<dyn Queue>,
    pub deliveries: Arc<dyn Queue>,
    pub pusher: Arc<dyn Pusher>,
    pub mailer: Arc<dyn Mailer>,
    /// `None` when no JWT key is configured; functions that verify tokens
    /// refuse to start without one (see [`App::require_verifier`]).
    pub verifier: Option<JwtVerifier>,
    pub templates: TemplateCache,
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
        let templates = TemplateCache::new(config.template_cache_ttl);
        Self {
            config,
            store,
            events,
            deliveries,
            pusher,
            mailer,
            verifier,
            templates,
        }
    }

    /// Fails at start-up, with the reason, when tokens cannot be verified.
    pub fn require_verifier(&self) -> Result<(), crate::config::ConfigError> {
        JwtVerifier::from_config(&self.config).map(|_| ())
    }
}
