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
    let s = store().await;
    contract::add(&s, "hal", "evt_stat_1").await;
    contract::add(&s, "hal", "evt_stat_2").await;
    contract::deliveries(&s).await;
    let out = s
        .client()
        .get_item()
        .table_name(s_table(&s))
        .key(
            "PK",
            aws_sdk_dynamodb::types::AttributeValue::S(shared::adapters::keys::stats_pk(
                chrono::Utc::now(),
            )),
        )
        .key(
            "SK",
            aws_sdk_dynamodb::types::AttributeValue::S("COUNTS".into()),
        )
        .send()
        .await
        .unwrap();
    let item = out.item.expect("a statistics item for this hour");
    let n = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_n().ok())
            .map(|s| s.parse::<i64>().unwrap())
    };
    assert_eq!(n("created.order.created"), Some(2));
    assert_eq!(n("email.failed"), Some(1));
    assert_eq!(n("email.delivered"), Some(1));
}

fn s_table(s: &DynamoStore) -> String {
    s.table().to_owned()
}

#[tokio::test]
async fn listing_deleting_directory_and_stats() {
    contract::listing_deleting_directory_and_stats(&store().await).await;
}
