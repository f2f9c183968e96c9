//! Every problem names its code (`docs/errors.md`), so a client can branch on what happened and
//! not only on the status: a legal hold (409, lasts until released) is told apart from the other
//! 409s, such as an unverified request or a second extension, and a 422 names both its code and
//! its field.

use serde_json::json as j;

use crate::data::{Setup, put, send, setup, tenant};
use crate::problem;

/// The problem's `code`, after checking that `type` is its documentation URI.
fn code(r: &crate::Reply) -> String {
    let p = problem(r);
    let code = p["code"].as_str().expect("a problem has a code").to_owned();
    assert_eq!(
        p["type"],
        format!("https://custos.dev/problems/{code}"),
        "{p}"
    );
    code
}

fn file(s: &Setup, key: &str, kind: &str, subject: &str) -> String {
    let r = send(
        "POST",
        &s.server.url("/v1/requests"),
        key,
        Some(j!({ "kind": kind, "subject": subject })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    crate::data::json(&r)["request"]["request_id"]
        .as_str()
        .expect("a request id")
        .to_owned()
}

#[test]
fn an_erasure_refused_by_a_legal_hold_says_legal_hold() {
    let s = setup("codes-hold");
    let (app, dpo, _) = tenant(&s, "acme");
    assert_eq!(put(&s, &app, "jan@example.nl", "vraag").status, 201);
    let r = send(
        "POST",
        &s.server.url("/v1/holds"),
        &dpo,
        Some(j!({ "scope": "subject", "subject": "jan@example.nl", "reason": "case 2026-17" })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let erase = send(
        "POST",
        &s.server.url("/v1/subjects/erase"),
        &dpo,
        Some(j!({ "subject": "jan@example.nl" })),
    );
    assert_eq!(erase.status, 409, "{}", erase.body);
    assert_eq!(code(&erase), "legal-hold");
}

#[test]
fn an_unverified_request_and_a_second_extension_have_codes_of_their_own() {
    let s = setup("codes-requests");
    let (app, dpo, _) = tenant(&s, "acme");
    let who = "jan@example.nl";
    assert_eq!(put(&s, &app, who, "vraag").status, 201);
    let id = file(&s, &app, "access", who);
    let early = send(
        "POST",
        &s.server.url(&format!("/v1/requests/{id}/execute")),
        &dpo,
        Some(j!({ "subject": who })),
    );
    assert_eq!(early.status, 409, "{}", early.body);
    assert_eq!(code(&early), "request-not-verified");

    let extend = || {
        send(
            "POST",
            &s.server.url(&format!("/v1/requests/{id}/extend")),
            &dpo,
            Some(j!({ "reason": "records in several systems" })),
        )
    };
    assert_eq!(extend().status, 200);
    let again = extend();
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(code(&again), "extension-refused");
}

#[test]
fn a_rule_of_the_policy_names_its_code_and_the_field() {
    let s = setup("codes-unknown");
    let (app, _, _) = tenant(&s, "acme");
    let r = send(
        "POST",
        &s.server.url("/v1/records"),
        &app,
        Some(
            j!({ "subject": "jan@example.nl", "category": "suport", "purposes": ["support"], "data": {} }),
        ),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(code(&r), "unknown-category");
    assert_eq!(problem(&r)["errors"][0]["field"], "/category");
}
