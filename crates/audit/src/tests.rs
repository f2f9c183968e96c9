//! One suite, run on SQLite and (when `CUSTOS_TEST_DATABASE_URL` is set) PostgreSQL: appends
//! verify, and each of the four kinds of tampering is reported at the right entry.

use super::*;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn at(i: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_790_000_000 + i).expect("valid time")
}

fn event(tenant: &str, i: usize) -> Event {
    Event {
        tenant: tenant.into(),
        actor: "key:app-1".into(),
        action: if i.is_multiple_of(3) {
            "subject.erase".into()
        } else {
            "record.put".into()
        },
        subject: Some(format!("ps_{:04}", i % 7)),
        details: serde_json::json!({ "record": format!("r{i}") }),
    }
}

/// A backend under test, with raw SQL access for tampering.
trait Backend: Store {
    fn sql(&mut self, sql: &str);
    fn name(&self) -> &'static str;
}

impl Backend for SqliteStore {
    fn sql(&mut self, sql: &str) {
        self.connection()
            .execute_batch(sql)
            .expect("tamper SQL runs");
    }
    fn name(&self) -> &'static str {
        "sqlite"
    }
}

impl Backend for PgStore {
    fn sql(&mut self, sql: &str) {
        self.client().batch_execute(sql).expect("tamper SQL runs");
    }
    fn name(&self) -> &'static str {
        "postgres"
    }
}

fn unique(name: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "audit_{}_{}_{}",
        name,
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn sqlite(name: &str) -> SqliteStore {
    let dir = std::env::temp_dir().join("custos-audit-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{}.db", unique(name)));
    let _ = std::fs::remove_file(&path);
    SqliteStore::open(&path).expect("opens")
}

fn pg_url() -> Option<String> {
    match std::env::var("CUSTOS_TEST_DATABASE_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!(
                "CUSTOS_TEST_DATABASE_URL is not set: skipping the PostgreSQL half of this test"
            );
            None
        }
    }
}

fn postgres(name: &str) -> Option<(PgStore, String, String)> {
    let url = pg_url()?;
    let schema = unique(name);
    Some((
        PgStore::connect(&url, Some(&schema))
            .expect("PostgreSQL from CUSTOS_TEST_DATABASE_URL is reachable"),
        url,
        schema,
    ))
}

/// Runs `f` on a fresh SQLite store and, when configured, a fresh PostgreSQL schema.
fn on_both(name: &str, f: impl Fn(&mut dyn Backend)) {
    f(&mut sqlite(name));
    if let Some((mut pg, _, schema)) = postgres(name) {
        f(&mut pg);
        pg.client()
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .expect("drop test schema");
    }
}

fn filled(store: &mut dyn Backend, n: usize) -> VerifyingKey {
    let key = key();
    let vk = key.verifying_key();
    let mut written = 0;
    while written < n {
        let batch: Vec<Event> = (written..(written + 7).min(n))
            .map(|i| event("t1", i))
            .collect();
        let head = store.head().expect("head");
        let (entries, cp) = build(
            head.map(|h| (h.seq, h.hash)),
            &batch,
            at(written as i64),
            &key,
            10,
        );
        store
            .append(&mut |_| (entries.clone(), cp.clone()))
            .expect("append");
        written += batch.len();
    }
    vk
}

fn verify_dyn(store: &mut dyn Backend, vk: &VerifyingKey) -> Verification {
    verify_store(store, vk).expect("verification reads the store")
}

#[test]
fn appended_entries_verify_with_checkpoints_every_n() {
    on_both("intact", |s| {
        let vk = filled(s, 95);
        match verify_dyn(s, &vk) {
            Verification::Intact(v) => {
                assert_eq!(v.entries, 95, "{}", s.name());
                assert_eq!(v.checkpoints, 9, "{}", s.name());
            }
            t => panic!("{}: {t:?}", s.name()),
        }
    });
}

#[test]
fn an_edited_entry_is_reported_on_both_backends() {
    on_both("edit", |s| {
        let vk = filled(s, 40);
        s.sql("UPDATE audit_entries SET action = 'record.get' WHERE seq = 17");
        assert_eq!(
            verify_dyn(s, &vk),
            Verification::Tampered(Tamper::Edited { seq: 17 }),
            "{}",
            s.name()
        );
    });
}

#[test]
fn a_deleted_entry_is_reported_on_both_backends() {
    on_both("delete", |s| {
        let vk = filled(s, 40);
        s.sql("DELETE FROM audit_entries WHERE seq = 23");
        assert_eq!(
            verify_dyn(s, &vk),
            Verification::Tampered(Tamper::Deleted { after: 22 }),
            "{}",
            s.name()
        );
    });
}

#[test]
fn an_inserted_entry_is_reported_on_both_backends() {
    on_both("insert", |s| {
        let vk = filled(s, 40);
        // Make room after entry 30 and copy entry 12's row into the gap, as someone covering
        // their tracks with a plausible-looking row would.
        s.sql("UPDATE audit_entries SET seq = seq + 1000000 WHERE seq > 30");
        s.sql("UPDATE audit_entries SET seq = seq - 1000000 + 1 WHERE seq > 1000000");
        s.sql(
            "INSERT INTO audit_entries (seq, at, tenant_id, actor, action, subject, details, prev_hash, hash)
             SELECT 31, at, tenant_id, actor, action, subject, details, prev_hash, hash FROM audit_entries WHERE seq = 12",
        );
        assert_eq!(
            verify_dyn(s, &vk),
            Verification::Tampered(Tamper::Inserted { seq: 31 }),
            "{}",
            s.name()
        );
    });
}

