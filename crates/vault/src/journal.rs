//! The erasure journal file: one JSON line per erasure (erasure id, tenant, pseudonym, time; no
//! personal data), appended and synced to disk *before* the erasure's database transaction runs.
//!
//! Why a file beside the database and not only a table in it: restoring an older copy of the
//! database (a backup) also restores the older copy of any table, and with it the subjects
//! erased since. The file is not part of the database backup, so it survives the restore, and
//! [`crate::Vault::open`] replays every entry the database does not know yet. Written before the
//! transaction, it errs on the side of erasure: a crash between the two leaves an entry whose
//! erasure is completed at the next open. Replay is idempotent because each entry carries its
//! own id and the `erasures` table records which ids were applied.
//!
//! Operators: back up the database; keep the journal file where it is (or back it up more
//! often than the database); never restore it from an older backup.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Result, VaultError};
use crate::store::JournalEntry;

/// The journal file at a path.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
}

impl Journal {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self) -> impl Fn(std::io::Error) -> VaultError + '_ {
        |source| VaultError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Reads every complete entry. A last line without its newline is a write cut short by a
    /// crash (its erasure never ran): it is dropped from the file. Any other unreadable line is
    /// an error, never skipped.
    pub(crate) fn read_all(&self) -> Result<Vec<JournalEntry>> {
        let mut file = match OpenOptions::new().read(true).write(true).open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io()(e)),
        };
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| VaultError::Journal {
                path: self.path.clone(),
                line: 0,
                reason: e.to_string(),
            })?;
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        if complete < text.len() {
            file.set_len(complete as u64)
                .and_then(|()| file.sync_all())
                .map_err(self.io())?;
        }
        text[..complete]
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| self.parse_line(i + 1, l))
            .collect()
    }

    fn parse_line(&self, line: usize, text: &str) -> Result<JournalEntry> {
        let bad = |reason: &str| VaultError::Journal {
            path: self.path.clone(),
            line,
            reason: reason.to_owned(),
        };
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
        let field = |name: &str| {
            v.get(name)
                .and_then(|x| x.as_str())
                .map(str::to_owned)
                .ok_or_else(|| bad(&format!("missing text field `{name}`")))
        };
        Ok(JournalEntry {
            erasure_id: field("erasure_id")?,
            tenant: field("tenant")?,
            pseudonym: field("pseudonym")?,
            erased_at: v
                .get("erased_at")
                .and_then(|x| x.as_i64())
                .ok_or_else(|| bad("missing integer field `erased_at`"))?,
            // Absent in entries written before restriction existed: nothing kept.
            keep: match v.get("keep") {
                None => Vec::new(),
                Some(k) => k
                    .as_array()
                    .and_then(|a| a.iter().map(|c| c.as_str().map(str::to_owned)).collect())
                    .ok_or_else(|| bad("field `keep` is not a list of category ids"))?,
            },
        })
    }

    /// Appends one entry in a single write and syncs it to disk.
    pub(crate) fn append(&self, e: &JournalEntry) -> Result<()> {
        let mut line = serde_json::json!({
            "erasure_id": e.erasure_id,
            "tenant": e.tenant,
            "pseudonym": e.pseudonym,
            "erased_at": e.erased_at,
            "keep": e.keep,
        })
        .to_string();
        line.push('\n');
        let mut file: File = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(self.io())?;
        file.seek(SeekFrom::End(0)).map_err(self.io())?;
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(self.io())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("custos-journal-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir.join("journal.jsonl")
    }

    fn entry(n: u8) -> JournalEntry {
        JournalEntry {
            erasure_id: format!("{n:032x}"),
            tenant: "acme".into(),
            pseudonym: "p".repeat(32),
            erased_at: i64::from(n),
            keep: Vec::new(),
        }
    }

    #[test]
    fn a_missing_journal_reads_as_empty() {
        assert!(
            Journal::new(scratch("missing"))
                .read_all()
                .expect("reads")
                .is_empty()
        );
    }

    #[test]
    fn appended_entries_read_back_in_order() {
        let j = Journal::new(scratch("order"));
        j.append(&entry(1)).expect("append");
        j.append(&entry(2)).expect("append");
        assert_eq!(j.read_all().expect("reads"), vec![entry(1), entry(2)]);
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_later_appends_stay_readable() {
        let j = Journal::new(scratch("torn"));
        j.append(&entry(1)).expect("append");
        let mut f = OpenOptions::new()
            .append(true)
            .open(j.path())
            .expect("open");
        f.write_all(b"{\"erasure_id\":\"00").expect("write");
        assert_eq!(j.read_all().expect("reads"), vec![entry(1)]);
        j.append(&entry(2)).expect("append");
        assert_eq!(j.read_all().expect("reads"), vec![entry(1), entry(2)]);
    }

    #[test]
    fn a_garbled_line_in_the_middle_is_an_error_naming_the_line() {
        let path = scratch("garbled");
        std::fs::write(&path, "{\"erasure_id\":\"a\",\"tenant\":\"t\",\"pseudonym\":\"p\",\"erased_at\":1}\nnot json\n").expect("write");
        let err = Journal::new(path).read_all().expect_err("garbled");
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
