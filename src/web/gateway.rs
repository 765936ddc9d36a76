//! The standalone gateway (`ohmpi gateway`): the dashboard for every instrument of a broker.
//!
//! One MQTT client subscribes to `<root>/+/status`, `soh`, `data`, `data/contact`, `log`,
//! `events/error` and `control/response/+`. An instrument is discovered from its (retained)
//! status and stays listed, online or not; everything it publishes goes to the [`Hub`] as
//! (instrument, topic relative to `<root>/<id>`, JSON). A browser's command, already checked
//! against its role by the hub, is published to `<root>/<id>/control` with `reply_to` set to the
//! browser's id, so that the reply comes back on `control/response/<id>` to that browser only.
//!
//! The MQTT event loop is polled alone in its task ([`Link`]); this loop only hands messages to
//! the client without waiting, and the hub never waits on a browser.

use std::net::SocketAddr;
use std::sync::Arc;

use rumqttc::{MqttOptions, QoS};
use serde_json::Value;
use tokio::sync::mpsc;

use super::hub::{Hub, HubLimits, Inbound, Mode};
use super::server::{self, AppState};
use crate::messaging::link::{Link, LinkEvent};
use crate::messaging::reply::{ErrorBody, ErrorCode, Reply};

/// Topics subscribed under `<root>/+/`.
pub const TOPICS: [&str; 7] = [
    "status",
    "soh",
    "data",
    "data/contact",
    "log",
    "events/error",
    "control/response/+",
];

/// Commands from browsers waiting to be published, at most.
const COMMAND_QUEUE: usize = 64;

/// Incoming messages larger than this are not forwarded.
const MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// What the gateway needs.
pub struct GatewayOptions {
    /// The broker connection (credentials, TLS) with the gateway's own client id.
    pub mqtt: MqttOptions,
    /// Instruments are `<root>/<id>`.
    pub root: String,
    pub listen: SocketAddr,
    pub limits: HubLimits,
    pub tokens: Arc<super::auth::Tokens>,
    /// Tags the browsers' ids (`ws-<tag>-<n>`), distinct from other dashboards on the broker.
    pub client_tag: String,
    /// How many connections the server keeps open, and how long they have to authenticate.
    pub connections: super::listener::ConnLimits,
}

/// `(id, topic relative to <root>/<id>)` of a topic under `root`.
pub fn split_topic<'a>(root: &str, topic: &'a str) -> Option<(&'a str, &'a str)> {
    let rest = topic.strip_prefix(root)?.strip_prefix('/')?;
    let (id, rel) = rest.split_once('/')?;
    (!id.is_empty() && !rel.is_empty()).then_some((id, rel))
}

/// A running gateway.
pub struct Gateway {
    pub hub: Hub,
    /// Where the server listens.
    pub addr: SocketAddr,
    link: Link,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Binds the server and starts the MQTT client; an address that cannot be bound is an error.
    pub async fn start(opts: GatewayOptions) -> std::io::Result<Gateway> {
        let (tx, commands) = mpsc::channel(COMMAND_QUEUE);
        let hub = Hub::with_client_tag(Mode::Gateway, opts.limits, tx, &opts.client_tag);
        let state = AppState {
            hub: hub.clone(),
            tokens: opts.tokens,
            files: None,
        };
        let addr = server::spawn(opts.listen, state, opts.connections).await?;
        let (link, link_task) = Link::start(opts.mqtt, String::new(), MAX_MESSAGE);
        let task = tokio::spawn(forward(
            hub.clone(),
            link.clone(),
            opts.root,
            link_task.events,
            commands,
        ));
        Ok(Gateway {
            hub,
            addr,
            link,
            task,
        })
    }

    /// Says goodbye to the broker and stops forwarding.
    pub async fn stop(self) {
        self.link.disconnect();
        self.task.abort();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The forwarding loop: broker → hub, browsers → broker.
async fn forward(
    hub: Hub,
    link: Link,
    root: String,
    mut events: mpsc::Receiver<LinkEvent>,
    mut commands: mpsc::Receiver<Inbound>,
) {
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(LinkEvent::Connected) => {
                    tracing::info!("gateway: connected to the broker");
                    // Clean session: subscribe on every connection.
                    for t in TOPICS {
                        if let Err(e) = link.subscribe(&format!("{root}/+/{t}")) {
                            tracing::error!("gateway: cannot subscribe to {root}/+/{t}: {e}");
                        }
                    }
                }
                Some(LinkEvent::Disconnected(why)) => {
                    tracing::warn!("gateway: broker connection lost: {why}");
                }
                Some(LinkEvent::Message { topic, payload }) => on_message(&hub, &root, &topic, &payload),
                Some(LinkEvent::Oversize { topic, len }) => {
                    tracing::warn!("gateway: {topic}: a message of {len} bytes was not forwarded");
                }
                None => break,
            },
            Some(cmd) = commands.recv() => on_command(&hub, &link, &root, cmd),
        }
    }
}

