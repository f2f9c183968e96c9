//! Data-subject requests on stored data: the lifecycle with its history and audit trail,
//! identity verification before anything happens, extensions, the flags of restriction,
//! objection and withdrawal, and erasure that keeps statutory records under restriction
//! (Art. 17(3)(b)) and finishes once after an interruption.

use custos_vault::rights::{
    Request, RequestError, RequestKind, RequestQuery, RequestState, Risk, Verification,
};
use custos_vault::{HoldTarget, TenantVault, VaultError};
use jiff::civil::Date;

use crate::harness::{
    Backend, audit_entries, example_policy, file, file_request_id, new_request, put, subject,
    tenant, ts, verify_attested,
};

fn date(s: &str) -> Date {
    s.parse().expect("date")
}

/// Extends request `id` for `reason` on the day `on` (at 09:00 UTC).
fn extend(
    t: &mut TenantVault<'_>,
    id: &str,
    reason: &str,
    on: &str,
) -> custos_vault::Result<Request> {
    t.extend_request(id, reason, date(on), ts(&format!("{on}T09:00:00Z")))
}

/// When the records of these cases were created.
fn created() -> jiff::Timestamp {
    ts("2026-01-10T00:00:00Z")
}

fn request_error(e: VaultError) -> RequestError {
    match e {
        VaultError::Request(r) => r,
        other => panic!("expected a request error, got {other:?}"),
    }
}

/// Filing, a duplicate, verification by code (wrong, then right), progress and completion: each
/// step in the request's history and in the audit trail, with no subject identifier anywhere.
pub fn a_request_moves_through_its_lifecycle_with_history_and_audit(b: &Backend) {
    let policy = example_policy("jbsync.toml");
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme")).acting_as("key-1");
    let filed = file(
        &mut t,
        &policy,
        new_request(RequestKind::Access, "ann@example.com", None, "2026-01-31"),
    );
    assert!(!filed.duplicate);
    let r = filed.request;
    assert_eq!(r.state, RequestState::Received);
    assert_eq!(
        r.due_on,
        date("2026-02-28"),
        "one month from 31 January ends on the last day of February"
    );
    let id = r.request_id.clone();

    let again = t
        .file_request(
            &policy,
            new_request(RequestKind::Access, "ann@example.com", None, "2026-02-01"),
        )
        .expect("filed again");
    assert!(
        again.duplicate,
        "an open access request from the same subject is returned"
    );
    assert_eq!(again.request.request_id, id);

    // Nothing is disclosed before verification.
    let e = t
        .complete_request(
            &id,
            serde_json::json!({ "records": 0 }),
            ts("2026-02-01T11:00:00Z"),
        )
        .expect_err("unverified");
    assert!(matches!(request_error(e), RequestError::NotVerified(_)));

    let code = t.issue_code(&id, ts("2026-02-01T11:00:00Z")).expect("code");
    assert_eq!(code.len(), 6);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let e = t
        .verify_request(
            &id,
            &Verification::Code(wrong.into()),
            ts("2026-02-01T11:01:00Z"),
        )
        .expect_err("wrong code");
    assert!(matches!(
        request_error(e),
        RequestError::WrongCode { attempts_left: 4 }
    ));
    // An expired code is void even when right.
    let e = t
        .verify_request(
            &id,
            &Verification::Code(code.clone()),
            ts("2026-02-01T12:00:00Z"),
        )
        .expect_err("expired");
    assert!(matches!(request_error(e), RequestError::CodeVoid));
    let code = t
        .issue_code(&id, ts("2026-02-01T12:00:00Z"))
        .expect("new code");
    let verified = t
        .verify_request(&id, &Verification::Code(code), ts("2026-02-01T12:01:00Z"))
        .expect("verified");
    assert_eq!(verified.state, RequestState::Verified);

    t.start_request(&id, ts("2026-02-02T09:00:00Z"))
        .expect("started");
    let done = t
        .complete_request(
            &id,
            serde_json::json!({ "records": 3 }),
            ts("2026-02-03T09:00:00Z"),
        )
        .expect("completed");
    assert_eq!(done.state, RequestState::Completed);
    assert_eq!(done.risk(date("2026-03-30")), Risk::Closed);
    let e = t
        .extend_request(&id, "busy", date("2026-02-04"), ts("2026-02-04T09:00:00Z"))
        .expect_err("closed");
    assert!(matches!(request_error(e), RequestError::Closed { .. }));

    let steps: Vec<String> = t
        .request_history(&id)
        .expect("history")
        .into_iter()
        .map(|s| s.step)
        .collect();
    assert_eq!(
        steps,
        [
            "received",
            "duplicate",
            "code_issued",
            "verification_failed",
            "code_issued",
            "verified",
            "in_progress",
            "completed"
        ]
    );
    let audit = audit_entries(&mut t, None, 1000);
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e.action.as_str())
        .filter(|a| a.starts_with("request."))
        .collect();
    assert_eq!(
        actions.len(),
        steps.len(),
        "every step is audited: {actions:?}"
    );
    for e in &audit {
        assert!(
            !e.details.contains("ann@example.com"),
            "no subject id in the audit trail"
        );
        assert!(
            !e.details.contains("\"hash\""),
            "no code hash in the audit trail"
        );
    }
    drop(t);
    assert!(
        !b.raw_contains(b"ann@example.com"),
        "the subject id is never stored"
    );

    // A second, new request after the first closed is not a duplicate.
    let mut t = v.tenant(&tenant("acme"));
    let later = file(
        &mut t,
        &policy,
        new_request(RequestKind::Access, "ann@example.com", None, "2026-03-01"),
    );
    assert!(!later.duplicate);
}

