//! The MQTT link: one rumqttc client whose event loop is polled alone in its own task, and a
//! cheap handle that publishes without ever waiting on the network.
//!
//! Delivery tracking: every publish goes through [`Link::publish`], which notes, under one lock
//! with the request, which record (`seq`) it carries. The poll task pairs each outgoing publish
//! with that note (the event loop keeps request order), then each PUBACK with its record, and
//! keeps the acknowledged records for [`Link::take_acks`] (never dropped). When the connection
//! drops, the records the client had not sent or not seen acknowledged are forgotten on purpose:
//! the outbox journal sends them again after the reconnection, in order, from the last
//! acknowledged one. Other messages (replies, errors, contact results) stay with the client,
//! which sends them first once reconnected, unless the broker keeps dropping the connection
//! right after one of them ([`refusal`]): that one is dropped and reported.
//!
//! Topics are checked before they reach the client ([`crate::messaging::topics::check_topic`]):
//! a topic the broker would refuse is an error at [`Link::publish`], not a broken connection.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet, QoS,
    Request, Transport,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{MqttConfig, Password};
use crate::messaging::topics::check_topic;

mod refusal;

use refusal::RefusalGuard;
pub use refusal::Refused;

/// Largest packet accepted from the broker: well above the command size limit, so that an
/// oversize command gets a reply instead of breaking the connection.
const MAX_INCOMING_PACKET: usize = 16 * 1024 * 1024;
const MAX_OUTGOING_PACKET: usize = 16 * 1024 * 1024;
const REQUEST_CAPACITY: usize = 512;
/// Incoming messages waiting for the daemon, at most: beyond, the poll task waits (the broker
/// queues for the daemon meanwhile, up to its own limit) instead of dropping them. Only messages
/// under the size limit are copied in, so the queue holds at most this many times that limit.
const EVENT_CAPACITY: usize = 1024;
const MAX_INFLIGHT: u16 = 100;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Why the link could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("cannot read {what} {path}: {cause}")]
    File {
        what: &'static str,
        path: std::path::PathBuf,
        cause: std::io::Error,
    },
}

/// Why a message was not handed to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error("not connected to the broker")]
    NotConnected,
    #[error("the MQTT client's queue is full")]
    Full,
    #[error("a message of {0} bytes is larger than the link carries")]
    TooLarge(usize),
    #[error("invalid topic {topic:?}: {problem}")]
    InvalidTopic { topic: String, problem: String },
}

impl PublishError {
    /// Whether trying again later may succeed (not for a message that can never be sent).
    pub fn is_transient(&self) -> bool {
        matches!(self, PublishError::NotConnected | PublishError::Full)
    }
}

/// What the poll task reports.
#[derive(Debug, Clone)]
pub enum LinkEvent {
    Connected,
    Disconnected(String),
    Message {
        topic: String,
        payload: Vec<u8>,
    },
    /// A message over the size limit, not read (its length in bytes).
    Oversize {
        topic: String,
        len: usize,
    },
}

#[derive(Debug, Default)]
struct Tracking {
    connected: bool,
    /// Records (or `None`) of the publishes handed to the client, not yet seen going out.
    queued: VecDeque<Option<u64>>,
    /// Packet id → record, for QoS 1 publishes sent and not yet acknowledged.
    inflight: HashMap<u16, u64>,
    /// A record sent under a packet id still awaiting its acknowledgement (an out-of-order
    /// acknowledgement made the client reuse it): paired once that acknowledgement arrives.
    deferred: Option<(u16, u64)>,
    /// Records acknowledged and not yet taken.
    acked: Vec<u64>,
    dropped_messages: u64,
    /// Where a refused message is reported (`{module, datetime, level, description}`), if set.
    error_topic: Option<String>,
}

/// A handle on the link; clone it freely.
#[derive(Clone)]
pub struct Link {
    client: AsyncClient,
    tracking: Arc<Mutex<Tracking>>,
    stopping: Arc<AtomicBool>,
    max_payload: usize,
}

/// The running poll task.
pub struct LinkTask {
    pub events: mpsc::Receiver<LinkEvent>,
    pub handle: JoinHandle<()>,
}

fn read(what: &'static str, path: &std::path::Path) -> Result<Vec<u8>, LinkError> {
    std::fs::read(path).map_err(|cause| LinkError::File {
        what,
        path: path.to_path_buf(),
        cause,
    })
}

/// Client options from the configuration, with `will` as the last will (retained, QoS 1).
pub fn options(cfg: &MqttConfig, will: Option<(String, String)>) -> Result<MqttOptions, LinkError> {
    options_as(cfg, &cfg.client_id, will)
}

