//! The storage side of the server: the vault (records, erasure, audit trail) and the access
//! store (tenants, API keys), opened from the configuration, and how their errors become
//! problem documents.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use custos_access::AccessError;
use custos_vault::{Access, MasterKey, StoreConfig, Vault, VaultError};

use crate::config::Config;
use crate::problem::{Code, Problem};

/// The vault and the access store.
pub struct Backend {
    /// Records, erasure, the audit trail: one vault per database connection, a small pool.
    vaults: Vec<Mutex<Vault>>,
    next: AtomicUsize,
    /// SQLite has one writer at a time: writes queue on the first handle instead of spinning on
    /// the file lock (which costs hundreds of milliseconds at the tail).
    single_writer: bool,
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
        let size = config.pool_size.clamp(1, 64);
        let mut vaults = Vec::with_capacity(size);
        for _ in 1..size {
            vaults.push(Mutex::new(Vault::open(&store, master.clone())?));
        }
        vaults.push(Mutex::new(Vault::open(&store, master)?));
        let access = Access::open(&store)?;
        let single_writer = matches!(store, StoreConfig::Sqlite { .. });
        Ok(Backend {
            vaults,
            next: AtomicUsize::new(0),
            single_writer,
            access: Mutex::new(access),
        })
    }

    /// The vault connection for a write: on SQLite always the same one (writes queue in order),
    /// on PostgreSQL any.
    pub fn vault_for_write(&self) -> MutexGuard<'_, Vault> {
        if self.single_writer {
            self.vaults[0].lock().unwrap_or_else(|p| p.into_inner())
        } else {
            self.vault()
        }
    }

    /// The SQLite connection, if no one holds it right now (`None` on PostgreSQL or when busy):
    /// a short read can then run at once instead of being handed to the blocking pool.
    pub fn try_sqlite_vault(&self) -> Option<MutexGuard<'_, Vault>> {
        if self.single_writer {
            self.vaults[0].try_lock().ok()
        } else {
            None
        }
    }

    /// A vault connection: the first free one, else waits for one in turn.
    pub fn vault(&self) -> MutexGuard<'_, Vault> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.vaults.len();
        for i in 0..n {
            if let Ok(g) = self.vaults[(start + i) % n].try_lock() {
                return g;
            }
        }
        self.vaults[start % n]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

/// A vault error as a problem: the caller's mistakes are 4xx naming the field, storage trouble
/// is 503, anything else 500 (and logged).
pub fn vault_problem(e: &VaultError) -> Problem {
    match e {
        VaultError::UnknownCategory { .. } | VaultError::NeverStored { .. } => {
            Problem::new(Code::Unprocessable).field("/category", e.to_string())
        }
        VaultError::UnknownPurpose { .. }
        | VaultError::NoPurpose { .. }
        | VaultError::CategoryNotForPurpose { .. } => {
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
        VaultError::UnknownEvent { .. } | VaultError::EventScope { .. } => {
            Problem::new(Code::Unprocessable).field("/event", e.to_string())
        }
        VaultError::UnknownTier { .. } => {
            Problem::new(Code::Unprocessable).field("/tier", e.to_string())
        }
        VaultError::EventInFuture { .. } => {
            Problem::new(Code::Unprocessable).field("/at", e.to_string())
        }
        VaultError::UnknownSubject => Problem::new(Code::NotFound).field("/subject", e.to_string()),
        VaultError::UnknownTenant(_) => Problem::new(Code::NotFound).detail(format!(
            "{e}: store a record first; events act on stored data"
        )),
        VaultError::HoldNotFound(_) => Problem::new(Code::NotFound).detail(e.to_string()),
        VaultError::InvalidHold(_) => {
            Problem::new(Code::Unprocessable).field("/reason", e.to_string())
        }
        VaultError::Held { .. }
        | VaultError::ClockWentBack { .. }
        | VaultError::KeptByLaw { .. } => Problem::new(Code::Refused).detail(e.to_string()),
        VaultError::IdempotencyKeyReused => {
            Problem::new(Code::Unprocessable).field("Idempotency-Key", e.to_string())
        }
        VaultError::RetentionChanged | VaultError::Restricted(_) => {
            Problem::new(Code::Refused).detail(e.to_string())
        }
        VaultError::Request(r) => crate::requests::request_problem(r),
        VaultError::Recipient(r) => crate::recipients::recipient_problem(r),
        VaultError::Retention(r) => retention_problem(r),
        VaultError::Consent(c) => crate::consent::consent_problem(c),
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

/// A retention rule's refusal as a problem: 422 naming the field; the bounds of an override are
/// in both the reason and the detail.
fn retention_problem(e: &custos_retention::RetentionError) -> Problem {
    use custos_retention::RetentionError as R;
    let field = match e {
        R::UnknownCategory(_)
        | R::NeverStored(_)
        | R::NoOverride(_)
        | R::UnreadableOverride { .. } => "/category",
        R::OutOfBounds { .. } | R::Overflow(_) => "/period",
    };
    let p = Problem::new(Code::Unprocessable).field(field, e.to_string());
    match e {
        R::OutOfBounds { .. } => p.detail(e.to_string()),
        _ => p,
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
