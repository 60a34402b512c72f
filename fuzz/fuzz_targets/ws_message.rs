//! The WebSocket message parser: any frame gives an action or an error with a
//! code, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::protocol::ClientMessage;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = ClientMessage::parse(&text) {
        assert!(!e.code.is_empty());
    }
});
