//! DPV.
use crate::Policy;
/// Export.
pub fn export(_p: &Policy) -> serde_json::Value { serde_json::Value::Null }
