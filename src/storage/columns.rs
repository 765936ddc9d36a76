//! The columns of the survey files (OhmPi v2024.1 record keys, so existing tools such as ResIPy
//! read them, plus `seq`, `k_[m]`, `rhoa_[Ohm.m]`, `quality`, `duty_cycle` and
//! `dropped_samples`), the formatting of a row, and the record a row holds: a row carries every
//! field of its record, so a record read back from a survey file is the one that was published.

use super::csv;
use crate::acquisition::{Contact, Sample};
use crate::survey::Record;

/// Header of `measurements_<time>.csv`.
pub const SURVEY_COLUMNS: [&str; 28] = [
    "time",
    "a",
    "b",
    "m",
    "n",
    "injection_duration_[ms]",
    "vmn_[mV]",
    "vmn_std_[%]",
    "iab_[mA]",
    "iab_std_[%]",
    "r_[Ohm]",
    "r_std_[%]",
    "rab_[kOhm]",
    "sp_[mV]",
    "n_stacks",
    "vab_[V]",
    "channel_mn",
    "injection_id",
    "battery_voltage_tx_[V]",
    "s_samples",
    "strategy",
    "cmd_id",
    "seq",
    "k_[m]",
    "rhoa_[Ohm.m]",
    "quality",
    "duty_cycle",
    "dropped_samples",
];

/// Header of `<survey>_fw.csv`.
pub const WAVEFORM_COLUMNS: [&str; 10] = [
    "a",
    "b",
    "m",
    "n",
    "injection_id",
    "channel_mn",
    "time",
    "current",
    "voltage",
    "polarity",
];

/// Header of `<survey>_rs.csv`.
pub const CONTACT_COLUMNS: [&str; 3] = ["A", "B", "RS [kOhm]"];

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// One survey row, with its line break.
pub fn survey_row(r: &Record) -> String {
    let fields = [
        r.time.clone(),
        r.a.to_string(),
        r.b.to_string(),
        r.m.to_string(),
        r.n.to_string(),
        r.injection_ms.to_string(),
        opt(r.vmn_mv),
        opt(r.vmn_std_pct),
        opt(r.iab_ma),
        opt(r.iab_std_pct),
        opt(r.r_ohm),
        opt(r.r_std_pct),
        opt(r.rab_kohm),
        opt(r.sp_mv),
        r.n_stacks.to_string(),
        r.vab_v.to_string(),
        "1".into(),
        r.seq.to_string(),
        opt(r.battery_v),
        r.samples.to_string(),
        r.strategy.as_str().into(),
        r.cmd_id.clone().unwrap_or_default(),
        r.seq.to_string(),
        opt(r.k_m),
        opt(r.rhoa_ohmm),
        r.quality.to_field(),
        r.duty_cycle.to_string(),
        r.dropped_samples.to_string(),
    ];
    let mut line = csv::join(fields.iter().map(String::as_str));
    line.push('\n');
    line
}

/// One waveform row (time in seconds since the quadrupole started), with its line break.
pub fn waveform_row(s: &Sample) -> String {
    format!(
        "{},{},{},{},{},1,{:.6},{},{},{}\n",
        s.quad.a, s.quad.b, s.quad.m, s.quad.n, s.pulse, s.t_s, s.iab_ma, s.vmn_mv, s.polarity
    )
}

/// One contact row, with its line break (empty resistance when no current flowed).
pub fn contact_row(c: &Contact) -> String {
    format!("{},{},{}\n", c.a, c.b, opt(c.rs_kohm))
}

/// A header line, with its line break.
pub fn header(columns: &[&str]) -> String {
    let mut line = csv::join(columns.iter().copied());
    line.push('\n');
    line
}

/// The record a survey row holds (`survey`: the survey the file belongs to, `None` for lone
/// measurements). Rows written before `duty_cycle` and `dropped_samples` were columns give a
/// duty cycle of NaN (published as null) and no dropped samples. The error names the column.
pub fn record_from_row(row: &super::SurveyRow, survey: Option<&str>) -> Result<Record, String> {
    use crate::acquisition::settings::Strategy;
    fn req<T: std::str::FromStr>(row: &super::SurveyRow, col: &str) -> Result<T, String> {
        let text = row.get(col).ok_or_else(|| format!("no column {col}"))?;
        text.trim()
            .parse()
            .map_err(|_| format!("column {col}: {text:?} is not a valid value"))
    }
    let strategy_text = row.get("strategy").unwrap_or("");
    let strategy: Strategy =
        serde_json::from_value(serde_json::Value::String(strategy_text.trim().to_string()))
            .map_err(|_| format!("column strategy: {strategy_text:?} is not a strategy"))?;
    let seq: u64 = req(row, "seq")?;
    if seq > super::MAX_SEQ {
        return Err(format!(
            "column seq: {seq} is beyond the largest sequence number"
        ));
    }
    Ok(Record {
        seq,
        survey: survey.map(str::to_string),
        time: row.get("time").unwrap_or("").to_string(),
        a: req(row, "a")?,
        b: req(row, "b")?,
        m: req(row, "m")?,
        n: req(row, "n")?,
        injection_ms: req(row, "injection_duration_[ms]")?,
        duty_cycle: row.number("duty_cycle").unwrap_or(f64::NAN),
        n_stacks: req(row, "n_stacks")?,
        strategy,
        vab_v: req(row, "vab_[V]")?,
        vmn_mv: row.number("vmn_[mV]"),
        vmn_std_pct: row.number("vmn_std_[%]"),
        iab_ma: row.number("iab_[mA]"),
        iab_std_pct: row.number("iab_std_[%]"),
        r_ohm: row.number("r_[Ohm]"),
        r_std_pct: row.number("r_std_[%]"),
        rab_kohm: row.number("rab_[kOhm]"),
        sp_mv: row.number("sp_[mV]"),
        k_m: row.number("k_[m]"),
        rhoa_ohmm: row.number("rhoa_[Ohm.m]"),
        samples: req(row, "s_samples")?,
        dropped_samples: row
            .get("dropped_samples")
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0),
        battery_v: row.number("battery_voltage_tx_[V]"),
        quality: crate::survey::Quality::from_field(row.get("quality").unwrap_or("")),
        cmd_id: row
            .get("cmd_id")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    })
}
