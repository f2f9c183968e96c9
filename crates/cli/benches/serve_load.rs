//! Load test of `custos serve` on loopback (issue 4's figures): requests per second and p50/p99
//! latency with 50 concurrent clients, and the server's resident memory at rest and under load.
//! Run: `cargo bench -p custos --bench serve_load` (builds the release binary and starts it).
//! The client runs on the same 2 cores as the server, so the figures are a lower bound.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("custos serve starts");
    let pid = server.id();
    let mut out = BufReader::new(server.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line)
        .expect("the server reports its address");
    let base = format!("http://127.0.0.1:{port}");
    std::thread::sleep(Duration::from_millis(300));
    println!(
        "server pid {pid}, memory at rest: {} MiB",
        rss_kib(pid) / 1024
    );
    println!(
        "{:<44} {:>10} {:>9} {:>9} {:>12}",
        "route (50 clients, 5 s)", "req/s", "p50", "p99", "server RSS"
    );
    for route in [
        "/healthz",
        "/v1/policy/statement?lang=nl&format=md",
        "/privacy?lang=en",
    ] {
        let url = format!("{base}{route}");
        let deadline = Instant::now() + Duration::from_secs(SECONDS);
        let peak = std::sync::atomic::AtomicU64::new(0);
        let latencies: Vec<Duration> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..CLIENTS)
                .map(|i| {
                    let url = url.clone();
                    let peak = &peak;
                    s.spawn(move || {
                        let agent: ureq::Agent = ureq::Agent::config_builder()
                            .http_status_as_error(false)
                            .build()
                            .into();
                        let mut lat = Vec::new();
                        while Instant::now() < deadline {
                            let t = Instant::now();
                            if let Ok(mut r) = agent.get(&url).call() {
                                let _ = r.body_mut().read_to_vec();
                                lat.push(t.elapsed());
                            }
                            if i == 0 && lat.len() % 200 == 0 {
                                peak.fetch_max(rss_kib(pid), std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                        lat
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        let mut sorted = latencies;
        sorted.sort();
        let rps = sorted.len() as f64 / SECONDS as f64;
        println!(
            "{:<44} {:>10.0} {:>7.2}ms {:>7.2}ms {:>9} MiB",
            route,
            rps,
            percentile(&sorted, 0.50).as_secs_f64() * 1e3,
            percentile(&sorted, 0.99).as_secs_f64() * 1e3,
            peak.load(std::sync::atomic::Ordering::Relaxed) / 1024
        );
    }
    let _ = server.kill();
    let _ = server.wait();
}