/// A request for someone with no data looks exactly like one for someone with data.
pub fn an_unknown_subject_gets_the_same_answer_as_a_known_one(b: &Backend) {
    let policy = example_policy("jbsync.toml");
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    put(
        &mut t,
        &policy,
        "known@example.com",
        "account",
        "service",
        created(),
    );
    let known = file(
        &mut t,
        &policy,
        new_request(
            RequestKind::Erasure,
            "known@example.com",
            None,
            "2026-02-02",
        ),
    );
    let unknown = file(
        &mut t,
        &policy,
        new_request(
            RequestKind::Erasure,
            "nobody@example.com",
            None,
            "2026-02-02",
        ),
    );
    assert_eq!(known.request.state, unknown.request.state);
    assert_eq!(known.duplicate, unknown.duplicate);
    assert_eq!(known.request.due_on, unknown.request.due_on);
    assert_eq!(known.request.detail, unknown.request.detail);
    t.issue_code(&unknown.request.request_id, ts("2026-02-02T10:00:00Z"))
        .expect("a code is issued all the same");
}

/// Jet-Stream keeps administrative records 7 years by law: an erasure keeps them restricted,
/// says so with the law and the date, and shreds the rest.
pub fn an_erasure_keeps_statutory_records_restricted_and_shreds_the_rest(b: &Backend) {
    let policy = example_policy("jetstream.toml");
    let mut v = b.open();
    let mut t = v.tenant(&tenant("media-co")).acting_as("operator");
    let who = "customer@example.com";
    let kept = put(
        &mut t,
        &policy,
        who,
        "administrative_record",
        "administration",
        created(),
    );
    let gone = put(
        &mut t,
        &policy,
        who,
        "customer",
        "customer_service",
        created(),
    );
    put(
        &mut t,
        &policy,
        "other@example.com",
        "customer",
        "customer_service",
        created(),
    );
    let id = file_request_id(
        &mut t,
        &policy,
        new_request(RequestKind::Erasure, who, None, "2026-03-02"),
    );
    let e = t
        .execute_erasure(&policy, &id, &subject(who), ts("2026-03-03T09:00:00Z"))
        .expect_err("unverified");
    assert!(matches!(request_error(e), RequestError::NotVerified(_)));
    assert!(t.get(&gone).is_ok(), "nothing deleted before verification");

    verify_attested(&mut t, &id, "signed-in session", ts("2026-03-03T09:00:00Z"));
    let answer = t
        .execute_erasure(&policy, &id, &subject(who), ts("2026-03-03T09:05:00Z"))
        .expect("erased");
    assert_eq!(answer.records_erased, 1);
    assert!(!answer.resumed);
    assert_eq!(answer.kept.len(), 1);
    let k = &answer.kept[0];
    assert_eq!(k.category, "administrative_record");
    assert_eq!(k.records, 1);
    assert!(k.law.contains("7 years"), "{}", k.law);
    let custos_vault::rights::KeptUntil::Date { date: until } = k.until else {
        panic!("a statutory period from creation has a date: {:?}", k.until);
    };
    assert!(
        until > ts("2033-01-01T00:00:00Z") && until < ts("2033-02-01T00:00:00Z"),
        "{until}"
    );

    assert!(matches!(t.get(&gone), Err(VaultError::RecordNotFound(_))));
    assert!(
        matches!(t.get(&kept), Err(VaultError::Restricted(_))),
        "kept, but unreadable to everyday processing"
    );
    assert!(t.list(&subject(who)).expect("list").is_empty());
    assert_eq!(
        t.list(&subject("other@example.com")).expect("list").len(),
        1,
        "others untouched"
    );

    let r = t.request(&id).expect("request");
    assert_eq!(r.state, RequestState::Completed);
    assert_eq!(
        r.detail["outcome"]["kept"][0]["category"],
        "administrative_record"
    );

    let erasures = audit_entries(&mut t, Some("request.erasure"), 10);
    assert_eq!(erasures.len(), 1);
    assert!(
        erasures[0].details.contains("\"records_restricted\":1"),
        "{}",
        erasures[0].details
    );
}

