//! The plan from JSON and TOML: what is accepted, what is refused and how it is said.

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use serde_json::json;

use super::*;

fn refusal(plan: serde_json::Value) -> String {
    Plan::from_json(&plan).unwrap_err().to_string()
}

#[test]
fn the_three_triggers_from_toml() {
    let plan = Plan::from_toml_str(
        r#"
        [instrument]
        id = "dyke-3"

        [[schedule]]
        name = "daily"
        cron = "0 6 * * *"
        sequence = "dd_64.txt"
        contact_check = { rs_max_kohm = 50, policy = "skip_electrodes" }

        [[schedule]]
        name = "every 2h"
        every = "2h"
        start = 2026-05-01T00:30:00+01:00
        sequence = "wenner/w32.txt"
        settings = { nb_stack = 2, injection_duration = 0.5 }
        resume = "restart"

        [[schedule]]
        name = "rain"
        on_message = { topic = "site/+/rain", field = "rain_mm", above = 5, min_spacing = "6h" }
        sequence = "dd_64.txt"
        "#,
    )
    .unwrap();
    assert_eq!(plan.entries.len(), 3);
    let [daily, every, rain] = &plan.entries[..] else {
        unreachable!()
    };
    assert!(matches!(&daily.trigger, Trigger::Cron(c) if c.as_str() == "0 6 * * *"));
    assert_eq!(
        daily.contact_check,
        Some(ContactCheck {
            rs_max_kohm: 50.0,
            policy: ContactPolicy::SkipElectrodes
        })
    );
    assert_eq!(daily.resume, Resume::Continue);
    assert_eq!(
        every.trigger,
        Trigger::Every {
            period: Duration::from_secs(7_200),
            // 2026-04-30T23:30:00Z
            start: Some(UNIX_EPOCH + Duration::from_secs(1_777_591_800)),
        }
    );
    assert_eq!(every.settings.as_ref().unwrap()["nb_stack"], json!(2));
    assert_eq!(every.resume, Resume::Restart);
    assert_eq!(every.sequence, "wenner/w32.txt");
    match &rain.trigger {
        Trigger::OnMessage {
            topic,
            condition,
            min_spacing,
        } => {
            assert_eq!(topic, "site/+/rain");
            assert_eq!(
                condition,
                &Condition {
                    field: "rain_mm".into(),
                    test: Test::Above(5.0)
                }
            );
            assert_eq!(*min_spacing, Duration::from_secs(6 * 3600));
        }
        other => panic!("{other:?}"),
    }
    // Serialised back for get_schedule, it reads back as the same plan.
    let back = plan.to_json();
    assert_eq!(back[1]["start"], json!("2026-04-30T23:30:00.000Z"));
    assert_eq!(back[2]["on_message"]["min_spacing"], json!("6h"));
    assert_eq!(Plan::from_json(&back).unwrap(), plan);
    assert!(Plan::from_toml_str("[instrument]\nid = \"x\"\n")
        .unwrap()
        .is_empty());
}

