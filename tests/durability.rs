//! No lost data across power cuts: the real daemon on a real Mosquitto, SIGKILLed at random
//! moments while it measures (real and virtual clock), restarted each time, with one subscriber
//! that stays connected throughout. Every record in the survey files must reach the subscriber
//! (after de-duplication by seq), with no torn row, no seq used twice, and the same payload
//! every time a seq is delivered — the payload the survey file holds.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use common::mqtt::{Broker, Client_, Daemon};
use ohmpi::storage::{read_survey, record_from_row};
use serde_json::{json, Value};

const P: &str = "ohmpi/t1";

/// A small deterministic generator (the seed is printed, so a failure can be replayed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// Waits (bounded) for the daemon's status `online: true` after message `from`.
fn wait_online(c: &mut Client_, from: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if c.seen[from..].iter().any(|m| {
            m.topic == format!("{P}/status")
                && serde_json::from_str::<Value>(&m.payload).is_ok_and(|v| v["online"] == true)
        }) {
            return;
        }
        assert!(Instant::now() < deadline, "the daemon did not come online");
        c.drain(Duration::from_millis(20));
    }
}

/// Starts monitoring: surveys of Wenner a = 1..2 on 32 electrodes, one after the other.
fn start_monitoring(c: &Client_, n: usize) {
    c.publish(
        &format!("{P}/control"),
        json!({"cmd_id": format!("seq-{n}"), "cmd": "create_sequence",
               "kwargs": {"nelec": 32, "params": [["wenner", 2]]}})
        .to_string(),
    );
    c.publish(
        &format!("{P}/control"),
        json!({"cmd_id": format!("mon-{n}"), "cmd": "run_multiple_sequences",
               "kwargs": {"nb_meas": 1000, "sequence_delay": 0}})
        .to_string(),
    );
}

/// Every stored record: seq → (file, the record the row holds, as its JSON text).
fn stored(data: &Path) -> BTreeMap<u64, (String, String)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(data).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let survey = name
            .strip_prefix("measurements_")
            .and_then(|s| s.strip_suffix(".csv"));
        let records_file =
            (survey.is_some() && !name.ends_with("_fw.csv") && !name.ends_with("_rs.csv"))
                || name == "single_measurements.csv";
        if !records_file {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{name}: torn last row"
        );
        let table = read_survey(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!table.partial_tail);
        for row in &table.rows {
            let record = record_from_row(row, survey).unwrap();
            let seq = record.seq;
            let json = serde_json::to_string(&record).unwrap();
            if let Some((other, _)) = out.insert(seq, (name.clone(), json)) {
                panic!("seq {seq} stored twice: {other} and {name}");
            }
        }
    }
    out
}

/// Every published record: seq → its payload, byte for byte (a seq delivered twice must come
/// with the same bytes), and the number of deliveries.
fn published(c: &Client_) -> (BTreeMap<u64, String>, usize) {
    let mut by_seq: BTreeMap<u64, String> = BTreeMap::new();
    let mut deliveries = 0;
    for m in c.on(&format!("{P}/data")) {
        let seq = m.json()["seq"].as_u64().expect("a seq");
        deliveries += 1;
        if let Some(before) = by_seq.get(&seq) {
            assert_eq!(before, &m.payload, "seq {seq} published with two payloads");
        }
        by_seq.insert(seq, m.payload.clone());
    }
    (by_seq, deliveries)
}

fn kill_and_restart(clock: &str, kills: usize, window_ms: (u64, u64)) {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let mut c = Client_::connect(
        broker.port,
        &format!("durability-{clock}"),
        &[&format!("{P}/data"), &format!("{P}/status")],
    );
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("{clock} clock: seed {seed}");
    let mut rng = Lcg(seed);
    let mut daemon = Daemon::start_sim(
        dir.path(),
        broker.port,
        "t1",
        &format!("clock = \"{clock}\""),
        "keepalive_s = 5",
        "enabled = false",
    );
    let mut from = 0;
    for n in 0..kills {
        wait_online(&mut c, from);
        start_monitoring(&c, n);
        let wait = rng.between(window_ms.0, window_ms.1);
        c.drain(Duration::from_millis(wait));
        daemon.kill();
        from = c.seen.len();
        daemon.restart();
    }
    // The last start: let it publish what the others left, then stop it cleanly.
    wait_online(&mut c, from);
    let data = dir.path().join("data");
    let files = stored(&data);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (got, _) = published(&c);
        let missing: Vec<u64> = files
            .keys()
            .filter(|s| !got.contains_key(s))
            .copied()
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} stored records never published (first: {:?}); log:\n{}",
            missing.len(),
            files.len(),
            &missing[..missing.len().min(10)],
            daemon.log()
        );
        c.drain(Duration::from_millis(200));
    }
    let status = daemon.stop();
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        daemon.log()
    );
    let files = stored(&data);
    let (got, deliveries) = published(&c);
    for (seq, (file, row)) in &files {
        let msg = got
            .get(seq)
            .unwrap_or_else(|| panic!("record {seq} of {file} never published"));
        assert_eq!(
            msg, row,
            "record {seq}: published payload differs from {file}"
        );
    }
    for seq in got.keys() {
        assert!(
            files.contains_key(seq),
            "record {seq} published but stored nowhere"
        );
    }
    let surveys: BTreeSet<&String> = files.values().map(|(f, _)| f).collect();
    println!(
        "{clock} clock: {kills} SIGKILLs, {} records stored in {} files, {} published \
         ({} deliveries, {} duplicates after restarts), 0 lost",
        files.len(),
        surveys.len(),
        got.len(),
        deliveries,
        deliveries - got.len()
    );
    assert!(files.len() >= kills, "too few records to say anything");
}

#[test]
fn sigkill_at_random_moments_loses_no_record_virtual_clock() {
    kill_and_restart("virtual", 10, (100, 900));
}

#[test]
fn sigkill_at_random_moments_loses_no_record_real_clock() {
    kill_and_restart("real", 10, (300, 2500));
}

/// A second daemon on the same data directory refuses to start, naming the first; the first
/// goes on measuring and numbering its records alone.
#[test]
fn a_second_daemon_on_the_same_data_directory_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let mut first = Daemon::start(dir.path(), broker.port, "");
    let mut c = Client_::connect(broker.port, "two-daemons", &[&format!("{P}/status")]);
    wait_online(&mut c, 0);
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_ohmpi"))
        .args(["run", "--config"])
        .arg(&first.config)
        .current_dir(dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "the second daemon ran: {stderr}");
    let pid = first.pid().unwrap();
    assert!(
        stderr.contains("in use by another ohmpi process")
            && stderr.contains(&format!("pid {pid}")),
        "{stderr}"
    );
    // The first is untouched: still online, and it stops cleanly.
    let status = first.stop();
    assert!(status.is_some_and(|s| s.success()), "{}", first.log());
}
