//! The named arguments of one command: unknown names refused as a whole, values taken one by
//! one, acquisition settings located key by key.

use serde_json::{Map, Value};

use super::values::describe;
use crate::acquisition::settings::{RawSettings, SETTING_NAMES};
use crate::messaging::reply::ErrorBody;

/// The arguments of the command `cmd`. `null` counts as absent (OhmPi's Python defaults are
/// `None`, and a browser turns an empty number field into `null`).
pub(super) struct Kwargs {
    cmd: &'static str,
    map: Map<String, Value>,
}

impl Kwargs {
    pub(super) fn new(cmd: &'static str, map: Map<String, Value>) -> Self {
        Self { cmd, map }
    }

    /// Refuses every key that is neither in `own` nor, with `settings`, a setting name; the
    /// error's field is the first unknown key in sorted order, its message names them all and
    /// the accepted ones.
    pub(super) fn check_known(&self, own: &[&str], settings: bool) -> Result<(), ErrorBody> {
        let accepted: Vec<&str> = own
            .iter()
            .copied()
            .chain(SETTING_NAMES.iter().copied().filter(|_| settings))
            .collect();
        check_keys(&self.map, &accepted, self.cmd)
    }

    /// The value of `key`, if given and not `null`.
    pub(super) fn take(&mut self, key: &str) -> Option<Value> {
        self.map.remove(key).filter(|v| !v.is_null())
    }

    /// The value of `key`, or an error saying it is missing and what it is.
    pub(super) fn required(&mut self, key: &str, what: &str) -> Result<Value, ErrorBody> {
        self.take(key)
            .ok_or_else(|| ErrorBody::invalid(key, format!("{} needs \"{key}\": {what}", self.cmd)))
    }

    /// A boolean argument, `default` when absent.
    pub(super) fn bool_or(&mut self, key: &str, default: bool) -> Result<bool, ErrorBody> {
        match self.take(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(b),
            Some(other) => Err(ErrorBody::invalid(
                key,
                format!("must be true or false, got {}", describe(&other)),
            )),
        }
    }

    /// A string argument.
    pub(super) fn string(&mut self, key: &str, what: &str) -> Result<String, ErrorBody> {
        match self.required(key, what)? {
            Value::String(s) => Ok(s),
            other => Err(ErrorBody::invalid(
                key,
                format!("must be a string ({what}), got {}", describe(&other)),
            )),
        }
    }

    /// The acquisition settings among the arguments.
    pub(super) fn settings(&mut self) -> Result<RawSettings, ErrorBody> {
        let keys: Vec<String> = self
            .map
            .keys()
            .filter(|k| SETTING_NAMES.contains(&k.as_str()))
            .cloned()
            .collect();
        let mut settings = Map::new();
        for key in keys {
            if let Some((key, value)) = self.map.remove_entry(&key) {
                settings.insert(key, value);
            }
        }
        raw_settings(settings)
    }

    /// Takes every remaining argument (for arguments that are themselves objects of settings).
    pub(super) fn into_map(self) -> Map<String, Value> {
        self.map
    }
}

/// Refuses every key of `map` not in `accepted`, as [`Kwargs::check_known`] describes; `what`
/// names the owner of the keys in the message.
pub(super) fn check_keys(
    map: &Map<String, Value>,
    accepted: &[&str],
    what: &str,
) -> Result<(), ErrorBody> {
    let mut unknown: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| !accepted.contains(k))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort_unstable();
    let listed: Vec<String> = unknown
        .iter()
        .take(10)
        .map(|k| format!("\"{}\"", super::values::shorten(k, 40)))
        .collect();
    let more = if unknown.len() > 10 {
        format!(" and {} more", unknown.len() - 10)
    } else {
        String::new()
    };
    let message = if accepted.is_empty() {
        format!("{what} takes no arguments, got {}{more}", listed.join(", "))
    } else {
        format!(
            "unknown argument{} for {what}: {}{more}; accepted: {}",
            if unknown.len() > 1 { "s" } else { "" },
            listed.join(", "),
            accepted.join(", ")
        )
    };
    // An empty name cannot be the field: the object that holds it is.
    let field = match unknown[0] {
        "" if what == "\"settings\"" => "settings".to_string(),
        "" => "kwargs".to_string(),
        name => super::values::shorten(name, 64),
    };
    Err(ErrorBody::invalid(field, message))
}