/// An erasure stopped after it fixed its erasure id (here by a legal hold placed meanwhile)
/// finishes the same erasure once when run again.
pub fn an_interrupted_erasure_finishes_once(b: &Backend) {
    let policy = example_policy("jetstream.toml");
    let mut v = b.open();
    let mut t = v.tenant(&tenant("media-co"));
    let who = "customer@example.com";
    put(
        &mut t,
        &policy,
        who,
        "customer",
        "customer_service",
        created(),
    );
    put(
        &mut t,
        &policy,
        who,
        "customer",
        "customer_service",
        created(),
    );
    t.record_disclosure(
        &policy,
        &subject(who),
        "payt",
        &["customer".to_owned()],
        Some("debtor-77".into()),
        ts("2026-02-01T00:00:00Z"),
        ts("2026-02-01T00:00:00Z"),
    )
    .expect("disclosure");
    let id = file_request_id(
        &mut t,
        &policy,
        new_request(RequestKind::Erasure, who, None, "2026-03-02"),
    );
    verify_attested(&mut t, &id, "desk", ts("2026-03-02T11:00:00Z"));
    let hold = t
        .place_hold(
            &policy,
            &HoldTarget::Subject(subject(who)),
            "litigation pending",
            ts("2026-03-02T11:30:00Z"),
        )
        .expect("hold");
    let e = t
        .execute_erasure(&policy, &id, &subject(who), ts("2026-03-02T12:00:00Z"))
        .expect_err("held");
    assert!(matches!(e, VaultError::Held { .. }), "{e}");
    assert_eq!(t.request(&id).expect("r").state, RequestState::InProgress);
    assert_eq!(
        t.list(&subject(who)).expect("list").len(),
        2,
        "a hold stops the erasure entirely"
    );

    t.release_hold(&hold.hold_id, ts("2026-03-03T09:00:00Z"))
        .expect("released");
    let answer = t
        .execute_erasure(&policy, &id, &subject(who), ts("2026-03-03T10:00:00Z"))
        .expect("erased");
    assert!(answer.resumed);
    assert_eq!(answer.records_erased, 2);
    let again = t
        .execute_erasure(&policy, &id, &subject(who), ts("2026-03-03T10:01:00Z"))
        .expect_err("completed");
    assert!(matches!(request_error(again), RequestError::Closed { .. }));
    assert!(t.list(&subject(who)).expect("list").is_empty());
    // The recipient is told once (Art. 19), queued with the erasure's start, not again on resume.
    let told = t.notifications_of_request(&id).expect("notifications");
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].recipient, "payt");
    assert_eq!(told[0].action, "erasure");
    let steps: Vec<String> = t
        .request_history(&id)
        .expect("history")
        .into_iter()
        .map(|s| s.step)
        .collect();
    assert_eq!(
        steps.iter().filter(|s| *s == "recipients_notified").count(),
        1,
        "{steps:?}"
    );
}

