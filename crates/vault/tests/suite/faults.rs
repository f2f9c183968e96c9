//! Faults: a process killed with SIGKILL in the middle of a write, databases that are gone.
//!
//! The kill tests re-run this test binary as a child (`child_process_entry`, which does nothing
//! unless `CUSTOS_VAULT_CHILD` is set), let it start a large batch or an erasure, kill it at a
//! random moment, and check that the database holds all of the work or none of it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use custos_vault::{NewRecord, PurgeOptions, StoreConfig, Vault, VaultError};

use crate::harness::{Backend, master, policy, put_in, record, scratch, subject, tenant, ts};

const CHILD: &str = "CUSTOS_VAULT_CHILD";

/// The moment the purging children measure expiry against: every `mail.metadata` record created
/// on 2026-11-01 (7 days' retention) is due.
const PURGE_NOW: &str = "2026-12-01T00:00:00Z";

/// Records per batch in the kill tests, and the payload size.
fn batch_size(b: &Backend) -> usize {
    if b.kind == "sqlite" { 10_000 } else { 2_000 }
}

fn payload(i: usize) -> String {
    format!("{i:08}-{}", "x".repeat(1015))
}

fn config_env(config: &StoreConfig) -> Vec<(&'static str, String)> {
    match config {
        StoreConfig::Sqlite { path } => {
            vec![("CUSTOS_VAULT_CHILD_SQLITE", path.display().to_string())]
        }
        StoreConfig::Postgres {
            url,
            schema,
            journal,
        } => vec![
            ("CUSTOS_VAULT_CHILD_PG_URL", url.clone()),
            ("CUSTOS_VAULT_CHILD_PG_SCHEMA", schema.clone()),
            (
                "CUSTOS_VAULT_CHILD_JOURNAL",
                journal
                    .as_ref()
                    .map(|j| j.display().to_string())
                    .unwrap_or_default(),
            ),
        ],
    }
}

fn config_from_env() -> StoreConfig {
    if let Ok(path) = std::env::var("CUSTOS_VAULT_CHILD_SQLITE") {
        return StoreConfig::Sqlite { path: path.into() };
    }
    let journal = std::env::var("CUSTOS_VAULT_CHILD_JOURNAL")
        .ok()
        .filter(|j| !j.is_empty())
        .map(Into::into);
    StoreConfig::Postgres {
        url: std::env::var("CUSTOS_VAULT_CHILD_PG_URL").expect("child PG url"),
        schema: std::env::var("CUSTOS_VAULT_CHILD_PG_SCHEMA").expect("child PG schema"),
        journal,
    }
}

/// The child's side: does nothing in a normal test run.
#[test]
fn child_process_entry() {
    let Ok(job) = std::env::var(CHILD) else {
        return;
    };
    let mut v = Vault::open(&config_from_env(), master()).expect("child opens the vault");
    let (op, tenant_id) = job.split_once(':').expect("op:tenant");
    let n: usize = std::env::var("CUSTOS_VAULT_CHILD_N")
        .expect("n")
        .parse()
        .expect("number");
    match op {
        "batch" => {
            let records: Vec<NewRecord> = (0..n)
                .map(|i| record(&format!("subject-{}", i % 50), &payload(i)))
                .collect();
            println!("\nCUSTOS-CHILD-READY");
            v.tenant(&tenant(tenant_id))
                .put_batch(&policy(), records, jiff::Timestamp::now())
                .expect("child writes the batch");
        }
        "erase" => {
            println!("\nCUSTOS-CHILD-READY");
            v.tenant(&tenant(tenant_id))
                .erase_subject(&subject("jan"), ts("2026-11-20T12:00:00Z"))
                .expect("child erases");
        }
        "purge" => {
            let batch: u32 = std::env::var("CUSTOS_VAULT_CHILD_BATCH")
                .ok()
                .and_then(|b| b.parse().ok())
                .unwrap_or(250);
            println!("\nCUSTOS-CHILD-READY");
            let r = v
                .tenant(&tenant(tenant_id))
                .acting_as(format!("purger-{}", std::process::id()))
                .purge(
                    &policy(),
                    PURGE_NOW.parse().expect("now"),
                    PurgeOptions {
                        batch_size: batch,
                        ..PurgeOptions::default()
                    },
                    &mut |_| {},
                )
                .expect("child purges");
            println!("PURGED {}", r.purged());
        }
        other => panic!("unknown child job {other}"),
    }
    println!("DONE");
}

