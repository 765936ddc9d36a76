//! Board code: drivers composed into OhmPi boards.

pub mod mb2023;
pub mod mb2024;
pub mod mux;
pub mod system;
