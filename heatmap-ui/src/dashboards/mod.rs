//! Dashboards: the JSON schema ([`schema`]), where they live ([`store`]), the built-in
//! ones and their `$self` variable ([`builtin`]) and their HTTP API ([`api`]). The schema
//! is documented for users in the crate's `README.md`.

pub mod api;
pub mod builtin;
pub mod schema;
pub mod store;

pub use builtin::SelfScrape;
pub use schema::{Dashboard, Panel, PanelKind, Tab};
pub use store::{DashboardStore, Summary};
