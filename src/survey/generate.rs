//! Sequence generators for the classic arrays on a line of `nelec` electrodes.
//!
//! This module owns the array formulas and the measurement order of generated sequences. With
//! `e` the first electrode, `a` the dipole spacing, `n` the level and `s` the gradient factor
//! (all in electrode spacings):
//!
//! | array       | A | B           | M       | N       | kept when |
//! |-------------|---|-------------|---------|---------|-----------|
//! | `wenner`    | e | e + 3a      | e + a   | e + 2a  |           |
//! | `dpdp`      | e | e + a       | B + n·a | M + a   |           |
//! | `schlum`    | e | N + n       | e + n   | M + a   | n ≥ a − 1 |
//! | `multigrad` | e | e + (s+2)·a | e + n·a | M + a   | N < B     |
//!
//! Parameters follow OhmPi's `create_sequence(nelec, params=[("dpdp", 1, 8)])`: each number is
//! the largest value generated, from 1 up, and every combination is generated — `("dpdp", 1, 8)`
//! is a = 1 with n = 1..=8, `("wenner", 3)` is a = 1, 2, 3, `("multigrad", a, n, s)` takes every
//! a, n, s. (OhmPi's Wenner generator starts at electrode 11 instead of 1; this one does not.)
//!
//! Order: the union of all arrays without repeats, grouped by current dipole (quadrupoles sharing
//! A and B are consecutive, so the A/B relays need not move), groups in ascending (A, B) except
//! that a group whose M or N injected current in the group just before is moved later when
//! another group can go first (see `order`). Reciprocals (M N A B), when asked for, are
//! appended after all normal quadrupoles, ordered the same way, as OhmPi does: a survey
//! stopped halfway still covers the whole section once.

use std::collections::BTreeSet;

use super::quad::{Electrode, Quadrupole};
use super::Sequence;

mod array;
mod order;
#[cfg(test)]
mod shipped;

pub use array::{Array, ArraySpec};

/// The most quadrupoles [`generate`] returns (reciprocals included), to bound its memory.
pub const MAX_QUADRUPOLES: usize = 1_000_000;

/// Why a sequence cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    #[error("unknown array \"{name}\": expected wenner, dpdp, schlum or multigrad")]
    UnknownArray { name: String },
    #[error(
        "{array}: {parameter} must be at least 1 (it is the largest value generated, from 1 up)"
    )]
    ZeroParameter {
        array: Array,
        parameter: &'static str,
    },
    #[error("{array} takes no parameter {parameter} (leave it 0)")]
    UnusedParameter {
        array: Array,
        parameter: &'static str,
    },
    #[error("{array} takes {} parameter(s) ({}), found {found}", .array.parameters().len(), .array.parameters().join(" "))]
    ParameterCount { array: Array, found: usize },
    #[error("{array}: {parameter} = \"{text}\" is not a whole number from 1 to 65535")]
    NotAParameter {
        array: Array,
        parameter: &'static str,
        text: String,
    },
    #[error("{nelec} electrodes: a quadrupole needs at least 4")]
    TooFewElectrodes { nelec: u16 },
    #[error("no array given")]
    NoArray,
    #[error("more than {limit} quadrupoles: ask for fewer spacings or levels")]
    TooMany { limit: usize },
}

