//! The store contract: behaviour every `Store` implementation must show.
//! Run against DynamoDB on moto here, and against any other store the same way.

use chrono::{Duration, Utc};
use shared::event::EventType;
use shared::model::{
    Channel, Connection, DeliveryRecord, DeliveryStatus, EventClaim, MarkRead, Notification,
    Priority,
};
use shared::ports::{NewNotification, Recorded, Store};
use shared::preferences::Preferences;
use shared::template::{InAppTemplate, TemplateBody, TemplateOverride};

pub fn notification(id: &str, event_id: &str) -> Notification {
    Notification {
        id: id.to_owned().try_into().expect("a ULID"),
        kind: EventType::OrderCreated,
        title: "t".into(),
        message: "m".into(),
        priority: Priority::Normal,
        action_url: Some("/orders/o_1".into()),
        action_text: None,
        created_at: Utc::now(),
        read: false,
        read_at: None,
        event_id: event_id.into(),
        data: serde_json::json!({"orderId": "o_1", "total": "49.90"})
            .as_object()
            .cloned()
            .unwrap(),
        expires_at: None,
    }
}

/// Stores a fresh notification for `user` through the worker's write path.
pub async fn add(store: &dyn Store, user: &str, event_id: &str) -> Notification {
    let id = shared::ids::new_id();
    let n = notification(&id, event_id);
    store_through_claim(store, user, event_id, n).await
}

/// Records `n` for `user` under a fresh claim of `event_id`, as the worker does.
async fn store_through_claim(
    store: &dyn Store,
    user: &str,
    event_id: &str,
    n: Notification,
) -> Notification {
    let claim = EventClaim {
        event_id: event_id.into(),
        user_id: user.into(),
        notification_id: n.id.clone(),
        created_at: n.created_at,
        claimed_at: n.created_at,
        dispatched: false,
    };
    let r = store
        .record_notification(&NewNotification {
            claim,
            kind: n.kind,
            notification: Some(n.clone()),
        })
        .await
        .unwrap();
    assert_eq!(r, Recorded::Stored);
    n
}

pub async fn connections(store: &dyn Store) {
    let exp = (Utc::now() + Duration::hours(2)).timestamp();
    let c = |id: &str, user: &str| Connection {
        connection_id: id.into(),
        user_id: user.into(),
        connected_at: Utc::now(),
        expires_at: exp,
    };
    store.put_connection(&c("k1", "ann")).await.unwrap();
    store.put_connection(&c("k2", "ann")).await.unwrap();
    store.put_connection(&c("k3", "ben")).await.unwrap();
    let mut ann: Vec<_> = store.connections_of("ann").await.unwrap();
    ann.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
    assert_eq!(ann.len(), 2);
    assert_eq!(ann[0], c("k1", "ann").clone_with(ann[0].connected_at));
    assert_eq!(
        store.connection_owner("k3").await.unwrap().as_deref(),
        Some("ben")
    );
    assert_eq!(
        store.remove_connection("k1").await.unwrap().as_deref(),
        Some("ann")
    );
    assert_eq!(store.remove_connection("k1").await.unwrap(), None);
    assert_eq!(store.connection_owner("k1").await.unwrap(), None);
    assert_eq!(store.connections_of("ann").await.unwrap().len(), 1);
    assert_eq!(store.connections_of("ben").await.unwrap().len(), 1);
}

trait CloneWith {
    fn clone_with(&self, at: chrono::DateTime<Utc>) -> Self;
}

impl CloneWith for Connection {
    fn clone_with(&self, at: chrono::DateTime<Utc>) -> Self {
        Connection {
            connected_at: at,
            ..self.clone()
        }
    }
}

