//! RoPA.
use crate::{Lang, Policy};
/// Record.
#[derive(Debug, serde::Serialize)]
pub struct Record {}
impl Record { /// CSV.
 pub fn to_csv(&self) -> Result<String, String> { Ok(String::new()) } }
/// Record.
pub fn record(_p: &Policy, _l: Lang) -> Record { Record {} }
