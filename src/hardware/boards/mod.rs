//! Board code: drivers composed into OhmPi boards.

pub mod mux;
