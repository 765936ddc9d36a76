//! Typed values out of JSON arguments: whole numbers, electrodes, quadrupoles, sequences,
//! electrode pairs, lists of names; every error says what was expected and what came.

use serde_json::Value;

use super::MAX_SEQUENCE_ENTRIES;
use crate::survey::quad::{Electrode, Quadrupole};

/// What `value` is, for messages: `the string "x"`, `the number 1.5`, `a list of 3 items`.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string \"{}\"", shorten(s, 40)),
        Value::Array(items) => match items.len() {
            1 => "a list of 1 item".to_string(),
            n => format!("a list of {n} items"),
        },
        Value::Object(_) => "an object".to_string(),
    }
}

/// `text` cut to `max` characters, with `…` when cut.
pub(super) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// A whole number ≥ 0 (`3` or `3.0`: Python and pandas clients often send floats).
pub(super) fn whole(value: &Value) -> Option<u64> {
    let Value::Number(n) = value else {
        return None;
    };
    n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..=9.0e15).contains(f))
            .map(|f| f as u64)
    })
}

/// A whole number from `min` to `max`, or a message saying so.
pub(super) fn whole_in(value: &Value, min: u64, max: u64) -> Result<u64, String> {
    whole(value)
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            format!(
                "must be a whole number from {min} to {max}, got {}",
                describe(value)
            )
        })
}

/// An electrode number (0 is let through for [`Quadrupole::check_safe`] to explain).
fn electrode(value: &Value, role: &str) -> Result<Electrode, String> {
    whole(value)
        .and_then(|n| Electrode::try_from(n).ok())
        .ok_or_else(|| {
            format!(
                "{role} is {}, not an electrode number (whole numbers from 1 to 65535)",
                describe(value)
            )
        })
}

/// `[a, b, m, n]`, safe to measure.
pub(super) fn quadrupole(value: &Value) -> Result<Quadrupole, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "expected [a, b, m, n], a list of 4 electrode numbers, got {}",
            describe(value)
        ));
    };
    if items.len() != 4 {
        return Err(format!(
            "expected [a, b, m, n], 4 electrode numbers, got {}",
            describe(value)
        ));
    }
    let mut e = [0; 4];
    for ((slot, item), role) in e.iter_mut().zip(items).zip(["A", "B", "M", "N"]) {
        *slot = electrode(item, role)?;
    }
    let quad = Quadrupole::new(e[0], e[1], e[2], e[3]);
    quad.check_safe().map_err(|err| err.to_string())?;
    Ok(quad)
}

/// `[[a, b, m, n], ...]`: 1 to [`MAX_SEQUENCE_ENTRIES`] quadrupoles, each safe to measure;
/// errors name the 1-based entry.
pub(super) fn sequence(value: &Value) -> Result<Vec<Quadrupole>, String> {
    let Value::Array(entries) = value else {
        return Err(format!(
            "expected a list of quadrupoles [[a, b, m, n], ...], got {}",
            describe(value)
        ));
    };
    if entries.is_empty() {
        return Err("the sequence is empty: give at least one [a, b, m, n]".to_string());
    }
    if entries.len() > MAX_SEQUENCE_ENTRIES {
        return Err(format!(
            "{} quadrupoles; at most {MAX_SEQUENCE_ENTRIES} may be sent inline \
             (put longer sequences in a file and use load_sequence)",
            entries.len()
        ));
    }
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| quadrupole(entry).map_err(|e| format!("entry {}: {e}", i + 1)))
        .collect()
}

/// One pair `[a, b]` of distinct electrodes.
fn pair(value: &Value) -> Result<(Electrode, Electrode), String> {
    match value {
        Value::Array(items) if items.len() == 2 => {
            let a = electrode(&items[0], "A")?;
            let b = electrode(&items[1], "B")?;
            if a == 0 || b == 0 {
                Err("electrode numbers start at 1, got 0".to_string())
            } else if a == b {
                Err(format!("A = B = {a}: a pair needs two electrodes"))
            } else {
                Ok((a, b))
            }
        }
        other => Err(format!(
            "expected a pair [a, b] of electrode numbers, got {}",
            describe(other)
        )),
    }
}

