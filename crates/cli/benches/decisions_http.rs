//! Processing decisions over HTTP (issue 7's figure): decisions per second and p50/p99 latency
//! with 50 concurrent clients against the release `custos serve --demo` on SQLite, for the
//! decisions apps ask most (a contract purpose; a consent purpose whose consent is in the
//! ledger; direct marketing checked against the suppression list), the batch form (100 per
//! call), and `/healthz` in the same run as the floor of this harness.
//! Run: `cargo bench -p custos --bench decisions_http` (builds the release binary and starts it);
//! with `CUSTOS_TEST_DATABASE_URL` set, the same on PostgreSQL after SQLite
//! (`CUSTOS_BENCH_BACKENDS=postgres` for PostgreSQL only).
//! The 50 client threads run on the same 2 cores as the server, so the figures are a lower bound.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod support;

use support::{Server, agent, back_to_back, on_threads, percentile};

const SECONDS: u64 = 5;
const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// `custos serve --demo` on a fresh SQLite file in a temporary directory, or on PostgreSQL in a
/// schema of its own.
fn start(database: Option<&str>) -> Server {
    let pid = std::process::id();
    support::start(
        &format!("custos-decisions-{pid}-{}", database.is_some()),
        &format!("decisions_{pid}"),
        database,
    )
}

fn post(a: &ureq::Agent, url: &str, auth: &str, body: &[u8]) -> Option<(u16, Vec<u8>)> {
    let mut r = a
        .post(url)
        .header("authorization", auth)
        .header("content-type", "application/json")
        .send(body)
        .ok()?;
    let status = r.status().as_u16();
    Some((status, r.body_mut().read_to_vec().ok()?))
}

/// Runs `request(client, i)` from `clients` threads for 5 s; each successful call counts
/// `per_call` decisions. Prints decisions/s, calls/s, p50 and p99 per call.
fn drive(
    label: &str,
    clients: usize,
    per_call: u64,
    request: &(dyn Fn(&ureq::Agent, usize, usize) -> bool + Sync),
) {
    // Warm up the connections and the server's caches.
    on_threads(clients, &|c, a| {
        for i in 0..3 {
            request(a, c, i);
        }
        Vec::new()
    });
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let errors = AtomicU64::new(0);
    let latencies = on_threads(clients, &|c, a| {
        back_to_back(a, c, deadline, request, &errors, |_| {})
    });
    let mut sorted = latencies;
    sorted.sort();
    let calls = sorted.len() as f64 / SECONDS as f64;
    println!(
        "{:<58} {:>7} {:>11.0} {:>9.0} {:>7.2}ms {:>7.2}ms {:>7}",
        label,
        clients,
        calls * per_call as f64,
        calls,
        percentile(&sorted, 0.50).as_secs_f64() * 1e3,
        percentile(&sorted, 0.99).as_secs_f64() * 1e3,
        errors.load(Ordering::Relaxed)
    );
}

/// The same at a fixed offered rate: each of `clients` threads sends one call every
/// `clients / rate` seconds, staggered, and the latency is counted from the moment the call was
/// due (a late start counts against the server, so queueing is not hidden). Prints the rate
/// achieved, p50, p99 and p99.9.
fn drive_paced(
    label: &str,
    clients: usize,
    rate: u64,
    request: &(dyn Fn(&ureq::Agent, usize, usize) -> bool + Sync),
) {
    let every = Duration::from_secs_f64(clients as f64 / rate as f64);
    let start = Instant::now() + Duration::from_millis(100);
    let deadline = start + Duration::from_secs(SECONDS);
    let errors = AtomicU64::new(0);
    let latencies = on_threads(clients, &|c, a| {
        request(a, c, 0);
        let mut lat = Vec::new();
        let mut due = start + every.mul_f64(c as f64 / clients as f64);
        let mut i = 1;
        while due < deadline {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if request(a, c, i) {
                lat.push(due.elapsed());
            } else {
                errors.fetch_add(1, Ordering::Relaxed);
            }
            i += 1;
            due += every;
        }
        lat
    });
    // Calls that fell behind are still made (and timed) after the deadline: the rate achieved
    // is over the whole time taken.
    let took = start.elapsed().as_secs_f64();
    let mut sorted = latencies;
    sorted.sort();
    println!(
        "{:<58} {:>7} {:>11.0} {:>9} {:>7.2}ms {:>7.2}ms {:>7} p99.9 {:.2}ms",
        label,
        clients,
        sorted.len() as f64 / took,
        format!("{rate}/s"),
        percentile(&sorted, 0.50).as_secs_f64() * 1e3,
        percentile(&sorted, 0.99).as_secs_f64() * 1e3,
        errors.load(Ordering::Relaxed),
        percentile(&sorted, 0.999).as_secs_f64() * 1e3,
    );
}

/// A question for client `c`'s call `i`: one of 200 subjects, in turn.
fn ask(
    purpose: &'static str,
    category: &'static str,
    address: bool,
) -> impl Fn(usize, usize) -> serde_json::Value + Sync {
    move |c, i| {
        let subject = format!("bench-{}", (c * 7 + i) % 200);
        let mut q =
            serde_json::json!({ "subject": subject, "purpose": purpose, "category": category });
        if address {
            q["address"] = serde_json::json!(format!("{subject}@example.com"));
        }
        q
    }
}

/// One decision call; succeeds on 200 with the expected answer (`None`: either).
fn decision<'a>(
    url: &'a str,
    auth: &'a str,
    make: &'a (dyn Fn(usize, usize) -> serde_json::Value + Sync),
    allowed: Option<bool>,
) -> impl Fn(&ureq::Agent, usize, usize) -> bool + Sync + 'a {
    move |a, c, i| {
        let body = make(c, i).to_string();
        post(a, url, auth, body.as_bytes()).is_some_and(|(s, b)| {
            s == 200
                && allowed.is_none_or(|want| {
                    let text = String::from_utf8_lossy(&b);
                    text.contains(if want {
                        "\"allowed\":true"
                    } else {
                        "\"allowed\":false"
                    })
                })
        })
    }
}

