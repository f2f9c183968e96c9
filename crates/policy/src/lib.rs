//! The Custos policy language (PRODUCT.md C1): a TOML file in which a company writes down its
//! processing once. This crate reads it ([`load`]), checks it against the GDPR
//! ([`check::check`]), renders the public statement ([`render::render`]), compares versions
//! ([`diff::diff`]), and exports the Art. 30 record ([`ropa`]) and W3C DPV ([`dpv`]).
//!
//! The crate is pure: it reads no clock, opens no socket and touches the file system only in
//! [`SourceFile::read`]. Everything else is plain functions over plain data.

pub mod check;
pub mod diag;
pub mod diff;
pub mod dpv;
pub mod law;
pub mod model;
pub mod parse;
pub mod period;
pub mod render;
pub mod resolved;
pub mod ropa;
pub mod source;
pub mod text;

pub use diag::{Diagnostic, Severity};
pub use period::Period;
pub use resolved::Policy;
pub use source::{ReadError, SourceFile};
pub use text::{Lang, Text};

/// A policy read, parsed and resolved: the source (for diagnostics), the file as written (with
/// spans) and the resolved model.
#[derive(Debug)]
pub struct Loaded {
    /// The text, for pointing diagnostics at lines.
    pub source: SourceFile,
    /// The policy as written, with byte spans.
    pub file: model::PolicyFile,
    /// The resolved policy.
    pub policy: Policy,
}

/// Why a policy cannot be used at all (exit code 2 in the CLI).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The file was read but is not a valid policy: syntax, unknown keys, wrong types,
    /// undefined references, duplicate ids or cycles.
    #[error("{} is not a valid policy ({} error(s))", text.name(), diagnostics.len())]
    Invalid {
        /// The text, for rendering the diagnostics.
        text: SourceFile,
        /// What is wrong and where.
        diagnostics: Vec<Diagnostic>,
    },
}

/// Reads, parses and resolves the policy file at `path`.
pub fn load(path: &std::path::Path) -> Result<Loaded, LoadError> {
    load_source(SourceFile::read(path)?)
}

/// Parses and resolves a policy already in memory.
pub fn load_source(source: SourceFile) -> Result<Loaded, LoadError> {
    let file = match parse::parse(&source) {
        Ok(f) => f,
        Err(d) => return Err(LoadError::Invalid { text: source, diagnostics: vec![d] }),
    };
    match resolved::resolve(&file) {
        Ok(policy) => Ok(Loaded { source, file, policy }),
        Err(diagnostics) => Err(LoadError::Invalid { text: source, diagnostics }),
    }
}
