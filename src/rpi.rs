//! The Raspberry Pi itself: its model, its I2C buses and its CPU temperature.
//!
//! This is the only module that names `rppal` (kept replaceable: rppal is in maintenance mode).
//! rppal compiles on any Linux but only answers on a Raspberry Pi: elsewhere it reports an
//! unknown model, so nothing outside this module calls it, and what this module offers fails
//! with an error that says what to do instead. Other modules use an I2C bus as [`Bus`] through
//! `embedded_hal::i2c::I2c`.
//!
//! What to enable on the Pi (in `/boot/firmware/config.txt`, `/boot/config.txt` before Raspberry
//! Pi OS Bookworm; reboot afterwards):
//! - I2C bus 1 (GPIO 2 SDA, GPIO 3 SCL; the measurement board): `sudo raspi-config nonint
//!   do_i2c 0`, or `dtparam=i2c_arm=on`.
//! - I2C bus 4 (the mux boards of the 2024 systems): a software I2C bus on GPIO 22 (SDA) and 23
//!   (SCL), `dtoverlay=i2c-gpio,bus=4,i2c_gpio_delay_us=1,i2c_gpio_sda=22,i2c_gpio_scl=23`, as
//!   OhmPi's own installer sets it up.
//! - The user running `ohmpi` in group `i2c` (`sudo usermod -aG i2c USER`, then log in again);
//!   the systemd unit gives the daemon the group itself.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// An open I2C bus. Use it through `embedded_hal::i2c::I2c`.
pub type Bus = rppal::i2c::I2c;

/// Where the kernel reports the device-tree model of the board.
const DEVICE_TREE_MODEL: &str = "/proc/device-tree/model";
/// The CPU's thermal zone (milli-degrees C).
const CPU_THERMAL_ZONE: &str = "/sys/class/thermal/thermal_zone0/temp";

/// This machine is not a Raspberry Pi.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "this machine is not a Raspberry Pi ({found}); set hardware.simulate = true to run on the \
     simulator"
)]
pub struct NotAPi {
    /// What was found instead.
    pub found: String,
}

/// Why an I2C bus could not be opened. Each message names the bus, its device file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum RpiError {
    #[error(
        "I2C bus {bus}: {path} does not exist; {fix}",
        path = device_path(*.bus).display(),
        fix = enable_i2c_fix(*.bus)
    )]
    NoBus { bus: u8 },
    #[error(
        "I2C bus {bus}: permission denied on {path}; add the user to group i2c (sudo usermod -aG \
         i2c $USER, then log in again)",
        path = device_path(*.bus).display()
    )]
    Permission { bus: u8 },
    #[error("I2C bus {bus} ({path}): {cause}", path = device_path(*.bus).display())]
    Other { bus: u8, cause: String },
}

/// The board's model, e.g. "Raspberry Pi 4 Model B Rev 1.4".
///
/// rppal identifies the model; the device tree gives the fuller name (with the revision), and
/// names the models that came out after the rppal release in use.
pub fn model() -> Result<String, NotAPi> {
    let device_tree = device_tree_model();
    let pi_in_tree = device_tree
        .as_deref()
        .filter(|m| m.contains("Raspberry Pi"))
        .map(str::to_string);
    match rppal::system::DeviceInfo::new() {
        Ok(info) => Ok(pi_in_tree.unwrap_or_else(|| info.model().to_string())),
        Err(_) => pi_in_tree.ok_or_else(|| NotAPi {
            found: match device_tree {
                Some(m) => format!("{}, device-tree model \"{m}\"", std::env::consts::ARCH),
                None => format!(
                    "{}, no Raspberry Pi model in /proc/cpuinfo or {DEVICE_TREE_MODEL}",
                    std::env::consts::ARCH
                ),
            },
        }),
    }
}

fn device_tree_model() -> Option<String> {
    let text = std::fs::read_to_string(DEVICE_TREE_MODEL).ok()?;
    let model = text.trim_end_matches('\0').trim();
    (!model.is_empty()).then(|| model.to_string())
}

/// The device file of I2C bus `bus`.
pub fn device_path(bus: u8) -> PathBuf {
    PathBuf::from(format!("/dev/i2c-{bus}"))
}

/// How to enable I2C bus `bus` on a Raspberry Pi.
pub fn enable_i2c_fix(bus: u8) -> String {
    let config = "/boot/firmware/config.txt (/boot/config.txt before Bookworm)";
    match bus {
        1 => format!(
            "enable I2C with `sudo raspi-config nonint do_i2c 0` (or dtparam=i2c_arm=on in \
             {config}), then reboot"
        ),
        4 => format!(
            "add the mux boards' software I2C bus (SDA GPIO 22, SCL GPIO 23) to {config}: \
             dtoverlay=i2c-gpio,bus=4,i2c_gpio_delay_us=1,i2c_gpio_sda=22,i2c_gpio_scl=23 \
             then reboot"
        ),
        n => format!(
            "enable I2C bus {n} with a device-tree overlay in {config} (see \
             /boot/firmware/overlays/README), then reboot"
        ),
    }
}

