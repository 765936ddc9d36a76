//! Runs: a lone quadrupole, a sequence repeated for monitoring, a contact check. Each powers the
//! supply, reports its progress, and leaves the hardware safe however it ends.

use std::time::Duration;

use super::engine::{Abort, Stop, Worker};
use super::event::{EngineState, Event, Outcome, RunId, RunKind};
use super::measure::readings_needed;
use super::settings::Settings;
use crate::hardware::Frontend;
use crate::survey::{Electrode, Quadrupole, Quality};

/// Consecutive faulty quadrupoles after which a run gives up.
const MAX_CONSECUTIVE_FAULTS: u32 = 5;
/// Events one quadrupole produces besides its samples (record, progress, fault, state…).
const EVENTS_PER_QUAD: usize = 8;
/// Between two surveys, a wait longer than this is spent with the hardware safe and unpowered.
const IDLE_BETWEEN_SURVEYS: Duration = Duration::from_secs(10);

impl<F: Frontend> Worker<F> {
    /// The settings of a run (the engine's own unless given), within what the converters can do.
    pub(crate) fn effective(&self, settings: Option<Settings>) -> Settings {
        let mut s = settings.unwrap_or_else(|| self.settings.clone());
        s.sampling_rate = s.sampling_rate.min(self.fe.info().max_sampling_rate_hz);
        s
    }

