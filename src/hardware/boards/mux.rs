//! Multiplexer boards: which relay (MCP23017 pin, behind which TCA9548A channel) connects an
//! electrode to a role, and a [`MuxBank`] that switches the relays of a quadrupole on one bus.
//!
//! The mapping ([`relay_for`]) is pure; the bank keeps a copy of every expander's output latches
//! and writes whole ports (`[OLATA, low, high]`), one write per expander and switch.

use std::collections::{BTreeMap, BTreeSet};

use embedded_hal::i2c::I2c;

use crate::drivers::mcp23017::{self, Mcp23017};
use crate::drivers::tca9548a::{self, Tca9548a};
use crate::hardware::frontend::Role;
pub use crate::hardware::preset::mux_addresses::{
    expanders_of, mux2024_addresses, Expander, MUX2023_CHANNELS, MUX2023_MCP_ADDRESS,
};
use crate::hardware::preset::{Jumper, MuxModel, MuxSpec};
use crate::survey::{Electrode, QuadError, Quadrupole};

/// One relay: an MCP23017 pin, reached through a TCA9548A channel when there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Relay {
    /// I2C address of the MCP23017.
    pub mcp: u8,
    /// GPIO pin, 0..15 (port A 0–7, port B 8–15).
    pub pin: u8,
    /// (TCA9548A address, channel) in front of the MCP23017, if any.
    pub tca: Option<(u8, u8)>,
}

impl Relay {
    /// The expander this relay belongs to.
    pub fn expander(&self) -> Expander {
        Expander {
            tca: self.tca,
            mcp: self.mcp,
        }
    }
}

/// The relay that connects `electrode` to `role` on the board `spec`, or `None` when the board
/// does not serve that electrode or role.
///
/// A mux_2024 without jumpers in its spec is taken as up/up (0x20/0x21).
pub fn relay_for(spec: &MuxSpec, electrode: Electrode, role: Role) -> Option<Relay> {
    let [first, last] = spec.electrodes;
    if electrode < first || electrode > last {
        return None;
    }
    let label = spec.roles.iter().position(|&r| r == role)?;
    // Local electrode number, from 1.
    let e = electrode - first + 1;
    match spec.model {
        MuxModel::Mux2024 => {
            let (mcp0, mcp1) = mux2024_addresses(
                spec.addr1.unwrap_or(Jumper::Up),
                spec.addr2.unwrap_or(Jumper::Up),
            );
            let tca = spec.tca_address.zip(spec.tca_channel);
            let (mcp, pin) = match spec.roles.len() {
                4 => {
                    if e > 8 {
                        return None;
                    }
                    let i = (e - 1) as u8;
                    match label {
                        0 => (mcp0, i),      // X
                        1 => (mcp0, 8 + i),  // Y
                        2 => (mcp1, 7 - i),  // XX, reversed
                        _ => (mcp1, 15 - i), // YY, reversed
                    }
                }
                2 => {
                    if e > 16 {
                        return None;
                    }
                    let mcp = if e <= 8 { mcp0 } else { mcp1 };
                    let i = ((e - 1) % 8) as u8;
                    let pin = if label == 0 { i } else { 8 + i };
                    (mcp, pin)
                }
                _ => return None,
            };
            Some(Relay { mcp, pin, tca })
        }
        MuxModel::Mux2023 => {
            if e > 64 {
                return None;
            }
            let tca_address = spec.tca_address?;
            let index = usize::from((e - 1) / 16);
            Some(Relay {
                mcp: MUX2023_MCP_ADDRESS,
                pin: ((e - 1) % 16) as u8,
                tca: Some((tca_address, MUX2023_CHANNELS[index])),
            })
        }
    }
}

/// Why a multiplexer operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MuxError<E: core::fmt::Debug> {
    /// The quadrupole is unsafe whatever the cabling; nothing was written.
    #[error(transparent)]
    Unsafe(QuadError),
    /// No board connects `electrode` to `role`; nothing was written.
    #[error("electrode {electrode} is not cabled for role {role}")]
    NotCabled { electrode: Electrode, role: Role },
    /// A bus write to an MCP23017 failed.
    #[error("MCP23017 at {address:#04x}: {source}")]
    Mcp {
        address: u8,
        source: mcp23017::Error<E>,
    },
    /// A bus write to a TCA9548A failed.
    #[error("TCA9548A at {address:#04x}: {source}")]
    Tca {
        address: u8,
        source: tca9548a::Error<E>,
    },
}

/// The multiplexer boards of one system, all on one I2C bus.
#[derive(Debug)]
pub struct MuxBank<I2C> {
    i2c: I2C,
    boards: Vec<MuxSpec>,
    /// Output latches last written successfully, per expander.
    latches: BTreeMap<Expander, u16>,
    /// Expanders whose last write failed: any of their relays may be closed.
    unknown: BTreeSet<Expander>,
}

impl<I2C: I2c> MuxBank<I2C> {
    /// Takes the bus and the boards' specs; does no I/O.
    pub fn new(i2c: I2C, boards: Vec<MuxSpec>) -> Self {
        Self {
            i2c,
            boards,
            latches: BTreeMap::new(),
            unknown: BTreeSet::new(),
        }
    }

    /// Gives the bus back.
    pub fn destroy(self) -> I2C {
        self.i2c
    }

    /// The boards' specs.
    pub fn boards(&self) -> &[MuxSpec] {
        &self.boards
    }

    /// Every MCP23017 of the system, each once, in address order.
    pub fn expanders(&self) -> BTreeSet<Expander> {
        self.boards.iter().flat_map(expanders_of).collect()
    }

