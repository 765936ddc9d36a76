//! What the pump hands on once it has made it durable.

use std::path::PathBuf;

use crate::acquisition::{Contact, EngineState, Outcome, RunId, RunKind};
use crate::hardware::FrontendError;
use crate::survey::{Quadrupole, Record};

/// What the pump stored or saw, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    State(EngineState),
    RunStarted {
        run: RunId,
        kind: RunKind,
        total: u32,
        surveys: u32,
    },
    SurveyOpened {
        run: RunId,
        survey: String,
        path: PathBuf,
    },
    Progress {
        run: RunId,
        done: u32,
        total: u32,
        eta_s: f64,
    },
    /// A record, already durable, with its waveform when the pump keeps them.
    Record(Box<Record>, Option<Box<Waveform>>),
    Health(crate::hardware::Health),
    Contact {
        run: RunId,
        survey: Option<String>,
        contact: Contact,
    },
    SelfTest {
        run: RunId,
        result: crate::acquisition::selftest::SelfTestResult,
    },
    Fault {
        run: Option<RunId>,
        quad: Option<Quadrupole>,
        error: FrontendError,
    },
    Busy {
        refused: RunId,
    },
    SurveyClosed {
        run: RunId,
        survey: String,
        files: Vec<PathBuf>,
        outcome: Outcome,
    },
    RunEnded {
        run: RunId,
        outcome: Outcome,
        records: u32,
    },
}

/// The full waveform of one quadrupole, as published on `data/waveform`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Waveform {
    pub seq: u64,
    pub survey: Option<String>,
    pub a: u16,
    pub b: u16,
    pub m: u16,
    pub n: u16,
    /// Time since the quadrupole started \[s\].
    pub t_s: Vec<f64>,
    pub iab_ma: Vec<f64>,
    pub vmn_mv: Vec<f64>,
    /// +1, −1, or 0 during off time.
    pub polarity: Vec<i8>,
    /// Pulse index (stack × 2, + 1 for the − pulse).
    pub pulse: Vec<u16>,
}
