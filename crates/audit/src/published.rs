//! The checkpoint file: every signed checkpoint, appended as one JSON line
//! (`{"seq":…,"hash":"hex","at":"…","signature":"hex"}`), kept outside the database. Someone who
//! can write the database can delete entries and checkpoints, but not this copy: verification
//! against it (`custos audit verify --checkpoints FILE`) catches a cut tail or a deleted
//! checkpoint that the database alone cannot show.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::AuditError;
use crate::chain::Checkpoint;
use crate::store::Store;

/// A checkpoint file (it need not exist yet).
#[derive(Debug, Clone)]
pub struct CheckpointFile {
    path: PathBuf,
}

impl CheckpointFile {
    /// The file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CheckpointFile { path: path.into() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, reason: impl Into<String>) -> AuditError {
        AuditError::CheckpointFile {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }

    /// Every checkpoint in the file, in file order. A missing file is an error (an auditor who
    /// names a file expects it); blank lines are skipped; any other line that is not a
    /// checkpoint is an error naming the line.
    pub fn read(&self) -> Result<Vec<Checkpoint>, AuditError> {
        let text = std::fs::read_to_string(&self.path).map_err(|e| self.error(e.to_string()))?;
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let c: Checkpoint = serde_json::from_str(line).map_err(|e| {
                self.error(format!(
                    "line {}: not a checkpoint ({e}); each line is {{\"seq\", \"hash\", \"at\", \"signature\"}}",
                    i + 1
                ))
            })?;
            out.push(c);
        }
        Ok(out)
    }

    /// The highest seq in the file (0 when the file does not exist or is empty).
    pub fn last_seq(&self) -> Result<u64, AuditError> {
        if !self.path.exists() {
            return Ok(0);
        }
        Ok(self.read()?.iter().map(|c| c.seq).max().unwrap_or(0))
    }

    /// Appends `checkpoints`, one line each, and syncs the file to disk before returning.
    pub fn append(&self, checkpoints: &[Checkpoint]) -> Result<(), AuditError> {
        if checkpoints.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        // A line torn by a crash mid-write must not swallow the next one.
        let torn = std::fs::read(&self.path)
            .ok()
            .is_some_and(|b| b.last().is_some_and(|&c| c != b'\n'));
        if torn {
            text.push('\n');
        }
        for c in checkpoints {
            text.push_str(&serde_json::to_string(c).map_err(|e| self.error(e.to_string()))?);
            text.push('\n');
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.error(e.to_string()))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_data())
            .map_err(|e| self.error(e.to_string()))
    }
}

/// Copies the checkpoints of `store` with seq above `after` to `file`; returns the highest seq
/// now published (`after` when there was nothing new).
pub fn publish<S: Store + ?Sized>(
    store: &mut S,
    file: &CheckpointFile,
    after: u64,
) -> Result<u64, AuditError> {
    let new = store.checkpoints_after(after)?;
    file.append(&new)?;
    Ok(new.last().map_or(after, |c| c.seq))
}