/// Generates the quadrupoles of every array in `specs` on `nelec` electrodes, without repeats,
/// in the order described in the module documentation; with `reciprocal`, the reciprocal
/// (M N A B) of each quadrupole not already present follows all normal ones.
///
/// Parameters larger than the line allows are not an error: quadrupoles that do not fit are
/// left out, as OhmPi does. The result passes [`Sequence::validate`]`(nelec)`.
pub fn generate(
    nelec: u16,
    specs: &[ArraySpec],
    reciprocal: bool,
) -> Result<Sequence, GenerateError> {
    if specs.is_empty() {
        return Err(GenerateError::NoArray);
    }
    if nelec < 4 {
        return Err(GenerateError::TooFewElectrodes { nelec });
    }
    let mut normal = BTreeSet::new();
    for spec in specs {
        spec.check()?;
        spec.add_quads(nelec, &mut normal, MAX_QUADRUPOLES);
    }
    let too_many = GenerateError::TooMany {
        limit: MAX_QUADRUPOLES,
    };
    if normal.len() > MAX_QUADRUPOLES {
        return Err(too_many);
    }
    let mut previous: Option<(Electrode, Electrode)> = None;
    let mut quads = order::by_current_dipole(&normal, &mut previous);
    if reciprocal {
        let reciprocals: BTreeSet<Quadrupole> = normal
            .iter()
            .map(|q| q.reciprocal())
            .filter(|r| !normal.contains(r))
            .collect();
        if quads.len() + reciprocals.len() > MAX_QUADRUPOLES {
            return Err(too_many);
        }
        quads.extend(order::by_current_dipole(&reciprocals, &mut previous));
    }
    Ok(Sequence::from_quads(quads))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every ordered 4-tuple on `nelec` electrodes for which `keep` holds (brute force).
    fn brute_force(nelec: u16, keep: impl Fn([u16; 4]) -> bool) -> BTreeSet<Quadrupole> {
        let mut out = BTreeSet::new();
        for a in 1..=nelec {
            for b in 1..=nelec {
                for m in 1..=nelec {
                    for n in 1..=nelec {
                        if keep([a, b, m, n]) {
                            out.insert(Quadrupole::new(a, b, m, n));
                        }
                    }
                }
            }
        }
        out
    }

    type Pattern = Box<dyn Fn([u16; 4]) -> bool>;

    /// Pattern tests written from the definitions, independently of `add_quads`.
    fn is_wenner([a, b, m, n]: [u16; 4], a_max: u16) -> bool {
        m > a && m - a <= a_max && n == m + (m - a) && b == n + (m - a)
    }
    fn is_dpdp([a, b, m, n]: [u16; 4], a_max: u16, n_max: u16) -> bool {
        let d = b.saturating_sub(a);
        b > a && d <= a_max && n == m + d && m > b && (m - b) % d == 0 && (m - b) / d <= n_max
    }
    fn is_schlum([a, b, m, n]: [u16; 4], a_max: u16, n_max: u16) -> bool {
        let (gap, dipole) = (m.saturating_sub(a), n.saturating_sub(m));
        m > a && n > m && gap <= n_max && dipole <= a_max && b == n + gap && gap + 1 >= dipole
    }
    fn is_multigrad([a, b, m, n]: [u16; 4], a_max: u16, n_max: u16, s_max: u16) -> bool {
        let d = n.saturating_sub(m);
        n > m
            && d <= a_max
            && m > a
            && (m - a) % d == 0
            && (m - a) / d <= n_max
            && b > n
            && (b - a) % d == 0
            && (b - a) / d >= 3
            && (b - a) / d - 2 <= s_max
    }

    fn set(seq: &Sequence) -> BTreeSet<Quadrupole> {
        seq.quads().iter().copied().collect()
    }

    fn check_generated(seq: &Sequence, want: &BTreeSet<Quadrupole>) {
        assert_eq!(seq.len(), want.len(), "count");
        assert_eq!(&set(seq), want);
        seq.validate(32).unwrap();
        assert!(seq.iter().all(|q| q.check_safe().is_ok()));
    }

    #[test]
    fn each_array_matches_brute_force_on_32_electrodes() {
        let cases: [(ArraySpec, Pattern); 6] = [
            (ArraySpec::wenner(10), Box::new(|q| is_wenner(q, 10))),
            (ArraySpec::wenner(4), Box::new(|q| is_wenner(q, 4))),
            (ArraySpec::dpdp(3, 6), Box::new(|q| is_dpdp(q, 3, 6))),
            (ArraySpec::schlum(3, 8), Box::new(|q| is_schlum(q, 3, 8))),
            (
                ArraySpec::multigrad(2, 6, 4),
                Box::new(|q| is_multigrad(q, 2, 6, 4)),
            ),
            (
                ArraySpec::dpdp(65535, 65535),
                Box::new(|q| is_dpdp(q, 32, 32)),
            ),
        ];
        for (spec, keep) in cases {
            let want = brute_force(32, keep);
            assert!(!want.is_empty());
            check_generated(&generate(32, &[spec], false).unwrap(), &want);
        }
        // Known counts: Wenner a ≤ 10 on 32 electrodes, Σ (32 − 3a); dpdp a = 1, n ≤ 8, Σ (30 − n).
        assert_eq!(
            generate(32, &[ArraySpec::wenner(10)], false).unwrap().len(),
            155
        );
        assert_eq!(
            generate(32, &[ArraySpec::dpdp(1, 8)], false).unwrap().len(),
            204
        );
    }

    #[test]
    fn union_without_repeats_and_reciprocals() {
        // schlum n = a is a Wenner: the union must not repeat them.
        let specs = [
            ArraySpec::wenner(10),
            ArraySpec::schlum(3, 8),
            ArraySpec::dpdp(2, 5),
        ];
        let keep = |q| is_wenner(q, 10) || is_schlum(q, 3, 8) || is_dpdp(q, 2, 5);
        let normal = brute_force(32, keep);
        let seq = generate(32, &specs, false).unwrap();
        check_generated(&seq, &normal);

        let with_reciprocals =
            brute_force(32, |[a, b, m, n]| keep([a, b, m, n]) || keep([m, n, a, b]));
        let seq = generate(32, &specs, true).unwrap();
        check_generated(&seq, &with_reciprocals);
        // Every normal quadrupole comes before every reciprocal one.
        let first_reciprocal = seq.iter().position(|q| !normal.contains(q)).unwrap();
        assert_eq!(first_reciprocal, normal.len());
    }

    #[test]
    fn parameter_errors() {
        let err =
            |specs: &[ArraySpec], nelec| generate(nelec, specs, false).unwrap_err().to_string();
        assert_eq!(
            err(&[ArraySpec::dpdp(0, 3)], 32),
            "dpdp: a must be at least 1 (it is the largest value generated, from 1 up)"
        );
        assert_eq!(
            err(&[ArraySpec::multigrad(1, 2, 0)], 32).split(':').next(),
            Some("multigrad")
        );
        assert_eq!(
            err(
                &[ArraySpec {
                    n: 2,
                    ..ArraySpec::wenner(1)
                }],
                32
            ),
            "wenner takes no parameter n (leave it 0)"
        );
        assert_eq!(
            err(&[ArraySpec::wenner(1)], 3),
            "3 electrodes: a quadrupole needs at least 4"
        );
        assert_eq!(err(&[], 32), "no array given");
        // Every dipole-dipole on 65535 electrodes would be billions: refused, quickly.
        assert_eq!(
            err(&[ArraySpec::dpdp(u16::MAX, u16::MAX)], u16::MAX),
            "more than 1000000 quadrupoles: ask for fewer spacings or levels"
        );
        // Four electrodes are enough for every array.
        for spec in [
            ArraySpec::wenner(1),
            ArraySpec::dpdp(1, 1),
            ArraySpec::schlum(1, 1),
            ArraySpec::multigrad(1, 1, 1),
        ] {
            assert_eq!(generate(4, &[spec], false).unwrap().len(), 1, "{spec}");
        }
    }
}
