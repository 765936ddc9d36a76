//! Statistics of one quadrupole over the usable samples of its on-pulses (measurement.md §5):
//! SP from the +/− pulse pairs, then Vmn, Iab, R and their relative spreads. Runs over the
//! engine's sample buffer in two passes without allocating.

/// One reading kept in the engine's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Reading {
    /// Pulse index (stack × 2 + 0 for the + pulse, + 1 for the − pulse).
    pub pulse: u16,
    /// +1 / −1 during a pulse, 0 during off time.
    pub polarity: i8,
    /// Taken late enough in its pulse to enter the statistics.
    pub usable: bool,
    pub saturated: bool,
    pub iab_ma: f64,
    pub vmn_mv: f64,
}

/// The statistics of a quadrupole; `None` where fewer than two usable samples exist.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stats {
    pub sp_mv: Option<f64>,
    pub vmn_mv: Option<f64>,
    pub vmn_std_pct: Option<f64>,
    pub iab_ma: Option<f64>,
    pub iab_std_pct: Option<f64>,
    pub r_ohm: Option<f64>,
    pub r_std_pct: Option<f64>,
    /// Usable samples.
    pub samples: u32,
    pub saturated: bool,
}

/// Running mean and variance (Welford): the statistics of a quadrupole and the quadrupole
/// durations behind a run's ETA.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Welford {
    n: u32,
    mean: f64,
    m2: f64,
}

impl Welford {
    pub(crate) fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / f64::from(self.n);
        self.m2 += d * (x - self.mean);
    }

    /// The mean, once there are two values to judge it by.
    pub(crate) fn mean(&self) -> Option<f64> {
        (self.n >= 2).then_some(self.mean)
    }

    /// The mean of the values so far (0 before the first).
    pub(crate) fn mean_so_far(&self) -> f64 {
        self.mean
    }

    /// 100 × sample standard deviation / |mean|.
    pub(crate) fn std_pct(&self) -> Option<f64> {
        if self.n < 2 || self.mean == 0.0 {
            return None;
        }
        let sd = (self.m2 / f64::from(self.n - 1)).sqrt();
        Some(100.0 * sd / self.mean.abs())
    }
}

/// Self-potential: mean over (+, −) pulse pairs of (mean Vmn of + pulse + mean Vmn of − pulse)/2.
fn self_potential(readings: &[Reading]) -> Option<f64> {
    let mut pairs = Welford::default();
    let mut pos: Option<f64> = None;
    let mut current: Option<(u16, i8, f64, u32)> = None; // pulse, polarity, sum, count
    let mut close = |pulse: Option<(u16, i8, f64, u32)>, pos: &mut Option<f64>| {
        if let Some((_, polarity, sum, count)) = pulse {
            if count == 0 {
                return;
            }
            let mean = sum / f64::from(count);
            if polarity > 0 {
                *pos = Some(mean);
            } else if let Some(p) = pos.take() {
                pairs.push((p + mean) / 2.0);
            }
        }
    };
    for r in readings.iter().filter(|r| r.usable && r.polarity != 0) {
        match current {
            Some((pulse, _, ref mut sum, ref mut count)) if pulse == r.pulse => {
                *sum += r.vmn_mv;
                *count += 1;
            }
            _ => {
                close(current, &mut pos);
                current = Some((r.pulse, r.polarity, r.vmn_mv, 1));
            }
        }
    }
    close(current, &mut pos);
    (pairs.n >= 1).then_some(pairs.mean)
}

/// Computes the statistics of a quadrupole from its readings.
pub fn compute(readings: &[Reading]) -> Stats {
    let sp = self_potential(readings);
    let mut vmn = Welford::default();
    let mut iab = Welford::default();
    let mut r = Welford::default();
    let mut saturated = false;
    for s in readings.iter().filter(|s| s.usable && s.polarity != 0) {
        saturated |= s.saturated;
        let pol = f64::from(s.polarity);
        let v = pol * (s.vmn_mv - sp.unwrap_or(0.0));
        vmn.push(v);
        iab.push(s.iab_ma.abs());
        if s.iab_ma.abs() > 0.0 {
            r.push(v / s.iab_ma.abs());
        }
    }
    Stats {
        sp_mv: sp.filter(|_| vmn.n >= 2),
        vmn_mv: vmn.mean(),
        vmn_std_pct: vmn.std_pct(),
        iab_ma: iab.mean(),
        iab_std_pct: iab.std_pct(),
        r_ohm: r.mean(),
        r_std_pct: r.std_pct(),
        samples: vmn.n,
        saturated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pulse(pulse: u16, polarity: i8, vmn: &[f64], iab: f64) -> Vec<Reading> {
        vmn.iter()
            .map(|&v| Reading {
                pulse,
                polarity,
                usable: true,
                saturated: false,
                iab_ma: iab,
                vmn_mv: v,
            })
            .collect()
    }

    #[test]
    fn sp_is_removed_and_r_is_signed() {
        // Vmn = +/-50 mV around an SP of 10 mV, 10 mA: R = 5 Ohm, SP = 10 mV.
        let mut rs = pulse(0, 1, &[60.0, 60.0, 60.0], 10.0);
        rs.extend(pulse(1, -1, &[-40.0, -40.0, -40.0], 10.0));
        let s = compute(&rs);
        assert_eq!(s.sp_mv, Some(10.0));
        assert_eq!(s.vmn_mv, Some(50.0));
        assert_eq!(s.iab_ma, Some(10.0));
        assert_eq!(s.r_ohm, Some(5.0));
        assert_eq!(s.r_std_pct, Some(0.0));
        assert_eq!(s.samples, 6);

        // A negative transfer resistance stays negative.
        let mut rs = pulse(0, 1, &[-30.0, -30.0], 2.0);
        rs.extend(pulse(1, -1, &[50.0, 50.0], 2.0));
        let s = compute(&rs);
        assert_eq!(s.sp_mv, Some(10.0));
        assert_eq!(s.r_ohm, Some(-20.0));
    }

    #[test]
    fn spread_is_relative_to_the_mean() {
        let mut rs = pulse(0, 1, &[9.0, 11.0], 1.0);
        rs.extend(pulse(1, -1, &[-9.0, -11.0], 1.0));
        let s = compute(&rs);
        // values 9, 11, 9, 11: sd = 1.1547, mean 10
        assert!((s.r_std_pct.unwrap() - 11.547_005).abs() < 1e-5);
    }

    #[test]
    fn off_time_and_unusable_samples_are_ignored() {
        let mut rs = pulse(0, 1, &[50.0, 50.0], 1.0);
        rs[0].usable = false;
        rs.extend(pulse(0, 0, &[999.0, 999.0], 0.0));
        rs.extend(pulse(1, -1, &[-50.0, -50.0], 1.0));
        let s = compute(&rs);
        assert_eq!(s.samples, 3);
        assert_eq!(s.r_ohm, Some(50.0));
    }

    #[test]
    fn too_few_samples_give_nulls_not_nan() {
        let s = compute(&pulse(0, 1, &[5.0], 1.0));
        assert_eq!(s.vmn_mv, None);
        assert_eq!(s.r_ohm, None);
        assert_eq!(s.r_std_pct, None);
        let s = compute(&[]);
        assert_eq!(s, Stats::default());
        // No current: R cannot be computed.
        let mut rs = pulse(0, 1, &[1.0, 1.0], 0.0);
        rs.extend(pulse(1, -1, &[-1.0, -1.0], 0.0));
        assert_eq!(compute(&rs).r_ohm, None);
    }
}
