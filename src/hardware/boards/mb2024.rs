//! Measurement board mb_2024_1_X: TX and RX logic on one I2C bus.
//!
//! TX MCP23008 (0x21): pins 0/1 polarity relays, pins 2 and 3 power relays, pin 4 run LED, pin 5
//! supply-discharge relay, pin 6 stack LED (on during each injection). RX MCP23008 (0x27): DG411
//! gain switch. TX ADS1115 (0x48) reads the shunt voltage, RX ADS1115 (0x49) reads Vmn.
//!
//! Pure bus work: no waiting. Relay activation/release and discharge times are the caller's job.
//! Like [`super::mux::MuxBank`], the board holds the bus and creates a driver per operation; it
//! keeps its own copy of both expanders' output bytes, changed only after a successful write.

use embedded_hal::i2c::I2c;

use super::{BoardError, Interlock};
use crate::drivers::ads1115::{raw_to_volts, Ads1115, Channel, DataRate, Gain};
use crate::drivers::mcp23008::Mcp23008;
use crate::hardware::frontend::Polarity;

/// TX MCP23008 pins.
pub mod tx_pin {
    /// Polarity relay, high for + (A to B).
    pub const POL_POSITIVE: u8 = 0;
    /// Polarity relay, high for − (B to A).
    pub const POL_NEGATIVE: u8 = 1;
    /// Power relays (both switched together).
    pub const POWER_1: u8 = 2;
    pub const POWER_2: u8 = 3;
    /// Run LED, on with the power.
    pub const RUN_LED: u8 = 4;
    /// Supply-discharge relay (mb_2024_1_X).
    pub const DISCHARGE: u8 = 5;
    /// Stack LED, on during each injection.
    pub const STACK_LED: u8 = 6;
}

/// TX bits of the power relays and the run LED.
const POWER_BITS: u8 = (1 << tx_pin::POWER_1) | (1 << tx_pin::POWER_2) | (1 << tx_pin::RUN_LED);

/// PGA of both ADS1115 (fixed on this board).
pub const ADC_GAIN: Gain = Gain::Fsr6144;
/// Offset of the RX input (2.5 V reference), mV.
pub const VMN_OFFSET_MV: f64 = 2500.0;
/// Gain of the TX current amplifier (shunt voltage × 50 at A0).
pub const IAB_AMPLIFIER_GAIN: f64 = 50.0;
/// Converter inputs at or beyond these are at the end of the 0–5 V analogue range.
pub const RAIL_LOW_V: f64 = 0.02;
pub const RAIL_HIGH_V: f64 = 4.98;
/// Largest |Vmn| (mV) of a pulse for which the next pulse may use DG411 gain 1 (the input
/// then spans 2500 ± 2000 mV, clear of both rails).
pub const GAIN_ONE_BELOW_MV: f64 = 2000.0;

/// The DG411 gain for the next pulse from the largest |Vmn| of the last one.
pub fn gain_for(peak_vmn_mv: f64) -> Dg411Gain {
    if peak_vmn_mv < GAIN_ONE_BELOW_MV {
        Dg411Gain::One
    } else {
        Dg411Gain::Half
    }
}

/// I2C addresses of the board's chips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mb2024Addresses {
    pub tx_mcp: u8,
    pub rx_mcp: u8,
    pub tx_adc: u8,
    pub rx_adc: u8,
}

impl Default for Mb2024Addresses {
    fn default() -> Self {
        Self {
            tx_mcp: 0x21,
            rx_mcp: 0x27,
            tx_adc: 0x48,
            rx_adc: 0x49,
        }
    }
}

/// Gain of the DG411 switch in front of the RX ADS1115.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dg411Gain {
    /// Gain 1: pin0 = 1, pin1 = 0, pin2 = 1.
    One,
    /// Gain 1/2 (default): pin0 = 1, pin1 = 1, pin2 = 0.
    Half,
}

impl Dg411Gain {
    /// The gain as a factor.
    pub fn factor(self) -> f64 {
        match self {
            Self::One => 1.0,
            Self::Half => 0.5,
        }
    }

    /// The RX MCP23008 output byte for this gain.
    pub fn rx_byte(self) -> u8 {
        match self {
            Self::One => 0b101,
            Self::Half => 0b011,
        }
    }
}

/// The mb_2024_1_X measurement board on one I2C bus.
#[derive(Debug)]
pub struct Mb2024<I2C> {
    i2c: I2C,
    addresses: Mb2024Addresses,
    power: bool,
    polarity: Polarity,
    discharge: bool,
    gain: Dg411Gain,
    /// Pin 5 is the discharge relay (mb_2024_1_X), not the measure LED (mb_2024_0_2).
    discharge_relay: bool,
}

