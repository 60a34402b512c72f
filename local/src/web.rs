//! The browser client and demo page, compiled in so the binary serves them
//! from anywhere (no build step, no asset path to get wrong).

pub const INDEX: &str = include_str!("../../web/index.html");
pub const CLIENT: &str = include_str!("../../web/notify-client.js");
pub const ADMIN: &str = include_str!("../../web/admin.html");
pub const SERVICE_WORKER: &str = include_str!("../../web/sw.js");