pub async fn claims_and_duplicates(store: &dyn Store) {
    let n = add(store, "cam", "evt_claim").await;
    let again = EventClaim {
        event_id: "evt_claim".into(),
        user_id: "cam".into(),
        notification_id: shared::ids::NotificationId::new(),
        created_at: Utc::now(),
        claimed_at: Utc::now(),
        dispatched: false,
    };
    let r = store
        .record_notification(&NewNotification {
            claim: again.clone(),
            kind: EventType::OrderCreated,
            notification: Some(notification(&again.notification_id, "evt_claim")),
        })
        .await
        .unwrap();
    let Recorded::Duplicate(existing) = r else {
        panic!("second record must be a duplicate")
    };
    assert_eq!(existing.notification_id, n.id);
    assert!(!existing.dispatched);
    // Nothing of the loser was written.
    assert_eq!(
        store
            .notifications_after("cam", None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(store.unread_count("cam").await.unwrap(), 1);

    // Take-over works once per observed claim.
    let later = existing.claimed_at + Duration::minutes(5);
    assert!(store.take_over_claim(&existing, later).await.unwrap());
    assert!(!store.take_over_claim(&existing, later).await.unwrap());
    store.mark_dispatched("evt_claim").await.unwrap();
    let r = store
        .record_notification(&NewNotification {
            claim: again,
            kind: EventType::OrderCreated,
            notification: None,
        })
        .await
        .unwrap();
    let Recorded::Duplicate(existing) = r else {
        panic!()
    };
    assert!(existing.dispatched);
}

pub async fn reading_and_marking(store: &dyn Store) {
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(add(store, "dan", &format!("evt_page_{i}")).await.id);
    }
    add(store, "eve", "evt_other").await;
    // Pages of three, oldest first, nothing lost or repeated.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .notifications_after("dan", cursor.as_deref(), 3)
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|n| n.id.clone()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    assert_eq!(store.unread_count("dan").await.unwrap(), 7);
    assert_eq!(
        store.mark_read("dan", &ids[0], Utc::now()).await.unwrap(),
        MarkRead::Marked { unread: 6 }
    );
    assert_eq!(
        store.mark_read("dan", &ids[0], Utc::now()).await.unwrap(),
        MarkRead::AlreadyRead { unread: 6 }
    );
    assert_eq!(
        store.mark_read("eve", &ids[1], Utc::now()).await.unwrap(),
        MarkRead::NotFound
    );
    assert_eq!(
        store
            .mark_read("dan", &ulid::Ulid::new().to_string(), Utc::now())
            .await
            .unwrap(),
        MarkRead::NotFound
    );
    let n = store
        .get_notification("dan", &ids[0])
        .await
        .unwrap()
        .unwrap();
    assert!(n.read && n.read_at.is_some());
    assert_eq!(n.action_url.as_deref(), Some("/orders/o_1"));
    assert!(
        store
            .get_notification("eve", &ids[0])
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn preferences_and_templates(store: &dyn Store) {
    assert_eq!(
        store.preferences("fay").await.unwrap(),
        Preferences::default()
    );
    let p = Preferences::parse_update(
        br#"{"email":"fay@example.com","channels":{"order":{"email":false}}}"#,
    )
    .unwrap();
    store.put_preferences("fay", &p).await.unwrap();
    assert_eq!(store.preferences("fay").await.unwrap(), p);

    let o = TemplateOverride {
        kind: EventType::PaymentFailed,
        channel: Channel::InApp,
        body: TemplateBody::InApp(InAppTemplate {
            title: "Oops {{ orderId }}".into(),
            message: "m".into(),
            action_url: String::new(),
            action_text: String::new(),
            priority: "urgent".into(),
        }),
        updated_at: Utc::now(),
    };
    store.put_template_override(&o).await.unwrap();
    let all = store.template_overrides().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].body, o.body);
    assert!(
        store
            .delete_template_override(EventType::PaymentFailed, Channel::InApp)
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_template_override(EventType::PaymentFailed, Channel::InApp)
            .await
            .unwrap()
    );
    assert!(store.template_overrides().await.unwrap().is_empty());
}

pub async fn deliveries(store: &dyn Store) {
    let t0 = Utc::now();
    let queued = DeliveryRecord {
        user_id: "gus".into(),
        notification_id: "01JNOTIF".into(),
        channel: Channel::Email,
        status: DeliveryStatus::Queued,
        reason: None,
        detail: None,
        provider_message_id: None,
        at: t0,
        source: None,
    };
    let failed = DeliveryRecord {
        status: DeliveryStatus::Failed,
        reason: Some("throttled (retrying)".into()),
        at: t0 + Duration::milliseconds(10),
        ..queued.clone()
    };
    let sent = DeliveryRecord {
        status: DeliveryStatus::Sent,
        reason: None,
        provider_message_id: Some("msg-1".into()),
        at: t0 + Duration::milliseconds(20),
        ..queued.clone()
    };
    let bounced = DeliveryRecord {
        status: DeliveryStatus::Bounced,
        reason: Some("Permanent/General".into()),
        provider_message_id: Some("msg-1".into()),
        at: t0 + Duration::milliseconds(30),
        ..queued.clone()
    };
    let pushed = DeliveryRecord {
        channel: Channel::InApp,
        status: DeliveryStatus::Delivered,
        detail: Some("1 device(s)".into()),
        ..queued.clone()
    };
    // Out of order, and the provider's `sent` twice (SES's Send event after
    // the sender's own entry, a little later): one entry, the log in order.
    for rec in [&bounced, &queued, &sent, &pushed, &failed] {
        store.record_delivery(rec).await.unwrap();
    }
    store
        .record_delivery(&DeliveryRecord {
            at: sent.at + Duration::milliseconds(3),
            ..sent.clone()
        })
        .await
        .unwrap();
    let log = store.deliveries("gus", "01JNOTIF").await.unwrap();
    let steps: Vec<_> = log.iter().map(|d| (d.channel, d.status)).collect();
    assert_eq!(
        steps,
        [
            (Channel::Email, DeliveryStatus::Queued),
            (Channel::InApp, DeliveryStatus::Delivered),
            (Channel::Email, DeliveryStatus::Failed),
            (Channel::Email, DeliveryStatus::Sent),
            (Channel::Email, DeliveryStatus::Bounced),
        ]
    );
    assert_eq!(log[4], bounced);
    assert_eq!(
        store
            .delivery("gus", "01JNOTIF", Channel::Email)
            .await
            .unwrap(),
        Some(bounced)
    );
    assert_eq!(
        store
            .delivery("gus", "01JNOTIF", Channel::Sms)
            .await
            .unwrap(),
        None
    );
    // Another user's log of the same notification id (a broadcast's) is theirs.
    assert!(
        store
            .deliveries("hal", "01JNOTIF")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .deliveries("gus", "01JOTHER")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Suppressed addresses: found whatever their case, lifted once.
pub async fn suppressions(store: &dyn Store) {
    use shared::model::{Suppression, SuppressionReason};
    assert_eq!(store.suppression("Ann@Example.com").await.unwrap(), None);
    let s = Suppression {
        address: "Ann@Example.com".into(),
        reason: SuppressionReason::Bounce,
        at: Utc::now(),
        detail: Some("Permanent/General: smtp; 550 5.1.1 user unknown".into()),
        notification_id: Some("01JNOTIF".into()),
        user_id: Some("gus".into()),
    };
    store.suppress(&s).await.unwrap();
    assert_eq!(
        store.suppression("ann@example.com").await.unwrap(),
        Some(s.clone())
    );
    assert_eq!(store.suppression("bob@example.com").await.unwrap(), None);
    assert!(store.lift_suppression("ANN@example.com").await.unwrap());
    assert!(!store.lift_suppression("ann@example.com").await.unwrap());
    assert_eq!(store.suppression("Ann@Example.com").await.unwrap(), None);
}

/// Newest-first listing with the unread filter, deletion with an exact
/// counter, the user directory's pages, and hourly statistics.
pub async fn listing_deleting_directory_and_stats(store: &dyn Store) {
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(add(store, "ivy", &format!("evt_list_{i}")).await.id);
    }
    store.mark_read("ivy", &ids[4], Utc::now()).await.unwrap();
    let page = store
        .list_notifications("ivy", None, 4, false)
        .await
        .unwrap();
    let got: Vec<&str> = page.items.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        got,
        [
            ids[5].as_str(),
            ids[4].as_str(),
            ids[3].as_str(),
            ids[2].as_str()
        ]
    );
    assert_eq!(page.next.as_deref(), Some(ids[2].as_str()));
    let rest = store
        .list_notifications("ivy", page.next.as_deref(), 4, false)
        .await
        .unwrap();
    assert_eq!(
        rest.items.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        [ids[1].as_str(), ids[0].as_str()]
    );
    assert_eq!(rest.next, None);
    let unread = store
        .list_notifications("ivy", None, 10, true)
        .await
        .unwrap();
    assert_eq!(unread.items.len(), 5);
    assert!(unread.items.iter().all(|n| !n.read));

    assert_eq!(store.unread_count("ivy").await.unwrap(), 5);
    assert!(store.delete_notification("ivy", &ids[4]).await.unwrap()); // read: count stays
    assert_eq!(store.unread_count("ivy").await.unwrap(), 5);
    assert!(store.delete_notification("ivy", &ids[0]).await.unwrap()); // unread: count drops
    assert_eq!(store.unread_count("ivy").await.unwrap(), 4);
    assert!(!store.delete_notification("ivy", &ids[0]).await.unwrap());
    assert!(
        store
            .get_notification("ivy", &ids[0])
            .await
            .unwrap()
            .is_none()
    );

    // Whoever connected or set preferences is in the directory; the worker
    // lists a user who only got notifications, once (outside the transaction).
    assert!(!store.is_listed("ivy").await.unwrap());
    store.list_user("ivy").await.unwrap();
    store.list_user("ivy").await.unwrap();
    assert!(store.is_listed("ivy").await.unwrap());
    for u in ["u_a", "u_b", "u_c", "u_d", "u_e"] {
        store
            .put_preferences(u, &Preferences::default())
            .await
            .unwrap();
    }
    let mut all = every_user(store, 2).await;
    all.sort();
    assert_eq!(all, ["ivy", "u_a", "u_b", "u_c", "u_d", "u_e"]);

    use shared::ports::StatsHour;
    let long_ago = chrono::DateTime::parse_from_rfc3339("2001-01-01T00:30:00Z").unwrap();
    let counts = store
        .stats(&[StatsHour::of(Utc::now()), StatsHour::of(long_ago.into())])
        .await
        .unwrap();
    assert_eq!(counts[0].created["order.created"], 6);
    assert_eq!(counts[1], shared::model::Counts::default());
}

/// Stores a notification for `user` whose id (and so creation time) lies
/// `age` in the past, as if made then.
pub async fn add_aged(
    store: &dyn Store,
    user: &str,
    event_id: &str,
    age: Duration,
) -> Notification {
    let created = Utc::now() - age;
    let id = ulid::Ulid::from_parts(created.timestamp_millis() as u64, rand_bits()).to_string();
    let mut n = notification(&id, event_id);
    n.created_at = created;
    store_through_claim(store, user, event_id, n).await
}

fn rand_bits() -> u128 {
    ulid::Ulid::new().random()
}

/// User ids are whatever identity providers put in `sub`: none may collide
/// with another or break the key layout.
pub async fn user_ids_are_distinct(store: &dyn Store) {
    let users = [
        "a#b",
        "a|b",
        "ü",
        "a/b",
        "A",
        "a",
        "a%23b",
        "a#CONN#x",
        "auth0|64f1",
        "x@y.co",
    ];
    let exp = (Utc::now() + Duration::hours(2)).timestamp();
    for (i, u) in users.iter().enumerate() {
        add(store, u, &format!("evt#{u}")).await;
        store
            .put_connection(&Connection {
                connection_id: format!("uc{i}"),
                user_id: (*u).into(),
                connected_at: Utc::now(),
                expires_at: exp,
            })
            .await
            .unwrap();
        let prefs = Preferences {
            email: Some(format!("u{i}@example.com")),
            ..Preferences::default()
        };
        store.put_preferences(u, &prefs).await.unwrap();
    }
    for (i, u) in users.iter().enumerate() {
        let conns: Vec<String> = store
            .connections_of(u)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.connection_id)
            .collect();
        assert_eq!(conns, [format!("uc{i}")], "connections of {u}");
        assert_eq!(
            store
                .connection_owner(&format!("uc{i}"))
                .await
                .unwrap()
                .as_deref(),
            Some(*u)
        );
        let page = store.list_notifications(u, None, 50, false).await.unwrap();
        assert_eq!(page.items.len(), 1, "inbox of {u}");
        assert_eq!(page.items[0].event_id, format!("evt#{u}"));
        assert_eq!(store.unread_count(u).await.unwrap(), 1, "unread of {u}");
        assert_eq!(
            store.preferences(u).await.unwrap().email,
            Some(format!("u{i}@example.com"))
        );
        let sync = store.notifications_after(u, None, 50).await.unwrap();
        assert_eq!(sync.items.len(), 1, "sync of {u}");
    }
    // The directory a broadcast pages through holds each exactly once.
    let mut seen = every_user(store, 3).await;
    seen.sort();
    let mut want: Vec<String> = users.iter().map(|u| (*u).to_owned()).collect();
    want.sort();
    assert_eq!(seen, want);
}

