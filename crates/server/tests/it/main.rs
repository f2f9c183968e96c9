//! The real server on a loopback port, driven over HTTP. One test binary for the crate: add
//! modules here rather than files in `tests/`.

use std::net::SocketAddr;

use custos_server::Config;

mod announcements;
mod audit;
mod banner;
mod breaches;
mod browser;
mod center;
mod client_addresses;
mod consent;
mod console;
mod console_breaches;
mod console_oversight;
mod data;
#[path = "../../../../testkit/database_url.rs"]
mod database_url;
mod datasets;
mod error_codes;
mod handling;
mod holes;
mod isolation;
mod mail;
mod many_servers;
mod openapi;
mod opengdpr;
mod recipients;
mod requests;
mod retention;
#[path = "../../../../testkit/connectors/sample.rs"]
mod sample;
mod slow_clients;
#[path = "../../../../testkit/smtp.rs"]
mod smtp;
#[path = "../../../../testkit/stale_schemas.rs"]
mod stale_schemas;
#[path = "../../../../testkit/tools.rs"]
mod tools;

const JBSYNC: &str = include_str!("../../../../examples/policies/jbsync.toml");

/// A running server; dropped, it shuts down gracefully.
struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start() -> Running {
        Running::start_with(None)
    }

    fn start_with(backend: Option<custos_server::Backend>) -> Running {
        Running::start_rated(backend, 1000)
    }

    fn start_rated(backend: Option<custos_server::Backend>, rate: u32) -> Running {
        Running::start_custom(backend, rate, JBSYNC.to_owned(), None)
    }

    /// With a policy of the test's own and the retention scheduler every `purge_interval`.
    fn start_custom(
        backend: Option<custos_server::Backend>,
        rate: u32,
        policy: String,
        purge_interval: Option<std::time::Duration>,
    ) -> Running {
        Running::start_configured(backend, policy, |c| {
            c.rate_limit_per_second = rate;
            c.purge_interval = purge_interval;
        })
    }

    /// With the test's policy and whatever `adjust` sets in the configuration.
    fn start_configured(
        backend: Option<custos_server::Backend>,
        policy: String,
        adjust: impl FnOnce(&mut Config),
    ) -> Running {
        let mut config = Config::with_policy("jbsync.toml");
        config.listen = "127.0.0.1:0".parse().expect("address");
        config.max_body_bytes = 4096;
        adjust(&mut config);
        Running::serve(config, &policy, backend)
    }

    /// Serves `policy` (the text of `jbsync.toml`) as `config` says, on a thread of its own;
    /// returns once the server listens.
    fn serve(config: Config, policy: &str, backend: Option<custos_server::Backend>) -> Running {
        let loaded =
            custos_policy::load_source(custos_policy::SourceFile::new("jbsync.toml", policy))
                .expect("the test policy loads");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(custos_server::serve(
                &config,
                loaded,
                backend,
                move |a| addr_tx.send(a).expect("report address"),
                async move {
                    let _ = rx.await;
                },
            ))
            .expect("server runs");
        });
        let addr = addr_rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("server starts");
        Running {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A client that hands back every status instead of turning 4xx and 5xx into errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// What the server answered, read whole.
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The `content-type` header (empty when absent).
    pub content_type: String,
    /// The `x-request-id` header.
    pub request_id: Option<String>,
    /// The body as text.
    pub body: String,
}

/// A GET without a key.
pub fn get(url: &str) -> Reply {
    reply(agent().get(url).call().expect("request completes"))
}

/// Reads a response into a [`Reply`].
pub fn reply(mut r: ureq::http::Response<ureq::Body>) -> Reply {
    let header = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (content_type, request_id) = (
        header("content-type").unwrap_or_default(),
        header("x-request-id"),
    );
    Reply {
        status: r.status().as_u16(),
        content_type,
        request_id,
        body: r.body_mut().read_to_string().unwrap_or_default(),
    }
}

/// The problem document of an error answer (asserting it is one).
pub fn problem(r: &Reply) -> serde_json::Value {
    assert_eq!(r.content_type, "application/problem+json", "{}", r.body);
    serde_json::from_str(&r.body).expect("problem is JSON")
}