    /// Prepares a run: buffer sized for `s`, state, supply powered.
    pub(crate) fn start_run(
        &mut self,
        run: RunId,
        kind: RunKind,
        total: u32,
        surveys: u32,
        s: &Settings,
    ) -> Result<bool, Stop> {
        if self.state() == EngineState::Fault && !self.make_safe() {
            self.emit(Event::RunStarted {
                run,
                kind,
                total,
                surveys,
            });
            return Ok(false);
        }
        let needed = readings_needed(s);
        if self.buf.capacity() < needed {
            self.buf.reserve_exact(needed - self.buf.len());
        }
        self.set_state(EngineState::Running);
        self.emit(Event::RunStarted {
            run,
            kind,
            total,
            surveys,
        });
        match self.ensure_powered() {
            Ok(()) => {}
            Err(Abort::Stop(stop)) => return Err(stop),
            Err(Abort::Fault(error)) => {
                self.emit(Event::Fault {
                    run: Some(run),
                    quad: None,
                    error,
                });
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Ends a run: hardware safe, state back to idle, the outcome reported.
    pub(crate) fn end_run(&mut self, run: RunId, outcome: Outcome, records: u32) {
        self.reserve(EVENTS_PER_QUAD);
        self.set_state(EngineState::Stopping);
        self.make_safe();
        self.emit(Event::RunEnded {
            run,
            outcome,
            records,
        });
    }

    /// Ends a run with the outcome of its body (`count` records or results), passing a stop on.
    pub(crate) fn conclude(
        &mut self,
        run: RunId,
        result: Result<Outcome, Stop>,
        count: u32,
    ) -> Result<(), Stop> {
        match result {
            Ok(outcome) => {
                self.end_run(run, outcome, count);
                Ok(())
            }
            Err(stop) => {
                self.end_run(run, Self::outcome_of(stop), count);
                Err(stop)
            }
        }
    }

    fn outcome_of(stop: Stop) -> Outcome {
        match stop {
            Stop::Interrupt | Stop::Shutdown => Outcome::Interrupted,
        }
    }

    pub(crate) fn run_measure(
        &mut self,
        run: RunId,
        quad: Quadrupole,
        settings: Option<Settings>,
    ) -> Result<(), Stop> {
        let s = self.effective(settings);
        let result = self
            .start_run(run, RunKind::Measure, 1, 1, &s)
            .and_then(|powered| {
                if !powered {
                    return Ok(None);
                }
                self.measure(run, quad, &s).map(Some)
            });
        match result {
            Ok(Some(m)) => {
                self.emit(Event::Record {
                    run,
                    measurement: m,
                });
                self.end_run(run, Outcome::Completed, 1);
                Ok(())
            }
            Ok(None) => {
                self.end_run(run, Outcome::Failed, 0);
                Ok(())
            }
            Err(stop) => {
                self.end_run(run, Self::outcome_of(stop), 0);
                Err(stop)
            }
        }
    }

    pub(crate) fn run_sequence(
        &mut self,
        run: RunId,
        sequence: &[Quadrupole],
        settings: Option<Settings>,
    ) -> Result<(), Stop> {
        let s = self.effective(settings);
        let total = sequence.len() as u32;
        let mut records = 0u32;
        let result = self.sequence_body(run, sequence, &s, total, &mut records);
        self.conclude(run, result, records)
    }

    fn sequence_body(
        &mut self,
        run: RunId,
        sequence: &[Quadrupole],
        s: &Settings,
        total: u32,
        records: &mut u32,
    ) -> Result<Outcome, Stop> {
        if !self.start_run(run, RunKind::Sequence, total, s.nb_meas, s)? {
            return Ok(Outcome::Failed);
        }
        let run_start = self.clock.now();
        let samples_per_quad = if s.full_waveform {
            readings_needed(s)
        } else {
            0
        };
        let mut quad_time = Welford::default();
        for index in 0..s.nb_meas {
            if index > 0 {
                let next = run_start + Duration::from_secs_f64(s.sequence_delay * f64::from(index));
                if next > self.clock.now() + IDLE_BETWEEN_SURVEYS {
                    // A long wait between surveys: supply off and relays open meanwhile.
                    self.make_safe();
                }
                self.wait_until(next)?;
            }
            let time = self.clock.wall();
            self.emit(Event::SurveyStarted { run, index, time });
            let mut faults = 0u32;
            for (done, quad) in sequence.iter().enumerate() {
                self.reserve(EVENTS_PER_QUAD + samples_per_quad);
                if let Err(stop) = self.hold_while_paused() {
                    self.emit(Event::SurveyEnded {
                        run,
                        index,
                        outcome: Self::outcome_of(stop),
                    });
                    return Err(stop);
                }
                let m = match self.measure(run, *quad, s) {
                    Ok(m) => m,
                    Err(stop) => {
                        self.make_safe();
                        self.emit(Event::SurveyEnded {
                            run,
                            index,
                            outcome: Self::outcome_of(stop),
                        });
                        return Err(stop);
                    }
                };
                self.reserve(EVENTS_PER_QUAD);
                quad_time.push(m.duration_s);
                faults = if m.quality.contains(Quality::FAULT) {
                    faults + 1
                } else {
                    0
                };
                self.emit(Event::Record {
                    run,
                    measurement: m,
                });
                *records += 1;
                let done = done as u32 + 1;
                let remaining_quads =
                    f64::from(total - done) + f64::from(total) * f64::from(s.nb_meas - index - 1);
                self.emit(Event::Progress {
                    run,
                    done,
                    total,
                    eta_s: remaining_quads * quad_time.mean,
                });
                if faults >= MAX_CONSECUTIVE_FAULTS {
                    self.emit(Event::SurveyEnded {
                        run,
                        index,
                        outcome: Outcome::Failed,
                    });
                    return Ok(Outcome::Failed);
                }
            }
            self.emit(Event::SurveyEnded {
                run,
                index,
                outcome: Outcome::Completed,
            });
        }
        Ok(Outcome::Completed)
    }

    pub(crate) fn run_rs_check(
        &mut self,
        run: RunId,
        pairs: &[(Electrode, Electrode)],
        vab: f64,
    ) -> Result<(), Stop> {
        let s = self.effective(None);
        let total = pairs.len() as u32;
        let mut done = 0u32;
        let result = (|| {
            if !self.start_run(run, RunKind::RsCheck, total, 1, &s)? {
                return Ok(Outcome::Failed);
            }
            let time = self.clock.wall();
            self.emit(Event::SurveyStarted {
                run,
                index: 0,
                time,
            });
            for &(a, b) in pairs {
                self.hold_while_paused()?;
                self.reserve(EVENTS_PER_QUAD);
                let contact = self.measure_contact(run, a, b, vab, &s)?;
                self.emit(Event::Contact { run, contact });
                done += 1;
                self.emit(Event::Progress {
                    run,
                    done,
                    total,
                    eta_s: 0.0,
                });
            }
            self.emit(Event::SurveyEnded {
                run,
                index: 0,
                outcome: Outcome::Completed,
            });
            Ok(Outcome::Completed)
        })();
        self.conclude(run, result, done)
    }
}

/// Running mean of quadrupole durations, for the ETA.
#[derive(Debug, Default)]
struct Welford {
    n: u32,
    mean: f64,
}

impl Welford {
    fn push(&mut self, x: f64) {
        self.n += 1;
        self.mean += (x - self.mean) / f64::from(self.n);
    }
}
