//! The quadrupole: two current electrodes (A, B) and two potential electrodes (M, N).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One electrode number, 1-based as in OhmPi sequence files.
pub type Electrode = u16;

/// Four electrodes: current is injected from A to B, the voltage is read between M and N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Quadrupole {
    pub a: Electrode,
    pub b: Electrode,
    pub m: Electrode,
    pub n: Electrode,
}

/// Why a quadrupole can never be measured safely, whatever the hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuadError {
    #[error("electrode numbers start at 1, got 0")]
    ZeroElectrode,
    #[error("A = B = {0}: the current electrodes would short the supply")]
    SameCurrentElectrodes(Electrode),
    #[error("M = N = {0}: the potential electrodes must differ")]
    SamePotentialElectrodes(Electrode),
    #[error("electrode {0} is both a current (A/B) and a potential (M/N) electrode: the receiver would see the injection voltage")]
    PotentialOnCurrent(Electrode),
}

impl Quadrupole {
    pub const fn new(a: Electrode, b: Electrode, m: Electrode, n: Electrode) -> Self {
        Self { a, b, m, n }
    }

    /// The reciprocal quadrupole (current and potential dipoles swapped): M N A B.
    pub const fn reciprocal(self) -> Self {
        Self::new(self.m, self.n, self.a, self.b)
    }

    /// The electrodes in A, B, M, N order.
    pub const fn electrodes(self) -> [Electrode; 4] {
        [self.a, self.b, self.m, self.n]
    }

    /// The highest electrode number used.
    pub fn max_electrode(self) -> Electrode {
        self.a.max(self.b).max(self.m).max(self.n)
    }

    /// Checks the rules every quadrupole must obey before any relay moves:
    /// A ≠ B, M ≠ N, and neither M nor N on a current electrode.
    pub fn check_safe(self) -> Result<(), QuadError> {
        if self.electrodes().contains(&0) {
            return Err(QuadError::ZeroElectrode);
        }
        if self.a == self.b {
            return Err(QuadError::SameCurrentElectrodes(self.a));
        }
        if self.m == self.n {
            return Err(QuadError::SamePotentialElectrodes(self.m));
        }
        for e in [self.m, self.n] {
            if e == self.a || e == self.b {
                return Err(QuadError::PotentialOnCurrent(e));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Quadrupole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} {}", self.a, self.b, self.m, self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safety_rules() {
        assert_eq!(Quadrupole::new(1, 4, 2, 3).check_safe(), Ok(()));
        assert_eq!(
            Quadrupole::new(2, 2, 3, 4).check_safe(),
            Err(QuadError::SameCurrentElectrodes(2))
        );
        assert_eq!(
            Quadrupole::new(1, 2, 3, 3).check_safe(),
            Err(QuadError::SamePotentialElectrodes(3))
        );
        assert_eq!(
            Quadrupole::new(1, 2, 2, 3).check_safe(),
            Err(QuadError::PotentialOnCurrent(2))
        );
        assert_eq!(
            Quadrupole::new(1, 2, 3, 1).check_safe(),
            Err(QuadError::PotentialOnCurrent(1))
        );
        assert_eq!(
            Quadrupole::new(0, 2, 3, 4).check_safe(),
            Err(QuadError::ZeroElectrode)
        );
    }

    #[test]
    fn reciprocal_swaps_dipoles() {
        assert_eq!(
            Quadrupole::new(1, 2, 3, 4).reciprocal(),
            Quadrupole::new(3, 4, 1, 2)
        );
    }
}