#[test]
fn refusals_name_the_entry_and_the_field() {
    let ok = json!({"name": "a", "every": "1h", "sequence": "s.txt"});
    let bad_every = json!({"name": "daily", "every": "9x", "sequence": "s.txt"});
    assert_eq!(
        refusal(json!([ok, ok.clone(), bad_every])),
        "schedule[1].name: \"a\" is already the name of another entry"
    );
    assert_eq!(
        refusal(json!([ok, {"name": "b", "every": "1h", "sequence": "s.txt"}, bad_every])),
        "schedule[2].every: \"9x\" is not a duration (use s, m, h, d) in entry \"daily\""
    );
    let cases = [
        (
            json!({"every": "1h", "sequence": "s"}),
            "schedule[0].name: is required",
        ),
        (
            json!({"name": "x", "sequence": "s"}),
            "schedule[0].trigger: needs exactly one of every, cron, on_message (has [])",
        ),
        (
            json!({"name": "x", "every": "1h", "cron": "* * * * *", "sequence": "s"}),
            "(has [\"every\", \"cron\"])",
        ),
        (
            json!({"name": "x", "every": "1h"}),
            "schedule[0].sequence: is required",
        ),
        (
            json!({"name": "x", "every": "1h", "sequence": "../etc/passwd"}),
            "schedule[0].sequence: \"../etc/passwd\" must be a file name relative",
        ),
        (
            json!({"name": "x", "every": "1h", "sequence": "/etc/passwd"}),
            "schedule[0].sequence",
        ),
        (
            json!({"name": "x", "every": "1h", "sequence": "a/../../b"}),
            "schedule[0].sequence",
        ),
        (
            json!({"name": "x", "evry": "1h", "sequence": "s"}),
            "schedule[0].evry: is not a schedule field in entry \"x\"",
        ),
        (
            json!({"name": "x", "cron": "0 25 * * *", "sequence": "s"}),
            "schedule[0].cron: \"0 25 * * *\": hour field \"25\": 25 is out of 0-23",
        ),
        (
            json!({"name": "x", "cron": "0 1 * * *", "start": "2026-01-01T00:00:00Z", "sequence": "s"}),
            "schedule[0].start: only goes with every",
        ),
        (
            json!({"name": "x", "every": "1h", "start": "tomorrow", "sequence": "s"}),
            "schedule[0].start: \"tomorrow\" is not an RFC 3339 time",
        ),
        (
            json!({"name": "x", "every": "1h", "sequence": "s", "settings": 3}),
            "schedule[0].settings: 3 must be a table",
        ),
        (
            json!({"name": "x", "every": "1h", "sequence": "s", "resume": "later"}),
            "schedule[0].resume: \"later\" is not continue, restart or skip",
        ),
        (
            json!({"name": "x", "every": "1h", "sequence": "s", "contact_check": {"rs_max_kohm": -1}}),
            "schedule[0].contact_check.rs_max_kohm: is required, a number of kΩ above 0",
        ),
        (
            json!({"name": "x", "every": "1h", "sequence": "s", "contact_check": {"rs_max_kohm": 5, "policy": "ignore"}}),
            "schedule[0].contact_check.policy: \"ignore\" is not warn, skip_electrodes or abort",
        ),
        (
            json!({"name": "x", "on_message": {"topic": "t", "field": "f", "above": 1}, "sequence": "s"}),
            "schedule[0].on_message.min_spacing: is required",
        ),
        (
            json!({"name": "x", "on_message": {"topic": "t", "field": "f", "above": 1, "below": 0, "min_spacing": "1h"}}),
            "schedule[0].on_message.field: needs exactly one of above, below, equals",
        ),
        (
            json!({"name": "x", "on_message": {"topic": "t/#/x", "field": "f", "above": 1, "min_spacing": "1h"}}),
            "schedule[0].on_message.topic: \"t/#/x\" is not an MQTT topic filter",
        ),
        (
            json!({"name": "x", "on_message": {"topic": "t", "field": "f", "above": "wet", "min_spacing": "1h"}}),
            "schedule[0].on_message.above: \"wet\" must be a number",
        ),
        (json!("daily"), "schedule[0]: must be a table"),
    ];
    for (entry, want) in cases {
        let got = refusal(json!([entry]));
        assert!(got.contains(want), "{entry}: got {got:?}, want {want:?}");
    }
    assert_eq!(
        refusal(json!({"name": "x"})),
        "schedule: must be an array of entries"
    );
    let toml_err =
        Plan::from_toml_str("[[schedule]]\nname = \"n\"\nevery = \"9x\"\nsequence = \"s\"\n")
            .unwrap_err();
    assert_eq!(
        toml_err.to_string(),
        "schedule[0].every: \"9x\" is not a duration (use s, m, h, d) in entry \"n\""
    );
}

fn entry_strategy() -> impl Strategy<Value = serde_json::Value> {
    let trigger = prop_oneof![
        (1u64..10_000_000, proptest::option::of(0u64..4_000_000_000)).prop_map(|(p, start)| {
            let mut o = json!({"every": format_duration(Duration::from_secs(p))});
            if let Some(s) = start {
                o["start"] = json!(crate::timestamp::rfc3339(UNIX_EPOCH + Duration::from_secs(s)));
            }
            o
        }),
        (0u32..60, 0u32..24).prop_map(|(m, h)| json!({"cron": format!("{m} {h} * * *")})),
        ("[a-z]{1,8}", -1e6f64..1e6, 1u64..1_000_000).prop_map(|(f, x, s)| {
            json!({"on_message": {"topic": "site/rain", "field": f, "below": x, "min_spacing": format_duration(Duration::from_secs(s))}})
        }),
    ];
    (
        trigger,
        "[a-z][a-z0-9_]{0,10}(/[a-z0-9_]{1,10}\\.txt)?",
        prop_oneof![Just("continue"), Just("restart"), Just("skip")],
    )
        .prop_map(|(mut t, seq, resume)| {
            t["sequence"] = json!(seq);
            t["resume"] = json!(resume);
            t
        })
}

proptest! {
    /// Any valid plan, serialised for get_schedule, reads back as the same plan.
    #[test]
    fn plans_round_trip(entries in proptest::collection::vec(entry_strategy(), 0..6)) {
        let entries: Vec<_> = entries.into_iter().enumerate().map(|(i, mut e)| { e["name"] = json!(format!("e{i}")); e }).collect();
        let plan = Plan::from_json(&json!(entries)).unwrap();
        prop_assert_eq!(Plan::from_json(&plan.to_json()).unwrap(), plan);
    }

    #[test]
    fn arbitrary_json_never_panics(s in "\\PC{0,40}") {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&s) {
            let _ = Plan::from_json(&serde_json::json!([v]));
        }
    }
}
