//! Consent on stored data: the append-only ledger and its refusals, stale consent, acceptance of
//! statement versions, the suppression list that outlives an erasure, Global Privacy Control,
//! approval gates with one-time tokens, and the decision call that gathers all of it.

use custos_consent::ledger::{ConsentError, ConsentKind, ConsentState};
use custos_policy::{Policy, SourceFile};
use custos_vault::consent::{ConsentCallError, ConsentRecord, DecisionQuery};
use custos_vault::{SubjectId, TenantVault, VaultError};
use jiff::{Timestamp, ToSpan};

use crate::harness::{
    Backend, audit_entries, example_policy, example_text, record, subject, tenant, ts,
};

fn jbsync() -> Policy {
    example_policy("jbsync.toml")
}

const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn entry(purpose: &str, kind: ConsentKind, at: &str, version: &str) -> ConsentRecord {
    ConsentRecord {
        purpose: purpose.into(),
        kind,
        at: ts(at),
        notice_version: version.into(),
        notice_hash: HASH.into(),
        channel: "web".into(),
        proof: "form settings-7, ip 192.0.2.0/24".into(),
    }
}

/// The person switches JBSync's auto-drafts on (they are opt-in), as every approval case starts.
fn opt_in_to_auto_drafts(
    t: &mut TenantVault<'_>,
    policy: &Policy,
    who: &SubjectId,
    now: Timestamp,
) {
    let on = entry(
        "auto_draft",
        ConsentKind::Grant,
        "2026-07-01T10:00:00Z",
        "2026-04",
    );
    t.record_consent(policy, who, &on, now).expect("opted in");
}

fn consent_error(e: VaultError) -> ConsentCallError {
    match e {
        VaultError::Consent(c) => c,
        other => panic!("expected a consent error, got {other:?}"),
    }
}

fn query<'a>(who: &'a SubjectId, purpose: &'a str, category: &'a str) -> DecisionQuery<'a> {
    DecisionQuery {
        subject: who,
        purpose,
        category,
        record: None,
        address: None,
        gpc: false,
        action: None,
        item: None,
        approval_token: None,
        stale_versions: &[],
    }
}

fn rules(d: &custos_consent::decision::Decision) -> Vec<&'static str> {
    d.denied_by().collect()
}

