//! MCP23017: 16-bit I2C GPIO expander, driven here as sixteen push-pull outputs.
//!
//! OhmPi's multiplexer boards switch their electrode relays with MCP23017s (pairs on the
//! mux_2024 boards). This module knows only the chip: which pin means which electrode belongs to
//! the board code.
//!
//! Pins 0–7 are port A, pins 8–15 port B. The driver assumes the register layout after reset
//! (IOCON.BANK = 0: A and B registers interleaved, each B register right after its A register)
//! and sequential addressing (IOCON.SEQOP = 0: the register pointer advances after each byte), and
//! never changes IOCON. That lets one write `[OLATA, a, b]` set both ports at once.
//!
//! The driver keeps a copy of the output latches it last wrote. [`Mcp23017::set_pin`] changes one
//! bit of that copy and writes only the port that holds the pin — one bus write, never a
//! read-modify-write. The cache only changes once the write succeeded.

use embedded_hal::i2c::I2c;

pub use super::mcp23008::Error;

/// Register addresses with IOCON.BANK = 0 (datasheet DS20001952, table 3-5).
pub mod reg {
    /// I/O direction port A, 1 = input (reset 0xFF).
    pub const IODIRA: u8 = 0x00;
    /// I/O direction port B.
    pub const IODIRB: u8 = 0x01;
    /// Input polarity port A.
    pub const IPOLA: u8 = 0x02;
    /// Input polarity port B.
    pub const IPOLB: u8 = 0x03;
    /// Interrupt-on-change enable port A.
    pub const GPINTENA: u8 = 0x04;
    /// Interrupt-on-change enable port B.
    pub const GPINTENB: u8 = 0x05;
    /// Default compare value port A.
    pub const DEFVALA: u8 = 0x06;
    /// Default compare value port B.
    pub const DEFVALB: u8 = 0x07;
    /// Interrupt control port A.
    pub const INTCONA: u8 = 0x08;
    /// Interrupt control port B.
    pub const INTCONB: u8 = 0x09;
    /// Configuration (one register, mirrored at 0x0B).
    pub const IOCON: u8 = 0x0A;
    /// Pull-up enable port A.
    pub const GPPUA: u8 = 0x0C;
    /// Pull-up enable port B.
    pub const GPPUB: u8 = 0x0D;
    /// Interrupt flags port A.
    pub const INTFA: u8 = 0x0E;
    /// Interrupt flags port B.
    pub const INTFB: u8 = 0x0F;
    /// Interrupt capture port A.
    pub const INTCAPA: u8 = 0x10;
    /// Interrupt capture port B.
    pub const INTCAPB: u8 = 0x11;
    /// Port A value (reading gives the pin levels).
    pub const GPIOA: u8 = 0x12;
    /// Port B value.
    pub const GPIOB: u8 = 0x13;
    /// Output latch port A.
    pub const OLATA: u8 = 0x14;
    /// Output latch port B.
    pub const OLATB: u8 = 0x15;
}

/// Number of GPIO pins.
pub const PINS: u8 = 16;

/// An MCP23017 at one I2C address, its pins used as outputs.
#[derive(Debug)]
pub struct Mcp23017<I2C> {
    i2c: I2C,
    address: u8,
    olat: u16,
}

impl<I2C: I2c> Mcp23017<I2C> {
    /// A driver for the chip at `address` (7-bit, 0x20–0x27). Touches no bus; the output cache
    /// starts at 0, which matches the chip only after [`Self::init_outputs`].
    pub fn new(i2c: I2C, address: u8) -> Self {
        Self {
            i2c,
            address,
            olat: 0,
        }
    }

    /// Gives the bus back.
    pub fn destroy(self) -> I2C {
        self.i2c
    }

    /// The chip's I2C address.
    pub fn address(&self) -> u8 {
        self.address
    }

    /// Makes all sixteen pins outputs driven low: `[IODIRA, 0x00, 0x00]` then
    /// `[OLATA, 0x00, 0x00]`, each a sequential write covering both ports.
    ///
    /// The latches are written after the direction; at reset they are already 0, so the pins go
    /// from high impedance to low without a glitch high.
    pub fn init_outputs(&mut self) -> Result<(), Error<I2C::Error>> {
        self.write(&[reg::IODIRA, 0x00, 0x00])?;
        self.write(&[reg::OLATA, 0x00, 0x00])?;
        self.olat = 0;
        Ok(())
    }

    /// Writes all sixteen outputs at once (bit n = pin n) in one write `[OLATA, low, high]`.
    pub fn write_outputs(&mut self, value: u16) -> Result<(), Error<I2C::Error>> {
        let [low, high] = value.to_le_bytes();
        self.write(&[reg::OLATA, low, high])?;
        self.olat = value;
        Ok(())
    }

    /// Drives every output low (one write of both latches).
    pub fn all_off(&mut self) -> Result<(), Error<I2C::Error>> {
        self.write_outputs(0)
    }

    /// Drives one pin high or low, writing only the cached latch byte of its port (no bus read).
    pub fn set_pin(&mut self, pin: u8, high: bool) -> Result<(), Error<I2C::Error>> {
        if pin >= PINS {
            return Err(Error::InvalidPin(pin));
        }
        let mask = 1u16 << pin;
        let value = if high {
            self.olat | mask
        } else {
            self.olat & !mask
        };
        let [low, high_byte] = value.to_le_bytes();
        if pin < 8 {
            self.write(&[reg::OLATA, low])?;
        } else {
            self.write(&[reg::OLATB, high_byte])?;
        }
        self.olat = value;
        Ok(())
    }

    /// The output latches as last written successfully (bit n = pin n; port A in the low byte).
    pub fn outputs(&self) -> u16 {
        self.olat
    }

    /// Reads the pin levels of both ports (sequential read of GPIOA then GPIOB).
    pub fn read_gpio(&mut self) -> Result<u16, Error<I2C::Error>> {
        let mut buf = [0u8; 2];
        self.i2c
            .write_read(self.address, &[reg::GPIOA], &mut buf)
            .map_err(Error::I2c)?;
        Ok(u16::from_le_bytes(buf))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Error<I2C::Error>> {
        self.i2c.write(self.address, bytes).map_err(Error::I2c)
    }
}

#[cfg(test)]
mod tests;