/// The extension: a reason, before the first month runs out, once.
pub fn an_extension_needs_a_reason_and_the_first_month(b: &Backend) {
    let policy = example_policy("jbsync.toml");
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let a = file(
        &mut t,
        &policy,
        new_request(RequestKind::Access, "a@example.com", None, "2026-01-15"),
    )
    .request;
    let e = extend(&mut t, &a.request_id, "  ", "2026-01-20").expect_err("no reason");
    assert!(matches!(request_error(e), RequestError::ReasonRequired(_)));
    let e = extend(&mut t, &a.request_id, "many records", "2026-02-16").expect_err("too late");
    let msg = e.to_string();
    assert!(
        msg.contains("2026-02-15") && msg.contains("Art. 12(3)"),
        "{msg}"
    );
    let r = extend(
        &mut t,
        &a.request_id,
        "many records across systems",
        "2026-02-15",
    )
    .expect("extended on the last day");
    assert!(r.extended);
    assert_eq!(r.due_on, date("2026-04-15"));
    assert_eq!(r.detail["extension_reason"], "many records across systems");
    let e = extend(&mut t, &a.request_id, "again", "2026-02-20").expect_err("once");
    assert!(matches!(request_error(e), RequestError::AlreadyExtended(_)));

    // The list by deadline flags the ones at risk.
    let b2 = file(
        &mut t,
        &policy,
        new_request(RequestKind::Erasure, "b@example.com", None, "2026-03-01"),
    )
    .request;
    let list = t.requests(false).expect("list");
    assert_eq!(
        list.iter()
            .map(|r| r.request_id.as_str())
            .collect::<Vec<_>>(),
        [b2.request_id.as_str(), a.request_id.as_str()]
    );
    assert_eq!(list[0].risk(date("2026-03-25")), Risk::AtRisk);
    assert_eq!(list[0].risk(date("2026-03-10")), Risk::OnTrack);
    assert_eq!(list[0].risk(date("2026-04-02")), Risk::Overdue);
}

