//! The business event parser (`POST /events` and the worker): any bytes give
//! an event or a validation error naming a field, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::event::BusinessEvent;

fuzz_target!(|data: &[u8]| {
    match BusinessEvent::parse(data) {
        Ok(event) => {
            // What parses must round-trip through the queue unchanged.
            let again = BusinessEvent::parse(&serde_json::to_vec(&event).unwrap()).expect("re-parse");
            assert_eq!(event, again);
        }
        Err(e) => assert!(!e.field.is_empty()),
    }
});
