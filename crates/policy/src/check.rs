//! The GDPR rule catalogue.
use serde::Serialize;
use crate::{Diagnostic, Loaded, Severity};

/// One rule of the catalogue.
#[derive(Debug, Serialize)]
pub struct Rule {
    /// Stable code.
    pub code: &'static str,
    /// Stable name.
    pub name: &'static str,
    /// Severity of its findings.
    pub severity: Severity,
    /// The article it enforces.
    pub article: &'static str,
    /// One-line explanation.
    pub summary: &'static str,
}

/// Every rule.
pub const RULES: &[Rule] = &[];

/// Checks a loaded policy against every rule.
pub fn check(_loaded: &Loaded) -> Vec<Diagnostic> {
    Vec::new()
}
