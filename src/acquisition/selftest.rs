//! Board self-tests, run by the engine through the [`Frontend`], so they exercise the real
//! boards on a Raspberry Pi and the simulator elsewhere (where its faults — bus errors, a
//! supply that does not answer — make them fail the same way).
//!
//! - `relays`: with the supply off, every electrode is switched in every role it is cabled for
//!   (quadrupoles e, e+1, e+2, e+3 around the cable) and released, at the relays' own pace.
//! - `vmn_offset`: relays open, no injection: the receiver reads its 2500 mV reference, so Vmn
//!   (reference removed) must be near 0 mV.
//! - `iab_offset`: the same readings of the current-sense channel must be near 0 mA.
//! - `supply`: the supply powered and set to its lowest voltage reports that voltage back (a
//!   battery: its voltage is reported).

use std::time::Duration;

pub use super::event::SelfTestResult;
use super::event::{Event, Outcome, RunId, RunKind};
use super::worker::{Abort, Stop, Worker};
use crate::hardware::{Frontend, Polarity, Supply};
use crate::survey::Quadrupole;

/// The self-tests, in the order they run.
pub const SELF_TESTS: [&str; 4] = ["relays", "vmn_offset", "iab_offset", "supply"];
/// Largest |Vmn| with nothing connected, mV.
pub const VMN_OFFSET_MAX_MV: f64 = 100.0;
/// Largest |Iab| with no injection, mA.
pub const IAB_OFFSET_MAX_MA: f64 = 0.5;
/// How long the offsets are read.
const OFFSET_READ: Duration = Duration::from_millis(200);
/// The supply must report its set voltage within this fraction (plus 0.5 V).
const SUPPLY_TOLERANCE: f64 = 0.1;

impl<F: Frontend> Worker<F> {
    /// Runs the named self-tests (all of them when `names` is `None`; unknown names are
    /// skipped: the caller checks them against [`SELF_TESTS`]).
    pub(crate) fn run_self_test(
        &mut self,
        run: RunId,
        names: Option<&[String]>,
    ) -> Result<(), Stop> {
        let tests: Vec<&'static str> = SELF_TESTS
            .into_iter()
            .filter(|t| names.is_none_or(|n| n.iter().any(|x| x == t)))
            .collect();
        let s = self.effective(None);
        let total = tests.len() as u32;
        let mut done = 0u32;
        let result = (|| {
            // A supply that cannot be powered is what the tests are for: they run anyway, and
            // each says what fails.
            let _powered = self.start_run(run, RunKind::SelfTest, total, 1, &s)?;
            for name in tests {
                let result = match name {
                    "relays" => self.test_relays()?,
                    "vmn_offset" | "iab_offset" => self.test_offset(name, s.sampling_rate)?,
                    _ => self.test_supply()?,
                };
                let delivered = self.deliver(Event::SelfTest { run, result });
                done += 1;
                delivered?;
                self.emit(Event::Progress {
                    run,
                    done,
                    total,
                    eta_s: 0.0,
                });
            }
            Ok(Outcome::Completed)
        })();
        self.conclude(run, result, done)
    }

    /// A fault ends the test (failed) with the hardware made safe; a stop ends the run.
    fn judged(
        &mut self,
        name: &'static str,
        unit: &'static str,
        r: Result<(bool, Option<f64>), Abort>,
    ) -> Result<SelfTestResult, Stop> {
        match r {
            Ok((passed, value)) => Ok(SelfTestResult {
                name,
                passed,
                value,
                unit,
            }),
            Err(Abort::Stop(stop)) => Err(stop),
            Err(Abort::Fault(error)) => {
                self.emit(Event::Fault {
                    run: None,
                    quad: None,
                    error,
                });
                self.make_safe();
                Ok(SelfTestResult {
                    name,
                    passed: false,
                    value: None,
                    unit,
                })
            }
        }
    }

    fn test_relays(&mut self) -> Result<SelfTestResult, Stop> {
        let r = (|| {
            // Supply off: the relays switch no current.
            self.fe.set_polarity(Polarity::Off)?;
            self.output_v = None;
            self.fe.set_power(false)?;
            self.powered = false;
            let timings = self.fe.info().timings;
            let n = self.fe.info().nelec;
            let at = |e: u16, k: u16| (e - 1 + k) % n + 1;
            let mut switched = 0u32;
            for e in 1..=n {
                let quad = Quadrupole::new(at(e, 0), at(e, 1), at(e, 2), at(e, 3));
                if self.fe.check_quad(quad).is_err() {
                    continue;
                }
                self.fe.switch(quad)?;
                let t = self.clock.now();
                self.wait_until(t + timings.mux_activation)?;
                self.fe.release()?;
                let t = self.clock.now();
                self.wait_until(t + timings.mux_release)?;
                switched += 1;
            }
            Ok((switched > 0, Some(f64::from(switched))))
        })();
        self.judged("relays", "quadrupoles", r)
    }

    fn test_offset(&mut self, name: &'static str, rate: f64) -> Result<SelfTestResult, Stop> {
        let vmn = name == "vmn_offset";
        let r = (|| {
            self.fe.set_polarity(Polarity::Off)?;
            self.fe.release()?;
            let dt = Duration::from_secs_f64(1.0 / rate);
            let n = ((OFFSET_READ.as_secs_f64() * rate) as u32).max(1);
            let start = self.clock.now();
            let (mut sum, mut saturated) = (0.0, false);
            for i in 0..n {
                self.wait_until(start + dt * i)?;
                let raw = self.fe.read_sample()?;
                saturated |= raw.saturated;
                sum += if vmn { raw.vmn_mv } else { raw.iab_ma };
            }
            let mean = sum / f64::from(n);
            let limit = if vmn {
                VMN_OFFSET_MAX_MV
            } else {
                IAB_OFFSET_MAX_MA
            };
            Ok((!saturated && mean.abs() <= limit, Some(mean)))
        })();
        self.judged(name, if vmn { "mV" } else { "mA" }, r)
    }

    fn test_supply(&mut self) -> Result<SelfTestResult, Stop> {
        let r = (|| {
            self.ensure_powered()?;
            let info = self.fe.info().clone();
            let (target, reported) = match info.supply {
                Supply::Fixed { voltage_v } => {
                    self.fe.set_vab(voltage_v)?;
                    (voltage_v, self.fe.health().battery_v)
                }
                Supply::Adjustable => {
                    let v = self.set_vab_settled(info.limits.vab_min_v)?;
                    (v, self.fe.health().supply_v)
                }
            };
            let passed =
                reported.is_some_and(|r| (r - target).abs() <= target * SUPPLY_TOLERANCE + 0.5);
            Ok((passed, reported))
        })();
        let result = self.judged("supply", "V", r);
        self.make_safe();
        result
    }
}
