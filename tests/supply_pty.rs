//! The DPH5005 driver against a fake Modbus slave on the master side of a pseudo-terminal, the
//! slave side opened with `open_serial` as the supply's USB-serial port is on the Pi: a full
//! session, a silent slave, corrupted replies, line noise and an exception.

#![cfg(target_os = "linux")]

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ohmpi::drivers::dph5005::Error as SupplyError;
use ohmpi::drivers::dph5005::{
    Dph5005, Settings, IOUT, I_SET, M0_I_SET, M0_U_SET, ONOFF, S_OCP, S_OPP, S_OVP, UIN, UOUT,
    U_SET,
};
use ohmpi::drivers::modbus::Error as BusError;
use ohmpi::drivers::modbus::{self, crc16, Client, Serial, TRIES};
use ohmpi::drivers::tty::open_serial;

const BAUD: u32 = 19200;
const SLAVE: u8 = 1;
/// Registers the fake has; an address at or above this one is an exception.
const REGS: usize = 0x60;
/// How far UOUT moves toward its target on each read: 5 V.
const SLEW: u16 = 500;
/// How long the fake waits for a byte before looking at its stop flag.
const IDLE: Duration = Duration::from_millis(20);
/// The client's wait for each reply in the fault tests.
const TIMEOUT: Duration = Duration::from_millis(100);

/// What the fake does with the next requests.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum Mode {
    #[default]
    Normal,
    /// Never answers.
    Silent,
    /// The next reply has a wrong CRC, then back to normal.
    CorruptOnce,
    /// Every reply has a wrong CRC.
    AlwaysCorrupt,
    /// The next reply comes after two bytes of line noise, then back to normal.
    GarbageOnce,
}

#[derive(Clone, Default)]
struct State {
    regs: Vec<u16>,
    mode: Mode,
    /// Requests with a good CRC, answered or not.
    requests: usize,
    /// 8-byte chunks with a bad CRC (an echo of the replies would show up here).
    bad_frames: usize,
}

impl State {
    /// The reply to one 8-byte request, if any.
    fn answer(&mut self, req: &[u8; 8]) -> Option<Vec<u8>> {
        if crc16(&req[..6]).to_le_bytes() != req[6..] {
            self.bad_frames += 1;
            return None;
        }
        self.requests += 1;
        let mode = self.mode;
        match mode {
            Mode::Silent => return None,
            Mode::CorruptOnce | Mode::GarbageOnce => self.mode = Mode::Normal,
            _ => {}
        }
        let word = |i: usize| u16::from_be_bytes([req[i], req[i + 1]]);
        let (reg, arg) = (usize::from(word(2)), word(4));
        let count = usize::from(arg);
        let mut reply = match req[1] {
            modbus::READ_HOLDING if count >= 1 && reg + count <= REGS => {
                let mut body = vec![SLAVE, req[1], (2 * count) as u8];
                for r in reg..reg + count {
                    if r == usize::from(UOUT) {
                        self.slew_output();
                    }
                    body.extend_from_slice(&self.regs[r].to_be_bytes());
                }
                framed(&body)
            }
            modbus::WRITE_SINGLE if reg < REGS => {
                self.regs[reg] = arg;
                req.to_vec()
            }
            f @ (modbus::READ_HOLDING | modbus::WRITE_SINGLE) => framed(&[SLAVE, f | 0x80, 0x02]),
            f => framed(&[SLAVE, f | 0x80, 0x01]),
        };
        match mode {
            Mode::CorruptOnce | Mode::AlwaysCorrupt => *reply.last_mut().unwrap() ^= 0xFF,
            Mode::GarbageOnce => drop(reply.splice(0..0, [0x00, 0xFF])),
            _ => {}
        }
        Some(reply)
    }

    /// UOUT moves toward U-SET (0 with the output off) by at most [`SLEW`].
    fn slew_output(&mut self) {
        let on = self.regs[usize::from(ONOFF)] == 1;
        let target = if on { self.regs[usize::from(U_SET)] } else { 0 };
        let out = &mut self.regs[usize::from(UOUT)];
        *out = target.clamp(out.saturating_sub(SLEW), out.saturating_add(SLEW));
    }
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut f = body.to_vec();
    f.extend_from_slice(&crc16(body).to_le_bytes());
    f
}

