//! A moto server for the tests: started once per test binary on a free port,
//! killed when the test process exits.

use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::client::request;
use crate::wait::wait_until_blocking;

pub struct Moto {
    pub addr: SocketAddr,
    _child: Option<Child>,
}

impl Moto {
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

static MOTO: OnceLock<Moto> = OnceLock::new();

/// The shared moto server; `MOTO_ENDPOINT` uses one that is already running.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(|| match std::env::var("MOTO_ENDPOINT") {
        Ok(url) => {
            let addr = url
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .parse()
                .expect("MOTO_ENDPOINT is http://HOST:PORT");
            wait_ready(addr, None);
            Moto { addr, _child: None }
        }
        Err(_) => start(),
    })
}

fn moto_binary() -> PathBuf {
    if let Ok(p) = std::env::var("MOTO_SERVER") {
        return p.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    "moto_server".into()
}

fn start() -> Moto {
    let bin = moto_binary();
    spawn(
        &bin,
        |port| vec!["-H".into(), "127.0.0.1".into(), "-p".into(), port],
        Stdio::null(),
    )
}

static KEEP_ALIVE: OnceLock<Moto> = OnceLock::new();

/// A second moto that keeps connections open, as AWS's endpoints do:
/// moto's own server (werkzeug's) answers `Connection: close`, so a client
/// there opens a TCP connection per call, which a Lambda function on AWS
/// does not. Its app served by waitress (`scripts/moto_keepalive.py`), one
/// request at a time; for the CPU benchmark.
pub fn moto_keep_alive() -> &'static Moto {
    KEEP_ALIVE.get_or_init(|| {
        // MOTO_PYTHON, else the venv's python beside its moto_server.
        let python = std::env::var_os("MOTO_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let moto = moto_binary();
                match moto.parent().map(|dir| dir.join("python")) {
                    Some(p) if moto.is_absolute() && p.exists() => p,
                    _ => "python3".into(),
                }
            });
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/moto_keepalive.py");
        // Its errors (waitress or moto missing) on our stderr.
        spawn(
            &python,
            |port| vec![script.display().to_string(), port],
            Stdio::inherit(),
        )
    })
}

/// Starts `program` with `args(port)` on a free port and waits until it
/// answers as moto.
fn spawn(
    program: &std::path::Path,
    args: impl FnOnce(String) -> Vec<String>,
    stderr: Stdio,
) -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = program.to_path_buf();
    let mut cmd = Command::new(&bin);
    cmd.args(args(port.to_string()))
        .stdout(Stdio::null())
        .stderr(stderr);
    // SAFETY: prctl is async-signal-safe; it makes the kernel kill moto when
    // this test process dies, however it dies.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    // PDEATHSIG fires when the *thread* that spawned the child ends, and test
    // threads end early: spawn from a thread that lives as long as the process.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(cmd.spawn());
        loop {
            std::thread::park();
        }
    });
    let mut child = rx.recv().expect("moto spawner thread").unwrap_or_else(|e| {
        panic!(
            "cannot start moto server ({}): {e}. Install it with `python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements-test.txt` \
             (moto[server], and waitress for the keep-alive one; scripts/test.sh does this), or set MOTO_SERVER, MOTO_PYTHON or MOTO_ENDPOINT",
            bin.display()
        )
    });
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_ready(addr, Some(&mut child));
    Moto {
        addr,
        _child: Some(child),
    }
}

/// Waits until moto answers, failing loudly if it exits or takes too long.
fn wait_ready(addr: SocketAddr, mut child: Option<&mut Child>) {
    wait_until_blocking(
        &format!("moto server at {addr} to answer"),
        Duration::from_secs(60),
        || {
            if let Some(c) = child.as_deref_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!("moto server exited before it was ready ({status})");
            }
            matches!(request(addr, "GET", "/moto-api/", &[], None), Ok((200, _)))
        },
    );
}

/// Everything moto recorded (`GET /moto-api/data.json`). moto builds it by
/// walking every backend, which fails (500) when another test writes at the
/// same moment: asked again until it answers.
pub fn moto_data() -> serde_json::Value {
    let mut data = None;
    wait_until_blocking("moto's data.json", Duration::from_secs(30), || {
        match request(moto().addr, "GET", "/moto-api/data.json", &[], None) {
            Ok((200, body)) => data = Some(body),
            Ok((500, _)) => {}
            Ok((status, body)) => panic!("moto data.json: {status} {body}"),
            Err(e) => panic!("moto data.json: {e}"),
        }
        data.is_some()
    });
    serde_json::from_str(&data.unwrap()).expect("moto data.json is JSON")
}
