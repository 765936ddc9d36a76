//! Measurement board mb_2023_0_X: polarity relays on one MCP23008, two ADS1115 with auto gain.
//!
//! TX MCP23008 (0x20): pin 0 / pin 1 polarity relays, nothing else (the battery feeds the board
//! directly: no power relays, no discharge). TX ADS1115 (0x48) reads the current-sense amplifier
//! (gain 50 over r_shunt) on A0; RX ADS1115 (0x49) reads Vmn differentially on A0 − A1 through a
//! 1/2.5 divider with an inverted sign: Vmn = −V × 2.5 × 1000 − bias.
//!
//! Both converters run continuously at 860 SPS; their ranges (PGA) are chosen by the caller with
//! [`Mb2023::set_gains`], from the peaks of the previous pulse ([`gains_for`]). Pure bus work: no
//! waiting. Like the other boards it holds the bus, creates a driver per operation and keeps its
//! own copy of what it last wrote, changed only after a successful write.

use embedded_hal::i2c::I2c;

use super::{BoardError, Interlock};
use crate::drivers::ads1115::{auto_gain_for, raw_to_volts, Ads1115, Channel, DataRate, Gain};
use crate::drivers::mcp23008::Mcp23008;
use crate::hardware::frontend::Polarity;

/// Gain of the TX current amplifier (shunt voltage × 50 at A0).
pub const IAB_AMPLIFIER_GAIN: f64 = 50.0;
/// Divider ratio of the RX input.
pub const VMN_DIVIDER: f64 = 2.5;

/// I2C addresses of the board's chips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mb2023Addresses {
    pub tx_mcp: u8,
    pub tx_adc: u8,
    pub rx_adc: u8,
}

impl Default for Mb2023Addresses {
    fn default() -> Self {
        Self {
            tx_mcp: 0x20,
            tx_adc: 0x48,
            rx_adc: 0x49,
        }
    }
}

/// The mb_2023_0_X measurement board on one I2C bus.
#[derive(Debug)]
pub struct Mb2023<I2C> {
    i2c: I2C,
    addresses: Mb2023Addresses,
    polarity: Polarity,
    tx_gain: Gain,
    rx_gain: Gain,
}

/// The TX MCP23008 byte for a polarity (pin 0 for +, pin 1 for −).
pub fn tx_byte(polarity: Polarity) -> u8 {
    match polarity {
        Polarity::Off => 0,
        Polarity::Positive => 0b01,
        Polarity::Negative => 0b10,
    }
}

/// Current in mA from a TX code at `gain` and the shunt in Ω.
pub fn iab_ma(raw: i16, gain: Gain, r_shunt: f64) -> f64 {
    raw_to_volts(raw, gain) * 1000.0 / (IAB_AMPLIFIER_GAIN * r_shunt)
}

/// Vmn in mV from an RX code at `gain` and the bias in mV.
pub fn vmn_mv(raw: i16, gain: Gain, bias_mv: f64) -> f64 {
    -raw_to_volts(raw, gain) * VMN_DIVIDER * 1000.0 - bias_mv
}

/// A code at the end of the converter's range: the input is at or beyond full scale.
pub fn at_full_scale(raw: i16) -> bool {
    raw >= i16::MAX - 1 || raw <= i16::MIN + 1
}

/// Converter ranges for the next pulse from the largest |Iab| (mA) and |Vmn| (mV) of the last
/// one: the narrowest range that holds each with the auto-gain headroom.
pub fn gains_for(peak_iab_ma: f64, peak_vmn_mv: f64, r_shunt: f64) -> (Gain, Gain) {
    let tx_volts = peak_iab_ma * IAB_AMPLIFIER_GAIN * r_shunt / 1000.0;
    let rx_volts = peak_vmn_mv / (VMN_DIVIDER * 1000.0);
    (auto_gain_for(tx_volts), auto_gain_for(rx_volts))
}

impl<I2C: I2c> Mb2023<I2C> {
    /// Takes the bus; does no I/O. Both converters are taken as on their widest range.
    pub fn new(i2c: I2C, addresses: Mb2023Addresses) -> Self {
        Self {
            i2c,
            addresses,
            polarity: Polarity::Off,
            tx_gain: Gain::Fsr6144,
            rx_gain: Gain::Fsr6144,
        }
    }

    /// Gives the bus back.
    pub fn destroy(self) -> I2C {
        self.i2c
    }

