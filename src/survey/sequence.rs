//! (in progress)
pub struct Sequence;
pub struct SequenceError;