/// Read notifications expire (unread ones never do, so the counter stays
/// exact); expired ones are invisible before the store deletes them; a page
/// is marked read in one all-or-nothing transaction.
pub async fn expiry_and_read_pages(store: &dyn Store) {
    let old = add_aged(store, "gus", "evt_old", Duration::days(400)).await;
    let fresh = add(store, "gus", "evt_fresh").await;
    assert_eq!(store.unread_count("gus").await.unwrap(), 2);
    // Unread, however old: still there.
    assert!(
        store
            .get_notification("gus", &old.id)
            .await
            .unwrap()
            .is_some()
    );
    // Read two days ago, past its retention: gone from every read path.
    assert_eq!(
        store
            .mark_read("gus", &old.id, Utc::now() - Duration::days(2))
            .await
            .unwrap(),
        MarkRead::Marked { unread: 1 }
    );
    assert!(
        store
            .get_notification("gus", &old.id)
            .await
            .unwrap()
            .is_none()
    );
    let ids = |p: shared::model::Page| p.items.into_iter().map(|n| n.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .list_notifications("gus", None, 10, false)
            .await
            .unwrap()),
        std::slice::from_ref(&fresh.id)
    );
    assert_eq!(
        ids(store.notifications_after("gus", None, 10).await.unwrap()),
        std::slice::from_ref(&fresh.id)
    );
    assert_eq!(
        store.mark_read("gus", &old.id, Utc::now()).await.unwrap(),
        MarkRead::NotFound
    );
    // Read now: kept for the retention (180 days by default) from creation.
    store.mark_read("gus", &fresh.id, Utc::now()).await.unwrap();
    let kept = store
        .get_notification("gus", &fresh.id)
        .await
        .unwrap()
        .unwrap();
    let expires = kept.expires_at.expect("a read notification expires");
    assert!(expires > Utc::now() + Duration::days(170), "{expires}");
    assert_eq!(kept.data["orderId"], "o_1", "data is stored and returned");

    // A page read in one transaction; a page with one read item changes nothing.
    let mut page = Vec::new();
    for i in 0..5 {
        page.push(
            add(store, "hal", &format!("evt_hal_{i}"))
                .await
                .id
                .to_string(),
        );
    }
    assert_eq!(
        store
            .mark_read_page("hal", &page[..3], Utc::now())
            .await
            .unwrap(),
        3
    );
    assert_eq!(store.unread_count("hal").await.unwrap(), 2);
    let again = store
        .mark_read_page("hal", &[page[3].clone(), page[0].clone()], Utc::now())
        .await;
    assert!(
        matches!(again, Err(shared::error::StoreError::ConditionFailed)),
        "{again:?}"
    );
    assert_eq!(store.unread_count("hal").await.unwrap(), 2);
    assert!(
        !store
            .get_notification("hal", &page[3])
            .await
            .unwrap()
            .unwrap()
            .read
    );
    let unread = store
        .list_notifications("hal", None, 10, true)
        .await
        .unwrap();
    assert_eq!(unread.items.len(), 2);
}

