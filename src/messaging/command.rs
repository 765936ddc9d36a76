//! Commands: the JSON requests clients send, parsed and checked into typed [`Command`]s.
//!
//! This module owns the command vocabulary of the protocol (names, aliases, arguments and their
//! limits) and [`parse`], which turns one message payload into a [`Request`] or a
//! [`CommandError`] the daemon can still address a reply with. A message is checked as a whole
//! before anything acts on it: size, UTF-8, JSON shape, command name, every argument (unknown
//! ones included), every inline quadrupole ([`Quadrupole::check_safe`]) and every file name
//! ([`safe_relative_path`]).
//!
//! It must never do I/O, touch the hardware or panic, whatever the bytes: it runs on every
//! message from the network. Checks that need the instrument's state (the number of
//! electrodes, the current settings, whether a survey is running) belong to the daemon.

use std::fmt;

use super::reply::{ErrorBody, Reply};
use crate::acquisition::settings::RawSettings;
use crate::survey::generate::ArraySpec;
use crate::survey::quad::{Electrode, Quadrupole};

mod build;
mod datetime;
mod kwargs;
mod parse;
mod paths;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
mod values;

pub use datetime::parse_datetime;
pub use parse::{parse, parse_with_limit};
pub use paths::{safe_file_name, safe_relative_path};

/// The largest message [`parse`] reads (256 KiB); larger ones are refused unread.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// The most quadrupoles a command may carry inline (`sequence`); larger sequences go in a file.
pub const MAX_SEQUENCE_ENTRIES: usize = 100_000;
/// The longest `cmd_id` accepted, in bytes.
pub const MAX_CMD_ID_BYTES: usize = 128;
/// The longest `reply_to` accepted, in bytes (it becomes one MQTT topic level).
pub const MAX_REPLY_TO_BYTES: usize = crate::messaging::topics::MAX_LEVEL_BYTES;

/// Every command name, in the protocol's order (the `capabilities` of the status message).
pub const COMMAND_NAMES: &[&str] = &[
    "run_measurement",
    "run_sequence",
    "run_multiple_sequences",
    "interrupt",
    "pause",
    "resume",
    "load_sequence",
    "set_sequence",
    "create_sequence",
    "update_settings",
    "get_settings",
    "get_status",
    "rs_check",
    "reset_mux",
    "test",
    "get_data",
    "list_surveys",
    "export",
    "set_time",
    "restart",
    "shutdown",
];

/// Other names accepted for a command (OhmPi's), as (alias, command).
pub const COMMAND_ALIASES: &[(&str, &str)] = &[("repeat_sequence", "run_multiple_sequences")];

/// A command with the addressing that came with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The client's `cmd_id` (a number is kept as its JSON text), or a generated one.
    pub cmd_id: String,
    /// The command name as sent (an alias stays an alias, so the reply echoes it).
    pub cmd_name: String,
    /// The requester's name: replies go to `control/response/<reply_to>`.
    pub reply_to: Option<String>,
    pub command: Command,
}

/// Why a message is not a valid command, with whatever addressing could be read before the
/// failure, so the error reply still reaches its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// The client's `cmd_id` (or the generated one, once it was known that none was given).
    pub cmd_id: Option<String>,
    /// The command name as sent (at most 64 characters are kept).
    pub cmd: Option<String>,
    pub reply_to: Option<String>,
    pub body: ErrorBody,
}

impl CommandError {
    fn bare(body: ErrorBody) -> Self {
        Self {
            cmd_id: None,
            cmd: None,
            reply_to: None,
            body,
        }
    }

    /// The error reply; `fallback_cmd_id` is called when no `cmd_id` could be read.
    pub fn to_reply(&self, fallback_cmd_id: impl FnOnce() -> String) -> Reply {
        Reply::error(
            self.cmd_id.clone().unwrap_or_else(fallback_cmd_id),
            self.cmd.clone().unwrap_or_default(),
            self.body.clone(),
        )
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cmd {
            Some(cmd) => write!(f, "{cmd}: {}", self.body),
            None => self.body.fmt(f),
        }
    }
}

impl std::error::Error for CommandError {}

/// The file formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// The instrument's own CSV.
    Ohmpi,
    /// pyGIMLi / BERT unified data format (`bert` is accepted as a name, as in OhmPi).
    Pygimli,
    /// The `protocol.dat` of R2 / ResIPy.
    Protocol,
}

impl ExportFormat {
    /// The name used in commands.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Ohmpi => "ohmpi",
            ExportFormat::Pygimli => "pygimli",
            ExportFormat::Protocol => "protocol",
        }
    }
}

