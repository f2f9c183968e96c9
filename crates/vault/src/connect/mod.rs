//! Connectors, the SQL (PRODUCT.md C10): Custos's jobs inside the company's own PostgreSQL,
//! MySQL/MariaDB or SQLite database, driven by a [`Plan`] the `custos-connect` rules built from
//! reviewed annotations.
//!
//! - **The walk.** From the subject's identifiers, every row that belongs to or mentions the
//!   subject is found by set-based statements into temporary key tables, repeated to a fixpoint:
//!   cycles, self-references, link tables, composite keys and time windows all reach their end,
//!   every statement carries the tenant predicate, and no statement binds more than a handful of
//!   values however many rows the subject has (the keys stay in the database).
//! - **Access** streams the rows found, one at a time, as records of the vault's own answer.
//! - **Erasure** runs in one transaction per database with lock and statement timeouts: mentions
//!   masked, kept rows' links cleared, owned rows deleted children first, then the walk is run
//!   again inside the transaction and must find nothing before it commits. `dry_run` does all of
//!   it but the writes and rolls back.
//! - **Purges** delete expired rows in key-range batches, one short transaction each.

mod datasets;
mod driver;
mod introspect;
mod jobs;
mod walk;

pub use custos_connect::Plan;
pub use datasets::{Dataset, DatasetHeld, Prepared, PurgeContext};
pub use driver::{Cell, Conn, Sql, open, quote, redacted};
pub use introspect::{introspect, sample};
pub use jobs::{
    AccessSummary, ErasureReceipt, HeldCount, Identities, PurgeReceipt, PurgeTable, TableCount,
    access, count_held, erase, erase_dry_run, expired_partitions, purge, replay_erasures,
};

/// Why a connector job failed. Nothing a job does is left half-done: every failure after the
/// job began rolled its transaction back.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The database cannot be reached or refused the login.
    #[error("the database {target} cannot be reached: {reason}")]
    Unavailable {
        /// Host, port and database; never the user or password.
        target: String,
        /// The driver's reason.
        reason: String,
    },
    /// An annotations file cannot be read or parsed.
    #[error("{message}")]
    Annotations {
        /// Where and what, as `custos check` prints it (file, line, column).
        message: String,
    },
    /// A configured dataset's annotations no longer fit its database or the policy (schema
    /// drift, a column gone, a category removed): nothing ran.
    #[error(
        "dataset `{dataset}` does not fit its database or the policy, so nothing ran there: {first}{more}; run `custos datasets check`"
    )]
    Drift {
        /// The dataset.
        dataset: String,
        /// The first finding, located (file, line, column).
        first: String,
        /// How many more there are, in words (empty when none).
        more: String,
    },
    /// The annotations do not fit the database or the policy.
    #[error("the dataset annotations do not fit the database or the policy ({} errors); nothing ran", .0.len())]
    Check(Vec<custos_policy::diag::Diagnostic>),
    /// Rows the job needs are locked by another transaction.
    #[error(
        "rows the job needs are locked by another transaction ({reason}); nothing was changed, run it again"
    )]
    Busy {
        /// The database's words.
        reason: String,
    },
    /// The database refused a statement; the job rolled back.
    #[error("the database refused a statement ({reason}); nothing was changed")]
    Statement {
        /// The database's words.
        reason: String,
    },
    /// After the erasure's deletes, rows of the subject remain.
    #[error(
        "after the erasure, {remaining} rows of the subject remain in {tables}; nothing was committed"
    )]
    Unverified {
        /// How many.
        remaining: u64,
        /// Which tables.
        tables: String,
    },
    /// Writing the answer failed.
    #[error(transparent)]
    Export(#[from] custos_rights::access::ExportError),
    /// The vault (its audit trail, its journal) failed.
    #[error(transparent)]
    Vault(#[from] crate::VaultError),
    /// A retention rule cannot be applied.
    #[error(transparent)]
    Retention(#[from] custos_retention::RetentionError),
}

impl ConnectorError {
    /// Its code in the error table (`docs/errors.md`).
    pub fn code(&self) -> custos_types::ErrorCode {
        use custos_types::ErrorCode as C;
        match self {
            ConnectorError::Unavailable { .. } => C::ConnectorUnavailable,
            ConnectorError::Check(_)
            | ConnectorError::Annotations { .. }
            | ConnectorError::Drift { .. } => C::DatasetCheckFailed,
            ConnectorError::Busy { .. } => C::ConnectorBusy,
            ConnectorError::Statement { .. } => C::ConnectorStatementFailed,
            ConnectorError::Unverified { .. } => C::ErasureUnverified,
            ConnectorError::Export(e) => e.code(),
            ConnectorError::Vault(e) => e.code(),
            ConnectorError::Retention(e) => e.code(),
        }
    }
}

impl From<ConnectorError> for crate::VaultError {
    fn from(e: ConnectorError) -> crate::VaultError {
        match e {
            ConnectorError::Vault(v) => v,
            other => crate::VaultError::Connector(Box::new(other)),
        }
    }
}
