//! Retention over HTTP with a real vault: events, overrides, holds, the report and the dry run;
//! every bad request a problem naming the field; the scheduler purging on its own and counting
//! it in /metrics.

use serde_json::json as j;

use crate::data::{
    Setup, admin_key, on_postgresql, open_backend, put, send, sqlite_config, tenant,
};
use crate::{Running, problem};

/// JBSync with bounds on the WhatsApp override, as the vault's own tests use.
fn policy_with_bounds() -> String {
    let text = crate::JBSYNC.replace(
        "retention.period = \"90 days\"\nretention.tenant_override = {}",
        "retention.period = \"90 days\"\nretention.tenant_override = { min = \"7 days\", max = \"1 year\" }",
    );
    assert!(
        text.contains("max = \"1 year\""),
        "jbsync's whatsapp rule moved"
    );
    text
}

fn start(config: custos_server::Config) -> Setup {
    let backend = open_backend(&config);
    let admin = admin_key(&backend);
    Setup {
        server: Running::start_custom(Some(backend), 1000, policy_with_bounds(), None),
        admin,
    }
}

fn json(r: &crate::Reply) -> serde_json::Value {
    crate::data::json(r)
}

#[test]
fn events_overrides_holds_and_reports_work_over_http() {
    retention_lifecycle(&start(sqlite_config("retention")));
}

#[test]
fn the_same_retention_calls_work_on_postgresql() {
    on_postgresql("retention", |c| retention_lifecycle(&start(c)));
}

