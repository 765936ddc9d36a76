//! The scheduler on a virtual clock: slots, jumps, long surveys, messages.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::*;

pub(super) const MIN: Duration = Duration::from_secs(60);
pub(super) const HOUR: Duration = Duration::from_secs(3_600);

/// Both clocks: monotonic from an origin, and a wall clock that may jump.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clocks {
    pub mono: Duration,
    pub wall: SystemTime,
}

impl Clocks {
    /// 2026-03-01T00:00:00Z, monotonic at 100 s.
    pub fn new() -> Self {
        Self {
            mono: Duration::from_secs(100),
            wall: UNIX_EPOCH + Duration::from_secs(1_772_323_200),
        }
    }
    pub fn advance(&mut self, d: Duration) {
        self.mono += d;
        self.wall += d;
    }
    pub fn advance_to(&mut self, mono: Duration) {
        if mono > self.mono {
            self.advance(mono - self.mono);
        }
    }
}

pub(super) fn plan(entries: serde_json::Value) -> Plan {
    Plan::from_json(&entries).unwrap()
}

fn take(s: &mut Scheduler, c: Clocks) -> Option<Fire> {
    s.take_due(c.mono, c.wall)
}

fn done(s: &mut Scheduler, c: Clocks) {
    assert_eq!(s.finish(Outcome::Completed, c.mono, c.wall), None);
}

#[test]
fn every_runs_at_once_then_each_period() {
    let mut s = Scheduler::new(
        plan(json!([{"name": "e", "every": "10m", "sequence": "s"}])),
        UtcOffset::UTC,
    );
    let mut c = Clocks::new();
    let f = take(&mut s, c).unwrap();
    assert_eq!((f.entry, f.run, f.missed), (0, 1, None));
    assert_eq!(take(&mut s, c), None, "one survey at a time");
    c.advance(MIN);
    done(&mut s, c);
    let due = s.next_due(c.mono, c.wall).unwrap();
    assert_eq!(due.at, Clocks::new().mono + 10 * MIN);
    c.advance(8 * MIN);
    assert_eq!(take(&mut s, c), None);
    c.advance_to(due.at);
    assert_eq!(take(&mut s, c).unwrap().run, 2);
    assert_eq!(s.entries()[0].runs, 1);
}

#[test]
fn start_aligns_the_slots() {
    let p = plan(
        json!([{"name": "e", "every": "1h", "start": "2026-02-01T00:30:00Z", "sequence": "s"}]),
    );
    let mut s = Scheduler::new(p, UtcOffset::UTC);
    let mut c = Clocks::new();
    c.advance(40 * MIN); // 00:40
    let due = s.next_due(c.mono, c.wall).unwrap();
    assert_eq!(due.at, c.mono + 50 * MIN); // 01:30
}

#[test]
fn a_long_survey_makes_up_one_slot_and_counts_the_rest_busy() {
    let mut s = Scheduler::new(
        plan(json!([{"name": "e", "every": "10m", "sequence": "s"}])),
        UtcOffset::UTC,
    );
    let mut c = Clocks::new();
    take(&mut s, c).unwrap();
    c.advance(35 * MIN);
    done(&mut s, c);
    let f = take(&mut s, c).unwrap();
    let m = f.missed.unwrap();
    assert_eq!((m.count, m.reason), (2, MissReason::Busy));
    c.advance(MIN);
    done(&mut s, c);
    assert_eq!(take(&mut s, c), None, "no burst");
    assert_eq!(
        s.next_due(c.mono, c.wall).unwrap().at,
        Clocks::new().mono + 40 * MIN
    );
    assert_eq!((s.entries()[0].runs, s.entries()[0].missed), (2, 2));
}

#[test]
fn every_follows_the_monotonic_clock_through_wall_jumps() {
    let mut s = Scheduler::new(
        plan(json!([{"name": "e", "every": "2h", "sequence": "s"}])),
        UtcOffset::UTC,
    );
    let mut c = Clocks::new();
    take(&mut s, c).unwrap();
    done(&mut s, c);
    c.wall += 30 * 24 * HOUR;
    assert_eq!(take(&mut s, c), None);
    c.wall -= 60 * 24 * HOUR;
    let due = s.next_due(c.mono, c.wall).unwrap();
    assert_eq!(due.at, Clocks::new().mono + 2 * HOUR);
}

