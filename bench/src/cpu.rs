//! CPU time per notification in the worker and the sender, the release
//! binaries as Lambda runs them (under the runtime API emulator, JSON logs
//! at INFO as deployed) against moto: what Lambda bills, without the time
//! spent waiting on moto or the network.

use std::path::Path;
use std::time::Duration;

use integration::{Moto, TestEnv, order_event};

use crate::coldstart::{self, Subject};

pub struct Cpu {
    pub events: usize,
    /// Microseconds of CPU per notification.
    pub worker_us: f64,
    pub sender_us: f64,
    /// Delivery jobs per notification (in-app and email here).
    pub jobs_per_event: f64,
    /// Invocations that reported a failed record (moto's occasional 500).
    pub failed: usize,
}

/// The SQS event Lambda would hand the function for these bodies.
fn sqs_event(bodies: impl IntoIterator<Item = String>) -> String {
    let records: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            serde_json::json!({
                "messageId": ulid::Ulid::new().to_string(), "receiptHandle": "r",
                "body": body, "attributes": {"ApproximateReceiveCount": "1"},
                "eventSource": "aws:sqs"
            })
        })
        .collect();
    serde_json::json!({ "Records": records }).to_string()
}

/// `batches` batches of ten order events for a user with two devices and an
/// email address through the worker, then the jobs it queued through the
/// sender; the first `warmup` invocations of each are not counted.
/// On `moto`: moto's own server, or the keep-alive one.
pub async fn run(bin_dir: &Path, moto: &Moto, batches: usize, warmup: usize) -> Cpu {
    let env = TestEnv::on(moto, Default::default(), |c| {
        c.template_cache_ttl = Duration::from_secs(30)
    })
    .await;
    env.connect("alice", "alice-laptop").await;
    env.connect("alice", "alice-phone").await;
    let base = vec![
        ("AWS_ENDPOINT_URL".to_owned(), moto.endpoint()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
        ("AWS_LAMBDA_LOG_LEVEL".into(), "INFO".into()),
        ("RUST_LOG".into(), "info".into()),
        ("TABLE_NAME".into(), env.config.table_name.clone()),
        ("EVENTS_QUEUE_URL".into(), env.events.url.clone()),
        ("DELIVERIES_QUEUE_URL".into(), env.deliveries.url.clone()),
        ("WS_ENDPOINT".into(), env.mgmt.endpoint()),
        ("EMAIL_FROM".into(), integration::FROM.into()),
    ];
    let subject = |name: &str| Subject {
        label: name.into(),
        program: bin_dir.join(name),
        args: vec![],
        env: base.clone(),
        event: String::new(),
        expect: "\"batchItemFailures\":[]".into(),
    };
    let worker_events: Vec<String> = (0..batches)
        .map(|b| {
            sqs_event((0..10).map(|i| {
                let mut e = order_event(&format!("evt_cpu_{b}_{i}_{}", ulid::Ulid::new()), "alice");
                e["recipient"] = serde_json::json!({"email": "alice@example.com"});
                let event = shared::event::BusinessEvent::parse_public(e.to_string().as_bytes())
                    .expect("a valid event");
                serde_json::to_string(&event).unwrap()
            }))
        })
        .collect();
    let (worker_ns, worker_failed) =
        coldstart::cpu(&subject("worker"), &worker_events, warmup).await;
    let counted_events = (batches - warmup) * 10;

    // What the worker queued, ten at a time as the event source mapping reads them.
    let mut sender_events = Vec::new();
    let mut jobs = Vec::new();
    loop {
        let e = env.receive(&env.deliveries.url).await;
        if e.records.is_empty() {
            break;
        }
        env.ack(&env.deliveries.url, &e, &Default::default()).await;
        jobs.push(e.records.len());
        sender_events.push(sqs_event(e.records.into_iter().filter_map(|r| r.body)));
    }
    let total_jobs: usize = jobs.iter().sum();
    let jobs_per_event = total_jobs as f64 / (batches * 10) as f64;
    assert!(
        jobs_per_event >= 1.9,
        "every event queued its in-app and email jobs ({total_jobs} jobs for {} events)",
        batches * 10
    );
    let sender_warmup = warmup.min(sender_events.len() / 4);
    let (sender_ns, sender_failed) =
        coldstart::cpu(&subject("sender"), &sender_events, sender_warmup).await;
    let counted_jobs: usize = jobs[sender_warmup..].iter().sum();
    assert!(
        env.mgmt.posts().len() >= total_jobs / 2,
        "the sender pushed to the devices"
    );
    Cpu {
        events: counted_events,
        worker_us: worker_ns as f64 / 1000.0 / counted_events as f64,
        sender_us: sender_ns as f64 / 1000.0 / (counted_jobs as f64 / jobs_per_event),
        jobs_per_event,
        failed: worker_failed + sender_failed,
    }
}
