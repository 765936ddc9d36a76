//! What a flaky broker or a killed daemon must not cost: records, order, timing, the last will.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::mqtt::{Broker, Client_, Daemon, Msg};
use ohmpi::storage::read_survey;
use serde_json::json;

const P: &str = "ohmpi/t1";
const SECS: fn(u64) -> Duration = Duration::from_secs;

fn online(c: &mut Client_) {
    c.wait_for("online status", SECS(20), |m| {
        m.topic == format!("{P}/status") && m.json()["online"] == true
    });
}

fn seqs(c: &Client_) -> Vec<u64> {
    c.on(&format!("{P}/data"))
        .iter()
        .map(|m| m.json()["seq"].as_u64().unwrap())
        .collect()
}

fn done_of(id: &'static str) -> impl Fn(&Msg) -> bool {
    move |m: &Msg| {
        m.topic.contains("/control/response/")
            && m.json()["cmd_id"] == id
            && m.json()["status"] == "done"
    }
}

/// Wenner a = 1..3 on 32 electrodes: 78 quadrupoles of about 0.25 s.
fn start_long_survey(c: &Client_) {
    c.publish(
        &format!("{P}/control"),
        json!({"cmd_id": "long", "cmd": "create_sequence",
               "kwargs": {"nelec": 32, "params": [["wenner", 3]]}})
        .to_string(),
    );
    c.publish(
        &format!("{P}/control"),
        json!({"cmd_id": "run", "cmd": "run_sequence"}).to_string(),
    );
}

#[test]
fn a_broker_outage_loses_nothing_and_does_not_slow_acquisition() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(dir.path());
    let _daemon = Daemon::start(dir.path(), broker.port, "");
    let mut c = Client_::connect(broker.port, "res-1", &[&format!("{P}/#")]);
    online(&mut c);
    start_long_survey(&c);
    c.wait_for("some data", SECS(20), |m| m.topic == format!("{P}/data"));
    std::thread::sleep(SECS(1));
    broker.kill();
    std::thread::sleep(SECS(10));
    broker.restart();
    let done = c.wait_for("survey done", SECS(90), done_of("run"));
    let total = done.json()["result"]["records"].as_u64().unwrap();
    assert_eq!(total, 78);
    c.drain(SECS(2));
    let got = seqs(&c);
    let unique: BTreeSet<u64> = got.iter().copied().collect();
    let first = *unique.first().unwrap();
    assert_eq!(unique.len() as u64, total, "every record arrived: {got:?}");
    assert_eq!(*unique.last().unwrap(), first + total - 1);
    // Replays come in order: apart from repeats of records already seen, seq only grows.
    let mut highest = 0;
    for s in &got {
        assert!(*s > highest || unique.contains(s), "{got:?}");
        if *s > highest {
            assert_eq!(*s, highest.max(first - 1) + 1, "a gap before {s}: {got:?}");
            highest = *s;
        }
    }
    // Quadrupole timing unchanged: every record took about the same time (from the survey file).
    let data_dir = dir.path().join("data");
    let survey = done.json()["result"]["survey"]
        .as_str()
        .unwrap()
        .to_string();
    let table = read_survey(&data_dir.join(format!("measurements_{survey}.csv"))).unwrap();
    assert_eq!(table.rows.len(), 78);
    let times: Vec<f64> = table
        .rows
        .iter()
        .map(|r| {
            let t = r.get("time").unwrap();
            let secs: f64 = t[17..23].parse().unwrap();
            let mins: f64 = t[14..16].parse().unwrap();
            mins * 60.0 + secs
        })
        .collect();
    let gaps: Vec<f64> = times
        .windows(2)
        .map(|w| (w[1] - w[0] + 3600.0) % 3600.0)
        .collect();
    let worst = gaps.iter().cloned().fold(0.0, f64::max);
    assert!(
        worst < 1.0,
        "a quadrupole waited for the broker: gaps {gaps:?}"
    );
}

#[test]
fn a_frozen_broker_does_not_stall_acquisition() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let _daemon = Daemon::start(dir.path(), broker.port, "");
    let mut c = Client_::connect(broker.port, "res-2", &[&format!("{P}/#")]);
    online(&mut c);
    start_long_survey(&c);
    c.wait_for("some data", SECS(20), |m| m.topic == format!("{P}/data"));
    let rows = |dir: &std::path::Path| -> usize {
        std::fs::read_dir(dir.join("data"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("measurements_"))
            .map(|e| read_survey(&e.path()).map(|t| t.rows.len()).unwrap_or(0))
            .sum()
    };
    let before = rows(dir.path());
    broker.signal(libc::SIGSTOP);
    let frozen = Instant::now();
    std::thread::sleep(SECS(8));
    let during = rows(dir.path()) - before;
    broker.signal(libc::SIGCONT);
    // About 0.25 s per quadrupole: 8 s is some 30 quadrupoles; a stall would give none.
    assert!(
        during >= 12,
        "only {during} quadrupoles in {:?} with the broker frozen",
        frozen.elapsed()
    );
    c.wait_for("survey done", SECS(90), done_of("run"));
}

