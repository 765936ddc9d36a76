//! `ohmpi survey`, `ohmpi measure`, `ohmpi rs-check`: run the engine on the configured instrument
//! until the run ends, storing as it goes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use ohmpi::acquisition::{Command, Outcome, RunId};
use ohmpi::config::Config;
use ohmpi::instrument::{check_sequence, preset_for, Instrument};
use ohmpi::pump::Output;
use ohmpi::survey::generate::{generate, ArraySpec};
use ohmpi::survey::{Quadrupole, Sequence};

use super::progress::Progress;
use super::signals;

const RUN: RunId = 1;

/// Sends `cmd` and drives events through the pump until the run ends.
fn drive(inst: &mut Instrument, cmd: Command, mut on: impl FnMut(&Output)) -> Result<Outcome> {
    inst.pump.register(RUN, None);
    inst.engine
        .try_send(cmd)
        .context("cannot hand the command to the engine")?;
    let mut interrupted = false;
    loop {
        if signals::stop_requested() && !interrupted {
            interrupted = true;
            eprintln!("\nstopping: injection off, relays open");
            let _ = inst.engine.try_send(Command::Interrupt);
        }
        match inst.events.pop() {
            Ok(event) => {
                if let Some(out) = inst.pump.handle(event)? {
                    on(&out);
                    if let Output::RunEnded { run, outcome, .. } = out {
                        if run == RUN {
                            return Ok(outcome);
                        }
                    }
                }
            }
            Err(_) => {
                if !inst.engine.is_running() {
                    bail!("the acquisition engine stopped unexpectedly");
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

fn report_fault(out: &Output) {
    if let Output::Fault { quad, error, .. } = out {
        match quad {
            Some(q) => eprintln!("\nfault at quadrupole {q}: {error}"),
            None => eprintln!("\nfault: {error}"),
        }
    }
}

/// The sequence to run: `--sequence`, else `acquisition.sequence`, else Wenner (a = 1) on every
/// cabled electrode.
fn sequence_for(
    config: &Config,
    nelec: u16,
    explicit: Option<&Path>,
) -> Result<(Sequence, String)> {
    let file = explicit
        .map(Path::to_path_buf)
        .or_else(|| config.acquisition.sequence.clone());
    match file {
        Some(path) => {
            let seq = Sequence::read_file(&path)?;
            Ok((seq, path.display().to_string()))
        }
        None => {
            let spec = ArraySpec::wenner(1);
            let seq = generate(nelec, &[spec], false)?;
            Ok((seq, format!("built-in Wenner a = 1 on {nelec} electrodes")))
        }
    }
}

pub fn survey(config: Config, sequence: Option<&Path>) -> Result<PathBuf> {
    let preset = preset_for(&config)?;
    let (seq, origin) = sequence_for(&config, preset.nelec(), sequence)?;
    if seq.is_empty() {
        bail!("sequence {origin} has no quadrupole");
    }
    check_sequence(&seq, &preset, &origin)?;
    let mut inst = Instrument::open(config)?;
    let total = seq.len() as u32;
    eprintln!(
        "survey: {total} quadrupoles from {origin} on {} ({})",
        inst.preset.name,
        if inst.config.hardware.simulate {
            "simulated"
        } else {
            "boards"
        }
    );
    let mut progress = Progress::new(total);
    let mut path = None;
    let cmd = Command::RunSequence {
        run: RUN,
        sequence: Arc::from(seq.quads().to_vec()),
        settings: None,
    };
    let outcome = drive(&mut inst, cmd, |out| match out {
        Output::SurveyOpened { path: p, .. } => path = Some(p.clone()),
        Output::Record(r, _) => progress.record(r),
        Output::Progress { done, eta_s, .. } => progress.update(*done, *eta_s),
        other => report_fault(other),
    })?;
    progress.finish();
    let path = path.context("the survey produced no file")?;
    match outcome {
        Outcome::Completed => Ok(path),
        Outcome::Interrupted => {
            println!("{}", path.display());
            bail!(
                "survey interrupted; the rows measured so far are in {}",
                path.display()
            )
        }
        Outcome::Failed => {
            println!("{}", path.display());
            bail!("survey stopped by repeated hardware faults; see the messages above")
        }
    }
}

pub fn measure(config: Config, quad: Quadrupole) -> Result<String> {
    let preset = preset_for(&config)?;
    preset
        .check_quad(quad)
        .with_context(|| format!("quadrupole {quad}"))?;
    let mut inst = Instrument::open(config)?;
    let mut record = None;
    let outcome = drive(
        &mut inst,
        Command::Measure {
            run: RUN,
            quad,
            settings: None,
        },
        |out| match out {
            Output::Record(r, _) => record = Some(r.clone()),
            other => report_fault(other),
        },
    )?;
    match (outcome, record) {
        (Outcome::Completed, Some(r)) => Ok(serde_json::to_string(&r)?),
        (Outcome::Interrupted, _) => bail!("measurement interrupted"),
        _ => bail!("the measurement failed; see the messages above"),
    }
}

pub fn rs_check(config: Config, vab: f64) -> Result<PathBuf> {
    if !(vab.is_finite() && vab > 0.0) {
        bail!("--vab must be a positive voltage, got {vab}");
    }
    let mut inst = Instrument::open(config)?;
    let n = inst.preset.nelec();
    let pairs: Vec<(u16, u16)> = (1..n).map(|e| (e, e + 1)).collect();
    let mut progress = Progress::new(pairs.len() as u32);
    let mut path = None;
    let outcome = drive(
        &mut inst,
        Command::RsCheck {
            run: RUN,
            pairs: Arc::from(pairs),
            vab,
        },
        |out| match out {
            Output::Contact { contact, .. } => {
                let rs = contact
                    .rs_kohm
                    .map(|r| format!("{r:.3} kOhm"))
                    .unwrap_or_else(|| "no current (open contact?)".into());
                println!("{} {} {rs}", contact.a, contact.b);
            }
            Output::Progress { done, eta_s, .. } => progress.update(*done, *eta_s),
            Output::SurveyClosed { files, .. } => path = files.first().cloned(),
            other => report_fault(other),
        },
    )?;
    progress.finish();
    if outcome != Outcome::Completed {
        bail!("contact check did not complete ({outcome:?})");
    }
    path.context("the contact check produced no file")
}
