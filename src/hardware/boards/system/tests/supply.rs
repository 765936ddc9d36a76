//! The engine on the composed boards with a DPH5005: the order of the supply's and the board's
//! writes around a discharge, when a discharge happens, and the Vab a record reports.

use super::model::{Bus, Journal, Step, Supply};
use super::*;
use crate::acquisition::{Command, Engine, EngineOptions, Event, Outcome, Settings, Strategy};
use crate::clock::Clock;
use crate::drivers::dph5005::{ONOFF, UOUT, U_SET};
use crate::survey::{Geometry, Measurement, Quality};

const DPH: &str = "mb_2024_1_X__4_mux_2024_dph5005";
/// The TX MCP23008 of the mb_2024 and its discharge-relay pin.
const TX_MCP: u8 = 0x21;
const DISCHARGE_PIN: u8 = 1 << 5;

/// A survey of `n` quadrupoles by the engine on the bus and supply models (virtual clock).
fn survey(settings: Settings, n: u16, supply: &Supply, journal: &Journal) -> Vec<Measurement> {
    let p = preset(DPH);
    let (board_bus, mux_bus) = (Bus::default(), Bus::default());
    board_bus.state().ground = Some((5.0, 300.0));
    board_bus.state().journal = Some(journal.clone());
    supply.state().journal = Some(journal.clone());
    let system = BoardSystem::open(&p, board_bus, mux_bus, Some(supply.clone())).unwrap();
    let geometry = Geometry::line(p.nelec(), 1.0).unwrap();
    let options = EngineOptions { rt_priority: 0 };
    let clock = Clock::virtual_clock();
    let (engine, mut events) = Engine::spawn(system, clock, geometry, settings, options).unwrap();
    let sequence: Vec<Quadrupole> = (1..=n)
        .map(|e| Quadrupole::new(e, e + 3, e + 1, e + 2))
        .collect();
    let run = Command::RunSequence {
        run: 1,
        sequence: sequence.into(),
        settings: None,
    };
    engine.try_send(run).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut records = Vec::new();
    let outcome = loop {
        assert!(std::time::Instant::now() < deadline, "no end of run");
        match events.pop() {
            Ok(Event::Record { measurement, .. }) => records.push(measurement),
            Ok(Event::Fault { error, .. }) => panic!("fault: {error}"),
            Ok(Event::RunEnded { outcome, .. }) => break outcome,
            Ok(_) => {}
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(1)),
        }
    };
    assert_eq!(outcome, Outcome::Completed);
    assert_eq!(records.len(), usize::from(n));
    records
}

/// Indices in `steps` where the discharge relay closes.
fn discharge_closes(steps: &[Step]) -> Vec<usize> {
    let mut closed = false;
    let mut at = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        if let Step::I2c(TX_MCP, bytes) = step {
            if let [0x0A, v] = bytes[..] {
                let now = v & DISCHARGE_PIN != 0;
                if now && !closed {
                    at.push(i);
                }
                closed = now;
            }
        }
    }
    at
}

/// Whether the supply's output is off at `index`: the last ONOFF write before it was 0.
fn output_off_at(steps: &[Step], index: usize) -> bool {
    steps[..index]
        .iter()
        .rev()
        .find_map(|s| match s {
            Step::Modbus(ONOFF, v) => Some(*v == 0),
            _ => None,
        })
        .unwrap_or(true)
}

/// Index of the last polarity-relay closing (a pulse) in `steps`.
fn last_pulse(steps: &[Step]) -> usize {
    steps
        .iter()
        .rposition(|s| matches!(s, Step::I2c(TX_MCP, b) if b.len() == 2 && b[0] == 0x0A && b[1] & 0b11 != 0))
        .expect("pulses")
}

#[test]
fn at_a_fixed_vab_the_supply_is_discharged_once_at_the_end_with_its_output_off() {
    let settings = Settings {
        strategy: Strategy::Fixed,
        vab_req: 20.0,
        ..Settings::default()
    };
    let (supply, journal) = (Supply::default(), Journal::default());
    let records = survey(settings, 3, &supply, &journal);
    let steps = journal.steps();
    let closes = discharge_closes(&steps);
    // No discharge between the quadrupoles: one, after the last pulse (the end of the run).
    assert_eq!(closes.len(), 1, "discharges at {closes:?}");
    assert!(closes[0] > last_pulse(&steps));
    assert!(
        output_off_at(&steps, closes[0]),
        "output on at the discharge"
    );
    // Few Modbus exchanges: U-SET once for the whole survey, one UOUT read per quadrupole.
    let sets = steps
        .iter()
        .filter(|s| matches!(s, Step::Modbus(U_SET, _)))
        .count();
    assert_eq!(sets, 1);
    let reads = supply.state().reads.clone();
    assert_eq!(
        reads.iter().filter(|r| **r == UOUT).count() - uout_by_health(&reads),
        3
    );
    for m in &records {
        assert_eq!(m.vab_v, 20.0);
        assert!(!m.quality.contains(Quality::CURRENT_LIMITED), "{m:?}");
    }
}

/// UOUT reads made for the state of health (each paired with a UIN read).
fn uout_by_health(reads: &[u16]) -> usize {
    reads
        .iter()
        .filter(|r| **r == crate::drivers::dph5005::UIN)
        .count()
}

#[test]
fn a_lower_vab_is_preceded_by_output_off_then_the_discharge() {
    // Vmax: test pulses at 5 V, then up to the limits (48 V here, from 5 mA at 5 V); the next
    // quadrupole's test pulses need 5 V again, less than the supply holds.
    let settings = Settings {
        strategy: Strategy::Vmax,
        vab_req: 5.0,
        ..Settings::default()
    };
    let (supply, journal) = (Supply::default(), Journal::default());
    let records = survey(settings, 3, &supply, &journal);
    assert!(records.iter().all(|m| m.vab_v > 40.0), "{records:?}");
    let steps = journal.steps();
    let closes = discharge_closes(&steps);
    // Before the second and third quadrupoles, and at the end.
    assert_eq!(closes.len(), 3, "discharges at {closes:?}");
    for &at in &closes {
        assert!(output_off_at(&steps, at), "output on at the discharge {at}");
        // Injection off as well.
        let tx = steps[..at].iter().rev().find_map(|s| match s {
            Step::I2c(TX_MCP, b) if b.len() == 2 && b[0] == 0x0A => Some(b[1]),
            _ => None,
        });
        assert_eq!(tx.map(|v| v & 0b11), Some(0));
    }
    // After each discharge in the run, the next set point is the lower one.
    for &at in &closes[..2] {
        let next = steps[at..].iter().find_map(|s| match s {
            Step::Modbus(U_SET, v) => Some(*v),
            _ => None,
        });
        assert_eq!(next, Some(500));
    }
}

#[test]
fn a_current_limited_supply_gives_vab_as_read_back() {
    let settings = Settings {
        strategy: Strategy::Fixed,
        vab_req: 20.0,
        ..Settings::default()
    };
    let (supply, journal) = (Supply::default(), Journal::default());
    // The supply measures 12.34 V at its output: its current limit holds it below 20 V.
    supply.state().uout = Some(1234);
    let records = survey(settings, 2, &supply, &journal);
    for m in &records {
        assert_eq!(m.vab_v, 12.34, "{m:?}");
        let rab = m.rab_kohm.unwrap();
        assert!((rab - 12.34 / 5.0).abs() < 1e-3, "Rab {rab}");
        assert!(m.quality.contains(Quality::CURRENT_LIMITED), "{m:?}");
    }
}
