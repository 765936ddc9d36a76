use super::*;
use embedded_hal::i2c::ErrorKind;
use embedded_hal_mock::eh1::i2c::{Mock, Transaction};

const ADDR: u8 = 0x20;

#[test]
fn init_outputs_writes_both_directions_then_both_latches() {
    let mut i2c = Mock::new(&[
        Transaction::write(ADDR, vec![0x00, 0x00, 0x00]),
        Transaction::write(ADDR, vec![0x14, 0x00, 0x00]),
    ]);
    let mut mcp = Mcp23017::new(&mut i2c, ADDR);
    mcp.init_outputs().unwrap();
    assert_eq!(mcp.outputs(), 0);
    i2c.done();
}

#[test]
fn write_outputs_is_one_write_low_byte_first() {
    let mut i2c = Mock::new(&[Transaction::write(0x23, vec![0x14, 0x34, 0x12])]);
    let mut mcp = Mcp23017::new(&mut i2c, 0x23);
    mcp.write_outputs(0x1234).unwrap();
    assert_eq!(mcp.outputs(), 0x1234);
    i2c.done();
}

#[test]
fn all_off_clears_both_latches() {
    let mut i2c = Mock::new(&[
        Transaction::write(ADDR, vec![0x14, 0xFF, 0x80]),
        Transaction::write(ADDR, vec![0x14, 0x00, 0x00]),
    ]);
    let mut mcp = Mcp23017::new(&mut i2c, ADDR);
    mcp.write_outputs(0x80FF).unwrap();
    mcp.all_off().unwrap();
    assert_eq!(mcp.outputs(), 0);
    i2c.done();
}

#[test]
fn set_pin_writes_only_the_port_that_changed() {
    let mut i2c = Mock::new(&[
        Transaction::write(ADDR, vec![0x14, 0b0000_0001]),
        Transaction::write(ADDR, vec![0x15, 0b0000_0001]),
        Transaction::write(ADDR, vec![0x15, 0b1000_0001]),
        Transaction::write(ADDR, vec![0x14, 0b1000_0001]),
        Transaction::write(ADDR, vec![0x15, 0b1000_0000]),
    ]);
    let mut mcp = Mcp23017::new(&mut i2c, ADDR);
    mcp.set_pin(0, true).unwrap();
    mcp.set_pin(8, true).unwrap();
    mcp.set_pin(15, true).unwrap();
    mcp.set_pin(7, true).unwrap();
    mcp.set_pin(8, false).unwrap();
    assert_eq!(mcp.outputs(), 0b1000_0000_1000_0001);
    i2c.done();
}

#[test]
fn set_pin_starts_from_written_outputs() {
    let mut i2c = Mock::new(&[
        Transaction::write(ADDR, vec![0x14, 0x0F, 0xF0]),
        Transaction::write(ADDR, vec![0x14, 0x0E]),
        Transaction::write(ADDR, vec![0x15, 0xF8]),
    ]);
    let mut mcp = Mcp23017::new(&mut i2c, ADDR);
    mcp.write_outputs(0xF00F).unwrap();
    mcp.set_pin(0, false).unwrap();
    mcp.set_pin(11, true).unwrap();
    assert_eq!(mcp.outputs(), 0xF80E);
    i2c.done();
}

#[test]
fn set_pin_out_of_range_touches_no_bus() {
    let mut i2c = Mock::new(&[]);
    let mut mcp = Mcp23017::new(&mut i2c, ADDR);
    assert_eq!(mcp.set_pin(16, true), Err(Error::InvalidPin(16)));
    assert_eq!(mcp.set_pin(255, false), Err(Error::InvalidPin(255)));
    assert_eq!(mcp.outputs(), 0);
    i2c.done();
}

#[test]
fn read_gpio_reads_both_ports() {
    let mut i2c = Mock::new(&[Transaction::write_read(ADDR, vec![0x12], vec![0xCD, 0xAB])]);
    let mut mcp = Mcp23017::new(&mut i2c, ADDR);
    assert_eq!(mcp.read_gpio().unwrap(), 0xABCD);
    i2c.done();
}

#[test]
fn bus_error_propagates_and_keeps_the_cache() {
    let mut i2c = Mock::new(&[
        Transaction::write(ADDR, vec![0x15, 0b0000_0100]),
        Transaction::write(ADDR, vec![0x14, 0b0000_0010]).with_error(ErrorKind::Other),
        Transaction::write(ADDR, vec![0x14, 0x00, 0x00]).with_error(ErrorKind::Other),
    ]);
    let mut mcp = Mcp23017::new(&mut i2c, ADDR);
    mcp.set_pin(10, true).unwrap();
    assert_eq!(mcp.set_pin(1, true), Err(Error::I2c(ErrorKind::Other)));
    assert_eq!(mcp.all_off(), Err(Error::I2c(ErrorKind::Other)));
    assert_eq!(mcp.outputs(), 0x0400);
    i2c.done();
}

#[test]
fn init_stops_at_the_first_bus_error() {
    let mut i2c =
        Mock::new(&[Transaction::write(ADDR, vec![0x00, 0x00, 0x00]).with_error(ErrorKind::Other)]);
    let mut mcp = Mcp23017::new(&mut i2c, ADDR);
    assert_eq!(mcp.init_outputs(), Err(Error::I2c(ErrorKind::Other)));
    i2c.done();
}

#[test]
fn read_error_propagates() {
    let mut i2c =
        Mock::new(
            &[Transaction::write_read(ADDR, vec![0x12], vec![0x00, 0x00])
                .with_error(ErrorKind::Other)],
        );
    let mut mcp = Mcp23017::new(&mut i2c, ADDR);
    assert_eq!(mcp.read_gpio(), Err(Error::I2c(ErrorKind::Other)));
    i2c.done();
}

#[test]
fn destroy_returns_the_bus() {
    let i2c = Mock::new(&[]);
    let mcp = Mcp23017::new(i2c, 0x27);
    assert_eq!(mcp.address(), 0x27);
    let mut i2c = mcp.destroy();
    i2c.done();
}
