//! The I2C buses of a preset and the chips expected on them, compared with a scan of each bus.

use std::collections::BTreeSet;

use super::{access, Check};
use crate::hardware::boards::mux::expanders_of;
use crate::hardware::preset::{MuxModel, MuxSpec, Preset};
use crate::rpi;

/// A chip the preset puts on a bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedChip {
    pub bus: u8,
    /// 7-bit I2C address.
    pub address: u8,
    /// Part number: MCP23008, MCP23017, ADS1115, TCA9548A.
    pub chip: &'static str,
    /// What it does, for the report.
    pub role: String,
    /// (TCA9548A address, channel) in front of the chip: such a chip is not visible to a plain
    /// scan of the bus.
    pub behind: Option<(u8, u8)>,
}

/// Every chip of the system, measurement board first, then each mux board in preset order
/// (its TCA9548A, if any, before its expanders).
pub fn expected_chips(preset: &Preset) -> Vec<ExpectedChip> {
    let b = &preset.measurement_board;
    let direct = |address, chip, role: &str| ExpectedChip {
        bus: b.i2c_bus,
        address,
        chip,
        role: format!("measurement board: {role}"),
        behind: None,
    };
    let mut chips = vec![direct(b.tx_mcp_address, "MCP23008", "TX relays and LEDs")];
    if let Some(address) = b.rx_mcp_address {
        chips.push(direct(address, "MCP23008", "RX gain switch (DG411)"));
    }
    chips.push(direct(b.tx_adc_address, "ADS1115", "injected current"));
    chips.push(direct(b.rx_adc_address, "ADS1115", "Vmn"));
    for (i, spec) in preset.mux.iter().enumerate() {
        let board = mux_label(i, spec);
        if let Some(address) = spec.tca_address {
            chips.push(ExpectedChip {
                bus: spec.i2c_bus,
                address,
                chip: "TCA9548A",
                role: format!("{board}: I2C switch"),
                behind: None,
            });
        }
        for (k, expander) in expanders_of(spec).into_iter().enumerate() {
            let role = match expander.tca {
                Some((_, channel)) => format!("{board}: relays {k} (TCA channel {channel})"),
                None => format!("{board}: relays {k}"),
            };
            chips.push(ExpectedChip {
                bus: spec.i2c_bus,
                address: expander.mcp,
                chip: "MCP23017",
                role,
                behind: expander.tca,
            });
        }
    }
    chips
}

fn mux_label(i: usize, spec: &MuxSpec) -> String {
    let model = match spec.model {
        MuxModel::Mux2023 => "mux_2023",
        MuxModel::Mux2024 => "mux_2024",
    };
    let roles: Vec<String> = spec.roles.iter().map(|r| r.to_string()).collect();
    format!(
        "mux {} ({model}, electrodes {}-{}, {})",
        i + 1,
        spec.electrodes[0],
        spec.electrodes[1],
        roles.join("")
    )
}

/// The buses the preset uses, in order.
pub fn buses(preset: &Preset) -> BTreeSet<u8> {
    std::iter::once(preset.measurement_board.i2c_bus)
        .chain(preset.mux.iter().map(|m| m.i2c_bus))
        .collect()
}

/// `i2c-N` and `chips-N` for every bus of the preset; both skipped with `skipped` as the reason
/// when given.
pub fn bus_checks(preset: &Preset, skipped: Option<&str>) -> Vec<Check> {
    let all = expected_chips(preset);
    let mut checks = Vec::new();
    for bus in buses(preset) {
        let (device, chips) = (format!("i2c-{bus}"), format!("chips-{bus}"));
        if let Some(reason) = skipped {
            checks.push(Check::skip(&device, reason));
            checks.push(Check::skip(&chips, reason));
            continue;
        }
        let path = rpi::device_path(bus);
        let device_check = access::device(
            &device,
            &path,
            "i2c",
            &format!("I2C bus {bus}"),
            &rpi::enable_i2c_fix(bus),
        );
        if device_check.status != super::Status::Ok {
            checks.push(device_check);
            checks.push(Check::skip(
                &chips,
                format!("{} is not usable", path.display()),
            ));
            continue;
        }
        match rpi::open_i2c(bus) {
            Ok(mut handle) => {
                checks.push(device_check);
                let found = rpi::scan(&mut handle);
                let expected: Vec<ExpectedChip> =
                    all.iter().filter(|c| c.bus == bus).cloned().collect();
                checks.push(compare_scan(&chips, &expected, &found, &preset.name));
            }
            Err(e) => {
                checks.push(Check::fail(
                    &device,
                    e.to_string(),
                    rpi::enable_i2c_fix(bus),
                ));
                checks.push(Check::skip(
                    &chips,
                    format!("{} is not usable", path.display()),
                ));
            }
        }
    }
    checks
}

/// Compares a scan with the chips expected on that bus: a missing chip fails, an address nobody
/// expects warns. Chips behind a TCA9548A channel cannot be seen by a plain scan (unless a channel
/// was left open); only their TCA9548A is looked for.
pub fn compare_scan(name: &str, expected: &[ExpectedChip], found: &[u8], preset: &str) -> Check {
    let visible: Vec<&ExpectedChip> = expected.iter().filter(|c| c.behind.is_none()).collect();
    let hidden = expected.len() - visible.len();
    let describe = |c: &ExpectedChip| format!("{:#04x} {} ({})", c.address, c.chip, c.role);
    let missing: Vec<String> = visible
        .iter()
        .filter(|c| !found.contains(&c.address))
        .map(|c| describe(c))
        .collect();
    // A chip behind a TCA9548A shows through a channel left open: not a stranger.
    let unexpected: Vec<String> = found
        .iter()
        .filter(|a| !expected.iter().any(|c| c.address == **a))
        .map(|a| format!("{a:#04x}"))
        .collect();
    let mut detail = format!(
        "{} of {} expected chips answer",
        visible.len() - missing.len(),
        visible.len()
    );
    if hidden > 0 {
        detail.push_str(&format!(
            "; {hidden} behind TCA9548A channels are not visible to a bus scan (their TCA9548A \
             is checked)"
        ));
    }
    if !missing.is_empty() {
        detail.push_str(&format!("; missing: {}", missing.join(", ")));
    }
    if !unexpected.is_empty() {
        detail.push_str(&format!("; not in the preset: {}", unexpected.join(", ")));
    }
    if !missing.is_empty() {
        Check::fail(
            name,
            detail,
            format!(
                "check the cabling and power of the boards, their address jumpers, and the \
                 addresses in the preset {preset}"
            ),
        )
    } else if !unexpected.is_empty() {
        Check::warn(
            name,
            detail,
            format!(
                "another device shares the bus, or a board is jumpered to an address the preset \
                 {preset} does not give it"
            ),
        )
    } else {
        Check::ok(name, detail)
    }
}

#[cfg(test)]
mod tests;
