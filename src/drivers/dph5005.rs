//! DPH5005 / DPS5005 programmable power supply over Modbus RTU (19200 8N1, slave 1 by default).
//!
//! Owns the Modbus client of one supply: it names the holding registers, converts volts, amps
//! and watts to the supply's fixed-point units and checks ranges before any I/O. It never decides
//! when to power the injection: that is the caller's job.

use std::time::{Duration, Instant};

use super::modbus::{self, Client, Serial};

/// U-SET: voltage set point, V × 100.
pub const U_SET: u16 = 0x00;
/// I-SET: current limit, A × 1000.
pub const I_SET: u16 = 0x01;
/// UOUT: measured output voltage, V × 100.
pub const UOUT: u16 = 0x02;
/// IOUT: measured output current, A × 1000.
pub const IOUT: u16 = 0x03;
/// UIN: input (battery) voltage, V × 100.
pub const UIN: u16 = 0x05;
/// ONOFF: 1 = output on.
pub const ONOFF: u16 = 0x09;
/// M0 preset U-SET, V × 100.
pub const M0_U_SET: u16 = 0x50;
/// M0 preset I-SET, A × 1000.
pub const M0_I_SET: u16 = 0x51;
/// S-OVP: over-voltage protection, V × 100.
pub const S_OVP: u16 = 0x52;
/// S-OCP: over-current protection, A × 1000.
pub const S_OCP: u16 = 0x53;
/// S-OPP: over-power protection, W × 10.
pub const S_OPP: u16 = 0x54;

/// Highest settable voltage, V.
pub const MAX_VOLTS: f64 = 50.99;
/// Highest settable current, A.
pub const MAX_AMPS: f64 = 5.1;
/// Highest settable power, W.
pub const MAX_WATTS: f64 = 255.0;
/// How close UOUT must come to U-SET for the output to count as settled, V.
pub const SETTLED_WITHIN_VOLTS: f64 = 1.0;
/// Pause between two UOUT reads while waiting for the output to settle.
pub const SETTLE_POLL: Duration = Duration::from_millis(50);

/// What went wrong with the supply.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Modbus exchange failed.
    #[error("DPH5005: {0}")]
    Modbus(#[from] modbus::Error),
    /// A value outside what the supply accepts; nothing was sent.
    #[error("DPH5005 {field} = {value} out of range {min}..={max}")]
    OutOfRange {
        field: &'static str,
        value: f64,
        min: f64,
        max: f64,
    },
    /// UOUT did not come within 1 V of the target in time.
    #[error(
        "DPH5005 output at {last_volts} V, not within 1 V of {target_volts} V after {waited:?}"
    )]
    NotSettled {
        target_volts: f64,
        last_volts: f64,
        waited: Duration,
    },
}

/// Protection limits and the M0 preset written by [`Dph5005::apply_settings`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// M0 preset voltage (the value the supply starts with), V.
    pub preset_volts: f64,
    /// M0 preset current limit, A.
    pub preset_amps: f64,
    /// Over-voltage protection, V (≤ 50.99).
    pub ovp_volts: f64,
    /// Over-current protection, A.
    pub ocp_amps: f64,
    /// Over-power protection, W.
    pub opp_watts: f64,
}

/// One DPH5005 / DPS5005 on a Modbus line.
pub struct Dph5005<S: Serial> {
    bus: Client<S>,
    slave: u8,
}

/// `value × scale` rounded, after checking `0..=max`.
fn fixed(field: &'static str, value: f64, max: f64, scale: f64) -> Result<u16, Error> {
    if !(0.0..=max).contains(&value) {
        return Err(Error::OutOfRange {
            field,
            value,
            min: 0.0,
            max,
        });
    }
    // In range, so the product fits in u16 (50.99 × 100, 5.1 × 1000, 255 × 10).
    Ok((value * scale).round() as u16)
}

