//! Board code: drivers composed into OhmPi boards.

pub mod mb2024;
pub mod mux;
