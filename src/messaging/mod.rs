//! Messaging: the JSON command protocol (shared by MQTT and the dashboard's WebSocket), the MQTT
//! topics, the OhmPi compatibility dialect, and the MQTT link itself.
//!
//! Command parsing and replies are plain functions with no I/O; the MQTT link owns the client
//! and its event loop and knows nothing of the engine.

pub mod command;
pub mod compat;
pub mod link;
pub mod reply;
pub mod topics;
