//! A model of the system's buses for the tests: TCA9548A channel state, MCP23017 and MCP23008
//! output latches and ADS1115 conversion results keyed by the physical chip, every write logged
//! (with its time when a clock is given); and a DPH5005 answering Modbus from a register table.
//! A [`Journal`] shared by the buses and the supply keeps the order of their writes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, Operation};

use crate::drivers::dph5005;
use crate::drivers::modbus::{self, crc16, encode_request};

/// A physical chip: the TCA9548A channel in front of it (if any) and its address.
pub(super) type Chip = (Option<(u8, u8)>, u8);

/// One write, on whichever bus or line it went.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    /// An I2C write: address, bytes.
    I2c(u8, Vec<u8>),
    /// A Modbus register write to the supply: register, value.
    Modbus(u16, u16),
}

/// The writes of several buses in the order they happened.
#[derive(Clone, Default)]
pub(super) struct Journal(Arc<Mutex<Vec<Step>>>);

impl Journal {
    fn push(&self, step: Step) {
        self.0.lock().unwrap().push(step);
    }
    pub(super) fn steps(&self) -> Vec<Step> {
        self.0.lock().unwrap().clone()
    }
}

/// An mb_2023 on a ground: Vmn = SP + sign × V while the polarity relays (TX MCP23008 0x20)
/// inject, SP otherwise; the converters (TX 0x48, RX 0x49 behind its 1/2.5 divider, inverted)
/// convert at the range last written to their config register, clipping at full scale.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ground2023 {
    pub(super) sp_mv: f64,
    pub(super) v_mv: f64,
    pub(super) iab_ma: f64,
}

#[derive(Default)]
pub(super) struct BusState {
    /// Every write: (address, bytes).
    pub(super) log: Vec<(u8, Vec<u8>)>,
    pub(super) tca_addresses: BTreeSet<u8>,
    /// Channel mask of each TCA9548A.
    pub(super) tca: BTreeMap<u8, u8>,
    /// MCP23017 output latches.
    pub(super) mcp17: BTreeMap<Chip, u16>,
    /// MCP23008 output latches.
    pub(super) mcp08: BTreeMap<u8, u8>,
    /// Conversion result per ADS1115 address.
    pub(super) adc: BTreeMap<u8, i16>,
    /// Register pointer last written per address.
    pub(super) pointer: BTreeMap<u8, u8>,
    pub(super) fail: bool,
    /// A resistor between the electrodes: while the mb_2024 TX polarity relays are closed,
    /// the converters read this current (mA) and ± this Vmn (mV), through the DG411 gain.
    pub(super) ground: Option<(f64, f64)>,
    /// When set, every transaction is also logged with its time: (time, address, first byte
    /// written, or None for a read).
    pub(super) clock: Option<crate::clock::Clock>,
    pub(super) timeline: Vec<(std::time::Duration, u8, Option<Vec<u8>>)>,
    pub(super) journal: Option<Journal>,
    pub(super) ground_2023: Option<Ground2023>,
    /// Full-scale range \[V\] last written to each ADS1115's config register.
    pub(super) fsr: BTreeMap<u8, f64>,
}

impl BusState {
    /// The mb_2023 converters' codes for [`Ground2023`].
    pub(super) fn ground_2023_code(&self, address: u8) -> Option<i16> {
        let g = self.ground_2023?;
        let tx = self.mcp08.get(&0x20).copied().unwrap_or(0);
        let sign: f64 = match tx & 0b11 {
            0b01 => 1.0,
            0b10 => -1.0,
            _ => 0.0,
        };
        let volts = match address {
            0x48 => sign.abs() * g.iab_ma * 50.0 * 2.0 / 1000.0,
            0x49 => -(g.sp_mv + sign * g.v_mv) / 2500.0,
            _ => return None,
        };
        let fsr = self.fsr.get(&address).copied().unwrap_or(6.144);
        let code = (volts / fsr * 32768.0).round().clamp(-32768.0, 32767.0);
        Some(code as i16)
    }

    /// The mb_2024 converters' codes for the ground model (±6.144 V range).
    pub(super) fn ground_code(&self, address: u8) -> Option<i16> {
        let (iab_ma, vmn_mv) = self.ground?;
        let tx = self.mcp08.get(&0x21).copied().unwrap_or(0);
        let sign: f64 = match tx & 0b11 {
            0b01 => 1.0,
            0b10 => -1.0,
            _ => 0.0,
        };
        let volts = match address {
            0x48 => sign.abs() * iab_ma * 50.0 * 2.0 / 1000.0,
            0x49 => {
                let gain = if self.mcp08.get(&0x27) == Some(&0b101) {
                    1.0
                } else {
                    0.5
                };
                2.5 + sign * vmn_mv / 1000.0 * gain
            }
            _ => return None,
        };
        Some((volts / 6.144 * 32768.0).round() as i16)
    }
}

#[derive(Clone, Default)]
pub(super) struct Bus(Arc<Mutex<BusState>>);

