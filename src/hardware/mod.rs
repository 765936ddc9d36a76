//! The hardware the engine drives: the [`Frontend`] trait, system presets, and the simulator.
//!
//! Real boards (drivers composed into boards) plug in behind the same trait.

pub mod boards;
pub mod frontend;
pub mod preset;
pub mod real;
pub mod sim;

pub use frontend::{
    Frontend, FrontendError, FrontendInfo, Health, Limits, Polarity, RawSample, Role, Supply,
    Timings,
};
pub use preset::{Preset, PresetError, DEFAULT_SYSTEM};
