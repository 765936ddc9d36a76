use super::*;
use embedded_hal::i2c::ErrorKind;
use embedded_hal_mock::eh1::i2c::{Mock, Transaction};

const ADDR: u8 = 0x21;

#[test]
fn init_outputs_writes_direction_then_latch() {
    let mut i2c = Mock::new(&[
        Transaction::write(ADDR, vec![0x00, 0x00]),
        Transaction::write(ADDR, vec![0x0A, 0x00]),
    ]);
    let mut mcp = Mcp23008::new(&mut i2c, ADDR);
    mcp.init_outputs().unwrap();
    assert_eq!(mcp.outputs(), 0);
    i2c.done();
}

#[test]
fn init_outputs_clears_the_cache() {
    let mut i2c = Mock::new(&[
        Transaction::write(ADDR, vec![0x0A, 0xA5]),
        Transaction::write(ADDR, vec![0x00, 0x00]),
        Transaction::write(ADDR, vec![0x0A, 0x00]),
    ]);
    let mut mcp = Mcp23008::new(&mut i2c, ADDR);
    mcp.write_outputs(0xA5).unwrap();
    mcp.init_outputs().unwrap();
    assert_eq!(mcp.outputs(), 0);
    i2c.done();
}

#[test]
fn write_outputs_is_one_latch_write() {
    let mut i2c = Mock::new(&[Transaction::write(0x27, vec![0x0A, 0b0000_0101])]);
    let mut mcp = Mcp23008::new(&mut i2c, 0x27);
    mcp.write_outputs(0b0000_0101).unwrap();
    assert_eq!(mcp.outputs(), 0b0000_0101);
    i2c.done();
}

#[test]
fn set_pin_accumulates_in_the_cache() {
    let mut i2c = Mock::new(&[
        Transaction::write(ADDR, vec![0x0A, 0b0000_0001]),
        Transaction::write(ADDR, vec![0x0A, 0b0000_0101]),
        Transaction::write(ADDR, vec![0x0A, 0b1000_0101]),
        Transaction::write(ADDR, vec![0x0A, 0b1000_0100]),
    ]);
    let mut mcp = Mcp23008::new(&mut i2c, ADDR);
    mcp.set_pin(0, true).unwrap();
    mcp.set_pin(2, true).unwrap();
    mcp.set_pin(7, true).unwrap();
    mcp.set_pin(0, false).unwrap();
    assert_eq!(mcp.outputs(), 0b1000_0100);
    i2c.done();
}

#[test]
fn set_pin_starts_from_written_outputs() {
    let mut i2c = Mock::new(&[
        Transaction::write(ADDR, vec![0x0A, 0xF0]),
        Transaction::write(ADDR, vec![0x0A, 0xE0]),
    ]);
    let mut mcp = Mcp23008::new(&mut i2c, ADDR);
    mcp.write_outputs(0xF0).unwrap();
    mcp.set_pin(4, false).unwrap();
    i2c.done();
}

#[test]
fn set_pin_out_of_range_touches_no_bus() {
    let mut i2c = Mock::new(&[]);
    let mut mcp = Mcp23008::new(&mut i2c, ADDR);
    assert_eq!(mcp.set_pin(8, true), Err(Error::InvalidPin(8)));
    assert_eq!(mcp.set_pin(255, false), Err(Error::InvalidPin(255)));
    assert_eq!(mcp.outputs(), 0);
    i2c.done();
}

#[test]
fn read_gpio_reads_the_port_register() {
    let mut i2c = Mock::new(&[Transaction::write_read(ADDR, vec![0x09], vec![0x5A])]);
    let mut mcp = Mcp23008::new(&mut i2c, ADDR);
    assert_eq!(mcp.read_gpio().unwrap(), 0x5A);
    i2c.done();
}

#[test]
fn bus_error_propagates_and_keeps_the_cache() {
    let mut i2c = Mock::new(&[
        Transaction::write(ADDR, vec![0x0A, 0b0000_0001]),
        Transaction::write(ADDR, vec![0x0A, 0b0000_0011]).with_error(ErrorKind::Other),
    ]);
    let mut mcp = Mcp23008::new(&mut i2c, ADDR);
    mcp.set_pin(0, true).unwrap();
    assert_eq!(mcp.set_pin(1, true), Err(Error::I2c(ErrorKind::Other)));
    assert_eq!(mcp.outputs(), 0b0000_0001);
    i2c.done();
}

#[test]
fn init_stops_at_the_first_bus_error() {
    let mut i2c =
        Mock::new(&[Transaction::write(ADDR, vec![0x00, 0x00]).with_error(ErrorKind::Other)]);
    let mut mcp = Mcp23008::new(&mut i2c, ADDR);
    assert_eq!(mcp.init_outputs(), Err(Error::I2c(ErrorKind::Other)));
    i2c.done();
}

#[test]
fn read_error_propagates() {
    let mut i2c = Mock::new(&[
        Transaction::write_read(ADDR, vec![0x09], vec![0x00]).with_error(ErrorKind::Other)
    ]);
    let mut mcp = Mcp23008::new(&mut i2c, ADDR);
    assert_eq!(mcp.read_gpio(), Err(Error::I2c(ErrorKind::Other)));
    i2c.done();
}

#[test]
fn destroy_returns_the_bus() {
    let i2c = Mock::new(&[]);
    let mcp = Mcp23008::new(i2c, ADDR);
    assert_eq!(mcp.address(), ADDR);
    let mut i2c = mcp.destroy();
    i2c.done();
}

#[test]
fn errors_display() {
    let e: Error<ErrorKind> = Error::InvalidPin(9);
    assert_eq!(e.to_string(), "invalid pin 9");
    let e: Error<ErrorKind> = Error::I2c(ErrorKind::Other);
    assert_eq!(e.to_string(), "I2C bus error: Other");
}
