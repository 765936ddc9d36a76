//! The acquisition thread's own state ([`Worker`]) and what every kind of run builds on: taking
//! commands between samples, waiting for a deadline while obeying them, powering the supply and
//! putting the hardware in its safe state. The runs, the measurement, the self-tests and the
//! waits for room in the event ring extend it in their own files; the engine (`engine.rs`)
//! starts it and serves its commands.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use super::counters::EngineCounters;
use super::event::{Command, EngineState, Event};
use super::settings::Settings;
use super::stats::Reading;
use crate::clock::Clock;
use crate::hardware::{Frontend, FrontendError};
use crate::survey::Geometry;

/// How long the idle engine waits for a command before beating its heart again.
pub(crate) const IDLE_TICK: Duration = Duration::from_millis(100);
/// The longest the engine sleeps without looking at its commands (the interrupt latency, plus the
/// operating system's wake-up time).
const WAIT_SLICE: Duration = Duration::from_millis(2);
/// A supply output above this holds enough charge to be emptied through the discharge relay
/// before a lower Vab \[V\].
const DISCHARGE_ABOVE_V: f64 = 12.5;
/// A lower Vab needs a discharge only when the output holds more than this above it \[V\] (the
/// supply's own settling tolerance).
const DISCHARGE_MARGIN_V: f64 = 1.0;

/// Why the engine left a measurement early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Interrupt,
    Shutdown,
}

/// Why a quadrupole or a run was abandoned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Abort {
    Stop(Stop),
    Fault(FrontendError),
}

impl From<Stop> for Abort {
    fn from(s: Stop) -> Self {
        Self::Stop(s)
    }
}

impl From<FrontendError> for Abort {
    fn from(e: FrontendError) -> Self {
        Self::Fault(e)
    }
}

/// Everything the acquisition thread owns.
pub(crate) struct Worker<F: Frontend> {
    pub(crate) fe: F,
    pub(crate) clock: Clock,
    pub(crate) commands: Receiver<Command>,
    pub(crate) events: rtrb::Producer<Event>,
    pub(crate) counters: Arc<EngineCounters>,
    pub(crate) settings: Settings,
    pub(crate) geometry: Arc<Geometry>,
    /// Readings of the current quadrupole; sized before a run, never grown in the sample loop.
    pub(crate) buf: Vec<Reading>,
    /// Samples of the current quadrupole that missed their deadline or failed to read.
    pub(crate) dropped_in_quad: u32,
    /// The injection supply is on and has had its power-up time.
    pub(crate) powered: bool,
    /// The voltage the supply's output may hold (its set point, kept by the output capacitors
    /// even after the output is switched off) until it is discharged \[V\]; 0 once discharged.
    pub(crate) held_v: f64,
    /// The supply's output is on at this set point (a new quadrupole at the same Vab needs no
    /// Modbus exchange and no settling time).
    pub(crate) output_v: Option<f64>,
    paused: bool,
    /// An interrupt came while an event that must be kept waited for room: the run ends at the
    /// next look at the commands.
    pub(crate) interrupted: bool,
    /// A shutdown came (or the command channel closed): no more waiting for anything.
    pub(crate) shutdown: bool,
    state: EngineState,
}

impl<F: Frontend> Worker<F> {
    pub(crate) fn new(
        fe: F,
        clock: Clock,
        commands: Receiver<Command>,
        events: rtrb::Producer<Event>,
        counters: Arc<EngineCounters>,
        settings: Settings,
        geometry: Geometry,
    ) -> Self {
        Self {
            fe,
            clock,
            commands,
            events,
            counters,
            settings,
            geometry: Arc::new(geometry),
            buf: Vec::new(),
            dropped_in_quad: 0,
            powered: false,
            held_v: 0.0,
            output_v: None,
            paused: false,
            interrupted: false,
            shutdown: false,
            state: EngineState::Stopped,
        }
    }

