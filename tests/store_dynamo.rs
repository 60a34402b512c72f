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
async fn suppressions() {
    contract::suppressions(&store().await).await;
}

#[tokio::test]
async fn counters_are_kept_per_hour_as_things_happen() {
    use shared::ports::*;
    let s = store().await;
    contract::add(&s, "hal", "evt_stat_1").await;
    contract::add(&s, "hal", "evt_stat_2").await;
    contract::deliveries(&s).await;
    let counts = s
        .stats(&[shared::ports::StatsHour::of(chrono::Utc::now())])
        .await
        .unwrap();
    assert_eq!(counts[0].created.get("order.created"), Some(&2));
    let email = &counts[0].deliveries["email"];
    assert_eq!(email.get("failed"), Some(&1));
    assert_eq!(
        email.get("sent"),
        Some(&1),
        "the provider's sent twice is one"
    );
    assert_eq!(email.get("bounced"), Some(&1));
    assert_eq!(email.get("queued"), None, "a wait is not an outcome");
    assert_eq!(counts[0].deliveries["in_app"].get("delivered"), Some(&1));
}

#[tokio::test]
async fn user_ids_are_distinct() {
    contract::user_ids_are_distinct(&store().await).await;
}

#[tokio::test]
async fn expiry_and_read_pages() {
    contract::expiry_and_read_pages(&store().await).await;
}

#[tokio::test]
async fn listing_deleting_directory_and_stats() {
    contract::listing_deleting_directory_and_stats(&store().await).await;
}

/// DynamoDB deletes by the `ttl` attribute: read notifications and delivery
/// records get one from the retention, unread notifications none (so the
/// unread counter stays exact), event claims one past SQS's 14 days.
#[tokio::test]
async fn read_notifications_deliveries_and_claims_carry_a_ttl() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use chrono::{Duration, Utc};
    use shared::model::{Channel, DeliveryRecord, DeliveryStatus, Retention};
    use shared::ports::*;
    let sdk = sdk_config(&moto().endpoint());
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = format!("ttl-{}", ulid::Ulid::new().to_string().to_lowercase());
    create_table(&client, &table).await;
    let s = DynamoStore::new(client.clone(), table.clone()).with_retention(Retention::days(30));
    let ttl_of = |pk: String, sk: String| {
        let (client, table) = (client.clone(), table.clone());
        async move {
            let item = client
                .get_item()
                .table_name(table)
                .key("PK", AttributeValue::S(pk))
                .key("SK", AttributeValue::S(sk))
                .send()
                .await
                .unwrap()
                .item
                .expect("the item exists");
            item.get("ttl")
                .map(|v| v.as_n().unwrap().parse::<i64>().unwrap())
        }
    };
    let n = contract::add(&s, "kim|1", "evt_ttl").await;
    let notif = || ("USER#kim%7C1".to_owned(), format!("NOTIF#{}", n.id));
    assert_eq!(ttl_of(notif().0, notif().1).await, None, "unread: no TTL");
    s.mark_read("kim|1", &n.id, Utc::now()).await.unwrap();
    let ttl = ttl_of(notif().0, notif().1).await.expect("read: a TTL");
    let want = (n.created_at + Duration::days(30)).timestamp();
    assert!((ttl - want).abs() <= 2, "ttl {ttl}, want {want}");

    let claim_ttl = ttl_of("EVENT#evt_ttl".into(), "EVENT".into())
        .await
        .expect("claims expire");
    assert!(claim_ttl >= (Utc::now() + Duration::days(14)).timestamp());

    // A delivery entry expires with its notification, whenever it came.
    let rec = DeliveryRecord {
        user_id: "kim|1".into(),
        notification_id: n.id.to_string(),
        channel: Channel::Email,
        status: DeliveryStatus::Delivered,
        reason: None,
        detail: None,
        provider_message_id: None,
        at: Utc::now() + Duration::days(3),
        source: None,
    };
    s.record_delivery(&rec).await.unwrap();
    let d = ttl_of(
        "USER#kim%7C1".into(),
        format!("DELIVERY#{}#email#{}", n.id, rec.entry_key()),
    )
    .await
    .expect("deliveries expire");
    assert!((d - want).abs() <= 2, "delivery ttl {d}, want {want}");
}

#[tokio::test]
async fn push_subscriptions() {
    contract::push_subscriptions(&store().await).await;
}

#[tokio::test]
async fn preferences_and_push_in_one_read() {
    contract::preferences_and_push(&store().await, true).await;
}
