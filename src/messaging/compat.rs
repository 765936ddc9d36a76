//! The OhmPi compatibility dialect: the topics, payload framing and message bodies of the OhmPi
//! Python controller (v2024.1), so that its web page, Node-RED flows and scripts keep working
//! against this daemon (protocol.md, "OhmPi compatibility dialect").
//!
//! This module owns the shape of every message of the dialect and nothing else: it builds
//! strings and JSON values, and reads survey files for `get_data` replies ([`get_data_reply`]).
//! It never publishes, never touches the engine, and never writes a file.
//!
//! # What OhmPi does, and what its web page needs
//! OhmPi publishes Python log lines: its formatter is
//! `'%(asctime)-15s | %(process)d | %(levelname)s: %(message)s'` with
//! `datefmt = '%Y-%m-%d %H:%M:%S UTC'` and `gmtime` (ohmpi/logging_setup.py), so a data message
//! reads `2024-05-01 12:00:00 UTC | 1234 | INFO: {...}`. Its web page (index.html) handles a
//! message on `<topic>/data` with
//! `JSON.parse(payload.split('INFO:')[1].replace(/'/g, '"'))`, after replacing the words `NaN`
//! and `nan` by `null`. So the body must hold no `INFO:`, no `'` and no word `nan`/`NaN`
//! anywhere, strings included: [`page_safe_json`] escapes them inside JSON strings (`\u0027`,
//! `INFO\u003a`, `n\u0061n`), which leaves valid JSON that decodes to the same value.
//!
//! Every data body goes through the page's `processData` unless it holds `rsdata` (contact
//! check), `download` or `inversion`: it shows `"Status: " + status` (`"running..."` when the
//! key is absent), calls `status.includes(...)` (so `status`, when present, must be a string),
//! and merges `data` into the surveys it holds.

mod get_data;

use std::time::SystemTime;

use serde_json::{json, Value};

use crate::acquisition::Contact;
use crate::survey::{Electrode, Record};
use crate::timestamp::Utc;

pub use get_data::{
    get_data_reply, survey_files, SurveyFile, FW_SAMPLE_BUDGET, STATUS_DATA_DONE,
    STATUS_FULL_DATA_DONE,
};

/// The topics of the dialect for one instrument (`ohmpi_<id>/...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompatTopics {
    /// Commands in (same JSON as the native `control` topic).
    pub ctrl: String,
    /// Log lines out.
    pub exec: String,
    /// Records, replies and status bodies out.
    pub data: String,
    /// State of health out.
    pub soh: String,
}

impl CompatTopics {
    /// The topics OhmPi uses for `instrument_id` (`0001` gives `ohmpi_0001/ctrl`, ...).
    pub fn new(instrument_id: &str) -> Self {
        let base = format!("ohmpi_{instrument_id}");
        Self {
            ctrl: format!("{base}/ctrl"),
            exec: format!("{base}/exec"),
            data: format!("{base}/data"),
            soh: format!("{base}/soh"),
        }
    }
}

/// An OhmPi log line at level `INFO`: `YYYY-mm-dd HH:MM:SS UTC | <pid> | INFO: <body>`.
///
/// `body` is written as given; for a JSON body the web page must read, use [`data_payload`].
pub fn frame(time: SystemTime, pid: u32, body: &str) -> String {
    frame_level(time, pid, tracing::Level::INFO, body)
}

/// An OhmPi log line at `level`, named as Python's logging names it (`DEBUG` for trace and
/// debug, `INFO`, `WARNING`, `ERROR`): for the `exec` topic.
pub fn frame_level(time: SystemTime, pid: u32, level: tracing::Level, body: &str) -> String {
    let u = Utc::from_system_time(time);
    let level = match level {
        tracing::Level::ERROR => "ERROR",
        tracing::Level::WARN => "WARNING",
        tracing::Level::INFO => "INFO",
        _ => "DEBUG",
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC | {pid} | {level}: {body}",
        u.year, u.month, u.day, u.hour, u.minute, u.second
    )
}

/// A data message ready to publish: `body` made page-safe ([`page_safe_json`]) and framed as an
/// `INFO` line ([`frame`]).
pub fn data_payload(time: SystemTime, pid: u32, body: &Value) -> String {
    frame(time, pid, &page_safe_json(body))
}

