//! Electrode positions and the geometric factor.
//!
//! This module owns where the electrodes are ([`Geometry`]: a line, a list of positions or a
//! positions file) and the half-space geometric factor k that turns a transfer resistance R into
//! an apparent resistivity (rho_a = k · R, signs kept). It knows nothing of the hardware.
//!
//! Coordinates are metres, `[x, y, z]`, with z the elevation, positive up, and the ground surface
//! at z = 0: a buried electrode has z < 0 (the pyGIMLi convention). Electrodes above the surface
//! are refused: the half-space formula does not hold there, and absolute elevations (topography)
//! would silently give wrong k.

use std::path::{Path, PathBuf};

use super::quad::{Electrode, Quadrupole};

mod factor;
mod positions;

pub use factor::{geometric_factor, transfer_resistance_homogeneous};

/// A point `[x, y, z]` in metres, z the elevation (≤ 0 in the ground).
pub type Position = [f64; 3];

/// The largest positions file [`Geometry::read_file`] reads (1 MiB).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Where the electrodes are: electrode `e` (1-based) is at `positions[e - 1]`.
///
/// Always holds 1 to 65535 electrodes at distinct, finite positions with z ≤ 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    positions: Vec<Position>,
}

/// Why a geometry cannot be built or read.
#[derive(Debug, thiserror::Error)]
pub enum GeometryError {
    #[error("cannot read positions file {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("positions file {path} is larger than {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    /// An error in the text of a file, with the file's path.
    #[error("{path}: {error}")]
    File {
        path: PathBuf,
        error: Box<GeometryError>,
    },
    #[error("no electrode position given")]
    NoElectrode,
    #[error("{count} electrodes: at most 65535 are supported")]
    TooMany { count: usize },
    #[error("electrode spacing must be a positive number of metres, got {spacing}")]
    Spacing { spacing: f64 },
    #[error(
        "line {line}: expected {expected} values like the first line ({columns}), found {found}"
    )]
    Columns {
        line: usize,
        expected: usize,
        found: usize,
        columns: String,
    },
    #[error("line {line}: \"{text}\" is not a finite number")]
    NotANumber { line: usize, text: String },
    #[error("line {line}: a header names the columns x, y and z (each at most once, x first or alone), found \"{found}\"")]
    BadHeader { line: usize, found: String },
    #[error("electrode {electrode}: the position has a coordinate that is not a finite number")]
    NotFinite { electrode: usize },
    #[error("electrode {electrode}: z = {z} m is above the ground surface (z is the elevation, 0 at the surface, negative when buried)")]
    AboveSurface { electrode: usize, z: f64 },
    #[error("electrodes {first} and {second} are at the same position")]
    SamePosition { first: usize, second: usize },
}

impl Geometry {
    /// `nelec` electrodes on the surface along x, `spacing` metres apart, the first at x = 0.
    pub fn line(nelec: u16, spacing: f64) -> Result<Self, GeometryError> {
        if !(spacing.is_finite() && spacing > 0.0) {
            return Err(GeometryError::Spacing { spacing });
        }
        if nelec == 0 {
            return Err(GeometryError::NoElectrode);
        }
        let positions = (0..nelec)
            .map(|i| [f64::from(i) * spacing, 0.0, 0.0])
            .collect();
        Ok(Self { positions })
    }

    /// Electrodes at the given positions (electrode 1 first). Refuses an empty list, more than
    /// 65535 electrodes, non-finite coordinates, z > 0 and two electrodes at the same place.
    pub fn from_positions(positions: Vec<Position>) -> Result<Self, GeometryError> {
        if positions.is_empty() {
            return Err(GeometryError::NoElectrode);
        }
        if positions.len() > usize::from(u16::MAX) {
            return Err(GeometryError::TooMany {
                count: positions.len(),
            });
        }
        for (i, p) in positions.iter().enumerate() {
            if !p.iter().all(|c| c.is_finite()) {
                return Err(GeometryError::NotFinite { electrode: i + 1 });
            }
            if p[2] > 0.0 {
                return Err(GeometryError::AboveSurface {
                    electrode: i + 1,
                    z: p[2],
                });
            }
        }
        // Sort indices by position so equal positions are neighbours: n log n, not n².
        let mut order: Vec<usize> = (0..positions.len()).collect();
        let key = |i: &usize| positions[*i].map(|c| c + 0.0); // -0.0 == 0.0
        order.sort_by(|i, j| {
            let (p, q) = (key(i), key(j));
            (p[0].total_cmp(&q[0]))
                .then(p[1].total_cmp(&q[1]))
                .then(p[2].total_cmp(&q[2]))
        });
        for pair in order.windows(2) {
            if key(&pair[0]) == key(&pair[1]) {
                let (first, second) = (pair[0].min(pair[1]), pair[0].max(pair[1]));
                return Err(GeometryError::SamePosition {
                    first: first + 1,
                    second: second + 1,
                });
            }
        }
        Ok(Self { positions })
    }

    /// Parses a positions file's text: one electrode per line, in electrode order.
    ///
    /// Values are separated by whitespace or commas; `#` starts a comment; blank lines are
    /// skipped. Without a header, 3 values are `x y z`, 2 are `x z` (a profile with depth or
    /// elevation, y = 0) and 1 is `x`. An optional first line names the columns instead, e.g.
    /// `x,y,z` or `x z`. Every line must have as many values as the first.
    pub fn parse(text: &str) -> Result<Self, GeometryError> {
        positions::parse(text)
    }

