//! The acquisition engine: a dedicated thread that owns the [`Frontend`] and the run state.
//!
//! It takes [`Command`]s from a bounded channel (`try_recv` between samples and while waiting) and
//! pushes [`Event`]s into a lock-free single-producer ring, never waiting on the consumer inside a
//! quadrupole. Records and run and survey boundaries are never dropped: when the ring has no room
//! for them the engine waits, outside the sample loop and with the current off, still obeying
//! its commands (`room.rs`). The hardware is put in its safe state at start,
//! after every run, on error, on shutdown and, through `Drop`, when the thread panics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::event::{Command, EngineState, Event};
use super::rt;
use super::settings::Settings;
use super::stats::Reading;
use crate::clock::Clock;
use crate::hardware::{Frontend, FrontendError};
use crate::survey::Geometry;

/// Capacity of the command channel.
const COMMAND_CAPACITY: usize = 64;
/// Capacity of the event ring.
pub const EVENT_CAPACITY: usize = 8192;
/// How long the idle engine waits for a command before beating its heart again.
const IDLE_TICK: Duration = Duration::from_millis(100);
/// How often the idle engine reports the boards' health.
const HEALTH_EVERY: Duration = Duration::from_secs(5);
/// The longest the engine sleeps without looking at its commands (the interrupt latency, plus the
/// operating system's wake-up time).
const WAIT_SLICE: Duration = Duration::from_millis(2);
/// Counters the engine keeps for the state of health; read from any thread.
#[derive(Debug, Default)]
pub struct EngineCounters {
    /// Events that found the ring full: only events that may be lost (waveform samples,
    /// progress, state changes, health, busy replies). Records and run and survey boundaries
    /// wait for room instead; they are counted here only if a shutdown finds the ring still
    /// full.
    pub dropped_events: AtomicU64,
    /// Samples that missed their deadline or failed to read.
    pub dropped_samples: AtomicU64,
    /// Bus errors seen by the engine.
    pub bus_errors: AtomicU64,
    /// Quadrupoles measured since start.
    pub quadrupoles: AtomicU64,
    /// Times the engine waited for the consumer (the storage) to make room in the event ring.
    pub backpressure_waits: AtomicU64,
    /// While the engine waits for room in the event ring (the storage is behind): when that
    /// wait began, in milliseconds since the Unix epoch (system clock); 0 when not waiting.
    /// Records are never dropped, so a storage that stalls stalls the acquisition, with the
    /// current off; status and state-of-health reports show it from this field.
    pub storage_wait_since_ms: AtomicU64,
    /// Waits for room in the event ring that lasted longer than
    /// [`LONG_STORAGE_WAIT`](crate::acquisition::LONG_STORAGE_WAIT).
    pub storage_long_waits: AtomicU64,
    /// Increases while the engine thread is alive and responsive (watchdog), waits for the
    /// storage included.
    pub heartbeat: AtomicU64,
    /// The engine's state as it is now ([`EngineState`] as a number; see
    /// [`EngineCounters::state`]), also while the events saying so wait for room in the ring.
    pub state: std::sync::atomic::AtomicU8,
    /// Rung after every event pushed into the ring.
    pub doorbell: super::Doorbell,
}

impl EngineCounters {
    /// The engine's state as it is now.
    pub fn state(&self) -> EngineState {
        EngineState::from_u8(self.state.load(Ordering::Relaxed))
    }

    pub(crate) fn note_state(&self, state: EngineState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }
}

/// Options of the engine thread.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// SCHED_FIFO priority of the acquisition thread (0: do not ask).
    pub rt_priority: i32,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self { rt_priority: 50 }
    }
}

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

/// The engine as its owner sees it: send commands, read counters; dropping it stops the thread.
pub struct Engine {
    commands: SyncSender<Command>,
    counters: Arc<EngineCounters>,
    thread: Option<JoinHandle<()>>,
}

/// Why a command could not be handed to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("the engine's command queue is full")]
    Full,
    #[error("the engine has stopped")]
    Stopped,
}

