//! A whole OhmPi system on real buses: the measurement board, the multiplexers and the supply of
//! one preset, composed behind the [`Frontend`] the simulator also implements.
//!
//! Generic over the buses (embedded-hal 1.0 `I2c` for the measurement board and for the
//! multiplexers, a Modbus [`Serial`] for the supply), so the same code runs on the Raspberry Pi
//! and against recorded bus transactions in the tests.
//!
//! Safety lives here, whatever the engine asks: unsafe or uncabled quadrupoles are refused before
//! any bus write; Vab above the system's limit is refused; with a programmable supply the current
//! limit and over-current/over-power protections are loaded into the supply at every power-up,
//! and a reading above the current or power limit switches the injection off at once; polarity
//! changes only through Off; every relay is opened at start, on [`Frontend::reset`] and when the
//! system is dropped (normal exit, error or panic).

use embedded_hal::i2c::I2c;

use super::mb2023::{self, Mb2023, Mb2023Addresses};
use super::mb2024::{self, Dg411Gain, Mb2024, Mb2024Addresses};
use super::mux::{MuxBank, MuxError};
pub use super::power::{supply_settings, NoSerial, PowerUnit, LIMIT_TOLERANCE, SUPPLY_TIMEOUT};
use crate::drivers::modbus::Serial;
use crate::hardware::frontend::{
    Frontend, FrontendError, FrontendInfo, Health, Polarity, RawSample, Supply,
};
use crate::hardware::preset::{BoardModel, Preset};
use crate::survey::{Electrode, Quadrupole};
use peaks::Peaks;

/// The measurement board of a system.
#[derive(Debug)]
pub enum Board<I2C> {
    Mb2023(Mb2023<I2C>),
    /// mb_2024_1_X, or mb_2024_0_2 (no discharge relay).
    Mb2024(Mb2024<I2C>),
}

/// The boards of one preset on real buses.
pub struct BoardSystem<B: I2c, M: I2c, S: Serial> {
    preset: Preset,
    info: FrontendInfo,
    board: Board<B>,
    mux: MuxBank<M>,
    power: PowerUnit<S>,
    /// Receiver offset subtracted from every Vmn reading, mV.
    bias_mv: f64,
    /// Vab last set, V.
    vab_v: f64,
    /// What the converters read since the last switch or Vab change (`None` right after one:
    /// the next pulse then uses the widest ranges).
    peaks: Option<Peaks>,
    relays_closed: bool,
    bus_errors: u64,
}

impl<B: I2c, M: I2c, S: Serial> BoardSystem<B, M, S> {
    /// Builds the system of `preset` on its buses and puts every chip in its safe state:
    /// expanders as outputs, all low (every relay open), converters running. The supply is
    /// unpowered until [`Frontend::set_power`].
    ///
    /// `serial` is needed for a DPH5005 supply (`None` gives an error naming the port).
    pub fn open(
        preset: &Preset,
        board_bus: B,
        mux_bus: M,
        serial: Option<S>,
    ) -> Result<Self, FrontendError> {
        let spec = &preset.measurement_board;
        let board = match spec.model {
            BoardModel::Mb2023 => Board::Mb2023(Mb2023::new(
                board_bus,
                Mb2023Addresses {
                    tx_mcp: spec.tx_mcp_address,
                    tx_adc: spec.tx_adc_address,
                    rx_adc: spec.rx_adc_address,
                },
            )),
            BoardModel::Mb2024_0_2 | BoardModel::Mb2024_1 => {
                let mb = Mb2024::new(
                    board_bus,
                    Mb2024Addresses {
                        tx_mcp: spec.tx_mcp_address,
                        rx_mcp: spec.rx_mcp_address.unwrap_or(0x27),
                        tx_adc: spec.tx_adc_address,
                        rx_adc: spec.rx_adc_address,
                    },
                );
                Board::Mb2024(if spec.model == BoardModel::Mb2024_0_2 {
                    mb.without_discharge_relay()
                } else {
                    mb
                })
            }
        };
        let info = preset.info(false);
        let power = PowerUnit::new(preset, &info, serial)?;
        let mut system = Self {
            preset: preset.clone(),
            info,
            board,
            mux: MuxBank::new(mux_bus, preset.mux.clone()),
            power,
            bias_mv: 0.0,
            vab_v: 0.0,
            peaks: None,
            relays_closed: false,
            bus_errors: 0,
        };
        system.init()?;
        Ok(system)
    }