    /// Reads a positions file (format of [`Geometry::parse`]); errors name the path.
    pub fn read_file(path: &Path) -> Result<Self, GeometryError> {
        let text = super::read_text_file(path, MAX_FILE_BYTES).map_err(|e| match e {
            Some(cause) => GeometryError::Read {
                path: path.to_path_buf(),
                cause,
            },
            None => GeometryError::TooLarge {
                path: path.to_path_buf(),
                limit: MAX_FILE_BYTES,
            },
        })?;
        Self::parse(&text).map_err(|error| GeometryError::File {
            path: path.to_path_buf(),
            error: Box::new(error),
        })
    }

    /// Number of electrodes.
    pub fn nelec(&self) -> u16 {
        // from_positions and line keep the count within u16.
        u16::try_from(self.positions.len()).unwrap_or(u16::MAX)
    }

    /// Position of electrode `e` (1-based); `None` for 0 or past the last electrode.
    pub fn position(&self, e: Electrode) -> Option<Position> {
        let index = usize::from(e).checked_sub(1)?;
        self.positions.get(index).copied()
    }

    /// All positions, electrode 1 first.
    pub fn positions(&self) -> &[Position] {
        &self.positions
    }

    /// True when every electrode is on the surface (z = 0).
    pub fn is_surface(&self) -> bool {
        self.positions.iter().all(|p| p[2] == 0.0)
    }

    /// The geometric factor of a quadrupole (m), signed (rho_a = k · R).
    ///
    /// Electrode 0 stands for a remote electrode (as in pyGIMLi files) and its terms are dropped.
    /// `None` when an electrode is past the last one or when k is not finite (the potential
    /// electrodes sit on an equipotential of the current dipole).
    pub fn k(&self, q: &Quadrupole) -> Option<f64> {
        let locate = |e: Electrode| -> Result<Option<Position>, ()> {
            if e == 0 {
                Ok(None)
            } else {
                self.position(e).map(Some).ok_or(())
            }
        };
        let a = locate(q.a).ok()?;
        let b = locate(q.b).ok()?;
        let m = locate(q.m).ok()?;
        let n = locate(q.n).ok()?;
        geometric_factor(a, b, m, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_positions() {
        let g = Geometry::line(4, 0.5).unwrap();
        assert_eq!(g.nelec(), 4);
        assert_eq!(g.position(1), Some([0.0, 0.0, 0.0]));
        assert_eq!(g.position(4), Some([1.5, 0.0, 0.0]));
        assert_eq!(g.position(0), None);
        assert_eq!(g.position(5), None);
        assert!(g.is_surface());
        assert!(matches!(
            Geometry::line(0, 1.0),
            Err(GeometryError::NoElectrode)
        ));
        for spacing in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                Geometry::line(4, spacing),
                Err(GeometryError::Spacing { .. })
            ));
        }
    }

    #[test]
    fn from_positions_refuses_what_the_formula_cannot_use() {
        let err = |p: Vec<Position>| Geometry::from_positions(p).unwrap_err().to_string();
        assert_eq!(err(vec![]), "no electrode position given");
        assert_eq!(
            err(vec![[0.0, 0.0, 0.0], [1.0, 0.0, f64::NAN]]),
            "electrode 2: the position has a coordinate that is not a finite number"
        );
        assert!(err(vec![[0.0, 0.0, -1.0], [1.0, 0.0, 0.5]])
            .starts_with("electrode 2: z = 0.5 m is above the ground surface"));
        assert_eq!(
            err(vec![
                [0.0, 0.0, -1.0],
                [1.0, 0.0, 0.0],
                [2.0, 0.0, 0.0],
                [1.0, 0.0, -0.0]
            ]),
            "electrodes 2 and 4 are at the same position"
        );
        assert!(matches!(
            Geometry::from_positions(vec![[0.0; 3]; 70_000]),
            Err(GeometryError::TooMany { count: 70_000 })
        ));
        let g = Geometry::from_positions(vec![[0.0, 0.0, -1.0], [0.0, 0.0, -2.0]]).unwrap();
        assert!(!g.is_surface());
        assert_eq!(g.positions().len(), 2);
    }

    #[test]
    fn k_uses_zero_as_remote_and_refuses_unknown_electrodes() {
        let g = Geometry::line(8, 1.0).unwrap();
        let pole_dipole = g.k(&Quadrupole::new(1, 0, 2, 3)).unwrap();
        assert!((pole_dipole - 4.0 * std::f64::consts::PI).abs() < 1e-12);
        assert_eq!(g.k(&Quadrupole::new(1, 9, 2, 3)), None);
        // M and N symmetric about the current dipole: no potential difference, no k.
        let g = Geometry::from_positions(vec![
            [-1.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 2.0, 0.0],
        ])
        .unwrap();
        assert_eq!(g.k(&Quadrupole::new(1, 2, 3, 4)), None);
    }

    #[test]
    fn read_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("elec.csv");
        std::fs::write(&path, "x,y,z\n0,0,0\n1,0,oops\n").unwrap();
        let text = Geometry::read_file(&path).unwrap_err().to_string();
        assert_eq!(
            text,
            format!(
                "{}: line 3: \"oops\" is not a finite number",
                path.display()
            )
        );
        std::fs::write(&path, "0 0\n1 -2\n").unwrap();
        let g = Geometry::read_file(&path).unwrap();
        assert_eq!(g.position(2), Some([1.0, 0.0, -2.0]));
        assert!(matches!(
            Geometry::read_file(&dir.path().join("none")),
            Err(GeometryError::Read { .. })
        ));
    }
}
