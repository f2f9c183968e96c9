//! Retention purge figures for BENCHMARKS.md (issue 5).
//!
//! Purges the expired half of N records (N = 2M at full scale) through `TenantVault::purge`
//! (batches of at most n records: on SQLite a `DELETE … RETURNING`, on PostgreSQL a claim that
//! sums the receipt figures of an expiry range followed by a range DELETE under a per-tenant
//! purger lock; one audit receipt per category per batch in the same transaction) and compares
//! the rate with a bare `DELETE FROM records WHERE tenant_id = $1 AND expires_at <= $2` of the
//! same rows, in one transaction, on the same backend, in the same run. Peak RSS of this process
//! during each purge is sampled at ¼, ½ and 1 × N to show it stays flat. As a diagnosis it also
//! times the purge's own batch statements run bare, batch by batch (one transaction per batch,
//! no receipts, no state lock, no hold check): the gap between it and the bare DELETE is the
//! cost of batching, the gap between it and the purge the cost of the receipts.
//!
//! Data: the jbsync example policy, category `mail.metadata` (purpose `service.client_data`,
//! 7 days from `created_at`), 1 000 subjects, 64-byte payloads (the purge never reads payloads;
//! small ones keep the set-up short), written through `put_batch` in batches of 10 000, in
//! chronological order: the first half created in January 2026 (expired at the purge's
//! `now` = 2026-03-01), the second half on 2026-02-28 (not expired).
//!
//! Each scale is populated once into a template (an SQLite file, a PostgreSQL schema), then
//! one purge pass that expires nothing is run on the template so the tenant's policy
//! fingerprint is stored (the first purge of a tenant, or the first after its retention rules
//! changed, re-reads every record's expiry; that pass is timed and printed separately, and so
//! are two more after rule changes that move every record's expiry, to a year and back). Every
//! measured run then works on its own copy of the template (SQLite: the checkpointed file
//! copied; PostgreSQL: every table copied into a fresh schema made by the vault, then
//! `VACUUM ANALYZE`), so the purge and the bare delete start from identical data.
//!
//! Run:
//!
//! ```sh
//! cargo bench -p custos-vault --bench purge                       # SQLite
//! CUSTOS_TEST_DATABASE_URL=postgres://custos:custos@127.0.0.1:5432/custos_test \
//!   cargo bench -p custos-vault --bench purge                     # and PostgreSQL
//! ```
//!
//! Environment:
//!
//! - `CUSTOS_BENCH_SCALE` (default 1): N = 2 000 000 × scale records at the largest step.
//! - `CUSTOS_BENCH_STEPS` (default `0.25,0.5,1`): the fractions of N to run.
//! - `CUSTOS_BENCH_BATCH` (default the vault's default batch size): purge batch sizes, comma
//!   separated; each gets its own copy and run.
//! - `CUSTOS_BENCH_BACKENDS` (default `sqlite,postgres`): which backends to run (PostgreSQL
//!   only when `CUSTOS_TEST_DATABASE_URL` is set).
//! - `CUSTOS_BENCH_APP_WEBHOOK` (set to anything): the tenant's application has a webhook, so
//!   every batch names its records and queues one event for the application
//!   (`custos_vault::app_events`); compare with a run without it.
//! - `CUSTOS_BENCH_KEEP` (set to anything): keep the PostgreSQL template under a fixed name
//!   (`bench_purge_keep_N`) and reuse it in later runs instead of populating again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use custos_vault::{MasterKey, NewRecord, PurgeOptions, StoreConfig, SubjectId, Vault};
use jiff::{SignedDuration, Timestamp};

mod support;

use support::{RssSampler, TENANT, mib, policy, tenant};

const FULL: usize = 2_000_000;
const PUT_BATCH: usize = 10_000;
const SUBJECTS: usize = 1_000;
const PAYLOAD: usize = 64;
const CATEGORY: &str = "mail.metadata";
const PURPOSE: &str = "service.client_data";
const PG_ENV: &str = "CUSTOS_TEST_DATABASE_URL";

