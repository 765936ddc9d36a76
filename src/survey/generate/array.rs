//! The array types and their parameters: names, checks, text form and the quadrupoles each
//! array puts on a line of electrodes (formulas in the parent module's documentation).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use super::GenerateError;
use crate::survey::quad::{Electrode, Quadrupole};

/// An electrode array type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Array {
    /// Wenner alpha: A M N B equally spaced.
    Wenner,
    /// Dipole-dipole: A B, then M N n·a further.
    Dpdp,
    /// Schlumberger: A M N B, M N in the middle.
    Schlum,
    /// Multiple gradient: M N moving between A and B.
    Multigrad,
}

impl Array {
    /// Every array, in the order of their names in error messages.
    pub const ALL: [Array; 4] = [Array::Wenner, Array::Dpdp, Array::Schlum, Array::Multigrad];

    /// The name used in OhmPi and in [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            Array::Wenner => "wenner",
            Array::Dpdp => "dpdp",
            Array::Schlum => "schlum",
            Array::Multigrad => "multigrad",
        }
    }

    /// The parameters the array takes, in OhmPi's order.
    pub fn parameters(self) -> &'static [&'static str] {
        match self {
            Array::Wenner => &["a"],
            Array::Dpdp | Array::Schlum => &["a", "n"],
            Array::Multigrad => &["a", "n", "s"],
        }
    }
}

impl fmt::Display for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Array {
    type Err = GenerateError;

    /// Parses `wenner`, `dpdp`, `schlum` or `multigrad` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Array::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| GenerateError::UnknownArray {
                name: s.to_string(),
            })
    }
}

/// One array and its parameters: each is the largest value generated, from 1 up (OhmPi's
/// meaning). Parameters the array does not take must be 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArraySpec {
    pub array: Array,
    /// Dipole spacing (Wenner: electrode spacing), in electrode spacings.
    pub a: u16,
    /// Level: dpdp, separation of the dipoles in multiples of a; schlum, A to M in electrode
    /// spacings; multigrad, A to M in multiples of a.
    pub n: u16,
    /// Multigrad gradient factor: A to B is (s + 2)·a.
    pub s: u16,
}

impl ArraySpec {
    /// Wenner with a = 1..=a.
    pub const fn wenner(a: u16) -> Self {
        Self {
            array: Array::Wenner,
            a,
            n: 0,
            s: 0,
        }
    }

    /// Dipole-dipole with a = 1..=a and n = 1..=n.
    pub const fn dpdp(a: u16, n: u16) -> Self {
        Self {
            array: Array::Dpdp,
            a,
            n,
            s: 0,
        }
    }

    /// Schlumberger with a = 1..=a and n = 1..=n (only n ≥ a − 1).
    pub const fn schlum(a: u16, n: u16) -> Self {
        Self {
            array: Array::Schlum,
            a,
            n,
            s: 0,
        }
    }

    /// Multiple gradient with a = 1..=a, n = 1..=n and s = 1..=s (only N < B).
    pub const fn multigrad(a: u16, n: u16, s: u16) -> Self {
        Self {
            array: Array::Multigrad,
            a,
            n,
            s,
        }
    }

