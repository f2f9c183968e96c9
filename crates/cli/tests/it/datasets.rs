//! `custos datasets` end to end on an SQLite copy of the sample mail application: the check
//! names the drift's place and exits 1, a dry run writes nothing, an erasure writes its receipt
//! to the vault's audit trail with the subject as a pseudonym, and after the company restores
//! a backup taken before the erasure, `replay` erases the subject again from the journal.

use std::path::Path;

use crate::demo_server::custos_in as custos;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn load_sample(db: &Path) {
    std::fs::File::create(db).unwrap();
    let mut conn = custos_vault::connect::open(db.to_str().unwrap()).unwrap();
    let scale = crate::sample::Scale::small();
    for s in crate::sample::statements(crate::sample::schema(
        crate::sample::App::Mail,
        crate::sample::Dialect::Sqlite,
    )) {
        conn.batch(&s).unwrap();
    }
    for s in crate::sample::statements(&crate::sample::generate(
        crate::sample::App::Mail,
        crate::sample::Dialect::Sqlite,
        &scale,
    )) {
        conn.batch(&s).unwrap();
    }
}

fn count(db: &Path, sql: &str) -> i64 {
    let mut conn = custos_vault::connect::open(db.to_str().unwrap()).unwrap();
    let mut q = custos_vault::connect::Sql::new(conn.dialect());
    q.push(sql);
    conn.query(&q).unwrap()[0][0].int().unwrap()
}

#[test]
fn check_erase_and_replay_after_a_restore_work_from_the_command_line() {
    let dir = &crate::scratch::fresh_dir("datasets");
    let app = dir.join("app.db");
    load_sample(&app);
    let init = custos(
        dir,
        &["init", "--db", "custos.db", "--key-file", "custos.key"],
    );
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let ann = format!("{ROOT}/examples/connectors/mail.toml");
    let policy = format!("{ROOT}/examples/policies/jbsync.toml");
    let url = app.to_str().unwrap();
    let check = |dir: &Path| {
        custos(
            dir,
            &["datasets", "check", &ann, "--policy", &policy, "--url", url],
        )
    };

    let ok = check(dir);
    assert!(
        ok.status.success(),
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );

    // Drift: a new column nobody annotated. The finding names the file, line and column.
    let mut conn = custos_vault::connect::open(url).unwrap();
    conn.batch("ALTER TABLE users ADD COLUMN nickname TEXT")
        .unwrap();
    let drift = check(dir);
    assert_eq!(drift.status.code(), Some(1));
    let out = String::from_utf8_lossy(&drift.stdout);
    assert!(
        out.contains("error[D103]") && out.contains("users.nickname"),
        "{out}"
    );
    assert!(out.contains("mail.toml:12:"), "{out}");
    // The jobs refuse to run while it stands.
    let refused = custos(
        dir,
        &[
            "datasets",
            "access",
            &ann,
            "--policy",
            &policy,
            "--url",
            url,
            "--tenant",
            "acme",
            "--subject",
            "ann@example.test",
        ],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("error[dataset-check-failed]"));
    conn.batch("ALTER TABLE users DROP COLUMN nickname")
        .unwrap();
    drop(conn);

    let vault = [
        "--db",
        "custos.db",
        "--key-file",
        "custos.key",
        "--policy",
        &policy,
    ];
    let erase = |extra: &[&str]| {
        let mut args = vec![
            "datasets",
            "erase",
            &ann,
            "--url",
            url,
            "--tenant",
            "acme",
            "--subject",
            "ann@example.test",
        ];
        args.extend_from_slice(&vault);
        args.extend_from_slice(extra);
        custos(dir, &args)
    };
    let dry = erase(&["--dry-run"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains("\"dry_run\": true") && text.contains("DELETE FROM"),
        "{text}"
    );
    assert!(
        !text.contains("ann@"),
        "the identity is never in the SQL: {text}"
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users WHERE id = 1"), 1);

    // The company's backup, taken before the erasure.
    let backup = dir.join("app.before.db");
    std::fs::copy(&app, &backup).unwrap();
    let done = erase(&[]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(String::from_utf8_lossy(&done.stdout).contains("\"remaining\": 0"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users WHERE id = 1"), 0);

    // The receipt is in the audit trail, as a pseudonym, and the chain verifies.
    let audit = custos(
        dir,
        &[
            "audit",
            "verify",
            "--db",
            "custos.db",
            "--key-file",
            "custos.key",
        ],
    );
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stderr)
    );
    let master = custos_vault::MasterKey::from_file(&dir.join("custos.key")).unwrap();
    let mut v = custos_vault::Vault::open(
        &custos_vault::StoreConfig::Sqlite {
            path: dir.join("custos.db"),
        },
        master,
    )
    .unwrap();
    let acme = custos_vault::TenantId::new("acme").unwrap();
    let q = custos_audit::Query {
        action: Some("connector.erase".into()),
        limit: 10,
        ..Default::default()
    };
    let entries = v.tenant(&acme).audit(&q).unwrap();
    assert_eq!(entries.len(), 1);
    assert!(
        !entries[0].details.contains("ann@") && entries[0].subject.is_some(),
        "{}",
        entries[0].details
    );
    drop(v);

    // The company restores its backup: ann is back, until the journal is replayed.
    std::fs::copy(&backup, &app).unwrap();
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users WHERE id = 1"), 1);
    let mut args = vec!["datasets", "replay", &ann, "--url", url, "--tenant", "acme"];
    args.extend_from_slice(&vault);
    let replay = custos(dir, &args);
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    assert!(
        String::from_utf8_lossy(&replay.stdout).contains("\"erased_again\": 1"),
        "{}",
        String::from_utf8_lossy(&replay.stdout)
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users WHERE id = 1"), 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users WHERE id = 2"), 1);
}
