//! TI TCA9548A 1-to-8 I2C switch.
//!
//! Owns the switch's control register only: which downstream channel is connected. It knows
//! nothing of the boards behind each channel. The chip has a single register, written and read
//! without a pointer byte; bit n set connects channel n.

use core::fmt;
use embedded_hal::i2c::I2c;

/// Highest channel number.
pub const MAX_CHANNEL: u8 = 7;

/// Driver error, generic over the bus error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error<E> {
    /// The I2C transaction failed.
    I2c(E),
    /// Channel outside 0..=7; nothing was sent.
    InvalidChannel(u8),
}

impl<E: fmt::Debug> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::I2c(e) => write!(f, "TCA9548A I2C error: {e:?}"),
            Error::InvalidChannel(c) => {
                write!(f, "TCA9548A channel {c} out of range 0..={MAX_CHANNEL}")
            }
        }
    }
}

impl<E: fmt::Debug> std::error::Error for Error<E> {}

/// One TCA9548A at one I2C address (0x70..=0x77).
#[derive(Debug)]
pub struct Tca9548a<I2C> {
    i2c: I2C,
    address: u8,
}

impl<I2C: I2c> Tca9548a<I2C> {
    /// Takes the bus; does no I/O.
    pub fn new(i2c: I2C, address: u8) -> Self {
        Tca9548a { i2c, address }
    }

    /// Gives the bus back.
    pub fn destroy(self) -> I2C {
        self.i2c
    }

    /// The I2C address.
    pub fn address(&self) -> u8 {
        self.address
    }

    /// Connects `channel` (0..=7) alone, disconnecting the others.
    pub fn select(&mut self, channel: u8) -> Result<(), Error<I2C::Error>> {
        if channel > MAX_CHANNEL {
            return Err(Error::InvalidChannel(channel));
        }
        self.write_control(1 << channel)
    }

    /// Disconnects every channel.
    pub fn disable_all(&mut self) -> Result<(), Error<I2C::Error>> {
        self.write_control(0)
    }

    /// The control register: bit n set means channel n is connected.
    pub fn selected(&mut self) -> Result<u8, Error<I2C::Error>> {
        let mut buf = [0u8; 1];
        self.i2c.read(self.address, &mut buf).map_err(Error::I2c)?;
        Ok(buf[0])
    }

    fn write_control(&mut self, mask: u8) -> Result<(), Error<I2C::Error>> {
        self.i2c.write(self.address, &[mask]).map_err(Error::I2c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal::i2c::ErrorKind;
    use embedded_hal_mock::eh1::i2c::{Mock, Transaction as T};

    #[test]
    fn select_writes_one_bit() {
        let mut i2c = Mock::new(&[
            T::write(0x70, vec![0b0000_0001]),
            T::write(0x70, vec![0b1000_0000]),
            T::write(0x70, vec![0b0001_0000]),
        ]);
        let mut mux = Tca9548a::new(&mut i2c, 0x70);
        mux.select(0).unwrap();
        mux.select(7).unwrap();
        mux.select(4).unwrap();
        i2c.done();
    }

    #[test]
    fn select_out_of_range_touches_no_bus() {
        let mut i2c = Mock::new(&[]);
        let mut mux = Tca9548a::new(&mut i2c, 0x71);
        assert_eq!(mux.select(8), Err(Error::InvalidChannel(8)));
        i2c.done();
    }

    #[test]
    fn disable_all_and_read_back() {
        let mut i2c = Mock::new(&[
            T::write(0x73, vec![0x00]),
            T::read(0x73, vec![0x00]),
            T::write(0x73, vec![0x20]),
            T::read(0x73, vec![0x20]),
        ]);
        let mut mux = Tca9548a::new(&mut i2c, 0x73);
        mux.disable_all().unwrap();
        assert_eq!(mux.selected().unwrap(), 0);
        mux.select(5).unwrap();
        assert_eq!(mux.selected().unwrap(), 0x20);
        i2c.done();
    }

    #[test]
    fn bus_error_is_wrapped() {
        let mut i2c = Mock::new(&[T::write(0x70, vec![0x40]).with_error(ErrorKind::Other)]);
        let mut mux = Tca9548a::new(&mut i2c, 0x70);
        assert_eq!(mux.select(6), Err(Error::I2c(ErrorKind::Other)));
        i2c.done();
    }

    #[test]
    fn destroy_returns_the_bus() {
        let i2c = Mock::new(&[]);
        let mux = Tca9548a::new(i2c, 0x70);
        mux.destroy().done();
    }
}
