//! `ohmpi.example.toml` documents every configuration key with its default value. These tests keep
//! it honest: the documented values are the defaults of the code, every commented-out key is
//! valid when uncommented, every section refuses unknown keys, and every key the code accepts is
//! documented.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ohmpi::config::{Config, ConfigError, ElectrodeLayout};

const EXAMPLE_FILE: &str = "ohmpi.example.toml";

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLE_FILE)
}

fn example_text() -> String {
    std::fs::read_to_string(example_path()).expect("read ohmpi.example.toml")
}

/// Loads `text` as if read from the example's path, with `--set` overrides.
fn load(text: &str, sets: &[&str]) -> Result<Config, ConfigError> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    Config::from_text(text, Some(example_path()), &sets)
}

/// A configuration with its origin forgotten, to compare contents only.
fn without_source(mut config: Config) -> Config {
    config.source = None;
    config
}

fn defaults(sets: &[&str]) -> Config {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    without_source(Config::from_text("", None, &sets).expect("the empty configuration loads"))
}

/// What one line of the example is.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// `[section]`
    Section(String),
    /// `key = value`
    Key(String),
    /// `# key = value`: a key shown commented out.
    CommentedKey(String),
    /// Any other comment.
    Comment,
    Blank,
}

#[derive(Debug, Clone)]
struct Line {
    number: usize,
    text: String,
    /// The section the line is in (`None` before the first one).
    section: Option<String>,
    kind: Kind,
}

/// `key = …` with a key of lower-case letters, digits and `_`, starting with a letter.
fn key_at_start(s: &str) -> Option<String> {
    let end = s
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        .unwrap_or(s.len());
    let key = &s[..end];
    let starts_with_letter = key.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    (starts_with_letter && s[end..].starts_with(" = ")).then(|| key.to_string())
}

fn parse_example(text: &str) -> Vec<Line> {
    let mut section = None;
    text.lines()
        .enumerate()
        .map(|(i, raw)| {
            let trimmed = raw.trim();
            let kind =
                if trimmed.is_empty() {
                    Kind::Blank
                } else if let Some(name) = trimmed.strip_prefix('[') {
                    let name = name.trim_end_matches(']').to_string();
                    section = Some(name.clone());
                    Kind::Section(name)
                } else if let Some(rest) = raw.strip_prefix('#') {
                    let rest = rest.strip_prefix(' ').unwrap_or(rest);
                    match key_at_start(rest) {
                        Some(key) if section.is_some() => Kind::CommentedKey(key),
                        _ => Kind::Comment,
                    }
                } else {
                    Kind::Key(key_at_start(raw).unwrap_or_else(|| {
                        panic!("{EXAMPLE_FILE}:{}: not a key line: {raw:?}", i + 1)
                    }))
                };
            Line {
                number: i + 1,
                text: raw.to_string(),
                section: section.clone(),
                kind,
            }
        })
        .collect()
}

