//! The item keys of the single-table layout, shared by the DynamoDB and the
//! embedded store so both lay data out the same way.
//!
//! | item              | PK             | SK                          |
//! |-------------------|----------------|-----------------------------|
//! | connection        | `USER#u`       | `CONN#c`                    |
//! | connection owner  | `CONN#c`       | `META`                      |
//! | notification      | `USER#u`       | `NOTIF#<ulid>`              |
//! | unread counter    | `USER#u`       | `UNREAD`                    |
//! | preferences       | `USER#u`       | `PREFS`                     |
//! | delivery log entry| `USER#u`       | `DELIVERY#<ulid>#<channel>#<entry>` |
//! | suppressed address| `SUPPRESSED#<address>` | `SUPPRESSION`       |
//! | push subscription | `USER#u`       | `PUSH#<sha256 of endpoint>` |
//! | its owner         | `PUSHEP#<sha256 of endpoint>` | `OWNER`      |
//! | template override | `TEMPLATE`     | `<type>#<channel>`          |
//! | event claim       | `EVENT#id`     | `EVENT`                     |
//! | statistics        | `STATS#<hour>#<shard>` | `COUNTS` (`COUNTS#<shard>` in DynamoDB) |
//! | user directory    | `USERS#<shard>`| `USER#u`                    |
//!
//! `u` and `id` are [`key_part`]s: user ids come from identity providers
//! (`auth0|64f1…`, e-mail addresses, any printable text), so a `#` or a
//! `/` in one must never read as a separator or collide with another user.

use crate::event::EventType;
use crate::model::Channel;
use crate::ports::{StatsHour, user_shard};

pub const TEMPLATE_PK: &str = "TEMPLATE";
/// The sort key of a connection's owner row.
pub const OWNER_SK: &str = "META";
/// The sort key of a user's unread counter.
pub const UNREAD_SK: &str = "UNREAD";
/// The sort key of a user's preferences.
pub const PREFS_SK: &str = "PREFS";
/// The sort key of an event claim.
pub const CLAIM_SK: &str = "EVENT";
pub const CONN_PREFIX: &str = "CONN#";
/// Sorts just after every `CONN#…` key.
pub const CONN_END: &str = "CONN$";
pub const DELIVERY_PREFIX: &str = "DELIVERY#";
pub const STATS_PREFIX: &str = "STATS#";
/// An hour's counters are spread over [`STATS_SHARDS`] partition keys.
pub const STATS_SK: &str = "COUNTS";
pub const NOTIF_PREFIX: &str = "NOTIF#";
/// Sorts just after every `NOTIF#…` key.
pub const NOTIF_END: &str = "NOTIF$";

/// Longest encoded part kept readable; DynamoDB caps a sort key at 1,024
/// bytes, and a 256-character id of 4-byte characters encodes to 3,072.
const MAX_READABLE_PART: usize = 512;

/// An id as it appears inside a key: bytes other than ASCII letters, digits
/// and `_ - . : @` become `%XX` (so `%` itself is always escaped and the
/// encoding is injective, and every id valid before encoding keys is
/// unchanged). An encoding longer than [`MAX_READABLE_PART`] becomes `%%`
/// and the SHA-256 of the id, which no readable encoding can equal.
pub fn key_part(id: &str) -> std::borrow::Cow<'_, str> {
    use std::fmt::Write;
    let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'@');
    if id.bytes().all(plain) && id.len() <= MAX_READABLE_PART {
        return std::borrow::Cow::Borrowed(id);
    }
    let mut out = String::with_capacity(id.len() * 3);
    for b in id.bytes() {
        if plain(b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    if out.len() > MAX_READABLE_PART {
        use sha2::Digest;
        out.clear();
        out.push_str("%%");
        for b in sha2::Sha256::digest(id.as_bytes()) {
            let _ = write!(out, "{b:02x}");
        }
    }
    std::borrow::Cow::Owned(out)
}

pub fn user_pk(user: &str) -> String {
    format!("USER#{}", key_part(user))
}

pub fn conn_sk(connection_id: &str) -> String {
    format!("{CONN_PREFIX}{connection_id}")
}

pub fn owner_pk(connection_id: &str) -> String {
    format!("CONN#{connection_id}")
}

pub fn notif_sk(id: &str) -> String {
    format!("{NOTIF_PREFIX}{id}")
}

/// The lowest key after notification `after` (all ULIDs sort above `!`).
pub fn notif_after(after: Option<&str>) -> String {
    match after {
        Some(a) => format!("{NOTIF_PREFIX}{a}!"),
        None => NOTIF_PREFIX.to_owned(),
    }
}

pub fn claim_pk(event_id: &str) -> String {
    format!("EVENT#{}", key_part(event_id))
}

/// One entry of a notification's delivery log: sorted by notification, then
/// channel, then [`DeliveryRecord::entry_key`].
///
/// [`DeliveryRecord::entry_key`]: crate::model::DeliveryRecord::entry_key
pub fn delivery_sk(notification_id: &str, channel: Channel, entry: &str) -> String {
    format!(
        "{DELIVERY_PREFIX}{}#{}#{}",
        key_part(notification_id),
        channel.as_str(),
        key_part(entry)
    )
}

/// The range of a notification's whole delivery log: `[start, end)`.
pub fn delivery_range(notification_id: &str) -> (String, String) {
    let id = key_part(notification_id);
    (
        format!("{DELIVERY_PREFIX}{id}#"),
        format!("{DELIVERY_PREFIX}{id}$"),
    )
}

/// An address's suppression: its own partition, found without knowing the user.
pub fn suppression_pk(address: &str) -> String {
    format!("SUPPRESSED#{}", key_part(&address.trim().to_lowercase()))
}

pub const SUPPRESSION_SK: &str = "SUPPRESSION";

pub const PUSH_PREFIX: &str = "PUSH#";
/// Sorts just after every `PUSH#…` key; `PREFS`..`PUSH$` holds the
/// preferences and the push subscriptions, nothing else.
pub const PUSH_END: &str = "PUSH$";

fn endpoint_digest(endpoint: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(endpoint.as_bytes()))
}

