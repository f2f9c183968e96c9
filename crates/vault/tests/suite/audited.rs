//! The vault writes its audit trail in the same transaction as the change it records: who,
//! what, when, which tenant and the subject's pseudonym, never personal data in the clear.

use custos_audit::{Query, Tamper, Verification};
use custos_vault::StoreConfig;

use crate::harness::{Backend, policy, put_in, record, subject, tenant, ts};

/// Runs raw SQL against the backend's audit table, as someone with database access could.
fn tamper(b: &Backend, sql: &str) {
    match &b.config {
        StoreConfig::Sqlite { path } => {
            custos_audit::SqliteStore::open(path)
                .expect("opens")
                .connection()
                .execute_batch(sql)
                .expect("tamper SQL runs");
        }
        StoreConfig::Postgres { url, schema, .. } => {
            custos_audit::PgStore::connect(url, Some(schema))
                .expect("connects")
                .client()
                .batch_execute(sql)
                .expect("tamper SQL runs");
        }
    }
}

pub fn writes_and_erasures_are_audited_with_pseudonyms_only(b: &Backend) {
    let mut v = b.open();
    let p = policy();
    v.tenant(&tenant("acme"))
        .acting_as("key:app-7")
        .put_batch(
            &p,
            vec![record("jan@example.nl", "a"), record("jan@example.nl", "b")],
            jiff::Timestamp::now(),
        )
        .expect("stored");
    put_in(&mut v, "acme", &p, record("piet@example.nl", "c"));
    put_in(&mut v, "globex", &p, record("jan@example.nl", "d"));
    let jan = v
        .tenant(&tenant("acme"))
        .pseudonym(&subject("jan@example.nl"));
    v.tenant(&tenant("acme"))
        .acting_as("dpo:alice")
        .erase_subject(&subject("jan@example.nl"), ts("2026-11-20T12:00:00Z"))
        .expect("erased");

    let entries = v
        .tenant(&tenant("acme"))
        .audit(&Query {
            limit: 100,
            ..Query::default()
        })
        .expect("audit reads");
    let summary: Vec<(&str, &str, Option<&str>)> = entries
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str(), e.subject.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            ("key:app-7", "records.put", Some(jan.as_str())),
            ("custos", "records.put", summary[1].2),
            ("dpo:alice", "subject.erase", Some(jan.as_str()))
        ],
        "{}",
        b.kind
    );
    assert!(
        entries[0].details.contains("\"records\":2"),
        "{}",
        entries[0].details
    );
    assert!(
        entries[2].details.contains("\"records_deleted\":2"),
        "{}",
        entries[2].details
    );
    for e in &entries {
        let text = serde_json::to_string(e).expect("json");
        assert!(
            !text.contains("jan@example.nl") && !text.contains("piet"),
            "personal data in the audit trail: {text}"
        );
    }
    assert_eq!(
        v.tenant(&tenant("globex"))
            .audit(&Query {
                limit: 100,
                ..Query::default()
            })
            .expect("reads")
            .len(),
        1,
        "one tenant never sees another's entries"
    );
    assert!(
        matches!(v.verify_audit().expect("verifies"), Verification::UnsealedTail(ref x) if x.entries == 4 && x.unsealed == 4),
        "{}",
        b.kind
    );
}

pub fn an_audit_entry_edited_in_the_database_is_reported_by_the_vault(b: &Backend) {
    let mut v = b.open();
    let p = policy();
    for i in 0..5 {
        put_in(&mut v, "acme", &p, record(&format!("s{i}"), "x"));
    }
    tamper(b, "UPDATE audit_entries SET actor = 'nobody' WHERE seq = 3");
    assert_eq!(
        v.verify_audit().expect("verifies"),
        Verification::Tampered(Tamper::Edited { seq: 3 }),
        "{}",
        b.kind
    );
}

