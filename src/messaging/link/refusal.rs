//! Messages the broker refuses. A broker answers a packet it will not take (a malformed topic,
//! say) by dropping the connection; the client keeps the unacknowledged message and sends it
//! first again after the reconnection, and the broker drops the connection again, forever.
//! [`RefusalGuard`] notices a message that is the oldest unacknowledged one every time the
//! connection drops right after it was sent, and takes it out of the client's queue after
//! [`STRIKES`] such drops in a row.
//!
//! Records never get here: the link forgets them at every disconnection (the outbox journal
//! sends them again), so only replies, errors and other messages are ever taken out.

use std::collections::VecDeque;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use rumqttc::{Publish, QoS, Request};

/// Drops in a row, each right after the same message was sent, that make it refused.
pub const STRIKES: u32 = 3;
/// "Right after": the connection dropped within this time of the message going out (a network
/// that goes away shows up later, when the keep-alive runs out).
pub const WINDOW: Duration = Duration::from_secs(5);

/// A message taken out of the client's queue because the broker refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub topic: String,
    pub bytes: usize,
    /// Connection drops that followed it.
    pub drops: u32,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the broker dropped the connection {} times in a row right after a message of {} \
             bytes on {:?}: that message is dropped and not sent again",
            self.drops, self.bytes, self.topic
        )
    }
}

/// Tracks the publishes sent on the current connection and the suspect of the last drops.
#[derive(Debug, Default)]
pub struct RefusalGuard {
    /// Packet ids of the QoS 1 publishes sent on this connection and not yet acknowledged,
    /// oldest first, with when they went out.
    sent: VecDeque<(u16, Instant)>,
    /// The message suspected by the last drops (a fingerprint), and how many drops in a row.
    suspect: Option<(u64, u32)>,
}

impl RefusalGuard {
    /// A publish went out under `pkid` (0: QoS 0, not tracked).
    pub fn sent(&mut self, pkid: u16, now: Instant) {
        if pkid == 0 {
            return;
        }
        self.sent.retain(|(p, _)| *p != pkid);
        self.sent.push_back((pkid, now));
    }

    /// The broker acknowledged `pkid`.
    pub fn acked(&mut self, pkid: u16) {
        if let Some(i) = self.sent.iter().position(|(p, _)| *p == pkid) {
            self.sent.remove(i);
        }
    }

    /// The connection dropped at `now`; `pending` is what the client will send first once
    /// reconnected. Returns the message taken out of it, if it is now deemed refused.
    pub fn dropped(&mut self, pending: &mut VecDeque<Request>, now: Instant) -> Option<Refused> {
        let oldest = self.sent.front().copied();
        self.sent.clear();
        let found = oldest
            .filter(|(_, at)| now.saturating_duration_since(*at) <= WINDOW)
            .and_then(|(pkid, _)| {
                pending.iter().position(
                    |r| matches!(r, Request::Publish(p) if p.pkid == pkid && p.qos != QoS::AtMostOnce),
                )
            });
        let Some(index) = found else {
            self.suspect = None;
            return None;
        };
        let Some(Request::Publish(p)) = pending.get(index) else {
            self.suspect = None;
            return None;
        };
        let print = fingerprint(p);
        let drops = match self.suspect {
            Some((f, n)) if f == print => n + 1,
            _ => 1,
        };
        if drops < STRIKES {
            self.suspect = Some((print, drops));
            return None;
        }
        self.suspect = None;
        match pending.remove(index) {
            Some(Request::Publish(p)) => Some(Refused {
                topic: p.topic,
                bytes: p.payload.len(),
                drops,
            }),
            _ => None,
        }
    }
}