/// The purge's batch statement (crates/vault/src/retention.rs), without holds.
const BATCHED_SQLITE: &str = "DELETE FROM records WHERE tenant_id = ?1 AND record_id IN (SELECT record_id FROM records WHERE tenant_id = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2 ORDER BY expires_at LIMIT ?3) RETURNING category, expires_at, created_at";
/// The purge's batch statements on PostgreSQL (crates/vault/src/retention.rs), without holds:
/// the end of the batch's expiry range, then the DELETE of that range.
const BATCHED_PG_UPTO: &str = "SELECT COALESCE((SELECT expires_at FROM records WHERE tenant_id = $1 AND expires_at IS NOT NULL AND expires_at <= $2 AND expires_at >= $3 ORDER BY expires_at OFFSET CAST($4 AS bigint) - 1 LIMIT 1), $2)";
const BATCHED_PG: &str = "DELETE FROM records WHERE tenant_id = $1 AND expires_at IS NOT NULL AND expires_at <= $2 AND expires_at >= $3";

fn master() -> MasterKey {
    MasterKey::parse(&"5a".repeat(32), "bench").expect("valid key")
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("time")
}

/// The purge's `now`.
fn now() -> Timestamp {
    ts("2026-03-01T00:00:00Z")
}

fn env_list<T: std::str::FromStr>(name: &str, default: &str) -> Vec<T> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name}: cannot read {s:?}"))
        })
        .collect()
}

// ---- memory --------------------------------------------------------------------------------

// ---- data ----------------------------------------------------------------------------------

/// Record `i` of `n`: the first half created from 2026-01-01 over about four weeks (expired on
/// 2026-03-01), the second half on 2026-02-28 (not expired), in increasing time order.
fn record(i: usize, n: usize) -> NewRecord {
    let half = n / 2;
    let created = if i < half {
        // Spread over 2 400 000 s (~27.8 days).
        ts("2026-01-01T00:00:00Z")
            + SignedDuration::from_micros((i as i64) * (2_400_000_000_000 / half.max(1) as i64))
    } else {
        ts("2026-02-28T00:00:00Z")
            + SignedDuration::from_micros(
                ((i - half) as i64) * (80_000_000_000 / half.max(1) as i64),
            )
    };
    let mut payload = format!("{i:010}:").into_bytes();
    payload.resize(PAYLOAD, b'a' + (i % 26) as u8);
    NewRecord {
        subject: SubjectId::new(format!("client-{}@example.nl", i % SUBJECTS)).expect("valid"),
        category: CATEGORY.into(),
        purposes: vec![PURPOSE.into()],
        payload,
        created_at: created,
        clocks: BTreeMap::new(),
    }
}

/// The policy with `mail.metadata` kept a year instead of 7 days: a retention rule change that
/// moves every record's expiry (and expires nothing at the passes' `now`).
fn policy_changed() -> custos_policy::Policy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies/jbsync.toml");
    let text = std::fs::read_to_string(&path).expect("the example policy");
    let changed = text.replacen(
        "retention.period = \"7 days\"",
        "retention.period = \"1 year\"",
        1,
    );
    assert_ne!(text, changed, "the bench changes mail.metadata's period");
    custos_policy::load_source(custos_policy::SourceFile::new(
        "jbsync-changed.toml",
        &changed,
    ))
    .expect("the changed policy loads")
    .policy
}

/// What setting up a size cost.
struct Setup {
    populate_s: f64,
    /// The first purge: re-reads every record's expiry, none changes.
    fingerprint_s: f64,
    recomputed: u64,
    /// A purge after a rule change (every expiry moves), then one after changing it back.
    changed_s: f64,
    changed_back_s: f64,
}

/// Writes `n` records through the vault, runs the no-op purge that stores the policy
/// fingerprint, then two purges after retention rule changes that move every record's expiry
/// (to a year and back), purging nothing.
fn populate(vault: &mut Vault, n: usize) -> Setup {
    let p = policy();
    let t0 = Instant::now();
    let mut i = 0;
    while i < n {
        let end = (i + PUT_BATCH).min(n);
        let recs: Vec<NewRecord> = (i..end).map(|j| record(j, n)).collect();
        vault
            .tenant(&tenant())
            .put_batch(&p, recs, jiff::Timestamp::now())
            .expect("stored");
        i = end;
    }
    let populate_s = t0.elapsed().as_secs_f64();
    let before = ts("2025-12-01T00:00:00Z");
    let mut pass = |policy: &custos_policy::Policy| {
        let t = Instant::now();
        let r = vault
            .tenant(&tenant())
            .purge(policy, before, PurgeOptions::default(), &mut |_| {})
            .expect("recompute pass");
        assert_eq!(r.purged(), 0, "nothing is due before any record exists");
        assert_eq!(r.recomputed, n as u64, "every record is re-read");
        (t.elapsed().as_secs_f64(), r.recomputed)
    };
    let (fingerprint_s, recomputed) = pass(&p);
    let (changed_s, _) = pass(&policy_changed());
    let (changed_back_s, _) = pass(&p);
    Setup {
        populate_s,
        fingerprint_s,
        recomputed,
        changed_s,
        changed_back_s,
    }
}