    pub(crate) fn beat(&self) {
        self.counters.heartbeat.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_state(&mut self, state: EngineState) {
        self.counters.note_state(state);
        if self.state != state {
            self.state = state;
            self.emit(Event::State(state));
        }
    }

    /// Pushes an event without waiting; a full ring is counted.
    pub(crate) fn emit(&mut self, event: Event) -> bool {
        match self.events.push(event) {
            Ok(()) => {
                self.counters.doorbell.ring();
                true
            }
            Err(_) => {
                self.counters.dropped_events.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Takes pending commands without waiting. Interrupt and shutdown stop the run; measuring
    /// commands are refused as busy; settings are kept for the next run.
    pub(crate) fn poll(&mut self) -> Result<(), Stop> {
        if self.shutdown {
            return Err(Stop::Shutdown);
        }
        if self.interrupted {
            return Err(Stop::Interrupt);
        }
        loop {
            match self.commands.try_recv() {
                Ok(cmd) => self.during_run(cmd)?,
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Disconnected) => {
                    self.shutdown = true;
                    return Err(Stop::Shutdown);
                }
            }
        }
    }

    pub(crate) fn during_run(&mut self, cmd: Command) -> Result<(), Stop> {
        match cmd {
            Command::Interrupt => return Err(Stop::Interrupt),
            Command::Shutdown => {
                self.shutdown = true;
                return Err(Stop::Shutdown);
            }
            Command::Pause => self.paused = true,
            Command::Resume => self.paused = false,
            Command::Measure { run, .. }
            | Command::RunSequence { run, .. }
            | Command::RsCheck { run, .. }
            | Command::SelfTest { run, .. } => {
                self.emit(Event::Busy { refused: run });
            }
            Command::UpdateSettings(s) => self.settings = *s,
            Command::ResetMux => {}
        }
        Ok(())
    }

    /// Waits until `deadline`, taking commands at least every [`WAIT_SLICE`] (real clock). A
    /// wait no longer than a slice (the wait for the next sample) is one sleep, so the sample
    /// deadlines see one wake-up each.
    pub(crate) fn wait_until(&mut self, deadline: Duration) -> Result<(), Stop> {
        loop {
            self.beat();
            self.poll()?;
            let now = self.clock.now();
            if now >= deadline {
                return Ok(());
            }
            let step = if self.clock.is_virtual() {
                deadline
            } else {
                deadline.min(now + WAIT_SLICE)
            };
            self.clock.sleep_until(step);
        }
    }

    /// Between quadrupoles: holds while paused (hardware safe), answering commands.
    pub(crate) fn hold_while_paused(&mut self) -> Result<(), Stop> {
        self.poll()?;
        if !self.paused {
            return Ok(());
        }
        self.make_safe();
        self.set_state(EngineState::Paused);
        while self.paused {
            self.beat();
            match self.commands.recv_timeout(IDLE_TICK) {
                Ok(cmd) => self.during_run(cmd)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.shutdown = true;
                    return Err(Stop::Shutdown);
                }
            }
        }
        self.set_state(EngineState::Running);
        Ok(())
    }

    /// Powers the injection supply and waits its power-up time, unless already done.
    pub(crate) fn ensure_powered(&mut self) -> Result<(), Abort> {
        if !self.powered {
            self.fe.set_power(true)?;
            let now = self.clock.now();
            let power_up = self.fe.info().timings.power_up;
            self.wait_until(now + power_up)?;
            self.powered = true;
        }
        Ok(())
    }

    /// Injection off, relays open, supply off and, where the board can, discharged; every step
    /// is tried even if another fails, and a full reset follows any failure. Returns whether
    /// the hardware is safe; if not, the engine enters the fault state.
    pub(crate) fn make_safe(&mut self) -> bool {
        use crate::hardware::Polarity;
        let injection_off = (0..3).any(|_| self.fe.set_polarity(Polarity::Off).is_ok());
        // The multiplexers open only once the polarity relays have cut the current.
        self.clock.sleep(self.fe.info().timings.polarity_release);
        let released = (0..3).any(|_| self.fe.release().is_ok());
        // Supply output off and power relays open before the discharge relay closes: the relay
        // empties the output capacitors, it must not load a supply still driving them.
        let power_off = (0..3).any(|_| self.fe.set_power(false).is_ok());
        self.powered = false;
        self.output_v = None;
        let mut discharged = true;
        if power_off && self.needs_discharge(0.0) {
            discharged = self.fe.set_discharge(true).is_ok();
            // Injection is already off: nothing to obey while the supply empties.
            self.clock.sleep(self.fe.info().timings.discharge);
            if discharged {
                self.held_v = 0.0;
            }
        }
        let discharge_open = (0..3).any(|_| self.fe.set_discharge(false).is_ok());
        if injection_off && released && power_off && discharged && discharge_open {
            return true;
        }
        match self.fe.reset() {
            Ok(()) => true,
            Err(e) => {
                self.emit(Event::Fault {
                    run: None,
                    quad: None,
                    error: e,
                });
                self.set_state(EngineState::Fault);
                false
            }
        }
    }

    pub(crate) fn state(&self) -> EngineState {
        self.state
    }

    /// After a command: pause and interrupt are forgotten, and the engine is idle again unless
    /// it is in the fault state.
    pub(crate) fn finish_command(&mut self) {
        self.paused = false;
        self.interrupted = false;
        if self.state != EngineState::Fault {
            self.set_state(EngineState::Idle);
        }
    }

    /// Whether the output must be discharged before it may hold `target` volts: it holds more
    /// than [`DISCHARGE_ABOVE_V`] and more than `target` plus a margin, and the board has a
    /// discharge relay. `target` 0 asks whether anything needs discharging at all.
    pub(crate) fn needs_discharge(&self, target: f64) -> bool {
        self.fe.info().can_discharge
            && self.held_v > DISCHARGE_ABOVE_V
            && self.held_v > target + DISCHARGE_MARGIN_V
    }
}

impl<F: Frontend> Drop for Worker<F> {
    fn drop(&mut self) {
        // Runs on a normal exit and while unwinding from a panic alike.
        let _ = self.fe.reset();
        self.state = EngineState::Stopping;
        self.set_state(EngineState::Stopped);
    }
}
