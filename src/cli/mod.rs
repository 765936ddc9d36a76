//! The command-line commands; `main.rs` parses and dispatches.

pub mod ctl;
pub mod daemon;
pub mod demo;
pub mod doctor;
pub mod export;
pub mod gateway;
pub mod measure;
pub mod progress;
pub mod sequence;
pub mod signals;
pub mod token;
