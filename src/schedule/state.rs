//! What the scheduler remembers of each entry, and how a run ended or was missed.
//!
//! Wall-clock times are kept as RFC 3339 text in the state file; monotonic times are not kept
//! (they mean nothing after a restart) and are rebuilt from the wall clock by
//! `Scheduler::restore` (at load).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// The remembered state of one plan entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntryState {
    pub name: String,
    /// Runs made (completed or failed).
    pub runs: u64,
    /// Planned slots not run (missed or skipped), every one with a reason in a [`Missed`].
    pub missed: u64,
    #[serde(default, with = "wall::opt")]
    pub last_run_wall: Option<SystemTime>,
    /// The wall time of the last slot accounted for (run or missed).
    #[serde(default, with = "wall::opt")]
    pub last_slot_wall: Option<SystemTime>,
    #[serde(default)]
    pub last_outcome: Option<Outcome>,
    #[serde(skip)]
    pub last_run_mono: Option<Duration>,
    /// `every`: the next slot; `on_message`: the end of the spacing. Monotonic.
    #[serde(skip)]
    pub(crate) next_mono: Option<Duration>,
    /// After a restart: a run to make up at once, for the slot that long ago.
    #[serde(skip)]
    pub(crate) make_up: Option<Duration>,
    /// Slots found missed while the instrument was off (counted at restore).
    #[serde(skip)]
    pub(crate) pending_missed: u64,
    #[serde(skip)]
    pub(crate) since: Since,
}

/// What happened since the entry's last accounting, to give missed slots their reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Since {
    pub down: bool,
    pub jump: bool,
    pub busy: bool,
}

impl Since {
    /// The most telling reason first: off, then a clock jump, then a survey still running.
    pub fn reason(self) -> MissReason {
        if self.down {
            MissReason::Down
        } else if self.jump {
            MissReason::ClockJump
        } else if self.busy {
            MissReason::Busy
        } else {
            MissReason::Late
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    /// Started but failed: the reason.
    Failed(String),
    /// Not measured (battery low, storage full, contact check abort): the reason. Counted missed.
    Skipped(String),
}

/// Why planned slots were not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissReason {
    /// The instrument was off or the daemon not running (power cut).
    Down,
    /// The wall clock jumped forward over them (cron entries).
    ClockJump,
    /// Another survey was running.
    Busy,
    /// The scheduler was asked too late (a stalled or suspended system).
    Late,
    /// The daemon decided not to measure: battery low, storage full, contact check…
    Skipped(String),
    /// The trigger message came while a survey was running (on_message entries).
    MessageWhileBusy,
}

/// Slots of one entry not run, reported once when counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Missed {
    pub entry: String,
    pub count: u64,
    pub reason: MissReason,
    /// When they were counted.
    #[serde(with = "wall")]
    pub time: SystemTime,
}

/// The survey being measured, remembered so that a cut one is found after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Running {
    pub entry: String,
    /// The run's number, increasing over the instrument's life (also across wall-clock jumps).
    pub run: u64,
    #[serde(with = "wall")]
    pub started: SystemTime,
    #[serde(skip)]
    pub(crate) started_mono: Duration,
}

/// `SystemTime` as RFC 3339 UTC text.
pub(crate) mod wall {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::SystemTime;

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::timestamp::rfc3339(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        crate::timestamp::parse_rfc3339(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("{text:?} is not an RFC 3339 UTC time"))
        })
    }

    pub mod opt {
        use super::*;

        pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<SystemTime>, D::Error> {
            match Option::<String>::deserialize(d)? {
                None => Ok(None),
                Some(text) => crate::timestamp::parse_rfc3339(&text)
                    .map(Some)
                    .ok_or_else(|| {
                        serde::de::Error::custom(format!("{text:?} is not an RFC 3339 UTC time"))
                    }),
            }
        }
    }
}
