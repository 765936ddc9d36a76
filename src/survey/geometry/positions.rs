//! The positions file: one electrode per line, `x y z`, `x z` or `x`, optionally under a header
//! naming the columns; whitespace or commas between values; `#` comments.

use super::{Geometry, GeometryError, Position};

/// Which coordinate each column holds (0 = x, 1 = y, 2 = z).
#[derive(Debug, Clone)]
struct Columns(Vec<usize>);

impl Columns {
    fn by_count(count: usize) -> Option<Self> {
        match count {
            1 => Some(Self(vec![0])),
            2 => Some(Self(vec![0, 2])),
            3 => Some(Self(vec![0, 1, 2])),
            _ => None,
        }
    }

    fn names(&self) -> String {
        self.0
            .iter()
            .map(|&c| ["x", "y", "z"][c])
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn fields(content: &str) -> Vec<&str> {
    if content.contains(',') {
        content.split(',').map(str::trim).collect()
    } else {
        content.split_whitespace().collect()
    }
}

fn coordinate(name: &str) -> Option<usize> {
    ["x", "y", "z"]
        .iter()
        .position(|c| c.eq_ignore_ascii_case(name))
}

/// A header: no field is a number. It must start with x and name each coordinate at most once.
fn header(line: usize, names: &[&str], content: &str) -> Result<Columns, GeometryError> {
    let bad = || GeometryError::BadHeader {
        line,
        found: content.to_string(),
    };
    let mut columns = Vec::with_capacity(names.len());
    for name in names {
        let c = coordinate(name).ok_or_else(bad)?;
        if columns.contains(&c) {
            return Err(bad());
        }
        columns.push(c);
    }
    if columns.first() != Some(&0) {
        return Err(bad());
    }
    Ok(Columns(columns))
}

pub(super) fn parse(text: &str) -> Result<Geometry, GeometryError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut columns: Option<Columns> = None;
    let mut positions: Vec<Position> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let values = fields(content);
        if columns.is_none() {
            if values.iter().all(|v| v.parse::<f64>().is_err()) {
                columns = Some(header(line, &values, content)?);
                continue;
            }
            columns = Some(
                Columns::by_count(values.len()).ok_or(GeometryError::Columns {
                    line,
                    expected: 3,
                    found: values.len(),
                    columns: "x y z, x z or x".to_string(),
                })?,
            );
        }
        let Some(layout) = &columns else { continue };
        if values.len() != layout.0.len() {
            return Err(GeometryError::Columns {
                line,
                expected: layout.0.len(),
                found: values.len(),
                columns: layout.names(),
            });
        }
        let mut position = [0.0; 3];
        for (value, &c) in values.iter().zip(&layout.0) {
            position[c] = match value.parse::<f64>() {
                Ok(v) if v.is_finite() => v,
                _ => {
                    return Err(GeometryError::NotANumber {
                        line,
                        text: value.to_string(),
                    })
                }
            };
        }
        if positions.len() == usize::from(u16::MAX) {
            return Err(GeometryError::TooMany {
                count: positions.len() + 1,
            });
        }
        positions.push(position);
    }
    Geometry::from_positions(positions)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn three_two_and_one_columns() {
        let g = parse("# borehole\n0 0 -1\n0, 0, -2.5  # deepest\n\n").unwrap();
        assert_eq!(g.positions(), &[[0.0, 0.0, -1.0], [0.0, 0.0, -2.5]]);
        let g = parse("0 0\n1.5 -0.5\n").unwrap();
        assert_eq!(g.positions(), &[[0.0, 0.0, 0.0], [1.5, 0.0, -0.5]]);
        let g = parse("0\n1e0\n2\r\n").unwrap();
        assert_eq!(g.positions(), &[[0.0; 3], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]]);
    }

    #[test]
    fn header_names_the_columns() {
        let g = parse("\u{feff}X,Z,Y\n1,-2,3\n").unwrap();
        assert_eq!(g.positions(), &[[1.0, 3.0, -2.0]]);
        let g = parse("x y\n1 2\n").unwrap();
        assert_eq!(g.positions(), &[[1.0, 2.0, 0.0]]);
        assert!(error("x,x\n").starts_with("line 1: a header names the columns"));
        assert!(error("z,x\n").starts_with("line 1: a header names the columns"));
        assert!(error("x,y,z,w\n").starts_with("line 1: a header names the columns"));
        assert_eq!(error("x,y,z\n"), "no electrode position given");
    }

    #[test]
    fn errors_name_the_line_and_what_was_found() {
        assert_eq!(
            error("0 0 0\n1 0\n"),
            "line 2: expected 3 values like the first line (x y z), found 2"
        );
        assert_eq!(
            error("# c\n0 0 0 0\n"),
            "line 2: expected 3 values like the first line (x y z, x z or x), found 4"
        );
        assert_eq!(
            error("0 0\n1 nan\n"),
            "line 2: \"nan\" is not a finite number"
        );
        assert_eq!(error("0,0\n1,\n"), "line 2: \"\" is not a finite number");
        assert!(error("0 0\n1 1\n").starts_with("electrode 2: z = 1 m is above the ground surface"));
        assert_eq!(
            error("0 -1\n0 -1\n"),
            "electrodes 1 and 2 are at the same position"
        );
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC*") {
            let _ = parse(&text);
        }

        #[test]
        fn never_panics_on_position_like_text(text in "([0-9 ,#xyzXYZ.e\\-]{0,14}\n){0,6}") {
            let _ = parse(&text);
        }

        #[test]
        fn round_trip(points in proptest::collection::vec(
            (-1e3f64..1e3, -1e3f64..1e3, -1e3f64..=0.0), 1..20))
        {
            let text: String = points.iter().map(|(x, y, z)| format!("{x} {y} {z}\n")).collect();
            if let Ok(g) = parse(&text) {
                let want: Vec<Position> = points.iter().map(|&(x, y, z)| [x, y, z]).collect();
                prop_assert_eq!(g.positions(), &want[..]);
            }
        }
    }
}