fn main() {
    // `CUSTOS_BENCH_BACKENDS=postgres` (or `sqlite`) runs one backend only.
    let only = std::env::var("CUSTOS_BENCH_BACKENDS").unwrap_or_default();
    let wanted = |b: &str| only.is_empty() || only.split(',').any(|x| x.trim() == b);
    if wanted("sqlite") {
        run("SQLite", None);
    }
    if wanted("postgres") {
        match std::env::var("CUSTOS_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => run("PostgreSQL", Some(&url)),
            _ => println!("\nCUSTOS_TEST_DATABASE_URL is not set: PostgreSQL skipped"),
        }
    }
}

fn run(name: &str, database: Option<&str>) {
    let server = start(database);
    std::thread::sleep(Duration::from_millis(300));
    let auth = format!("Bearer {}", server.key);
    let base = server.base.clone();
    let a = agent();
    // 200 subjects with consent to style learning in the ledger; one address suppressed.
    for n in 0..200 {
        let body = serde_json::json!({
            "subject": format!("bench-{n}"), "purpose": "style_learning", "kind": "grant",
            "notice_version": "2.0", "notice_hash": HASH, "channel": "web", "proof": "form 7"
        });
        let (status, _) = post(
            &a,
            &format!("{base}/v1/consent"),
            &auth,
            body.to_string().as_bytes(),
        )
        .expect("seed consent");
        assert_eq!(status, 201, "seeding consent");
    }
    let suppress = serde_json::json!({ "address": "bench-7@example.com", "reason": "unsubscribe" });
    post(
        &a,
        &format!("{base}/v1/suppression"),
        &auth,
        suppress.to_string().as_bytes(),
    )
    .expect("seed suppression");

    let one = format!("{base}/v1/decisions");
    let batch = format!("{base}/v1/decisions/batch");
    let contract = ask("service", "account", false);
    let consent = ask("style_learning", "style_profile", false);
    let marketing = ask("customer_email", "account", true);

    println!("\n[{name}] release `custos serve --demo`, 200 subjects with consent in the ledger");
    println!(
        "{:<58} {:>7} {:>11} {:>9} {:>9} {:>9} {:>7}",
        "call (5 s)", "clients", "decisions/s", "calls/s", "p50", "p99", "errors"
    );
    let healthz = format!("{base}/healthz");
    drive("GET /healthz (the harness's floor)", 50, 0, &|a, _, _| {
        a.get(&healthz)
            .call()
            .is_ok_and(|mut r| r.body_mut().read_to_vec().is_ok())
    });
    drive(
        "POST /v1/decisions contract purpose (allow)",
        50,
        1,
        &decision(&one, &auth, &contract, Some(true)),
    );
    drive(
        "POST /v1/decisions consent purpose, consent in ledger (allow)",
        50,
        1,
        &decision(&one, &auth, &consent, Some(true)),
    );
    drive(
        "POST /v1/decisions marketing + suppression list (allow/deny)",
        50,
        1,
        &decision(&one, &auth, &marketing, None),
    );
    drive("GET /healthz, 1 client", 1, 0, &|a, _, _| {
        a.get(&healthz)
            .call()
            .is_ok_and(|mut r| r.body_mut().read_to_vec().is_ok())
    });
    drive(
        "POST /v1/decisions malformed: 400 before storage, 1 client",
        1,
        0,
        &|a, _, _| post(a, &one, &auth, b"{}").is_some_and(|(s, _)| s == 400),
    );
    drive(
        "POST /v1/decisions consent purpose, 1 client",
        1,
        1,
        &decision(&one, &auth, &consent, Some(true)),
    );
    println!(
        "\n{:<58} {:>7} {:>11} {:>9} {:>9} {:>9} {:>7}",
        "offered load (5 s, latency from when each call was due)",
        "clients",
        "decisions/s",
        "offered",
        "p50",
        "p99",
        "errors"
    );
    drive_paced(
        "GET /healthz at 5000/s (the harness's floor)",
        50,
        5000,
        &|a, _, _| {
            a.get(&healthz)
                .call()
                .is_ok_and(|mut r| r.body_mut().read_to_vec().is_ok())
        },
    );
    for rate in [1000, 2000, 5000] {
        drive_paced(
            &format!("POST /v1/decisions consent purpose at {rate}/s"),
            50,
            rate,
            &decision(&one, &auth, &consent, Some(true)),
        );
    }
    println!();
    let batch_body = |c: usize| {
        let items: Vec<serde_json::Value> = (0..100).map(|i| consent(c, i)).collect();
        serde_json::json!({ "items": items }).to_string()
    };
    let bodies: Vec<String> = (0..50).map(batch_body).collect();
    drive(
        "POST /v1/decisions/batch 100 consent decisions per call",
        50,
        100,
        &|a, c, _| post(a, &batch, &auth, bodies[c].as_bytes()).is_some_and(|(s, _)| s == 200),
    );
    let metrics = a
        .get(&format!("{base}/metrics"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .unwrap_or_default();
    println!("\ncounted in /metrics:");
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("custos_decisions_total"))
    {
        println!("  {line}");
    }
    drop(server);
    // The server's PostgreSQL schema goes with it.
    if let Some(url) = database
        && let Ok(mut c) = custos_vault::postgres_connection(url, "public")
    {
        let _ = c.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS decisions_{} CASCADE",
            std::process::id()
        ));
    }
}
