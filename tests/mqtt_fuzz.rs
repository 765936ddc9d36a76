//! Mutated commands against the real daemon during a survey: every one is answered exactly once
//! with a final status, the survey completes with all its records, and the daemon's memory stays
//! bounded. The commands come from a seeded generator (the seed is printed; set
//! `OHMPI_FUZZ_SEED` to replay one): protocol commands whose names, keys and value types are
//! mutated, truncated, sprinkled with noise, or made large.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::mqtt::{Broker, Client_, Daemon};
use ohmpi::messaging::command::{self, Command};
use serde_json::{json, Map, Value};

const P: &str = "ohmpi/t1";
/// Small mutated commands, then large ones.
const SMALL: usize = 2_000;
const LARGE: usize = 400;

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// SplitMix64: small, seeded, good enough to mutate messages.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One of each command, with plausible arguments (never `interrupt` nor `pause`, which would
/// legitimately stop or hold the survey under test).
fn templates() -> Vec<Value> {
    vec![
        json!({"cmd": "get_status"}),
        json!({"cmd": "get_settings"}),
        json!({"cmd": "list_surveys"}),
        json!({"cmd": "get_data", "kwargs": {"survey_names": ["measurements_20260101T000000"]}}),
        json!({"cmd": "resume"}),
        json!({"cmd": "run_sequence", "kwargs": {"nb_stack": 1, "injection_duration": 0.05}}),
        json!({"cmd": "repeat_sequence", "kwargs": {"nb_meas": 2, "sequence_delay": 10}}),
        json!({"cmd": "run_multiple_sequences", "kwargs": {"nb_meas": 1}}),
        json!({"cmd": "run_measurement", "kwargs": {"quad": [1, 4, 2, 3], "nb_stack": 1}}),
        json!({"cmd": "load_sequence", "kwargs": {"filename": "wenner.txt"}}),
        json!({"cmd": "set_sequence", "kwargs": {"sequence": [[1, 4, 2, 3], [2, 5, 3, 4]]}}),
        json!({"cmd": "create_sequence", "kwargs": {"nelec": 16, "params": [["dpdp", 1, 8]]}}),
        json!({"cmd": "update_settings", "kwargs": {"settings": {"nb_stack": 2}}}),
        json!({"cmd": "rs_check", "kwargs": {"vab": 5, "couple": [1, 2]}}),
        json!({"cmd": "reset_mux"}),
        json!({"cmd": "test", "kwargs": {"test_names": ["supply"]}}),
        json!({"cmd": "export", "kwargs": {"survey": "x", "format": "pygimli"}}),
        json!({"cmd": "set_time", "kwargs": {"date": "2026-11-22T21:13:05Z"}}),
        json!({"cmd": "restart"}),
        json!({"cmd": "shutdown"}),
    ]
}

const KEYS: &[&str] = &[
    "cmd",
    "cmd_id",
    "kwargs",
    "reply_to",
    "sequence",
    "nb_stack",
    "couple",
    "date",
    "quad",
    "sequence_delay",
    "settings",
    "filename",
    "nelec",
    "survey_names",
];

const HOSTILE: &[&str] = &[
    "a/b",
    "+",
    "#",
    "",
    "x\u{FFFF}",
    "\u{FDD0}",
    "z\u{1FFFE}",
    "tab\t",
    "nul\0",
    "two\nlines",
    "\u{85}",
];

fn random_string(rng: &mut Rng, max: usize) -> String {
    let len = rng.below(max + 1);
    (0..len)
        .map(|_| match rng.below(10) {
            0 => char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('?'),
            1 => *rng.pick(&['\0', '\n', '"', '\\', '/', '+', '#', '\u{FFFF}', 'é']),
            _ => (b'a' + rng.below(26) as u8) as char,
        })
        .collect()
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 2 { 7 } else { 9 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => json!(rng.next() as i64),
        3 => json!((rng.next() % 2_000) as f64 / 7.0 - 100.0),
        4 => json!(rng.below(70_000)),
        5 => Value::String(random_string(rng, 12)),
        6 => Value::String((*rng.pick(KEYS)).to_string()),
        7 => Value::Array(
            (0..rng.below(5))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.below(4))
                .map(|_| ((*rng.pick(KEYS)).to_string(), random_value(rng, depth + 1)))
                .collect(),
        ),
    }
}

fn mutate_name(rng: &mut Rng, name: &str) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    match rng.below(7) {
        0 => chars.insert(0, '.'),
        1 if !chars.is_empty() => {
            chars.remove(rng.below(chars.len()));
        }
        2 if !chars.is_empty() => {
            let i = rng.below(chars.len());
            chars[i] = (b'A' + rng.below(26) as u8) as char;
        }
        3 => chars.insert(
            rng.below(chars.len() + 1),
            *rng.pick(&['_', ' ', '\u{FFFF}', '/']),
        ),
        4 => chars = chars.iter().map(|c| c.to_ascii_uppercase()).collect(),
        5 => chars.extend(name.chars()),
        _ => chars.push('s'),
    }
    chars.into_iter().collect()
}

