//! Erasure is cryptographic (GDPR Art. 17, PRODUCT.md C2): whatever an erasure removes loses its
//! data key, also when statutory records of the same subject stay (Art. 17(3)(b)), so a copy of
//! an erased record that survives somewhere can never be decrypted again; the kept records keep
//! their keys. On SQLite nothing of the erased records stays in the database file or its WAL.

use std::path::Path;

use custos_policy::Policy;
use custos_vault::rights::RequestKind;
use custos_vault::{RecordId, TenantVault, VaultError};

use crate::harness::{
    Backend, example_policy, file_request_id, new_request, policy, record, record_for, subject,
    tenant, ts, verify_attested,
};

fn put(t: &mut TenantVault<'_>, p: &Policy, who: &str, category: &str, purpose: &str) -> RecordId {
    let payload = format!("{category} payload of {who}");
    let record = record_for(who, category, purpose, payload, ts("2026-01-10T00:00:00Z"));
    t.put(p, record, jiff::Timestamp::now())
        .expect("record stored")
}

/// Files, verifies and carries out an erasure request for `who`; returns the request id.
fn erase_by_request(
    t: &mut TenantVault<'_>,
    p: &Policy,
    who: &str,
) -> (String, custos_vault::rights::ErasureAnswer) {
    let id = file_request_id(
        t,
        p,
        new_request(RequestKind::Erasure, who, None, "2026-03-02"),
    );
    verify_attested(t, &id, "signed-in session", ts("2026-03-03T09:00:00Z"));
    let answer = t
        .execute_erasure(p, &id, &subject(who), ts("2026-03-03T09:05:00Z"))
        .expect("erased");
    (id, answer)
}

/// Jet-Stream keeps administrative records 7 years by law, in the same key domain as the customer
/// data an erasure removes. The erasure destroys the removed data's key: a copy of its row saved
/// before and put back after cannot be decrypted, while the kept record still can.
pub fn a_partial_erasure_destroys_the_keys_of_what_it_erases_and_keeps_the_kept_readable(
    b: &Backend,
) {
    let p = example_policy("jetstream.toml");
    let mut v = b.open();
    let mut t = v.tenant(&tenant("media-co"));
    let who = "customer@example.com";
    let kept = put(&mut t, &p, who, "administrative_record", "administration");
    let gone = put(&mut t, &p, who, "customer", "customer_service");
    let copy = b.copy_row("media-co", gone.as_str());

    let (_, answer) = erase_by_request(&mut t, &p, who);
    assert_eq!((answer.records_erased, answer.kept.len()), (1, 1));
    assert!(
        answer.keys_destroyed > 0,
        "records were erased, so keys must be destroyed: {answer:?}"
    );

    // The kept record is restricted, and still decrypts for the reason it is kept.
    assert!(matches!(t.get(&kept), Err(VaultError::Restricted(_))));
    let mut read = Vec::new();
    t.for_each_record(&subject(who), |r| {
        read.push((r.record.id.clone(), r.record.payload.to_vec()));
        Ok::<_, VaultError>(())
    })
    .expect("the kept record reads");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].0, kept);
    assert!(read[0].1.starts_with(b"administrative_record"), "decrypted");

    // A surviving copy of the erased row (a WAL, a dead tuple, a replica) comes back.
    b.put_back_row("media-co", &copy);
    let err = t.get(&gone).expect_err("its key was destroyed");
    assert!(
        matches!(&err, VaultError::KeyDestroyed(x) if *x == gone),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("unreadable"),
        "the error says why: {err}"
    );
}

/// JBSync keeps account data 7 years from the end of the subscription (tax law). When the
/// subscription has not ended yet, the erasure answer still says until when: 7 years after
/// `subscription.ended`, never `null`.
pub fn a_kept_record_whose_clock_has_not_started_says_until_when(b: &Backend) {
    let p = policy();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    t.put(
        &p,
        record("jan@example.nl", "account data"),
        jiff::Timestamp::now(),
    )
    .expect("stored");
    let (id, answer) = erase_by_request(&mut t, &p, "jan@example.nl");
    assert_eq!(answer.kept.len(), 1);
    let r = t.request(&id).expect("request");
    let until = &r.detail["outcome"]["kept"][0]["until"];
    assert!(!until.is_null(), "until is never null: {}", r.detail);
    assert_eq!(
        *until,
        serde_json::json!({ "kind": "after_event", "event": "subscription.ended", "period": "7 years" }),
    );
}

