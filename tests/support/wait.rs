//! Waiting for something that happens in the background (a queue draining,
//! a file appearing, a server getting ready): poll, and fail the test at the
//! deadline saying what it was waiting for, never fall through silently.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is checked again.
pub const POLL: Duration = Duration::from_millis(20);

/// Checks `check` now and then every 20 ms until it returns `Some`, and
/// returns that value. Panics with "timed out after Xs waiting for <what>"
/// when `within` has passed, also when one check hangs past the deadline.
pub async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, check()).await {
            Ok(Some(value)) => return value,
            Ok(None) if Instant::now() < deadline => tokio::time::sleep(POLL).await,
            _ => timed_out(what, within),
        }
    }
}

/// [`wait_for`] with a yes/no condition: returns once `check` is true.
pub async fn wait_until<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for(what, within, || {
        let done = check();
        async move { done.await.then_some(()) }
    })
    .await
}

/// [`wait_until`] for code outside an async runtime (starting moto).
pub fn wait_until_blocking(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        if Instant::now() >= deadline {
            timed_out(what, within);
        }
        std::thread::sleep(POLL);
    }
}

fn timed_out(what: &str, within: Duration) -> ! {
    panic!(
        "timed out after {}s waiting for {what}",
        within.as_secs_f64()
    )
}
