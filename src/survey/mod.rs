//! Surveys: quadrupoles, sequences (parse, validate, generate), geometry and the geometric
//! factor, the measurement record and exports to inversion software.
//!
//! Nothing here touches hardware or the network.

pub mod export;
pub mod generate;
pub mod geometry;
pub mod quad;
pub mod quality;
pub mod record;
pub mod sequence;

pub use geometry::Geometry;
pub use quad::{Electrode, QuadError, Quadrupole};
pub use quality::Quality;
pub use record::{Measurement, Record};
pub use sequence::{Sequence, SequenceError};
