//! The state file: round trip, restart after a power cut, a stale clock, a corrupt file.

use std::time::Duration;

use serde_json::json;

use super::scheduler_tests::{plan, Clocks, HOUR, MIN};
use super::*;

#[test]
fn a_power_cut_is_counted_and_the_cut_survey_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schedule.json");
    let p = plan(json!([{"name": "e", "every": "2h", "sequence": "s.txt", "resume": "continue"}]));
    let mut s = Scheduler::new(p.clone(), UtcOffset::UTC);
    let mut c = Clocks::new();
    assert!(Scheduler::load(&path, UtcOffset::UTC, c.mono, c.wall)
        .unwrap()
        .is_none());
    s.take_due(c.mono, c.wall).unwrap();
    s.finish(Outcome::Completed, c.mono + MIN, c.wall + MIN);
    c.advance(2 * HOUR + 10 * MIN);
    let f = s.take_due(c.mono, c.wall).unwrap();
    s.save(&path).unwrap();
    assert!(!dir.path().join("schedule.json.tmp").exists());
    // The power is cut mid-survey for 3 days and 1 h; the monotonic clock starts again at 5 s.
    let back = Clocks {
        mono: Duration::from_secs(5),
        wall: c.wall + 73 * HOUR,
    };
    let mut s = Scheduler::load(&path, UtcOffset::UTC, back.mono, back.wall)
        .unwrap()
        .unwrap();
    assert_eq!(s.plan(), &p);
    let cut = s.take_interrupted(back.mono, back.wall).unwrap();
    assert_eq!(
        (cut.entry, cut.run.run, cut.resume),
        (0, f.run, Resume::Continue)
    );
    assert_eq!(s.take_interrupted(back.mono, back.wall), None);
    assert_eq!(
        s.running().map(|r| r.run),
        Some(f.run),
        "the cut survey goes on"
    );
    assert_eq!(s.take_due(back.mono, back.wall), None);
    s.finish(Outcome::Completed, back.mono, back.wall);
    // Slots at +2h, +4h … +72h after the last one (at 02:00): 36; one made up, 35 missed.
    let f = s.take_due(back.mono, back.wall).unwrap();
    let m = f.missed.unwrap();
    assert_eq!((m.count, m.reason), (35, MissReason::Down));
    assert_eq!(f.run, 3);
    s.finish(Outcome::Completed, back.mono, back.wall);
    assert_eq!(s.take_due(back.mono, back.wall), None, "no burst");
    // The phase is kept: the made-up slot was at +72 h (1 h 10 min ago), the next is in 50 min.
    assert_eq!(
        s.next_due(back.mono, back.wall).unwrap().at,
        back.mono + 50 * MIN
    );
    assert_eq!((s.entries()[0].runs, s.entries()[0].missed), (3, 35));
}

#[test]
fn a_stale_clock_at_boot_gives_one_run_and_no_guess() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schedule.json");
    let mut s = Scheduler::new(
        plan(json!([{"name": "e", "every": "2h", "sequence": "s"}])),
        UtcOffset::UTC,
    );
    let c = Clocks::new();
    s.take_due(c.mono, c.wall).unwrap();
    s.finish(Outcome::Completed, c.mono, c.wall);
    s.save(&path).unwrap();
    let stale = std::time::UNIX_EPOCH + Duration::from_secs(1_000);
    let mut s = Scheduler::load(&path, UtcOffset::UTC, Duration::ZERO, stale)
        .unwrap()
        .unwrap();
    let f = s.take_due(Duration::ZERO, stale).unwrap();
    assert_eq!(f.missed, None);
    assert_eq!(
        s.take_interrupted(Duration::ZERO, stale),
        None,
        "nothing was running"
    );
}

#[test]
fn a_wall_jump_moves_the_every_slots_so_a_restart_counts_no_years() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schedule.json");
    let mut s = Scheduler::new(
        plan(json!([{"name": "e", "every": "2h", "sequence": "s"}])),
        UtcOffset::UTC,
    );
    // Booted with the clock at 1970 + 1000 s, a survey, then NTP sets 2026 an hour later.
    let stale = std::time::UNIX_EPOCH + Duration::from_secs(1_000);
    s.take_due(Duration::ZERO, stale).unwrap();
    s.finish(Outcome::Completed, 20 * MIN, stale + 20 * MIN);
    let c = Clocks::new();
    assert_eq!(s.next_due(HOUR, c.wall).unwrap().at, 2 * HOUR);
    s.save(&path).unwrap();
    // Restarted 30 min later: the slot was 1 h 30 min ago, nothing missed, next in 30 min.
    let mut s = Scheduler::load(&path, UtcOffset::UTC, MIN, c.wall + 30 * MIN)
        .unwrap()
        .unwrap();
    assert_eq!(s.take_due(MIN, c.wall + 30 * MIN), None);
    assert_eq!(s.next_due(MIN, c.wall + 30 * MIN).unwrap().at, 31 * MIN);
    assert_eq!(s.entries()[0].missed, 0);
}

#[test]
fn a_cut_survey_with_resume_skip_counts_as_a_failed_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schedule.json");
    let p = plan(json!([{"name": "e", "every": "2h", "sequence": "s", "resume": "skip"}]));
    let mut s = Scheduler::new(p, UtcOffset::UTC);
    let c = Clocks::new();
    s.take_due(c.mono, c.wall).unwrap();
    s.save(&path).unwrap();
    let mut s = Scheduler::load(&path, UtcOffset::UTC, Duration::ZERO, c.wall + HOUR)
        .unwrap()
        .unwrap();
    assert_eq!(
        s.take_interrupted(Duration::ZERO, c.wall + HOUR)
            .unwrap()
            .resume,
        Resume::Skip
    );
    assert_eq!(s.running(), None);
    assert_eq!(s.entries()[0].runs, 1);
    assert_eq!(
        s.entries()[0].last_outcome,
        Some(Outcome::Failed("interrupted".into()))
    );
    assert_eq!(s.next_due(Duration::ZERO, c.wall + HOUR).unwrap().at, HOUR);
}

#[test]
fn the_file_is_json_and_a_corrupt_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schedule.json");
    let mut s = Scheduler::new(
        plan(json!([{"name": "c", "cron": "0 6 * * *", "sequence": "s"}])),
        UtcOffset::UTC,
    );
    let c = Clocks::new();
    s.next_due(c.mono, c.wall);
    s.save(&path).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["plan"][0]["cron"], json!("0 6 * * *"));
    assert_eq!(
        v["entries"][0]["last_slot_wall"],
        json!("2026-03-01T00:00:00.000Z")
    );
    std::fs::write(&path, "{\"version\": 1, \"plan\": [").unwrap();
    let e = Scheduler::load(&path, UtcOffset::UTC, c.mono, c.wall)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("schedule state {} is corrupt: ", path.display())),
        "{e}"
    );
    let mut bad = v.clone();
    bad["plan"][0]["cron"] = json!("0 99 * * *");
    std::fs::write(&path, bad.to_string()).unwrap();
    let e = Scheduler::load(&path, UtcOffset::UTC, c.mono, c.wall)
        .unwrap_err()
        .to_string();
    assert!(e.contains("is corrupt: schedule[0].cron"), "{e}");
    let e = Scheduler::new(Plan::default(), UtcOffset::UTC)
        .save(&dir.path().join("no/such/dir.json"))
        .unwrap_err();
    assert!(e.to_string().contains("no/such/dir.json"), "{e}");
}
