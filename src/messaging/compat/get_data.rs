//! The reply to OhmPi's `get_data` command, built from the survey files of the data directory.
//!
//! OhmPi's `get_data(survey_names, full)` (ohmpi/ohmpi.py) lists the `.csv` files of its data
//! folder (not `_rs`, not `_fw`), leaves out those whose name without `.csv` is in
//! `survey_names` (the surveys the page already holds), skips files without rows, and answers
//! `{"cmd_id", "status": "getting data...done", "data": {name: {"a", "b", "m", "n", "v", "i",
//! "r", "dev"}}}`, electrodes as integers; with `full`, each survey also gets
//! `"fw": {"a,b,m,n": {"t", "i", "v"}}` and the status reads
//! `"getting full-waveform data...done"` (the page looks for `full-waveform` in it).
//!
//! The page (index.html) sends `survey_names = Object.keys(data).slice(0, -1)`: every survey it
//! holds but the last one it received, so the survey being measured comes again until the next
//! one starts. It merges `data` into what it holds, sorts the names as text, reads the
//! timestamp after the last `_` of a name, and indexes every column by row: the arrays must be
//! equally long and present.
//!
//! Here: the surveys are the `measurements_<YYYYmmddTHHMMSS>[_N].csv` files (the name sent is
//! the file name without `.csv`); `single_measurements.csv` is left out (it would sort after
//! every survey and become the page's "last" one, so the survey being measured would never
//! come again). A row whose electrodes cannot be read is skipped; a missing value is `null`
//! (the table shows it empty, the plots leave a gap). Values are rounded to 4 significant
//! digits (OhmPi rounds to 0.1) to keep a reply the page asks for every second small; the files
//! keep full precision. A survey file that cannot be read is left out with a warning, so one
//! bad file does not blank the page.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::storage::{csv, read_survey, StorageError, SurveyTable};

/// `status` of a `get_data` reply (OhmPi's words).
pub const STATUS_DATA_DONE: &str = "getting data...done";
/// `status` of a `get_data` reply with waveforms (OhmPi's words).
pub const STATUS_FULL_DATA_DONE: &str = "getting full-waveform data...done";
/// `status` of a `get_data` reply whose waveforms went over [`FW_SAMPLE_BUDGET`].
const STATUS_FULL_DATA_PARTIAL: &str =
    "getting full-waveform data...done (too many samples: older waveforms left out)";

/// The most waveform samples one reply carries (about 3 MB of JSON). Surveys are taken newest
/// first, and a quadrupole's waveform is sent whole or not at all.
pub const FW_SAMPLE_BUDGET: usize = 100_000;

const PREFIX: &str = "measurements_";

/// Survey columns read for the page: (reply key, file column).
const SURVEY_KEYS: [(&str, &str); 4] = [
    ("v", "vmn_[mV]"),
    ("i", "iab_[mA]"),
    ("r", "r_[Ohm]"),
    ("dev", "r_std_[%]"),
];

/// A survey's measurements file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyFile {
    /// The file name without `.csv` (`measurements_20261122T211305`): the name OhmPi's page
    /// knows the survey by.
    pub name: String,
    pub path: PathBuf,
}

/// Start time and same-second counter of a survey name, for sorting (`_10` after `_9`).
fn time_key(name: &str) -> (&str, u32) {
    let id = name.strip_prefix(PREFIX).unwrap_or(name);
    match id.split_once('_') {
        Some((stamp, n)) => (stamp, n.parse().unwrap_or(u32::MAX)),
        None => (id, 1),
    }
}

/// The survey measurements files of `data_dir` (not their `_fw`/`_rs` companions, not
/// `single_measurements.csv`), oldest first.
pub fn survey_files(data_dir: &Path) -> Result<Vec<SurveyFile>, StorageError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(data_dir).map_err(StorageError::io(data_dir))? {
        let path = entry.map_err(StorageError::io(data_dir))?.path();
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(name) = file_name.strip_suffix(".csv") else {
            continue;
        };
        if name.starts_with(PREFIX) && !name.ends_with("_fw") && !name.ends_with("_rs") {
            let name = name.to_string();
            out.push(SurveyFile { name, path });
        }
    }
    out.sort_by(|x, y| (time_key(&x.name), &x.name).cmp(&(time_key(&y.name), &y.name)));
    Ok(out)
}

/// Rows one `get_data` reply carries at most (about 2 MB of JSON); older surveys are left for
/// the next request.
pub const ROW_BUDGET: usize = 20_000;
/// Status of a reply that left older surveys out.
pub const STATUS_DATA_PARTIAL: &str = "getting data...done (too many rows: older surveys left out)";

