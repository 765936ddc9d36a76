//! Five-field cron expressions (minute hour day-of-month month day-of-week), evaluated in UTC or
//! at a fixed offset from it (`[instrument] timezone = "+01:00"`); there is no time-zone database,
//! so no daylight-saving change.
//!
//! Each field takes `*`, numbers, lists (`1,15`), ranges (`9-17`) and steps (`*/15`, `8-18/2`);
//! months and days of the week also take English three-letter names (`jan`, `mon`); Sunday is
//! 0 or 7. When both day fields are restricted, a day matching either runs (as in Vixie cron).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::timestamp::Utc;

/// A fixed offset from UTC, in seconds east.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UtcOffset(pub i32);

impl UtcOffset {
    pub const UTC: UtcOffset = UtcOffset(0);

    /// `Z`, `UTC`, `+01:00`, `-05:30`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
            return Ok(Self::UTC);
        }
        let bad =
            || format!("{text:?} is not a UTC offset (use \"+01:00\", \"-05:30\" or \"UTC\")");
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'+') => (1, &t[1..]),
            Some(b'-') => (-1, &t[1..]),
            _ => return Err(bad()),
        };
        let (h, m) = rest.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: i32 = h.parse().map_err(|_| bad())?;
        let m: i32 = m.parse().map_err(|_| bad())?;
        if h > 14 || m > 59 {
            return Err(bad());
        }
        Ok(Self(sign * (h * 3600 + m * 60)))
    }
}

/// A parsed cron expression; `text` is kept to serialise the plan back as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    text: String,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_any: bool,
    weekdays_any: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
/// Days searched for the next slot: "29 February" can be eight years away (2096 → 2104).
const SEARCH_DAYS: u32 = 366 * 9;

impl Cron {
    pub fn parse(text: &str) -> Result<Self, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "{text:?} has {} fields, a cron expression has 5 \
                 (minute hour day-of-month month day-of-week)",
                fields.len()
            ));
        }
        let field = |i: usize, name: &str, lo: u32, hi: u32, names: &[&str]| {
            parse_field(fields[i], lo, hi, names)
                .map_err(|m| format!("{text:?}: {name} field {:?}: {m}", fields[i]))
        };
        let mut weekdays = field(4, "day-of-week", 0, 7, &WEEKDAYS)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays & !(1 << 7)) | 1; // 7 is Sunday too
        }
        let cron = Self {
            text: fields.join(" "),
            minutes: field(0, "minute", 0, 59, &[])?,
            hours: field(1, "hour", 0, 23, &[])?,
            days: field(2, "day-of-month", 1, 31, &[])?,
            months: field(3, "month", 1, 12, &MONTHS)?,
            weekdays,
            days_any: fields[2] == "*",
            weekdays_any: fields[4] == "*",
        };
        if cron
            .next_after(
                UNIX_EPOCH + Duration::from_secs(1_767_225_600),
                UtcOffset::UTC,
            ) // 2026-01-01
            .is_none()
        {
            return Err(format!("{text:?} never matches a day"));
        }
        Ok(cron)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first slot strictly after `t`, at the minute's start; `None` when there is none within
    /// nine years.
    pub fn next_after(&self, t: SystemTime, offset: UtcOffset) -> Option<SystemTime> {
        let unix = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64) - 1,
        };
        let off = i64::from(offset.0);
        let mut local = (unix + off).div_euclid(60) * 60 + 60;
        let mut days_seen = 0;
        while days_seen <= SEARCH_DAYS {
            let u = Utc::from_system_time(UNIX_EPOCH + Duration::from_secs(local.max(0) as u64));
            let day_index = local.div_euclid(86_400);
            let next_day = (day_index + 1) * 86_400;
            if !bit(self.months, u.month) || !self.day_matches(u.day, day_index) {
                local = next_day;
                days_seen += 1;
            } else if !bit(self.hours, u.hour) {
                local = local.div_euclid(3_600) * 3_600 + 3_600;
            } else if !bit(self.minutes, u.minute) {
                local += 60;
            } else {
                let secs = u64::try_from(local - off).ok()?;
                return Some(UNIX_EPOCH + Duration::from_secs(secs));
            }
        }
        None
    }

    fn day_matches(&self, day: u32, day_index: i64) -> bool {
        let weekday = (day_index + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday
        let dom = bit(self.days, day);
        let dow = bit(self.weekdays, weekday);
        match (self.days_any, self.weekdays_any) {
            (true, true) => true,
            (true, false) => dow,
            (false, true) => dom,
            (false, false) => dom || dow,
        }
    }
}

fn bit(mask: u64, n: u32) -> bool {
    mask & (1 << n) != 0
}

fn parse_value(s: &str, lo: u32, hi: u32, names: &[&str]) -> Result<u32, String> {
    let v = match names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        Some(i) => i as u32 + if names.len() == 12 { 1 } else { 0 },
        None => s.parse().map_err(|_| format!("{s:?} is not a number"))?,
    };
    if v < lo || v > hi {
        return Err(format!("{v} is out of {lo}-{hi}"));
    }
    Ok(v)
}

