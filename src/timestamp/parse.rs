//! The RFC 3339 parser: the records' and state files' stamps, token expiry dates and the
//! `set_time` command all go through it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::days_from_civil;

/// An RFC 3339 date and time, for error messages.
pub(crate) const EXAMPLE: &str = "2026-11-22T21:13:05Z";

/// Parses an RFC 3339 date and time with its offset: `YYYY-MM-DDTHH:MM:SS`, optional fraction
/// of a second (up to nanoseconds are kept), then `Z` or `±HH:MM`. `t`, `z` and a space instead
/// of `T` are accepted, as RFC 3339 allows. Times without an offset are refused (their zone is
/// unknown), as are leap seconds and instants before 1970.
pub fn parse_rfc3339_with_offset(s: &str) -> Result<SystemTime, String> {
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