fn on_message(hub: &Hub, root: &str, topic: &str, payload: &[u8]) {
    let Some((id, rel)) = split_topic(root, topic) else {
        return;
    };
    // Only JSON goes into frames (an emptied retained message, for one, does not).
    let Ok(text) = std::str::from_utf8(payload) else {
        return;
    };
    if serde_json::from_str::<Value>(text).is_err() {
        return;
    }
    if rel == "status" && hub.add_instrument(id, &format!("{root}/{id}")) {
        tracing::info!("gateway: instrument {id} found");
    }
    if hub.has_instrument(id) {
        hub.publish(id, rel, text);
    }
}

/// Publishes a browser's command to its instrument, or answers it with an error.
fn on_command(hub: &Hub, link: &Link, root: &str, cmd: Inbound) {
    let instruments = hub.instruments();
    let target = match &cmd.instrument {
        Some(id) => instruments.iter().find(|i| &i.id == id),
        // Without `instrument`: the only one, if there is only one.
        None if instruments.len() == 1 => instruments.first(),
        None => None,
    };
    let refuse = |instrument: &str, body: ErrorBody| {
        let v: Value = serde_json::from_slice(&cmd.payload).unwrap_or(Value::Null);
        let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let reply = Reply::error(field("cmd_id"), field("cmd"), body);
        hub.publish(
            instrument,
            &format!("control/response/{}", cmd.client),
            &reply.to_json(),
        );
    };
    let Some(target) = target else {
        let body = match &cmd.instrument {
            Some(id) => ErrorBody::invalid("instrument", format!("no instrument {id} is known")),
            None => ErrorBody::invalid(
                "instrument",
                "say which instrument the command is for (\"instrument\": \"<id>\")",
            ),
        };
        refuse(cmd.instrument.as_deref().unwrap_or(""), body);
        return;
    };
    let topic = format!("{root}/{}/control", target.id);
    if let Err(e) = link.publish(&topic, QoS::AtLeastOnce, false, cmd.payload.clone(), None) {
        let body = ErrorBody::new(ErrorCode::Busy, format!("the gateway cannot send it: {e}"));
        refuse(&target.id, body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_split_into_instrument_and_relative_topic() {
        assert_eq!(
            split_topic("ohmpi", "ohmpi/t1/status"),
            Some(("t1", "status"))
        );
        assert_eq!(
            split_topic("lab/ohmpi", "lab/ohmpi/a/control/response/ws-x-1"),
            Some(("a", "control/response/ws-x-1"))
        );
        assert_eq!(split_topic("ohmpi", "ohmpix/t1/status"), None);
        assert_eq!(split_topic("ohmpi", "ohmpi/t1"), None);
        assert_eq!(split_topic("ohmpi", "ohmpi//status"), None);
    }

    #[test]
    fn instruments_are_found_from_their_status_and_commands_need_one() {
        let (tx, _rx) = mpsc::channel(4);
        let hub = Hub::with_client_tag(
            Mode::Gateway,
            HubLimits {
                queue: 16,
                max_frame: 1024,
            },
            tx,
            "ab",
        );
        on_message(&hub, "ohmpi", "ohmpi/t2/soh", br#"{"battery_v":12}"#);
        assert!(hub.instruments().is_empty(), "found from status only");
        on_message(&hub, "ohmpi", "ohmpi/t2/status", b"");
        assert!(hub.instruments().is_empty(), "not JSON");
        on_message(&hub, "ohmpi", "ohmpi/t2/status", br#"{"online":false}"#);
        on_message(&hub, "ohmpi", "ohmpi/t1/status", br#"{"online":true}"#);
        let ids: Vec<String> = hub.instruments().into_iter().map(|i| i.id).collect();
        assert_eq!(ids, ["t2", "t1"]);
        assert_eq!(hub.instruments()[0].prefix, "ohmpi/t2");
    }
}
