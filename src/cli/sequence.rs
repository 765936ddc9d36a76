//! `ohmpi sequence generate` and `ohmpi sequence check`.

use std::path::Path;

use anyhow::{Context, Result};
use ohmpi::config::Config;
use ohmpi::instrument::{check_sequence, preset_for};
use ohmpi::survey::generate::{generate, Array, ArraySpec};
use ohmpi::survey::Sequence;

/// Parameters of `sequence generate`.
pub struct GenerateArgs<'a> {
    pub nelec: u16,
    pub array: &'a str,
    pub a: Option<u16>,
    pub n: Option<u16>,
    pub s: Option<u16>,
    pub reciprocal: bool,
}

/// The generated sequence in OhmPi text format, with a comment saying how it was made.
pub fn generate_text(args: &GenerateArgs) -> Result<(String, usize)> {
    let array: Array = args.array.parse()?;
    let takes = array.parameters();
    let value = |name: &str, given: Option<u16>| {
        if takes.contains(&name) {
            given.unwrap_or(1)
        } else {
            given.unwrap_or(0)
        }
    };
    let spec = ArraySpec {
        array,
        a: value("a", args.a),
        n: value("n", args.n),
        s: value("s", args.s),
    };
    let seq = generate(args.nelec, &[spec], args.reciprocal)?;
    let mut text = format!(
        "# {} on {} electrodes, a = 1..{}{}{}{}\n",
        array.name(),
        args.nelec,
        spec.a,
        if spec.n > 0 {
            format!(", n = 1..{}", spec.n)
        } else {
            String::new()
        },
        if spec.s > 0 {
            format!(", s = 1..{}", spec.s)
        } else {
            String::new()
        },
        if args.reciprocal {
            ", with reciprocals"
        } else {
            ""
        },
    );
    text.push_str(&seq.to_text());
    Ok((text, seq.len()))
}

/// Checks a sequence file: against `nelec` electrodes, or against the configured system's
/// cabling. Returns a one-line summary.
pub fn check(config: &Config, file: &Path, nelec: Option<u16>) -> Result<String> {
    let seq = Sequence::read_file(file)?;
    let origin = file.display().to_string();
    match nelec {
        Some(n) => {
            seq.validate(n).with_context(|| origin.clone())?;
            Ok(format!(
                "{origin}: {} quadrupoles, valid for {n} electrodes",
                seq.len()
            ))
        }
        None => {
            let preset = preset_for(config)?;
            seq.validate(preset.nelec())
                .with_context(|| origin.clone())?;
            check_sequence(&seq, &preset, &origin)?;
            Ok(format!(
                "{origin}: {} quadrupoles, valid on {} ({} electrodes)",
                seq.len(),
                preset.name,
                preset.nelec()
            ))
        }
    }
}
