//! The measurement of one quadrupole (measurement.md): switch, choose Vab, square wave with
//! stacks and duty cycle, sampling on absolute deadlines, statistics, release.
//!
//! Inside the sample loop nothing allocates and nothing but the Frontend is touched; commands
//! are taken between samples, so an interrupt turns injection off within a sample period.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::event::{Event, RunId, Sample};
use super::settings::{Settings, Strategy};
use super::stats::{self, Reading};
use super::strategy::{self, Estimate};
use super::worker::{Abort, Stop, Worker};
use crate::hardware::{Frontend, FrontendError, Polarity, Supply};
use crate::survey::{Measurement, Quadrupole, Quality};

/// Samples taken after this fraction of a pulse enter the statistics (the last third is used).
const USABLE_FROM: f64 = 2.0 / 3.0;
/// Length of each test pulse of a Vab search \[s\], unless the pulses are shorter.
pub(crate) const TEST_PULSE_S: f64 = 0.1;
/// A test pulse holds at least this many readings (the last third enters the estimate).
pub(crate) const TEST_PULSE_SAMPLES: f64 = 9.0;
/// Test-pulse rounds of a Vab search (each after lowering Vab from a saturated reading).
const MAX_SEARCH_STEPS: usize = 3;
/// Relative spread of R above which a record is flagged `high_std` \[%\].
const HIGH_STD_PCT: f64 = 5.0;
/// Currents below this are not a measurement, whatever `iab_min` says \[mA\].
pub(crate) const CURRENT_FLOOR_MA: f64 = 1e-3;
/// A supply output read back under load below this fraction of its set point is in current
/// limit: the record is flagged `current_limited`.
const SAGGED_BELOW: f64 = 0.95;

/// Readings a quadrupole can produce with `s` (buffer sizing, outside the sample loop).
pub(crate) fn readings_needed(s: &Settings) -> usize {
    let per = |d: f64| (d * s.sampling_rate).ceil() as usize + 2;
    let train = usize::from(s.nb_stack) * 2 * (per(s.injection_duration) + per(s.off_time()));
    let test = TEST_PULSE_S
        .min(s.injection_duration)
        .max(TEST_PULSE_SAMPLES / s.sampling_rate);
    train + 2 * per(test)
}

/// What a sampling window of a pulse needs to know.
struct Window {
    quad: Quadrupole,
    /// Start of the quadrupole, for sample times.
    t0: Duration,
    pulse: u16,
    polarity: i8,
    start: Duration,
    duration: f64,
    /// Readings from this instant enter the statistics (`None`: none do).
    usable_from: Option<Duration>,
    /// Send the readings on as waveform samples.
    waveform: bool,
}

/// One pulse of a quadrupole.
pub(crate) struct Pulse {
    pub(crate) quad: Quadrupole,
    /// Start of the quadrupole, for sample times.
    pub(crate) t0: Duration,
    pub(crate) index: u16,
    pub(crate) polarity: Polarity,
    /// Current on [s], then off [s].
    pub(crate) on: f64,
    pub(crate) off: f64,
    /// Send the readings on as waveform samples.
    pub(crate) waveform: bool,
    /// Read the supply's output voltage back at the end of the current-on time (one Modbus
    /// exchange on a DPH5005; the first pulse of each train asks for it).
    pub(crate) read_back: bool,
}

