//! The deployed path on moto, handler by handler: the sender sends through
//! SES with the configuration set and tags; SES's events (as its mailbox
//! simulator publishes them for each address) go SES → SNS topic → SQS
//! (raw delivery, as the template subscribes the feedback queue) → the
//! feedback function; its webhooks go through the webhook queue to the
//! webhooks function, which signs them, sets each failure's backoff with
//! ChangeMessageVisibility, and leaves the last failure to the DLQ.

use std::time::Duration;

use aws_lambda_events::sqs::SqsEvent;
use integration::hooks::{self, Answer, Receiver};
use integration::*;
use serde_json::json;
use shared::model::{Channel, DeliveryStatus};
use shared::ports::MailTags;

struct Feedback {
    env: TestEnv,
    topic: String,
    feedback: integration::Queue,
    webhooks: integration::Queue,
    /// The webhooks function's app: the endpoint and the secret.
    hooks_app: shared::App,
    shop: Receiver,
}

async fn setup() -> Feedback {
    let sdk = sdk_config(&moto().endpoint());
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    let qs = QueueSettings {
        visibility_secs: 0,
        max_receives: 2,
    };
    let feedback = create_queue(&sqs, &unique("feedback"), qs).await;
    let webhooks = create_queue(&sqs, &unique("webhooks"), qs).await;
    let topic = sns
        .create_topic()
        .name(unique("ses-events"))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let feedback_arn = sqs
        .get_queue_attributes()
        .queue_url(&feedback.url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(feedback_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    let shop = Receiver::start().await;
    let (url, wq, wdlq, fq, fdlq) = (
        shop.url(),
        webhooks.url.clone(),
        webhooks.dlq_url.clone(),
        feedback.url.clone(),
        feedback.dlq_url.clone(),
    );
    let env = TestEnv::with(move |c| {
        c.ses_configuration_set = Some("notify-feedback".into());
        c.webhook_url = Some(url);
        c.webhook_secret = Some(hooks::SECRET.into());
        c.webhook_queue_url = Some(wq);
        c.webhook_dlq_url = Some(wdlq);
        c.feedback_queue_url = Some(fq);
        c.feedback_dlq_url = Some(fdlq);
        // The test's endpoint is http on loopback.
        c.loopback_http_links = true;
        c.webhook_retry_schedule = vec![2];
    })
    .await;
    let hooks_app = shared::adapters::aws::with_webhook_endpoint(shared::adapters::aws::aws_app(
        env.config.clone(),
        &env.sdk,
    ))
    .expect("the webhooks function starts");
    Feedback {
        env,
        topic,
        feedback,
        webhooks,
        hooks_app,
        shop,
    }
}

impl Feedback {
    /// Publishes `events` to the topic, as SES does.
    async fn ses_publishes(&self, events: &[String]) {
        let sns = aws_sdk_sns::Client::new(&self.env.sdk);
        for e in events {
            sns.publish()
                .topic_arn(&self.topic)
                .message(e)
                .send()
                .await
                .unwrap();
        }
    }

    /// Runs the feedback function over its queue until it is empty.
    async fn run_feedback(&self) -> usize {
        let mut handled = 0;
        loop {
            let event = self.env.receive(&self.feedback.url).await;
            if event.records.is_empty() {
                return handled;
            }
            let resp = shared::handlers::feedback::handle(&self.env.app, event.clone()).await;
            assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
            handled += event.records.len();
            self.env.ack(&self.feedback.url, &event, &resp).await;
        }
    }

    async fn run_webhooks(&self) -> (SqsEvent, aws_lambda_events::sqs::SqsBatchResponse) {
        let event = self.env.receive(&self.webhooks.url).await;
        let resp = shared::handlers::webhooks::handle(&self.hooks_app, event.clone()).await;
        self.env.ack(&self.webhooks.url, &event, &resp).await;
        (event, resp)
    }

    fn email_steps(log: &[shared::model::DeliveryRecord]) -> Vec<DeliveryStatus> {
        log.iter()
            .filter(|d| d.channel == Channel::Email)
            .map(|d| d.status)
            .collect()
    }
}

#[tokio::test]
async fn ses_feedback_for_each_simulator_address_goes_through_sns_sqs_and_the_feedback_function() {
    use DeliveryStatus::*;
    let f = setup().await;
    let env = &f.env;
    let cases = [
        ("success", vec![Queued, Sent, Delivered], false),
        ("bounce", vec![Queued, Sent, Bounced], true),
        ("complaint", vec![Queued, Sent, Delivered, Complained], true),
        ("suppressionlist", vec![Queued, Sent, Suppressed], true),
    ];
    for (i, (mailbox, steps, suppressed)) in cases.iter().enumerate() {
        let user = format!("moto_{mailbox}");
        let to = format!("{mailbox}@simulator.amazonses.com");
        let t = env.token(&user);
        let (s, b) = env
            .api("PUT", "/preferences", Some(&t), Some(json!({"email": to})))
            .await;
        assert_eq!(s, 200, "{b}");
        env.post_event(&order_event(&format!("evt_fb_{i}"), &user))
            .await;
        env.settle().await;
        let id = env
            .app
            .store
            .notifications_after(&user, None, 1)
            .await
            .unwrap()
            .items[0]
            .id
            .to_string();
        let sent = env
            .app
            .store
            .delivery(&user, &id, Channel::Email)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sent.status, Sent);
        let message_id = sent.provider_message_id.clone().expect("SES's message id");
        let tags = MailTags {
            user_id: user.clone(),
            notification_id: id.clone(),
        };
        let events: Vec<String> =
            shared::ses_events::simulate(&to, FROM, &message_id, &tags, chrono::Utc::now())
                .iter()
                .map(|e| serde_json::to_string(e).unwrap())
                .collect();
        f.ses_publishes(&events).await;
        let handled = wait_for(
            "SES's events on the feedback queue",
            Duration::from_secs(10),
            || async {
                let n = f.run_feedback().await;
                (n > 0).then_some(n)
            },
        )
        .await;
        assert!(handled >= 2, "{mailbox}: Send and what followed");
        let log = env.app.store.deliveries(&user, &id).await.unwrap();
        assert_eq!(Feedback::email_steps(&log), *steps, "{mailbox}: {log:?}");
        assert!(
            log.iter()
                .filter(|d| d.channel == Channel::Email && d.status != Queued)
                .all(|d| d.provider_message_id.as_deref() == Some(message_id.as_str())),
            "{log:?}"
        );
        let s = env.app.store.suppression(&to).await.unwrap();
        assert_eq!(s.is_some(), *suppressed, "{mailbox}: {s:?}");
        // SNS redelivers now and then: the same events again change nothing.
        f.ses_publishes(&events).await;
        wait_for("the repeats", Duration::from_secs(10), || async {
            (f.run_feedback().await > 0).then_some(())
        })
        .await;
        assert_eq!(env.app.store.deliveries(&user, &id).await.unwrap(), log);
    }

    // The suppressed address gets no SES call: the sender logs `suppressed`.
    let user = "moto_bounce";
    // Mails SES (moto) took, to that address: its backend's own list.
    let sends_to_bounce = || {
        moto_data()["ses"]["Message"]
            .to_string()
            .matches("bounce@simulator.amazonses.com")
            .count()
    };
    let before = sends_to_bounce();
    assert!(before >= 1, "the first mail to bounce@ is in moto's SES");
    env.post_event(&order_event("evt_fb_again", user)).await;
    env.settle().await;
    let id = env
        .app
        .store
        .notifications_after(user, None, 10)
        .await
        .unwrap()
        .items
        .last()
        .unwrap()
        .id
        .to_string();
    let log = env.app.store.deliveries(user, &id).await.unwrap();
    assert_eq!(Feedback::email_steps(&log), [Queued, Suppressed], "{log:?}");
    assert_eq!(sends_to_bounce(), before, "nothing more sent to SES");
    // Confirmed through PATCH /preferences: lifted.
    let (s, b) = env
        .api(
            "PATCH",
            "/preferences",
            Some(&env.token(user)),
            Some(json!({"email": "bounce@simulator.amazonses.com"})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("emailSuppressed").is_none(), "{b}");
    assert_eq!(
        env.app
            .store
            .suppression("bounce@simulator.amazonses.com")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn the_webhooks_function_signs_retries_with_backoff_and_leaves_the_last_failure_to_the_dlq() {
    let f = setup().await;
    let env = &f.env;
    let t = env.token("hank");
    env.post_event(&order_event("evt_wh_1", "hank")).await;
    env.settle().await;
    // The worker queued notification.created on the webhook queue.
    let (event, resp) = f.run_webhooks().await;
    assert_eq!(event.records.len(), 1, "{event:?}");
    assert!(resp.batch_item_failures.is_empty(), "{resp:?}");
    let got = f.shop.of_type("notification.created");
    assert_eq!(got.len(), 1);
    hooks::verify(hooks::SECRET, &got[0]).unwrap();
    assert_eq!(got[0].json()["data"]["userId"], "hank");

    // The user reads it through the REST API: notification.read. The shop
    // fails it once: ChangeMessageVisibility hides it for the schedule's 2 s.
    f.shop.refuse("notification.read", Answer::Status(502));
    let id = got[0].json()["data"]["id"].as_str().unwrap().to_owned();
    let (s, _) = env
        .api(
            "PATCH",
            &format!("/notifications/{id}/read"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (event, resp) = f.run_webhooks().await;
    assert_eq!(event.records.len(), 1);
    assert_eq!(resp.batch_item_failures.len(), 1, "a 502 is retried");
    // The queue's own visibility timeout is 0 here: only the backoff hides it.
    assert!(
        f.env.receive(&f.webhooks.url).await.records.is_empty(),
        "hidden by the backoff"
    );
    // Its second attempt, the last one (max receives 2), fails too: DLQ.
    let (event, resp) = wait_for(
        "the retry after its backoff",
        Duration::from_secs(10),
        || async {
            let (e, r) = f.run_webhooks().await;
            (!e.records.is_empty()).then_some((e, r))
        },
    )
    .await;
    assert_eq!(resp.batch_item_failures.len(), 1, "{event:?}");
    wait_until(
        "the webhook in the DLQ",
        Duration::from_secs(10),
        || async {
            let _ = f.env.receive(&f.webhooks.url).await;
            env.queue_depth(&f.webhooks.dlq_url).await == 1
        },
    )
    .await;
    let read = f.shop.of_type("notification.read");
    assert_eq!(read.len(), 2);
    assert_eq!(read[0].id, read[1].id);
    // The admin console lists it and redrives it; then it lands.
    let admin = env.admin_token("ops");
    let (s, b) = env
        .api("GET", "/admin/dead-letters", Some(&admin), None)
        .await;
    assert_eq!(s, 200, "{b}");
    let q = b["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "webhooks")
        .cloned()
        .expect("the webhooks DLQ is listed");
    assert_eq!(q["count"], 1, "{q}");
    f.shop.stop_refusing();
    let (s, b) = env
        .api(
            "POST",
            "/admin/dead-letters/webhooks/redrive",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 202, "{b}");
    wait_until(
        "the redriven webhook to land",
        Duration::from_secs(20),
        || async {
            f.run_webhooks().await;
            f.shop.of_type("notification.read").len() == 3
        },
    )
    .await;
    for h in f.shop.received() {
        hooks::verify(hooks::SECRET, &h).unwrap();
    }
}
