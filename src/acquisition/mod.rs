//! Acquisition: the engine thread, the measurement of one quadrupole, statistics, Vab strategies
//! and real-time set-up. The engine knows the [`crate::hardware::Frontend`] and nothing else: no
//! files, no MQTT, no HTTP.

mod contact;
mod counters;
pub mod doorbell;
mod engine;
pub mod event;
mod measure;
mod room;
pub mod rt;
mod runs;
pub mod selftest;
pub mod settings;
pub mod stats;
pub mod strategy;
mod supply;
mod worker;

pub use counters::EngineCounters;
pub use doorbell::Doorbell;
pub use engine::{Engine, EngineOptions, SendError};
pub use event::{
    Command, Contact, EngineState, Event, Outcome, RunId, RunKind, Sample, EVENT_CAPACITY,
};
pub use room::LONG_STORAGE_WAIT;
pub use settings::{FieldError, RawSettings, Settings, Strategy};
