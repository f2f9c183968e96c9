//! The storage side of the server: the vault (records, erasure, audit trail) and the access
//! store (tenants, API keys), opened from the configuration, and how their errors become
//! problem documents.

use std::sync::Mutex;

use custos_access::{Access, AccessError};
use custos_vault::{MasterKey, StoreConfig, Vault, VaultError};

use crate::config::Config;
use crate::problem::{Code, Problem};

/// The vault and the access store.
pub struct Backend {
    /// Records, erasure, the audit trail.
    pub vault: Mutex<Vault>,
    /// Tenants and keys.
    pub access: Mutex<Access>,
}

/// Why the backend cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The vault.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The access store.
    #[error(transparent)]
    Access(#[from] AccessError),
}

/// Where the data lives, from the configuration's `database`.
pub fn store_config(config: &Config) -> StoreConfig {
    if config.database.starts_with("postgres://") || config.database.starts_with("postgresql://") {
        StoreConfig::Postgres {
            url: config.database.clone(),
            schema: config.schema.clone(),
            journal: config.journal.clone(),
        }
    } else {
        StoreConfig::Sqlite {
            path: config.database.clone().into(),
        }
    }
}

impl Backend {
    /// Opens the vault (failing loudly on a wrong master key) and the access store.
    pub fn open(config: &Config, master: MasterKey) -> Result<Backend, BackendError> {
        let store = store_config(config);
        let vault = Vault::open(&store, master)?;
        let access = match &store {
            StoreConfig::Sqlite { path } => Access::sqlite(path)?,
            StoreConfig::Postgres { url, schema, .. } => Access::postgres(url, schema)?,
        };
        Ok(Backend {
            vault: Mutex::new(vault),
            access: Mutex::new(access),
        })
    }
}

/// A vault error as a problem: the caller's mistakes are 4xx naming the field, storage trouble
/// is 503, anything else 500 (and logged).
pub fn vault_problem(e: &VaultError) -> Problem {
    match e {
        VaultError::UnknownCategory { .. } | VaultError::NeverStored { .. } => {
            Problem::new(Code::Unprocessable).field("/category", e.to_string())
        }
        VaultError::UnknownPurpose { .. } | VaultError::NoPurpose { .. } => {
            Problem::new(Code::Unprocessable).field("/purposes", e.to_string())
        }
        VaultError::EmptyClockName { .. } => {
            Problem::new(Code::Unprocessable).field("/clocks", e.to_string())
        }
        VaultError::InvalidId { kind, reason } => {
            Problem::new(Code::InvalidPath).field(*kind, *reason)
        }
        VaultError::RecordNotFound(_) | VaultError::KeyDestroyed(_) => {
            Problem::new(Code::NotFound).detail(e.to_string())
        }
        VaultError::Unavailable { .. } | VaultError::Storage { .. } => {
            tracing::error!(error = %e, "storage unavailable");
            Problem::new(Code::Unavailable)
                .detail("the database is unavailable; nothing was written")
        }
        other => {
            tracing::error!(error = %other, "vault error");
            Problem::new(Code::Internal).detail("an internal error occurred; it has been logged")
        }
    }
}

/// An access-store error as a problem.
pub fn access_problem(e: &AccessError) -> Problem {
    match e {
        AccessError::InvalidTenant(_) => {
            Problem::new(Code::InvalidBody).field("/id", e.to_string())
        }
        AccessError::TenantExists(_) => Problem::new(Code::Conflict).detail(e.to_string()),
        AccessError::NoSuchTenant(_) => Problem::new(Code::NotFound).detail(e.to_string()),
        AccessError::BadRole(_) => Problem::new(Code::InvalidBody).field("/role", e.to_string()),
        other => {
            tracing::error!(error = %other, "access store error");
            Problem::new(Code::Unavailable)
                .detail("the database is unavailable; nothing was written")
        }
    }
}