/// Grant, withdraw, and every refusal the ledger knows; the audit keeps no proof.
pub fn the_consent_ledger_grows_forward_and_refuses_what_is_not_consent(b: &Backend) {
    let policy = jbsync();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme")).acting_as("app-key");
    let who = subject("ann@example.com");
    let now = ts("2026-05-01T12:00:00Z");
    // Records `kind` for `purpose` at `at`, under the notice version 2026-04.
    let record = |t: &mut TenantVault<'_>, purpose: &str, kind: ConsentKind, at: &str| {
        t.record_consent(&policy, &who, &entry(purpose, kind, at, "2026-04"), now)
    };

    let q = query(&who, "style_learning", "style_profile");
    let d = t.decide(&policy, &q, now).expect("decision");
    assert!(!d.allowed);
    assert!(rules(&d).contains(&"consent.absent"), "{:?}", rules(&d));

    let s = record(
        &mut t,
        "style_learning",
        ConsentKind::Grant,
        "2026-05-01T10:00:00Z",
    )
    .expect("granted");
    assert!(matches!(s, ConsentState::Granted { .. }));
    assert!(t.decide(&policy, &q, now).expect("decision").allowed);

    let s = record(
        &mut t,
        "style_learning",
        ConsentKind::Withdraw,
        "2026-05-01T11:00:00Z",
    )
    .expect("withdrawn in one call");
    assert!(matches!(s, ConsentState::Withdrawn { .. }));
    let d = t.decide(&policy, &q, now).expect("decision");
    assert!(!d.allowed, "{:?}", d);

    let e = record(
        &mut t,
        "style_learning",
        ConsentKind::Withdraw,
        "2026-05-01T11:30:00Z",
    )
    .expect_err("nothing to withdraw");
    assert!(matches!(
        consent_error(e),
        ConsentCallError::Ledger(ConsentError::NothingToWithdraw(_))
    ));
    let e = record(
        &mut t,
        "style_learning",
        ConsentKind::Grant,
        "2026-05-01T09:00:00Z",
    )
    .expect_err("older than the last entry");
    assert!(matches!(
        consent_error(e),
        ConsentCallError::Ledger(ConsentError::OutOfOrder { .. })
    ));
    let e = record(
        &mut t,
        "billing",
        ConsentKind::Grant,
        "2026-05-01T11:00:00Z",
    )
    .expect_err("billing rests on a legal obligation");
    assert!(matches!(
        consent_error(e),
        ConsentCallError::Ledger(ConsentError::NotConsentBased { .. })
    ));
    let e = record(
        &mut t,
        "style_lerning",
        ConsentKind::Grant,
        "2026-05-01T11:00:00Z",
    )
    .expect_err("undefined");
    assert!(matches!(
        consent_error(e),
        ConsentCallError::Ledger(ConsentError::UnknownPurpose(_))
    ));
    let mut full_ip = entry(
        "style_learning",
        ConsentKind::Grant,
        "2026-05-01T11:40:00Z",
        "2026-04",
    );
    full_ip.proof = "form 7 from 192.0.2.41".into();
    assert!(matches!(
        consent_error(
            t.record_consent(&policy, &who, &full_ip, now)
                .expect_err("full ip")
        ),
        ConsentCallError::FullIp
    ));
    let mut bad_hash = entry(
        "style_learning",
        ConsentKind::Grant,
        "2026-05-01T11:40:00Z",
        "2026-04",
    );
    bad_hash.notice_hash = "abc".into();
    assert!(matches!(
        consent_error(
            t.record_consent(&policy, &who, &bad_hash, now)
                .expect_err("hash")
        ),
        ConsentCallError::BadHash
    ));

    let history = t.consent_history(&who).expect("history");
    assert_eq!(
        history.len(),
        2,
        "refused entries leave no trace in the ledger"
    );
    let audit = audit_entries(&mut t, None, 100);
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e.action.as_str())
        .filter(|a| a.starts_with("consent."))
        .collect();
    assert_eq!(actions, ["consent.granted", "consent.withdrawn"]);
    assert!(
        audit
            .iter()
            .all(|e| !e.details.contains("192.0.2") && !e.details.contains("ann@"))
    );
}

/// Consent given under a notice version whose change needs consent again is stale, and a stale
/// consent allows nothing. A new statement version must be accepted at the next login.
pub fn stale_consent_and_statement_acceptance(b: &Backend) {
    let policy = jbsync();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let who = subject("bob@example.com");
    let now = ts("2026-06-01T12:00:00Z");
    t.record_consent(
        &policy,
        &who,
        &entry(
            "style_learning",
            ConsentKind::Grant,
            "2026-03-01T10:00:00Z",
            "2026-01",
        ),
        now,
    )
    .expect("granted");
    let states = t
        .consent_states(&policy, &who, &["2026-01"])
        .expect("states");
    let sl = states
        .iter()
        .find(|s| s.purpose == "style_learning")
        .expect("style_learning");
    assert!(sl.stale);
    let fresh = t.consent_states(&policy, &who, &[]).expect("states");
    assert!(
        !fresh
            .iter()
            .find(|s| s.purpose == "style_learning")
            .unwrap()
            .stale
    );
    let mut q = query(&who, "style_learning", "style_profile");
    assert!(t.decide(&policy, &q, now).unwrap().allowed);
    let stale = ["2026-01"];
    q.stale_versions = &stale;
    assert!(
        !t.decide(&policy, &q, now).unwrap().allowed,
        "stale consent allows nothing"
    );
    // The policy itself can say so (`stale_consent` on the purpose, as `custos diff` suggests):
    // then no caller needs to name the version.
    let text = example_text("jbsync.toml").replacen(
        "categories = [\"style_profile\"]",
        "categories = [\"style_profile\"]\nstale_consent = [\"2026-01\"]",
        1,
    );
    let renewed = custos_policy::load_source(SourceFile::new("jbsync.toml", &text))
        .expect("policy loads")
        .policy;
    q.stale_versions = &[];
    let d = t.decide(&renewed, &q, now).unwrap();
    assert!(!d.allowed, "consent under 2026-01 no longer counts: {d:?}");
    assert!(
        t.consent_states(&renewed, &who, &[])
            .expect("states")
            .iter()
            .any(|s| s.purpose == "style_learning" && s.stale)
    );

    assert!(t.must_accept(&who, "2026-06").expect("query"));
    assert!(
        t.accept_statement(&who, "2026-06", HASH, now, "app", "login screen", now)
            .expect("accepted")
    );
    assert!(!t.must_accept(&who, "2026-06").expect("query"));
    assert!(
        !t.accept_statement(&who, "2026-06", HASH, now, "app", "login screen", now)
            .expect("again"),
        "once is enough"
    );
    assert!(
        t.must_accept(&who, "2026-09").expect("query"),
        "a newer version must be accepted again"
    );
}

