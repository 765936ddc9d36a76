//! Chip drivers, one module per chip. Each is generic over the embedded-hal 1.0 traits (or a
//! small serial trait), names its registers, and knows nothing of boards, the engine or MQTT.
//! [`tty`] opens the serial port the Modbus ones are reached through.

pub mod ads1115;
pub mod dph5005;
pub mod mcp23008;
pub mod mcp23017;
pub mod modbus;
pub mod tca9548a;
#[cfg(unix)]
pub mod tty;
