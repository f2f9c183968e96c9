//! Tenant isolation as a property: no sequence of API calls made with tenant A's keys reveals or
//! changes tenant B's data. Proptest draws the calls (records, erasure, consent, decisions,
//! requests, holds, overrides, events, approvals, the audit trail, with any of A's three keys)
//! and the ids and subjects they name, from a pool that holds B's ids and a subject both tenants
//! have. After every call: A's answer shows nothing of B's that A did not send itself, and B's
//! view of its own data is what it was before A started.
//!
//! One real server on SQLite and one tenant B for the whole test; every case is a fresh tenant A.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json as j};

use crate::data::{Setup, json, send, setup, tenant};

/// The subjects calls name: one only A has, one both have, one only B has.
const SUBJECTS: [&str; 3] = ["a-only@example.nl", "jan@example.nl", "b-only@example.nl"];
const NOTICE_HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// Which of A's keys makes a call.
#[derive(Debug, Clone, Copy)]
enum Role {
    App,
    Dpo,
    Auditor,
}

/// One call A makes. `Index` fields pick an id from the pool (B's ids, A's, an unknown one) or a
/// subject from [`SUBJECTS`] when the call is made.
#[derive(Debug, Clone)]
enum Call {
    Put(Index, String),
    Get(Index),
    Update(Index, String),
    Delete(Index),
    Query(Index),
    Erase(Index),
    Consent(Index, bool),
    ConsentState(Index),
    ConsentHistory(Index),
    Decide(Index),
    File(Index, &'static str),
    Request(Index, &'static str),
    ListRequests,
    Hold(Index),
    Release(Index),
    ListHolds,
    Override(&'static str),
    DropOverride(&'static str),
    Event(Index, bool),
    Ask(Index),
    Approve(Index, bool),
    ListApprovals,
    Audit,
    Report,
}

fn call() -> impl Strategy<Value = (Role, Call)> {
    let role = prop_oneof![Just(Role::App), Just(Role::Dpo), Just(Role::Auditor)];
    let i = any::<Index>;
    let call = prop_oneof![
        (i(), "[a-z ]{1,12}").prop_map(|(s, t)| Call::Put(s, t)),
        i().prop_map(Call::Get),
        (i(), "[a-z ]{1,12}").prop_map(|(s, t)| Call::Update(s, t)),
        i().prop_map(Call::Delete),
        i().prop_map(Call::Query),
        i().prop_map(Call::Erase),
        (i(), any::<bool>()).prop_map(|(s, g)| Call::Consent(s, g)),
        i().prop_map(Call::ConsentState),
        i().prop_map(Call::ConsentHistory),
        i().prop_map(Call::Decide),
        (
            i(),
            prop::sample::select(vec!["access", "erasure", "portability", "rectification"])
        )
            .prop_map(|(s, k)| Call::File(s, k)),
        (
            i(),
            prop::sample::select(vec![
                "", "/code", "/verify", "/extend", "/refuse", "/execute"
            ])
        )
            .prop_map(|(r, a)| Call::Request(r, a)),
        Just(Call::ListRequests),
        i().prop_map(Call::Hold),
        i().prop_map(Call::Release),
        Just(Call::ListHolds),
        prop::sample::select(vec!["whatsapp", "support"]).prop_map(Call::Override),
        prop::sample::select(vec!["whatsapp", "support"]).prop_map(Call::DropOverride),
        (i(), any::<bool>()).prop_map(|(s, everyone)| Call::Event(s, everyone)),
        i().prop_map(Call::Ask),
        (i(), any::<bool>()).prop_map(|(a, yes)| Call::Approve(a, yes)),
        Just(Call::ListApprovals),
        Just(Call::Audit),
        Just(Call::Report),
    ];
    (role, call)
}

/// One tenant's keys.
struct Keys {
    app: String,
    dpo: String,
    auditor: String,
}

impl Keys {
    fn of(&self, role: Role) -> &str {
        match role {
            Role::App => &self.app,
            Role::Dpo => &self.dpo,
            Role::Auditor => &self.auditor,
        }
    }

    /// The key ids, as the audit trail names actors (`key:<id>`).
    fn actors(&self) -> Vec<String> {
        [&self.app, &self.dpo, &self.auditor]
            .iter()
            .map(|k| format!("key:{}", k.split('_').nth(1).expect("a key has an id")))
            .collect()
    }
}

/// B's data: what A must never see, and B's own view to compare.
struct Secret {
    keys: Keys,
    /// Record, request, hold and approval ids, the B-only subject and the texts B stored.
    marks: Vec<String>,
    records: Vec<String>,
    ids: Vec<String>,
}

fn ok(r: &crate::Reply, what: &str) -> Value {
    assert!(
        (200..300).contains(&r.status),
        "{what}: {} {}",
        r.status,
        r.body
    );
    json(r)
}

fn consent(subject: &str, purpose: &str, kind: &str) -> Value {
    j!({
        "subject": subject, "purpose": purpose, "kind": kind, "at": "2026-05-01T10:00:00Z",
        "notice_version": "2.0", "notice_hash": NOTICE_HASH, "channel": "web",
        "proof": "form settings-7"
    })
}

/// Tenant B with data on both its subjects: records, consent, a request, a hold, an override and
/// an approval.
fn seed_b(s: &Setup) -> Secret {
    let (app, dpo, auditor) = tenant(s, "iso-b");
    let keys = Keys { app, dpo, auditor };
    let url = |p: &str| s.server.url(p);
    let mut marks = vec![SUBJECTS[2].to_owned()];
    let mut records = Vec::new();
    for (n, subject) in SUBJECTS[1..].iter().enumerate() {
        let text = format!("b-secret-{n}");
        let r = send(
            "POST",
            &url("/v1/records"),
            &keys.app,
            Some(
                j!({ "subject": subject, "category": "support", "purposes": ["support"], "data": { "message": text } }),
            ),
        );
        records.push(
            ok(&r, "B stores a record")["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
        marks.push(text);
    }
    let r = send(
        "POST",
        &url("/v1/consent"),
        &keys.app,
        Some(consent(SUBJECTS[1], "auto_draft", "grant")),
    );
    ok(&r, "B records consent");
    let r = send(
        "POST",
        &url("/v1/requests"),
        &keys.app,
        Some(j!({ "kind": "access", "subject": SUBJECTS[1] })),
    );
    let request = ok(&r, "B files a request")["request"]["request_id"]
        .as_str()
        .expect("request id")
        .to_owned();
    let reason = "b-hold-reason".to_owned();
    let r = send(
        "POST",
        &url("/v1/holds"),
        &keys.dpo,
        Some(j!({ "scope": "subject", "subject": SUBJECTS[1], "reason": reason })),
    );
    let hold = ok(&r, "B places a hold")["hold_id"]
        .as_str()
        .expect("hold id")
        .to_owned();
    marks.push(reason);
    let r = send(
        "PUT",
        &url("/v1/retention/overrides/whatsapp"),
        &keys.dpo,
        Some(j!({ "period": "30 days" })),
    );
    ok(&r, "B overrides a retention period");
    let r = send(
        "POST",
        &url("/v1/approvals"),
        &keys.app,
        Some(j!({ "action": "draft.send", "item": "b-item", "subject": SUBJECTS[1] })),
    );
    let approval = ok(&r, "B asks for an approval")["approval_id"]
        .as_str()
        .expect("approval id")
        .to_owned();
    marks.push("b-item".to_owned());
    let ids = [records.clone(), vec![request, hold, approval]].concat();
    marks.extend(ids.iter().cloned());
    Secret {
        keys,
        marks,
        records,
        ids,
    }
}

/// Everything B can read of its own data (reads only: the audit entries they write are not
/// part of it).
fn view(s: &Setup, b: &Secret) -> Vec<(String, u16, String)> {
    let url = |p: &str| s.server.url(p);
    let mut calls: Vec<(String, &str, String, &str, Option<Value>)> = Vec::new();
    for id in &b.records {
        calls.push((
            format!("record {id}"),
            "GET",
            url(&format!("/v1/records/{id}")),
            &b.keys.app,
            None,
        ));
    }
    for subject in &SUBJECTS[1..] {
        let body = Some(j!({ "subject": subject }));
        calls.push((
            format!("records of {subject}"),
            "POST",
            url("/v1/records/query"),
            &b.keys.app,
            body.clone(),
        ));
        calls.push((
            format!("consent of {subject}"),
            "POST",
            url("/v1/consent/history"),
            &b.keys.app,
            body,
        ));
    }
    calls.push((
        "requests".into(),
        "GET",
        url("/v1/requests"),
        &b.keys.dpo,
        None,
    ));
    calls.push(("holds".into(), "GET", url("/v1/holds"), &b.keys.dpo, None));
    calls.push((
        "approvals".into(),
        "GET",
        url("/v1/approvals"),
        &b.keys.auditor,
        None,
    ));
    calls.push((
        "retention".into(),
        "GET",
        url("/v1/retention/report"),
        &b.keys.dpo,
        None,
    ));
    calls
        .into_iter()
        .map(|(what, method, url, key, body)| {
            let r = send(method, &url, key, body);
            // The report says when it was made; the rest of it is B's state.
            let body = match serde_json::from_str::<Value>(&r.body) {
                Ok(Value::Object(mut v)) => {
                    v.remove("at");
                    Value::Object(v).to_string()
                }
                _ => r.body,
            };
            (what, r.status, body)
        })
        .collect()
}

/// A's call as (method, path, body).
fn request(
    call: &Call,
    pool: &[String],
    a_ids: &[String],
) -> (&'static str, String, Option<Value>) {
    let all: Vec<&String> = pool.iter().chain(a_ids).collect();
    let id = |i: &Index| i.get(&all).as_str().to_owned();
    let who = |i: &Index| *i.get(&SUBJECTS);
    match call {
        Call::Put(s, text) => (
            "POST",
            "/v1/records".into(),
            Some(
                j!({ "subject": who(s), "category": "support", "purposes": ["support"], "data": { "message": text } }),
            ),
        ),
        Call::Get(i) => ("GET", format!("/v1/records/{}", id(i)), None),
        Call::Update(i, text) => (
            "PUT",
            format!("/v1/records/{}", id(i)),
            Some(j!({ "data": { "message": text } })),
        ),
        Call::Delete(i) => ("DELETE", format!("/v1/records/{}", id(i)), None),
        Call::Query(s) => (
            "POST",
            "/v1/records/query".into(),
            Some(j!({ "subject": who(s) })),
        ),
        Call::Erase(s) => (
            "POST",
            "/v1/subjects/erase".into(),
            Some(j!({ "subject": who(s) })),
        ),
        Call::Consent(s, grant) => (
            "POST",
            "/v1/consent".into(),
            Some(consent(
                who(s),
                "auto_draft",
                if *grant { "grant" } else { "withdraw" },
            )),
        ),
        Call::ConsentState(s) => (
            "POST",
            "/v1/consent/state".into(),
            Some(j!({ "subject": who(s) })),
        ),
        Call::ConsentHistory(s) => (
            "POST",
            "/v1/consent/history".into(),
            Some(j!({ "subject": who(s) })),
        ),
        Call::Decide(s) => (
            "POST",
            "/v1/decisions".into(),
            Some(j!({ "subject": who(s), "purpose": "auto_draft", "category": "draft" })),
        ),
        Call::File(s, kind) => (
            "POST",
            "/v1/requests".into(),
            Some(j!({ "kind": kind, "subject": who(s) })),
        ),
        Call::Request(i, action) => {
            let body = match *action {
                "" | "/code" => None,
                "/verify" => Some(j!({ "attested": "signed-in session" })),
                "/execute" => Some(j!({ "subject": SUBJECTS[1] })),
                _ => Some(j!({ "reason": "a's reason" })),
            };
            let method = if action.is_empty() { "GET" } else { "POST" };
            (method, format!("/v1/requests/{}{action}", id(i)), body)
        }
        Call::ListRequests => ("GET", "/v1/requests".into(), None),
        Call::Hold(s) => (
            "POST",
            "/v1/holds".into(),
            Some(j!({ "scope": "subject", "subject": who(s), "reason": "a's case" })),
        ),
        Call::Release(i) => ("DELETE", format!("/v1/holds/{}", id(i)), None),
        Call::ListHolds => ("GET", "/v1/holds".into(), None),
        Call::Override(category) => (
            "PUT",
            format!("/v1/retention/overrides/{category}"),
            Some(j!({ "period": "7 days" })),
        ),
        Call::DropOverride(category) => (
            "DELETE",
            format!("/v1/retention/overrides/{category}"),
            None,
        ),
        Call::Event(_, true) => (
            "POST",
            "/v1/events".into(),
            Some(j!({ "event": "subscription.ended", "scope": "tenant" })),
        ),
        Call::Event(s, false) => (
            "POST",
            "/v1/events".into(),
            Some(j!({ "event": "account.deleted", "scope": "subject", "subject": who(s) })),
        ),
        Call::Ask(s) => (
            "POST",
            "/v1/approvals".into(),
            Some(j!({ "action": "draft.send", "item": "a-item", "subject": who(s) })),
        ),
        Call::Approve(i, yes) => (
            "POST",
            format!(
                "/v1/approvals/{}/{}",
                id(i),
                if *yes { "approve" } else { "reject" }
            ),
            Some(j!({ "reason": "a's verdict" })),
        ),
        Call::ListApprovals => ("GET", "/v1/approvals".into(), None),
        Call::Audit => ("GET", "/v1/audit?limit=1000".into(), None),
        Call::Report => ("GET", "/v1/retention/report".into(), None),
    }
}

/// The ids in an answer A got (records, requests, holds, approvals it made), for later calls.
fn learn(body: &str, into: &mut Vec<String>) {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return;
    };
    for id in [
        &v["id"],
        &v["request"]["request_id"],
        &v["hold_id"],
        &v["approval_id"],
    ] {
        if let Some(id) = id.as_str()
            && !into.iter().any(|k| k == id)
        {
            into.push(id.to_owned());
        }
    }
}

#[test]
fn no_sequence_of_calls_with_one_tenants_keys_reveals_or_changes_anothers_data() {
    let s = setup("isolation-props");
    let b = seed_b(&s);
    let before = view(&s, &b);
    // An unknown id too, so calls also meet "not found".
    let pool: Vec<String> = [
        b.ids.clone(),
        vec!["0123456789abcdef0123456789abcdef".into()],
    ]
    .concat();
    let case = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 40,
        max_shrink_iters: 32,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&prop::collection::vec(call(), 1..16), |calls| {
        let n = case.fetch_add(1, Ordering::Relaxed);
        let (app, dpo, auditor) = tenant(&s, &format!("iso-a{n}"));
        let a = Keys { app, dpo, auditor };
        let mut a_ids = Vec::new();
        for (role, call) in &calls {
            let (method, path, body) = request(call, &pool, &a_ids);
            let sent = format!(
                "{path} {}",
                body.as_ref().map(Value::to_string).unwrap_or_default()
            );
            let r = send(method, &s.server.url(&path), a.of(*role), body);
            prop_assert!(r.status < 500, "{method} {path}: {} {}", r.status, r.body);
            for mark in b.marks.iter().filter(|m| !sent.contains(m.as_str())) {
                prop_assert!(
                    !r.body.contains(mark.as_str()),
                    "{method} {path} with A's {role:?} key showed B's `{mark}`: {}",
                    r.body
                );
            }
            learn(&r.body, &mut a_ids);
            let now = view(&s, &b);
            for (was, is) in before.iter().zip(&now) {
                prop_assert_eq!(
                    was,
                    is,
                    "{} {} with A's {:?} key changed B's {}",
                    method,
                    path,
                    role,
                    was.0
                );
            }
        }
        let trail = send(
            "GET",
            &s.server.url("/v1/audit?limit=1000"),
            &b.keys.auditor,
            None,
        );
        for actor in a.actors() {
            prop_assert!(
                !trail.body.contains(&actor),
                "A's {actor} acted in B's audit trail: {}",
                trail.body
            );
        }
        Ok::<(), TestCaseError>(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