#[test]
fn cron_forward_jump_makes_up_one_and_backward_jump_runs_no_slot_twice() {
    let mut s = Scheduler::new(
        plan(json!([{"name": "c", "cron": "0 */2 * * *", "sequence": "s"}])),
        UtcOffset::UTC,
    );
    let mut c = Clocks::new(); // 00:00, the slot at 00:00 itself is not run (it is not after now)
    let due = s.next_due(c.mono, c.wall).unwrap();
    assert_eq!(due.at, c.mono + 2 * HOUR);
    c.advance(HOUR);
    c.wall += 3 * HOUR; // 04:00: the slots at 02:00 and 04:00 were jumped over
    let f = take(&mut s, c).unwrap();
    let m = f.missed.unwrap();
    assert_eq!((m.count, m.reason), (1, MissReason::ClockJump));
    done(&mut s, c);
    assert_eq!(take(&mut s, c), None);
    c.wall -= 3 * HOUR; // 01:00 again: 02:00 and 04:00 are accounted for already
    let due = s.next_due(c.mono, c.wall).unwrap();
    assert_eq!(due.at, c.mono + 5 * HOUR, "the next slot is 06:00");
    c.advance(2 * HOUR);
    assert_eq!(take(&mut s, c), None, "02:00 does not run twice");
    c.advance(3 * HOUR);
    let f = take(&mut s, c).unwrap();
    assert_eq!(f.missed, None);
    assert_eq!((s.entries()[0].runs, s.entries()[0].missed), (1, 1));
}

#[test]
fn cron_at_a_fixed_offset() {
    let p = plan(json!([{"name": "c", "cron": "0 6 * * *", "sequence": "s"}]));
    let mut s = Scheduler::new(p, UtcOffset::parse("+01:00").unwrap());
    let c = Clocks::new(); // 00:00 UTC = 01:00 local; 06:00 local = 05:00 UTC
    assert_eq!(s.next_due(c.mono, c.wall).unwrap().at, c.mono + 5 * HOUR);
}

#[test]
fn skipped_runs_count_as_missed_with_the_reason() {
    let mut s = Scheduler::new(
        plan(json!([{"name": "e", "every": "1h", "sequence": "s"}])),
        UtcOffset::UTC,
    );
    let c = Clocks::new();
    take(&mut s, c).unwrap();
    let m = s
        .finish(Outcome::Skipped("battery_low".into()), c.mono, c.wall)
        .unwrap();
    assert_eq!(
        (m.count, m.reason),
        (1, MissReason::Skipped("battery_low".into()))
    );
    assert_eq!((s.entries()[0].runs, s.entries()[0].missed), (0, 1));
    assert_eq!(s.recent_missed().count(), 1);
    assert_eq!(
        serde_json::to_value(s.recent_missed().next().unwrap()).unwrap()["reason"],
        json!({"skipped": "battery_low"})
    );
}

#[test]
fn on_message_honours_topic_condition_spacing_and_a_running_survey() {
    let p = plan(json!([
        {"name": "daily", "every": "1d", "sequence": "s"},
        {"name": "rain", "on_message": {"topic": "site/+/rain", "field": "rain_mm", "above": 5, "min_spacing": "6h"}, "sequence": "s"},
    ]));
    let mut s = Scheduler::new(p, UtcOffset::UTC);
    let mut c = Clocks::new();
    let wet = json!({"rain_mm": 7});
    assert_eq!(
        s.next_due(c.mono, c.wall).unwrap().name,
        "daily",
        "on_message has no deadline"
    );
    take(&mut s, c).unwrap(); // the daily survey is running
    let f = s.offer("site/a/rain", &wet, c.mono, c.wall);
    assert_eq!(f, None);
    assert_eq!(s.entries()[1].missed, 1);
    assert_eq!(
        s.recent_missed().last().unwrap().reason,
        MissReason::MessageWhileBusy
    );
    done(&mut s, c);
    c.advance(6 * HOUR);
    assert_eq!(
        s.offer("site/a/rain", &json!({"rain_mm": 5}), c.mono, c.wall),
        None,
        "not above 5"
    );
    assert_eq!(
        s.offer("site/a/snow", &wet, c.mono, c.wall),
        None,
        "other topic"
    );
    let f = s.offer("site/a/rain", &wet, c.mono, c.wall).unwrap();
    assert_eq!(f.name, "rain");
    done(&mut s, c);
    c.advance(6 * HOUR - MIN);
    assert_eq!(
        s.offer("site/a/rain", &wet, c.mono, c.wall),
        None,
        "within min_spacing"
    );
    c.advance(MIN);
    assert!(s.offer("site/b/rain", &wet, c.mono, c.wall).is_some());
}

