//! Exporting a stored survey for inversion software: the pyGIMLi unified data format or R2's
//! `protocol.dat`, written beside the survey unless told otherwise. Rows without a resistance
//! are left out and counted.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{read_survey, StorageError};
use crate::survey::export::{write_protocol, write_pygimli, ExportRow};
use crate::survey::Geometry;

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    Pygimli,
    Protocol,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    pub path: PathBuf,
    pub rows: usize,
    /// Rows left out: no resistance (a fault, no current).
    pub skipped: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{path}, line {line}: column {column} is not an electrode number")]
    Electrode {
        path: PathBuf,
        line: usize,
        column: &'static str,
    },
    #[error("{0}: no row with a resistance to export")]
    Empty(PathBuf),
    #[error(
        "{path} uses electrode {max} but the geometry has {nelec}: give the electrode spacing or \
         a positions file that covers it"
    )]
    Geometry { path: PathBuf, max: u16, nelec: u16 },
    #[error("cannot write {path}: {cause}")]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// The rows of a survey file that carry a resistance, and how many did not.
pub fn export_rows(survey: &Path) -> Result<(Vec<ExportRow>, usize), ExportError> {
    let table = read_survey(survey)?;
    let mut rows = Vec::new();
    let mut skipped = 0;
    for row in &table.rows {
        let electrode = |column: &'static str| {
            row.electrode(column).ok_or_else(|| ExportError::Electrode {
                path: survey.to_path_buf(),
                line: row.line,
                column,
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
    Ok((rows, skipped))
}

/// Highest electrode a set of rows uses.
pub fn max_electrode(rows: &[ExportRow]) -> u16 {
    rows.iter()
        .map(|r| r.a.max(r.b).max(r.m).max(r.n))
        .max()
        .unwrap_or(0)
}

/// Exports `survey` with `geometry` to `output` (default: `<survey stem>_<format>.dat` beside it).
pub fn export_survey(
    survey: &Path,
    kind: ExportKind,
    geometry: &Geometry,
    output: Option<PathBuf>,
) -> Result<Exported, ExportError> {
    let (rows, skipped) = export_rows(survey)?;
    if rows.is_empty() {
        return Err(ExportError::Empty(survey.to_path_buf()));
    }
    let mut text = Vec::new();
    let suffix = match kind {
        ExportKind::Pygimli => {
            let max = max_electrode(&rows);
            if geometry.nelec() < max {
                return Err(ExportError::Geometry {
                    path: survey.to_path_buf(),
                    max,
                    nelec: geometry.nelec(),
                });
            }
            write_pygimli(&rows, geometry, &mut text).map_err(|cause| ExportError::Write {
                path: survey.to_path_buf(),
                cause,
            })?;
            "pygimli.dat"
        }
        ExportKind::Protocol => {
            write_protocol(&rows, &mut text).map_err(|cause| ExportError::Write {
                path: survey.to_path_buf(),
                cause,
            })?;
            "protocol.dat"
        }
    };
    let path = output.unwrap_or_else(|| {
        let stem = survey
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        survey.with_file_name(format!("{stem}_{suffix}"))
    });
    let write = |path: &Path| -> std::io::Result<()> {
        let mut f = std::fs::File::create(path)?;
        f.write_all(&text)?;
        f.sync_all()
    };
    write(&path).map_err(|cause| ExportError::Write {
        path: path.clone(),
        cause,
    })?;
    Ok(Exported {
        path,
        rows: rows.len(),
        skipped,
    })
}
