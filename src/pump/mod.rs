//! The pump: the consumer end of the engine's event ring, and the one owner of everything the
//! instrument keeps on disk — the survey files, the outbox journal and the sequence number.
//!
//! A record is durable in one step, before anyone sees it: its outbox entry is written and
//! synced, then its survey row; only then is it handed on as [`Output::Record`]. A crash between
//! the two writes leaves the record in the outbox only, and [`reconcile`] puts its row back at
//! the next start; a survey row that is not in the outbox (a data directory from an older
//! version) is put into the outbox. Publication (MQTT, WebSocket, status) only reads what the
//! pump made durable.

mod output;
pub mod reconcile;
pub mod thread;

use std::collections::HashMap;
use std::path::Path;

use crate::acquisition::{Event, Outcome, RunId, RunKind};
use crate::storage::journal::{GivenUp, Journal};
use crate::storage::{StorageError, Store, SurveyWriter};
use crate::survey::Record;

pub use output::{Output, Waveform};
pub use reconcile::Reconciled;

#[derive(Debug, Default)]
struct RunInfo {
    kind: Option<RunKind>,
    cmd_id: Option<String>,
}

/// Turns engine events into durable files and [`Output`]s.
#[derive(Debug)]
pub struct Pump {
    store: Store,
    journal: Journal,
    survey: Option<SurveyWriter>,
    runs: HashMap<RunId, RunInfo>,
    /// Samples of the quadrupole being measured, when waveforms are kept.
    waveform: Option<Waveform>,
    /// Records the outbox gave up since last asked (over its size limit).
    given_up: Vec<GivenUp>,
    /// What the start-up reconciliation found and set right.
    reconciled: Reconciled,
}

impl Pump {
    /// Opens the outbox in `<store>/outbox` (at most `outbox_max_bytes` unacknowledged) and
    /// reconciles it with the survey files.
    pub fn open(mut store: Store, outbox_max_bytes: u64) -> Result<Self, StorageError> {
        let (journal, reconciled) = reconcile::reconcile(&mut store, outbox_max_bytes)?;
        Ok(Self {
            store,
            journal,
            survey: None,
            runs: HashMap::new(),
            waveform: None,
            given_up: Vec::new(),
            reconciled,
        })
    }

    /// What the start-up reconciliation found and set right.
    pub fn reconciled(&self) -> &Reconciled {
        &self.reconciled
    }

    /// The outbox (acknowledgements, reading back what is unacknowledged).
    pub fn journal(&mut self) -> &mut Journal {
        &mut self.journal
    }

    /// Records given up by the outbox since the last call.
    pub fn take_given_up(&mut self) -> Vec<GivenUp> {
        std::mem::take(&mut self.given_up)
    }

    pub fn data_dir(&self) -> &Path {
        self.store.dir()
    }

    /// Keeps each quadrupole's samples and hands them on with its record.
    pub fn keep_waveforms(&mut self, keep: bool) {
        self.waveform = keep.then(Waveform::default);
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

    /// Outbox entry first, then the survey row; the sequence number is used up only once the
    /// outbox holds the record.
    fn make_durable(&mut self, record: &Record) -> Result<(), StorageError> {
        let json = serde_json::to_string(record).map_err(|e| StorageError::Format {
            path: self.journal.dir().to_path_buf(),
            line: 0,
            message: format!("record {} cannot be written as JSON: {e}", record.seq),
        })?;
        let given_up = self.journal.append(record.seq, &json)?;
        self.given_up.extend(given_up);
        self.store.raise_seq(record.seq);
        match &mut self.survey {
            Some(w) => w.append(record),
            None => self.store.append_single(record),
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
                let seq = self.store.peek_next_seq()?;
                let survey = self.survey.as_ref().map(|w| w.id().to_string());
                let record = Record::new(&measurement, seq, survey, self.cmd_id(run));
                self.make_durable(&record)?;
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