impl<I2C: I2c> Mb2024<I2C> {
    /// Takes the bus; does no I/O. The state starts as after [`Self::init`].
    pub fn new(i2c: I2C, addresses: Mb2024Addresses) -> Self {
        Self {
            i2c,
            addresses,
            power: false,
            polarity: Polarity::Off,
            discharge: false,
            gain: Dg411Gain::Half,
            discharge_relay: true,
        }
    }

    /// The same board as an mb_2024_0_2: pin 5 drives an LED, so discharge is refused.
    pub fn without_discharge_relay(mut self) -> Self {
        self.discharge_relay = false;
        self
    }

    /// Whether the board has a discharge relay (mb_2024_1_X).
    pub fn has_discharge_relay(&self) -> bool {
        self.discharge_relay
    }

    /// Gives the bus back.
    pub fn destroy(self) -> I2C {
        self.i2c
    }

    /// The chips' addresses.
    pub fn addresses(&self) -> Mb2024Addresses {
        self.addresses
    }

    /// Polarity as last written.
    pub fn polarity(&self) -> Polarity {
        self.polarity
    }

    /// Power relays as last written.
    pub fn power(&self) -> bool {
        self.power
    }

    /// Discharge relay as last written.
    pub fn discharge(&self) -> bool {
        self.discharge
    }

    /// DG411 gain as last written.
    pub fn gain(&self) -> Dg411Gain {
        self.gain
    }

    /// The TX output byte of the current state.
    pub fn tx_byte(&self) -> u8 {
        tx_byte(self.power, self.polarity, self.discharge)
    }

    /// Makes both MCP23008 drive eight outputs low, then sets the RX gain to 1/2 and the TX to
    /// all off.
    pub fn init(&mut self) -> Result<(), BoardError<I2C::Error>> {
        let (tx, rx) = (self.addresses.tx_mcp, self.addresses.rx_mcp);
        Mcp23008::new(&mut self.i2c, tx)
            .init_outputs()
            .map_err(|source| BoardError::Mcp {
                address: tx,
                source,
            })?;
        Mcp23008::new(&mut self.i2c, rx)
            .init_outputs()
            .map_err(|source| BoardError::Mcp {
                address: rx,
                source,
            })?;
        self.set_gain(Dg411Gain::Half)?;
        self.write_tx(false, Polarity::Off, false)
    }

    /// Switches the power relays (pins 2, 3) and the run LED (pin 4) together; one write.
    pub fn set_power(&mut self, on: bool) -> Result<(), BoardError<I2C::Error>> {
        self.write_tx(on, self.polarity, self.discharge)
    }

    /// Sets the polarity relays and the stack LED in one write of the TX byte.
    ///
    /// A direct change from + to − (or − to +) is refused without any write, as is injecting
    /// while the discharge relay is closed.
    pub fn set_polarity(&mut self, polarity: Polarity) -> Result<(), BoardError<I2C::Error>> {
        let reversal = matches!(
            (self.polarity, polarity),
            (Polarity::Positive, Polarity::Negative) | (Polarity::Negative, Polarity::Positive)
        );
        if reversal {
            return Err(BoardError::Interlock(Interlock::PolarityReversal));
        }
        if polarity != Polarity::Off && self.discharge {
            return Err(BoardError::Interlock(Interlock::InjectWhileDischarging));
        }
        self.write_tx(self.power, polarity, self.discharge)
    }

    /// Switches the discharge relay (pin 5). Closing it is refused without any write while the
    /// polarity is not Off; opening it is always allowed.
    pub fn set_discharge(&mut self, on: bool) -> Result<(), BoardError<I2C::Error>> {
        if on && !self.discharge_relay {
            return Err(BoardError::Interlock(Interlock::NoDischargeRelay));
        }
        if on && self.polarity != Polarity::Off {
            return Err(BoardError::Interlock(Interlock::DischargeWhileInjecting));
        }
        self.write_tx(self.power, self.polarity, on)
    }

    /// Sets the DG411 gain: one write to the RX MCP23008.
    pub fn set_gain(&mut self, gain: Dg411Gain) -> Result<(), BoardError<I2C::Error>> {
        let rx = self.addresses.rx_mcp;
        Mcp23008::new(&mut self.i2c, rx)
            .write_outputs(gain.rx_byte())
            .map_err(|source| BoardError::Mcp {
                address: rx,
                source,
            })?;
        self.gain = gain;
        Ok(())
    }

