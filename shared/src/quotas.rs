//! The capacity this design runs at: the limits it sets on itself (held equal
//! to infra/template.yaml by a test, and enforced by the local stack's
//! `--aws-quotas`) and AWS's default quotas it is built against.

/// Event source mapping `ScalingConfig.MaximumConcurrency` of the worker on the
/// events queue: order events never take more of the region's Lambda pool.
pub const EVENTS_MAX_CONCURRENCY: u32 = 50;
/// The same for the worker on the broadcast queue: one invocation per
/// directory shard at most, so a broadcast cannot starve order events.
pub const BROADCAST_MAX_CONCURRENCY: u32 = 32;
/// The same for the sender on the deliveries queue.
pub const DELIVERIES_MAX_CONCURRENCY: u32 = 100;
/// The deliveries queue's `maxReceiveCount`: the sender's fifth attempt at
/// a job is its last, and a failure then is final (logged, webhook sent).
pub const DELIVERIES_MAX_RECEIVES: u32 = 5;
/// SES's feedback: a few events per email, each one small write.
pub const FEEDBACK_MAX_CONCURRENCY: u32 = 10;
/// Webhooks to the shop: at most this many posts in flight per batch of
/// ten, so a backlog cannot flood the shop's endpoint or the region's pool.
pub const WEBHOOKS_MAX_CONCURRENCY: u32 = 10;

/// Reserved concurrency of the WebSocket functions: a backlog elsewhere can
/// never throttle `$connect`, and these can never take the whole pool.
pub const WS_CONNECT_RESERVED: u32 = 50;
pub const WS_DISCONNECT_RESERVED: u32 = 25;
pub const WS_MESSAGE_RESERVED: u32 = 50;

/// The user directory is split over this many partition keys, so a
/// broadcast reads them in parallel and no key takes every user's write.
pub const DIRECTORY_SHARDS: u32 = 32;
/// Users per broadcast page (one Query of a directory shard).
pub const BROADCAST_PAGE_SIZE: usize = 1000;

/// The table's warm throughput (write units/s) the template asks for: a new
/// on-demand table starts at 4,000; 40,000 is the default per-table quota.
pub const TABLE_WARM_WRITE_UNITS: u32 = 40_000;
/// Read units/s likewise (a new table starts at 12,000): a broadcast reads
/// about 2 units per user (preferences, connections) beside order events.
pub const TABLE_WARM_READ_UNITS: u32 = 40_000;

/// How often the web client pings: just under API Gateway's 10 minute idle timeout.
pub const CLIENT_PING_SECS: u64 = 9 * 60;

/// AWS's default quotas (per account and region unless said otherwise).
pub mod aws {
    /// API Gateway: requests/s shared by every management API call.
    pub const APIGW_RATE: f64 = 10_000.0;
    pub const APIGW_BURST: f64 = 5_000.0;
    /// API Gateway WebSocket: new connections per second.
    pub const APIGW_NEW_CONNECTIONS: f64 = 500.0;
    /// DynamoDB: per partition key.
    pub const PARTITION_WRU: f64 = 1_000.0;
    pub const PARTITION_RRU: f64 = 3_000.0;
    /// DynamoDB: a new on-demand table.
    pub const TABLE_WRU: f64 = 4_000.0;
    pub const TABLE_RRU: f64 = 12_000.0;
    /// Lambda: concurrent executions per region.
    pub const LAMBDA_CONCURRENCY: u32 = 1_000;
}

/// A token bucket: `rate` tokens a second up to `burst`, as AWS meters
/// request rates. For the local stack's emulation of AWS's quotas.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: std::time::Instant,
}

impl TokenBucket {
    /// Starts full.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst,
            tokens: burst,
            last: std::time::Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = std::time::Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
    }

    /// Whether `n` tokens are there now (nothing taken).
    pub fn has(&mut self, n: f64) -> bool {
        self.refill();
        // A cost above the burst passes once the bucket is full, as one
        // large item on an idle partition does.
        self.tokens >= n.min(self.burst)
    }

    pub fn take(&mut self, n: f64) {
        self.tokens -= n;
    }

    /// Takes `n` tokens if they are there.
    pub fn try_take(&mut self, n: f64) -> bool {
        let ok = self.has(n);
        if ok {
            self.take(n);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::TokenBucket;

    #[test]
    fn a_bucket_gives_its_burst_then_its_rate() {
        let mut b = TokenBucket::new(100.0, 10.0);
        assert_eq!((0..20).filter(|_| b.try_take(1.0)).count(), 10);
        std::thread::sleep(std::time::Duration::from_millis(50));
        let more = (0..20).filter(|_| b.try_take(1.0)).count();
        assert!(
            (4..=8).contains(&more),
            "{more} tokens after 50 ms at 100/s"
        );
    }
}