/// A key of `map` (if any), chosen at random.
fn some_key(rng: &mut Rng, map: &Map<String, Value>) -> Option<String> {
    let keys: Vec<&String> = map.keys().collect();
    (!keys.is_empty()).then(|| keys[rng.below(keys.len())].clone())
}

fn kwargs(m: &mut Map<String, Value>) -> &mut Map<String, Value> {
    if !matches!(m.get("kwargs"), Some(Value::Object(_))) {
        m.insert("kwargs".into(), json!({}));
    }
    match m.get_mut("kwargs") {
        Some(Value::Object(k)) => k,
        _ => unreachable!(),
    }
}

/// One structural mutation of a command object.
fn mutate(rng: &mut Rng, m: &mut Map<String, Value>) {
    match rng.below(10) {
        0 => {
            let name = m
                .get("cmd")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            m.insert("cmd".into(), Value::String(mutate_name(rng, &name)));
        }
        1 => {
            if let Some(key) = some_key(rng, m) {
                let v = m.remove(&key).unwrap_or_default();
                m.insert(mutate_name(rng, &key), v);
            }
        }
        2 => {
            let k = kwargs(m);
            if let Some(key) = some_key(rng, k) {
                let v = k.remove(&key).unwrap_or_default();
                k.insert(mutate_name(rng, &key), v);
            }
        }
        3 => {
            let v = random_value(rng, 0);
            let k = kwargs(m);
            match some_key(rng, k) {
                Some(key) => k.insert(key, v),
                None => k.insert((*rng.pick(KEYS)).to_string(), v),
            };
        }
        4 => {
            let key = (*rng.pick(&["cmd", "kwargs", "reply_to"])).to_string();
            m.insert(key, random_value(rng, 0));
        }
        5 => {
            if let Some(key) = some_key(rng, m) {
                m.remove(&key);
            }
        }
        6 => {
            let v = random_value(rng, 0);
            let base = *rng.pick(KEYS);
            let key = mutate_name(rng, base);
            if rng.chance(50) {
                m.insert(key, v);
            } else {
                kwargs(m).insert(key, v);
            }
        }
        7 => {
            m.insert("reply_to".into(), json!(*rng.pick(HOSTILE)));
        }
        8 => {
            let id = match rng.below(3) {
                0 => (*rng.pick(HOSTILE)).to_string(),
                1 => "x".repeat(129 + rng.below(400)),
                _ => random_string(rng, 20),
            };
            m.insert("cmd_id".into(), json!(id));
        }
        _ => {
            let name = format!("client-{}", rng.below(5));
            m.insert("reply_to".into(), json!(name));
        }
    }
}

/// Byte-level damage: truncation, noise, invalid UTF-8.
fn damage(rng: &mut Rng, bytes: &mut Vec<u8>) {
    if rng.chance(8) && !bytes.is_empty() {
        let at = rng.below(bytes.len());
        bytes.truncate(at);
    }
    if rng.chance(8) {
        for _ in 0..=rng.below(4) {
            let at = rng.below(bytes.len() + 1);
            bytes.insert(at, rng.next() as u8);
        }
    }
}

/// A large message (100 KiB to 400 KiB): huge sequences, strings, many keys, deep nesting,
/// junk, or a valid command padded past the size limit.
fn large(rng: &mut Rng, id: &str) -> Vec<u8> {
    let size = 100 * 1024 + rng.below(300 * 1024);
    match rng.below(6) {
        0 => {
            let quads: Vec<[u64; 4]> = (0..size / 14)
                .map(|_| [1 + rng.below(40) as u64, 5, 2, 3])
                .collect();
            json!({"cmd_id": id, "cmd": "set_sequence", "kwargs": {"sequence": quads}})
                .to_string()
                .into_bytes()
        }
        1 => json!({"cmd_id": id, "cmd": "get_status", "kwargs": {"note": "n".repeat(size)}})
            .to_string()
            .into_bytes(),
        2 => {
            let kw: Map<String, Value> = (0..size / 16)
                .map(|i| (format!("k{i}"), json!(i)))
                .collect();
            json!({"cmd_id": id, "cmd": "run_sequence", "kwargs": kw})
                .to_string()
                .into_bytes()
        }
        3 => format!(
            r#"{{"cmd_id": "{id}", "cmd": "get_status", "x": {}}}"#,
            "[".repeat(size)
        )
        .into_bytes(),
        4 => (0..size).map(|_| rng.next() as u8).collect(),
        _ => {
            let mut b = json!({"cmd_id": id, "cmd": "get_status"})
                .to_string()
                .into_bytes();
            b.resize(size.max(300 * 1024), b' ');
            b
        }
    }
}

