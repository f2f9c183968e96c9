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
    /// Overwrites the stored row of `e.seq` with `e` (action, prev_hash, hash).
    fn overwrite(&mut self, e: &Entry);
}

impl Backend for SqliteStore {
    fn sql(&mut self, sql: &str) {
        self.connection()
            .execute_batch(sql)
            .expect("tamper SQL runs");
    }
    fn overwrite(&mut self, e: &Entry) {
        self.connection()
            .execute(
                "UPDATE audit_entries SET action = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
                rusqlite::params![e.action, &e.prev_hash[..], &e.hash[..], e.seq as i64],
            )
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
    fn overwrite(&mut self, e: &Entry) {
        self.client()
            .execute(
                "UPDATE audit_entries SET action = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
                &[&e.action, &&e.prev_hash[..], &&e.hash[..], &(e.seq as i64)],
            )
            .expect("tamper SQL runs");
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
    let url = crate::database_url::postgres_url();
    if url.is_none() {
        eprintln!("CUSTOS_TEST_DATABASE_URL is not set: skipping the PostgreSQL half of this test");
    }
    url
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
    filled_in(store, n, 7)
}

/// `n` entries appended `batch` at a time, with a checkpoint every 10 entries.
fn filled_in(store: &mut dyn Backend, n: usize, batch: usize) -> VerifyingKey {
    let key = key();
    let vk = key.verifying_key();
    let mut written = 0;
    while written < n {
        let batch: Vec<Event> = (written..(written + batch).min(n))
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
            // The last checkpoint is at 91 (the append that reached 90 ended there).
            Verification::UnsealedTail(v) => {
                assert_eq!(v.entries, 95, "{}", s.name());
                assert_eq!(v.checkpoints, 9, "{}", s.name());
                assert_eq!((v.sealed_to, v.unsealed), (91, 4), "{}", s.name());
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

/// Verification reads the trail in windows (and checks one while reading the next): tampering
/// at the seam between two windows is reported exactly as anywhere else.
#[test]
fn tampering_at_the_seam_of_two_read_windows_is_reported_at_its_entry() {
    let mut s = sqlite("seam");
    let w = WINDOW as u64;
    let vk = filled_in(&mut s, 2 * WINDOW + 100, 1000);
    let cases = [
        (
            format!("UPDATE audit_entries SET action = 'record.get' WHERE seq = {w}"),
            Tamper::Edited { seq: w },
        ),
        (
            format!("DELETE FROM audit_entries WHERE seq = {}", w + 1),
            Tamper::Deleted { after: w },
        ),
        (
            format!(
                "UPDATE audit_entries SET seq = -1 WHERE seq = {w};
                 UPDATE audit_entries SET seq = {w} WHERE seq = {};
                 UPDATE audit_entries SET seq = {} WHERE seq = -1;",
                w + 1,
                w + 1
            ),
            Tamper::Reordered { seq: w },
        ),
        (
            format!(
                "UPDATE audit_entries SET seq = seq + 1000000 WHERE seq > {w};
                 UPDATE audit_entries SET seq = seq - 1000000 + 1 WHERE seq > 1000000;
                 INSERT INTO audit_entries (seq, at, tenant_id, actor, action, subject, details, prev_hash, hash)
                 SELECT {}, at, tenant_id, actor, action, subject, details, prev_hash, hash FROM audit_entries WHERE seq = 12;",
                w + 1
            ),
            Tamper::Inserted { seq: w + 1 },
        ),
    ];
    assert!(matches!(verify_dyn(&mut s, &vk), Verification::Intact(_)));
    for (tamper, reported) in cases {
        // Each tampering in a transaction of its own, rolled back after verifying.
        s.sql("BEGIN");
        s.sql(&tamper);
        let v = verify_dyn(&mut s, &vk);
        s.sql("ROLLBACK");
        assert_eq!(v, Verification::Tampered(reported), "{tamper}");
    }
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

#[test]
fn a_tenants_entries_are_paged_newest_first_in_the_database() {
    on_both("recent", |s| {
        filled(s, 30);
        let key = key();
        let head = s.head().unwrap().map(|h| (h.seq, h.hash));
        let (entries, cp) = build(head, &[event("t2", 1)], at(99), &key, 10);
        s.append(&mut |_| (entries.clone(), cp.clone())).unwrap();
        let seqs = |v: Vec<Entry>| v.iter().map(|e| e.seq).collect::<Vec<_>>();
        let first = s.recent("t1", None, 0, 4).unwrap();
        assert_eq!(seqs(first), [30, 29, 28, 27], "{}", s.name());
        let second = s.recent("t1", None, 4, 4).unwrap();
        assert_eq!(seqs(second), [26, 25, 24, 23]);
        assert_eq!(
            s.recent("t1", None, 30, 4).unwrap().len(),
            0,
            "past the end"
        );
        let erasures = s.recent("t1", Some("subject.erase"), 0, 3).unwrap();
        assert_eq!(
            seqs(erasures),
            [28, 25, 22],
            "event(i) erases when i is a multiple of 3"
        );
        let other = s.recent("t2", None, 0, 50).unwrap();
        assert_eq!(
            seqs(other),
            [31],
            "another tenant's entries are not in the page"
        );
    });
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

// ---- what verification expects: cadence, sealed head, anchors outside the database ----------

/// Verification as the trail written by `filled` expects it: a checkpoint every 10 entries.
fn verify_cadence(store: &mut dyn Backend, vk: &VerifyingKey) -> serde_json::Value {
    verify_anchored(store, vk, None, &[])
}

/// The same, with an expected head and published checkpoints.
fn verify_anchored(
    store: &mut dyn Backend,
    vk: &VerifyingKey,
    head: Option<(u64, Hash)>,
    published: &[Checkpoint],
) -> serde_json::Value {
    let expect = Expect {
        checkpoint_every: 10,
        head,
        published: published.to_vec(),
    };
    serde_json::to_value(
        verify_store_with(store, vk, expect).expect("verification reads the store"),
    )
    .expect("serialises")
}

/// Signs a checkpoint at the head, as the server's timer and shutdown do.
fn seal(store: &mut dyn Backend) -> Checkpoint {
    let head = store.head().expect("head").expect("a chain");
    let c = Checkpoint::sign(&head, at(10_000), &key());
    store
        .append(&mut |_| (Vec::new(), Some(c.clone())))
        .expect("checkpoint stored");
    c
}

fn checkpoint_file(name: &str) -> published::CheckpointFile {
    let dir = std::env::temp_dir().join("custos-audit-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{}.jsonl", unique(name)));
    let _ = std::fs::remove_file(&path);
    published::CheckpointFile::new(path)
}

#[test]
fn entries_after_the_last_checkpoint_are_reported_as_an_unsealed_tail_not_as_intact() {
    on_both("tail", |s| {
        let vk = filled_in(s, 25, 1);
        let v = verify_cadence(s, &vk);
        assert_eq!(v["status"], "unsealed_tail", "{}: {v}", s.name());
        assert_eq!(
            (v["sealed_to"].as_u64(), v["unsealed"].as_u64()),
            (Some(20), Some(5))
        );
        // Deleting part of the tail leaves it unsealed, never intact.
        s.sql("DELETE FROM audit_entries WHERE seq > 22");
        let v = verify_cadence(s, &vk);
        assert_eq!(v["status"], "unsealed_tail", "{}: {v}", s.name());
        assert_eq!(v["unsealed"], 2, "{}: {v}", s.name());
        // Sealed at the head, it is intact.
        seal(s);
        let v = verify_cadence(s, &vk);
        assert_eq!(v["status"], "intact", "{}: {v}", s.name());
        assert_eq!(
            (v["sealed_to"].as_u64(), v["unsealed"].as_u64()),
            (Some(22), Some(0))
        );
    });
}

#[test]
fn deleting_the_entries_after_the_last_checkpoint_is_a_cut_against_the_checkpoint_file() {
    on_both("cut_file", |s| {
        let vk = filled_in(s, 25, 1);
        seal(s);
        let file = checkpoint_file("cut");
        let published_to = published::publish(s, &file, 0).expect("published");
        assert_eq!(published_to, 25);
        let copy = file.read().expect("the file reads back");
        assert_eq!(copy.iter().map(|c| c.seq).collect::<Vec<_>>(), [10, 20, 25]);
        assert_eq!(verify_anchored(s, &vk, None, &copy)["status"], "intact");
        // Cut back to the previous checkpoint, its seal and all.
        s.sql("DELETE FROM audit_entries WHERE seq > 20; DELETE FROM audit_checkpoints WHERE seq > 20");
        assert_eq!(
            verify_cadence(s, &vk)["status"],
            "intact",
            "the database alone cannot tell"
        );
        let v = verify_anchored(s, &vk, None, &copy);
        assert_eq!(v["status"], "tampered", "{}: {v}", s.name());
        assert_eq!(v["kind"], "cut", "{}: {v}", s.name());
        assert_eq!(
            (v["head"].as_u64(), v["expected"].as_u64()),
            (Some(20), Some(25))
        );
    });
}

#[test]
fn deleting_a_checkpoint_with_the_entries_after_it_is_reported() {
    on_both("cp_delete", |s| {
        let vk = filled_in(s, 35, 1);
        let file = checkpoint_file("cp_delete");
        published::publish(s, &file, 0).expect("published");
        // The checkpoint due at 30 goes, and what came after it.
        s.sql("DELETE FROM audit_checkpoints WHERE seq = 30; DELETE FROM audit_entries WHERE seq > 30");
        let v = verify_cadence(s, &vk);
        assert_eq!(v["status"], "tampered", "{}: {v}", s.name());
        assert_eq!(
            (v["kind"].as_str(), v["due"].as_u64()),
            (Some("missing_checkpoint"), Some(30))
        );
        // Cut one further, to just before the due checkpoint: the tail is unsealed...
        s.sql("DELETE FROM audit_entries WHERE seq >= 30");
        let v = verify_cadence(s, &vk);
        assert_eq!(v["status"], "unsealed_tail", "{}: {v}", s.name());
        assert_eq!(
            (v["sealed_to"].as_u64(), v["unsealed"].as_u64()),
            (Some(20), Some(9))
        );
        // ...and the checkpoint file shows the cut.
        let v = verify_anchored(s, &vk, None, &file.read().unwrap());
        assert_eq!(
            (v["kind"].as_str(), v["expected"].as_u64()),
            (Some("cut"), Some(30)),
            "{v}"
        );
    });
}

#[test]
fn a_checkpoint_row_deleted_under_intact_entries_is_caught_by_the_checkpoint_file() {
    on_both("cp_row", |s| {
        let vk = filled_in(s, 25, 1);
        seal(s);
        let file = checkpoint_file("cp_row");
        published::publish(s, &file, 0).expect("published");
        s.sql("DELETE FROM audit_checkpoints WHERE seq = 25");
        let v = verify_anchored(s, &vk, None, &file.read().unwrap());
        assert_eq!(
            (v["kind"].as_str(), v["seq"].as_u64()),
            (Some("checkpoint_deleted"), Some(25)),
            "{v}"
        );
    });
}

#[test]
fn a_chain_rehashed_after_deleting_every_checkpoint_is_reported() {
    on_both("rehash", |s| {
        let vk = filled_in(s, 35, 1);
        // Edit entry 5, recompute every plain SHA-256 link from there, drop the checkpoints.
        let mut prev = s.read(3, 1).unwrap()[0].hash;
        for mut e in s.read(4, 100).unwrap() {
            if e.seq == 5 {
                e.action = "nothing.happened".into();
            }
            e.prev_hash = prev;
            e.hash = e.computed_hash();
            prev = e.hash;
            s.overwrite(&e);
        }
        s.sql("DELETE FROM audit_checkpoints");
        let v = verify_cadence(s, &vk);
        assert_eq!(v["status"], "tampered", "{}: {v}", s.name());
        assert_eq!(
            (v["kind"].as_str(), v["due"].as_u64()),
            (Some("missing_checkpoint"), Some(10)),
            "{v}"
        );
        // Shorter than the cadence, nothing was due: the whole chain is an unsealed tail.
        s.sql("DELETE FROM audit_entries WHERE seq > 8");
        let v = verify_cadence(s, &vk);
        assert_eq!(v["status"], "unsealed_tail", "{}: {v}", s.name());
        assert_eq!(
            (v["sealed_to"].as_u64(), v["unsealed"].as_u64()),
            (Some(0), Some(8))
        );
    });
}

#[test]
fn an_expected_head_seals_the_chain_and_reports_a_cut_or_a_rewrite() {
    on_both("expect_head", |s| {
        let vk = filled_in(s, 25, 1);
        let head = s.head().unwrap().unwrap();
        let v = verify_anchored(s, &vk, Some((25, head.hash)), &[]);
        assert_eq!(v["status"], "intact", "{}: {v}", s.name());
        let v = verify_anchored(s, &vk, Some((25, [7; 32])), &[]);
        assert_eq!(
            (v["kind"].as_str(), v["checkpoint"].as_u64()),
            (Some("rewritten"), Some(25)),
            "{v}"
        );
        s.sql("DELETE FROM audit_entries WHERE seq > 22");
        let v = verify_anchored(s, &vk, Some((25, head.hash)), &[]);
        assert_eq!(v["status"], "tampered", "{}: {v}", s.name());
        assert_eq!(
            (
                v["kind"].as_str(),
                v["head"].as_u64(),
                v["expected"].as_u64()
            ),
            (Some("cut"), Some(22), Some(25))
        );
    });
}

#[test]
fn the_checkpoint_file_publishes_only_what_is_new_and_names_a_bad_line() {
    let mut s = sqlite("file");
    filled_in(&mut s, 25, 1);
    let file = checkpoint_file("publish");
    assert_eq!(
        file.last_seq().unwrap(),
        0,
        "a missing file has published nothing"
    );
    assert_eq!(published::publish(&mut s, &file, 0).unwrap(), 20);
    assert_eq!(
        published::publish(&mut s, &file, 20).unwrap(),
        20,
        "nothing new"
    );
    seal(&mut s);
    assert_eq!(
        published::publish(&mut s, &file, file.last_seq().unwrap()).unwrap(),
        25
    );
    assert_eq!(file.read().unwrap().len(), 3);
    std::fs::write(file.path(), "{\"seq\":1}\n").unwrap();
    let err = file.read().unwrap_err().to_string();
    assert!(err.contains("line 1"), "{err}");
}

#[test]
fn a_forged_checkpoint_in_the_file_is_rejected() {
    let mut s = sqlite("forged_file");
    let vk = filled_in(&mut s, 25, 1);
    let head = s.head().unwrap().unwrap();
    let forged = Checkpoint::sign(&head, at(1), &SigningKey::from_bytes(&[9; 32]));
    let v = verify_anchored(&mut s, &vk, None, &[forged]);
    assert_eq!(
        (v["kind"].as_str(), v["seq"].as_u64()),
        (Some("bad_checkpoint"), Some(25)),
        "{v}"
    );
}

#[test]
fn two_servers_sealing_the_same_head_at_once_keep_the_first_checkpoint() {
    on_both("double_seal", |s| {
        let vk = filled_in(s, 5, 1);
        let first = seal(s);
        let head = s.head().unwrap().unwrap();
        let second = Checkpoint::sign(&head, at(20_000), &key());
        s.append(&mut |_| (Vec::new(), Some(second.clone())))
            .expect("a second checkpoint at the same entry is not an error");
        assert_eq!(s.checkpoints().unwrap(), [first], "{}", s.name());
        assert_eq!(verify_cadence(s, &vk)["status"], "intact", "{}", s.name());
    });
}

/// Statements on `audit_entries` (it has a tenant column) that deliberately read every tenant's
/// entries: the chain is one for all tenants, so appending and verifying read all of it.
const CHAIN_WIDE: &[tenant_filter::Exception] = &[
    tenant_filter::Exception {
        statement: "SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1",
        reason: "an append links to the head of the one chain, whichever tenant wrote it",
    },
    tenant_filter::Exception {
        statement: "SELECT seq, encode(hash, 'hex') FROM audit_entries ORDER BY seq DESC LIMIT 1",
        reason: "an append links to the head of the one chain, whichever tenant wrote it (on \
                 PostgreSQL read in the round trip that takes the chain's lock)",
    },
    tenant_filter::Exception {
        statement: "SELECT seq, at, tenant_id, actor, action, subject, details, prev_hash, hash FROM audit_entries ORDER BY seq DESC LIMIT 1",
        reason: "the head of the one chain (sealing, the CLI's status)",
    },
    tenant_filter::Exception {
        statement: "SELECT seq, at, tenant_id, actor, action, subject, details, prev_hash, hash FROM audit_entries WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        reason: "verification reads the whole chain, every tenant's entries linked together",
    },
    tenant_filter::Exception {
        statement: "SELECT seq, at, tenant_id, actor, action, subject, details, prev_hash, hash FROM audit_entries WHERE seq > $1 ORDER BY seq LIMIT $2",
        reason: "verification reads the whole chain, every tenant's entries linked together",
    },
    tenant_filter::Exception {
        statement: "INSERT INTO audit_checkpoints (tenant_id, seq, hash, at, signature) VALUES (COALESCE((SELECT tenant_id FROM audit_entries WHERE seq = $1 LIMIT 1), '-'), $1, $2, $3, $4) ON CONFLICT (tenant_id, seq) DO NOTHING",
        reason: "a checkpoint is filed under the tenant of the entry it seals, found by its place in the chain",
    },
    tenant_filter::Exception {
        statement: "SELECT seq, hash, at, signature FROM audit_checkpoints ORDER BY seq DESC LIMIT 1",
        reason: "how far the one chain is sealed, whichever tenant's entry the checkpoint sealed",
    },
    tenant_filter::Exception {
        statement: "SELECT seq, hash, at, signature FROM audit_checkpoints WHERE seq > ?1 ORDER BY seq",
        reason: "verification checks every checkpoint of the one chain",
    },
    tenant_filter::Exception {
        statement: "SELECT seq, hash, at, signature FROM audit_checkpoints WHERE seq > $1 ORDER BY seq",
        reason: "verification checks every checkpoint of the one chain",
    },
    tenant_filter::Exception {
        statement: "UPDATE audit_checkpoints c SET tenant_id = e.tenant_id FROM audit_entries e WHERE e.seq = c.seq",
        reason: "re-keying an older trail files each checkpoint under its entry's tenant, all at once",
    },
];

#[test]
fn every_statement_on_the_entries_filters_by_tenant_but_the_chain_walks() {
    tenant_filter::assert_every_statement_filters_by_tenant(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        CHAIN_WIDE,
    );
}

/// The PostgreSQL tables as versions before the re-keying made them: keyed by `seq` alone,
/// checkpoints without a tenant.
const PG_SCHEMA_KEYED_BY_SEQ: &str = "
CREATE TABLE audit_entries (
    seq BIGINT PRIMARY KEY, at TEXT NOT NULL, tenant_id TEXT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, subject TEXT, details TEXT NOT NULL, prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL
);
CREATE INDEX audit_entries_tenant ON audit_entries (tenant_id, seq);
CREATE TABLE audit_checkpoints (
    seq BIGINT PRIMARY KEY, hash BYTEA NOT NULL, at TEXT NOT NULL, signature BYTEA NOT NULL
);
";

/// The columns of `table`'s primary key, in order.
fn pg_primary_key(c: &mut postgres::Client, table: &str) -> Vec<String> {
    c.query(
        "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
         WHERE i.indrelid = $1::text::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
        &[&table],
    )
    .expect("the primary key")
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// Ready for distribution by tenant (issue 23): a trail written by an earlier version, keyed by
/// `seq` alone, is re-keyed by (tenant_id, seq) when a newer Custos connects; every entry and
/// checkpoint stays as it was signed, the chain verifies, and appends go on from its head.
#[test]
fn a_postgres_trail_keyed_by_seq_alone_is_re_keyed_by_tenant_and_still_verifies() {
    let Some(url) = pg_url() else {
        return;
    };
    let schema = unique("pg_rekey");
    let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connects");
    c.batch_execute(&format!(
        "CREATE SCHEMA {schema}; SET search_path TO {schema}; {PG_SCHEMA_KEYED_BY_SEQ}"
    ))
    .expect("the old tables");
    // 25 entries of three tenants (and the platform), a checkpoint every 10, written as an
    // earlier version stored them.
    let key = key();
    let mut head: Option<(u64, Hash)> = None;
    for i in 0..25 {
        let tenant = ["acme", "globex", "-", "initech"][i % 4];
        let (entries, cp) = build(head, &[event(tenant, i)], at(i as i64), &key, 10);
        for e in &entries {
            c.execute(
                "INSERT INTO audit_entries (seq, at, tenant_id, actor, action, subject, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[&(e.seq as i64), &e.at, &e.tenant, &e.actor, &e.action, &e.subject, &e.details, &&e.prev_hash[..], &&e.hash[..]],
            )
            .expect("an old entry");
            head = Some((e.seq, e.hash));
        }
        if let Some(cp) = cp {
            c.execute(
                "INSERT INTO audit_checkpoints (seq, hash, at, signature) VALUES ($1, $2, $3, $4)",
                &[&(cp.seq as i64), &&cp.hash[..], &cp.at, &&cp.signature[..]],
            )
            .expect("an old checkpoint");
        }
    }
    let mut store = PgStore::connect(&url, Some(&schema)).expect("a newer Custos connects");
    assert_eq!(
        pg_primary_key(&mut c, "audit_entries"),
        ["tenant_id", "seq"]
    );
    assert_eq!(
        pg_primary_key(&mut c, "audit_checkpoints"),
        ["tenant_id", "seq"]
    );
    let filed: Vec<(i64, String)> = c
        .query(
            "SELECT seq, tenant_id FROM audit_checkpoints ORDER BY seq",
            &[],
        )
        .expect("checkpoints")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        filed,
        [(10, "globex".to_owned()), (20, "initech".to_owned())],
        "each checkpoint under the tenant of the entry it seals"
    );
    let mut log = AuditLog::new(store, key.clone(), 10);
    let v = log.verify().expect("verifies");
    assert!(
        matches!(&v, Verification::UnsealedTail(s) if s.entries == 25 && s.sealed_to == 20),
        "{v:?}"
    );
    // Going on from the old head: entry 30 is due a checkpoint, filed under its tenant.
    for i in 25..30 {
        log.append(&[event("acme", i)], at(i as i64))
            .expect("appends");
    }
    log.checkpoint(at(31)).expect("seals the head");
    assert!(matches!(log.verify().expect("verifies"), Verification::Intact(s) if s.entries == 30),);
    store = PgStore::connect(&url, Some(&schema)).expect("connecting again changes nothing");
    drop(store);
    let cps: i64 = c
        .query_one(
            "SELECT count(*) FROM audit_checkpoints WHERE tenant_id = 'acme'",
            &[],
        )
        .expect("count")
        .get(0);
    assert_eq!(cps, 1, "entry 30's checkpoint, under acme");
    c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .expect("drops the test schema");
}