fn print_setup(backend: &str, n: usize, s: &Setup) {
    println!(
        "{backend}, {n} records: populated in {:.1} s ({:.0} records/s); first purge's fingerprint pass re-read {} records in {:.2} s; after a rule change moving every expiry {:.2} s, after changing it back {:.2} s",
        s.populate_s,
        n as f64 / s.populate_s,
        s.recomputed,
        s.fingerprint_s,
        s.changed_s,
        s.changed_back_s
    );
}

// ---- results -------------------------------------------------------------------------------

struct Run {
    backend: &'static str,
    n: usize,
    batch: u32,
    purged: u64,
    purge_s: f64,
    bare_s: f64,
    batched_s: f64,
    receipts: u64,
    audit_entries: u64,
    rss_before: u64,
    rss_peak: u64,
    bare_rss_peak: u64,
}

fn print_header() {
    println!(
        "| backend | records | expired | batch | purge (s) | purged/s | bare DELETE (s) | bare/s | ratio | batched bare (s) | purge/batched | receipts | RSS before purge | peak RSS during purge | peak RSS during bare DELETE |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
}

fn print_run(r: &Run) {
    let rate = r.purged as f64 / r.purge_s;
    let bare = (r.n / 2) as f64 / r.bare_s;
    println!(
        "| {} | {} | {} | {} | {:.2} | {:.0} | {:.2} | {:.0} | **{:.2}** | {:.2} | {:.2} | {} | {:.0} MiB | {:.0} MiB | {:.0} MiB |",
        r.backend,
        r.n,
        r.purged,
        r.batch,
        r.purge_s,
        rate,
        r.bare_s,
        bare,
        rate / bare,
        r.batched_s,
        r.batched_s / r.purge_s,
        r.receipts,
        mib(r.rss_before),
        mib(r.rss_peak),
        mib(r.bare_rss_peak),
    );
}

/// Purges on an opened copy and checks the outcome; returns (purged, seconds, rss before, peak).
fn timed_purge(vault: &mut Vault, n: usize, batch: u32) -> (u64, f64, u64, u64) {
    let p = policy();
    let opts = PurgeOptions {
        batch_size: batch,
        dry_run: false,
        max_batches: None,
    };
    if std::env::var_os("CUSTOS_BENCH_APP_WEBHOOK").is_some() {
        let secret =
            custos_vault::recipients::WebhookSecret::new(*b"a bench secret, 32 bytes long..")
                .expect("a valid secret");
        vault
            .tenant(&tenant())
            .set_app_webhook("https://app.example.nl/custos", &secret, now())
            .expect("the application's webhook is set");
    }
    let mem = RssSampler::start();
    let t0 = Instant::now();
    let report = vault
        .tenant(&tenant())
        .purge(&p, now(), opts, &mut |_| {})
        .expect("purged");
    let secs = t0.elapsed().as_secs_f64();
    let (before, peak) = mem.finish();
    assert_eq!(
        report.purged(),
        (n / 2) as u64,
        "the expired half is purged"
    );
    assert_eq!(report.held(), 0);
    assert_eq!(
        report.recomputed, 0,
        "the fingerprint was stored on the template"
    );
    (report.purged(), secs, before, peak)
}

/// The timed purge on an opened copy, with what it left (counted by `count`, a backend's
/// `SELECT count(*)`), its receipts and the audit trail checked; the bare and batched baselines
/// are the caller's to fill in.
fn measured_purge(
    backend: &'static str,
    vault: &mut Vault,
    n: usize,
    batch: u32,
    count: impl Fn(&str) -> u64,
) -> Run {
    let (purged, purge_s, rss_before, rss_peak) = timed_purge(vault, n, batch);
    let left = count("SELECT count(*) FROM records");
    assert_eq!(left, (n - n / 2) as u64, "the recent half remains");
    let receipts = count("SELECT count(*) FROM audit_entries WHERE action = 'retention.purged'");
    Run {
        backend,
        n,
        batch,
        purged,
        purge_s,
        bare_s: 0.0,
        batched_s: 0.0,
        receipts,
        audit_entries: verify(vault),
        rss_before,
        rss_peak,
        bare_rss_peak: 0,
    }
}

fn verify(vault: &Vault) -> u64 {
    let verified = vault.verify_audit().expect("verifies");
    match verified.unbroken() {
        Some(v) => v.entries,
        None => panic!("the audit trail does not verify: {verified:?}"),
    }
}

// ---- SQLite --------------------------------------------------------------------------------

struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("custos-purge-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn remove_sqlite(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-erasures.jsonl"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

fn sqlite_count(path: &Path, sql: &str) -> u64 {
    let conn = custos_vault::sqlite_connection(path).expect("opens");
    conn.query_row(sql, [], |r| r.get::<_, i64>(0))
        .expect("count") as u64
}

fn sqlite_runs(n: usize, batches: &[u32], dir: &Path) -> Vec<Run> {
    let template = dir.join(format!("template-{n}.db"));
    remove_sqlite(&template);
    let setup = {
        let mut vault = Vault::open(
            &StoreConfig::Sqlite {
                path: template.clone(),
            },
            master(),
        )
        .expect("opens");
        populate(&mut vault, n)
    };
    print_setup("sqlite", n, &setup);
    {
        let conn = custos_vault::sqlite_connection(&template).expect("opens");
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .expect("checkpoint");
    }
    let copy = |name: &str| -> PathBuf {
        let path = dir.join(format!("{name}-{n}.db"));
        remove_sqlite(&path);
        std::fs::copy(&template, &path).expect("copied");
        path
    };

    // The baseline: the bare DELETE of the same rows in one transaction.
    let bare_path = copy("bare");
    let (bare_s, bare_peak) = {
        let mut conn = custos_vault::sqlite_connection(&bare_path).expect("opens");
        let mem = RssSampler::start();
        let t0 = Instant::now();
        let tx = conn.transaction().expect("tx");
        let deleted = tx
            .execute(
                "DELETE FROM records WHERE tenant_id = ?1 AND expires_at <= ?2",
                rusqlite::params![TENANT, now().as_microsecond()],
            )
            .expect("deleted");
        tx.commit().expect("commit");
        let secs = t0.elapsed().as_secs_f64();
        let (_, peak) = mem.finish();
        assert_eq!(deleted, n / 2, "the bare delete removes the expired half");
        (secs, peak)
    };
    remove_sqlite(&bare_path);

    let mut runs = Vec::new();
    for &batch in batches {
        // Diagnosis: the purge's own DELETE statement, batch by batch, without its receipts,
        // state lock or hold check.
        let batched_path = copy(&format!("batched-{batch}"));
        let batched_s = {
            let mut conn = custos_vault::sqlite_connection(&batched_path).expect("opens");
            let t0 = Instant::now();
            let mut total = 0usize;
            loop {
                let tx = conn.transaction().expect("tx");
                let n_batch = {
                    let mut stmt = tx.prepare_cached(BATCHED_SQLITE).expect("prepare");
                    let mut rows = stmt
                        .query(rusqlite::params![
                            TENANT,
                            now().as_microsecond(),
                            i64::from(batch)
                        ])
                        .expect("deleted");
                    let mut k = 0usize;
                    while let Some(r) = rows.next().expect("row") {
                        let _: (String, i64, i64) = (
                            r.get(0).expect("c"),
                            r.get(1).expect("e"),
                            r.get(2).expect("t"),
                        );
                        k += 1;
                    }
                    k
                };
                tx.commit().expect("commit");
                total += n_batch;
                if n_batch < batch as usize {
                    break;
                }
            }
            assert_eq!(total, n / 2);
            t0.elapsed().as_secs_f64()
        };
        remove_sqlite(&batched_path);
        let path = copy(&format!("purge-{batch}"));
        let mut vault =
            Vault::open(&StoreConfig::Sqlite { path: path.clone() }, master()).expect("opens");
        let count = |sql: &str| sqlite_count(&path, sql);
        let run = measured_purge("SQLite", &mut vault, n, batch, count);
        drop(vault);
        remove_sqlite(&path);
        runs.push(Run {
            bare_s,
            batched_s,
            bare_rss_peak: bare_peak,
            ..run
        });
    }
    remove_sqlite(&template);
    runs
}

// ---- PostgreSQL ----------------------------------------------------------------------------

fn pg_config(url: &str, schema: &str) -> StoreConfig {
    StoreConfig::Postgres {
        url: url.to_owned(),
        schema: schema.to_owned(),
        journal: None,
    }
}

fn pg_client(url: &str, schema: &str) -> postgres::Client {
    let mut c = custos_vault::postgres_connection(url, schema).expect("connects");
    c.execute("SELECT set_config('custos.tenant', $1, false)", &[&TENANT])
        .expect("tenant setting");
    c
}

fn pg_drop(url: &str, schema: &str) {
    let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connects");
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .expect("dropped");
}

fn pg_count(url: &str, schema: &str, sql: &str) -> u64 {
    pg_client(url, schema)
        .query_one(sql, &[])
        .expect("count")
        .get::<_, i64>(0) as u64
}

/// A fresh schema made by the vault itself (same tables, indexes, row-level security), filled
/// with a copy of every row of `from`, vacuumed and analysed.
fn pg_copy(url: &str, from: &str, to: &str) {
    pg_drop(url, to);
    drop(Vault::open(&pg_config(url, to), master()).expect("creates the schema"));
    let mut c = pg_client(url, to);
    let tables: Vec<String> = c
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = $1",
            &[&from],
        )
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Parents first (subjects refers to tenants).
    let rank = |t: &str| match t {
        "tenants" => 0,
        "subjects" => 1,
        _ => 2,
    };
    let mut ordered = tables.clone();
    ordered.sort_by_key(|t| (rank(t), t.clone()));
    let mut sql = String::from("BEGIN;");
    for t in ordered.iter().rev() {
        sql.push_str(&format!(
            "CREATE TABLE IF NOT EXISTS {to}.{t} (LIKE {from}.{t} INCLUDING ALL); DELETE FROM {to}.{t};"
        ));
    }
    for t in &ordered {
        sql.push_str(&format!("INSERT INTO {to}.{t} SELECT * FROM {from}.{t};"));
    }
    sql.push_str("COMMIT;");
    c.batch_execute(&sql).expect("copied");
    for t in &ordered {
        c.batch_execute(&format!("VACUUM ANALYZE {to}.{t}"))
            .expect("vacuumed");
    }
    // Autovacuum off on the copy: a batched purge passes autovacuum's threshold halfway (the
    // bare DELETE's dead rows only count once it commits, after its timer stopped), and a
    // vacuum of the same dead rows competing for the two cores mid-run made the purge figures
    // swing by a third between runs. Both then leave the same dead rows to a later vacuum.
    c.batch_execute(&format!(
        "ALTER TABLE {to}.records SET (autovacuum_enabled = false); ALTER TABLE {to}.audit_entries SET (autovacuum_enabled = false)"
    ))
    .expect("autovacuum off");
    // The copy wrote a lot of WAL: a checkpoint now keeps the next one out of the measured run
    // (needs the pg_checkpoint role or a superuser; without it the figures are noisier).
    if let Err(e) = c.batch_execute("CHECKPOINT") {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            println!(
                "note: no CHECKPOINT before the runs ({e}); `GRANT pg_checkpoint TO <bench role>` for steadier figures"
            )
        });
    }
}

