//! Diff.
use crate::Policy;
/// Report.
#[derive(Debug, serde::Serialize)]
pub struct Report {}
impl Report { /// Human.
 pub fn to_human(&self) -> String { String::new() } }
/// Diff.
pub fn diff(_old: &Policy, _new: &Policy) -> Report { Report {} }
