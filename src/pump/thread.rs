//! The pump's thread: it drains the engine's event ring, makes every record durable (outbox
//! entry and survey row), and hands what happened to the async side; it also owns the outbox's
//! acknowledgements and reads back what the publisher must send again. Everyone else reaches it
//! through a [`PumpHandle`] (bounded requests) and hears from it through one bounded channel of
//! [`Pumped`] messages, in the order things were made durable.
//!
//! It keeps storing even when nobody listens: what the engine measured reaches the disk whether
//! or not the daemon's side is still there. Once the engine is gone and the ring is empty it says
//! [`Pumped::Drained`], goes on taking acknowledgements, and ends when every handle is dropped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{Output, Pump};
use crate::acquisition::{EngineCounters, Event, RunId};
use crate::storage::journal::GivenUp;
use crate::storage::StorageError;

/// Requests waiting for the pump, at most.
const REQUESTS: usize = 1024;
/// Events taken from the ring before the pump looks at its requests again.
const BATCH: usize = 256;
/// Records read back from the outbox per request.
pub const FETCH: usize = 128;
/// The longest the pump sleeps with nothing to do: the engine's doorbell and every request wake
/// it at once, so this only bounds the damage of a wake-up that never came.
const IDLE_WAIT: Duration = Duration::from_secs(60);
/// The acknowledged watermark is saved at most this often.
const SAVE_EVERY: Duration = Duration::from_millis(250);

/// What the pump thread sends, in order.
#[derive(Debug)]
pub enum Pumped {
    Output(Output),
    /// Records the outbox gave up (over its size limit); they stay in the survey files.
    GivenUp(GivenUp),
    /// Unacknowledged records after `after` (`None`: after the watermark), and the last seq made
    /// durable when they were read.
    Fetched {
        after: Option<u64>,
        records: Vec<(u64, String)>,
        last_seq: u64,
    },
    /// The engine is gone and every event it produced is stored and handed on. The pump goes on
    /// serving requests until every [`PumpHandle`] is dropped.
    Drained,
    /// Reading the outbox back failed; asking again may succeed.
    ReadFailed(StorageError),
    /// Storage failed (disk full, removed): the record in hand is not durable.
    Failed(StorageError),
}

/// What the pump is asked to do.
#[derive(Debug)]
enum Request {
    Register { run: RunId, cmd_id: Option<String> },
    Acked(Vec<u64>),
    Fetch { after: Option<u64> },
}

/// Why a request did not reach the pump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the storage thread is busy")]
    Full,
    #[error("the storage thread has stopped")]
    Stopped,
}

/// Figures the pump keeps up to date for the state of health; read from any thread.
#[derive(Debug, Default)]
pub struct PumpStats {
    /// Records in the outbox not yet acknowledged by the broker.
    pub depth: AtomicU64,
    /// The last seq made durable.
    pub last_seq: AtomicU64,
    /// Every seq at or below is acknowledged.
    pub acked: AtomicU64,
    /// The test-only stall fault holds the pump.
    pub stalled: AtomicBool,
}

/// A test-only fault: after `after_records` records the pump stops taking events for
/// `duration` (a slow or stuck SD card).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StallFault {
    pub after_records: u64,
    pub duration: Duration,
}

/// The pump's thread; join it to have every event stored.
pub struct PumpThread {
    join: JoinHandle<Pump>,
}

impl PumpThread {
    /// Waits until the ring is drained (the engine must be stopped first).
    pub fn join(self) -> Option<Pump> {
        self.join.join().ok()
    }
}

/// A handle on the pump thread; clone it freely.
#[derive(Clone)]
pub struct PumpHandle {
    requests: SyncSender<Request>,
    thread: Thread,
    stats: Arc<PumpStats>,
}

impl PumpHandle {
    fn send(&self, request: Request) -> Result<(), RequestError> {
        let sent = self.requests.try_send(request).map_err(|e| match e {
            TrySendError::Full(_) => RequestError::Full,
            TrySendError::Disconnected(_) => RequestError::Stopped,
        });
        self.thread.unpark();
        sent
    }

    /// Tells the pump which command a run answers (its records carry the `cmd_id`); must be
    /// called before the run is handed to the engine.
    pub fn register(&self, run: RunId, cmd_id: Option<String>) -> Result<(), RequestError> {
        self.send(Request::Register { run, cmd_id })
    }

    /// The broker acknowledged these records; when the pump cannot take them now they are
    /// given back, to be handed over again later.
    pub fn acked(&self, seqs: Vec<u64>) -> Result<(), Vec<u64>> {
        let sent = match self.requests.try_send(Request::Acked(seqs)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(Request::Acked(s))) => Err(s),
            // The pump is gone: nothing will be acknowledged any more (sent again after a
            // restart).
            Err(_) => Ok(()),
        };
        self.thread.unpark();
        sent
    }

    /// Asks for the unacknowledged records after `after` (answered with [`Pumped::Fetched`]).
    pub fn fetch(&self, after: Option<u64>) -> Result<(), RequestError> {
        self.send(Request::Fetch { after })
    }

    pub fn stats(&self) -> &Arc<PumpStats> {
        &self.stats
    }
}

impl Drop for PumpHandle {
    fn drop(&mut self) {
        // The pump ends once every handle's sender is gone: this one's goes first (a field would
        // be dropped only after this function), then the pump is woken to see it. The other way
        // round, the pump could wake, still find a sender, and sleep through the drop.
        let (gone, _) = sync_channel(0);
        drop(std::mem::replace(&mut self.requests, gone));
        self.thread.unpark();
    }
}

