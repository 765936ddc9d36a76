//! The half-space geometric factor and the matching homogeneous-ground transfer resistance.
//!
//! For a current +I at A and −I at B over a half-space of resistivity rho, the potential at P is
//! rho·I/(4π) · Σ ±(1/r + 1/r'), with r the distance from the source to P and r' the distance from
//! the source's image (mirrored about z = 0) to P. So
//!
//!   G' = (w(A,M) − w(A,N)) − (w(B,M) − w(B,N)),  w(S,P) = 1/|SP| + 1/|S'P|,
//!   k = 4π / G',  R = rho / k = rho · G' / (4π).
//!
//! On the surface r' = r, G' = 2·G and k = 2π/G exactly (doubling is exact in floating point),
//! so one formula serves both cases. A remote electrode (`None`) drops its terms. The grouping
//! above makes swapping M and N (or A and B) negate G' exactly.

use super::Position;

/// |G'| below this fraction of the sum of the magnitudes of its terms counts as zero.
const ZERO_G: f64 = 1e-12;

fn distance(p: Position, q: Position) -> f64 {
    let d = [p[0] - q[0], p[1] - q[1], p[2] - q[2]];
    (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt()
}

/// w(S, P) = 1/|SP| + 1/|S'P|, 0 when either electrode is remote.
fn w(source: Option<Position>, point: Option<Position>) -> f64 {
    match (source, point) {
        (Some(s), Some(p)) => {
            let image = [s[0], s[1], -s[2]];
            1.0 / distance(s, p) + 1.0 / distance(image, p)
        }
        _ => 0.0,
    }
}

/// G' and the sum of the magnitudes of its four terms.
fn kernel(
    a: Option<Position>,
    b: Option<Position>,
    m: Option<Position>,
    n: Option<Position>,
) -> (f64, f64) {
    let (am, an, bm, bn) = (w(a, m), w(a, n), w(b, m), w(b, n));
    ((am - an) - (bm - bn), am + an + bm + bn)
}

/// The geometric factor k (m) of the quadrupole A B M N over a half-space (signed: rho_a = k·R).
///
/// Positions are `[x, y, z]` with z ≤ 0 (elevation, ground surface at 0); `None` is a remote
/// electrode whose terms are dropped. Returns `None` when k is not a finite number: G' is zero
/// (M and N on the same equipotential, or both current or both potential electrodes remote),
/// two electrodes coincide, or a coordinate is not finite.
pub fn geometric_factor(
    a: Option<Position>,
    b: Option<Position>,
    m: Option<Position>,
    n: Option<Position>,
) -> Option<f64> {
    let (g, scale) = kernel(a, b, m, n);
    if !(g.is_finite() && scale.is_finite() && g.abs() > ZERO_G * scale) {
        return None;
    }
    let k = 4.0 * std::f64::consts::PI / g;
    k.is_finite().then_some(k)
}

/// The transfer resistance R = Vmn/Iab (Ω) of the quadrupole over a homogeneous half-space of
/// resistivity `rho` (Ω·m): R = rho / k with k from [`geometric_factor`] (so k·R = rho exactly
/// up to rounding). Finite wherever k is, and 0 where G' = 0; not finite (infinite or NaN) when
/// a potential electrode sits on a current electrode.
pub fn transfer_resistance_homogeneous(
    rho: f64,
    a: Option<Position>,
    b: Option<Position>,
    m: Option<Position>,
    n: Option<Position>,
) -> f64 {
    let (g, _) = kernel(a, b, m, n);
    rho * g / (4.0 * std::f64::consts::PI)
}

#[cfg(test)]
mod tests {
    use std::f64::consts::PI;

    use proptest::prelude::*;

    use super::*;
    use crate::survey::{Geometry, Quadrupole};

    fn x(x: f64) -> Option<Position> {
        Some([x, 0.0, 0.0])
    }

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs()
    }

    /// Rows of a reference CSV: (a, b, m, n, k) after the comment lines and the header.
    fn reference(text: &str, skip_columns: usize) -> Vec<(Quadrupole, f64)> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').skip(skip_columns).collect();
                let e = |i: usize| f[i].trim().parse::<u16>().unwrap();
                let quad = Quadrupole::new(e(0), e(1), e(2), e(3));
                (quad, f[4].trim().parse::<f64>().unwrap())
            })
            .collect()
    }

    #[test]
    fn every_surface_reference_value() {
        // pyGIMLi 1.6.1, 32 electrodes 1 m apart; b = 0 is a remote electrode.
        let rows = reference(
            include_str!("../../../tests/data/geometric_factors_surface.csv"),
            1,
        );
        assert_eq!(rows.len(), 379);
        let geom = Geometry::line(32, 1.0).unwrap();
        for (quad, want) in rows {
            let got = geom.k(&quad).unwrap();
            assert!(close(got, want, 1e-9), "{quad}: k = {got}, pyGIMLi {want}");
        }
    }

    #[test]
    fn every_buried_reference_value() {
        // pyGIMLi 1.6.1: electrodes 1-8 at x = 0, 9-16 at x = 4 m, z = -1..-8 m in each.
        let rows = reference(
            include_str!("../../../tests/data/geometric_factors_buried.csv"),
            0,
        );
        assert_eq!(rows.len(), 14);
        let positions = (0..16)
            .map(|i| [if i < 8 { 0.0 } else { 4.0 }, 0.0, -f64::from(i % 8 + 1)])
            .collect();
        let geom = Geometry::from_positions(positions).unwrap();
        for (quad, want) in rows {
            let got = geom.k(&quad).unwrap();
            assert!(close(got, want, 1e-9), "{quad}: k = {got}, pyGIMLi {want}");
        }
    }

    #[test]
    fn degenerate_cases_have_no_k() {
        assert_eq!(geometric_factor(None, None, x(1.0), x(2.0)), None);
        assert_eq!(geometric_factor(x(0.0), x(1.0), None, None), None);
        assert_eq!(geometric_factor(x(0.0), x(1.0), x(0.0), x(2.0)), None);
        assert_eq!(geometric_factor(x(f64::NAN), x(1.0), x(2.0), x(3.0)), None);
        // M, N on the perpendicular bisector of AB.
        let (m, n) = (Some([0.5, 1.0, 0.0]), Some([0.5, 3.0, -1.0]));
        assert_eq!(geometric_factor(x(0.0), x(1.0), m, n), None);
        assert_eq!(
            transfer_resistance_homogeneous(100.0, x(0.0), x(1.0), m, n),
            0.0
        );
        assert!(
            !transfer_resistance_homogeneous(100.0, x(0.0), x(1.0), x(0.0), x(2.0)).is_finite()
        );
    }

    proptest! {
        #[test]
        fn wenner_alpha(a in 0.01f64..100.0, x0 in -50.0f64..50.0) {
            let k = geometric_factor(x(x0), x(x0 + 3.0 * a), x(x0 + a), x(x0 + 2.0 * a)).unwrap();
            prop_assert!(close(k, 2.0 * PI * a, 1e-9));
        }

        #[test]
        fn schlumberger(a in 0.01f64..100.0, n in 1u32..30) {
            let n = f64::from(n);
            let k = geometric_factor(x(0.0), x((2.0 * n + 1.0) * a), x(n * a), x((n + 1.0) * a)).unwrap();
            prop_assert!(close(k, PI * n * (n + 1.0) * a, 1e-9));
        }

        #[test]
        fn dipole_dipole_is_negative_in_abmn_order(a in 0.01f64..100.0, n in 1u32..30) {
            let n = f64::from(n);
            let k = geometric_factor(x(0.0), x(a), x((n + 1.0) * a), x((n + 2.0) * a)).unwrap();
            prop_assert!(close(k, -PI * n * (n + 1.0) * (n + 2.0) * a, 1e-9));
        }

        #[test]
        fn pole_dipole(a in 0.01f64..100.0, n in 1u32..30) {
            let n = f64::from(n);
            let k = geometric_factor(x(0.0), None, x(n * a), x((n + 1.0) * a)).unwrap();
            prop_assert!(close(k, 2.0 * PI * n * (n + 1.0) * a, 1e-9));
        }

        #[test]
        fn reciprocity_and_signs(p in proptest::array::uniform4(
            (-20.0f64..20.0, -20.0f64..20.0, -10.0f64..=0.0)))
        {
            let [a, b, m, n] = p.map(|(x, y, z)| Some([x, y, z]));
            if let Some(k) = geometric_factor(a, b, m, n) {
                // Keep to configurations not too close to an equipotential for the tolerance.
                prop_assume!(k.abs() < 1e6);
                let reciprocal = geometric_factor(m, n, a, b).unwrap();
                prop_assert!(close(reciprocal, k, 1e-9), "{} vs {}", reciprocal, k);
                prop_assert_eq!(geometric_factor(a, b, n, m), Some(-k));
                prop_assert_eq!(geometric_factor(b, a, m, n), Some(-k));
                let r = transfer_resistance_homogeneous(50.0, a, b, m, n);
                prop_assert!(close(k * r, 50.0, 1e-12));
            }
        }

        #[test]
        fn buried_formula_is_the_surface_one_at_z_zero(p in proptest::array::uniform4(
            (-20.0f64..20.0, -20.0f64..20.0)))
        {
            let [a, b, m, n] = p.map(|(x, y)| [x, y, 0.0]);
            let d = |p: Position, q: Position| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt();
            let g = 1.0 / d(a, m) - 1.0 / d(b, m) - 1.0 / d(a, n) + 1.0 / d(b, n);
            prop_assume!(g.is_finite() && g.abs() > 1e-6);
            let k = geometric_factor(Some(a), Some(b), Some(m), Some(n)).unwrap();
            prop_assert!(close(k, 2.0 * PI / g, 1e-9), "{} vs {}", k, 2.0 * PI / g);
        }
    }
}
