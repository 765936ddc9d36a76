use super::*;
use crate::drivers::modbus::encode_request;
use crate::drivers::modbus::tests::{framed, FakeSerial};

fn supply(replies: Vec<Option<Vec<u8>>>) -> Dph5005<FakeSerial> {
    Dph5005::new(FakeSerial::replying(replies), 1, Duration::from_millis(10))
}

fn echo(reg: u16, value: u16) -> Option<Vec<u8>> {
    Some(encode_request(1, 0x06, reg, value).to_vec())
}

fn one_register(value: u16) -> Option<Vec<u8>> {
    let [hi, lo] = value.to_be_bytes();
    Some(framed(&[1, 0x03, 2, hi, lo]))
}

#[test]
fn out_of_range_values_send_nothing() {
    let mut s = supply(vec![]);
    for v in [-0.01, 51.0, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(
                s.set_voltage(v),
                Err(Error::OutOfRange {
                    field: "voltage",
                    ..
                })
            ),
            "{v}"
        );
    }
    assert!(s.set_current_limit(5.2).is_err());
    let bad = Settings {
        preset_volts: 12.0,
        preset_amps: 0.05,
        ovp_volts: 60.0,
        ocp_amps: 0.06,
        opp_watts: 2.5,
    };
    assert!(s.apply_settings(&bad).is_err());
    assert!(s.destroy().written.is_empty());
}

#[test]
fn values_are_scaled_to_register_units() {
    let mut s = supply(vec![echo(U_SET, 5099), echo(I_SET, 50), echo(ONOFF, 1)]);
    s.set_voltage(50.99).unwrap();
    s.set_current_limit(0.05).unwrap();
    s.output(true).unwrap();
    let written = s.destroy().written;
    assert_eq!(written[0], encode_request(1, 0x06, U_SET, 5099));
    assert_eq!(written[1], encode_request(1, 0x06, I_SET, 50));
    assert_eq!(written[2], encode_request(1, 0x06, ONOFF, 1));
}

#[test]
fn readings_are_scaled_to_units() {
    let mut s = supply(vec![
        one_register(1203),
        one_register(48),
        one_register(1250),
    ]);
    assert_eq!(s.read_output_voltage().unwrap(), 12.03);
    assert_eq!(s.read_output_current().unwrap(), 0.048);
    assert_eq!(s.read_input_voltage().unwrap(), 12.5);
    let written = s.destroy().written;
    assert_eq!(written[0], encode_request(1, 0x03, UOUT, 1));
    assert_eq!(written[1], encode_request(1, 0x03, IOUT, 1));
    assert_eq!(written[2], encode_request(1, 0x03, UIN, 1));
}

#[test]
fn apply_settings_writes_preset_and_protections() {
    let mut s = supply(vec![
        echo(M0_U_SET, 1200),
        echo(M0_I_SET, 50),
        echo(S_OVP, 5099),
        echo(S_OCP, 60),
        echo(S_OPP, 25),
    ]);
    let settings = Settings {
        preset_volts: 12.0,
        preset_amps: 0.05,
        ovp_volts: 50.99,
        ocp_amps: 0.06,
        opp_watts: 2.5,
    };
    s.apply_settings(&settings).unwrap();
    assert_eq!(s.destroy().written.len(), 5);
}

#[test]
fn settling_gives_up_after_max_wait() {
    let mut s = supply(vec![echo(U_SET, 2000), one_register(0)]);
    let err = s.set_voltage_settled(20.0, Duration::ZERO).unwrap_err();
    assert!(
        matches!(err, Error::NotSettled { last_volts, .. } if last_volts == 0.0),
        "{err}"
    );
    assert_eq!(s.destroy().written.len(), 2);
}

/// The driver against a fake DPH5005 at the other end of a pseudo-terminal.
mod pty {
    use super::*;
    use std::fs::File;
    use std::os::fd::FromRawFd;
    use std::sync::mpsc;
    use std::thread;

    /// What the fake slave does to the next request.
    enum Fault {
        Silent,
        FlipCrc,
    }

