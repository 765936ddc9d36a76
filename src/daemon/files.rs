//! Commands that touch files or the system: sequences from the sequences folder and the clock.
//! (Reading stored surveys is in `reads.rs`, off the daemon's loop.)

use std::sync::Arc;

use serde_json::{json, Value};

use super::Daemon;
use crate::messaging::command;
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
