//! Audit trail throughput (issue 3's figures): batched appends per second on SQLite, and entries
//! verified per second, in memory (the chain check alone) and read back from SQLite.
//! Run: `cargo bench -p custos-audit --bench audit`. Each benchmark handles 100k entries; divide
//! 100 000 by the median time for the rate.

use custos_audit::{AuditLog, Entry, Event, SigningKey, SqliteStore, Store, chain};

const N: usize = 100_000;

fn main() {
    divan::main();
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[3; 32])
}

fn event(i: usize) -> Event {
    Event {
        tenant: format!("tenant-{}", i % 5),
        actor: "key:app-1".into(),
        action: "record.put".into(),
        subject: Some(format!("ps_{:016x}", i * 7919)),
        details: serde_json::json!({ "record": i, "category": "mail.metadata" }),
    }
}

fn events() -> Vec<Event> {
    (0..N).map(event).collect()
}

fn at() -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_790_000_000).expect("valid")
}

fn in_memory_chain() -> Vec<Entry> {
    let (entries, _) = custos_audit::build(None, &events(), at(), &key(), 1000);
    entries
}

fn temp_db(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!(
        "custos-audit-bench-{name}-{}.db",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&p);
    let _ = std::fs::remove_file(p.with_extension("db-wal"));
    p
}

/// 100k entries appended in batches of 1000 (one transaction each).
#[divan::bench(sample_count = 5)]
fn append_100k_batched_sqlite(b: divan::Bencher<'_, '_>) {
    let evs = events();
    b.with_inputs(|| {
        AuditLog::new(
            SqliteStore::open(&temp_db("append")).expect("opens"),
            key(),
            10_000,
        )
    })
    .bench_local_values(|mut log| {
        for chunk in evs.chunks(1000) {
            log.append(chunk, at()).expect("append");
        }
        log
    });
}

/// The chain check alone over 100k entries in memory.
#[divan::bench(sample_count = 10)]
fn verify_100k_in_memory(b: divan::Bencher<'_, '_>) {
    let entries = in_memory_chain();
    let vk = key().verifying_key();
    b.bench(|| chain::verify(divan::black_box(&entries), &[], &vk).expect("intact"));
}

/// Reading 100k entries back from SQLite and verifying them.
#[divan::bench(sample_count = 10)]
fn verify_100k_from_sqlite(b: divan::Bencher<'_, '_>) {
    let path = temp_db("verify");
    let mut log = AuditLog::new(SqliteStore::open(&path).expect("opens"), key(), 10_000);
    for chunk in events().chunks(5000) {
        log.append(chunk, at()).expect("append");
    }
    let vk = key().verifying_key();
    let mut store = SqliteStore::open(&path).expect("opens");
    b.bench_local(|| {
        let v = custos_audit::verify_store_with(
            &mut store as &mut dyn Store,
            &vk,
            custos_audit::Expect::cadence(10_000),
        )
        .expect("reads");
        assert!(matches!(v, custos_audit::Verification::Intact(_)), "{v:?}");
    });
}
