//! The Debian package, as far as it can be checked without building it (scripts/build-deb builds
//! it): the files `[package.metadata.deb]` names exist, the configuration it installs as
//! /etc/ohmpi/ohmpi.toml is valid and drives the real boards, and the maintainer scripts parse.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use ohmpi::config::Config;
use ohmpi::hardware::Preset;

const PACKAGED_CONFIG: &str = "packaging/ohmpi.toml";
const EXAMPLE_CONFIG: &str = "ohmpi.example.toml";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn manifest() -> toml::Table {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

/// `[package.metadata.deb]`
fn deb() -> toml::Table {
    manifest()["package"]["metadata"]["deb"]
        .as_table()
        .expect("[package.metadata.deb] in Cargo.toml")
        .clone()
}

/// One asset: where it comes from, where it goes (relative to /), its mode.
#[derive(Debug)]
struct Asset {
    source: String,
    dest: String,
    mode: String,
}

fn assets() -> Vec<Asset> {
    deb()["assets"]
        .as_array()
        .expect("assets is a list")
        .iter()
        .map(|entry| {
            let fields: Vec<&str> = entry
                .as_array()
                .expect("each asset is [source, dest, mode]")
                .iter()
                .map(|v| v.as_str().expect("asset fields are strings"))
                .collect();
            assert_eq!(fields.len(), 3, "asset {fields:?}: [source, dest, mode]");
            Asset {
                source: fields[0].to_string(),
                dest: fields[1].to_string(),
                mode: fields[2].to_string(),
            }
        })
        .collect()
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Matches a file name against a pattern with `*` (any run of characters) only.
fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, rest)) => {
            let Some(tail) = name.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|&i| tail.is_char_boundary(i))
                .any(|i| name_matches(rest, &tail[i..]))
        }
    }
}

/// The files of the repository an asset source names (a `*` only in the file-name part).
fn expand(source: &str) -> Vec<PathBuf> {
    let path = root().join(source);
    if !is_glob(source) {
        return vec![path];
    }
    let (dir, pattern) = source.rsplit_once('/').unwrap_or((".", source));
    assert!(
        !is_glob(dir) && !pattern.contains(['?', '[']),
        "{source}: only `*` in the file name is supported here"
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{source}: {dir}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.is_file())
        .filter(|p| name_matches(pattern, &p.file_name().unwrap().to_string_lossy()))
        .collect();
    files.sort();
    files
}

/// Where an asset's files land in the package (absolute paths).
fn installed_paths(asset: &Asset) -> Vec<PathBuf> {
    let dest = Path::new("/").join(&asset.dest);
    if asset.dest.ends_with('/') {
        let names: Vec<_> = if let Some(bin) = asset.source.strip_prefix("target/release/") {
            vec![PathBuf::from(bin)]
        } else {
            expand(&asset.source)
                .iter()
                .map(|p| PathBuf::from(p.file_name().unwrap()))
                .collect()
        };
        names.iter().map(|n| dest.join(n)).collect()
    } else {
        vec![dest]
    }
}

