//! `custos audit verify` on a real SQLite trail: intact, then tampered.

use std::process::Command;

use custos_audit::{AuditLog, Event, SigningKey, SqliteStore, Store};

fn custos(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(args)
        .output()
        .expect("the custos binary runs")
}

/// Checks that `o` exited 0, showing its output otherwise.
fn exited_0(o: &std::process::Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The same with no master key from the environment.
fn custos_keyless(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(args)
        .env_remove("CUSTOS_MASTER_KEY")
        .output()
        .unwrap()
}

#[test]
fn audit_verify_reports_intact_then_the_edited_entry() {
    let dir = std::env::temp_dir().join(format!("custos-it-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("trail.db");
    let _ = std::fs::remove_file(&db);
    let (mut log, public) = trail(&db, 10);
    let db_s = db.to_str().unwrap();
    let ok = verify(db_s, &public, &[]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        String::from_utf8_lossy(&ok.stdout)
            .starts_with("unsealed tail: 10 entries, 2 signed checkpoints"),
        "the last checkpoint is at 8: {}",
        String::from_utf8_lossy(&ok.stdout)
    );

    log.store_mut()
        .connection()
        .execute(
            "UPDATE audit_entries SET actor = 'someone-else' WHERE seq = 6",
            [],
        )
        .unwrap();
    let bad = verify(db_s, &public, &["--json"]);
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
    let files = [
        "--db",
        db.to_str().unwrap(),
        "--key-file",
        key_file.to_str().unwrap(),
    ];
    let init = custos_keyless(&[&["init"][..], &files].concat());
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
        .put(&policy, rec, jiff::Timestamp::now())
        .unwrap();
    drop(v);
    let printed = custos_keyless(&[
        "audit",
        "public-key",
        "--key-file",
        key_file.to_str().unwrap(),
    ]);
    assert_eq!(String::from_utf8_lossy(&printed.stdout).trim(), public);
    let ok = custos_keyless(&[&["audit", "verify"][..], &files].concat());
    exited_0(&ok);
    // `custos init` audited the first admin key it issued; then the record.
    assert!(
        String::from_utf8_lossy(&ok.stdout).starts_with("unsealed tail: 2 entries"),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
}

/// `custos audit verify` of the SQLite trail `db` with the published key, and `extra` flags.
fn verify(db: &str, public: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["audit", "verify", "--db", db, "--public-key", public];
    args.extend_from_slice(extra);
    custos(&args)
}

/// A trail of `n` entries in `db` with a checkpoint every 4, and its public key in hex.
fn trail(db: &std::path::Path, n: usize) -> (AuditLog<SqliteStore>, String) {
    let key = SigningKey::from_bytes(&[5; 32]);
    let public = hex::encode(key.verifying_key().to_bytes());
    let mut log = AuditLog::new(SqliteStore::open(db).unwrap(), key, 4);
    let at = jiff::Timestamp::from_second(1_790_000_000).unwrap();
    for i in 0..n {
        let ev = Event {
            tenant: "t1".into(),
            actor: "key:app".into(),
            action: "record.put".into(),
            subject: Some(format!("ps_{i}")),
            details: serde_json::json!({}),
        };
        log.append(&[ev], at).unwrap();
    }
    (log, public)
}

/// A trail of `n` entries with a checkpoint every 4, its checkpoints published to a file.
fn published_trail(
    name: &str,
    n: usize,
) -> (
    std::path::PathBuf,
    std::path::PathBuf,
    AuditLog<SqliteStore>,
    String,
) {
    let dir = std::env::temp_dir().join(format!("custos-it-audit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (db, file) = (dir.join("trail.db"), dir.join("checkpoints.jsonl"));
    let (mut log, public) = trail(&db, n);
    let at = jiff::Timestamp::from_second(1_790_000_000).unwrap();
    log.checkpoint(at).unwrap();
    let f = custos_audit::published::CheckpointFile::new(&file);
    custos_audit::published::publish(log.store_mut(), &f, 0).unwrap();
    (db, file, log, public)
}

#[test]
fn audit_verify_reports_a_cut_against_an_expected_head() {
    let (db, _, mut log, public) = published_trail("expect", 10);
    let head = log.store_mut().head().unwrap().unwrap();
    let anchor = format!("{}:{}", head.seq, hex::encode(head.hash));
    let db_s = db.to_str().unwrap();
    let ok = verify(db_s, &public, &["--expect-head", &anchor, "--sealed"]);
    exited_0(&ok);
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("intact: 10 entries"));
    log.store_mut()
        .connection()
        .execute_batch(
            "DELETE FROM audit_entries WHERE seq > 8; DELETE FROM audit_checkpoints WHERE seq > 8",
        )
        .unwrap();
    let cut = verify(db_s, &public, &["--expect-head", &anchor, "--json"]);
    assert_eq!(
        cut.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&cut.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&cut.stdout).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["kind"].as_str()),
        (Some("tampered"), Some("cut")),
        "{v}"
    );
    assert_eq!(
        (v["head"].as_u64(), v["expected"].as_u64()),
        (Some(8), Some(10)),
        "{v}"
    );
    let text = verify(db_s, &public, &["--expect-head", &anchor]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("the chain was cut: it ends at entry 8")
    );
    let bad = verify(db_s, &public, &["--expect-head", "ten"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("SEQ:HASH"));
}

#[test]
fn audit_verify_checks_the_chain_against_the_checkpoint_file() {
    let (db, file, mut log, public) = published_trail("cpfile", 10);
    let (db_s, file_s) = (db.to_str().unwrap(), file.to_str().unwrap());
    let ok = verify(db_s, &public, &["--checkpoints", file_s]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // The database alone cannot tell a trail cut back to a checkpoint; the file can.
    log.store_mut()
        .connection()
        .execute_batch(
            "DELETE FROM audit_entries WHERE seq > 8; DELETE FROM audit_checkpoints WHERE seq > 8",
        )
        .unwrap();
    let alone = verify(db_s, &public, &[]);
    assert_eq!(alone.status.code(), Some(0));
    let cut = verify(db_s, &public, &["--checkpoints", file_s, "--json"]);
    assert_eq!(cut.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&cut.stdout).unwrap();
    assert_eq!(
        (v["kind"].as_str(), v["expected"].as_u64()),
        (Some("cut"), Some(10)),
        "{v}"
    );
    // A checkpoint row deleted under intact entries.
    log.store_mut()
        .connection()
        .execute_batch("DELETE FROM audit_checkpoints WHERE seq = 4")
        .unwrap();
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .take(2)
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    let deleted = verify(db_s, &public, &["--checkpoints", file_s, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&deleted.stdout).unwrap();
    assert_eq!(
        (v["kind"].as_str(), v["seq"].as_u64()),
        (Some("checkpoint_deleted"), Some(4)),
        "{v}"
    );
    std::fs::write(&file, "not json\n").unwrap();
    let garbled = verify(db_s, &public, &["--checkpoints", file_s]);
    assert_eq!(garbled.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&garbled.stderr).contains("line 1"));
}

#[test]
fn audit_verify_with_sealed_fails_on_an_unsealed_tail() {
    let (db, _, mut log, public) = published_trail("sealed", 10);
    let at = jiff::Timestamp::from_second(1_790_000_100).unwrap();
    let ev = Event {
        tenant: "t1".into(),
        actor: "key:app".into(),
        action: "record.put".into(),
        subject: None,
        details: serde_json::json!({}),
    };
    log.append(&[ev], at).unwrap();
    let db_s = db.to_str().unwrap();
    let plain = verify(db_s, &public, &["--json"]);
    assert_eq!(plain.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&plain.stdout).unwrap();
    assert_eq!(
        (
            v["status"].as_str(),
            v["sealed_to"].as_u64(),
            v["unsealed"].as_u64()
        ),
        (Some("unsealed_tail"), Some(10), Some(1)),
        "{v}"
    );
    let strict = verify(db_s, &public, &["--sealed"]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&strict.stdout).starts_with("unsealed tail:"));
}