fn parse_field(text: &str, lo: u32, hi: u32, names: &[&str]) -> Result<u64, String> {
    let mut mask = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| format!("step {s:?} is not a number"))?;
                if step == 0 {
                    return Err("a step of 0".into());
                }
                (r, Some(step))
            }
            None => (item, None),
        };
        let (from, to) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (
                parse_value(a, lo, hi, names)?,
                parse_value(b, lo, hi, names)?,
            );
            if a > b {
                return Err(format!("range {a}-{b} goes backwards"));
            }
            (a, b)
        } else {
            let a = parse_value(range, lo, hi, names)?;
            (a, if step.is_some() { hi } else { a })
        };
        for v in (from..=to).step_by(step.unwrap_or(1) as usize) {
            mask |= 1 << v;
        }
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::{parse_rfc3339, rfc3339};
    use proptest::prelude::*;

    fn next(expr: &str, after: &str, offset: &str) -> String {
        let c = Cron::parse(expr).unwrap();
        let t = parse_rfc3339(after).unwrap();
        rfc3339(c.next_after(t, UtcOffset::parse(offset).unwrap()).unwrap())
    }

    #[test]
    fn next_slots() {
        let n = |e, a| next(e, a, "UTC");
        assert_eq!(
            n("*/15 * * * *", "2026-03-01T10:07:00Z"),
            "2026-03-01T10:15:00.000Z"
        );
        assert_eq!(
            n("0 */2 * * *", "2026-03-01T10:00:00Z"),
            "2026-03-01T12:00:00.000Z"
        );
        assert_eq!(
            n("30 6 * * mon-fri", "2026-03-06T07:00:00Z"),
            "2026-03-09T06:30:00.000Z"
        );
        assert_eq!(
            n("0 0 1 jan,jul *", "2026-03-01T00:00:00Z"),
            "2026-07-01T00:00:00.000Z"
        );
        assert_eq!(
            n("0 12 29 2 *", "2026-03-01T00:00:00Z"),
            "2028-02-29T12:00:00.000Z"
        );
        assert_eq!(
            n("0 0 * * 7", "2026-03-01T00:00:00Z"),
            "2026-03-08T00:00:00.000Z"
        );
        // Both day fields restricted: either matches (the 13th, or any Friday).
        assert_eq!(
            n("0 0 13 * 5", "2026-03-01T00:00:00Z"),
            "2026-03-06T00:00:00.000Z"
        );
        assert_eq!(
            n("0 8-18/4 * * *", "2026-03-01T12:00:00Z"),
            "2026-03-01T16:00:00.000Z"
        );
    }

    #[test]
    fn a_fixed_offset_moves_the_slot() {
        // 06:00 at +01:00 is 05:00 UTC; at -05:30 it is 11:30 UTC.
        assert_eq!(
            next("0 6 * * *", "2026-03-01T00:00:00Z", "+01:00"),
            "2026-03-01T05:00:00.000Z"
        );
        assert_eq!(
            next("0 6 * * *", "2026-03-01T00:00:00Z", "-05:30"),
            "2026-03-01T11:30:00.000Z"
        );
        assert!(UtcOffset::parse("Europe/Paris").is_err());
        assert!(UtcOffset::parse("+1").is_err());
    }

    #[test]
    fn refusals_name_the_field() {
        let e = Cron::parse("61 * * * *").unwrap_err();
        assert!(e.contains("minute field \"61\": 61 is out of 0-59"), "{e}");
        assert!(Cron::parse("* * * *").unwrap_err().contains("has 4 fields"));
        assert!(Cron::parse("* * * foo *")
            .unwrap_err()
            .contains("month field"));
        assert!(Cron::parse("*/0 * * * *")
            .unwrap_err()
            .contains("step of 0"));
        assert!(Cron::parse("0 0 30 2 *")
            .unwrap_err()
            .contains("never matches"));
        assert!(Cron::parse("5-1 * * * *")
            .unwrap_err()
            .contains("backwards"));
    }

    proptest! {
        /// The next slot is after `t`, within a day for an hourly minute list, and matches.
        #[test]
        fn next_is_later_and_on_a_listed_minute(secs in 0u64..4_000_000_000, m in 0u32..60) {
            let c = Cron::parse(&format!("{m} * * * *")).unwrap();
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            let n = c.next_after(t, UtcOffset::UTC).unwrap();
            prop_assert!(n > t);
            prop_assert!(n.duration_since(t).unwrap() <= Duration::from_secs(3_600));
            prop_assert_eq!(Utc::from_system_time(n).minute, m);
            prop_assert_eq!(Utc::from_system_time(n).second, 0);
        }

        #[test]
        fn parse_never_panics(text in "[-0-9*/, a-z]{0,20}") {
            let _ = Cron::parse(&text);
        }
    }
}
