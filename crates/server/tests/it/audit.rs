//! The audit trail over HTTP: what `/v1/audit/verify` tells a tenant and an admin, the checkpoint
//! at graceful shutdown, and the checkpoint file that catches a trail cut in the database
//! (issue 16, points 3 and 5).

use custos_server::Config;

use crate::Running;
use crate::data::{
    Setup, admin_key, audit_trail, json, on_postgresql, open_backend, put, send, sqlite_config,
    tenant,
};

/// A server on `config` (with whatever `adjust` sets), its admin key and the key that verifies
/// its checkpoints.
fn start(config: &Config, adjust: impl FnOnce(&mut Config)) -> (Setup, custos_audit::VerifyingKey) {
    let backend = open_backend(config);
    let admin = admin_key(&backend);
    let public = backend.vault().audit_public_key();
    let server = Running::start_configured(Some(backend), crate::JBSYNC.to_owned(), adjust);
    (Setup { server, admin }, public)
}

/// The audit store of `config`, as someone with database access reaches it.
fn audit_store(config: &Config) -> Box<dyn custos_audit::Store> {
    if config.database.starts_with("postgres") {
        Box::new(
            custos_audit::PgStore::connect(&config.database, Some(&config.schema))
                .expect("connects"),
        )
    } else {
        Box::new(
            custos_audit::SqliteStore::open(std::path::Path::new(&config.database)).expect("opens"),
        )
    }
}

/// Runs tamper SQL against the audit tables of `config`.
fn tamper(config: &Config, sql: &str) {
    if config.database.starts_with("postgres") {
        custos_audit::PgStore::connect(&config.database, Some(&config.schema))
            .expect("connects")
            .client()
            .batch_execute(sql)
            .expect("tamper SQL runs");
    } else {
        custos_audit::SqliteStore::open(std::path::Path::new(&config.database))
            .expect("opens")
            .connection()
            .execute_batch(sql)
            .expect("tamper SQL runs");
    }
}

/// Each case on SQLite and, with `CUSTOS_TEST_DATABASE_URL`, on PostgreSQL.
fn on_both(name: &str, case: impl Fn(Config)) {
    case(sqlite_config(name));
    on_postgresql(&name.replace('-', "_"), case);
}

fn checkpoint_file(config: &Config) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("custos-server-it-{}-cpfiles", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!(
        "{}.jsonl",
        config.schema.clone() + &config.database.replace(['/', ':', '@'], "_")
    ));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn a_tenant_key_sees_only_its_own_figures_from_audit_verify() {
    on_both("verify-leak", |config| {
        let (s, _) = start(&config, |_| {});
        let (app_a, _, auditor_a) = tenant(&s, "acme");
        let (app_b, dpo_b, _) = tenant(&s, "globex");
        for i in 0..3 {
            assert_eq!(
                put(&s, &app_a, &format!("a{i}@example.nl"), "x").status,
                201
            );
        }
        for i in 0..7 {
            assert_eq!(
                put(&s, &app_b, &format!("b{i}@example.nl"), "y").status,
                201
            );
        }
        let own = audit_trail(&s, &auditor_a, "limit=1000")["entries"]
            .as_array()
            .unwrap()
            .len() as u64;
        let whole = json(&send(
            "GET",
            &s.server.url("/v1/audit/verify"),
            &s.admin,
            None,
        ));
        let mine = json(&send(
            "GET",
            &s.server.url("/v1/audit/verify"),
            &auditor_a,
            None,
        ));
        assert_eq!(
            mine["entries"].as_u64(),
            Some(own),
            "{mine} (acme has {own} entries)"
        );
        assert!(whole["entries"].as_u64().unwrap() > own, "{whole}");
        assert_eq!(mine["scope"], "tenant", "{mine}");
        for global in ["head", "checkpoints", "sealed_to"] {
            assert!(
                mine.get(global).is_none(),
                "a tenant sees the trail's `{global}`: {mine}"
            );
        }
        assert_eq!(
            mine["status"], "unsealed_tail",
            "no checkpoint covers acme's entries yet: {mine}"
        );
        assert_eq!(mine["unsealed"].as_u64(), Some(own), "{mine}");
        let theirs = json(&send(
            "GET",
            &s.server.url("/v1/audit/verify"),
            &dpo_b,
            None,
        ));
        assert_ne!(theirs["entries"], mine["entries"], "{theirs}");
        // A position in the whole trail is the admin's to ask about.
        let r = send(
            "GET",
            &s.server.url("/v1/audit/verify?expect_head=1:00"),
            &auditor_a,
            None,
        );
        assert_eq!(r.status, 403, "{}", r.body);
        let r = send("GET", &s.server.url("/v1/audit/verify"), &app_a, None);
        assert_eq!(r.status, 403, "{}", r.body);
    });
}

