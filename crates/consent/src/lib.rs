//! Consent and processing decisions (PRODUCT.md C6): the consent ledger (append-only; the
//! current state is derived), the marketing suppression list (keyed hashes only), Global
//! Privacy Control, and the decision call every app makes before it processes personal data.
//! Pure functions over plain data; the time is an argument.

pub mod decision;
pub mod ledger;
pub mod suppression;

/// The normal form of a person's identifier (it lives in `custos-types`, shared with subject ids).
pub use custos_types::identifier;
pub use decision::{Decision, DecisionInput, Reason, decide};
pub use ledger::{ConsentEntry, ConsentError, ConsentKind, ConsentState, state};
pub use suppression::SuppressionKey;
