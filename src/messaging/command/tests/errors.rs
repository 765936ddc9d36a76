//! Every class of bad message: the right code, the right field, a readable message, no panic.

use super::*;
use crate::messaging::reply::ErrorCode;

#[test]
fn malformed_messages() {
    let e = fails("{\"cmd\": \"get_status\",", ErrorCode::BadJson, None);
    assert!(e.message.contains("line 1 column"), "{}", e.message);
    let e = fails("{\n\"cmd\": get_status}", ErrorCode::BadJson, None);
    assert!(e.message.contains("line 2 column"), "{}", e.message);
    fails("", ErrorCode::BadJson, None);
    fails("[1, 2]", ErrorCode::BadJson, None);
    let e = fails("\"get_status\"", ErrorCode::BadJson, None);
    assert!(e.message.contains("JSON object"), "{}", e.message);
    fails("null", ErrorCode::BadJson, None);
    // A trailing comma, as in some published examples, is not JSON.
    fails(r#"{"cmd": "rs_check",}"#, ErrorCode::BadJson, None);

    // Deep nesting is refused by the JSON reader's depth limit, without exhausting the stack.
    let deep = format!(r#"{{"cmd": "get_status", "x": {}}}"#, "[".repeat(200_000));
    fails(&deep, ErrorCode::BadJson, None);

    let e = parse(b"{\"cmd\": \"get_\xff\"}", || "g".into()).unwrap_err();
    assert_eq!(e.body.code, ErrorCode::BadJson);
    assert!(e.body.message.contains("UTF-8"), "{}", e.body.message);
    assert_eq!(e.cmd_id, None);

    let huge = vec![b' '; 10 * 1024 * 1024];
    let e = parse(&huge, || "g".into()).unwrap_err();
    assert_eq!(e.body.code, ErrorCode::InvalidArgument);
    assert!(
        e.body.message.contains("10485760 bytes") && e.body.message.contains("262144"),
        "{}",
        e.body.message
    );
    // The limit itself is allowed.
    let mut at_limit = br#"{"cmd": "get_status"}"#.to_vec();
    at_limit.resize(MAX_PAYLOAD_BYTES, b' ');
    assert!(parse(&at_limit, || "g".into()).is_ok());
    at_limit.push(b' ');
    assert!(parse(&at_limit, || "g".into()).is_err());
}

#[test]
fn top_level_fields() {
    let e = invalid(r#"{"cmd_id": "a"}"#, "cmd");
    assert!(e.contains("missing \"cmd\""), "{e}");
    invalid(r#"{"cmd": null}"#, "cmd");
    let e = invalid(r#"{"cmd": 3}"#, "cmd");
    assert!(e.contains("got the number 3"), "{e}");
    invalid(r#"{"cmd": ["get_status"]}"#, "cmd");
    invalid(r#"{"cmd": "get_status", "cmd_id": {"a": 1}}"#, "cmd_id");
    invalid(r#"{"cmd": "get_status", "cmd_id": true}"#, "cmd_id");
    let long_id = format!(
        r#"{{"cmd": "get_status", "cmd_id": "{}"}}"#,
        "x".repeat(300)
    );
    invalid(&long_id, "cmd_id");
    let at_limit = format!(
        r#"{{"cmd": "get_status", "cmd_id": "{}"}}"#,
        "x".repeat(MAX_CMD_ID_BYTES)
    );
    assert!(parse_str(&at_limit).is_ok());
    // cmd_id goes into records, survey files and logs: one printable line.
    for bad in [
        r#""line\nbreak""#,
        r#""cr\r""#,
        r#""tab\t""#,
        r#""nul\u0000""#,
        r#""del\u007f""#,
        r#""c1\u0085""#,
        r#""nc\uffff""#,
    ] {
        let json = format!(r#"{{"cmd": "get_status", "cmd_id": {bad}, "reply_to": "r"}}"#);
        let m = invalid(&json, "cmd_id");
        assert!(m.contains("control characters"), "{m}");
        // The reply carries a generated id and still reaches its sender.
        let e = err(&json);
        assert_eq!(e.cmd_id, None);
        assert_eq!(e.reply_to.as_deref(), Some("r"));
        assert_eq!(e.to_reply(|| "generated".into()).cmd_id, "generated");
    }
    // Commas, quotes and non-ASCII text are fine: they are escaped where they are written.
    assert_eq!(
        parse_str(r#"{"cmd": "get_status", "cmd_id": "a,b;\"c\" é"}"#)
            .unwrap()
            .cmd_id,
        "a,b;\"c\" é"
    );
    invalid(r#"{"cmd": "get_status", "kwargs": [1]}"#, "kwargs");
    invalid(r#"{"cmd": "get_status", "kwargs": "nb_stack=2"}"#, "kwargs");

    for bad in [
        r#""a/b""#,
        r#""+""#,
        r##""#""##,
        r#""""#,
        r#""a\u0000b""#,
        r#""line\nbreak""#,
        r#""tab\tx""#,
        r#""del\u007f""#,
        r#""c1\u009f""#,
        r#""nc\uffff""#,
        r#""nc\ufffe""#,
        r#""nc\ufdd0""#,
        r#""nc\ud83f\udffe""#,
        "3",
        r#"["x"]"#,
    ] {
        let json = format!(r#"{{"cmd": "get_status", "cmd_id": "c9", "reply_to": {bad}}}"#);
        invalid(&json, "reply_to");
        // The error can still be addressed by its id.
        assert_eq!(err(&json).cmd_id.as_deref(), Some("c9"));
    }
    let long = format!(
        r#"{{"cmd": "get_status", "reply_to": "{}"}}"#,
        "é".repeat(65)
    );
    invalid(&long, "reply_to");
    assert!(parse_str(&format!(
        r#"{{"cmd": "get_status", "reply_to": "{}"}}"#,
        "é".repeat(64)
    ))
    .is_ok());
}

#[test]
fn unknown_commands_and_arguments() {
    let e = err(r#"{"cmd_id": "u1", "cmd": "start", "reply_to": "web"}"#);
    assert_eq!(e.body.code, ErrorCode::UnknownCommand);
    assert!(e.body.message.contains("unknown command \"start\""));
    assert!(
        e.body.message.contains("run_multiple_sequences")
            && e.body.message.contains("repeat_sequence")
    );
    assert_eq!(
        (e.cmd_id.as_deref(), e.cmd.as_deref(), e.reply_to.as_deref()),
        (Some("u1"), Some("start"), Some("web"))
    );
    let reply = e.to_reply(|| unreachable!());
    assert_eq!(reply.cmd_id, "u1");
    assert_eq!(reply.cmd, "start");
    // A generated id once it is known there is none; a fallback before that.
    assert_eq!(
        err(r#"{"cmd": "nope"}"#).cmd_id.as_deref(),
        Some("generated-1")
    );
    assert_eq!(err("[").to_reply(|| "fallback".into()).cmd_id, "fallback");
    // Long names are cut in the reply.
    let long = format!(r#"{{"cmd": "{}"}}"#, "z".repeat(1000));
    assert_eq!(err(&long).cmd.map(|c| c.chars().count()), Some(65));

    let m = invalid(
        r#"{"cmd": "run_sequence", "kwargs": {"nb_stacks": 2}}"#,
        "nb_stacks",
    );
    assert!(
        m.contains("\"nb_stacks\"")
            && m.contains("accepted: sequence, injection_duration, nb_stack"),
        "{m}"
    );
    let m = invalid(r#"{"cmd": "interrupt", "kwargs": {"now": true}}"#, "now");
    assert_eq!(m, "interrupt takes no arguments, got \"now\"");
    let m = invalid(
        r#"{"cmd": "set_sequence", "kwargs": {"zz": 1, "sequence": [[1,2,3,4]], "aa": 2}}"#,
        "aa",
    );
    assert!(
        m.starts_with("unknown arguments for set_sequence: \"aa\", \"zz\"; accepted: sequence"),
        "{m}"
    );
    // Unknown keys inside update_settings' settings object too.
    let m = invalid(
        r#"{"cmd": "update_settings", "kwargs": {"settings": {"nb_electrodes": 64}}}"#,
        "nb_electrodes",
    );
    assert!(
        m.contains("for \"settings\"") && m.contains("sequence"),
        "{m}"
    );
}

#[test]
fn wrong_types_name_the_field() {
    invalid(r#"{"cmd": "run_measurement"}"#, "quad");
    invalid(
        r#"{"cmd": "run_measurement", "kwargs": {"quad": null}}"#,
        "quad",
    );
    invalid(
        r#"{"cmd": "run_measurement", "kwargs": {"quad": "1 2 3 4"}}"#,
        "quad",
    );
    invalid(
        r#"{"cmd": "run_measurement", "kwargs": {"quad": {"a": 1, "b": 2, "m": 3, "n": 4}}}"#,
        "quad",
    );
    let m = invalid(
        r#"{"cmd": "run_measurement", "kwargs": {"quad": [1, 2, 3, 4], "nb_stack": "two"}}"#,
        "nb_stack",
    );
    assert!(m.contains("whole number") && m.contains("\"two\""), "{m}");
    invalid(
        r#"{"cmd": "run_sequence", "kwargs": {"injection_duration": "0.2"}}"#,
        "injection_duration",
    );
    invalid(
        r#"{"cmd": "run_sequence", "kwargs": {"full_waveform": "yes"}}"#,
        "full_waveform",
    );
    invalid(
        r#"{"cmd": "run_sequence", "kwargs": {"strategy": 1}}"#,
        "strategy",
    );
    invalid(
        r#"{"cmd": "run_sequence", "kwargs": {"sequence": [1, 2, 3, 4]}}"#,
        "sequence",
    );
    invalid(
        r#"{"cmd": "update_settings", "kwargs": {"settings": {"nb_meas": 1.5}}}"#,
        "nb_meas",
    );
    invalid(
        r#"{"cmd": "update_settings", "kwargs": {"settings": "settings/default.json"}}"#,
        "settings",
    );
    invalid(
        r#"{"cmd": "update_settings", "kwargs": {"settings": {"nb_stack": 2}, "nb_stack": 3}}"#,
        "nb_stack",
    );
    invalid(
        r#"{"cmd": "update_settings", "kwargs": {"settings": {"sequence": [[1,2,3,4]]}, "sequence": [[1,2,3,4]]}}"#,
        "sequence",
    );
    invalid(
        r#"{"cmd": "update_settings", "kwargs": {"nb_stack": 2, "n_stacks": 2}}"#,
        "n_stacks",
    );
    invalid(r#"{"cmd": "load_sequence"}"#, "filename");
    invalid(
        r#"{"cmd": "load_sequence", "kwargs": {"filename": 7}}"#,
        "filename",
    );
    invalid(r#"{"cmd": "set_sequence"}"#, "sequence");
    invalid(
        r#"{"cmd": "set_sequence", "kwargs": {"sequence": []}}"#,
        "sequence",
    );
    invalid(r#"{"cmd": "create_sequence"}"#, "nelec");
    let m = invalid(
        r#"{"cmd": "create_sequence", "kwargs": {"nelec": 3}}"#,
        "nelec",
    );
    assert!(m.contains("from 4 to 65535"), "{m}");
    invalid(
        r#"{"cmd": "create_sequence", "kwargs": {"nelec": "32"}}"#,
        "nelec",
    );
    invalid(
        r#"{"cmd": "create_sequence", "kwargs": {"nelec": 32, "include_reciprocal": "yes"}}"#,
        "include_reciprocal",
    );
    invalid(
        r#"{"cmd": "create_sequence", "kwargs": {"nelec": 32, "params": []}}"#,
        "params",
    );
    invalid(
        r#"{"cmd": "create_sequence", "kwargs": {"nelec": 32, "params": "dpdp 1 8"}}"#,
        "params",
    );
    let m = invalid(
        r#"{"cmd": "create_sequence", "kwargs": {"nelec": 32, "params": [["dpdp", 1, 8], ["pdp", 1, 8]]}}"#,
        "params",
    );
    assert!(m.starts_with("entry 2: unknown array \"pdp\""), "{m}");
    let m = invalid(
        r#"{"cmd": "create_sequence", "kwargs": {"nelec": 32, "params": [["dpdp", 1]]}}"#,
        "params",
    );
    assert_eq!(m, "entry 1: dpdp takes 2 parameter(s) (a n), found 1");
    let m = invalid(
        r#"{"cmd": "create_sequence", "kwargs": {"nelec": 32, "params": [["wenner", [3]]]}}"#,
        "params",
    );
    assert!(m.contains("only the largest value"), "{m}");
    let m = invalid(
        r#"{"cmd": "create_sequence", "kwargs": {"nelec": 32, "params": [["dpdp", 0, 8]]}}"#,
        "params",
    );
    assert!(m.contains("a must be a whole number from 1"), "{m}");
    invalid(
        r#"{"cmd": "create_sequence", "kwargs": {"nelec": 32, "params": ["dpdp 1"]}}"#,
        "params",
    );
    invalid(
        r#"{"cmd": "create_sequence", "kwargs": {"nelec": 32, "params": [3]}}"#,
        "params",
    );
    invalid(r#"{"cmd": "rs_check", "kwargs": {"vab": 0}}"#, "vab");
    invalid(r#"{"cmd": "rs_check", "kwargs": {"vab": 501}}"#, "vab");
    invalid(r#"{"cmd": "rs_check", "kwargs": {"vab": "5"}}"#, "vab");
    invalid(
        r#"{"cmd": "rs_check", "kwargs": {"vab": 5, "tx_volt": 5}}"#,
        "tx_volt",
    );
    invalid(
        r#"{"cmd": "rs_check", "kwargs": {"couple": [1, 1]}}"#,
        "couple",
    );
    invalid(
        r#"{"cmd": "rs_check", "kwargs": {"couple": "1-2"}}"#,
        "couple",
    );
    invalid(
        r#"{"cmd": "test", "kwargs": {"test_names": "adc"}}"#,
        "test_names",
    );
    invalid(
        r#"{"cmd": "test", "kwargs": {"test_names": [""]}}"#,
        "test_names",
    );
    invalid(
        r#"{"cmd": "get_data", "kwargs": {"survey_names": "s1"}}"#,
        "survey_names",
    );
    invalid(r#"{"cmd": "get_data", "kwargs": {"full": 1}}"#, "full");
    invalid(
        r#"{"cmd": "export", "kwargs": {"format": "ohmpi"}}"#,
        "survey",
    );
    invalid(r#"{"cmd": "export", "kwargs": {"survey": "s1"}}"#, "format");
    invalid(
        r#"{"cmd": "export", "kwargs": {"survey": "s1", "format": "res2dinv"}}"#,
        "format",
    );
    invalid(
        r#"{"cmd": "export", "kwargs": {"survey": "s1", "format": "ohmpi", "elec_spacing": -1}}"#,
        "elec_spacing",
    );
    invalid(r#"{"cmd": "set_time"}"#, "date");
    invalid(
        r#"{"cmd": "set_time", "kwargs": {"date": 1795381985}}"#,
        "date",
    );
}

#[test]
fn unsafe_quadrupoles_are_refused() {
    let m = invalid(
        r#"{"cmd": "run_measurement", "kwargs": {"quad": [2, 2, 3, 4]}}"#,
        "quad",
    );
    assert_eq!(
        m,
        "A = B = 2: the current electrodes would short the supply"
    );
    let m = invalid(
        r#"{"cmd": "run_measurement", "kwargs": {"quad": [1, 2, 2, 3]}}"#,
        "quad",
    );
    assert!(m.contains("electrode 2 is both"), "{m}");
    invalid(
        r#"{"cmd": "run_measurement", "kwargs": {"quad": [0, 0, 0, 0]}}"#,
        "quad",
    );
    invalid(
        r#"{"cmd": "run_measurement", "kwargs": {"quad": [1, 2, 3, 70000]}}"#,
        "quad",
    );
    let m = invalid(
        r#"{"cmd": "set_sequence", "kwargs": {"sequence": [[1, 2, 3, 4], [2, 3, 4, 5], [2, 2, 3, 4]]}}"#,
        "sequence",
    );
    assert_eq!(
        m,
        "entry 3: A = B = 2: the current electrodes would short the supply"
    );
    let m = invalid(
        r#"{"cmd": "update_settings", "kwargs": {"settings": {"sequence": [[1, 2, 3, 4], [1, 2, 3, 3]]}}}"#,
        "sequence",
    );
    assert!(m.starts_with("entry 2: M = N = 3"), "{m}");
    let big = format!(
        r#"{{"cmd": "set_sequence", "kwargs": {{"sequence": [{}]}}}}"#,
        vec!["[1,2,3,4]"; MAX_SEQUENCE_ENTRIES + 1].join(",")
    );
    assert!(big.len() > MAX_PAYLOAD_BYTES);
    fails(&big, ErrorCode::InvalidArgument, None);
    // With a larger size limit, the entry limit still holds.
    let e = parse_with_limit(big.as_bytes(), 4 * 1024 * 1024, || "g".into()).unwrap_err();
    assert_eq!(e.body.field.as_deref(), Some("sequence"));
    assert!(
        e.body.message.contains("at most 100000"),
        "{}",
        e.body.message
    );
}

#[test]
fn file_names_stay_inside_their_folder() {
    for bad in [
        "../etc/passwd",
        "/etc/passwd",
        "a/../../b",
        "",
        "a\u{0}b",
        "..",
        ".",
    ] {
        let json =
            serde_json::json!({"cmd": "load_sequence", "kwargs": {"filename": bad}}).to_string();
        let m = invalid(&json, "filename");
        assert!(m.starts_with("filename "), "{m}");
        let json =
            serde_json::json!({"cmd": "export", "kwargs": {"survey": bad, "format": "ohmpi"}})
                .to_string();
        invalid(&json, "survey");
    }
    let long = serde_json::json!({"cmd": "load_sequence", "kwargs": {"filename": "a".repeat(256)}})
        .to_string();
    assert!(invalid(&long, "filename").contains("at most 255"));
    invalid(
        r#"{"cmd": "export", "kwargs": {"survey": "dir/s1", "format": "ohmpi"}}"#,
        "survey",
    );
}

#[test]
fn bad_dates() {
    for bad in [
        "yesterday",
        "2026-11-22",
        "2026-11-22T21:13:05",
        "2026-02-30T00:00:00Z",
        "2026-11-22T21:13:05Z; reboot",
    ] {
        let json = serde_json::json!({"cmd": "set_time", "kwargs": {"date": bad}}).to_string();
        invalid(&json, "date");
    }
}
