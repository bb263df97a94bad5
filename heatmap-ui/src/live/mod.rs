//! Live at 1 second: [`tick`] evaluates the newest step of each subscribed query,
//! [`hub`] shares each evaluation among every stream asking for the same query and step,
//! [`sse`] streams the steps to the page as Server-Sent Events.

pub mod hub;
pub mod sse;
pub mod tick;

#[cfg(test)]
mod hub_tests;

pub use hub::LiveHub;
pub use tick::{evaluate_one, evaluate_tick, newest_step, LivePoint, Metric, TickResult};