/// An error answer to `path`: a problem document, or on the OpenGDPR routes that protocol's own
/// error shape (`{"error": {"code", ...}}`, see docs/rights.md).
pub fn error_document(r: &Reply, path: &str) {
    let opengdpr = path.contains("/opengdpr") || path.starts_with("/v2/");
    if opengdpr && r.content_type == "application/json" {
        let v: serde_json::Value = serde_json::from_str(&r.body).expect("an OpenGDPR error");
        assert_eq!(v["error"]["code"], r.status, "{path}: {}", r.body);
    } else {
        problem(r);
    }
}

#[test]
fn every_documented_route_answers_and_the_document_is_openapi_3_1() {
    let s = Running::start();
    let doc: serde_json::Value = serde_json::from_str(&get(&s.url("/openapi.json")).body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    // The project's own licence and contact, as in Cargo.toml and LICENSE (not the library's).
    assert_eq!(doc["info"]["license"]["identifier"], "EUPL-1.2");
    assert_eq!(doc["info"]["contact"]["name"], "Custos maintainers");
    assert!(!doc["info"].to_string().contains("MIT"), "{}", doc["info"]);
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    let expected = [
        "/.well-known/gpc.json",
        "/announcements.atom",
        "/announcements.json",
        "/healthz",
        "/metrics",
        "/privacy",
        "/readyz",
        "/v1/announcements",
        "/v1/announcements/contacts",
        "/v1/announcements/{announcement_id}/objections",
        "/v1/app/webhook",
        "/v1/approvals",
        "/v1/approvals/{approval_id}",
        "/v1/approvals/{approval_id}/approve",
        "/v1/approvals/{approval_id}/reject",
        "/v1/audit",
        "/v1/audit/verify",
        "/v1/breach-notices",
        "/v1/breaches",
        "/v1/breaches/{breach_id}",
        "/v1/breaches/{breach_id}/affected",
        "/v1/breaches/{breach_id}/decision",
        "/v1/breaches/{breach_id}/draft",
        "/v1/breaches/{breach_id}/letters",
        "/v1/consent",
        "/v1/consent/history",
        "/v1/consent/state",
        "/v1/decisions",
        "/v1/decisions/batch",
        "/v1/disclosures",
        "/v1/discovery",
        "/v1/events",
        "/v1/holds",
        "/v1/holds/{hold_id}",
        "/v1/notifications/dead",
        "/v1/notifications/{notification_id}/retry",
        "/v1/opengdpr/callback_secret",
        "/v1/opengdpr_requests",
        "/v1/opengdpr_requests/{subject_request_id}",
        "/v1/policy",
        "/v1/policy/dpv",
        "/v1/policy/ropa",
        "/v1/policy/statement",
        "/v1/recipients/{recipient}/webhook",
        "/v1/records",
        "/v1/records/query",
        "/v1/records/{id}",
        "/v1/requests",
        "/v1/requests/{request_id}",
        "/v1/requests/{request_id}/code",
        "/v1/requests/{request_id}/execute",
        "/v1/requests/{request_id}/extend",
        "/v1/requests/{request_id}/refuse",
        "/v1/requests/{request_id}/verify",
        "/v1/retention/due",
        "/v1/retention/overrides/{category}",
        "/v1/retention/report",
        "/v1/retention/tier",
        "/v1/statement/acceptances",
        "/v1/statement/must-accept",
        "/v1/subjects/erase",
        "/v1/suppression",
        "/v1/tenants",
        "/v1/tenants/{tenant}/keys",
        "/v1/tenants/{tenant}/keys/{key_id}",
        "/v2/discovery",
        "/v2/requests",
        "/v2/requests/{subject_request_id}",
    ];
    assert_eq!(
        paths, expected,
        "a route was added or removed without the OpenAPI document following"
    );
    for (p, ops) in doc["paths"].as_object().unwrap() {
        let Some(op) = ops.get("get") else { continue };
        let r = get(&s.url(
            &p.replace("{id}", "00000000000000000000000000000000")
                .replace("{subject}", "s"),
        ));
        let secured = op.get("security").is_some();
        assert_eq!(r.status, if secured { 401 } else { 200 }, "{p}: {}", r.body);
    }
    assert!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"]
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
    );
}

