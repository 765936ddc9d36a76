//! The simulator: a virtual ground and virtual OhmPi boards behind the same [`Frontend`] as the
//! real ones. It follows the chosen system preset (cabling, relay and supply timings, limits),
//! models contact resistances, the shunt, receiver loading, noise, hum, self-potential, converter
//! quantisation and faults, and runs on the real or a virtual clock.
//!
//! Everything it produces is flagged as simulated by the engine (`FrontendInfo::simulated`).

mod config;
mod ground;
mod probe;
mod rng;
mod supply;

use std::f64::consts::TAU;
use std::sync::Arc;
use std::time::Duration;

pub use config::{ClockKind, SimConfig, DEAD_CONTACT_OHM};
pub use ground::Ground;
pub use probe::{SimAction, SimProbe};
use rng::Rng;

use super::boards::power::supply_settings;
use super::frontend::{Frontend, FrontendError, FrontendInfo, Health, Polarity, RawSample, Supply};
use super::preset::{BoardModel, Preset};
use crate::clock::Clock;
use crate::survey::{Electrode, Geometry, Quadrupole};

/// ADS1115 full-scale ranges \[V\], smallest first.
const PGA_FSR_V: [f64; 6] = [0.256, 0.512, 1.024, 2.048, 4.096, 6.144];

/// Relays closed on a set of electrodes, with the circuit they make.
#[derive(Debug, Clone, Copy)]
struct Closed {
    since: Duration,
    /// Vmn per ampere of injected current \[Ω\] (0 for a pair without M, N).
    transfer_ohm: f64,
    /// Shunt + contacts of A and B + ground between them \[Ω\].
    circuit_ohm: f64,
    /// Fraction of Vmn the receiver sees (input impedance against the M, N contacts).
    loading: f64,
}

/// The simulated boards.
pub struct SimFrontend {
    preset: Preset,
    info: FrontendInfo,
    geometry: Geometry,
    cfg: SimConfig,
    clock: Clock,
    rng: Rng,
    probe: Arc<SimProbe>,
    closed: Option<Closed>,
    polarity: Polarity,
    previous_polarity: Polarity,
    polarity_since: Duration,
    power: bool,
    /// Set point of an adjustable supply, or the battery's voltage \[V\].
    vab_v: f64,
    /// The adjustable supply's output is on (a battery's always is).
    output_on: bool,
    /// The adjustable supply's current limit (what the real system loads into it) \[mA\]: at
    /// that current its output voltage sags to limit × load.
    current_limit_ma: f64,
    discharging: bool,
    bus_errors: u64,
}

impl SimFrontend {
    /// Simulated boards of `preset`, electrodes placed by `geometry`.
    pub fn new(preset: &Preset, geometry: Geometry, cfg: SimConfig, clock: Clock) -> Self {
        let info = preset.info(true);
        let vab_v = match info.supply {
            Supply::Fixed { voltage_v } => voltage_v,
            Supply::Adjustable => 0.0,
        };
        let current_limit_ma = match info.supply {
            Supply::Fixed { .. } => f64::INFINITY,
            Supply::Adjustable => supply_settings(&info).preset_amps * 1000.0,
        };
        let output_on = matches!(info.supply, Supply::Fixed { .. });
        Self {
            preset: preset.clone(),
            info,
            geometry,
            rng: Rng::new(cfg.seed),
            cfg,
            clock,
            probe: Arc::new(SimProbe::default()),
            closed: None,
            polarity: Polarity::Off,
            previous_polarity: Polarity::Off,
            polarity_since: Duration::ZERO,
            power: false,
            vab_v,
            output_on,
            current_limit_ma,
            discharging: false,
            bus_errors: 0,
        }
    }

    /// A handle on the log of what the boards were told, for tests and benchmarks.
    pub fn probe(&self) -> Arc<SimProbe> {
        Arc::clone(&self.probe)
    }

    fn log(&self, action: SimAction) {
        self.probe.record(self.clock.now(), action);
    }

    /// A bus transaction: fails at the configured rate.
    fn bus(&mut self, device: &'static str, address: u8) -> Result<(), FrontendError> {
        if self.rng.chance(self.cfg.i2c_error_rate) {
            self.bus_errors += 1;
            Err(FrontendError::Bus { device, address })
        } else {
            Ok(())
        }
    }

    fn position(&self, e: Electrode) -> Option<[f64; 3]> {
        self.geometry.position(e)
    }

    fn close(&mut self, a: Electrode, b: Electrode, mn: Option<(Electrode, Electrode)>) {
        let (pa, pb) = (self.position(a), self.position(b));
        let ground = self.cfg.ground;
        let rg = match (pa, pb) {
            (Some(pa), Some(pb)) => ground.resistance_between(pa, pb),
            _ => ground.near_surface_rho(),
        };
        let circuit_ohm =
            self.info.r_shunt_ohm + self.cfg.contact_of(a) + self.cfg.contact_of(b) + rg;
        let (transfer_ohm, loading) = match mn {
            Some((m, n)) => {
                let r = ground.transfer_resistance(pa, pb, self.position(m), self.position(n));
                let zin = self.preset.measurement_board.input_impedance_ohm;
                let contacts = self.cfg.contact_of(m) + self.cfg.contact_of(n);
                (r, zin / (zin + contacts))
            }
            None => (0.0, 1.0),
        };
        self.closed = Some(Closed {
            since: self.clock.now(),
            transfer_ohm,
            circuit_ohm,
            loading,
        });
    }