/// `body` as compact JSON that OhmPi's web page parses back to the same value: inside strings,
/// `'` becomes `\u0027`, `INFO:` becomes `INFO\u003a` and the `a` of every `nan`/`NaN` becomes
/// `\u0061` (overlaps included: `nanan`). Outside strings serde_json writes none of these
/// (non-finite numbers are `null`), and none can start inside an escape sequence, so the text
/// stays valid JSON of the same value.
pub fn page_safe_json(body: &Value) -> String {
    let text = body.to_string();
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text.as_str();
    while let Some(c) = rest.chars().next() {
        if c == '\'' {
            out.push_str("\\u0027");
            rest = &rest[1..];
        } else if rest.starts_with("INFO:") {
            out.push_str("INFO\\u003a");
            rest = &rest[5..];
        } else if rest.starts_with("nan") || rest.starts_with("NaN") {
            // Keep the last letter: it may start the next match.
            out.push(c);
            out.push_str("\\u0061");
            rest = &rest[2..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// A finite number, or `null`.
fn num(v: Option<f64>) -> Value {
    match v {
        Some(x) if x.is_finite() => json!(x),
        _ => Value::Null,
    }
}

/// The record of one quadrupole under the OhmPi v2024.1 keys (protocol.md). Electrodes are
/// integers, `time` is the record's RFC 3339 UTC time, `channel_mn` is 1 (one receiver
/// channel), `injection_id` is the record's `seq` (as in the survey files), missing values are
/// `null`. `battery_voltage_tx_[V]` is `battery_v` when given, else the record's own.
pub fn record_body(r: &Record, battery_v: Option<f64>) -> Value {
    json!({
        "time": r.time,
        "a": r.a,
        "b": r.b,
        "m": r.m,
        "n": r.n,
        "injection_duration_[ms]": num(Some(r.injection_ms)),
        "vmn_[mV]": num(r.vmn_mv),
        "vmn_std_[%]": num(r.vmn_std_pct),
        "iab_[mA]": num(r.iab_ma),
        "iab_std_[%]": num(r.iab_std_pct),
        "r_[Ohm]": num(r.r_ohm),
        "r_std_[%]": num(r.r_std_pct),
        "rab_[kOhm]": num(r.rab_kohm),
        "sp_[mV]": num(r.sp_mv),
        "n_stacks": r.n_stacks,
        "vab_[V]": num(Some(r.vab_v)),
        "channel_mn": 1,
        "injection_id": r.seq,
        "battery_voltage_tx_[V]": num(battery_v.or(r.battery_v)),
        "s_samples": r.samples,
        "strategy": r.strategy.as_str(),
        "cmd_id": r.cmd_id,
    })
}

/// One contact-resistance result as OhmPi's `rs_check` sends it:
/// `{"rsdata": {"A": a, "B": b, "rs": kOhm}}` (`null` when no current flowed). The page plots
/// `A` against `rs`.
pub fn rsdata_body(a: Electrode, b: Electrode, rs_kohm: Option<f64>) -> Value {
    json!({"rsdata": {"A": a, "B": b, "rs": num(rs_kohm)}})
}

/// [`rsdata_body`] of a contact-check result.
pub fn contact_body(c: &Contact) -> Value {
    rsdata_body(c.a, c.b, c.rs_kohm)
}

/// `{"cmd_id": ..., "status": ...}`: the page shows `status` as the instrument's state.
pub fn status_body(cmd_id: Option<&str>, status: &str) -> Value {
    json!({"cmd_id": cmd_id, "status": status})
}

/// The end of a run or of an interrupt: `{"cmd_id": ..., "status": "idle"}` (OhmPi's
/// `interrupt` sends exactly this; the end of its `run_multiple_sequences` omits `cmd_id`,
/// which the page does not read).
pub fn idle_body(cmd_id: Option<&str>) -> Value {
    status_body(cmd_id, "idle")
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::acquisition::settings::Strategy;
    use crate::survey::Quality;

    /// 2026-11-22T21:13:05.123Z
    pub(crate) fn t0() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_795_381_985_123)
    }

    pub(crate) fn record(seq: u64, quad: [u16; 4], r_ohm: Option<f64>) -> Record {
        Record {
            seq,
            survey: Some("20261122T211305".into()),
            time: "2026-11-22T21:13:05.123Z".into(),
            a: quad[0],
            b: quad[1],
            m: quad[2],
            n: quad[3],
            injection_ms: 200.0,
            duty_cycle: 0.5,
            n_stacks: 2,
            strategy: Strategy::Safe,
            vab_v: 5.0,
            vmn_mv: r_ohm.map(|r| r * 12.1),
            vmn_std_pct: Some(0.3),
            iab_ma: r_ohm.map(|_| 12.1),
            iab_std_pct: Some(0.1),
            r_ohm,
            r_std_pct: r_ohm.map(|_| 0.3),
            rab_kohm: Some(0.41),
            sp_mv: Some(1.2),
            k_m: Some(std::f64::consts::TAU),
            rhoa_ohmm: r_ohm.map(|r| r * std::f64::consts::TAU),
            samples: 58,
            dropped_samples: 0,
            battery_v: Some(12.6),
            quality: Quality::empty(),
            cmd_id: Some("a1b2".into()),
        }
    }

    /// What index.html does with a message on the data topic: the text between the first and
    /// the second `INFO:`, `'` turned into `"`, the words `NaN`/`nan` into `null`, then
    /// `JSON.parse`.
    pub(crate) fn page_parse(payload: &str) -> Value {
        let body = payload.split("INFO:").nth(1).expect("an INFO: marker");
        let body = body.replace('\'', "\"");
        let body = replace_word(&replace_word(&body, "NaN"), "nan");
        serde_json::from_str(&body).expect("the page parses the body")
    }

    /// `\bword\b` → `null`, as the JS regex does.
    fn replace_word(text: &str, word: &str) -> String {
        let is_word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(word) {
            let before = rest[..i].chars().next_back();
            let after = rest[i + word.len()..].chars().next();
            out.push_str(&rest[..i]);
            if is_word(before) || is_word(after) {
                out.push_str(word);
            } else {
                out.push_str("null");
            }
            rest = &rest[i + word.len()..];
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn topics() {
        let t = CompatTopics::new("0001");
        assert_eq!(t.ctrl, "ohmpi_0001/ctrl");
        assert_eq!(t.exec, "ohmpi_0001/exec");
        assert_eq!(t.data, "ohmpi_0001/data");
        assert_eq!(t.soh, "ohmpi_0001/soh");
    }

    #[test]
    fn framing_is_python_logging() {
        assert_eq!(
            frame(t0(), 4242, r#"{"status":"idle"}"#),
            r#"2026-11-22 21:13:05 UTC | 4242 | INFO: {"status":"idle"}"#
        );
        assert_eq!(
            frame_level(UNIX_EPOCH, 7, tracing::Level::WARN, "low battery"),
            "1970-01-01 00:00:00 UTC | 7 | WARNING: low battery"
        );
        assert_eq!(
            frame_level(UNIX_EPOCH, 7, tracing::Level::TRACE, "x"),
            "1970-01-01 00:00:00 UTC | 7 | DEBUG: x"
        );
    }

    #[test]
    fn record_body_has_the_v2024_keys_and_parses_on_the_page() {
        let body = record_body(&record(1042, [1, 4, 2, 3], Some(3.405)), None);
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
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
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(body["a"], 1);
        assert_eq!(body["r_[Ohm]"], 3.405);
        assert_eq!(body["injection_id"], 1042);
        assert_eq!(body["battery_voltage_tx_[V]"], 12.6);
        assert_eq!(body["strategy"], "safe");

        let payload = data_payload(t0(), 1, &body);
        assert!(payload.starts_with("2026-11-22 21:13:05 UTC | 1 | INFO: {"));
        let json_text = payload.split_once("INFO: ").unwrap().1;
        assert_eq!(serde_json::from_str::<Value>(json_text).unwrap(), body);
        assert_eq!(page_parse(&payload), body);
    }

    #[test]
    fn missing_values_are_null_and_battery_override() {
        let mut r = record(7, [1, 2, 3, 4], None);
        r.sp_mv = Some(f64::NAN);
        r.cmd_id = None;
        let body = record_body(&r, Some(11.9));
        for key in [
            "vmn_[mV]",
            "iab_[mA]",
            "r_[Ohm]",
            "r_std_[%]",
            "sp_[mV]",
            "cmd_id",
        ] {
            assert_eq!(body[key], Value::Null, "{key}");
        }
        assert_eq!(body["battery_voltage_tx_[V]"], 11.9);
        assert_eq!(page_parse(&data_payload(t0(), 1, &body)), body);
    }

    #[test]
    fn strings_the_page_would_mangle_are_escaped() {
        let body = status_body(Some("it's INFO: nan NaN banana nanan NaNaN"), "idle");
        let text = page_safe_json(&body);
        assert!(!text.contains('\'') && !text.contains("INFO:"));
        assert!(!text.contains("nan") && !text.contains("NaN"));
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), body);
        assert_eq!(page_parse(&data_payload(t0(), 1, &body)), body);
        // A string ending in a backslash before "nan" keeps its meaning.
        let body = json!({"cmd_id": "\\nan\nan"});
        assert_eq!(page_parse(&data_payload(t0(), 1, &body)), body);
    }

    #[test]
    fn rsdata_and_idle_bodies() {
        assert_eq!(
            rsdata_body(3, 4, Some(1.25)).to_string(),
            r#"{"rsdata":{"A":3,"B":4,"rs":1.25}}"#
        );
        assert_eq!(rsdata_body(3, 4, None)["rsdata"]["rs"], Value::Null);
        let c = Contact {
            a: 5,
            b: 6,
            rs_kohm: Some(0.5),
            vab_v: 5.0,
            iab_ma: Some(10.0),
            quality: Quality::empty(),
        };
        assert_eq!(contact_body(&c), rsdata_body(5, 6, Some(0.5)));
        assert_eq!(
            idle_body(None).to_string(),
            r#"{"cmd_id":null,"status":"idle"}"#
        );
        assert_eq!(
            idle_body(Some("x1")).to_string(),
            r#"{"cmd_id":"x1","status":"idle"}"#
        );
    }
}
