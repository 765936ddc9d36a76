//! The contact-resistance check of one pair of electrodes: a short + pulse between them, the
//! resistance seen by the supply less the shunt.

use super::event::{Contact, Event, RunId};
use super::measure::{Pulse, CURRENT_FLOOR_MA, TEST_PULSE_S, TEST_PULSE_SAMPLES};
use super::settings::Settings;
use super::worker::{Abort, Stop, Worker};
use crate::hardware::{Frontend, Polarity, Supply};
use crate::survey::{Electrode, Quadrupole, Quality};

impl<F: Frontend> Worker<F> {
    /// Contact resistance of one pair: a short + pulse at `vab`.
    pub(crate) fn measure_contact(
        &mut self,
        run: RunId,
        a: Electrode,
        b: Electrode,
        vab: f64,
        s: &Settings,
    ) -> Result<Contact, Stop> {
        let mut quality = if self.fe.info().simulated {
            Quality::SIMULATED
        } else {
            Quality::empty()
        };
        let pseudo = Quadrupole::new(a, b, 0, 0);
        let t0 = self.clock.now();
        self.buf.clear();
        let mut vab_v = 0.0;
        let result: Result<(), Abort> = (|| {
            let timings = self.fe.info().timings;
            self.ensure_powered()?;
            self.fe.switch_pair(a, b)?;
            let switched = self.clock.now();
            self.wait_until(switched + timings.mux_activation)?;
            vab_v = match self.fe.info().supply {
                Supply::Fixed { voltage_v } => self.fe.set_vab(voltage_v)?,
                Supply::Adjustable => self.set_vab_settled(vab)?,
            };
            let pulse = Pulse {
                quad: pseudo,
                t0,
                index: 0,
                polarity: Polarity::Positive,
                on: TEST_PULSE_S
                    .min(s.injection_duration)
                    .max(TEST_PULSE_SAMPLES / s.sampling_rate),
                off: 0.0,
                waveform: false,
                read_back: true,
            };
            if let Some(v) = self.pulse(run, s, pulse)? {
                vab_v = v;
            }
            self.fe.release()?;
            let now = self.clock.now();
            self.wait_until(now + timings.mux_release)?;
            Ok(())
        })();
        match result {
            Ok(()) => {}
            Err(Abort::Stop(stop)) => return Err(stop),
            Err(Abort::Fault(error)) => {
                self.emit(Event::Fault {
                    run: Some(run),
                    quad: None,
                    error,
                });
                self.make_safe();
                quality.insert(Quality::FAULT);
                self.buf.clear();
            }
        }
        let usable = self.buf.iter().filter(|r| r.usable).map(|r| r.iab_ma);
        let (sum, count) = usable.fold((0.0, 0u32), |(s, c), i| (s + i, c + 1));
        let iab_ma = (count > 0).then(|| sum / f64::from(count));
        let r_shunt_kohm = self.fe.info().r_shunt_ohm / 1000.0;
        let rs_kohm = iab_ma
            .filter(|i| *i > CURRENT_FLOOR_MA)
            .map(|i| vab_v / i - r_shunt_kohm);
        if rs_kohm.is_none() {
            quality.insert(Quality::LOW_CURRENT);
        }
        Ok(Contact {
            a,
            b,
            rs_kohm,
            vab_v,
            iab_ma,
            quality,
        })
    }
}
