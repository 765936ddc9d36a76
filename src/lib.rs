//! ohmpi-rs: controller for the OhmPi open-hardware resistivity meter.
//!
//! The crate is organised as the instrument is:
//! - [`config`]: the TOML configuration, read raw and then validated;
//! - [`hardware`]: the [`hardware::Frontend`] the engine drives, system presets and the simulator;
//! - [`acquisition`]: the real-time engine thread and the measurement of one quadrupole;
//! - [`survey`]: quadrupoles, sequences, geometry, records and exports;
//! - [`rpi`]: the Raspberry Pi itself (model, I2C buses), the only module that names rppal;
//! - [`doctor`]: the deployment check (`ohmpi doctor`).
//!
//! The engine knows nothing of files, MQTT or HTTP; drivers know nothing of the engine.

pub mod acquisition;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod doctor;
pub mod drivers;
pub mod hardware;
pub mod instrument;
pub mod messaging;
pub mod pump;
pub mod rpi;
pub mod schedule;
pub mod service;
pub mod soh;
pub mod storage;
pub mod survey;
pub mod telemetry;
pub mod timestamp;
pub mod web;