    /// The relays that connect the electrodes of `quad` to A, B, M, N, or the first electrode
    /// no board serves. Checks the safety rules first. No I/O.
    pub fn relays(&self, quad: Quadrupole) -> Result<[Relay; 4], MuxError<I2C::Error>> {
        quad.check_safe().map_err(MuxError::Unsafe)?;
        let wanted = [
            (quad.a, Role::A),
            (quad.b, Role::B),
            (quad.m, Role::M),
            (quad.n, Role::N),
        ];
        let mut out = [Relay {
            mcp: 0,
            pin: 0,
            tca: None,
        }; 4];
        for (slot, (electrode, role)) in out.iter_mut().zip(wanted) {
            *slot = self.relay(electrode, role)?;
        }
        Ok(out)
    }

    fn relay(&self, electrode: Electrode, role: Role) -> Result<Relay, MuxError<I2C::Error>> {
        self.boards
            .iter()
            .find_map(|spec| relay_for(spec, electrode, role))
            .ok_or(MuxError::NotCabled { electrode, role })
    }

    /// Closes exactly the relays of `quad` and opens every other relay that was closed.
    ///
    /// Each expander whose relays are part of `quad`, or that had a relay closed, gets one
    /// whole-port write. Nothing is written if the quadrupole is unsafe or not cabled.
    pub fn switch(&mut self, quad: Quadrupole) -> Result<(), MuxError<I2C::Error>> {
        let relays = self.relays(quad)?;
        self.close_only(&relays)
    }

    /// Closes exactly the relays of A = `a` and B = `b` (a contact check) and opens every other
    /// relay that was closed. Nothing is written if `a` = `b` or either is not cabled.
    pub fn switch_pair(&mut self, a: Electrode, b: Electrode) -> Result<(), MuxError<I2C::Error>> {
        if a == 0 || b == 0 {
            return Err(MuxError::Unsafe(QuadError::ZeroElectrode));
        }
        if a == b {
            return Err(MuxError::Unsafe(QuadError::SameCurrentElectrodes(a)));
        }
        let relays = [self.relay(a, Role::A)?, self.relay(b, Role::B)?];
        self.close_only(&relays)
    }

    /// Opens the relays that are closed (or whose state is unknown after a failed write), one
    /// write per such expander.
    pub fn open_closed(&mut self) -> Result<(), MuxError<I2C::Error>> {
        self.close_only(&[])
    }

    fn close_only(&mut self, relays: &[Relay]) -> Result<(), MuxError<I2C::Error>> {
        // An expander whose last write failed may have any relay closed.
        let unknown: Vec<Expander> = self.unknown.iter().copied().collect();
        let mut words: BTreeMap<Expander, u16> = self
            .latches
            .iter()
            .filter(|(_, &w)| w != 0)
            .map(|(&x, _)| (x, 0))
            .chain(unknown.into_iter().map(|x| (x, 0)))
            .collect();
        for relay in relays {
            let word = words.entry(relay.expander()).or_insert(0);
            *word |= 1 << relay.pin;
        }
        for (expander, word) in words {
            self.write(expander, word)?;
        }
        Ok(())
    }

    /// Opens every relay of the system (writes 0 to every MCP23017). Every expander is tried
    /// even if one fails; the first error is returned.
    pub fn release_all(&mut self) -> Result<(), MuxError<I2C::Error>> {
        let mut first = Ok(());
        for expander in self.expanders() {
            let result = self.write(expander, 0);
            if first.is_ok() {
                first = result;
            }
        }
        first
    }

    /// Makes every MCP23017 of the system drive sixteen outputs low.
    pub fn init(&mut self) -> Result<(), MuxError<I2C::Error>> {
        for expander in self.expanders() {
            self.with_channel(expander, |i2c| {
                Mcp23017::new(i2c, expander.mcp)
                    .init_outputs()
                    .map_err(|source| MuxError::Mcp {
                        address: expander.mcp,
                        source,
                    })
            })?;
            self.latches.insert(expander, 0);
        }
        Ok(())
    }

    /// Output latches as last written (bit n = pin n), per expander.
    pub fn latches(&self) -> &BTreeMap<Expander, u16> {
        &self.latches
    }

    fn write(&mut self, expander: Expander, word: u16) -> Result<(), MuxError<I2C::Error>> {
        let result = self.with_channel(expander, |i2c| {
            Mcp23017::new(i2c, expander.mcp)
                .write_outputs(word)
                .map_err(|source| MuxError::Mcp {
                    address: expander.mcp,
                    source,
                })
        });
        match result {
            Ok(()) => {
                self.unknown.remove(&expander);
                self.latches.insert(expander, word);
            }
            Err(_) => {
                self.unknown.insert(expander);
                self.latches.remove(&expander);
            }
        }
        result
    }

    /// Runs `f` with the expander's TCA channel connected, then disconnects the TCA again:
    /// several boards put an MCP23017 at the same address behind their own TCA, so a channel
    /// left open would make two chips answer at once.
    fn with_channel(
        &mut self,
        expander: Expander,
        f: impl FnOnce(&mut I2C) -> Result<(), MuxError<I2C::Error>>,
    ) -> Result<(), MuxError<I2C::Error>> {
        let Some((address, channel)) = expander.tca else {
            return f(&mut self.i2c);
        };
        let tca_err = |source| MuxError::Tca { address, source };
        Tca9548a::new(&mut self.i2c, address)
            .select(channel)
            .map_err(tca_err)?;
        let result = f(&mut self.i2c);
        let closed = Tca9548a::new(&mut self.i2c, address)
            .disable_all()
            .map_err(tca_err);
        result.and(closed)
    }
}

#[cfg(test)]
mod tests;
