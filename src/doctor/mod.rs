//! `ohmpi doctor`: is this machine ready to run the instrument?
//!
//! A list of checks, each with a status (ok, warn, fail, skip), what was found, and how to fix it
//! when it is not ok: the platform, the preset, the I2C buses and the chips the preset expects on
//! them, the supply's serial port, the data directory, the broker, the clock and the real-time
//! rights. Checks only look: the data-directory probe file is removed again, the broker
//! connection is closed cleanly, the real-time trial runs on a thread of its own. Nothing here
//! panics on what the system answers, and the broker check is bounded in time.
//!
//! Off a Raspberry Pi, or with `hardware.simulate = true`, the hardware checks are skipped with
//! the reason; with `hardware.simulate = false` off a Pi the platform check fails.

mod access;
mod boards;
mod broker;
mod chips;
mod system;

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::config::Config;
use crate::hardware::Preset;

pub use broker::check_broker;
pub use chips::{compare_scan, expected_chips, ExpectedChip};
pub use system::{space_status, FAIL_FREE_BYTES, WARN_FREE_BYTES};

/// How long the broker has to answer.
pub const BROKER_TIMEOUT: Duration = Duration::from_secs(3);

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not checked here (the reason is in the detail).
    Skip,
    Ok,
    /// Works, but not as it should on a deployed instrument.
    Warn,
    /// Stops the instrument from working.
    Fail,
}

impl Status {
    /// A four-character marker for the human report.
    pub fn marker(self) -> &'static str {
        match self {
            Status::Ok => " ok ",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

/// One check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// A short stable name (`platform`, `i2c-1`, `chips-4`, `broker`, ...).
    pub name: String,
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// How to fix it, when the status is warn or fail.
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Ok, detail, None)
    }

    pub fn skip(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Skip, detail, None)
    }

    pub fn warn(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check::new(name, Status::Warn, detail, Some(fix.into()))
    }

    pub fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check::new(name, Status::Fail, detail, Some(fix.into()))
    }

    fn new(
        name: impl Into<String>,
        status: Status,
        detail: impl Into<String>,
        fix: Option<String>,
    ) -> Check {
        Check {
            name: name.into(),
            status,
            detail: detail.into(),
            fix,
        }
    }
}

/// All the checks (the `--json` output).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// No check failed (warnings allowed).
    pub ok: bool,
    /// Whether this machine is a Raspberry Pi.
    pub raspberry_pi: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(raspberry_pi: bool, checks: Vec<Check>) -> Report {
        Report {
            ok: checks.iter().all(|c| c.status != Status::Fail),
            raspberry_pi,
            checks,
        }
    }

    /// The report for a person: one line per check, the fix below a warning or a failure, and
    /// a summary.
    pub fn to_text(&self) -> String {
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for c in &self.checks {
            let _ = writeln!(
                out,
                "[{}] {:width$}  {}",
                c.status.marker(),
                c.name,
                c.detail
            );
            if let (Status::Warn | Status::Fail, Some(fix)) = (c.status, &c.fix) {
                let _ = writeln!(out, "       {:width$}  fix: {fix}", "");
            }
        }
        let count = |s: Status| self.checks.iter().filter(|c| c.status == s).count();
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let (fails, warns, skips) = (
            count(Status::Fail),
            count(Status::Warn),
            count(Status::Skip),
        );
        let _ = writeln!(
            out,
            "{}: {}, {}, {} skipped",
            if self.ok { "ready" } else { "not ready" },
            plural(fails, "failure"),
            plural(warns, "warning"),
            skips
        );
        out
    }
}

/// Runs every check against `config`.
pub fn run(config: &Config) -> Report {
    let model = crate::rpi::model();
    let pi = model.is_ok();
    let simulate = config.hardware.simulate;
    let mut platform = system::platform(&model, simulate);
    if !pi && !simulate && config.hardware.backend == crate::config::Backend::Linux {
        // The kernel's I2C devices need no Raspberry Pi: the boards check says whether they work.
        platform = Check::ok(
            "platform",
            "not a Raspberry Pi; hardware.backend = \"linux\" drives the boards through the \
             kernel's /dev/i2c-N devices",
        );
    }
    let mut checks = vec![config_check(config), platform];
    match Preset::load(&config.hardware.system, &config.hardware.presets_dirs) {
        Ok(preset) => {
            checks.push(Check::ok(
                "preset",
                format!("{}: {}", preset.name, preset.description),
            ));
            let hardware_skipped = if simulate {
                Some("hardware.simulate = true: the simulator stands in for the boards")
            } else if !pi {
                Some("not a Raspberry Pi")
            } else {
                None
            };
            checks.extend(chips::bus_checks(&preset, hardware_skipped));
            checks.push(access::supply(&preset.power, hardware_skipped));
            let boards_skipped = match (simulate, config.hardware.backend) {
                (true, _) => hardware_skipped,
                // The kernel's devices work on any Linux machine.
                (false, crate::config::Backend::Linux) => None,
                (false, crate::config::Backend::Rppal) => hardware_skipped,
            };
            checks.push(boards::boards(config, &preset, boards_skipped));
        }
        Err(e) => checks.push(Check::fail(
            "preset",
            e.to_string(),
            "set hardware.system to a built-in preset or to a preset file",
        )),
    }
    checks.push(system::data_dir(&config.instrument.data_dir));
    checks.push(check_broker(&config.mqtt, BROKER_TIMEOUT));
    checks.push(system::clock());
    checks.push(system::realtime(config.acquisition.rt_priority));
    Report::new(pi, checks)
}

/// The report when the configuration itself could not be read: that one failed check.
pub fn config_failed(error: &dyn std::error::Error) -> Report {
    Report::new(
        crate::rpi::model().is_ok(),
        vec![Check::fail(
            "config",
            error.to_string(),
            "correct the configuration (ohmpi.example.toml documents every key)",
        )],
    )
}

fn config_check(config: &Config) -> Check {
    let mode = if config.hardware.simulate {
        "simulator"
    } else {
        "real boards"
    };
    let detail = match &config.source {
        Some(path) => format!("{} ({mode})", path.display()),
        None => format!("no configuration file: built-in defaults ({mode})"),
    };
    Check::ok("config", detail)
}

#[cfg(test)]
mod tests;
