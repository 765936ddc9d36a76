//! The native topics of one instrument (protocol.md), under its prefix `ohmpi/<id>`.

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
}