#[test]
fn reordered_entries_are_reported_on_both_backends() {
    on_both("reorder", |s| {
        let vk = filled(s, 40);
        s.sql("UPDATE audit_entries SET seq = -1 WHERE seq = 14");
        s.sql("UPDATE audit_entries SET seq = 14 WHERE seq = 15");
        s.sql("UPDATE audit_entries SET seq = 15 WHERE seq = -1");
        assert_eq!(
            verify_dyn(s, &vk),
            Verification::Tampered(Tamper::Reordered { seq: 14 }),
            "{}",
            s.name()
        );
    });
}

#[test]
fn the_log_api_appends_checkpoints_and_queries_per_tenant() {
    let mut log = AuditLog::new(sqlite("api"), key(), 5);
    for i in 0..12 {
        log.append(
            &[event(if i % 2 == 0 { "t1" } else { "t2" }, i)],
            at(i as i64),
        )
        .unwrap();
    }
    assert_eq!(
        log.store_mut()
            .checkpoints()
            .unwrap()
            .iter()
            .map(|c| c.seq)
            .collect::<Vec<_>>(),
        [5, 10]
    );
    let cp = log
        .checkpoint(at(100))
        .unwrap()
        .expect("a checkpoint at the head");
    assert_eq!(cp.seq, 12);
    assert!(
        log.checkpoint(at(101)).unwrap().is_none(),
        "no second checkpoint at the same head"
    );
    let t2 = log
        .query(
            "t2",
            &Query {
                limit: 100,
                ..Query::default()
            },
        )
        .unwrap();
    assert_eq!(t2.len(), 6);
    assert!(t2.iter().all(|e| e.tenant == "t2"));
    let page = log
        .query(
            "t1",
            &Query {
                limit: 2,
                after_seq: 3,
                ..Query::default()
            },
        )
        .unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 7]);
    assert!(
        matches!(log.verify().unwrap(), Verification::Intact(v) if v.entries == 12 && v.checkpoints == 3)
    );
}

/// Two writers with their own connections appending at once (as two Custos processes would)
/// leave one chain that verifies.
#[test]
fn concurrent_appenders_leave_a_chain_that_verifies() {
    let dir = std::env::temp_dir().join("custos-audit-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.db", unique("concurrent")));
    let _ = std::fs::remove_file(&path);
    SqliteStore::open(&path).unwrap();
    let run = |open: &(dyn Fn() -> Box<dyn Store + Send> + Sync)| {
        std::thread::scope(|sc| {
            for w in 0..2 {
                sc.spawn(move || {
                    let mut log = AuditLog::new(open(), key(), 25);
                    for i in 0..150 {
                        log.append(&[event(&format!("t{w}"), i)], at(i as i64))
                            .expect("append under contention");
                    }
                });
            }
        });
        let mut s = open();
        let v = verify_store(s.as_mut(), &key().verifying_key()).unwrap();
        assert!(
            matches!(v, Verification::Intact(ref x) if x.entries == 300),
            "{v:?}"
        );
    };
    let p = path.clone();
    run(&move || Box::new(SqliteStore::open(&p).unwrap()));
    if let Some(url) = pg_url() {
        let schema = unique("concurrent");
        PgStore::connect(&url, Some(&schema)).unwrap();
        let (u, sch) = (url.clone(), schema.clone());
        run(&move || Box::new(PgStore::connect(&u, Some(&sch)).unwrap()));
        PgStore::connect(&url, None)
            .unwrap()
            .client()
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .unwrap();
    }
}

/// Entry point for the child processes of
/// `two_processes_appending_to_one_database_leave_a_chain_that_verifies`: with
/// `CUSTOS_AUDIT_CHILD` set it appends 200 entries to the database named there; otherwise it
/// does nothing.
#[test]
fn child_appender() {
    let Ok(target) = std::env::var("CUSTOS_AUDIT_CHILD") else {
        return;
    };
    let store: Box<dyn Store> = match target.split_once('|') {
        Some((url, schema)) => {
            Box::new(PgStore::connect(url, Some(schema)).expect("child connects"))
        }
        None => Box::new(SqliteStore::open(std::path::Path::new(&target)).expect("child opens")),
    };
    let mut log = AuditLog::new(store, key(), 50);
    let me = std::process::id().to_string();
    for i in 0..200 {
        log.append(&[event(&me, i)], at(i as i64))
            .expect("append from a child process");
    }
}

#[test]
fn two_processes_appending_to_one_database_leave_a_chain_that_verifies() {
    let run = |target: String, store: &mut dyn Store| {
        let exe = std::env::current_exe().expect("the test binary");
        let children: Vec<_> = (0..2)
            .map(|_| {
                std::process::Command::new(&exe)
                    .args(["--exact", "tests::child_appender", "--test-threads", "1"])
                    .env("CUSTOS_AUDIT_CHILD", &target)
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .expect("child starts")
            })
            .collect();
        for mut c in children {
            assert!(
                c.wait().expect("child ends").success(),
                "a child process failed to append"
            );
        }
        let v = verify_store(store, &key().verifying_key()).expect("verifies");
        assert!(
            matches!(v, Verification::Intact(ref x) if x.entries == 400 && x.checkpoints == 8),
            "{v:?}"
        );
    };
    let dir = std::env::temp_dir().join("custos-audit-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.db", unique("twoproc")));
    let _ = std::fs::remove_file(&path);
    let mut s = SqliteStore::open(&path).unwrap();
    run(path.display().to_string(), &mut s);
    if let Some((mut pg, url, schema)) = postgres("twoproc") {
        run(format!("{url}|{schema}"), &mut pg);
        pg.client()
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .unwrap();
    }
}