/// A user's push subscription, by a digest of its endpoint (endpoints are
/// long URLs; the digest keeps the key short and one per endpoint).
pub fn push_sk(endpoint: &str) -> String {
    format!("{PUSH_PREFIX}{}", endpoint_digest(endpoint))
}

/// Whose an endpoint is: one browser, one user at a time, so a browser
/// shared by two accounts never gets the first one's pushes after the
/// second subscribes it.
pub fn push_owner_pk(endpoint: &str) -> String {
    format!("PUSHEP#{}", endpoint_digest(endpoint))
}

pub const PUSH_OWNER_SK: &str = "OWNER";

pub fn template_sk(kind: EventType, channel: Channel) -> String {
    format!("{}#{}", kind.as_str(), channel.as_str())
}

/// Statistics are counted per hour: a window is a handful of reads, never a
/// scan. Each hour is split over [`STATS_SHARDS`] partition keys: every
/// batch's flush writes one of them, and no key takes every writer's units.
pub fn stats_pk(hour: StatsHour, shard: u32) -> String {
    format!("{STATS_PREFIX}{}#{shard}", hour.key())
}

/// The hour of a statistics partition key.
pub fn hour_of_stats_pk(pk: &str) -> Option<&str> {
    pk.strip_prefix(STATS_PREFIX)?
        .rsplit_once('#')
        .map(|(hour, _)| hour)
}

pub const STATS_SHARDS: u32 = 4;

/// The shard a flush writes: any, so concurrent flushes rarely meet.
pub fn random_stats_shard() -> u32 {
    (ulid::Ulid::new().random() % u128::from(STATS_SHARDS)) as u32
}

pub fn stats_sk(shard: u32) -> String {
    format!("{STATS_SK}#{shard}")
}

pub fn created_counter(kind: EventType) -> String {
    format!("created.{}", kind.as_str())
}

pub fn delivery_counter(channel: Channel, status: &str) -> String {
    format!("{}.{status}", channel.as_str())
}

pub fn directory_pk(shard: u32) -> String {
    format!("USERS#{shard}")
}

pub fn directory_pk_of(user: &str) -> String {
    directory_pk(user_shard(user))
}

/// A user-directory cursor: `<shard>:<last user or empty>`.
pub fn parse_user_cursor(after: Option<&str>) -> Option<(u32, Option<String>)> {
    match after {
        None => Some((0, None)),
        Some(a) => {
            let (sh, u) = a.split_once(':')?;
            Some((
                sh.parse().ok()?,
                Some(u.to_owned()).filter(|u| !u.is_empty()),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_need_no_escaping_are_unchanged() {
        for id in ["u_42", "a.b-c:d@e.co", "01JABC"] {
            assert_eq!(key_part(id), id);
        }
    }

    #[test]
    fn separators_and_other_bytes_are_escaped_injectively() {
        assert_eq!(key_part("auth0|64f1"), "auth0%7C64f1");
        assert_eq!(key_part("a#b"), "a%23b");
        assert_eq!(key_part("a/b"), "a%2Fb");
        assert_eq!(key_part("ü"), "%C3%BC");
        // `%` is escaped too, so an id that looks encoded stays distinct.
        assert_eq!(key_part("a%23b"), "a%2523b");
        assert_ne!(user_pk("A"), user_pk("a"));
        assert!(!user_pk("x#CONN#y").contains("#CONN#"));
    }

    #[test]
    fn long_ids_are_hashed_within_dynamodb_key_limits() {
        let long = "\u{1F600}".repeat(256);
        let k = user_pk(&long);
        assert!(k.len() < 100, "{k}");
        assert!(k.starts_with("USER#%%"));
        assert_ne!(k, user_pk(&"\u{1F601}".repeat(256)));
        let readable = "x".repeat(256);
        assert_eq!(user_pk(&readable), format!("USER#{readable}"));
    }
}
