//! Surveys: quadrupoles, sequences (parse, validate, generate), geometry and the geometric
//! factor, the measurement record and exports to inversion software.
//!
//! Nothing here touches hardware or the network.

pub mod export;
pub mod generate;
pub mod geometry;
pub mod quad;
pub mod quality;
pub mod record;
pub mod sequence;

pub use geometry::Geometry;
pub use quad::{Electrode, QuadError, Quadrupole};
pub use quality::Quality;
pub use record::{Measurement, Record};
pub use sequence::{Sequence, SequenceError};

/// Reads a text file of at most `limit` bytes: `Err(Some(_))` when it cannot be read,
/// `Err(None)` when it is larger.
pub(crate) fn read_text_file(
    path: &std::path::Path,
    limit: u64,
) -> Result<String, Option<std::io::Error>> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(Some)?;
    let mut text = String::new();
    file.take(limit + 1)
        .read_to_string(&mut text)
        .map_err(Some)?;
    if text.len() as u64 > limit {
        return Err(None);
    }
    Ok(text)
}
