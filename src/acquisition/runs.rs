//! Runs: a lone quadrupole, a sequence repeated for monitoring, a contact check. Each powers the
//! supply, reports its progress, and leaves the hardware safe however it ends. Its records and
//! its run and survey boundaries are delivered whatever the consumer's pace (`room.rs`): a run
//! that started always ends, a survey that started always ends, and every record measured is
//! delivered.

use std::time::Duration;

use super::event::{EngineState, Event, Outcome, RunId, RunKind};
use super::measure::readings_needed;
use super::room::Room;
use super::settings::Settings;
use super::stats::Welford;
use super::worker::{Abort, Stop, Worker};
use crate::hardware::Frontend;
use crate::survey::{Electrode, Quadrupole, Quality};

/// Consecutive faulty quadrupoles after which a run gives up.
const MAX_CONSECUTIVE_FAULTS: u32 = 5;
/// Room asked for, besides its samples, before a quadrupole: more than the events it produces
/// (record, progress, faults, state…), so that none of them waits.
const EVENTS_PER_QUAD: usize = 16;
/// Room asked for at a run's start or end: its state changes, its start or end, a fault.
const BOUNDARY_EVENTS: usize = 4;
/// Between two surveys, a wait longer than this is spent with the hardware safe and unpowered.
const IDLE_BETWEEN_SURVEYS: Duration = Duration::from_secs(10);

impl<F: Frontend> Worker<F> {
    /// The settings of a run (the engine's own unless given), within what the converters can do.
    pub(crate) fn effective(&self, settings: Option<Settings>) -> Settings {
        let mut s = settings.unwrap_or_else(|| self.settings.clone());
        s.sampling_rate = s.sampling_rate.min(self.fe.info().max_sampling_rate_hz);
        s
    }

    /// Prepares a run: buffer sized for `s`, state, supply powered. Its start is delivered
    /// whatever happens (a stop while waiting for room is returned after it).
    pub(crate) fn start_run(
        &mut self,
        run: RunId,
        kind: RunKind,
        total: u32,
        surveys: u32,
        s: &Settings,
    ) -> Result<bool, Stop> {
        let room = self.wait_for_room(BOUNDARY_EVENTS, Room::Keep);
        let started = Event::RunStarted {
            run,
            kind,
            total,
            surveys,
        };
        if self.state() == EngineState::Fault && !self.make_safe() {
            self.emit(started);
            room?;
            return Ok(false);
        }
        let needed = readings_needed(s);
        if self.buf.capacity() < needed {
            self.buf.reserve_exact(needed - self.buf.len());
        }
        self.set_state(EngineState::Running);
        self.emit(started);
        room?;
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

    /// Ends a run: hardware safe at once (an interrupt is answered however long the storage
    /// then takes), then the outcome reported once the ring has room for it. Only a shutdown
    /// ends that wait.
    pub(crate) fn end_run(&mut self, run: RunId, outcome: Outcome, records: u32) {
        self.make_safe();
        let _ = self.wait_for_room(BOUNDARY_EVENTS, Room::Keep);
        if self.state() != EngineState::Fault {
            self.set_state(EngineState::Stopping);
        }
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
                let delivered = self.deliver(Event::Record {
                    run,
                    measurement: m,
                });
                let outcome = match delivered {
                    Ok(()) => Outcome::Completed,
                    Err(stop) => Self::outcome_of(stop),
                };
                self.end_run(run, outcome, 1);
                delivered
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
            let survey = (|| {
                self.deliver(Event::SurveyStarted { run, index, time })?;
                let mut faults = 0u32;
                for (done, quad) in sequence.iter().enumerate() {
                    // Room for the whole quadrupole first: nothing waits inside it.
                    self.wait_for_room(EVENTS_PER_QUAD + samples_per_quad, Room::Interruptible)?;
                    self.hold_while_paused()?;
                    let m = self.measure(run, *quad, s)?;
                    quad_time.push(m.duration_s);
                    faults = if m.quality.contains(Quality::FAULT) {
                        faults + 1
                    } else {
                        0
                    };
                    let delivered = self.deliver(Event::Record {
                        run,
                        measurement: m,
                    });
                    *records += 1;
                    delivered?;
                    let done = done as u32 + 1;
                    let remaining_quads = f64::from(total - done)
                        + f64::from(total) * f64::from(s.nb_meas - index - 1);
                    self.emit(Event::Progress {
                        run,
                        done,
                        total,
                        eta_s: remaining_quads * quad_time.mean_so_far(),
                    });
                    if faults >= MAX_CONSECUTIVE_FAULTS {
                        return Ok(Outcome::Failed);
                    }
                }
                Ok(Outcome::Completed)
            })();
            self.end_survey(run, index, survey)?;
            if survey == Ok(Outcome::Failed) {
                return Ok(Outcome::Failed);
            }
        }
        Ok(Outcome::Completed)
    }

    /// Ends a survey with the outcome of its body: a stop makes the hardware safe at once, then
    /// the end of the survey is delivered (whatever the consumer's pace) and the stop passed on.
    fn end_survey(
        &mut self,
        run: RunId,
        index: u32,
        body: Result<Outcome, Stop>,
    ) -> Result<(), Stop> {
        let outcome = match body {
            Ok(outcome) => outcome,
            Err(stop) => {
                self.make_safe();
                Self::outcome_of(stop)
            }
        };
        let delivered = self.deliver(Event::SurveyEnded {
            run,
            index,
            outcome,
        });
        body.and(delivered)
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
            let survey = (|| {
                self.deliver(Event::SurveyStarted {
                    run,
                    index: 0,
                    time,
                })?;
                for &(a, b) in pairs {
                    self.wait_for_room(EVENTS_PER_QUAD, Room::Interruptible)?;
                    self.hold_while_paused()?;
                    let contact = self.measure_contact(run, a, b, vab, &s)?;
                    let delivered = self.deliver(Event::Contact { run, contact });
                    done += 1;
                    delivered?;
                    self.emit(Event::Progress {
                        run,
                        done,
                        total,
                        eta_s: 0.0,
                    });
                }
                Ok(Outcome::Completed)
            })();
            self.end_survey(run, 0, survey)?;
            Ok(Outcome::Completed)
        })();
        self.conclude(run, result, done)
    }
}
