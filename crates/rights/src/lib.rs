//! Data-subject rights (PRODUCT.md C5). This crate starts with the arithmetic every request
//! needs: when is the answer due?

pub mod access;
pub mod archive;
pub mod calendar;
pub mod deadline;
pub mod webhook;

pub use calendar::{Calendar, NlCalendar, WeekendsOnly};
pub use deadline::{Deadline, due_date, extension_notice_due};
