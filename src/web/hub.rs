//! The WebSocket gateway's core: what instruments publish fanned out to every browser, and
//! browsers' commands checked against their role and handed to whoever carries them out.
//!
//! The core knows neither the daemon nor MQTT. A source calls [`Hub::publish`] with
//! (instrument, topic relative to its prefix, JSON payload); commands come out of the
//! [`mpsc::Receiver<Inbound>`] given at creation, with `reply_to` set to the browser's id, so
//! that the reply, published on `control/response/<id>`, comes back through [`Hub::publish`] and
//! goes to that browser only. In the daemon the source is its own publishing and the sink its
//! command router; a standalone gateway can plug an MQTT subscription into the same two ends.
//!
//! Fan-out is one bounded `broadcast` channel: publishing never waits, and a browser that falls
//! behind loses the oldest messages (it is told how many with `{"type": "skipped"}`). Each
//! browser has its own task writing to its socket with a time-out; one that does not read is
//! dropped and slows nobody.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use super::auth::Role;
use crate::messaging::command::canonical_name;
use crate::messaging::reply::{ErrorBody, ErrorCode, Reply};

/// Topics a browser receives as `message`s.
const MESSAGE_TOPICS: [&str; 6] = [
    "status",
    "soh",
    "data",
    "data/contact",
    "log",
    "events/error",
];
/// Topics whose latest message a newcomer gets after `hello`.
const CACHED_TOPICS: [&str; 2] = ["status", "soh"];
/// Where replies are published, relative to the prefix.
const RESPONSE_TOPIC: &str = "control/response/";
/// Browser ids start so; replies to other requesters are not for browsers.
const CLIENT_PREFIX: &str = "ws-";
/// A browser that takes longer than this to accept one message is dropped.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// One message for the browsers, serialized once for all of them.
#[derive(Debug)]
pub struct Frame {
    /// The browser it is for (`None`: everyone).
    pub for_client: Option<String>,
    /// The WebSocket text frame.
    pub text: Arc<str>,
}

/// A command from a browser, allowed for its role, with `reply_to` set to the browser's id.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub client: String,
    pub role: Role,
    /// The instrument it is for (`instrument` of the message; gateway mode).
    pub instrument: Option<String>,
    /// The command's JSON.
    pub payload: Vec<u8>,
}

/// An instrument the hub serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentInfo {
    pub id: String,
    pub prefix: String,
}

/// Whether the hub runs inside the daemon or as a gateway on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Daemon,
    Gateway,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Daemon => "daemon",
            Mode::Gateway => "gateway",
        }
    }
}

/// Limits of the hub.
#[derive(Debug, Clone, Copy)]
pub struct HubLimits {
    /// Messages kept for a browser that falls behind.
    pub queue: usize,
    /// Largest command frame accepted, in bytes.
    pub max_frame: usize,
}

/// The gateway core; cheap to clone.
#[derive(Clone)]
pub struct Hub(Arc<Inner>);