    fn values(&self) -> [(&'static str, u16); 3] {
        [("a", self.a), ("n", self.n), ("s", self.s)]
    }

    pub(super) fn check(&self) -> Result<(), GenerateError> {
        let takes = self.array.parameters();
        for (parameter, value) in self.values() {
            let taken = takes.contains(&parameter);
            if taken && value == 0 {
                return Err(GenerateError::ZeroParameter {
                    array: self.array,
                    parameter,
                });
            }
            if !taken && value != 0 {
                return Err(GenerateError::UnusedParameter {
                    array: self.array,
                    parameter,
                });
            }
        }
        Ok(())
    }

    /// Adds this array's quadrupoles on `nelec` electrodes to `out`, stopping once `out` holds
    /// more than `limit`.
    pub(super) fn add_quads(&self, nelec: u16, out: &mut BTreeSet<Quadrupole>, limit: usize) {
        let nelec = u32::from(nelec);
        // Every quadrupole at each first electrode e, given (span = B or N − A, offsets).
        let mut line = |span: u32, [db, dm, dn]: [u32; 3]| {
            if out.len() > limit {
                return;
            }
            for e in 1..=nelec.saturating_sub(span) {
                // e + span ≤ nelec ≤ u16::MAX: the casts cannot truncate.
                let at = |d: u32| (e + d) as Electrode;
                out.insert(Quadrupole::new(at(0), at(db), at(dm), at(dn)));
            }
        };
        let fits = |span: u32| span < nelec;
        // Every array spans at least a + 2 electrode spacings.
        for a in (1..=u32::from(self.a)).take_while(|&a| fits(a + 2)) {
            match self.array {
                Array::Wenner => {
                    if fits(3 * a) {
                        line(3 * a, [3 * a, a, 2 * a]);
                    }
                }
                Array::Dpdp => {
                    for n in (1..=u32::from(self.n)).take_while(|&n| fits((n + 2) * a)) {
                        line((n + 2) * a, [a, (n + 1) * a, (n + 2) * a]);
                    }
                }
                Array::Schlum => {
                    for n in (1..=u32::from(self.n)).take_while(|&n| fits(2 * n + a)) {
                        if n + 1 >= a {
                            line(2 * n + a, [2 * n + a, n, n + a]);
                        }
                    }
                }
                Array::Multigrad => {
                    for s in (1..=u32::from(self.s)).take_while(|&s| fits((s + 2) * a)) {
                        // N < B: (n + 1)·a < (s + 2)·a, i.e. n ≤ s.
                        for n in 1..=u32::from(self.n).min(s) {
                            line((s + 2) * a, [(s + 2) * a, n * a, (n + 1) * a]);
                        }
                    }
                }
            }
        }
    }
}

impl fmt::Display for ArraySpec {
    /// The form [`FromStr`] reads: the name and the parameters the array takes, e.g. `dpdp 1 8`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.array.name())?;
        for (parameter, value) in self.values() {
            if self.array.parameters().contains(&parameter) {
                write!(f, " {value}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for ArraySpec {
    type Err = GenerateError;

    /// Parses an array name and its parameters separated by spaces, commas or colons, in OhmPi's
    /// order: `wenner 3`, `dpdp,1,8`, `schlum:2:6`, `multigrad 1 4 3`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut fields = text
            .split(|c: char| c.is_whitespace() || c == ',' || c == ':')
            .filter(|f| !f.is_empty());
        let array: Array = fields.next().unwrap_or("").parse()?;
        let values: Vec<&str> = fields.collect();
        let takes = array.parameters();
        if values.len() != takes.len() {
            return Err(GenerateError::ParameterCount {
                array,
                found: values.len(),
            });
        }
        let mut spec = ArraySpec {
            array,
            a: 0,
            n: 0,
            s: 0,
        };
        for (name, text) in takes.iter().zip(values) {
            let value = text
                .parse::<u16>()
                .map_err(|_| GenerateError::NotAParameter {
                    array,
                    parameter: name,
                    text: text.to_string(),
                })?;
            match *name {
                "a" => spec.a = value,
                "n" => spec.n = value,
                _ => spec.s = value,
            }
        }
        spec.check()?;
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_specs_parse() {
        assert_eq!("Wenner".parse::<Array>(), Ok(Array::Wenner));
        assert_eq!(
            "pdp".parse::<Array>().unwrap_err().to_string(),
            "unknown array \"pdp\": expected wenner, dpdp, schlum or multigrad"
        );
        assert_eq!("dpdp 1 8".parse(), Ok(ArraySpec::dpdp(1, 8)));
        assert_eq!("schlum,2,6".parse(), Ok(ArraySpec::schlum(2, 6)));
        assert_eq!(
            " multigrad:1:4:3 ".parse(),
            Ok(ArraySpec::multigrad(1, 4, 3))
        );
        assert_eq!("wenner 3".parse(), Ok(ArraySpec::wenner(3)));
        let err = |s: &str| s.parse::<ArraySpec>().unwrap_err().to_string();
        assert_eq!(err("dpdp 1"), "dpdp takes 2 parameter(s) (a n), found 1");
        assert_eq!(
            err("wenner x"),
            "wenner: a = \"x\" is not a whole number from 1 to 65535"
        );
        assert_eq!(
            err("wenner 0"),
            "wenner: a must be at least 1 (it is the largest value generated, from 1 up)"
        );
        assert!(err("").starts_with("unknown array \"\""));
        for spec in [
            ArraySpec::wenner(5),
            ArraySpec::dpdp(1, 6),
            ArraySpec::multigrad(2, 3, 4),
        ] {
            assert_eq!(spec.to_string().parse(), Ok(spec));
        }
    }
}
