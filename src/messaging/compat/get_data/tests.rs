use std::io::Write;
use std::time::Duration;

use super::super::data_payload;
use super::super::tests::{page_parse, record, t0};
use super::*;
use crate::storage::{Store, SURVEY_COLUMNS, WAVEFORM_COLUMNS};

/// Two surveys a minute apart: 3 rows, then 2 rows and a partial line.
fn two_surveys(dir: &Path) -> (String, String) {
    let mut store = Store::open(dir).unwrap();
    let mut first = store.begin_survey(t0()).unwrap();
    first.append(&record(1, [1, 4, 2, 3], Some(3.405))).unwrap();
    first.append(&record(2, [2, 5, 3, 4], None)).unwrap();
    first
        .append(&record(3, [3, 6, 4, 5], Some(0.012346)))
        .unwrap();
    let mut second = store.begin_survey(t0() + Duration::from_secs(60)).unwrap();
    second.append(&record(4, [1, 4, 2, 3], Some(3.5))).unwrap();
    second.append(&record(5, [2, 5, 3, 4], Some(4.0))).unwrap();
    let (a, b) = (first.stem(), second.stem());
    let path = second.path().to_path_buf();
    second.finish().unwrap();
    let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(b"2026-11-22T21:14:07.000Z,3,6,4").unwrap();
    (a, b)
}

fn column_len(survey: &Value, key: &str) -> usize {
    survey[key].as_array().map_or(0, Vec::len)
}

#[test]
fn every_survey_with_equal_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = two_surveys(dir.path());
    assert_eq!(first, "measurements_20261122T211305");
    let reply = get_data_reply("c1", dir.path(), None, false).unwrap();
    assert_eq!(reply["cmd_id"], "c1");
    assert_eq!(reply["status"], STATUS_DATA_DONE);
    let data = reply["data"].as_object().unwrap();
    let names: Vec<&String> = data.keys().collect();
    assert_eq!(names, [&first, &second]);
    for (name, rows) in [(&first, 3), (&second, 2)] {
        for key in ["a", "b", "m", "n", "v", "i", "r", "dev"] {
            assert_eq!(column_len(&data[name], key), rows, "{name} {key}");
        }
    }
    let s = &data[&first];
    assert_eq!(s["a"], json!([1, 2, 3]));
    assert_eq!(s["n"], json!([3, 4, 5]));
    assert_eq!(s["r"], json!([3.405, null, 0.01235]));
    assert_eq!(s["dev"], json!([0.3, null, 0.3]));
    assert_eq!(s["i"][0], 12.1);
    // The page reads it back from the frame.
    assert_eq!(page_parse(&data_payload(t0(), 1, &reply)), reply);
}

#[test]
fn surveys_the_page_holds_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = two_surveys(dir.path());
    let held = [first.clone()];
    let reply = get_data_reply("c2", dir.path(), Some(&held), false).unwrap();
    let data = reply["data"].as_object().unwrap();
    assert_eq!(data.keys().collect::<Vec<_>>(), [&second]);
    let held = [format!("{first}.csv"), second];
    let reply = get_data_reply("c3", dir.path(), Some(&held), false).unwrap();
    assert_eq!(reply["data"], json!({}));
}

#[test]
fn only_surveys_with_readable_rows() {
    let dir = tempfile::tempdir().unwrap();
    let header = csv::join(SURVEY_COLUMNS);
    let blank = vec![""; SURVEY_COLUMNS.len()];
    let mut bad_electrode = blank.clone();
    bad_electrode[1..5].copy_from_slice(&["x", "2", "3", "4"]);
    let mut no_values = blank.clone();
    no_values[1..5].copy_from_slice(&["1", "2", "3", "4"]);
    let rows = [csv::join(bad_electrode), csv::join(no_values)];
    let files = [
        ("measurements_20260101T000000.csv", format!("{header}\n")),
        (
            "measurements_20260101T000001.csv",
            format!("{header}\n{}\n", rows.join("\n")),
        ),
        (
            "measurements_20260101T000002.csv",
            "a,b\n1,2,3\n".to_string(),
        ),
        ("measurements_20260101T000001_fw.csv", format!("{header}\n")),
        (
            "measurements_20260101T000001_rs.csv",
            "A,B,RS [kOhm]\n1,2,3\n".into(),
        ),
        (
            "single_measurements.csv",
            format!("{header}\n{}\n", rows[1]),
        ),
        ("notes.txt", "x".into()),
    ];
    for (name, text) in files {
        fs::write(dir.path().join(name), text).unwrap();
    }
    let reply = get_data_reply("c4", dir.path(), None, false).unwrap();
    assert_eq!(
        reply["data"],
        json!({"measurements_20260101T000001": {
            "a": [1], "b": [2], "m": [3], "n": [4],
            "v": [null], "i": [null], "r": [null], "dev": [null]
        }})
    );
    assert!(get_data_reply("c5", &dir.path().join("none"), None, false).is_err());
}

