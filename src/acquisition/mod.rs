//! Acquisition: the engine thread, the measurement of one quadrupole, statistics, Vab strategies
//! and real-time set-up. The engine knows the [`crate::hardware::Frontend`] and nothing else: no
//! files, no MQTT, no HTTP.

mod contact;
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

pub use doorbell::Doorbell;
pub use engine::{Engine, EngineCounters, EngineOptions, SendError, EVENT_CAPACITY};
pub use event::{Command, Contact, EngineState, Event, Outcome, RunId, RunKind, Sample};
pub use room::LONG_STORAGE_WAIT;
pub use settings::{FieldError, RawSettings, Settings, Strategy};
