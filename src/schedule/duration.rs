//! Durations written as text: `90s`, `2h`, `1d`, `1h30m`.
//!
//! Units are `d`, `h`, `m` and `s`, each at most once and from the largest to the smallest. The
//! canonical form (`format_duration`) is what a plan is serialised back with.

use std::time::Duration;

/// The longest duration accepted: ten years.
pub const MAX_DURATION: Duration = Duration::from_secs(3_650 * 86_400);

const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// Parses `1h30m` and the like into a non-zero whole number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration (use s, m, h, d)");
    let mut total: u64 = 0;
    let mut digits = String::new();
    let mut next_unit = 0; // index into UNITS: units must come largest first, once each
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let pos = UNITS[next_unit..]
            .iter()
            .position(|(u, _)| *u == c)
            .ok_or_else(bad)?;
        if digits.is_empty() {
            return Err(bad());
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let (_, secs) = UNITS[next_unit + pos];
        total = n
            .checked_mul(secs)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| format!("{text:?} is longer than 3650d"))?;
        next_unit += pos + 1;
        digits.clear();
        any = true;
    }
    if !digits.is_empty() || !any {
        return Err(bad());
    }
    if total == 0 {
        return Err(format!("{text:?} must be longer than zero"));
    }
    if total > MAX_DURATION.as_secs() {
        return Err(format!("{text:?} is longer than 3650d"));
    }
    Ok(Duration::from_secs(total))
}

/// The canonical text of a whole number of seconds: `1h30m`, `1d`, `90s` → `1m30s`.
pub fn format_duration(d: Duration) -> String {
    let mut rest = d.as_secs();
    if rest == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, secs) in UNITS {
        if rest >= secs {
            out.push_str(&format!("{}{unit}", rest / secs));
            rest %= secs;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_documented_forms() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7_200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(
            parse_duration(" 1d2h3m4s "),
            Ok(Duration::from_secs(93_784))
        );
    }

    #[test]
    fn refuses_with_a_message_naming_the_text() {
        for bad in ["9x", "", "h", "1", "30m1h", "1h1h", "1.5h", "-1h", "1 h"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
        assert_eq!(
            parse_duration("9x").unwrap_err(),
            "\"9x\" is not a duration (use s, m, h, d)"
        );
        assert!(parse_duration("0s")
            .unwrap_err()
            .contains("longer than zero"));
        assert!(parse_duration("99999999999999999999d").is_err());
        assert_eq!(parse_duration("3650d"), Ok(MAX_DURATION));
        assert!(parse_duration("3651d")
            .unwrap_err()
            .contains("longer than 3650d"));
    }

    proptest! {
        #[test]
        fn canonical_form_parses_back(secs in 1u64..=3_650 * 86_400) {
            let d = Duration::from_secs(secs);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn never_panics(text in "\\PC{0,12}") {
            let _ = parse_duration(&text);
        }
    }
}
