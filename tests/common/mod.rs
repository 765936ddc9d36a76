//! Shared helpers: run the engine on the simulator and collect what it reports; a broker, the
//! daemon and an MQTT client for the messaging tests.
#![allow(dead_code)]

pub mod certs;
pub mod mqtt;
pub mod ws;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ohmpi::acquisition::{Command, Engine, EngineOptions, Event, Outcome, Settings};
use ohmpi::clock::Clock;
use ohmpi::hardware::sim::{ClockKind, SimConfig, SimFrontend, SimProbe};
use ohmpi::hardware::{Frontend, Preset};
use ohmpi::survey::generate::{generate, ArraySpec};
use ohmpi::survey::{Geometry, Measurement, Quadrupole};

pub const BATTERY_SYSTEM: &str = "mb_2024_1_X__4_mux_2024_batt";

/// Everything a run reported.
#[derive(Debug, Default)]
pub struct RunLog {
    pub records: Vec<Measurement>,
    pub events: Vec<Event>,
    pub outcome: Option<Outcome>,
}

/// A simulated instrument with its engine running.
pub struct SimRig {
    pub engine: Engine,
    pub events: rtrb::Consumer<Event>,
    pub clock: Clock,
    pub probe: Arc<SimProbe>,
}

pub fn quiet() -> SimConfig {
    SimConfig {
        noise: false,
        clock: ClockKind::Virtual,
        ..SimConfig::default()
    }
}

pub fn rig_with<F: Frontend + 'static>(
    frontend: F,
    clock: Clock,
    geometry: Geometry,
    settings: Settings,
    probe: Arc<SimProbe>,
) -> SimRig {
    let opts = EngineOptions { rt_priority: 0 };
    let (engine, events) =
        Engine::spawn(frontend, clock.clone(), geometry, settings, opts).unwrap();
    SimRig {
        engine,
        events,
        clock,
        probe,
    }
}

pub fn rig(system: &str, sim: SimConfig, geometry: Option<Geometry>, settings: Settings) -> SimRig {
    let preset = Preset::load(system, &[]).unwrap();
    let clock = match sim.clock {
        ClockKind::Virtual => Clock::virtual_clock(),
        ClockKind::Real => Clock::real(),
    };
    let geometry = geometry.unwrap_or_else(|| Geometry::line(preset.nelec(), 1.0).unwrap());
    let fe = SimFrontend::new(&preset, geometry.clone(), sim, clock.clone());
    let probe = fe.probe();
    rig_with(fe, clock, geometry, settings, probe)
}

impl SimRig {
    /// Collects events until the run ends (bounded).
    pub fn collect(&mut self) -> RunLog {
        let mut log = RunLog::default();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            assert!(Instant::now() < deadline, "run did not end in time");
            match self.events.pop() {
                Ok(Event::Record { measurement, .. }) => log.records.push(measurement),
                Ok(Event::RunEnded { outcome, .. }) => {
                    log.outcome = Some(outcome);
                    return log;
                }
                Ok(e) => log.events.push(e),
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    pub fn run_sequence(&mut self, seq: &[Quadrupole], settings: Option<Settings>) -> RunLog {
        self.engine
            .try_send(Command::RunSequence {
                run: 1,
                sequence: Arc::from(seq.to_vec()),
                settings: settings.map(Box::new),
            })
            .unwrap();
        self.collect()
    }
}

pub fn sequence(nelec: u16, spec: ArraySpec) -> Vec<Quadrupole> {
    generate(nelec, &[spec], false).unwrap().quads().to_vec()
}

pub fn run(system: &str, sim: SimConfig, settings: Settings, seq: &[Quadrupole]) -> RunLog {
    rig(system, sim, None, settings.clone()).run_sequence(seq, Some(settings))
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}
