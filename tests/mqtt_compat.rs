//! A client that speaks only the OhmPi Python controller's dialect.

mod common;

use std::time::Duration;

use common::mqtt::{Broker, Client_, Daemon, Msg};
use serde_json::{json, Value};

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// The JSON body of an OhmPi data line: what follows `INFO:`.
fn body(m: &Msg) -> Value {
    let (_, json) = m
        .payload
        .split_once("INFO: ")
        .unwrap_or_else(|| panic!("not an OhmPi log line: {}", m.payload));
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

#[test]
fn the_ohmpi_dialect_runs_a_monitoring_session() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let _daemon = Daemon::start(dir.path(), broker.port, "ohmpi_compat = true\n");
    let mut c = Client_::connect(
        broker.port,
        "ohmpi-page",
        &["ohmpi_t1/#", "ohmpi/t1/status"],
    );
    c.wait_for("online", SECS(20), |m| {
        m.topic == "ohmpi/t1/status" && m.json()["online"] == true
    });
    let ctrl = "ohmpi_t1/ctrl";
    let data = "ohmpi_t1/data";

    // As OhmPi's page sends it: settings with an inline sequence and n_stacks.
    let sequence = [[1, 4, 2, 3], [2, 5, 3, 4], [3, 6, 4, 5]];
    c.publish(
        ctrl,
        json!({"cmd_id": "u1", "cmd": "update_settings",
        "kwargs": {"settings": {"sequence": sequence, "n_stacks": 1, "nb_meas": 2,
                                "sequence_delay": 0, "injection_duration": 0.05}}})
        .to_string(),
    );
    c.publish(
        ctrl,
        json!({"cmd_id": "r1", "cmd": "run_multiple_sequences"}).to_string(),
    );
    let idle = c.wait_for("idle", SECS(60), |m| {
        m.topic == data && body(m)["status"] == "idle"
    });
    assert!(
        idle.payload.contains(" UTC | ") && idle.payload.contains(" | INFO: "),
        "{}",
        idle.payload
    );
    let records: Vec<Value> = c
        .on(data)
        .iter()
        .map(|m| body(m))
        .filter(|b| b.get("vmn_[mV]").is_some())
        .collect();
    assert_eq!(records.len(), 6, "3 quadrupoles x 2 surveys");
    for r in &records {
        for key in [
            "time",
            "a",
            "b",
            "m",
            "n",
            "injection_duration_[ms]",
            "vmn_[mV]",
            "vmn_std_[%]",
            "iab_[mA]",
            "iab_std_[%]",
            "r_[Ohm]",
            "r_std_[%]",
            "rab_[kOhm]",
            "sp_[mV]",
            "n_stacks",
            "vab_[V]",
            "channel_mn",
            "injection_id",
            "battery_voltage_tx_[V]",
            "s_samples",
            "strategy",
            "cmd_id",
        ] {
            assert!(r.get(key).is_some(), "no {key} in {r}");
        }
    }

    // get_data: every survey but the ones the page holds, arrays of equal length.
    c.publish(
        ctrl,
        json!({"cmd_id": "g1", "cmd": "get_data", "kwargs": {"survey_names": []}}).to_string(),
    );
    let reply = c.wait_for("get_data", SECS(10), |m| {
        m.topic == data && body(m)["cmd_id"] == "g1" && body(m).get("data").is_some()
    });
    let surveys = body(&reply)["data"].as_object().unwrap().clone();
    assert_eq!(surveys.len(), 2, "{surveys:?}");
    let mut names: Vec<&String> = surveys.keys().collect();
    names.sort();
    for s in surveys.values() {
        let n = s["a"].as_array().unwrap().len();
        assert_eq!(n, 3);
        for k in ["b", "m", "n", "v", "i", "r", "dev"] {
            assert_eq!(s[k].as_array().unwrap().len(), n, "{k}");
        }
    }
    c.publish(
        ctrl,
        json!({"cmd_id": "g2", "cmd": "get_data", "kwargs": {"survey_names": [names[0]]}})
            .to_string(),
    );
    let reply = c.wait_for("get_data 2", SECS(10), |m| {
        m.topic == data && body(m)["cmd_id"] == "g2" && body(m).get("data").is_some()
    });
    let left: Vec<String> = body(&reply)["data"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(left, [names[1].clone()]);

    // rs_check: one rsdata per pair.
    c.publish(ctrl, json!({"cmd_id": "rs", "cmd": "rs_check"}).to_string());
    c.wait_for("rs idle", SECS(60), |m| {
        m.topic == data && body(m)["status"] == "idle" && body(m)["cmd_id"] == "rs"
    });
    let rs: Vec<Value> = c
        .on(data)
        .iter()
        .map(|m| body(m))
        .filter(|b| b.get("rsdata").is_some())
        .collect();
    assert_eq!(rs.len(), 31);
    assert!(rs[0]["rsdata"]["A"].is_number() && rs[0]["rsdata"]["rs"].is_number());

    // interrupt during a run ends with {"status": "idle"}.
    c.publish(
        ctrl,
        json!({"cmd_id": "r2", "cmd": "run_multiple_sequences", "kwargs": {"nb_meas": 50}})
            .to_string(),
    );
    c.wait_for("running", SECS(10), |m| {
        m.topic == data && body(m).get("vmn_[mV]").is_some() && body(m)["cmd_id"] == "r2"
    });
    c.publish(
        ctrl,
        json!({"cmd_id": "i1", "cmd": "interrupt"}).to_string(),
    );
    c.wait_for("idle after interrupt", SECS(10), |m| {
        m.topic == data && body(m)["status"] == "idle" && body(m)["cmd_id"] == "r2"
    });
}
