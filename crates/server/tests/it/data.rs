//! The data routes over HTTP with a real SQLite vault: tenants and keys, records, erasure and the
//! audit trail; cross-tenant isolation on every route; bad input never writes.

use custos_access::Role;
use custos_server::{Backend, Config};

use crate::{Running, agent, problem, reply};

pub(crate) struct Setup {
    pub(crate) server: Running,
    pub(crate) admin: String,
}

pub(crate) fn setup(name: &str) -> Setup {
    setup_rated(name, 1000)
}

fn setup_rated(name: &str, rate: u32) -> Setup {
    start(&sqlite_config(name), rate)
}

/// A configuration on a fresh SQLite file for the test `name`.
pub(crate) fn sqlite_config(name: &str) -> Config {
    let dir = std::env::temp_dir().join(format!("custos-server-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = Config::with_policy("jbsync.toml");
    config.database = dir.join("custos.db").display().to_string();
    config
}

/// A configuration on PostgreSQL in a schema of its own; `None` without
/// `CUSTOS_TEST_DATABASE_URL` (a failure under CI).
pub(crate) fn pg_config(name: &str) -> Option<Config> {
    let url = crate::database_url::postgres_url()?;
    crate::stale_schemas::sweep(&url, "srv");
    let mut config = Config::with_policy("jbsync.toml");
    config.database = url;
    config.schema = format!("srv_{}_{name}", std::process::id());
    Some(config)
}

/// Runs `case` on a PostgreSQL configuration (`pg_config(name)`); says it is skipped when
/// `CUSTOS_TEST_DATABASE_URL` is unset (outside CI).
pub(crate) fn on_postgresql(name: &str, case: impl FnOnce(Config)) {
    match pg_config(name) {
        Some(c) => case(c),
        None => eprintln!("CUSTOS_TEST_DATABASE_URL is not set: skipping the PostgreSQL test"),
    }
}

/// The server on `config` (see `start`), at 1000 requests a second per key.
pub(crate) fn setup_on(config: Config) -> Setup {
    start(&config, 1000)
}

/// Opens the backend of `config` with a fresh master key, issues an admin key, starts the server.
fn start(config: &Config, rate: u32) -> Setup {
    let backend = open_backend(config);
    let admin = admin_key(&backend);
    Setup {
        server: Running::start_rated(Some(backend), rate),
        admin,
    }
}

/// The backend of `config` with a fresh master key.
pub(crate) fn open_backend(config: &Config) -> Backend {
    Backend::open(config, custos_vault::MasterKey::generate().unwrap()).expect("the backend opens")
}

/// A new admin key.
pub(crate) fn admin_key(backend: &Backend) -> String {
    backend
        .access
        .lock()
        .unwrap()
        .issue_key(None, Role::Admin, "test admin", jiff::Timestamp::now())
        .unwrap()
        .key
}

pub(crate) fn send(
    method: &str,
    url: &str,
    key: &str,
    body: Option<serde_json::Value>,
) -> crate::Reply {
    let a = agent();
    let auth = format!("Bearer {key}");
    let r = match (method, body) {
        ("GET", _) => a.get(url).header("authorization", &auth).call(),
        ("DELETE", _) => a.delete(url).header("authorization", &auth).call(),
        ("POST", Some(b)) => a
            .post(url)
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .send(b.to_string().as_bytes()),
        ("POST", None) => a
            .post(url)
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .send(&b"{}"[..]),
        ("PUT", b) => a
            .put(url)
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .send(b.unwrap_or_default().to_string().as_bytes()),
        (m, _) => panic!("method {m}"),
    };
    reply(r.expect("request completes"))
}

/// `POST url` of `body` as `content_type` with the API key `key`, whatever the body is.
fn post_as(url: &str, key: &str, content_type: &str, body: &[u8]) -> crate::Reply {
    reply(
        agent()
            .post(url)
            .header("authorization", &format!("Bearer {key}"))
            .header("content-type", content_type)
            .send(body)
            .unwrap(),
    )
}

/// The audit trail as `key` reads it: `GET /v1/audit?{query}`, as JSON.
pub(crate) fn audit_trail(s: &Setup, key: &str, query: &str) -> serde_json::Value {
    json(&send(
        "GET",
        &s.server.url(&format!("/v1/audit?{query}")),
        key,
        None,
    ))
}

pub(crate) fn json(r: &crate::Reply) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("not JSON ({}): {}", r.status, r.body))
}

