//! (being written)

pub mod cap;
