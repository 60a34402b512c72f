//! Compiled templates, cached across warm invocations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::error::StoreError;
use crate::ports::TemplateStore;
use crate::template::Templates;

/// Overrides are read from the store at most once per `ttl`; an admin's
/// change takes effect within that time (default 30 s, `TEMPLATE_CACHE_SECONDS`).
pub struct TemplateCache {
    ttl: Duration,
    /// Held across the reload, so a batch of ten cold records reads the
    /// store once rather than ten times.
    slot: Mutex<Option<(Instant, Arc<Templates>)>>,
}

impl TemplateCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slot: Mutex::new(None),
        }
    }

    pub async fn get(&self, store: &dyn TemplateStore) -> Result<Arc<Templates>, StoreError> {
        let mut slot = self.slot.lock().await;
        if let Some((at, t)) = &*slot
            && (at.elapsed() < self.ttl)
        {
            return Ok(t.clone());
        }
        let compiled = Arc::new(Templates::compile(&store.template_overrides().await?));
        *slot = Some((Instant::now(), compiled.clone()));
        Ok(compiled)
    }

    /// Drops the cached set; the next `get` reads the store again.
    pub async fn invalidate(&self) {
        *self.slot.lock().await = None;
    }
}
