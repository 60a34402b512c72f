//! Compiled templates, cached across warm invocations.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::StoreError;
use crate::ports::Store;
use crate::template::Templates;

/// Overrides are read from the store at most once per `ttl`; an admin's
/// change takes effect within that time (default 30 s, `TEMPLATE_CACHE_SECONDS`).
pub struct TemplateCache {
    ttl: Duration,
    slot: Mutex<Option<(Instant, Arc<Templates>)>>,
}

impl TemplateCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slot: Mutex::new(None),
        }
    }

    pub async fn get(&self, store: &dyn Store) -> Result<Arc<Templates>, StoreError> {
        if let Some((at, t)) = &*self.slot.lock().expect("template cache lock")
            && at.elapsed() < self.ttl
        {
            return Ok(t.clone());
        }
        let overrides = store.template_overrides().await?;
        let compiled = Arc::new(Templates::compile(&overrides));
        *self.slot.lock().expect("template cache lock") = Some((Instant::now(), compiled.clone()));
        Ok(compiled)
    }

    /// Drops the cached set; the next `get` reads the store again.
    pub fn invalidate(&self) {
        *self.slot.lock().expect("template cache lock") = None;
    }
}
