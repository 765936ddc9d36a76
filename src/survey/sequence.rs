//! Measurement sequences: the ordered quadrupoles of a survey, each with the line it came from.
//!
//! This module owns the sequence file formats and the checks that need no hardware:
//! - the OhmPi text format: one quadrupole per line, `A B M N`, whitespace separated, 1-based,
//!   no header;
//! - a CSV with a header naming the columns `a,b,m,n` (any order, any case), comma separated;
//! - in both, `#` starts a comment (whole line or trailing) and blank lines are skipped.
//!
//! Parsing rejects, with the line number, anything that is not four electrode numbers and any
//! quadrupole that can never be measured safely ([`Quadrupole::check_safe`]).
//! [`Sequence::validate`] adds the checks that need the number of electrodes (range, duplicates);
//! the hardware layer checks its cabling with [`Sequence::check_each`], which puts the line number
//! on its messages. Nothing here touches hardware; the only I/O is [`Sequence::read_file`].

use std::collections::HashMap;
use std::fmt::{Display, Write as _};
use std::path::{Path, PathBuf};

use super::quad::{Electrode, QuadError, Quadrupole};

mod parse;

/// The largest sequence file [`Sequence::read_file`] reads (16 MiB, over a million quadrupoles).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// An ordered list of quadrupoles with, for each, the 1-based line of the text it came from
/// (for a sequence built in memory, its position + 1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sequence {
    quads: Vec<Quadrupole>,
    lines: Vec<usize>,
}

/// Why a sequence cannot be read or measured. Every variant about one quadrupole names its line.
#[derive(Debug, thiserror::Error)]
pub enum SequenceError {
    #[error("cannot read sequence file {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("sequence file {path} is larger than {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    /// An error in the text of a file, with the file's path.
    #[error("{path}: {error}")]
    File {
        path: PathBuf,
        error: Box<SequenceError>,
    },
    #[error("the sequence has no quadrupole (only blank or comment lines)")]
    Empty,
    #[error("line {line}: expected 4 electrode numbers, found {found}")]
    FieldCount { line: usize, found: usize },
    #[error(
        "line {line}: \"{text}\" is not a positive integer (electrode numbers are 1 to 65535)"
    )]
    NotAnElectrode { line: usize, text: String },
    #[error(
        "line {line}: the header must name the columns a, b, m and n once each, found \"{found}\""
    )]
    BadHeader { line: usize, found: String },
    #[error("line {line}: comma-separated values need a header line `a,b,m,n` before them")]
    CommaWithoutHeader { line: usize },
    /// The quadrupole breaks a safety rule whatever the hardware (A = B, M = N, M/N on A/B).
    #[error("line {line}: {problem}")]
    Unsafe {
        line: usize,
        quad: Quadrupole,
        problem: QuadError,
    },
    #[error("line {line}: electrode {electrode} is above the {nelec} electrodes of the system")]
    OutOfRange {
        line: usize,
        electrode: Electrode,
        nelec: u16,
    },
    #[error("line {line}: {quad} repeats line {first}")]
    Duplicate {
        line: usize,
        first: usize,
        quad: Quadrupole,
    },
    /// A check supplied by the caller (e.g. the cabling of the multiplexers) refused the quadrupole.
    #[error("line {line}: {quad}: {message}")]
    Rejected {
        line: usize,
        quad: Quadrupole,
        message: String,
    },
}

impl Sequence {
    /// Parses a sequence in the OhmPi text format or as a CSV with an `a,b,m,n` header.
    ///
    /// The first line that is neither blank nor a comment decides the format: a header if it
    /// names columns, data otherwise. Stops at the first problem, naming its line.
    pub fn parse(text: &str) -> Result<Self, SequenceError> {
        parse::parse(text)
    }

    /// Reads and parses a sequence file; errors name the path (and the line).
    pub fn read_file(path: &Path) -> Result<Self, SequenceError> {
        let text = super::read_text_file(path, MAX_FILE_BYTES).map_err(|e| match e {
            Some(cause) => SequenceError::Read {
                path: path.to_path_buf(),
                cause,
            },
            None => SequenceError::TooLarge {
                path: path.to_path_buf(),
                limit: MAX_FILE_BYTES,
            },
        })?;
        Self::parse(&text).map_err(|error| SequenceError::File {
            path: path.to_path_buf(),
            error: Box::new(error),
        })
    }

