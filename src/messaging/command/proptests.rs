//! `parse` never panics: on arbitrary bytes, and on arbitrary JSON objects built from the
//! protocol's own names so that most of them reach the argument checks.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value};

use super::*;
use crate::acquisition::settings::SETTING_NAMES;
use crate::messaging::reply::ErrorCode;

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

/// `parse` gives a request or an error reply, never a panic; a request's addressing is safe to
/// use in a topic, a record and a file; every error names its field or says what is wrong.
fn check(payload: &[u8]) -> Result<(), TestCaseError> {
    match parse(payload, || "g".to_string()) {
        Ok(r) => {
            prop_assert!(COMMAND_NAMES.contains(&r.command.name()));
            prop_assert_eq!(canonical_name(&r.cmd_name), Some(r.command.name()));
            prop_assert!(r.cmd_id.len() <= MAX_CMD_ID_BYTES);
            prop_assert!(!r.cmd_id.chars().any(char::is_control), "{:?}", r.cmd_id);
            if let Some(to) = &r.reply_to {
                prop_assert!(
                    crate::messaging::topics::check_topic_level(to).is_ok(),
                    "{:?}",
                    to
                );
            }
            let topic =
                crate::messaging::topics::Topics::new("ohmpi/0001").response(r.reply_to.as_deref());
            prop_assert!(
                crate::messaging::topics::check_topic(&topic).is_ok(),
                "{:?}",
                topic
            );
        }
        Err(e) => {
            let body = &e.body;
            prop_assert!(!body.message.is_empty());
            match body.code {
                // Argument errors name their field.
                ErrorCode::InvalidArgument => prop_assert!(
                    body.field.as_deref().is_some_and(|f| !f.is_empty())
                        || body.message.contains("bytes"),
                    "{:?}",
                    body
                ),
                ErrorCode::BadJson => prop_assert!(
                    body.message.contains("JSON") || body.message.contains("UTF-8"),
                    "{:?}",
                    body
                ),
                ErrorCode::UnknownCommand => {
                    prop_assert!(body.message.starts_with("unknown command"), "{:?}", body)
                }
                other => prop_assert!(false, "parse gave {} ({:?})", other, body),
            }
            // An error reply is always valid JSON, on a topic a broker accepts.
            let reply = e.to_reply(|| "g".into()).to_json();
            prop_assert!(serde_json::from_str::<Value>(&reply).is_ok());
            let topic =
                crate::messaging::topics::Topics::new("ohmpi/0001").response(e.reply_to.as_deref());
            prop_assert!(
                crate::messaging::topics::check_topic(&topic).is_ok(),
                "{:?}",
                topic
            );
            if let Some(id) = &e.cmd_id {
                prop_assert!(!id.chars().any(char::is_control), "{:?}", id);
            }
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

    /// Any string at all as the addressing, noncharacters and control characters included.
    #[test]
    fn hostile_addressing_is_refused_by_name(
        cmd_id in prop_oneof![any::<String>(), "[a-z0-9]{1,8}"],
        reply_to in prop_oneof![any::<String>(), "[a-z0-9-]{1,8}"],
        cmd in prop_oneof![any::<String>(), select(COMMAND_NAMES).prop_map(String::from)],
    ) {
        let v = serde_json::json!({"cmd_id": cmd_id, "reply_to": reply_to, "cmd": cmd});
        check(v.to_string().as_bytes())?;
        let id_ok = cmd_id.len() <= MAX_CMD_ID_BYTES
            && !cmd_id.chars().any(|c| c.is_control() || crate::messaging::topics::is_noncharacter(c));
        let to_ok = crate::messaging::topics::check_topic_level(&reply_to).is_ok();
        match parse(v.to_string().as_bytes(), || "g".into()) {
            Ok(r) => {
                prop_assert!(id_ok && to_ok);
                prop_assert_eq!(r.cmd_id, cmd_id);
                prop_assert_eq!(r.reply_to, Some(reply_to));
            }
            Err(e) if !id_ok => prop_assert_eq!(e.body.field.as_deref(), Some("cmd_id")),
            Err(e) if !to_ok => {
                prop_assert_eq!(e.body.field.as_deref(), Some("reply_to"));
                prop_assert_eq!(e.cmd_id, Some(cmd_id));
            }
            Err(e) => {
                // Both fine: the command (its name or arguments) is what is wrong, and the
                // error goes back to its sender under its id.
                prop_assert_eq!(e.reply_to, Some(reply_to));
                prop_assert_eq!(e.cmd_id, Some(cmd_id));
            }
        }
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
