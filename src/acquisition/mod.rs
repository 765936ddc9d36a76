//! Acquisition: the engine thread, the measurement of one quadrupole, statistics and timing.

pub mod settings;
