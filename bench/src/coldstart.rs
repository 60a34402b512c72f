//! Cold start and warm invocations of a function binary under the runtime
//! API emulator, with SDK clients built and one real call to moto made.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::runtime::RuntimeApi;

#[derive(Clone)]
pub struct Subject {
    pub label: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub event: String,
    /// The answer must contain this, or the run is not counted as a success.
    pub expect: String,
}

fn command(s: &Subject, api: &RuntimeApi) -> Command {
    let mut c = Command::new(&s.program);
    c.args(&s.args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &s.label)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_FORMAT", "Text")
        .env("RUST_LOG", "error")
        .envs(s.env.iter().cloned())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    // BENCH_CHILD_LOGS=1 shows the function's logs (to see why it failed).
    if std::env::var_os("BENCH_CHILD_LOGS").is_none() {
        c.stdout(Stdio::null()).stderr(Stdio::null());
    }
    c
}

/// Milliseconds from exec to the first answer, `runs` times, a fresh process each.
pub async fn cold(s: &Subject, runs: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for _ in 0..runs {
        let mut api = RuntimeApi::start().await;
        let id = api.invoke(&s.event);
        let t0 = Instant::now();
        let mut child = command(s, &api)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", s.program.display()));
        let answer = tokio::time::timeout(Duration::from_secs(60), api.answers.recv())
            .await
            .expect("an answer within 60 s")
            .unwrap();
        assert!(
            answer.ok && answer.request_id == id && answer.body.contains(&s.expect),
            "{}: unexpected answer {:?}",
            s.label,
            answer.body
        );
        out.push((answer.at - t0).as_secs_f64() * 1000.0);
        let _ = child.kill().await;
    }
    out
}

/// `n` warm invocations of one process: their latencies and its peak RSS in KB.
pub async fn warm(s: &Subject, n: usize) -> (Vec<f64>, u64) {
    let mut api = RuntimeApi::start().await;
    let mut child = command(s, &api).spawn().expect("spawn");
    let pid = child.id().expect("pid");
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t0 = Instant::now();
        api.invoke(&s.event);
        let a = tokio::time::timeout(Duration::from_secs(30), api.answers.recv())
            .await
            .expect("answer")
            .unwrap();
        assert!(a.ok, "{}: {}", s.label, a.body);
        lat.push((a.at - t0).as_secs_f64() * 1000.0);
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let _ = child.kill().await;
    (lat, hwm)
}

/// CPU time of a process so far, in nanoseconds: user and system time of
/// all its threads, exited ones included (`/proc/<pid>/stat`, in clock
/// ticks of 10 ms), waiting on I/O excluded.
pub fn cpu_ns(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/stat: {e}"));
    // The command may hold spaces: fields count from after its ')'.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("a stat line") + 2..]
        .split_whitespace()
        .collect();
    let ticks = |i: usize| -> u64 { fields[i].parse().expect("a tick count") };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    (ticks(11) + ticks(12)) * 10_000_000
}

/// One warm process invoked once per event, in order: the CPU nanoseconds
/// it spent on the events after the first `warmup` (its cold start and
/// first calls excluded), and how many answers did not contain `s.expect`
/// (moto answers a 500 now and then; those are retried in production).
pub async fn cpu(s: &Subject, events: &[String], warmup: usize) -> (u64, usize) {
    let mut api = RuntimeApi::start().await;
    let mut child = command(s, &api).spawn().expect("spawn");
    let pid = child.id().expect("pid");
    let (mut start, mut failed) = (0, 0);
    for (i, event) in events.iter().enumerate() {
        if i == warmup {
            start = cpu_ns(pid);
        }
        api.invoke(event);
        let a = tokio::time::timeout(Duration::from_secs(30), api.answers.recv())
            .await
            .expect("answer")
            .unwrap();
        assert!(a.ok, "{}: the invocation failed: {}", s.label, a.body);
        if !a.body.contains(&s.expect) {
            eprintln!("{}: {}", s.label, a.body);
            failed += 1;
        }
    }
    let spent = cpu_ns(pid).saturating_sub(start);
    let _ = child.kill().await;
    (spent, failed)
}
