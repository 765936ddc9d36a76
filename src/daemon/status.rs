//! The retained `status` message: lifecycle, acquisition state and survey progress.

use serde::Serialize;

use crate::acquisition::EngineState;

/// Progress of the survey under way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SurveyProgress {
    pub id: Option<String>,
    pub done: u32,
    pub total: u32,
    pub started: String,
    pub eta_s: Option<f64>,
    /// Survey number within a monitoring run (from 1) and how many the run makes.
    pub index: u32,
    pub surveys: u32,
}

/// The status message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub online: bool,
    pub state: &'static str,
    pub version: &'static str,
    pub hardware: String,
    pub simulated: bool,
    pub capabilities: Vec<&'static str>,
    pub survey: Option<SurveyProgress>,
    pub since: String,
    /// How long the engine has been waiting for the storage to take its records \[s\] (a slow
    /// or stuck SD card: measuring holds between quadrupoles, the current off); null when not.
    pub storage_wait_s: Option<f64>,
}

impl Status {
    pub fn new(hardware: String, simulated: bool, capabilities: Vec<&'static str>) -> Self {
        Self {
            online: true,
            state: EngineState::Idle.as_str(),
            version: env!("CARGO_PKG_VERSION"),
            hardware,
            simulated,
            capabilities,
            survey: None,
            since: crate::timestamp::rfc3339(std::time::SystemTime::now()),
            storage_wait_s: None,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// The last will: what the broker publishes if the daemon vanishes.
    pub fn offline_json(&self) -> String {
        let mut s = self.clone();
        s.online = false;
        s.state = "offline";
        s.survey = None;
        s.to_json()
    }
}