#[test]
fn unknown_routes_methods_and_parameters_are_problem_documents() {
    let s = Running::start();
    let r = get(&s.url("/v1/nothing-here"));
    assert_eq!(r.status, 404);
    assert_eq!(problem(&r)["type"], "https://custos.dev/problems/not-found");
    let r = reply(agent().delete(&s.url("/v1/policy")).call().unwrap());
    assert_eq!(r.status, 405);
    assert_eq!(problem(&r)["status"], 405);
    let r = get(&s.url("/v1/policy/statement?lang=de"));
    assert_eq!(r.status, 400);
    let p = problem(&r);
    assert_eq!(p["errors"][0]["field"], "lang");
    assert!(p["errors"][0]["reason"].as_str().unwrap().contains("`de`"));
    // The Art. 30 record is an internal document: no key, no record.
    let r = get(&s.url("/v1/policy/ropa?format=xml"));
    assert_eq!(r.status, 401, "{}", r.body);
}

#[test]
fn an_oversized_body_is_refused_with_a_problem() {
    let s = Running::start();
    let big = vec![b'x'; 64 * 1024];
    let r = reply(
        agent()
            .post(&s.url("/v1/policy"))
            .header("content-type", "application/json")
            .send(&big[..])
            .unwrap(),
    );
    assert!(r.status == 413 || r.status == 405, "{}", r.status);
    problem(&r);
}

#[test]
fn the_public_statement_is_served_in_both_languages() {
    let s = Running::start();
    let nl = get(&s.url("/privacy"));
    assert_eq!(nl.status, 200);
    assert!(nl.content_type.starts_with("text/html"));
    assert!(nl.body.contains("<html lang=\"nl\">"));
    let en = get(&s.url("/privacy?lang=en"));
    assert!(
        en.body.contains("<html lang=\"en\">") && en.body.contains("Who receives personal data")
    );
    let md = get(&s.url("/v1/policy/statement?lang=en&format=md"));
    assert!(md.content_type.starts_with("text/markdown"));
    assert!(md.body.starts_with("# "));
    // The Art. 30 record is not public (served with a key: holes.rs).
    assert_eq!(get(&s.url("/v1/policy/ropa?format=csv")).status, 401);
}

/// Issue 22: `/privacy` answers in the language the browser prefers among the statement's,
/// `?lang=` overrides it, the page links the other language, and caches are told the answer
/// varies with `Accept-Language`.
#[test]
fn the_privacy_page_follows_accept_language_and_offers_the_other_language() {
    let s = Running::start();
    let page = |accept: Option<&str>, query: &str| {
        let mut req = agent().get(&s.url(&format!("/privacy{query}")));
        if let Some(a) = accept {
            req = req.header("accept-language", a);
        }
        let r = req.call().expect("request completes");
        let header = |n: &str| {
            r.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .unwrap_or_default()
        };
        let (lang, vary) = (header("content-language"), header("vary"));
        (lang, vary, reply(r))
    };
    let (lang, vary, r) = page(Some("en-GB,en;q=0.9,nl;q=0.5"), "");
    assert_eq!(r.status, 200);
    assert_eq!(lang, "en");
    assert!(
        vary.to_ascii_lowercase().contains("accept-language"),
        "{vary}"
    );
    assert!(r.body.contains("<html lang=\"en\">"));
    assert!(
        r.body
            .contains("<a href=\"?lang=nl\" hreflang=\"nl\" lang=\"nl\">Nederlands</a>"),
        "a language switch"
    );
    let (lang, _, r) = page(Some("de-DE, nl;q=0.8, en;q=0.7"), "");
    assert_eq!(
        (lang.as_str(), r.body.contains("<html lang=\"nl\">")),
        ("nl", true)
    );
    // `?lang=` overrides the header.
    let (lang, _, r) = page(Some("en"), "?lang=nl");
    assert_eq!(lang, "nl");
    assert!(r.body.contains("hreflang=\"en\" lang=\"en\">English</a>"));
    // No preference the statement can meet: its first language.
    let (lang, _, _) = page(Some("fr"), "");
    assert_eq!(lang, "nl");
    let (lang, _, _) = page(None, "");
    assert_eq!(lang, "nl");
}

