//! TI ADS1115 16-bit ADC (datasheet SBAS444) over I2C.
//!
//! Owns one converter on one bus: writes its config register and reads conversions. It knows
//! nothing of which board signal sits on which input; callers convert volts to milliamps or
//! millivolts. The comparator is always disabled (COMP_QUE = 11).

use core::fmt;
use embedded_hal::i2c::I2c;

/// Pointer register values.
pub mod register {
    /// Conversion result, 16-bit two's complement.
    pub const CONVERSION: u8 = 0x00;
    /// Configuration.
    pub const CONFIG: u8 = 0x01;
    /// Comparator low threshold (unused here).
    pub const LO_THRESH: u8 = 0x02;
    /// Comparator high threshold (unused here).
    pub const HI_THRESH: u8 = 0x03;
}

/// Config register bit fields.
pub mod config {
    /// Write 1: start a single conversion. Read 1: no conversion in progress.
    pub const OS: u16 = 1 << 15;
    /// Input multiplexer, bits 14:12.
    pub const MUX_SHIFT: u16 = 12;
    /// Programmable gain, bits 11:9.
    pub const PGA_SHIFT: u16 = 9;
    /// 1 = single-shot / power-down, 0 = continuous.
    pub const MODE_SINGLE: u16 = 1 << 8;
    /// Data rate, bits 7:5.
    pub const DR_SHIFT: u16 = 5;
    /// COMP_QUE = 11: comparator disabled, ALERT/RDY high impedance.
    pub const COMP_DISABLE: u16 = 0b11;
    /// Value after power-on reset.
    pub const RESET: u16 = 0x8583;
}

/// Polls of the OS bit [`Ads1115::single_shot`] makes before giving up, by default. At 100 kHz one
/// poll takes about 0.4 ms, so this covers an 8 SPS conversion (125 ms) with room to spare.
pub const DEFAULT_POLL_LIMIT: u32 = 1000;

/// Driver error, generic over the bus error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error<E> {
    /// The I2C transaction failed.
    I2c(E),
    /// A single-shot conversion did not finish within the poll limit.
    NotReady,
}

impl<E: fmt::Debug> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::I2c(e) => write!(f, "ADS1115 I2C error: {e:?}"),
            Error::NotReady => write!(f, "ADS1115 conversion not ready within the poll limit"),
        }
    }
}

impl<E: fmt::Debug> std::error::Error for Error<E> {}

/// Input multiplexer setting (MUX[14:12]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// AIN0 − AIN1.
    Diff01,
    /// AIN0 − AIN3.
    Diff03,
    /// AIN1 − AIN3.
    Diff13,
    /// AIN2 − AIN3.
    Diff23,
    /// AIN0 − GND.
    Single0,
    /// AIN1 − GND.
    Single1,
    /// AIN2 − GND.
    Single2,
    /// AIN3 − GND.
    Single3,
}

impl Channel {
    fn bits(self) -> u16 {
        match self {
            Channel::Diff01 => 0b000,
            Channel::Diff03 => 0b001,
            Channel::Diff13 => 0b010,
            Channel::Diff23 => 0b011,
            Channel::Single0 => 0b100,
            Channel::Single1 => 0b101,
            Channel::Single2 => 0b110,
            Channel::Single3 => 0b111,
        }
    }
}

/// Programmable gain amplifier full-scale range (PGA[11:9]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gain {
    /// ±6.144 V (inputs still limited to VDD + 0.3 V).
    Fsr6144,
    /// ±4.096 V.
    Fsr4096,
    /// ±2.048 V (reset value).
    Fsr2048,
    /// ±1.024 V.
    Fsr1024,
    /// ±0.512 V.
    Fsr0512,
    /// ±0.256 V.
    Fsr0256,
}

impl Gain {
    /// Ranges from widest to narrowest.
    pub const ALL: [Gain; 6] = [
        Gain::Fsr6144,
        Gain::Fsr4096,
        Gain::Fsr2048,
        Gain::Fsr1024,
        Gain::Fsr0512,
        Gain::Fsr0256,
    ];

    fn bits(self) -> u16 {
        match self {
            Gain::Fsr6144 => 0b000,
            Gain::Fsr4096 => 0b001,
            Gain::Fsr2048 => 0b010,
            Gain::Fsr1024 => 0b011,
            Gain::Fsr0512 => 0b100,
            Gain::Fsr0256 => 0b101,
        }
    }

    /// Full-scale voltage: a code of 32767 reads just under this.
    pub fn full_scale_v(self) -> f64 {
        match self {
            Gain::Fsr6144 => 6.144,
            Gain::Fsr4096 => 4.096,
            Gain::Fsr2048 => 2.048,
            Gain::Fsr1024 => 1.024,
            Gain::Fsr0512 => 0.512,
            Gain::Fsr0256 => 0.256,
        }
    }
}

/// Conversions per second (DR[7:5]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataRate {
    Sps8,
    Sps16,
    Sps32,
    Sps64,
    Sps128,
    Sps250,
    Sps475,
    Sps860,
}

impl DataRate {
    fn bits(self) -> u16 {
        match self {
            DataRate::Sps8 => 0b000,
            DataRate::Sps16 => 0b001,
            DataRate::Sps32 => 0b010,
            DataRate::Sps64 => 0b011,
            DataRate::Sps128 => 0b100,
            DataRate::Sps250 => 0b101,
            DataRate::Sps475 => 0b110,
            DataRate::Sps860 => 0b111,
        }
    }