impl Bus {
    pub(super) fn with_tcas(tcas: impl IntoIterator<Item = u8>) -> Self {
        let bus = Self::default();
        bus.0.lock().unwrap().tca_addresses = tcas.into_iter().collect();
        bus
    }
    pub(super) fn state(&self) -> std::sync::MutexGuard<'_, BusState> {
        self.0.lock().unwrap()
    }
    pub(super) fn take_log(&self) -> Vec<(u8, Vec<u8>)> {
        std::mem::take(&mut self.state().log)
    }
    pub(super) fn set_adc(&self, address: u8, code: i16) {
        self.state().adc.insert(address, code);
    }
}

impl ErrorType for Bus {
    type Error = ErrorKind;
}

impl I2c for Bus {
    fn transaction(&mut self, address: u8, ops: &mut [Operation<'_>]) -> Result<(), ErrorKind> {
        let mut s = self.state();
        if s.fail {
            return Err(ErrorKind::Other);
        }
        let now = s.clock.as_ref().map(|c| c.now());
        for op in ops {
            if let Some(t) = now {
                let entry = match op {
                    Operation::Write(bytes) => Some(bytes.to_vec()),
                    Operation::Read(_) => None,
                };
                s.timeline.push((t, address, entry));
            }
            match op {
                Operation::Write(bytes) => {
                    s.log.push((address, bytes.to_vec()));
                    if let Some(j) = &s.journal {
                        j.push(Step::I2c(address, bytes.to_vec()));
                    }
                    if let [0x01, hi, _] = bytes[..] {
                        let fsr = [6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256];
                        s.fsr.insert(address, fsr[usize::from((hi >> 1) & 0b111)]);
                    }
                    s.pointer.insert(address, bytes[0]);
                    if s.tca_addresses.contains(&address) {
                        s.tca.insert(address, bytes[0]);
                        continue;
                    }
                    match bytes {
                        [0x14, lo, hi] => {
                            let open: Vec<(u8, u8)> = s
                                .tca
                                .iter()
                                .filter(|(_, &m)| m != 0)
                                .map(|(&a, &m)| (a, m.trailing_zeros() as u8))
                                .collect();
                            assert!(open.len() <= 1, "two TCA channels open at once: {open:?}");
                            let chip = (open.first().copied(), address);
                            s.mcp17.insert(chip, u16::from_le_bytes([*lo, *hi]));
                        }
                        [0x0A, v] => {
                            s.mcp08.insert(address, *v);
                        }
                        _ => {}
                    }
                }
                Operation::Read(buf) => {
                    let code = s
                        .ground_2023_code(address)
                        .or_else(|| s.ground_code(address))
                        .or_else(|| s.adc.get(&address).copied())
                        .unwrap_or(0);
                    if s.pointer.get(&address) == Some(&0) && buf.len() == 2 {
                        buf.copy_from_slice(&code.to_be_bytes());
                    }
                }
            }
        }
        Ok(())
    }
}

/// A DPH5005 on a Modbus line, answering from its register table.
#[derive(Clone, Default)]
pub(super) struct Supply(Arc<Mutex<SupplyState>>);

#[derive(Default)]
pub(super) struct SupplyState {
    pub(super) registers: BTreeMap<u16, u16>,
    pub(super) writes: Vec<(u16, u16)>,
    pub(super) pending: VecDeque<u8>,
    pub(super) silent: bool,
    /// Registers read, in order.
    pub(super) reads: Vec<u16>,
    /// UOUT as the supply measures it, V × 100 (a current limit holding the output down);
    /// `None`: U-SET while the output is on, 0 while it is off.
    pub(super) uout: Option<u16>,
    pub(super) journal: Option<Journal>,
}

impl Supply {
    pub(super) fn state(&self) -> std::sync::MutexGuard<'_, SupplyState> {
        self.0.lock().unwrap()
    }
}

impl modbus::Serial for Supply {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let mut s = self.state();
        if s.silent {
            return Ok(());
        }
        let (function, reg, value) = (bytes[1], u16::from_be_bytes([bytes[2], bytes[3]]), {
            u16::from_be_bytes([bytes[4], bytes[5]])
        });
        let reply = if function == 0x06 {
            s.registers.insert(reg, value);
            s.writes.push((reg, value));
            if let Some(j) = &s.journal {
                j.push(Step::Modbus(reg, value));
            }
            encode_request(1, 0x06, reg, value).to_vec()
        } else {
            s.reads.push(reg);
            let register = |r: u16| s.registers.get(&r).copied().unwrap_or(0);
            let v = match reg {
                dph5005::UOUT if register(dph5005::ONOFF) == 1 => {
                    s.uout.unwrap_or(register(dph5005::U_SET))
                }
                dph5005::UOUT => 0,
                _ => register(reg),
            };
            let v = v.to_be_bytes();
            let mut body = vec![1, 0x03, 2, v[0], v[1]];
            let crc = crc16(&body).to_le_bytes();
            body.extend_from_slice(&crc);
            body
        };
        s.pending.extend(reply);
        Ok(())
    }
    fn read_some(&mut self, buf: &mut [u8], _: std::time::Instant) -> std::io::Result<usize> {
        let mut s = self.state();
        let n = buf.len().min(s.pending.len());
        for b in buf.iter_mut().take(n) {
            *b = s.pending.pop_front().unwrap_or(0);
        }
        Ok(n)
    }
    fn clear_input(&mut self) -> std::io::Result<()> {
        self.state().pending.clear();
        Ok(())
    }
}