fn sections(lines: &[Line]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| match &l.kind {
            Kind::Section(name) => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// Keys written in `section`, active or commented out.
fn keys_in(lines: &[Line], section: &str) -> BTreeSet<String> {
    lines
        .iter()
        .filter(|l| l.section.as_deref() == Some(section))
        .filter_map(|l| match &l.kind {
            Kind::Key(k) | Kind::CommentedKey(k) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

/// The comment lines directly above line `index` (its documentation), top first.
fn doc_above(lines: &[Line], index: usize) -> Vec<&str> {
    let mut doc: Vec<&str> = lines[..index]
        .iter()
        .rev()
        .take_while(|l| l.kind == Kind::Comment)
        .map(|l| l.text.as_str())
        .collect();
    doc.reverse();
    doc
}

/// The example with line `index` uncommented, replacing any active line of the same key in the
/// same section (so the table form of `contact_ohm` replaces the single value) and, for
/// `electrodes_file`, without `elec_spacing`: the example says to give one or the other, and the
/// code refuses both (checked in `electrode_layout_keys_exclude_each_other`). Keys that go
/// together (`[web]` tls_cert and tls_key) are uncommented together.
fn with_uncommented(lines: &[Line], index: usize) -> String {
    let target = &lines[index];
    let Kind::CommentedKey(key) = &target.kind else {
        unreachable!()
    };
    let mut replaced: BTreeSet<&str> = BTreeSet::from([key.as_str()]);
    if key == "electrodes_file" {
        replaced.insert("elec_spacing");
    }
    let partner = match (target.section.as_deref(), key.as_str()) {
        (Some("web"), "tls_cert") => Some("tls_key"),
        (Some("web"), "tls_key") => Some("tls_cert"),
        _ => None,
    };
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let is_partner = line.section == target.section
            && matches!((&line.kind, partner), (Kind::CommentedKey(k), Some(p)) if k == p);
        if i == index || is_partner {
            let uncommented = line.text.strip_prefix('#').unwrap();
            out.push_str(uncommented.strip_prefix(' ').unwrap_or(uncommented));
        } else if line.section == target.section
            && matches!(&line.kind, Kind::Key(k) if replaced.contains(k.as_str()))
        {
            continue;
        } else {
            out.push_str(&line.text);
        }
        out.push('\n');
    }
    out
}

/// The example with the active line of `section.key` replaced by `key = value`.
fn with_value(text: &str, section: &str, key: &str, value: &str) -> String {
    let lines = parse_example(text);
    let mut found = false;
    let mut out = String::new();
    for line in &lines {
        if line.section.as_deref() == Some(section) && line.kind == Kind::Key(key.into()) {
            out.push_str(&format!("{key} = {value}"));
            found = true;
        } else {
            out.push_str(&line.text);
        }
        out.push('\n');
    }
    assert!(found, "no active {section}.{key} in {EXAMPLE_FILE}");
    out
}

/// The example's value of `section.key` (active line, or the first commented-out one).
fn example_value(lines: &[Line], section: &str, key: &str) -> toml::Value {
    let line = lines
        .iter()
        .find(|l| {
            l.section.as_deref() == Some(section)
                && matches!(&l.kind, Kind::Key(k) | Kind::CommentedKey(k) if k == key)
        })
        .unwrap_or_else(|| panic!("{section}.{key} is not in {EXAMPLE_FILE}"));
    let text = line.text.trim_start_matches('#').trim();
    let mut table: toml::Table = toml::from_str(text).unwrap();
    table.remove(key).unwrap()
}

fn same_value(a: &toml::Value, b: &toml::Value) -> bool {
    let number = |v: &toml::Value| match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    };
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[test]
fn example_values_are_the_defaults() {
    let text = example_text();
    let example = load(&text, &[]).unwrap_or_else(|e| panic!("{EXAMPLE_FILE}: {e}"));
    assert_eq!(example.source, Some(example_path()));
    assert_eq!(without_source(example), defaults(&[]));
}

#[test]
fn two_layer_values_are_the_defaults() {
    // rho2 and thickness only matter for a two-layer ground, so the comparison above cannot see
    // them drift: compare again with the two-layer model chosen on both sides.
    let text = with_value(&example_text(), "sim", "model", "\"two_layer\"");
    let example = load(&text, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(without_source(example), defaults(&["sim.model=two_layer"]));
}

#[test]
fn documented_default_matches_each_value() {
    let lines = parse_example(&example_text());
    let mut checked = 0;
    for (i, line) in lines.iter().enumerate() {
        let (key, active) = match &line.kind {
            Kind::Key(k) => (k, true),
            Kind::CommentedKey(k) => (k, false),
            _ => continue,
        };
        let section = line.section.as_deref().unwrap();
        let doc = doc_above(&lines, i);
        let previous = i.checked_sub(1).map(|p| &lines[p].kind);
        if !active && previous == Some(&Kind::Key(key.clone())) {
            // Another way of writing the key on the line above, documented with it.
            continue;
        }
        assert!(
            !doc.is_empty(),
            "{EXAMPLE_FILE}:{}: {section}.{key} has no comment above it",
            line.number
        );
        let doc = doc.join("\n");
        let Some(at) = doc.find("Default: ") else {
            assert!(
                !active && doc.contains("No default"),
                "{EXAMPLE_FILE}:{}: the comment of {section}.{key} gives no default",
                line.number
            );
            continue;
        };
        if !active {
            // A commented-out key with a default that depends on the machine
            // (hardware.simulate): nothing to compare with.
            continue;
        }
        let token = doc[at + "Default: ".len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches(['.', ',']);
        let documented: toml::Table = toml::from_str(&format!("v = {token}")).unwrap_or_else(|e| {
            panic!("{EXAMPLE_FILE}: default {token:?} of {section}.{key} is not a value: {e}")
        });
        let value = example_value(&lines, section, key);
        assert!(
            same_value(&documented["v"], &value),
            "{EXAMPLE_FILE}:{}: {section}.{key} = {value} but its comment says Default: {token}",
            line.number
        );
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} documented defaults found");
}

#[test]
fn every_commented_out_key_loads_when_uncommented() {
    let lines = parse_example(&example_text());
    let mut found = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        let Kind::CommentedKey(key) = &line.kind else {
            continue;
        };
        let section = line.section.clone().unwrap();
        let text = with_uncommented(&lines, i);
        if let Err(e) = load(&text, &[]) {
            panic!(
                "{EXAMPLE_FILE}:{}: uncommenting {:?} gives: {e}",
                line.number, line.text
            );
        }
        found.insert(format!("{section}.{key}"));
    }
    // The scan must find at least the keys known to have no default.
    for key in [
        "hardware.simulate",
        "hardware.presets_dir",
        "acquisition.electrodes_file",
        "acquisition.sequence",
        "sim.contact_ohm",
    ] {
        assert!(
            found.contains(key),
            "{key} not found commented out: {found:?}"
        );
    }
}

#[test]
fn uncommented_values_take_effect() {
    let lines = parse_example(&example_text());
    let uncomment = |section: &str, key: &str| {
        let i = lines
            .iter()
            .position(|l| {
                l.section.as_deref() == Some(section) && l.kind == Kind::CommentedKey(key.into())
            })
            .unwrap();
        load(&with_uncommented(&lines, i), &[]).unwrap()
    };
    let c = uncomment("sim", "contact_ohm");
    assert_eq!(c.sim.contact_of(5), 20000.0);
    assert_eq!(c.sim.contact_of(12), 50000.0);
    assert_eq!(c.sim.contact_of(1), 1000.0);
    let c = uncomment("acquisition", "electrodes_file");
    assert_eq!(
        c.acquisition.layout,
        ElectrodeLayout::File("electrodes.csv".into())
    );
    let c = uncomment("acquisition", "sequence");
    assert_eq!(
        c.acquisition.sequence,
        Some("sequences/wenner_32.txt".into())
    );
    let c = uncomment("hardware", "presets_dir");
    assert_eq!(
        c.hardware.presets_dirs[0],
        PathBuf::from("/opt/ohmpi/hardware")
    );
    assert!(uncomment("hardware", "simulate").hardware.simulate);
}

#[test]
fn aliases_named_in_the_comments_are_accepted() {
    let text = example_text();
    assert!(text.contains("\"n_stacks\""));
    let renamed = text.replace("\nnb_stack = ", "\nn_stacks = ");
    assert_ne!(renamed, text);
    let c = load(&renamed, &[]).unwrap();
    assert_eq!(without_source(c), defaults(&[]));

    assert!(text.contains("\"constant\" is accepted for \"fixed\""));
    let constant = with_value(&text, "acquisition", "strategy", "\"constant\"");
    let fixed = with_value(&text, "acquisition", "strategy", "\"fixed\"");
    assert_eq!(
        without_source(load(&constant, &[]).unwrap()),
        without_source(load(&fixed, &[]).unwrap())
    );
}

#[test]
fn electrode_layout_keys_exclude_each_other() {
    let text = example_text();
    let lines = parse_example(&text);
    let i = lines
        .iter()
        .position(|l| l.kind == Kind::CommentedKey("electrodes_file".into()))
        .unwrap();
    // Uncommented while elec_spacing stays: refused, as the example says.
    let mut both = String::new();
    for (j, line) in lines.iter().enumerate() {
        both.push_str(if j == i {
            line.text.trim_start_matches("# ")
        } else {
            &line.text
        });
        both.push('\n');
    }
    let e = load(&both, &[]).unwrap_err().to_string();
    assert!(
        e.contains("elec_spacing") && e.contains("electrodes_file"),
        "{e}"
    );
}

#[test]
fn positions_file_in_the_documented_format_gives_the_geometry() {
    // The configuration only records the path; the file is read when the instrument is
    // assembled. Write one in the format the example describes and read it as ohmpi does.
    let lines = parse_example(&example_text());
    let i = lines
        .iter()
        .position(|l| l.kind == Kind::CommentedKey("electrodes_file".into()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("electrodes.csv");
    let mut positions = String::from("# electrode positions\nx,y,z\n");
    for e in 0..32 {
        positions.push_str(&format!("{}, 0, {}\n", 0.5 * f64::from(e), -0.1));
    }
    std::fs::write(&path, positions).unwrap();
    let set = format!("acquisition.electrodes_file={}", path.display());
    let config = load(&with_uncommented(&lines, i), &[&set]).unwrap();
    let preset = ohmpi::instrument::preset_for(&config).unwrap();
    let geometry = ohmpi::instrument::geometry_for(&config, &preset).unwrap();
    assert_eq!(geometry.nelec(), 32);
    assert_eq!(geometry.position(3), Some([1.0, 0.0, -0.1]));
}

#[test]
fn example_sequence_is_a_shipped_file_that_fits_the_default_system() {
    let lines = parse_example(&example_text());
    let value = example_value(&lines, "acquisition", "sequence");
    let relative = value.as_str().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    let sequence = ohmpi::survey::Sequence::read_file(&path).unwrap();
    assert!(!sequence.is_empty());
    let config = defaults(&[]);
    let preset = ohmpi::instrument::preset_for(&config).unwrap();
    ohmpi::instrument::check_sequence(&sequence, &preset, relative).unwrap();
}

#[test]
fn built_in_presets_are_all_named() {
    let text = example_text();
    for (name, _) in ohmpi::hardware::preset::BUILTIN {
        assert!(
            text.contains(&format!("\"{name}\"")),
            "{EXAMPLE_FILE} does not name the built-in preset {name}"
        );
    }
}

/// Names inside backquotes in `message` (serde lists the accepted keys so).
fn quoted_names(message: &str) -> BTreeSet<String> {
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The keys the code accepts in `section`, as its refusal of an unknown key lists them (with
/// the acquisition settings and their other names).
fn accepted_keys(text: &str, section: &str) -> BTreeSet<String> {
    let header = format!("[{section}]\n");
    assert!(text.contains(&header));
    let bad = text.replacen(&header, &format!("{header}bogus_key = 1\n"), 1);
    let e = load(&bad, &[])
        .expect_err("an unknown key must be refused")
        .to_string();
    assert!(e.contains("bogus_key"), "[{section}]: {e}");
    assert!(e.contains(EXAMPLE_FILE), "[{section}]: {e}");
    let mut accepted = quoted_names(&e);
    accepted.remove("bogus_key");
    if section == "acquisition" {
        accepted.extend(
            ohmpi::acquisition::settings::SETTING_NAMES
                .iter()
                .map(|s| s.to_string()),
        );
        if let Some((_, also)) = e.rsplit_once("also ") {
            let list = also.split(')').next().unwrap_or_default();
            accepted.extend(list.split(", ").map(|s| s.trim().to_string()));
        }
    }
    assert!(
        !accepted.is_empty(),
        "[{section}]: the error no longer lists the accepted keys: {e}"
    );
    accepted
}

/// docs/configuration.md: `## [section]` headings, then table rows starting with `| \`key\``.
fn reference_keys() -> Vec<(String, BTreeSet<String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md");
    let text = std::fs::read_to_string(path).unwrap();
    let mut out: Vec<(String, BTreeSet<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("## [").and_then(|r| r.strip_suffix(']')) {
            out.push((name.to_string(), BTreeSet::new()));
        } else if let Some(rest) = line.strip_prefix("| `") {
            let key = rest.split('`').next().unwrap().to_string();
            out.last_mut()
                .expect("a key row before any section")
                .1
                .insert(key);
        }
    }
    out
}

#[test]
fn the_configuration_reference_matches_the_code_both_ways() {
    let text = example_text();
    let lines = parse_example(&text);
    let reference = reference_keys();
    let names: Vec<&str> = reference.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, sections(&lines), "docs/configuration.md sections");
    for (section, keys) in &reference {
        let accepted = accepted_keys(&text, section);
        for key in keys {
            assert!(
                accepted.contains(key),
                "docs/configuration.md documents {section}.{key}, which the code refuses"
            );
        }
        let comments: String = lines
            .iter()
            .filter(|l| l.section.as_deref() == Some(section.as_str()) && l.kind == Kind::Comment)
            .map(|l| l.text.as_str())
            .collect();
        for key in &accepted {
            // Another name of a key is documented with the key (as in the example).
            let alias =
                comments.contains(&format!("\"{key}\"")) && !keys_in(&lines, section).contains(key);
            assert!(
                keys.contains(key) || alias,
                "[{section}] accepts {key}, which docs/configuration.md does not document"
            );
        }
    }
}

#[test]
fn every_section_refuses_unknown_keys_and_documents_the_known_ones() {
    let text = example_text();
    let lines = parse_example(&text);
    let names = sections(&lines);
    assert_eq!(
        names,
        [
            "instrument",
            "hardware",
            "acquisition",
            "sim",
            "mqtt",
            "control",
            "web"
        ]
    );
    for section in &names {
        // Each key the code accepts must be documented in the example, as a key or, for another
        // name of a key, quoted in the section's comments.
        let accepted = accepted_keys(&text, section);
        let keys = keys_in(&lines, section);
        let comments: String = lines
            .iter()
            .filter(|l| l.section.as_deref() == Some(section.as_str()) && l.kind == Kind::Comment)
            .map(|l| l.text.as_str())
            .collect();
        for name in &accepted {
            assert!(
                keys.contains(name) || comments.contains(&format!("\"{name}\"")),
                "[{section}] accepts {name}, which {EXAMPLE_FILE} does not document"
            );
        }
    }
    let bad = format!("{text}\n[bogus_section]\nx = 1\n");
    let e = load(&bad, &[]).unwrap_err().to_string();
    assert!(e.contains("bogus_section"), "{e}");
}
