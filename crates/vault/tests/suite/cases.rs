//! The shared cases: each takes a backend and must pass on SQLite and PostgreSQL alike.

use std::collections::BTreeMap;

use custos_vault::{MasterKey, NewRecord, Vault, VaultError};

use crate::harness::{Backend, policy, put_batch_in, put_in, record, subject, tenant, ts};

pub use crate::audited::{
    a_checkpoint_can_be_signed_at_any_time_and_verifies_with_the_published_key,
    a_trail_cut_back_to_an_earlier_checkpoint_is_caught_by_the_checkpoint_file,
    a_vault_trail_rehashed_after_its_checkpoints_were_deleted_is_tampered,
    an_audit_entry_edited_in_the_database_is_reported_by_the_vault,
    writes_and_erasures_are_audited_with_pseudonyms_only,
};
pub use crate::faults::{
    a_batch_write_killed_at_a_random_point_leaves_all_or_nothing,
    a_purge_killed_at_a_random_point_resumes_cleanly,
    an_erasure_killed_at_a_random_point_leaves_all_or_nothing,
    two_processes_purging_at_once_never_take_a_batch_twice_nor_skip_one,
};

/// Puts `new` in tenant acme, which must refuse it (`why`); returns the error.
fn refused(v: &mut Vault, new: NewRecord, why: &str) -> VaultError {
    v.tenant(&tenant("acme"))
        .put(&policy(), new, jiff::Timestamp::now())
        .expect_err(why)
}

pub fn a_record_put_is_read_back_decrypted(b: &Backend) {
    let mut v = b.open();
    let p = policy();
    let mut t = v.tenant(&tenant("acme"));
    let id = t
        .put(
            &p,
            record("jan@example.nl", "Jan Jansen, Dorpsstraat 1"),
            jiff::Timestamp::now(),
        )
        .expect("stored");
    let r = t.get(&id).expect("read back");
    assert_eq!(r.payload.as_slice(), b"Jan Jansen, Dorpsstraat 1");
    assert_eq!(r.id, id);
    assert_eq!(r.category, "account");
    assert_eq!(r.subject, t.pseudonym(&subject("jan@example.nl")));
}

pub fn purposes_and_event_clocks_round_trip(b: &Backend) {
    let mut v = b.open();
    let p = policy();
    let mut t = v.tenant(&tenant("acme"));
    let clocks = BTreeMap::from([("subscription.ended".to_owned(), ts("2026-12-31T23:00:00Z"))]);
    let new = NewRecord {
        purposes: vec!["service".into(), "billing".into()],
        clocks: clocks.clone(),
        ..record("jan", "x")
    };
    let id = t.put(&p, new, jiff::Timestamp::now()).expect("stored");
    let r = t.get(&id).expect("read back");
    assert_eq!(r.purposes, ["service", "billing"]);
    assert_eq!(r.clocks, clocks);
    assert_eq!(r.created_at, ts("2026-11-01T10:00:00Z"));
}

pub fn records_are_listed_per_subject_oldest_first(b: &Backend) {
    let mut v = b.open();
    let p = policy();
    let mut t = v.tenant(&tenant("acme"));
    let later = NewRecord {
        created_at: ts("2026-11-02T00:00:00Z"),
        ..record("jan", "second")
    };
    t.put_batch(
        &p,
        vec![later, record("jan", "first"), record("piet", "other")],
        jiff::Timestamp::now(),
    )
    .expect("stored");
    let jan: Vec<Vec<u8>> = t
        .list(&subject("jan"))
        .expect("listed")
        .into_iter()
        .map(|r| r.payload.to_vec())
        .collect();
    assert_eq!(jan, [b"first".to_vec(), b"second".to_vec()]);
    assert_eq!(t.list(&subject("piet")).expect("listed").len(), 1);
    assert!(t.list(&subject("nobody")).expect("listed").is_empty());
}

