//! Vault figures for BENCHMARKS.md (issue 3), on the embedded SQLite backend:
//!
//! - `insert_100k::encrypted` vs `insert_100k::plain`: a batch of 100,000 records of 1 KiB
//!   through the vault (validation, pseudonyms, AES-256-GCM, one transaction) against plain
//!   inserts of the same rows, unencrypted, into the same schema with the same connection
//!   settings, also in one transaction. The ratio plain/encrypted time is the encrypted rate as a
//!   share of the plain rate.
//! - `erase_subject` for 1k, 10k and 100k records, against `delete_rows`, the bare deletes of the
//!   same records in one transaction.
//!
//! Run: `cargo bench -p custos-vault --bench vault`

use std::collections::BTreeMap;
use std::path::PathBuf;

use custos_vault::{MasterKey, NewRecord, StoreConfig, SubjectId, TenantId, Vault};
use divan::Bencher;

fn main() {
    divan::main();
}

const N: usize = 100_000;
const SUBJECTS: usize = 100;

fn policy() -> custos_policy::Policy {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policies/jbsync.toml");
    custos_policy::load(&path)
        .expect("the example policy loads")
        .policy
}

fn master() -> MasterKey {
    MasterKey::parse(&"5a".repeat(32), "bench").expect("valid key")
}

/// A fresh directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("custos-vault-bench-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("custos.db")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn payload(i: usize) -> Vec<u8> {
    let mut p = format!("{i:010}:").into_bytes();
    p.resize(1024, b'a' + (i % 26) as u8);
    p
}

fn records(n: usize, subjects: usize) -> Vec<NewRecord> {
    let created: jiff::Timestamp = "2026-11-01T10:00:00Z".parse().expect("time");
    (0..n)
        .map(|i| NewRecord {
            subject: SubjectId::new(format!("subject-{}@example.nl", i % subjects)).expect("valid"),
            category: "account".into(),
            purposes: vec!["service".into()],
            payload: payload(i),
            created_at: created,
            clocks: BTreeMap::new(),
        })
        .collect()
}

mod insert_100k {
    use super::*;

    #[divan::bench(sample_count = 5, sample_size = 1)]
    fn encrypted(bencher: Bencher<'_, '_>) {
        let p = policy();
        let tenant = TenantId::new("acme").expect("valid");
        bencher
            .with_inputs(|| {
                let dir = Scratch::new();
                let vault =
                    Vault::open(&StoreConfig::Sqlite { path: dir.db() }, master()).expect("opens");
                (dir, vault, Some(records(N, SUBJECTS)))
            })
            .bench_local_refs(|(_, vault, recs)| {
                let recs = recs.take().expect("one batch per input");
                vault
                    .tenant(&tenant)
                    .put_batch(&p, recs, jiff::Timestamp::now())
                    .expect("stored");
            });
    }

    /// The same rows with the payload in the clear: same schema, same connection settings, one
    /// transaction, a prepared statement. Ids and pseudonyms are made up front, outside the timing.
    /// Each row carries an expiry, as the vault's do: the partial index `records_by_expiry` holds
    /// only rows that have one, and a row without would skip an index the vault's rows pay for.
    #[divan::bench(sample_count = 5, sample_size = 1)]
    fn plain(bencher: Bencher<'_, '_>) {
        bencher
            .with_inputs(|| {
                let dir = Scratch::new();
                drop(Vault::open(&StoreConfig::Sqlite { path: dir.db() }, master()).expect("creates the schema"));
                let conn = custos_vault::sqlite_connection(&dir.db()).expect("opens");
                let rows: Vec<(String, String, Vec<u8>)> =
                    (0..N).map(|i| (format!("{i:032x}"), format!("{:032x}", i % SUBJECTS), payload(i))).collect();
                (dir, conn, rows)
            })
            .bench_local_refs(|(_, conn, rows)| {
                let tx = conn.transaction().expect("tx");
                tx.execute("INSERT INTO tenants (tenant_id, created_at) VALUES ('acme', 0) ON CONFLICT DO NOTHING", []).expect("tenant");
                {
                    let mut subject = tx
                        .prepare_cached("INSERT INTO subjects (tenant_id, pseudonym, created_at) VALUES ('acme', ?1, 0) ON CONFLICT DO NOTHING")
                        .expect("prepare");
                    let mut insert = tx
                        .prepare_cached(
                            "INSERT INTO records (tenant_id, record_id, pseudonym, category, purposes, key_domain, ciphertext, created_at, clocks, expires_at)
                             VALUES ('acme', ?1, ?2, 'account', '[\"service\"]', 'default', ?3, 1793527200000000, '{}', 1825063200000000)",
                        )
                        .expect("prepare");
                    for (id, pseudonym, payload) in rows.iter() {
                        subject.execute([pseudonym]).expect("subject");
                        insert.execute(rusqlite::params![id, pseudonym, payload]).expect("insert");
                    }
                }
                tx.commit().expect("commit");
            });
    }
}

/// A vault holding `n` records of one subject (`jan`) and 1,000 of another.
fn vault_with_subject(n: usize) -> (Scratch, Vault) {
    let dir = Scratch::new();
    let mut vault = Vault::open(&StoreConfig::Sqlite { path: dir.db() }, master()).expect("opens");
    let p = policy();
    let mut recs = records(n, 1);
    for r in &mut recs {
        r.subject = SubjectId::new("jan").expect("valid");
    }
    recs.extend(records(1_000, 10));
    vault
        .tenant(&TenantId::new("acme").expect("valid"))
        .put_batch(&p, recs, jiff::Timestamp::now())
        .expect("stored");
    (dir, vault)
}

#[divan::bench(args = [1_000, 10_000, 100_000], sample_count = 5, sample_size = 1)]
fn erase_subject(bencher: Bencher<'_, '_>, n: usize) {
    let tenant = TenantId::new("acme").expect("valid");
    let jan = SubjectId::new("jan").expect("valid");
    let now: jiff::Timestamp = "2026-11-20T12:00:00Z".parse().expect("time");
    bencher
        .with_inputs(|| vault_with_subject(n))
        .bench_local_refs(|(_, vault)| {
            let e = vault
                .tenant(&tenant)
                .erase_subject(&jan, now)
                .expect("erased");
            assert_eq!(e.counts.records, n as u64);
        });
}

/// The baseline for erasure: deleting the same records, and nothing else, in one transaction.
#[divan::bench(args = [1_000, 10_000, 100_000], sample_count = 5, sample_size = 1)]
fn delete_rows(bencher: Bencher<'_, '_>, n: usize) {
    bencher
        .with_inputs(|| {
            let (dir, mut vault) = vault_with_subject(n);
            let pseudonym = vault
                .tenant(&TenantId::new("acme").expect("valid"))
                .pseudonym(&SubjectId::new("jan").expect("valid"));
            drop(vault);
            let conn = custos_vault::sqlite_connection(&dir.db()).expect("opens");
            (dir, conn, pseudonym.to_string())
        })
        .bench_local_refs(|(_, conn, pseudonym)| {
            let tx = conn.transaction().expect("tx");
            let deleted = tx
                .execute(
                    "DELETE FROM records WHERE tenant_id = 'acme' AND pseudonym = ?1",
                    [pseudonym.as_str()],
                )
                .expect("delete");
            tx.commit().expect("commit");
            assert_eq!(deleted, n);
        });
}
