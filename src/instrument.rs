//! Assembling an instrument from its configuration: the system preset, the frontend (simulated
//! or real), the electrode geometry, the engine and the data store. Shared by every command
//! that measures, so each builds the same instrument the same way.

use std::path::PathBuf;

use crate::acquisition::{Engine, EngineOptions, Event};
use crate::clock::Clock;
use crate::config::{Config, ElectrodeLayout};
use crate::hardware::sim::{ClockKind, SimFrontend, SimProbe};
use crate::hardware::{Frontend, Preset, PresetError};
use crate::pump::Pump;
use crate::storage::{StorageError, Store};
use crate::survey::geometry::GeometryError;
use crate::survey::{Geometry, Sequence, SequenceError};

/// Why an instrument could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Preset(#[from] PresetError),
    #[error("electrode positions: {0}")]
    Geometry(GeometryError),
    #[error("the positions file gives {given} electrodes but the system {system} cables {needed}")]
    TooFewPositions {
        given: u16,
        needed: u16,
        system: String,
    },
    #[error("data directory: {0}")]
    Storage(StorageError),
    #[error(
        "hardware.simulate = false asks for real OhmPi boards, but this machine is not a \
         Raspberry Pi; set hardware.simulate = true (or --set hardware.simulate=true) to run on \
         the simulator"
    )]
    NotAPi,
    #[error("hardware.simulate = false (backend {backend}): {error}")]
    Boards {
        backend: &'static str,
        error: crate::hardware::real::OpenError,
    },
    #[error("cannot start the acquisition thread: {0}")]
    Thread(std::io::Error),
    #[error("sequence {origin}: {error}")]
    Sequence {
        origin: String,
        error: SequenceError,
    },
}

impl From<GeometryError> for SetupError {
    fn from(e: GeometryError) -> Self {
        Self::Geometry(e)
    }
}

impl From<StorageError> for SetupError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e)
    }
}

/// An assembled instrument, its engine running.
pub struct Instrument {
    pub config: Config,
    pub preset: Preset,
    pub geometry: Geometry,
    pub engine: Engine,
    pub events: rtrb::Consumer<Event>,
    /// Stores what the engine measures.
    pub pump: Pump,
    pub clock: Clock,
    /// The simulator's log of board commands (simulated instruments only).
    pub probe: Option<std::sync::Arc<SimProbe>>,
}

/// An instrument whose consumer side runs elsewhere.
pub struct Core {
    pub config: Config,
    pub preset: Preset,
    pub geometry: Geometry,
    pub engine: Engine,
    pub clock: Clock,
    pub data_dir: PathBuf,
}

/// The electrode geometry the configuration describes for `preset`.
pub fn geometry_for(config: &Config, preset: &Preset) -> Result<Geometry, SetupError> {
    let nelec = preset.nelec();
    match &config.acquisition.layout {
        ElectrodeLayout::Line { spacing } => Ok(Geometry::line(nelec, *spacing)?),
        ElectrodeLayout::File(path) => {
            let g = Geometry::read_file(path)?;
            if g.nelec() < nelec {
                return Err(SetupError::TooFewPositions {
                    given: g.nelec(),
                    needed: nelec,
                    system: preset.name.clone(),
                });
            }
            Ok(g)
        }
    }
}

/// Loads the system preset the configuration names.
pub fn preset_for(config: &Config) -> Result<Preset, SetupError> {
    Ok(Preset::load(
        &config.hardware.system,
        &config.hardware.presets_dirs,
    )?)
}

/// Checks every quadrupole of `sequence` against the system's cabling; errors name the line.
pub fn check_sequence(
    sequence: &Sequence,
    preset: &Preset,
    origin: &str,
) -> Result<(), SetupError> {
    sequence
        .check_each(|q| preset.check_quad(*q))
        .map_err(|error| SetupError::Sequence {
            origin: origin.to_string(),
            error,
        })
}

impl Instrument {
    /// Builds the instrument and starts its engine.
    pub fn open(config: Config) -> Result<Instrument, SetupError> {
        let preset = preset_for(&config)?;
        let geometry = geometry_for(&config, &preset)?;
        let store = Store::open(config.instrument.data_dir.clone())?;
        if !config.hardware.simulate {
            return Self::open_boards(config, preset, geometry, store);
        }
        let clock = match config.sim.clock {
            ClockKind::Real => Clock::real(),
            ClockKind::Virtual => Clock::virtual_clock(),
        };
        let sim = SimFrontend::new(&preset, geometry.clone(), config.sim.clone(), clock.clone());
        let probe = Some(sim.probe());
        tracing::info!(
            system = %preset.name,
            "simulated instrument: {} (data are flagged \"simulated\")",
            preset.description
        );
        Self::start(config, preset, geometry, store, clock, sim, probe)
    }

    /// The real boards of the preset, through the configured backend.
    fn open_boards(
        config: Config,
        preset: Preset,
        geometry: Geometry,
        store: Store,
    ) -> Result<Instrument, SetupError> {
        use crate::config::Backend;
        use crate::hardware::real;
        let backend = config.hardware.backend;
        let failed = |error| SetupError::Boards {
            backend: real::backend_name(backend),
            error,
        };
        tracing::info!(
            system = %preset.name,
            backend = real::backend_name(backend),
            "opening the boards of {}",
            preset.description
        );
        let clock = Clock::real();
        match backend {
            Backend::Rppal => {
                if !crate::config::running_on_raspberry_pi() {
                    return Err(SetupError::NotAPi);
                }
                let system = real::open_with(&preset, real::open_rppal_bus).map_err(failed)?;
                Self::start(config, preset, geometry, store, clock, system, None)
            }
            Backend::Linux => {
                let system = real::open_with(&preset, real::open_linux_bus).map_err(failed)?;
                Self::start(config, preset, geometry, store, clock, system, None)
            }
        }
    }

    fn start<F: Frontend + 'static>(
        config: Config,
        preset: Preset,
        geometry: Geometry,
        store: Store,
        clock: Clock,
        frontend: F,
        probe: Option<std::sync::Arc<SimProbe>>,
    ) -> Result<Instrument, SetupError> {
        let pump = Pump::open(store, config.mqtt.outbox_max_bytes)?;
        let options = EngineOptions {
            rt_priority: config.acquisition.rt_priority,
        };
        let (engine, events) = Engine::spawn(
            frontend,
            clock.clone(),
            geometry.clone(),
            config.acquisition.settings.clone(),
            options,
        )
        .map_err(SetupError::Thread)?;
        Ok(Instrument {
            config,
            preset,
            geometry,
            engine,
            events,
            pump,
            clock,
            probe,
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.pump.data_dir().to_path_buf()
    }

    /// Splits off the consumer side (event ring and pump), for a consumer on its own thread.
    pub fn into_parts(self) -> (Core, rtrb::Consumer<Event>, Pump) {
        let data_dir = self.data_dir();
        (
            Core {
                config: self.config,
                preset: self.preset,
                geometry: self.geometry,
                engine: self.engine,
                clock: self.clock,
                data_dir,
            },
            self.events,
            self.pump,
        )
    }
}