/// A DPH5005 at address 1 answering on the master side of a pty, in its own thread.
struct FakeSupply {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeSupply {
    fn start(master: File) -> Self {
        let state = Arc::new(Mutex::new(State {
            regs: vec![0; REGS],
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, t) = (state.clone(), stop.clone());
        let thread = Some(thread::spawn(move || serve(master, &s, &t)));
        Self {
            state,
            stop,
            thread,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    fn set_mode(&self, mode: Mode) {
        self.with(|s| s.mode = mode);
    }

    fn reg(&self, reg: u16) -> u16 {
        self.with(|s| s.regs[usize::from(reg)])
    }

    fn set_reg(&self, reg: u16, value: u16) {
        self.with(|s| s.regs[usize::from(reg)] = value);
    }

    fn requests(&self) -> usize {
        self.with(|s| s.requests)
    }

    /// Stops the thread once the line has been idle for [`IDLE`] (so every request sent is
    /// counted) and returns what it saw.
    fn finish(mut self) -> State {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        self.with(|s| s.clone())
    }
}

/// On a failed test: the thread ends by itself within [`IDLE`].
impl Drop for FakeSupply {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Reads 8-byte requests and answers them until stopped (and idle) or the line is closed (EIO).
fn serve(mut line: File, state: &Mutex<State>, stop: &AtomicBool) {
    let mut req = [0u8; 8];
    let mut len = 0;
    loop {
        match line.read_some(&mut req[len..], Instant::now() + IDLE) {
            Ok(0) if stop.load(Ordering::SeqCst) => return,
            Ok(n) => len += n,
            Err(_) => return,
        }
        if len < req.len() {
            continue;
        }
        len = 0;
        let reply = state.lock().unwrap().answer(&req);
        if reply.is_some_and(|r| Serial::write_all(&mut line, &r).is_err()) {
            return;
        }
    }
}

/// A new pseudo-terminal: its master side and the path of its slave side.
fn pty_pair() -> (File, PathBuf) {
    // SAFETY: posix_openpt takes flags only.
    let fd = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    assert!(fd >= 0, "posix_openpt: {}", io::Error::last_os_error());
    // SAFETY: `fd` was just opened and is owned by nothing else.
    let master = unsafe { File::from_raw_fd(fd) };
    let mut name = [0 as libc::c_char; 64];
    // SAFETY: `fd` is a pty master; `name` is writable for its whole length.
    unsafe {
        assert_eq!(libc::grantpt(fd), 0, "grantpt");
        assert_eq!(libc::unlockpt(fd), 0, "unlockpt");
        assert_eq!(libc::ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
    }
    // SAFETY: ptsname_r succeeded, so `name` holds a NUL-terminated string.
    let path = unsafe { CStr::from_ptr(name.as_ptr()) };
    (master, PathBuf::from(path.to_str().unwrap()))
}

/// A supply driver on the pty's slave side, opened as on the Pi, and the fake at the other end.
fn supply(timeout: Duration) -> (Dph5005<File>, FakeSupply) {
    let (master, path) = pty_pair();
    let port = open_serial(&path, BAUD).unwrap();
    (
        Dph5005::new(port, SLAVE, timeout),
        FakeSupply::start(master),
    )
}

#[test]
fn a_supply_session_over_a_pty() {
    let (mut dph, fake) = supply(Duration::from_millis(200));
    let settings = Settings {
        preset_volts: 12.0,
        preset_amps: 0.05,
        ovp_volts: 50.99,
        ocp_amps: 0.06,
        opp_watts: 2.5,
    };
    dph.apply_settings(&settings).unwrap();
    let protections = [M0_U_SET, M0_I_SET, S_OVP, S_OCP, S_OPP].map(|r| fake.reg(r));
    assert_eq!(protections, [1200, 50, 5099, 60, 25]);

    dph.set_current_limit(0.05).unwrap();
    dph.set_voltage(12.34).unwrap();
    assert_eq!(
        (fake.reg(U_SET), fake.reg(I_SET), fake.reg(ONOFF)),
        (1234, 50, 0)
    );
    dph.output(true).unwrap();
    assert_eq!(fake.reg(ONOFF), 1);

    fake.set_reg(UIN, 1250);
    fake.set_reg(IOUT, 48);
    assert_eq!(dph.read_input_voltage().unwrap(), 12.5);
    assert_eq!(dph.read_output_current().unwrap(), 0.048);

    // UOUT climbs 5 V per read: 5, 10, then 12.34 V, within 1 V of the target.
    let before = fake.requests();
    let settled = dph.set_voltage_settled(12.34, Duration::from_secs(1));
    assert_eq!(settled.unwrap(), 12.34);
    assert_eq!(fake.requests() - before, 1 + 3);
    assert_eq!(dph.read_output_voltage().unwrap(), 12.34);

    // No time to settle: one read, 17.34 V, and the driver gives up.
    let err = dph.set_voltage_settled(30.0, Duration::ZERO).unwrap_err();
    assert!(
        matches!(err, SupplyError::NotSettled { last_volts, .. } if last_volts == 17.34),
        "{err}"
    );
    dph.output(false).unwrap();
    assert_eq!(fake.reg(ONOFF), 0);

    let seen = fake.finish();
    assert_eq!(seen.requests, 5 + 3 + 2 + 4 + 1 + 2 + 1);
    assert_eq!(seen.bad_frames, 0, "no echo, no stray bytes");
}

#[test]
fn a_silent_supply_times_out_after_every_try() {
    let (mut dph, fake) = supply(TIMEOUT);
    fake.set_mode(Mode::Silent);
    let start = Instant::now();
    let err = dph.read_output_voltage().unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(err, SupplyError::Modbus(BusError::Timeout)),
        "{err}"
    );
    assert!(err.to_string().contains("timeout"), "{err}");
    assert!(took >= TIMEOUT * TRIES, "{took:?}");
    assert!(took < TIMEOUT * TRIES + Duration::from_secs(1), "{took:?}");
    assert_eq!(fake.finish().requests, TRIES as usize);
}

#[test]
fn one_corrupted_reply_is_retried() {
    let (mut dph, fake) = supply(TIMEOUT);
    fake.set_reg(UIN, 2410);
    fake.set_mode(Mode::CorruptOnce);
    assert_eq!(dph.read_input_voltage().unwrap(), 24.1);
    fake.set_mode(Mode::CorruptOnce);
    dph.output(true).unwrap();
    assert_eq!(fake.reg(ONOFF), 1);
    assert_eq!(fake.finish().requests, 2 + 2);
}

#[test]
fn a_reply_after_line_noise_is_retried() {
    // The client does not hunt for a frame start: the noise makes the first try malformed, the
    // next try (input flushed first) gets a clean reply.
    let (mut dph, fake) = supply(TIMEOUT);
    fake.set_mode(Mode::GarbageOnce);
    dph.set_voltage(5.0).unwrap();
    assert_eq!(fake.reg(U_SET), 500);
    assert_eq!(fake.finish().requests, 2);
}

#[test]
fn always_corrupted_replies_give_a_crc_error() {
    let (mut dph, fake) = supply(TIMEOUT);
    fake.set_mode(Mode::AlwaysCorrupt);
    let err = dph.read_output_current().unwrap_err();
    assert!(matches!(err, SupplyError::Modbus(BusError::Crc)), "{err}");
    assert!(err.to_string().contains("CRC"), "{err}");
    assert_eq!(fake.finish().requests, TRIES as usize);
}

#[test]
fn an_exception_is_reported_and_not_retried() {
    let (dph, fake) = supply(TIMEOUT);
    let mut bus = Client::new(dph.destroy(), TIMEOUT);
    let err = bus.read_holding(SLAVE, REGS as u16, 1).unwrap_err();
    assert!(matches!(err, BusError::Exception(0x02)), "{err}");
    assert!(err.to_string().contains("illegal data address"), "{err}");
    assert_eq!(fake.requests(), 1);
    // The line is still in step: the next request is answered.
    assert_eq!(bus.read_holding(SLAVE, U_SET, 2).unwrap(), [0, 0]);
    assert_eq!(fake.finish().requests, 2);
}

#[test]
fn open_serial_sets_raw_8n1_and_names_the_path_in_errors() {
    let (_master, path) = pty_pair();
    for (baud, speed) in [(9600, libc::B9600), (19200, libc::B19200)] {
        let port = open_serial(&path, baud).unwrap();
        // SAFETY: an all-zero termios is valid; tcgetattr fills it from an open tty.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::tcgetattr(port.as_raw_fd(), &mut t) }, 0);
        // SAFETY: `t` is a valid termios.
        assert_eq!(unsafe { libc::cfgetospeed(&t) }, speed);
        assert_eq!(
            t.c_cflag & (libc::CSIZE | libc::PARENB | libc::CSTOPB),
            libc::CS8
        );
        assert_eq!(t.c_cflag & libc::CRTSCTS, 0);
        assert_eq!(t.c_lflag & (libc::ECHO | libc::ICANON | libc::ISIG), 0);
        assert_eq!(t.c_iflag & (libc::IXON | libc::IXOFF | libc::ICRNL), 0);
        assert_eq!(t.c_oflag & libc::OPOST, 0);
    }

    let err = open_serial(&path, 14400).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let text = err.to_string();
    assert!(
        text.contains("14400") && text.contains(path.to_str().unwrap()),
        "{text}"
    );

    let missing = "/dev/ttyUSB-ohmpi-missing";
    let err = open_serial(Path::new(missing), BAUD).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(err.to_string().contains(missing), "{err}");

    let err = open_serial(Path::new("/dev/null"), BAUD).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("/dev/null"), "{err}");
}
