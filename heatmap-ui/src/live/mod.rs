//! Live at 1 second: [`tick`] evaluates the newest step of each subscribed query,
//! [`sse`] streams those steps to the page as Server-Sent Events.

pub mod sse;
pub mod tick;

pub use tick::{evaluate_tick, newest_step, LivePoint, TickResult};