#[test]
fn a_clean_shutdown_seals_the_head_and_publishes_every_checkpoint_to_the_file() {
    on_both("shutdown-seal", |config| {
        let file = checkpoint_file(&config);
        let path = file.clone();
        let (s, public) = start(&config, move |c| {
            c.audit_checkpoint_file = Some(path);
            c.audit_checkpoint_seconds = 3600;
        });
        let (app, _, _) = tenant(&s, "acme");
        for i in 0..4 {
            assert_eq!(put(&s, &app, &format!("s{i}@example.nl"), "x").status, 201);
        }
        drop(s);
        let mut store = audit_store(&config);
        let head = store.head().unwrap().expect("entries were written");
        let checkpoints = store.checkpoints().unwrap();
        assert_eq!(
            checkpoints.last().map(|c| (c.seq, c.hash)),
            Some((head.seq, head.hash)),
            "the head is sealed"
        );
        let published = custos_audit::published::CheckpointFile::new(&file)
            .read()
            .expect("the file reads");
        assert_eq!(published, checkpoints, "every checkpoint is in the file");
        let verified = custos_audit::verify_store_with(
            store.as_mut(),
            &public,
            custos_audit::Expect {
                published,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            matches!(verified, custos_audit::Verification::Intact(ref v) if v.sealed_to == head.seq),
            "{verified:?}"
        );
    });
}

#[test]
fn a_trail_cut_in_the_database_is_reported_by_the_admin_verify_against_the_file_and_an_expected_head()
 {
    on_both("verify-cut", |config| {
        let file = checkpoint_file(&config);
        let path = file.clone();
        let (s, _) = start(&config, move |c| {
            c.audit_checkpoint_file = Some(path);
            c.audit_checkpoint_seconds = 1;
        });
        let (app, _, _) = tenant(&s, "acme");
        for i in 0..3 {
            assert_eq!(put(&s, &app, &format!("s{i}@example.nl"), "x").status, 201);
        }
        // The timer seals the head within a second or two and copies it to the file.
        let verify = |q: &str| {
            json(&send(
                "GET",
                &s.server.url(&format!("/v1/audit/verify{q}")),
                &s.admin,
                None,
            ))
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let sealed = loop {
            let v = verify("");
            let in_file = std::fs::read_to_string(&file).unwrap_or_default();
            if v["status"] == "intact" && in_file.contains(&format!("\"seq\":{}", v["entries"])) {
                break v;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the head was not sealed: {v}"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        };
        let head_seq = sealed["entries"].as_u64().unwrap();
        let anchor = format!(
            "?expect_head={head_seq}:{}",
            sealed["head"].as_str().unwrap()
        );
        assert_eq!(verify(&anchor)["status"], "intact");
        // Someone with database access cuts the last entry and its checkpoint.
        tamper(
            &config,
            &format!(
                "DELETE FROM audit_entries WHERE seq >= {head_seq}; DELETE FROM audit_checkpoints WHERE seq >= {head_seq}"
            ),
        );
        let v = verify("");
        assert_eq!(v["status"], "tampered", "{v}");
        assert_eq!(v["kind"], "cut", "{v}");
        assert_eq!(v["expected"], head_seq, "{v}");
        let v = verify(&anchor);
        assert_eq!(
            (v["kind"].as_str(), v["expected"].as_u64()),
            (Some("cut"), Some(head_seq)),
            "{v}"
        );
        let r = send(
            "GET",
            &s.server.url("/v1/audit/verify?expect_head=12"),
            &s.admin,
            None,
        );
        assert_eq!(r.status, 400, "{}", r.body);
    });
}

#[test]
fn an_audit_cursor_beyond_the_stored_range_is_refused_not_read_from_the_start() {
    let s = crate::data::setup("audit-cursor");
    let (app, _, auditor) = tenant(&s, "acme");
    assert_eq!(put(&s, &app, "jan@example.nl", "x").status, 201);
    // 2^63: the largest seq the trail can store is 2^63 - 1. Read as a signed number it would
    // wrap to the most negative one, and the page would start at the beginning.
    let r = send(
        "GET",
        &s.server.url("/v1/audit?cursor=9223372036854775808"),
        &auditor,
        None,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("\"code\":\"invalid-query\""), "{}", r.body);
    let page = audit_trail(&s, &auditor, "cursor=9223372036854775807");
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(0), "{page}");
}
