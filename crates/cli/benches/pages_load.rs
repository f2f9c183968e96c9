//! Page render under load (issue 20's figure): the privacy console's request queue with 10 000
//! open requests (paged, 50 a page), the privacy center's home page and `/healthz`, each driven
//! by 50 concurrent clients for 5 s in the same run against the release `custos serve --demo` on
//! SQLite: requests per second, p50 and p99. The console is reached as a person would, signing in
//! with the demo account's password and a TOTP code.
//! Run: `cargo bench -p custos --bench pages_load`.
//! The clients run on the same 2 cores as the server, so the figures are a lower bound.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

mod support;

use support::{agent, back_to_back, on_threads, percentile, start};

const CLIENTS: usize = 50;

/// The clients of this run: 50, or `CUSTOS_BENCH_CLIENTS` (1 shows a page's own latency).
fn clients() -> usize {
    std::env::var("CUSTOS_BENCH_CLIENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CLIENTS)
}
const SECONDS: u64 = 5;
const OPEN_REQUESTS: usize = 10_000;

/// RFC 4648 base32 (no padding) to bytes.
fn base32(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u64, Vec::new());
    for ch in text.trim_end_matches('=').bytes() {
        let Some(v) = alphabet.iter().position(|a| *a == ch.to_ascii_uppercase()) else {
            continue;
        };
        value = (value << 5) | v as u64;
        bits += 5;
        if bits >= 8 {
            out.push(((value >> (bits - 8)) & 0xff) as u8);
            bits -= 8;
        }
    }
    out
}

/// The value of the hidden field `name` in `html`.
fn field(html: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let at = html.find(&key).expect("the field") + key.len();
    html[at..html[at..].find('"').map_or(html.len(), |e| at + e)].to_owned()
}

fn drive(label: &str, request: &(dyn Fn(&ureq::Agent, usize, usize) -> bool + Sync)) {
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let errors = AtomicU64::new(0);
    let mut sorted = on_threads(clients(), &|c, a| {
        back_to_back(a, c, deadline, request, &errors, |_| {})
    });
    sorted.sort();
    println!(
        "{:<46} {:>9.0} {:>7.2}ms {:>7.2}ms {:>7}",
        label,
        sorted.len() as f64 / SECONDS as f64,
        percentile(&sorted, 0.50).as_secs_f64() * 1e3,
        percentile(&sorted, 0.99).as_secs_f64() * 1e3,
        errors.load(std::sync::atomic::Ordering::Relaxed)
    );
}

fn main() {
    let server = start(
        &format!("custos-pages-{}", std::process::id()),
        "pages",
        None,
    );
    let base = server.base.clone();
    let auth = format!("Bearer {}", server.key);
    // 10 000 open access requests of as many subjects, filed over the API by 8 clients.
    let filed = Instant::now();
    std::thread::scope(|s| {
        for t in 0..8 {
            let (base, auth) = (&base, &auth);
            s.spawn(move || {
                let a = agent();
                for i in (t..OPEN_REQUESTS).step_by(8) {
                    let body = serde_json::json!({ "kind": "access", "subject": format!("load-{i}@example.test") });
                    let r = a
                        .post(&format!("{base}/v1/requests"))
                        .header("authorization", auth)
                        .header("content-type", "application/json")
                        .send(body.to_string().as_bytes())
                        .expect("filed");
                    assert_eq!(r.status().as_u16(), 201);
                }
            });
        }
    });
    println!(
        "\n{OPEN_REQUESTS} open requests filed in {:.1} s",
        filed.elapsed().as_secs_f64()
    );
    // Sign in to the console with the demo account.
    let (name, password, uri) = server.console.clone();
    let secret = uri
        .split("secret=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("the demo account's second factor");
    let code = custos_access::account::TotpSecret::from_bytes(base32(secret))
        .code_at(jiff::Timestamp::now().as_second());
    let once: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let page = once
        .get(&format!("{base}/console/signin"))
        .call()
        .expect("sign-in page")
        .body_mut()
        .read_to_string()
        .unwrap_or_default();
    let signed_in = once
        .post(&format!("{base}/console/signin"))
        .send_form([
            ("csrf", field(&page, "csrf").as_str()),
            ("name", name.as_str()),
            ("password", password.as_str()),
            ("code", code.as_str()),
        ])
        .expect("signed in");
    let cookie = signed_in
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    println!(
        "{:<46} {:>9} {:>9} {:>9} {:>7}",
        "page (50 clients, 5 s, SQLite)", "req/s", "p50", "p99", "errors"
    );
    let ok = |r: Result<ureq::http::Response<ureq::Body>, ureq::Error>| {
        r.is_ok_and(|mut r| r.status().as_u16() == 200 && r.body_mut().read_to_vec().is_ok())
    };
    let healthz = format!("{base}/healthz");
    drive("/healthz", &|a, _, _| ok(a.get(&healthz).call()));
    let queue = format!("{base}/console/requests");
    drive("/console/requests (10 000 open, page 1)", &|a, _, _| {
        ok(a.get(&queue).header("cookie", &cookie).call())
    });
    let deep = format!("{base}/console/requests?page=150");
    drive("/console/requests?page=150", &|a, _, _| {
        ok(a.get(&deep).header("cookie", &cookie).call())
    });
    let center = format!("{base}/center/demo?lang=en");
    drive("/center/demo (privacy center home)", &|a, _, _| {
        ok(a.get(&center).call())
    });
}
