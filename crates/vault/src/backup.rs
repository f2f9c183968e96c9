//! An online backup of an SQLite vault: one consistent snapshot, taken while a server keeps
//! writing, written to a new file and checked before it is reported.
//!
//! The snapshot is SQLite's `VACUUM INTO`, which reads the database inside one read
//! transaction. In WAL mode a reader never blocks writers and sees exactly the transactions
//! committed before it began: every write a server acknowledged before the backup started is in
//! the copy, every write after it is not, and no write is half in it. The copy is compacted (no
//! free pages), so bytes that `secure_delete` had not yet overwritten do not travel with it.
//!
//! What the copy does not hold, on purpose (see `docs/operations.md`): the master key (kept
//! apart from the data it opens), and the erasure journal (`<db>-erasures.jsonl`), which must
//! never be restored from a backup: after a restore it replays every erasure made since the copy
//! was taken (GDPR Art. 17; tested in the vault's `backup` suite).
//!
//! PostgreSQL is backed up with `pg_dump` as a role that bypasses row-level security; the
//! runbook and its test live with the operations guide.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::{Result, VaultError};

/// What a finished backup holds, read back from the copy itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The new file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// The schema version of the copy (its highest applied migration).
    pub schema_version: i64,
    /// Records in the copy, over all tenants.
    pub records: u64,
    /// The sequence number of the last audit entry in the copy (0: none).
    pub audit_head: u64,
}

/// Writes a consistent copy of the SQLite vault at `source` to `dest`, which must not exist,
/// then checks the copy (`PRAGMA quick_check`: every page and record well formed; the full
/// `integrity_check` also compares each index with its table, which on a copy just written by
/// `VACUUM INTO` costs three times the copy itself and finds nothing more) and reads what it
/// holds.
///
/// Safe while a server writes to `source`. A copy that fails its check is deleted and the error
/// says why; `source` is never written.
///
/// # Errors
/// [`VaultError::Io`] when `dest` exists or cannot be written, [`VaultError::Unavailable`] when
/// `source` is missing or not a vault, [`VaultError::Corrupt`] when the copy fails its check.
pub fn backup_sqlite(source: &Path, dest: &Path) -> Result<BackupReport> {
    if dest.exists() {
        return Err(VaultError::Io {
            path: dest.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the backup file exists already; choose a new name (a backup never overwrites)",
            ),
        });
    }
    let unavailable = |reason: String| VaultError::Unavailable {
        target: source.display().to_string(),
        reason,
    };
    // Without CREATE: a mistyped source path must not become an empty "vault" that is backed up.
    let conn = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| unavailable(e.to_string()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| unavailable(e.to_string()))?;
    if read_summary(&conn).is_err() {
        return Err(unavailable(
            "it is not a Custos vault (no schema_migrations, records or audit tables)".into(),
        ));
    }
    let dest_text = dest.to_str().ok_or_else(|| VaultError::Io {
        path: dest.to_owned(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the backup path is not valid UTF-8",
        ),
    })?;
    conn.execute("VACUUM INTO ?1", [dest_text])
        .map_err(|e| VaultError::Io {
            path: dest.to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?;
    drop(conn);
    match check_copy(dest) {
        Ok(report) => Ok(report),
        Err(e) => {
            let _ = std::fs::remove_file(dest);
            Err(e)
        }
    }
}

/// Reads the copy back: integrity, schema version, records, audit head.
fn check_copy(dest: &Path) -> Result<BackupReport> {
    let corrupt = |e: String| VaultError::Corrupt(format!("the backup {}: {e}", dest.display()));
    let conn = Connection::open_with_flags(dest, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| corrupt(e.to_string()))?;
    let integrity: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| corrupt(e.to_string()))?;
    if integrity != "ok" {
        return Err(corrupt(format!(
            "the check of the copy failed: {integrity}"
        )));
    }
    let (schema_version, records, audit_head) =
        read_summary(&conn).map_err(|e| corrupt(e.to_string()))?;
    let bytes = std::fs::metadata(dest)
        .map_err(|source| VaultError::Io {
            path: dest.to_owned(),
            source,
        })?
        .len();
    Ok(BackupReport {
        path: dest.to_owned(),
        bytes,
        schema_version,
        records,
        audit_head,
    })
}

/// Schema version, record count and audit head, in one read transaction.
fn read_summary(conn: &Connection) -> rusqlite::Result<(i64, u64, u64)> {
    conn.query_row(
        "SELECT (SELECT COALESCE(MAX(version), 0) FROM schema_migrations),
                (SELECT COUNT(*) FROM records),
                (SELECT COALESCE(MAX(seq), 0) FROM audit_entries)",
        [],
        |r| {
            let count = |i: usize| r.get::<_, i64>(i).map(|n| u64::try_from(n).unwrap_or(0));
            Ok((r.get(0)?, count(1)?, count(2)?))
        },
    )
}
