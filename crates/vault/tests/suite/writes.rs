//! Writes that must hold: a record stored only for purposes that use it, events only at the
//! scope the policy declares, one subject whatever the spelling of its address, an answer from
//! what was written with its idempotency key remembered, and one record corrected or deleted
//! with the recipients told (Art. 5(1)(b), 5(1)(e), 16, 17, 19).

use custos_policy::Policy;
use custos_vault::records::Correction;
use custos_vault::retention::{EventTarget, HoldTarget};
use custos_vault::rights::{NewRequest, RequestKind, Verification};
use custos_vault::{Idempotency, NewRecord, RecordId, TenantVault, VaultError, Written};

use crate::harness::{
    Backend, audit_entries, policy, record, record_for, subject, tenant, ts, verify_attested,
};

/// Stores `draft(who, text)`; returns its id.
fn put_draft(t: &mut TenantVault<'_>, p: &Policy, who: &str, text: &str) -> RecordId {
    t.put(p, draft(who, text), jiff::Timestamp::now()).unwrap()
}

/// Writes an empty draft of jan@example.nl once per idempotency `key`.
fn put_jan_once(
    t: &mut TenantVault<'_>,
    p: &Policy,
    key: Option<&Idempotency<'_>>,
) -> custos_vault::Result<Written> {
    t.put_once(
        p,
        draft("jan@example.nl", "{}"),
        key,
        jiff::Timestamp::now(),
    )
}

fn draft(who: &str, text: &str) -> NewRecord {
    record_for(who, "draft", "auto_draft", text, ts("2026-11-01T10:00:00Z"))
}

/// Art. 5(1)(b): the decision call denies processing `draft` for `service`; a write must not
/// store it under that purpose either.
pub fn a_record_under_a_purpose_that_does_not_use_its_category_is_refused(b: &Backend) {
    let p = policy();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let mut r = draft("jan@example.nl", "{}");
    r.purposes = vec!["auto_draft".into(), "service".into()];
    let e = t
        .put(&p, r, jiff::Timestamp::now())
        .expect_err("service does not use drafts");
    assert!(
        matches!(&e, VaultError::CategoryNotForPurpose { purpose, category } if purpose == "service" && category == "draft"),
        "{e:?}"
    );
    assert!(e.to_string().contains("Art. 5(1)(b)"), "{e}");
    assert_eq!(b.count_records("acme"), 0);
    // A child category under a listed parent is covered.
    t.put(&p, draft("jan@example.nl", "{}"), jiff::Timestamp::now())
        .expect("auto_draft uses drafts");
}

