//! The breach register on both backends: every version of a breach kept and audited by its
//! digest (never its text), a follow-up refused when written on a version it did not see, another
//! tenant's breach absent, and the query of who a breach affected counting subjects and records
//! by category and window, with those erased since, and leaving its trace in the audit trail.

use custos_vault::breaches::BreachColumns;
use custos_vault::{VaultError, breaches::BreachError};

use crate::harness::{Backend, audit_entries, policy, put, subject, tenant, ts};

fn columns(aware: &str) -> BreachColumns {
    let aware_at = ts(aware);
    BreachColumns {
        aware_at,
        deadline_at: aware_at + jiff::SignedDuration::from_hours(72),
        authority_notified_at: None,
        closed: false,
    }
}

/// Art. 33(4) and (5): the first record and its follow-up are both kept; the trail holds their
/// digests; a writer who did not see the newest version is refused.
pub fn a_breach_keeps_every_version_and_is_audited_by_digest(b: &Backend) {
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme")).acting_as("account:dpo-1");
    let first = serde_json::json!({ "description": "laptop of Ann de Vries stolen", "phase": 1 });
    let b1 = t
        .record_breach(
            &first,
            &columns("2026-11-02T08:00:00Z"),
            ts("2026-11-02T09:00:00Z"),
        )
        .expect("recorded");
    assert_eq!(b1.version, 1);
    assert_eq!(b1.deadline_at, ts("2026-11-05T08:00:00Z"));
    let second = serde_json::json!({ "description": "laptop stolen; disk encrypted", "phase": 2 });
    let b2 = t
        .update_breach(
            &b1.breach_id,
            1,
            &second,
            &columns("2026-11-02T08:00:00Z"),
            ts("2026-11-03T09:00:00Z"),
        )
        .expect("follow-up");
    assert_eq!((b2.version, b2.opened_at), (2, b1.opened_at));
    let e = t
        .update_breach(
            &b1.breach_id,
            1,
            &first,
            &columns("2026-11-02T08:00:00Z"),
            ts("2026-11-03T10:00:00Z"),
        )
        .expect_err("stale");
    assert!(
        matches!(e, VaultError::Breach(BreachError::Stale { current: 2, .. })),
        "{e}"
    );
    let versions = t.breach_versions(&b1.breach_id).expect("versions");
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(versions[0].record, first);
    assert_eq!(t.breach(&b1.breach_id).expect("read").record, second);
    let entries = audit_entries(&mut t, None, 100);
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"breach.recorded") && actions.contains(&"breach.updated"),
        "{actions:?}"
    );
    let text =
        serde_json::to_string(&entries.iter().map(|e| &e.details).collect::<Vec<_>>()).unwrap();
    assert!(
        !text.contains("Ann de Vries"),
        "no record text in the trail"
    );
    assert!(text.contains("record_sha256"));
    // Another tenant has no such breach.
    let e = v
        .tenant(&tenant("globex"))
        .breach(&b1.breach_id)
        .expect_err("not globex's");
    assert!(matches!(e, VaultError::Breach(BreachError::NotFound(_))));
    assert!(
        v.tenant(&tenant("globex"))
            .breaches(true)
            .expect("list")
            .is_empty()
    );
}

/// Art. 33(3)(a), 34(3)(a): the counts of a breach of the `account` and `billing` categories
/// during October: records stored by the window's end, each subject once, the subject erased
/// since counted apart, everything encrypted at rest; the query is in the trail.
pub fn the_affected_query_counts_by_category_and_window_and_those_erased_since(b: &Backend) {
    let p = policy();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let before = ts("2026-09-15T10:00:00Z");
    put(&mut t, &p, "a@example.test", "account", "service", before);
    put(&mut t, &p, "a@example.test", "billing", "billing", before);
    put(&mut t, &p, "b@example.test", "account", "service", before);
    put(
        &mut t,
        &p,
        "c@example.test",
        "account",
        "service",
        ts("2026-11-20T10:00:00Z"),
    );
    put(&mut t, &p, "d@example.test", "account", "service", before);
    t.erase_subject(&subject("d@example.test"), ts("2026-10-20T10:00:00Z"))
        .expect("erased");
    let cats = vec!["account".to_owned(), "billing".to_owned()];
    let got = t
        .breach_affected(
            None,
            &cats,
            ts("2026-10-01T00:00:00Z"),
            ts("2026-10-31T23:59:59Z"),
            ts("2026-11-02T09:00:00Z"),
        )
        .expect("counted");
    assert_eq!(
        (got.subjects, got.records),
        (2, 3),
        "a and b; c came after the window"
    );
    assert_eq!(got.erased_since, 1, "d was there in October");
    assert_eq!(got.per_category[0].category, "account");
    assert_eq!(
        (got.per_category[0].records, got.per_category[0].subjects),
        (2, 2)
    );
    assert_eq!(
        (got.per_category[1].records, got.per_category[1].subjects),
        (1, 1)
    );
    assert!(got.encrypted_at_rest);
    let entries = audit_entries(&mut t, Some("breach.affected_queried"), 10);
    assert_eq!(entries.len(), 1);
    let details: serde_json::Value = serde_json::from_str(&entries[0].details).expect("JSON");
    assert_eq!(details["result_sha256"], got.digest.as_str());
}
