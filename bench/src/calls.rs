//! AWS calls per notification, counted on moto's request recorder: the
//! worker's and the sender's own calls (not the event source mapping's
//! ReceiveMessage/DeleteMessage, which Lambda makes).

use std::collections::BTreeMap;
use std::time::Duration;

use integration::client::request;
use integration::moto;
use integration::{TestEnv, order_event};

fn recorder(action: &str) {
    let (s, b) = request(
        moto().addr,
        "POST",
        &format!("/moto-api/recorder/{action}"),
        &[],
        None,
    )
    .expect("moto recorder");
    assert!(s == 200, "{action}: {s} {b}");
}

fn recording() -> BTreeMap<String, usize> {
    let (_, body) = request(
        moto().addr,
        "GET",
        "/moto-api/recorder/download-recording",
        &[],
        None,
    )
    .expect("download");
    let mut counts = BTreeMap::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let target = v["headers"]["X-Amz-Target"]
            .as_str()
            .or(v["headers"]["x-amz-target"].as_str());
        let name = match target {
            Some(t) => t
                .replace("DynamoDB_20120810.", "dynamodb:")
                .replace("AmazonSQS.", "sqs:"),
            None if v["url"]
                .as_str()
                .unwrap_or_default()
                .contains("/v2/email/outbound-emails") =>
            {
                "sesv2:SendEmail".into()
            }
            None => format!("other:{}", v["url"].as_str().unwrap_or_default()),
        };
        *counts.entry(name).or_default() += 1;
    }
    counts
}

pub struct Calls {
    pub events: usize,
    pub worker: BTreeMap<String, usize>,
    pub sender: BTreeMap<String, usize>,
}

pub async fn run(events: usize) -> Calls {
    // Templates cached as in production: the cache is part of what we measure.
    // The ten records of a batch at once, as deployed (the test suite runs
    // moto one record at a time; these events never conflict).
    let env = TestEnv::with(|c| {
        c.template_cache_ttl = Duration::from_secs(30);
        c.batch_concurrency = 10;
    })
    .await;
    env.connect("alice", "alice-laptop").await;
    env.connect("alice", "alice-phone").await;
    for i in 0..events {
        let mut e = order_event(&format!("evt_calls_{i}"), "alice");
        e["recipient"] = serde_json::json!({"email": "alice@example.com"});
        assert_eq!(env.post_event(&e).await.status_code, 202);
    }
    let not_esm = |m: BTreeMap<String, usize>| -> BTreeMap<String, usize> {
        m.into_iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "sqs:ReceiveMessage" | "sqs:DeleteMessage" | "sqs:GetQueueAttributes"
                )
            })
            .collect()
    };
    recorder("reset-recording");
    recorder("start-recording");
    while !env.run_worker().await.0.records.is_empty() {}
    recorder("stop-recording");
    let worker = not_esm(recording());
    recorder("reset-recording");
    recorder("start-recording");
    while !env.run_sender().await.0.records.is_empty() {}
    recorder("stop-recording");
    let sender = not_esm(recording());
    recorder("reset-recording");
    assert_eq!(
        env.mgmt.posts().len(),
        events * 2,
        "every event reached both devices"
    );
    Calls {
        events,
        worker,
        sender,
    }
}
