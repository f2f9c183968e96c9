//! Consent and decisions over HTTP with a real vault (issue 7): the ledger and each of its
//! refusals as a 422 naming the field, acceptances, Global Privacy Control on the consent routes,
//! the suppression list, decisions (one and a batch) naming their rules and counted in /metrics
//! without an audit entry each, and approval gates whose tokens are good for one action.

use serde_json::{Value, json as j};

use crate::data::{
    Setup, admin_key, audit_trail, json, on_postgresql, open_backend, send, sqlite_config, tenant,
};
use crate::{Running, agent, get, problem, reply};

const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// The server with the consent routes' production body limit (1 MiB), so a batch can reach its
/// item cap before the size limit.
fn start(config: custos_server::Config) -> Setup {
    let backend = open_backend(&config);
    let admin = admin_key(&backend);
    let mut config = config;
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.rate_limit_per_second = 0;
    Setup {
        server: Running::serve(config, crate::JBSYNC, Some(backend)),
        admin,
    }
}

/// POST with an optional `Sec-GPC: 1`.
fn post(s: &Setup, path: &str, key: &str, body: Value, gpc: bool) -> crate::Reply {
    let url = s.server.url(path);
    let a = agent();
    let mut req = a
        .post(&url)
        .header("authorization", &format!("Bearer {key}"))
        .header("content-type", "application/json");
    if gpc {
        req = req.header("sec-gpc", "1");
    }
    reply(
        req.send(body.to_string().as_bytes())
            .expect("request completes"),
    )
}

fn consent(subject: &str, purpose: &str, kind: &str, at: &str) -> Value {
    j!({
        "subject": subject, "purpose": purpose, "kind": kind, "at": at,
        "notice_version": "2.0", "notice_hash": HASH, "channel": "web",
        "proof": "form settings-7, ip 192.0.2.0/24"
    })
}

