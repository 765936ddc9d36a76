//! Measurement order of generated quadrupoles.
//!
//! Quadrupoles sharing a current dipole (A, B) stay together, in ascending (M, N). Groups go in
//! ascending (A, B), except that an electrode that has just injected current carries a decaying
//! polarisation, so a group whose M or N was A or B in the group just before is postponed when
//! one of the next [`LOOK_AHEAD`] groups is free of that; if none is, the group goes anyway and
//! its quadrupoles that do not touch those electrodes go first.

use std::collections::BTreeSet;

use crate::survey::quad::{Electrode, Quadrupole};

/// How many pending groups are searched for one that avoids the last current electrodes.
pub(super) const LOOK_AHEAD: usize = 64;

fn touches(q: &Quadrupole, previous: Option<(Electrode, Electrode)>) -> bool {
    previous.is_some_and(|(a, b)| [q.m, q.n].iter().any(|&e| e == a || e == b))
}

/// Orders `quads` (sorted, as a `BTreeSet` is) after a group that injected on `previous`, and
/// leaves in `previous` the current dipole of the last group.
pub(super) fn by_current_dipole(
    quads: &BTreeSet<Quadrupole>,
    previous: &mut Option<(Electrode, Electrode)>,
) -> Vec<Quadrupole> {
    // Sorted by (A, B, M, N): each group is a run of equal (A, B).
    let mut groups: Vec<Option<Vec<Quadrupole>>> = Vec::new();
    for &q in quads {
        match groups.last_mut() {
            Some(Some(group)) if (group[0].a, group[0].b) == (q.a, q.b) => group.push(q),
            _ => groups.push(Some(vec![q])),
        }
    }
    let mut out = Vec::with_capacity(quads.len());
    let mut first_pending = 0;
    while first_pending < groups.len() {
        let free = (first_pending..groups.len())
            .filter(|&i| groups[i].is_some())
            .take(LOOK_AHEAD)
            .find(|&i| {
                groups[i]
                    .as_ref()
                    .is_some_and(|g| !g.iter().any(|q| touches(q, *previous)))
            });
        let chosen = free.unwrap_or(first_pending);
        if let Some(mut group) = groups[chosen].take() {
            // Stable: keeps (M, N) order among quadrupoles alike.
            group.sort_by_key(|q| touches(q, *previous));
            *previous = Some((group[0].a, group[0].b));
            out.extend(group);
        }
        while first_pending < groups.len() && groups[first_pending].is_none() {
            first_pending += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::generate::{generate, ArraySpec};

    fn q(a: u16, b: u16, m: u16, n: u16) -> Quadrupole {
        Quadrupole::new(a, b, m, n)
    }

    /// Consecutive quadrupoles with different current dipoles where the second measures on an
    /// electrode the first injected on.
    fn polarised_reads(quads: &[Quadrupole]) -> usize {
        quads
            .windows(2)
            .filter(|w| {
                (w[0].a, w[0].b) != (w[1].a, w[1].b) && touches(&w[1], Some((w[0].a, w[0].b)))
            })
            .count()
    }

    #[test]
    fn postpones_a_group_that_would_read_on_the_last_current_electrodes() {
        let quads: BTreeSet<Quadrupole> =
            [q(1, 4, 2, 3), q(1, 7, 3, 5), q(1, 10, 4, 7), q(1, 13, 5, 9)].into();
        let mut previous = None;
        let order = by_current_dipole(&quads, &mut previous);
        // (1, 10) reads on 7, which injected in (1, 7) just before: (1, 13) goes first.
        assert_eq!(
            order,
            [q(1, 4, 2, 3), q(1, 7, 3, 5), q(1, 13, 5, 9), q(1, 10, 4, 7)]
        );
        assert_eq!(previous, Some((1, 10)));
        assert_eq!(polarised_reads(&order), 0);
    }

    #[test]
    fn when_unavoidable_the_group_goes_with_its_free_quadrupoles_first() {
        let quads: BTreeSet<Quadrupole> = [q(5, 6, 1, 2), q(5, 6, 3, 4), q(5, 6, 7, 8)].into();
        let mut previous = Some((3, 9));
        let order = by_current_dipole(&quads, &mut previous);
        assert_eq!(order, [q(5, 6, 1, 2), q(5, 6, 7, 8), q(5, 6, 3, 4)]);
    }

    #[test]
    fn generated_sequences_keep_current_dipoles_together() {
        let specs = [
            ArraySpec::wenner(10),
            ArraySpec::dpdp(2, 6),
            ArraySpec::schlum(2, 8),
        ];
        let seq = generate(32, &specs, true).unwrap();
        // Each (A, B) appears as one run within the normal part and one within the reciprocals.
        let mut runs = std::collections::HashMap::new();
        for w in seq.quads().windows(2) {
            if (w[0].a, w[0].b) != (w[1].a, w[1].b) {
                *runs.entry((w[1].a, w[1].b)).or_insert(0) += 1;
            }
        }
        assert!(runs.values().all(|&count| count <= 2), "{runs:?}");
        // Fewer polarised reads than plain ascending order of each part.
        let normal = generate(32, &specs, false).unwrap();
        let mut plain: Vec<Quadrupole> = normal.quads().to_vec();
        plain.sort();
        let mut reciprocals: Vec<Quadrupole> = seq.quads()[normal.len()..].to_vec();
        reciprocals.sort();
        plain.extend(reciprocals);
        assert!(polarised_reads(seq.quads()) < polarised_reads(&plain));
        // Wenner a = 1..10 on 32 electrodes in plain ascending order: the step from
        // (A, A + 6) to (A, A + 9) reads on A + 6 for every A ≤ 23, and the last three groups
        // (27, 30), (28, 31), (29, 32) chain twice: 25. Reordering leaves only that tail.
        let wenner = generate(32, &[ArraySpec::wenner(10)], false).unwrap();
        let mut plain = wenner.quads().to_vec();
        plain.sort();
        assert_eq!(polarised_reads(&plain), 25);
        assert!(polarised_reads(wenner.quads()) <= 2);
    }
}
