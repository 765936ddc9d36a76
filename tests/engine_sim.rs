//! The engine on the simulated instrument (virtual clock unless said).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ohmpi::acquisition::{Command, Engine, EngineOptions, Event, Outcome, Settings};
use ohmpi::clock::Clock;
use ohmpi::hardware::sim::{ClockKind, SimConfig, SimFrontend};
use ohmpi::hardware::{Preset, DEFAULT_SYSTEM};
use ohmpi::survey::{Geometry, Measurement, Quadrupole};

fn wenner(nelec: u16, a: u16) -> Vec<Quadrupole> {
    (1..=nelec - 3 * a)
        .map(|e| Quadrupole::new(e, e + 3 * a, e + a, e + 2 * a))
        .collect()
}

fn run(sim: SimConfig, settings: Settings, seq: Vec<Quadrupole>) -> (Vec<Measurement>, Outcome) {
    let preset = Preset::load(DEFAULT_SYSTEM, &[]).unwrap();
    let clock = match sim.clock {
        ClockKind::Virtual => Clock::virtual_clock(),
        ClockKind::Real => Clock::real(),
    };
    let geom = Geometry::line(preset.nelec(), 1.0).unwrap();
    let fe = SimFrontend::new(&preset, geom.clone(), sim, clock.clone());
    let opts = EngineOptions { rt_priority: 0 };
    let (engine, mut events) = Engine::spawn(fe, clock, geom, settings, opts).unwrap();
    engine
        .try_send(Command::RunSequence {
            run: 1,
            sequence: Arc::from(seq),
            settings: None,
        })
        .unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "run did not end");
        match events.pop() {
            Ok(Event::Record { measurement, .. }) => out.push(measurement),
            Ok(Event::RunEnded { outcome, .. }) => return (out, outcome),
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

fn quiet() -> SimConfig {
    SimConfig {
        noise: false,
        clock: ClockKind::Virtual,
        ..SimConfig::default()
    }
}

#[test]
fn homogeneous_wenner_gives_rho() {
    let t = Instant::now();
    let (records, outcome) = run(quiet(), Settings::default(), wenner(32, 1));
    assert_eq!(outcome, Outcome::Completed);
    assert_eq!(records.len(), 29);
    for m in &records {
        let rhoa = m.rhoa_ohmm.unwrap();
        assert!((rhoa - 100.0).abs() < 0.1, "{m:?}");
    }
    eprintln!("{:?} {:?}", t.elapsed(), records[0]);
}
