//! RFC 3339 date-times, as `set_time` receives them (a browser's `Date.toISOString()` gives
//! `2024-07-23T20:00:01.345Z`).

use std::time::SystemTime;

use crate::timestamp::{parse_rfc3339_with_offset, EXAMPLE};

/// Parses an RFC 3339 date and time with its offset: `YYYY-MM-DDTHH:MM:SS`, optional fraction
/// of a second (up to nanoseconds are kept), then `Z` or `±HH:MM`. `t`, `z` and a space instead
/// of `T` are accepted, as RFC 3339 allows. Times without an offset are refused (their zone is
/// unknown), as are leap seconds and instants before 1970, and texts longer than 64 bytes.
pub fn parse_datetime(s: &str) -> Result<SystemTime, String> {
    if s.len() > 64 {
        return Err(format!(
            "is {} bytes long: expected a date and time like {EXAMPLE}",
            s.len()
        ));
    }
    parse_rfc3339_with_offset(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::rfc3339;
    use proptest::prelude::*;
    use std::time::{Duration, UNIX_EPOCH};

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
