//! The `ohmpi` binary: surveys, files, crash safety, bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ohmpi::storage::read_survey;

fn ohmpi(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ohmpi"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ohmpi")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const VIRTUAL: [&str; 4] = ["--set", "sim.clock=virtual", "--set", "sim.noise=false"];

fn survey(dir: &Path, extra: &[&str]) -> PathBuf {
    let mut args = vec!["survey"];
    args.extend_from_slice(&VIRTUAL);
    args.extend_from_slice(extra);
    let o = ohmpi(dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let last = stdout(&o).lines().last().expect("a path").to_string();
    dir.join(last)
}

#[test]
fn survey_writes_a_csv_and_prints_its_path_last() {
    let dir = tempfile::tempdir().unwrap();
    let path = survey(dir.path(), &[]);
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with("measurements_") && name.ends_with(".csv"),
        "{name}"
    );
    let table = read_survey(&path).unwrap();
    assert_eq!(
        table.rows.len(),
        29,
        "built-in Wenner a = 1 on 32 electrodes"
    );
    assert!(!table.partial_tail);
    for (i, row) in table.rows.iter().enumerate() {
        assert_eq!(row.number("seq"), Some(i as f64 + 1.0));
        let rhoa = row.number("rhoa_[Ohm.m]").unwrap();
        assert!((rhoa - 100.0).abs() < 0.1);
        assert_eq!(row.get("quality"), Some("simulated"));
        // ResIPy's OhmPi reader needs these columns.
        for c in ["vmn_[mV]", "iab_[mA]", "r_[Ohm]", "r_std_[%]", "rab_[kOhm]"] {
            assert!(row.number(c).is_some(), "{c}");
        }
    }
}

