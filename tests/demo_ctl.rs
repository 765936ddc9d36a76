//! `ohmpi demo` (embedded broker) and `ohmpi ctl` end to end.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::mqtt::Client_;

struct Demo(std::process::Child, std::path::PathBuf);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if std::thread::panicking() {
            eprintln!(
                "demo log:\n{}",
                std::fs::read_to_string(&self.1).unwrap_or_default()
            );
        }
    }
}

fn ctl(dir: &std::path::Path, port: u16, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ohmpi"))
        .current_dir(dir)
        .arg("ctl")
        .args(args)
        .args(["--set", &format!("mqtt.port={port}")])
        .output()
        .unwrap()
}

#[test]
fn the_demo_measures_over_its_own_broker_and_ctl_drives_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ohmpi"))
        .current_dir(dir.path())
        .args([
            "demo",
            "--set",
            "acquisition.rt_priority=0",
            "--set",
            "acquisition.injection_duration=0.05",
            "--set",
            "hardware.system=mb_2024_1_X__4_mux_2024_batt",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("demo.log")).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let demo = Demo(child, dir.path().join("demo.log"));
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    // The dashboard's address and an operator token for it.
    let url = lines
        .by_ref()
        .take(20)
        .map(|l| l.unwrap())
        .find_map(|l| l.strip_prefix("dashboard: ").map(str::to_string))
        .expect("the demo prints the dashboard's address");
    let ws_url = url
        .replace("http://", "ws://")
        .replace("/?token=", "/ws?token=");
    // The daemon starts serving a moment after the demo prints the address.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut ws = loop {
        match tokio_tungstenite::tungstenite::connect(ws_url.as_str()) {
            Ok((ws, _)) => break ws,
            Err(e) => assert!(std::time::Instant::now() < deadline, "{ws_url}: {e}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let hello: serde_json::Value =
        serde_json::from_str(ws.read().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["role"], "operator");
    drop(ws);
    // Keep reading what the demo prints, as a terminal would.
    std::thread::spawn(move || for _ in lines {});
    let port: u16 = first.rsplit(':').next().unwrap().trim().parse().unwrap();
    let mut c = Client_::connect(port, "demo-test", &["ohmpi/0001/#"]);
    c.wait_for("a record", Duration::from_secs(60), |m| {
        m.topic == "ohmpi/0001/data"
    });

    let o = ctl(dir.path(), port, &["get_status"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let reply: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(reply["status"], "done");
    assert_eq!(reply["result"]["state"], "running");

    let o = ctl(dir.path(), port, &["make_coffee"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("make_coffee"));

    let o = ctl(dir.path(), port, &["interrupt"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    c.wait_for("monitoring interrupted", Duration::from_secs(10), |m| {
        m.topic.contains("/control/response/")
            && m.json()["cmd_id"] == "demo"
            && m.json()["result"]["interrupted"] == true
    });

    let o = ctl(
        dir.path(),
        port,
        &[
            "run_measurement",
            "quad=[1,4,2,3]",
            "--watch",
            "--timeout",
            "60",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let reply: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(reply["status"], "done");
    assert!((reply["result"]["record"]["rhoa_ohmm"].as_f64().unwrap() - 100.0).abs() < 5.0);
    drop(demo);
}
