//! Command parsing: every command with valid arguments, names, addressing; the error classes
//! and the messages OhmPi's web page sends are in the submodules.

use super::*;
use crate::acquisition::settings::SETTING_NAMES;
use crate::messaging::reply::ErrorCode;

mod errors;
mod ohmpi_page;

#[allow(clippy::result_large_err)]
pub(super) fn parse_str(json: &str) -> Result<Request, CommandError> {
    parse(json.as_bytes(), || "generated-1".to_string())
}

#[track_caller]
pub(super) fn ok(json: &str) -> Request {
    parse_str(json).unwrap_or_else(|e| panic!("{json}\n  refused: {e}"))
}

#[track_caller]
pub(super) fn command(json: &str) -> Command {
    ok(json).command
}

#[track_caller]
pub(super) fn err(json: &str) -> CommandError {
    match parse_str(json) {
        Ok(r) => panic!("{json}\n  accepted: {r:?}"),
        Err(e) => e,
    }
}

/// The error's code and field.
#[track_caller]
pub(super) fn fails(json: &str, code: ErrorCode, field: Option<&str>) -> ErrorBody {
    let e = err(json);
    assert_eq!(e.body.code, code, "{json}: {e}");
    assert_eq!(e.body.field.as_deref(), field, "{json}: {e}");
    assert!(!e.body.message.is_empty());
    e.body
}

#[track_caller]
pub(super) fn invalid(json: &str, field: &str) -> String {
    fails(json, ErrorCode::InvalidArgument, Some(field)).message
}

pub(super) fn q(a: u16, b: u16, m: u16, n: u16) -> Quadrupole {
    Quadrupole::new(a, b, m, n)
}

