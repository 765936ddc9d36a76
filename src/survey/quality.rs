//! Quality flags attached to every record.

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, SerializeSeq, Serializer};

/// A set of quality flags, cheap to copy (the engine builds it without allocating).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Quality(u16);

impl Quality {
    /// The measured voltage or current reached the converter's full scale.
    pub const SATURATED: Self = Self(1 << 0);
    /// The injected current was below `iab_min` (or too small to measure).
    pub const LOW_CURRENT: Self = Self(1 << 1);
    /// |Vmn| was below `vmn_min`.
    pub const LOW_VMN: Self = Self(1 << 2);
    /// The spread of R over the samples was above the high-std threshold.
    pub const HIGH_STD: Self = Self(1 << 3);
    /// Vab was lowered to respect a current, voltage or power limit.
    pub const CURRENT_LIMITED: Self = Self(1 << 4);
    /// The data come from the simulator, not from the ground.
    pub const SIMULATED: Self = Self(1 << 5);
    /// A hardware fault (bus error, supply not answering) spoiled the measurement.
    pub const FAULT: Self = Self(1 << 6);
    /// The measurement was stopped by an interrupt before it ended.
    pub const INTERRUPTED: Self = Self(1 << 7);
    /// Fewer than two usable samples: the values are null.
    pub const INSUFFICIENT_SAMPLES: Self = Self(1 << 8);
    /// Some samples missed their deadline or failed to read.
    pub const DROPPED_SAMPLES: Self = Self(1 << 9);

    const NAMES: [(Self, &'static str); 10] = [
        (Self::SATURATED, "saturated"),
        (Self::LOW_CURRENT, "low_current"),
        (Self::LOW_VMN, "low_vmn"),
        (Self::HIGH_STD, "high_std"),
        (Self::CURRENT_LIMITED, "current_limited"),
        (Self::SIMULATED, "simulated"),
        (Self::FAULT, "fault"),
        (Self::INTERRUPTED, "interrupted"),
        (Self::INSUFFICIENT_SAMPLES, "insufficient_samples"),
        (Self::DROPPED_SAMPLES, "dropped_samples"),
    ];

    pub const fn empty() -> Self {
        Self(0)
    }

    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn insert(&mut self, other: Self) {
        self.0 |= other.0;
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The names of the flags that are set, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(flag, _)| self.contains(*flag))
            .map(|(_, name)| name)
    }

    /// Parses a flag name as written in records and files.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .into_iter()
            .find(|(_, n)| *n == name)
            .map(|(flag, _)| flag)
    }

    /// The flags joined with `|`, the form used in CSV files (empty when none is set).
    pub fn to_field(self) -> String {
        self.names().collect::<Vec<_>>().join("|")
    }

    /// Parses the CSV form written by [`Quality::to_field`]; unknown names are ignored.
    pub fn from_field(field: &str) -> Self {
        let mut q = Self::empty();
        for name in field.split('|').filter(|s| !s.is_empty()) {
            if let Some(flag) = Self::from_name(name) {
                q.insert(flag);
            }
        }
        q
    }
}

impl std::ops::BitOr for Quality {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl Serialize for Quality {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let names: Vec<&str> = self.names().collect();
        let mut seq = serializer.serialize_seq(Some(names.len()))?;
        for name in names {
            seq.serialize_element(name)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Quality {
    /// The list of flag names written by `Serialize`; unknown names are ignored, as in
    /// [`Quality::from_field`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        let mut q = Self::empty();
        for flag in names.iter().filter_map(|n| Self::from_name(n)) {
            q.insert(flag);
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let q = Quality::SATURATED | Quality::DROPPED_SAMPLES;
        let json = serde_json::to_string(&q).unwrap();
        assert_eq!(serde_json::from_str::<Quality>(&json).unwrap(), q);
    }

    #[test]
    fn field_round_trip() {
        let q = Quality::SIMULATED | Quality::LOW_CURRENT;
        assert_eq!(q.to_field(), "low_current|simulated");
        assert_eq!(Quality::from_field(&q.to_field()), q);
        assert_eq!(
            serde_json::to_string(&q).unwrap(),
            r#"["low_current","simulated"]"#
        );
        assert!(Quality::empty().to_field().is_empty());
    }
}
