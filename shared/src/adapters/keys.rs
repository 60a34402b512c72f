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
//! | delivery status   | `USER#u`       | `DELIVERY#<ulid>#<channel>` |
//! | template override | `TEMPLATE`     | `<type>#<channel>`          |
//! | event claim       | `EVENT#id`     | `EVENT`                     |
//! | statistics        | `STATS#<hour>` | `COUNTS`                    |
//! | user directory    | `USERS#<shard>`| `USER#u`                    |

use chrono::{DateTime, Utc};

use crate::event::EventType;
use crate::model::Channel;
use crate::ports::{stats_hour, user_shard};

pub const TEMPLATE_PK: &str = "TEMPLATE";
pub const NOTIF_PREFIX: &str = "NOTIF#";
/// Sorts just after every `NOTIF#…` key.
pub const NOTIF_END: &str = "NOTIF$";
/// Days an event id is remembered for deduplication.
pub const CLAIM_RETENTION_DAYS: i64 = 7;

pub fn user_pk(user: &str) -> String {
    format!("USER#{user}")
}

pub fn conn_sk(connection_id: &str) -> String {
    format!("CONN#{connection_id}")
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
    format!("EVENT#{event_id}")
}

pub fn delivery_sk(notification_id: &str, channel: Channel) -> String {
    format!("DELIVERY#{notification_id}#{}", channel.as_str())
}

pub fn template_sk(kind: EventType, channel: Channel) -> String {
    format!("{}#{}", kind.as_str(), channel.as_str())
}

pub fn stats_pk_of_hour(hour: &str) -> String {
    format!("STATS#{hour}")
}

/// Statistics are counted per hour: a window is a handful of reads, never a scan.
pub fn stats_pk(at: DateTime<Utc>) -> String {
    stats_pk_of_hour(&stats_hour(at))
}

/// Hourly counters are split over this many items in DynamoDB: every event
/// bumps one, and a single hot item would throttle and serialize writers.
pub const STATS_SHARDS: u32 = 4;

pub fn stats_sk(shard: u32) -> String {
    format!("COUNTS#{shard}")
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
