//! The daemon reaches a broker over TLS with a password file; load_sequence stays in its folder.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::certs::{make_certificates, run};
use common::mqtt::{free_port, Client_, Daemon};
use serde_json::json;

const SECS: fn(u64) -> Duration = Duration::from_secs;

struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn tls_and_credentials_from_a_password_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_certificates(d);
    run(
        d,
        "mosquitto_passwd",
        &["-c", "-b", "passwd", "rig", "s3cret"],
    );
    std::fs::write(d.join("mqtt-password"), "s3cret\n").unwrap();
    let (plain, tls) = (free_port(), free_port());
    std::fs::write(
        d.join("mosquitto.conf"),
        format!(
            "user root\nper_listener_settings true\n\
             listener {plain} 127.0.0.1\nallow_anonymous true\n\
             listener {tls} 127.0.0.1\nallow_anonymous false\npassword_file {p}\n\
             cafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n",
            p = d.join("passwd").display(),
            d = d.display()
        ),
    )
    .unwrap();
    let _broker = Broker(
        Command::new("mosquitto")
            .arg("-c")
            .arg(d.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(500));
    let mut c = Client_::connect(plain, "watcher", &["ohmpi/t1/#"]);
    let extra = format!(
        "tls = true\nca_file = \"{d}/ca.pem\"\nusername = \"rig\"\npassword_file = \"{d}/mqtt-password\"\n",
        d = d.display()
    );
    // The daemon's [mqtt] port is the TLS listener.
    let mut daemon = Daemon::start(d, tls, &extra);
    c.wait_for("online over TLS", SECS(20), |m| {
        m.topic == "ohmpi/t1/status" && m.json()["online"] == true
    });
    daemon.stop();

    // A wrong password: refused, and said so.
    std::fs::write(d.join("mqtt-password"), "wrong\n").unwrap();
    let mut daemon = Daemon::start(d, tls, &extra);
    std::thread::sleep(SECS(3));
    daemon.stop();
    assert!(daemon.log().contains("refused"), "{}", daemon.log());
}

#[test]
fn load_sequence_reads_only_inside_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let broker = common::mqtt::Broker::start(d);
    let seqs = d.join("seqs");
    std::fs::create_dir(&seqs).unwrap();
    std::fs::write(
        seqs.join("four.txt"),
        "1 4 2 3\n2 5 3 4\n3 6 4 5\n4 7 5 6\n",
    )
    .unwrap();
    std::fs::write(d.join("outside.txt"), "1 4 2 3\n").unwrap();
    std::os::unix::fs::symlink(d.join("outside.txt"), seqs.join("link.txt")).unwrap();
    let extra = format!("[control]\nsequences_dir = \"{}\"\n", seqs.display());
    let _daemon = Daemon::start(d, broker.port, &extra);
    let mut c = Client_::connect(broker.port, "seq", &["ohmpi/t1/#"]);
    c.wait_for("online", SECS(20), |m| {
        m.topic == "ohmpi/t1/status" && m.json()["online"] == true
    });
    for (id, name) in [
        ("ok", "four.txt"),
        ("link", "link.txt"),
        ("up", "../outside.txt"),
    ] {
        c.publish(
            "ohmpi/t1/control",
            json!({"cmd_id": id, "cmd": "load_sequence", "kwargs": {"filename": name}}).to_string(),
        );
    }
    let ok = c.wait_for("loaded", SECS(10), |m| {
        m.topic.contains("/response/") && m.json()["cmd_id"] == "ok"
    });
    assert_eq!(ok.json()["result"]["quadrupoles"], 4, "{}", ok.payload);
    for id in ["link", "up"] {
        let r = c.wait_for(id, SECS(10), |m| {
            m.topic.contains("/response/") && m.json()["cmd_id"] == id
        });
        assert_eq!(r.json()["status"], "error", "{}", r.payload);
        assert_eq!(r.json()["error"]["field"], "filename");
    }
}