#[test]
fn full_waveform_and_contact_files() {
    let dir = tempfile::tempdir().unwrap();
    let seq = dir.path().join("two.txt");
    std::fs::write(&seq, "# two quadrupoles\n1 4 2 3\n2 5 3 4\n").unwrap();
    let path = survey(
        dir.path(),
        &[
            "--sequence",
            seq.to_str().unwrap(),
            "--set",
            "acquisition.full_waveform=true",
        ],
    );
    let fw = PathBuf::from(path.to_str().unwrap().replace(".csv", "_fw.csv"));
    let table = read_survey(&fw).unwrap();
    assert!(table.rows.len() > 100);
    // Time in seconds with decimals, increasing within a quadrupole.
    let times: Vec<f64> = table
        .rows
        .iter()
        .map(|r| r.number("time").unwrap())
        .collect();
    assert!(times.iter().any(|t| t.fract() != 0.0));
    assert!(times.windows(2).filter(|w| w[1] < w[0]).count() <= 2);

    let mut args = vec!["rs-check"];
    args.extend_from_slice(&VIRTUAL);
    args.extend_from_slice(&["--set", "sim.dead_electrodes=[7]"]);
    let o = ohmpi(dir.path(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let rs = dir.path().join(stdout(&o).lines().last().unwrap());
    assert!(rs.to_str().unwrap().ends_with("_rs.csv"));
    let table = read_survey(&rs).unwrap();
    assert_eq!(table.columns, ["A", "B", "RS [kOhm]"]);
    assert_eq!(table.rows.len(), 31);
    for row in &table.rows {
        let (a, b) = (row.electrode("A").unwrap(), row.electrode("B").unwrap());
        let rs = row.number("RS [kOhm]");
        if a == 7 || b == 7 {
            assert!(rs.is_none_or(|r| r > 1e5), "dead electrode {a} {b}: {rs:?}");
        } else {
            // Two 1 kOhm contacts plus the ground between them.
            let r = rs.unwrap();
            assert!((2.0..4.0).contains(&r), "{a} {b}: {r}");
        }
    }
}

#[test]
fn measure_prints_a_json_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["measure", "1", "4", "2", "3"];
    args.extend_from_slice(&VIRTUAL);
    let o = ohmpi(dir.path(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["a"], 1);
    assert_eq!(v["n"], 3);
    assert!((v["rhoa_ohmm"].as_f64().unwrap() - 100.0).abs() < 0.1);
    assert_eq!(v["quality"], serde_json::json!(["simulated"]));
    assert_eq!(v["seq"], 1);
    // The next record continues the numbering.
    let o = ohmpi(dir.path(), &args);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["seq"], 2);
    // Both records are on disk, not only printed.
    let single = read_survey(&dir.path().join("data/single_measurements.csv")).unwrap();
    let seqs: Vec<_> = single.rows.iter().map(|r| r.number("seq")).collect();
    assert_eq!(seqs, [Some(1.0), Some(2.0)]);
}

#[test]
fn sigkill_mid_survey_loses_no_completed_row_and_seq_continues() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ohmpi"))
        .current_dir(dir.path())
        .args([
            "survey",
            "--set",
            "hardware.system=mb_2024_1_X__4_mux_2024_batt",
            "--set",
            "acquisition.injection_duration=0.05",
            "--set",
            "acquisition.rt_priority=0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let data = dir.path().join("data");
    let deadline = Instant::now() + Duration::from_secs(30);
    let file = loop {
        assert!(Instant::now() < deadline, "no rows appeared");
        let found = std::fs::read_dir(&data).ok().and_then(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|x| x == "csv"))
        });
        if let Some(f) = found {
            let rows = std::fs::read_to_string(&f).unwrap().lines().count();
            if rows > 5 {
                break f;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.ends_with('\n'), "no partial row");
    let table = read_survey(&file).unwrap();
    let n = table.rows.len();
    assert!((5..29).contains(&n), "{n} rows");
    for (i, row) in table.rows.iter().enumerate() {
        assert_eq!(row.number("seq"), Some(i as f64 + 1.0));
        assert!(row.number("r_[Ohm]").is_some());
    }
    // The next survey continues the numbering.
    let next = survey(dir.path(), &[]);
    let table = read_survey(&next).unwrap();
    assert_eq!(table.rows[0].number("seq"), Some(n as f64 + 1.0));
}

fn fails_with(dir: &Path, args: &[&str], needles: &[&str]) {
    let o = ohmpi(dir, args);
    let err = stderr(&o);
    assert!(!o.status.success(), "{args:?} succeeded");
    for needle in needles {
        assert!(err.contains(needle), "{args:?}: {needle:?} not in {err}");
    }
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

#[test]
fn bad_input_gets_a_readable_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bad = d.join("bad.txt");
    std::fs::write(&bad, "1 2 3 4\n# fine\n5 5 6 7\n").unwrap();
    fails_with(
        d,
        &["sequence", "check", bad.to_str().unwrap()],
        &["bad.txt", "line 3", "A = B"],
    );
    std::fs::write(&bad, "1 2 3 4\n1 2 3\n").unwrap();
    fails_with(
        d,
        &["sequence", "check", bad.to_str().unwrap()],
        &["line 2", "3"],
    );
    std::fs::write(&bad, "1 2 3 4\n1 2 3 40\n").unwrap();
    fails_with(
        d,
        &["sequence", "check", bad.to_str().unwrap()],
        &["line 2", "40"],
    );
    fails_with(
        d,
        &["survey", "--sequence", bad.to_str().unwrap()],
        &["line 2", "40"],
    );
    fails_with(
        d,
        &["measure", "1", "2", "2", "3"],
        &["electrode 2", "potential"],
    );
    fails_with(
        d,
        &["survey", "--set", "acquisition.duty_cycle=3"],
        &["acquisition.duty_cycle", "between 0.01 and 1"],
    );
    fails_with(
        d,
        &["survey", "--set", "hardware.system=nope"],
        &["nope", "mb_2024_1_X__4_mux_2024_dph5005"],
    );
    fails_with(d, &["survey", "--set", "sim"], &["key=value"]);
    let cfg = d.join("ohmpi.toml");
    std::fs::write(&cfg, "[acquisition]\nnb_stack = \"two\"\n").unwrap();
    fails_with(
        d,
        &["--config", cfg.to_str().unwrap(), "survey"],
        &["ohmpi.toml", "nb_stack"],
    );
    std::fs::remove_file(&cfg).unwrap();
    fails_with(
        d,
        &["survey", "--set", "hardware.simulate=false"],
        &["not a Raspberry Pi", "hardware.simulate"],
    );
    // The kernel's I2C devices directly: this machine has no /dev/i2c-1, and the message says
    // how to enable it.
    fails_with(
        d,
        &[
            "survey",
            "--set",
            "hardware.simulate=false",
            "--set",
            "hardware.backend=\"linux\"",
        ],
        &["backend linux", "/dev/i2c-1", "i2c_arm=on"],
    );
    fails_with(
        d,
        &["survey", "--set", "hardware.backend=\"spi\""],
        &["hardware.backend", "rppal", "linux", "spi"],
    );
    fails_with(
        d,
        &["sequence", "generate", "--nelec", "32", "--array", "pole"],
        &["pole", "wenner"],
    );
    fails_with(
        d,
        &["export", "missing.csv", "--format", "protocol"],
        &["missing.csv"],
    );
}

#[test]
fn generate_check_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = ohmpi(
        d,
        &[
            "sequence", "generate", "--nelec", "32", "--array", "dpdp", "--n", "4", "-o", "dd.txt",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // dpdp a = 1, n = 1..4 on 32 electrodes: N = e + n + 2 <= 32, so 29 + 28 + 27 + 26.
    assert!(stderr(&o).contains("110 quadrupoles"), "{}", stderr(&o));
    let o = ohmpi(d, &["sequence", "check", "dd.txt"]);
    assert!(
        o.status.success() && stdout(&o).contains("110 quadrupoles"),
        "{}",
        stderr(&o)
    );

    let path = survey(d, &["--sequence", "dd.txt"]);
    for (format, first) in [("pygimli", "32"), ("protocol", "110")] {
        let out = d.join(format!("out.{format}"));
        let o = ohmpi(
            d,
            &[
                "export",
                path.to_str().unwrap(),
                "--format",
                format,
                "-o",
                out.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(text.lines().next(), Some(first), "{format}");
    }
    let protocol = std::fs::read_to_string(d.join("out.protocol")).unwrap();
    let survey = read_survey(&path).unwrap();
    // R is written signed, at full precision.
    for (line, row) in protocol.lines().skip(1).zip(&survey.rows) {
        let r: f64 = line.split_whitespace().last().unwrap().parse().unwrap();
        assert_eq!(r, row.number("r_[Ohm]").unwrap());
        assert!(r < 0.0, "dipole-dipole A B M N has negative R");
    }
}

#[test]
fn presets_lists_every_built_in_system() {
    let dir = tempfile::tempdir().unwrap();
    let o = ohmpi(dir.path(), &["presets"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    for (name, _) in ohmpi::hardware::preset::BUILTIN {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing from:\n{text}"));
        let nelec = ohmpi::hardware::Preset::load(name, &[]).unwrap().nelec();
        assert_eq!(
            line.split_whitespace().nth(1),
            Some(&*nelec.to_string()),
            "{line}"
        );
    }
}