    /// Sign of the current flowing at time `t`, following the polarity relays' timing.
    fn flowing(&self, t: Duration) -> f64 {
        let timings = &self.info.timings;
        let since = t.saturating_sub(self.polarity_since);
        let previous_still =
            self.previous_polarity != Polarity::Off && since < timings.polarity_release;
        let sign = if self.polarity != Polarity::Off && since >= timings.polarity_activation {
            self.polarity.sign()
        } else if previous_still {
            self.previous_polarity.sign()
        } else {
            0
        };
        f64::from(sign)
    }

    /// Smallest converter range holding `volts`, and whether none does.
    fn quantize(&self, volts: f64) -> (f64, bool) {
        let fsr = PGA_FSR_V
            .iter()
            .copied()
            .find(|fsr| volts.abs() < *fsr)
            .unwrap_or(PGA_FSR_V[5]);
        let lsb = fsr / 32768.0;
        let clipped = volts.clamp(-fsr, fsr - lsb);
        ((clipped / lsb).round() * lsb, volts.abs() >= PGA_FSR_V[5])
    }

    /// Vmn as the receiver converts it: the board's front end, gain and quantisation.
    fn receiver(&self, vmn_mv: f64) -> (f64, bool) {
        let limit = self.info.limits.vmn_max_mv;
        let saturated = vmn_mv.abs() >= limit;
        let v = vmn_mv.clamp(-limit, limit);
        if !self.cfg.noise {
            return (v, saturated);
        }
        match self.preset.measurement_board.model {
            // 2500 mV offset into a single-ended converter at ±6.144 V, DG411 gain 1 or 1/2.
            BoardModel::Mb2024_0_2 | BoardModel::Mb2024_1 => {
                let gain = if v.abs() < 2500.0 { 1.0 } else { 0.5 };
                let lsb_mv = 6.144 / 32768.0 * 1000.0 / gain;
                ((v / lsb_mv).round() * lsb_mv, saturated)
            }
            // Differential converter behind a 1/2.5 divider, auto gain.
            BoardModel::Mb2023 => {
                let (q, sat) = self.quantize(v / 2500.0);
                (q * 2500.0, saturated || sat)
            }
        }
    }
}

impl SimFrontend {
    /// The `hang_after_s` fault: once its time has come, never returns.
    fn maybe_hang(&self) {
        let Some(after) = self.cfg.hang_after_s else {
            return;
        };
        if self.clock.now().as_secs_f64() >= after {
            tracing::warn!("simulated fault: the boards stop answering (sim.hang_after_s)");
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
    }
}

impl Frontend for SimFrontend {
    fn info(&self) -> &FrontendInfo {
        &self.info
    }

    fn check_quad(&self, quad: Quadrupole) -> Result<(), FrontendError> {
        self.preset.check_quad(quad)
    }

    fn reset(&mut self) -> Result<(), FrontendError> {
        self.log(SimAction::Reset);
        let now = self.clock.now();
        self.previous_polarity = Polarity::Off;
        self.polarity = Polarity::Off;
        self.polarity_since = now;
        self.closed = None;
        self.power = false;
        self.output_on = matches!(self.info.supply, Supply::Fixed { .. });
        self.discharging = false;
        Ok(())
    }

    fn switch(&mut self, quad: Quadrupole) -> Result<(), FrontendError> {
        self.maybe_hang();
        self.check_quad(quad)?;
        self.bus("MCP23017", 0x20)?;
        self.log(SimAction::Switch(quad));
        self.close(quad.a, quad.b, Some((quad.m, quad.n)));
        Ok(())
    }

    fn switch_pair(&mut self, a: Electrode, b: Electrode) -> Result<(), FrontendError> {
        if a == b {
            return Err(crate::survey::QuadError::SameCurrentElectrodes(a).into());
        }
        for (e, role) in [(a, super::frontend::Role::A), (b, super::frontend::Role::B)] {
            if !self.preset.is_cabled(e, role) {
                return Err(FrontendError::NotCabled { electrode: e, role });
            }
        }
        self.bus("MCP23017", 0x20)?;
        self.log(SimAction::SwitchPair(a, b));
        self.close(a, b, None);
        Ok(())
    }

    fn release(&mut self) -> Result<(), FrontendError> {
        self.bus("MCP23017", 0x20)?;
        self.log(SimAction::Release);
        self.closed = None;
        Ok(())
    }

    fn set_power(&mut self, on: bool) -> Result<(), FrontendError> {
        self.bus("MCP23008", self.preset.measurement_board.tx_mcp_address)?;
        self.log(SimAction::Power(on));
        self.power = on;
        if !on && matches!(self.info.supply, Supply::Adjustable) {
            self.output_on = false;
        }
        Ok(())
    }

