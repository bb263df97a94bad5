//! Dashboards: the JSON schema ([`schema`]), where they live ([`store`]) and their HTTP
//! API ([`api`]). The schema is documented for users in the crate's `README.md`.

pub mod api;
pub mod schema;
pub mod store;

pub use schema::{Dashboard, Panel, PanelKind, Tab};
pub use store::{DashboardStore, Summary};