impl<F: Frontend> Worker<F> {
    /// Measures one quadrupole. Hardware faults give a record flagged `fault`; an interrupt or a
    /// shutdown returns `Err` at once, leaving the hardware to the caller's `make_safe`.
    pub(crate) fn measure(
        &mut self,
        run: RunId,
        quad: Quadrupole,
        s: &Settings,
    ) -> Result<Measurement, Stop> {
        let t0 = self.clock.now();
        let info_supply = self.fe.info().supply;
        let mut m = Measurement {
            quad,
            time: self.clock.wall(),
            injection_ms: s.injection_duration * 1000.0,
            duty_cycle: s.duty_cycle,
            n_stacks: s.nb_stack,
            strategy: match info_supply {
                Supply::Fixed { .. } => Strategy::Fixed,
                Supply::Adjustable => s.strategy,
            },
            vab_v: 0.0,
            vmn_mv: None,
            vmn_std_pct: None,
            iab_ma: None,
            iab_std_pct: None,
            r_ohm: None,
            r_std_pct: None,
            rab_kohm: None,
            sp_mv: None,
            k_m: self.geometry.k(&quad),
            rhoa_ohmm: None,
            samples: 0,
            dropped_samples: 0,
            battery_v: None,
            quality: if self.fe.info().simulated {
                Quality::SIMULATED
            } else {
                Quality::empty()
            },
            duration_s: 0.0,
        };
        self.buf.clear();
        self.dropped_in_quad = 0;
        let result = self.measure_inner(run, quad, s, t0, &mut m);
        match result {
            Ok(()) => {}
            Err(Abort::Stop(stop)) => return Err(stop),
            Err(Abort::Fault(error)) => {
                if let FrontendError::Bus { .. } = error {
                    self.counters.bus_errors.fetch_add(1, Ordering::Relaxed);
                }
                self.emit(Event::Fault {
                    run: Some(run),
                    quad: Some(quad),
                    error,
                });
                self.make_safe();
                m.quality.insert(Quality::FAULT);
                m.samples = 0;
                m.vmn_mv = None;
                m.vmn_std_pct = None;
                m.iab_ma = None;
                m.iab_std_pct = None;
                m.r_ohm = None;
                m.r_std_pct = None;
                m.rab_kohm = None;
                m.sp_mv = None;
                m.rhoa_ohmm = None;
            }
        }
        m.battery_v = self.fe.health().battery_v;
        m.duration_s = (self.clock.now() - t0).as_secs_f64();
        self.counters.quadrupoles.fetch_add(1, Ordering::Relaxed);
        Ok(m)
    }

    fn measure_inner(
        &mut self,
        run: RunId,
        quad: Quadrupole,
        s: &Settings,
        t0: Duration,
        m: &mut Measurement,
    ) -> Result<(), Abort> {
        let timings = self.fe.info().timings;
        self.fe.check_quad(quad)?;
        self.ensure_powered()?;
        self.fe.switch(quad)?;
        let switched = self.clock.now();
        self.wait_until(switched + timings.mux_activation)?;

        let choice = self.choose_vab(run, quad, s, t0)?;
        m.vab_v = choice.vab_v;
        if choice.limited {
            m.quality.insert(Quality::CURRENT_LIMITED);
        }

        self.buf.clear();
        let off = s.off_time();
        let mut read_back = None;
        for stack in 0..s.nb_stack {
            for (k, polarity) in [(0u16, Polarity::Positive), (1, Polarity::Negative)] {
                let index = stack * 2 + k;
                let pulse = Pulse {
                    quad,
                    t0,
                    index,
                    polarity,
                    on: s.injection_duration,
                    off,
                    waveform: s.full_waveform,
                    read_back: index == 0,
                };
                read_back = self.pulse(run, s, pulse)?.or(read_back);
            }
        }
        self.fe.release()?;
        let released = self.clock.now();
        self.wait_until(released + timings.mux_release)?;
        // The supply's own measure under load where it has one; the set point (a battery's
        // voltage) otherwise. The supply stays charged: it is discharged only before a lower
        // Vab or at the end of the run.
        if let Some(v) = read_back {
            if v < m.vab_v * SAGGED_BELOW {
                m.quality.insert(Quality::CURRENT_LIMITED);
            }
            m.vab_v = v;
        }
        self.finish(s, m);
        Ok(())
    }

