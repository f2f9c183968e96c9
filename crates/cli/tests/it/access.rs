//! Getting into a real installation: `custos init` prints the first admin key once, `custos
//! tenant` and `custos key` act on the configured database, and a started server takes the keys
//! they issue (and refuses a revoked one). An approver key approves and does nothing else. The
//! real binary on SQLite and PostgreSQL, real HTTP.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use custos_vault::{NewRecord, StoreConfig, SubjectId, TenantId};

use crate::scratch::{Scratch, err, out, policy, policy_path};

/// Every API key (`cst_<16 hex>_<64 hex>`) in `text`.
fn keys_in(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| {
            w.len() == 4 + 16 + 1 + 64
                && w.starts_with("cst_")
                && w[4..].bytes().all(|b| b.is_ascii_hexdigit() || b == b'_')
        })
        .map(str::to_owned)
        .collect()
}

/// A `custos serve` configuration file for the scratch's vault and the example policy (whose
/// one error, the cookies' missing legal basis, is accepted).
fn config_file(s: &Scratch) -> PathBuf {
    let q = |p: &std::path::Path| toml_string(&p.display().to_string());
    let store = match &s.store {
        StoreConfig::Sqlite { path } => format!("database = {}\n", q(path)),
        StoreConfig::Postgres {
            url,
            schema,
            journal,
        } => format!(
            "database = {}\nschema = {}\n{}",
            toml_string(url),
            toml_string(schema),
            journal
                .as_deref()
                .map(|j| format!("journal = {}\n", q(j)))
                .unwrap_or_default()
        ),
    };
    let text = format!(
        "policy = {}\nkey_file = {}\n{store}purge_interval = \"off\"\nnotify_interval = \"off\"\nlog_format = \"text\"\n[[accept_finding]]\ncode = \"C101\"\nreason = \"the statement names no legal basis for its cookies\"\n",
        q(&policy_path()),
        q(&s.dir.join("custos.key")),
    );
    let path = s.dir.join("custos.toml");
    std::fs::write(&path, text).expect("config written");
    path
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A running `custos serve`, stopped when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `custos serve --config FILE` on a free port, run in `dir`, with no master key or policy from
/// the environment.
pub(crate) fn serve_command(dir: &std::path::Path, config: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_custos"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .current_dir(dir)
        .env_remove("CUSTOS_MASTER_KEY")
        .env_remove("CUSTOS_POLICY");
    cmd
}

/// `custos serve --config FILE` on a free port, once it listens; its logs go to `logs`.
pub(crate) fn serve(dir: &std::path::Path, config: &std::path::Path, logs: &str) -> Server {
    let log = std::fs::File::create(dir.join(logs)).expect("log file");
    let mut child = serve_command(dir, config)
        .env_remove("CUSTOS_DATABASE_URL")
        .env_remove("CUSTOS_SCHEMA")
        .env_remove("CUSTOS_KEY_FILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("custos serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while lines.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(url) = line.trim().strip_prefix("Custos is listening on ") {
            let base = url.to_owned();
            // Keep reading stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || {
                let mut rest = String::new();
                while lines.read_line(&mut rest).unwrap_or(0) > 0 {
                    rest.clear();
                }
            });
            return Server { child, base };
        }
        line.clear();
    }
    let _ = child.wait();
    panic!(
        "custos serve did not start:\n{}",
        std::fs::read_to_string(dir.join(logs)).unwrap_or_default()
    );
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// `(status, body)` of a call with `key`.
fn call(method: &str, url: &str, key: &str, body: Option<serde_json::Value>) -> (u16, String) {
    let a = agent();
    let auth = format!("Bearer {key}");
    let mut r = match (method, body) {
        ("GET", _) => a.get(url).header("authorization", &auth).call(),
        ("POST", b) => a
            .post(url)
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .send(
                b.unwrap_or_else(|| serde_json::json!({}))
                    .to_string()
                    .as_bytes(),
            ),
        (m, _) => panic!("method {m}"),
    }
    .expect("the server answers");
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().unwrap_or_default())
}

/// Both backends: SQLite always, PostgreSQL with `CUSTOS_TEST_DATABASE_URL`.
fn on_both(name: &str, f: impl Fn(&Scratch)) {
    f(&Scratch::new(name));
    match Scratch::postgres(name) {
        Some(s) => f(&s),
        None => eprintln!("CUSTOS_TEST_DATABASE_URL is not set: skipping the PostgreSQL half"),
    }
}

/// One record of `tenant` stored through the library; its id.
fn stored_record(s: &Scratch, tenant: &str) -> String {
    let rec = NewRecord {
        subject: SubjectId::new("jan@example.nl").expect("valid"),
        category: "support".into(),
        purposes: vec!["support".into()],
        payload: br#"{"message":"hallo"}"#.to_vec(),
        created_at: "2026-10-01T08:00:00Z".parse().expect("valid"),
        clocks: Default::default(),
    };
    s.vault()
        .tenant(&TenantId::new(tenant).expect("valid"))
        .put(&policy(), rec, jiff::Timestamp::now())
        .expect("stored")
        .to_string()
}

#[test]
fn init_prints_the_first_admin_key_once_and_a_second_init_prints_nothing_secret() {
    on_both("bootstrap", |s| {
        let first = keys_in(&s.init_out);
        assert_eq!(first.len(), 1, "one admin key:\n{}", s.init_out);
        let o = s.run(&["init"]);
        assert!(o.status.success(), "{}", err(&o));
        assert!(
            keys_in(&out(&o)).is_empty() && keys_in(&err(&o)).is_empty(),
            "a second init prints no key:\n{}{}",
            out(&o),
            err(&o)
        );
        assert!(out(&o).contains("an admin API key exists"), "{}", out(&o));
        let o = s.run(&["key", "list"]);
        assert!(o.status.success(), "{}", err(&o));
        let listed = out(&o);
        let id = &first[0][4..20];
        assert!(
            listed.contains(id) && listed.contains("admin"),
            "the admin key is listed:\n{listed}"
        );
        assert!(!listed.contains(&first[0][21..]), "no secret listed");
    });
}