/// Starts the pump thread; it sleeps until the engine rings `engine.doorbell` or a request comes.
pub fn spawn(
    events: rtrb::Consumer<Event>,
    engine: Arc<EngineCounters>,
    pump: Pump,
    tx: mpsc::Sender<Pumped>,
    stall: Option<StallFault>,
) -> std::io::Result<(PumpThread, PumpHandle)> {
    let (requests, rx) = sync_channel(REQUESTS);
    let stats = Arc::new(PumpStats::default());
    let mut worker = Worker {
        events,
        pump,
        tx,
        rx,
        stats: Arc::clone(&stats),
        stall,
        records: 0,
        engine,
    };
    worker.update_stats();
    let join = std::thread::Builder::new()
        .name("pump".into())
        .spawn(move || worker.run())?;
    let thread = join.thread().clone();
    Ok((
        PumpThread { join },
        PumpHandle {
            requests,
            thread,
            stats,
        },
    ))
}

struct Worker {
    events: rtrb::Consumer<Event>,
    pump: Pump,
    tx: mpsc::Sender<Pumped>,
    rx: Receiver<Request>,
    stats: Arc<PumpStats>,
    stall: Option<StallFault>,
    records: u64,
    engine: Arc<EngineCounters>,
}

impl Worker {
    fn run(mut self) -> Pump {
        let mut last_save = Instant::now();
        let mut stalled_until: Option<Instant> = None;
        let mut drained = false;
        self.engine.doorbell.listen();
        loop {
            let handles_gone = self.take_requests();
            if let Some(until) = stalled_until {
                let now = Instant::now();
                if now < until {
                    std::thread::park_timeout(until - now);
                    continue;
                }
                stalled_until = None;
                self.stats.stalled.store(false, Ordering::Relaxed);
            }
            let mut taken = 0;
            while taken < BATCH {
                let Ok(event) = self.events.pop() else {
                    break;
                };
                taken += 1;
                if self.on_event(event) {
                    if let Some(f) = self.stall.take() {
                        stalled_until = Some(Instant::now() + f.duration);
                        self.stats.stalled.store(true, Ordering::Relaxed);
                        break;
                    }
                }
            }
            if taken == 0 && self.events.is_abandoned() && self.events.is_empty() {
                if !drained {
                    drained = true;
                    self.send(Pumped::Drained);
                }
                if handles_gone {
                    break;
                }
            }
            if last_save.elapsed() >= SAVE_EVERY && self.pump.journal().watermark_dirty() {
                self.save_watermark();
                last_save = Instant::now();
            }
            if taken > 0 {
                continue;
            }
            let wait = if self.pump.journal().watermark_dirty() {
                SAVE_EVERY
            } else {
                IDLE_WAIT
            };
            std::thread::park_timeout(wait);
        }
        self.take_requests();
        self.save_watermark();
        self.pump
    }

    fn save_watermark(&mut self) {
        if let Err(e) = self.pump.journal().save_watermark() {
            tracing::warn!("outbox watermark: {e}");
        }
    }

    fn send(&self, msg: Pumped) {
        // Nobody listening (the daemon is going): storing goes on all the same.
        let _ = self.tx.blocking_send(msg);
    }

    /// Stores one event and hands it on; true when it was a record and the stall fault is due.
    fn on_event(&mut self, event: Event) -> bool {
        let is_record = matches!(event, Event::Record { .. });
        let msg = match self.pump.handle(event) {
            Ok(Some(out)) => Some(Pumped::Output(out)),
            Ok(None) => None,
            Err(e) => Some(Pumped::Failed(e)),
        };
        for g in self.pump.take_given_up() {
            self.send(Pumped::GivenUp(g));
        }
        if is_record {
            self.records += 1;
            self.update_stats();
        }
        if let Some(msg) = msg {
            self.send(msg);
        }
        is_record && self.stall.is_some_and(|f| self.records >= f.after_records)
    }

    /// Handles the waiting requests; true once every handle is dropped.
    fn take_requests(&mut self) -> bool {
        loop {
            match self.rx.try_recv() {
                Ok(r) => self.on_request(r),
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => return true,
            }
        }
    }

    fn on_request(&mut self, request: Request) {
        match request {
            Request::Register { run, cmd_id } => self.pump.register(run, cmd_id),
            Request::Acked(seqs) => {
                for seq in seqs {
                    if let Err(e) = self.pump.journal().ack(seq) {
                        tracing::error!("outbox: {e}");
                    }
                }
                self.update_stats();
            }
            Request::Fetch { after } => {
                let journal = self.pump.journal();
                let from = after.unwrap_or(journal.acked());
                let msg = match journal.unacked_after(from, FETCH) {
                    Ok(records) => Pumped::Fetched {
                        after,
                        records,
                        last_seq: journal.last_seq(),
                    },
                    Err(e) => Pumped::ReadFailed(e),
                };
                self.send(msg);
            }
        }
    }

    fn update_stats(&mut self) {
        let j = self.pump.journal();
        let (depth, last, acked) = (j.depth(), j.last_seq(), j.acked());
        self.stats.depth.store(depth, Ordering::Relaxed);
        self.stats.last_seq.store(last, Ordering::Relaxed);
        self.stats.acked.store(acked, Ordering::Relaxed);
    }
}