    /// A sequence built in memory (a generator, a command); quadrupole `i` gets line `i + 1`.
    ///
    /// Nothing is checked here: call [`Sequence::validate`] before measuring.
    pub fn from_quads(quads: Vec<Quadrupole>) -> Self {
        let lines = (1..=quads.len()).collect();
        Self { quads, lines }
    }

    /// Checks the sequence against a system of `nelec` electrodes: not empty, every quadrupole
    /// safe, every electrode in `1..=nelec`, no quadrupole twice (exact repeats: `B A M N` or
    /// the reciprocal `M N A B` are other measurements). Reports the first problem by line.
    pub fn validate(&self, nelec: u16) -> Result<(), SequenceError> {
        if self.quads.is_empty() {
            return Err(SequenceError::Empty);
        }
        let mut seen: HashMap<Quadrupole, usize> = HashMap::with_capacity(self.quads.len());
        for (&quad, &line) in self.quads.iter().zip(&self.lines) {
            quad.check_safe().map_err(|problem| SequenceError::Unsafe {
                line,
                quad,
                problem,
            })?;
            if let Some(&electrode) = quad.electrodes().iter().find(|&&e| e > nelec) {
                return Err(SequenceError::OutOfRange {
                    line,
                    electrode,
                    nelec,
                });
            }
            if let Some(&first) = seen.get(&quad) {
                return Err(SequenceError::Duplicate { line, first, quad });
            }
            seen.insert(quad, line);
        }
        Ok(())
    }

    /// Runs a caller's check on every quadrupole in order (e.g. "is each electrode cabled for
    /// its role"); the first refusal becomes [`SequenceError::Rejected`] with its line.
    pub fn check_each<E: Display>(
        &self,
        mut f: impl FnMut(&Quadrupole) -> Result<(), E>,
    ) -> Result<(), SequenceError> {
        for (quad, &line) in self.quads.iter().zip(&self.lines) {
            f(quad).map_err(|e| SequenceError::Rejected {
                line,
                quad: *quad,
                message: e.to_string(),
            })?;
        }
        Ok(())
    }

    /// The quadrupoles, in measurement order.
    pub fn quads(&self) -> &[Quadrupole] {
        &self.quads
    }

    /// Number of quadrupoles.
    pub fn len(&self) -> usize {
        self.quads.len()
    }

    /// True when there is no quadrupole.
    pub fn is_empty(&self) -> bool {
        self.quads.is_empty()
    }

    /// The 1-based source line of quadrupole `index` (0-based), `None` past the end.
    pub fn line_of(&self, index: usize) -> Option<usize> {
        self.lines.get(index).copied()
    }

    /// The quadrupoles in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Quadrupole> {
        self.quads.iter()
    }

    /// The quadrupoles in order, each with its source line.
    pub fn iter_with_lines(&self) -> impl Iterator<Item = (usize, &Quadrupole)> + '_ {
        self.lines.iter().copied().zip(&self.quads)
    }

    /// The highest electrode number used, `None` for an empty sequence.
    pub fn max_electrode(&self) -> Option<Electrode> {
        self.quads.iter().map(|q| q.max_electrode()).max()
    }

    /// The sequence in the OhmPi text format: `A B M N` per line, no header, no comment.
    pub fn to_text(&self) -> String {
        let mut text = String::with_capacity(self.quads.len() * 12);
        for quad in &self.quads {
            // Writing to a String cannot fail.
            let _ = writeln!(text, "{quad}");
        }
        text
    }
}

impl<'a> IntoIterator for &'a Sequence {
    type Item = &'a Quadrupole;
    type IntoIter = std::slice::Iter<'a, Quadrupole>;

