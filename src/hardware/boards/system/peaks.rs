//! What the converters saw since the last switch or Vab change, for the choice of their ranges.
//!
//! Vmn = SP + V during a + pulse, SP during the off time and SP − V during a − pulse, so |Vmn|
//! may be largest on the polarity not yet seen: the range of each pulse holds the largest |Vmn|
//! seen on either polarity and in the off time, and, for a polarity not seen yet, the mirror
//! of the other about the off-time level (2·SP − Vmn).

use crate::hardware::frontend::Polarity;

/// Smallest and largest value seen.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    min: f64,
    max: f64,
}

impl Span {
    fn new(x: f64) -> Self {
        Self { min: x, max: x }
    }

    fn add(span: &mut Option<Span>, x: f64) {
        match span {
            Some(s) => {
                s.min = s.min.min(x);
                s.max = s.max.max(x);
            }
            None => *span = Some(Span::new(x)),
        }
    }

    fn largest_abs(&self) -> f64 {
        self.min.abs().max(self.max.abs())
    }
}

/// Readings since the last switch or Vab change.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Peaks {
    /// Largest |Iab| \[mA\] (the same for both polarities: the shunt is before the relays).
    pub(super) iab_ma: f64,
    positive: Option<Span>,
    negative: Option<Span>,
    off: Option<Span>,
}

impl Peaks {
    /// Adds a reading taken with the polarity relays at `polarity`.
    pub(super) fn add(&mut self, polarity: Polarity, iab_ma: f64, vmn_mv: f64) {
        if iab_ma.is_finite() {
            self.iab_ma = self.iab_ma.max(iab_ma.abs());
        }
        if !vmn_mv.is_finite() {
            return;
        }
        let span = match polarity {
            Polarity::Positive => &mut self.positive,
            Polarity::Negative => &mut self.negative,
            Polarity::Off => &mut self.off,
        };
        Span::add(span, vmn_mv);
    }

    /// The largest |Vmn| \[mV\] a pulse of `polarity` may see, or `None` when nothing tells (the
    /// widest range then): nothing seen on either polarity, or a polarity not seen yet with no
    /// off-time reading to mirror the other one about.
    pub(super) fn vmn_bound(&self, polarity: Polarity) -> Option<f64> {
        let (this, other) = match polarity {
            Polarity::Positive => (self.positive, self.negative),
            Polarity::Negative => (self.negative, self.positive),
            Polarity::Off => return None,
        };
        let seen = [self.positive, self.negative, self.off]
            .iter()
            .flatten()
            .map(Span::largest_abs)
            .fold(0.0, f64::max);
        if this.is_some() {
            return Some(seen);
        }
        let (other, off) = (other?, self.off?);
        // |2·SP − v| over SP within the off-time span and v within the other polarity's: a
        // convex function, largest at a corner.
        let mirror = [off.min, off.max]
            .iter()
            .flat_map(|sp| [other.min, other.max].map(|v| (2.0 * sp - v).abs()))
            .fold(0.0, f64::max);
        Some(seen.max(mirror))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_negative_pulse_is_bounded_by_the_mirror_of_the_positive_one() {
        let mut p = Peaks::default();
        // SP = −300 mV, V = 500 mV: +200 mV during +, −300 mV off, −800 mV expected during −.
        p.add(Polarity::Positive, 5.0, 200.0);
        assert_eq!(p.vmn_bound(Polarity::Negative), None, "no off level yet");
        p.add(Polarity::Off, 0.0, -300.0);
        assert_eq!(p.vmn_bound(Polarity::Negative), Some(800.0));
        p.add(Polarity::Negative, 5.0, -790.0);
        // Both polarities seen: the largest of all, for either.
        assert_eq!(p.vmn_bound(Polarity::Positive), Some(790.0));
        assert_eq!(p.vmn_bound(Polarity::Negative), Some(790.0));
        assert_eq!(p.iab_ma, 5.0);
    }
}