    /// Starts both ADS1115 in continuous mode: A0 single-ended, ±6.144 V, 860 SPS.
    pub fn start_converters(&mut self) -> Result<(), BoardError<I2C::Error>> {
        for address in [self.addresses.tx_adc, self.addresses.rx_adc] {
            Ads1115::new(&mut self.i2c, address)
                .start_continuous(Channel::Single0, ADC_GAIN, DataRate::Sps860)
                .map_err(|source| BoardError::Adc { address, source })?;
        }
        Ok(())
    }

    /// Injected current in mA: V_A0 × 1000 / (50 × r_shunt), r_shunt in Ω.
    pub fn read_iab_ma(&mut self, r_shunt: f64) -> Result<f64, BoardError<I2C::Error>> {
        Ok(self.read_iab(r_shunt)?.0)
    }

    /// Vmn in mV: (V_A0 × 1000 − 2500) / DG411 gain − bias_mv.
    pub fn read_vmn_mv(&mut self, bias_mv: f64) -> Result<f64, BoardError<I2C::Error>> {
        Ok(self.read_vmn(bias_mv)?.0)
    }

    /// The latest TX conversion: (current in mA, the amplifier at the end of its range).
    pub fn read_iab(&mut self, r_shunt: f64) -> Result<(f64, bool), BoardError<I2C::Error>> {
        let raw = self.read_raw(self.addresses.tx_adc)?;
        let volts = raw_to_volts(raw, ADC_GAIN);
        Ok((iab_ma(raw, r_shunt), volts >= RAIL_HIGH_V))
    }

    /// The latest RX conversion: (Vmn in mV, the input at either end of its 0–5 V range).
    pub fn read_vmn(&mut self, bias_mv: f64) -> Result<(f64, bool), BoardError<I2C::Error>> {
        let raw = self.read_raw(self.addresses.rx_adc)?;
        let volts = raw_to_volts(raw, ADC_GAIN);
        let railed = !(RAIL_LOW_V..RAIL_HIGH_V).contains(&volts);
        Ok((vmn_mv(raw, self.gain, bias_mv), railed))
    }

    /// Everything off: TX byte 0 (polarity off, power off, discharge off, LEDs off), then RX gain
    /// 1/2. Tries both writes even if the first fails and returns the first error.
    pub fn reset(&mut self) -> Result<(), BoardError<I2C::Error>> {
        let tx = self.write_tx(false, Polarity::Off, false);
        let rx = self.set_gain(Dg411Gain::Half);
        tx.and(rx)
    }

    fn read_raw(&mut self, address: u8) -> Result<i16, BoardError<I2C::Error>> {
        Ads1115::new(&mut self.i2c, address)
            .read_raw()
            .map_err(|source| BoardError::Adc { address, source })
    }

    fn write_tx(
        &mut self,
        power: bool,
        polarity: Polarity,
        discharge: bool,
    ) -> Result<(), BoardError<I2C::Error>> {
        let tx = self.addresses.tx_mcp;
        Mcp23008::new(&mut self.i2c, tx)
            .write_outputs(tx_byte(power, polarity, discharge))
            .map_err(|source| BoardError::Mcp {
                address: tx,
                source,
            })?;
        self.power = power;
        self.polarity = polarity;
        self.discharge = discharge;
        Ok(())
    }
}

/// The TX MCP23008 byte for a state: polarity on pins 0/1 with the stack LED (pin 6) while
/// injecting, power relays and run LED on pins 2–4, discharge on pin 5.
pub fn tx_byte(power: bool, polarity: Polarity, discharge: bool) -> u8 {
    let stack = 1 << tx_pin::STACK_LED;
    let mut byte = match polarity {
        Polarity::Off => 0,
        Polarity::Positive => (1 << tx_pin::POL_POSITIVE) | stack,
        Polarity::Negative => (1 << tx_pin::POL_NEGATIVE) | stack,
    };
    if power {
        byte |= POWER_BITS;
    }
    if discharge {
        byte |= 1 << tx_pin::DISCHARGE;
    }
    byte
}

/// Current in mA from a TX ADS1115 code (±6.144 V) and the shunt in Ω.
pub fn iab_ma(raw: i16, r_shunt: f64) -> f64 {
    raw_to_volts(raw, ADC_GAIN) * 1000.0 / (IAB_AMPLIFIER_GAIN * r_shunt)
}

/// Vmn in mV from an RX ADS1115 code (±6.144 V), the DG411 gain and the bias in mV.
pub fn vmn_mv(raw: i16, gain: Dg411Gain, bias_mv: f64) -> f64 {
    (raw_to_volts(raw, ADC_GAIN) * 1000.0 - VMN_OFFSET_MV) / gain.factor() - bias_mv
}

#[cfg(test)]
mod tests;