/// Withdrawal needs a consent purpose, objection one on legitimate interests or direct
/// marketing (absolute); restriction flags everything. Refusals carry the right to complain.
pub fn flags_follow_restriction_objection_and_withdrawal(b: &Backend) {
    let policy = example_policy("jbsync.toml");
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let who = "c@example.com";
    put(&mut t, &policy, who, "account", "service", created());
    let file = |t: &mut TenantVault<'_>, kind, purpose: Option<&str>| {
        t.file_request(&policy, new_request(kind, who, purpose, "2026-04-01"))
    };
    let e = file(&mut t, RequestKind::Withdrawal, None).expect_err("purpose needed");
    assert!(matches!(
        request_error(e),
        RequestError::PurposeRequired { .. }
    ));
    let e = file(&mut t, RequestKind::Withdrawal, Some("billing")).expect_err("not consent");
    assert!(e.to_string().contains("Art. 7(3)"), "{e}");
    let e = file(&mut t, RequestKind::Withdrawal, Some("style_lerning")).expect_err("unknown");
    assert!(
        e.to_string().contains("did you mean `style_learning`"),
        "{e}"
    );
    let e = file(&mut t, RequestKind::Objection, Some("service")).expect_err("contract");
    assert!(matches!(
        request_error(e),
        RequestError::NotObjectable { .. }
    ));

    let mut done = Vec::new();
    for (kind, purpose) in [
        (RequestKind::Withdrawal, Some("style_learning")),
        (RequestKind::Objection, Some("customer_email")),
        (RequestKind::Restriction, None),
    ] {
        let id = file(&mut t, kind, purpose)
            .expect("filed")
            .request
            .request_id;
        let e = t
            .execute_flag_request(&policy, &id, &subject(who), ts("2026-04-02T09:00:00Z"))
            .expect_err("unverified");
        assert!(matches!(request_error(e), RequestError::NotVerified(_)));
        verify_attested(&mut t, &id, "session", ts("2026-04-02T09:00:00Z"));
        let e = t
            .execute_flag_request(
                &policy,
                &id,
                &subject("someone-else"),
                ts("2026-04-02T09:00:00Z"),
            )
            .expect_err("other subject");
        assert!(matches!(request_error(e), RequestError::OtherSubject(_)));
        let r = t
            .execute_flag_request(&policy, &id, &subject(who), ts("2026-04-02T09:01:00Z"))
            .expect("done");
        assert_eq!(r.state, RequestState::Completed);
        done.push(r);
    }
    assert_eq!(
        done[1].detail["outcome"]["absolute"], true,
        "objection to direct marketing is absolute"
    );
    let flags = t.subject_flags(&subject(who)).expect("flags");
    let got: Vec<(&str, Option<&str>)> = flags
        .iter()
        .map(|f| (f.flag.as_str(), f.purpose.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("objected", Some("customer_email")),
            ("restricted", None),
            ("withdrawn", Some("style_learning"))
        ]
    );
    assert!(
        t.subject_flags(&subject("other@example.com"))
            .expect("flags")
            .is_empty()
    );

    let id = file(&mut t, RequestKind::Access, None)
        .expect("filed")
        .request
        .request_id;
    let r = t
        .refuse_request(
            &policy,
            &id,
            "manifestly unfounded: fifth identical request this week",
            ts("2026-04-03T09:00:00Z"),
        )
        .expect("refused");
    assert_eq!(r.state, RequestState::Refused);
    let complaint = r.detail["refusal"]["complaint"]
        .as_str()
        .expect("complaint");
    assert!(
        complaint.contains("Art. 77") && complaint.contains("Autoriteit Persoonsgegevens"),
        "{complaint}"
    );
}