fn pg_runs(url: &str, n: usize, batches: &[u32]) -> Vec<Run> {
    let base = format!("bench_purge_{}_{n}", std::process::id());
    // With CUSTOS_BENCH_KEEP set, the template is kept under a fixed name and reused by later
    // runs (populating 2M records through the vault takes minutes on PostgreSQL).
    let keep = std::env::var_os("CUSTOS_BENCH_KEEP").is_some();
    let template = if keep {
        format!("bench_purge_keep_{n}")
    } else {
        format!("{base}_t")
    };
    let reuse = keep && {
        let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connects");
        c.query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'records'",
            &[&template],
        )
        .expect("looks up the template")
        .get::<_, i64>(0)
            == 1
            && pg_count(url, &template, "SELECT count(*) FROM records") == n as u64
    };
    if reuse {
        println!("postgres, {n} records: reusing the kept template {template}");
    } else {
        pg_drop(url, &template);
        let setup = {
            let mut vault = Vault::open(&pg_config(url, &template), master()).expect("opens");
            populate(&mut vault, n)
        };
        print_setup("postgres", n, &setup);
    }

    let bare_schema = format!("{base}_b");
    pg_copy(url, &template, &bare_schema);
    let (bare_s, bare_peak) = {
        let mut c = pg_client(url, &bare_schema);
        let mem = RssSampler::start();
        let t0 = Instant::now();
        let mut tx = c.transaction().expect("tx");
        let deleted = tx
            .execute(
                "DELETE FROM records WHERE tenant_id = $1 AND expires_at <= $2",
                &[&TENANT, &now().as_microsecond()],
            )
            .expect("deleted");
        tx.commit().expect("commit");
        let secs = t0.elapsed().as_secs_f64();
        let (_, peak) = mem.finish();
        assert_eq!(
            deleted,
            (n / 2) as u64,
            "the bare delete removes the expired half"
        );
        (secs, peak)
    };
    pg_drop(url, &bare_schema);

    let mut runs = Vec::new();
    for &batch in batches {
        // Diagnosis: the purge's own DELETE statement, batch by batch, without its receipts,
        // state lock or hold check.
        let batched_schema = format!("{base}_d{batch}");
        pg_copy(url, &template, &batched_schema);
        let batched_s = {
            let mut c = pg_client(url, &batched_schema);
            let t0 = Instant::now();
            let mut total = 0usize;
            let mut lo = i64::MIN;
            loop {
                let mut tx = c.transaction().expect("tx");
                tx.batch_execute("SET LOCAL synchronous_commit = off")
                    .expect("async commit");
                let upto: i64 = tx
                    .query_one(
                        BATCHED_PG_UPTO,
                        &[&TENANT, &now().as_microsecond(), &lo, &i64::from(batch)],
                    )
                    .expect("range")
                    .get(0);
                let deleted = tx
                    .execute(BATCHED_PG, &[&TENANT, &upto, &lo])
                    .expect("deleted");
                tx.commit().expect("commit");
                total += deleted as usize;
                lo = upto;
                if deleted < u64::from(batch) {
                    break;
                }
            }
            assert_eq!(total, n / 2);
            t0.elapsed().as_secs_f64()
        };
        pg_drop(url, &batched_schema);
        let schema = format!("{base}_p{batch}");
        pg_copy(url, &template, &schema);
        let mut vault = Vault::open(&pg_config(url, &schema), master()).expect("opens");
        let count = |sql: &str| pg_count(url, &schema, sql);
        let run = measured_purge("PostgreSQL", &mut vault, n, batch, count);
        drop(vault);
        pg_drop(url, &schema);
        runs.push(Run {
            bare_s,
            batched_s,
            bare_rss_peak: bare_peak,
            ..run
        });
    }
    if !keep {
        pg_drop(url, &template);
    }
    runs
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let scale: f64 = std::env::var("CUSTOS_BENCH_SCALE")
        .ok()
        .map(|s| s.parse().expect("CUSTOS_BENCH_SCALE: a number"))
        .unwrap_or(1.0);
    let steps: Vec<f64> = env_list("CUSTOS_BENCH_STEPS", "0.25,0.5,1");
    let batches: Vec<u32> = env_list(
        "CUSTOS_BENCH_BATCH",
        &custos_vault::retention::DEFAULT_BATCH.to_string(),
    );
    let backends: Vec<String> = env_list("CUSTOS_BENCH_BACKENDS", "sqlite,postgres");
    let pg_url = std::env::var(PG_ENV).ok();
    let sizes: Vec<usize> = steps
        .iter()
        .map(|s| (((FULL as f64) * scale * s) as usize / 2) * 2)
        .collect();
    println!(
        "purge bench: sizes {sizes:?}, batch sizes {batches:?}, {SUBJECTS} subjects, {PAYLOAD}-byte payloads, now = {}",
        now()
    );
    let dir = Scratch::new();
    let mut runs = Vec::new();
    if backends.iter().any(|b| b == "sqlite") {
        for &n in &sizes {
            let r = sqlite_runs(n, &batches, &dir.0);
            print_header();
            r.iter().for_each(print_run);
            runs.extend(r);
        }
    }
    if backends.iter().any(|b| b == "postgres") {
        match &pg_url {
            Some(url) => {
                for &n in &sizes {
                    let r = pg_runs(url, n, &batches);
                    print_header();
                    r.iter().for_each(print_run);
                    runs.extend(r);
                }
            }
            None => println!("PostgreSQL skipped: set {PG_ENV} to run it"),
        }
    }
    println!(
        "\nAll runs (rates in records/s; ratio = purge rate / bare DELETE rate; RSS of this process):\n"
    );
    print_header();
    runs.iter().for_each(print_run);
    println!();
    for r in &runs {
        println!(
            "{} {} records, batch {}: {} receipts, audit trail intact ({} entries verified), {} records left",
            r.backend,
            r.n,
            r.batch,
            r.receipts,
            r.audit_entries,
            r.n - r.n / 2
        );
    }
}
