//! Exports of measured data to inversion software: the pyGIMLi/BERT unified data format and the
//! R2/ResIPy `protocol.dat`.
//!
//! This module owns only the file layouts: it writes what it is given to any [`Write`], with
//! numbers at full precision (shortest text that reads back to the same `f64`) and R signed as
//! measured. Choosing the rows (skipping quadrupoles with no R, merging reciprocals) is the
//! caller's business.

use std::fmt;
use std::io::{self, Write};

use super::quad::Electrode;
use super::Geometry;

/// One measured quadrupole, as the exports need it. Units as in the survey files.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExportRow {
    pub a: Electrode,
    pub b: Electrode,
    pub m: Electrode,
    pub n: Electrode,
    /// Transfer resistance R = Vmn/Iab in Ω, signed as measured.
    pub r_ohm: f64,
    /// Standard deviation of R, in % of |R|.
    pub r_std_pct: Option<f64>,
    /// Injected current in mA.
    pub iab_ma: Option<f64>,
    /// Measured voltage in mV, signed like R.
    pub vmn_mv: Option<f64>,
    /// Geometric factor in m (not written: pyGIMLi computes its own from the positions).
    pub k_m: Option<f64>,
    /// Apparent resistivity in Ω·m (not written, for the same reason).
    pub rhoa_ohmm: Option<f64>,
}