    fn set_vab(&mut self, volts: f64) -> Result<f64, FrontendError> {
        match self.info.supply {
            Supply::Fixed { voltage_v } => Ok(if self.cfg.supply_fault {
                0.0
            } else {
                voltage_v
            }),
            Supply::Adjustable => {
                if self.cfg.supply_fault {
                    return Err(FrontendError::SupplyNotAnswering);
                }
                let limits = self.info.limits;
                if volts > limits.vab_max_v + 1e-9 {
                    return Err(FrontendError::Limit {
                        what: "Vab [V]",
                        value: volts,
                        limit: limits.vab_max_v,
                    });
                }
                self.log(SimAction::Vab(volts));
                // The DPH5005 sets and reads back with 10 mV resolution.
                self.vab_v = (volts.max(0.0) * 100.0).round() / 100.0;
                self.output_on = true;
                Ok(self.vab_v)
            }
        }
    }

    fn supply_output_off(&mut self) -> Result<(), FrontendError> {
        if matches!(self.info.supply, Supply::Adjustable) {
            if self.cfg.supply_fault {
                return Err(FrontendError::SupplyNotAnswering);
            }
            self.log(SimAction::SupplyOutput(false));
            self.output_on = false;
        }
        Ok(())
    }

    fn read_vab(&mut self) -> Result<Option<f64>, FrontendError> {
        self.read_back()
    }

    fn set_polarity(&mut self, polarity: Polarity) -> Result<(), FrontendError> {
        if polarity != Polarity::Off {
            self.bus("MCP23008", self.preset.measurement_board.tx_mcp_address)?;
        }
        self.log(SimAction::Polarity(polarity));
        let now = self.clock.now();
        self.previous_polarity = if self.flowing(now) != 0.0 {
            self.polarity
        } else {
            Polarity::Off
        };
        self.polarity = polarity;
        self.polarity_since = now;
        Ok(())
    }

    fn read_sample(&mut self) -> Result<RawSample, FrontendError> {
        self.maybe_hang();
        self.bus("ADS1115", self.preset.measurement_board.rx_adc_address)?;
        let t = self.clock.now();
        let ts = t.as_secs_f64();
        let closed = self
            .closed
            .filter(|c| t >= c.since + self.info.timings.mux_activation);
        let sign = if closed.is_some() {
            self.flowing(t)
        } else {
            0.0
        };
        let (mut iab_ma, transfer, loading) = match closed {
            Some(c) if sign != 0.0 => {
                (self.supply_into(c.circuit_ohm).0, c.transfer_ohm, c.loading)
            }
            _ => (0.0, 0.0, 1.0),
        };
        let mut saturated = false;
        let readable = self.info.limits.iab_readable_max_ma;
        if iab_ma > readable {
            iab_ma = readable;
            saturated = true;
        }
        let signal_mv = sign * iab_ma * transfer * loading;
        let mut vmn = signal_mv + self.cfg.sp_mv;
        if self.cfg.noise {
            vmn += self.cfg.sp_drift_mv_s * ts;
            if self.cfg.hum_hz > 0.0 {
                vmn += self.cfg.hum_mv * (TAU * self.cfg.hum_hz * ts).sin();
            }
            let sd = self.cfg.noise_mv + self.cfg.noise_rel * signal_mv.abs();
            vmn += sd * self.rng.gaussian();
            iab_ma += iab_ma * self.cfg.noise_rel * self.rng.gaussian();
            // Current sense: A0 of the TX converter, gain 50 over the shunt.
            let volts_per_ma = 50.0 * self.info.r_shunt_ohm / 1000.0;
            let (q, sat) = self.quantize(iab_ma.max(0.0) * volts_per_ma);
            iab_ma = q / volts_per_ma;
            saturated |= sat;
        }
        let (vmn_mv, rx_saturated) = self.receiver(vmn);
        Ok(RawSample {
            iab_ma,
            vmn_mv,
            saturated: saturated || rx_saturated,
        })
    }

    fn set_discharge(&mut self, on: bool) -> Result<(), FrontendError> {
        self.log(SimAction::Discharge(on));
        self.discharging = on;
        // A supply whose output is on holds its voltage against the discharge resistor.
        if on && !(self.power && self.output_on) {
            self.vab_v = 0.0;
        }
        Ok(())
    }

    fn health(&mut self) -> Health {
        self.maybe_hang();
        let t = self.clock.now();
        let (supply_v, battery_v) = match self.info.supply {
            Supply::Fixed { voltage_v } => (None, Some(voltage_v)),
            Supply::Adjustable => (Some(self.supply_voltage()), Some(12.4)),
        };
        Health {
            supply_v,
            battery_v,
            bus_errors: self.bus_errors,
            relays_closed: self.closed.is_some(),
            injecting: self.closed.is_some() && self.flowing(t) != 0.0,
        }
    }
}
