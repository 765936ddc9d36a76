//! The columns of the survey files (OhmPi v2024.1 record keys, so existing tools such as ResIPy
//! read them, plus `seq`, `k_[m]`, `rhoa_[Ohm.m]` and `quality`), and the formatting of a row.

use super::csv;
use crate::acquisition::{Contact, Sample};
use crate::survey::Record;

/// Header of `measurements_<time>.csv`.
pub const SURVEY_COLUMNS: [&str; 26] = [
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
