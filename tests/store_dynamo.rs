//! The store contract against DynamoDB on moto, one fresh table per test.

use integration::contract;
use integration::*;
use shared::adapters::dynamo::DynamoStore;

async fn store() -> DynamoStore {
    let sdk = sdk_config(&moto().endpoint());
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = format!("contract-{}", ulid::Ulid::new().to_string().to_lowercase());
    create_table(&client, &table).await;
    DynamoStore::new(client, table)
}

#[tokio::test]
async fn connections() {
    contract::connections(&store().await).await;
}

#[tokio::test]
async fn claims_and_duplicates() {
    contract::claims_and_duplicates(&store().await).await;
}

#[tokio::test]
async fn reading_and_marking() {
    contract::reading_and_marking(&store().await).await;
}

#[tokio::test]
async fn preferences_and_templates() {
    contract::preferences_and_templates(&store().await).await;
}

#[tokio::test]
async fn deliveries() {
    contract::deliveries(&store().await).await;
}

#[tokio::test]
async fn counters_are_kept_per_hour_as_things_happen() {
    use shared::ports::Store;
    let s = store().await;
    contract::add(&s, "hal", "evt_stat_1").await;
    contract::add(&s, "hal", "evt_stat_2").await;
    contract::deliveries(&s).await;
    let counts = s
        .stats(&[shared::ports::stats_hour(chrono::Utc::now())])
        .await
        .unwrap();
    assert_eq!(counts[0].get("created.order.created"), Some(&2));
    assert_eq!(counts[0].get("email.failed"), Some(&1));
    assert_eq!(counts[0].get("email.delivered"), Some(&1));
}

#[tokio::test]
async fn listing_deleting_directory_and_stats() {
    contract::listing_deleting_directory_and_stats(&store().await).await;
}