#[test]
fn every_asset_names_files_that_exist() {
    let bins: BTreeSet<String> = manifest()["bin"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect();
    let assets = assets();
    assert!(!assets.is_empty());
    for asset in &assets {
        assert!(
            !asset.dest.starts_with('/'),
            "{asset:?}: cargo-deb wants destinations relative to /"
        );
        assert!(
            u32::from_str_radix(&asset.mode, 8).is_ok_and(|m| m <= 0o777),
            "{asset:?}: the mode is an octal string"
        );
        if let Some(bin) = asset.source.strip_prefix("target/release/") {
            // Built by cargo-deb (target/release/ stands for the real target folder).
            assert!(bins.contains(bin), "{asset:?}: no [[bin]] named {bin}");
            continue;
        }
        let files = expand(&asset.source);
        assert!(!files.is_empty(), "{asset:?}: the pattern matches no file");
        for file in &files {
            assert!(file.is_file(), "{asset:?}: {} is missing", file.display());
        }
        if is_glob(&asset.source) {
            assert!(
                asset.dest.ends_with('/'),
                "{asset:?}: several files go to a folder (a destination ending in /)"
            );
        }
    }
    // The binary is there, and what the unit starts.
    let installed: Vec<PathBuf> = assets.iter().flat_map(installed_paths).collect();
    assert!(installed.contains(&PathBuf::from("/usr/bin/ohmpi")));
    let unit = std::fs::read_to_string(root().join("systemd/ohmpi.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/ohmpi run --config /etc/ohmpi/ohmpi.toml"));
    // No two assets install the same file.
    let unique: BTreeSet<&PathBuf> = installed.iter().collect();
    assert_eq!(unique.len(), installed.len(), "{installed:?}");
}

#[test]
fn conf_files_are_installed_and_the_config_is_one_of_them() {
    let installed: Vec<PathBuf> = assets().iter().flat_map(installed_paths).collect();
    let conf_files: Vec<String> = deb()["conf-files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(conf_files.iter().any(|c| c == "/etc/ohmpi/ohmpi.toml"));
    for conf in &conf_files {
        assert!(
            installed.contains(&PathBuf::from(conf)),
            "conf-file {conf} is not installed by any asset"
        );
    }
    let config_asset = assets()
        .into_iter()
        .find(|a| a.dest == "etc/ohmpi/ohmpi.toml")
        .expect("an asset installs /etc/ohmpi/ohmpi.toml");
    assert_eq!(config_asset.source, PACKAGED_CONFIG);
}

#[test]
fn the_unit_is_found_where_cargo_deb_looks_and_enabled() {
    let deb = deb();
    let units = deb["systemd-units"].as_table().expect("systemd-units");
    let dir = units["unit-scripts"].as_str().unwrap();
    // cargo-deb installs <package name>.service from that folder.
    assert!(root().join(dir).join("ohmpi.service").is_file());
    assert_eq!(units["enable"].as_bool(), Some(true));
    // The unit is not an asset as well (cargo-deb adds it itself).
    assert!(assets().iter().all(|a| !a.source.ends_with(".service")));
}

#[test]
fn maintainer_scripts_parse_and_carry_the_debhelper_token() {
    let deb = deb();
    let dir = root().join(deb["maintainer-scripts"].as_str().unwrap());
    let depends = deb["depends"].as_str().unwrap();
    for name in ["postinst", "postrm"] {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.starts_with("#!/bin/sh\n"), "{name}: a POSIX sh script");
        assert_eq!(
            text.lines().filter(|l| l.trim() == "#DEBHELPER#").count(),
            1,
            "{name}: one #DEBHELPER# line, where cargo-deb puts the systemd snippets"
        );
        let status = Command::new("sh").arg("-n").arg(&path).status().unwrap();
        assert!(status.success(), "sh -n {name}");
        if text.contains("adduser") {
            assert!(depends.contains("adduser"), "{name} uses adduser");
        }
    }
    for script in ["scripts/build-deb", "scripts/pi-setup"] {
        let status = Command::new("bash")
            .arg("-n")
            .arg(root().join(script))
            .status()
            .unwrap();
        assert!(status.success(), "bash -n {script}");
    }
}

fn load(path: &str, sets: &[&str]) -> Config {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let mut config = Config::from_text(&text, Some(root().join(path)), &sets)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    config.source = None;
    config
}

#[test]
fn the_packaged_configuration_drives_the_real_boards_with_absolute_paths() {
    let config = load(PACKAGED_CONFIG, &[]);
    assert!(!config.hardware.simulate);
    assert_eq!(config.instrument.data_dir, Path::new("/var/lib/ohmpi/data"));
    assert_eq!(
        config.control.sequences_dir,
        Path::new("/usr/share/ohmpi/sequences")
    );
    // The preset it names loads from the folder the package installs the presets in...
    let presets_dest = assets()
        .into_iter()
        .find(|a| a.source == "hardware/*.toml")
        .expect("an asset installs the presets")
        .dest;
    let presets_dir = Path::new("/").join(presets_dest.trim_end_matches('/'));
    assert!(
        config.hardware.presets_dirs.contains(&presets_dir),
        "{} is not searched for presets: {:?}",
        presets_dir.display(),
        config.hardware.presets_dirs
    );
    let preset = Preset::load(&config.hardware.system, &[root().join("hardware")]).unwrap();
    assert_eq!(preset.name, config.hardware.system);
    assert!(root()
        .join("hardware")
        .join(format!("{}.toml", config.hardware.system))
        .is_file());
    // ... and the sequences go where sequences_dir points.
    let sequences = assets()
        .into_iter()
        .find(|a| a.source == "sequences/*.txt")
        .expect("an asset installs the sequences");
    assert_eq!(
        Path::new("/").join(sequences.dest.trim_end_matches('/')),
        config.control.sequences_dir
    );
}

#[test]
fn the_packaged_configuration_is_the_example_with_the_pi_values() {
    let packaged = load(PACKAGED_CONFIG, &[]);
    let example = load(
        EXAMPLE_CONFIG,
        &[
            "instrument.data_dir=/var/lib/ohmpi/data",
            "hardware.simulate=false",
            "control.sequences_dir=/usr/share/ohmpi/sequences",
            "web.listen=\"0.0.0.0:8080\"",
        ],
    );
    assert_eq!(packaged, example);
}

/// `(section, key)` of every key line, set or shown commented out.
fn documented_keys(path: &str) -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let mut section = String::new();
    let mut keys = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let line = line.strip_prefix("# ").unwrap_or(line);
        if let Some((key, _)) = line.split_once(" = ") {
            if !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                keys.insert((section.clone(), key.to_string()));
            }
        }
    }
    keys
}

#[test]
fn the_packaged_configuration_documents_every_key_of_the_example() {
    let example = documented_keys(EXAMPLE_CONFIG);
    let packaged = documented_keys(PACKAGED_CONFIG);
    assert!(example.len() > 50, "{example:?}");
    assert_eq!(packaged, example);
}
