//! `ohmpi doctor`: the binary's report, its JSON and its exit status, against a real Mosquitto.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::mqtt::{free_port, Broker};
use serde_json::Value;

fn ohmpi(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ohmpi"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ohmpi")
}

/// Runs `ohmpi doctor --json` with `config` as the configuration file; returns the exit code
/// and the report. Never a panic, and stdout is one JSON object.
fn doctor(dir: &Path, config: &str, extra: &[&str]) -> (i32, Value) {
    let path = dir.join("ohmpi.toml");
    std::fs::write(&path, config).unwrap();
    let mut args = vec!["doctor", "--json", "--config", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = ohmpi(dir, &args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout.trim().lines().count(), 1, "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let code = o.status.code().expect("an exit code");
    assert_eq!(code == 0, report["ok"] == true, "{report}");
    (code, report)
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

/// A simulated instrument with its data in `dir` and the broker on `port`.
fn config(dir: &Path, port: u16, mqtt_extra: &str) -> String {
    format!(
        "[instrument]\ndata_dir = \"{}\"\n[hardware]\nsimulate = true\n\
         [mqtt]\nport = {port}\n{mqtt_extra}",
        dir.join("data").display()
    )
}

#[test]
fn doctor_json_on_the_simulator_with_a_broker_passes() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let (code, report) = doctor(dir.path(), &config(dir.path(), broker.port, ""), &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["ok"], true);
    if !ohmpi::config::running_on_raspberry_pi() {
        assert_eq!(report["raspberry_pi"], false);
    }
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for name in [
        "config", "platform", "preset", "i2c-1", "chips-1", "i2c-4", "chips-4", "supply",
        "data-dir", "broker", "clock", "realtime",
    ] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    for c in report["checks"].as_array().unwrap() {
        let status = c["status"].as_str().unwrap();
        assert!(["ok", "warn", "fail", "skip"].contains(&status), "{c}");
        assert!(!c["detail"].as_str().unwrap().is_empty(), "{c}");
        assert!(c.get("fix").is_some(), "{c}");
        if status == "warn" || status == "fail" {
            assert!(c["fix"].is_string(), "{c}");
        }
    }
    assert_eq!(check(&report, "platform")["status"], "ok");
    assert_eq!(check(&report, "i2c-1")["status"], "skip");
    assert_eq!(check(&report, "supply")["status"], "skip");
    let b = check(&report, "broker");
    assert_eq!(b["status"], "ok", "{b}");
    assert!(b["detail"]
        .as_str()
        .unwrap()
        .contains(&format!("127.0.0.1:{} accepted", broker.port)));
    assert!(
        !dir.path().join("data").exists(),
        "the check left a data directory"
    );
}

#[test]
fn doctor_with_no_configuration_file_runs_the_simulator_checks() {
    let dir = tempfile::tempdir().unwrap();
    let o = ohmpi(dir.path(), &["doctor", "--json"]);
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.success(), report["ok"] == true, "{report}");
    let c = check(&report, "config");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("no configuration file"),
        "{c}"
    );
    if !ohmpi::config::running_on_raspberry_pi() {
        assert_eq!(check(&report, "platform")["status"], "ok");
        assert_eq!(report["raspberry_pi"], false);
    }
    // No [mqtt] broker: the default is tried, its absence only a warning.
    assert_ne!(check(&report, "broker")["status"], "fail", "{report}");
}

#[test]
fn doctor_off_a_pi_with_real_boards_fails_and_says_why() {
    if ohmpi::config::running_on_raspberry_pi() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let cfg = config(dir.path(), broker.port, "");
    let (code, report) = doctor(dir.path(), &cfg, &["--set", "hardware.simulate=false"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["raspberry_pi"], false);
    let p = check(&report, "platform");
    assert_eq!(p["status"], "fail", "{p}");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("not a Raspberry Pi"), "{detail}");
    assert!(detail.contains("hardware.simulate = true"), "{detail}");
    assert!(p["fix"]
        .as_str()
        .unwrap()
        .contains("hardware.simulate = true"));
    for name in ["i2c-1", "chips-1", "i2c-4", "chips-4", "supply"] {
        let c = check(&report, name);
        assert_eq!(c["status"], "skip", "{c}");
        assert!(
            c["detail"]
                .as_str()
                .unwrap()
                .ends_with("not a Raspberry Pi"),
            "{c}"
        );
    }

    // The same for a person: a marker per line, the fix under the failure.
    let o = ohmpi(
        dir.path(),
        &[
            "doctor",
            "--config",
            dir.path().join("ohmpi.toml").to_str().unwrap(),
            "--set",
            "hardware.simulate=false",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("[FAIL] platform"), "{text}");
    assert!(text.contains("fix: set hardware.simulate = true"), "{text}");
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("not ready: 1 failure"),
        "{text}"
    );
}

#[test]
fn doctor_with_the_linux_backend_opens_the_boards_and_names_the_missing_bus() {
    if std::path::Path::new("/dev/i2c-1").exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let cfg = config(dir.path(), broker.port, "");
    let (code, report) = doctor(
        dir.path(),
        &cfg,
        &[
            "--set",
            "hardware.simulate=false",
            "--set",
            "hardware.backend=\"linux\"",
        ],
    );
    assert_eq!(code, 1, "{report}");
    // The kernel's devices need no Raspberry Pi; the boards check tries them.
    assert_eq!(check(&report, "platform")["status"], "ok", "{report}");
    let b = check(&report, "boards");
    assert_eq!(b["status"], "fail", "{b}");
    let detail = b["detail"].as_str().unwrap();
    assert!(detail.contains("/dev/i2c-1"), "{detail}");
    assert!(detail.contains("i2c_arm=on"), "{detail}");
    assert!(b["fix"].as_str().unwrap().contains("cabling"), "{b}");
}

#[test]
fn doctor_broker_on_a_closed_port_fails_in_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let start = Instant::now();
    let (code, report) = doctor(dir.path(), &config(dir.path(), port, ""), &[]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(code, 1, "{report}");
    let b = check(&report, "broker");
    assert_eq!(b["status"], "fail", "{b}");
    let detail = b["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(&format!("cannot reach 127.0.0.1:{port}")),
        "{detail}"
    );
    assert!(b["fix"].as_str().unwrap().contains("mqtt.port"));
}

#[test]
fn doctor_broker_refusing_the_credentials_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let passwords = dir.path().join("passwords");
    let made = Command::new("mosquitto_passwd")
        .args(["-c", "-b", passwords.to_str().unwrap(), "ohmpi", "right"])
        .status()
        .expect("mosquitto_passwd (apt-get install mosquitto)");
    assert!(made.success());
    let access = format!(
        "allow_anonymous false\npassword_file {}\n",
        passwords.display()
    );
    let broker = Broker::start_with(dir.path(), &access);
    let wrong = config(
        dir.path(),
        broker.port,
        "username = \"ohmpi\"\npassword = \"wrong\"\n",
    );
    let (code, report) = doctor(dir.path(), &wrong, &[]);
    assert_eq!(code, 1, "{report}");
    let b = check(&report, "broker");
    assert_eq!(b["status"], "fail", "{b}");
    assert!(b["detail"]
        .as_str()
        .unwrap()
        .contains("refused the credentials (as user ohmpi)"));

    let right = config(
        dir.path(),
        broker.port,
        "username = \"ohmpi\"\npassword = \"right\"\n",
    );
    let (_, report) = doctor(dir.path(), &right, &[]);
    assert_eq!(check(&report, "broker")["status"], "ok", "{report}");
}