/// [`RawSettings`] from setting keys (all known), each key tried alone first so that a wrong
/// value is reported under its own name. `null` values count as absent.
pub(super) fn raw_settings(mut map: Map<String, Value>) -> Result<RawSettings, ErrorBody> {
    map.retain(|_, v| !v.is_null());
    if map.contains_key("nb_stack") && map.contains_key("n_stacks") {
        return Err(ErrorBody::invalid(
            "n_stacks",
            "nb_stack and n_stacks are the same setting: give one of them",
        ));
    }
    for (key, value) in &map {
        let one = Map::from_iter([(key.clone(), value.clone())]);
        if let Err(e) = serde_json::from_value::<RawSettings>(Value::Object(one)) {
            return Err(ErrorBody::invalid(key.as_str(), plain(&e.to_string())));
        }
    }
    serde_json::from_value(Value::Object(map))
        .map_err(|e| ErrorBody::invalid("settings", plain(&e.to_string())))
}

/// A serde type error in the words of the other messages: `invalid type: string "two",
/// expected u32` becomes `must be a whole number from 0 to 4294967295, got the string "two"`.
fn plain(message: &str) -> String {
    let Some((got, expected)) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .and_then(|m| m.split_once(", expected "))
    else {
        return message.to_string();
    };
    let expected = match expected {
        "u32" => "a whole number from 0 to 4294967295",
        "f64" => "a number",
        "a boolean" => "true or false",
        other => other,
    };
    let quoted = |prefix: &str| {
        got.strip_prefix(prefix)
            .map(|rest| rest.trim_matches('`').to_string())
    };
    let got = match got {
        "sequence" => "a list".to_string(),
        "map" => "an object".to_string(),
        _ => quoted("integer ")
            .or_else(|| quoted("floating point "))
            .map(|n| format!("the number {n}"))
            .or_else(|| quoted("boolean "))
            .or_else(|| {
                got.strip_prefix("string ")
                    .map(|s| format!("the string {s}"))
            })
            .unwrap_or_else(|| got.to_string()),
    };
    format!("must be {expected}, got {got}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn settings_errors_name_their_key() {
        let ok = raw_settings(map(
            json!({"n_stacks": 3, "injection_duration": 2, "strategy": "vmin"}),
        ))
        .unwrap();
        assert_eq!(ok.nb_stack, Some(3));
        assert_eq!(ok.injection_duration, Some(2.0));

        let e = raw_settings(map(json!({"duty_cycle": 0.5, "nb_stack": "two"}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("nb_stack"));
        assert_eq!(
            e.message,
            "must be a whole number from 0 to 4294967295, got the string \"two\""
        );
        let e = raw_settings(map(json!({"vab_req": [1]}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("vab_req"));
        assert_eq!(e.message, "must be a number, got a list");
        let e = raw_settings(map(json!({"full_waveform": 1}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("full_waveform"));
        assert_eq!(e.message, "must be true or false, got the number 1");
        let e = raw_settings(map(json!({"nb_meas": -1}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("nb_meas"));
        assert_eq!(
            e.message,
            "must be a whole number from 0 to 4294967295, got the number -1"
        );
        let e = raw_settings(map(json!({"nb_meas": 2.5}))).unwrap_err();
        assert_eq!(
            e.message,
            "must be a whole number from 0 to 4294967295, got the number 2.5"
        );
        let e = raw_settings(map(json!({"strategy": {"a": 1}}))).unwrap_err();
        assert_eq!(e.message, "must be a string, got an object");

        let e = raw_settings(map(json!({"nb_stack": 1, "n_stacks": 2}))).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("n_stacks"));
        // A browser's NaN arrives as null: not given.
        let ok = raw_settings(map(
            json!({"nb_stack": null, "n_stacks": 2, "vab_req": null}),
        ))
        .unwrap();
        assert_eq!(
            ok,
            RawSettings {
                nb_stack: Some(2),
                ..Default::default()
            }
        );
    }

    #[test]
    fn unknown_keys_are_all_named() {
        let m = map(json!({"zeta": 1, "alpha": 2, "quad": 3}));
        let e = check_keys(&m, &["quad"], "run_measurement").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("alpha"));
        assert_eq!(
            e.message,
            "unknown arguments for run_measurement: \"alpha\", \"zeta\"; accepted: quad"
        );
        let e = check_keys(&m, &[], "interrupt").unwrap_err();
        assert_eq!(
            e.message,
            "interrupt takes no arguments, got \"alpha\", \"quad\", \"zeta\""
        );
        assert!(check_keys(&map(json!({})), &[], "interrupt").is_ok());
        let e = check_keys(&map(json!({"": 1})), &["quad"], "run_measurement").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("kwargs"));
        assert!(e.message.contains("\"\""), "{}", e.message);
        let e = check_keys(&map(json!({"": 1})), &["nb_stack"], "\"settings\"").unwrap_err();
        assert_eq!(e.field.as_deref(), Some("settings"));
    }
}
