//! The same store contract against the embedded store, so the two cannot drift.

use integration::contract;
use shared::adapters::embedded::{Embedded, EmbeddedStore};

fn store() -> EmbeddedStore {
    let dir = std::env::temp_dir().join(format!("notify-contract-{}", ulid::Ulid::new()));
    Embedded::open(&dir)
        .expect("open the embedded store")
        .store()
}

#[tokio::test]
async fn connections() {
    contract::connections(&store()).await;
}

#[tokio::test]
async fn claims_and_duplicates() {
    contract::claims_and_duplicates(&store()).await;
}

#[tokio::test]
async fn reading_and_marking() {
    contract::reading_and_marking(&store()).await;
}

#[tokio::test]
async fn preferences_and_templates() {
    contract::preferences_and_templates(&store()).await;
}

#[tokio::test]
async fn deliveries() {
    contract::deliveries(&store()).await;
}

#[tokio::test]
async fn listing_deleting_directory_and_stats() {
    contract::listing_deleting_directory_and_stats(&store()).await;
}

#[tokio::test]
async fn what_is_written_survives_a_reopen() {
    let dir = std::env::temp_dir().join(format!("notify-reopen-{}", ulid::Ulid::new()));
    let n = {
        let s = Embedded::open(&dir).unwrap().store();
        contract::add(&s, "rex", "evt_keep").await
    };
    let s = Embedded::open(&dir).unwrap().store();
    use shared::ports::Store;
    assert_eq!(
        s.get_notification("rex", &n.id).await.unwrap().unwrap().id,
        n.id
    );
    assert_eq!(s.unread_count("rex").await.unwrap(), 1);
}
