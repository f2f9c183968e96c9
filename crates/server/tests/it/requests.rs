//! Data-subject requests over HTTP with a real vault, on SQLite and PostgreSQL: one end-to-end
//! pass per request kind, identity verification before anything is disclosed or deleted, the
//! access archive as a real zip, duplicates, extensions, refusals and the errors in between.

use serde_json::json as j;

use crate::data::{
    Setup, admin_key, json, on_postgresql, open_backend, put, send, setup_on, sqlite_config, tenant,
};
use crate::{Running, agent, problem};

static ANSWERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[test]
fn every_request_kind_works_end_to_end_over_http() {
    requests_end_to_end(&setup_on(sqlite_config("requests")));
}

#[test]
fn every_request_kind_works_end_to_end_on_postgresql() {
    on_postgresql("requests", |c| requests_end_to_end(&setup_on(c)));
}

#[test]
fn deadlines_skip_the_days_equated_by_decree_in_the_configuration() {
    let config = sqlite_config("equated");
    let backend = open_backend(&config);
    let admin = admin_key(&backend);
    let s = Setup {
        server: Running::start_configured(Some(backend), crate::JBSYNC.to_owned(), |c| {
            c.equated_holidays = vec!["2026-05-15".parse().expect("a date")];
        }),
        admin,
    };
    let (app, _, _) = tenant(&s, "acme");
    // Received Tuesday 2026-04-14: one month on is Ascension Day (Thursday 14 May, a public
    // holiday under the Algemene termijnenwet), then Friday 15 May, which the configuration
    // equates to a holiday (Atw art. 3(3)), then the weekend: due Monday 18 May
    // (Reg. 1182/71 art. 3(4)).
    let r = send(
        "POST",
        &s.server.url("/v1/requests"),
        &app,
        Some(
            j!({ "kind": "access", "subject": "jan@example.nl", "received_at": "2026-04-14T10:00:00Z" }),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let v = json(&r);
    assert_eq!(v["request"]["due_on"], "2026-05-18", "{v}");
    // With the extension, three months on: Tuesday 14 July, a working day.
    assert_eq!(
        v["request"]["detail"]["extended_due_on"], "2026-07-14",
        "{v}"
    );
}

/// Files a request and returns its id.
fn file(s: &Setup, key: &str, body: serde_json::Value) -> String {
    let r = send("POST", &s.server.url("/v1/requests"), key, Some(body));
    assert_eq!(r.status, 201, "{}", r.body);
    let v = json(&r);
    assert_eq!(v["duplicate"], false);
    assert_eq!(v["request"]["state"], "received");
    v["request"]["request_id"].as_str().unwrap().to_owned()
}

fn attest(s: &Setup, dpo: &str, id: &str) {
    let r = send(
        "POST",
        &s.server.url(&format!("/v1/requests/{id}/verify")),
        dpo,
        Some(j!({ "attested": "signed-in session in the app" })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["request"]["state"], "verified");
}

fn execute(s: &Setup, dpo: &str, id: &str, subject: &str) -> crate::Reply {
    send(
        "POST",
        &s.server.url(&format!("/v1/requests/{id}/execute")),
        dpo,
        Some(j!({ "subject": subject })),
    )
}

fn requests_end_to_end(s: &Setup) {
    let url = |p: &str| s.server.url(p);
    let (app, dpo, auditor) = tenant(s, "acme");
    let who = "jan@example.nl";
    for text in ["first question", "second question", "third question"] {
        assert_eq!(put(s, &app, who, text).status, 201);
    }

    // Access: filed by the app, a duplicate returns the first, nothing before verification.
    let access = file(
        s,
        &app,
        j!({ "kind": "access", "subject": who, "channel": "web" }),
    );
    let dup = send(
        "POST",
        &url("/v1/requests"),
        &app,
        Some(j!({ "kind": "access", "subject": who })),
    );
    assert_eq!(dup.status, 200, "{}", dup.body);
    assert_eq!(json(&dup)["duplicate"], true);
    assert_eq!(json(&dup)["request"]["request_id"], access.as_str());
    let early = execute(s, &dpo, &access, who);
    assert_eq!(early.status, 409, "{}", early.body);
    assert!(
        problem(&early)["detail"]
            .as_str()
            .unwrap()
            .contains("Art. 12(6)")
    );

    // The app fetches the code, sends it to the address on file, relays what the person typed.
    let r = send(
        "POST",
        &url(&format!("/v1/requests/{access}/code")),
        &app,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let code = json(&r)["code"].as_str().unwrap().to_owned();
    let wrong = if code == "123456" { "654321" } else { "123456" };
    let r = send(
        "POST",
        &url(&format!("/v1/requests/{access}/verify")),
        &app,
        Some(j!({ "code": wrong })),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(problem(&r)["errors"][0]["field"], "/code");
    // Only a dpo may attest identity.
    let r = send(
        "POST",
        &url(&format!("/v1/requests/{access}/verify")),
        &app,
        Some(j!({ "attested": "trust me" })),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = send(
        "POST",
        &url(&format!("/v1/requests/{access}/verify")),
        &app,
        Some(j!({ "code": code })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Only a dpo carries requests out; someone else's identifier is not this request.
    assert_eq!(execute(s, &app, &access, who).status, 403);
    assert_eq!(execute(s, &dpo, &access, "piet@example.nl").status, 404);

    // The answer: a real zip with the data and the Art. 15 report.
    let resp = agent()
        .post(&url(&format!("/v1/requests/{access}/execute")))
        .header("authorization", &format!("Bearer {dpo}"))
        .header("content-type", "application/json")
        .send(j!({ "subject": who }).to_string().as_bytes())
        .expect("answer");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/zip");
    let mut resp = resp;
    let bytes = resp.body_mut().read_to_vec().expect("archive");
    let dir = std::env::temp_dir().join(format!(
        "custos-it-answer-{}-{}",
        std::process::id(),
        // The SQLite and PostgreSQL runs share the process under `cargo test`.
        ANSWERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let zip = dir.join("answer.zip");
    std::fs::write(&zip, &bytes).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&zip)
        .arg(dir.join("x"))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = std::fs::read_to_string(dir.join("x/data.json")).expect("data.json");
    assert!(
        data.contains("second question"),
        "the subject's data is in the answer"
    );
    let report = std::fs::read_to_string(dir.join("x/report.html")).expect("report.html");
    assert!(
        report.contains("Autoriteit Persoonsgegevens") || report.contains("authority"),
        "the report names the right to complain"
    );
    // In the request's language (none was given: the policy's first, Dutch), records as
    // label: value, not JSON (issue 22).
    assert!(report.contains("<html lang=\"nl\">"), "{report}");
    assert!(report.contains("<article class=\"record\">"), "{report}");
    assert!(!report.contains("<code>{"), "{report}");
    assert!(std::fs::metadata(dir.join("x/data.csv")).is_ok());

    let r = send(
        "GET",
        &url(&format!("/v1/requests/{access}")),
        &auditor,
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = json(&r);
    assert_eq!(v["request"]["state"], "completed");
    assert_eq!(v["risk"], "closed");
    let steps: Vec<&str> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "received",
            "duplicate",
            "code_issued",
            "verification_failed",
            "verified",
            "in_progress",
            "completed"
        ]
    );
    assert!(!r.body.contains(who), "no subject identifier in a request");

    // Portability: the same, machine-readable only.
    let port = file(s, &app, j!({ "kind": "portability", "subject": who }));
    attest(s, &dpo, &port);
    let resp = agent()
        .post(&url(&format!("/v1/requests/{port}/execute")))
        .header("authorization", &format!("Bearer {dpo}"))
        .header("content-type", "application/json")
        .send(j!({ "subject": who }).to_string().as_bytes())
        .expect("answer");
    assert_eq!(resp.status().as_u16(), 200);

    // Rectification, restriction, objection, withdrawal.
    let rect = file(s, &app, j!({ "kind": "rectification", "subject": who }));
    attest(s, &dpo, &rect);
    let r = execute(s, &dpo, &rect, who);
    assert_eq!(
        r.status, 422,
        "a rectification says what was corrected: {}",
        r.body
    );
    let r = send(
        "POST",
        &url(&format!("/v1/requests/{rect}/execute")),
        &dpo,
        Some(j!({ "subject": who, "note": "postal address corrected" })),
    );
    assert_eq!(
        r.status, 422,
        "a rectification carries its corrections: {}",
        r.body
    );
    assert_eq!(problem(&r)["errors"][0]["field"], "/corrections");
    let listed = json(&send(
        "POST",
        &url("/v1/records/query"),
        &app,
        Some(j!({ "subject": who })),
    ));
    let record = listed["records"][0]["id"].as_str().unwrap().to_owned();
    let r = send(
        "POST",
        &url(&format!("/v1/requests/{rect}/execute")),
        &dpo,
        Some(j!({ "subject": who, "note": "postal address corrected",
                  "corrections": [{ "record_id": record, "data": { "message": "corrected question" } }] })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["request"]["state"], "completed");
    let got = json(&send(
        "GET",
        &url(&format!("/v1/records/{record}")),
        &app,
        None,
    ));
    assert_eq!(got["data"]["message"], "corrected question");
    for (kind, purpose, flag) in [
        ("restriction", None, "restricted"),
        ("objection", Some("customer_email"), "objected"),
        ("withdrawal", Some("style_learning"), "withdrawn"),
    ] {
        let mut body = j!({ "kind": kind, "subject": who });
        if let Some(p) = purpose {
            body["purpose"] = p.into();
        }
        let id = file(s, &app, body);
        attest(s, &dpo, &id);
        let r = execute(s, &dpo, &id, who);
        assert_eq!(r.status, 200, "{kind}: {}", r.body);
        assert_eq!(json(&r)["answer"]["flag"], flag, "{}", r.body);
    }
    let r = send(
        "POST",
        &url("/v1/requests"),
        &app,
        Some(j!({ "kind": "objection", "subject": who, "purpose": "service" })),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(problem(&r)["errors"][0]["field"], "/purpose");
    let r = send(
        "POST",
        &url("/v1/requests"),
        &app,
        Some(j!({ "kind": "forget-me", "subject": who })),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(problem(&r)["errors"][0]["field"], "/kind");

    // Extension with a reason, once; refusal with the right to complain.
    let ext = file(
        s,
        &app,
        j!({ "kind": "access", "subject": "other@example.nl" }),
    );
    let r = send(
        "POST",
        &url(&format!("/v1/requests/{ext}/extend")),
        &dpo,
        Some(j!({ "reason": "records in several systems" })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["request"]["extended"], true);
    let r = send(
        "POST",
        &url(&format!("/v1/requests/{ext}/extend")),
        &dpo,
        Some(j!({ "reason": "again" })),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    let r = send(
        "POST",
        &url(&format!("/v1/requests/{ext}/refuse")),
        &dpo,
        Some(j!({ "reason": "manifestly unfounded" })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        json(&r)["request"]["detail"]["refusal"]["complaint"]
            .as_str()
            .unwrap()
            .contains("Art. 77")
    );

    // Erasure last: the subject's records go.
    let erase = file(s, &app, j!({ "kind": "erasure", "subject": who }));
    attest(s, &dpo, &erase);
    let r = execute(s, &dpo, &erase, who);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["answer"]["records_erased"], 3, "{}", r.body);
    let r = send(
        "POST",
        &url("/v1/records/query"),
        &app,
        Some(j!({ "subject": who })),
    );
    assert_eq!(
        json(&r)["records"].as_array().map_or(0, Vec::len),
        0,
        "{}",
        r.body
    );

    // The list by deadline, for the auditor; other tenants see none of it.
    let r = send("GET", &url("/v1/requests?all=true"), &auditor, None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r).as_array().unwrap().len(), 8);
    let open = send("GET", &url("/v1/requests"), &auditor, None);
    assert_eq!(json(&open).as_array().unwrap().len(), 0, "{}", open.body);
    let (_, other_dpo, _) = tenant(s, "globex");
    let r = send(
        "GET",
        &url(&format!("/v1/requests/{erase}")),
        &other_dpo,
        None,
    );
    assert_eq!(r.status, 404, "{}", r.body);
    let r = send("GET", &url("/v1/requests/not-an-id"), &dpo, None);
    assert_eq!(r.status, 400, "{}", r.body);
}
