//! The sequence text formats: OhmPi text (`A B M N`, no header) and CSV with an `a,b,m,n` header.

use super::{Sequence, SequenceError};
use crate::survey::quad::{Electrode, Quadrupole};

/// How the data lines are laid out, decided by the first line that is not blank or a comment.
#[derive(Debug, Clone, Copy)]
struct Layout {
    comma: bool,
    /// `column[k]` is the column holding role k (A, B, M, N).
    column: [usize; 4],
}

const TEXT: Layout = Layout {
    comma: false,
    column: [0, 1, 2, 3],
};

pub(super) fn parse(text: &str) -> Result<Sequence, SequenceError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut layout: Option<Layout> = None;
    let mut quads = Vec::new();
    let mut lines = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let current = match layout {
            Some(current) => current,
            None => {
                let (detected, is_header) = detect(line, content)?;
                layout = Some(detected);
                if is_header {
                    continue;
                }
                detected
            }
        };
        let quad = row(line, content, current)?;
        quad.check_safe().map_err(|problem| SequenceError::Unsafe {
            line,
            quad,
            problem,
        })?;
        quads.push(quad);
        lines.push(line);
    }
    if quads.is_empty() {
        return Err(SequenceError::Empty);
    }
    Ok(Sequence { quads, lines })
}

fn fields(content: &str, comma: bool) -> Vec<&str> {
    if comma {
        content.split(',').map(str::trim).collect()
    } else {
        content.split_whitespace().collect()
    }
}

/// A header names columns: none of its fields is a number and one is a, b, m or n.
fn detect(line: usize, content: &str) -> Result<(Layout, bool), SequenceError> {
    let comma = content.contains(',');
    let names = fields(content, comma);
    let is_header =
        names.iter().all(|f| f.parse::<i64>().is_err()) && names.iter().any(|f| role(f).is_some());
    if !is_header {
        if comma {
            return Err(SequenceError::CommaWithoutHeader { line });
        }
        return Ok((TEXT, false));
    }
    let bad_header = || SequenceError::BadHeader {
        line,
        found: content.to_string(),
    };
    if names.len() != 4 {
        return Err(bad_header());
    }
    let mut column = [usize::MAX; 4];
    for (index, name) in names.iter().enumerate() {
        let k = role(name).ok_or_else(bad_header)?;
        if column[k] != usize::MAX {
            return Err(bad_header());
        }
        column[k] = index;
    }
    Ok((Layout { comma, column }, true))
}

fn role(name: &str) -> Option<usize> {
    ["a", "b", "m", "n"]
        .iter()
        .position(|r| r.eq_ignore_ascii_case(name))
}

fn row(line: usize, content: &str, layout: Layout) -> Result<Quadrupole, SequenceError> {
    if !layout.comma && content.contains(',') {
        return Err(SequenceError::CommaWithoutHeader { line });
    }
    let values = fields(content, layout.comma);
    if values.len() != 4 {
        return Err(SequenceError::FieldCount {
            line,
            found: values.len(),
        });
    }
    let mut e = [0; 4];
    for (k, &col) in layout.column.iter().enumerate() {
        e[k] = electrode(line, values[col])?;
    }
    Ok(Quadrupole::new(e[0], e[1], e[2], e[3]))
}