/// Every user of the directory, shard by shard, in pages of `page`.
async fn every_user(store: &dyn Store, page: usize) -> Vec<String> {
    let mut all = Vec::new();
    for shard in 0..shared::ports::USER_SHARDS {
        let mut cursor: Option<String> = None;
        loop {
            let (users, next) = store
                .users_in_shard(shard, cursor.as_deref(), page)
                .await
                .unwrap();
            assert!(users.len() <= page);
            all.extend(users);
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
    }
    all
}

/// Push subscriptions: one per endpoint, the same endpoint again updates it,
/// at most `MAX_SUBSCRIPTIONS` per user with the oldest dropped.
pub async fn push_subscriptions(store: &dyn Store) {
    use shared::push::{MAX_SUBSCRIPTIONS, Subscription, SubscriptionKeys};
    let sub = |i: usize, auth: &str| Subscription {
        endpoint: format!("https://push.example.net/send/{i}"),
        expiration_time: None,
        keys: SubscriptionKeys {
            p256dh: format!("key{i}"),
            auth: auth.into(),
        },
    };
    let t0 = Utc::now();
    for i in 0..MAX_SUBSCRIPTIONS {
        store
            .put_subscription("pia", &sub(i, "a"), t0 + Duration::seconds(i as i64))
            .await
            .unwrap();
    }
    // The same endpoint again: an update, its first time kept.
    store
        .put_subscription("pia", &sub(3, "b"), t0 + Duration::hours(1))
        .await
        .unwrap();
    let all = store.subscriptions_of("pia").await.unwrap();
    assert_eq!(all.len(), MAX_SUBSCRIPTIONS);
    let third = all
        .iter()
        .find(|s| s.subscription.endpoint.ends_with("/3"))
        .unwrap();
    assert_eq!(third.subscription.keys.auth, "b");
    assert_eq!(third.created_at, t0 + Duration::seconds(3));
    // One more: the oldest goes.
    store
        .put_subscription("pia", &sub(99, "a"), t0 + Duration::hours(2))
        .await
        .unwrap();
    let all = store.subscriptions_of("pia").await.unwrap();
    assert_eq!(all.len(), MAX_SUBSCRIPTIONS);
    assert!(!all.iter().any(|s| s.subscription.endpoint.ends_with("/0")));
    assert!(all.iter().any(|s| s.subscription.endpoint.ends_with("/99")));
    assert!(
        store
            .delete_subscription("pia", "https://push.example.net/send/99")
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_subscription("pia", "https://push.example.net/send/99")
            .await
            .unwrap()
    );
    assert!(store.subscriptions_of("pio").await.unwrap().is_empty());
    // A shared browser: its endpoint subscribed by another account is that
    // account's alone from then on.
    store
        .put_subscription("pio", &sub(5, "c"), t0 + Duration::hours(3))
        .await
        .unwrap();
    assert_eq!(store.subscriptions_of("pio").await.unwrap().len(), 1);
    assert!(
        !store
            .subscriptions_of("pia")
            .await
            .unwrap()
            .iter()
            .any(|s| s.subscription.endpoint.ends_with("/5")),
        "the first account no longer gets this browser's pushes"
    );
}

/// The worker's read: the preferences and whether the user has a push
/// subscription, unaffected by the rest of the user's partition
/// (connections, notifications, the unread counter, the delivery log).
/// `known`: the store answers the second part itself (DynamoDB, one Query).
pub async fn preferences_and_push(store: &dyn Store, known: bool) {
    use shared::push::{Subscription, SubscriptionKeys};
    let check = |answer: Option<bool>, expected: bool| match answer {
        Some(has) => assert_eq!(has, expected, "push subscription known"),
        None => assert!(!known, "this store answers in the same read"),
    };
    let (prefs, push) = store.preferences_and_push("quinn").await.unwrap();
    assert_eq!(prefs, Preferences::default());
    check(push, false);

    // Everything else a user has around the two: a connection, a
    // notification (with the unread counter, which sorts right after
    // `PUSH$`) and a delivery log entry.
    add(store, "quinn", "evt_quinn_1").await;
    store
        .record_delivery(&DeliveryRecord {
            user_id: "quinn".into(),
            notification_id: "01JQUINN".into(),
            channel: Channel::Email,
            status: DeliveryStatus::Queued,
            reason: None,
            detail: None,
            provider_message_id: None,
            at: Utc::now(),
            source: None,
        })
        .await
        .unwrap();
    store
        .put_connection(&shared::model::Connection {
            connection_id: "q-c1".into(),
            user_id: "quinn".into(),
            connected_at: Utc::now(),
            expires_at: Utc::now().timestamp() + 3600,
        })
        .await
        .unwrap();
    let prefs = Preferences {
        email: Some("quinn@example.com".into()),
        ..Default::default()
    };
    store.put_preferences("quinn", &prefs).await.unwrap();
    let (got, push) = store.preferences_and_push("quinn").await.unwrap();
    assert_eq!(got, prefs);
    check(push, false);

    store
        .put_subscription(
            "quinn",
            &Subscription {
                endpoint: "https://push.example.net/send/q".into(),
                expiration_time: None,
                keys: SubscriptionKeys {
                    p256dh: "key".into(),
                    auth: "auth".into(),
                },
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let (got, push) = store.preferences_and_push("quinn").await.unwrap();
    assert_eq!(got, prefs);
    check(push, true);
    // Another user's subscription is not theirs.
    let (_, push) = store.preferences_and_push("quinn2").await.unwrap();
    check(push, false);
}
