//! The broker: does it accept a connection with the configured address, credentials and TLS?
//!
//! The client options come from the daemon's own builder ([`crate::messaging::link`]), with a
//! client id of its own so that the running daemon is not disconnected. The attempt is bounded
//! in time and the connection is closed cleanly.

use std::time::Duration;

use rumqttc::{AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet};

use super::Check;
use crate::config::MqttConfig;
use crate::messaging::link;

const NAME: &str = "broker";

/// How the attempt ended.
#[derive(Debug)]
enum Outcome {
    Accepted,
    Refused(ConnectReturnCode),
    Failed(String),
    TimedOut,
}

/// Connects to the configured broker, waiting at most `timeout` for its CONNACK.
///
/// With no broker configured (`[mqtt]` without host or port), the default 127.0.0.1:1883 that
/// `ohmpi run` would use is tried, and its absence is a warning rather than a failure.
pub fn check_broker(cfg: &MqttConfig, timeout: Duration) -> Check {
    let client_id = format!("ohmpi-doctor-{}", std::process::id());
    let options = match link::options_as(cfg, &client_id, None) {
        Ok(o) => o,
        Err(e) => {
            return Check::fail(
                NAME,
                e.to_string(),
                "correct mqtt.password_file, mqtt.ca_file, mqtt.client_cert or mqtt.client_key",
            )
        }
    };
    verdict(cfg, connect(options, timeout), timeout)
}

fn connect(options: MqttOptions, timeout: Duration) -> Outcome {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Outcome::Failed(format!("cannot start the network runtime: {e}")),
    };
    let outcome = runtime.block_on(async move {
        let (client, mut eventloop) = AsyncClient::new(options, 4);
        let connack = tokio::time::timeout(timeout, async {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
            }
        })
        .await;
        match connack {
            Ok(Ok(())) => {
                // Say goodbye, so the broker logs a clean disconnection (bounded too).
                let _ = client.try_disconnect();
                let _ = tokio::time::timeout(Duration::from_millis(500), async {
                    while eventloop.poll().await.is_ok() {}
                })
                .await;
                Outcome::Accepted
            }
            Ok(Err(ConnectionError::ConnectionRefused(code))) => Outcome::Refused(code),
            Ok(Err(ConnectionError::Io(e))) => Outcome::Failed(e.to_string()),
            Ok(Err(e)) => Outcome::Failed(e.to_string()),
            Err(_) => Outcome::TimedOut,
        }
    });
    // A name lookup may still run on a blocking thread: do not wait for it.
    runtime.shutdown_background();
    outcome
}

fn verdict(cfg: &MqttConfig, outcome: Outcome, timeout: Duration) -> Check {
    let target = format!(
        "{}:{}{}",
        cfg.host,
        cfg.port,
        if cfg.tls.is_some() { " (TLS)" } else { "" }
    );
    let who = match &cfg.username {
        Some(user) => format!("as user {user}"),
        None => "anonymously".to_string(),
    };
    let default_note = if cfg.explicit_broker {
        ""
    } else {
        " (no [mqtt] host or port configured: the default)"
    };
    let unreachable = |detail: String| {
        if cfg.explicit_broker {
            let mut fix = "start the broker (systemctl status mosquitto) or correct mqtt.host and \
                           mqtt.port; check the network and firewall"
                .to_string();
            if cfg.tls.is_some() {
                fix.push_str("; with TLS, check that mqtt.ca_file signs the broker's certificate");
            }
            Check::fail(NAME, detail, fix)
        } else {
            Check::warn(
                NAME,
                format!("{detail}{default_note}"),
                "install a broker here (sudo apt-get install mosquitto) or set mqtt.host and \
                 mqtt.port; `ohmpi demo` runs its own",
            )
        }
    };
    match outcome {
        Outcome::Accepted => Check::ok(
            NAME,
            format!("{target} accepted the connection {who}{default_note}"),
        ),
        Outcome::Refused(
            code @ (ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized),
        ) => Check::fail(
            NAME,
            format!(
                "{target} refused the credentials ({who}): {}",
                refusal(code)
            ),
            "check mqtt.username and mqtt.password (or mqtt.password_file) against the broker's \
             accounts",
        ),
        Outcome::Refused(code) => Check::fail(
            NAME,
            format!("{target} refused the connection: {}", refusal(code)),
            "check the broker's configuration (listeners, access rules) and mqtt.client_id",
        ),
        Outcome::Failed(e) => unreachable(format!("cannot reach {target}: {e}")),
        Outcome::TimedOut => unreachable(format!(
            "no answer from {target} within {} s",
            timeout.as_secs_f64()
        )),
    }
}

fn refusal(code: ConnectReturnCode) -> &'static str {
    match code {
        ConnectReturnCode::Success => "accepted",
        ConnectReturnCode::RefusedProtocolVersion => "protocol version not supported",
        ConnectReturnCode::BadClientId => "client id rejected",
        ConnectReturnCode::ServiceUnavailable => "service unavailable",
        ConnectReturnCode::BadUserNamePassword => "bad user name or password",
        ConnectReturnCode::NotAuthorized => "not authorised",
    }
}

#[cfg(test)]
mod tests;
