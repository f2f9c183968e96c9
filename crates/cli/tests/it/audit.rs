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
    let ok = custos(&[
        "audit",
        "verify",
        "--database",
        db_s,
        "--public-key",
        &public,
    ]);
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
        "--database",
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
    let forged = custos(&[
        "audit",
        "verify",
        "--database",
        db_s,
        "--public-key",
        &wrong_key,
    ]);
    assert_eq!(forged.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&forged.stdout).contains("invalid signature"));

    let missing = custos(&[
        "audit",
        "verify",
        "--database",
        "/nonexistent/x.db",
        "--public-key",
        &public,
    ]);
    assert_eq!(missing.status.code(), Some(2));
}
