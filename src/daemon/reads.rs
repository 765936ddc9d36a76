//! Commands that read stored surveys (`get_data`, `list_surveys`, `export`) run on the blocking
//! pool, off the loop that carries records to the broker and the dashboard: OhmPi's page asks
//! for `get_data` every second, and a large survey must not hold up a record. At most
//! [`MAX_READS`] run at once; a command beyond that is answered `busy`. Their answers come back
//! through a bounded channel and are sent from the loop like any other reply.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::commands::Target;
use super::Daemon;
use crate::messaging::command::{Command, ExportFormat, Request};
use crate::messaging::compat;
use crate::messaging::reply::{ErrorBody, ErrorCode};
use crate::survey::Geometry;

/// Reads under way at most.
pub(super) const MAX_READS: usize = 4;

/// A finished read, to be answered from the loop.
pub(super) struct ReadDone {
    pub req: Request,
    pub to: Target,
    pub result: Result<Option<Value>, ErrorBody>,
}

/// The loop's side: where finished reads arrive, and how many are under way.
pub(super) struct Reads {
    tx: mpsc::Sender<ReadDone>,
    pub rx: mpsc::Receiver<ReadDone>,
    running: Arc<AtomicUsize>,
}

impl Reads {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel(MAX_READS);
        Self {
            tx,
            rx,
            running: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// What a read needs to know of the instrument.
#[derive(Clone)]
struct Ctx {
    data_dir: PathBuf,
    nelec: u16,
    geometry: Geometry,
}

impl Daemon {
    /// Starts a read command on the blocking pool (or answers `busy`).
    pub(super) fn spawn_read(&mut self, req: Request, to: Target) {
        let running = Arc::clone(&self.reads.running);
        if running.fetch_add(1, Ordering::SeqCst) >= MAX_READS {
            running.fetch_sub(1, Ordering::SeqCst);
            let body = ErrorBody::new(
                ErrorCode::Busy,
                format!("{MAX_READS} reads of stored surveys are under way; ask again shortly"),
            );
            self.error(&to, &req, body);
            return;
        }
        let ctx = Ctx {
            data_dir: self.inst.data_dir.clone(),
            nelec: self.inst.preset.nelec(),
            geometry: self.inst.geometry.clone(),
        };
        let tx = self.reads.tx.clone();
        tokio::task::spawn_blocking(move || {
            let result = match &req.command {
                Command::GetData { survey_names, full } => compat::get_data_reply(
                    &req.cmd_id,
                    &ctx.data_dir,
                    survey_names.as_deref(),
                    *full,
                )
                .map(Some)
                .map_err(|e| ErrorBody::new(ErrorCode::Internal, e.to_string())),
                Command::ListSurveys => list_surveys(&ctx.data_dir),
                Command::Export {
                    survey,
                    format,
                    elec_spacing,
                } => export(&ctx, survey, *format, *elec_spacing),
                _ => Err(ErrorBody::new(ErrorCode::Internal, "not a read command")),
            };
            running.fetch_sub(1, Ordering::SeqCst);
            let _ = tx.blocking_send(ReadDone { req, to, result });
        });
    }

    /// Answers a finished read.
    pub(super) fn on_read_done(&mut self, done: ReadDone) {
        let ReadDone { req, to, result } = done;
        let to = match (&req.command, &result) {
            (Command::GetData { .. }, Ok(Some(v))) if to.compat => {
                // OhmPi's page reads the reply itself, as its controller shapes it.
                self.out.compat_data(v);
                Target {
                    compat: false,
                    ..to
                }
            }
            _ => to,
        };
        match result {
            Ok(v) => self.done(&to, &req, v),
            Err(e) => self.error(&to, &req, e),
        }
    }
}

fn list_surveys(data_dir: &Path) -> Result<Option<Value>, ErrorBody> {
    let files = compat::survey_files(data_dir)
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

fn export(
    ctx: &Ctx,
    survey: &str,
    format: ExportFormat,
    spacing: Option<f64>,
) -> Result<Option<Value>, ErrorBody> {
    let path = ctx
        .data_dir
        .join(format!("{}.csv", crate::storage::survey_stem(survey)));
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
        Some(s) => Geometry::line(ctx.nelec, s).ok(),
        None => Some(ctx.geometry.clone()),
    }
    .ok_or_else(|| ErrorBody::invalid("elec_spacing", "must be a positive number of metres"))?;
    let out = crate::storage::export::export_survey(&path, kind, &geometry, None)
        .map_err(|e| ErrorBody::invalid("survey", e.to_string()))?;
    let bytes = std::fs::metadata(&out.path).map(|m| m.len()).ok();
    Ok(Some(
        json!({ "path": out.path, "bytes": bytes, "rows": out.rows, "skipped": out.skipped }),
    ))
}
