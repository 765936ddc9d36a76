//! Monitoring plans left alone in the field: the plan (`[[schedule]]` tables or `set_schedule`),
//! when each entry runs next, the persisted state that carries the plan across power cuts, and
//! the guards and alarms (battery, disk, outbox, contacts, clock, faults, missed runs).
//!
//! This module owns the decisions, not the doing. It is pure logic driven by the times its
//! caller gives it — a monotonic `Duration` since an origin and a wall-clock `SystemTime` — so a
//! month of monitoring is a unit test. It must never read a clock, sleep, spawn a thread, talk
//! to MQTT or the engine, or touch a file other than its own state file ([`Scheduler::save`],
//! [`Scheduler::load`]).
//!
//! The daemon's loop: block until [`Scheduler::next_due`]'s deadline (or a message, offered
//! with [`Scheduler::offer`]), [`Scheduler::take_due`] the run, measure it (or not: battery low,
//! storage full), then [`Scheduler::finish`] it with its [`Outcome`]; save the state after
//! each of these. After a restart, [`Scheduler::take_interrupted`] names the cut survey, whose
//! entry's [`Resume`] says what to do with it.

mod alarm;
mod battery;
mod cron;
mod duration;
mod error;
mod parse;
mod persist;
mod plan;
mod runs;
mod scheduler;
mod state;
mod status;

#[cfg(test)]
mod parse_tests;
#[cfg(test)]
mod persist_tests;
#[cfg(test)]
mod scheduler_tests;
#[cfg(test)]
mod simulated_month;

pub use alarm::{Alarm, AlarmEvent, AlarmKind, AlarmSpec, Direction, Transition};
pub use battery::{BatteryGuard, BatteryState, DEFAULT_RECOVERY_V};
pub use cron::{Cron, UtcOffset};
pub use duration::{format_duration, parse_duration, MAX_DURATION};
pub use error::ScheduleError;
pub use plan::{
    topic_matches, Condition, ContactCheck, ContactPolicy, Entry, Plan, Resume, Test, Trigger,
};
pub use runs::Interrupted;
pub use scheduler::{Due, Fire, Scheduler, JUMP_TOLERANCE, MAX_COUNTED_SLOTS, RECENT_MISSED};
pub use state::{EntryState, MissReason, Missed, Outcome, Running};
