//! Thirty days of a 2-hourly plan on virtual clocks, driven as the daemon drives the scheduler:
//! block until the next deadline, take the run, measure for 20 minutes, finish it, save the
//! state after each step. On the way: the wall clock jumps 3 h forward (NTP at boot), later 2 h
//! back, and the power is cut for three days in the middle of a survey (the monotonic clock
//! starts again near zero; the scheduler is rebuilt from its state file).
//!
//! "Real" time `r` runs from 2026-03-01T00:00Z; the `every` entry's slots are at r = 0, 2 h, …;
//! the `cron` entry's at :30 past even hours of the wall clock.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::json;

use super::scheduler_tests::{plan, Clocks, HOUR, MIN};
use super::*;

const DAY: Duration = Duration::from_secs(86_400);
const SURVEY: Duration = Duration::from_secs(20 * 60);

enum Event {
    WallJump(Duration, bool),
    PowerCut(Duration),
}

#[test]
fn thirty_days_with_clock_jumps_and_a_power_cut() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schedule.json");
    let p = plan(json!([
        {"name": "every", "every": "2h", "sequence": "dd.txt"},
        {"name": "cron", "cron": "30 */2 * * *", "sequence": "dd.txt"},
    ]));
    let mut c = Clocks::new();
    let origin = c;
    let mut real = Duration::ZERO; // physical time since the origin, whatever the clocks do
    let end = 30 * DAY - MIN;
    // Scripted in real time: 00:25 on day 5 (wall 00:25 → 03:25, over the 00:30 and 02:30
    // slots), 10:40 on day 12 (wall 13:40 → 11:40), 06:10 on day 20 (the 06:00 survey is running).
    let mut events = vec![
        (5 * DAY + 25 * MIN, Event::WallJump(3 * HOUR, true)),
        (
            12 * DAY + 10 * HOUR + 40 * MIN,
            Event::WallJump(2 * HOUR, false),
        ),
        (
            20 * DAY + 6 * HOUR + 10 * MIN,
            Event::PowerCut(3 * DAY + 60 * MIN),
        ),
    ];
    events.reverse();
    let mut s = Scheduler::new(p, UtcOffset::UTC);
    let mut running_until: Option<Duration> = None; // monotonic
    let mut fires: Vec<(String, Duration, u64)> = vec![]; // entry, real time, run number
    let mut missed: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut note = |m: Option<Missed>| {
        if let Some(m) = m {
            let reason = serde_json::to_value(&m.reason).unwrap().to_string();
            *missed.entry((m.entry, reason)).or_default() += m.count;
        }
    };
    let mut steps = 0;
    let mut saved = s.to_json().to_string();
    let wall_at_end = loop {
        steps += 1;
        assert!(steps < 10_000, "the simulation must end");
        let due = match running_until {
            Some(_) => None,
            None => s.next_due(c.mono, c.wall).map(|d| d.at),
        };
        let event_at = events.last().map(|(r, _)| c.mono + (*r - real.min(*r)));
        let next = [running_until, due, event_at]
            .into_iter()
            .flatten()
            .min()
            .unwrap();
        let step = next.saturating_sub(c.mono);
        if running_until.is_none() && real + step > end {
            break c.wall + (end - real);
        }
        c.advance(step);
        real += step;
        if event_at == Some(c.mono) {
            match events.pop().unwrap().1 {
                Event::WallJump(d, true) => c.wall += d,
                Event::WallJump(d, false) => c.wall -= d,
                Event::PowerCut(off) => {
                    drop(s); // killed: only what was saved survives
                    std::fs::write(&path, &saved).unwrap();
                    real += off;
                    c = Clocks {
                        mono: Duration::from_secs(7),
                        wall: c.wall + off,
                    };
                    s = Scheduler::load(&path, UtcOffset::UTC, c.mono, c.wall)
                        .unwrap()
                        .unwrap();
                    let cut = s.take_interrupted(c.mono, c.wall).unwrap();
                    assert_eq!(
                        (cut.run.entry.as_str(), cut.resume),
                        ("every", Resume::Continue)
                    );
                    running_until = Some(c.mono + SURVEY / 2); // the rest of it
                }
            }
            continue;
        }
        if running_until == Some(c.mono) {
            note(s.finish(Outcome::Completed, c.mono, c.wall));
            running_until = None;
        } else if let Some(f) = s.take_due(c.mono, c.wall) {
            fires.push((f.name.clone(), real, f.run));
            note(f.missed);
            running_until = Some(c.mono + SURVEY);
        }
        // The daemon saves after every step; kept in memory here (one fsync per step would make
        // the test slow), written out at the cut exactly as the last save would have left it.
        saved = s.to_json().to_string();
    };
    assert!(events.is_empty());
    if running_until.is_some() {
        s.finish(Outcome::Completed, c.mono, c.wall);
    }

    // Every planned slot is accounted for, run or missed. The `every` slots are on the real-time
    // grid (the cut is measured on the wall clock, whose offset did not change during it); the
    // cron slots are the wall-clock slots in (start, end], the 2 h replayed by the backward jump
    // counted once.
    let every_planned = end.as_secs() / 7_200 + 1;
    let cron = match &s.plan().entries[1].trigger {
        Trigger::Cron(c) => c.clone(),
        _ => unreachable!(),
    };
    let mut cron_planned = 0u64;
    let mut t: SystemTime = origin.wall;
    while let Some(n) = cron
        .next_after(t, UtcOffset::UTC)
        .filter(|n| *n <= wall_at_end)
    {
        cron_planned += 1;
        t = n;
    }
    let [every, cron_state] = s.entries() else {
        unreachable!()
    };
    assert_eq!(every.runs + every.missed, every_planned);
    assert_eq!(cron_state.runs + cron_state.missed, cron_planned);
    // The figures: 360 slots of `every` in 30 days less a minute; 361 cron slots (wall clock
    // 1 h ahead at the end). The cut (3 d 1 h) missed 36 slots of each: 35 counted, 1 made up.
    // The forward jump missed 2 cron slots: 1 counted, 1 made up; the backward jump none.
    assert_eq!((every_planned, cron_planned), (360, 361));
    assert_eq!((every.runs, every.missed), (325, 35));
    assert_eq!((cron_state.runs, cron_state.missed), (325, 36));
    let k = |e: &str, r: &str| missed.get(&(e.to_owned(), r.to_owned())).copied();
    assert_eq!(k("every", "\"down\""), Some(35));
    assert_eq!(k("cron", "\"down\""), Some(35));
    assert_eq!(k("cron", "\"clock_jump\""), Some(1));
    assert_eq!(missed.values().sum::<u64>(), 71, "{missed:?}");

    // No burst: never three runs of an entry within one period (one made up at most, then the
    // regular slot); run numbers never repeat.
    for name in ["every", "cron"] {
        let times: Vec<Duration> = fires.iter().filter(|f| f.0 == name).map(|f| f.1).collect();
        for w in times.windows(3) {
            assert!(w[2] - w[0] >= 2 * HOUR, "{name}: runs at {:?}", w);
        }
    }
    let runs: Vec<u64> = fires.iter().map(|f| f.2).collect();
    assert!(runs.windows(2).all(|w| w[1] > w[0]));
    assert_eq!(fires.len() as u64, every.runs + cron_state.runs);
}
