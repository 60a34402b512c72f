//! Pushing one payload to every open device of a user.

use futures::future::join_all;

use crate::error::{PushError, StoreError};
use crate::model::Connection;
use crate::ports::{Connections, Pusher};
use crate::protocol::ServerMessage;

/// How a fan-out meets API Gateway's account throttle (429): tried again
/// after a jittered backoff up to `cap_ms`, `retries` times, then reported
/// failed (and left to a queued retry).
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    pub retries: u32,
    pub cap_ms: u64,
}

/// Order events: short waits, so they get through a broadcast that keeps
/// the account at its limit (about 2 s of tries in all).
pub const URGENT: Pace = Pace {
    retries: 40,
    cap_ms: 50,
};
/// Broadcasts: waits growing to 2 s (about 10 s of tries in all), so a
/// broadcast's many pushes spread themselves over what the account's rate
/// gives instead of retrying in step, and leave freed capacity to urgent
/// pushes first.
pub const BULK: Pace = Pace {
    retries: 14,
    cap_ms: 2000,
};

#[derive(Debug, Default)]
pub struct FanOut {
    pub delivered: Vec<String>,
    pub gone: Vec<String>,
    /// Refused as too large (413): never retried, logged as the bug it is.
    pub too_large: Vec<String>,
    pub failed: Vec<(String, PushError)>,
}

/// A user's devices: where their connections are kept and how to push.
#[derive(Clone, Copy)]
pub struct Devices<'a> {
    pub connections: &'a dyn Connections,
    pub pusher: &'a dyn Pusher,
}

impl Devices<'_> {
    /// Posts `payload` to every connection concurrently. A connection that
    /// answers 410 is removed (that one only); a throttled post (429: the
    /// account's request rate, shared by every push) is tried again after a
    /// jittered backoff, a few times; other failures are reported, not retried here.
    pub async fn fan_out(&self, connections: &[Connection], payload: &[u8]) -> FanOut {
        self.fan_out_paced(connections, payload, URGENT).await
    }

    /// [`Devices::fan_out`] at the given [`Pace`].
    pub async fn fan_out_paced(
        &self,
        connections: &[Connection],
        payload: &[u8],
        pace: Pace,
    ) -> FanOut {
        let posts = connections.iter().map(|c| async move {
            let mut attempt = 0;
            loop {
                match self.pusher.post(&c.connection_id, payload).await {
                    Err(PushError::Throttled(_)) if attempt < pace.retries => {
                        attempt += 1;
                        tokio::time::sleep(crate::adapters::conflicts::backoff_capped(
                            attempt,
                            pace.cap_ms,
                        ))
                        .await;
                    }
                    res => return (c.connection_id.clone(), res),
                }
            }
        });
        let mut out = FanOut::default();
        for (id, res) in join_all(posts).await {
            match res {
                Ok(()) => out.delivered.push(id),
                Err(PushError::Gone) => out.gone.push(id),
                Err(PushError::TooLarge(e)) => {
                    tracing::error!(connection_id = %id, bytes = payload.len(), error = %e, "API Gateway refused the message as too large; messages must stay under 128 KB");
                    out.too_large.push(id);
                }
                Err(e) => out.failed.push((id, e)),
            }
        }
        let removals = out.gone.iter().map(|id| async move {
            if let Err(e) = self.connections.remove_connection(id).await {
                tracing::warn!(connection_id = %id, error = %e, "could not remove a gone connection; its TTL will");
            }
        });
        join_all(removals).await;
        if !out.gone.is_empty() {
            tracing::info!(gone = ?out.gone, "removed connections that answered 410");
        }
        out
    }

    /// The user's live connections: rows past their expiry are ignored
    /// (DynamoDB TTL deletes them late) and removed.
    pub async fn live(&self, user_id: &str) -> Result<Vec<Connection>, StoreError> {
        let now = chrono::Utc::now().timestamp();
        let (live, stale): (Vec<_>, Vec<_>) = self
            .connections
            .connections_of(user_id)
            .await?
            .into_iter()
            .partition(|c| c.expires_at > now);
        for c in &stale {
            let _ = self.connections.remove_connection(&c.connection_id).await;
        }
        Ok(live)
    }

    /// Sends a message to every open connection of a user; failures are
    /// logged, gone connections removed. Best effort: the state is stored.
    pub async fn broadcast(&self, user_id: &str, message: &ServerMessage) {
        match self.live(user_id).await {
            Ok(conns) => {
                let out = self.fan_out(&conns, &message.to_bytes()).await;
                if !out.failed.is_empty() {
                    tracing::warn!(failed = ?out.failed, "broadcast did not reach every device");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not list connections for a broadcast"),
        }
    }
}
