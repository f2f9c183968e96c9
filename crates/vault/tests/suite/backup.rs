//! Erasure versus backups (GDPR Art. 17, with the crypto-shredding design of PRODUCT.md C2):
//! back up, erase, restore the backup, start again — the subject must still be gone.

use custos_vault::{StoreConfig, VaultError};

use crate::harness::{Backend, policy, record, subject, tenant, ts};

fn sqlite_files(b: &Backend) -> std::path::PathBuf {
    match &b.config {
        StoreConfig::Sqlite { path } => path.clone(),
        StoreConfig::Postgres { .. } => unreachable!("SQLite only"),
    }
}

#[test]
fn erasure_survives_restoring_an_older_sqlite_backup() {
    let b = Backend::sqlite("backup-restore");
    let db = sqlite_files(&b);
    let backup = db.with_file_name("backup.db");
    let p = policy();
    let (jan, piet) = {
        let mut v = b.open();
        let mut t = v.tenant(&tenant("acme"));
        let jan = t
            .put_batch(&p, vec![record("jan", "one"), record("jan", "two")])
            .expect("stored");
        let piet = t.put(&p, record("piet", "three")).expect("stored");
        (jan, piet)
    }; // closing the last connection checkpoints the WAL into the file
    std::fs::copy(&db, &backup).expect("back up the database file");

    {
        let mut v = b.open();
        let e = v
            .tenant(&tenant("acme"))
            .erase_subject(&subject("jan"), ts("2026-11-20T12:00:00Z"))
            .expect("erased");
        assert_eq!(e.counts.records, 2);
    }

    // Restore: the old file comes back, with jan's records and data keys in it.
    for suffix in ["-wal", "-shm"] {
        let mut side = db.clone().into_os_string();
        side.push(suffix);
        let _ = std::fs::remove_file(side);
    }
    std::fs::copy(&backup, &db).expect("restore the backup");
    assert_eq!(
        b.count_records("acme"),
        3,
        "the restored file holds the erased records again"
    );

    let mut v = b.open();
    assert_eq!(
        v.replayed_erasures(),
        1,
        "opening replays the erasure journal"
    );
    let mut t = v.tenant(&tenant("acme"));
    assert!(t.list(&subject("jan")).expect("listed").is_empty());
    for id in &jan {
        assert!(matches!(t.get(id), Err(VaultError::RecordNotFound(_))));
    }
    assert_eq!(
        t.get(&piet).expect("others are kept").payload.as_slice(),
        b"three"
    );
    assert_eq!(b.count_records("acme"), 1);
    assert_eq!(
        b.key_versions("acme").len(),
        1,
        "jan's data key is destroyed again"
    );
    drop(v);
    assert_eq!(
        b.open().replayed_erasures(),
        0,
        "a replayed erasure is not replayed twice"
    );
}

#[test]
fn the_sqlite_erasure_journal_sits_beside_the_database() {
    let b = Backend::sqlite("journal-path");
    let v = b.open();
    let db = sqlite_files(&b);
    assert_eq!(
        v.journal_path().expect("SQLite always journals"),
        db.with_file_name("custos.db-erasures.jsonl")
    );
}
