//! The example broker set-up (systemd/mosquitto-ohmpi.conf and .acl) on a real Mosquitto: the
//! daemon publishes under its own prefix, a dashboard reads but cannot command, an operator
//! commands, an anonymous client is refused.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::mqtt::{free_port, Daemon};
use rumqttc::{Client, ConnectReturnCode, Event, MqttOptions, Packet, QoS};

/// The example configuration, made to run in `dir` on a free loopback port (no websockets
/// listener: the test listens on loopback only).
fn broker_config(dir: &Path, port: u16) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    let conf = std::fs::read_to_string(root.join("mosquitto-ohmpi.conf")).unwrap();
    std::fs::copy(root.join("mosquitto-ohmpi.acl"), dir.join("ohmpi.acl")).unwrap();
    let mut out = String::new();
    let mut skip_websockets = false;
    for line in conf.lines() {
        let line = line.trim();
        let new = match line.split_whitespace().next() {
            Some("password_file") => format!("password_file {}", dir.join("passwd").display()),
            Some("acl_file") => format!("acl_file {}", dir.join("ohmpi.acl").display()),
            Some("persistence_location") => {
                format!("persistence_location {}/", dir.display())
            }
            Some("listener") if line.contains("1883") => format!("listener {port} 127.0.0.1"),
            Some("listener") => {
                skip_websockets = true;
                continue;
            }
            Some("protocol") if skip_websockets => continue,
            _ => line.to_string(),
        };
        out.push_str(&new);
        out.push('\n');
    }
    out
}

fn passwd(dir: &Path, user: &str, password: &str) {
    let file = dir.join("passwd");
    let mut cmd = Command::new("mosquitto_passwd");
    if !file.exists() {
        cmd.arg("-c");
    }
    let ok = cmd
        .args(["-b", file.to_str().unwrap(), user, password])
        .status()
        .expect("mosquitto_passwd (package mosquitto)")
        .success();
    assert!(ok);
}

/// A client with credentials; returns it, its messages and the CONNACK code.
fn connect(
    port: u16,
    id: &str,
    user: Option<(&str, &str)>,
    filters: &[&str],
) -> (Client, mpsc::Receiver<(String, String)>, ConnectReturnCode) {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(5));
    if let Some((u, p)) = user {
        o.set_credentials(u, p);
    }
    let (client, mut conn) = Client::new(o, 64);
    let (tx, rx) = mpsc::channel();
    let (ack_tx, ack_rx) = mpsc::channel();
    let sub = client.clone();
    let filters: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
    std::thread::spawn(move || {
        for ev in conn.iter() {
            match ev {
                Ok(Event::Incoming(Packet::ConnAck(a))) => {
                    let _ = ack_tx.send(a.code);
                    for f in &filters {
                        let _ = sub.try_subscribe(f.as_str(), QoS::AtLeastOnce);
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let m = (p.topic, String::from_utf8_lossy(&p.payload).into_owned());
                    if tx.send(m).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(rumqttc::ConnectionError::ConnectionRefused(code)) => {
                    let _ = ack_tx.send(code);
                    return;
                }
                Err(_) => return,
            }
        }
    });
    let code = ack_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("no CONNACK");
    (client, rx, code)
}

/// Messages received until `until` whose topic and payload satisfy `f`.
fn seen(
    rx: &mpsc::Receiver<(String, String)>,
    until: Instant,
    f: impl Fn(&str, &str) -> bool,
) -> usize {
    let mut n = 0;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        if let Ok((t, p)) = rx.recv_timeout(left) {
            if f(&t, &p) {
                n += 1;
            }
        }
    }
    n
}

/// Whether a message satisfying `f` arrives before `until`.
fn arrives(
    rx: &mpsc::Receiver<(String, String)>,
    until: Instant,
    f: impl Fn(&str, &str) -> bool,
) -> bool {
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok((t, p)) if f(&t, &p) => return true,
            _ => {}
        }
    }
    false
}

#[test]
fn the_example_broker_set_up_keeps_dashboards_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    passwd(d, "t1", "instrument-secret");
    passwd(d, "dashboard", "look");
    passwd(d, "operator", "run");
    let conf = d.join("mosquitto.conf");
    std::fs::write(&conf, broker_config(d, port)).unwrap();
    let mut broker = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto");
    common::mqtt::wait_for_port(port);

    std::fs::write(d.join("mqtt-password"), "instrument-secret\n").unwrap();
    let extra = format!(
        "username = \"t1\"\npassword_file = \"{}\"\n",
        d.join("mqtt-password").display()
    );
    let _daemon = Daemon::start(d, port, &extra);

    let (_, anon_rx, code) = connect(port, "anon", None, &["ohmpi/#"]);
    assert_ne!(
        code,
        ConnectReturnCode::Success,
        "anonymous clients are refused"
    );
    drop(anon_rx);

    let (dash, dash_rx, code) = connect(port, "dash", Some(("dashboard", "look")), &["ohmpi/t1/#"]);
    assert_eq!(code, ConnectReturnCode::Success);
    let (op, op_rx, code) = connect(
        port,
        "op",
        Some(("operator", "run")),
        &["ohmpi/t1/status", "ohmpi/t1/control/response/#"],
    );
    assert_eq!(code, ConnectReturnCode::Success);
    // The dashboard sees the daemon's retained status.
    let status = arrives(
        &dash_rx,
        Instant::now() + Duration::from_secs(15),
        |t, p| t == "ohmpi/t1/status" && p.contains("\"online\":true"),
    );
    assert!(status, "the dashboard reads the instrument's status");

    // A dashboard's command never reaches the instrument: no reply comes.
    let command =
        |id: &str| format!(r#"{{"cmd_id": "{id}", "cmd": "get_status", "reply_to": "acl-test"}}"#);
    dash.publish(
        "ohmpi/t1/control",
        QoS::AtLeastOnce,
        false,
        command("from-dashboard"),
    )
    .unwrap();
    let replies = seen(&op_rx, Instant::now() + Duration::from_secs(3), |t, p| {
        t.starts_with("ohmpi/t1/control/response/") && p.contains("from-dashboard")
    });
    assert_eq!(replies, 0, "the broker let a dashboard's command through");

    // An operator's does, and the operator reads the reply.
    op.publish(
        "ohmpi/t1/control",
        QoS::AtLeastOnce,
        false,
        command("from-operator"),
    )
    .unwrap();
    let replied = arrives(&op_rx, Instant::now() + Duration::from_secs(10), |t, p| {
        t == "ohmpi/t1/control/response/acl-test" && p.contains("from-operator")
    });
    assert!(replied, "the operator's command got no reply");

    let _ = broker.kill();
    let _ = broker.wait();
}