#[test]
fn a_new_plan_keeps_the_history_of_unchanged_entries() {
    let mut s = Scheduler::new(
        plan(
            json!([{"name": "a", "every": "1h", "sequence": "s"}, {"name": "b", "every": "1h", "sequence": "s"}]),
        ),
        UtcOffset::UTC,
    );
    let c = Clocks::new();
    take(&mut s, c).unwrap();
    done(&mut s, c);
    take(&mut s, c).unwrap();
    done(&mut s, c);
    s.set_plan(plan(json!([{"name": "b", "every": "2h", "sequence": "s"}, {"name": "a", "every": "1h", "sequence": "t"}])));
    assert_eq!(s.entries()[0].runs, 0, "b's trigger changed");
    assert_eq!(s.entries()[1].runs, 1, "a kept its history");
    assert_eq!(s.plan().entries[1].sequence, "t");
}

#[derive(Debug, Clone)]
enum Op {
    /// Time passes (seconds), then the due runs are taken, each measured for `survey` seconds.
    Advance(u64, u64),
    WallJump(i64),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        4 => (1u64..30_000, 0u64..20_000).prop_map(|(a, s)| Op::Advance(a, s)),
        1 => (-20_000i64..200_000).prop_map(Op::WallJump),
    ]
}

proptest::proptest! {
    /// Whatever the clocks and the survey lengths do: an instant never starts two runs of one
    /// entry, cron slots only move forward, and every `every` slot is run or counted missed.
    #[test]
    fn accounting_holds_under_any_clock(ops in proptest::collection::vec(op(), 1..60)) {
        let p = plan(json!([
            {"name": "e", "every": "1h", "sequence": "s"},
            {"name": "c", "cron": "*/45 * * * *", "sequence": "s"},
        ]));
        let mut s = Scheduler::new(p, UtcOffset::UTC);
        let mut c = Clocks::new();
        let t0 = c.mono;
        s.next_due(c.mono, c.wall); // the plan starts now: the first hourly slot is t0
        let mut last_cron_slot = None;
        for op in ops.into_iter().chain([Op::Advance(1, 0)]) {
            match op {
                Op::WallJump(d) if d >= 0 => c.wall += Duration::from_secs(d as u64),
                Op::WallJump(d) => c.wall -= Duration::from_secs(d.unsigned_abs()),
                Op::Advance(a, survey) => {
                    c.advance(Duration::from_secs(a));
                    let mut fired_now = vec![];
                    while let Some(f) = s.take_due(c.mono, c.wall) {
                        proptest::prop_assert!(!fired_now.contains(&f.entry), "a burst of {}", f.name);
                        fired_now.push(f.entry);
                        if f.entry == 1 {
                            let slot = s.entries()[1].last_slot_wall;
                            proptest::prop_assert!(last_cron_slot < slot, "a cron slot ran twice");
                            last_cron_slot = slot;
                        }
                        s.finish(Outcome::Completed, c.mono, c.wall);
                    }
                    if survey > 0 {
                        if let Some(f) = s.take_due(c.mono, c.wall) {
                            if f.entry == 1 {
                                let slot = s.entries()[1].last_slot_wall;
                                proptest::prop_assert!(last_cron_slot < slot, "a cron slot ran twice");
                                last_cron_slot = slot;
                            }
                            c.advance(Duration::from_secs(survey));
                            s.finish(Outcome::Completed, c.mono, c.wall);
                        }
                    }
                }
            }
        }
        // Drain what is due at the end, then count the hourly slots since the start.
        while s.take_due(c.mono, c.wall).is_some() {
            s.finish(Outcome::Completed, c.mono, c.wall);
        }
        let e = &s.entries()[0];
        proptest::prop_assert_eq!(e.runs + e.missed, (c.mono - t0).as_secs() / 3_600 + 1);
    }
}