impl Engine {
    /// Starts the engine thread on `frontend`. Returns the engine and the consumer end of the
    /// event ring.
    pub fn spawn<F: Frontend + 'static>(
        frontend: F,
        clock: Clock,
        geometry: Geometry,
        settings: Settings,
        options: EngineOptions,
    ) -> std::io::Result<(Engine, rtrb::Consumer<Event>)> {
        let (tx, rx) = mpsc::sync_channel(COMMAND_CAPACITY);
        let (producer, consumer) = rtrb::RingBuffer::new(EVENT_CAPACITY);
        let counters = Arc::new(EngineCounters::default());
        let shared = Arc::clone(&counters);
        let thread = std::thread::Builder::new()
            .name("acquisition".into())
            .spawn(move || {
                let report = rt::setup_current_thread(options.rt_priority);
                match &report.scheduling {
                    Ok(p) => tracing::info!("acquisition thread runs SCHED_FIFO at priority {p}"),
                    Err(why) => {
                        tracing::warn!("acquisition thread without real-time scheduling: {why}")
                    }
                }
                if let Err(why) = &report.memory_locked {
                    if options.rt_priority > 0 {
                        tracing::warn!("memory not locked: {why}");
                    }
                }
                // Dropped after the worker (and its end of the ring), on a return and while
                // unwinding alike: the consumer wakes and finds the ring abandoned.
                let _ring = RingOnExit(Arc::clone(&shared));
                let mut worker =
                    Worker::new(frontend, clock, rx, producer, shared, settings, geometry);
                worker.run();
            })?;
        Ok((
            Engine {
                commands: tx,
                counters,
                thread: Some(thread),
            },
            consumer,
        ))
    }

    /// Hands a command to the engine without waiting.
    pub fn try_send(&self, cmd: Command) -> Result<(), SendError> {
        self.commands.try_send(cmd).map_err(|e| match e {
            TrySendError::Full(_) => SendError::Full,
            TrySendError::Disconnected(_) => SendError::Stopped,
        })
    }

    pub fn counters(&self) -> &Arc<EngineCounters> {
        &self.counters
    }

    /// Whether the engine thread is still running.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the thread (hardware safe) and waits for it; later calls do nothing.
    pub fn stop(&mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Never block while unwinding (the engine may be what panicked): ask it to stop and
            // leave; its own Drop puts the hardware in its safe state.
            let _ = self.commands.try_send(Command::Shutdown);
            return;
        }
        self.stop_and_join();
    }
}

/// Rings the doorbell when the acquisition thread ends.
struct RingOnExit(Arc<EngineCounters>);

impl Drop for RingOnExit {
    fn drop(&mut self) {
        self.0.doorbell.ring();
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
    fn new(
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

    fn run(&mut self) {
        self.make_safe();
        self.set_state(EngineState::Idle);
        let mut last_health: Option<Instant> = None;
        loop {
            self.beat();
            if last_health.is_none_or(|t| t.elapsed() >= HEALTH_EVERY) {
                let health = self.fe.health();
                self.emit(Event::Health(health));
                last_health = Some(Instant::now());
            }
            let cmd = match self.commands.recv_timeout(IDLE_TICK) {
                Ok(cmd) => cmd,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let outcome = match cmd {
                Command::Measure {
                    run,
                    quad,
                    settings,
                } => self.run_measure(run, quad, settings.map(|s| *s)),
                Command::RunSequence {
                    run,
                    sequence,
                    settings,
                } => self.run_sequence(run, &sequence, settings.map(|s| *s)),
                Command::RsCheck { run, pairs, vab } => self.run_rs_check(run, &pairs, vab),
                Command::SelfTest { run, names } => self.run_self_test(run, names.as_deref()),
                Command::Interrupt | Command::ResetMux => {
                    self.make_safe();
                    Ok(())
                }
                Command::Pause | Command::Resume => Ok(()),
                Command::UpdateSettings(s) => {
                    self.settings = *s;
                    Ok(())
                }
                Command::Shutdown => break,
            };
            if outcome == Err(Stop::Shutdown) || self.shutdown {
                break;
            }
            self.paused = false;
            self.interrupted = false;
            if self.state != EngineState::Fault {
                self.set_state(EngineState::Idle);
            }
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
}

impl<F: Frontend> Drop for Worker<F> {
    fn drop(&mut self) {
        // Runs on a normal exit and while unwinding from a panic alike.
        let _ = self.fe.reset();
        self.state = EngineState::Stopping;
        self.set_state(EngineState::Stopped);
    }
}