    fn into_iter(self) -> Self::IntoIter {
        self.quads.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(a: u16, b: u16, m: u16, n: u16) -> Quadrupole {
        Quadrupole::new(a, b, m, n)
    }

    #[test]
    fn validate_reports_range_and_duplicates_with_lines() {
        let seq = Sequence::parse("1 2 3 4\n# c\n2 3 4 5\n\n1 2 3 4\n").unwrap();
        assert_eq!(
            seq.validate(5).map_err(|e| e.to_string()),
            Err("line 5: 1 2 3 4 repeats line 1".to_string())
        );
        let err = seq.validate(4).unwrap_err();
        assert!(matches!(
            err,
            SequenceError::OutOfRange {
                line: 3,
                electrode: 5,
                nelec: 4
            }
        ));
        assert_eq!(
            err.to_string(),
            "line 3: electrode 5 is above the 4 electrodes of the system"
        );
        // Reversed current dipole and reciprocal are different measurements.
        let ok = Sequence::from_quads(vec![q(1, 2, 3, 4), q(2, 1, 3, 4), q(3, 4, 1, 2)]);
        assert!(ok.validate(4).is_ok());
    }

    #[test]
    fn validate_checks_in_memory_sequences() {
        let seq = Sequence::from_quads(vec![q(1, 2, 3, 4), q(3, 3, 1, 2)]);
        let err = seq.validate(8).unwrap_err();
        assert!(matches!(
            err,
            SequenceError::Unsafe {
                line: 2,
                problem: QuadError::SameCurrentElectrodes(3),
                ..
            }
        ));
        assert!(err.to_string().starts_with("line 2: A = B = 3: "));
        assert!(matches!(
            Sequence::from_quads(vec![]).validate(8),
            Err(SequenceError::Empty)
        ));
    }

    #[test]
    fn check_each_names_the_line() {
        let seq = Sequence::parse("# cabling test\n1 2 3 4\n\n5 6 7 8\n").unwrap();
        let err = seq
            .check_each(|quad| {
                if quad.a > 4 {
                    Err(format!("electrode {} is not cabled for A", quad.a))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 4: 5 6 7 8: electrode 5 is not cabled for A"
        );
        assert!(seq.check_each(|_| Ok::<(), String>(())).is_ok());
    }

    #[test]
    fn accessors() {
        let seq = Sequence::parse("\n3 1 2 9  # far\n4 5 6 7\n").unwrap();
        assert_eq!(seq.len(), 2);
        assert!(!seq.is_empty());
        assert_eq!(seq.quads(), &[q(3, 1, 2, 9), q(4, 5, 6, 7)]);
        assert_eq!(seq.line_of(0), Some(2));
        assert_eq!(seq.line_of(1), Some(3));
        assert_eq!(seq.line_of(2), None);
        assert_eq!(seq.max_electrode(), Some(9));
        assert_eq!(Sequence::default().max_electrode(), None);
        let lines: Vec<usize> = seq.iter_with_lines().map(|(l, _)| l).collect();
        assert_eq!(lines, [2, 3]);
        assert_eq!(seq.iter().count(), 2);
        assert_eq!((&seq).into_iter().next(), Some(&q(3, 1, 2, 9)));
        assert_eq!(seq.to_text(), "3 1 2 9\n4 5 6 7\n");
        let built = Sequence::from_quads(vec![q(1, 4, 2, 3)]);
        assert_eq!(built.line_of(0), Some(1));
    }

    #[test]
    fn read_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seq.txt");
        std::fs::write(&path, "1 2 3 4\n1 2 x 4\n").unwrap();
        let err = Sequence::read_file(&path).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with(&path.display().to_string()), "{text}");
        assert!(
            text.ends_with(
                "line 2: \"x\" is not a positive integer (electrode numbers are 1 to 65535)"
            ),
            "{text}"
        );

        std::fs::write(&path, "a,b,m,n\n1,2,3,4\n").unwrap();
        assert_eq!(
            Sequence::read_file(&path).unwrap().quads(),
            &[q(1, 2, 3, 4)]
        );

        let missing = dir.path().join("missing.txt");
        assert!(matches!(
            Sequence::read_file(&missing),
            Err(SequenceError::Read { .. })
        ));
    }
}