    pub fn addresses(&self) -> Mb2023Addresses {
        self.addresses
    }

    pub fn polarity(&self) -> Polarity {
        self.polarity
    }

    /// Ranges (TX, RX) as last written.
    pub fn gains(&self) -> (Gain, Gain) {
        (self.tx_gain, self.rx_gain)
    }

    /// TX MCP23008 drives eight outputs low, both converters start on their widest range.
    pub fn init(&mut self) -> Result<(), BoardError<I2C::Error>> {
        let tx = self.addresses.tx_mcp;
        Mcp23008::new(&mut self.i2c, tx)
            .init_outputs()
            .map_err(|source| BoardError::Mcp {
                address: tx,
                source,
            })?;
        self.polarity = Polarity::Off;
        self.start(self.addresses.tx_adc, Channel::Single0, Gain::Fsr6144)?;
        self.tx_gain = Gain::Fsr6144;
        self.start(self.addresses.rx_adc, Channel::Diff01, Gain::Fsr6144)?;
        self.rx_gain = Gain::Fsr6144;
        Ok(())
    }

    /// Sets the polarity relays: one write. A direct + to − change is refused without a write.
    pub fn set_polarity(&mut self, polarity: Polarity) -> Result<(), BoardError<I2C::Error>> {
        if matches!(
            (self.polarity, polarity),
            (Polarity::Positive, Polarity::Negative) | (Polarity::Negative, Polarity::Positive)
        ) {
            return Err(BoardError::Interlock(Interlock::PolarityReversal));
        }
        let tx = self.addresses.tx_mcp;
        Mcp23008::new(&mut self.i2c, tx)
            .write_outputs(tx_byte(polarity))
            .map_err(|source| BoardError::Mcp {
                address: tx,
                source,
            })?;
        self.polarity = polarity;
        Ok(())
    }

    /// Rewrites the configuration of each converter whose range changes (none if both stay);
    /// refused while injecting, so no reading mixes two ranges.
    pub fn set_gains(&mut self, tx: Gain, rx: Gain) -> Result<(), BoardError<I2C::Error>> {
        if (tx != self.tx_gain || rx != self.rx_gain) && self.polarity != Polarity::Off {
            return Err(BoardError::Interlock(Interlock::GainWhileInjecting));
        }
        if tx != self.tx_gain {
            self.start(self.addresses.tx_adc, Channel::Single0, tx)?;
            self.tx_gain = tx;
        }
        if rx != self.rx_gain {
            self.start(self.addresses.rx_adc, Channel::Diff01, rx)?;
            self.rx_gain = rx;
        }
        Ok(())
    }

    /// The latest TX conversion: (current in mA, at full scale).
    pub fn read_iab(&mut self, r_shunt: f64) -> Result<(f64, bool), BoardError<I2C::Error>> {
        let raw = self.read_raw(self.addresses.tx_adc)?;
        Ok((iab_ma(raw, self.tx_gain, r_shunt), at_full_scale(raw)))
    }

    /// The latest RX conversion: (Vmn in mV, at full scale).
    pub fn read_vmn(&mut self, bias_mv: f64) -> Result<(f64, bool), BoardError<I2C::Error>> {
        let raw = self.read_raw(self.addresses.rx_adc)?;
        Ok((vmn_mv(raw, self.rx_gain, bias_mv), at_full_scale(raw)))
    }

    /// Polarity relays off (one write).
    pub fn reset(&mut self) -> Result<(), BoardError<I2C::Error>> {
        let tx = self.addresses.tx_mcp;
        Mcp23008::new(&mut self.i2c, tx)
            .write_outputs(0)
            .map_err(|source| BoardError::Mcp {
                address: tx,
                source,
            })?;
        self.polarity = Polarity::Off;
        Ok(())
    }

    fn start(
        &mut self,
        address: u8,
        channel: Channel,
        gain: Gain,
    ) -> Result<(), BoardError<I2C::Error>> {
        Ads1115::new(&mut self.i2c, address)
            .start_continuous(channel, gain, DataRate::Sps860)
            .map_err(|source| BoardError::Adc { address, source })
    }

    fn read_raw(&mut self, address: u8) -> Result<i16, BoardError<I2C::Error>> {
        Ads1115::new(&mut self.i2c, address)
            .read_raw()
            .map_err(|source| BoardError::Adc { address, source })
    }
}

#[cfg(test)]
mod tests;
