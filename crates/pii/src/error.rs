//! The one error type of this crate.

/// Everything that can go wrong in `custos-pii`. No variant ever holds scanned text, so an
/// error message can be logged without leaking personal data.
#[derive(Debug, thiserror::Error)]
pub enum PiiError {
    /// A type name that is not one of [`crate::EntityType::ALL`].
    #[error("unknown PII type `{0}`; expected one of: {list}", list = crate::EntityType::names().join(", "))]
    UnknownType(String),
    /// An operator name that [`crate::Operator::parse`] does not know.
    #[error(
        "unknown operator `{0}`; expected redact, mask[:N], replace, hash, truncate-ip or generalize"
    )]
    UnknownOperator(String),
    /// A keyed pseudonym was asked for without a key.
    #[error("the hash operator needs a non-empty key (set CUSTOS_PII_KEY or pass --key-file)")]
    EmptyKey,
    /// k-anonymity with k = 0 would publish everything and is almost certainly a mistake.
    #[error("k must be at least 1 for the k-anonymity gate (got 0)")]
    InvalidK,
    /// The streaming scanner needs room for at least a few characters per chunk.
    #[error("chunk size {0} is too small; use at least 64 bytes")]
    ChunkTooSmall(usize),
    /// Reading the input stream failed.
    #[error("reading input: {0}")]
    Io(#[from] std::io::Error),
}

impl PiiError {
    /// Its code in the error table (`docs/errors.md`): a flag that cannot be used, or input that
    /// cannot be read.
    pub fn code(&self) -> custos_types::ErrorCode {
        match self {
            PiiError::UnknownType(_)
            | PiiError::UnknownOperator(_)
            | PiiError::EmptyKey
            | PiiError::InvalidK
            | PiiError::ChunkTooSmall(_) => custos_types::ErrorCode::InvalidArgument,
            PiiError::Io(_) => custos_types::ErrorCode::FileError,
        }
    }
}