/// Runs the job in a child; kills it `kill_after` after it reported READY (or lets it finish).
/// Returns how long the job ran.
fn run_child(b: &Backend, job: &str, n: usize, kill_after: Option<Duration>) -> Duration {
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "faults::child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, job)
        .env("CUSTOS_VAULT_CHILD_N", n.to_string())
        .envs(config_env(&b.config))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.contains("CUSTOS-CHILD-READY") => break,
            Some(Ok(_)) => continue,
            _ => panic!("child ended before it was ready"),
        }
    }
    let started = Instant::now();
    if let Some(after) = kill_after {
        std::thread::sleep(after);
        let _ = child.kill(); // SIGKILL on Unix; an error means it already exited
    }
    let status = child.wait().expect("child waited for");
    let ran = started.elapsed();
    if kill_after.is_none() {
        assert!(status.success(), "the uncut child failed: {status}");
    }
    ran
}

fn random_below(limit: Duration) -> Duration {
    let r = getrandom::u64().expect("random");
    Duration::from_micros(r % (limit.as_micros() as u64).max(1))
}

pub fn a_batch_write_killed_at_a_random_point_leaves_all_or_nothing(b: &Backend) {
    let n = batch_size(b);
    // One uncut run tells how long a batch takes, so the kills land inside it.
    let full = run_child(b, "batch:calibrate", n, None);
    assert_eq!(b.count_records("calibrate"), n as i64);
    let mut outcomes = Vec::new();
    for run in 0..4 {
        let t = format!("killed-{run}");
        // The first kill anywhere; the others in the second half, where the transaction runs
        // (encryption comes first), or just after the commit.
        let after = if run == 0 {
            random_below(full)
        } else {
            full / 2 + random_below(full * 3 / 4)
        };
        run_child(b, &format!("batch:{t}"), n, Some(after));
        let mut v = b.open(); // the database opens cleanly after the kill
        let count = b.count_records(&t);
        assert!(
            count == 0 || count == n as i64,
            "run {run}, killed after {after:?}: {count} of {n} records"
        );
        if count > 0 {
            let listed = v
                .tenant(&tenant(&t))
                .list(&subject("subject-7"))
                .expect("decrypts");
            assert_eq!(listed.len(), n / 50);
        }
        outcomes.push((after, count));
    }
    eprintln!(
        "{}: batch of {n} took {full:?}; kills (after, records left): {outcomes:?}",
        b.kind
    );
}

pub fn an_erasure_killed_at_a_random_point_leaves_all_or_nothing(b: &Backend) {
    let n = batch_size(b) / 2;
    let p = policy();
    let mut outcomes = Vec::new();
    let mut full = Duration::from_millis(200);
    for run in 0..4 {
        let t = format!("erase-{run}");
        {
            let mut v = b.open();
            let records: Vec<NewRecord> = (0..n).map(|i| record("jan", &payload(i))).collect();
            v.tenant(&tenant(&t))
                .put_batch(&p, records, jiff::Timestamp::now())
                .expect("stored");
            v.tenant(&tenant(&t))
                .put(&p, record("piet", "stays"), jiff::Timestamp::now())
                .expect("stored");
        }
        let mut killed_after = None;
        if run == 0 {
            full = run_child(b, &format!("erase:{t}"), n, None);
        } else {
            let after = random_below(full + full / 4);
            run_child(b, &format!("erase:{t}"), n, Some(after));
            killed_after = Some(after);
        }
        let mut v = b.open(); // replays a journaled erasure the kill cut short
        let replayed = v.replayed_erasures();
        let jan = v
            .tenant(&tenant(&t))
            .list(&subject("jan"))
            .expect("either all readable or none");
        if let Some(after) = killed_after {
            outcomes.push((after, jan.len(), replayed));
        }
        assert!(
            jan.is_empty() || jan.len() == n,
            "run {run}: {} of {n} records left",
            jan.len()
        );
        if run == 0 {
            assert!(jan.is_empty());
        }
        assert_eq!(
            v.tenant(&tenant(&t))
                .list(&subject("piet"))
                .expect("listed")
                .len(),
            1
        );
        assert_eq!(b.count_records(&t), 1 + jan.len() as i64);
    }
    eprintln!(
        "{}: erasure of {n} records took {full:?}; kills (after, records left, erasures replayed on open): {outcomes:?}",
        b.kind
    );
}

