//! Sealing the audit trail: a signed checkpoint at the head every `audit_checkpoint_seconds`
//! and at graceful shutdown (so after a clean stop the head is always covered), and every
//! checkpoint copied to the checkpoint file (`audit_checkpoint_file`), outside the database,
//! where an auditor verifies against it.

use std::sync::Mutex;

use custos_audit::published::CheckpointFile;

use crate::AppState;

/// The checkpoint file and how far it has been written.
pub(crate) struct Publisher {
    file: CheckpointFile,
    /// The highest seq in the file; `None` until the file was first read.
    published: Mutex<Option<u64>>,
}

impl Publisher {
    pub(crate) fn new(path: std::path::PathBuf) -> Self {
        Publisher {
            file: CheckpointFile::new(path),
            published: Mutex::new(None),
        }
    }

    /// The checkpoints in the file (none when it does not exist yet).
    pub(crate) fn read(&self) -> Result<Vec<custos_audit::Checkpoint>, custos_audit::AuditError> {
        if !self.file.path().exists() {
            return Ok(Vec::new());
        }
        self.file.read()
    }

    /// Copies the checkpoints not yet in the file to it.
    fn publish(&self, vault: &custos_vault::Vault) -> Result<(), String> {
        let mut published = self.published.lock().unwrap_or_else(|p| p.into_inner());
        let after = match *published {
            Some(seq) => seq,
            None => self.file.last_seq().map_err(|e| e.to_string())?,
        };
        let now = vault
            .publish_audit_checkpoints(&self.file, after)
            .map_err(|e| e.to_string())?;
        *published = Some(now);
        Ok(())
    }
}

/// Signs a checkpoint at the head when `sign` (and no checkpoint covers it yet), then
/// publishes what is new to the checkpoint file. Blocking; failures are logged, never fatal.
pub(crate) fn seal(state: &AppState, sign: bool, why: &'static str) {
    let Ok(b) = state.backend() else { return };
    let vault = b.vault();
    if sign {
        match vault.checkpoint_audit(jiff::Timestamp::now()) {
            Ok(Some(c)) => tracing::info!(seq = c.seq, why, "audit checkpoint signed"),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, why, "audit checkpoint failed"),
        }
    }
    if let Some(p) = &state.checkpoint_file
        && let Err(e) = p.publish(&vault)
    {
        tracing::error!(error = %e, path = %p.file.path().display(), why, "publishing audit checkpoints to the checkpoint file failed");
    }
}

/// The timer: publishes what the file lacks at once, then every `every` signs a checkpoint at
/// the head (`every` of `None`: only publishes, once a minute).
pub(crate) fn spawn(
    state: std::sync::Arc<AppState>,
    every: Option<std::time::Duration>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let s = state.clone();
        let _ = tokio::task::spawn_blocking(move || seal(&s, false, "startup")).await;
        let interval = every.unwrap_or(std::time::Duration::from_secs(60));
        crate::work::periodic(interval, move || seal(&state, every.is_some(), "timer")).await;
    })
}
