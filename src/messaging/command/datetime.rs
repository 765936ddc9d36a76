//! RFC 3339 date-times, as `set_time` receives them (a browser's `Date.toISOString()` gives
//! `2024-07-23T20:00:01.345Z`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const EXAMPLE: &str = "2026-11-22T21:13:05Z";

/// Parses an RFC 3339 date and time with its offset: `YYYY-MM-DDTHH:MM:SS`, optional fraction
/// of a second (up to nanoseconds are kept), then `Z` or `±HH:MM`. `t`, `z` and a space instead
/// of `T` are accepted, as RFC 3339 allows. Times without an offset are refused (their zone is
/// unknown), as are leap seconds and instants before 1970.
pub fn parse_datetime(s: &str) -> Result<SystemTime, String> {
    if s.len() > 64 {
        return Err(format!(
            "is {} bytes long: expected a date and time like {EXAMPLE}",
            s.len()
        ));
    }
    let shape = || {
        format!(
            "\"{s}\" is not a date and time like {EXAMPLE} or 2026-11-22T22:13:05.123+01:00 \
             (RFC 3339, with Z or an offset)"
        )
    };
    let mut c = Cursor {
        bytes: s.as_bytes(),
        at: 0,
    };
    let year = c.digits(4).ok_or_else(shape)?;
    c.expect(b"-").ok_or_else(shape)?;
    let month = c.digits(2).ok_or_else(shape)?;
    c.expect(b"-").ok_or_else(shape)?;
    let day = c.digits(2).ok_or_else(shape)?;
    c.expect(b"Tt ").ok_or_else(shape)?;
    let hour = c.digits(2).ok_or_else(shape)?;
    c.expect(b":").ok_or_else(shape)?;
    let minute = c.digits(2).ok_or_else(shape)?;
    c.expect(b":").ok_or_else(shape)?;
    let second = c.digits(2).ok_or_else(shape)?;
    let mut nanos = 0u32;
    if c.expect(b".").is_some() {
        let start = c.at;
        let mut scale = 100_000_000;
        while let Some(d) = c.digit() {
            nanos += d * scale;
            scale /= 10;
        }
        if c.at == start {
            return Err(shape());
        }
    }
    let offset_s: i64 = if c.expect(b"Zz").is_some() {
        0
    } else {
        let sign = match c.expect(b"+-").ok_or_else(|| {
            format!("\"{s}\" has no time zone: end it with Z (UTC) or an offset such as +01:00")
        })? {
            b'-' => -1,
            _ => 1,
        };
        let h = c.digits(2).ok_or_else(shape)?;
        c.expect(b":").ok_or_else(shape)?;
        let m = c.digits(2).ok_or_else(shape)?;
        if h > 23 || m > 59 {
            return Err(format!("\"{s}\": the offset must be at most 23:59"));
        }
        sign * (i64::from(h) * 3600 + i64::from(m) * 60)
    };
    if c.at != c.bytes.len() {
        return Err(shape());
    }

    if !(1..=12).contains(&month) {
        return Err(format!("\"{s}\": month {month} does not exist"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(format!(
            "\"{s}\": day {day} does not exist in {year}-{month:02}"
        ));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(format!(
            "\"{s}\": the time must be 00:00:00 to 23:59:59 (no leap seconds)"
        ));
    }
    let secs = days_from_civil(i64::from(year), month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second)
        - offset_s;
    let secs = u64::try_from(secs).map_err(|_| format!("\"{s}\" is before 1970"))?;
    Ok(UNIX_EPOCH + Duration::new(secs, nanos))
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn digit(&mut self) -> Option<u32> {
        let b = *self.bytes.get(self.at)?;
        if b.is_ascii_digit() {
            self.at += 1;
            Some(u32::from(b - b'0'))
        } else {
            None
        }
    }

    fn digits(&mut self, n: usize) -> Option<u32> {
        (0..n).try_fold(0, |acc, _| Some(acc * 10 + self.digit()?))
    }

    /// The next byte, if it is one of `any`.
    fn expect(&mut self, any: &[u8]) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        if any.contains(&b) {
            self.at += 1;
            Some(b)
        } else {
            None
        }
    }
}

fn is_leap(year: u32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::rfc3339;
    use proptest::prelude::*;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn known_instants() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00Z"), Ok(at(0, 0)));
        assert_eq!(
            parse_datetime("2026-11-22T21:13:05Z"),
            Ok(at(1_795_381_985, 0))
        );
        assert_eq!(
            parse_datetime("2026-11-22T21:13:05.123Z"),
            Ok(at(1_795_381_985, 123_000_000))
        );
        assert_eq!(
            parse_datetime("2026-11-22T22:13:05.123+01:00"),
            Ok(at(1_795_381_985, 123_000_000))
        );
        assert_eq!(
            parse_datetime("2026-11-22 16:43:05-04:30"),
            Ok(at(1_795_381_985, 0))
        );
        assert_eq!(
            parse_datetime("2026-11-22t21:13:05.000000001z"),
            Ok(at(1_795_381_985, 1))
        );
        // Digits past nanoseconds are dropped.
        assert_eq!(
            parse_datetime("2024-02-29T00:00:00.1234567899Z"),
            Ok(at(1_709_164_800, 123_456_789))
        );
    }

    #[test]
    fn refusals_say_why() {
        let err = |s: &str| parse_datetime(s).unwrap_err();
        assert!(err("2026-11-22T21:13:05").contains("no time zone"));
        assert!(err("22/11/2026 21:13").contains("not a date and time like"));
        assert!(err("2026-13-01T00:00:00Z").contains("month 13"));
        assert!(err("2025-02-29T00:00:00Z").contains("day 29 does not exist in 2025-02"));
        assert!(err("2026-04-31T00:00:00Z").contains("day 31"));
        assert!(err("2026-11-22T24:00:00Z").contains("23:59:59"));
        assert!(err("2026-12-31T23:59:60Z").contains("leap"));
        assert!(err("1969-12-31T23:59:59Z").contains("before 1970"));
        assert!(err("1970-01-01T00:30:00+01:00").contains("before 1970"));
        assert!(err("2026-11-22T21:13:05.Z").contains("not a date"));
        assert!(err("2026-11-22T21:13:05Z ").contains("not a date"));
        assert!(err("2026-11-22T21:13:05+1:00").contains("not a date"));
        assert!(err("2026-11-22T21:13:05+24:00").contains("offset"));
        assert!(err("").contains("not a date"));
        assert!(err(&"9".repeat(100)).contains("bytes long"));
        assert!(err("２０２６-11-22T21:13:05Z").contains("not a date"));
    }

    proptest! {
        #[test]
        fn reads_what_the_instrument_writes(millis in 0u64..253_402_300_800_000) {
            let t = UNIX_EPOCH + Duration::from_millis(millis);
            prop_assert_eq!(parse_datetime(&rfc3339(t)), Ok(t));
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse_datetime(&s);
        }

        #[test]
        fn never_panics_on_near_misses(s in "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?(Z|[+-][0-9]{2}:[0-9]{2})?") {
            let _ = parse_datetime(&s);
        }
    }
}