pub fn a_checkpoint_can_be_signed_at_any_time_and_verifies_with_the_published_key(b: &Backend) {
    let mut v = b.open();
    v.tenant(&tenant("acme"))
        .put(&policy(), record("s", "x"), jiff::Timestamp::now())
        .expect("stored");
    let cp = v
        .checkpoint_audit(ts("2026-11-21T00:00:00Z"))
        .expect("signs")
        .expect("a checkpoint at the head");
    assert_eq!(cp.seq, 1);
    assert!(cp.signature_valid(&v.audit_public_key()));
    assert!(
        matches!(v.verify_audit().expect("verifies"), Verification::Intact(ref x) if x.checkpoints == 1)
    );
}

fn audit_event(i: usize) -> custos_audit::Event {
    custos_audit::Event {
        tenant: "acme".into(),
        actor: "key:app".into(),
        action: "records.read".into(),
        subject: None,
        details: serde_json::json!({ "n": i }),
    }
}

/// Issue 16.3: deleting the checkpoints and recomputing the plain SHA-256 chain used to verify
/// as intact. The vault signs a checkpoint every 1000 entries, so a trail past 1000 entries
/// without one was cut.
pub fn a_vault_trail_rehashed_after_its_checkpoints_were_deleted_is_tampered(b: &Backend) {
    let v = b.open();
    let events: Vec<_> = (0..1005).map(audit_event).collect();
    v.append_audit(&events[..600], ts("2026-11-21T00:00:00Z"))
        .expect("appends");
    v.append_audit(&events[600..], ts("2026-11-21T00:00:01Z"))
        .expect("appends");
    let verified = v.verify_audit().expect("verifies");
    // The append that reached entry 1000 signed a checkpoint at its last entry.
    assert!(
        matches!(verified, Verification::Intact(ref x) if x.checkpoints == 1 && x.sealed_to == 1005),
        "{}: {verified:?}",
        b.kind
    );
    // The chain is intact and its checkpoints are gone: a rewrite that kept the links.
    tamper(b, "DELETE FROM audit_checkpoints");
    let v2 = serde_json::to_value(v.verify_audit().expect("verifies")).unwrap();
    assert_eq!(v2["status"], "tampered", "{}: {v2}", b.kind);
    assert_eq!(v2["kind"], "missing_checkpoint", "{}: {v2}", b.kind);
    assert_eq!(v2["due"], 1000, "{}: {v2}", b.kind);
}

/// The checkpoint file is an independent copy: cutting the trail back to an earlier checkpoint
/// in the database is caught by it.
pub fn a_trail_cut_back_to_an_earlier_checkpoint_is_caught_by_the_checkpoint_file(b: &Backend) {
    let v = b.open();
    let events: Vec<_> = (0..5).map(audit_event).collect();
    v.append_audit(&events[..3], ts("2026-11-21T00:00:00Z"))
        .expect("appends");
    v.checkpoint_audit(ts("2026-11-21T00:00:01Z"))
        .expect("signs");
    v.append_audit(&events[3..], ts("2026-11-21T00:00:02Z"))
        .expect("appends");
    v.checkpoint_audit(ts("2026-11-21T00:00:03Z"))
        .expect("signs");
    let file = custos_audit::published::CheckpointFile::new(std::env::temp_dir().join(format!(
        "custos-vault-cpfile-{}-{}.jsonl",
        b.kind,
        std::process::id()
    )));
    let _ = std::fs::remove_file(file.path());
    assert_eq!(v.publish_audit_checkpoints(&file, 0).expect("publishes"), 5);
    let published = file.read().expect("reads");
    tamper(
        b,
        "DELETE FROM audit_entries WHERE seq > 3; DELETE FROM audit_checkpoints WHERE seq > 3",
    );
    assert!(
        matches!(v.verify_audit().expect("verifies"), Verification::Intact(ref x) if x.sealed_to == 3),
        "{}: the database alone cannot tell",
        b.kind
    );
    let expect = custos_audit::Expect {
        published,
        ..custos_audit::Expect::default()
    };
    assert_eq!(
        v.verify_audit_with(expect).expect("verifies"),
        Verification::Tampered(Tamper::Cut {
            head: 3,
            expected: 5
        }),
        "{}",
        b.kind
    );
    let _ = std::fs::remove_file(file.path());
}
