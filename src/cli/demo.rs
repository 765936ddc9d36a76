//! `ohmpi demo`: everything on one machine with nothing installed — an embedded MQTT broker
//! (unless the configuration names one), the simulator on the real clock, and monitoring surveys
//! in a loop, with instructions to watch and to send commands.

use std::net::TcpListener;
use std::process::ExitCode;

use anyhow::{Context, Result};
use ohmpi::config::Config;
use ohmpi::hardware::sim::ClockKind;

/// The first free port from 1883.
fn free_port_from(start: u16) -> Option<u16> {
    (start..start.saturating_add(100)).find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
}

#[cfg(feature = "embedded-broker")]
fn start_broker(port: u16) -> Result<bool> {
    let text = format!(
        r#"id = 0
[router]
id = 0
max_connections = 1000
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10
[v4.1]
name = "v4-1"
listen = "127.0.0.1:{port}"
next_connection_delay_ms = 1
[v4.1.connections]
connection_timeout_ms = 60000
max_payload_size = 16777216
max_inflight_count = 500
dynamic_filters = true
"#
    );
    let config: rumqttd::Config = toml::from_str(&text).context("embedded broker settings")?;
    let thread = std::thread::Builder::new()
        .name("broker".into())
        .spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            if let Err(e) = broker.start() {
                tracing::error!("embedded broker stopped: {e}");
            }
        })
        .context("cannot start the embedded broker")?;
    // Wait (bounded) until it listens; if its thread ended, another process took the port.
    for _ in 0..200 {
        if thread.is_finished() {
            return Ok(false);
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            std::thread::sleep(std::time::Duration::from_millis(50));
            return Ok(!thread.is_finished());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    anyhow::bail!("the embedded broker does not listen on 127.0.0.1:{port}")
}

#[cfg(not(feature = "embedded-broker"))]
fn start_broker(_port: u16) -> Result<bool> {
    anyhow::bail!(
        "this build has no embedded broker (feature embedded-broker); name a broker in [mqtt] \
         host and port"
    )
}

/// A line on stdout; a closed stdout (the reader went away) is not an error for a daemon.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

pub fn run(mut config: Config, log_level: &str) -> Result<ExitCode> {
    config.hardware.simulate = true;
    config.sim.clock = ClockKind::Real;
    if !config.mqtt.explicit_broker {
        let mut from = 1883;
        let port = loop {
            let port = free_port_from(from).context("no free port from 1883 on 127.0.0.1")?;
            if start_broker(port)? {
                break port;
            }
            // Taken between the check and the broker's bind: the next one.
            from = port + 1;
        };
        config.mqtt.host = "127.0.0.1".into();
        config.mqtt.port = port;
    }
    let (host, port, prefix) = (
        config.mqtt.host.clone(),
        config.mqtt.port,
        config.mqtt.prefix.clone(),
    );
    say(&format!(
        "ohmpi demo: a simulated OhmPi measuring monitoring surveys, broker {host}:{port}"
    ));
    say("watch everything:");
    say(&format!(
        "  mosquitto_sub -h {host} -p {port} -i watcher -t '{prefix}/#' -v"
    ));
    say(&format!(
        "send a command (replies on {prefix}/control/response/me):"
    ));
    say(&format!(
        "  mosquitto_pub -h {host} -p {port} -i sender -t '{prefix}/control' -m \
         '{{\"cmd\": \"interrupt\", \"reply_to\": \"me\"}}'"
    ));
    say(&format!("or: ohmpi ctl --set mqtt.port={port} get_status"));
    if config.web.enabled {
        let ip = config.web.listen.ip();
        let from = config.web.listen.port();
        let port = (from..from.saturating_add(100))
            .find(|p| TcpListener::bind((ip, *p)).is_ok())
            .with_context(|| format!("no free port from {from} on {ip} for the dashboard"))?;
        config.web.listen.set_port(port);
        if config.web.tokens_file.is_none() {
            config.web.tokens_file = Some(config.instrument.data_dir.join("demo-tokens.toml"));
        }
        let path = config.tokens_file();
        let mut tokens = ohmpi::web::auth::TokenFile::read(&path)?;
        let (_, token) = tokens.add(
            ohmpi::web::Role::Operator,
            Some("demo".into()),
            None,
            std::time::SystemTime::now(),
        )?;
        tokens.write(&path)?;
        let scheme = if config.web.tls.is_some() {
            "https"
        } else {
            "http"
        };
        say(&format!(
            "dashboard: {scheme}://{}/?token={token}",
            config.web.listen
        ));
        say(&format!(
            "  (an operator token for this demo, kept in {}; ohmpi token list / revoke with \
             --set web.tokens_file=...)",
            path.display()
        ));
    }
    say("stop with Ctrl-C");
    let autostart = serde_json::json!({
        "cmd_id": "demo",
        "cmd": "run_multiple_sequences",
        "kwargs": {"nb_meas": 1_000_000, "sequence_delay": 60},
    })
    .to_string();
    super::daemon::run_with(config, log_level, Some(autostart))
}
