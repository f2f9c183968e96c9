//! `custos audit verify` on a real SQLite trail: intact, then tampered.

use std::process::Command;

use custos_audit::{AuditLog, Event, SigningKey, SqliteStore};

fn custos(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(args)
        .output()
        .expect("the custos binary runs")
}

#[test]
fn audit_verify_reports_intact_then_the_edited_entry() {
    let dir = std::env::temp_dir().join(format!("custos-it-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("trail.db");
    let _ = std::fs::remove_file(&db);
    let key = SigningKey::from_bytes(&[5; 32]);
    let public = hex::encode(key.verifying_key().to_bytes());
    let mut log = AuditLog::new(SqliteStore::open(&db).unwrap(), key, 4);
    let at = jiff::Timestamp::from_second(1_790_000_000).unwrap();
    for i in 0..10 {
        let ev = Event {
            tenant: "t1".into(),
            actor: "key:app".into(),
            action: "record.put".into(),
            subject: Some(format!("ps_{i}")),
            details: serde_json::json!({}),
        };
        log.append(&[ev], at).unwrap();
    }
    let db_s = db.to_str().unwrap();
    let ok = custos(&["audit", "verify", "--db", db_s, "--public-key", &public]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        String::from_utf8_lossy(&ok.stdout).starts_with("intact: 10 entries, 2 signed checkpoints")
    );

    log.store_mut()
        .connection()
        .execute(
            "UPDATE audit_entries SET actor = 'someone-else' WHERE seq = 6",
            [],
        )
        .unwrap();
    let bad = custos(&[
        "audit",
        "verify",
        "--db",
        db_s,
        "--public-key",
        &public,
        "--json",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(v["status"], "tampered");
    assert_eq!(v["kind"], "edited");
    assert_eq!(v["seq"], 6);

    let wrong_key = hex::encode(SigningKey::from_bytes(&[6; 32]).verifying_key().to_bytes());
    log.store_mut()
        .connection()
        .execute(
            "UPDATE audit_entries SET actor = 'key:app' WHERE seq = 6",
            [],
        )
        .unwrap();
    let forged = custos(&["audit", "verify", "--db", db_s, "--public-key", &wrong_key]);
    assert_eq!(forged.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&forged.stdout).contains("invalid signature"));

    let missing = custos(&[
        "audit",
        "verify",
        "--db",
        "/nonexistent/x.db",
        "--public-key",
        &public,
    ]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn audit_verify_derives_the_key_from_the_master_key_after_vault_writes() {
    let dir = std::env::temp_dir().join(format!("custos-it-audit-vault-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("custos.db");
    let key_file = dir.join("custos.key");
    let init = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args([
            "init",
            "--db",
            db.to_str().unwrap(),
            "--key-file",
            key_file.to_str().unwrap(),
        ])
        .env_remove("CUSTOS_MASTER_KEY")
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let master = custos_vault::MasterKey::from_file(&key_file).unwrap();
    let public = hex::encode(master.audit_public_key().to_bytes());
    let mut v = custos_vault::Vault::open(
        &custos_vault::StoreConfig::Sqlite { path: db.clone() },
        master,
    )
    .unwrap();
    let policy = custos_policy::load_source(custos_policy::SourceFile::new(
        "jbsync.toml",
        include_str!("../../../../examples/policies/jbsync.toml"),
    ))
    .unwrap()
    .policy;
    let rec = custos_vault::NewRecord {
        subject: custos_vault::SubjectId::new("jan@example.nl").unwrap(),
        category: "support".into(),
        purposes: vec!["support".into()],
        payload: b"ticket".to_vec(),
        created_at: jiff::Timestamp::from_second(1_790_000_000).unwrap(),
        clocks: Default::default(),
    };
    v.tenant(&custos_vault::TenantId::new("acme").unwrap())
        .put(&policy, rec)
        .unwrap();
    drop(v);
    let printed = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args([
            "audit",
            "public-key",
            "--key-file",
            key_file.to_str().unwrap(),
        ])
        .env_remove("CUSTOS_MASTER_KEY")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&printed.stdout).trim(), public);
    let ok = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args([
            "audit",
            "verify",
            "--db",
            db.to_str().unwrap(),
            "--key-file",
            key_file.to_str().unwrap(),
        ])
        .env_remove("CUSTOS_MASTER_KEY")
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    // `custos init` audited the first admin key it issued; then the record.
    assert!(
        String::from_utf8_lossy(&ok.stdout).starts_with("intact: 2 entries"),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
}