#[test]
fn an_unreachable_postgres_gives_a_clear_error_without_the_password() {
    let config = StoreConfig::Postgres {
        url: "postgres://custos:s3cret-pw@127.0.0.1:1/custos_test".into(),
        schema: "custos".into(),
        journal: None,
    };
    let err = Vault::open(&config, master()).expect_err("nothing listens on port 1");
    assert!(matches!(err, VaultError::Unavailable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("127.0.0.1:1/custos_test"), "{msg}");
    assert!(!msg.contains("s3cret-pw"), "{msg}");
}

#[test]
fn a_sqlite_path_in_a_missing_directory_gives_a_clear_error_naming_it() {
    let path = scratch("missing-dir").join("no/such/dir/custos.db");
    let err = Vault::open(&StoreConfig::Sqlite { path: path.clone() }, master())
        .expect_err("cannot create");
    assert!(matches!(err, VaultError::Unavailable { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_a_database_gives_a_clear_error_and_is_left_alone() {
    let path = scratch("not-a-db").join("custos.db");
    let garbage =
        b"this is not an SQLite database, it is a text file that happens to sit here".repeat(100);
    std::fs::write(&path, &garbage).expect("write");
    let err = Vault::open(&StoreConfig::Sqlite { path: path.clone() }, master())
        .expect_err("not a database");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).expect("read"), garbage);
}

/// Several servers started at once on a database they have never seen: each creates the schema
/// if it is missing, and none fails because another created it at the same moment.
#[test]
fn servers_opening_a_new_schema_at_the_same_moment_all_open() {
    for round in 0..3 {
        let Some(b) = Backend::postgres(&format!("same_moment_{round}")) else {
            return;
        };
        let start = std::sync::Barrier::new(4);
        std::thread::scope(|scope| {
            let opening: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        Vault::open(&b.config, master()).map(drop)
                    })
                })
                .collect();
            for o in opening {
                let opened = o.join().expect("opening does not panic");
                assert!(opened.is_ok(), "round {round}: {opened:?}");
            }
        });
    }
}

