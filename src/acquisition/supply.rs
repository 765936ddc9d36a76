//! The injection supply as the engine drives it: Vab set and settled (no Modbus exchange when
//! it does not change), the output discharged only when a lower Vab is needed or at the end of
//! a run, and Vab read back under load where the supply can tell.
//!
//! Order when discharging: injection off (it is, between pulses), supply output off, then the
//! discharge relay; the relay empties the output capacitors, it must never load a supply still
//! driving them.

use super::event::{Event, RunId};
use super::worker::{Abort, Worker};
use crate::hardware::Frontend;
use crate::survey::Quadrupole;

/// Two set points closer than this are the same (the DPH5005 sets in 10 mV steps) \[V\].
const SAME_VAB_V: f64 = 0.005;

impl<F: Frontend> Worker<F> {
    /// Sets an adjustable supply to `volts` and waits its settling time. Nothing is sent when
    /// the output is already on at that voltage (the next quadrupole of a fixed-Vab survey);
    /// a lower voltage than the output holds is preceded by a discharge.
    pub(crate) fn set_vab_settled(&mut self, volts: f64) -> Result<f64, Abort> {
        if let Some(v) = self.output_v.filter(|v| (v - volts).abs() < SAME_VAB_V) {
            return Ok(v);
        }
        if self.needs_discharge(volts) {
            self.discharge()?;
        }
        let settle = self.fe.info().timings.supply_settle;
        self.output_v = None;
        let v = self.fe.set_vab(volts)?;
        self.output_v = Some(v);
        // Without a discharge the capacitors keep the highest voltage they were given.
        self.held_v = self.held_v.max(v);
        let now = self.clock.now();
        self.wait_until(now + settle)?;
        Ok(v)
    }

    /// Supply output off, then the discharge relay closed for its time and opened. An interrupt
    /// meanwhile leaves the rest to `make_safe`, which discharges again (the output still counts
    /// as charged) and opens the relay.
    fn discharge(&mut self) -> Result<(), Abort> {
        let timings = self.fe.info().timings;
        self.fe.supply_output_off()?;
        self.output_v = None;
        self.fe.set_discharge(true)?;
        let start = self.clock.now();
        self.wait_until(start + timings.discharge)?;
        self.fe.set_discharge(false)?;
        self.held_v = 0.0;
        Ok(())
    }

    /// The supply's output voltage now, under the present load (one Modbus read of UOUT on a
    /// DPH5005), or `None` when the supply cannot tell (a battery) or did not answer; a supply
    /// that did not answer is reported as a fault event, the measurement goes on.
    pub(crate) fn read_back_vab(&mut self, run: RunId, quad: Quadrupole) -> Option<f64> {
        match self.fe.read_vab() {
            Ok(v) => v,
            Err(error) => {
                self.emit(Event::Fault {
                    run: Some(run),
                    quad: Some(quad),
                    error,
                });
                None
            }
        }
    }
}