    fn init(&mut self) -> Result<(), FrontendError> {
        let board = match &mut self.board {
            Board::Mb2023(mb) => mb.init().map_err(FrontendError::from),
            Board::Mb2024(mb) => mb
                .init()
                .and_then(|()| mb.start_converters())
                .map_err(FrontendError::from),
        };
        let board = self.count(board);
        let mux = self.mux.init().map_err(mux_error);
        let mux = self.count(mux);
        board.and(mux)
    }

    /// The measurement board (for self-tests and diagnostics).
    pub fn board(&mut self) -> &mut Board<B> {
        &mut self.board
    }

    /// The multiplexers.
    pub fn mux(&self) -> &MuxBank<M> {
        &self.mux
    }

    /// Sets the receiver offset subtracted from every Vmn reading, mV.
    pub fn set_bias_mv(&mut self, bias_mv: f64) {
        self.bias_mv = bias_mv;
    }

    /// Counts a bus error.
    fn count<T>(&mut self, r: Result<T, FrontendError>) -> Result<T, FrontendError> {
        if let Err(FrontendError::Bus { .. }) = r {
            self.bus_errors += 1;
        }
        r
    }

    fn board_polarity(&mut self, polarity: Polarity) -> Result<(), FrontendError> {
        let r = match &mut self.board {
            Board::Mb2023(mb) => mb.set_polarity(polarity).map_err(FrontendError::from),
            Board::Mb2024(mb) => mb.set_polarity(polarity).map_err(FrontendError::from),
        };
        self.count(r)
    }

    /// Chooses the receiver and current ranges for a pulse of `polarity` about to start: the
    /// current range from the largest current seen, the receiver range from the largest |Vmn|
    /// this pulse may see ([`Peaks::vmn_bound`]: both polarities, not only the last pulse).
    fn choose_gains(&mut self, polarity: Polarity) -> Result<(), FrontendError> {
        use crate::drivers::ads1115::Gain;
        let r_shunt = self.info.r_shunt_ohm;
        let iab = self.peaks.map(|p| p.iab_ma);
        let vmn = self.peaks.and_then(|p| p.vmn_bound(polarity));
        let r = match &mut self.board {
            Board::Mb2023(mb) => {
                let tx = iab.map_or(Gain::Fsr6144, |i| mb2023::gains_for(i, 0.0, r_shunt).0);
                let rx = vmn.map_or(Gain::Fsr6144, |v| mb2023::gains_for(0.0, v, r_shunt).1);
                mb.set_gains(tx, rx).map_err(FrontendError::from)
            }
            Board::Mb2024(mb) => {
                let gain = vmn.map_or(Dg411Gain::Half, mb2024::gain_for);
                if gain == mb.gain() {
                    Ok(())
                } else {
                    mb.set_gain(gain).map_err(FrontendError::from)
                }
            }
        };
        self.count(r)
    }

    /// Cuts the injection after a reading beyond a limit, and says which.
    fn over_limit(&mut self, what: &'static str, value: f64, limit: f64) -> FrontendError {
        let _ = self.board_polarity(Polarity::Off);
        FrontendError::Limit { what, value, limit }
    }
}

