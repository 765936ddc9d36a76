//! The generator of mutated commands: a seeded RNG, one template of each command, structural
//! mutations (names, keys, value types, hostile addressing), byte damage and large messages.

use serde_json::{json, Map, Value};

/// SplitMix64: small, seeded, good enough to mutate messages.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One of each command, with plausible arguments (never `interrupt` nor `pause`, which would
/// legitimately stop or hold the survey under test).
pub fn templates() -> Vec<Value> {
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
pub fn mutate(rng: &mut Rng, m: &mut Map<String, Value>) {
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
pub fn damage(rng: &mut Rng, bytes: &mut Vec<u8>) {
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
pub fn large(rng: &mut Rng, id: &str) -> Vec<u8> {
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
