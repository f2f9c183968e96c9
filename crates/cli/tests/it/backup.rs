//! `custos backup` and the SQLite runbook of `docs/operations.md`: a copy taken while the server
//! writes holds every write acknowledged before it began and verifies; restoring it replays the
//! erasures made since (GDPR Art. 17: an erased subject never comes back from a backup).

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::demo_server::{DemoServer, custos_in as custos};

fn count_records(db: &std::path::Path, subject_like: &str) -> i64 {
    let conn = custos_vault::sqlite_connection(db).expect("the copy opens");
    // Subjects are stored as pseudonyms: count by the writer's category instead.
    conn.query_row(
        "SELECT COUNT(*) FROM records WHERE category = ?1",
        [subject_like],
        |r| r.get(0),
    )
    .expect("records counted")
}

#[test]
fn a_backup_taken_while_the_server_writes_holds_every_acknowledged_write_and_a_restore_replays_later_erasures()
 {
    let dir = &crate::scratch::fresh_dir("backup-online");
    let server = DemoServer::start(dir, &[]);
    let base = server.base.clone();
    let app = server.app.clone();

    // A writer that keeps storing records until told to stop, counting acknowledged writes.
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop) = (acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let agent = crate::demo_server::agent();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let body = serde_json::json!({
                    "subject": format!("writer-{i}@example.nl"),
                    "category": "support",
                    "purposes": ["support"],
                    "data": { "message": format!("message {i}") },
                });
                let r = agent
                    .post(&format!("{base}/v1/records"))
                    .header("authorization", &format!("Bearer {app}"))
                    .header("content-type", "application/json")
                    .send(body.to_string().as_bytes())
                    .expect("the server answers");
                if r.status().as_u16() == 201 {
                    acked.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    while acked.load(Ordering::SeqCst) < 20 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let before = acked.load(Ordering::SeqCst);
    let out = custos(dir, &["backup", "--db", "custos-demo.db", "backup.db"]);
    let after = acked.load(Ordering::SeqCst);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        after > before,
        "the server kept writing while the backup ran"
    );

    // The demo's three support records, plus every write acknowledged before the backup began;
    // none acknowledged after it ended.
    let in_copy = count_records(&dir.join("backup.db"), "support");
    assert!(
        (3 + before as i64..=3 + after as i64).contains(&in_copy),
        "the copy holds {in_copy} records; acknowledged before: {before}, after: {after}"
    );
    assert!(
        printed.contains(&format!("{in_copy} records")),
        "the command reports what the copy holds: {printed}"
    );
    // The copy's audit trail verifies on its own, with the master key kept apart from it.
    let verify = custos(
        dir,
        &[
            "audit",
            "verify",
            "--db",
            "backup.db",
            "--key-file",
            "custos-demo.key",
        ],
    );
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );

    // After the backup, jan is erased.
    let (status, body) = server.post(
        &server.dpo,
        "/v1/subjects/erase",
        &serde_json::json!({ "subject": "jan@example.nl" }),
    );
    assert_eq!(status, 200, "{body}");
    server.stop();

    // Restore, as the runbook says: stop, put the copy in place of the database and its -wal and
    // -shm, keep the erasure journal, start.
    for side in ["custos-demo.db", "custos-demo.db-wal", "custos-demo.db-shm"] {
        let _ = std::fs::remove_file(dir.join(side));
    }
    std::fs::copy(dir.join("backup.db"), dir.join("custos-demo.db")).unwrap();
    let server = DemoServer::start(dir, &[]);
    let query = |who: &str| {
        server.post(
            &server.app,
            "/v1/records/query",
            &serde_json::json!({ "subject": who }),
        )
    };
    let (status, jan) = query("jan@example.nl");
    assert_eq!(status, 200, "{jan}");
    assert!(
        jan.contains("\"records\":[]"),
        "the erasure made after the backup replayed on the restored copy: {jan}"
    );
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap();
    assert!(
        log.contains("erasure journal replayed") && log.contains("\"replayed\":1"),
        "the log says the restore was brought up to date: {log}"
    );
    let (_, an) = query("an@example.com");
    assert!(an.contains("Please call me back"), "{an}");
    let (_, first) = query("writer-1@example.nl");
    assert!(first.contains("message 1"), "{first}");
    server.stop();
}

