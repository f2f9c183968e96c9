//! Connectors, the rules (PRODUCT.md C10): Custos reaches personal data where the product keeps
//! it, in the company's own PostgreSQL, MySQL/MariaDB or SQLite database.
//!
//! - [`schema`]: the live schema as read from the database (the vault's connector layer reads
//!   it; nothing here opens a connection);
//! - [`annotations`]: the reviewed TOML file that maps tables and columns onto the policy;
//! - [`check`]: what must hold before anything runs (schema drift, masks that break
//!   constraints, references from outside the plan, cascades into statutory retention);
//! - [`plan`]: the annotations resolved into the walk an access answer follows and the order an
//!   erasure deletes in;
//! - [`identity`]: how the subject's identifiers are compared with what the columns hold;
//! - [`propose`]: the first draft of the annotations, from the schema and sampled values.
//!
//! How to annotate, check and run: `docs/connectors.md`.

pub mod annotations;
pub mod check;
pub mod identity;
pub mod plan;
pub mod propose;
pub mod schema;

pub use annotations::Annotations;
pub use plan::Plan;
pub use schema::Schema;
