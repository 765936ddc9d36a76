//! (in progress)
pub struct Geometry;
