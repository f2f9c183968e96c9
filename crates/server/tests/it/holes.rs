//! The holes found by using Custos as a company would, closed over HTTP (issue 16): approvals
//! bound to their item and subject and readable by the app, the Art. 30 record behind a key,
//! subject ids out of URL paths, no submitted value echoed in errors, one verification per
//! request, record correction and deletion, and an idempotent write that survives its record.

use serde_json::json as j;

use crate::data::{Setup, json, on_postgresql, send, setup_on, sqlite_config, tenant};
use crate::problem;

fn on_both(name: &str, f: fn(&Setup)) {
    f(&setup_on(sqlite_config(name)));
    on_postgresql(name, |c| f(&setup_on(c)));
}

#[test]
fn an_approval_sends_only_its_own_item_of_its_own_subject() {
    on_both("holes_approval", approval_binding);
}

fn approval_binding(s: &Setup) {
    let url = |p: &str| s.server.url(p);
    let (app, dpo, _) = tenant(s, "acme");
    for who in ["erin", "frank"] {
        let r = send(
            "POST",
            &url("/v1/consent"),
            &app,
            Some(
                j!({ "subject": who, "purpose": "auto_draft", "kind": "grant",
                      "at": "2026-07-01T10:00:00Z", "notice_version": "2026-04",
                      "notice_hash": "a".repeat(64), "channel": "web", "proof": "form 7" }),
            ),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = send(
        "POST",
        &url("/v1/approvals"),
        &app,
        Some(j!({ "action": "draft.send", "item": "d-17", "subject": "erin" })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = json(&r)["approval_id"].as_str().unwrap().to_owned();
    // The app reads its approval's state before acting.
    let r = send("GET", &url(&format!("/v1/approvals/{id}")), &app, None);
    assert_eq!(
        (r.status, json(&r)["state"].as_str()),
        (200, Some("pending")),
        "{}",
        r.body
    );
    let r = send(
        "POST",
        &url(&format!("/v1/approvals/{id}/approve")),
        &dpo,
        Some(j!({})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let token = json(&r)["token"].as_str().unwrap().to_owned();
    let ask = |who: &str, item: &str| {
        let r = send(
            "POST",
            &url("/v1/decisions"),
            &app,
            Some(
                j!({ "subject": who, "purpose": "auto_draft", "category": "draft",
                      "action": "draft.send", "item": item, "approval_token": token }),
            ),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        json(&r)
    };
    let other_draft = ask("erin", "d-18");
    assert_eq!(other_draft["allowed"], false, "{other_draft}");
    let other_subject = ask("frank", "d-17");
    assert_eq!(other_subject["allowed"], false, "{other_subject}");
    assert!(!other_subject.to_string().contains("frank"));
    assert_eq!(ask("erin", "d-17")["allowed"], true, "its own item, once");
    assert_eq!(ask("erin", "d-17")["allowed"], false);
    let r = send("GET", &url(&format!("/v1/approvals/{id}")), &app, None);
    assert!(json(&r)["token_used_at"].is_string(), "{}", r.body);
    // A misspelt action is refused, not waved through.
    let r = send(
        "POST",
        &url("/v1/decisions"),
        &app,
        Some(
            j!({ "subject": "erin", "purpose": "auto_draft", "category": "draft", "action": "draft.sned" }),
        ),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("did you mean `draft.send`"), "{}", r.body);
}

#[test]
fn internal_documents_need_a_key_and_errors_do_not_echo_what_was_sent() {
    let s = setup_on(sqlite_config("holes_leaks"));
    let url = |p: &str| s.server.url(p);
    let (app, dpo, auditor) = tenant(&s, "acme");
    // Art. 30(4): the record is for the authority, not the public.
    assert_eq!(crate::get(&url("/v1/policy/ropa")).status, 401);
    assert_eq!(send("GET", &url("/v1/policy/ropa"), &app, None).status, 403);
    for key in [&dpo, &auditor, &s.admin] {
        let r = send("GET", &url("/v1/policy/ropa?format=csv"), key, None);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = send("GET", &url("/v1/policy/ropa?format=xml"), &dpo, None);
    assert_eq!(problem(&r)["errors"][0]["field"], "format");
    // The statement stays public.
    assert_eq!(crate::get(&url("/v1/policy/statement?lang=en")).status, 200);
    // An e-mail address sent in the wrong field does not come back.
    let r = send(
        "POST",
        &url("/v1/requests"),
        &app,
        Some(j!({ "kind": "jan@example.nl", "subject": "jan@example.nl" })),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(!r.body.contains("jan@"), "{}", r.body);
    let r = send(
        "POST",
        &url("/v1/records"),
        &app,
        Some(
            j!({ "subject": "jan@example.nl", "category": "jan@example.nl", "purposes": ["support"], "data": {} }),
        ),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(!r.body.contains("jan@"), "{}", r.body);
    // Verified once; a second verification with any code is refused, not answered 200.
    let r = send(
        "POST",
        &url("/v1/requests"),
        &app,
        Some(j!({ "kind": "access", "subject": "jan@example.nl" })),
    );
    let id = json(&r)["request"]["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let verify = |body: serde_json::Value| {
        send(
            "POST",
            &url(&format!("/v1/requests/{id}/verify")),
            &dpo,
            Some(body),
        )
    };
    assert_eq!(verify(j!({ "attested": "signed-in session" })).status, 200);
    let again = verify(j!({ "code": "000000" }));
    assert_eq!(again.status, 409, "{}", again.body);
}

#[test]
fn subject_ids_travel_in_bodies_and_the_old_routes_are_gone() {
    let s = setup_on(sqlite_config("holes_paths"));
    let url = |p: &str| s.server.url(p);
    let (app, dpo, _) = tenant(&s, "acme");
    for (method, path) in [
        ("POST", "/v1/subjects/jan@example.nl/records"),
        ("GET", "/v1/subjects/jan@example.nl/records"),
        ("DELETE", "/v1/subjects/jan@example.nl"),
    ] {
        let key = if method == "DELETE" { &dpo } else { &app };
        let body = (method == "POST")
            .then(|| j!({ "category": "support", "purposes": ["support"], "data": {} }));
        let r = send(method, &url(path), key, body);
        assert_eq!(r.status, 410, "{method} {path}: {}", r.body);
        assert!(!r.body.contains("jan@"), "{}", r.body);
        assert!(r.body.contains("in the body"), "{}", r.body);
    }
    let r = send(
        "POST",
        &url("/v1/records/query"),
        &app,
        Some(j!({ "subject": "jan@example.nl" })),
    );
    assert_eq!(
        json(&r)["records"].as_array().unwrap().len(),
        0,
        "the old routes wrote nothing"
    );
}

#[test]
fn one_record_is_corrected_and_deleted_over_http() {
    on_both("holes_records", records_changed);
}

fn records_changed(s: &Setup) {
    let url = |p: &str| s.server.url(p);
    let (app, dpo, _) = tenant(s, "acme");
    let r = crate::data::put(s, &app, "Jan@Example.NL", "wrong address");
    assert_eq!(r.status, 201, "{}", r.body);
    let id = json(&r)["id"].as_str().unwrap().to_owned();
    let r = send(
        "PUT",
        &url(&format!("/v1/records/{id}")),
        &app,
        Some(j!({ "data": { "message": "right address" } })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["data"]["message"], "right address");
    let got = json(&send("GET", &url(&format!("/v1/records/{id}")), &app, None));
    assert_eq!(got["data"]["message"], "right address");
    // One subject, whatever the spelling of the address.
    let listed = json(&send(
        "POST",
        &url("/v1/records/query"),
        &app,
        Some(j!({ "subject": "jan@example.nl" })),
    ));
    assert_eq!(listed["records"].as_array().unwrap().len(), 1, "{listed}");
    let r = send("DELETE", &url(&format!("/v1/records/{id}")), &app, None);
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        send("GET", &url(&format!("/v1/records/{id}")), &app, None).status,
        404
    );
    assert_eq!(
        send("DELETE", &url(&format!("/v1/records/{id}")), &app, None).status,
        404
    );
    let trail = json(&send("GET", &url("/v1/audit?limit=100"), &dpo, None));
    let actions: Vec<&str> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("record."))
        .collect();
    assert_eq!(actions, ["record.rectify", "record.delete"], "{trail}");
    assert!(
        !trail.to_string().contains("address"),
        "no data in the trail"
    );
}

#[test]
fn an_idempotent_write_is_answered_from_the_database_after_its_record_is_gone() {
    on_both("holes_idem", idempotent_after_erasure);
}

fn idempotent_after_erasure(s: &Setup) {
    let url = |p: &str| s.server.url(p);
    let (app, dpo, _) = tenant(s, "acme");
    let post = || {
        crate::reply(
            crate::agent()
                .post(&url("/v1/records"))
                .header("authorization", &format!("Bearer {app}"))
                .header("content-type", "application/json")
                .header("idempotency-key", "order-9")
                .send(&br#"{"subject":"jan","category":"support","purposes":["support"],"data":{"n":1}}"#[..])
                .unwrap(),
        )
    };
    let first = post();
    assert_eq!(first.status, 201, "{}", first.body);
    let r = send(
        "POST",
        &url("/v1/subjects/erase"),
        &dpo,
        Some(j!({ "subject": "jan" })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let again = post();
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(json(&again)["id"], json(&first)["id"]);
    assert_eq!(json(&again)["data"], json(&first)["data"]);
    let listed = json(&send(
        "POST",
        &url("/v1/records/query"),
        &app,
        Some(j!({ "subject": "jan" })),
    ));
    assert_eq!(
        listed["records"].as_array().unwrap().len(),
        0,
        "the retry wrote nothing"
    );
}