/// One command, its arguments parsed and checked as far as possible without the instrument.
///
/// Settings are carried raw ([`RawSettings`]): the daemon applies them over its current settings
/// with [`crate::acquisition::settings::Settings::apply`], which checks ranges and bounds as a
/// whole. Inline quadrupoles have passed [`Quadrupole::check_safe`]; whether their electrodes
/// exist is for the daemon to check against the hardware.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Measure one quadrupole (`quad` = [a, b, m, n]) with these settings over the current ones.
    RunMeasurement {
        quad: Quadrupole,
        settings: RawSettings,
    },
    /// One survey of `sequence`, or of the loaded sequence when none is given.
    RunSequence {
        settings: RawSettings,
        sequence: Option<Vec<Quadrupole>>,
    },
    /// Monitoring: `nb_meas` surveys started `sequence_delay` seconds apart (both are settings).
    /// Also sent as `repeat_sequence`.
    RunMultipleSequences {
        settings: RawSettings,
        sequence: Option<Vec<Quadrupole>>,
    },
    /// Stop now: injection off, relays open.
    Interrupt,
    /// Pause between quadrupoles.
    Pause,
    /// Continue a paused run.
    Resume,
    /// Load a sequence file; `filename` has passed [`safe_relative_path`] and is relative to
    /// the sequences folder.
    LoadSequence { filename: String },
    /// Load a sequence given inline.
    SetSequence { sequence: Vec<Quadrupole> },
    /// Generate a sequence on `nelec` electrodes (see [`crate::survey::generate::generate`])
    /// and load it. `params` defaults to OhmPi's `[["dpdp", 1, 8]]`.
    CreateSequence {
        nelec: u16,
        specs: Vec<ArraySpec>,
        include_reciprocal: bool,
    },
    /// Change the acquisition settings and, when given, load `sequence`. Arguments come as
    /// `{"settings": {...}}` (what OhmPi's web page sends, `sequence` inside) or directly.
    UpdateSettings {
        settings: RawSettings,
        sequence: Option<Vec<Quadrupole>>,
    },
    /// The current settings.
    GetSettings,
    /// The current status.
    GetStatus,
    /// Contact resistance of consecutive electrode pairs, or of the `couple`s given, injecting
    /// `vab` volts (default 5, at most 500).
    RsCheck {
        vab: f64,
        couple: Option<Vec<(Electrode, Electrode)>>,
    },
    /// Open every relay.
    ResetMux,
    /// Self-test of the boards, all tests or the ones named.
    Test { test_names: Option<Vec<String>> },
    /// Records of stored surveys. As in OhmPi, `survey_names` lists the surveys the client
    /// already holds, which are left out (they are compared, never used as paths); `full` adds
    /// every column and the waveforms.
    GetData {
        survey_names: Option<Vec<String>>,
        full: bool,
    },
    /// The stored surveys with sizes and times.
    ListSurveys,
    /// Write an export of one stored survey; `survey` has passed [`safe_file_name`].
    Export {
        survey: String,
        format: ExportFormat,
        elec_spacing: Option<f64>,
    },
    /// Set the system clock; `date` has passed [`parse_datetime`] (kept as sent).
    SetTime { date: String },
    /// Restart the daemon's host.
    Restart,
    /// Shut the host down.
    Shutdown,
}

impl Command {
    /// The command's canonical name (an alias gives the command it stands for).
    pub fn name(&self) -> &'static str {
        match self {
            Command::RunMeasurement { .. } => "run_measurement",
            Command::RunSequence { .. } => "run_sequence",
            Command::RunMultipleSequences { .. } => "run_multiple_sequences",
            Command::Interrupt => "interrupt",
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::LoadSequence { .. } => "load_sequence",
            Command::SetSequence { .. } => "set_sequence",
            Command::CreateSequence { .. } => "create_sequence",
            Command::UpdateSettings { .. } => "update_settings",
            Command::GetSettings => "get_settings",
            Command::GetStatus => "get_status",
            Command::RsCheck { .. } => "rs_check",
            Command::ResetMux => "reset_mux",
            Command::Test { .. } => "test",
            Command::GetData { .. } => "get_data",
            Command::ListSurveys => "list_surveys",
            Command::Export { .. } => "export",
            Command::SetTime { .. } => "set_time",
            Command::Restart => "restart",
            Command::Shutdown => "shutdown",
        }
    }

    /// Whether the command is answered `accepted` at once and `done` (or `error`) at the end:
    /// the ones that drive the hardware for a while, and `export`, which may write a large file.
    /// The others are answered `done` directly.
    pub fn is_long(&self) -> bool {
        matches!(
            self,
            Command::RunMeasurement { .. }
                | Command::RunSequence { .. }
                | Command::RunMultipleSequences { .. }
                | Command::RsCheck { .. }
                | Command::Test { .. }
                | Command::Export { .. }
        )
    }

    /// Whether the command may run while a survey (or any long command) is under way; the
    /// others are answered `busy`. Allowed: the run controls (`interrupt`, `pause`, `resume`),
    /// `get_status`, and the read-only `get_settings`, `list_surveys` and `get_data` (OhmPi's
    /// web page polls `get_data` every second during a survey).
    pub fn allowed_while_running(&self) -> bool {
        matches!(
            self,
            Command::Interrupt
                | Command::Pause
                | Command::Resume
                | Command::GetStatus
                | Command::GetSettings
                | Command::ListSurveys
                | Command::GetData { .. }
        )
    }
}

/// The canonical name for `name` (a command name or an alias), if it is one.
pub fn canonical_name(name: &str) -> Option<&'static str> {
    COMMAND_NAMES
        .iter()
        .copied()
        .find(|&known| known == name)
        .or_else(|| {
            COMMAND_ALIASES
                .iter()
                .find(|(alias, _)| *alias == name)
                .map(|(_, command)| *command)
        })
}
