//! A storage that stalls (a stuck SD card, the simulator's test-only `sim.storage_stall_after`)
//! holds the measuring between quadrupoles, but never the instrument's ears: status says it is
//! waiting for the storage, an interrupt is answered at once and the engine stops at once, and
//! once the storage takes events again every record measured is stored and published.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::mqtt::{Broker, Client_, Daemon};
use ohmpi::storage::read_survey;
use serde_json::{json, Value};

const P: &str = "ohmpi/t1";
const STALL_S: f64 = 4.0;

fn reply(c: &mut Client_, id: &str, status: &str, timeout: Duration) -> (Value, f64) {
    let m = c.wait_for(&format!("{id} {status}"), timeout, |m| {
        m.topic.starts_with(&format!("{P}/control/response/"))
            && serde_json::from_str::<Value>(&m.payload)
                .is_ok_and(|v| v["cmd_id"] == id && v["status"] == status)
    });
    (m.json(), m.at)
}

fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn a_stalled_storage_holds_the_measuring_but_not_the_interrupt_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let _daemon = Daemon::start_sim(
        dir.path(),
        broker.port,
        "t1",
        &format!("clock = \"virtual\"\nstorage_stall_after = 5\nstorage_stall_s = {STALL_S}"),
        // Waveforms fill the engine's ring with samples, so the stall is felt at once.
        "waveform = true",
        "enabled = false",
    );
    let mut c = Client_::connect(broker.port, "stall", &[&format!("{P}/#")]);
    c.wait_for("online", Duration::from_secs(20), |m| {
        m.topic == format!("{P}/status") && m.json()["online"] == true
    });
    let control = format!("{P}/control");
    c.publish(
        &control,
        json!({"cmd_id": "seq", "cmd": "create_sequence",
               "kwargs": {"nelec": 32, "params": [["wenner", 3]]}})
        .to_string(),
    );
    reply(&mut c, "seq", "done", Duration::from_secs(10));
    c.publish(
        &control,
        json!({"cmd_id": "run", "cmd": "run_sequence"}).to_string(),
    );
    reply(&mut c, "run", "accepted", Duration::from_secs(10));

    // The engine fills the ring and waits; status says so.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut n = 0;
    let waiting = loop {
        n += 1;
        let id = format!("st{n}");
        c.publish(
            &control,
            json!({"cmd_id": id, "cmd": "get_status"}).to_string(),
        );
        let (v, _) = reply(&mut c, &id, "done", Duration::from_secs(5));
        if !v["result"]["storage_wait_s"].is_null() {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "status never said the storage was behind: {v}"
        );
        c.drain(Duration::from_millis(50));
    };
    assert_eq!(waiting["result"]["state"], "running", "{waiting}");

    // An interrupt is answered within 100 ms (over the broker and back), and the engine has
    // stopped by the time its reply is out: the first status after it no longer says running.
    let sent = now_s();
    c.publish(
        &control,
        json!({"cmd_id": "stop", "cmd": "interrupt"}).to_string(),
    );
    let (_, answered) = reply(&mut c, "stop", "done", Duration::from_secs(5));
    c.publish(
        &control,
        json!({"cmd_id": "after", "cmd": "get_status"}).to_string(),
    );
    let (after, at) = reply(&mut c, "after", "done", Duration::from_secs(5));
    println!(
        "interrupt answered in {:.1} ms, engine state {} after {:.1} ms",
        (answered - sent) * 1e3,
        after["result"]["state"],
        (at - sent) * 1e3
    );
    assert!(
        answered - sent < 0.1,
        "interrupt answered after {:.3} s",
        answered - sent
    );
    assert_ne!(
        after["result"]["state"], "running",
        "the engine went on measuring while the storage stalled: {after}"
    );

    // The storage resumes: the run ends, interrupted, with every record it measured.
    let (done, _) = reply(&mut c, "run", "done", Duration::from_secs(30));
    assert_eq!(done["result"]["interrupted"], true, "{done}");
    let records = done["result"]["records"].as_u64().unwrap();
    let survey = done["result"]["survey"].as_str().unwrap().to_string();
    let table = read_survey(&dir.path().join(format!("data/measurements_{survey}.csv"))).unwrap();
    let stored: BTreeSet<u64> = table
        .rows
        .iter()
        .map(|r| r.get("seq").unwrap().parse().unwrap())
        .collect();
    assert_eq!(stored.len() as u64, records, "rows vs records reported");
    assert!(records > 5, "the stall came after 5 records: {records}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let published: BTreeSet<u64> = c
            .on(&format!("{P}/data"))
            .iter()
            .map(|m| m.json()["seq"].as_u64().unwrap())
            .collect();
        if stored.is_subset(&published) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stored but not published: {:?}",
            stored.difference(&published).collect::<Vec<_>>()
        );
        c.drain(Duration::from_millis(100));
    }
    c.publish(
        &control,
        json!({"cmd_id": "end", "cmd": "get_status"}).to_string(),
    );
    let (end, _) = reply(&mut c, "end", "done", Duration::from_secs(5));
    assert!(end["result"]["storage_wait_s"].is_null(), "{end}");
    assert_eq!(end["result"]["state"], "idle", "{end}");
    println!("{records} records measured before the interrupt, all stored and published");
}