/// The field a 4xx names.
fn field(r: &crate::Reply) -> String {
    problem(r)["errors"][0]["field"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn denied_by(d: &Value) -> Vec<String> {
    d["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter(|r| r["effect"] == "deny")
        .map(|r| r["rule"].as_str().unwrap().to_owned())
        .collect()
}

fn ask(subject: &str, purpose: &str, category: &str) -> Value {
    j!({ "subject": subject, "purpose": purpose, "category": category })
}

#[test]
fn the_consent_ledger_works_over_http_and_names_every_refusal() {
    ledger(&start(sqlite_config("consent-ledger")));
}

#[test]
fn the_consent_ledger_works_on_postgresql() {
    on_postgresql("consent_ledger", |c| ledger(&start(c)));
}

fn ledger(s: &Setup) {
    let (app, dpo, auditor) = tenant(s, "acme");
    let who = "ann@example.com";

    let r = post(
        s,
        "/v1/consent",
        &app,
        consent(who, "style_learning", "grant", "2026-05-01T10:00:00Z"),
        false,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let v = json(&r);
    assert_eq!(v["purpose"], "style_learning");
    assert_eq!(v["consent"]["state"], "granted");
    assert_eq!(v["consent"]["notice_version"], "2.0");

    let r = post(
        s,
        "/v1/consent/state",
        &auditor,
        j!({ "subject": who, "stale_versions": ["2.0"] }),
        false,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let style = json(&r)["purposes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["purpose"] == "style_learning")
        .cloned()
        .expect("style_learning is consent-based");
    assert_eq!(
        style["stale"], true,
        "given under a version needing consent again"
    );

    // Art. 7(3): withdrawing is one call, as easy as giving.
    let r = post(
        s,
        "/v1/consent",
        &app,
        consent(who, "style_learning", "withdraw", "2026-05-02T10:00:00Z"),
        false,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(json(&r)["consent"]["state"], "withdrawn");

    let history = json(&post(
        s,
        "/v1/consent/history",
        &dpo,
        j!({ "subject": who }),
        false,
    ));
    let kinds: Vec<&str> = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["grant", "withdraw"]);

    // Every refusal is a 422 naming the field, and none repeats the subject or the proof.
    let refusals = [
        (
            consent(who, "style_learning", "withdraw", "2026-05-03T10:00:00Z"),
            "/kind",
            "no consent in force",
        ),
        (
            consent(who, "style_lerning", "grant", "2026-05-03T10:00:00Z"),
            "/purpose",
            "not defined",
        ),
        (
            consent(who, "billing", "grant", "2026-05-03T10:00:00Z"),
            "/purpose",
            "not consent",
        ),
        (
            consent(who, "style_learning", "grant", "2026-04-01T10:00:00Z"),
            "/at",
            "only grows forward",
        ),
        (
            {
                let mut c = consent(who, "style_learning", "grant", "2026-05-03T10:00:00Z");
                c["proof"] = j!("form 7 from 192.0.2.41");
                c
            },
            "/proof",
            "full IP address",
        ),
        (
            {
                let mut c = consent(who, "style_learning", "grant", "2026-05-03T10:00:00Z");
                c["notice_hash"] = j!("abc");
                c
            },
            "/notice_hash",
            "SHA-256",
        ),
        (
            consent(who, "style_learning", "grant", "2099-01-01T00:00:00Z"),
            "/at",
            "after now",
        ),
    ];
    for (body, want_field, says) in refusals {
        let r = post(s, "/v1/consent", &app, body, false);
        assert_eq!(r.status, 422, "{want_field}: {}", r.body);
        assert_eq!(field(&r), want_field, "{}", r.body);
        assert!(r.body.contains(says), "{want_field}: {}", r.body);
        assert!(
            !r.body.contains("ann@") && !r.body.contains("192.0.2.41"),
            "{}",
            r.body
        );
    }
    let r = post(
        s,
        "/v1/consent",
        &auditor,
        consent(who, "style_learning", "grant", "2026-05-04T10:00:00Z"),
        false,
    );
    assert_eq!(r.status, 403, "an auditor records nothing: {}", r.body);
    let r = post(s, "/v1/consent", &app, j!({ "subject": who }), false);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        json(&post(
            s,
            "/v1/consent/history",
            &dpo,
            j!({ "subject": who }),
            false
        ))["entries"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "refused entries leave no trace"
    );

    // A new statement version is accepted once, at the next login.
    let must = |version: &str| {
        json(&post(
            s,
            "/v1/statement/must-accept",
            &app,
            j!({ "subject": who, "version": version }),
            false,
        ))["must_accept"]
            .clone()
    };
    assert_eq!(must("2026-06"), true);
    let acceptance = j!({ "subject": who, "version": "2026-06", "notice_hash": HASH, "channel": "app", "proof": "login screen" });
    let r = post(
        s,
        "/v1/statement/acceptances",
        &app,
        acceptance.clone(),
        false,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(json(&r)["recorded"], true);
    let r = post(s, "/v1/statement/acceptances", &app, acceptance, false);
    assert_eq!((r.status, json(&r)["recorded"].clone()), (200, j!(false)));
    assert_eq!(must("2026-06"), false);
    assert_eq!(must("2026-09"), true, "a newer version is asked again");
    // Without a version, the question is about the policy this server runs (JBSync's 2.0).
    let current = || {
        json(&post(
            s,
            "/v1/statement/must-accept",
            &app,
            j!({ "subject": who }),
            false,
        ))
    };
    assert_eq!(current(), j!({ "must_accept": true, "version": "2.0" }));
    let r = post(
        s,
        "/v1/statement/acceptances",
        &app,
        j!({ "subject": who, "version": "2.0", "notice_hash": HASH, "channel": "app", "proof": "login screen" }),
        false,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(current(), j!({ "must_accept": false, "version": "2.0" }));
    let r = post(
        s,
        "/v1/statement/acceptances",
        &app,
        j!({ "subject": who, "version": "2026-07", "notice_hash": HASH, "channel": "app", "proof": "from 203.0.113.9" }),
        false,
    );
    assert_eq!(
        (r.status, field(&r)),
        (422, "/proof".to_owned()),
        "{}",
        r.body
    );

    // The audit trail has the grant and the withdrawal, without the subject or the proof.
    let trail = audit_trail(s, &auditor, "limit=1000");
    let text = trail.to_string();
    assert!(text.contains("consent.granted") && text.contains("consent.withdrawn"));
    assert!(
        !text.contains("ann@") && !text.contains("192.0.2"),
        "{text}"
    );
}

#[test]
fn decisions_name_their_rules_honour_gpc_and_suppression_and_are_counted_not_audited() {
    let s = start(sqlite_config("consent-decisions"));
    let (app, _dpo, auditor) = tenant(&s, "acme");
    let decide = |body: Value, gpc: bool| {
        let r = post(&s, "/v1/decisions", &app, body, gpc);
        assert_eq!(r.status, 200, "{}", r.body);
        json(&r)
    };
    let audit_len = || {
        audit_trail(&s, &auditor, "limit=1000")["entries"]
            .as_array()
            .unwrap()
            .len()
    };

    // Consent-based, no consent: denied, naming the rule and the article.
    let d = decide(ask("bob", "style_learning", "style_profile"), false);
    assert_eq!(d["allowed"], false);
    let first = &d["reasons"][0];
    assert_eq!(
        (
            first["rule"].as_str(),
            first["effect"].as_str(),
            first["article"].as_str()
        ),
        (
            Some("consent.absent"),
            Some("deny"),
            Some("Art. 6(1)(a) GDPR")
        )
    );
    let d = decide(ask("bob", "service", "account"), false);
    assert_eq!(d["allowed"], true, "{d}");
    assert_eq!(d["reasons"][0]["rule"], "basis");
    assert_eq!(
        denied_by(&decide(ask("bob", "service", "style_profile"), false)),
        ["category.not_for_purpose"]
    );
    assert_eq!(
        denied_by(&decide(ask("bob", "ads", "account"), false)),
        ["purpose.undefined"]
    );

    // Direct marketing: GPC on the request denies this decision only; GPC on a consent route is
    // recorded for the subject and denies every later one.
    let mail = ask("carol", "customer_email", "account");
    assert_eq!(decide(mail.clone(), false)["allowed"], true);
    assert_eq!(denied_by(&decide(mail.clone(), true)), ["gpc"]);
    assert_eq!(
        decide(mail.clone(), false)["allowed"],
        true,
        "not recorded by a decision"
    );
    let r = post(
        &s,
        "/v1/consent/state",
        &app,
        j!({ "subject": "carol" }),
        true,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        denied_by(&decide(mail.clone(), false)),
        ["gpc"],
        "recorded for carol"
    );
    assert_eq!(
        decide(ask("carol", "service", "account"), false)["allowed"],
        true,
        "the service goes on"
    );

    // Suppression: a keyed hash of the address; however it is written, marketing stops.
    let r = post(
        &s,
        "/v1/suppression",
        &app,
        j!({ "address": "Dave@Example.com", "reason": "unsubscribe" }),
        false,
    );
    assert_eq!(
        (r.status, json(&r)["added"].clone()),
        (201, j!(true)),
        "{}",
        r.body
    );
    let r = post(
        &s,
        "/v1/suppression",
        &app,
        j!({ "address": "dave@example.com ", "reason": "unsubscribe" }),
        false,
    );
    assert_eq!((r.status, json(&r)["added"].clone()), (200, j!(false)));
    let r = post(
        &s,
        "/v1/suppression",
        &app,
        j!({ "address": "x@example.com", "reason": "" }),
        false,
    );
    assert_eq!((r.status, field(&r)), (422, "/reason".to_owned()));
    let mut to_dave = ask("dave", "customer_email", "account");
    to_dave["address"] = j!("DAVE@example.com");
    assert_eq!(denied_by(&decide(to_dave.clone(), false)), ["suppression"]);

    // A record that is not there is a 404; a malformed one a 400 naming the field.
    let mut on_record = ask("bob", "service", "account");
    on_record["record_id"] = j!("00000000000000000000000000000000");
    assert_eq!(
        post(&s, "/v1/decisions", &app, on_record, false).status,
        404
    );
    let mut bad = ask("bob", "service", "account");
    bad["record_id"] = j!("nope");
    let r = post(&s, "/v1/decisions", &app, bad.clone(), false);
    assert_eq!(
        (r.status, field(&r)),
        (400, "/record_id".to_owned()),
        "{}",
        r.body
    );
    assert_eq!(
        post(&s, "/v1/decisions", &auditor, mail.clone(), false).status,
        403
    );

    // The batch answers in order; a bad item names its place; the cap is 1000.
    let r = post(
        &s,
        "/v1/decisions/batch",
        &app,
        j!({ "items": [ask("bob", "service", "account"), ask("bob", "style_learning", "style_profile"), to_dave] }),
        false,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let results = json(&r)["results"].as_array().unwrap().clone();
    let allowed: Vec<bool> = results
        .iter()
        .map(|d| d["allowed"].as_bool().unwrap())
        .collect();
    assert_eq!(allowed, [true, false, false]);
    assert_eq!(denied_by(&results[2]), ["suppression"]);
    let r = post(
        &s,
        "/v1/decisions/batch",
        &app,
        j!({ "items": [ask("bob", "service", "account"), bad] }),
        false,
    );
    assert_eq!(
        (r.status, field(&r)),
        (400, "/items/1/record_id".to_owned()),
        "{}",
        r.body
    );
    let many: Vec<Value> = (0..1001).map(|_| ask("b", "service", "account")).collect();
    let r = post(
        &s,
        "/v1/decisions/batch",
        &app,
        j!({ "items": many }),
        false,
    );
    assert_eq!(
        (r.status, field(&r)),
        (422, "/items".to_owned()),
        "{}",
        r.body
    );
    assert!(r.body.contains("at most 1000"), "{}", r.body);

    // No audit entry per decision; counted per rule in the metrics.
    let before = audit_len();
    for _ in 0..5 {
        decide(ask("bob", "style_learning", "style_profile"), false);
    }
    assert_eq!(audit_len(), before, "decisions are not audited one by one");
    let metrics = get(&s.server.url("/metrics")).body;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("custos_decisions_total{effect=\"deny\",rule=\"consent.absent\"}"))
        .expect("counted");
    let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 7, "{line}");
    assert!(metrics.contains("custos_decisions_total{effect=\"deny\",rule=\"suppression\"}"));
    assert!(!metrics.contains("carol") && !metrics.contains("dave"));
}

#[test]
fn approval_gates_issue_one_time_tokens_over_http() {
    approvals(&start(sqlite_config("consent-approvals")), true);
}

#[test]
fn approval_gates_work_on_postgresql() {
    on_postgresql("consent_approvals", |c| approvals(&start(c), false));
}

fn approvals(s: &Setup, sqlite: bool) {
    let (app, dpo, auditor) = tenant(s, "acme");
    // JBSync: auto-drafts are opt-in, and a draft is sent only after a person approved it.
    let r = post(
        s,
        "/v1/consent",
        &app,
        consent("erin", "auto_draft", "grant", "2026-07-01T10:00:00Z"),
        false,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let new_approval = |item: &str, action: &str| {
        let r = post(
            s,
            "/v1/approvals",
            &app,
            j!({ "action": action, "item": item, "subject": "erin" }),
            false,
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let a = json(&r);
        assert_eq!(a["state"], "pending");
        a["approval_id"].as_str().unwrap().to_owned()
    };
    let id = new_approval("draft-42", "draft.send");
    assert_eq!(
        send("GET", &s.server.url("/v1/approvals"), &app, None).status,
        403
    );
    let pending = json(&send("GET", &s.server.url("/v1/approvals"), &auditor, None));
    assert_eq!(
        pending["approvals"].as_array().unwrap().len(),
        1,
        "{pending}"
    );

    let send_item = |token: Option<&str>, action: &str, item: &str| {
        let mut q = ask("erin", "auto_draft", "draft");
        q["action"] = j!(action);
        q["item"] = j!(item);
        if let Some(t) = token {
            q["approval_token"] = j!(t);
        }
        let r = post(s, "/v1/decisions", &app, q, false);
        assert_eq!(r.status, 200, "{}", r.body);
        json(&r)
    };
    let send_draft = |token: Option<&str>, action: &str| send_item(token, action, "draft-42");
    assert_eq!(
        denied_by(&send_draft(None, "draft.send")),
        ["approval.required"]
    );

    let approve = |id: &str, key: &str| {
        post(
            s,
            &format!("/v1/approvals/{id}/approve"),
            key,
            j!({}),
            false,
        )
    };
    assert_eq!(
        approve(&id, &app).status,
        403,
        "an app does not approve its own drafts"
    );
    let r = approve(&id, &dpo);
    assert_eq!(r.status, 200, "{}", r.body);
    let decided = json(&r);
    assert_eq!(decided["approval"]["state"], "approved");
    let token = decided["token"]
        .as_str()
        .expect("a one-time token")
        .to_owned();
    let r = approve(&id, &dpo);
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        problem(&r)["type"],
        "https://custos.dev/problems/already-decided"
    );
    let r = post(
        s,
        &format!("/v1/approvals/{id}/reject"),
        &dpo,
        j!({ "reason": "too late" }),
        false,
    );
    assert_eq!(r.status, 409, "{}", r.body);

    assert_eq!(
        send_draft(Some(&token), "draft.send")["allowed"],
        true,
        "one send"
    );
    let replay = send_draft(Some(&token), "draft.send");
    assert_eq!(denied_by(&replay), ["approval.required", "approval.token"]);
    assert!(replay.to_string().contains("already used"), "{replay}");
    let forged = send_draft(Some("0123456789abcdef"), "draft.send");
    assert_eq!(denied_by(&forged), ["approval.required", "approval.token"]);
    assert!(forged.to_string().contains("not valid"), "{forged}");

    // Only actions the policy gates can be approved: a misspelt one would gate nothing.
    let r = post(
        s,
        "/v1/approvals",
        &app,
        j!({ "action": "draft.sned", "item": "d-1", "subject": "erin" }),
        false,
    );
    assert_eq!(
        (r.status, field(&r)),
        (422, "/action".to_owned()),
        "{}",
        r.body
    );
    assert!(r.body.contains("did you mean `draft.send`"), "{}", r.body);

    // Rejections need a reason; unknown and malformed ids are defined answers.
    let third = new_approval("draft-43", "draft.send");
    let r = post(
        s,
        &format!("/v1/approvals/{third}/reject"),
        &dpo,
        j!({}),
        false,
    );
    assert_eq!(
        (r.status, field(&r)),
        (422, "/reason".to_owned()),
        "{}",
        r.body
    );
    let r = post(
        s,
        &format!("/v1/approvals/{third}/reject"),
        &dpo,
        j!({ "reason": "tone is off" }),
        false,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["approval"]["state"], "rejected");
    assert!(json(&r).get("token").is_none());
    assert_eq!(
        approve("0123456789abcdef0123456789abcdef", &dpo).status,
        404
    );
    assert_eq!(approve("nope", &dpo).status, 400);

    // An expired token: its clock is moved back in the database (the server reads the real one).
    if sqlite {
        let fourth = new_approval("draft-44", "draft.send");
        let late = json(&approve(&fourth, &dpo))["token"]
            .as_str()
            .unwrap()
            .to_owned();
        expire_tokens();
        let d = send_item(Some(&late), "draft.send", "draft-44");
        assert_eq!(denied_by(&d), ["approval.required", "approval.token"]);
        assert!(d.to_string().contains("expired"), "{d}");
    }

    // Who approved and rejected is in the audit trail, by key.
    let trail = audit_trail(s, &auditor, "limit=1000");
    let entries = trail["entries"].as_array().unwrap();
    let actor_of = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action)
            .map(|e| e["actor"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("{action} audited: {trail}"))
    };
    let dpo_id = dpo.split('_').nth(1).unwrap();
    assert_eq!(actor_of("approval.approved"), format!("key:{dpo_id}"));
    assert_eq!(actor_of("approval.rejected"), format!("key:{dpo_id}"));
    assert!(
        !trail.to_string().contains(&token),
        "the token is never audited"
    );
}

/// Moves every approval token's expiry into the past.
fn expire_tokens() {
    // The test's SQLite file, as `sqlite_config("consent-approvals")` named it.
    let dir = std::env::temp_dir().join(format!(
        "custos-server-it-{}-consent-approvals",
        std::process::id()
    ));
    let conn = custos_vault::sqlite_connection(&dir.join("custos.db")).expect("the test database");
    conn.execute(
        "UPDATE approvals SET token_expires_at = 1 WHERE token_used_at IS NULL",
        [],
    )
    .expect("moved back");
}

#[test]
fn gpc_support_is_declared_and_the_public_page_records_nothing() {
    let s = Running::start();
    let r = get(&s.url("/.well-known/gpc.json"));
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("application/json"));
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v, j!({ "gpc": true, "lastUpdate": "2026-05-21" }));
    let r = reply(
        agent()
            .get(&s.url("/privacy?lang=en"))
            .header("sec-gpc", "1")
            .call()
            .unwrap(),
    );
    assert_eq!(r.status, 200);
    let r2 = agent()
        .get(&s.url("/privacy?lang=en"))
        .header("sec-gpc", "1")
        .call()
        .unwrap();
    assert_eq!(
        r2.headers().get("custos-gpc").and_then(|v| v.to_str().ok()),
        Some("received; not recorded")
    );
    let r3 = agent()
        .get(&s.url("/privacy"))
        .header("sec-gpc", "0")
        .call()
        .unwrap();
    assert!(
        r3.headers().get("custos-gpc").is_none(),
        "only exactly `1` counts"
    );
}