fn retention_lifecycle(s: &Setup) {
    let url = |p: &str| s.server.url(p);
    let (app, dpo, auditor) = tenant(s, "acme");
    let rec = json(&put(s, &app, "jan@example.nl", "vraag"));
    let id = rec["id"].as_str().unwrap().to_owned();

    let r = send(
        "POST",
        &url("/v1/events"),
        &app,
        Some(j!({ "event": "draft.decided", "scope": "record", "record_id": id })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["changed"], true);
    let r = send(
        "POST",
        &url("/v1/events"),
        &app,
        Some(
            j!({ "event": "consent.withdrawn", "scope": "subject", "subject": "jan@example.nl", "purpose": "support", "at": "2026-01-01T00:00:00Z" }),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let tenant_event =
        j!({ "event": "subscription.ended", "scope": "tenant", "at": "2026-01-01T00:00:00Z" });
    let r = send("POST", &url("/v1/events"), &app, Some(tenant_event.clone()));
    assert_eq!(json(&r)["changed"], true, "{}", r.body);
    let again = send("POST", &url("/v1/events"), &dpo, Some(tenant_event));
    assert_eq!(
        json(&again)["changed"],
        false,
        "the first occurrence counts"
    );

    let r = send(
        "PUT",
        &url("/v1/retention/overrides/whatsapp"),
        &dpo,
        Some(j!({ "period": "30 days" })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["changed"], true);

    let r = send(
        "POST",
        &url("/v1/holds"),
        &dpo,
        Some(j!({ "scope": "subject", "subject": "jan@example.nl", "reason": "case 2026-17" })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let hold = json(&r);
    let hold_id = hold["hold_id"].as_str().unwrap().to_owned();
    assert_eq!(hold["scope"], "subject");
    assert!(hold["set_by"].as_str().unwrap().starts_with("key:"));

    let erase = send(
        "POST",
        &url("/v1/subjects/erase"),
        &dpo,
        Some(j!({ "subject": "jan@example.nl" })),
    );
    assert_eq!(erase.status, 409, "a hold refuses erasure: {}", erase.body);
    assert!(
        problem(&erase)["detail"]
            .as_str()
            .unwrap()
            .contains(&hold_id)
    );

    let holds = json(&send("GET", &url("/v1/holds"), &auditor, None));
    assert_eq!(holds["holds"].as_array().unwrap().len(), 1, "{holds}");

    let report = json(&send("GET", &url("/v1/retention/report"), &auditor, None));
    assert_eq!(report["tenant"], "acme");
    assert_eq!(report["overrides"]["whatsapp"], "30 days", "{report}");
    assert!(
        report["events"]["subscription.ended"].is_string(),
        "{report}"
    );
    let support = report["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "support")
        .expect("support in the report");
    assert_eq!(support["records"], 1);
    assert_eq!(support["held"], 1);

    let due = json(&send("GET", &url("/v1/retention/due"), &dpo, None));
    assert_eq!(due["dry_run"], true, "{due}");

    let r = send("DELETE", &url(&format!("/v1/holds/{hold_id}")), &dpo, None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(json(&r)["released_at"].is_string());
    let twice = send("DELETE", &url(&format!("/v1/holds/{hold_id}")), &dpo, None);
    assert_eq!(twice.status, 404, "{}", twice.body);
    problem(&twice);
    let all = json(&send("GET", &url("/v1/holds?all=true"), &dpo, None));
    assert_eq!(all["holds"].as_array().unwrap().len(), 1);
    assert!(
        json(&send("GET", &url("/v1/holds"), &dpo, None))["holds"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let r = send(
        "DELETE",
        &url("/v1/retention/overrides/whatsapp"),
        &dpo,
        None,
    );
    assert_eq!(json(&r)["changed"], true, "{}", r.body);

    // Every change is in the trail, attributed to the key that made it.
    let trail = json(&send(
        "GET",
        &url("/v1/audit?action=retention.event"),
        &auditor,
        None,
    ));
    let entries = trail["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{trail}");
    assert!(
        entries
            .iter()
            .all(|e| e["actor"].as_str().unwrap().starts_with("key:")),
        "{trail}"
    );
    let verify = json(&send("GET", &url("/v1/audit/verify"), &auditor, None));
    assert_eq!(verify["status"], "unsealed_tail", "{verify}");
}

#[test]
fn bad_retention_requests_are_problems_naming_the_field() {
    let s = start(sqlite_config("retention-bad"));
    let url = |p: &str| s.server.url(p);
    let (app, dpo, auditor) = tenant(&s, "acme");
    let (app_b, _, _) = tenant(&s, "globex");
    json(&put(&s, &app, "jan@example.nl", "vraag"));
    let tomorrow = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24)).to_string();
    type Case = (
        &'static str,
        &'static str,
        serde_json::Value,
        u16,
        &'static str,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/v1/events",
            j!({ "event": "draft.decidd", "scope": "tenant" }),
            422,
            "/event",
            "did you mean `draft.decided`?",
        ),
        (
            "POST",
            "/v1/events",
            j!({ "event": "draft.decided", "scope": "tenant", "at": tomorrow }),
            422,
            "/at",
            "after now",
        ),
        (
            "POST",
            "/v1/events",
            j!({ "event": "draft.decided", "scope": "record", "record_id": "00000000000000000000000000000000" }),
            404,
            "",
            "does not exist",
        ),
        (
            "POST",
            "/v1/events",
            j!({ "event": "draft.decided", "scope": "record", "record_id": "not-an-id" }),
            400,
            "/record_id",
            "",
        ),
        (
            "POST",
            "/v1/events",
            j!({ "event": "account.deleted", "scope": "subject" }),
            400,
            "/subject",
            "needs `subject`",
        ),
        (
            "POST",
            "/v1/events",
            j!({ "event": "account.deleted", "scope": "tenant", "subject": "jan@example.nl" }),
            400,
            "/subject",
            "",
        ),
        (
            "POST",
            "/v1/events",
            j!({ "event": "account.deleted", "scope": "subject", "subject": "nobody@example.nl" }),
            404,
            "/subject",
            "",
        ),
        (
            "POST",
            "/v1/events",
            j!({ "event": "account.deleted", "scope": "everyone" }),
            400,
            "/scope",
            "",
        ),
        (
            "POST",
            "/v1/events",
            j!({ "event": "consent.withdrawn", "scope": "subject", "subject": "jan@example.nl", "purpose": "nope" }),
            422,
            "/purpose",
            "",
        ),
        (
            "PUT",
            "/v1/retention/overrides/whatsapp",
            j!({ "period": "2 years" }),
            422,
            "/period",
            "between 7 days and 1 year",
        ),
        (
            "PUT",
            "/v1/retention/overrides/whatsapp",
            j!({ "period": "soon" }),
            400,
            "/period",
            "",
        ),
        (
            "PUT",
            "/v1/retention/overrides/support",
            j!({ "period": "30 days" }),
            422,
            "/category",
            "no tenant override",
        ),
        (
            "PUT",
            "/v1/retention/overrides/nope",
            j!({ "period": "30 days" }),
            422,
            "/category",
            "",
        ),
        (
            "PUT",
            "/v1/retention/tier",
            j!({ "tier": "gold" }),
            422,
            "/tier",
            "not declared",
        ),
        (
            "POST",
            "/v1/holds",
            j!({ "scope": "category", "category": "nope", "reason": "case 1" }),
            422,
            "/category",
            "",
        ),
        (
            "POST",
            "/v1/holds",
            j!({ "scope": "tenant", "reason": "  " }),
            422,
            "/reason",
            "",
        ),
        (
            "POST",
            "/v1/holds",
            j!({ "scope": "subject", "reason": "case 1" }),
            400,
            "/subject",
            "",
        ),
        (
            "DELETE",
            "/v1/holds/hold_0000000000000000",
            j!(null),
            404,
            "",
            "no active legal hold",
        ),
    ];
    for (method, path, body, status, field, says) in cases {
        let key = if method == "POST" && path == "/v1/events" {
            &app
        } else {
            &dpo
        };
        let body = (!body.is_null()).then_some(body);
        let r = send(method, &url(path), key, body.clone());
        assert_eq!(r.status, status, "{method} {path} {body:?}: {}", r.body);
        let p = problem(&r);
        if !field.is_empty() {
            assert_eq!(p["errors"][0]["field"], field, "{p}");
        }
        assert!(r.body.contains(says), "{method} {path}: {p}");
    }
    let out_of_bounds = problem(&send(
        "PUT",
        &url("/v1/retention/overrides/whatsapp"),
        &dpo,
        Some(j!({ "period": "1 day" })),
    ));
    assert!(
        out_of_bounds["detail"]
            .as_str()
            .unwrap()
            .contains("between 7 days and 1 year"),
        "the detail names the bounds: {out_of_bounds}"
    );
    // Roles: tier, overrides and holds are the DPO's; the report is not the app's.
    for (method, path, key, body) in [
        ("PUT", "/v1/retention/tier", &app, Some(j!({ "tier": "x" }))),
        (
            "PUT",
            "/v1/retention/overrides/whatsapp",
            &app,
            Some(j!({ "period": "30 days" })),
        ),
        ("DELETE", "/v1/retention/overrides/whatsapp", &auditor, None),
        (
            "POST",
            "/v1/holds",
            &auditor,
            Some(j!({ "scope": "tenant", "reason": "x" })),
        ),
        (
            "POST",
            "/v1/holds",
            &app,
            Some(j!({ "scope": "tenant", "reason": "x" })),
        ),
        ("DELETE", "/v1/holds/hold_0000000000000000", &auditor, None),
        ("GET", "/v1/holds", &app, None),
        ("GET", "/v1/retention/report", &app, None),
        ("GET", "/v1/retention/due", &app, None),
        (
            "POST",
            "/v1/events",
            &auditor,
            Some(j!({ "event": "draft.decided", "scope": "tenant" })),
        ),
    ] {
        let r = send(method, &url(path), key, body);
        assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
        assert_eq!(problem(&r)["type"], "https://custos.dev/problems/forbidden");
    }
    // An admin key has no tenant to act on.
    let r = send("GET", &url("/v1/retention/report"), &s.admin, None);
    assert_eq!(r.status, 403, "{}", r.body);
    // A tenant without data in the vault: an event has nothing to act on.
    let r = send(
        "POST",
        &url("/v1/events"),
        &app_b,
        Some(j!({ "event": "subscription.ended", "scope": "tenant" })),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("store a record first"), "{}", r.body);
    let none = json(&send(
        "GET",
        &url("/v1/audit?action=retention.override"),
        &dpo,
        None,
    ));
    assert!(
        none["entries"].as_array().unwrap().is_empty(),
        "no refused override was written: {none}"
    );
}

/// The scheduler in `serve` purges what is due on its own, with receipts, and counts it.
#[test]
fn the_scheduler_purges_due_records_and_counts_them_in_metrics() {
    let config = sqlite_config("scheduler");
    let backend = open_backend(&config);
    let policy =
        custos_policy::load_source(custos_policy::SourceFile::new("jbsync.toml", crate::JBSYNC))
            .unwrap()
            .policy;
    let three_years_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(3 * 366 * 24);
    {
        let mut v = backend.vault();
        let tenant = custos_vault::TenantId::new("acme").unwrap();
        let mut t = v.tenant(&tenant);
        let records = (0..5)
            .map(|i| custos_vault::NewRecord {
                subject: custos_vault::SubjectId::new(format!("s{i}@example.nl")).unwrap(),
                category: if i < 3 { "support" } else { "usage_log" }.into(),
                purposes: vec![if i < 3 { "support" } else { "security" }.into()],
                payload: b"old".to_vec(),
                created_at: three_years_ago,
                clocks: Default::default(),
            })
            .collect();
        t.put_batch(&policy, records, jiff::Timestamp::now())
            .expect("records stored");
    }
    let server = Running::start_custom(
        Some(backend),
        1000,
        crate::JBSYNC.to_owned(),
        Some(std::time::Duration::from_secs(1)),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let metrics = loop {
        let m = crate::get(&server.url("/metrics")).body;
        if m.contains("custos_purge_runs_total{outcome=\"ok\"}")
            && m.contains("custos_purged_records_total{category=\"support\"} 3")
        {
            break m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no purge counted: {m}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert!(
        metrics.contains("custos_purged_records_total{category=\"usage_log\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("# TYPE custos_purge_runs_total counter"));
    // Graceful shutdown still works with the scheduler running.
    let url = server.url("/healthz");
    drop(server);
    assert!(crate::agent().get(&url).call().is_err());
}
