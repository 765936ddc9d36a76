//! Opening the real boards of a preset: its I2C buses through the chosen backend, the supply's
//! serial port, then the [`BoardSystem`] on top.
//!
//! Buses are shared with embedded-hal-bus: the measurement board and the multiplexers get a
//! [`MutexDevice`] each, on one bus when the preset puts them on the same bus number (mb_2023
//! with mux_2023 on bus 1), on two otherwise. A bus is opened once per process and lives as
//! long as it (its mutex is leaked), so the devices can move into the acquisition thread.

use std::path::Path;
use std::sync::Mutex;

use embedded_hal::i2c::I2c;
use embedded_hal_bus::i2c::MutexDevice;

use super::boards::system::BoardSystem;
use super::preset::{PowerModel, Preset};
use super::FrontendError;
use crate::config::Backend;
use crate::drivers::tty::open_serial;

/// A shared I2C bus of the backend `B`.
pub type SharedBus<B> = MutexDevice<'static, B>;

/// The boards of a preset on the buses of backend `B`, the supply on a serial port.
pub type RealSystem<B> = BoardSystem<SharedBus<B>, SharedBus<B>, std::fs::File>;

/// Why the real boards could not be opened. Each message says what to check.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("I2C bus {bus} ({path}): {cause}")]
    Bus {
        bus: u8,
        path: String,
        cause: String,
    },
    #[error(
        "power supply serial port {path}: {cause}; check that the DPH5005's USB adapter is \
         plugged in, that power.serial_port names it, and that this user is in group dialout"
    )]
    Serial { path: String, cause: std::io::Error },
    #[error("the preset names a DPH5005 supply but no power.serial_port")]
    NoSerialPort,
    #[error(
        "{path} is in use by another ohmpi process (the daemon?): only one may drive the \
         boards; stop it first (sudo systemctl stop ohmpi) or send it commands over MQTT \
         (ohmpi ctl)"
    )]
    InUse { path: String },
    #[error(
        "the boards do not answer as the preset says ({0}); check the cabling, the jumpers \
         and the addresses in the preset, or run `ohmpi doctor`"
    )]
    Boards(FrontendError),
}

/// Opens each bus the preset uses once, with `open_bus`, and builds the system on them.
pub fn open_with<B, F>(preset: &Preset, mut open_bus: F) -> Result<RealSystem<B>, OpenError>
where
    B: I2c + Send + 'static,
    F: FnMut(u8) -> Result<B, OpenError>,
{
    let board_bus = preset.measurement_board.i2c_bus;
    let mux_bus = preset.mux.first().map_or(board_bus, |m| m.i2c_bus);
    if let Some(m) = preset.mux.iter().find(|m| m.i2c_bus != mux_bus) {
        return Err(OpenError::Bus {
            bus: m.i2c_bus,
            path: format!("/dev/i2c-{}", m.i2c_bus),
            cause: format!(
                "all multiplexer boards must be on one bus; this preset uses buses {mux_bus} and {}",
                m.i2c_bus
            ),
        });
    }
    let leak = |bus: B| -> &'static Mutex<B> { Box::leak(Box::new(Mutex::new(bus))) };
    let board = leak(open_bus(board_bus)?);
    let mux = if mux_bus == board_bus {
        board
    } else {
        leak(open_bus(mux_bus)?)
    };
    let serial = match preset.power.model {
        PowerModel::Battery => None,
        PowerModel::Dph5005 => {
            let path = preset
                .power
                .serial_port
                .as_deref()
                .ok_or(OpenError::NoSerialPort)?;
            let baud = preset.power.baud.unwrap_or(19200);
            Some(
                open_serial(Path::new(path), baud).map_err(|cause| OpenError::Serial {
                    path: path.to_string(),
                    cause,
                })?,
            )
        }
    };
    BoardSystem::open(
        preset,
        MutexDevice::new(board),
        MutexDevice::new(mux),
        serial,
    )
    .map_err(OpenError::Boards)
}

/// Takes the exclusive lock of an instrument device (flock on the device node) for the rest of
/// the process: two processes driving the same relays would fight over them.
pub fn lock_device(path: &Path) -> Result<(), OpenError> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path).map_err(|e| OpenError::Bus {
        bus: 0,
        path: path.display().to_string(),
        cause: e.to_string(),
    })?;
    // SAFETY: flock on a descriptor we own; no memory is passed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        return Err(if e.kind() == std::io::ErrorKind::WouldBlock {
            OpenError::InUse {
                path: path.display().to_string(),
            }
        } else {
            OpenError::Bus {
                bus: 0,
                path: path.display().to_string(),
                cause: format!("cannot lock it: {e}"),
            }
        });
    }
    // Held until the process ends, like the bus itself.
    std::mem::forget(file);
    Ok(())
}

/// Locks `/dev/i2c-<bus>` for this process, then opens it with `open`.
fn locked<B>(bus: u8, open: impl FnOnce() -> Result<B, OpenError>) -> Result<B, OpenError> {
    let path = crate::rpi::device_path(bus);
    if path.exists() {
        lock_device(&path).map_err(|e| match e {
            OpenError::Bus { path, cause, .. } => OpenError::Bus { bus, path, cause },
            other => other,
        })?;
    }
    open()
}

/// Opens I2C bus `bus` through rppal (backend "rppal", on a Raspberry Pi).
pub fn open_rppal_bus(bus: u8) -> Result<crate::rpi::Bus, OpenError> {
    locked(bus, || open_rppal_unlocked(bus))
}

fn open_rppal_unlocked(bus: u8) -> Result<crate::rpi::Bus, OpenError> {
    crate::rpi::open_i2c(bus).map_err(|e| OpenError::Bus {
        bus,
        path: crate::rpi::device_path(bus).display().to_string(),
        cause: e.to_string(),
    })
}

/// Opens `/dev/i2c-<bus>` through the kernel's character device (backend "linux").
pub fn open_linux_bus(bus: u8) -> Result<linux_embedded_hal::I2cdev, OpenError> {
    locked(bus, || open_linux_unlocked(bus))
}

fn open_linux_unlocked(bus: u8) -> Result<linux_embedded_hal::I2cdev, OpenError> {
    let path = crate::rpi::device_path(bus);
    linux_embedded_hal::I2cdev::new(&path).map_err(|e| {
        let text = e.to_string();
        let denied = text.to_lowercase().contains("permission denied");
        let fix = if denied {
            "add this user to group i2c (sudo usermod -aG i2c $USER, then log in again)".to_string()
        } else {
            crate::rpi::enable_i2c_fix(bus)
        };
        OpenError::Bus {
            bus,
            path: path.display().to_string(),
            cause: format!("{text}; {fix}"),
        }
    })
}

/// Which backend a configuration names, for messages.
pub fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Rppal => "rppal",
        Backend::Linux => "linux",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_process_cannot_take_the_boards() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i2c-1");
        std::fs::write(&path, b"").unwrap();
        // flock locks belong to open file descriptions: a second open in this process stands
        // for another process.
        lock_device(&path).unwrap();
        let e = lock_device(&path).unwrap_err();
        assert!(matches!(e, OpenError::InUse { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("i2c-1") && text.contains("another ohmpi process"),
            "{text}"
        );
    }
}
