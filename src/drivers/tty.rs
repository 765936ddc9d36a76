//! Opening a serial port for the Modbus client.
//!
//! This is how the power supply's port is opened: on the Pi it is usually a USB-serial adapter
//! (`/dev/ttyUSB0`), in the tests the slave side of a pseudo-terminal. [`open_serial`] puts the
//! line in raw mode, 8 data bits, no parity, one stop bit, no flow control, no echo and no
//! character translation (a Modbus frame is binary: a 0x0A must not become 0x0D 0x0A), sets the
//! speed and drops whatever was received before. Reads never block in `read(2)`: VMIN = VTIME = 0,
//! and the [`Serial`](super::modbus::Serial) implementation of [`File`] waits in `poll(2)` until
//! its deadline.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The speeds [`open_serial`] accepts, in bit/s, with their termios constants.
const SPEEDS: [(u32, libc::speed_t); 8] = [
    (1200, libc::B1200),
    (2400, libc::B2400),
    (4800, libc::B4800),
    (9600, libc::B9600),
    (19200, libc::B19200),
    (38400, libc::B38400),
    (57600, libc::B57600),
    (115200, libc::B115200),
];

/// Opens the tty at `path` for reading and writing (`O_NOCTTY`, close-on-exec), in raw mode 8N1
/// at `baud` bit/s with no flow control, and flushes pending input.
///
/// Supported speeds: 1200, 2400, 4800, 9600, 19200, 38400, 57600 and 115200 bit/s; another is an
/// [`io::ErrorKind::InvalidInput`] error and the port is not opened. Every error names the path.
pub fn open_serial(path: &Path, baud: u32) -> io::Result<File> {
    let in_context =
        |e: io::Error| io::Error::new(e.kind(), format!("serial port {}: {e}", path.display()));
    let Some(&(_, speed)) = SPEEDS.iter().find(|&&(b, _)| b == baud) else {
        let list: Vec<String> = SPEEDS.iter().map(|(b, _)| b.to_string()).collect();
        let msg = format!(
            "unsupported baud rate {baud} (supported: {})",
            list.join(", ")
        );
        return Err(in_context(io::Error::new(io::ErrorKind::InvalidInput, msg)));
    };
    // O_NONBLOCK only for open(2): without it, a port whose CLOCAL is not yet set would wait for
    // carrier detect. It is cleared once the line is configured.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(in_context)?;
    configure(&file, speed).map_err(in_context)?;
    Ok(file)
}

/// Raw 8N1 at `speed`, blocking writes, input flushed.
fn configure(file: &File, speed: libc::speed_t) -> io::Result<()> {
    let fd = file.as_raw_fd();
    let check = |rc: libc::c_int| {
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc)
        }
    };
    // SAFETY: termios is plain old data; an all-zero value is valid and tcgetattr overwrites it.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open for the lifetime of `file` and `t` is a valid, writable termios.
    check(unsafe { libc::tcgetattr(fd, &mut t) }).map_err(|e| {
        if e.raw_os_error() == Some(libc::ENOTTY) {
            io::Error::new(io::ErrorKind::InvalidInput, "not a terminal device")
        } else {
            e
        }
    })?;
    // SAFETY: `t` is a valid termios filled by tcgetattr.
    unsafe { libc::cfmakeraw(&mut t) };
    t.c_cflag &= !(libc::CSIZE | libc::PARENB | libc::CSTOPB | libc::CRTSCTS);
    t.c_cflag |= libc::CS8 | libc::CLOCAL | libc::CREAD;
    t.c_iflag &= !(libc::IXON | libc::IXOFF | libc::IXANY);
    t.c_cc[libc::VMIN] = 0;
    t.c_cc[libc::VTIME] = 0;
    // SAFETY: `t` is a valid termios and `speed` one of the B* constants.
    check(unsafe { libc::cfsetispeed(&mut t, speed) })?;
    // SAFETY: as above.
    check(unsafe { libc::cfsetospeed(&mut t, speed) })?;
    // SAFETY: `fd` is an open tty and `t` a valid termios, read only by the call.
    check(unsafe { libc::tcsetattr(fd, libc::TCSANOW, &t) })?;
    // SAFETY: fcntl on an open descriptor with integer arguments only.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) })?;
    // SAFETY: tcflush on an open tty; no memory is passed.
    check(unsafe { libc::tcflush(fd, libc::TCIFLUSH) })?;
    Ok(())
}