#[test]
fn a_killed_daemon_leaves_its_will_and_resends_what_was_not_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let mut daemon = Daemon::start(dir.path(), broker.port, "keepalive_s = 5\n");
    let mut c = Client_::connect(broker.port, "res-3", &[&format!("{P}/#")]);
    online(&mut c);
    start_long_survey(&c);
    let deadline = Instant::now() + SECS(30);
    while seqs(&c).len() < 10 {
        assert!(Instant::now() < deadline, "no ten records");
        c.drain(Duration::from_millis(100));
    }
    daemon.kill();
    let will = c.wait_for("last will", SECS(20), |m| {
        m.topic == format!("{P}/status") && m.json()["online"] == false
    });
    let _ = will;
    // A newcomer learns it at once: the will is retained.
    let mut late = Client_::connect(broker.port, "late", &[&format!("{P}/status")]);
    let retained = late.wait_for("retained will", SECS(5), |m| m.topic.ends_with("/status"));
    assert!(retained.retain && retained.json()["online"] == false);
    let before: BTreeSet<u64> = seqs(&c).into_iter().collect();
    daemon.restart();
    c.wait_for("online again", SECS(20), |m| {
        m.topic == format!("{P}/status") && m.json()["online"] == true && !before.is_empty()
    });
    c.drain(SECS(3));
    let after: BTreeSet<u64> = seqs(&c).into_iter().collect();
    // Every record in the survey file reached the broker, and no seq was used twice.
    let data_dir = dir.path().join("data");
    let file = std::fs::read_dir(&data_dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("measurements_")
        })
        .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.ends_with('\n'), "survey file intact");
    let table = read_survey(&file).unwrap();
    let stored: Vec<u64> = table
        .rows
        .iter()
        .map(|r| r.number("seq").unwrap() as u64)
        .collect();
    let unique: BTreeSet<u64> = stored.iter().copied().collect();
    assert_eq!(unique.len(), stored.len(), "no seq reused: {stored:?}");
    for s in &stored {
        assert!(
            after.contains(s),
            "record {s} never published; published {after:?}"
        );
    }
    // A new run after the restart continues the numbering.
    c.publish(
        &format!("{P}/control"),
        json!({"cmd_id": "m", "cmd": "run_measurement", "kwargs": {"quad": [1, 4, 2, 3]}})
            .to_string(),
    );
    let d = c.wait_for("measurement", SECS(20), done_of("m"));
    let seq = d.json()["result"]["record"]["seq"].as_u64().unwrap();
    assert!(
        seq > *unique.last().unwrap(),
        "seq {seq} after {:?}",
        unique.last()
    );
}

#[test]
fn a_clean_stop_publishes_offline_itself_and_interrupt_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let mut daemon = Daemon::start(dir.path(), broker.port, "");
    let mut c = Client_::connect(broker.port, "res-4", &[&format!("{P}/#")]);
    online(&mut c);
    start_long_survey(&c);
    c.wait_for("data", SECS(20), |m| m.topic == format!("{P}/data"));
    let asked = Instant::now();
    c.publish(
        &format!("{P}/control"),
        json!({"cmd_id": "stop", "cmd": "interrupt"}).to_string(),
    );
    let end = c.wait_for("run ends", SECS(10), done_of("run"));
    assert_eq!(end.json()["result"]["interrupted"], true);
    assert!(asked.elapsed() < SECS(2), "{:?}", asked.elapsed());
    c.wait_for("interrupt answered", SECS(5), done_of("stop"));

    let status = daemon.stop().expect("exit status");
    assert!(status.success(), "{status:?}\n{}", daemon.log());
    c.drain(SECS(2));
    let statuses: Vec<&Msg> = c.on(&format!("{P}/status"));
    let last = statuses.last().unwrap().json();
    assert_eq!(last["online"], false);
    assert_eq!(last["state"], "offline");
    // The broker did not fire the will: exactly one offline message.
    let offline = statuses
        .iter()
        .filter(|m| m.json()["online"] == false)
        .count();
    assert_eq!(offline, 1);
}
