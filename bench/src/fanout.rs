//! The sender pushing one notification to 1, 10 and 100 connections of one
//! user, with 20 ms added to every management API call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shared::App;
use shared::adapters::apigw::ApiGatewayPusher;
use shared::adapters::embedded::Embedded;
use shared::aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use shared::jobs::DeliveryJob;
use shared::model::Connection;
use shared::ports::Connections;

pub const DELAY: Duration = Duration::from_millis(20);

pub async fn run(sizes: &[usize], rounds: usize) -> Vec<(usize, Vec<f64>)> {
    let mgmt = integration::Mgmt::start().await;
    mgmt.set_delay(DELAY);
    let dir = std::env::temp_dir().join(format!("notify-fanout-{}", ulid::Ulid::new()));
    let embedded = Embedded::open(&dir).unwrap();
    let sdk = integration::sdk_config("http://127.0.0.1:1");
    let config = shared::Config {
        ws_endpoint: Some(mgmt.endpoint()),
        ..shared::Config::default()
    };
    let store = Arc::new(embedded.store());
    let q = Arc::new(
        embedded
            .queue("deliveries", Duration::from_secs(30), 3)
            .expect("open the queue"),
    );
    let app = App::new(
        config.clone(),
        store.clone(),
        q.clone(),
        q.clone(),
        Arc::new(ApiGatewayPusher::new(&sdk, config.ws_endpoint.as_deref())),
        Arc::new(embedded.outbox("x@y.z", &dir)),
    );
    let mut out = Vec::new();
    for &n in sizes {
        let user = format!("fan{n}");
        for i in 0..n {
            store
                .put_connection(&Connection {
                    connection_id: format!("{user}-c{i}"),
                    user_id: user.clone(),
                    connected_at: chrono::Utc::now(),
                    expires_at: chrono::Utc::now().timestamp() + 7200,
                })
                .await
                .unwrap();
        }
        let notification = integration::contract::notification(&shared::ids::new_id(), "evt_fan");
        let job = DeliveryJob::WebSocket {
            user_id: user.clone().try_into().expect("a valid user id"),
            notification,
            connection_ids: None,
        };
        let mut msg = SqsMessage::default();
        msg.message_id = Some("m1".into());
        msg.body = Some(job.to_body());
        let mut event = SqsEvent::default();
        event.records.push(msg);
        // One warm-up round opens the HTTP connections, as a warm Lambda has them.
        shared::handlers::sender::handle(&app, event.clone()).await;
        let mut samples = Vec::new();
        for _ in 0..rounds {
            let t0 = Instant::now();
            let r = shared::handlers::sender::handle(&app, event.clone()).await;
            samples.push(t0.elapsed().as_secs_f64() * 1000.0);
            assert!(r.batch_item_failures.is_empty());
        }
        let posted = mgmt
            .posts()
            .iter()
            .filter(|(c, _)| c.starts_with(&format!("{user}-")))
            .count();
        assert_eq!(posted, n * (rounds + 1), "every connection got every push");
        out.push((n, samples));
    }
    out
}
