//! The daemon driven over MQTT, against a real Mosquitto on a free loopback port.

mod common;

use std::time::Duration;

use common::mqtt::{command, reply_for, Broker, Client_, Daemon, Msg};
use serde_json::{json, Value};

const P: &str = "ohmpi/t1";
const SECS: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn a_survey_driven_over_mqtt() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let _daemon = Daemon::start(dir.path(), broker.port, "");
    let mut c = Client_::connect(broker.port, "test-1", &[&format!("{P}/#")]);
    c.wait_for("online status", SECS(20), |m| {
        m.topic == format!("{P}/status") && m.json()["online"] == true
    });
    let sequence: Vec<[u16; 4]> = (1..=6).map(|e| [e, e + 3, e + 1, e + 2]).collect();
    command(
        &c,
        json!({"cmd_id": "s1", "cmd": "run_sequence", "reply_to": "tester",
               "kwargs": {"sequence": sequence, "nb_stack": 1}}),
    );
    let accepted = c.wait_for("accepted", SECS(10), reply_for("s1", "accepted"));
    assert_eq!(accepted.topic, format!("{P}/control/response/tester"));
    let done = c.wait_for("done", SECS(60), reply_for("s1", "done"));
    let result = &done.json()["result"];
    assert_eq!(result["records"], 6);
    assert_eq!(result["interrupted"], false);
    c.drain(Duration::from_millis(500));

    let data: Vec<Value> = c
        .on(&format!("{P}/data"))
        .iter()
        .map(|m| m.json())
        .collect();
    assert_eq!(data.len(), 6, "one data message per quadrupole");
    let survey = result["survey"].as_str().unwrap().to_string();
    for (i, d) in data.iter().enumerate() {
        for key in [
            "seq",
            "survey",
            "time",
            "a",
            "b",
            "m",
            "n",
            "injection_ms",
            "duty_cycle",
            "n_stacks",
            "strategy",
            "vab_v",
            "vmn_mv",
            "vmn_std_pct",
            "iab_ma",
            "iab_std_pct",
            "r_ohm",
            "r_std_pct",
            "rab_kohm",
            "sp_mv",
            "k_m",
            "rhoa_ohmm",
            "samples",
            "dropped_samples",
            "quality",
            "cmd_id",
        ] {
            assert!(d.get(key).is_some(), "record without {key}: {d}");
        }
        assert_eq!(d["a"], sequence[i][0]);
        assert_eq!(d["cmd_id"], "s1");
        assert_eq!(d["survey"], survey.as_str());
        assert!((d["rhoa_ohmm"].as_f64().unwrap() - 100.0).abs() < 0.1);
        assert!(
            d["quality"]
                .as_array()
                .unwrap()
                .contains(&json!("simulated")),
            "{d}"
        );
    }
    let states: Vec<String> = c
        .on(&format!("{P}/status"))
        .iter()
        .map(|m| m.json()["state"].as_str().unwrap_or("").to_string())
        .collect();
    let first_running = states.iter().position(|s| s == "running").expect("running");
    assert!(
        states[..first_running].contains(&"idle".to_string()),
        "{states:?}"
    );
    assert_eq!(
        states.last().map(String::as_str),
        Some("idle"),
        "{states:?}"
    );

    // State of health: retained and refreshed every second.
    let soh: Vec<&Msg> = c.on(&format!("{P}/soh"));
    assert!(soh.len() >= 2, "{} soh messages", soh.len());
    let s = soh.last().unwrap().json();
    for key in [
        "time",
        "uptime_s",
        "state",
        "broker",
        "outbox_depth",
        "dropped_samples",
        "bus_errors",
        "disk_free_mb",
    ] {
        assert!(s.get(key).is_some(), "soh without {key}: {s}");
    }
    let late = Client_::connect(
        broker.port,
        "late",
        &[&format!("{P}/soh"), &format!("{P}/status")],
    );
    let mut late = late;
    let retained = late.wait_for("retained soh", SECS(5), |m| m.topic.ends_with("/soh"));
    assert!(retained.retain);
}

