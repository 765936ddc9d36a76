//! The validated monitoring plan: entries, their trigger, the survey they run and how.
//!
//! A plan is built only through [`Plan::from_json`] / [`Plan::from_toml`] (see `parse.rs`), so
//! every `Plan` in memory is valid; [`Plan::to_json`] gives it back in the same form.

use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use super::cron::Cron;
use super::duration::format_duration;

/// The monitoring plan: entries with unique names.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub entries: Vec<Entry>,
}

/// One planned survey.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub trigger: Trigger,
    /// A file in the sequences folder, relative and without `..`.
    pub sequence: String,
    /// Acquisition overrides, a JSON object kept raw: validated like `update_settings`, elsewhere.
    pub settings: Option<Map<String, Value>>,
    pub contact_check: Option<ContactCheck>,
    pub resume: Resume,
}

/// What starts a survey.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// Every `period` on the monotonic clock, aligned to `start` (wall clock) when given.
    Every {
        period: Duration,
        start: Option<SystemTime>,
    },
    /// On the wall clock.
    Cron(Cron),
    /// When a message on `topic` meets `condition`, at most once per `min_spacing`.
    OnMessage {
        topic: String,
        condition: Condition,
        min_spacing: Duration,
    },
}

/// A test on one JSON field of a message (`field` may be a dotted path: `rain.mm`).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: String,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    Above(f64),
    Below(f64),
    Equals(Value),
}

/// Contact resistances checked before the survey.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContactCheck {
    pub rs_max_kohm: f64,
    pub policy: ContactPolicy,
}

/// What a contact resistance above `rs_max_kohm` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactPolicy {
    /// Measure anyway and say so.
    Warn,
    /// Leave out the quadrupoles using the bad electrodes.
    SkipElectrodes,
    /// Do not measure this survey.
    Abort,
}

/// What a survey cut by a power loss does when the instrument comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resume {
    /// Go on from the next quadrupole, in the same survey file.
    #[default]
    Continue,
    /// Measure the whole survey again.
    Restart,
    /// Leave it cut; wait for the next planned run.
    Skip,
}

impl Condition {
    /// Whether `message` meets the condition; a missing or non-numeric field never does.
    pub fn matches(&self, message: &Value) -> bool {
        let mut v = message;
        for key in self.field.split('.') {
            match v.get(key) {
                Some(inner) => v = inner,
                None => return false,
            }
        }
        match &self.test {
            Test::Above(t) => v.as_f64().is_some_and(|x| x > *t),
            Test::Below(t) => v.as_f64().is_some_and(|x| x < *t),
            Test::Equals(want) => match (v.as_f64(), want.as_f64()) {
                (Some(a), Some(b)) => a == b,
                _ => v == want,
            },
        }
    }
}

/// MQTT topic filter matching (`+` one level, `#` the rest).
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    let mut t = topic.split('/');
    for f in filter.split('/') {
        match (f, t.next()) {
            ("#", _) => return true,
            ("+", Some(_)) => {}
            (f, Some(level)) if f == level => {}
            _ => return false,
        }
    }
    t.next().is_none()
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry named `name`.
    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The plan as the `plan` of `set_schedule` / the answer of `get_schedule`: a JSON array.
    pub fn to_json(&self) -> Value {
        Value::Array(self.entries.iter().map(Entry::to_json).collect())
    }
}

impl Entry {
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("name".into(), json!(self.name));
        match &self.trigger {
            Trigger::Every { period, start } => {
                o.insert("every".into(), json!(format_duration(*period)));
                if let Some(s) = start {
                    o.insert("start".into(), json!(crate::timestamp::rfc3339(*s)));
                }
            }
            Trigger::Cron(c) => {
                o.insert("cron".into(), json!(c.as_str()));
            }
            Trigger::OnMessage {
                topic,
                condition,
                min_spacing,
            } => {
                let mut m = Map::new();
                m.insert("topic".into(), json!(topic));
                m.insert("field".into(), json!(condition.field));
                let (k, v) = match &condition.test {
                    Test::Above(x) => ("above", json!(x)),
                    Test::Below(x) => ("below", json!(x)),
                    Test::Equals(x) => ("equals", x.clone()),
                };
                m.insert(k.into(), v);
                m.insert("min_spacing".into(), json!(format_duration(*min_spacing)));
                o.insert("on_message".into(), Value::Object(m));
            }
        }
        o.insert("sequence".into(), json!(self.sequence));
        if let Some(s) = &self.settings {
            o.insert("settings".into(), Value::Object(s.clone()));
        }
        if let Some(c) = &self.contact_check {
            o.insert(
                "contact_check".into(),
                json!({"rs_max_kohm": c.rs_max_kohm, "policy": c.policy}),
            );
        }
        o.insert("resume".into(), json!(self.resume));
        Value::Object(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions() {
        let c = |field: &str, test| Condition {
            field: field.into(),
            test,
        };
        let msg = json!({"rain_mm": 7.5, "site": {"state": "wet"}, "n": 3});
        assert!(c("rain_mm", Test::Above(5.0)).matches(&msg));
        assert!(!c("rain_mm", Test::Above(7.5)).matches(&msg));
        assert!(!c("rain_mm", Test::Below(5.0)).matches(&msg));
        assert!(c("site.state", Test::Equals(json!("wet"))).matches(&msg));
        assert!(c("n", Test::Equals(json!(3.0))).matches(&msg));
        assert!(!c("missing", Test::Below(1e9)).matches(&msg));
        assert!(!c("site", Test::Above(0.0)).matches(&msg));
    }

    #[test]
    fn topic_filters() {
        assert!(topic_matches("site/rain", "site/rain"));
        assert!(topic_matches("site/+/rain", "site/a/rain"));
        assert!(topic_matches("site/#", "site/a/b"));
        assert!(!topic_matches("site/rain", "site/rain/x"));
        assert!(!topic_matches("site/+", "site"));
        assert!(!topic_matches("site/rain", "site/snow"));
    }
}
