//! Choosing Vab (OhmPi strategy names). From a test-pulse estimate of the circuit (Rab) and of
//! the ground (R), the bounds on Iab, Vmn and Pab become bounds on Vab:
//! Iab \[mA\] = Vab / Rab \[kΩ\], Vmn \[mV\] = R \[Ω\] · Iab \[mA\], Pab \[W\] = Vab · Iab \[mA\] / 1000.

use super::settings::{Settings, Strategy};
use crate::hardware::Limits;

/// What the test pulses told about the circuit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Vab / Iab \[kΩ\] (infinite when no current flowed).
    pub rab_kohm: f64,
    /// Transfer resistance \[Ω\].
    pub r_ohm: f64,
}

/// The chosen Vab.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    pub vab_v: f64,
    /// A limit kept Vab below what the strategy asked for.
    pub limited: bool,
}

/// Vab satisfying every maximum (settings and system), before any strategy.
fn upper_bound(s: &Settings, limits: &Limits, est: &Estimate) -> f64 {
    let rab = est.rab_kohm;
    let r = est.r_ohm.abs();
    let mut v = s.vab_max.min(limits.vab_max_v);
    v = v.min(s.iab_max.min(limits.iab_max_ma) * rab);
    if r > 0.0 {
        v = v.min(s.vmn_max.min(limits.vmn_max_mv) * rab / r);
    }
    v.min((s.pab_max.min(limits.pab_max_w) * rab * 1000.0).sqrt())
}

/// Vab needed to reach every minimum the settings ask for.
fn lower_bound(s: &Settings, est: &Estimate) -> f64 {
    let rab = est.rab_kohm;
    let r = est.r_ohm.abs();
    let mut v = s.vab_min.max(s.iab_min * rab);
    if r > 0.0 {
        v = v.max(s.vmn_min * rab / r);
    }
    v.max((s.pab_min * rab * 1000.0).sqrt())
}

/// Chooses Vab for `strategy`. `estimate` is `None` for the fixed strategy (no test pulse).
pub fn choose(s: &Settings, limits: &Limits, estimate: Option<&Estimate>) -> Choice {
    let floor = limits.vab_min_v;
    let ceiling = limits.vab_max_v;
    let clamp = |v: f64| v.clamp(floor, ceiling.max(floor));
    let Some(est) = estimate.filter(|_| s.strategy != Strategy::Fixed) else {
        let v = clamp(s.vab_req);
        return Choice {
            vab_v: v,
            limited: v < s.vab_req,
        };
    };
    let upper = upper_bound(s, limits, est);
    let (wanted, v) = match s.strategy {
        Strategy::Fixed | Strategy::Safe => (s.vab_req, s.vab_req.min(upper)),
        Strategy::Vmax => (upper, upper),
        Strategy::Vmin => {
            let r = est.r_ohm.abs();
            let needed = if r > 0.0 {
                s.vmn_req * est.rab_kohm / r
            } else {
                f64::INFINITY
            };
            let needed = needed.max(s.vab_min);
            (needed, needed.min(upper))
        }
        Strategy::Flex => {
            let lower = lower_bound(s, est);
            (s.vab_req.max(lower), s.vab_req.max(lower).min(upper))
        }
    };
    let v = if v.is_finite() { v } else { s.vab_req };
    let chosen = clamp(v);
    Choice {
        vab_v: chosen,
        limited: chosen < wanted - 1e-9,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            vab_min_v: 0.5,
            vab_max_v: 50.0,
            iab_max_ma: 48.0,
            pab_max_w: 2.5,
            vmn_max_mv: 5000.0,
            iab_readable_max_ma: 48.0,
        }
    }

    fn settings(strategy: Strategy) -> Settings {
        Settings {
            strategy,
            ..Settings::default()
        }
    }

    #[test]
    fn safe_keeps_vab_req_when_every_limit_holds() {
        // Rab = 2 kOhm: 5 V gives 2.5 mA, 12.5 mW.
        let est = Estimate {
            rab_kohm: 2.0,
            r_ohm: 10.0,
        };
        let c = choose(&settings(Strategy::Safe), &limits(), Some(&est));
        assert_eq!(c.vab_v, 5.0);
        assert!(!c.limited);
    }

    #[test]
    fn safe_lowers_vab_for_the_power_limit() {
        // Rab = 0.05 kOhm: P = V^2 / 50 <= 2.5 W -> V <= 11.18 V; Iab <= 48 mA -> V <= 2.4 V.
        let est = Estimate {
            rab_kohm: 0.05,
            r_ohm: 1.0,
        };
        let c = choose(&settings(Strategy::Safe), &limits(), Some(&est));
        assert!((c.vab_v - 2.4).abs() < 1e-12, "{c:?}");
        assert!(c.limited);
    }

    #[test]
    fn vmax_takes_the_largest_allowed() {
        // Rab = 10 kOhm: Iab limit 480 V, power sqrt(2.5 * 10000) = 158 V, Vmn 5000*10/20 = 2500 V,
        // so the system's 50 V wins.
        let est = Estimate {
            rab_kohm: 10.0,
            r_ohm: 20.0,
        };
        let c = choose(&settings(Strategy::Vmax), &limits(), Some(&est));
        assert_eq!(c.vab_v, 50.0);
    }

    #[test]
    fn vmin_reaches_vmn_req() {
        // vmn_req 100 mV, R = 5 Ohm -> Iab = 20 mA; Rab = 1 kOhm -> 20 V, but P = 0.4 W ok.
        let est = Estimate {
            rab_kohm: 1.0,
            r_ohm: -5.0,
        };
        let c = choose(&settings(Strategy::Vmin), &limits(), Some(&est));
        assert!((c.vab_v - 20.0).abs() < 1e-9, "{c:?}");
        assert!(!c.limited);
    }

    #[test]
    fn fixed_and_open_circuits_stay_finite() {
        let c = choose(&settings(Strategy::Fixed), &limits(), None);
        assert_eq!(c.vab_v, 5.0);
        let est = Estimate {
            rab_kohm: f64::INFINITY,
            r_ohm: 0.0,
        };
        for s in [
            Strategy::Safe,
            Strategy::Vmax,
            Strategy::Vmin,
            Strategy::Flex,
        ] {
            let c = choose(&settings(s), &limits(), Some(&est));
            assert!(
                c.vab_v.is_finite() && c.vab_v >= 0.5 && c.vab_v <= 50.0,
                "{s:?} {c:?}"
            );
        }
    }
}
