//! The pump: the consumer end of the engine's event ring. It gives every record its sequence
//! number and makes it durable in its survey file before anything else sees it, then hands on
//! what happened as [`Output`] for display or publication.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::acquisition::{Contact, EngineState, Event, Outcome, RunId, RunKind};
use crate::hardware::FrontendError;
use crate::storage::{StorageError, Store, SurveyWriter};
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

#[derive(Debug, Default)]
struct RunInfo {
    kind: Option<RunKind>,
    cmd_id: Option<String>,
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

/// Turns engine events into durable files and [`Output`]s.
#[derive(Debug)]
pub struct Pump {
    store: Store,
    survey: Option<SurveyWriter>,
    runs: HashMap<RunId, RunInfo>,
    /// Samples of the quadrupole being measured, when waveforms are kept.
    waveform: Option<Waveform>,
}

impl Pump {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            survey: None,
            runs: HashMap::new(),
            waveform: None,
        }
    }

    /// Keeps each quadrupole's samples and hands them on with its record.
    pub fn keep_waveforms(&mut self, keep: bool) {
        self.waveform = keep.then(Waveform::default);
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Tells the pump which command a run answers (its records carry the `cmd_id`).
    pub fn register(&mut self, run: RunId, cmd_id: Option<String>) {
        self.runs.entry(run).or_default().cmd_id = cmd_id;
    }

    fn cmd_id(&self, run: RunId) -> Option<String> {
        self.runs.get(&run).and_then(|r| r.cmd_id.clone())
    }

    fn close_survey(
        &mut self,
        run: RunId,
        outcome: Outcome,
    ) -> Result<Option<Output>, StorageError> {
        match self.survey.take() {
            Some(w) => {
                let survey = w.id().to_string();
                let files = w.finish()?;
                // The survey's rows carry the sequence numbers; remember them for the next start.
                self.store.remember_seq()?;
                Ok(Some(Output::SurveyClosed {
                    run,
                    survey,
                    files,
                    outcome,
                }))
            }
            None => Ok(None),
        }
    }

    /// Handles one engine event. Records are durable on disk when this returns them.
    pub fn handle(&mut self, event: Event) -> Result<Option<Output>, StorageError> {
        Ok(Some(match event {
            Event::State(s) => Output::State(s),
            Event::RunStarted {
                run,
                kind,
                total,
                surveys,
            } => {
                self.runs.entry(run).or_default().kind = Some(kind);
                if let Some(wf) = &mut self.waveform {
                    *wf = Waveform::default();
                }
                Output::RunStarted {
                    run,
                    kind,
                    total,
                    surveys,
                }
            }
            Event::SurveyStarted { run, time, .. } => {
                // A survey left open by a run that ended without closing it is closed first.
                self.close_survey(run, Outcome::Interrupted)?;
                let mut w = self.store.begin_survey(time)?;
                let kind = self.runs.get(&run).and_then(|r| r.kind);
                if kind == Some(RunKind::Sequence) {
                    w.open_measurements()?;
                }
                let out = Output::SurveyOpened {
                    run,
                    survey: w.id().to_string(),
                    path: w.path().to_path_buf(),
                };
                self.survey = Some(w);
                out
            }
            Event::Progress {
                run,
                done,
                total,
                eta_s,
            } => Output::Progress {
                run,
                done,
                total,
                eta_s,
            },
            Event::Sample { sample, .. } => {
                if let Some(w) = &mut self.survey {
                    w.append_sample(&sample)?;
                }
                if let Some(wf) = &mut self.waveform {
                    wf.t_s.push(sample.t_s);
                    wf.iab_ma.push(sample.iab_ma);
                    wf.vmn_mv.push(sample.vmn_mv);
                    wf.polarity.push(sample.polarity);
                    wf.pulse.push(sample.pulse);
                }
                return Ok(None);
            }
            Event::Health(h) => Output::Health(h),
            Event::Record { run, measurement } => {
                let seq = self.store.next_seq();
                let survey = self.survey.as_ref().map(|w| w.id().to_string());
                let record = Record::new(&measurement, seq, survey, self.cmd_id(run));
                match &mut self.survey {
                    Some(w) => w.append(&record)?,
                    None => self.store.append_single(&record)?,
                }
                let waveform = self.waveform.as_mut().and_then(|wf| {
                    let full = std::mem::take(wf);
                    (!full.t_s.is_empty()).then(|| {
                        Box::new(Waveform {
                            seq,
                            survey: record.survey.clone(),
                            a: record.a,
                            b: record.b,
                            m: record.m,
                            n: record.n,
                            ..full
                        })
                    })
                });
                Output::Record(Box::new(record), waveform)
            }
            Event::Contact { run, contact } => {
                if let Some(w) = &mut self.survey {
                    w.append_contact(&contact)?;
                }
                Output::Contact {
                    run,
                    survey: self.survey.as_ref().map(|w| w.id().to_string()),
                    contact,
                }
            }
            Event::SelfTest { run, result } => Output::SelfTest { run, result },
            Event::Fault { run, quad, error } => Output::Fault { run, quad, error },
            Event::Busy { refused } => Output::Busy { refused },
            Event::SurveyEnded { run, outcome, .. } => match self.close_survey(run, outcome)? {
                Some(out) => out,
                None => return Ok(None),
            },
            Event::RunEnded {
                run,
                outcome,
                records,
            } => {
                self.close_survey(run, outcome)?;
                self.runs.remove(&run);
                Output::RunEnded {
                    run,
                    outcome,
                    records,
                }
            }
        }))
    }
}