fn fingerprint(p: &Publish) -> u64 {
    let mut h = DefaultHasher::new();
    p.topic.hash(&mut h);
    p.payload.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(topic: &str, pkid: u16) -> Request {
        let mut p = Publish::new(topic, QoS::AtLeastOnce, format!("payload of {topic}"));
        p.pkid = pkid;
        Request::Publish(p)
    }

    fn topics(pending: &VecDeque<Request>) -> Vec<String> {
        pending
            .iter()
            .filter_map(|r| match r {
                Request::Publish(p) => Some(p.topic.clone()),
                _ => None,
            })
            .collect()
    }

    /// One connection: `bad` (pkid 1) and `good` (pkid 2) sent, nothing acknowledged, dropped.
    fn drop_after_sending(guard: &mut RefusalGuard, t: Instant) -> (Option<Refused>, Vec<String>) {
        guard.sent(1, t);
        guard.sent(2, t);
        let mut pending: VecDeque<Request> = [publish("bad", 1), publish("good", 2)].into();
        let refused = guard.dropped(&mut pending, t + Duration::from_millis(10));
        (refused, topics(&pending))
    }

    #[test]
    fn a_message_followed_by_drops_again_and_again_is_taken_out() {
        let mut guard = RefusalGuard::default();
        let t = Instant::now();
        for _ in 1..STRIKES {
            let (refused, kept) = drop_after_sending(&mut guard, t);
            assert_eq!(refused, None);
            assert_eq!(kept, ["bad", "good"]);
        }
        let (refused, kept) = drop_after_sending(&mut guard, t);
        let refused = refused.expect("refused after three drops");
        assert_eq!(refused.topic, "bad");
        assert_eq!(refused.drops, STRIKES);
        assert_eq!(refused.bytes, "payload of bad".len());
        assert_eq!(kept, ["good"], "the others stay, in order");
        assert!(refused.to_string().contains("\"bad\""), "{refused}");
    }

    #[test]
    fn an_acknowledgement_clears_the_suspicion() {
        let mut guard = RefusalGuard::default();
        let t = Instant::now();
        drop_after_sending(&mut guard, t);
        drop_after_sending(&mut guard, t);
        // This time the broker took it: the next drop is someone else's doing.
        guard.sent(1, t);
        guard.sent(2, t);
        guard.acked(1);
        let mut pending: VecDeque<Request> = [publish("good", 2)].into();
        assert_eq!(guard.dropped(&mut pending, t), None);
        for _ in 1..STRIKES {
            assert_eq!(drop_after_sending(&mut guard, t).0, None);
        }
        assert!(drop_after_sending(&mut guard, t).0.is_some());
    }

    #[test]
    fn drops_long_after_sending_or_of_other_messages_do_not_count() {
        let mut guard = RefusalGuard::default();
        let t = Instant::now();
        // The network went away: the drop comes when the keep-alive runs out.
        for _ in 0..10 {
            guard.sent(1, t);
            let mut pending: VecDeque<Request> = [publish("slow", 1)].into();
            assert_eq!(guard.dropped(&mut pending, t + WINDOW * 2), None);
            assert_eq!(pending.len(), 1);
        }
        // Drops after different messages each time.
        for i in 0..10u16 {
            let topic = format!("m{i}");
            guard.sent(i + 1, t);
            let mut pending: VecDeque<Request> = [publish(&topic, i + 1)].into();
            assert_eq!(guard.dropped(&mut pending, t), None);
        }
        // Nothing sent on the connection (the broker was away): nothing suspected.
        let mut pending: VecDeque<Request> = [publish("queued", 7)].into();
        for _ in 0..10 {
            assert_eq!(guard.dropped(&mut pending, t), None);
        }
        assert_eq!(pending.len(), 1);
    }

    #[test]
    fn a_suspect_no_longer_queued_is_forgotten() {
        let mut guard = RefusalGuard::default();
        let t = Instant::now();
        drop_after_sending(&mut guard, t);
        drop_after_sending(&mut guard, t);
        // A record (taken out of the queue by the link) was the oldest this time.
        guard.sent(5, t);
        let mut pending: VecDeque<Request> = [publish("bad", 1)].into();
        assert_eq!(guard.dropped(&mut pending, t), None);
        assert_eq!(drop_after_sending(&mut guard, t).0, None);
    }
}
