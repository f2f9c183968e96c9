//! The identifier newtypes live in `custos-types` (every crate speaks them); the vault re-exports
//! them, and turns an [`InvalidId`] into its own error.

pub use custos_types::ids::{
    HoldId, InvalidId, Pseudonym, RecordId, RequestId, SubjectId, TenantId, hex,
};

impl From<InvalidId> for crate::error::VaultError {
    fn from(e: InvalidId) -> Self {
        crate::error::VaultError::InvalidId {
            kind: e.kind,
            reason: e.reason,
        }
    }
}
