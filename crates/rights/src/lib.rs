//! Data-subject rights (PRODUCT.md C5): when a request's answer is due, which step a request
//! may take when, the purposes a withdrawal or an objection may name, what a subject's flags
//! mean for processing, and the answers (access and portability archives, what an erasure
//! keeps, what recipients are told under Art. 19). Pure: the vault stores requests and calls these rules.

pub mod access;
pub mod archive;
pub mod calendar;
pub mod deadline;
pub mod digest;
pub mod erasure;
pub mod recipients;
pub mod request;
pub mod webhook;

pub use calendar::{Calendar, NlCalendar, WeekendsOnly};
pub use deadline::{Deadline, due_date, extension_notice_due};

#[cfg(test)]
#[path = "../../../testkit/policies.rs"]
mod example_policies;
