//! `parse` never panics: on arbitrary bytes, and on arbitrary JSON objects built from the
//! protocol's own names so that most of them reach the argument checks.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value};

use super::*;
use crate::acquisition::settings::SETTING_NAMES;

/// Every name the parser looks for, and a few near misses.
fn names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = vec![
        "cmd",
        "cmd_id",
        "kwargs",
        "reply_to",
        "quad",
        "sequence",
        "settings",
        "filename",
        "nelec",
        "params",
        "include_reciprocal",
        "vab",
        "tx_volt",
        "couple",
        "test_names",
        "survey_names",
        "full",
        "survey",
        "format",
        "elec_spacing",
        "date",
        "dpdp",
        "wenner",
        "schlum",
        "multigrad",
        "ohmpi",
        "pygimli",
        "bert",
        "protocol",
        "safe",
        "repeat_sequence",
        "nb_electrodes",
        "",
    ];
    names.extend(COMMAND_NAMES);
    names.extend(SETTING_NAMES);
    names
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..70_000).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from), // NaN and infinities become null
        "\\PC{0,12}".prop_map(Value::from),
        "[0-9T:.+Z-]{0,30}".prop_map(Value::from),
        "[a-z./]{0,12}".prop_map(Value::from),
        select(names()).prop_map(Value::from),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(names()).prop_map(String::from),
        1 => "\\PC{0,8}",
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Small sequences that are sometimes valid.
fn quads() -> impl Strategy<Value = Value> {
    prop::collection::vec(prop::collection::vec(0u64..6, 3..=5), 0..4)
        .prop_map(|v| serde_json::json!(v))
}

/// A command-shaped object: a known (or nearly known) name and plausible arguments.
fn message() -> impl Strategy<Value = Value> {
    let kwargs = prop::collection::btree_map(key(), prop_oneof![3 => value(), 1 => quads()], 0..5);
    (
        prop_oneof![3 => select(COMMAND_NAMES).prop_map(Value::from), 1 => value()],
        prop::option::of(prop_oneof![3 => kwargs.prop_map(|m| Value::Object(m.into_iter().collect())), 1 => value()]),
        prop::option::of(value()),
        prop::option::of(prop_oneof![3 => "[a-z0-9+/#-]{0,70}".prop_map(Value::from), 1 => value()]),
        prop::collection::btree_map(key(), value(), 0..3),
    )
        .prop_map(|(cmd, kwargs, cmd_id, reply_to, extra)| {
            let mut m: Map<String, Value> = extra.into_iter().collect();
            m.insert("cmd".into(), cmd);
            let optional = [("kwargs", kwargs), ("cmd_id", cmd_id), ("reply_to", reply_to)];
            for (k, v) in optional {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            Value::Object(m)
        })
}

fn check(payload: &[u8]) -> Result<(), TestCaseError> {
    match parse(payload, || "g".to_string()) {
        Ok(r) => {
            prop_assert!(COMMAND_NAMES.contains(&r.command.name()));
            prop_assert_eq!(canonical_name(&r.cmd_name), Some(r.command.name()));
        }
        Err(e) => {
            prop_assert!(!e.body.message.is_empty());
            // An error reply is always valid JSON.
            let reply = e.to_reply(|| "g".into()).to_json();
            prop_assert!(serde_json::from_str::<Value>(&reply).is_ok());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes)?;
    }

    #[test]
    fn never_panics_on_json_values(v in value()) {
        check(v.to_string().as_bytes())?;
    }

    #[test]
    fn never_panics_on_command_objects(v in message()) {
        check(v.to_string().as_bytes())?;
    }

    #[test]
    fn valid_sequences_round_trip(seq in prop::collection::vec((1u16..100, 1u16..100, 1u16..100, 1u16..100), 1..50)) {
        let json = serde_json::json!({"cmd": "set_sequence", "kwargs": {"sequence": seq.iter().map(|&(a, b, m, n)| [a, b, m, n]).collect::<Vec<_>>()}});
        let quads: Vec<Quadrupole> = seq.iter().map(|&(a, b, m, n)| Quadrupole::new(a, b, m, n)).collect();
        let result = parse(json.to_string().as_bytes(), || "g".into());
        match quads.iter().position(|q| q.check_safe().is_err()) {
            None => prop_assert_eq!(result.map(|r| r.command), Ok(Command::SetSequence { sequence: quads })),
            Some(i) => {
                let e = result.unwrap_err().body;
                prop_assert_eq!(e.field.as_deref(), Some("sequence"));
                let prefix = format!("entry {}: ", i + 1);
                prop_assert!(e.message.starts_with(&prefix), "{}", e.message);
            }
        }
    }
}
