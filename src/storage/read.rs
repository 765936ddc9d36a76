//! Reading survey files back (exports, data requests). A last line without its line break is a
//! row the instrument was writing when it stopped: it is left out.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{csv, StorageError};

/// A survey file: its header and complete rows.
#[derive(Debug, Clone)]
pub struct SurveyTable {
    pub path: PathBuf,
    pub columns: Vec<String>,
    pub rows: Vec<SurveyRow>,
    /// Whether the file ended in a partial row (left out).
    pub partial_tail: bool,
}

/// One row, addressed by column name.
#[derive(Debug, Clone)]
pub struct SurveyRow {
    pub line: usize,
    fields: Vec<String>,
    index: std::sync::Arc<HashMap<String, usize>>,
}

impl SurveyRow {
    /// The raw text of a column (`None` if the file has no such column).
    pub fn get(&self, column: &str) -> Option<&str> {
        self.index
            .get(column)
            .and_then(|i| self.fields.get(*i))
            .map(String::as_str)
    }

    /// A number, `None` when empty or absent.
    pub fn number(&self, column: &str) -> Option<f64> {
        self.get(column).and_then(|s| s.trim().parse().ok())
    }

    /// An electrode number (required).
    pub fn electrode(&self, column: &str) -> Option<u16> {
        self.get(column).and_then(|s| s.trim().parse().ok())
    }
}

/// Reads a survey (or any OhmPi-style CSV) file.
pub fn read_survey(path: &Path) -> Result<SurveyTable, StorageError> {
    let text = std::fs::read_to_string(path).map_err(StorageError::io(path))?;
    let partial_tail = !text.is_empty() && !text.ends_with('\n');
    let complete = match text.rfind('\n') {
        Some(i) => &text[..i],
        None => "",
    };
    let mut lines = complete.lines().enumerate();
    let columns: Vec<String> = match lines.next() {
        Some((_, header)) => csv::split(header),
        None => {
            return Err(StorageError::Format {
                path: path.to_path_buf(),
                line: 1,
                message: "the file has no header line".into(),
            })
        }
    };
    let index: HashMap<String, usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.clone(), i))
        .collect();
    let index = std::sync::Arc::new(index);
    let mut rows = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields = csv::split(line);
        if fields.len() != columns.len() {
            return Err(StorageError::Format {
                path: path.to_path_buf(),
                line: i + 1,
                message: format!(
                    "{} fields where the header has {}",
                    fields.len(),
                    columns.len()
                ),
            });
        }
        rows.push(SurveyRow {
            line: i + 1,
            fields,
            index: std::sync::Arc::clone(&index),
        });
    }
    Ok(SurveyTable {
        path: path.to_path_buf(),
        columns,
        rows,
        partial_tail,
    })
}
