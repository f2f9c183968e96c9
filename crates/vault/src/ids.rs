//! The identifier newtypes live in `custos-types` (every crate speaks them); the vault re-exports
//! them (`error.rs` turns an [`InvalidId`] into the vault's own error).

pub use custos_types::ids::{
    HoldId, InvalidId, Pseudonym, RecordId, RequestId, SubjectId, TenantId, hex,
};