fn wrapped_keys(db: &Path) -> Vec<Vec<u8>> {
    let c = rusqlite::Connection::open(db).expect("opens");
    let mut s = c.prepare("SELECT wrapped FROM data_keys").expect("prepare");
    s.query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn file_contains(path: &Path, needle: &[u8]) -> bool {
    std::fs::read(path)
        .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        .unwrap_or(false)
}

/// After an erasure on SQLite, neither the database file nor its write-ahead log holds the erased
/// records' ciphertexts, their record ids or their wrapped data keys (`secure_delete`, and a
/// truncating checkpoint after the erasure), while the vault stays open.
#[test]
fn after_an_erasure_the_sqlite_file_and_its_wal_hold_nothing_of_the_erased_records() {
    let b = Backend::sqlite("shred-files");
    let db = b.sqlite_path().to_path_buf();
    let wal = db.with_file_name("custos.db-wal");
    let p = policy();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let batch = |who: &str| {
        (0..40)
            .map(|i| record(who, &format!("{who} record {i} {}", "x".repeat(300))))
            .collect::<Vec<_>>()
    };
    let jan = t
        .put_batch(&p, batch("jan"), jiff::Timestamp::now())
        .expect("stored");
    let piet = t
        .put_batch(&p, batch("piet"), jiff::Timestamp::now())
        .expect("stored");
    let keys_before = wrapped_keys(&db);
    let secrets: Vec<(String, Vec<u8>)> = jan
        .iter()
        .map(|id| (id.as_str().to_owned(), b.ciphertext("acme", id.as_str())))
        .collect();
    let jan_key = {
        let c = rusqlite::Connection::open(&db).expect("opens");
        let pseudonym = t.pseudonym(&subject("jan"));
        c.query_row(
            "SELECT wrapped FROM data_keys WHERE pseudonym = ?1",
            [pseudonym.as_str()],
            |r| r.get::<_, Vec<u8>>(0),
        )
        .expect("jan's key")
    };
    assert_eq!(keys_before.len(), 2);
    assert!(
        file_contains(&db, jan[0].as_str().as_bytes())
            || file_contains(&wal, jan[0].as_str().as_bytes()),
        "the id is stored before the erasure (the search works)"
    );

    let e = t
        .erase_subject(&subject("jan"), ts("2026-11-20T12:00:00Z"))
        .expect("erased");
    assert_eq!((e.counts.keys, e.counts.records), (1, 40));

    for (id, ciphertext) in &secrets {
        for f in [&db, &wal] {
            assert!(
                !file_contains(f, id.as_bytes()),
                "record id {id} left in {}",
                f.display()
            );
            assert!(
                !file_contains(f, &ciphertext[1..]),
                "ciphertext of {id} left in {}",
                f.display()
            );
        }
    }
    for f in [&db, &wal] {
        assert!(
            !file_contains(f, &jan_key[1..]),
            "wrapped key left in {}",
            f.display()
        );
    }
    assert_eq!(
        t.list(&subject("piet")).expect("others stay").len(),
        piet.len()
    );
}

/// A reader holding an old snapshot stops the checkpoint after an erasure from finishing (the
/// erasure still succeeds, its keys are gone); the vault's next write transaction (here a purge)
/// retries it, and once the reader is done the WAL holds nothing of the erased records.
#[test]
fn a_checkpoint_blocked_by_a_reader_is_retried_at_the_next_purge() {
    let b = Backend::sqlite("shred-blocked");
    let db = b.sqlite_path().to_path_buf();
    let wal = db.with_file_name("custos.db-wal");
    let p = policy();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let jan = t
        .put(&p, record("jan", "jan's data"), jiff::Timestamp::now())
        .expect("stored");
    t.put(&p, record("piet", "piet's data"), jiff::Timestamp::now())
        .expect("stored");

    let reader = rusqlite::Connection::open(&db).expect("opens");
    reader.execute_batch("BEGIN").expect("begin");
    let n: i64 = reader
        .query_row("SELECT count(*) FROM records", [], |r| r.get(0))
        .expect("a read holds its snapshot");
    assert_eq!(n, 2);
    let e = t
        .erase_subject(&subject("jan"), ts("2026-11-20T12:00:00Z"))
        .expect("the erasure succeeds all the same");
    assert_eq!((e.counts.keys, e.counts.records), (1, 1));
    assert!(
        file_contains(&wal, jan.as_str().as_bytes()),
        "the reader kept the checkpoint from truncating the log"
    );

    reader.execute_batch("COMMIT").expect("the reader is done");
    t.purge(
        &p,
        ts("2026-11-21T00:00:00Z"),
        custos_vault::PurgeOptions::default(),
        &mut |_| {},
    )
    .expect("purged");
    for f in [&db, &wal] {
        assert!(
            !file_contains(f, jan.as_str().as_bytes()),
            "record id left in {}",
            f.display()
        );
    }
}
