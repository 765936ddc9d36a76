//! MCP23008: 8-bit I2C GPIO expander, driven here as eight push-pull outputs.
//!
//! OhmPi uses it on the TX board (polarity relays on pins 0/1, power relays 2/3, LEDs, discharge
//! relay on pin 5) and on the RX board (DG411 gain switch at 0x27). This module knows only the chip:
//! which pin means what belongs to the board code.
//!
//! The driver keeps a copy of the output latch (OLAT) it last wrote. [`Mcp23008::set_pin`] changes
//! one bit of that copy and writes the whole byte, so switching a relay is one bus write and never a
//! read-modify-write. The cache only changes once the write succeeded; after a bus error the chip
//! may differ from the cache, and [`Mcp23008::write_outputs`] or [`Mcp23008::init_outputs`]
//! restores a known state.

use embedded_hal::i2c::I2c;

/// Register addresses (datasheet DS21919, table 1-3).
pub mod reg {
    /// I/O direction, 1 = input (reset 0xFF).
    pub const IODIR: u8 = 0x00;
    /// Input polarity.
    pub const IPOL: u8 = 0x01;
    /// Interrupt-on-change enable.
    pub const GPINTEN: u8 = 0x02;
    /// Default compare value for interrupt-on-change.
    pub const DEFVAL: u8 = 0x03;
    /// Interrupt control.
    pub const INTCON: u8 = 0x04;
    /// Configuration.
    pub const IOCON: u8 = 0x05;
    /// Pull-up enable.
    pub const GPPU: u8 = 0x06;
    /// Interrupt flags.
    pub const INTF: u8 = 0x07;
    /// Interrupt capture.
    pub const INTCAP: u8 = 0x08;
    /// Port value (reading gives the pin levels).
    pub const GPIO: u8 = 0x09;
    /// Output latch.
    pub const OLAT: u8 = 0x0A;
}

/// Number of GPIO pins.
pub const PINS: u8 = 8;

/// Errors of the MCP230xx drivers, generic over the I2C bus error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error<E> {
    /// The I2C transaction failed.
    #[error("I2C bus error: {0:?}")]
    I2c(E),
    /// The pin number is beyond the chip's pins (0–7 on the MCP23008, 0–15 on the MCP23017).
    #[error("invalid pin {0}")]
    InvalidPin(u8),
}

/// An MCP23008 at one I2C address, its pins used as outputs.
#[derive(Debug)]
pub struct Mcp23008<I2C> {
    i2c: I2C,
    address: u8,
    olat: u8,
}

impl<I2C: I2c> Mcp23008<I2C> {
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

    /// Makes every pin an output driven low: IODIR = 0x00, then OLAT = 0x00.
    ///
    /// The latch is written after the direction; at reset the latch is already 0, so the pins go
    /// from high impedance to low without a glitch high.
    pub fn init_outputs(&mut self) -> Result<(), Error<I2C::Error>> {
        self.write_reg(reg::IODIR, 0x00)?;
        self.write_reg(reg::OLAT, 0x00)?;
        self.olat = 0;
        Ok(())
    }

    /// Writes all eight outputs at once (bit n = pin n).
    pub fn write_outputs(&mut self, value: u8) -> Result<(), Error<I2C::Error>> {
        self.write_reg(reg::OLAT, value)?;
        self.olat = value;
        Ok(())
    }

    /// Drives one pin high or low, writing the whole cached latch byte (no bus read).
    pub fn set_pin(&mut self, pin: u8, high: bool) -> Result<(), Error<I2C::Error>> {
        if pin >= PINS {
            return Err(Error::InvalidPin(pin));
        }
        let mask = 1u8 << pin;
        let value = if high {
            self.olat | mask
        } else {
            self.olat & !mask
        };
        self.write_outputs(value)
    }

    /// The output latch as last written successfully (bit n = pin n).
    pub fn outputs(&self) -> u8 {
        self.olat
    }

    /// Reads the pin levels (GPIO register).
    pub fn read_gpio(&mut self) -> Result<u8, Error<I2C::Error>> {
        let mut buf = [0u8];
        self.i2c
            .write_read(self.address, &[reg::GPIO], &mut buf)
            .map_err(Error::I2c)?;
        Ok(buf[0])
    }

    fn write_reg(&mut self, register: u8, value: u8) -> Result<(), Error<I2C::Error>> {
        self.i2c
            .write(self.address, &[register, value])
            .map_err(Error::I2c)
    }
}

#[cfg(test)]
mod tests;
