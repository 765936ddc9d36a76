//! The pump runs on its own thread: it drains the engine's event ring, makes every record
//! durable in its survey file, and hands what happened to the async side. It may wait on the
//! async side (the engine never does: it only sees a ring filling up between quadrupoles).

use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::acquisition::Event;
use crate::pump::{Output, Pump};
use crate::storage::StorageError;

/// Runs announced to the pump thread, with the `cmd_id` their records carry.
type Registrations = std::sync::Arc<std::sync::Mutex<Vec<(u64, Option<String>)>>>;

/// What the pump thread sends.
#[derive(Debug)]
pub enum Pumped {
    Output(Output),
    /// Storage failed (disk full, removed): the daemon reports it and stops measuring.
    Failed(StorageError),
}

/// Starts the pump thread. It ends when `events`' producer (the engine) is gone and the ring is
/// empty, or when the receiver is dropped.
pub fn spawn(
    mut events: rtrb::Consumer<Event>,
    mut pump: Pump,
    tx: mpsc::Sender<Pumped>,
) -> std::io::Result<(JoinHandle<Pump>, PumpHandle)> {
    let registrations =
        std::sync::Arc::new(std::sync::Mutex::new(Vec::<(u64, Option<String>)>::new()));
    let shared = std::sync::Arc::clone(&registrations);
    let handle = std::thread::Builder::new()
        .name("pump".into())
        .spawn(move || loop {
            if let Ok(mut regs) = shared.lock() {
                for (run, cmd_id) in regs.drain(..) {
                    pump.register(run, cmd_id);
                }
            }
            match events.pop() {
                Ok(event) => {
                    let msg = match pump.handle(event) {
                        Ok(Some(out)) => Pumped::Output(out),
                        Ok(None) => continue,
                        Err(e) => Pumped::Failed(e),
                    };
                    if tx.blocking_send(msg).is_err() {
                        return pump;
                    }
                }
                Err(_) if events.is_abandoned() => return pump,
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        })?;
    Ok((handle, PumpHandle { registrations }))
}

/// Tells the pump thread which command a run answers.
#[derive(Clone)]
pub struct PumpHandle {
    registrations: Registrations,
}

impl PumpHandle {
    pub fn register(&self, run: u64, cmd_id: Option<String>) {
        if let Ok(mut r) = self.registrations.lock() {
            r.push((run, cmd_id));
        }
    }
}
