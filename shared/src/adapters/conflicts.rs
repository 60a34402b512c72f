//! The one retry policy for transactions cancelled by a conflict on the same
//! item (DynamoDB's TransactionConflict), used by the DynamoDB adapter and
//! by the embedded store's emulation of it.

use std::time::Duration;

/// Quick retries before a conflict is reported to the caller.
pub const RETRIES: u32 = 10;

/// The wait before retry `attempt` (1-based): exponential from 4 ms, capped
/// at 250 ms, with full jitter so that racing writers spread out instead of
/// colliding again in step.
pub fn backoff(attempt: u32) -> Duration {
    backoff_capped(attempt, 250)
}

/// [`backoff`] with another cap, in milliseconds.
pub fn backoff_capped(attempt: u32, cap_ms: u64) -> Duration {
    let cap = (4u64 << attempt.min(12)).min(cap_ms);
    let jitter = (ulid::Ulid::new().random() % u128::from(cap + 1)) as u64;
    Duration::from_millis(cap / 2 + jitter / 2)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..=super::RETRIES {
            let d = super::backoff(attempt).as_millis();
            assert!(d <= 250, "{attempt}: {d}");
            assert!(d >= ((4u128 << attempt.min(6)).min(250)) / 2);
        }
    }
}