    fn raw(fd: libc::c_int) {
        // SAFETY: fd is an open tty; termios is plain data filled by tcgetattr.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(fd, &mut t), 0);
            libc::cfmakeraw(&mut t);
            assert_eq!(libc::tcsetattr(fd, libc::TCSANOW, &t), 0);
        }
    }

    fn open_pty() -> (File, File) {
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: out-pointers to two ints; null name, termios and winsize are allowed.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        raw(master);
        raw(slave);
        // SAFETY: both descriptors were just opened and are owned by nothing else.
        unsafe { (File::from_raw_fd(master), File::from_raw_fd(slave)) }
    }

    /// Answers 0x03/0x06 from `regs` until the line closes or stays idle for 5 s.
    fn fake_slave(mut line: File, faults: mpsc::Receiver<Fault>) -> usize {
        let mut regs = [0u16; 0x60];
        regs[UIN as usize] = 1234;
        let mut served = 0;
        loop {
            let mut req = [0u8; 8];
            let mut len = 0;
            let deadline = Instant::now() + Duration::from_secs(5);
            while len < 8 {
                match line.read_some(&mut req[len..], deadline) {
                    Ok(0) | Err(_) => return served,
                    Ok(n) => len += n,
                }
            }
            served += 1;
            let fault = faults.try_recv().ok();
            if matches!(fault, Some(Fault::Silent)) {
                continue;
            }
            assert_eq!(crc16_le(&req[..6]), [req[6], req[7]]);
            let word = |i: usize| u16::from_be_bytes([req[i], req[i + 1]]);
            let (addr, arg) = (usize::from(word(2)), word(4));
            let mut reply = match req[1] {
                0x03 if addr + usize::from(arg) <= regs.len() => {
                    let mut body = vec![req[0], 0x03, (2 * arg) as u8];
                    for r in &regs[addr..addr + usize::from(arg)] {
                        body.extend_from_slice(&r.to_be_bytes());
                    }
                    framed(&body)
                }
                0x06 if addr < regs.len() => {
                    regs[addr] = arg;
                    if addr == U_SET as usize {
                        regs[UOUT as usize] = arg; // the output follows at once
                    }
                    req.to_vec()
                }
                f => framed(&[req[0], f | 0x80, 0x02]),
            };
            if matches!(fault, Some(Fault::FlipCrc)) {
                *reply.last_mut().unwrap() ^= 0xFF;
            }
            if line.write_all(&reply).is_err() {
                return served;
            }
        }
    }

    fn crc16_le(bytes: &[u8]) -> [u8; 2] {
        crate::drivers::modbus::crc16(bytes).to_le_bytes()
    }

    #[test]
    fn driver_talks_to_a_fake_supply_over_a_pty() {
        let (master, slave) = open_pty();
        let (faults, rx) = mpsc::channel();
        let device = thread::spawn(move || fake_slave(master, rx));
        let mut dph = Dph5005::new(slave, 1, Duration::from_millis(200));

        dph.set_voltage(12.34).unwrap();
        assert_eq!(dph.read_output_voltage().unwrap(), 12.34);
        assert_eq!(dph.read_input_voltage().unwrap(), 12.34);
        assert_eq!(
            dph.set_voltage_settled(24.0, Duration::from_secs(1))
                .unwrap(),
            24.0
        );
        let mut served = 3 + 2;

        // Silent once: the second try answers.
        faults.send(Fault::Silent).unwrap();
        assert_eq!(dph.read_output_voltage().unwrap(), 24.0);
        served += 2;

        // Silent for every try: a timeout, after exactly TRIES requests.
        for _ in 0..modbus::TRIES {
            faults.send(Fault::Silent).unwrap();
        }
        assert!(matches!(
            dph.read_input_voltage(),
            Err(Error::Modbus(modbus::Error::Timeout))
        ));
        served += modbus::TRIES as usize;

        // One corrupted CRC: the retry succeeds.
        faults.send(Fault::FlipCrc).unwrap();
        dph.output(true).unwrap();
        served += 2;

        // An address the slave does not have: an exception, not retried.
        let err = dph.bus.read_holding(1, 0x70, 1).unwrap_err();
        assert!(matches!(err, modbus::Error::Exception(2)), "{err}");
        served += 1;

        drop(dph.destroy());
        assert_eq!(device.join().unwrap(), served);
    }
}