/// `[a, b]` (one pair, OhmPi's form) or `[[a, b], ...]`.
pub(super) fn pairs(value: &Value) -> Result<Vec<(Electrode, Electrode)>, String> {
    match value {
        Value::Array(items) if items.first().is_some_and(Value::is_array) => {
            if items.len() > MAX_SEQUENCE_ENTRIES {
                return Err(format!(
                    "{} pairs; at most {MAX_SEQUENCE_ENTRIES}",
                    items.len()
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| pair(item).map_err(|e| format!("pair {}: {e}", i + 1)))
                .collect()
        }
        Value::Array(items) if items.is_empty() => {
            Err("no pair given: leave couple out to check every consecutive pair".to_string())
        }
        other => pair(other).map(|p| vec![p]),
    }
}

/// A list of at most `max` strings, none empty.
pub(super) fn names(value: &Value, max: usize) -> Result<Vec<String>, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "expected a list of names [\"...\", ...], got {}",
            describe(value)
        ));
    };
    if items.len() > max {
        return Err(format!("{} names; at most {max}", items.len()));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            other => Err(format!(
                "item {}: expected a non-empty name, got {}",
                i + 1,
                describe(other)
            )),
        })
        .collect()
}

/// A finite number in `(0, max]`.
pub(super) fn positive(value: &Value, max: f64, unit: &str) -> Result<f64, String> {
    value
        .as_f64()
        .filter(|v| v.is_finite() && *v > 0.0 && *v <= max)
        .ok_or_else(|| {
            format!(
                "must be a number above 0 and at most {max} {unit}, got {}",
                describe(value)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quadrupoles_and_sequences() {
        assert_eq!(
            quadrupole(&json!([1, 4, 2, 3])),
            Ok(Quadrupole::new(1, 4, 2, 3))
        );
        assert_eq!(
            quadrupole(&json!([1.0, 4.0, 2.0, 3.0])),
            Ok(Quadrupole::new(1, 4, 2, 3))
        );
        assert_eq!(
            quadrupole(&json!([1, 4, 2])).unwrap_err(),
            "expected [a, b, m, n], 4 electrode numbers, got a list of 3 items"
        );
        assert_eq!(
            quadrupole(&json!([1, 4, 2, null])).unwrap_err(),
            "N is null, not an electrode number (whole numbers from 1 to 65535)"
        );
        assert!(quadrupole(&json!([1, 70000, 2, 3]))
            .unwrap_err()
            .starts_with("B is the number 70000"));
        assert!(quadrupole(&json!([1, -4, 2, 3])).is_err());
        assert!(quadrupole(&json!([1, 4.5, 2, 3])).is_err());
        assert_eq!(
            quadrupole(&json!([0, 0, 0, 0])).unwrap_err(),
            "electrode numbers start at 1, got 0"
        );
        assert!(quadrupole(&json!({"a": 1})).is_err());

        let err = sequence(&json!([[1, 2, 3, 4], [2, 3, 4, 5], [2, 2, 3, 4]])).unwrap_err();
        assert!(err.starts_with("entry 3: A = B = 2: "), "{err}");
        assert!(sequence(&json!([])).is_err());
        assert!(sequence(&json!("1 2 3 4")).is_err());
        let long = Value::Array(vec![json!([1, 2, 3, 4]); MAX_SEQUENCE_ENTRIES + 1]);
        assert!(sequence(&long).unwrap_err().contains("at most 100000"));
    }

    #[test]
    fn pairs_in_both_forms() {
        assert_eq!(pairs(&json!([1, 2])), Ok(vec![(1, 2)]));
        assert_eq!(pairs(&json!([[1, 2], [3, 5]])), Ok(vec![(1, 2), (3, 5)]));
        assert_eq!(
            pairs(&json!([[1, 2], [3, 3]])).unwrap_err(),
            "pair 2: A = B = 3: a pair needs two electrodes"
        );
        assert!(pairs(&json!([])).is_err());
        assert!(pairs(&json!([0, 1])).is_err());
        assert!(pairs(&json!([1, 2, 3])).is_err());
    }

    #[test]
    fn descriptions_are_short() {
        assert_eq!(describe(&json!("x".repeat(100))).chars().count(), 54);
        assert_eq!(shorten("ééé", 2), "éé…");
        assert_eq!(whole(&json!(1e300)), None);
        assert_eq!(whole(&json!(-1)), None);
        assert_eq!(
            whole_in(&json!(3), 4, 10).unwrap_err(),
            "must be a whole number from 4 to 10, got the number 3"
        );
    }
}
