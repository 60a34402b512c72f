//! What a test's own code logs through `tracing`, captured for assertions,
//! with other tests logging in other threads of the same process.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing::Dispatch;
use tracing::subscriber::{DefaultGuard, NoSubscriber};

/// Everything logged on this thread (at INFO and above) while it lives.
/// The test must run its code on this thread (`#[tokio::test]`'s default
/// current-thread runtime does).
pub struct Logs {
    buf: Arc<Mutex<Vec<u8>>>,
    _default: DefaultGuard,
    _second: Dispatch,
}

impl Logs {
    pub fn capture() -> Self {
        let buf: Arc<Mutex<Vec<u8>>> = Arc::default();
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Sink(sink.clone()))
            .with_ansi(false)
            .finish();
        // With a single thread-local subscriber registered, tracing decides
        // whether a log line is wanted from the thread that first reaches it
        // and caches the answer for every thread: a test on another thread
        // reaching it first (no subscriber there) would silence it here for
        // good. A second, inert subscriber makes tracing ask each one, so the
        // answer is "ask every time" and this thread's lines arrive.
        let second = Dispatch::new(NoSubscriber::default());
        Self {
            buf,
            _default: tracing::subscriber::set_default(subscriber),
            _second: second,
        }
    }

    /// The captured text so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