#[test]
fn survey_files_sort_by_time() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "T000001",
        "T000000_10",
        "T000000_2",
        "T000000",
        "T000000_fw",
    ] {
        fs::write(
            dir.path().join(format!("measurements_20260101{name}.csv")),
            "",
        )
        .unwrap();
    }
    let names: Vec<String> = survey_files(dir.path())
        .unwrap()
        .into_iter()
        .map(|f| {
            f.name
                .trim_start_matches("measurements_20260101")
                .to_string()
        })
        .collect();
    assert_eq!(names, ["T000000", "T000000_2", "T000000_10", "T000001"]);
}

fn write_waveforms(path: &Path, quads: &[[u16; 4]], samples: usize) {
    let mut text = csv::join(WAVEFORM_COLUMNS) + "\n";
    for (q, quad) in quads.iter().enumerate() {
        for s in 0..samples {
            let [a, b, m, n] = quad;
            let t = s as f64 * 0.001_163;
            text += &format!("{a},{b},{m},{n},{q},1,{t:.6},12.3456,-{s}.5,1\n");
        }
    }
    text += "1,4,2"; // partial line
    fs::write(path, text).unwrap();
}

#[test]
fn full_adds_waveforms() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = two_surveys(dir.path());
    let fw = dir.path().join(format!("{second}_fw.csv"));
    write_waveforms(&fw, &[[1, 4, 2, 3], [2, 5, 3, 4]], 3);
    let reply = get_data_reply("c6", dir.path(), Some(&[]), true).unwrap();
    assert_eq!(reply["status"], STATUS_FULL_DATA_DONE);
    assert!(reply["data"][&first].get("fw").is_none());
    let w = &reply["data"][&second]["fw"]["1,4,2,3"];
    assert_eq!(w["t"], json!([0.0, 0.0012, 0.0023]));
    assert_eq!(w["i"], json!([12.35, 12.35, 12.35]));
    assert_eq!(w["v"], json!([-0.5, -1.5, -2.5]));
    assert_eq!(column_len(&reply["data"][&second]["fw"]["2,5,3,4"], "t"), 3);
}

#[test]
fn waveforms_stop_at_the_budget_on_a_whole_quadrupole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("measurements_20260101T000000_fw.csv");
    write_waveforms(&path, &[[1, 4, 2, 3], [2, 5, 3, 4], [3, 6, 4, 5]], 4);
    let mut budget = 6;
    let Waveforms { fw, cut } = waveforms(&path, &mut budget).unwrap().unwrap();
    assert_eq!(fw.keys().collect::<Vec<_>>(), ["1,4,2,3"]);
    assert!(cut);
    assert_eq!(budget, 0);
    let mut budget = 8;
    let Waveforms { fw, cut } = waveforms(&path, &mut budget).unwrap().unwrap();
    assert_eq!(fw.keys().collect::<Vec<_>>(), ["1,4,2,3", "2,5,3,4"]);
    assert!(cut);
    let mut budget = 12;
    let Waveforms { fw, cut } = waveforms(&path, &mut budget).unwrap().unwrap();
    assert_eq!((fw.len(), cut, budget), (3, false, 0));
    let mut budget = 100;
    let Waveforms { fw, cut } = waveforms(&path, &mut budget).unwrap().unwrap();
    assert_eq!((fw.len(), cut, budget), (3, false, 88));
    assert!(waveforms(&dir.path().join("none.csv"), &mut budget)
        .unwrap()
        .is_none());
}

#[test]
fn the_columns_read_are_those_written() {
    for (_, column) in SURVEY_KEYS {
        assert!(SURVEY_COLUMNS.contains(&column), "{column}");
    }
    for column in ["a", "b", "m", "n", "time", "current", "voltage"] {
        assert!(WAVEFORM_COLUMNS.contains(&column), "{column}");
    }
}
