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
