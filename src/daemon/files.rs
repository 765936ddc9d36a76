//! Commands that touch files or the system: sequences from the sequences folder and the clock.
//! (Reading stored surveys is in `reads.rs`, off the daemon's loop.)

use std::sync::Arc;

use serde_json::{json, Value};

use super::Daemon;
use crate::messaging::command;
use crate::messaging::reply::{ErrorBody, ErrorCode};
use crate::survey::Sequence;

impl Daemon {
    /// Loads `filename` from the sequences folder. Only a regular file is opened: the path is
    /// resolved (a link inside the folder must not lead outside it), then the resolved path is
    /// opened without following a last link and without blocking (a FIFO or a device would
    /// otherwise stall the daemon until someone writes to it), and what was opened is checked to
    /// be a regular file before a byte is read. The check is on the open file itself, so the
    /// name cannot be swapped for something else between the check and the read.
    pub(super) fn load_sequence(&mut self, filename: &str) -> Result<Option<Value>, ErrorBody> {
        let rel =
            command::safe_relative_path(filename).map_err(|m| ErrorBody::invalid("filename", m))?;
        let dir = &self.config.control.sequences_dir;
        let missing = || {
            ErrorBody::invalid(
                "filename",
                format!(
                    "no sequence file {filename} in the sequences folder {}",
                    dir.display()
                ),
            )
        };
        let (path, dir) = match (dir.join(rel).canonicalize(), dir.canonicalize()) {
            (Ok(p), Ok(d)) if p.starts_with(&d) => (p, d),
            _ => return Err(missing()),
        };
        let text = read_regular_file(&path, crate::survey::sequence::MAX_FILE_BYTES)
            .map_err(|problem| ErrorBody::invalid("filename", format!("{filename}: {problem}")))?;
        let seq = Sequence::parse(&text).map_err(|e| {
            ErrorBody::invalid(
                "filename",
                format!("{filename} (in {}): {e}", dir.display()),
            )
        })?;
        seq.validate(self.inst.preset.nelec())
            .map_err(|e| ErrorBody::invalid("filename", format!("{filename}: {e}")))?;
        self.check_quads(seq.quads(), "filename")?;
        let n = seq.len();
        self.sequence = Some(Arc::from(seq.quads().to_vec()));
        Ok(Some(json!({ "quadrupoles": n, "filename": filename })))
    }
}

/// The text of the regular file at `path` (at most `limit` bytes), or what is wrong with it.
/// Opened with `O_NONBLOCK` and `O_NOFOLLOW`, so that neither a FIFO nor a last-moment link can
/// hold or redirect the daemon, then checked through the open descriptor.
fn read_regular_file(path: &std::path::Path, limit: u64) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| format!("cannot open it: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read its metadata: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "not a regular file (it is {}): only sequence files are read",
            file_kind(&meta.file_type())
        ));
    }
    let mut text = String::new();
    file.take(limit + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if text.len() as u64 > limit {
        return Err(format!("larger than {limit} bytes"));
    }
    Ok(text)
}

fn file_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a file"
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
