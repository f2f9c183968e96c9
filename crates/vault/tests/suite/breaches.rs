//! The breach register on both backends: every version of a breach kept and audited by its
//! digest (never its text), a follow-up refused when written on a version it did not see, another
//! tenant's breach absent, and the query of who a breach affected counting subjects and records
//! by category and window, with those erased since, and leaving its trace in the audit trail.

use custos_breach::assess::Decision;
use custos_breach::record::{Answer, Breach, BreachId, Kind, Party, Told};
use custos_vault::VaultError;
use custos_vault::breaches::{BreachError, RegisterSettings};

use crate::harness::{Backend, audit_entries, policy, put, subject, tenant, ts};

/// A confidentiality breach the officer became aware of at `aware`, described as `what`.
fn breach(aware: &str, what: &str) -> Breach {
    let mut b = Breach::new(
        BreachId::new("0".repeat(32)).expect("an id"),
        Answer::person(ts(aware), "dpo"),
        Answer::person(vec![Kind::Confidentiality], "dpo"),
    );
    b.description = Some(Answer::person(what.to_owned(), "dpo"));
    b
}

/// Art. 33(4) and (5): the first record and its follow-up are both kept; the trail holds their
/// digests; a writer who did not see the newest version is refused; the deadline is 72 hours
/// from awareness (Art. 33(1)); a record that contradicts itself is refused field by field.
pub fn a_breach_keeps_every_version_and_is_audited_by_digest(b: &Backend) {
    let settings = RegisterSettings::default();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme")).acting_as("account:dpo-1");
    let first = breach("2026-11-02T08:00:00Z", "laptop of Ann de Vries stolen");
    let b1 = t
        .record_breach(first.clone(), &settings, ts("2026-11-02T09:00:00Z"))
        .expect("recorded");
    assert_eq!(b1.version, 1);
    assert_eq!(b1.deadline_at, ts("2026-11-05T08:00:00Z"));
    let id = b1.breach_id.clone();
    let second = breach("2026-11-02T08:00:00Z", "laptop stolen; disk encrypted");
    let b2 = t
        .update_breach(
            &id,
            1,
            second.clone(),
            &settings,
            ts("2026-11-03T09:00:00Z"),
        )
        .expect("follow-up");
    assert_eq!((b2.version, b2.opened_at), (2, b1.opened_at));
    let e = t
        .update_breach(&id, 1, first.clone(), &settings, ts("2026-11-03T10:00:00Z"))
        .expect_err("stale");
    assert!(
        matches!(e, VaultError::Breach(BreachError::Stale { current: 2, .. })),
        "{e}"
    );
    let versions = t.breach_versions(&id).expect("versions");
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(
        versions[0].entry().expect("entry").breach.description,
        first.description
    );
    assert_eq!(
        t.breach(&id)
            .expect("read")
            .entry()
            .expect("entry")
            .breach
            .description,
        second.description
    );
    // Aware in the future: refused, naming the field.
    let e = t
        .record_breach(
            breach("2026-12-01T00:00:00Z", "x"),
            &settings,
            ts("2026-11-03T10:00:00Z"),
        )
        .expect_err("in the future");
    match e {
        VaultError::InvalidBreach(found) => {
            assert!(found.iter().any(|i| i.field == "/aware_at"), "{found:?}")
        }
        other => panic!("{other}"),
    }
    let entries = audit_entries(&mut t, None, 100);
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"breach.recorded") && actions.contains(&"breach.updated"),
        "{actions:?}"
    );
    let text: String = entries.iter().map(|e| e.details.as_str()).collect();
    assert!(
        !text.contains("Ann de Vries"),
        "no record text in the trail"
    );
    assert!(text.contains("record_sha256"));
    // Another tenant has no such breach.
    let e = v
        .tenant(&tenant("globex"))
        .breach(&id)
        .expect_err("not globex's");
    assert!(matches!(e, VaultError::Breach(BreachError::NotFound(_))));
    assert!(
        v.tenant(&tenant("globex"))
            .breaches(true)
            .expect("list")
            .is_empty()
    );
}

/// A person decides on notifying; the breach stays open until those the decision names were
/// told, then closes in the register.
pub fn a_decided_breach_closes_once_those_it_names_were_told(b: &Backend) {
    let settings = RegisterSettings::default();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let now = ts("2026-11-02T09:00:00Z");
    let b1 = t
        .record_breach(
            breach("2026-11-02T08:00:00Z", "mail to the wrong customer"),
            &settings,
            now,
        )
        .expect("recorded");
    let id = b1.breach_id.clone();
    let decision = Decision {
        notify_authority: true,
        notify_subjects: false,
        reasons: "one customer's order details to one other customer, who deleted them".into(),
        by: "dpo".into(),
        at: ts("2026-11-02T10:00:00Z"),
    };
    let b2 = t
        .decide_breach(
            &id,
            1,
            decision.clone(),
            &settings,
            ts("2026-11-02T10:00:00Z"),
        )
        .expect("decided");
    assert!(b2.closed_at.is_none(), "the authority is not told yet");
    let mut told = b2.entry().expect("entry").breach;
    told.told.push(Told {
        party: Party::Authority {
            name: "Autoriteit Persoonsgegevens".into(),
        },
        at: ts("2026-11-03T08:00:00Z"),
        reference: Some("AP-2026-1".into()),
        source: custos_breach::record::Source::Person {
            actor: "dpo".into(),
        },
    });
    let b3 = t
        .update_breach(&id, 2, told, &settings, ts("2026-11-03T09:00:00Z"))
        .expect("told");
    assert_eq!(b3.authority_notified_at, Some(ts("2026-11-03T08:00:00Z")));
    assert!(b3.closed_at.is_some(), "closed once the authority was told");
    assert_eq!(b3.entry().expect("entry").decision, Some(decision));
    assert!(t.breaches(false).expect("open ones").is_empty());
    assert_eq!(t.breaches(true).expect("all").len(), 1);
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