fn mux_error<E: core::fmt::Debug>(e: MuxError<E>) -> FrontendError {
    match e {
        MuxError::Unsafe(q) => FrontendError::Unsafe(q),
        MuxError::NotCabled { electrode, role } => FrontendError::NotCabled { electrode, role },
        MuxError::Mcp { address, .. } => FrontendError::Bus {
            device: "MCP23017",
            address,
        },
        MuxError::Tca { address, .. } => FrontendError::Bus {
            device: "TCA9548A",
            address,
        },
    }
}

impl<B, M, S> Frontend for BoardSystem<B, M, S>
where
    B: I2c + Send,
    M: I2c + Send,
    S: Serial + Send,
{
    fn info(&self) -> &FrontendInfo {
        &self.info
    }

    fn check_quad(&self, quad: Quadrupole) -> Result<(), FrontendError> {
        self.preset.check_quad(quad)
    }

    fn reset(&mut self) -> Result<(), FrontendError> {
        self.reset_all()
    }

    fn switch(&mut self, quad: Quadrupole) -> Result<(), FrontendError> {
        self.preset.check_quad(quad)?;
        if self.board_is_injecting() {
            return Err(FrontendError::Interlock("relay switching while injecting"));
        }
        self.peaks = None;
        if self.preset.mux.is_empty() {
            self.relays_closed = true;
            return Ok(());
        }
        let r = self.mux.switch(quad).map_err(mux_error);
        self.relays_closed = true;
        self.count(r)
    }

    fn switch_pair(&mut self, a: Electrode, b: Electrode) -> Result<(), FrontendError> {
        if a == b {
            return Err(crate::survey::QuadError::SameCurrentElectrodes(a).into());
        }
        for (e, role) in [(a, crate::hardware::Role::A), (b, crate::hardware::Role::B)] {
            if !self.preset.is_cabled(e, role) {
                return Err(FrontendError::NotCabled { electrode: e, role });
            }
        }
        if self.board_is_injecting() {
            return Err(FrontendError::Interlock("relay switching while injecting"));
        }
        self.peaks = None;
        if self.preset.mux.is_empty() {
            self.relays_closed = true;
            return Ok(());
        }
        let r = self.mux.switch_pair(a, b).map_err(mux_error);
        self.relays_closed = true;
        self.count(r)
    }

    fn release(&mut self) -> Result<(), FrontendError> {
        if self.board_is_injecting() {
            return Err(FrontendError::Interlock("relay switching while injecting"));
        }
        let r = self.mux.open_closed().map_err(mux_error);
        if r.is_ok() {
            self.relays_closed = false;
        }
        self.count(r)
    }

    fn set_power(&mut self, on: bool) -> Result<(), FrontendError> {
        if !on {
            self.power.off();
        }
        let r = match &mut self.board {
            // The battery feeds the mb_2023 directly: no power relays.
            Board::Mb2023(_) => Ok(()),
            Board::Mb2024(mb) => mb.set_power(on).map_err(FrontendError::from),
        };
        self.count(r)
    }

    fn set_vab(&mut self, volts: f64) -> Result<f64, FrontendError> {
        let limits = self.info.limits;
        if !volts.is_finite() || volts < 0.0 || volts > limits.vab_max_v {
            return Err(FrontendError::Limit {
                what: "Vab [V]",
                value: volts,
                limit: limits.vab_max_v,
            });
        }
        let v = self.power.set_vab(volts)?;
        if (v - self.vab_v).abs() > 1e-9 {
            self.peaks = None;
        }
        self.vab_v = v;
        Ok(v)
    }

    fn supply_output_off(&mut self) -> Result<(), FrontendError> {
        self.power.output_off()
    }

    fn read_vab(&mut self) -> Result<Option<f64>, FrontendError> {
        self.power.read_output()
    }

    fn set_polarity(&mut self, polarity: Polarity) -> Result<(), FrontendError> {
        if polarity != Polarity::Off {
            if self.board_is_injecting() {
                return Err(FrontendError::Interlock(
                    "polarity change without going through Off",
                ));
            }
            self.choose_gains(polarity)?;
        }
        self.board_polarity(polarity)
    }

    fn read_sample(&mut self) -> Result<RawSample, FrontendError> {
        let r_shunt = self.info.r_shunt_ohm;
        let bias = self.bias_mv;
        let reading = match &mut self.board {
            Board::Mb2023(mb) => mb
                .read_iab(r_shunt)
                .and_then(|(i, si)| mb.read_vmn(bias).map(|(v, sv)| (i, v, si || sv)))
                .map_err(FrontendError::from),
            Board::Mb2024(mb) => mb
                .read_iab(r_shunt)
                .and_then(|(i, si)| mb.read_vmn(bias).map(|(v, sv)| (i, v, si || sv)))
                .map_err(FrontendError::from),
        };
        let (iab_ma, vmn_mv, saturated) = self.count(reading)?;
        let polarity = self.board_polarity_now();
        self.peaks
            .get_or_insert_with(Peaks::default)
            .add(polarity, iab_ma, vmn_mv);
        if matches!(self.info.supply, Supply::Adjustable) {
            let limits = self.info.limits;
            let i_limit = limits.iab_max_ma * LIMIT_TOLERANCE;
            if iab_ma > i_limit {
                return Err(self.over_limit("Iab [mA]", iab_ma, i_limit));
            }
            let p_limit = limits.pab_max_w * LIMIT_TOLERANCE;
            let pab = self.vab_v * iab_ma / 1000.0;
            if pab > p_limit {
                return Err(self.over_limit("Pab [W]", pab, p_limit));
            }
        }
        Ok(RawSample {
            iab_ma: iab_ma.max(0.0),
            vmn_mv,
            saturated,
        })
    }

    fn set_discharge(&mut self, on: bool) -> Result<(), FrontendError> {
        let r = match &mut self.board {
            Board::Mb2023(_) if on => Err(FrontendError::Interlock(
                "this board has no discharge relay",
            )),
            Board::Mb2023(_) => Ok(()),
            Board::Mb2024(mb) => mb.set_discharge(on).map_err(FrontendError::from),
        };
        self.count(r)
    }

    fn health(&mut self) -> Health {
        let injecting = self.board_is_injecting();
        let (supply_v, battery_v) = self.power.voltages();
        Health {
            supply_v,
            battery_v,
            bus_errors: self.bus_errors,
            relays_closed: self.relays_closed,
            injecting,
        }
    }
}

