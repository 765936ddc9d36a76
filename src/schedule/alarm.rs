//! Threshold alarms with hysteresis and an optional hold time: battery low, disk low, outbox
//! depth, contact resistance, clock not synchronised, repeated faults, missed runs.
//!
//! An alarm is raised when its value goes beyond the threshold and cleared only when it comes
//! back past the threshold minus (or plus) the hysteresis, so a value hovering at the threshold
//! does not flap; with a hold time, either change must last that long first. Each change is an
//! [`AlarmEvent`] for `events/alarm`. A yes/no condition (clock unsynchronised) is the value
//! 1 or 0 against a threshold of 0.5.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::error::ScheduleError;
use super::state::wall;

/// What an alarm watches; its name in `ohmpi/<id>/alarms` and `events/alarm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmKind {
    BatteryLow,
    DiskLow,
    ContactResistance,
    OutboxDepth,
    ClockUnsynced,
    RepeatedFaults,
    MissedRuns,
}

/// Which side of the threshold raises the alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Raised when the value goes above the threshold (outbox depth, contact resistance).
    Above,
    /// Raised when the value goes below the threshold (battery voltage, free disk space).
    Below,
}

/// An alarm's thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlarmSpec {
    pub kind: AlarmKind,
    pub direction: Direction,
    pub threshold: f64,
    /// How far back past the threshold the value must come to clear (≥ 0).
    pub hysteresis: f64,
    /// How long a change must last before it is reported.
    pub hold: Duration,
}

/// Raised or cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Raised,
    Cleared,
}

/// One change of an alarm, for `events/alarm`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmEvent {
    pub alarm: AlarmKind,
    pub state: Transition,
    pub value: f64,
    /// The threshold crossed: the raise threshold, or the clear one (hysteresis applied).
    pub threshold: f64,
    #[serde(with = "wall")]
    pub time: SystemTime,
}

/// The state machine of one alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    spec: AlarmSpec,
    active: bool,
    /// Since when (monotonic) the value has been asking for a change.
    pending_since: Option<Duration>,
}

impl Alarm {
    pub fn new(spec: AlarmSpec) -> Result<Self, ScheduleError> {
        let at = |f: &str| {
            format!(
                "alarms.{}.{f}",
                serde_json::to_value(spec.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            )
        };
        if !spec.threshold.is_finite() {
            return Err(ScheduleError::invalid(
                at("threshold"),
                format!("{} must be a finite number", spec.threshold),
            ));
        }
        if !spec.hysteresis.is_finite() || spec.hysteresis < 0.0 {
            return Err(ScheduleError::invalid(
                at("hysteresis"),
                format!("{} must be 0 or more", spec.hysteresis),
            ));
        }
        Ok(Self {
            spec,
            active: false,
            pending_since: None,
        })
    }

    pub fn spec(&self) -> &AlarmSpec {
        &self.spec
    }

    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The value at which a raised alarm clears.
    pub fn clear_threshold(&self) -> f64 {
        match self.spec.direction {
            Direction::Above => self.spec.threshold - self.spec.hysteresis,
            Direction::Below => self.spec.threshold + self.spec.hysteresis,
        }
    }

    /// A new reading; the change it makes, if any. A NaN reading changes nothing.
    pub fn update(
        &mut self,
        value: f64,
        now_mono: Duration,
        now_wall: SystemTime,
    ) -> Option<AlarmEvent> {
        if value.is_nan() {
            return None;
        }
        let (wants_change, threshold) = match (self.active, self.spec.direction) {
            (false, Direction::Above) => (value > self.spec.threshold, self.spec.threshold),
            (false, Direction::Below) => (value < self.spec.threshold, self.spec.threshold),
            (true, Direction::Above) => (value <= self.clear_threshold(), self.clear_threshold()),
            (true, Direction::Below) => (value >= self.clear_threshold(), self.clear_threshold()),
        };
        if !wants_change {
            self.pending_since = None;
            return None;
        }
        let since = *self.pending_since.get_or_insert(now_mono);
        if now_mono.saturating_sub(since) < self.spec.hold {
            return None;
        }
        self.pending_since = None;
        self.active = !self.active;
        Some(AlarmEvent {
            alarm: self.spec.kind,
            state: if self.active {
                Transition::Raised
            } else {
                Transition::Cleared
            },
            value,
            threshold,
            time: now_wall,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn spec(direction: Direction, threshold: f64, hysteresis: f64, hold: u64) -> AlarmSpec {
        AlarmSpec {
            kind: AlarmKind::OutboxDepth,
            direction,
            threshold,
            hysteresis,
            hold: Duration::from_secs(hold),
        }
    }

    /// Feeds `(second, value)` readings and lists the transitions as `(second, state)`.
    fn run(alarm: &mut Alarm, readings: &[(u64, f64)]) -> Vec<(u64, Transition, f64)> {
        readings
            .iter()
            .filter_map(|&(t, v)| {
                let e = alarm.update(
                    v,
                    Duration::from_secs(t),
                    UNIX_EPOCH + Duration::from_secs(t),
                )?;
                assert_eq!(e.time, UNIX_EPOCH + Duration::from_secs(t));
                Some((t, e.state, e.threshold))
            })
            .collect()
    }

    #[test]
    fn hysteresis_stops_flapping() {
        let mut a = Alarm::new(spec(Direction::Above, 100.0, 20.0, 0)).unwrap();
        let got = run(
            &mut a,
            &[
                (0, 50.0),
                (1, 101.0),
                (2, 99.0),
                (3, 101.0),
                (4, 85.0),
                (5, 80.0),
                (6, 101.0),
            ],
        );
        use Transition::*;
        assert_eq!(
            got,
            vec![(1, Raised, 100.0), (5, Cleared, 80.0), (6, Raised, 100.0)]
        );
    }

    #[test]
    fn hold_time_needs_the_change_to_last() {
        let mut a = Alarm::new(spec(Direction::Below, 10.0, 1.0, 60)).unwrap();
        use Transition::*;
        let got = run(
            &mut a,
            &[
                (0, 9.0),
                (30, 12.0),
                (40, 9.0),
                (99, 9.0),
                (100, 9.0),
                (200, 11.5),
                (259, 11.5),
                (260, 11.0),
            ],
        );
        assert_eq!(got, vec![(100, Raised, 10.0), (260, Cleared, 11.0)]);
        assert!(!a.is_active());
    }

    #[test]
    fn a_yes_no_condition_and_bad_readings() {
        let mut a = Alarm::new(AlarmSpec {
            kind: AlarmKind::ClockUnsynced,
            ..spec(Direction::Above, 0.5, 0.0, 0)
        })
        .unwrap();
        assert_eq!(a.update(f64::NAN, Duration::ZERO, UNIX_EPOCH), None);
        let e = a.update(1.0, Duration::ZERO, UNIX_EPOCH).unwrap();
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"alarm": "clock_unsynced", "state": "raised", "value": 1.0, "threshold": 0.5, "time": "1970-01-01T00:00:00.000Z"})
        );
        assert_eq!(
            a.update(0.0, Duration::ZERO, UNIX_EPOCH).unwrap().state,
            Transition::Cleared
        );
        let e = Alarm::new(spec(Direction::Above, 1.0, -1.0, 0)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "alarms.outbox_depth.hysteresis: -1 must be 0 or more"
        );
    }
}
