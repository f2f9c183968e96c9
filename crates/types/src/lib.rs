//! The vocabulary every Custos crate shares, and nothing else: the identifier newtypes (so a
//! subject id cannot be passed where a record id is expected), the normal form of a person's
//! identifier, the limits several crates must agree on, and the table of error codes every
//! user-visible error is named by. No I/O, no policy, no rules.

pub mod error_code;
pub mod identifier;
pub mod ids;
pub mod limits;

pub use error_code::{ErrorCode, ErrorKind};
pub use ids::{HoldId, InvalidId, Pseudonym, RecordId, RequestId, SubjectId, TenantId};
