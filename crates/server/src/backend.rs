//! The storage side of the server: the vault (records, erasure, audit trail) and the access
//! store (tenants, API keys), opened from the configuration.

use std::sync::{Condvar, Mutex, MutexGuard};

use custos_access::AccessError;
use custos_vault::{Access, MasterKey, StoreConfig, Vault, VaultError};

use crate::config::Config;

/// The vault and the access store.
pub struct Backend {
    /// Records, erasure, the audit trail: one vault per database connection, a small pool.
    vaults: Vec<Mutex<Vault>>,
    /// The connections no one holds (indices into `vaults`), and the signal that one came
    /// back: a caller waits for whichever is returned first, in turn, not for one in particular.
    idle: Mutex<Vec<usize>>,
    returned: Condvar,
    /// SQLite has one writer at a time: most writes (and the consent reads, which run in
    /// `IMMEDIATE` transactions) queue on the first handle. Writes of records prepare on any
    /// handle and commit in groups through the store's own turn to write (`store/sqlite.rs`).
    single_writer: bool,
    /// Tenants and keys.
    pub access: Mutex<Access>,
    /// Revocations through other servers, heard from PostgreSQL (`None` on SQLite).
    watch: Option<custos_vault::key_gate::KeyWatch>,
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
    /// A configured dataset's annotations cannot be read.
    #[error(transparent)]
    Dataset(#[from] crate::config::ConfigError),
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
        let datasets = std::sync::Arc::new(config.load_datasets()?);
        let size = config.pool_size.clamp(1, 64);
        let mut vaults = Vec::with_capacity(size);
        for _ in 1..size {
            vaults.push(Mutex::new(Vault::open(&store, master.clone())?));
        }
        vaults.push(Mutex::new(Vault::open(&store, master)?));
        let access = match vaults.first_mut().map(Mutex::get_mut) {
            Some(Ok(v)) => Access::open(&store)?.sealing_secrets_with(v),
            _ => Access::open(&store)?,
        };
        // The first connection replays the journal; a count above zero means a restored backup
        // (or a crash mid-erasure) was brought up to date: the operator's runbook looks for it.
        let replayed: usize = vaults
            .iter_mut()
            .map(|v| v.get_mut().map_or(0, |v| v.replayed_erasures()))
            .sum();
        if replayed > 0 {
            tracing::info!(
                replayed,
                "erasure journal replayed: erasures the database did not hold are carried out again"
            );
        }
        for v in &mut vaults {
            if let Ok(v) = v.get_mut() {
                v.set_datasets(datasets.clone());
            }
        }
        let single_writer = matches!(store, StoreConfig::Sqlite { .. });
        let watch = custos_vault::key_gate::KeyWatch::start(&store);
        Ok(Backend {
            watch,
            idle: Mutex::new((0..vaults.len()).rev().collect()),
            returned: Condvar::new(),
            vaults,
            single_writer,
            access: Mutex::new(access),
        })
    }

    /// Whether other servers may share this database (PostgreSQL): per-key limits and key
    /// revocation are then checked in the database (`limits.rs`), not in memory alone.
    pub fn shared(&self) -> bool {
        !self.single_writer
    }

    /// The epoch of revocations a cached key must have been checked in (see `limits.rs`), and
    /// whether revocations are heard now: always the same epoch and heard on SQLite, where this
    /// server revokes every key itself; on PostgreSQL the watch's, not heard while it cannot
    /// vouch for its connection, when every request must ask the database.
    pub fn revocations(&self) -> (u64, bool) {
        match &self.watch {
            None => (0, true),
            Some(w) => w.state(),
        }
    }

    /// The vault connection for a write: on SQLite always the same one (writes queue in order),
    /// on PostgreSQL any.
    pub fn vault_for_write(&self) -> Pooled<'_> {
        if self.single_writer {
            Pooled {
                guard: Some(self.vaults[0].lock().unwrap_or_else(|p| p.into_inner())),
                back_to: None,
            }
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

    /// A vault connection: an idle one, else the first one given back. On SQLite the writer's
    /// connection (the first) is taken last, so that the work which must run on it
    /// ([`Backend::vault_for_write`]) finds it free when another will do.
    pub fn vault(&self) -> Pooled<'_> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let i = loop {
            let other = if self.single_writer {
                idle.iter().rposition(|&i| i != 0)
            } else {
                idle.len().checked_sub(1)
            };
            match other.or_else(|| idle.iter().position(|&i| i == 0)) {
                Some(at) => break idle.swap_remove(at),
                None => idle = self.returned.wait(idle).unwrap_or_else(|p| p.into_inner()),
            }
        };
        drop(idle);
        Pooled {
            // Idle, so free, unless the SQLite writer holds it (it locks its connection
            // directly): then this waits for that write, as any reader of SQLite would.
            guard: Some(self.vaults[i].lock().unwrap_or_else(|p| p.into_inner())),
            back_to: Some((self, i)),
        }
    }
}

/// A vault connection taken from the pool, given back when dropped.
pub struct Pooled<'a> {
    guard: Option<MutexGuard<'a, Vault>>,
    back_to: Option<(&'a Backend, usize)>,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Vault;
    fn deref(&self) -> &Vault {
        self.guard
            .as_ref()
            .expect("a pooled connection is held until dropped")
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Vault {
        self.guard
            .as_mut()
            .expect("a pooled connection is held until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        if let Some((backend, i)) = self.back_to {
            backend
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(i);
            backend.returned.notify_one();
        }
    }
}
