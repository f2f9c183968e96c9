//! Erasure versus backups (GDPR Art. 17, with the crypto-shredding design of PRODUCT.md C2):
//! back up, erase, restore the backup, start again — the subject must still be gone.

use custos_vault::VaultError;

use crate::harness::{
    Backend, example_policy, file_request_id, new_request, policy, record, record_for, subject,
    tenant, ts, verify_attested,
};

#[test]
fn erasure_survives_restoring_an_older_sqlite_backup() {
    let b = Backend::sqlite("backup-restore");
    let db = b.sqlite_path().to_path_buf();
    let backup = db.with_file_name("backup.db");
    let p = policy();
    let (jan, piet) = {
        let mut v = b.open();
        let mut t = v.tenant(&tenant("acme"));
        let jan = t
            .put_batch(
                &p,
                vec![record("jan", "one"), record("jan", "two")],
                jiff::Timestamp::now(),
            )
            .expect("stored");
        let piet = t
            .put(&p, record("piet", "three"), jiff::Timestamp::now())
            .expect("stored");
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
    let db = b.sqlite_path().to_path_buf();
    assert_eq!(
        v.journal_path().expect("SQLite always journals"),
        db.with_file_name("custos.db-erasures.jsonl")
    );
}

/// An erasure that kept statutory records (Art. 17(3)(b)) is replayed on a restored backup the
/// same way: the kept records stay, restricted, the rest goes again.
#[test]
fn an_erasure_keeping_statutory_records_replays_the_same_way_on_a_restored_backup() {
    use custos_vault::rights::{NewRequest, RequestKind};
    let b = Backend::sqlite("backup-restore-keep");
    let db = b.sqlite_path().to_path_buf();
    let backup = db.with_file_name("backup.db");
    let p = example_policy("jetstream.toml");
    let rec = |category: &str, purpose: &str| {
        record_for("klant", category, purpose, "x", ts("2026-01-10T00:00:00Z"))
    };
    let (kept, gone) = {
        let mut v = b.open();
        let mut t = v.tenant(&tenant("acme"));
        let kept = t
            .put(
                &p,
                rec("administrative_record", "administration"),
                jiff::Timestamp::now(),
            )
            .expect("stored");
        let gone = t
            .put(
                &p,
                rec("customer", "customer_service"),
                jiff::Timestamp::now(),
            )
            .expect("stored");
        (kept, gone)
    };
    std::fs::copy(&db, &backup).expect("back up");
    {
        let mut v = b.open();
        let mut t = v.tenant(&tenant("acme"));
        let request = NewRequest {
            channel: "letter".into(),
            ..new_request(RequestKind::Erasure, "klant", None, "2026-03-02")
        };
        let id = file_request_id(&mut t, &p, request);
        verify_attested(&mut t, &id, "desk", ts("2026-03-02T11:00:00Z"));
        let a = t
            .execute_erasure(&p, &id, &subject("klant"), ts("2026-03-02T12:00:00Z"))
            .expect("erased");
        assert_eq!((a.records_erased, a.kept.len()), (1, 1));
    }
    for suffix in ["-wal", "-shm"] {
        let mut side = db.clone().into_os_string();
        side.push(suffix);
        let _ = std::fs::remove_file(side);
    }
    std::fs::copy(&backup, &db).expect("restore");
    let mut v = b.open();
    assert_eq!(v.replayed_erasures(), 1);
    let mut t = v.tenant(&tenant("acme"));
    assert!(matches!(t.get(&gone), Err(VaultError::RecordNotFound(_))));
    assert!(
        matches!(t.get(&kept), Err(VaultError::Restricted(_))),
        "kept, restricted again"
    );
    assert_eq!(b.count_records("acme"), 1);
}
