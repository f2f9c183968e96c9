//! The upgrade path of `docs/upgrading.md`: a vault written by the previous release (0.1.0,
//! kept in `testkit/fixtures/release-0.1.0`) opens with this build, is migrated in place, and
//! keeps its records, its erasures, its requests and an audit trail that verifies across the
//! two versions.

use crate::demo_server::DemoServer;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testkit/fixtures/release-0.1.0"
);

fn schema_version(db: &std::path::Path) -> i64 {
    let conn = custos_vault::sqlite_connection(db).expect("opens");
    conn.query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
        r.get(0)
    })
    .expect("a migrated database")
}

fn verify_audit(dir: &std::path::Path) {
    let args = [
        "audit",
        "verify",
        "--db",
        "custos-demo.db",
        "--key-file",
        "custos-demo.key",
    ];
    crate::scratch::succeeded(&crate::demo_server::custos_in(dir, &args));
}

#[test]
fn a_vault_written_by_release_0_1_0_opens_migrated_with_its_records_erasures_requests_and_trail() {
    let dir = crate::scratch::fresh_dir("upgrade-0.1.0");
    for file in [
        "custos-demo.db",
        "custos-demo.db-erasures.jsonl",
        "custos-demo.key",
    ] {
        std::fs::copy(format!("{FIXTURE}/{file}"), dir.join(file)).expect("fixture copied");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            dir.join("custos-demo.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    assert_eq!(
        schema_version(&dir.join("custos-demo.db")),
        8,
        "0.1.0's schema"
    );
    verify_audit(&dir);

    let server = DemoServer::start(&dir, &[]);
    let query = |who: &str| {
        let (status, body) = server.post(
            &server.app,
            "/v1/records/query",
            &serde_json::json!({ "subject": who }),
        );
        assert_eq!(status, 200, "{body}");
        body
    };
    assert!(query("jan@example.nl").contains("Vraag over factuur 2026-114"));
    assert!(
        query("piet@example.nl").contains("\"records\":[]"),
        "the erasure made under 0.1.0 stays"
    );
    let (status, requests) = server.get(&server.dpo, "/v1/requests");
    assert_eq!(status, 200, "{requests}");
    assert!(
        requests.contains("\"due_on\":\"2027-01-05\"") && requests.contains("\"kind\":\"access\""),
        "the request filed under 0.1.0 keeps its deadline: {requests}"
    );
    // A write under this build extends the old chain.
    let (status, body) = server.post(
        &server.app,
        "/v1/records",
        &serde_json::json!({
            "subject": "an@example.com", "category": "support", "purposes": ["support"],
            "data": { "message": "after the upgrade" }
        }),
    );
    assert_eq!(status, 201, "{body}");
    server.stop();

    let latest = schema_version(&dir.join("custos-demo.db"));
    assert!(latest >= 8, "migrated to this build's schema ({latest})");
    verify_audit(&dir);
}
