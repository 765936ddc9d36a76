//! What crosses the boundary of the acquisition thread: [`Command`]s in (bounded channel) and
//! [`Event`]s out (lock-free single-producer ring). Events are plain data: pushing one never
//! allocates.

use std::sync::Arc;
use std::time::SystemTime;

use super::settings::Settings;
use crate::hardware::FrontendError;
use crate::survey::{Electrode, Measurement, Quadrupole, Quality};

/// Capacity of the event ring.
pub const EVENT_CAPACITY: usize = 8192;

/// Identifies a run (one command that makes the engine measure), chosen by the sender.
pub type RunId = u64;

/// A request to the engine.
#[derive(Debug, Clone)]
pub enum Command {
    /// Measure one quadrupole.
    Measure {
        run: RunId,
        quad: Quadrupole,
        settings: Option<Box<Settings>>,
    },
    /// Run a sequence `settings.nb_meas` times, surveys `settings.sequence_delay` apart
    /// (start to start).
    RunSequence {
        run: RunId,
        sequence: Arc<[Quadrupole]>,
        settings: Option<Box<Settings>>,
    },
    /// Contact resistance of each pair of electrodes, injecting `vab` volts.
    RsCheck {
        run: RunId,
        pairs: Arc<[(Electrode, Electrode)]>,
        vab: f64,
    },
    /// Stop now: injection off, relays open, the current quadrupole discarded.
    Interrupt,
    /// Pause between quadrupoles.
    Pause,
    Resume,
    /// New default settings for the next runs.
    UpdateSettings(Box<Settings>),
    /// Open every relay.
    ResetMux,
    /// Board self-tests (all when `names` is `None`).
    SelfTest {
        run: RunId,
        names: Option<Arc<[String]>>,
    },
    /// Leave the thread, hardware safe.
    Shutdown,
}

/// What the engine is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineState {
    Idle,
    Running,
    Paused,
    Stopping,
    Fault,
    Stopped,
}

impl EngineState {
    /// The state a number from `state as u8` stands for (an unknown number: stopped).
    pub fn from_u8(n: u8) -> Self {
        [
            Self::Idle,
            Self::Running,
            Self::Paused,
            Self::Stopping,
            Self::Fault,
            Self::Stopped,
        ]
        .into_iter()
        .find(|s| *s as u8 == n)
        .unwrap_or(Self::Stopped)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Stopping => "stopping",
            Self::Fault => "fault",
            Self::Stopped => "stopped",
        }
    }
}

/// The kind of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Measure,
    Sequence,
    RsCheck,
    SelfTest,
}

/// How a run or a survey ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Interrupted,
    /// Too many consecutive hardware faults, or the hardware could not be made ready.
    Failed,
}

/// One reading of a quadrupole's waveform.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub quad: Quadrupole,
    /// Time since the quadrupole started \[s\].
    pub t_s: f64,
    /// Index of the pulse (0-based: stack × 2 + 0 for +, + 1 for −).
    pub pulse: u16,
    /// +1, −1, or 0 during off time.
    pub polarity: i8,
    pub iab_ma: f64,
    pub vmn_mv: f64,
    /// How late the reading was against its deadline \[µs\].
    pub late_us: f32,
}

/// Contact resistance of a pair of electrodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contact {
    pub a: Electrode,
    pub b: Electrode,
    /// Resistance between the two electrodes, shunt removed \[kΩ\]; `None` when no current flowed.
    pub rs_kohm: Option<f64>,
    pub vab_v: f64,
    pub iab_ma: Option<f64>,
    pub quality: Quality,
}

/// Something the engine reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    State(EngineState),
    RunStarted {
        run: RunId,
        kind: RunKind,
        /// Quadrupoles (or pairs) per survey.
        total: u32,
        surveys: u32,
    },
    SurveyStarted {
        run: RunId,
        index: u32,
        time: SystemTime,
    },
    Progress {
        run: RunId,
        done: u32,
        total: u32,
        eta_s: f64,
    },
    Sample {
        run: RunId,
        sample: Sample,
    },
    Record {
        run: RunId,
        measurement: Measurement,
    },
    SelfTest {
        run: RunId,
        result: SelfTestResult,
    },
    Contact {
        run: RunId,
        contact: Contact,
    },
    Fault {
        run: Option<RunId>,
        quad: Option<Quadrupole>,
        error: FrontendError,
    },
    /// A command that cannot be obeyed now (a run is going on).
    Busy {
        refused: RunId,
    },
    SurveyEnded {
        run: RunId,
        index: u32,
        outcome: Outcome,
    },
    RunEnded {
        run: RunId,
        outcome: Outcome,
        records: u32,
    },
    /// The boards' state of health (supply and battery voltage, bus errors), now and then.
    Health(crate::hardware::Health),
}

/// The result of one self-test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SelfTestResult {
    pub name: &'static str,
    pub passed: bool,
    /// The figure the test judged (relays exercised, mV, mA, V), when it got that far.
    pub value: Option<f64>,
    pub unit: &'static str,
}