/// The same for another client of the same broker (`ohmpi ctl`).
pub fn options_as(
    cfg: &MqttConfig,
    client_id: &str,
    will: Option<(String, String)>,
) -> Result<MqttOptions, LinkError> {
    let mut o = MqttOptions::new(client_id, cfg.host.clone(), cfg.port);
    o.set_keep_alive(Duration::from_secs(cfg.keepalive_s))
        .set_clean_session(true)
        .set_max_packet_size(MAX_INCOMING_PACKET, MAX_OUTGOING_PACKET)
        .set_inflight(MAX_INFLIGHT)
        .set_request_channel_capacity(REQUEST_CAPACITY);
    if let Some((topic, payload)) = will {
        o.set_last_will(LastWill::new(topic, payload, QoS::AtLeastOnce, true));
    }
    if let Some(user) = &cfg.username {
        let password = match &cfg.password {
            Some(Password::Inline(p)) => p.clone(),
            Some(Password::File(path)) => String::from_utf8_lossy(&read("password file", path)?)
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
            None => String::new(),
        };
        o.set_credentials(user.clone(), password);
    }
    if let Some(tls) = &cfg.tls {
        let ca = read("CA file", &tls.ca_file)?;
        let client_auth = match &tls.client_auth {
            Some((cert, key)) => {
                Some((read("client certificate", cert)?, read("client key", key)?))
            }
            None => None,
        };
        o.set_transport(Transport::tls(ca, client_auth, None));
    }
    Ok(o)
}

impl Link {
    /// Starts the client and its poll task (on the current tokio runtime). Records are the
    /// messages on `record_topic`; incoming messages over `max_payload` bytes are reported, not
    /// read.
    pub fn start(
        options: MqttOptions,
        record_topic: String,
        max_payload: usize,
    ) -> (Link, LinkTask) {
        let (client, eventloop) = AsyncClient::new(options, REQUEST_CAPACITY);
        let tracking = Arc::new(Mutex::new(Tracking::default()));
        let stopping = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel(EVENT_CAPACITY);
        let handle = tokio::spawn(poll_loop(
            eventloop,
            client.clone(),
            Arc::clone(&tracking),
            Arc::clone(&stopping),
            tx,
            (record_topic, max_payload),
        ));
        (
            Link {
                client,
                tracking,
                stopping,
                max_payload: MAX_OUTGOING_PACKET - 1024,
            },
            LinkTask { events: rx, handle },
        )
    }

    fn tracking(&self) -> std::sync::MutexGuard<'_, Tracking> {
        self.tracking.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_connected(&self) -> bool {
        self.tracking().connected
    }

    /// Records handed to the client and not yet acknowledged.
    pub fn inflight(&self) -> usize {
        let t = self.tracking();
        t.inflight.len() + t.queued.iter().filter(|q| q.is_some()).count()
    }

    /// The records acknowledged since the last call.
    pub fn take_acks(&self) -> Vec<u64> {
        std::mem::take(&mut self.tracking().acked)
    }

    /// Where a message the broker refused is reported, besides the log: an error event
    /// `{module, datetime, level, description}` on `topic`.
    pub fn report_errors_to(&self, topic: String) {
        self.tracking().error_topic = Some(topic);
    }

    /// Incoming messages dropped because nothing reads the link's events any more.
    pub fn dropped_messages(&self) -> u64 {
        self.tracking().dropped_messages
    }

    /// Whether a message of `len` bytes on `topic` can ever be sent: the errors of
    /// [`Link::publish`] that are not transient.
    pub fn check(&self, topic: &str, len: usize) -> Result<(), PublishError> {
        check_topic(topic).map_err(|problem| PublishError::InvalidTopic {
            topic: topic.to_string(),
            problem,
        })?;
        if len > self.max_payload {
            return Err(PublishError::TooLarge(len));
        }
        Ok(())
    }

    /// Hands a message to the client without waiting. `seq` names the record it carries, so its
    /// acknowledgement is reported.
    pub fn publish(
        &self,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload: impl Into<Vec<u8>>,
        seq: Option<u64>,
    ) -> Result<(), PublishError> {
        let payload = payload.into();
        self.check(topic, payload.len())?;
        let mut t = self.tracking();
        if !t.connected {
            return Err(PublishError::NotConnected);
        }
        self.client
            .try_publish(topic, qos, retain, payload)
            .map_err(|_| PublishError::Full)?;
        t.queued.push_back(seq);
        Ok(())
    }

    /// Subscribes (QoS 1) without waiting.
    pub fn subscribe(&self, topic: &str) -> Result<(), PublishError> {
        self.client
            .try_subscribe(topic, QoS::AtLeastOnce)
            .map_err(|_| PublishError::Full)
    }

    /// Clean disconnection: no last will. The poll task ends once the client has said goodbye.
    pub fn disconnect(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.client.try_disconnect();
    }
}

