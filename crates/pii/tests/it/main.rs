//! The scanner judged as a user would: accuracy on labelled text, robustness on hostile input.
//! One test binary for the crate: add modules here rather than files in `tests/`.

mod accuracy;
mod robustness;
