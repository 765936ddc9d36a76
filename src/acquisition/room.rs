//! Waiting for room in the event ring. Records and run and survey boundaries are never dropped:
//! when the consumer (the storage pump) is behind, the engine waits for it between quadrupoles,
//! with the current off, and keeps obeying its commands meanwhile. The wait is visible in
//! [`EngineCounters::storage_wait_since_ms`](super::EngineCounters) for status reports.

use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant, SystemTime};

use super::event::{EngineState, Event, EVENT_CAPACITY};
use super::worker::{Stop, Worker};
use crate::hardware::Frontend;

/// While waiting for room in the event ring, how long the engine blocks on its command channel
/// before looking at the ring again (see [`Worker::wait_for_room`]).
pub(crate) const ROOM_CHECK: Duration = Duration::from_millis(2);
/// A wait for room in the event ring longer than this is a long wait: counted, and the hardware
/// is made safe (supply off) until it ends.
pub const LONG_STORAGE_WAIT: Duration = Duration::from_secs(1);

/// What a wait for room in the event ring does with a stop command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Room {
    /// Before a quadrupole (nothing measured is pending): an interrupt or a shutdown ends the
    /// wait at once, and the run with it.
    Interruptible,
    /// For an event that must not be lost (a record, a run or survey boundary): an interrupt
    /// makes the hardware safe at once and is remembered, the wait goes on until there is room;
    /// only a shutdown ends it (the event is then pushed if it fits, else counted as dropped).
    Keep,
}

impl<F: Frontend> Worker<F> {
    /// Waits until the ring has room for `slots` events (outside the sample loop, the current
    /// off), taking commands meanwhile; see [`Room`] for what a stop does. Never gives up on its
    /// own: a record is never dropped, however long the consumer (the storage) takes. While it
    /// waits, [`EngineCounters::storage_wait_since_ms`](super::EngineCounters) says since when; past
    /// [`LONG_STORAGE_WAIT`] the wait is counted as long and the hardware is made safe.
    ///
    /// How it waits: the ring (rtrb) has no blocking API and its consumer, the storage pump,
    /// does not signal the engine when it pops, so the engine blocks on its command channel with
    /// a [`ROOM_CHECK`] (2 ms) deadline and looks at the ring each time it wakes. A command
    /// wakes it at once (an interrupt is answered without delay); room is noticed within 2 ms;
    /// the cost is one wake-up per 2 ms, and only while the storage is behind. A consumer that
    /// has gone away ends the wait (nothing would ever make room).
    pub(crate) fn wait_for_room(&mut self, slots: usize, mode: Room) -> Result<(), Stop> {
        let slots = slots.min(EVENT_CAPACITY);
        if self.shutdown {
            return Err(Stop::Shutdown);
        }
        if self.events.slots() >= slots || self.events.is_abandoned() {
            return Ok(());
        }
        self.counters
            .backpressure_waits
            .fetch_add(1, Ordering::Relaxed);
        let since_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_millis().max(1) as u64);
        self.counters
            .storage_wait_since_ms
            .store(since_ms, Ordering::Relaxed);
        let started = Instant::now();
        let mut long = false;
        let result = loop {
            if self.events.slots() >= slots || self.events.is_abandoned() {
                break Ok(());
            }
            if !long && started.elapsed() >= LONG_STORAGE_WAIT {
                long = true;
                // Nothing happens until the storage catches up: supply off meanwhile. Counted
                // once the hardware is safe, so whoever reads the count finds it so.
                self.make_safe();
                self.counters
                    .storage_long_waits
                    .fetch_add(1, Ordering::Relaxed);
            }
            self.beat();
            let stop = match self.commands.recv_timeout(ROOM_CHECK) {
                Ok(cmd) => self.during_run(cmd).err(),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    self.shutdown = true;
                    Some(Stop::Shutdown)
                }
            };
            match (stop, mode) {
                (None, _) => {}
                (Some(Stop::Shutdown), _) => {
                    self.make_safe();
                    break Err(Stop::Shutdown);
                }
                (Some(Stop::Interrupt), Room::Interruptible) => {
                    self.make_safe();
                    break Err(Stop::Interrupt);
                }
                (Some(Stop::Interrupt), Room::Keep) => {
                    if !self.interrupted {
                        self.interrupted = true;
                        self.make_safe();
                        // Heard and safe: the run ends once the storage takes its last events.
                        self.counters.note_state(EngineState::Stopping);
                    }
                }
            }
        };
        self.counters
            .storage_wait_since_ms
            .store(0, Ordering::Relaxed);
        match result {
            Ok(()) if self.interrupted && mode == Room::Keep => Err(Stop::Interrupt),
            other => other,
        }
    }

    /// Pushes an event that must not be lost (a record, a run or survey boundary), waiting for
    /// room as long as it takes ([`Room::Keep`]). `Err` reports a stop that came meanwhile; the
    /// event has been pushed all the same (unless a shutdown found the ring still full: then it
    /// is counted in `dropped_events`).
    pub(crate) fn deliver(&mut self, event: Event) -> Result<(), Stop> {
        let waited = self.wait_for_room(1, Room::Keep);
        self.emit(event);
        waited
    }
}
