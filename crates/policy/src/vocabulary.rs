//! The W3C Data Privacy Vocabulary (DPV 2.3) concepts Custos knows: the vendored list
//! `data/dpv-concepts.txt`. A policy may name only these (checked while it is resolved), and the
//! DPV export (`dpv.rs`) emits only these.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use crate::law;

const CONCEPTS: &str = include_str!("../data/dpv-concepts.txt");

fn concepts() -> &'static BTreeSet<&'static str> {
    static SET: OnceLock<BTreeSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        CONCEPTS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Every DPV concept Custos knows, for suggestions.
pub fn known_concepts() -> impl Iterator<Item = &'static str> {
    concepts().iter().copied()
}

/// Whether `name` (prefixed, e.g. `pd:EmailAddress`) is a DPV 2.3 concept Custos knows.
/// `loc:` names are valid for every location code Custos accepts.
pub fn is_known_concept(name: &str) -> bool {
    match name.strip_prefix("loc:") {
        Some(code) => law::zone(code).is_some(),
        None => concepts().contains(name),
    }
}
