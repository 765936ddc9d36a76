//! Records on their way to the broker. The pump has made each one durable in the outbox journal
//! before the daemon hears of it; this side only hands them to the link in `seq` order, at most
//! [`WINDOW`] awaiting acknowledgement, and passes the acknowledgements back to the pump. After a
//! reconnection or a restart, whatever is unacknowledged is read back from the journal by the
//! pump, in order.

use std::collections::VecDeque;

use rumqttc::QoS;

use crate::messaging::link::Link;
use crate::pump::thread::PumpHandle;

/// Records handed to the client and not yet acknowledged, at most.
const WINDOW: usize = 64;
/// Records kept in memory for sending without reading them back from disk.
const FRESH: usize = 1024;

pub struct Outbox {
    pump: PumpHandle,
    topic: String,
    /// The last seq handed to the link; `None`: start again after the acknowledged watermark.
    cursor: Option<u64>,
    /// Records as the pump made them durable, newest last.
    fresh: VecDeque<(u64, String)>,
    /// Records read back from the journal, to send before anything newer.
    staged: VecDeque<(u64, String)>,
    /// A read-back is under way, from this cursor.
    fetching: Option<Option<u64>>,
    /// Acknowledgements not yet handed to the pump (its queue was full).
    acks: Vec<u64>,
}

impl Outbox {
    pub fn new(pump: PumpHandle, topic: String) -> Self {
        Self {
            pump,
            topic,
            cursor: None,
            fresh: VecDeque::new(),
            staged: VecDeque::new(),
            fetching: None,
            acks: Vec::new(),
        }
    }

    /// Unacknowledged records.
    pub fn depth(&self) -> u64 {
        self.pump
            .stats()
            .depth
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The last seq the pump made durable.
    fn last_durable(&self) -> u64 {
        self.pump
            .stats()
            .last_seq
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A record the pump made durable; it is sent by the next [`Outbox::flush`].
    pub fn push(&mut self, seq: u64, json: String) {
        if self.fresh.len() == FRESH {
            self.fresh.pop_front();
        }
        self.fresh.push_back((seq, json));
    }

    /// Read-back records from the pump (an answer to the request made by `flush`).
    pub fn fetched(&mut self, after: Option<u64>, records: Vec<(u64, String)>, last_seq: u64) {
        if self.fetching != Some(after) {
            return; // an answer to a request from before a reconnection
        }
        self.fetching = None;
        if self.cursor != after {
            return;
        }
        match records.last() {
            Some(_) => self.staged = records.into(),
            // Nothing unacknowledged up to `last_seq`: what comes next is newer.
            None => self.cursor = Some(after.unwrap_or(0).max(last_seq)),
        }
    }

    /// The pump could not read back: ask again at the next flush.
    pub fn fetch_failed(&mut self) {
        self.fetching = None;
    }

    /// Hands records to the link, in order, while it takes them.
    pub fn flush(&mut self, link: &Link) {
        self.pass_acks(link);
        while link.is_connected() && link.inflight() < WINDOW {
            let next = match self.staged.pop_front() {
                Some(r) => r,
                None => {
                    let Some(cursor) = self.cursor else {
                        self.fetch(None);
                        return;
                    };
                    while self.fresh.front().is_some_and(|(s, _)| *s <= cursor) {
                        self.fresh.pop_front();
                    }
                    match self.fresh.front() {
                        Some((s, json)) if *s == cursor + 1 => (*s, json.clone()),
                        // Not in memory (an outage, a restart): read back from the journal.
                        Some(_) => {
                            self.fetch(Some(cursor));
                            return;
                        }
                        // Nothing newer in memory: the journal may still hold more (after a
                        // read-back, or records made durable while the link was away).
                        None => {
                            if cursor < self.last_durable() {
                                self.fetch(Some(cursor));
                            }
                            return;
                        }
                    }
                }
            };
            if self.cursor.is_some_and(|c| next.0 <= c) {
                continue;
            }
            let (seq, json) = next;
            if link
                .publish(
                    &self.topic,
                    QoS::AtLeastOnce,
                    false,
                    json.clone(),
                    Some(seq),
                )
                .is_err()
            {
                self.staged.push_front((seq, json));
                return;
            }
            self.cursor = Some(seq);
        }
    }

    fn fetch(&mut self, after: Option<u64>) {
        if self.fetching.is_none() && self.pump.fetch(after).is_ok() {
            self.fetching = Some(after);
        }
    }

    /// Hands the link's acknowledgements to the pump.
    fn pass_acks(&mut self, link: &Link) {
        self.acks.extend(link.take_acks());
        if !self.acks.is_empty() && self.pump.acked(std::mem::take(&mut self.acks)).is_err() {
            // The pump's queue is full: they go with the next flush. (The request is gone with
            // the error, so the link's acknowledgements are taken again from the list kept.)
        }
    }

    /// The connection dropped: what was handed over and not acknowledged goes again.
    pub fn disconnected(&mut self) {
        self.cursor = None;
        self.staged.clear();
        self.fetching = None;
    }
}