#[test]
fn a_postgres_connection_lost_mid_session_writes_nothing_and_the_next_call_reconnects() {
    let Some(b) = Backend::postgres("conn_lost") else {
        return;
    };
    let StoreConfig::Postgres {
        url,
        schema,
        journal,
    } = &b.config
    else {
        unreachable!("a PostgreSQL backend")
    };
    let app = format!("custos_conn_lost_{}", std::process::id());
    let sep = if url.contains('?') { '&' } else { '?' };
    let tagged = StoreConfig::Postgres {
        url: format!("{url}{sep}application_name={app}"),
        schema: schema.clone(),
        journal: journal.clone(),
    };
    let mut v = Vault::open(&tagged, master()).expect("opens");
    let p = policy();
    put_in(&mut v, "acme", &p, record("jan", "before"));

    // The server goes away under the open connection (a restart, a failover, a killed backend).
    let mut admin = postgres::Client::connect(url, postgres::NoTls).expect("admin connection");
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .expect("terminate")
        .len();
    assert_eq!(killed, 1);

    let batch = || {
        (0..100)
            .map(|i| record(&format!("s{i}"), "x"))
            .collect::<Vec<_>>()
    };
    let err = v
        .tenant(&tenant("acme"))
        .put_batch(&p, batch(), jiff::Timestamp::now())
        .expect_err("the connection is gone");
    assert!(
        matches!(
            err,
            VaultError::Storage { .. } | VaultError::Unavailable { .. }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("127.0.0.1") || err.to_string().contains("postgresql"),
        "{err}"
    );
    assert_eq!(
        b.count_records("acme"),
        1,
        "nothing of the failed batch was written"
    );

    v.tenant(&tenant("acme"))
        .put_batch(&p, batch(), jiff::Timestamp::now())
        .expect("the next call reconnects");
    assert_eq!(b.count_records("acme"), 101);
}

/// `n` due `mail.metadata` records (and one that is not due) for `tenant_id`, over 40 subjects.
fn due_records(b: &Backend, tenant_id: &str, n: usize) {
    let mut v = b.open();
    let p = policy();
    for chunk in (0..n).collect::<Vec<_>>().chunks(5000) {
        let records: Vec<NewRecord> = chunk
            .iter()
            .map(|i| NewRecord {
                category: "mail.metadata".into(),
                purposes: vec!["service.client_data".into()],
                ..record(&format!("subject-{}", i % 40), "m")
            })
            .collect();
        v.tenant(&tenant(tenant_id))
            .put_batch(&p, records, jiff::Timestamp::now())
            .expect("stored");
    }
    v.tenant(&tenant(tenant_id))
        .put(
            &p,
            NewRecord {
                category: "mail.metadata".into(),
                purposes: vec!["service.client_data".into()],
                created_at: ts("2026-11-30T00:00:00Z"),
                ..record("subject-1", "recent")
            },
            jiff::Timestamp::now(),
        )
        .expect("stored");
}

fn receipts_total(v: &mut Vault, tenant_id: &str) -> (u64, usize) {
    let mut total = 0;
    let mut count = 0;
    let mut after = 0;
    loop {
        let page = v
            .tenant(&tenant(tenant_id))
            .audit(&custos_audit::Query {
                action: Some("retention.purged".into()),
                after_seq: after,
                limit: 1000,
                ..custos_audit::Query::default()
            })
            .expect("audit");
        let Some(last) = page.last() else {
            return (total, count);
        };
        after = last.seq;
        for e in &page {
            let d: serde_json::Value = serde_json::from_str(&e.details).expect("JSON");
            total += d["records"].as_u64().expect("count");
            count += 1;
        }
    }
}

fn spawn_purger(b: &Backend, tenant_id: &str, batch: u32) -> std::process::Child {
    let exe = std::env::current_exe().expect("test binary path");
    Command::new(exe)
        .args([
            "--exact",
            "faults::child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, format!("purge:{tenant_id}"))
        .env("CUSTOS_VAULT_CHILD_N", "0")
        .env("CUSTOS_VAULT_CHILD_BATCH", batch.to_string())
        .envs(config_env(&b.config))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child starts")
}

/// Two Custos processes purging one database at once: no batch is purged twice (the receipts
/// add up to exactly the records that were due) and none is skipped (nothing due is left).
pub fn two_processes_purging_at_once_never_take_a_batch_twice_nor_skip_one(b: &Backend) {
    let n = 12_000;
    due_records(b, "shared", n);
    let children = [
        spawn_purger(b, "shared", 100),
        spawn_purger(b, "shared", 100),
    ];
    let mut purged = Vec::new();
    for mut c in children {
        let out = c.stdout.take().expect("stdout");
        let mut got = None;
        for line in BufReader::new(out).lines() {
            let line = line.expect("line");
            if let Some(n) = line.strip_prefix("PURGED ") {
                got = Some(n.parse::<u64>().expect("count"));
            }
        }
        assert!(c.wait().expect("waited").success());
        purged.push(got.expect("the child reported its purge"));
    }
    assert_eq!(
        purged.iter().sum::<u64>(),
        n as u64,
        "each record purged once: {purged:?}"
    );
    let mut v = b.open();
    let (total, receipts) = receipts_total(&mut v, "shared");
    assert_eq!(
        total, n as u64,
        "the receipts account for every record exactly once"
    );
    assert_eq!(
        b.count_records("shared"),
        1,
        "only the record that is not due is left"
    );
    let verified = v.verify_audit().expect("verify");
    assert!(verified.unbroken().is_some(), "{verified:?}");
    eprintln!(
        "{}: two purgers took {purged:?} in {receipts} receipts",
        b.kind
    );
}

/// A purge killed at a random moment resumes: the next run takes what is left, and the
/// receipts still add up to every record purged.
pub fn a_purge_killed_at_a_random_point_resumes_cleanly(b: &Backend) {
    let n = 8_000;
    due_records(b, "killed", n);
    // Small batches, so the kill lands between and inside many transactions.
    let mut child = spawn_purger(b, "killed", 10);
    let out = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    while let Some(Ok(l)) = lines.next() {
        if l.contains("CUSTOS-CHILD-READY") {
            break;
        }
    }
    std::thread::sleep(random_below(Duration::from_millis(300)));
    let _ = child.kill();
    let _ = child.wait();
    let left = b.count_records("killed");
    let mut v = b.open();
    let (before, _) = receipts_total(&mut v, "killed");
    assert_eq!(
        before + left as u64,
        n as u64 + 1,
        "every committed batch has its receipt"
    );
    let r = v
        .tenant(&tenant("killed"))
        .purge(
            &policy(),
            PURGE_NOW.parse().expect("now"),
            PurgeOptions::default(),
            &mut |_| {},
        )
        .expect("resumes");
    assert_eq!(r.purged(), left as u64 - 1);
    assert_eq!(receipts_total(&mut v, "killed").0, n as u64);
    assert_eq!(b.count_records("killed"), 1);
    let verified = v.verify_audit().expect("verify");
    assert!(verified.unbroken().is_some(), "{verified:?}");
    eprintln!("{}: killed purge had taken {before} of {n}", b.kind);
}
