//! Records on their way to the broker: appended to the journal (durable) first, then handed to
//! the link in `seq` order, at most [`WINDOW`] awaiting acknowledgement; after a reconnection or
//! a restart, everything unacknowledged is sent again from the journal, in order.

use std::collections::VecDeque;

use rumqttc::QoS;

use crate::messaging::link::Link;
use crate::storage::journal::{GivenUp, Journal};
use crate::storage::StorageError;

/// Records handed to the client and not yet acknowledged, at most.
const WINDOW: usize = 64;
/// Records kept in memory for sending without reading them back from disk.
const FRESH: usize = 1024;
/// Records read back from the journal at a time.
const BATCH: usize = 128;

pub struct Outbox {
    journal: Journal,
    topic: String,
    /// The last seq handed to the link.
    cursor: u64,
    fresh: VecDeque<(u64, String)>,
}

impl Outbox {
    pub fn new(journal: Journal, topic: String) -> Self {
        let cursor = journal.acked();
        Self {
            journal,
            topic,
            cursor,
            fresh: VecDeque::new(),
        }
    }

    /// Unacknowledged records.
    pub fn depth(&self) -> u64 {
        self.journal.depth()
    }

    /// Makes a record durable in the journal; it is sent by the next [`Outbox::flush`].
    pub fn push(&mut self, seq: u64, json: String) -> Result<Vec<GivenUp>, StorageError> {
        let given_up = tokio::task::block_in_place(|| self.journal.append(seq, &json))?;
        if self.fresh.len() == FRESH {
            self.fresh.pop_front();
        }
        self.fresh.push_back((seq, json));
        Ok(given_up)
    }

    /// Hands records to the link, in order, while it takes them.
    pub fn flush(&mut self, link: &Link) -> Result<(), StorageError> {
        self.cursor = self.cursor.max(self.journal.acked());
        while link.is_connected() && link.inflight() < WINDOW {
            while self.fresh.front().is_some_and(|(s, _)| *s <= self.cursor) {
                self.fresh.pop_front();
            }
            let next: Vec<(u64, String)> = match self.fresh.front() {
                Some((s, json)) if *s == self.cursor + 1 => vec![(*s, json.clone())],
                _ => {
                    tokio::task::block_in_place(|| self.journal.unacked_after(self.cursor, BATCH))?
                }
            };
            if next.is_empty() {
                return Ok(());
            }
            for (seq, json) in next {
                if link.inflight() >= WINDOW
                    || link
                        .publish(&self.topic, QoS::AtLeastOnce, false, json, Some(seq))
                        .is_err()
                {
                    return Ok(());
                }
                self.cursor = seq;
            }
        }
        Ok(())
    }

    /// The broker acknowledged `seq`.
    pub fn acked(&mut self, seq: u64) -> Result<(), StorageError> {
        tokio::task::block_in_place(|| self.journal.ack(seq))
    }

    /// A record that could not be journaled: never wait for its acknowledgement.
    pub fn forget(&mut self, seq: u64) {
        self.journal.forget(seq);
    }

    /// The connection dropped: what was handed over and not acknowledged goes again.
    pub fn disconnected(&mut self) {
        self.cursor = self.journal.acked();
    }

    pub fn save_watermark(&mut self) -> Result<(), StorageError> {
        self.journal.save_watermark()
    }
}