    /// One pulse followed by its off time, sampled throughout. The next relay command waits at
    /// least the polarity relays' release time after this pulse is switched off. Returns the
    /// supply's output voltage read back under load when `p.read_back` asks for it: read after
    /// the last reading of the current-on time and before the current is switched off, so no
    /// reading is lost (the pulse lasts one Modbus exchange longer, about 10 ms at 19200 Bd).
    pub(crate) fn pulse(
        &mut self,
        run: RunId,
        s: &Settings,
        p: Pulse,
    ) -> Result<Option<f64>, Abort> {
        let timings = self.fe.info().timings;
        self.fe.set_polarity(p.polarity)?;
        let start = self.clock.now() + timings.polarity_activation;
        self.wait_until(start)?;
        let window = |polarity: i8, start: Duration, duration: f64, usable: bool| Window {
            quad: p.quad,
            t0: p.t0,
            pulse: p.index,
            polarity,
            start,
            duration,
            usable_from: usable.then(|| start + Duration::from_secs_f64(duration * USABLE_FROM)),
            waveform: p.waveform,
        };
        self.sample_window(run, s, window(p.polarity.sign(), start, p.on, true))?;
        let read_back = if p.read_back {
            self.read_back_vab(run, p.quad)
        } else {
            None
        };
        self.fe.set_polarity(Polarity::Off)?;
        let off_at = self.clock.now();
        if p.off > 0.0 {
            self.sample_window(run, s, window(0, off_at, p.off, false))?;
        }
        self.wait_until(off_at + timings.polarity_release)?;
        Ok(read_back)
    }

