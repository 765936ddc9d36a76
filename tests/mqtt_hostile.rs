//! Hostile strings and files against the real daemon and a real Mosquitto: a `reply_to` the
//! broker would refuse as a topic, a `cmd_id` with line breaks or commas, a FIFO in the sequences
//! folder, a reply the broker keeps refusing. The daemon answers each with an error naming the
//! culprit (or reports it) and goes on measuring.

mod common;

use std::time::{Duration, Instant};

use common::mqtt::{command, reply_for, Broker, Client_, Daemon, Msg};
use serde_json::{json, Value};

const P: &str = "ohmpi/t1";
const SECS: fn(u64) -> Duration = Duration::from_secs;

fn online(c: &mut Client_) {
    c.wait_for("online status", SECS(20), |m| {
        m.topic == format!("{P}/status") && m.json()["online"] == true
    });
}

/// `n` distinct Wenner quadrupoles on the 32 electrodes of the test system.
fn sequence(n: usize) -> Vec<[u16; 4]> {
    (1..=10u16)
        .flat_map(|a| (1..=32 - 3 * a).map(move |e| [e, e + 3 * a, e + a, e + 2 * a]))
        .take(n)
        .collect()
}

/// The records seen on `data`, in arrival order.
fn records(c: &Client_) -> Vec<Value> {
    c.on(&format!("{P}/data"))
        .iter()
        .map(|m| m.json())
        .collect()
}

fn assert_continuous(seqs: &[u64]) {
    assert!(!seqs.is_empty());
    for w in seqs.windows(2) {
        assert_eq!(w[1], w[0] + 1, "seq not continuous: {seqs:?}");
    }
}

#[test]
fn a_noncharacter_reply_to_is_refused_and_the_connection_holds() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let daemon = Daemon::start(dir.path(), broker.port, "");
    let mut c = Client_::connect(broker.port, "hostile-1", &[&format!("{P}/#")]);
    online(&mut c);
    let seq = sequence(20);
    command(
        &c,
        json!({"cmd_id": "survey", "cmd": "run_sequence", "kwargs": {"sequence": seq}}),
    );
    c.wait_for("survey accepted", SECS(10), reply_for("survey", "accepted"));
    c.wait_for("first record", SECS(20), |m| m.topic == format!("{P}/data"));

    // U+FFFF, U+FDD0 and U+1FFFE are noncharacters: Mosquitto drops a client that publishes on
    // a topic holding one.
    for (id, reply_to) in [
        ("nc1", "dash\u{FFFF}"),
        ("nc2", "\u{FDD0}"),
        ("nc3", "x\u{1FFFE}y"),
        ("nc4", "tab\there"),
    ] {
        command(
            &c,
            json!({"cmd_id": id, "cmd": "get_status", "reply_to": reply_to}),
        );
        let m = c.wait_for(id, SECS(10), reply_for(id, "error"));
        assert_eq!(m.topic, format!("{P}/control/response/anonymous"));
        let e = &m.json()["error"];
        assert_eq!(e["code"], "invalid_argument", "{e}");
        assert_eq!(e["field"], "reply_to", "{e}");
        assert!(e["message"].as_str().unwrap().contains("reply_to"), "{e}");
    }
    // Still connected and obeying, during the survey and after it.
    command(&c, json!({"cmd_id": "st", "cmd": "get_status"}));
    c.wait_for("get_status", SECS(10), reply_for("st", "done"));
    let done = c.wait_for("survey done", SECS(60), reply_for("survey", "done"));
    assert_eq!(done.json()["result"]["records"], seq.len());
    c.drain(Duration::from_millis(300));
    let survey: Vec<u64> = records(&c)
        .iter()
        .filter(|r| r["cmd_id"] == "survey")
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(survey.len(), seq.len(), "every record published");
    assert_continuous(&survey);
    // Never dropped: no last will, no reconnection.
    let offline: Vec<&Msg> = c
        .on(&format!("{P}/status"))
        .into_iter()
        .filter(|m| m.json()["online"] == false)
        .collect();
    assert!(offline.is_empty(), "the daemon was dropped: {offline:?}");
    let log = daemon.log();
    assert!(
        !log.contains("broker connection lost"),
        "the daemon lost its connection:\n{log}"
    );
}

