//! The client address behind a reverse proxy, and its use: failed API-key authentications are
//! limited per client. Only a trusted proxy's `X-Forwarded-For` is believed, so a brute force
//! through the proxy is counted per real client, and a forged header from anyone else changes
//! nothing.

use crate::data::{admin_key, open_backend, sqlite_config};
use crate::{JBSYNC, Running, agent, problem, reply};

/// The server with a fresh vault, `failed_auth_per_minute = 3` and `trusted` as the proxies;
/// with its admin key.
fn start(name: &str, trusted: &[&str]) -> (Running, String) {
    let config = sqlite_config(name);
    let backend = open_backend(&config);
    let admin = admin_key(&backend);
    let trusted: Vec<custos_server::client::Cidr> = trusted
        .iter()
        .map(|t| t.parse().expect("a network"))
        .collect();
    let server = Running::start_configured(Some(backend), JBSYNC.to_owned(), |c| {
        c.failed_auth_per_minute = 3;
        c.trusted_proxies = trusted;
    });
    (server, admin)
}

/// `GET /v1/audit` with `key`, claiming to forward for `forwarded` (if any): the status, the
/// `Retry-After` header and the body. The admin key is accepted there and then refused with 403
/// (it reads no tenant's trail), so 403 means "authenticated".
fn audit(s: &Running, key: &str, forwarded: Option<&str>) -> (u16, Option<String>, String) {
    let mut req = agent()
        .get(&s.url("/v1/audit"))
        .header("authorization", &format!("Bearer {key}"));
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    let r = req.call().expect("request completes");
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let r = reply(r);
    (r.status, retry, r.body)
}

const WRONG: &str = "cst_0123456789abcdef_wrongwrongwrongwrongwrongwrong";

#[test]
fn an_untrusted_peer_is_limited_however_it_forges_x_forwarded_for() {
    let (s, admin) = start("failed-auth-direct", &[]);
    for i in 0..3 {
        let forged = format!("198.51.100.{i}");
        let (status, _, body) = audit(&s, WRONG, Some(&forged));
        assert_eq!(status, 401, "{body}");
    }
    let (status, retry, body) = audit(&s, WRONG, Some("203.0.113.200"));
    assert_eq!(
        status, 429,
        "a new forged address is the same client: {body}"
    );
    let seconds: u64 = retry.expect("Retry-After").parse().expect("seconds");
    assert!((1..=20).contains(&seconds), "{seconds}");
    let r = crate::Reply {
        status,
        content_type: "application/problem+json".into(),
        request_id: None,
        body,
    };
    assert_eq!(
        problem(&r)["type"],
        "https://custos.dev/problems/too-many-failed-authentications"
    );
    // No oracle while refused: the right key is not even looked at.
    let (status, _, _) = audit(&s, &admin, None);
    assert_eq!(status, 429);
    // Requests without a key guess nothing and are not what is limited.
    let r = reply(agent().get(&s.url("/healthz")).call().unwrap());
    assert_eq!(r.status, 200);
}

#[test]
fn behind_a_trusted_proxy_each_forwarded_client_is_counted_on_its_own() {
    let (s, admin) = start("failed-auth-proxied", &["127.0.0.1/32"]);
    for _ in 0..3 {
        assert_eq!(audit(&s, WRONG, Some("203.0.113.9")).0, 401);
    }
    assert_eq!(audit(&s, WRONG, Some("203.0.113.9")).0, 429);
    // The client forging an entry to the left of what the proxy appended is still itself.
    assert_eq!(audit(&s, &admin, Some("192.0.2.1, 203.0.113.9")).0, 429);
    // Another client behind the same proxy is not held back by the first one's failures.
    assert_eq!(audit(&s, &admin, Some("198.51.100.7")).0, 403);
    assert_eq!(audit(&s, WRONG, Some("198.51.100.7")).0, 401);
    // The proxy's own requests (no header) are a client of their own too.
    assert_eq!(audit(&s, &admin, None).0, 403);
}
