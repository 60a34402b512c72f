//! The local stack as its own process: the `local` binary, for the tests that
//! kill it or give it its own environment.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The `local` binary: `LOCAL_BIN` if set, else `local` in the target
/// directory this test binary was built in (`target/debug/deps/suite-…` →
/// `target/debug/local`, whatever `CARGO_TARGET_DIR` is), as
/// tests/browser and scripts/test.sh find it. It is built first with
/// `cargo build -p local` (a no-op when it is fresh), so a test never runs
/// a stale one.
pub fn local_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("LOCAL_BIN") {
            let bin = PathBuf::from(bin);
            assert!(bin.is_file(), "LOCAL_BIN={} is not a file", bin.display());
            return bin;
        }
        let exe = std::env::current_exe().expect("the test binary's path");
        // target/<profile>/deps/<test binary>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary lives in <target>/<profile>/deps");
        let target_dir = profile_dir.parent().expect("<target>/<profile>");
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a profile directory name");
        let bin = profile_dir.join("local");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
        let mut cmd = Command::new(&cargo);
        cmd.args(["build", "--quiet", "-p", "local", "--bin", "local"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .env("CARGO_TARGET_DIR", target_dir);
        match profile {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        let built = cmd.status();
        assert!(
            bin.is_file(),
            "the local stack binary is not at {} and `cargo build -p local` could not build it \
             ({built:?}); build it yourself or set LOCAL_BIN to its path",
            bin.display()
        );
        if !matches!(built, Ok(s) if s.success()) {
            eprintln!(
                "warning: `cargo build -p local` failed ({built:?}); using the {} already there",
                bin.display()
            );
        }
        bin
    })
    .clone()
}

/// A `local` process on free ports, killed (SIGKILL) when dropped.
pub struct LocalProcess {
    child: Child,
    pub http_addr: SocketAddr,
    /// `ws://127.0.0.1:PORT`
    pub ws_url: String,
}

impl LocalProcess {
    /// Starts `local --http-port 0 --ws-port 0 --data-dir DIR ARGS…` with
    /// `envs` added to this process's environment, and waits (30 s at most)
    /// for the banner that says where it listens.
    pub async fn start(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let bin = local_binary();
        let mut child = Command::new(&bin)
            .args(["--http-port", "0", "--ws-port", "0", "--data-dir"])
            .arg(dir)
            .args(args)
            .env("RUST_LOG", "error")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        // The banner comes on stdout; errors on stderr, kept for the failure message.
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, rx) = tokio::sync::oneshot::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(out).lines();
            let (mut http, mut ws) = (None, None);
            let addr = |l: &str| {
                l.split("://")
                    .nth(1)
                    .map(|r| r.split(['/', ' ']).next().unwrap().to_owned())
            };
            for line in lines.by_ref() {
                let Ok(line) = line else { return };
                if line.contains("demo page") {
                    http = addr(&line);
                }
                if line.contains("WebSocket") {
                    ws = addr(&line);
                }
                if let (Some(h), Some(w)) = (&http, &ws) {
                    let _ = tx.send((h.clone(), w.clone()));
                    break;
                }
            }
            // Keep reading so the process never blocks on a full pipe.
            for _ in lines {}
        });
        let ready = tokio::time::timeout(Duration::from_secs(30), rx).await;
        let Ok(Ok((http, ws))) = ready else {
            let _ = child.kill();
            let status = child.wait();
            let _ = stderr_reader.join();
            panic!(
                "{} did not print where it listens within 30 s ({status:?}); stderr:\n{}",
                bin.display(),
                stderr.lock().unwrap()
            );
        };
        Self {
            child,
            http_addr: http.parse().expect("the HTTP address"),
            ws_url: format!("ws://{ws}"),
        }
    }

    /// SIGKILL, as a crash would; waits for the process to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LocalProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
