//! Load test of `custos serve` on loopback (issue 4's figures): requests per second and p50/p99
//! latency with 50 concurrent clients for record get and put (and the policy routes), on SQLite
//! and, when `CUSTOS_TEST_DATABASE_URL` is set, on PostgreSQL; and the server's resident memory
//! at rest and under load.
//! Run: `cargo bench -p custos --bench serve_load` (builds the release binary and starts it).
//! The client runs on the same 2 cores as the server, so the figures are a lower bound.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod support;

use support::{agent, back_to_back, on_threads, percentile, start};

const CLIENTS: usize = 50;
const SECONDS: u64 = 5;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn drive(label: &str, pid: u32, request: &(dyn Fn(&ureq::Agent, usize, usize) -> bool + Sync)) {
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let peak = AtomicU64::new(0);
    let errors = AtomicU64::new(0);
    let latencies = on_threads(CLIENTS, &|c, a| {
        back_to_back(a, c, deadline, request, &errors, |i| {
            if c == 0 && i % 20 == 0 {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
            }
        })
    });
    let mut sorted = latencies;
    sorted.sort();
    println!(
        "{:<46} {:>9.0} {:>7.2}ms {:>7.2}ms {:>8} MiB {:>7}",
        label,
        sorted.len() as f64 / SECONDS as f64,
        percentile(&sorted, 0.50).as_secs_f64() * 1e3,
        percentile(&sorted, 0.99).as_secs_f64() * 1e3,
        peak.load(Ordering::Relaxed) / 1024,
        errors.load(Ordering::Relaxed)
    );
}

fn bench_backend(name: &str, database: Option<&str>) {
    let pid_now = std::process::id();
    let server = start(
        &format!("custos-load-{name}-{pid_now}"),
        &format!("load_{pid_now}"),
        database,
    );
    let pid = server.child.id();
    std::thread::sleep(Duration::from_millis(300));
    println!(
        "\n[{name}] server pid {pid}, memory at rest: {} MiB",
        rss_kib(pid) / 1024
    );
    println!(
        "{:<46} {:>9} {:>9} {:>9} {:>12} {:>7}",
        "route (50 clients, 5 s)", "req/s", "p50", "p99", "server RSS", "errors"
    );
    let auth = format!("Bearer {}", server.key);
    let base = server.base.clone();
    let body_for = |subject: &str| {
        serde_json::json!({ "subject": subject, "category": "support", "purposes": ["support"], "data": { "message": "x".repeat(1000) } }).to_string()
    };
    // One record per client to read back.
    let ids: Vec<String> = (0..CLIENTS)
        .map(|c| {
            let mut r = agent()
                .post(&format!("{base}/v1/records"))
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .send(body_for(&format!("load-{c}")).as_bytes())
                .expect("seed record");
            let v: serde_json::Value =
                serde_json::from_str(&r.body_mut().read_to_string().unwrap_or_default())
                    .expect("JSON");
            v["id"].as_str().expect("an id").to_owned()
        })
        .collect();
    drive("GET /v1/records/{id} (1 KiB, decrypt)", pid, &|a, c, _| {
        a.get(&format!("{base}/v1/records/{}", ids[c]))
            .header("authorization", &auth)
            .call()
            .is_ok_and(|mut r| {
                let ok = r.status().as_u16() == 200;
                let _ = r.body_mut().read_to_vec();
                ok
            })
    });
    drive("POST /v1/records (1 KiB, encrypt)", pid, &|a, c, i| {
        a.post(&format!("{base}/v1/records"))
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .send(body_for(&format!("load-{c}-{}", i % 20)).as_bytes())
            .is_ok_and(|mut r| {
                let ok = r.status().as_u16() == 201;
                let _ = r.body_mut().read_to_vec();
                ok
            })
    });
    if database.is_none() {
        for route in [
            "/healthz",
            "/v1/policy/statement?lang=nl&format=md",
            "/privacy?lang=en",
        ] {
            let url = format!("{base}{route}");
            drive(route, pid, &|a, _, _| {
                a.get(&url)
                    .call()
                    .is_ok_and(|mut r| r.body_mut().read_to_vec().is_ok())
            });
        }
    }
    drop(server);
}

fn main() {
    bench_backend("SQLite", None);
    match std::env::var("CUSTOS_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => bench_backend("PostgreSQL", Some(&url)),
        _ => println!("\nCUSTOS_TEST_DATABASE_URL is not set: PostgreSQL skipped"),
    }
}
