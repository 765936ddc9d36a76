//! The event ring's doorbell: the engine rings it after each push, so that the ring's consumer
//! (the storage pump) sleeps until there is something to take instead of looking every few
//! milliseconds. The ring itself (rtrb) has no blocking API.

use std::sync::OnceLock;
use std::thread::Thread;

/// Wakes the one thread that listens for events.
#[derive(Debug, Default)]
pub struct Doorbell {
    listener: OnceLock<Thread>,
}

impl Doorbell {
    /// Makes the calling thread the listener (the first caller only); it then waits with
    /// `std::thread::park_timeout`. Returns whether the calling thread is the listener.
    pub fn listen(&self) -> bool {
        let me = std::thread::current();
        self.listener.get_or_init(|| me.clone()).id() == me.id()
    }

    /// Wakes the listener, if there is one (cheap when it is awake: one atomic operation).
    pub fn ring(&self) {
        if let Some(t) = self.listener.get() {
            t.unpark();
        }
    }
}