fn electrode(line: usize, text: &str) -> Result<Electrode, SequenceError> {
    match text.parse::<Electrode>() {
        Ok(e) if e > 0 => Ok(e),
        _ => Err(SequenceError::NotAnElectrode {
            line,
            text: text.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::survey::QuadError;

    fn q(a: u16, b: u16, m: u16, n: u16) -> Quadrupole {
        Quadrupole::new(a, b, m, n)
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn ohmpi_text_with_comments_and_blank_lines() {
        let seq = parse("# wenner\n\n1 4 2 3\n  2\t5 3 4   # trailing\r\n\n").unwrap();
        assert_eq!(seq.quads, [q(1, 4, 2, 3), q(2, 5, 3, 4)]);
        assert_eq!(seq.lines, [3, 4]);
    }

    #[test]
    fn csv_header_in_any_order_and_case() {
        let seq = parse("\u{feff}# exported\nM, N ,a,B\n3,4,1,2\n 5 ,6,1,2 # c\n").unwrap();
        assert_eq!(seq.quads, [q(1, 2, 3, 4), q(1, 2, 5, 6)]);
        assert_eq!(seq.lines, [3, 4]);
        // A header may also be whitespace separated.
        let seq = parse("A B M N\n1 2 3 4\n").unwrap();
        assert_eq!(seq.quads, [q(1, 2, 3, 4)]);
    }

    #[test]
    fn errors_name_the_line_and_what_was_found() {
        assert_eq!(
            error("1 2 3 4\n\n1 2 3\n"),
            "line 3: expected 4 electrode numbers, found 3"
        );
        assert_eq!(
            error("1 2 3 4 5\n"),
            "line 1: expected 4 electrode numbers, found 5"
        );
        assert_eq!(
            error("1 2 3 4\n1 2 x 4\n"),
            "line 2: \"x\" is not a positive integer (electrode numbers are 1 to 65535)"
        );
        assert!(error("0 1 2 3").starts_with("line 1: \"0\" is not a positive integer"));
        assert!(error("1 2 3 -4").starts_with("line 1: \"-4\" is not"));
        assert!(error("1 2 3 65536").starts_with("line 1: \"65536\" is not"));
        assert!(error("1 2 3 4.0").starts_with("line 1: \"4.0\" is not"));
        assert!(error("a,b,m,n\n1,,3,4").starts_with("line 2: \"\" is not"));
        assert_eq!(
            error("a,b,m,n\n1,2,3\n"),
            "line 2: expected 4 electrode numbers, found 3"
        );
        assert_eq!(
            error("1,2,3,4\n"),
            "line 1: comma-separated values need a header line `a,b,m,n` before them"
        );
        assert_eq!(
            error("1 2 3 4\n1,2,3,4\n"),
            "line 2: comma-separated values need a header line `a,b,m,n` before them"
        );
        assert_eq!(
            error("a,b,m,m\n"),
            "line 1: the header must name the columns a, b, m and n once each, found \"a,b,m,m\""
        );
        assert!(error("a,b,m,n,rho\n").starts_with("line 1: the header must name"));
        assert!(error("a,b,x,n\n").starts_with("line 1: the header must name"));
        assert_eq!(
            error("# nothing\n\n"),
            "the sequence has no quadrupole (only blank or comment lines)"
        );
        assert_eq!(error("a,b,m,n\n"), error(""));
    }

    #[test]
    fn unsafe_quadrupoles_are_refused_with_their_line() {
        let err = parse("1 2 3 4\n\n\n\n\n\n3 3 1 2\n").unwrap_err();
        assert!(matches!(
            err,
            SequenceError::Unsafe {
                line: 7,
                problem: QuadError::SameCurrentElectrodes(3),
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "line 7: A = B = 3: the current electrodes would short the supply"
        );
        assert!(error("1 2 4 4").starts_with("line 1: M = N = 4"));
        assert!(error("1 2 2 4").starts_with("line 1: electrode 2 is both"));
        assert!(error("a,b,m,n\n1,2,3,1").starts_with("line 2: electrode 1 is both"));
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC*") {
            let _ = parse(&text);
        }

        #[test]
        fn never_panics_on_sequence_like_text(text in "([0-9 ,#abmnABMN\\-x]{0,12}\n){0,6}") {
            let _ = parse(&text);
        }

        #[test]
        fn text_round_trip(raw in proptest::collection::vec((1u16.., 1u16.., 1u16.., 1u16..), 1..40)) {
            let quads: Vec<Quadrupole> = raw
                .into_iter()
                .map(|(a, b, m, n)| q(a, b, m, n))
                .filter(|quad| quad.check_safe().is_ok())
                .collect();
            prop_assume!(!quads.is_empty());
            let seq = Sequence::from_quads(quads.clone());
            let back = parse(&seq.to_text()).unwrap();
            prop_assert_eq!(back.quads, quads);
        }
    }
}
