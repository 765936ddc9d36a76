//! Counters the engine keeps and any thread reads (status, state of health, the pump).

use std::sync::atomic::{AtomicU64, Ordering};

use super::event::EngineState;

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