/// The suppression list holds keyed hashes only, matches however the address is written, and
/// outlives the subject's erasure; GPC objects to direct marketing for the subject.
pub fn suppression_outlives_erasure_and_gpc_objects_to_marketing(b: &Backend) {
    let policy = jbsync();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let who = subject("carol");
    let now = ts("2026-07-01T12:00:00Z");
    t.put(&policy, record("carol", "hello"), jiff::Timestamp::now())
        .expect("stored");

    let mut q = query(&who, "customer_email", "account");
    assert!(
        t.decide(&policy, &q, now).unwrap().allowed,
        "soft opt-in mail to a customer"
    );
    assert!(
        t.suppress("Carol@Example.com ", "opt_out", now)
            .expect("added")
    );
    assert!(
        !t.suppress("carol@example.com", "opt_out", now)
            .expect("idempotent")
    );
    q.address = Some("carol@EXAMPLE.com");
    let d = t.decide(&policy, &q, now).unwrap();
    assert!(
        !d.allowed && rules(&d).contains(&"suppression"),
        "{:?}",
        rules(&d)
    );
    t.erase_subject(&who, now).expect("erased");
    assert!(
        t.is_suppressed("carol@example.com")
            .expect("still there after erasure")
    );
    drop(t);
    assert!(
        !b.raw_contains(b"carol@example.com") && !b.raw_contains(b"Carol@Example.com"),
        "only a keyed hash is stored"
    );

    let mut t = v.tenant(&tenant("acme"));
    let dave = subject("dave");
    let q = query(&dave, "customer_email", "account");
    assert!(t.decide(&policy, &q, now).unwrap().allowed);
    assert!(
        t.record_gpc(&dave, Some("dave@example.com"), now)
            .expect("gpc")
    );
    assert!(!t.record_gpc(&dave, None, now).expect("idempotent"));
    let d = t.decide(&policy, &q, now).unwrap();
    assert!(
        !d.allowed,
        "GPC objects to direct marketing: {:?}",
        rules(&d)
    );
    assert!(t.is_suppressed("dave@example.com").unwrap());
    assert!(
        t.decide(&policy, &query(&dave, "service", "account"), now)
            .unwrap()
            .allowed,
        "the service itself goes on"
    );
}

