//! `ohmpi export`: a survey file to the pyGIMLi unified format or an R2 `protocol.dat`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use ohmpi::config::{Config, ElectrodeLayout};
use ohmpi::instrument::{geometry_for, preset_for};
use ohmpi::storage::export::{export_rows, export_survey, max_electrode, ExportKind, Exported};
use ohmpi::survey::Geometry;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Pygimli,
    Protocol,
}

/// Exports `survey` with the configured geometry, or a line of `spacing` metres.
pub fn export(
    config: &Config,
    survey: &Path,
    format: Format,
    output: Option<PathBuf>,
    spacing: Option<f64>,
) -> Result<Exported> {
    let kind = match format {
        Format::Pygimli => ExportKind::Pygimli,
        Format::Protocol => ExportKind::Protocol,
    };
    let (rows, _) = export_rows(survey)?;
    let max = max_electrode(&rows);
    let geometry = match spacing {
        Some(s) => Geometry::line(max.max(1), s)?,
        None => {
            let preset = preset_for(config)?;
            let g = geometry_for(config, &preset)?;
            match &config.acquisition.layout {
                ElectrodeLayout::Line { spacing } if g.nelec() < max => {
                    Geometry::line(max, *spacing)?
                }
                _ => g,
            }
        }
    };
    Ok(export_survey(survey, kind, &geometry, output)?)
}