    /// Samples per second.
    pub fn sps(self) -> u32 {
        match self {
            DataRate::Sps8 => 8,
            DataRate::Sps16 => 16,
            DataRate::Sps32 => 32,
            DataRate::Sps64 => 64,
            DataRate::Sps128 => 128,
            DataRate::Sps250 => 250,
            DataRate::Sps475 => 475,
            DataRate::Sps860 => 860,
        }
    }
}

/// Fraction of a range a value may use before [`auto_gain_for`] picks the next wider one.
pub const AUTO_GAIN_HEADROOM: f64 = 0.9;

/// The narrowest range whose full scale holds `|volts|` within [`AUTO_GAIN_HEADROOM`]; the widest
/// range (±6.144 V) for anything larger or not a number.
pub fn auto_gain_for(volts: f64) -> Gain {
    let v = volts.abs();
    if v.is_nan() {
        return Gain::Fsr6144;
    }
    Gain::ALL
        .iter()
        .rev()
        .copied()
        .find(|g| v <= g.full_scale_v() * AUTO_GAIN_HEADROOM)
        .unwrap_or(Gain::Fsr6144)
}

/// The config word (OS = 0, comparator disabled) for one setting.
fn config_word(channel: Channel, gain: Gain, rate: DataRate, single_shot: bool) -> u16 {
    let mode = if single_shot { config::MODE_SINGLE } else { 0 };
    (channel.bits() << config::MUX_SHIFT)
        | (gain.bits() << config::PGA_SHIFT)
        | mode
        | (rate.bits() << config::DR_SHIFT)
        | config::COMP_DISABLE
}

/// One ADS1115 at one I2C address.
#[derive(Debug)]
pub struct Ads1115<I2C> {
    i2c: I2C,
    address: u8,
    channel: Channel,
    gain: Gain,
    rate: DataRate,
    single_shot: bool,
    poll_limit: u32,
}

impl<I2C: I2c> Ads1115<I2C> {
    /// Takes the bus; does no I/O. The remembered setting is the chip's reset one (AIN0−AIN1,
    /// ±2.048 V, 128 SPS, single-shot) until a configuration is written.
    pub fn new(i2c: I2C, address: u8) -> Self {
        Ads1115 {
            i2c,
            address,
            channel: Channel::Diff01,
            gain: Gain::Fsr2048,
            rate: DataRate::Sps128,
            single_shot: true,
            poll_limit: DEFAULT_POLL_LIMIT,
        }
    }

    /// Gives the bus back.
    pub fn destroy(self) -> I2C {
        self.i2c
    }

    /// The I2C address.
    pub fn address(&self) -> u8 {
        self.address
    }

    /// The gain [`read_volts`](Self::read_volts) scales by.
    pub fn gain(&self) -> Gain {
        self.gain
    }

    /// Sets how many times [`single_shot`](Self::single_shot) polls the OS bit (at least 1).
    pub fn set_poll_limit(&mut self, polls: u32) {
        self.poll_limit = polls.max(1);
    }

    fn write_config(&mut self, word: u16) -> Result<(), Error<I2C::Error>> {
        let [hi, lo] = word.to_be_bytes();
        self.i2c
            .write(self.address, &[register::CONFIG, hi, lo])
            .map_err(Error::I2c)
    }

    fn read_register(&mut self, reg: u8) -> Result<u16, Error<I2C::Error>> {
        let mut buf = [0u8; 2];
        self.i2c
            .write_read(self.address, &[reg], &mut buf)
            .map_err(Error::I2c)?;
        Ok(u16::from_be_bytes(buf))
    }

    /// Starts continuous conversion: one write of the config register.
    pub fn start_continuous(
        &mut self,
        channel: Channel,
        gain: Gain,
        rate: DataRate,
    ) -> Result<(), Error<I2C::Error>> {
        self.write_config(config_word(channel, gain, rate, false))?;
        self.channel = channel;
        self.gain = gain;
        self.rate = rate;
        self.single_shot = false;
        Ok(())
    }

    /// Rewrites the config register with a new gain, keeping channel, rate and mode (in
    /// single-shot mode this starts no conversion).
    pub fn set_gain(&mut self, gain: Gain) -> Result<(), Error<I2C::Error>> {
        self.write_config(config_word(self.channel, gain, self.rate, self.single_shot))?;
        self.gain = gain;
        Ok(())
    }

    /// The latest conversion result.
    pub fn read_raw(&mut self) -> Result<i16, Error<I2C::Error>> {
        Ok(self.read_register(register::CONVERSION)? as i16)
    }

    /// The latest conversion in volts, scaled by the last configured gain.
    pub fn read_volts(&mut self) -> Result<f64, Error<I2C::Error>> {
        let raw = self.read_raw()?;
        Ok(raw_to_volts(raw, self.gain))
    }

    /// One conversion at the last configured data rate: writes the config with OS = 1 and
    /// MODE = 1, polls the config until OS reads 1 (at most the poll limit), then reads the result.
    pub fn single_shot(&mut self, channel: Channel, gain: Gain) -> Result<i16, Error<I2C::Error>> {
        self.write_config(config::OS | config_word(channel, gain, self.rate, true))?;
        self.channel = channel;
        self.gain = gain;
        self.single_shot = true;
        for _ in 0..self.poll_limit {
            if self.read_register(register::CONFIG)? & config::OS != 0 {
                return self.read_raw();
            }
        }
        Err(Error::NotReady)
    }
}

/// Volts for a code at a gain: LSB = FSR / 32768.
pub fn raw_to_volts(raw: i16, gain: Gain) -> f64 {
    f64::from(raw) * gain.full_scale_v() / 32768.0
}

#[cfg(test)]
mod tests;