/// JBSync: an AI draft is sent only after a person approved it, with a token good for one send.
pub fn approval_gates_issue_one_time_tokens(b: &Backend) {
    let policy = jbsync();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme")).acting_as("app-key");
    let who = subject("erin");
    let now = ts("2026-08-01T12:00:00Z");
    // Auto-drafts are opt-in (JBSync): the person switched them on.
    opt_in_to_auto_drafts(&mut t, &policy, &who, now);
    let a = t
        .request_approval(&policy, "draft.send", "draft-42", &who, now)
        .expect("registered");
    assert_eq!(a.state, "pending");
    let mut q = query(&who, "auto_draft", "draft");
    q.action = Some("draft.send");
    q.item = Some("draft-42");
    let d = t.decide(&policy, &q, now).unwrap();
    assert_eq!(rules(&d), ["approval.required"]);

    let mut t = v.tenant(&tenant("acme")).acting_as("user:reviewer-7");
    let e = t
        .decide_approval(&a.approval_id, false, None, now)
        .expect_err("a rejection needs a reason");
    assert!(matches!(
        consent_error(e),
        ConsentCallError::Empty("reason")
    ));
    let (approved, token) = t
        .decide_approval(&a.approval_id, true, None, now)
        .expect("approved");
    assert_eq!(approved.decided_by.as_deref(), Some("user:reviewer-7"));
    let token = token.expect("a token");
    let e = t
        .decide_approval(&a.approval_id, false, Some("changed my mind"), now)
        .expect_err("decided");
    assert!(matches!(
        consent_error(e),
        ConsentCallError::AlreadyDecided { .. }
    ));

    let mut t = v.tenant(&tenant("acme")).acting_as("app-key");
    q.approval_token = Some(&token);
    let wrong_purpose = {
        let mut w = query(&who, "auto_draft", "credentials");
        w.action = Some("draft.send");
        w.item = Some("draft-42");
        w.approval_token = Some(&token);
        t.decide(&policy, &w, now).unwrap()
    };
    assert!(
        !wrong_purpose.allowed,
        "denied anyway: the token is not spent"
    );
    assert!(
        t.decide(&policy, &q, now).unwrap().allowed,
        "approved: one send"
    );
    let replay = t.decide(&policy, &q, now).unwrap();
    assert!(!replay.allowed);
    assert!(
        rules(&replay).contains(&"approval.token"),
        "{:?}",
        rules(&replay)
    );
    assert!(
        replay
            .reasons
            .iter()
            .any(|r| r.detail.contains("already used"))
    );

    let b2 = t
        .request_approval(&policy, "draft.send", "draft-43", &who, now)
        .expect("registered");
    let (_, token2) = v
        .tenant(&tenant("acme"))
        .acting_as("user:reviewer-7")
        .decide_approval(&b2.approval_id, true, None, now)
        .expect("approved");
    let mut t = v.tenant(&tenant("acme"));
    let token2 = token2.unwrap();
    let mut late = q.clone();
    late.item = Some("draft-43");
    late.approval_token = Some(&token2);
    let later: Timestamp = now + 16.minutes();
    let d = t.decide(&policy, &late, later).unwrap();
    assert!(
        d.reasons.iter().any(|r| r.detail.contains("expired")),
        "{:?}",
        d.reasons
    );
    let e = t
        .use_approval_token("draft.send", "draft-44", &who, "not-a-token", now)
        .expect_err("unknown");
    assert!(matches!(consent_error(e), ConsentCallError::TokenInvalid));

    let audit = audit_entries(&mut t, None, 100);
    let who_did: Vec<(&str, &str)> = audit
        .iter()
        .filter(|e| e.action.starts_with("approval."))
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        who_did,
        [
            ("approval.requested", "app-key"),
            ("approval.approved", "user:reviewer-7"),
            ("approval.used", "app-key"),
            ("approval.requested", "app-key"),
            ("approval.approved", "user:reviewer-7"),
        ]
    );
}