/// A record-level event sent for the whole tenant is refused: it would start the clock of
/// every draft at once, future ones included.
pub fn an_event_at_a_scope_the_policy_does_not_declare_is_refused(b: &Backend) {
    let p = policy();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let id = put_draft(&mut t, &p, "jan@example.nl", "{}");
    let now = ts("2026-11-02T10:00:00Z");
    let e = t
        .record_event(&p, &EventTarget::Tenant, "draft.decided", now, now)
        .expect_err("draft.decided happens to a record");
    assert!(
        matches!(
            &e,
            VaultError::EventScope {
                asked: "tenant",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("one record"), "{e}");
    t.record_event(&p, &EventTarget::Record(id), "draft.decided", now, now)
        .expect("at its own scope");
    t.record_event(&p, &EventTarget::Tenant, "subscription.ended", now, now)
        .expect("a tenant event");
}

/// Records stored under `Jan@Example.NL` are the same subject's as `jan@example.nl`'s: they
/// are listed and erased together, and phone numbers in any spelling likewise.
pub fn a_subject_is_one_whatever_the_spelling_of_its_address(b: &Backend) {
    let p = policy();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    put_draft(&mut t, &p, "Jan@Example.NL", "{\"n\":1}");
    put_draft(&mut t, &p, " jan@example.nl", "{\"n\":2}");
    put_draft(&mut t, &p, "+31 6 1234 5678", "{\"n\":3}");
    put_draft(&mut t, &p, "0031612345678", "{\"n\":4}");
    assert_eq!(t.list(&subject("jan@example.nl")).unwrap().len(), 2);
    assert_eq!(t.list(&subject("+31612345678")).unwrap().len(), 2);
    assert_eq!(
        t.pseudonym(&subject("JAN@EXAMPLE.NL")),
        t.pseudonym(&subject("jan@example.nl"))
    );
    let e = t
        .erase_subject(&subject("jan@example.nl"), ts("2026-11-03T00:00:00Z"))
        .unwrap();
    assert_eq!(e.counts.records, 2, "both spellings erased");
    assert!(t.list(&subject("Jan@Example.NL")).unwrap().is_empty());
    // An app's own ids are kept as given.
    assert_ne!(
        t.pseudonym(&subject("User-1")),
        t.pseudonym(&subject("user-1"))
    );
}

/// The answer to a write is what was written, not a read after the commit (which a purge in
/// between turns into a 404); the idempotency key is stored with the write, so a retry writes
/// nothing, even after the record is gone, and another body under the key is refused.
pub fn a_write_answers_from_what_it_wrote_and_remembers_its_idempotency_key(b: &Backend) {
    let p = policy();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let key = Idempotency {
        key: "retry-7",
        request_hash: "aaaa",
    };
    let first = put_jan_once(&mut t, &p, Some(&key)).unwrap();
    assert!(!first.replayed);
    assert_eq!(first.created_at, ts("2026-11-01T10:00:00Z"));
    assert_eq!(first.subject, t.pseudonym(&subject("jan@example.nl")));
    // The record goes (a purge, an erasure) before the retry arrives.
    t.erase_subject(&subject("jan@example.nl"), ts("2026-11-01T10:00:01Z"))
        .unwrap();
    let again = put_jan_once(&mut t, &p, Some(&key)).unwrap();
    assert!(again.replayed, "a retry is answered as the first write was");
    assert_eq!(again.id, first.id);
    assert_eq!(b.count_records("acme"), 0, "the retry wrote nothing");
    let other = Idempotency {
        key: "retry-7",
        request_hash: "bbbb",
    };
    let e = put_jan_once(&mut t, &p, Some(&other)).expect_err("another body");
    assert!(matches!(e, VaultError::IdempotencyKeyReused), "{e:?}");
    // Keys are per tenant.
    let mut t2 = v.tenant(&tenant("other"));
    assert!(!put_jan_once(&mut t2, &p, Some(&key)).unwrap().replayed);
    // Without a key, a write is a write.
    let mut t = v.tenant(&tenant("acme"));
    let w = put_jan_once(&mut t, &p, None).unwrap();
    assert!(!w.replayed);
}

/// One record corrected (Art. 16) and one deleted (Art. 17): audited without the data,
/// recipients told (Art. 19), refused under a legal hold and, for deletion, while a law keeps
/// the record (Art. 17(3)(b)).
pub fn one_record_is_corrected_or_deleted_with_recipients_told(b: &Backend) {
    let p = policy();
    let mut v = b.open();
    let now = ts("2026-11-02T10:00:00Z");
    let mut t = v.tenant(&tenant("acme")).acting_as("app-key");
    let jan = subject("jan@example.nl");
    let d = put_draft(&mut t, &p, "jan@example.nl", "{\"to\":\"wrong\"}");
    let keep = put_draft(&mut t, &p, "jan@example.nl", "{\"to\":\"kept\"}");
    t.record_disclosure(
        &p,
        &jan,
        "anthropic",
        &["draft".into()],
        Some("ref-9".into()),
        now,
        now,
    )
    .unwrap();
    let r = t
        .update_record(&d, b"{\"to\":\"right\"}".to_vec(), now)
        .unwrap();
    assert_eq!(&*r.payload, b"{\"to\":\"right\"}");
    assert_eq!(&*t.get(&d).unwrap().payload, b"{\"to\":\"right\"}");
    assert_eq!(&*t.get(&keep).unwrap().payload, b"{\"to\":\"kept\"}");
    let told = t
        .notifications_of_request(&format!("record:{}", d.as_str()))
        .unwrap();
    assert_eq!(told.len(), 1, "{told:?}");
    t.delete_record(&p, &d, now).unwrap();
    assert!(matches!(t.get(&d), Err(VaultError::RecordNotFound(_))));
    assert!(matches!(
        t.update_record(&d, b"{}".to_vec(), now),
        Err(VaultError::RecordNotFound(_))
    ));
    // A law keeps account data (7 years after the subscription ends).
    let acct = t
        .put(&p, record("jan@example.nl", "{}"), jiff::Timestamp::now())
        .unwrap();
    let e = t.delete_record(&p, &acct, now).expect_err("kept by law");
    assert!(e.to_string().contains("Art. 17(3)(b)"), "{e}");
    // A legal hold keeps everything as it is.
    t.place_hold(&p, &HoldTarget::Subject(jan.clone()), "case 2026-17", now)
        .unwrap();
    assert!(matches!(
        t.update_record(&keep, b"{}".to_vec(), now),
        Err(VaultError::Held { .. })
    ));
    assert!(matches!(
        t.delete_record(&p, &keep, now),
        Err(VaultError::Held { .. })
    ));
    let audit = audit_entries(&mut t, None, 100);
    let actions: Vec<&str> = audit
        .iter()
        .filter(|e| e.action.starts_with("record."))
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(actions, ["record.rectify", "record.delete"]);
    let text = serde_json::to_string(&audit).unwrap();
    assert!(!text.contains("wrong") && !text.contains("right") && !text.contains("jan@"));
}

/// A rectification request carries out the correction it describes, in one transaction with
/// its completion; without corrections it is refused; a second verification is refused.
pub fn a_rectification_request_writes_its_corrections(b: &Backend) {
    let p = policy();
    let mut v = b.open();
    let now = ts("2026-11-02T10:00:00Z");
    let mut t = v.tenant(&tenant("acme")).acting_as("dpo-key");
    let jan = subject("jan@example.nl");
    let d = put_draft(&mut t, &p, "jan@example.nl", "{\"name\":\"Jn\"}");
    let other = put_draft(&mut t, &p, "piet@example.nl", "{\"name\":\"P\"}");
    let cal = custos_rights::NlCalendar::new();
    let req = NewRequest::counted(
        RequestKind::Rectification,
        jan.clone(),
        None,
        now,
        "email".into(),
        &cal,
    )
    .expect("in range");
    let id = t.file_request(&p, req).unwrap().request.request_id;
    verify_attested(&mut t, &id, "signed in", now);
    let again = t.verify_request(&id, &Verification::Code("000000".into()), now);
    assert!(again.is_err(), "verified once");
    let e = t
        .execute_rectification(&id, &jan, Vec::new(), "name corrected", now)
        .expect_err("no corrections");
    assert!(e.to_string().contains("corrections"), "{e}");
    // Another subject's record is not part of this request: nothing is written.
    let e = t
        .execute_rectification(
            &id,
            &jan,
            vec![
                Correction {
                    record: d.clone(),
                    payload: b"{\"name\":\"Jan\"}".to_vec(),
                },
                Correction {
                    record: other.clone(),
                    payload: b"{}".to_vec(),
                },
            ],
            "name corrected",
            now,
        )
        .expect_err("another subject's record");
    assert!(matches!(e, VaultError::RecordNotFound(_)), "{e:?}");
    assert_eq!(&*t.get(&d).unwrap().payload, b"{\"name\":\"Jn\"}");
    let done = t
        .execute_rectification(
            &id,
            &jan,
            vec![Correction {
                record: d.clone(),
                payload: b"{\"name\":\"Jan\"}".to_vec(),
            }],
            "name corrected",
            now,
        )
        .unwrap();
    assert_eq!(done.detail["outcome"]["records"][0], d.as_str());
    assert_eq!(&*t.get(&d).unwrap().payload, b"{\"name\":\"Jan\"}");
    assert_eq!(&*t.get(&other).unwrap().payload, b"{\"name\":\"P\"}");
}

/// Deleting a subject's last record of a category destroys that category's key in the same
/// transaction: a copy of the ciphertext that survives anywhere (put back here as a stray row)
/// can no longer be opened; the subject's other categories keep theirs.
pub fn deleting_the_last_record_of_a_category_shreds_its_key(b: &Backend) {
    let p = policy();
    let mut v = b.open();
    let now = ts("2026-11-02T10:00:00Z");
    let mut t = v.tenant(&tenant("acme")).acting_as("app-key");
    let d = put_draft(&mut t, &p, "piet@example.nl", "{\"to\":\"x\"}");
    let acct = t
        .put(&p, record("piet@example.nl", "{}"), jiff::Timestamp::now())
        .unwrap();
    let copy = b.copy_row("acme", d.as_str());
    t.delete_record(&p, &d, now).unwrap();
    let audit = audit_entries(&mut t, Some("record.delete"), 10);
    let details: serde_json::Value = serde_json::from_str(&audit[0].details).unwrap();
    assert_eq!(details["keys_destroyed"], 1, "{details}");
    b.put_back_row("acme", &copy);
    let e = t.get(&d).expect_err("the stray copy has no key");
    assert!(matches!(e, VaultError::KeyDestroyed(_)), "{e:?}");
    assert_eq!(
        &*t.get(&acct).unwrap().payload,
        b"{}",
        "other categories keep their key"
    );
}

/// Art. 17: an erasure destroys the subject's data keys. Writes of the same subject running
/// at the same time (each encrypts under a key it read before its transaction) either commit
/// before the erasure, and are erased with the rest, or find the key gone and are encrypted
/// again under a new one. Either way, every record left can be read: none was stored under a
/// key that no longer exists.
pub fn writes_and_erasures_of_one_subject_at_once_leave_every_record_readable(b: &Backend) {
    let p = policy();
    let who = subject("jan@example.nl");
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut v = b.open();
            let mut t = v.tenant(&tenant("acme"));
            for i in 0..40 {
                t.put(
                    &p,
                    draft("jan@example.nl", &format!("{{\"n\": {i}}}")),
                    jiff::Timestamp::now(),
                )
                .expect("every write is stored, encrypted again if an erasure took its key");
            }
        });
        let eraser = scope.spawn(|| {
            let mut v = b.open();
            let mut t = v.tenant(&tenant("acme"));
            for _ in 0..12 {
                t.erase_subject(&who, jiff::Timestamp::now())
                    .expect("erases");
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        });
        writer.join().expect("the writer");
        eraser.join().expect("the eraser");
    });
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let left = t
        .list(&who)
        .expect("every record left decrypts under a key that exists");
    assert_eq!(left.len() as i64, b.count_records("acme"));
}