struct Inner {
    mode: Mode,
    limits: HubLimits,
    tx: broadcast::Sender<Arc<Frame>>,
    /// Latest status and soh frame per (instrument, topic).
    cache: Mutex<BTreeMap<(String, &'static str), Arc<Frame>>>,
    instruments: Mutex<Vec<InstrumentInfo>>,
    commands: mpsc::Sender<Inbound>,
    next_client: AtomicU64,
    /// Browser ids are this followed by a number (`ws-7`, or `ws-3f9a-7` for a gateway).
    client_prefix: String,
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl Hub {
    /// A hub handing browsers' commands to `commands`.
    pub fn new(mode: Mode, limits: HubLimits, commands: mpsc::Sender<Inbound>) -> Hub {
        Hub::with_client_tag(mode, limits, commands, "")
    }

    /// The same with browser ids `ws-<tag>-<n>` (`ws-<n>` for an empty tag). A gateway tags its
    /// browsers so that their ids, which become `reply_to` on the broker, are not those of the
    /// browsers of a daemon's own dashboard, or of another gateway, on the same broker.
    pub fn with_client_tag(
        mode: Mode,
        limits: HubLimits,
        commands: mpsc::Sender<Inbound>,
        tag: &str,
    ) -> Hub {
        let (tx, _) = broadcast::channel(limits.queue.max(1));
        let client_prefix = if tag.is_empty() {
            CLIENT_PREFIX.to_string()
        } else {
            format!("{CLIENT_PREFIX}{tag}-")
        };
        Hub(Arc::new(Inner {
            mode,
            limits,
            tx,
            cache: Mutex::new(BTreeMap::new()),
            instruments: Mutex::new(Vec::new()),
            commands,
            next_client: AtomicU64::new(1),
            client_prefix,
        }))
    }

    pub fn mode(&self) -> Mode {
        self.0.mode
    }

    pub fn limits(&self) -> HubLimits {
        self.0.limits
    }

    /// Makes `id` (topic prefix `prefix`) known to browsers: listed in the `hello` of those
    /// that connect from now on, and announced to those connected with
    /// `{"type": "instrument", "id", "prefix"}`. `false` if it was known already.
    pub fn add_instrument(&self, id: &str, prefix: &str) -> bool {
        let mut list = self.0.instruments.lock().unwrap_or_else(|p| p.into_inner());
        if list.iter().any(|i| i.id == id) {
            return false;
        }
        list.push(InstrumentInfo {
            id: id.into(),
            prefix: prefix.into(),
        });
        // Under the lock: a browser connecting now has it either in its hello or from here.
        if self.clients() > 0 {
            let text = json!({"type": "instrument", "id": id, "prefix": prefix}).to_string();
            let _ = self.0.tx.send(Arc::new(Frame {
                for_client: None,
                text: text.into(),
            }));
        }
        true
    }

    /// Whether `id` is known.
    pub fn has_instrument(&self, id: &str) -> bool {
        self.0
            .instruments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|i| i.id == id)
    }

    pub fn instruments(&self) -> Vec<InstrumentInfo> {
        self.0
            .instruments
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Browsers connected now.
    pub fn clients(&self) -> usize {
        self.0.tx.receiver_count()
    }

    /// What `instrument` published on `<prefix>/<topic>`; `payload` is its JSON. Never waits.
    pub fn publish(&self, instrument: &str, topic: &str, payload: &str) {
        if let Some(client) = topic.strip_prefix(RESPONSE_TOPIC) {
            if !client.starts_with(self.0.client_prefix.as_str()) || self.clients() == 0 {
                return;
            }
            let text = format!(
                "{{\"type\":\"reply\",\"instrument\":{},\"payload\":{payload}}}",
                quoted(instrument)
            );
            let _ = self.0.tx.send(Arc::new(Frame {
                for_client: Some(client.to_string()),
                text: text.into(),
            }));
            return;
        }
        let Some(&topic) = MESSAGE_TOPICS.iter().find(|t| **t == topic) else {
            return;
        };
        let cached = CACHED_TOPICS.contains(&topic);
        if !cached && self.clients() == 0 {
            return;
        }
        let text = format!(
            "{{\"type\":\"message\",\"instrument\":{},\"topic\":{},\"payload\":{payload}}}",
            quoted(instrument),
            quoted(topic)
        );
        let frame = Arc::new(Frame {
            for_client: None,
            text: text.into(),
        });
        if cached {
            self.0
                .cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert((instrument.to_string(), topic), frame.clone());
        }
        let _ = self.0.tx.send(frame);
    }

    /// `GET /health`'s body.
    pub fn health(&self) -> Value {
        json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "mode": self.0.mode.as_str(),
            "instruments": self.instruments().len(),
        })
    }

