//! The same store contract against the embedded store, so the two cannot drift.

use integration::{TestDir, contract};
use shared::adapters::embedded::{Embedded, EmbeddedStore};

/// A store in a fresh directory, deleted when the directory is dropped.
fn store() -> (TestDir, EmbeddedStore) {
    let dir = TestDir::new("contract");
    let store = Embedded::open(&dir)
        .expect("open the embedded store")
        .store();
    (dir, store)
}

#[tokio::test]
async fn connections() {
    let (_dir, s) = store();
    contract::connections(&s).await;
}

#[tokio::test]
async fn claims_and_duplicates() {
    let (_dir, s) = store();
    contract::claims_and_duplicates(&s).await;
}

#[tokio::test]
async fn reading_and_marking() {
    let (_dir, s) = store();
    contract::reading_and_marking(&s).await;
}

#[tokio::test]
async fn preferences_and_templates() {
    let (_dir, s) = store();
    contract::preferences_and_templates(&s).await;
}

#[tokio::test]
async fn deliveries() {
    let (_dir, s) = store();
    contract::deliveries(&s).await;
}

#[tokio::test]
async fn suppressions() {
    let (_dir, s) = store();
    contract::suppressions(&s).await;
}

#[tokio::test]
async fn user_ids_are_distinct() {
    let (_dir, s) = store();
    contract::user_ids_are_distinct(&s).await;
}

#[tokio::test]
async fn expiry_and_read_pages() {
    let (_dir, s) = store();
    contract::expiry_and_read_pages(&s).await;
}

#[tokio::test]
async fn listing_deleting_directory_and_stats() {
    let (_dir, s) = store();
    contract::listing_deleting_directory_and_stats(&s).await;
}

#[tokio::test]
async fn what_is_written_survives_a_reopen() {
    let dir = TestDir::new("reopen");
    let n = {
        let s = Embedded::open(&dir).unwrap().store();
        contract::add(&s, "rex", "evt_keep").await
    };
    let s = Embedded::open(&dir).unwrap().store();
    use shared::ports::*;
    assert_eq!(
        s.get_notification("rex", &n.id).await.unwrap().unwrap().id,
        n.id
    );
    assert_eq!(s.unread_count("rex").await.unwrap(), 1);
}

/// DynamoDB cancels a transaction while another on the same item is in
/// progress; the embedded store does too, so code that would fail on AWS
/// (many transactions on one user's unread counter at once) fails here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_transactions_on_one_item_conflict_as_on_dynamodb() {
    use shared::error::StoreError;
    use shared::model::MarkRead;
    use shared::ports::*;
    let (_dir, s) = store();
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(contract::add(&s, "ivy", &format!("evt_ivy_{i}")).await.id);
    }
    let strict = s.clone().without_conflict_retries();
    let now = chrono::Utc::now();
    let results =
        futures::future::join_all(ids.iter().map(|id| strict.mark_read("ivy", id, now))).await;
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
        .count();
    let marked = results
        .iter()
        .filter(|r| matches!(r, Ok(MarkRead::Marked { .. })))
        .count();
    assert!(
        conflicts > 0,
        "no conflict among 20 concurrent transactions"
    );
    assert_eq!(conflicts + marked, 20, "{results:?}");
    // A cancelled transaction changed nothing: the counter is exact.
    assert_eq!(s.unread_count("ivy").await.unwrap(), (20 - marked) as u64);
}

/// Mark-all-read on a big inbox: one transaction per page, so no conflicts
/// even though every page touches the one counter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_all_read_is_one_transaction_per_page() {
    use shared::adapters::disabled::Disabled;
    use shared::ports::*;
    use std::sync::Arc;
    let (_dir, s) = store();
    let s = s.without_conflict_retries();
    for i in 0..250 {
        contract::add(&s, "jon", &format!("evt_jon_{i}")).await;
    }
    let app = shared::App::new(
        shared::Config::default(),
        Arc::new(s.clone()),
        Arc::new(Disabled("events")),
        Arc::new(Disabled("deliveries")),
        Arc::new(Disabled("pushes")),
        Arc::new(Disabled("email")),
    );
    let marked = shared::usecases::inbox::mark_all_read(
        app.store.as_ref(),
        app.devices(),
        None,
        "jon",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(marked, 250);
    assert_eq!(s.unread_count("jon").await.unwrap(), 0);
    let left = s.list_notifications("jon", None, 10, true).await.unwrap();
    assert!(left.items.is_empty());
}

/// The embedded store deletes what DynamoDB's TTL would: read notifications
/// past their expiry, old delivery records and claims; unread ones stay.
#[tokio::test]
async fn expired_items_are_purged_and_unread_ones_kept() {
    use chrono::{Duration, Utc};
    use shared::model::{Channel, DeliveryRecord, DeliveryStatus};
    use shared::ports::*;
    let (_dir, s) = store();
    let old_read = contract::add_aged(&s, "lea", "evt_lea_1", Duration::days(400)).await;
    let old_unread = contract::add_aged(&s, "lea", "evt_lea_2", Duration::days(400)).await;
    let fresh = contract::add(&s, "lea", "evt_lea_3").await;
    s.mark_read("lea", &old_read.id, Utc::now() - Duration::days(2))
        .await
        .unwrap();
    s.record_delivery(&DeliveryRecord {
        user_id: "lea".into(),
        notification_id: old_read.id.to_string(),
        channel: Channel::Email,
        status: DeliveryStatus::Delivered,
        reason: None,
        detail: None,
        provider_message_id: None,
        at: Utc::now() - Duration::days(400),
        source: None,
    })
    .await
    .unwrap();
    // A year later the claims of the aged events (made 400 days ago) go too.
    let purged = s.purge_expired(Utc::now()).await.unwrap();
    assert_eq!(purged, 4, "one read notification, one delivery, two claims");
    assert_eq!(s.purge_expired(Utc::now()).await.unwrap(), 0);
    assert!(
        s.get_notification("lea", &old_unread.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.get_notification("lea", &fresh.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.delivery("lea", &old_read.id, Channel::Email)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(s.unread_count("lea").await.unwrap(), 2);
}

#[tokio::test]
async fn push_subscriptions() {
    let (_dir, s) = store();
    contract::push_subscriptions(&s).await;
}

#[tokio::test]
async fn preferences_and_push() {
    let (_dir, s) = store();
    contract::preferences_and_push(&s, false).await;
}
