//! Commands that touch files or the system: sequences from the sequences folder, the stored
//! surveys and their exports, and the clock.

use std::sync::Arc;

use serde_json::{json, Value};

use super::Daemon;
use crate::messaging::command::{self, ExportFormat};
use crate::messaging::compat;
use crate::messaging::reply::{ErrorBody, ErrorCode};
use crate::survey::Sequence;

impl Daemon {
    pub(super) fn load_sequence(&mut self, filename: &str) -> Result<Option<Value>, ErrorBody> {
        let rel =
            command::safe_relative_path(filename).map_err(|m| ErrorBody::invalid("filename", m))?;
        let dir = &self.config.control.sequences_dir;
        let path = dir.join(rel);
        // A link inside the folder must not lead outside it.
        let inside = match (path.canonicalize(), dir.canonicalize()) {
            (Ok(p), Ok(d)) => p.starts_with(d),
            _ => false,
        };
        if !inside {
            return Err(ErrorBody::invalid(
                "filename",
                format!(
                    "no sequence file {filename} in the sequences folder {}",
                    dir.display()
                ),
            ));
        }
        let seq = Sequence::read_file(&path)
            .map_err(|e| ErrorBody::invalid("filename", e.to_string()))?;
        seq.validate(self.inst.preset.nelec())
            .map_err(|e| ErrorBody::invalid("filename", format!("{filename}: {e}")))?;
        self.check_quads(seq.quads(), "filename")?;
        let n = seq.len();
        self.sequence = Some(Arc::from(seq.quads().to_vec()));
        Ok(Some(json!({ "quadrupoles": n, "filename": filename })))
    }

    pub(super) fn list_surveys(&self) -> Result<Option<Value>, ErrorBody> {
        let files = compat::survey_files(&self.inst.data_dir)
            .map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string()))?;
        let list: Vec<Value> = files
            .iter()
            .map(|f| {
                let meta = std::fs::metadata(&f.path).ok();
                json!({
                    "survey": f.name,
                    "file": f.path.file_name().map(|n| n.to_string_lossy().into_owned()),
                    "bytes": meta.as_ref().map(|m| m.len()),
                    "modified": meta.and_then(|m| m.modified().ok()).map(crate::timestamp::rfc3339),
                })
            })
            .collect();
        Ok(Some(json!({ "surveys": list })))
    }

    pub(super) fn export(
        &self,
        survey: &str,
        format: ExportFormat,
        spacing: Option<f64>,
    ) -> Result<Option<Value>, ErrorBody> {
        let stem = survey.strip_suffix(".csv").unwrap_or(survey);
        let stem = if stem.starts_with("measurements_") {
            stem.to_string()
        } else {
            format!("measurements_{stem}")
        };
        let path = self.inst.data_dir.join(format!("{stem}.csv"));
        if !path.is_file() {
            return Err(ErrorBody::invalid(
                "survey",
                format!("no survey {survey} in the data directory"),
            ));
        }
        let kind = match format {
            ExportFormat::Ohmpi => {
                let bytes = std::fs::metadata(&path).map(|m| m.len()).ok();
                return Ok(Some(json!({ "path": path, "bytes": bytes })));
            }
            ExportFormat::Pygimli => crate::storage::export::ExportKind::Pygimli,
            ExportFormat::Protocol => crate::storage::export::ExportKind::Protocol,
        };
        let geometry = match spacing {
            Some(s) => None.or(crate::survey::Geometry::line(self.inst.preset.nelec(), s).ok()),
            None => Some(self.inst.geometry.clone()),
        }
        .ok_or_else(|| ErrorBody::invalid("elec_spacing", "must be a positive number of metres"))?;
        let out = crate::storage::export::export_survey(&path, kind, &geometry, None)
            .map_err(|e| ErrorBody::invalid("survey", e.to_string()))?;
        let bytes = std::fs::metadata(&out.path).map(|m| m.len()).ok();
        Ok(Some(
            json!({ "path": out.path, "bytes": bytes, "rows": out.rows, "skipped": out.skipped }),
        ))
    }
}

/// Sets the system clock (CLOCK_REALTIME) directly, never through a shell.
pub(super) fn set_clock(date: &str) -> Result<Option<Value>, ErrorBody> {
    let t = command::parse_datetime(date).map_err(|m| ErrorBody::invalid("date", m))?;
    let d = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| ErrorBody::invalid("date", "before 1970"))?;
    let ts = libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    };
    // SAFETY: a valid timespec; the kernel checks the caller's right (CAP_SYS_TIME).
    let rc = unsafe { libc::clock_settime(libc::CLOCK_REALTIME, &ts) };
    if rc == 0 {
        Ok(Some(json!({ "time": crate::timestamp::rfc3339(t) })))
    } else {
        Err(ErrorBody::new(
            ErrorCode::NotPermitted,
            format!(
                "the system refused to set the clock: {}",
                std::io::Error::last_os_error()
            ),
        ))
    }
}