/// The `get_data` reply for OhmPi's web page: every survey of `data_dir` not named in
/// `survey_names` (names with or without `.csv`), with its waveforms when `full`.
///
/// Fails only when the directory cannot be listed.
pub fn get_data_reply(
    cmd_id: &str,
    data_dir: &Path,
    survey_names: Option<&[String]>,
    full: bool,
) -> Result<Value, StorageError> {
    let held: HashSet<&str> = survey_names
        .unwrap_or_default()
        .iter()
        .map(|s| s.strip_suffix(".csv").unwrap_or(s))
        .collect();
    let mut data = Map::new();
    let mut sent = Vec::new();
    // Newest first, within a row budget, so one reply stays far below what MQTT carries.
    let mut rows_left = ROW_BUDGET;
    let mut cut = false;
    for file in survey_files(data_dir)?.into_iter().rev() {
        if held.contains(file.name.as_str()) {
            continue;
        }
        match read_survey(&file.path) {
            Ok(table) if table.rows.len() > rows_left => {
                cut = true;
                break;
            }
            Ok(table) => {
                if let Some(columns) = page_columns(&table) {
                    rows_left -= table.rows.len();
                    data.insert(file.name.clone(), Value::Object(columns));
                    sent.push(file);
                }
            }
            Err(e) => tracing::warn!("get_data leaves out a survey: {e}"),
        }
    }
    sent.reverse();
    let mut status = if cut {
        STATUS_DATA_PARTIAL
    } else {
        STATUS_DATA_DONE
    };
    if full {
        status = STATUS_FULL_DATA_DONE;
        let mut budget = FW_SAMPLE_BUDGET;
        for file in sent.iter().rev() {
            let path = file.path.with_file_name(format!("{}_fw.csv", file.name));
            match waveforms(&path, &mut budget) {
                Ok(Some(w)) => {
                    if let Some(Value::Object(survey)) = data.get_mut(&file.name) {
                        survey.insert("fw".into(), Value::Object(w.fw));
                    }
                    if w.cut {
                        status = STATUS_FULL_DATA_PARTIAL;
                        break;
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("get_data leaves out waveforms: {e}"),
            }
        }
    }
    Ok(json!({"cmd_id": cmd_id, "status": status, "data": data}))
}

/// `x` rounded to 4 significant digits, or `null`.
fn preview(x: Option<f64>) -> Value {
    match x {
        Some(x) if x.is_finite() => json!(format!("{x:.3e}").parse::<f64>().unwrap_or(x)),
        _ => Value::Null,
    }
}

/// The page's columns of a survey, `None` when it has no usable row.
fn page_columns(table: &SurveyTable) -> Option<Map<String, Value>> {
    let mut quads: [Vec<Value>; 4] = Default::default();
    let mut values: [Vec<Value>; SURVEY_KEYS.len()] = Default::default();
    for row in &table.rows {
        let (Some(a), Some(b), Some(m), Some(n)) = (
            row.electrode("a"),
            row.electrode("b"),
            row.electrode("m"),
            row.electrode("n"),
        ) else {
            continue;
        };
        for (column, e) in quads.iter_mut().zip([a, b, m, n]) {
            column.push(e.into());
        }
        for (column, (_, name)) in values.iter_mut().zip(SURVEY_KEYS) {
            column.push(preview(row.number(name)));
        }
    }
    if quads[0].is_empty() {
        return None;
    }
    let keys = ["a", "b", "m", "n"]
        .into_iter()
        .chain(SURVEY_KEYS.map(|(k, _)| k));
    Some(
        keys.zip(quads.into_iter().chain(values))
            .map(|(k, v)| (k.to_string(), Value::Array(v)))
            .collect(),
    )
}

/// Samples of one quadrupole: time \[s\], current \[mA\], voltage \[mV\].
#[derive(Default)]
struct Wave {
    t: Vec<Value>,
    i: Vec<Value>,
    v: Vec<Value>,
}

/// The waveforms of one survey.
struct Waveforms {
    /// `{"a,b,m,n": {"t", "i", "v"}}`
    fw: Map<String, Value>,
    /// Whether samples were left out for want of budget.
    cut: bool,
}

/// The waveforms of a `_fw.csv` file, read a line at a time (these files are large), at most
/// `budget` samples (taken off it); a partial last line is ignored. `None` when there is no
/// such file or it is not a waveform file.
fn waveforms(path: &Path, budget: &mut usize) -> Result<Option<Waveforms>, StorageError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io(path)(e)),
    };
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    let mut next_line = |line: &mut String| -> Result<bool, StorageError> {
        line.clear();
        let n = reader.read_line(line).map_err(StorageError::io(path))?;
        Ok(n > 0 && line.ends_with('\n'))
    };
    if !next_line(&mut line)? {
        return Ok(None);
    }
    let header = csv::split(line.trim_end_matches(['\r', '\n']));
    let index = |name: &str| header.iter().position(|h| h == name);
    let columns = ["a", "b", "m", "n", "time", "current", "voltage"].map(index);
    let [Some(ia), Some(ib), Some(im), Some(in_), Some(it), Some(ii), Some(iv)] = columns else {
        return Ok(None);
    };
    let mut waves: BTreeMap<String, Wave> = BTreeMap::new();
    let mut last_key = String::new();
    let mut cut = false;
    while next_line(&mut line)? {
        let fields = csv::split(line.trim_end_matches(['\r', '\n']));
        let field = |i: usize| fields.get(i).map(|s| s.trim());
        let electrode = |i: usize| field(i).and_then(|s| s.parse::<u16>().ok());
        let number = |i: usize| field(i).and_then(|s| s.parse::<f64>().ok());
        let (Some(a), Some(b), Some(m), Some(n)) =
            (electrode(ia), electrode(ib), electrode(im), electrode(in_))
        else {
            continue;
        };
        let key = format!("{a},{b},{m},{n}");
        if *budget == 0 {
            cut = true;
            if key == last_key {
                // This quadrupole would be cut short: leave it out whole.
                waves.remove(&key);
            }
            break;
        }
        *budget -= 1;
        let wave = waves.entry(key.clone()).or_default();
        let t = number(it)
            .filter(|t| t.is_finite())
            .map(|t| (t * 1e4).round() / 1e4);
        wave.t.push(t.map_or(Value::Null, |t| json!(t)));
        wave.i.push(preview(number(ii)));
        wave.v.push(preview(number(iv)));
        last_key = key;
    }
    let fw = waves
        .into_iter()
        .map(|(k, w)| (k, json!({"t": w.t, "i": w.i, "v": w.v})))
        .collect();
    Ok(Some(Waveforms { fw, cut }))
}

#[cfg(test)]
mod tests;
