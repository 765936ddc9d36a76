//! The native topics of one instrument (protocol.md), under its prefix `ohmpi/<id>`, and the
//! checks a topic name must pass before it goes to the broker.
//!
//! A broker drops the connection of a client that publishes on a malformed topic (Mosquitto
//! checks every topic's UTF-8 as MQTT 3.1.1 asks: no NUL, no control characters, no Unicode
//! noncharacters), so every topic, and every client-given string that becomes part of one, is
//! checked here first.

/// The longest topic name MQTT carries, in bytes.
pub const MAX_TOPIC_BYTES: usize = 65_535;
/// The longest client-given topic level accepted (a `reply_to`), in bytes.
pub const MAX_LEVEL_BYTES: usize = 128;

/// Whether `c` is a Unicode noncharacter (U+FDD0 to U+FDEF, and the last two code points of
/// every plane: U+FFFE, U+FFFF, U+1FFFE, ...), which brokers refuse in topic names.
pub fn is_noncharacter(c: char) -> bool {
    let c = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&c) || c & 0xFFFE == 0xFFFE
}

/// What is wrong with `c` in a topic name (NUL, a control character, a noncharacter), if
/// anything.
fn bad_char(c: char) -> Option<String> {
    if c == '\0' {
        Some("a NUL character".to_string())
    } else if c.is_control() {
        Some(format!("a control character (U+{:04X})", u32::from(c)))
    } else if is_noncharacter(c) {
        Some(format!("a Unicode noncharacter (U+{:04X})", u32::from(c)))
    } else {
        None
    }
}

/// Checks a topic name to publish on: not empty, at most [`MAX_TOPIC_BYTES`], no wildcard
/// (`+`, `#`) and no character a broker refuses. The error says what is wrong.
pub fn check_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err("the topic is empty".to_string());
    }
    if topic.len() > MAX_TOPIC_BYTES {
        return Err(format!(
            "the topic is {} bytes long; at most {MAX_TOPIC_BYTES}",
            topic.len()
        ));
    }
    if topic.contains(['+', '#']) {
        return Err("the topic contains a wildcard ('+' or '#')".to_string());
    }
    match topic.chars().find_map(bad_char) {
        Some(what) => Err(format!("the topic contains {what}")),
        None => Ok(()),
    }
}

/// Checks a client-given name that becomes one topic level (a command's `reply_to`): not empty,
/// at most [`MAX_LEVEL_BYTES`], no `/`, `+`, `#`, and nothing [`check_topic`] refuses. The error
/// completes a sentence about the name ("... is empty").
pub fn check_topic_level(level: &str) -> Result<(), String> {
    if level.is_empty() {
        return Err("is empty".to_string());
    }
    if level.len() > MAX_LEVEL_BYTES {
        return Err(format!(
            "is {} bytes long; at most {MAX_LEVEL_BYTES}",
            level.len()
        ));
    }
    if level.contains(['/', '+', '#']) {
        return Err(
            "must not contain '/', '+' or '#' (it becomes one MQTT topic level)".to_string(),
        );
    }
    match level.chars().find_map(bad_char) {
        Some(what) => Err(format!(
            "must not contain {what} (it becomes part of an MQTT topic)"
        )),
        None => Ok(()),
    }
}

/// Every native topic of an instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    pub prefix: String,
    pub control: String,
    pub data: String,
    pub waveform: String,
    pub contact: String,
    pub log: String,
    pub soh: String,
    pub status: String,
    pub events_error: String,
}

impl Topics {
    pub fn new(prefix: &str) -> Self {
        let t = |suffix: &str| format!("{prefix}/{suffix}");
        Self {
            prefix: prefix.to_string(),
            control: t("control"),
            data: t("data"),
            waveform: t("data/waveform"),
            contact: t("data/contact"),
            log: t("log"),
            soh: t("soh"),
            status: t("status"),
            events_error: t("events/error"),
        }
    }

    /// Where the reply to `requester` goes (`anonymous` when the command named none).
    pub fn response(&self, requester: Option<&str>) -> String {
        format!(
            "{}/control/response/{}",
            self.prefix,
            requester.unwrap_or("anonymous")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_follow_the_prefix() {
        let t = Topics::new("ohmpi/0001");
        assert_eq!(t.control, "ohmpi/0001/control");
        assert_eq!(t.waveform, "ohmpi/0001/data/waveform");
        assert_eq!(t.events_error, "ohmpi/0001/events/error");
        assert_eq!(
            t.response(Some("dash-7")),
            "ohmpi/0001/control/response/dash-7"
        );
        assert_eq!(t.response(None), "ohmpi/0001/control/response/anonymous");
    }

    #[test]
    fn noncharacters() {
        for c in [
            '\u{FDD0}',
            '\u{FDEF}',
            '\u{FFFE}',
            '\u{FFFF}',
            '\u{1FFFE}',
            '\u{1FFFF}',
            '\u{10FFFF}',
        ] {
            assert!(is_noncharacter(c), "{c:?}");
        }
        for c in [
            'a',
            'é',
            '\u{FDCF}',
            '\u{FDF0}',
            '\u{FFFD}',
            '\u{1F600}',
            '\u{10FFFD}',
        ] {
            assert!(!is_noncharacter(c), "{c:?}");
        }
    }

    #[test]
    fn topics_a_broker_accepts() {
        assert_eq!(check_topic("ohmpi/0001/control/response/dash-7"), Ok(()));
        assert_eq!(check_topic("ohmpi/é/données"), Ok(()));
        for bad in [
            "",
            "a/+/b",
            "a/#",
            "a\0b",
            "a\nb",
            "a\u{7f}",
            "a\u{85}",
            "x/\u{FFFF}",
            "x/\u{FDD0}",
            "x/\u{1FFFE}",
        ] {
            assert!(check_topic(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_topic(&"a".repeat(MAX_TOPIC_BYTES)).is_ok());
        assert!(check_topic(&"a".repeat(MAX_TOPIC_BYTES + 1)).is_err());
        assert_eq!(
            check_topic("r/\u{FFFF}").unwrap_err(),
            "the topic contains a Unicode noncharacter (U+FFFF)"
        );
    }

    #[test]
    fn levels() {
        assert_eq!(check_topic_level("dashboard-7"), Ok(()));
        assert_eq!(check_topic_level(&"é".repeat(64)), Ok(()));
        assert!(check_topic_level(&"é".repeat(65))
            .unwrap_err()
            .contains("130 bytes"));
        for bad in ["", "a/b", "+", "#", "a\tb", "a\u{FFFF}", "\u{FDD0}", "\0"] {
            assert!(check_topic_level(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_topic_level("a\u{FFFF}")
            .unwrap_err()
            .contains("noncharacter (U+FFFF)"));
    }
}
