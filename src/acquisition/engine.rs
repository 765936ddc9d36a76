//! The acquisition engine: a dedicated thread that owns the [`Frontend`] and the run state.
//!
//! It takes [`Command`]s from a bounded channel (`try_recv` between samples and while waiting) and
//! pushes [`Event`]s into a lock-free single-producer ring, never waiting on the consumer inside a
//! quadrupole. Records and run and survey boundaries are never dropped: when the ring has no room
//! for them the engine waits, outside the sample loop and with the current off, still obeying
//! its commands (`room.rs`). The hardware is put in its safe state at start,
//! after every run, on error, on shutdown and, through `Drop`, when the thread panics.

use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::counters::EngineCounters;
use super::event::{Command, EngineState, Event, EVENT_CAPACITY};
use super::rt;
use super::settings::Settings;
use super::worker::{Stop, Worker, IDLE_TICK};
use crate::clock::Clock;
use crate::hardware::Frontend;
use crate::survey::Geometry;

/// Capacity of the command channel.
const COMMAND_CAPACITY: usize = 64;
/// How often the idle engine reports the boards' health.
const HEALTH_EVERY: Duration = Duration::from_secs(5);

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

impl<F: Frontend> Worker<F> {
    /// Serves commands until a shutdown or the command channel closes.
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
            self.finish_command();
        }
    }
}
