//! The plan read from JSON (`set_schedule`) or TOML (`[[schedule]]`), validated as a whole.
//!
//! Every refusal names where: `schedule[2].every: "9x" is not a duration (use s, m, h, d) in
//! entry "daily"`.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use super::cron::Cron;
use super::duration::parse_duration;
use super::error::ScheduleError;
use super::plan::{Condition, ContactCheck, ContactPolicy, Entry, Plan, Resume, Test, Trigger};

const ENTRY_KEYS: [&str; 9] = [
    "name",
    "every",
    "start",
    "cron",
    "on_message",
    "sequence",
    "settings",
    "contact_check",
    "resume",
];
const ON_MESSAGE_KEYS: [&str; 6] = ["topic", "field", "above", "below", "equals", "min_spacing"];
const MAX_ENTRIES: usize = 64;

impl Plan {
    /// A plan from the `plan` of `set_schedule`: a JSON array of entries.
    pub fn from_json(plan: &Value) -> Result<Plan, ScheduleError> {
        let Value::Array(items) = plan else {
            return Err(ScheduleError::invalid(
                "schedule",
                "must be an array of entries",
            ));
        };
        if items.len() > MAX_ENTRIES {
            return Err(ScheduleError::invalid(
                "schedule",
                format!("{} entries, at most {MAX_ENTRIES}", items.len()),
            ));
        }
        let mut names = HashSet::new();
        let mut entries = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let entry = parse_entry(i, item)?;
            if !names.insert(entry.name.clone()) {
                return Err(ScheduleError::invalid(
                    format!("schedule[{i}].name"),
                    format!("{:?} is already the name of another entry", entry.name),
                ));
            }
            entries.push(entry);
        }
        Ok(Plan { entries })
    }

    /// A plan from the `schedule` array of a TOML document (`[[schedule]]` tables).
    pub fn from_toml(schedule: &toml::Value) -> Result<Plan, ScheduleError> {
        Plan::from_json(&toml_to_json(schedule))
    }

    /// The `[[schedule]]` tables of a whole TOML document; none gives an empty plan.
    pub fn from_toml_str(document: &str) -> Result<Plan, ScheduleError> {
        let doc: toml::Table = document
            .parse()
            .map_err(|e: toml::de::Error| ScheduleError::invalid("schedule", e.message()))?;
        match doc.get("schedule") {
            Some(s) => Plan::from_toml(s),
            None => Ok(Plan::default()),
        }
    }
}

/// TOML to JSON; dates and times become their RFC 3339 text.
fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

fn parse_entry(i: usize, item: &Value) -> Result<Entry, ScheduleError> {
    let Value::Object(o) = item else {
        return Err(ScheduleError::invalid(
            format!("schedule[{i}]"),
            "must be a table",
        ));
    };
    let name = o.get("name").and_then(Value::as_str).map(str::to_owned);
    let err = |field: &str, message: String| {
        let message = match &name {
            Some(n) if field != "name" => format!("{message} in entry {n:?}"),
            _ => message,
        };
        ScheduleError::invalid(format!("schedule[{i}].{field}"), message)
    };
    check_keys(o, &ENTRY_KEYS).map_err(|k| err(&k, "is not a schedule field".into()))?;
    let name = match &name {
        Some(n) if !n.trim().is_empty() && n.len() <= 64 => n.clone(),
        Some(n) => return Err(err("name", format!("{n:?} must be 1 to 64 characters"))),
        None => return Err(err("name", "is required (a text)".into())),
    };
    let text = |field: &str| -> Result<Option<&str>, ScheduleError> {
        match o.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(err(field, format!("{other} must be a text"))),
        }
    };
    let duration = |field: &str, s: &str| parse_duration(s).map_err(|m| err(field, m));

    let triggers: Vec<&str> = ["every", "cron", "on_message"]
        .into_iter()
        .filter(|k| o.contains_key(*k))
        .collect();
    if triggers.len() != 1 {
        let msg = format!("needs exactly one of every, cron, on_message (has {triggers:?})");
        return Err(err("trigger", msg));
    }
    if o.contains_key("start") && triggers[0] != "every" {
        return Err(err("start", "only goes with every".into()));
    }
    let trigger = match triggers[0] {
        "every" => {
            let period = duration("every", text("every")?.unwrap_or_default())?;
            let start = match text("start")? {
                Some(s) => Some(parse_start(s).map_err(|m| err("start", m))?),
                None => None,
            };
            Trigger::Every { period, start }
        }
        "cron" => Trigger::Cron(
            Cron::parse(text("cron")?.unwrap_or_default()).map_err(|m| err("cron", m))?,
        ),
        _ => parse_on_message(&o["on_message"])
            .map_err(|(f, m)| err(&format!("on_message.{f}"), m))?,
    };
    let sequence = match text("sequence")? {
        Some(s) => check_sequence(s).map_err(|m| err("sequence", m))?,
        None => {
            return Err(err(
                "sequence",
                "is required (a file in the sequences folder)".into(),
            ))
        }
    };
    let settings = match o.get("settings") {
        None => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(other) => {
            return Err(err(
                "settings",
                format!("{other} must be a table of settings"),
            ))
        }
    };
    let contact_check = match o.get("contact_check") {
        None => None,
        Some(v) => {
            Some(parse_contact_check(v).map_err(|(f, m)| err(&format!("contact_check{f}"), m))?)
        }
    };
    let resume = match text("resume")? {
        None => Resume::default(),
        Some(s) => serde_json::from_value(Value::String(s.into()))
            .map_err(|_| err("resume", format!("{s:?} is not continue, restart or skip")))?,
    };
    Ok(Entry {
        name,
        trigger,
        sequence,
        settings,
        contact_check,
        resume,
    })
}