/// An approval approves one action on one item of one subject (PRODUCT.md C7; Art. 22(3)): the
/// approval of draft 17 sends neither draft 18 nor draft 17 of another subject, and a token
/// refused for another item is not spent.
pub fn an_approval_token_opens_only_its_own_item_and_subject(b: &Backend) {
    let policy = jbsync();
    let mut v = b.open();
    let now = ts("2026-08-01T12:00:00Z");
    let (erin, frank) = (subject("erin"), subject("frank"));
    let mut t = v.tenant(&tenant("acme")).acting_as("app-key");
    for who in [&erin, &frank] {
        opt_in_to_auto_drafts(&mut t, &policy, who, now);
    }
    let a = t
        .request_approval(&policy, "draft.send", "d-17", &erin, now)
        .expect("registered");
    let (_, token) = v
        .tenant(&tenant("acme"))
        .acting_as("user:reviewer-7")
        .decide_approval(&a.approval_id, true, None, now)
        .expect("approved");
    let token = token.expect("a token");
    let mut t = v.tenant(&tenant("acme")).acting_as("app-key");
    let ask = |who, item| {
        let mut q = query(who, "auto_draft", "draft");
        q.action = Some("draft.send");
        q.item = item;
        q.approval_token = Some(token.as_str());
        q
    };
    let other_item = t.decide(&policy, &ask(&erin, Some("d-18")), now).unwrap();
    assert!(!other_item.allowed);
    assert!(rules(&other_item).contains(&"approval.token"));
    assert!(
        other_item
            .reasons
            .iter()
            .any(|r| r.detail.contains("another item")),
        "{:?}",
        other_item.reasons
    );
    let no_item = t.decide(&policy, &ask(&erin, None), now).unwrap();
    assert!(!no_item.allowed, "a token without its item opens nothing");
    let other_subject = t.decide(&policy, &ask(&frank, Some("d-17")), now).unwrap();
    assert!(!other_subject.allowed);
    assert!(
        other_subject
            .reasons
            .iter()
            .any(|r| r.detail.contains("another subject")),
        "{:?}",
        other_subject.reasons
    );
    assert!(
        !other_subject
            .reasons
            .iter()
            .any(|r| r.detail.contains("frank") || r.detail.contains("erin")),
        "no subject named"
    );
    // None of the refusals spent the token: its own item and subject still go, once.
    assert!(
        t.decide(&policy, &ask(&erin, Some("d-17")), now)
            .unwrap()
            .allowed
    );
    assert!(
        !t.decide(&policy, &ask(&erin, Some("d-17")), now)
            .unwrap()
            .allowed
    );
    let state = t.approval(&a.approval_id).expect("readable");
    assert_eq!(state.state, "approved");
    assert_eq!(state.token_used_at, Some(now));
}

/// An action the policy does not gate is refused, naming the nearest gated one: a misspelt
/// `draft.sned` would otherwise skip the `draft.send` gate (fail closed).
pub fn undeclared_approval_actions_are_refused_with_the_nearest_name(b: &Backend) {
    let policy = jbsync();
    let mut v = b.open();
    let now = ts("2026-08-01T12:00:00Z");
    let erin = subject("erin");
    let mut t = v.tenant(&tenant("acme")).acting_as("app-key");
    opt_in_to_auto_drafts(&mut t, &policy, &erin, now);
    let e = t
        .request_approval(&policy, "draft.sned", "d-17", &erin, now)
        .expect_err("undeclared");
    let e = consent_error(e);
    assert!(matches!(e, ConsentCallError::UnknownAction { .. }), "{e:?}");
    assert!(e.to_string().contains("did you mean `draft.send`"), "{e}");
    let mut q = query(&erin, "auto_draft", "draft");
    q.action = Some("draft.sned");
    let e = consent_error(t.decide(&policy, &q, now).expect_err("undeclared action"));
    assert!(matches!(e, ConsentCallError::UnknownAction { .. }), "{e:?}");
    // An e-mail address typed as the action is not echoed.
    q.action = Some("erin@example.com");
    let e = consent_error(t.decide(&policy, &q, now).expect_err("undeclared action"));
    assert!(!e.to_string().contains("erin@"), "{e}");
    // The gated action under a purpose that has no gate of its own still needs its approval.
    let mut q = query(&erin, "service", "account");
    q.action = Some("draft.send");
    let d = t.decide(&policy, &q, now).unwrap();
    assert_eq!(rules(&d), ["approval.required"]);
}