#[test]
fn malformed_commands_get_errors_and_measuring_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let _daemon = Daemon::start(dir.path(), broker.port, "");
    let mut c = Client_::connect(broker.port, "test-2", &[&format!("{P}/#")]);
    c.wait_for("online", SECS(20), |m| {
        m.topic == format!("{P}/status") && m.json()["online"] == true
    });
    command(
        &c,
        json!({"cmd_id": "long", "cmd": "run_multiple_sequences", "kwargs": {"nb_meas": 2}}),
    );
    c.wait_for("accepted", SECS(10), reply_for("long", "accepted"));

    let control = format!("{P}/control");
    let cases: Vec<(Vec<u8>, &str, Option<&str>)> = vec![
        (b"this is not json".to_vec(), "bad_json", None),
        (json!({"cmd_id": "t", "cmd": 42}).to_string().into_bytes(), "invalid_argument", Some("cmd")),
        (json!({"cmd_id": "u", "cmd": "make_coffee"}).to_string().into_bytes(), "unknown_command", None),
        (json!({"cmd_id": "k", "cmd": "set_sequence", "kwargs": {"sequence": [[1,4,2,3]], "colour": 1}}).to_string().into_bytes(), "invalid_argument", Some("colour")),
        (json!({"cmd_id": "q", "cmd": "set_sequence", "kwargs": {"sequence": [[1,1,2,3]]}}).to_string().into_bytes(), "invalid_argument", Some("sequence")),
        (json!({"cmd_id": "p", "cmd": "load_sequence", "kwargs": {"filename": "../../etc/passwd"}}).to_string().into_bytes(), "invalid_argument", Some("filename")),
        (json!({"cmd_id": "b", "cmd": "run_sequence"}).to_string().into_bytes(), "busy", None),
        (json!({"cmd_id": "x", "cmd": "shutdown"}).to_string().into_bytes(), "busy", None),
    ];
    for (payload, _, _) in &cases {
        c.publish(&control, payload.clone());
    }
    // 10 MiB.
    c.publish(&control, vec![b'x'; 10 << 20]);
    for (payload, code, field) in &cases {
        let m = c.wait_for(code, SECS(10), |m| {
            m.topic.contains("/control/response/")
                && m.json()["status"] == "error"
                && m.json()["error"]["code"] == *code
                && field.is_none_or(|f| m.json()["error"]["field"] == f)
        });
        let msg = m.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(!msg.is_empty(), "{}", String::from_utf8_lossy(payload));
    }
    c.wait_for("oversize refused", SECS(10), |m| {
        m.topic.contains("/control/response/")
            && m.json()["error"]["code"] == "invalid_argument"
            && m.json()["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("bytes")
    });
    // Still measuring, and still obeying.
    let data = format!("{P}/data");
    let before = c.on(&data).len();
    c.drain(SECS(2));
    assert!(c.on(&data).len() > before, "measuring goes on");
    command(&c, json!({"cmd_id": "stop", "cmd": "interrupt"}));
    c.wait_for("interrupt done", SECS(10), reply_for("stop", "done"));
    let end = c.wait_for("run ends", SECS(10), reply_for("long", "done"));
    assert_eq!(end.json()["result"]["interrupted"], true);
}

#[test]
fn waveforms_are_published_when_asked_and_soh_knows_the_battery() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let _daemon = Daemon::start(dir.path(), broker.port, "waveform = true\n");
    let mut c = Client_::connect(broker.port, "test-3", &[&format!("{P}/#")]);
    c.wait_for("online", SECS(20), |m| {
        m.topic == format!("{P}/status") && m.json()["online"] == true
    });
    command(
        &c,
        json!({"cmd_id": "w", "cmd": "run_measurement", "kwargs": {"quad": [1, 4, 2, 3]}}),
    );
    let done = c.wait_for("done", SECS(20), reply_for("w", "done"));
    let seq = done.json()["result"]["record"]["seq"].clone();
    let wf = c
        .wait_for("waveform", SECS(5), |m| {
            m.topic == format!("{P}/data/waveform")
        })
        .json();
    assert_eq!(wf["seq"], seq);
    assert_eq!((wf["a"].clone(), wf["n"].clone()), (json!(1), json!(3)));
    // 0.05 s on and 0.05 s off per pulse, two pulses, at 860 SPS: 4 x 43 deadlines, each a
    // sample in the waveform or a dropped sample in the record (a busy machine misses some).
    let n = wf["t_s"].as_array().unwrap().len();
    let dropped = done.json()["result"]["record"]["dropped_samples"]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(n + dropped, 172, "{n} samples, {dropped} dropped");
    assert!(n > 86, "{n} samples");
    for k in ["iab_ma", "vmn_mv", "polarity", "pulse"] {
        assert_eq!(wf[k].as_array().unwrap().len(), n, "{k}");
    }
    let soh = c.wait_for("soh with battery", SECS(10), |m| {
        m.topic == format!("{P}/soh") && m.json()["battery_v"] == 12.0
    });
    assert_eq!(soh.json()["simulated"], true);
}

#[test]
fn the_test_command_runs_the_board_self_tests() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let _daemon = Daemon::start(dir.path(), broker.port, "");
    let mut c = Client_::connect(broker.port, "test-selftest", &[&format!("{P}/#")]);
    c.wait_for("online", SECS(20), |m| {
        m.topic == format!("{P}/status") && m.json()["online"] == true
    });
    command(&c, json!({"cmd_id": "t1", "cmd": "test"}));
    c.wait_for("accepted", SECS(10), reply_for("t1", "accepted"));
    let done = c.wait_for("done", SECS(30), reply_for("t1", "done"));
    let result = &done.json()["result"];
    assert_eq!(result["passed"], true, "{result}");
    let tests = result["tests"].as_array().unwrap();
    let names: Vec<&str> = tests.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["relays", "vmn_offset", "iab_offset", "supply"]);
    for t in tests {
        assert_eq!(t["passed"], true, "{t}");
        assert!(t["value"].is_number(), "{t}");
    }
    // The battery's 12 V, as the supply reports it.
    assert_eq!(tests[3]["value"], 12.0);

    command(
        &c,
        json!({"cmd_id": "t2", "cmd": "test", "kwargs": {"test_names": ["vmn_offset"]}}),
    );
    let done = c.wait_for("one test", SECS(30), reply_for("t2", "done"));
    assert_eq!(done.json()["result"]["tests"].as_array().unwrap().len(), 1);

    command(
        &c,
        json!({"cmd_id": "t3", "cmd": "test", "kwargs": {"test_names": ["smoke"]}}),
    );
    let err = c.wait_for("unknown test", SECS(10), reply_for("t3", "error"));
    let e = &err.json()["error"];
    assert_eq!(e["code"], "invalid_argument");
    assert_eq!(e["field"], "test_names");
    assert!(e["message"].as_str().unwrap().contains("smoke"), "{e}");
}