impl<B: I2c, M: I2c, S: Serial> BoardSystem<B, M, S> {
    /// Injection off, supply off, every relay open.
    fn reset_all(&mut self) -> Result<(), FrontendError> {
        // Injection off, supply output off, every board output off, relays open; every step is
        // tried whatever the others do.
        let _ = self.board_polarity(Polarity::Off);
        self.power.off();
        let board = match &mut self.board {
            Board::Mb2023(mb) => mb.reset().map_err(FrontendError::from),
            Board::Mb2024(mb) => mb.reset().map_err(FrontendError::from),
        };
        let board = self.count(board);
        let mux = self.mux.release_all().map_err(mux_error);
        let mux = self.count(mux);
        self.relays_closed = false;
        self.peaks = None;
        board.and(mux)
    }

    fn board_polarity_now(&self) -> Polarity {
        match &self.board {
            Board::Mb2023(mb) => mb.polarity(),
            Board::Mb2024(mb) => mb.polarity(),
        }
    }

    fn board_is_injecting(&self) -> bool {
        self.board_polarity_now() != Polarity::Off
    }
}

impl<B: I2c, M: I2c, S: Serial> Drop for BoardSystem<B, M, S> {
    fn drop(&mut self) {
        // Every exit path, a panic included, leaves the relays open and the injection off.
        if self.reset_all().is_err() {
            tracing::error!("the boards could not all be reset on exit; check the relays");
        }
    }
}

mod peaks;
#[cfg(test)]
mod tests;
