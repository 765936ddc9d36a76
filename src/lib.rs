pub mod acquisition;
pub mod config;
pub mod survey;
pub mod timestamp;
