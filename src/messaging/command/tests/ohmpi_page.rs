//! Messages shaped as OhmPi's web page (v2024, `index.html`) and its documentation send them:
//! the page builds `{"cmd_id": "<id>",` + the rest of `JSON.stringify(query)`. Written for these
//! tests after reading the page, not copied from it.

use super::*;
use crate::messaging::reply::ErrorCode;

#[test]
fn run_stop_and_contact_check_buttons() {
    let r = ok(r#"{"cmd_id": "3f2a-9c01-b7e-4d5a","cmd":"run_multiple_sequences"}"#);
    assert_eq!(r.cmd_id, "3f2a-9c01-b7e-4d5a");
    assert!(matches!(
        r.command,
        Command::RunMultipleSequences { sequence: None, .. }
    ));
    assert_eq!(
        command(r#"{"cmd_id": "0b1c-2d3e-4f5-6a7b","cmd":"interrupt"}"#),
        Command::Interrupt
    );
    assert_eq!(
        command(r#"{"cmd_id": "7e6d-5c4b-3a2-1f0e","cmd":"rs_check"}"#),
        Command::RsCheck {
            vab: 5.0,
            couple: None
        }
    );
    assert_eq!(
        command(r#"{"cmd_id": "aaaa-bbbb-ccc-dddd","cmd":"restart"}"#),
        Command::Restart
    );
    assert_eq!(
        command(r#"{"cmd_id": "aaaa-bbbb-ccc-eeee","cmd":"shutdown"}"#),
        Command::Shutdown
    );
}

#[test]
fn settings_dialog() {
    // Safe strategy with an uploaded sequence.
    let c = command(
        r#"{"cmd_id": "1234-5678-9ab-cdef","cmd":"update_settings","kwargs":{"settings":{"injection_duration":0.5,"nb_meas":3,"sequence_delay":120,"n_stacks":2,"duty_cycle":0.5,"strategy":"safe","vab_req":12,"sequence":[[1,4,2,3],[2,5,3,4],[3,6,4,5]]}}}"#,
    );
    assert_eq!(
        c,
        Command::UpdateSettings {
            settings: RawSettings {
                injection_duration: Some(0.5),
                nb_meas: Some(3),
                sequence_delay: Some(120.0),
                nb_stack: Some(2),
                duty_cycle: Some(0.5),
                strategy: Some("safe".into()),
                vab_req: Some(12.0),
                ..Default::default()
            },
            sequence: Some(vec![q(1, 4, 2, 3), q(2, 5, 3, 4), q(3, 6, 4, 5)]),
        }
    );
    // Vmin strategy, no sequence, and empty number fields (NaN, sent as null).
    let c = command(
        r#"{"cmd_id": "1234-5678-9ab-cdee","cmd":"update_settings","kwargs":{"settings":{"injection_duration":null,"nb_meas":1,"sequence_delay":null,"n_stacks":1,"duty_cycle":1,"strategy":"vmin","vmn_req":20}}}"#,
    );
    assert_eq!(
        c,
        Command::UpdateSettings {
            settings: RawSettings {
                nb_meas: Some(1),
                nb_stack: Some(1),
                duty_cycle: Some(1.0),
                strategy: Some("vmin".into()),
                vmn_req: Some(20.0),
                ..Default::default()
            },
            sequence: None,
        }
    );
    // A sequence file line with three numbers leaves a hole the browser sends as null.
    let m = invalid(
        r#"{"cmd_id": "1","cmd":"update_settings","kwargs":{"settings":{"n_stacks":1,"sequence":[[1,4,2,3],[2,5,3,null]]}}}"#,
        "sequence",
    );
    assert!(m.starts_with("entry 2: N is null"), "{m}");
}

#[test]
fn data_and_clock() {
    assert_eq!(
        command(
            r#"{"cmd_id": "0000-1111-222-3333","cmd":"get_data","kwargs":{"survey_names":["measurements_20240405T203403","measurements_20240405T203410"],"full":false}}"#
        ),
        Command::GetData {
            survey_names: Some(vec![
                "measurements_20240405T203403".into(),
                "measurements_20240405T203410".into()
            ]),
            full: false,
        }
    );
    assert_eq!(
        command(
            r#"{"cmd_id": "0000-1111-222-4444","cmd":"get_data","kwargs":{"survey_names":[],"full":true}}"#
        ),
        Command::GetData {
            survey_names: Some(vec![]),
            full: true
        }
    );
    assert_eq!(
        command(
            r#"{"cmd_id": "0000-1111-222-5555","cmd": "set_time", "kwargs": {"date": "2024-07-23T20:00:01.345Z"}}"#
        ),
        Command::SetTime {
            date: "2024-07-23T20:00:01.345Z".into()
        }
    );
}

#[test]
fn documented_examples() {
    assert_eq!(
        command(
            r#"{"cmd_id": "3fzxv121UITwGjWYgcz81x", "cmd": "run_measurement", "kwargs": {"quad": [1, 2, 3, 4]}}"#
        ),
        Command::RunMeasurement {
            quad: q(1, 2, 3, 4),
            settings: RawSettings::default()
        }
    );
    // The documented update_settings example carries nb_electrodes, which this
    // instrument takes from its hardware configuration: refused by name.
    let m = invalid(
        r#"{"cmd_id": "3fzxv121UITwGjWYgcz4xw", "cmd": "update_settings", "kwargs": {"settings": {"nb_meas": 2, "nb_electrodes": 10, "nb_stack": 2, "injection_duration": 2, "sequence_delay": 100}}}"#,
        "nb_electrodes",
    );
    assert!(m.contains("\"nb_electrodes\""), "{m}");
}

#[test]
fn buttons_without_a_command_here() {
    // Clear data, download and inversion have no command in this protocol (yet).
    for json in [
        r#"{"cmd_id": "a","cmd": "remove_data"}"#,
        r#"{"cmd_id": "b","cmd": "download_data", "kwargs": {"ftype": "ohmpi", "elec_spacing": 1}}"#,
        r#"{"cmd_id": "c","cmd":"run_inversion","kwargs":{"survey_names":["measurements_20240405T203403.csv"],"elec_spacing":1}}"#,
    ] {
        fails(json, ErrorCode::UnknownCommand, None);
    }
    // An empty electrode-spacing field makes the page send NaN, which is not JSON.
    fails(
        r#"{"cmd_id": "d","cmd": "download_data", "kwargs": {"ftype": "ohmpi", "elec_spacing": NaN}}"#,
        ErrorCode::BadJson,
        None,
    );
}