    /// Samples at `s.sampling_rate` on absolute deadlines from `w.start` for `w.duration`, then
    /// waits for the end of the window. No allocation: readings go into the pre-sized buffer.
    fn sample_window(&mut self, run: RunId, s: &Settings, w: Window) -> Result<(), Abort> {
        let dt = Duration::from_secs_f64(1.0 / s.sampling_rate);
        let end = w.start + Duration::from_secs_f64(w.duration);
        let n = ((w.duration * s.sampling_rate).round() as u32).max(1);
        let mut failures = 0u32;
        for i in 0..n {
            let deadline = w.start + dt * i;
            self.wait_until(deadline)?;
            let now = self.clock.now();
            let late = now - deadline;
            if late > dt || self.buf.len() == self.buf.capacity() {
                self.dropped_in_quad += 1;
                self.counters
                    .dropped_samples
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let raw = match self.fe.read_sample() {
                Ok(raw) => raw,
                Err(e @ FrontendError::Bus { .. }) => {
                    self.counters.bus_errors.fetch_add(1, Ordering::Relaxed);
                    self.counters
                        .dropped_samples
                        .fetch_add(1, Ordering::Relaxed);
                    self.dropped_in_quad += 1;
                    failures += 1;
                    // A few lost readings are tolerated; a failing converter spoils the quadrupole.
                    if failures > 3 + n / 10 {
                        return Err(Abort::Fault(e));
                    }
                    continue;
                }
                Err(e) => return Err(Abort::Fault(e)),
            };
            self.buf.push(Reading {
                pulse: w.pulse,
                polarity: w.polarity,
                usable: w.usable_from.is_some_and(|from| now >= from),
                saturated: raw.saturated,
                iab_ma: raw.iab_ma,
                vmn_mv: raw.vmn_mv,
            });
            if w.waveform {
                self.emit(Event::Sample {
                    run,
                    sample: Sample {
                        quad: w.quad,
                        t_s: (now - w.t0).as_secs_f64(),
                        pulse: w.pulse,
                        polarity: w.polarity,
                        iab_ma: raw.iab_ma,
                        vmn_mv: raw.vmn_mv,
                        late_us: late.as_secs_f64() as f32 * 1e6,
                    },
                });
            }
        }
        self.wait_until(end)?;
        Ok(())
    }

    /// Sets Vab: the battery's voltage, `vab_req` for the fixed strategy, or the result of a
    /// search with one pair of short test pulses.
    fn choose_vab(
        &mut self,
        run: RunId,
        quad: Quadrupole,
        s: &Settings,
        t0: Duration,
    ) -> Result<strategy::Choice, Abort> {
        let info = self.fe.info().clone();
        if let Supply::Fixed { voltage_v } = info.supply {
            let v = self.fe.set_vab(voltage_v)?;
            return Ok(strategy::Choice {
                vab_v: v,
                limited: false,
            });
        }
        let first = strategy::choose(s, &info.limits, None);
        let mut vab = self.set_vab_settled(first.vab_v)?;
        if s.strategy == Strategy::Fixed {
            return Ok(strategy::Choice {
                vab_v: vab,
                limited: first.limited,
            });
        }
        let mut limited = first.limited;
        let mut estimate = None;
        for _ in 0..MAX_SEARCH_STEPS {
            let (st, read_back) = self.test_pulses(run, quad, s, t0)?;
            if !st.saturated {
                // Rab from what the supply gave under load (its read-back where it has one).
                let given = read_back.unwrap_or(vab);
                estimate = match (st.iab_ma, st.r_ohm) {
                    (Some(i), Some(r)) if i > CURRENT_FLOOR_MA => Some(Estimate {
                        rab_kohm: given / i,
                        r_ohm: r,
                    }),
                    // No current: nothing to scale from; stay at the requested voltage.
                    _ => None,
                };
                break;
            }
            // A converter at full scale: the true current or voltage is unknown but too high.
            limited = true;
            let lower = (vab / 4.0).max(info.limits.vab_min_v);
            if lower >= vab {
                break;
            }
            vab = self.set_vab_settled(lower)?;
        }
        let Some(estimate) = estimate else {
            return Ok(strategy::Choice {
                vab_v: vab,
                limited,
            });
        };
        let choice = strategy::choose(s, &info.limits, Some(&estimate));
        if (choice.vab_v - vab).abs() > 0.01 {
            vab = self.set_vab_settled(choice.vab_v)?;
        }
        Ok(strategy::Choice {
            vab_v: vab,
            limited: limited || choice.limited,
        })
    }

    /// A + and a − test pulse at the present Vab, long enough for the statistics; their
    /// readings are not part of the record or the waveform. Returns their statistics and the
    /// supply's read-back during the + pulse.
    fn test_pulses(
        &mut self,
        run: RunId,
        quad: Quadrupole,
        s: &Settings,
        t0: Duration,
    ) -> Result<(stats::Stats, Option<f64>), Abort> {
        let on = TEST_PULSE_S
            .min(s.injection_duration)
            .max(TEST_PULSE_SAMPLES / s.sampling_rate);
        self.buf.clear();
        let mut read_back = None;
        for (index, polarity) in [(0u16, Polarity::Positive), (1, Polarity::Negative)] {
            let pulse = Pulse {
                quad,
                t0,
                index,
                polarity,
                on,
                off: 0.0,
                waveform: false,
                read_back: index == 0,
            };
            read_back = self.pulse(run, s, pulse)?.or(read_back);
        }
        Ok((stats::compute(&self.buf), read_back))
    }

    /// Statistics, geometric factor and quality flags from the buffered readings.
    fn finish(&self, s: &Settings, m: &mut Measurement) {
        let st = stats::compute(&self.buf);
        m.sp_mv = st.sp_mv;
        m.vmn_mv = st.vmn_mv;
        m.vmn_std_pct = st.vmn_std_pct;
        m.iab_ma = st.iab_ma;
        m.iab_std_pct = st.iab_std_pct;
        m.samples = st.samples;
        let usable_current = st.iab_ma.is_some_and(|i| i > CURRENT_FLOOR_MA);
        m.r_ohm = st.r_ohm.filter(|_| usable_current);
        m.r_std_pct = st.r_std_pct.filter(|_| usable_current);
        m.rab_kohm = st.iab_ma.filter(|_| usable_current).map(|i| m.vab_v / i);
        m.rhoa_ohmm = match (m.k_m, m.r_ohm) {
            (Some(k), Some(r)) => Some(k * r),
            _ => None,
        };
        m.dropped_samples = self.dropped_in_quad;
        let q = &mut m.quality;
        if m.dropped_samples > 0 {
            q.insert(Quality::DROPPED_SAMPLES);
        }
        if st.saturated {
            q.insert(Quality::SATURATED);
        }
        if st.samples < 2 {
            q.insert(Quality::INSUFFICIENT_SAMPLES);
        }
        if st
            .iab_ma
            .is_none_or(|i| i < s.iab_min.max(CURRENT_FLOOR_MA))
        {
            q.insert(Quality::LOW_CURRENT);
        }
        if st.vmn_mv.is_none_or(|v| v.abs() < s.vmn_min) {
            q.insert(Quality::LOW_VMN);
        }
        if m.r_std_pct.is_some_and(|p| p > HIGH_STD_PCT) {
            q.insert(Quality::HIGH_STD);
        }
    }
}