/// Creates tenant `t` and returns (app, dpo, auditor) keys.
pub(crate) fn tenant(s: &Setup, t: &str) -> (String, String, String) {
    let r = send(
        "POST",
        &s.server.url("/v1/tenants"),
        &s.admin,
        Some(serde_json::json!({ "id": t, "name": t })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let key = |role: &str| {
        let r = send(
            "POST",
            &s.server.url(&format!("/v1/tenants/{t}/keys")),
            &s.admin,
            Some(serde_json::json!({ "role": role, "label": role })),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        json(&r)["key"].as_str().unwrap().to_owned()
    };
    (key("app"), key("dpo"), key("auditor"))
}

pub(crate) fn put(s: &Setup, key: &str, subject: &str, text: &str) -> crate::Reply {
    send(
        "POST",
        &s.server.url("/v1/records"),
        key,
        Some(
            serde_json::json!({ "subject": subject, "category": "support", "purposes": ["support"], "data": { "message": text } }),
        ),
    )
}

#[test]
fn an_app_stores_and_reads_records_a_dpo_erases_and_an_auditor_reads_the_trail() {
    lifecycle(&setup("lifecycle"));
}

#[test]
fn the_same_lifecycle_works_on_postgresql() {
    on_postgresql("lifecycle", |c| lifecycle(&setup_on(c)));
}

fn lifecycle(s: &Setup) {
    let (app, dpo, auditor) = tenant(s, "acme");
    let r = put(s, &app, "jan@example.nl", "Vraag over factuur");
    assert_eq!(r.status, 201, "{}", r.body);
    let rec = json(&r);
    let id = rec["id"].as_str().unwrap().to_owned();
    assert_eq!(rec["data"]["message"], "Vraag over factuur");
    let got = send(
        "GET",
        &s.server.url(&format!("/v1/records/{id}")),
        &app,
        None,
    );
    assert_eq!(json(&got)["data"]["message"], "Vraag over factuur");
    put(s, &app, "jan@example.nl", "Tweede vraag");
    let page = json(&send(
        "POST",
        &s.server.url("/v1/records/query"),
        &app,
        Some(serde_json::json!({ "subject": "jan@example.nl", "limit": 1 })),
    ));
    assert_eq!(page["records"].as_array().unwrap().len(), 1);
    let next = page["next_cursor"].as_str().unwrap().to_owned();
    let page2 = json(&send(
        "POST",
        &s.server.url("/v1/records/query"),
        &app,
        Some(serde_json::json!({ "subject": "jan@example.nl", "limit": 1, "cursor": next })),
    ));
    assert_eq!(page2["records"][0]["data"]["message"], "Tweede vraag");
    assert!(page2["next_cursor"].is_null());

    assert_eq!(
        send(
            "POST",
            &s.server.url("/v1/subjects/erase"),
            &app,
            Some(serde_json::json!({ "subject": "jan@example.nl" }))
        )
        .status,
        403,
        "an app may not erase"
    );
    let e = json(&send(
        "POST",
        &s.server.url("/v1/subjects/erase"),
        &dpo,
        Some(serde_json::json!({ "subject": "jan@example.nl" })),
    ));
    assert_eq!(e["records_deleted"], 2);
    assert_eq!(
        send(
            "GET",
            &s.server.url(&format!("/v1/records/{id}")),
            &app,
            None
        )
        .status,
        404
    );

    assert_eq!(
        send("GET", &s.server.url("/v1/audit"), &app, None).status,
        403,
        "an app may not read the audit trail"
    );
    let trail = json(&send("GET", &s.server.url("/v1/audit"), &auditor, None));
    let actions: Vec<&str> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .filter(|a| *a != "records.read")
        .collect();
    assert_eq!(
        actions,
        [
            "tenant.create",
            "key.issue",
            "key.issue",
            "key.issue",
            "records.put",
            "records.put",
            "subject.erase"
        ]
    );
    assert!(
        trail["entries"][0]["actor"]
            .as_str()
            .unwrap()
            .starts_with("key:"),
        "admin operations are attributed to the admin key"
    );
    assert!(
        !trail.to_string().contains("jan@example.nl"),
        "the trail holds pseudonyms only"
    );
    // No checkpoint covers the tenant's entries yet (the timer has not run): unbroken but
    // unsealed.
    assert_eq!(
        json(&send(
            "GET",
            &s.server.url("/v1/audit/verify"),
            &auditor,
            None
        ))["status"],
        "unsealed_tail"
    );
    assert_eq!(
        send(
            "POST",
            &s.server.url("/v1/tenants"),
            &auditor,
            Some(serde_json::json!({"id": "x", "name": "x"}))
        )
        .status,
        403
    );
}

#[test]
fn another_tenants_key_reaches_nothing_on_any_route() {
    let s = setup("isolation");
    let (app_a, dpo_a, _) = tenant(&s, "acme");
    let (app_b, dpo_b, auditor_b) = tenant(&s, "globex");
    let rec = json(&put(&s, &app_a, "jan@example.nl", "geheim van acme"));
    let id = rec["id"].as_str().unwrap().to_owned();
    put(&s, &app_b, "piet@example.nl", "van globex");
    // Acme's retention state: a hold and an override, which globex must neither see nor change.
    let hold = json(&send(
        "POST",
        &s.server.url("/v1/holds"),
        &dpo_a,
        Some(
            serde_json::json!({ "scope": "subject", "subject": "jan@example.nl", "reason": "acme-case-1" }),
        ),
    ));
    let hold_id = hold["hold_id"].as_str().unwrap().to_owned();
    let r = send(
        "PUT",
        &s.server.url("/v1/retention/overrides/whatsapp"),
        &dpo_a,
        Some(serde_json::json!({ "period": "30 days" })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let doc: serde_json::Value =
        serde_json::from_str(&crate::get(&s.server.url("/openapi.json")).body).unwrap();
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{subject}", "jan@example.nl")
            .replace("{id}", &id)
            .replace("{tenant}", "acme")
            .replace("{key_id}", "0000000000000000")
            .replace("{category}", "whatsapp")
            .replace("{hold_id}", &hold_id);
        for method in ops.as_object().unwrap().keys() {
            for key in [&app_b, &dpo_b, &auditor_b] {
                let body = (method == "post").then(|| serde_json::json!({ "category": "support", "purposes": ["support"], "data": {}, "role": "app", "id": "acme", "name": "x" }));
                let r = send(&method.to_uppercase(), &s.server.url(&concrete), key, body);
                assert!(
                    !r.body.contains("geheim van acme"),
                    "{method} {path} leaked acme's data to globex: {}",
                    r.body
                );
                if (200..300).contains(&r.status) {
                    assert!(
                        !r.body.contains(&id),
                        "{method} {path} showed acme's record to globex: {}",
                        r.body
                    );
                    assert!(
                        !r.body.contains(&hold_id) && !r.body.contains("acme-case-1"),
                        "{method} {path} showed acme's hold to globex: {}",
                        r.body
                    );
                }
                assert!(r.status < 500, "{method} {path}: {} {}", r.status, r.body);
                checked += 1;
            }
        }
    }
    assert!(checked >= 30, "{checked}");
    // Acme's data is untouched by everything globex did.
    let still = json(&send(
        "GET",
        &s.server.url(&format!("/v1/records/{id}")),
        &app_a,
        None,
    ));
    assert_eq!(still["data"]["message"], "geheim van acme");
    let report = json(&send(
        "GET",
        &s.server.url("/v1/retention/report"),
        &dpo_a,
        None,
    ));
    assert_eq!(report["holds"][0]["hold_id"], hold_id.as_str(), "{report}");
    assert_eq!(report["overrides"]["whatsapp"], "30 days", "{report}");
    assert_eq!(
        audit_trail(&s, &dpo_a, "action=records.put")["entries"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "globex's writes went to globex"
    );
}

#[test]
fn bad_bodies_are_problems_naming_the_field_and_write_nothing() {
    let s = setup("bad");
    let (app, dpo, _) = tenant(&s, "acme");
    let url = s.server.url("/v1/records");
    let cases: Vec<(&str, &[u8], &str, u16)> = vec![
        ("application/json", b"{", "", 400),
        ("text/plain", b"{}", "", 415),
        (
            "application/json",
            br#"{"subject":"jan","category":"support","purposes":["support"],"data":1,"extra":true}"#,
            "/",
            400,
        ),
        (
            "application/json",
            br#"{"subject":"jan","category":"support","purposes":"support","data":1}"#,
            "/purposes",
            400,
        ),
        ("application/json", b"\xff\xfe{}", "", 400),
        (
            "application/json",
            br#"{"subject":"jan","category":"support","purposes":["support"],"data":1e999999}"#,
            "",
            400,
        ),
        (
            "application/json",
            br#"{"subject":"jan","category":"mail.body","purposes":["support"],"data":1}"#,
            "/category",
            422,
        ),
        (
            "application/json",
            br#"{"subject":"jan","category":"nope","purposes":["support"],"data":1}"#,
            "/category",
            422,
        ),
        (
            "application/json",
            br#"{"subject":"jan","category":"support","purposes":["nope"],"data":1}"#,
            "/purposes",
            422,
        ),
    ];
    for (ct, body, field, status) in cases {
        let r = post_as(&url, &app, ct, body);
        assert_eq!(
            r.status,
            status,
            "{}: {}",
            String::from_utf8_lossy(body),
            r.body
        );
        let p = problem(&r);
        if !field.is_empty() {
            assert!(
                p["errors"][0]["field"].as_str().unwrap().starts_with(field),
                "{p}"
            );
        }
    }
    let big = format!(
        r#"{{"subject":"jan","category":"support","purposes":["support"],"data":"{}"}}"#,
        "x".repeat(8000)
    );
    let r = post_as(&url, &app, "application/json", big.as_bytes());
    assert_eq!(r.status, 413, "{}", r.body);
    let trail = audit_trail(&s, &dpo, "action=records.put");
    assert!(
        trail["entries"].as_array().unwrap().is_empty(),
        "nothing was written: {trail}"
    );
}

#[test]
fn missing_malformed_and_revoked_keys_are_refused() {
    let s = setup("keys");
    let (app, _, _) = tenant(&s, "acme");
    let url = s.server.url("/v1/records/query");
    let who = || Some(serde_json::json!({ "subject": "jan" }));
    let r = reply(
        agent()
            .post(&url)
            .header("content-type", "application/json")
            .send(&br#"{"subject":"jan"}"#[..])
            .unwrap(),
    );
    assert_eq!(r.status, 401);
    problem(&r);
    assert_eq!(send("POST", &url, "cst_nonsense", who()).status, 401);
    assert_eq!(send("POST", &url, &app, who()).status, 200);
    let key_id = app.split('_').nth(1).unwrap();
    assert_eq!(
        send(
            "DELETE",
            &s.server.url(&format!("/v1/tenants/globex/keys/{key_id}")),
            &s.admin,
            None
        )
        .status,
        404,
        "revoking through another tenant fails"
    );
    assert_eq!(
        send(
            "DELETE",
            &s.server.url(&format!("/v1/tenants/acme/keys/{key_id}")),
            &s.admin,
            None
        )
        .status,
        204
    );
    assert_eq!(
        send("POST", &url, &app, who()).status,
        401,
        "a revoked key never works again"
    );
    assert_eq!(
        send("POST", &url, &s.admin, who()).status,
        403,
        "admin keys reach no tenant's data"
    );
}

#[test]
fn an_idempotency_key_replays_the_first_answer_and_refuses_another_body() {
    let s = setup("idem");
    let (app, dpo, _) = tenant(&s, "acme");
    let url = s.server.url("/v1/records");
    let post = |body: &str| {
        reply(
            agent()
                .post(&url)
                .header("authorization", &format!("Bearer {app}"))
                .header("content-type", "application/json")
                .header("idempotency-key", "order-7")
                .send(body.as_bytes())
                .unwrap(),
        )
    };
    let body = r#"{"subject":"jan","category":"support","purposes":["support"],"data":{"n":1}}"#;
    let first = post(body);
    let again = post(body);
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(
        json(&first)["id"],
        json(&again)["id"],
        "the replay returns the first record"
    );
    let other =
        post(r#"{"subject":"jan","category":"support","purposes":["support"],"data":{"n":2}}"#);
    assert_eq!(other.status, 422);
    assert_eq!(problem(&other)["errors"][0]["field"], "Idempotency-Key");
    let trail = audit_trail(&s, &dpo, "action=records.put");
    assert_eq!(
        trail["entries"].as_array().unwrap().len(),
        1,
        "written once"
    );
}

#[test]
fn a_key_over_its_rate_gets_429_with_retry_after() {
    let s = setup_rated("rate", 5);
    let (app, _, _) = tenant(&s, "acme");
    let url = s.server.url("/v1/records/00000000000000000000000000000000");
    // A burst of 10 is allowed; well before 200 requests the bucket is empty, however slow
    // the machine (it refills at 5 per second).
    let refused = (0..200)
        .map(|_| {
            reply(
                agent()
                    .get(&url)
                    .header("authorization", &format!("Bearer {app}"))
                    .call()
                    .unwrap(),
            )
        })
        .find(|r| r.status == 429)
        .expect("the key is refused once over its rate");
    assert_eq!(
        problem(&refused)["type"],
        "https://custos.dev/problems/too-many-requests"
    );
}

/// Malformed input with a valid key on every documented route (random methods, paths, query
/// strings, bodies and content types) never yields a 5xx, every error is a problem document, and
/// no write succeeds from junk.
#[test]
fn no_malformed_authenticated_request_makes_the_server_fail_or_write() {
    let s = setup("fuzz");
    let (app, dpo, _) = tenant(&s, "acme");
    let doc: serde_json::Value =
        serde_json::from_str(&crate::get(&s.server.url("/openapi.json")).body).unwrap();
    let paths: Vec<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let fills = [
        "jan",
        "%ff%fe",
        "..%2f..%2fetc",
        "00000000000000000000000000000000",
        "x".repeat(300).leak() as &str,
        "acme",
        "%00",
    ];
    let queries = [
        "",
        "limit=0",
        "limit=999999999999999999999",
        "cursor=-1",
        "cursor=abc",
        "subject=%ff",
        "lang=nl&lang=en",
    ];
    let bodies: [&[u8]; 8] = [
        b"",
        b"{",
        b"null",
        b"[]",
        br#"{"subject":"jan","category":"support","purposes":["support"],"data":1,"x":2}"#,
        br#"{"subject":"jan","category":1,"purposes":{},"data":[]}"#,
        b"\xff\xfe\xfd",
        br#"{"subject":"jan","category":"support","purposes":["support"],"data":1,"clocks":{"draft.decided":"not a time"}}"#,
    ];
    let key = |i: u64| {
        if i.is_multiple_of(2) {
            app.clone()
        } else {
            dpo.clone()
        }
    };
    for i in 0..400u64 {
        let path = paths[(next() % paths.len() as u64) as usize]
            .replace("{subject}", fills[(next() % fills.len() as u64) as usize])
            .replace("{id}", fills[(next() % fills.len() as u64) as usize])
            .replace("{tenant}", "acme")
            .replace("{key_id}", fills[(next() % fills.len() as u64) as usize])
            .replace("{category}", fills[(next() % fills.len() as u64) as usize])
            .replace("{hold_id}", fills[(next() % fills.len() as u64) as usize]);
        let q = queries[(next() % queries.len() as u64) as usize];
        let url = if q.is_empty() {
            s.server.url(&path)
        } else {
            format!("{}?{q}", s.server.url(&path))
        };
        let body = bodies[(next() % bodies.len() as u64) as usize];
        let auth = format!("Bearer {}", key(i));
        let ct = if next() % 4 == 0 {
            "text/plain"
        } else {
            "application/json"
        };
        let res = match next() % 3 {
            0 => agent().get(&url).header("authorization", &auth).call(),
            1 => agent()
                .post(&url)
                .header("authorization", &auth)
                .header("content-type", ct)
                .send(body),
            _ => agent().delete(&url).header("authorization", &auth).call(),
        };
        let Ok(res) = res else { continue };
        let r = reply(res);
        assert!(r.status < 500, "{url}: {} {}", r.status, r.body);
        if r.status >= 400 {
            crate::error_document(&r, &path);
        }
        assert!(
            (r.status != 201),
            "junk created something at {url}: {}",
            r.body
        );
    }
}

/// Every use of a key is attributable: reads are written to the audit trail in batches, with
/// the key id and the subject's pseudonym.
#[test]
fn reads_are_attributed_to_the_key_in_the_audit_trail() {
    let s = setup("reads");
    let (app, dpo, _) = tenant(&s, "acme");
    let id = json(&put(&s, &app, "jan@example.nl", "x"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        send(
            "GET",
            &s.server.url(&format!("/v1/records/{id}")),
            &app,
            None
        )
        .status,
        200
    );
    let key_id = app.split('_').nth(1).unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let trail = audit_trail(&s, &dpo, "action=records.read");
        if let Some(e) = trail["entries"].as_array().unwrap().first() {
            assert_eq!(e["actor"], format!("key:{key_id}"));
            assert!(e["details"].as_str().unwrap().contains(&id));
            assert!(!trail.to_string().contains("jan@example.nl"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the read never reached the audit trail"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// On SQLite the writer's connection (the first) is handed out last, so that the work which
/// must run on it (`vault_for_write`, the short reads of `try_sqlite_vault`) finds it free while
/// any other connection is idle.
#[test]
fn the_sqlite_pool_hands_out_the_writers_connection_last() {
    let mut config = sqlite_config("pool_order");
    config.pool_size = 3;
    let backend = open_backend(&config);
    let first = backend.vault();
    let second = backend.vault();
    assert!(
        backend.try_sqlite_vault().is_some(),
        "two connections out, the writer's is still free"
    );
    let third = backend.vault();
    assert!(
        backend.try_sqlite_vault().is_none(),
        "the third is the writer's: none other was idle"
    );
    drop(first);
    drop(third);
    let again = backend.vault();
    assert!(
        backend.try_sqlite_vault().is_some(),
        "an idle other connection is taken before the writer's"
    );
    drop((again, second));
}
