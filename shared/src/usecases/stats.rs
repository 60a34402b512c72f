//! Admin statistics from the hourly counters (never a scan).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::error::{StoreError, ValidationError};
use crate::model::Counts;
use crate::ports::{Statistics, StatsHour};

/// The longest window one request may cover: 31 days of hourly buckets.
pub const MAX_WINDOW_HOURS: i64 = 31 * 24;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hour {
    pub hour: DateTime<Utc>,
    #[serde(flatten)]
    pub counts: Counts,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub totals: Counts,
    pub hourly: Vec<Hour>,
}

/// Parses the window: `from` and `to` in RFC 3339, default the last 24 hours.
pub fn window(
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ValidationError> {
    let parse = |field: &str, v: &str| {
        DateTime::parse_from_rfc3339(v)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|_| ValidationError::new(field, "must be an RFC 3339 timestamp"))
    };
    let to = to.map(|v| parse("to", v)).transpose()?.unwrap_or(now);
    let from = from
        .map(|v| parse("from", v))
        .transpose()?
        .unwrap_or(to - Duration::hours(24));
    if from >= to {
        return Err(ValidationError::new("from", "must be before `to`"));
    }
    if to - from > Duration::hours(MAX_WINDOW_HOURS) {
        return Err(ValidationError::new(
            "from",
            format!("the window is at most {MAX_WINDOW_HOURS} hours"),
        ));
    }
    Ok((from, to))
}

pub async fn stats(
    store: &dyn Statistics,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Stats, StoreError> {
    let mut hours = Vec::new();
    let mut h = StatsHour::of(from);
    while h.start() < to {
        hours.push(h);
        h = h.next();
    }
    let buckets = store.stats(&hours).await?;
    let mut totals = Counts::default();
    let mut hourly = Vec::with_capacity(hours.len());
    for (hour, counts) in hours.into_iter().zip(buckets) {
        totals.merge(&counts);
        hourly.push(Hour {
            hour: hour.start(),
            counts,
        });
    }
    Ok(Stats {
        from,
        to,
        totals,
        hourly,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_default_and_are_bounded() {
        let now = Utc::now();
        let (f, t) = window(None, None, now).unwrap();
        assert_eq!(t - f, Duration::hours(24));
        assert_eq!(
            window(Some("yesterday"), None, now).unwrap_err().field,
            "from"
        );
        assert_eq!(
            window(
                Some("2026-11-27T10:00:00Z"),
                Some("2026-11-27T09:00:00Z"),
                now
            )
            .unwrap_err()
            .field,
            "from"
        );
        assert!(
            window(
                Some("2026-01-01T00:00:00Z"),
                Some("2026-11-27T09:00:00Z"),
                now
            )
            .is_err()
        );
    }

    #[test]
    fn counters_fold_into_types_and_channels() {
        let mut c = Counts::default();
        c.add("created.order.created", 2);
        c.add("email.failed", 1);
        c.add("in_app.delivered", 3);
        c.add("in_app.delivered", 1);
        assert_eq!(c.created["order.created"], 2);
        assert_eq!(c.deliveries["in_app"]["delivered"], 4);
        assert_eq!(c.deliveries["email"]["failed"], 1);
    }
}