/// A number as short as possible while reading back exactly; exponent form when very small or
/// very large (Rust's plain `{}` would write 1e-20 with twenty zeros).
struct Num(f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0 + 0.0; // no "-0"
        let magnitude = x.abs();
        if magnitude == 0.0 || (1e-5..1e16).contains(&magnitude) {
            write!(f, "{x}")
        } else {
            write!(f, "{x:e}")
        }
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// Refuses rows the readers would drop or misread: electrode 0 or past `nelec`, R not finite.
fn check(rows: &[ExportRow], nelec: Option<u16>) -> io::Result<()> {
    for (i, row) in rows.iter().enumerate() {
        for e in [row.a, row.b, row.m, row.n] {
            if e == 0 || nelec.is_some_and(|nelec| e > nelec) {
                let range = nelec.map_or(String::new(), |nelec| format!(" (1 to {nelec})"));
                return Err(invalid(format!(
                    "export row {}: electrode {e} is not in the geometry{range}",
                    i + 1
                )));
            }
        }
        if !row.r_ohm.is_finite() {
            return Err(invalid(format!(
                "export row {}: R = {} is not a finite number",
                i + 1,
                row.r_ohm
            )));
        }
    }
    Ok(())
}

/// An optional pyGIMLi column: its token and its value for a row, in pyGIMLi's units.
type Column = (&'static str, fn(&ExportRow) -> Option<f64>);

const OPTIONAL_COLUMNS: [Column; 3] = [
    ("err", |r| r.r_std_pct.map(|v| v / 100.0)),
    ("i", |r| r.iab_ma.map(|v| v / 1000.0)),
    ("u", |r| r.vmn_mv.map(|v| v / 1000.0)),
];

/// Writes the pyGIMLi/BERT unified data format:
///
/// ```text
/// <number of electrodes>
/// # x y z
/// <x y z of each electrode>
/// <number of data>
/// # a b m n r [err] [i] [u]
/// <one row per quadrupole>
/// 0
/// ```
///
/// Electrodes are 1-based, `r` is R in Ω, signed as measured (pyGIMLi drops rows whose
/// apparent resistivity is not positive, and k·R > 0 only with the measured sign). The optional
/// columns are written only when every row has a finite value for them, because the format has
/// no missing-value marker (a short row reads as 0, which pyGIMLi would take as a zero error or
/// current): `err` = r_std / 100 (relative), `i` = Iab in A, `u` = Vmn in V. The final `0` is
/// the number of topography points. Rows with an electrode outside the geometry or a
/// non-finite R are refused (`InvalidInput`) before anything is written.
pub fn write_pygimli(rows: &[ExportRow], geom: &Geometry, out: &mut impl Write) -> io::Result<()> {
    check(rows, Some(geom.nelec()))?;
    let every = |(_, value): &Column| {
        rows.iter()
            .all(|row| value(row).is_some_and(f64::is_finite))
    };
    let columns: Vec<&Column> = OPTIONAL_COLUMNS.iter().filter(|c| every(c)).collect();

    writeln!(out, "{}", geom.nelec())?;
    writeln!(out, "# x y z")?;
    for p in geom.positions() {
        writeln!(out, "{} {} {}", Num(p[0]), Num(p[1]), Num(p[2]))?;
    }
    writeln!(out, "{}", rows.len())?;
    if !rows.is_empty() {
        write!(out, "# a b m n r")?;
        for (name, _) in &columns {
            write!(out, " {name}")?;
        }
        writeln!(out)?;
    }
    for row in rows {
        write!(
            out,
            "{} {} {} {} {}",
            row.a,
            row.b,
            row.m,
            row.n,
            Num(row.r_ohm)
        )?;
        for (_, value) in &columns {
            // Every row has the value: the column was kept only then.
            write!(out, " {}", Num(value(row).unwrap_or(f64::NAN)))?;
        }
        writeln!(out)?;
    }
    writeln!(out, "0")
}

/// Writes an R2 `protocol.dat` (the layout ResIPy writes): the number of rows, then one line
/// `index a b m n R` per row, index from 1, R in Ω signed as measured.
///
/// R2 names the columns P+ P− C+ C−; by reciprocity R(C+C−P+P−) = R(P+P−C+C−), so `a b m n`
/// in either role gives the same R. Rows with electrode 0 or a non-finite R are refused
/// (`InvalidInput`) before anything is written.
pub fn write_protocol(rows: &[ExportRow], out: &mut impl Write) -> io::Result<()> {
    check(rows, None)?;
    writeln!(out, "{}", rows.len())?;
    for (i, row) in rows.iter().enumerate() {
        writeln!(
            out,
            "{} {} {} {} {} {}",
            i + 1,
            row.a,
            row.b,
            row.m,
            row.n,
            Num(row.r_ohm)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(a: u16, b: u16, m: u16, n: u16, r_ohm: f64) -> ExportRow {
        ExportRow {
            a,
            b,
            m,
            n,
            r_ohm,
            r_std_pct: None,
            iab_ma: None,
            vmn_mv: None,
            k_m: None,
            rhoa_ohmm: None,
        }
    }

    fn pygimli(rows: &[ExportRow], geom: &Geometry) -> String {
        let mut out = Vec::new();
        write_pygimli(rows, geom, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn pygimli_with_every_column() {
        let geom = Geometry::from_positions(vec![
            [0.0, 0.0, 0.0],
            [1.5, 0.0, 0.0],
            [3.0, 0.0, -0.25],
            [4.5, 0.0, 0.0],
            [6.0, 0.0, 0.0],
        ])
        .unwrap();
        let rows = [
            ExportRow {
                r_std_pct: Some(1.5),
                iab_ma: Some(20.0),
                vmn_mv: Some(-250.0),
                k_m: Some(-28.3),
                rhoa_ohmm: Some(353.7),
                ..row(1, 2, 3, 4, -12.5)
            },
            ExportRow {
                r_std_pct: Some(0.25),
                iab_ma: Some(5.0),
                vmn_mv: Some(1e-3),
                ..row(1, 5, 2, 3, 2e-4)
            },
        ];
        let want = "5\n# x y z\n0 0 0\n1.5 0 0\n3 0 -0.25\n4.5 0 0\n6 0 0\n\
                    2\n# a b m n r err i u\n\
                    1 2 3 4 -12.5 0.015 0.02 -0.25\n\
                    1 5 2 3 0.0002 0.0025 0.005 1e-6\n\
                    0\n";
        assert_eq!(pygimli(&rows, &geom), want);
    }

    #[test]
    fn pygimli_writes_only_columns_every_row_has() {
        let geom = Geometry::line(4, 1.0).unwrap();
        let rows = [
            ExportRow {
                r_std_pct: Some(2.0),
                iab_ma: Some(10.0),
                ..row(1, 2, 3, 4, 0.1 + 0.2)
            },
            ExportRow {
                iab_ma: Some(12.0),
                vmn_mv: Some(3.0),
                r_std_pct: Some(f64::NAN),
                ..row(4, 3, 2, 1, -1234567.0)
            },
        ];
        let want = "4\n# x y z\n0 0 0\n1 0 0\n2 0 0\n3 0 0\n\
                    2\n# a b m n r i\n\
                    1 2 3 4 0.30000000000000004 0.01\n\
                    4 3 2 1 -1234567 0.012\n\
                    0\n";
        assert_eq!(pygimli(&rows, &geom), want);
        assert_eq!(
            pygimli(&[], &geom),
            "4\n# x y z\n0 0 0\n1 0 0\n2 0 0\n3 0 0\n0\n0\n"
        );
    }

    #[test]
    fn protocol_rows() {
        let rows = [
            row(1, 2, 3, 4, -0.5),
            row(2, 3, 4, 5, 1e-7),
            row(3, 6, 4, 5, 3.25e17),
        ];
        let mut out = Vec::new();
        write_protocol(&rows, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "3\n1 1 2 3 4 -0.5\n2 2 3 4 5 1e-7\n3 3 6 4 5 3.25e17\n"
        );
    }

    #[test]
    fn bad_rows_are_refused_before_writing() {
        let geom = Geometry::line(4, 1.0).unwrap();
        let mut out = Vec::new();
        let err = write_pygimli(
            &[row(1, 2, 3, 4, 1.0), row(1, 2, 3, 5, 1.0)],
            &geom,
            &mut out,
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            err.to_string(),
            "export row 2: electrode 5 is not in the geometry (1 to 4)"
        );
        let err = write_protocol(&[row(1, 2, 3, 4, f64::INFINITY)], &mut out).unwrap_err();
        assert_eq!(
            err.to_string(),
            "export row 1: R = inf is not a finite number"
        );
        let err = write_protocol(&[row(0, 2, 3, 4, 1.0)], &mut out).unwrap_err();
        assert_eq!(
            err.to_string(),
            "export row 1: electrode 0 is not in the geometry"
        );
        assert!(out.is_empty());
    }

    #[test]
    fn numbers_read_back_exactly() {
        for x in [
            0.1,
            -2.5e-9,
            1.0 / 3.0,
            6.02214076e23,
            f64::MIN_POSITIVE,
            -7.0,
            1e16,
            9.99e15,
        ] {
            let text = Num(x).to_string();
            assert_eq!(text.parse::<f64>().unwrap(), x, "{text}");
        }
        assert_eq!(Num(-0.0).to_string(), "0");
        assert_eq!(Num(1e16).to_string(), "1e16");
        assert_eq!(Num(123.0).to_string(), "123");
    }
}
