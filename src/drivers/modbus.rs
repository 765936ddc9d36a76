//! Modbus RTU client: request framing, CRC-16/Modbus, response parsing, one timeout per try and a
//! bounded number of tries.
//!
//! It owns a [`Serial`] transport and speaks only functions 0x03 (read holding registers) and 0x06
//! (write single register). It never configures the line (baud rate, 8N1, raw mode): whoever opens
//! the port does that. A CRC error, a malformed or short frame and a timeout are retried (they are
//! line noise); an exception reply and an I/O error are not (the slave or the port said no).

use std::io;
use std::time::{Duration, Instant};

/// Function code: read holding registers.
pub const READ_HOLDING: u8 = 0x03;
/// Function code: write single register.
pub const WRITE_SINGLE: u8 = 0x06;
/// Bit set in the function code of an exception reply.
const EXCEPTION_BIT: u8 = 0x80;
/// Most registers one 0x03 request may read (the byte count must fit in one byte of a 256-byte ADU).
pub const MAX_READ: u16 = 125;
/// Tries per request (the first one included).
pub const TRIES: u32 = 3;
/// Longest reply frame the byte count can announce (header, 255 data bytes, CRC).
const MAX_FRAME: usize = 3 + 255 + 2;

/// A byte transport, blocking with a deadline.
pub trait Serial {
    /// Writes every byte.
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Reads at least one byte into `buf`, or returns 0 once `deadline` has passed.
    fn read_some(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<usize>;
    /// Drops bytes received and not yet read (a late reply to an earlier try).
    fn clear_input(&mut self) -> io::Result<()>;
}

/// What went wrong with one request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The port failed.
    #[error("serial I/O: {0}")]
    Io(#[from] io::Error),
    /// No complete reply before the timeout.
    #[error("no reply from the Modbus slave before the timeout")]
    Timeout,
    /// The reply's CRC does not match its bytes.
    #[error("Modbus reply with a bad CRC")]
    Crc,
    /// The slave answered with an exception code.
    #[error("Modbus exception {0:#04x} ({name})", name = exception_name(*.0))]
    Exception(u8),
    /// The reply is not the answer to the request (or the request cannot be sent).
    #[error("malformed Modbus frame: {0}")]
    Malformed(&'static str),
}

impl Error {
    /// Whether another try may succeed.
    fn is_retryable(&self) -> bool {
        matches!(self, Error::Timeout | Error::Crc | Error::Malformed(_))
    }
}

/// The name of a standard Modbus exception code.
pub fn exception_name(code: u8) -> &'static str {
    match code {
        0x01 => "illegal function",
        0x02 => "illegal data address",
        0x03 => "illegal data value",
        0x04 => "slave device failure",
        0x05 => "acknowledge",
        0x06 => "slave device busy",
        0x08 => "memory parity error",
        0x0A => "gateway path unavailable",
        0x0B => "gateway target failed to respond",
        _ => "unknown exception",
    }
}

/// CRC-16/Modbus (reflected polynomial 0xA001, initial value 0xFFFF); sent low byte first.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in bytes {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// A request of function 0x03 or 0x06: slave, function, two big-endian words, CRC.
pub fn encode_request(slave: u8, function: u8, word1: u16, word2: u16) -> [u8; 8] {
    let [a, b] = word1.to_be_bytes();
    let [c, d] = word2.to_be_bytes();
    let mut frame = [slave, function, a, b, c, d, 0, 0];
    let [lo, hi] = crc16(&frame[..6]).to_le_bytes();
    frame[6] = lo;
    frame[7] = hi;
    frame
}

/// How long the frame starting with `head` is, once enough of it is known; `None` if more bytes of
/// the header are needed first.
fn frame_len(head: &[u8], function: u8) -> Result<Option<usize>, Error> {
    if head.len() < 2 {
        return Ok(None);
    }
    if head[1] == function | EXCEPTION_BIT {
        return Ok(Some(5));
    }
    match (head[1], function) {
        (f, READ_HOLDING) if f == READ_HOLDING => match head.get(2) {
            Some(&n) => Ok(Some(3 + usize::from(n) + 2)),
            None => Ok(None),
        },
        (f, WRITE_SINGLE) if f == WRITE_SINGLE => Ok(Some(8)),
        _ => Err(Error::Malformed("reply to another function")),
    }
}

/// Checks the CRC, the slave address and the exception bit of a whole frame; returns its PDU data
/// (the bytes after the function code, CRC excluded).
pub fn check_frame(frame: &[u8], slave: u8, function: u8) -> Result<&[u8], Error> {
    if frame.len() < 5 {
        return Err(Error::Malformed("short frame"));
    }
    let (body, crc) = frame.split_at(frame.len() - 2);
    if crc16(body) != u16::from_le_bytes([crc[0], crc[1]]) {
        return Err(Error::Crc);
    }
    if body[0] != slave {
        return Err(Error::Malformed("reply from another slave"));
    }
    if body[1] == function | EXCEPTION_BIT {
        return Err(Error::Exception(body[2]));
    }
    if body[1] != function {
        return Err(Error::Malformed("reply to another function"));
    }
    Ok(&body[2..])
}

/// Parses the data of a 0x03 reply into `count` registers.
pub fn parse_read_holding(data: &[u8], count: u16) -> Result<Vec<u16>, Error> {
    let expected = 2 * usize::from(count);
    if data.first().map(|&n| usize::from(n)) != Some(expected) || data.len() != 1 + expected {
        return Err(Error::Malformed(
            "byte count does not match the registers asked for",
        ));
    }
    Ok(data[1..]
        .chunks_exact(2)
        .map(|w| u16::from_be_bytes([w[0], w[1]]))
        .collect())
}

/// A Modbus RTU master on one line.
pub struct Client<S: Serial> {
    serial: S,
    timeout: Duration,
}

impl<S: Serial> Client<S> {
    /// A client waiting at most `timeout` for each reply.
    pub fn new(serial: S, timeout: Duration) -> Self {
        Self { serial, timeout }
    }