#[test]
fn a_cmd_id_with_line_breaks_is_refused_and_commas_are_stored_safely() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let _daemon = Daemon::start(dir.path(), broker.port, "");
    let mut c = Client_::connect(broker.port, "hostile-2", &[&format!("{P}/#")]);
    online(&mut c);
    let seq = sequence(8);

    // A line break (or any control character) is refused, naming cmd_id, under a generated id.
    for bad in ["two\nlines", "cr\rlf", "a,b\n1,2,3"] {
        command(
            &c,
            json!({"cmd_id": bad, "cmd": "run_sequence", "reply_to": "hostile",
                   "kwargs": {"sequence": seq}}),
        );
        let m = c.wait_for("cmd_id refused", SECS(10), |m| {
            m.topic == format!("{P}/control/response/hostile")
                && m.json()["error"]["field"] == "cmd_id"
        });
        let r = m.json();
        assert_eq!(r["status"], "error");
        assert_eq!(r["error"]["code"], "invalid_argument");
        assert_ne!(r["cmd_id"], bad);
        assert!(r["cmd_id"].as_str().unwrap().starts_with("ohmpi-"), "{r}");
        c.seen.clear();
    }

    // Commas and quotes are fine: the survey files quote them.
    let odd = "x,\"y\",z;1";
    let mut seqs = Vec::new();
    let mut surveys = Vec::new();
    for id in [odd, "plain"] {
        command(
            &c,
            json!({"cmd_id": id, "cmd": "run_sequence", "kwargs": {"sequence": seq}}),
        );
        let done = c.wait_for("survey done", SECS(60), reply_for(id, "done"));
        surveys.push(
            done.json()["result"]["survey"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        c.drain(Duration::from_millis(300));
        let mine: Vec<u64> = records(&c)
            .iter()
            .filter(|r| r["cmd_id"] == id)
            .map(|r| r["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(mine.len(), seq.len());
        seqs.extend(mine);
    }
    assert_continuous(&seqs);

    for (i, survey) in surveys.iter().enumerate() {
        let id = format!("exp{i}");
        command(
            &c,
            json!({"cmd_id": id, "cmd": "export",
                   "kwargs": {"survey": survey, "format": "pygimli"}}),
        );
        let m = c.wait_for("export", SECS(20), |m| {
            m.topic.starts_with(&format!("{P}/control/response/"))
                && m.json()["cmd_id"] == id.as_str()
                && m.json()["status"] != "accepted"
        });
        let r = &m.json()["result"];
        assert_eq!(m.json()["status"], "done", "{}", m.payload);
        assert_eq!(r["rows"], seq.len(), "{r}");
        assert_eq!(r["skipped"], 0, "{r}");
    }
    // The survey file keeps the id as one quoted cell.
    let csv = std::fs::read_dir(dir.path().join("data"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(&surveys[0]) && n.ends_with(".csv"))
        })
        .expect("the survey file");
    let text = std::fs::read_to_string(csv).unwrap();
    assert_eq!(text.lines().count(), 1 + seq.len(), "{text}");
    assert!(text.contains("\"x,\"\"y\"\",z;1\""), "{text}");
}

#[test]
fn a_fifo_in_the_sequences_folder_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let seqs = dir.path().join("sequences");
    std::fs::create_dir(&seqs).unwrap();
    std::fs::write(seqs.join("line.txt"), "1 4 2 3\n2 5 3 4\n").unwrap();
    let fifo = seqs.join("fifo.txt");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid C string; mkfifo only creates a file.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o644) }, 0);
    std::os::unix::fs::symlink("fifo.txt", seqs.join("link.txt")).unwrap();

    let broker = Broker::start(dir.path());
    let extra = format!("[control]\nsequences_dir = \"{}\"\n", seqs.display());
    let _daemon = Daemon::start(dir.path(), broker.port, &extra);
    let mut c = Client_::connect(broker.port, "hostile-3", &[&format!("{P}/#")]);
    online(&mut c);

    for (id, name) in [("f1", "fifo.txt"), ("f2", "link.txt")] {
        let start = Instant::now();
        command(
            &c,
            json!({"cmd_id": id, "cmd": "load_sequence", "kwargs": {"filename": name}}),
        );
        let m = c.wait_for("FIFO refused", SECS(10), reply_for(id, "error"));
        let took = start.elapsed();
        assert!(took < SECS(1), "refused after {took:?}");
        let e = &m.json()["error"];
        assert_eq!(e["field"], "filename", "{e}");
        let message = e["message"].as_str().unwrap();
        assert!(message.contains(name), "{message}");
        assert!(message.contains("FIFO"), "{message}");
    }
    command(&c, json!({"cmd_id": "after", "cmd": "get_status"}));
    c.wait_for("get_status after", SECS(5), reply_for("after", "done"));
    command(
        &c,
        json!({"cmd_id": "ok", "cmd": "load_sequence", "kwargs": {"filename": "line.txt"}}),
    );
    let m = c.wait_for("regular file", SECS(5), reply_for("ok", "done"));
    assert_eq!(m.json()["result"]["quadrupoles"], 2);
}

/// A broker that takes at most 2 KiB per packet drops the daemon after its large `get_data`
/// reply. The daemon gives that reply up after three such drops (with an error event) instead
/// of sending it first at every reconnection, and goes on.
#[test]
fn a_reply_the_broker_keeps_refusing_is_given_up() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start_with(dir.path(), "allow_anonymous true\nmax_packet_size 2048\n");
    let daemon = Daemon::start(dir.path(), broker.port, "");
    let mut c = Client_::connect(broker.port, "hostile-4", &[&format!("{P}/#")]);
    online(&mut c);
    let seq = sequence(64);
    command(
        &c,
        json!({"cmd_id": "survey", "cmd": "run_sequence", "kwargs": {"sequence": seq}}),
    );
    c.wait_for("survey done", SECS(60), reply_for("survey", "done"));

    // About 3 KiB of arrays (45 bytes a record): more than the broker takes.
    command(&c, json!({"cmd_id": "big", "cmd": "get_data"}));
    let event = c.wait_for("error event", SECS(30), |m| {
        m.topic == format!("{P}/events/error")
            && m.json()["module"] == "mqtt"
            && m.json()["description"]
                .as_str()
                .is_some_and(|d| d.contains("control/response/anonymous"))
    });
    let description = event.json()["description"].as_str().unwrap().to_string();
    assert!(description.contains("3 times"), "{description}");

    // Connected again for good: it answers, and measures.
    command(&c, json!({"cmd_id": "after", "cmd": "get_status"}));
    c.wait_for("get_status", SECS(10), reply_for("after", "done"));
    command(
        &c,
        json!({"cmd_id": "again", "cmd": "run_sequence", "kwargs": {"sequence": sequence(5)}}),
    );
    let done = c.wait_for("second survey", SECS(60), reply_for("again", "done"));
    assert_eq!(done.json()["result"]["records"], 5);
    c.drain(Duration::from_secs(2));
    let drops = daemon.log().matches("broker connection lost").count();
    assert_eq!(drops, 3, "{}", daemon.log());
    assert!(
        c.seen
            .iter()
            .all(|m| !m.topic.contains("/control/response/") || m.json()["cmd_id"] != "big"),
        "the refused reply never arrived"
    );
}