/// The console's queue page: the counts of overdue and at-risk requests and the page itself come
/// from the database, and say what `Request::risk` says of each request (Art. 12(3)).
pub fn a_page_of_the_queue_is_counted_and_cut_in_the_database_as_the_rules_flag_each_request(
    b: &Backend,
) {
    let policy = example_policy("jbsync.toml");
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let received = [
        ("a@example.com", RequestKind::Access, "2026-01-05"),
        ("b@example.com", RequestKind::Erasure, "2026-02-20"),
        ("c@example.com", RequestKind::Access, "2026-02-25"),
        ("d@example.com", RequestKind::Access, "2026-03-20"),
        ("e@example.com", RequestKind::Portability, "2026-03-21"),
    ];
    let mut ids = Vec::new();
    for (who, kind, on) in received {
        ids.push(
            file(&mut t, &policy, new_request(kind, who, None, on))
                .request
                .request_id,
        );
    }
    // One is refused, so it leaves the open queue.
    t.refuse_request(
        &policy,
        &ids[4],
        "manifestly unfounded",
        ts("2026-03-22T09:00:00Z"),
    )
    .expect("refused");
    let today = date("2026-03-24");
    let open = t.requests(false).expect("list");
    let page =
        |t: &mut TenantVault<'_>, q: RequestQuery| t.request_page(&q, today, None).expect("page");
    let all = page(
        &mut t,
        RequestQuery {
            limit: 100,
            ..RequestQuery::default()
        },
    );
    assert_eq!(all.total, 4);
    let by_rule = |risk: Risk| open.iter().filter(|r| r.risk(today) == risk).count() as u64;
    assert_eq!(all.overdue, by_rule(Risk::Overdue));
    assert_eq!(all.at_risk, by_rule(Risk::AtRisk));
    assert_eq!(
        (all.overdue, all.at_risk),
        (2, 1),
        "due 5 Feb and 20 Mar; due 25 Mar"
    );
    assert_eq!(
        all.requests
            .iter()
            .map(|r| &r.request_id)
            .collect::<Vec<_>>(),
        open.iter().map(|r| &r.request_id).collect::<Vec<_>>()
    );
    let second = page(
        &mut t,
        RequestQuery {
            offset: 2,
            limit: 2,
            ..RequestQuery::default()
        },
    );
    assert_eq!(second.total, 4);
    assert_eq!(
        second
            .requests
            .iter()
            .map(|r| &r.request_id)
            .collect::<Vec<_>>(),
        [&ids[2], &ids[3]]
    );
    let access = page(
        &mut t,
        RequestQuery {
            kind: Some(RequestKind::Access),
            limit: 100,
            ..RequestQuery::default()
        },
    );
    assert_eq!(access.total, 3);
    let refused = page(
        &mut t,
        RequestQuery {
            state: Some(RequestState::Refused),
            limit: 100,
            ..RequestQuery::default()
        },
    );
    assert_eq!((refused.total, refused.overdue, refused.at_risk), (1, 0, 0));
    assert_eq!(refused.requests[0].request_id, ids[4]);

    // Counts passed back are reused while nothing changed (shown here by marked ones), and
    // counted again once a request changes or the day turns.
    let q = RequestQuery {
        limit: 2,
        ..RequestQuery::default()
    };
    let first = t.request_page(&q, today, None).expect("page");
    let marked = custos_vault::rights::Counted {
        total: 99,
        ..first.counted
    };
    assert_eq!(
        t.request_page(&q, today, Some(&marked))
            .expect("page")
            .total,
        99
    );
    let tomorrow = date("2026-03-25");
    assert_eq!(
        t.request_page(&q, tomorrow, Some(&marked))
            .expect("page")
            .total,
        4
    );
    t.refuse_request(
        &policy,
        &ids[0],
        "manifestly unfounded",
        ts("2026-03-24T09:00:00Z"),
    )
    .expect("refused");
    let after = t.request_page(&q, today, Some(&marked)).expect("page");
    assert_eq!(after.total, 3, "recounted after a change");
}

/// The privacy team carries out a request without typing who asked: the vault keeps the
/// requester sealed while the request is open, and forgets it when it closes (Art. 5(1)(c)).
pub fn who_filed_a_request_is_kept_sealed_while_it_is_open_and_forgotten_when_it_closes(
    b: &Backend,
) {
    let policy = example_policy("jbsync.toml");
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let id = file(
        &mut t,
        &policy,
        new_request(RequestKind::Erasure, "Ann@Example.com", None, "2026-03-02"),
    )
    .request
    .request_id;
    let who = t.requester(&id).expect("read").expect("kept while open");
    assert_eq!(t.pseudonym(&who), t.pseudonym(&subject("ann@example.com")));
    // Another tenant's handle finds no such request.
    let e = v
        .tenant(&tenant("globex"))
        .requester(&id)
        .expect_err("not globex's");
    assert!(matches!(request_error(e), RequestError::NotFound(_)));
    let mut t = v.tenant(&tenant("acme"));
    t.refuse_request(
        &policy,
        &id,
        "manifestly unfounded",
        ts("2026-03-03T09:00:00Z"),
    )
    .expect("refused");
    assert!(
        t.requester(&id).expect("read").is_none(),
        "forgotten once closed"
    );
}