impl<S: Serial> Dph5005<S> {
    /// A supply at Modbus address `slave`, each reply awaited at most `timeout`.
    pub fn new(serial: S, slave: u8, timeout: Duration) -> Self {
        Self {
            bus: Client::new(serial, timeout),
            slave,
        }
    }

    /// Gives the transport back.
    pub fn destroy(self) -> S {
        self.bus.destroy()
    }

    fn write(&mut self, reg: u16, value: u16) -> Result<(), Error> {
        Ok(self.bus.write_single(self.slave, reg, value)?)
    }

    fn read(&mut self, reg: u16) -> Result<u16, Error> {
        Ok(self.bus.read_holding(self.slave, reg, 1)?[0])
    }

    /// Sets U-SET, in volts (0..=50.99, resolution 0.01 V).
    pub fn set_voltage(&mut self, volts: f64) -> Result<(), Error> {
        let raw = fixed("voltage", volts, MAX_VOLTS, 100.0)?;
        self.write(U_SET, raw)
    }

    /// Sets I-SET, in amps (0..=5.1, resolution 1 mA).
    pub fn set_current_limit(&mut self, amps: f64) -> Result<(), Error> {
        let raw = fixed("current limit", amps, MAX_AMPS, 1000.0)?;
        self.write(I_SET, raw)
    }

    /// Switches the output on or off (ONOFF).
    pub fn output(&mut self, on: bool) -> Result<(), Error> {
        self.write(ONOFF, u16::from(on))
    }

    /// The measured output voltage (UOUT), V.
    pub fn read_output_voltage(&mut self) -> Result<f64, Error> {
        Ok(f64::from(self.read(UOUT)?) / 100.0)
    }

    /// The measured output current (IOUT), A.
    pub fn read_output_current(&mut self) -> Result<f64, Error> {
        Ok(f64::from(self.read(IOUT)?) / 1000.0)
    }

    /// The input voltage (UIN), that is the battery's, V.
    pub fn read_input_voltage(&mut self) -> Result<f64, Error> {
        Ok(f64::from(self.read(UIN)?) / 100.0)
    }

    /// Writes the M0 preset and the protection registers; every value is checked before the first
    /// write.
    pub fn apply_settings(&mut self, s: &Settings) -> Result<(), Error> {
        let writes = [
            (
                M0_U_SET,
                fixed("preset voltage", s.preset_volts, MAX_VOLTS, 100.0)?,
            ),
            (
                M0_I_SET,
                fixed("preset current", s.preset_amps, MAX_AMPS, 1000.0)?,
            ),
            (
                S_OVP,
                fixed("over-voltage protection", s.ovp_volts, MAX_VOLTS, 100.0)?,
            ),
            (
                S_OCP,
                fixed("over-current protection", s.ocp_amps, MAX_AMPS, 1000.0)?,
            ),
            (
                S_OPP,
                fixed("over-power protection", s.opp_watts, MAX_WATTS, 10.0)?,
            ),
        ];
        for (reg, raw) in writes {
            self.write(reg, raw)?;
        }
        Ok(())
    }

    /// Sets U-SET, then reads UOUT until it is within 1 V of `volts` or `max_wait` has passed
    /// (at least one read; one every [`SETTLE_POLL`]). Returns the last UOUT.
    pub fn set_voltage_settled(&mut self, volts: f64, max_wait: Duration) -> Result<f64, Error> {
        self.set_voltage(volts)?;
        let start = Instant::now();
        let max_reads = 1 + max_wait.as_millis() / SETTLE_POLL.as_millis();
        let mut last = f64::NAN;
        for _ in 0..max_reads {
            last = self.read_output_voltage()?;
            if (last - volts).abs() <= SETTLED_WITHIN_VOLTS {
                return Ok(last);
            }
            if start.elapsed() + SETTLE_POLL > max_wait {
                break;
            }
            std::thread::sleep(SETTLE_POLL);
        }
        Err(Error::NotSettled {
            target_volts: volts,
            last_volts: last,
            waited: start.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests;
