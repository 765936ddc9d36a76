//! The boards themselves: opened as the daemon opens them (which resets every relay and starts
//! the converters), and, with a DPH5005, the supply powered with its relays open to read its
//! input voltage. Never while another process drives them: the bus lock says so.

use super::Check;
use crate::config::{Backend, Config};
use crate::hardware::real::{self, OpenError};
use crate::hardware::{Frontend, Preset, Supply};

/// Opens the boards of `preset` and reports; `skipped` gives the reason not to.
pub fn boards(config: &Config, preset: &Preset, skipped: Option<&str>) -> Check {
    if let Some(why) = skipped {
        return Check::skip("boards", why);
    }
    let result = match config.hardware.backend {
        Backend::Rppal => real::open_with(preset, real::open_rppal_bus).map(exercise),
        Backend::Linux => real::open_with(preset, real::open_linux_bus).map(exercise),
    };
    match result {
        Ok(detail) => Check::ok("boards", detail),
        Err(OpenError::InUse { path }) => Check::warn(
            "boards",
            format!("{path} is in use by another ohmpi process: the boards were not touched"),
            "stop the daemon (sudo systemctl stop ohmpi) to let ohmpi doctor check the boards",
        ),
        Err(e) => Check::fail(
            "boards",
            e.to_string(),
            "check the cabling, the jumpers and the addresses in the preset (see the chips checks)",
        ),
    }
}

/// Every relay is open once the system is open; with a DPH5005, power it and read its input.
fn exercise<F: Frontend>(mut system: F) -> String {
    let mut detail = "every chip answered; every relay reset (open), injection off".to_string();
    if system.info().supply == Supply::Adjustable {
        let info = system.info().clone();
        let supply = (|| {
            system.set_power(true)?;
            std::thread::sleep(info.timings.power_up);
            system.set_vab(info.limits.vab_min_v)?;
            Ok::<_, crate::hardware::FrontendError>(system.health().battery_v)
        })();
        detail += &match supply {
            Ok(Some(v)) => format!("; the DPH5005 answers, input (battery) {v:.2} V"),
            Ok(None) => "; the DPH5005 answers but gives no input voltage".to_string(),
            Err(e) => format!("; the DPH5005 does not answer once powered ({e})"),
        };
    }
    let _ = system.reset();
    detail
}
