//! A moto server for the tests: started once per test binary on a free port,
//! killed when the test process exits.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = moto_binary();
    let mut cmd = Command::new(&bin);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
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
            "cannot start moto server ({}): {e}. Install it with `python3 -m venv .venv && .venv/bin/pip install 'moto[server]'` \
             (scripts/test.sh does this), or set MOTO_SERVER or MOTO_ENDPOINT",
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

/// Polls until moto answers, failing loudly if it exits or takes too long.
fn wait_ready(addr: SocketAddr, mut child: Option<&mut Child>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((200, _)) = http(addr, "GET", "/moto-api/", "") {
            return;
        }
        if let Some(c) = child.as_deref_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            panic!("moto server exited before it was ready ({status})");
        }
        assert!(
            Instant::now() < deadline,
            "moto server at {addr} not ready after 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A minimal HTTP/1.0 exchange, enough for moto's own API.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Everything moto recorded (`GET /moto-api/data.json`).
pub fn moto_data() -> serde_json::Value {
    let (status, body) =
        http(moto().addr, "GET", "/moto-api/data.json", "").expect("moto data.json");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("moto data.json is JSON")
}