#[test]
fn backup_refuses_an_existing_file_a_missing_vault_and_postgres() {
    let s = crate::scratch::Scratch::new("backup-refusals");
    let dir = s.dir.as_path();
    std::fs::write(dir.join("taken.db"), b"an earlier backup").unwrap();
    let out = custos(dir, &["backup", "--db", "custos.db", "taken.db"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("error[file-error]: taken.db"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(dir.join("taken.db")).unwrap(),
        b"an earlier backup",
        "a backup never overwrites"
    );

    let out = custos(dir, &["backup", "--db", "nowhere.db", "new.db"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.join("nowhere.db").exists() && !dir.join("new.db").exists());

    let out = custos(
        dir,
        &[
            "backup",
            "--postgres",
            "postgres://custos@127.0.0.1/custos",
            "new.db",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error[backup-unsupported]") && err.contains("pg_dump"),
        "{err}"
    );
}

/// The test database's URL with another database name.
fn with_database(url: &str, database: &str) -> String {
    let (head, tail) = url.rsplit_once('/').expect("a URL with a database");
    let query = tail
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{head}/{database}{query}")
}

fn run_tool(program: &str, args: &[&str]) -> std::process::Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"))
}

/// The data rows `pg_dump` wrote for `table` (the lines of its `COPY … FROM stdin` block).
fn dumped_rows(dump: &str, schema: &str, table: &str) -> usize {
    let start = format!("COPY {schema}.{table} (");
    let Some(block) = dump.split(&start).nth(1) else {
        return 0;
    };
    block.lines().skip(1).take_while(|l| *l != "\\.").count()
}

/// The PostgreSQL runbook: with forced row-level security the application role cannot dump the
/// vault (pg_dump refuses, or dumps zero rows with `--enable-row-security`); the backup role
/// (`BYPASSRLS`, read-only grants) dumps everything, the dump restores into a new database as the
/// application role, and the erasure journal replays on the restored vault.
#[test]
fn the_backup_role_dumps_a_postgres_vault_that_restores_whole_and_replays_later_erasures() {
    let Some(s) = crate::scratch::Scratch::postgres("pg-backup") else {
        eprintln!("note: CUSTOS_TEST_DATABASE_URL is not set; skipping");
        return;
    };
    if !crate::tools::require_tool("pg_dump and psql (postgresql-client)", || {
        crate::tools::runs("pg_dump", &["--version"]) && crate::tools::runs("psql", &["--version"])
    }) {
        return;
    }
    let backup_url = std::env::var("CUSTOS_TEST_BACKUP_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    let Some(backup_url) = backup_url.or_else(|| {
        crate::tools::require_tool("CUSTOS_TEST_BACKUP_DATABASE_URL (the backup role)", || {
            false
        });
        None
    }) else {
        return;
    };
    let custos_vault::StoreConfig::Postgres {
        url,
        schema,
        journal,
    } = s.store.clone()
    else {
        unreachable!("a PostgreSQL scratch")
    };
    s.fill(
        "jan@example.nl",
        &[("support", "support"), ("support", "support")],
    );
    s.fill("piet@example.nl", &[("support", "support")]);

    // The grants of the runbook, run once by the application role that owns the schema.
    let grants = format!(
        "GRANT USAGE ON SCHEMA {schema} TO custos_backup;
         GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO custos_backup;
         GRANT SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO custos_backup;
         ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO custos_backup;"
    );
    let o = run_tool(
        "psql",
        &["-X", "-q", "-v", "ON_ERROR_STOP=1", &url, "-c", &grants],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // The application role: pg_dump refuses, or dumps no records.
    let o = run_tool("pg_dump", &["-n", &schema, &url]);
    assert!(!o.status.success(), "the application role's dump must fail");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("row-level security"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run_tool("pg_dump", &["--enable-row-security", "-n", &schema, &url]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        dumped_rows(&String::from_utf8_lossy(&o.stdout), &schema, "records"),
        0,
        "with row security on, the application role's dump holds no records"
    );

    // The backup role dumps everything.
    let dump_file = s.dir.join("vault.sql");
    let o = run_tool(
        "pg_dump",
        &[
            "-n",
            &schema,
            "-f",
            dump_file.to_str().unwrap(),
            &backup_url,
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dump = std::fs::read_to_string(&dump_file).unwrap();
    assert_eq!(dumped_rows(&dump, &schema, "records"), 3);
    assert!(dumped_rows(&dump, &schema, "audit_entries") > 0);

    // After the dump, jan is erased.
    {
        let mut v = s.vault();
        let e = v
            .tenant(&custos_vault::TenantId::new("acme").unwrap())
            .erase_subject(
                &custos_vault::SubjectId::new("jan@example.nl").unwrap(),
                jiff::Timestamp::now(),
            )
            .expect("erased");
        assert_eq!(e.counts.records, 2);
    }

    // Restore into a new database as the application role.
    let restored = format!("custos_restore_{}", std::process::id());
    let admin = |sql: &str| run_tool("psql", &["-X", "-q", &url, "-c", sql]);
    let _ = admin(&format!("DROP DATABASE IF EXISTS {restored}"));
    let o = admin(&format!("CREATE DATABASE {restored}"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let restored_url = with_database(&url, &restored);
    let o = run_tool(
        "psql",
        &[
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            &restored_url,
            "-f",
            dump_file.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let restored_store = custos_vault::StoreConfig::Postgres {
        url: restored_url.clone(),
        schema: schema.clone(),
        journal: journal.clone(),
    };
    {
        let key = custos_vault::MasterKey::from_file(&s.dir.join("custos.key")).unwrap();
        let mut v =
            custos_vault::Vault::open(&restored_store, key).expect("the restored vault opens");
        assert_eq!(
            v.replayed_erasures(),
            1,
            "opening the restored vault replays the erasure made after the dump"
        );
        let mut t = v.tenant(&custos_vault::TenantId::new("acme").unwrap());
        let count = |t: &mut custos_vault::TenantVault<'_>, who: &str| {
            t.list(&custos_vault::SubjectId::new(who).unwrap())
                .map(|r| r.len())
                .unwrap_or(usize::MAX)
        };
        assert_eq!(count(&mut t, "jan@example.nl"), 0);
        assert_eq!(count(&mut t, "piet@example.nl"), 1);
    }
    let key = s.dir.join("custos.key");
    let verify = custos(
        &s.dir,
        &[
            "audit",
            "verify",
            "--postgres",
            &restored_url,
            "--schema",
            &schema,
            "--key-file",
            key.to_str().unwrap(),
        ],
    );
    crate::scratch::succeeded(&verify);
    let _ = admin(&format!("DROP DATABASE IF EXISTS {restored} WITH (FORCE)"));
}
