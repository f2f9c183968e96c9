//! The vocabulary every Custos crate shares, and nothing else: the identifier newtypes (so a
//! subject id cannot be passed where a record id is expected), the normal form of a person's
//! identifier, and the limits several crates must agree on. No I/O, no policy, no rules.

pub mod identifier;
pub mod ids;
pub mod limits;

pub use ids::{HoldId, InvalidId, Pseudonym, RecordId, RequestId, SubjectId, TenantId};
