//! The publisher: everything that leaves the instrument goes through it — records (through the
//! outbox's cursor), replies (kept in order while the broker is away), status, state of health,
//! log events (rate-limited), error events, the OhmPi dialect's lines, and the copy of each for
//! the dashboard's browsers. It owns the MQTT link's handle and the dashboard's hub; the command
//! router decides what to say, the publisher how it goes out. It never reads files and never
//! waits on the network.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rumqttc::QoS;

use super::outbox::Outbox;
use crate::messaging::compat::CompatTopics;
use crate::messaging::link::Link;
use crate::messaging::reply::{ErrorBody, ErrorCode, Reply};
use crate::messaging::topics::Topics;
use crate::telemetry::LogEvent;

/// Replies kept while the broker is away, at most.
const PENDING_REPLIES: usize = 256;

pub(super) struct Publisher {
    pub link: Link,
    pub topics: Topics,
    pub compat: Option<CompatTopics>,
    pub outbox: Outbox,
    /// Replies not yet handed to the link, oldest first.
    pending: VecDeque<(String, String)>,
    /// The dashboard's hub, when it serves.
    pub web: Option<crate::web::Hub>,
    instrument_id: String,
    log_rate_per_s: u32,
    log_window: (Instant, u32),
    /// Log events not published (over the rate limit).
    pub logs_dropped: u64,
}

impl Publisher {
    pub fn new(
        link: Link,
        topics: Topics,
        compat: Option<CompatTopics>,
        outbox: Outbox,
        instrument_id: String,
        log_rate_per_s: u32,
    ) -> Self {
        Self {
            link,
            topics,
            compat,
            outbox,
            pending: VecDeque::new(),
            web: None,
            instrument_id,
            log_rate_per_s,
            log_window: (Instant::now(), 0),
            logs_dropped: 0,
        }
    }

    /// Publishes `payload` on `topic` (and to the dashboard); false if the link did not take it.
    pub fn publish(&mut self, topic: &str, qos: QoS, retain: bool, payload: String) -> bool {
        self.to_web(topic, &payload);
        self.link.publish(topic, qos, retain, payload, None).is_ok()
    }

    /// What goes out on `topic` (a full topic) goes to the dashboard too, when it is on one of
    /// this instrument's topics.
    pub fn to_web(&self, topic: &str, payload: &str) {
        if let Some(hub) = &self.web {
            if let Some(rel) = topic
                .strip_prefix(self.topics.prefix.as_str())
                .and_then(|t| t.strip_prefix('/'))
            {
                hub.publish(&self.instrument_id, rel, payload);
            }
        }
    }

    /// A body on the OhmPi dialect's data topic, framed as its log line (when the dialect is on).
    pub fn compat_data(&mut self, body: &serde_json::Value) {
        if let Some(c) = &self.compat {
            let line = crate::messaging::compat::data_payload(
                std::time::SystemTime::now(),
                std::process::id(),
                body,
            );
            let topic = c.data.clone();
            self.publish(&topic, QoS::AtLeastOnce, false, line);
        }
    }

    /// An `events/error` message.
    pub fn error_event(&mut self, module: &str, description: &str) {
        let body = serde_json::json!({
            "module": module,
            "datetime": crate::timestamp::rfc3339(std::time::SystemTime::now()),
            "level": "error",
            "description": description,
        });
        let topic = self.topics.events_error.clone();
        self.publish(&topic, QoS::AtLeastOnce, false, body.to_string());
    }

    /// A reply on `control/response/<reply_to>`, and in the OhmPi dialect when asked. A reply
    /// that can never be sent must not hold up the ones behind it: the command is still
    /// answered, with the reason, and the fault reported.
    pub fn reply(&mut self, reply_to: Option<&str>, compat: bool, reply: &Reply) {
        let topic = self.topics.response(reply_to);
        let json = reply.to_json();
        self.to_web(&topic, &json);
        if let Err(e) = self.link.check(&topic, json.len()) {
            let what = format!("reply to {} not sent: {e}", reply.cmd_id);
            tracing::error!("{what}");
            self.error_event("mqtt", &what);
            let short = Reply::error(
                reply.cmd_id.clone(),
                reply.cmd.clone(),
                ErrorBody::new(ErrorCode::Internal, what),
            )
            .to_json();
            if self.link.check(&topic, short.len()).is_ok() {
                self.queue_reply(topic, short);
            }
            return;
        }
        self.queue_reply(topic, json);
        if compat {
            if let Ok(body) = serde_json::to_value(reply) {
                self.compat_data(&body);
            }
        }
    }

    /// Sends a reply, or keeps it (in order) until the link takes it.
    fn queue_reply(&mut self, topic: String, json: String) {
        // Replies keep their order: behind any still waiting.
        self.flush_pending();
        let sent = self.pending.is_empty()
            && self
                .link
                .publish(&topic, QoS::AtLeastOnce, false, json.clone(), None)
                .is_ok();
        if !sent {
            if self.pending.len() == PENDING_REPLIES {
                self.pending.pop_front();
            }
            self.pending.push_back((topic, json));
        }
    }

    /// Replies that could not be handed to the client, in order, before anything newer.
    pub fn flush_pending(&mut self) {
        while let Some((topic, payload)) = self.pending.pop_front() {
            if self
                .link
                .publish(&topic, QoS::AtLeastOnce, false, payload.clone(), None)
                .is_err()
            {
                self.pending.push_front((topic, payload));
                break;
            }
        }
    }

    /// Waiting replies, then records, as far as the link takes them.
    pub fn flush(&mut self) {
        self.flush_pending();
        self.outbox.flush(&self.link);
    }

    /// A log event on `log` (and the dialect's `exec`), at most `log_rate_per_s` a second.
    pub fn log(&mut self, log: LogEvent) {
        let (start, count) = &mut self.log_window;
        if start.elapsed() >= Duration::from_secs(1) {
            *start = Instant::now();
            *count = 0;
        }
        if *count >= self.log_rate_per_s {
            self.logs_dropped += 1;
            return;
        }
        *count += 1;
        let json = serde_json::to_string(&log).unwrap_or_default();
        let topic = self.topics.log.clone();
        self.publish(&topic, QoS::AtMostOnce, false, json);
        if let Some(c) = &self.compat {
            let level = log.level.parse().unwrap_or(tracing::Level::INFO);
            let line = crate::messaging::compat::frame_level(
                std::time::SystemTime::now(),
                std::process::id(),
                level,
                &log.message,
            );
            let topic = c.exec.clone();
            self.publish(&topic, QoS::AtMostOnce, false, line);
        }
    }

    /// The broker answered: subscribe to the control topics, then send what waited.
    pub fn on_connected(&mut self) {
        for topic in [
            Some(self.topics.control.clone()),
            self.compat.as_ref().map(|c| c.ctrl.clone()),
        ]
        .into_iter()
        .flatten()
        {
            if self.link.subscribe(&topic).is_err() {
                tracing::error!("cannot subscribe to {topic}");
            }
        }
    }

    /// Whether `topic` is one of the control topics, and whether it is the dialect's.
    pub fn control_topic(&self, topic: &str) -> Option<bool> {
        let compat = self.compat.as_ref().is_some_and(|c| c.ctrl == topic);
        (compat || topic == self.topics.control).then_some(compat)
    }
}