/// How the reply to a message can be recognised.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// The message carries this `cmd_id`, which the daemon echoes.
    Id(String),
    /// Anything else: the reply carries another id (generated, or mutated by the generator).
    Other,
}

/// What the daemon will read as the `cmd_id`, for sorting replies; `None` when it is not
/// readable. Messages whose id merely resembles a tracked id are regenerated.
fn expect(bytes: &[u8], id: &str) -> Option<Expect> {
    // Over the size limit, the message is not read: the reply has a generated id.
    if bytes.len() > command::MAX_PAYLOAD_BYTES {
        return Some(Expect::Other);
    }
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(bytes) else {
        return Some(Expect::Other);
    };
    match m.get("cmd_id") {
        Some(Value::String(s)) if s == id => Some(Expect::Id(id.to_string())),
        Some(Value::String(s)) if s.contains("fz") => None,
        _ => Some(Expect::Other),
    }
}

/// Would stop or hold the survey under test: left out.
fn stops_the_survey(bytes: &[u8]) -> bool {
    matches!(
        command::parse(bytes, || "g".into()).map(|r| r.command),
        Ok(Command::Interrupt | Command::Pause)
    )
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[derive(Default)]
struct Replies {
    /// Per tracked id: the statuses seen, in order.
    by_id: HashMap<String, Vec<String>>,
    /// Replies under ids the test did not track: (id, status).
    other: Vec<(String, String)>,
    scanned: usize,
}

impl Replies {
    fn scan(&mut self, c: &Client_, tracked: &HashSet<String>) {
        for m in &c.seen[self.scanned..] {
            if !m.topic.starts_with(&format!("{P}/control/response/")) {
                continue;
            }
            let r = m.json();
            let id = r["cmd_id"].as_str().unwrap_or_default().to_string();
            let status = r["status"].as_str().unwrap_or_default().to_string();
            assert!(
                ["accepted", "done", "error"].contains(&status.as_str()),
                "{}",
                m.payload
            );
            if tracked.contains(&id) {
                self.by_id.entry(id).or_default().push(status);
            } else {
                self.other.push((id, status));
            }
        }
        self.scanned = c.seen.len();
    }

    fn finals(statuses: &[String]) -> usize {
        statuses.iter().filter(|s| *s != "accepted").count()
    }

    fn other_finals(&self) -> usize {
        self.other.iter().filter(|(_, s)| s != "accepted").count()
    }
}

#[test]
fn thousands_of_mutated_commands_are_all_answered_during_a_survey() {
    let seed = std::env::var("OHMPI_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0441_2026);
    eprintln!("OHMPI_FUZZ_SEED={seed}");
    let mut rng = Rng(seed);
    let (small, large_n) = (
        count("OHMPI_FUZZ_SMALL", SMALL),
        count("OHMPI_FUZZ_LARGE", LARGE),
    );

    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(dir.path());
    let daemon = Daemon::start(dir.path(), broker.port, "");
    let pid = daemon.pid().unwrap();
    let mut c = Client_::connect(broker.port, "fuzz", &[&format!("{P}/#")]);
    c.wait_for("online", Duration::from_secs(20), |m| {
        m.topic == format!("{P}/status") && m.json()["online"] == true
    });

    // Every Wenner quadrupole with a ≤ 3 on the 32 electrodes: 78 of them.
    let sequence: Vec<[u16; 4]> = (1..=3u16)
        .flat_map(|a| (1..=32 - 3 * a).map(move |e| [e, e + 3 * a, e + a, e + 2 * a]))
        .collect();
    let control = format!("{P}/control");
    c.publish(
        &control,
        json!({"cmd_id": "survey", "cmd": "run_sequence",
               "kwargs": {"sequence": sequence, "injection_duration": 0.1}})
        .to_string(),
    );
    c.wait_for("first record", Duration::from_secs(20), |m| {
        m.topic == format!("{P}/data")
    });
    let rss_start = rss_kib(pid);

    let templates = templates();
    let mut tracked: HashSet<String> = ["survey", "cleanup"].map(String::from).into();
    let mut expected: Vec<Expect> = Vec::new();
    let mut rss_small = 0;
    for i in 0..small + large_n {
        if i == small {
            rss_small = rss_kib(pid);
        }
        let id = format!("fz{i:05}x");
        let payload = loop {
            let bytes = if i < small {
                let mut m = match rng.pick(&templates).clone() {
                    Value::Object(m) => m,
                    _ => unreachable!(),
                };
                m.insert("cmd_id".into(), json!(id));
                for _ in 0..=rng.below(3) {
                    mutate(&mut rng, &mut m);
                }
                let mut bytes = Value::Object(m).to_string().into_bytes();
                damage(&mut rng, &mut bytes);
                bytes
            } else {
                large(&mut rng, &id)
            };
            if stops_the_survey(&bytes) {
                continue;
            }
            if let Some(e) = expect(&bytes, &id) {
                expected.push(e);
                break bytes;
            }
        };
        c.publish(&control, payload);
    }
    for e in &expected {
        if let Expect::Id(id) = e {
            tracked.insert(id.clone());
        }
    }
    let with_id = expected.iter().filter(|e| **e != Expect::Other).count();
    let without = expected.len() - with_id;
    eprintln!(
        "{} messages sent: {with_id} with their cmd_id, {without} without a readable one",
        expected.len()
    );

    // Every message answered with a final status: wait for them (bounded).
    let mut replies = Replies::default();
    let deadline = Instant::now() + Duration::from_secs(120);
    let answered = |r: &Replies| {
        expected.iter().all(|e| match e {
            Expect::Id(id) => r.by_id.get(id).is_some_and(|s| Replies::finals(s) > 0),
            Expect::Other => true,
        }) && r.other_finals() >= without
    };
    while !answered(&replies) && Instant::now() < deadline {
        c.drain(Duration::from_millis(200));
        replies.scan(&c, &tracked);
    }
    let rss_answered = rss_kib(pid);

    // The survey completes with all its records.
    c.wait_for("survey done", Duration::from_secs(120), |m| {
        m.topic.starts_with(&format!("{P}/control/response/"))
            && m.json()["cmd_id"] == "survey"
            && m.json()["status"] == "done"
    });
    // A mutated command may have started a run of its own once the survey ended: stop it, so
    // that it is answered too.
    c.publish(
        &control,
        json!({"cmd_id": "cleanup", "cmd": "interrupt"}).to_string(),
    );
    c.drain(Duration::from_secs(2));
    replies.scan(&c, &tracked);
    let rss_end = rss_kib(pid);

    let missing: Vec<&String> = expected
        .iter()
        .filter_map(|e| match e {
            Expect::Id(id) => Some(id),
            Expect::Other => None,
        })
        .filter(|id| {
            replies
                .by_id
                .get(*id)
                .is_none_or(|s| Replies::finals(s) == 0)
        })
        .collect();
    if !missing.is_empty() {
        let log = daemon.log();
        let notable: Vec<&str> = log
            .lines()
            .filter(|l| !l.contains("INFO") && !l.contains("command refused"))
            .take(40)
            .collect();
        eprintln!("daemon log (warnings and errors):\n{}", notable.join("\n"));
    }
    assert!(
        missing.is_empty(),
        "{} of {with_id} messages unanswered, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    for (id, statuses) in &replies.by_id {
        assert_eq!(
            Replies::finals(statuses),
            1,
            "{id}: one final reply, got {statuses:?}"
        );
        assert!(
            statuses.last().is_some_and(|s| s != "accepted"),
            "{id}: accepted, then nothing: {statuses:?}"
        );
    }
    assert_eq!(
        replies.other_finals(),
        without,
        "replies under generated or mutated ids"
    );
    // Generated ids are unique: each accepted one ends.
    let mut open: HashMap<&str, usize> = HashMap::new();
    for (id, status) in &replies.other {
        let n = open.entry(id.as_str()).or_default();
        if status == "accepted" {
            *n += 1;
        } else {
            *n = n.saturating_sub(1);
        }
    }
    assert!(open.values().all(|n| *n == 0), "accepted without an end");

    let records: Vec<u64> = c
        .on(&format!("{P}/data"))
        .iter()
        .map(|m| m.json())
        .filter(|r| r["cmd_id"] == "survey")
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(records.len(), sequence.len(), "every record of the survey");
    for w in records.windows(2) {
        assert_eq!(w[1], w[0] + 1, "seq continuous");
    }

    let mib = |kib: u64| kib as f64 / 1024.0;
    eprintln!(
        "daemon RSS: {:.1} MiB at the start, {:.1} MiB after {small} small messages, \
         {:.1} MiB once {large_n} large ones were answered, {:.1} MiB at the end",
        mib(rss_start),
        mib(rss_small),
        mib(rss_answered),
        mib(rss_end)
    );
    // Large messages leave their parse trees' pages behind in the allocator unless they are
    // given back (about 9 MiB here without it, 3 to 4 MiB with it).
    assert!(
        rss_end < rss_start + 6 * 1024,
        "RSS grew from {:.1} MiB to {:.1} MiB",
        mib(rss_start),
        mib(rss_end)
    );
    // Still alive and obeying.
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the daemon is running"
    );
}
