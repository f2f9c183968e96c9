//! Load test of `custos serve` on loopback (issue 4's figures): requests per second and p50/p99
//! latency with 50 concurrent clients for record get and put (and the policy routes), on SQLite
//! and, when `CUSTOS_TEST_DATABASE_URL` is set, on PostgreSQL; and the server's resident memory
//! at rest and under load.
//! Run: `cargo bench -p custos --bench serve_load` (builds the release binary and starts it).
//! The client runs on the same 2 cores as the server, so the figures are a lower bound.
//!
//! Writes are compared in the same run with the same shape of work done without Custos: on
//! PostgreSQL, `pgbench` with 50 clients, each transaction inserting one 1 KiB row and one audit
//! row (skipped with a notice when `pgbench` is not installed); on SQLite, one connection with the
//! vault's own settings, each transaction inserting the same two rows. The printed ratio is
//! Custos's writes per second over the baseline's transactions per second.

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

/// Requests per second of a route, as [`drive`] measured it.
fn drive(
    label: &str,
    pid: u32,
    request: &(dyn Fn(&ureq::Agent, usize, usize) -> bool + Sync),
) -> f64 {
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
    let rate = sorted.len() as f64 / SECONDS as f64;
    println!(
        "{:<46} {:>9.0} {:>7.2}ms {:>7.2}ms {:>8} MiB {:>7}",
        label,
        rate,
        percentile(&sorted, 0.50).as_secs_f64() * 1e3,
        percentile(&sorted, 0.99).as_secs_f64() * 1e3,
        peak.load(Ordering::Relaxed) / 1024,
        errors.load(Ordering::Relaxed)
    );
    rate
}

/// What the same writes cost without Custos, in transactions per second: pgbench on PostgreSQL
/// (`None` without pgbench), a bare insert per transaction on SQLite.
fn baseline(database: Option<&str>, schema: &str) -> Option<f64> {
    match database {
        Some(url) => pgbench(url, schema),
        None => Some(sqlite_inserts(schema)),
    }
}

/// pgbench with [`CLIENTS`] clients for [`SECONDS`], each transaction inserting one 1 KiB row and
/// one audit row into tables of the same shape as Custos's, in a schema of its own.
fn pgbench(url: &str, schema: &str) -> Option<f64> {
    let schema = format!("{schema}_pgbench");
    let mut db = custos_vault::postgres_connection(url, &schema).expect("PostgreSQL");
    db.batch_execute(&format!(
        "DROP TABLE IF EXISTS {schema}.records, {schema}.audit;
         CREATE TABLE {schema}.records (tenant_id TEXT NOT NULL, record_id TEXT NOT NULL,
             payload BYTEA NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (tenant_id, record_id));
         CREATE TABLE {schema}.audit (seq BIGSERIAL PRIMARY KEY, tenant_id TEXT NOT NULL,
             action TEXT NOT NULL, details TEXT NOT NULL, hash BYTEA NOT NULL);"
    ))
    .expect("baseline tables");
    let script = std::env::temp_dir().join(format!("{schema}.sql"));
    std::fs::write(
        &script,
        format!(
            "BEGIN;
INSERT INTO {schema}.records VALUES ('demo', md5(random()::text || clock_timestamp()::text), convert_to(repeat('x', 1024), 'UTF8'), 0);
INSERT INTO {schema}.audit (tenant_id, action, details, hash) VALUES ('demo', 'records.put', '{{\"records\":1}}', sha256(convert_to(random()::text, 'UTF8')));
COMMIT;
"
        ),
    )
    .expect("pgbench script");
    let out = std::process::Command::new("pgbench")
        .args(["-n", "-c", &CLIENTS.to_string(), "-j", "2", "-T"])
        .arg(SECONDS.to_string())
        .arg("-f")
        .arg(&script)
        .arg(url)
        .output();
    let _ = db.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            println!(
                "pgbench failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return None;
        }
        Err(e) => {
            println!("pgbench is not available ({e}): the PostgreSQL baseline is skipped");
            return None;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let tps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok());
    let latency = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("latency average = "))
        .unwrap_or("?");
    if let Some(tps) = tps {
        println!(
            "{:<46} {:>9.0}   (latency average {latency})",
            "baseline: pgbench, 1 KiB row + audit row", tps
        );
    }
    tps
}

/// One SQLite connection with the vault's settings (WAL, `synchronous = FULL`) inserting one
/// 1 KiB row and one audit row per transaction for [`SECONDS`].
fn sqlite_inserts(name: &str) -> f64 {
    let path = std::env::temp_dir().join(format!("{name}-baseline.db"));
    let _ = std::fs::remove_file(&path);
    let db = custos_vault::sqlite_connection(&path).expect("SQLite");
    db.execute_batch(
        "CREATE TABLE records (tenant_id TEXT NOT NULL, record_id TEXT NOT NULL,
             payload BLOB NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (tenant_id, record_id));
         CREATE TABLE audit (seq INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL,
             action TEXT NOT NULL, details TEXT NOT NULL, hash BLOB NOT NULL);",
    )
    .expect("baseline tables");
    let payload = vec![b'x'; 1024];
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let mut n = 0u64;
    while Instant::now() < deadline {
        db.execute_batch("BEGIN IMMEDIATE").expect("begin");
        db.execute(
            "INSERT INTO records VALUES ('demo', ?1, ?2, 0)",
            (format!("{n:032x}"), &payload),
        )
        .expect("insert");
        db.execute(
            "INSERT INTO audit (tenant_id, action, details, hash) VALUES ('demo', 'records.put', '{\"records\":1}', ?1)",
            (&payload[..32],),
        )
        .expect("insert");
        db.execute_batch("COMMIT").expect("commit");
        n += 1;
    }
    drop(db);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let tps = n as f64 / SECONDS as f64;
    println!(
        "{:<46} {:>9.0}",
        "baseline: SQLite, 1 KiB row + audit row / tx", tps
    );
    tps
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
    let writes = drive("POST /v1/records (1 KiB, encrypt)", pid, &|a, c, i| {
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
    if let Some(metrics) = agent()
        .get(&format!("{base}/metrics"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
    {
        let total = |name: &str| {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let (groups, grouped) = (
            total("custos_write_groups_total "),
            total("custos_grouped_writes_total "),
        );
        if groups > 0.0 {
            println!(
                "{:<46} {:>9.1}   ({grouped} writes in {groups} transactions)",
                "writes per transaction (group commit)",
                grouped / groups
            );
        }
    }
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
    // The baseline runs once the server stopped, so that both have the machine (and the
    // database's connections) to themselves.
    if let Some(tps) = baseline(database, &format!("load_{pid_now}")) {
        println!(
            "{:<46} {:>9.2}",
            "writes: Custos / baseline (same run)",
            writes / tps
        );
    }
}

fn main() {
    bench_backend("SQLite", None);
    match std::env::var("CUSTOS_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => bench_backend("PostgreSQL", Some(&url)),
        _ => println!("\nCUSTOS_TEST_DATABASE_URL is not set: PostgreSQL skipped"),
    }
}
