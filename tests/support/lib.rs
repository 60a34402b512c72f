//! Test support: moto server, the management API stand-in, per-test environments.

pub mod client;
pub mod contract;
pub mod env;
pub mod hooks;
pub mod logs;
pub mod mgmt;
pub mod moto;
pub mod process;
pub mod python;
pub mod serve;
pub mod stack;
pub mod temp;
pub mod wait;

pub use env::*;
pub use mgmt::{Fault, Mgmt};
pub use moto::{Moto, moto, moto_data, moto_keep_alive};
pub use temp::TestDir;
pub use wait::{wait_for, wait_until};