async fn poll_loop(
    mut eventloop: EventLoop,
    client: AsyncClient,
    tracking: Arc<Mutex<Tracking>>,
    stopping: Arc<AtomicBool>,
    tx: mpsc::Sender<LinkEvent>,
    (record_topic, max_payload): (String, usize),
) {
    let lock = || tracking.lock().unwrap_or_else(|p| p.into_inner());
    let mut backoff = Duration::from_millis(500);
    let mut guard = RefusalGuard::default();
    loop {
        let event = eventloop.poll().await;
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                lock().connected = true;
                backoff = Duration::from_millis(500);
                let _ = tx.send(LinkEvent::Connected).await;
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let msg = if p.payload.len() > max_payload {
                    LinkEvent::Oversize {
                        topic: p.topic,
                        len: p.payload.len(),
                    }
                } else {
                    LinkEvent::Message {
                        topic: p.topic,
                        payload: p.payload.to_vec(),
                    }
                };
                // Waits while the daemon is behind; fails only once it has stopped reading.
                if tx.send(msg).await.is_err() {
                    lock().dropped_messages += 1;
                }
            }
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                guard.sent(pkid, std::time::Instant::now());
                let mut t = lock();
                if let Some(Some(seq)) = t.queued.pop_front() {
                    if pkid != 0 {
                        match t.inflight.entry(pkid) {
                            std::collections::hash_map::Entry::Occupied(_) => {
                                t.deferred = Some((pkid, seq));
                            }
                            std::collections::hash_map::Entry::Vacant(v) => {
                                v.insert(seq);
                            }
                        }
                    }
                }
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                guard.acked(ack.pkid);
                let mut t = lock();
                if let Some(seq) = t.inflight.remove(&ack.pkid) {
                    t.acked.push(seq);
                }
                if let Some((pkid, seq)) = t.deferred.take() {
                    if pkid == ack.pkid {
                        t.inflight.insert(pkid, seq);
                    } else {
                        t.deferred = Some((pkid, seq));
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                {
                    let mut t = lock();
                    t.connected = false;
                    eventloop.clean();
                    // Records go again from the journal; other messages stay, sent first,
                    // except one the broker keeps refusing.
                    let mut kept: std::collections::VecDeque<Request> = eventloop
                        .pending
                        .drain(..)
                        .filter(|r| matches!(r, Request::Publish(p) if p.topic != record_topic))
                        .collect();
                    let refused = guard.dropped(&mut kept, std::time::Instant::now());
                    t.queued = kept.iter().map(|_| None).collect();
                    eventloop.pending = kept;
                    t.inflight.clear();
                    t.deferred = None;
                    if let Some(refused) = refused {
                        report_refused(&client, &mut t, &refused);
                    }
                }
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let reason = describe(&e);
                let _ = tx.send(LinkEvent::Disconnected(reason)).await;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Logs a refused message and, when the link has an error topic, queues the error event (it
/// goes out after the reconnection, behind what is already queued).
fn report_refused(client: &AsyncClient, t: &mut Tracking, refused: &Refused) {
    tracing::error!("MQTT: {refused}");
    let Some(topic) = t
        .error_topic
        .clone()
        .filter(|topic| check_topic(topic).is_ok())
    else {
        return;
    };
    let body = serde_json::json!({
        "module": "mqtt",
        "datetime": crate::timestamp::rfc3339(std::time::SystemTime::now()),
        "level": "error",
        "description": refused.to_string(),
    });
    if client
        .try_publish(topic, QoS::AtLeastOnce, false, body.to_string())
        .is_ok()
    {
        // Paired like every publish handed to the client.
        t.queued.push_back(None);
    }
}

fn describe(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => {
            format!("the broker refused the connection ({code:?})")
        }
        ConnectionError::Io(io) => format!("network error: {io}"),
        ConnectionError::NetworkTimeout => "the broker did not answer in time".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn topics_a_broker_would_refuse_are_refused_at_publish() {
        // Nothing listens on port 1: the link stays disconnected, no packet is ever written.
        let options = MqttOptions::new("t", "127.0.0.1", 1);
        let (link, task) = Link::start(options, "p/data".into(), 1024);
        for bad in ["p/control/response/a\u{FFFF}", "p/+/x", "p/#", "", "p/a\nb"] {
            match link.publish(bad, QoS::AtLeastOnce, false, "x", None) {
                Err(e @ PublishError::InvalidTopic { .. }) => {
                    assert!(!e.is_transient());
                    assert!(e.to_string().contains("invalid topic"), "{e}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(link.check("p/a\u{FDD0}", 1).is_err());
        assert_eq!(
            link.check("p/a", 64 << 20),
            Err(PublishError::TooLarge(64 << 20))
        );
        assert_eq!(link.check("p/a", 1), Ok(()));
        let e = link
            .publish("p/control/response/a", QoS::AtLeastOnce, false, "x", None)
            .unwrap_err();
        assert_eq!(e, PublishError::NotConnected);
        assert!(e.is_transient());
        link.disconnect();
        task.handle.abort();
    }
}