pub fn an_empty_batch_succeeds_and_stores_nothing(b: &Backend) {
    let mut v = b.open();
    assert!(
        v.tenant(&tenant("acme"))
            .put_batch(&policy(), vec![], jiff::Timestamp::now())
            .expect("empty batch")
            .is_empty()
    );
}

pub fn a_category_the_policy_never_stores_is_refused_naming_it(b: &Backend) {
    let mut v = b.open();
    let new = NewRecord {
        category: "mail.body".into(),
        ..record("jan", "Dear Sir, my secret")
    };
    let err = refused(&mut v, new, "mail bodies are never stored");
    assert!(matches!(err, VaultError::NeverStored { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("`mail.body`") && msg.contains("stored = false"),
        "{msg}"
    );
    assert!(
        !msg.contains("secret"),
        "the payload must not leak into the error: {msg}"
    );
}

pub fn an_undefined_category_is_refused_naming_it(b: &Backend) {
    let mut v = b.open();
    let new = NewRecord {
        category: "mail.bodee".into(),
        ..record("jan", "x")
    };
    let err = refused(&mut v, new, "undefined");
    assert!(matches!(err, VaultError::UnknownCategory { .. }), "{err:?}");
    assert!(err.to_string().contains("`mail.bodee`"), "{err}");
}

pub fn an_undefined_purpose_is_refused_naming_it(b: &Backend) {
    let mut v = b.open();
    let new = NewRecord {
        purposes: vec!["service".into(), "resale".into()],
        ..record("jan", "x")
    };
    let err = refused(&mut v, new, "undefined");
    assert!(matches!(err, VaultError::UnknownPurpose { .. }), "{err:?}");
    assert!(err.to_string().contains("`resale`"), "{err}");
}

pub fn a_record_without_a_purpose_is_refused(b: &Backend) {
    let mut v = b.open();
    let new = NewRecord {
        purposes: vec![],
        ..record("jan", "x")
    };
    let err = refused(&mut v, new, "no purpose");
    assert!(matches!(err, VaultError::NoPurpose { .. }), "{err:?}");
}

pub fn one_refused_record_in_a_batch_stores_none_of_the_batch(b: &Backend) {
    let mut v = b.open();
    let bad = NewRecord {
        category: "mail.body".into(),
        ..record("jan", "x")
    };
    let err = v
        .tenant(&tenant("acme"))
        .put_batch(
            &policy(),
            vec![record("jan", "a"), record("piet", "b"), bad],
            jiff::Timestamp::now(),
        )
        .expect_err("refused");
    assert!(matches!(err, VaultError::NeverStored { .. }));
    assert_eq!(b.count_records("acme"), 0);
}

pub fn a_tenant_cannot_read_another_tenants_records(b: &Backend) {
    let mut v = b.open();
    let p = policy();
    let id = put_in(&mut v, "acme", &p, record("jan", "acme's data"));
    let mut other = v.tenant(&tenant("globex"));
    assert!(matches!(other.get(&id), Err(VaultError::RecordNotFound(_))));
    assert!(other.list(&subject("jan")).expect("listed").is_empty());
}

pub fn a_subject_has_a_different_pseudonym_in_each_tenant(b: &Backend) {
    let mut v = b.open();
    let a = v.tenant(&tenant("acme")).pseudonym(&subject("jan"));
    let g = v.tenant(&tenant("globex")).pseudonym(&subject("jan"));
    assert_ne!(a, g);
    assert_eq!(a, v.tenant(&tenant("acme")).pseudonym(&subject("jan")));
}

pub fn a_ciphertext_moved_to_another_record_fails_to_decrypt(b: &Backend) {
    let mut v = b.open();
    let p = policy();
    let mut t = v.tenant(&tenant("acme"));
    // Same tenant, subject and category, so the same data key: only the associated data differs.
    let ids = t
        .put_batch(
            &p,
            vec![record("jan", "one"), record("jan", "two")],
            jiff::Timestamp::now(),
        )
        .expect("stored");
    let moved = b.ciphertext("acme", ids[0].as_str());
    b.set_ciphertext("acme", ids[1].as_str(), &moved);
    let err = t.get(&ids[1]).expect_err("bound to record 0");
    assert!(
        matches!(&err, VaultError::Decrypt(id) if *id == ids[1]),
        "{err:?}"
    );
    assert!(err.to_string().contains(ids[1].as_str()));
    assert_eq!(
        t.get(&ids[0])
            .expect("the original still reads")
            .payload
            .as_slice(),
        b"one"
    );
}

pub fn a_ciphertext_moved_to_another_tenant_fails_to_decrypt(b: &Backend) {
    let mut v = b.open();
    let p = policy();
    let from = put_in(&mut v, "acme", &p, record("jan", "acme's"));
    let to = put_in(&mut v, "globex", &p, record("jan", "globex's"));
    b.set_ciphertext("globex", to.as_str(), &b.ciphertext("acme", from.as_str()));
    let err = v
        .tenant(&tenant("globex"))
        .get(&to)
        .expect_err("bound to acme");
    assert!(
        matches!(&err, VaultError::Decrypt(id) if *id == to),
        "{err:?}"
    );
}

pub fn a_truncated_ciphertext_is_an_error_naming_the_record(b: &Backend) {
    let mut v = b.open();
    let p = policy();
    let id = put_in(&mut v, "acme", &p, record("jan", "payload"));
    let ct = b.ciphertext("acme", id.as_str());
    for len in [0, 1, 5, 13, ct.len() - 1] {
        b.set_ciphertext("acme", id.as_str(), &ct[..len]);
        let err = v.tenant(&tenant("acme")).get(&id).expect_err("truncated");
        assert!(
            matches!(&err, VaultError::Decrypt(x) if *x == id),
            "length {len}: {err:?}"
        );
    }
}

pub fn a_corrupted_ciphertext_is_an_error_naming_the_record(b: &Backend) {
    let mut v = b.open();
    let p = policy();
    let id = put_in(&mut v, "acme", &p, record("jan", "payload"));
    let mut ct = b.ciphertext("acme", id.as_str());
    let last = ct.len() - 1;
    ct[last] ^= 1;
    b.set_ciphertext("acme", id.as_str(), &ct);
    let err = v
        .tenant(&tenant("acme"))
        .list(&subject("jan"))
        .expect_err("corrupted");
    assert!(err.to_string().contains(id.as_str()), "{err}");
}

pub fn a_wrong_master_key_fails_at_open(b: &Backend) {
    let mut v = b.open();
    v.tenant(&tenant("acme"))
        .put(&policy(), record("jan", "x"), jiff::Timestamp::now())
        .expect("stored");
    drop(v);
    let err =
        Vault::open(&b.config, MasterKey::generate().expect("random")).expect_err("wrong key");
    assert!(matches!(err, VaultError::WrongMasterKey), "{err:?}");
    assert!(err.to_string().contains("wrong master key"));
}

pub fn the_payload_is_not_stored_in_the_clear(b: &Backend) {
    let mut v = b.open();
    let marker = "UNIQUE-MARKER-7c1e-Jansen";
    v.tenant(&tenant("acme"))
        .put(
            &policy(),
            record("jan@example.nl", marker),
            jiff::Timestamp::now(),
        )
        .expect("stored");
    drop(v);
    assert!(
        !b.raw_contains(marker.as_bytes()),
        "payload found in the clear"
    );
    assert!(
        !b.raw_contains(b"jan@example.nl"),
        "the subject's own identifier found in the clear"
    );
}

pub fn key_rotation_rewraps_data_keys_and_leaves_record_rows_byte_identical(b: &Backend) {
    let mut v = b.open();
    let p = policy();
    let a = put_batch_in(
        &mut v,
        "acme",
        &p,
        vec![record("jan", "one"), record("piet", "two")],
    );
    let g = put_in(&mut v, "globex", &p, record("jan", "three"));
    let before: Vec<Vec<u8>> = a
        .iter()
        .map(|id| b.ciphertext("acme", id.as_str()))
        .collect();
    assert_eq!(b.key_versions("acme"), [1, 1]);
    let r = v.rotate_keys().expect("rotates");
    assert_eq!((r.from, r.to, r.rewrapped), (1, 2, 3));
    assert_eq!(b.key_versions("acme"), [2, 2]);
    assert_eq!(b.key_versions("globex"), [2]);
    let after: Vec<Vec<u8>> = a
        .iter()
        .map(|id| b.ciphertext("acme", id.as_str()))
        .collect();
    assert_eq!(before, after, "record ciphertexts must not change");
    assert_eq!(
        v.tenant(&tenant("acme"))
            .get(&a[0])
            .expect("decrypts")
            .payload
            .as_slice(),
        b"one"
    );
    assert_eq!(
        v.tenant(&tenant("globex"))
            .get(&g)
            .expect("decrypts")
            .payload
            .as_slice(),
        b"three"
    );
}

pub fn records_written_after_rotation_decrypt_after_reopening(b: &Backend) {
    let mut v = b.open();
    let p = policy();
    let old = put_in(&mut v, "acme", &p, record("jan", "old"));
    v.rotate_keys().expect("rotates");
    v.rotate_keys().expect("rotates again");
    let new = put_in(&mut v, "acme", &p, record("kees", "new"));
    drop(v);
    let mut v = b.open();
    assert_eq!(v.key_version(), 3);
    assert_eq!(b.key_versions("acme"), [3, 3]);
    let mut t = v.tenant(&tenant("acme"));
    assert_eq!(t.get(&old).expect("decrypts").payload.as_slice(), b"old");
    assert_eq!(t.get(&new).expect("decrypts").payload.as_slice(), b"new");
}

pub fn erasure_destroys_the_subjects_keys_and_records_and_nothing_else(b: &Backend) {
    let mut v = b.open();
    let p = policy();
    let jan = put_batch_in(
        &mut v,
        "acme",
        &p,
        vec![record("jan", "a"), record("jan", "b")],
    );
    let piet = put_in(&mut v, "acme", &p, record("piet", "c"));
    let other = put_in(&mut v, "globex", &p, record("jan", "d"));
    let mut t = v.tenant(&tenant("acme"));
    let e = t
        .erase_subject(&subject("jan"), ts("2026-11-20T12:00:00Z"))
        .expect("erased");
    assert_eq!((e.counts.keys, e.counts.records), (1, 2));
    assert_eq!(e.subject, t.pseudonym(&subject("jan")));
    assert!(t.list(&subject("jan")).expect("listed").is_empty());
    assert!(matches!(t.get(&jan[0]), Err(VaultError::RecordNotFound(_))));
    assert_eq!(t.get(&piet).expect("untouched").payload.as_slice(), b"c");
    assert_eq!(
        v.tenant(&tenant("globex"))
            .get(&other)
            .expect("other tenant untouched")
            .payload
            .as_slice(),
        b"d"
    );
    assert_eq!(b.key_versions("acme").len(), 1);
}

pub fn a_copy_of_an_erased_record_is_unreadable(b: &Backend) {
    let mut v = b.open();
    let id = v
        .tenant(&tenant("acme"))
        .put(&policy(), record("jan", "secret"), jiff::Timestamp::now())
        .expect("stored");
    let copy = b.copy_row("acme", id.as_str());
    v.tenant(&tenant("acme"))
        .erase_subject(&subject("jan"), ts("2026-11-20T12:00:00Z"))
        .expect("erased");
    // A stray copy of the row (a replica, an export, a backup fragment) comes back:
    b.put_back_row("acme", &copy);
    let err = v
        .tenant(&tenant("acme"))
        .get(&id)
        .expect_err("its key is gone");
    assert!(
        matches!(&err, VaultError::KeyDestroyed(x) if *x == id),
        "{err:?}"
    );
}

pub fn an_erasure_replayed_from_the_journal_does_not_touch_data_written_after_it(b: &Backend) {
    let mut v = b.open();
    let p = policy();
    put_in(&mut v, "acme", &p, record("jan", "before"));
    v.tenant(&tenant("acme"))
        .erase_subject(&subject("jan"), ts("2026-11-20T12:00:00Z"))
        .expect("erased");
    let after = put_in(&mut v, "acme", &p, record("jan", "after"));
    drop(v);
    let mut v = b.open();
    assert_eq!(v.replayed_erasures(), 0);
    assert_eq!(
        v.tenant(&tenant("acme"))
            .get(&after)
            .expect("kept")
            .payload
            .as_slice(),
        b"after"
    );
}

/// Records of several subjects, categories, purposes and creation days, some with an event
/// clock: `n` of them, record `i` saying `i`.
fn mixed(n: usize) -> Vec<NewRecord> {
    let kinds = [
        ("billing", "billing"),
        ("usage_log", "security"),
        ("support", "support"),
        ("account", "service"),
    ];
    (0..n)
        .map(|i| {
            let (category, purpose) = kinds[i % kinds.len()];
            let day =
                ts("2026-11-01T10:00:00Z") + jiff::SignedDuration::from_hours(24 * (i % 3) as i64);
            let mut r = crate::harness::record_for(
                &format!("subject-{}", i % 7),
                category,
                purpose,
                format!("record {i}"),
                day,
            );
            if category == "account" && i % 8 == 3 {
                r.clocks
                    .insert("subscription.ended".into(), ts("2026-12-01T00:00:00Z"));
            }
            r
        })
        .collect()
}

/// A batch large enough to be encrypted while the store writes it (SQLite) is stored whole,
/// each record with the expiry it gets in a small batch and readable under its id.
pub fn a_large_batch_is_stored_whole_with_the_expiries_small_batches_get(b: &Backend) {
    let mut v = b.open();
    let p = policy();
    let n = 4_500;
    let ids = put_batch_in(&mut v, "acme", &p, mixed(n));
    assert_eq!(ids.len(), n);
    assert_eq!(b.count_records("acme"), n as i64);
    let mut small = Vec::new();
    let mut rest = mixed(n);
    while !rest.is_empty() {
        let part: Vec<NewRecord> = rest.drain(..rest.len().min(90)).collect();
        small.extend(put_batch_in(&mut v, "globex", &p, part));
    }
    // Ids grow with the position in a batch, so id order is the records' order in both.
    let (large, small_expiries) = (b.expiries("acme"), b.expiries("globex"));
    assert_eq!(large.len(), n);
    let at = |e: &[(String, Option<i64>)]| e.iter().map(|(_, x)| *x).collect::<Vec<_>>();
    assert_eq!(at(&large), at(&small_expiries[..n]));
    assert!(
        large.iter().any(|(_, e)| e.is_none()),
        "account waits for its event"
    );
    assert!(large.iter().filter(|(_, e)| e.is_some()).count() > n / 2);
    let mut t = v.tenant(&tenant("acme"));
    for i in [0, 1_023, 1_024, 4_499] {
        assert_eq!(ids[i].as_str(), large[i].0);
        let got = t.get(&ids[i]).expect("reads back");
        assert_eq!(got.payload.as_slice(), format!("record {i}").as_bytes());
    }
}

/// A record deep in a large batch whose expiry cannot be computed (it would fall past the
/// calendar's end) refuses the whole batch, parts already written included.
pub fn a_large_batch_failing_late_stores_none_of_it(b: &Backend) {
    let mut v = b.open();
    let mut records = mixed(5_000);
    records[4_321].category = "billing".into();
    records[4_321].purposes = vec!["billing".into()];
    records[4_321].created_at = ts("9999-06-01T00:00:00Z");
    let err = v
        .tenant(&tenant("acme"))
        .put_batch(&policy(), records, jiff::Timestamp::now())
        .expect_err("refused");
    assert!(err.to_string().contains("billing"), "{err}");
    assert_eq!(b.count_records("acme"), 0);
}
