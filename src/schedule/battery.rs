//! The battery guard: planned surveys are skipped and a running one stops while the battery is
//! below `[power] min_battery_v`; both go on once it is back above `recover_v`.

use std::time::{Duration, SystemTime};

use super::alarm::{Alarm, AlarmEvent, AlarmKind, AlarmSpec, Direction};
use super::error::ScheduleError;

/// Hysteresis added to `min_v` when no `recover_v` is given.
pub const DEFAULT_RECOVERY_V: f64 = 0.5;

/// Ok, or too low to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BatteryState {
    Ok,
    Low,
}

/// Battery voltage with hysteresis; its transitions are `battery_low` alarm events.
#[derive(Debug, Clone, PartialEq)]
pub struct BatteryGuard {
    alarm: Alarm,
}

impl BatteryGuard {
    /// `recover_v` defaults to `min_v + 0.5 V` and must be above `min_v`.
    pub fn new(min_v: f64, recover_v: Option<f64>) -> Result<Self, ScheduleError> {
        let recover_v = recover_v.unwrap_or(min_v + DEFAULT_RECOVERY_V);
        if !min_v.is_finite() || min_v <= 0.0 {
            return Err(ScheduleError::invalid(
                "power.min_battery_v",
                format!("{min_v} must be a voltage above 0"),
            ));
        }
        if !recover_v.is_finite() || recover_v <= min_v {
            return Err(ScheduleError::invalid(
                "power.recover_battery_v",
                format!("{recover_v} must be above min_battery_v ({min_v})"),
            ));
        }
        let spec = AlarmSpec {
            kind: AlarmKind::BatteryLow,
            direction: Direction::Below,
            threshold: min_v,
            hysteresis: recover_v - min_v,
            hold: Duration::ZERO,
        };
        Ok(Self {
            alarm: Alarm::new(spec)?,
        })
    }

    pub fn state(&self) -> BatteryState {
        if self.alarm.is_active() {
            BatteryState::Low
        } else {
            BatteryState::Ok
        }
    }

    /// A voltage reading; the transition it makes, if any.
    pub fn update(
        &mut self,
        volts: f64,
        now_mono: Duration,
        now_wall: SystemTime,
    ) -> Option<AlarmEvent> {
        self.alarm.update(volts, now_mono, now_wall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::alarm::Transition;
    use std::time::UNIX_EPOCH;

    #[test]
    fn low_below_min_ok_again_only_above_recovery() {
        let mut g = BatteryGuard::new(11.0, None).unwrap();
        let mut states = vec![];
        for (t, v) in [12.4, 11.2, 10.9, 11.3, 11.49, 11.5, 11.1, 10.99]
            .into_iter()
            .enumerate()
        {
            let e = g.update(v, Duration::from_secs(t as u64), UNIX_EPOCH);
            states.push((g.state(), e.map(|e| (e.state, e.threshold))));
        }
        use BatteryState::*;
        assert_eq!(
            states,
            vec![
                (Ok, None),
                (Ok, None),
                (Low, Some((Transition::Raised, 11.0))),
                (Low, None),
                (Low, None),
                (Ok, Some((Transition::Cleared, 11.5))),
                (Ok, None),
                (Low, Some((Transition::Raised, 11.0))),
            ]
        );
    }

    #[test]
    fn recovery_must_be_above_min() {
        let e = BatteryGuard::new(11.0, Some(10.5)).unwrap_err().to_string();
        assert_eq!(
            e,
            "power.recover_battery_v: 10.5 must be above min_battery_v (11)"
        );
        assert!(BatteryGuard::new(f64::NAN, None).is_err());
    }
}