    /// Gives the transport back.
    pub fn destroy(self) -> S {
        self.serial
    }

    /// Reads `count` (1..=125) holding registers from `start` (function 0x03).
    pub fn read_holding(&mut self, slave: u8, start: u16, count: u16) -> Result<Vec<u16>, Error> {
        if count == 0 || count > MAX_READ {
            return Err(Error::Malformed("register count must be 1..=125"));
        }
        let request = encode_request(slave, READ_HOLDING, start, count);
        self.transact(&request, |frame| {
            parse_read_holding(check_frame(frame, slave, READ_HOLDING)?, count)
        })
    }

    /// Writes one holding register (function 0x06); the slave must echo the request.
    pub fn write_single(&mut self, slave: u8, reg: u16, value: u16) -> Result<(), Error> {
        let request = encode_request(slave, WRITE_SINGLE, reg, value);
        self.transact(&request, |frame| {
            check_frame(frame, slave, WRITE_SINGLE)?;
            if frame != request {
                return Err(Error::Malformed(
                    "write reply is not an echo of the request",
                ));
            }
            Ok(())
        })
    }

    /// Sends `request` and parses the reply, up to [`TRIES`] times.
    fn transact<T>(
        &mut self,
        request: &[u8; 8],
        parse: impl Fn(&[u8]) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut last = Error::Timeout;
        for _ in 0..TRIES {
            self.serial.clear_input()?;
            self.serial.write_all(request)?;
            let deadline = Instant::now() + self.timeout;
            match self
                .read_frame(request[1], deadline)
                .and_then(|f| parse(&f))
            {
                Ok(value) => return Ok(value),
                Err(e) if e.is_retryable() => {
                    tracing::debug!(slave = request[0], error = %e, "Modbus request retried");
                    last = e;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Reads exactly one reply frame to `function`, never past its end.
    fn read_frame(&mut self, function: u8, deadline: Instant) -> Result<Vec<u8>, Error> {
        let mut buf = [0u8; MAX_FRAME];
        let mut len = 0;
        // Each pass reads at least one byte or returns, and `need` never exceeds MAX_FRAME.
        let mut need = 2;
        loop {
            while len < need {
                let n = self.serial.read_some(&mut buf[len..need], deadline)?;
                if n == 0 {
                    return Err(if len == 0 {
                        Error::Timeout
                    } else {
                        Error::Malformed("short frame")
                    });
                }
                len += n;
            }
            match frame_len(&buf[..len], function)? {
                Some(total) if total <= len => return Ok(buf[..len].to_vec()),
                Some(total) => need = total,
                None => need = len + 1,
            }
        }
    }
}

/// A tty (or pty) already opened and set to raw mode at the right speed: reads wait with poll(2).
#[cfg(unix)]
impl Serial for std::fs::File {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        io::Write::write_all(self, bytes)?;
        io::Write::flush(self)
    }

    fn read_some(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        if buf.is_empty() {
            return Ok(0);
        }
        // Bounded by the deadline: every pass waits in poll(2) until it or data arrives.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(0);
            }
            let ms = libc::c_int::try_from(left.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
            let mut pfd = libc::pollfd {
                fd: self.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, for the duration of the call.
            let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
            if ready < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            if ready == 0 {
                continue;
            }
            if pfd.revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
                return Err(io::Error::other("serial port error (POLLERR/POLLNVAL)"));
            }
            return match io::Read::read(self, buf) {
                Ok(0) => Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                other => other,
            };
        }
    }

    fn clear_input(&mut self) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: tcflush on a descriptor we own; no memory is passed.
        if unsafe { libc::tcflush(self.as_raw_fd(), libc::TCIFLUSH) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
