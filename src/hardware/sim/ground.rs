//! The simulated ground: transfer resistances and the resistance seen by the current electrodes.
//!
//! Homogeneous half-space: R = rho / k with the signed geometric factor of the electrode
//! positions (buried electrodes included). Two layers (rho1 over rho2, interface at depth h):
//! the image series V(r) = rho1 I / 2π · [1/r + 2 Σ K^n / sqrt(r² + (2nh)²)],
//! K = (rho2 − rho1) / (rho2 + rho1), with r the horizontal distance (surface electrodes).

use std::f64::consts::PI;

use crate::survey::geometry::geometric_factor;

/// Radius of an electrode as the spreading resistance sees it \[m\].
const ELECTRODE_RADIUS_M: f64 = 0.05;
/// Terms of the image series are summed until |K|^n falls below this.
const SERIES_TOLERANCE: f64 = 1e-14;
const SERIES_MAX_TERMS: usize = 200_000;

/// A model of the ground.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ground {
    Homogeneous {
        rho: f64,
    },
    TwoLayer {
        rho1: f64,
        rho2: f64,
        thickness: f64,
    },
}

type Position = [f64; 3];

fn distance(p: Position, q: Position) -> f64 {
    ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt()
}

impl Ground {
    /// Resistivity next to the electrodes (the top layer).
    pub fn near_surface_rho(&self) -> f64 {
        match *self {
            Self::Homogeneous { rho } => rho,
            Self::TwoLayer { rho1, .. } => rho1,
        }
    }

    /// Potential per unit current \[Ω\] at horizontal distance `r` from a surface source.
    fn unit_potential_two_layer(rho1: f64, rho2: f64, h: f64, r: f64) -> f64 {
        let k = (rho2 - rho1) / (rho2 + rho1);
        let mut sum = 1.0 / r;
        let mut kn = 1.0;
        for n in 1..=SERIES_MAX_TERMS {
            kn *= k;
            if kn.abs() < SERIES_TOLERANCE {
                break;
            }
            let depth = 2.0 * n as f64 * h;
            sum += 2.0 * kn / (r * r + depth * depth).sqrt();
        }
        rho1 / (2.0 * PI) * sum
    }

    /// Transfer resistance Vmn / Iab \[Ω\] for current from A to B, read between M and N.
    /// A remote electrode is `None`.
    pub fn transfer_resistance(
        &self,
        a: Option<Position>,
        b: Option<Position>,
        m: Option<Position>,
        n: Option<Position>,
    ) -> f64 {
        match *self {
            Self::Homogeneous { rho } => match geometric_factor(a, b, m, n) {
                Some(k) => rho / k,
                None => 0.0,
            },
            Self::TwoLayer {
                rho1,
                rho2,
                thickness,
            } => {
                let v = |src: Option<Position>, at: Option<Position>| match (src, at) {
                    (Some(s), Some(p)) => {
                        let r = ((s[0] - p[0]).powi(2) + (s[1] - p[1]).powi(2)).sqrt();
                        Self::unit_potential_two_layer(rho1, rho2, thickness, r)
                    }
                    _ => 0.0,
                };
                v(a, m) - v(b, m) - v(a, n) + v(b, n)
            }
        }
    }

    /// Resistance of the ground between two current electrodes \[Ω\] (spreading resistance of
    /// both electrodes less their mutual term).
    pub fn resistance_between(&self, a: Position, b: Position) -> f64 {
        let rho = self.near_surface_rho();
        let d = distance(a, b).max(2.0 * ELECTRODE_RADIUS_M);
        rho / (2.0 * PI) * (2.0 / ELECTRODE_RADIUS_M - 2.0 / d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: f64) -> Option<Position> {
        Some([x, 0.0, 0.0])
    }

    #[test]
    fn homogeneous_wenner_gives_rho_over_2_pi_a() {
        let g = Ground::Homogeneous { rho: 100.0 };
        let r = g.transfer_resistance(at(0.0), at(3.0), at(1.0), at(2.0));
        assert!((r - 100.0 / (2.0 * PI)).abs() < 1e-12, "{r}");
    }

    #[test]
    fn two_layer_with_equal_layers_is_homogeneous() {
        let h = Ground::Homogeneous { rho: 100.0 };
        let t = Ground::TwoLayer {
            rho1: 100.0,
            rho2: 100.0,
            thickness: 2.0,
        };
        let q = (at(0.0), at(7.0), at(3.0), at(4.0));
        let (rh, rt) = (
            h.transfer_resistance(q.0, q.1, q.2, q.3),
            t.transfer_resistance(q.0, q.1, q.2, q.3),
        );
        assert!((rh - rt).abs() < 1e-12 * rh.abs());
    }

    #[test]
    fn two_layer_matches_the_reference_schlumberger_sounding() {
        // rho1 = 100, rho2 = 10, h = 2, AB/2 = 10, MN/2 = 0.5: 13.07752374 Ohm.m (pyGIMLi 1.6.1).
        let g = Ground::TwoLayer {
            rho1: 100.0,
            rho2: 10.0,
            thickness: 2.0,
        };
        let r = g.transfer_resistance(at(-10.0), at(10.0), at(-0.5), at(0.5));
        let k = geometric_factor(at(-10.0), at(10.0), at(-0.5), at(0.5)).unwrap();
        let rhoa = k * r;
        assert!(
            (rhoa - 13.077_523_74).abs() / 13.077_523_74 < 1e-6,
            "{rhoa}"
        );
    }
}