/// A statement is served only in the policy's own languages (issue 22: never Custos's Dutch
/// headings over English texts).
#[test]
fn a_statement_in_a_language_the_policy_lacks_is_not_found() {
    let english_only = JBSYNC.replacen("languages = [\"nl\", \"en\"]", "languages = [\"en\"]", 1);
    let s = Running::start_custom(None, 1000, english_only, None);
    let r = get(&s.url("/privacy?lang=nl"));
    assert_eq!(r.status, 404, "{}", r.body);
    let p = problem(&r);
    assert_eq!(p["code"], "language-not-offered");
    assert!(
        p["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("it is in: en"),
        "{p}"
    );
    assert_eq!(
        get(&s.url("/v1/policy/statement?lang=nl&format=md")).status,
        404
    );
    // A Dutch browser gets the English statement, marked as English.
    let r = agent()
        .get(&s.url("/privacy"))
        .header("accept-language", "nl")
        .call()
        .unwrap();
    assert_eq!(r.headers()["content-language"], "en");
}

#[test]
fn request_ids_are_echoed_or_generated() {
    let s = Running::start();
    let r = reply(
        agent()
            .get(&s.url("/healthz"))
            .header("x-request-id", "trace-abc-123")
            .call()
            .unwrap(),
    );
    assert_eq!(r.request_id.as_deref(), Some("trace-abc-123"));
    let r = reply(
        agent()
            .get(&s.url("/healthz"))
            .header("x-request-id", "<script>")
            .call()
            .unwrap(),
    );
    let id = r.request_id.unwrap();
    assert_eq!(id.len(), 24, "a fresh id replaces an unsafe one: {id}");
    assert_ne!(
        get(&s.url("/healthz")).request_id,
        get(&s.url("/healthz")).request_id
    );
}

#[test]
fn metrics_count_requests_per_route_template() {
    let s = Running::start();
    for _ in 0..3 {
        get(&s.url("/v1/policy"));
    }
    get(&s.url("/v1/missing/123"));
    let m = get(&s.url("/metrics")).body;
    assert!(
        m.contains(
            "custos_http_requests_total{method=\"GET\",route=\"/v1/policy\",status=\"200\"} 3"
        ),
        "{m}"
    );
    assert!(m.contains("route=\"unmatched\",status=\"404\"} 1"), "{m}");
    assert!(
        !m.contains("/v1/missing/123"),
        "raw paths never become labels"
    );
    assert!(m.contains("custos_http_request_duration_seconds_bucket"));
}

#[test]
fn the_server_is_ready_while_running_and_stops_gracefully() {
    let s = Running::start();
    assert_eq!(get(&s.url("/readyz")).status, 200);
    let url = s.url("/healthz");
    drop(s);
    assert!(
        agent().get(&url).call().is_err(),
        "nothing listens after shutdown"
    );
}

/// Malformed input on every documented route (random methods, query strings, bodies, content
/// types and headers) never yields a 5xx, and every error is a problem document.
#[test]
fn no_malformed_request_makes_the_server_fail() {
    let s = Running::start();
    let doc: serde_json::Value = serde_json::from_str(&get(&s.url("/openapi.json")).body).unwrap();
    let mut paths: Vec<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    paths.push("/v1/../../etc/passwd".into());
    paths.push("/%ff%fe".into());
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let junk = [
        "",
        "lang=",
        "lang=%ff",
        "format=md&format=html",
        "lang=nl&lang=en",
        "x=1",
        "lang=\u{202e}",
        "format=9999999999999999999999",
        "%zz=%zz",
    ];
    let bodies: [&[u8]; 5] = [b"", b"{", b"{\"a\":1e999999}", b"\xff\xfe\x00", b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"];
    for i in 0..300 {
        let path = &paths[(next() % paths.len() as u64) as usize];
        let q = junk[(next() % junk.len() as u64) as usize];
        let url = if q.is_empty() {
            s.url(path)
        } else {
            format!("{}?{q}", s.url(path))
        };
        let body = bodies[(next() % bodies.len() as u64) as usize];
        let res = match i % 4 {
            0 => agent()
                .get(&url)
                .header("accept", "application/x-nonsense")
                .call(),
            1 => agent()
                .post(&url)
                .header("content-type", "application/json")
                .send(body),
            2 => agent()
                .put(&url)
                .header("content-type", "text/plain")
                .send(body),
            _ => agent().delete(&url).header("x-request-id", "\u{7f}").call(),
        };
        let Ok(res) = res else { continue };
        let r = reply(res);
        assert!(r.status < 500, "{url}: {} {}", r.status, r.body);
        if r.status >= 400 {
            error_document(&r, path);
        }
    }
}
