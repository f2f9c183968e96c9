//! The breach register's domain (PRODUCT.md C7): what Custos knows about a personal data
//! breach and what follows from it under Arts 33 and 34 GDPR.
//!
//! - [`record`]: the breach record, after the EDPB's common notification template, each answer
//!   marked as given by a person or derived by Custos, and its validation;
//! - [`rules`]: the legal parameters (72 hours, the risk threshold) as versioned data, with the
//!   Digital Omnibus proposal as a set that applies only from a date the operator configures;
//! - [`clock`]: the notification deadline, its reminders, and when a delay needs reasons;
//! - [`assess`]: Custos's proposal whether to notify the authority and the people affected,
//!   each step citing its article, tested against the EDPB's worked cases; a person decides;
//! - [`draft`]: the notification to the Autoriteit Persoonsgegevens, the letter to the people
//!   affected (Dutch and English) and a processor's notice to each controller.
//!
//! What it does not do: no I/O, no clock reads (the time is always an argument), no HTTP or SQL,
//! no sending. Storing the register, finding the affected subjects in the vault, the approval
//! gate and the delivery of drafts live with the vault and the server.

pub mod assess;
pub mod clock;
pub mod draft;
pub mod error;
pub mod record;
pub mod rules;

pub use error::{Error, Invalid};
