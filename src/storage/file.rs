//! Files that survive a power cut: created with their header and synced with their directory,
//! appended a row at a time (a short write is cut back), and a torn last row cut off.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::StorageError;

/// Bytes read from the end of a file to find its last line break.
const TAIL_BYTES: u64 = 16 * 1024;

/// Syncs a directory so that a file created in it survives a power cut.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StorageError::io(dir))
}

/// Appends one row to a records file (created with its header if new, or if a crash left it
/// empty) and syncs it.
pub(crate) fn append_row(path: &Path, row: &str) -> Result<(), StorageError> {
    let mut f = open_records(path)?;
    let before = f.metadata().map_err(StorageError::io(path))?.len();
    if let Err(e) = f.write_all(row.as_bytes()).and_then(|()| f.sync_data()) {
        // A short write (disk full) must not leave half a row for the next one to join.
        let _ = f.set_len(before);
        return Err(StorageError::io(path)(e));
    }
    Ok(())
}

/// Opens a records file for appending: created with its header when missing or empty.
pub(crate) fn open_records(path: &Path) -> Result<File, StorageError> {
    let header = super::columns::header(&super::SURVEY_COLUMNS);
    match OpenOptions::new().append(true).open(path) {
        Ok(f) => {
            let len = f.metadata().map_err(StorageError::io(path))?.len();
            if len == 0 {
                let mut f = f;
                f.write_all(header.as_bytes())
                    .and_then(|()| f.sync_data())
                    .map_err(StorageError::io(path))?;
                return Ok(f);
            }
            Ok(f)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let f = create_with_header(path, &header)?;
            if let Some(dir) = path.parent() {
                sync_dir(dir)?;
            }
            Ok(f)
        }
        Err(e) => Err(StorageError::io(path)(e)),
    }
}

/// Cuts a partial last line (a row being written when the instrument stopped) off a file, so
/// that the next row starts on a line of its own. Returns the bytes cut.
pub(crate) fn cut_partial_tail(path: &Path) -> Result<u64, StorageError> {
    let mut f = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(StorageError::io(path)(e)),
    };
    let len = f.metadata().map_err(StorageError::io(path))?.len();
    if len == 0 {
        return Ok(0);
    }
    let start = len.saturating_sub(TAIL_BYTES);
    let mut tail = Vec::new();
    f.seek(SeekFrom::Start(start))
        .and_then(|_| f.read_to_end(&mut tail))
        .map_err(StorageError::io(path))?;
    if tail.last() == Some(&b'\n') {
        return Ok(0);
    }
    let keep = match tail.iter().rposition(|b| *b == b'\n') {
        Some(i) => start + i as u64 + 1,
        // No line break in the tail: a header cut short (the whole file) or a row longer than
        // the tail; only the first can happen with the rows this instrument writes.
        None if start == 0 => 0,
        None => return Ok(0),
    };
    f.set_len(keep)
        .and_then(|()| f.sync_all())
        .map_err(StorageError::io(path))?;
    Ok(len - keep)
}

/// Opens `path` for appending, creating it with `header` if new.
pub(crate) fn create_with_header(path: &Path, header: &str) -> Result<File, StorageError> {
    let mut f = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(path)
        .map_err(StorageError::io(path))?;
    f.write_all(header.as_bytes())
        .and_then(|()| f.sync_data())
        .map_err(StorageError::io(path))?;
    Ok(f)
}