#[test]
fn every_command_parses() {
    let cases: Vec<(&str, Command)> = vec![
        (
            r#"{"cmd": "run_measurement", "kwargs": {"quad": [1, 4, 2, 3], "nb_stack": 2, "strategy": "vmax"}}"#,
            Command::RunMeasurement {
                quad: q(1, 4, 2, 3),
                settings: RawSettings {
                    nb_stack: Some(2),
                    strategy: Some("vmax".into()),
                    ..Default::default()
                },
            },
        ),
        (
            r#"{"cmd": "run_sequence", "kwargs": {"nb_stack": 2}}"#,
            Command::RunSequence {
                settings: RawSettings {
                    nb_stack: Some(2),
                    ..Default::default()
                },
                sequence: None,
            },
        ),
        (
            r#"{"cmd": "run_sequence", "kwargs": {"sequence": [[1, 2, 3, 4], [2, 3, 4, 5]]}}"#,
            Command::RunSequence {
                settings: RawSettings::default(),
                sequence: Some(vec![q(1, 2, 3, 4), q(2, 3, 4, 5)]),
            },
        ),
        (
            r#"{"cmd": "run_multiple_sequences", "kwargs": {"nb_meas": 3, "sequence_delay": 600}}"#,
            Command::RunMultipleSequences {
                settings: RawSettings {
                    nb_meas: Some(3),
                    sequence_delay: Some(600.0),
                    ..Default::default()
                },
                sequence: None,
            },
        ),
        (r#"{"cmd": "interrupt"}"#, Command::Interrupt),
        (r#"{"cmd": "pause", "kwargs": {}}"#, Command::Pause),
        (r#"{"cmd": "resume", "kwargs": null}"#, Command::Resume),
        (
            r#"{"cmd": "load_sequence", "kwargs": {"filename": "field/line1.txt"}}"#,
            Command::LoadSequence {
                filename: "field/line1.txt".into(),
            },
        ),
        (
            r#"{"cmd": "set_sequence", "kwargs": {"sequence": [[1, 4, 2, 3]]}}"#,
            Command::SetSequence {
                sequence: vec![q(1, 4, 2, 3)],
            },
        ),
        (
            r#"{"cmd": "create_sequence", "kwargs": {"nelec": 32, "params": [["dpdp", 1, 8], "wenner 3", ["multigrad", 1, 2, 3.0]], "include_reciprocal": true}}"#,
            Command::CreateSequence {
                nelec: 32,
                specs: vec![
                    ArraySpec::dpdp(1, 8),
                    ArraySpec::wenner(3),
                    ArraySpec::multigrad(1, 2, 3),
                ],
                include_reciprocal: true,
            },
        ),
        (
            r#"{"cmd": "create_sequence", "kwargs": {"nelec": 16}}"#,
            Command::CreateSequence {
                nelec: 16,
                specs: vec![ArraySpec::dpdp(1, 8)],
                include_reciprocal: false,
            },
        ),
        (
            r#"{"cmd": "update_settings", "kwargs": {"settings": {"nb_stack": 2, "sequence": [[1, 2, 3, 4]]}}}"#,
            Command::UpdateSettings {
                settings: RawSettings {
                    nb_stack: Some(2),
                    ..Default::default()
                },
                sequence: Some(vec![q(1, 2, 3, 4)]),
            },
        ),
        (
            r#"{"cmd": "update_settings", "kwargs": {"vab_req": 12.5, "full_waveform": true}}"#,
            Command::UpdateSettings {
                settings: RawSettings {
                    vab_req: Some(12.5),
                    full_waveform: Some(true),
                    ..Default::default()
                },
                sequence: None,
            },
        ),
        (r#"{"cmd": "get_settings"}"#, Command::GetSettings),
        (r#"{"cmd": "get_status"}"#, Command::GetStatus),
        (
            r#"{"cmd": "rs_check"}"#,
            Command::RsCheck {
                vab: 5.0,
                couple: None,
            },
        ),
        (
            r#"{"cmd": "rs_check", "kwargs": {"vab": 12, "couple": [[1, 2], [2, 3]]}}"#,
            Command::RsCheck {
                vab: 12.0,
                couple: Some(vec![(1, 2), (2, 3)]),
            },
        ),
        (
            r#"{"cmd": "rs_check", "kwargs": {"tx_volt": 3.3, "couple": [4, 7]}}"#,
            Command::RsCheck {
                vab: 3.3,
                couple: Some(vec![(4, 7)]),
            },
        ),
        (r#"{"cmd": "reset_mux"}"#, Command::ResetMux),
        (r#"{"cmd": "test"}"#, Command::Test { test_names: None }),
        (
            r#"{"cmd": "test", "kwargs": {"test_names": ["adc", "mux"]}}"#,
            Command::Test {
                test_names: Some(vec!["adc".into(), "mux".into()]),
            },
        ),
        (
            r#"{"cmd": "get_data"}"#,
            Command::GetData {
                survey_names: None,
                full: false,
            },
        ),
        (
            r#"{"cmd": "get_data", "kwargs": {"survey_names": ["measurements_20261122T211300"], "full": true}}"#,
            Command::GetData {
                survey_names: Some(vec!["measurements_20261122T211300".into()]),
                full: true,
            },
        ),
        (r#"{"cmd": "list_surveys"}"#, Command::ListSurveys),
        (
            r#"{"cmd": "export", "kwargs": {"survey": "measurements_20261122T211300", "format": "pygimli", "elec_spacing": 0.5}}"#,
            Command::Export {
                survey: "measurements_20261122T211300".into(),
                format: ExportFormat::Pygimli,
                elec_spacing: Some(0.5),
            },
        ),
        (
            r#"{"cmd": "export", "kwargs": {"survey": "s1", "format": "BERT"}}"#,
            Command::Export {
                survey: "s1".into(),
                format: ExportFormat::Pygimli,
                elec_spacing: None,
            },
        ),
        (
            r#"{"cmd": "export", "kwargs": {"survey": "s1", "format": "protocol"}}"#,
            Command::Export {
                survey: "s1".into(),
                format: ExportFormat::Protocol,
                elec_spacing: None,
            },
        ),
        (
            r#"{"cmd": "set_time", "kwargs": {"date": "2026-11-22T21:13:05Z"}}"#,
            Command::SetTime {
                date: "2026-11-22T21:13:05Z".into(),
            },
        ),
        (r#"{"cmd": "restart"}"#, Command::Restart),
        (r#"{"cmd": "shutdown"}"#, Command::Shutdown),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for (json, want) in cases {
        let r = ok(json);
        assert_eq!(r.command, want, "{json}");
        assert_eq!(r.cmd_name, r.command.name());
        seen.insert(r.command.name());
    }
    // Every listed command has a case above, and every name is distinct.
    assert_eq!(seen.len(), COMMAND_NAMES.len());
    assert!(COMMAND_NAMES.iter().all(|n| seen.contains(n)));
}

#[test]
fn alias_keeps_its_name() {
    let r = ok(r#"{"cmd": "repeat_sequence", "kwargs": {"nb_meas": 2}}"#);
    assert_eq!(r.cmd_name, "repeat_sequence");
    assert_eq!(r.command.name(), "run_multiple_sequences");
    assert_eq!(
        canonical_name("repeat_sequence"),
        Some("run_multiple_sequences")
    );
    assert_eq!(canonical_name("get_status"), Some("get_status"));
    assert_eq!(canonical_name("GET_STATUS"), None);
}

#[test]
fn long_and_concurrent_commands() {
    let long = [
        "run_measurement",
        "run_sequence",
        "run_multiple_sequences",
        "rs_check",
        "test",
        "export",
    ];
    let concurrent = [
        "interrupt",
        "pause",
        "resume",
        "get_status",
        "get_settings",
        "list_surveys",
        "get_data",
    ];
    let examples = [
        r#"{"cmd": "run_measurement", "kwargs": {"quad": [1, 2, 3, 4]}}"#,
        r#"{"cmd": "run_sequence"}"#,
        r#"{"cmd": "run_multiple_sequences"}"#,
        r#"{"cmd": "rs_check"}"#,
        r#"{"cmd": "test"}"#,
        r#"{"cmd": "export", "kwargs": {"survey": "s", "format": "ohmpi"}}"#,
        r#"{"cmd": "interrupt"}"#,
        r#"{"cmd": "pause"}"#,
        r#"{"cmd": "resume"}"#,
        r#"{"cmd": "get_status"}"#,
        r#"{"cmd": "get_settings"}"#,
        r#"{"cmd": "list_surveys"}"#,
        r#"{"cmd": "get_data"}"#,
        r#"{"cmd": "load_sequence", "kwargs": {"filename": "a.txt"}}"#,
        r#"{"cmd": "set_sequence", "kwargs": {"sequence": [[1, 2, 3, 4]]}}"#,
        r#"{"cmd": "create_sequence", "kwargs": {"nelec": 8}}"#,
        r#"{"cmd": "update_settings", "kwargs": {"nb_stack": 1}}"#,
        r#"{"cmd": "reset_mux"}"#,
        r#"{"cmd": "set_time", "kwargs": {"date": "2026-11-22T21:13:05Z"}}"#,
        r#"{"cmd": "restart"}"#,
        r#"{"cmd": "shutdown"}"#,
    ];
    assert_eq!(examples.len(), COMMAND_NAMES.len());
    for json in examples {
        let c = command(json);
        assert_eq!(c.is_long(), long.contains(&c.name()), "{json}");
        assert_eq!(
            c.allowed_while_running(),
            concurrent.contains(&c.name()),
            "{json}"
        );
        assert!(!(c.is_long() && c.allowed_while_running()), "{json}");
    }
}

#[test]
fn addressing() {
    let r = ok(
        r#"{"cmd_id": "a1b2", "cmd": "get_status", "reply_to": "dashboard-7", "extra": [1, {"x": 2}]}"#,
    );
    assert_eq!(r.cmd_id, "a1b2");
    assert_eq!(r.reply_to.as_deref(), Some("dashboard-7"));
    assert_eq!(ok(r#"{"cmd_id": 42, "cmd": "get_status"}"#).cmd_id, "42");
    assert_eq!(
        ok(r#"{"cmd_id": null, "cmd": "get_status"}"#).cmd_id,
        "generated-1"
    );
    assert_eq!(
        ok(r#"{"cmd": "get_status", "reply_to": null}"#).reply_to,
        None
    );
    // The generator is called only when needed.
    let r = parse(br#"{"cmd_id": "x", "cmd": "get_status"}"#, || {
        panic!("called")
    });
    assert_eq!(r.map(|r| r.cmd_id).ok().as_deref(), Some("x"));
}

#[test]
fn settings_names_are_all_accepted() {
    // Every documented setting name is an argument of the commands that take settings.
    for name in SETTING_NAMES {
        let value = match name {
            "strategy" => serde_json::json!("safe"),
            "full_waveform" => serde_json::json!(false),
            _ => serde_json::json!(1),
        };
        let json = serde_json::json!({"cmd": "run_sequence", "kwargs": {name: value}}).to_string();
        ok(&json);
        let json =
            serde_json::json!({"cmd": "update_settings", "kwargs": {"settings": {name: value}}})
                .to_string();
        ok(&json);
    }
}
