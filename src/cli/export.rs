//! `ohmpi export`: a survey file to the pyGIMLi unified format or an R2 `protocol.dat`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ohmpi::config::Config;
use ohmpi::instrument::{geometry_for, preset_for};
use ohmpi::storage::read_survey;
use ohmpi::survey::export::{write_protocol, write_pygimli, ExportRow};
use ohmpi::survey::Geometry;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Pygimli,
    Protocol,
}

/// Exports `survey`; returns the file written and how many rows were left out (no R).
pub fn export(
    config: &Config,
    survey: &Path,
    format: Format,
    output: Option<PathBuf>,
    spacing: Option<f64>,
) -> Result<(PathBuf, usize, usize)> {
    let table = read_survey(survey)?;
    let mut rows = Vec::new();
    let mut skipped = 0;
    for row in &table.rows {
        let electrode = |c: &str| {
            row.electrode(c).with_context(|| {
                format!(
                    "{}, line {}: column {c} is not an electrode number",
                    survey.display(),
                    row.line
                )
            })
        };
        let (a, b, m, n) = (
            electrode("a")?,
            electrode("b")?,
            electrode("m")?,
            electrode("n")?,
        );
        let Some(r_ohm) = row.number("r_[Ohm]") else {
            skipped += 1;
            continue;
        };
        rows.push(ExportRow {
            a,
            b,
            m,
            n,
            r_ohm,
            r_std_pct: row.number("r_std_[%]"),
            iab_ma: row.number("iab_[mA]"),
            vmn_mv: row.number("vmn_[mV]"),
            k_m: row.number("k_[m]"),
            rhoa_ohmm: row.number("rhoa_[Ohm.m]"),
        });
    }
    if rows.is_empty() {
        bail!("{}: no row with a resistance to export", survey.display());
    }
    let (suffix, mut text) = (
        match format {
            Format::Pygimli => "pygimli.dat",
            Format::Protocol => "protocol.dat",
        },
        Vec::new(),
    );
    match format {
        Format::Pygimli => {
            let max = rows
                .iter()
                .map(|r| r.a.max(r.b).max(r.m).max(r.n))
                .max()
                .unwrap_or(0);
            let geometry = match spacing {
                Some(s) => Geometry::line(max, s)?,
                None => {
                    let preset = preset_for(config)?;
                    let g = geometry_for(config, &preset)?;
                    if g.nelec() >= max {
                        g
                    } else {
                        Geometry::line(max, config_spacing(config))?
                    }
                }
            };
            write_pygimli(&rows, &geometry, &mut text)?;
        }
        Format::Protocol => write_protocol(&rows, &mut text)?,
    }
    let output = output.unwrap_or_else(|| {
        let stem = survey
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        survey.with_file_name(format!("{stem}_{suffix}"))
    });
    let mut f = std::fs::File::create(&output)
        .with_context(|| format!("cannot create {}", output.display()))?;
    f.write_all(&text)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", output.display()))?;
    Ok((output, rows.len(), skipped))
}

fn config_spacing(config: &Config) -> f64 {
    match config.acquisition.layout {
        ohmpi::config::ElectrodeLayout::Line { spacing } => spacing,
        ohmpi::config::ElectrodeLayout::File(_) => 1.0,
    }
}
