//! Time-ordered ids.

use std::sync::Mutex;

use ulid::Generator;

static GENERATOR: Mutex<Option<Generator>> = Mutex::new(None);

/// A ULID that sorts after every id this process made before, even within
/// the same millisecond (a plain ULID's random part would not), so paging
/// and sync cursors never skip a notification made in a burst.
pub fn new_id() -> String {
    let mut slot = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let generator = slot.get_or_insert_with(Generator::new);
    match generator.generate() {
        Ok(id) => id.to_string(),
        // The random part overflowed within one millisecond: start afresh.
        Err(_) => {
            *generator = Generator::new();
            ulid::Ulid::new().to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_strictly_increase_in_a_burst() {
        let ids: Vec<String> = (0..10_000).map(|_| super::new_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}

/// Why a string is not a valid id; serde reports it at the field's path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdError(pub String);

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `s`; the error names `field`.
            pub fn parse(
                field: &str,
                s: impl Into<String>,
            ) -> Result<Self, crate::error::ValidationError> {
                let s = s.into();
                let check: fn(&str) -> Result<(), IdError> = $check;
                check(&s).map_err(|e| crate::error::ValidationError::new(field, e.0))?;
                Ok(Self(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                let check: fn(&str) -> Result<(), IdError> = $check;
                check(&s)?;
                Ok(Self(s))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

fn message(e: crate::error::ValidationError) -> IdError {
    IdError(e.message)
}

id_type!(
    /// A user: the identity provider's `sub`, any 1 to 256 printable
    /// characters (stores escape it inside keys).
    UserId,
    |s| crate::event::check_user_id("userId", s).map_err(message)
);

id_type!(
    /// A business event's id, its idempotency key: printable text. Shops may
    /// post ids of up to 128 bytes; admin sends derive longer ones.
    EventId,
    |s| crate::event::check_event_id("id", s).map_err(message)
);

id_type!(
    /// A notification: a ULID, so it sorts by creation time.
    NotificationId,
    |s| {
        ulid::Ulid::from_string(s)
            .map(|_| ())
            .map_err(|_| IdError(format!("`{}` is not a notification id", s.chars().take(40).collect::<String>())))
    }
);

impl NotificationId {
    /// A fresh id, after every id this process made before.
    pub fn new() -> Self {
        Self(new_id())
    }
}

impl Default for NotificationId {
    fn default() -> Self {
        Self::new()
    }
}