fn check_keys(o: &Map<String, Value>, known: &[&str]) -> Result<(), String> {
    match o.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(k.clone()),
        None => Ok(()),
    }
}

/// RFC 3339 with `Z` or a `±HH:MM` offset.
fn parse_start(s: &str) -> Result<SystemTime, String> {
    let bad = || format!("{s:?} is not an RFC 3339 time (e.g. \"2026-05-01T06:00:00Z\")");
    let t = s.trim();
    let (base, offset) = match t.len().checked_sub(6).map(|i| t.split_at(i)) {
        Some((b, o)) if (o.starts_with('+') || o.starts_with('-')) && b.contains('T') => (
            format!("{b}Z"),
            super::cron::UtcOffset::parse(o).map_err(|_| bad())?.0,
        ),
        _ => (t.to_owned(), 0),
    };
    let utc = crate::timestamp::parse_rfc3339(&base).ok_or_else(bad)?;
    let shift = Duration::from_secs(offset.unsigned_abs().into());
    let out = if offset >= 0 {
        utc.checked_sub(shift)
    } else {
        utc.checked_add(shift)
    };
    out.ok_or_else(bad)
}

fn check_sequence(s: &str) -> Result<String, String> {
    let unsafe_name = s.is_empty()
        || s.starts_with('/')
        || s.contains('\\')
        || s.chars().any(char::is_control)
        || s.split('/').any(|part| part == ".." || part.is_empty());
    if unsafe_name {
        return Err(format!(
            "{s:?} must be a file name relative to the sequences folder (no \"..\", no leading \"/\")"
        ));
    }
    Ok(s.to_owned())
}

type FieldErr = (String, String);

fn parse_on_message(v: &Value) -> Result<Trigger, FieldErr> {
    let e = |f: &str, m: String| (f.to_owned(), m);
    let Value::Object(o) = v else {
        return Err(e(
            "topic",
            "on_message must be a table with topic, field, a test, min_spacing".into(),
        ));
    };
    check_keys(o, &ON_MESSAGE_KEYS).map_err(|k| e(&k, "is not an on_message field".into()))?;
    let text = |f: &str| match o.get(f) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(e(f, "is required (a text)".into())),
    };
    let topic = text("topic")?;
    if topic.contains(['\0'])
        || topic
            .split('/')
            .enumerate()
            .any(|(i, l)| l.contains('#') && (l != "#" || i + 1 != topic.split('/').count()))
    {
        return Err(e("topic", format!("{topic:?} is not an MQTT topic filter")));
    }
    let field = text("field")?;
    let tests: Vec<&str> = ["above", "below", "equals"]
        .into_iter()
        .filter(|k| o.contains_key(*k))
        .collect();
    let number = |k: &str| {
        o[k].as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| e(k, format!("{} must be a number", o[k])))
    };
    let test = match tests.as_slice() {
        ["above"] => Test::Above(number("above")?),
        ["below"] => Test::Below(number("below")?),
        ["equals"] => Test::Equals(o["equals"].clone()),
        _ => {
            return Err(e(
                "field",
                format!("needs exactly one of above, below, equals (has {tests:?})"),
            ))
        }
    };
    let min_spacing = parse_duration(&text("min_spacing")?).map_err(|m| e("min_spacing", m))?;
    Ok(Trigger::OnMessage {
        topic,
        condition: Condition { field, test },
        min_spacing,
    })
}

fn parse_contact_check(v: &Value) -> Result<ContactCheck, FieldErr> {
    let Value::Object(o) = v else {
        return Err((
            String::new(),
            "must be a table with rs_max_kohm and policy".into(),
        ));
    };
    check_keys(o, &["rs_max_kohm", "policy"])
        .map_err(|k| (format!(".{k}"), "is not a contact_check field".into()))?;
    let rs_max_kohm = o
        .get("rs_max_kohm")
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite() && *x > 0.0)
        .ok_or_else(|| {
            (
                ".rs_max_kohm".to_owned(),
                "is required, a number of kΩ above 0".to_owned(),
            )
        })?;
    let policy: ContactPolicy = match o.get("policy") {
        None => ContactPolicy::Warn,
        Some(p) => serde_json::from_value(p.clone()).map_err(|_| {
            (
                ".policy".to_owned(),
                format!("{p} is not warn, skip_electrodes or abort"),
            )
        })?,
    };
    Ok(ContactCheck {
        rs_max_kohm,
        policy,
    })
}
