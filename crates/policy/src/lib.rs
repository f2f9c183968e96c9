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
pub mod vocabulary;

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

impl LoadError {
    /// Its code in the error table (`docs/errors.md`): a policy that cannot be read or is not
    /// valid is input the operator fixes.
    pub fn code(&self) -> custos_types::ErrorCode {
        match self {
            LoadError::Read(e) => e.code(),
            LoadError::Invalid { .. } => custos_types::ErrorCode::InvalidPolicy,
        }
    }
}

/// Reads, parses and resolves the policy file at `path`.
///
/// Load a policy, check it against the GDPR (every finding with its article, line and column)
/// and render the public statement:
///
/// ```
/// use custos_policy::render::{Format, render};
/// use custos_policy::{Lang, Severity};
///
/// let path = std::path::Path::new(concat!(
///     env!("CARGO_MANIFEST_DIR"),
///     "/../../examples/policies/jbsync.toml"
/// ));
/// let loaded = custos_policy::load(path).expect("the example loads");
/// let findings = custos_policy::check::check(&loaded);
/// // The example keeps one gap of its statement: its cookies name no legal basis.
/// assert!(findings.iter().any(|d| d.severity == Severity::Error && d.code == "C101"));
/// let statement = render(&loaded.policy, Lang::Nl, Format::Markdown).expect("renders");
/// assert!(statement.contains("JBSync"));
/// ```
pub fn load(path: &std::path::Path) -> Result<Loaded, LoadError> {
    load_source(SourceFile::read(path)?)
}

/// Parses and resolves a policy already in memory.
pub fn load_source(source: SourceFile) -> Result<Loaded, LoadError> {
    let file = match parse::parse(&source) {
        Ok(f) => f,
        Err(d) => {
            return Err(LoadError::Invalid {
                text: source,
                diagnostics: vec![d],
            });
        }
    };
    match resolved::resolve(&file) {
        Ok(policy) => Ok(Loaded {
            source,
            file,
            policy,
        }),
        Err(diagnostics) => Err(LoadError::Invalid {
            text: source,
            diagnostics,
        }),
    }
}

/// The fuzz target's property (`fuzz/fuzz_targets/policy.rs`) run on stable over deterministic
/// mutations of the seed policies, so every `cargo test` exercises malformed input.
#[cfg(test)]
mod robustness {
    use super::*;

    const SEEDS: [&str; 6] = [
        include_str!("../../../examples/policies/jbsync.toml"),
        include_str!("../../../examples/policies/jetlink.toml"),
        include_str!("../../../examples/policies/jetstream.toml"),
        include_str!("../../../examples/policies/jifeline.toml"),
        include_str!("../../../examples/policies/webshop.toml"),
        include_str!("../../../examples/policies/saas.toml"),
    ];

    /// xorshift64*: deterministic, so a failure reproduces.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn mutate(rng: &mut Rng, text: &str) -> String {
        let mut bytes = text.as_bytes().to_vec();
        for _ in 0..=rng.below(4) {
            let at = rng.below(bytes.len());
            match rng.below(5) {
                0 => {
                    let end = (at + rng.below(200)).min(bytes.len());
                    bytes.drain(at..end);
                }
                1 => {
                    const SIGNIFICANT: &[u8] = b"[]{}\"'=.,\n#0 -x";
                    if let Some(b) = bytes.get_mut(at) {
                        *b = SIGNIFICANT[rng.below(SIGNIFICANT.len())];
                    }
                }
                2 => {
                    let end = (at + rng.below(400)).min(bytes.len());
                    let chunk = bytes[at..end].to_vec();
                    let to = rng.below(bytes.len());
                    bytes.splice(to..to, chunk);
                }
                3 => bytes.truncate(at),
                _ => {
                    let word: &[u8] = [
                        &b"\"P99999Y\""[..],
                        b"\"-1 days\"",
                        b"\"\"",
                        b"[[category]]\nid=\"x\"\nname=\"y\"\nparent=\"x\"\n",
                        b"\xc3\xa9",
                    ][rng.below(5)];
                    bytes.splice(at..at, word.iter().copied());
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn mutated_policies_never_panic_and_whatever_loads_renders() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut loaded_count = 0;
        for i in 0..3000 {
            let text = mutate(&mut rng, SEEDS[i % SEEDS.len()]);
            let source = SourceFile::new("mutated.toml", text);
            match load_source(source) {
                Ok(loaded) => {
                    loaded_count += 1;
                    for d in check::check(&loaded) {
                        let _ = d.render(&loaded.source);
                    }
                    for lang in Lang::ALL {
                        let offered = loaded.policy.meta.languages.contains(&lang);
                        for format in [render::Format::Markdown, render::Format::Html] {
                            match render::render(&loaded.policy, lang, format) {
                                Ok(_) => assert!(offered, "rendered in {lang}, not offered"),
                                Err(render::RenderError::LanguageNotOffered { .. }) => {
                                    assert!(!offered, "{lang} offered but refused")
                                }
                                Err(e) => panic!("renders: {e}"),
                            }
                        }
                    }
                    assert!(
                        diff::diff(&loaded.policy, &loaded.policy)
                            .changes
                            .is_empty()
                    );
                    let _ = dpv::export(&loaded.policy);
                }
                Err(LoadError::Invalid { text, diagnostics }) => {
                    assert!(!diagnostics.is_empty());
                    for d in diagnostics {
                        let _ = d.render(&text);
                    }
                }
                Err(LoadError::Read(e)) => panic!("in-memory source cannot fail to read: {e}"),
            }
        }
        assert!(
            loaded_count > 10,
            "mutations too destructive to exercise the checker: {loaded_count}"
        );
    }
}