    fn hello(&self, client: &str, role: Role) -> String {
        let instruments: Vec<Value> = self
            .instruments()
            .iter()
            .map(|i| json!({"id": i.id, "prefix": i.prefix}))
            .collect();
        json!({
            "type": "hello",
            "role": role.as_str(),
            "client": client,
            "mode": self.0.mode.as_str(),
            "instruments": instruments,
            "version": env!("CARGO_PKG_VERSION"),
        })
        .to_string()
    }

    fn default_instrument(&self) -> String {
        self.instruments()
            .first()
            .map(|i| i.id.clone())
            .unwrap_or_default()
    }

    fn reply_frame(&self, instrument: &str, reply: &Reply) -> String {
        format!(
            "{{\"type\":\"reply\",\"instrument\":{},\"payload\":{}}}",
            quoted(instrument),
            reply.to_json()
        )
    }

    /// A frame from browser `client`: forwarded as a command, or answered here with an error
    /// reply (the returned frame).
    pub fn on_frame(&self, client: &str, role: Role, bytes: &[u8], n: &mut u64) -> Option<String> {
        *n += 1;
        let fallback = format!("{client}-{n}");
        let here = self.default_instrument();
        let refuse = |cmd_id: String, cmd: String, body: ErrorBody| {
            Some(self.reply_frame(&here, &Reply::error(cmd_id, cmd, body)))
        };
        if bytes.len() > self.0.limits.max_frame {
            let body = ErrorBody::invalid(
                "payload",
                format!(
                    "the message is {} bytes; at most {} are accepted",
                    bytes.len(),
                    self.0.limits.max_frame
                ),
            );
            return refuse(fallback, String::new(), body);
        }
        let mut obj = match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(o)) => o,
            Ok(_) => {
                let body = ErrorBody::new(ErrorCode::BadJson, "a command must be a JSON object");
                return refuse(fallback, String::new(), body);
            }
            Err(e) => {
                let body = ErrorBody::new(ErrorCode::BadJson, format!("not JSON: {e}"));
                return refuse(fallback, String::new(), body);
            }
        };
        if !obj.contains_key("cmd_id") {
            obj.insert("cmd_id".into(), Value::String(fallback.clone()));
        }
        let cmd_id = match obj.get("cmd_id") {
            Some(Value::String(s)) => s.clone(),
            _ => fallback,
        };
        let cmd = obj
            .get("cmd")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if let Some(name) = canonical_name(&cmd) {
            if !role.may_send(name) {
                let body = ErrorBody::new(
                    ErrorCode::NotPermitted,
                    format!("the {role} role may not send {cmd}"),
                );
                return refuse(cmd_id, cmd, body);
            }
        } else if role == Role::Viewer && !cmd.is_empty() {
            let body = ErrorBody::new(
                ErrorCode::NotPermitted,
                format!("the viewer role may not send {cmd}"),
            );
            return refuse(cmd_id, cmd, body);
        }
        let instrument = obj
            .get("instrument")
            .and_then(Value::as_str)
            .map(str::to_string);
        if self.0.mode == Mode::Daemon {
            if let Some(other) = instrument.as_deref().filter(|i| *i != here) {
                let body = ErrorBody::invalid(
                    "instrument",
                    format!("this daemon is instrument {here}, not {other}"),
                );
                return refuse(cmd_id, cmd, body);
            }
        }
        obj.insert("reply_to".into(), Value::String(client.to_string()));
        let payload = serde_json::to_vec(&obj).unwrap_or_default();
        let inbound = Inbound {
            client: client.to_string(),
            role,
            instrument,
            payload,
        };
        match self.0.commands.try_send(inbound) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(_)) => refuse(
                cmd_id,
                cmd,
                ErrorBody::new(
                    ErrorCode::Busy,
                    "too many commands are waiting; send it again in a moment",
                ),
            ),
            Err(mpsc::error::TrySendError::Closed(_)) => refuse(
                cmd_id,
                cmd,
                ErrorBody::new(ErrorCode::Internal, "the instrument is stopping"),
            ),
        }
    }
}

mod client;

#[cfg(test)]
mod tests;
