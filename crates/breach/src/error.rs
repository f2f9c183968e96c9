//! The crate's one error type.

use serde::{Deserialize, Serialize};

/// One thing wrong with a breach record: where (a JSON pointer into the record as it is
/// serialized, e.g. `/aware_at`) and why, in words a privacy officer can act on. Never holds
/// the offending value: it may be personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invalid {
    /// JSON pointer to the field, e.g. `/occurred` or `/notification/follows`.
    pub field: String,
    /// What is wrong and what to do about it.
    pub reason: String,
}

impl Invalid {
    pub(crate) fn new(field: impl Into<String>, reason: impl Into<String>) -> Invalid {
        Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Everything this crate refuses. Each variant says which field and why, so the API can answer
/// with an RFC 9457 problem naming the field and the CLI with a readable line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A rule set (see [`crate::rules`]) that cannot be used as written.
    #[error("rule set: {field}: {reason}")]
    Rules {
        /// The field of the rule set, e.g. `notify_authority_hours`.
        field: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// No rule set in force on the asked date.
    #[error("rule set: {field}: {reason}")]
    NotInForce {
        /// Always `effective_from`: the field that decides which set is in force.
        field: String,
        /// Which date and what the earliest set is.
        reason: String,
    },
    /// A breach record that [`crate::record::Breach::validate`] refused.
    #[error("breach record: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Breach {
        /// Every problem found, not just the first.
        problems: Vec<Invalid>,
    },
    /// A person's decision that cannot be recorded as given.
    #[error("decision: {field}: {reason}")]
    Decision {
        /// The field of the decision, e.g. `by`.
        field: String,
        /// What is wrong and what to do.
        reason: String,
    },
}

impl From<Vec<Invalid>> for Error {
    fn from(problems: Vec<Invalid>) -> Error {
        Error::Breach { problems }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breach_error_lists_every_problem_with_its_field() {
        let err = Error::from(vec![
            Invalid::new("/aware_at", "lies in the future"),
            Invalid::new("/occurred", "ends before it starts"),
        ]);
        assert_eq!(
            err.to_string(),
            "breach record: /aware_at: lies in the future; /occurred: ends before it starts"
        );
    }
}
