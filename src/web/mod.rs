//! The dashboard: an HTTP server (page, health, survey files) and the WebSocket gateway
//! (docs/web.md), with token-based access control.

pub mod auth;
pub mod gateway;
pub mod hub;
pub mod listener;
pub mod server;

pub use auth::Role;
pub use hub::{Hub, HubLimits, Inbound, Mode};
