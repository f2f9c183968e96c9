//! Consent and processing decisions (PRODUCT.md C6, C7): the consent ledger (append-only; the
//! current state is derived) and what its proof may hold, the marketing suppression list (keyed
//! hashes only), Global Privacy Control, the approval gate's token, and the decision call every
//! app makes before it processes personal data. Pure functions over plain data; the time is an
//! argument.

pub mod approval;
pub mod decision;
pub mod ledger;
pub mod proof;
pub mod suppression;

/// The normal form of a person's identifier (it lives in `custos-types`, shared with subject ids).
pub use custos_types::identifier;
pub use decision::{Decision, DecisionInput, Reason, decide};
pub use ledger::{ConsentEntry, ConsentError, ConsentKind, ConsentState, state};
pub use suppression::SuppressionKey;

#[cfg(test)]
#[path = "../../../testkit/policies.rs"]
mod example_policies;