#[test]
fn the_first_admin_key_and_cli_issued_keys_work_against_a_started_server_until_revoked() {
    on_both("keys-http", |s| {
        let admin = keys_in(&s.init_out).pop().expect("admin key printed");
        let server = serve(&s.dir, &config_file(s), "serve.log");
        // The bootstrap admin key creates a tenant over HTTP.
        let (status, body) = call(
            "POST",
            &format!("{}/v1/tenants", server.base),
            &admin,
            Some(serde_json::json!({ "id": "globex", "name": "Globex" })),
        );
        assert_eq!(status, 201, "{body}");
        // The command line creates another and issues its app key, with the server running.
        let o = s.run(&["tenant", "create", "acme", "--name", "Acme B.V."]);
        assert!(o.status.success(), "{}", err(&o));
        let o = s.run(&["tenant", "list"]);
        assert!(
            out(&o).contains("acme") && out(&o).contains("globex"),
            "{}",
            out(&o)
        );
        let o = s.run(&[
            "key", "issue", "--role", "app", "--tenant", "acme", "--label", "backend",
        ]);
        assert!(o.status.success(), "{}", err(&o));
        let app = out(&o).trim().to_owned();
        assert_eq!(keys_in(&app), vec![app.clone()], "stdout is the key alone");
        let key_id = app[4..20].to_owned();
        let record = stored_record(s, "acme");
        let url = format!("{}/v1/records/{record}", server.base);
        let (status, body) = call("GET", &url, &app, None);
        assert_eq!(status, 200, "the app key reads its tenant's record: {body}");
        let o = s.run(&["key", "list", "--tenant", "acme"]);
        assert!(
            out(&o).contains(&key_id) && out(&o).contains("backend"),
            "{}",
            out(&o)
        );
        let o = s.run(&["key", "revoke", &key_id]);
        assert!(o.status.success(), "{}", err(&o));
        // A running server caches a checked key for at most 5 seconds.
        let start = std::time::Instant::now();
        loop {
            let (status, _) = call("GET", &url, &app, None);
            if status == 401 {
                break;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(8),
                "a revoked key still answers {status}"
            );
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        let o = s.run(&["key", "revoke", &key_id]);
        assert_eq!(o.status.code(), Some(1), "revoking twice is refused");
        // Tenant creation, issue and revocation are in the audit trail, without secrets.
        let q = custos_audit::Query {
            limit: 1000,
            ..Default::default()
        };
        let entries = s
            .vault()
            .tenant(&TenantId::new("acme").expect("valid"))
            .audit(&q)
            .expect("audit trail");
        let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
        for a in ["tenant.create", "key.issue", "key.revoke"] {
            assert!(actions.contains(&a), "{a} audited: {actions:?}");
        }
        let all = serde_json::to_string(&entries).expect("json");
        for secret in [&admin[21..], &app[21..]] {
            assert!(!all.contains(secret), "a secret in the audit trail");
        }
        drop(server);
    });
}

#[test]
fn an_approver_key_approves_and_reads_nothing_else() {
    on_both("approver", |s| {
        let o = s.run(&["tenant", "create", "acme", "--name", "Acme"]);
        assert!(o.status.success(), "{}", err(&o));
        let issue = |role: &str| {
            let o = s.run(&[
                "key", "issue", "--role", role, "--tenant", "acme", "--label", role,
            ]);
            assert!(o.status.success(), "{}", err(&o));
            out(&o).trim().to_owned()
        };
        let (app, approver) = (issue("app"), issue("approver"));
        let record = stored_record(s, "acme");
        let server = serve(&s.dir, &config_file(s), "serve.log");
        let base = &server.base;
        let (status, body) = call(
            "POST",
            &format!("{base}/v1/approvals"),
            &app,
            Some(serde_json::json!({ "action": "draft.send", "item": "d-17", "subject": "erin" })),
        );
        assert_eq!(status, 201, "{body}");
        let id = serde_json::from_str::<serde_json::Value>(&body).expect("json")["approval_id"]
            .as_str()
            .expect("an id")
            .to_owned();
        let (status, body) = call("GET", &format!("{base}/v1/approvals"), &approver, None);
        assert_eq!(status, 200, "an approver sees what waits: {body}");
        assert!(body.contains(&id), "{body}");
        let (status, body) = call(
            "POST",
            &format!("{base}/v1/approvals/{id}/approve"),
            &approver,
            Some(serde_json::json!({})),
        );
        assert_eq!(status, 200, "an approver approves: {body}");
        assert!(body.contains("token"), "{body}");
        for (method, path, body) in [
            ("GET", format!("/v1/records/{record}"), None),
            ("GET", "/v1/requests".to_owned(), None),
            ("GET", "/v1/audit".to_owned(), None),
            (
                "POST",
                "/v1/approvals".to_owned(),
                Some(
                    serde_json::json!({ "action": "draft.send", "item": "d-18", "subject": "erin" }),
                ),
            ),
        ] {
            let (status, answer) = call(method, &format!("{base}{path}"), &approver, body);
            assert_eq!(status, 403, "an approver may not {method} {path}: {answer}");
        }
        let (status, body) = call(
            "POST",
            &format!("{base}/v1/approvals/{id}/reject"),
            &app,
            Some(serde_json::json!({ "reason": "no" })),
        );
        assert_eq!(status, 403, "an app key does not approve: {body}");
    });
}