/// Opens I2C bus `bus` (`/dev/i2c-<bus>`).
pub fn open_i2c(bus: u8) -> Result<Bus, RpiError> {
    rppal::i2c::I2c::with_bus(bus).map_err(|e| match e {
        rppal::i2c::Error::Io(io) => io_error(bus, &io),
        other => RpiError::Other {
            bus,
            cause: other.to_string(),
        },
    })
}

fn io_error(bus: u8, io: &std::io::Error) -> RpiError {
    match io.kind() {
        ErrorKind::NotFound => RpiError::NoBus { bus },
        ErrorKind::PermissionDenied => RpiError::Permission { bus },
        _ => RpiError::Other {
            bus,
            cause: io.to_string(),
        },
    }
}

/// The addresses on `bus` that acknowledge, probed as `i2cdetect` does by default: a one-byte
/// read at 0x30–0x37 and 0x50–0x5F (where a write could upset an EEPROM), a zero-length write
/// (SMBus quick command) elsewhere, over 0x08–0x77. An address held by a kernel driver counts as
/// present.
pub fn scan(bus: &mut Bus) -> Vec<u8> {
    let caps = bus.capabilities();
    (0x08..=0x77u8)
        .filter(|&address| {
            if let Err(e) = bus.set_slave_address(u16::from(address)) {
                // EBUSY: a kernel driver has claimed the address (i2cdetect's "UU").
                let busy = |io: &std::io::Error| io.raw_os_error() == Some(libc::EBUSY);
                return matches!(&e, rppal::i2c::Error::Io(io) if busy(io));
            }
            let read = (0x30..=0x37).contains(&address) || (0x50..=0x5F).contains(&address);
            if !read && caps.smbus_quick_command() {
                bus.smbus_quick_command(false).is_ok()
            } else if caps.smbus_receive_byte() {
                bus.smbus_receive_byte().is_ok()
            } else {
                bus.read(&mut [0u8; 1]).is_ok()
            }
        })
        .collect()
}

/// The CPU temperature in °C, `None` when the board has no thermal zone.
pub fn cpu_temperature_c() -> Option<f64> {
    // rppal has no temperature reading: the kernel's thermal zone is the source on every model.
    let text = std::fs::read_to_string(Path::new(CPU_THERMAL_ZONE)).ok()?;
    parse_thermal(&text)
}

/// °C from a thermal zone's `temp` (milli-degrees C, e.g. `"48312"`; may be negative).
pub fn parse_thermal(text: &str) -> Option<f64> {
    let milli = text.trim().parse::<f64>().ok().filter(|x| x.is_finite())?;
    Some(milli / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thermal() {
        assert_eq!(parse_thermal("48312\n"), Some(48.312));
        assert_eq!(parse_thermal("-5000"), Some(-5.0));
        assert_eq!(parse_thermal(""), None);
        assert_eq!(parse_thermal("hot"), None);
    }

    #[test]
    fn not_a_pi_says_what_to_do() {
        if crate::config::running_on_raspberry_pi() {
            assert!(model().unwrap().contains("Raspberry Pi"));
            return;
        }
        let e = model().unwrap_err().to_string();
        assert!(e.starts_with("this machine is not a Raspberry Pi ("), "{e}");
        assert!(e.contains("set hardware.simulate = true"), "{e}");
        assert!(e.contains(std::env::consts::ARCH), "{e}");
    }

    #[test]
    fn bus_errors_name_the_bus_the_device_and_the_fix() {
        let missing = io_error(4, &std::io::Error::from(ErrorKind::NotFound)).to_string();
        assert!(
            missing.contains("I2C bus 4") && missing.contains("/dev/i2c-4"),
            "{missing}"
        );
        assert!(missing.contains("dtoverlay=i2c-gpio,bus=4"), "{missing}");
        let missing = io_error(1, &std::io::Error::from(ErrorKind::NotFound)).to_string();
        assert!(
            missing.contains("/dev/i2c-1") && missing.contains("raspi-config"),
            "{missing}"
        );
        assert!(missing.contains("dtparam=i2c_arm=on"), "{missing}");
        let denied = io_error(1, &std::io::Error::from(ErrorKind::PermissionDenied)).to_string();
        assert!(
            denied.contains("/dev/i2c-1") && denied.contains("group i2c"),
            "{denied}"
        );
        let other = io_error(3, &std::io::Error::from_raw_os_error(libc::EIO)).to_string();
        assert!(other.contains("I2C bus 3 (/dev/i2c-3)"), "{other}");
        assert!(enable_i2c_fix(6).contains("I2C bus 6"));
    }

    #[test]
    fn a_missing_bus_is_reported_not_panicked() {
        // No machine has 250 I2C buses.
        match open_i2c(250) {
            Err(RpiError::NoBus { bus: 250 }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cpu_temperature_is_plausible_when_there_is_one() {
        if let Some(t) = cpu_temperature_c() {
            assert!((-40.0..150.0).contains(&t), "{t}");
        }
    }
}
