//! Connectors end to end on real databases: the sample mail and telemetry applications
//! (`testkit/connectors/`) loaded into SQLite, PostgreSQL and MariaDB, annotated by
//! `examples/connectors/*.toml` against the seed policies, then checked, read, erased (and
//! dry-run), purged, and refused when something is wrong. Each case runs on every dialect whose
//! server is configured (`CUSTOS_TEST_DATABASE_URL`, `CUSTOS_TEST_MARIADB_URL`; under CI all
//! three must run).

use std::collections::BTreeMap;

use custos_connect::{Annotations, Plan, Schema};
use custos_policy::source::SourceFile;
use custos_vault::connect::{self, Cell, Conn, ConnectorError, Identities, Sql};

use crate::sample::{self, App, Dialect, Scale};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// A scratch database of one dialect, dropped afterwards.
struct Db {
    url: String,
    drop: Option<(String, String)>,
    _dir: Option<std::path::PathBuf>,
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.drop
            && let Ok(mut c) = connect::open(admin)
        {
            let sql = if admin.starts_with("postgres") {
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            } else {
                format!("DROP DATABASE IF EXISTS {name}")
            };
            let _ = c.batch(&sql);
        }
        if let Some(d) = &self._dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn unique(case: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000;
    format!("custos_c_{case}_{n}_{}", std::process::id())
        .chars()
        .take(60)
        .collect()
}

/// The dialects to run on: SQLite always, the servers when configured.
fn databases(case: &str) -> Vec<(Dialect, Db)> {
    let mut out = Vec::new();
    let dir = std::env::temp_dir().join(unique(case));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("app.db");
    rusqlite::Connection::open(&file).unwrap();
    out.push((
        Dialect::Sqlite,
        Db {
            url: file.display().to_string(),
            drop: None,
            _dir: Some(dir),
        },
    ));
    if let Some(url) = crate::database_url::postgres_url() {
        let name = unique(case);
        let mut admin = connect::open(&url).unwrap();
        admin.batch(&format!("CREATE DATABASE {name}")).unwrap();
        let base = url.rsplit_once('/').unwrap().0;
        out.push((
            Dialect::Postgres,
            Db {
                url: format!("{base}/{name}"),
                drop: Some((url.clone(), name)),
                _dir: None,
            },
        ));
    } else {
        eprintln!(
            "note: CUSTOS_TEST_DATABASE_URL is not set; the PostgreSQL connector cases are skipped"
        );
    }
    if let Some(url) = crate::database_url::mariadb_url() {
        let name = unique(case);
        let mut admin = connect::open(&url).unwrap();
        admin.batch(&format!("CREATE DATABASE {name}")).unwrap();
        let base = url.trim_end_matches('/');
        let base = match base.split_once("://").map(|(_, r)| r.contains('/')) {
            Some(true) => base.rsplit_once('/').unwrap().0.to_owned(),
            _ => base.to_owned(),
        };
        out.push((
            Dialect::MariaDb,
            Db {
                url: format!("{base}/{name}"),
                drop: Some((url.clone(), name)),
                _dir: None,
            },
        ));
    } else {
        eprintln!(
            "note: CUSTOS_TEST_MARIADB_URL is not set; the MariaDB connector cases are skipped"
        );
    }
    out
}

fn load(conn: &mut dyn Conn, app: App, dialect: Dialect, scale: &Scale) {
    for s in sample::statements(sample::schema(app, dialect)) {
        conn.batch(&s)
            .unwrap_or_else(|e| panic!("{dialect:?} schema: {e}\n{s}"));
    }
    for s in sample::statements(&sample::generate(app, dialect, scale)) {
        conn.batch(&s)
            .unwrap_or_else(|e| panic!("{dialect:?} data: {e}\n{s}"));
    }
}

fn policy(name: &str) -> custos_policy::Policy {
    custos_policy::load(std::path::Path::new(&format!(
        "{ROOT}/examples/policies/{name}.toml"
    )))
    .unwrap()
    .policy
}

fn annotations(name: &str) -> (SourceFile, Annotations) {
    let file = SourceFile::read(std::path::Path::new(&format!(
        "{ROOT}/examples/connectors/{name}.toml"
    )))
    .unwrap();
    let ann =
        custos_connect::annotations::parse(&file).unwrap_or_else(|d| panic!("{}", d.render(&file)));
    (file, ann)
}

struct App1 {
    conn: Box<dyn Conn>,
    schema: Schema,
    plan: Plan,
    policy: custos_policy::Policy,
}

fn app(db: &Db, app: App, dialect: Dialect) -> App1 {
    let mut conn = connect::open(&db.url).unwrap();
    load(conn.as_mut(), app, dialect, &Scale::small());
    let (pol, ann) = match app {
        App::Mail => ("jbsync", "mail"),
        App::Telemetry => ("jetlink", "telemetry"),
    };
    let policy = policy(pol);
    let (file, ann) = annotations(ann);
    let schema = connect::introspect(conn.as_mut()).unwrap();
    let findings = custos_connect::check::check(&ann, &schema, &policy);
    let errors: Vec<String> = findings
        .iter()
        .filter(|d| d.severity == custos_policy::diag::Severity::Error)
        .map(|d| d.render(&file))
        .collect();
    assert!(errors.is_empty(), "{dialect:?}: {}", errors.join("\n"));
    let plan = Plan::build(&ann, &schema, &policy).unwrap_or_else(|e| panic!("{dialect:?}: {e:?}"));
    App1 {
        conn,
        schema,
        plan,
        policy,
    }
}

fn scalar(conn: &mut dyn Conn, text: &str) -> i64 {
    let mut sql = Sql::new(conn.dialect());
    sql.push(text);
    conn.query(&sql).unwrap()[0][0].int().unwrap_or(-1)
}

fn ann() -> Identities {
    Identities::from_given(&["Ann@Example.test".to_owned()], Some("31"))
}

fn access_rows(
    a: &mut App1,
    tenant: &str,
    ids: &Identities,
) -> (BTreeMap<String, u64>, Vec<String>) {
    let mut ids_seen = Vec::new();
    let summary = connect::access(a.conn.as_mut(), &a.plan, &a.policy, tenant, ids, &mut |r| {
        assert_eq!(r.source.as_deref(), Some(a.plan.dataset.as_str()));
        ids_seen.push(format!("{} {}", r.id, r.data.get()));
        Ok(())
    })
    .unwrap();
    (summary.rows, ids_seen)
}

#[test]
fn the_sample_annotations_pass_the_check_on_every_dialect_and_drift_fails_it_with_a_place() {
    for (dialect, db) in databases("check") {
        let mut a = app(&db, App::Mail, dialect);
        // A new column nobody annotated, and a table that went away.
        a.conn
            .batch("ALTER TABLE whatsapp_messages ADD COLUMN nickname VARCHAR(40) NULL")
            .unwrap();
        a.conn.batch("DROP TABLE tenant_settings").unwrap();
        let schema = connect::introspect(a.conn.as_mut()).unwrap();
        let (file, ann) = annotations("mail");
        let findings = custos_connect::check::check(&ann, &schema, &a.policy);
        let codes: Vec<&str> = findings.iter().map(|d| d.code).collect();
        assert!(codes.contains(&"D103"), "{dialect:?} {codes:?}");
        assert!(codes.contains(&"D102"), "{dialect:?} {codes:?}");
        let gone = findings
            .iter()
            .find(|d| d.code == "D102")
            .unwrap()
            .render(&file);
        assert!(gone.contains("mail.toml:"), "{gone}");
        assert!(matches!(Plan::build(&ann, &schema, &a.policy), Err(e) if !e.is_empty()));
        let _ = a.schema;
    }
}

#[test]
fn an_access_answer_walks_every_reference_and_leaves_other_people_and_tenants_out() {
    for (dialect, db) in databases("access") {
        let mut a = app(&db, App::Mail, dialect);
        let (rows, records) = access_rows(&mut a, "acme", &ann());
        let expect: BTreeMap<String, u64> = [
            ("users", 2), // ann's row, and bob's row that says ann invited him
            ("profiles", 1),
            ("mailbox_members", 2),
            ("mailboxes", 2),     // her own mailbox, and the shared one
            ("mail_metadata", 7), // five of hers, two of bob's that cc her
            ("drafts", 2),
            ("approvals", 2), // of her draft, and by her
            ("whatsapp_messages", 4),
            ("invoices", 2),
        ]
        .into_iter()
        .map(|(t, n)| (t.to_owned(), n))
        .collect();
        assert_eq!(rows, expect, "{dialect:?}");
        let all = records.join("\n");
        assert!(
            !all.contains("dave@example.test"),
            "{dialect:?}: another person's address in the answer"
        );
        assert!(
            !all.contains("/mail_metadata/501"),
            "{dialect:?}: globex's ann reached from acme"
        );
        // The same person by phone only finds the profile and, through it, nothing else owned.
        let by_phone = Identities::from_given(&["0612345678".to_owned()], Some("31"));
        let (rows, _) = access_rows(&mut a, "acme", &by_phone);
        assert_eq!(rows.get("profiles"), Some(&1), "{dialect:?}");
    }
}

#[test]
fn an_erasure_deletes_masks_and_keeps_as_annotated_and_proves_nothing_remains() {
    for (dialect, db) in databases("erase") {
        let mut a = app(&db, App::Mail, dialect);
        let conn = a.conn.as_mut();
        let before_globex = scalar(
            conn,
            "SELECT COUNT(*) FROM users WHERE tenant_id = 'globex'",
        );
        // The dry run lists the SQL with placeholders and writes nothing.
        let dry = connect::erase_dry_run(conn, &a.plan, &a.policy, "acme", &ann()).unwrap();
        assert!(
            dry.dry_run && dry.statements.iter().any(|s| s.starts_with("DELETE FROM")),
            "{dialect:?}"
        );
        assert!(
            dry.statements.iter().all(|s| !s.contains("ann@")),
            "{dialect:?}: identity in the SQL text"
        );
        assert_eq!(
            scalar(conn, "SELECT COUNT(*) FROM users WHERE id = 1"),
            1,
            "{dialect:?}: the dry run wrote"
        );
        let receipt =
            connect::erase(conn, &a.plan, &a.policy, "acme", &ann(), &|_| "h".into()).unwrap();
        assert_eq!(receipt.remaining, 0, "{dialect:?}");
        let by: BTreeMap<&str, &connect::TableCount> = receipt
            .tables
            .iter()
            .map(|t| (t.table.as_str(), t))
            .collect();
        assert_eq!(by["users"].deleted, 1, "{dialect:?}");
        assert_eq!(by["users"].masked, 1, "{dialect:?}");
        assert_eq!(by["mail_metadata"].deleted, 5, "{dialect:?}");
        assert_eq!(by["mail_metadata"].masked, 2, "{dialect:?}");
        assert_eq!(by["whatsapp_messages"].deleted, 4, "{dialect:?}");
        assert_eq!(
            by["mailboxes"].deleted, 1,
            "{dialect:?}: her own mailbox goes, the shared one stays"
        );
        assert_eq!(by["approvals"].masked, 2, "{dialect:?}");
        assert_eq!(by["invoices"].kept, 2, "{dialect:?}");
        assert!(by["invoices"].kept_until.is_some(), "{dialect:?}");
        assert_eq!(scalar(conn, "SELECT COUNT(*) FROM users WHERE id = 1"), 0);
        assert_eq!(
            scalar(conn, "SELECT COUNT(*) FROM mailboxes WHERE id = 11"),
            1
        );
        assert_eq!(
            scalar(
                conn,
                "SELECT COUNT(*) FROM users WHERE id = 2 AND invited_by IS NULL"
            ),
            1
        );
        assert_eq!(
            scalar(
                conn,
                "SELECT COUNT(*) FROM approvals WHERE id IN (301, 302)"
            ),
            2
        );
        assert_eq!(
            scalar(conn, "SELECT COUNT(*) FROM invoices WHERE id IN (601, 602)"),
            2
        );
        assert_eq!(
            scalar(
                conn,
                "SELECT COUNT(*) FROM users WHERE tenant_id = 'globex'"
            ),
            before_globex
        );
        let mut sql = Sql::new(conn.dialect());
        sql.push(if dialect == Dialect::Postgres {
            "SELECT headers::text FROM mail_metadata WHERE id = 111"
        } else {
            "SELECT headers FROM mail_metadata WHERE id = 111"
        });
        let headers = conn.query(&sql).unwrap()[0][0].text().unwrap();
        assert!(
            !headers.to_lowercase().contains("ann@"),
            "{dialect:?}: {headers}"
        );
        assert!(
            headers.contains("dave@example.test"),
            "{dialect:?}: {headers}"
        );
        // Idempotent: again, nothing to do and nothing left.
        let again =
            connect::erase(conn, &a.plan, &a.policy, "acme", &ann(), &|_| "h".into()).unwrap();
        assert_eq!(again.remaining, 0);
        assert!(
            again.tables.iter().all(|t| t.deleted == 0 && t.masked == 0),
            "{dialect:?}: {:?}",
            again.tables
        );
    }
}

#[test]
fn a_locked_row_stops_the_erasure_with_nothing_changed() {
    for (dialect, db) in databases("locked") {
        if dialect == Dialect::Sqlite {
            // One writer at a time: covered by the busy timeout of every SQLite connection.
            continue;
        }
        let mut a = app(&db, App::Mail, dialect);
        a.plan.lock_timeout = 1;
        let mut other = connect::open(&db.url).unwrap();
        other
            .batch(if dialect == Dialect::Postgres {
                "BEGIN"
            } else {
                "START TRANSACTION"
            })
            .unwrap();
        other
            .batch("UPDATE whatsapp_messages SET body = body WHERE id = 402")
            .unwrap();
        let e = connect::erase(a.conn.as_mut(), &a.plan, &a.policy, "acme", &ann(), &|_| {
            "h".into()
        })
        .unwrap_err();
        assert!(matches!(e, ConnectorError::Busy { .. }), "{dialect:?}: {e}");
        other.batch("ROLLBACK").unwrap();
        assert_eq!(
            scalar(a.conn.as_mut(), "SELECT COUNT(*) FROM users WHERE id = 1"),
            1
        );
        assert_eq!(
            scalar(
                a.conn.as_mut(),
                "SELECT COUNT(*) FROM mail_metadata WHERE user_id = 1"
            ),
            5
        );
    }
}

#[test]
fn a_purge_deletes_what_expired_in_batches_and_keeps_the_rest() {
    for (dialect, db) in databases("purge") {
        let mut a = app(&db, App::Mail, dialect);
        let conn = a.conn.as_mut();
        let young = scalar(
            conn,
            match dialect {
                Dialect::Postgres => {
                    "SELECT COUNT(*) FROM mail_metadata WHERE received_at >= now() - interval '7 days' + interval '1 minute'"
                }
                Dialect::MariaDb => {
                    "SELECT COUNT(*) FROM mail_metadata WHERE received_at >= UTC_TIMESTAMP(6) - INTERVAL 7 DAY + INTERVAL 1 MINUTE"
                }
                Dialect::Sqlite => {
                    "SELECT COUNT(*) FROM mail_metadata WHERE received_at >= datetime('now', '-7 days', '+1 minute')"
                }
            },
        );
        let now = jiff::Timestamp::now();
        let receipt = connect::purge(
            conn,
            &a.plan,
            &a.schema,
            &a.policy,
            &|_| Default::default(),
            &|_, _| None,
            now,
            7,
        )
        .unwrap();
        let mail: Vec<_> = receipt
            .tables
            .iter()
            .filter(|t| t.table == "mail_metadata")
            .collect();
        assert!(
            mail.iter().map(|t| t.deleted).sum::<u64>() > 0,
            "{dialect:?}"
        );
        assert!(
            mail.iter().any(|t| t.batches > 1),
            "{dialect:?}: batches of 7"
        );
        let cutoff = match dialect {
            Dialect::Postgres => {
                "SELECT COUNT(*) FROM mail_metadata WHERE received_at < now() - interval '7 days' - interval '1 minute'"
            }
            Dialect::MariaDb => {
                "SELECT COUNT(*) FROM mail_metadata WHERE received_at < UTC_TIMESTAMP(6) - INTERVAL 7 DAY - INTERVAL 1 MINUTE"
            }
            Dialect::Sqlite => {
                "SELECT COUNT(*) FROM mail_metadata WHERE received_at < datetime('now', '-7 days', '-1 minute')"
            }
        };
        assert_eq!(scalar(conn, cutoff), 0, "{dialect:?}: expired mail left");
        assert_eq!(
            scalar(conn, "SELECT COUNT(*) FROM mail_metadata"),
            young,
            "{dialect:?}: young mail purged"
        );
        // Invoices are kept seven years: only those older go.
        assert_eq!(
            scalar(conn, "SELECT COUNT(*) FROM invoices WHERE id = 601"),
            1
        );
        assert_eq!(
            scalar(conn, "SELECT COUNT(*) FROM invoices WHERE id = 602"),
            0
        );
        // A legal hold keeps a tenant's rows.
        let held = connect::purge(
            conn,
            &a.plan,
            &a.schema,
            &a.policy,
            &|_| Default::default(),
            &|t, _| (t == "acme").then(|| "hold h1".into()),
            now,
            100,
        )
        .unwrap();
        assert!(
            held.tables
                .iter()
                .filter(|t| t.tenant == "acme")
                .all(|t| t.deleted == 0 && t.skipped.is_some())
        );
        assert!(!receipt.events("test").is_empty());
        let _ = Cell::Null;
    }
}

#[test]
fn telemetry_during_an_operators_sessions_is_theirs_and_stays_unlinked_after_erasure() {
    for (dialect, db) in databases("telemetry") {
        let mut a = app(&db, App::Telemetry, dialect);
        let olga = Identities::from_given(&["olga@example.test".to_owned()], Some("49"));
        let (rows, _) = access_rows(&mut a, "acme", &olga);
        assert_eq!(rows.get("operators"), Some(&1), "{dialect:?} {rows:?}");
        assert_eq!(rows.get("sessions"), Some(&2), "{dialect:?} {rows:?}");
        let readings = *rows.get("telemetry").unwrap_or(&0);
        assert!(readings > 0, "{dialect:?} {rows:?}");
        let total = scalar(a.conn.as_mut(), "SELECT COUNT(*) FROM telemetry");
        let receipt = connect::erase(a.conn.as_mut(), &a.plan, &a.policy, "acme", &olga, &|_| {
            "h".into()
        })
        .unwrap();
        assert_eq!(receipt.remaining, 0, "{dialect:?}");
        let t = receipt
            .tables
            .iter()
            .find(|t| t.table == "telemetry")
            .unwrap();
        assert_eq!(t.unlinked, readings, "{dialect:?}");
        assert_eq!(
            scalar(a.conn.as_mut(), "SELECT COUNT(*) FROM telemetry"),
            total
        );
        let (rows, _) = access_rows(&mut a, "acme", &olga);
        assert!(rows.is_empty(), "{dialect:?} {rows:?}");
    }
}

#[test]
fn a_database_that_refuses_the_login_is_named_without_its_password() {
    for url in [
        "postgres://custos:s3cret-pw@127.0.0.1:1/nothing",
        "mysql://root:s3cret-pw@127.0.0.1:1/nothing",
        "/nonexistent/app.db",
    ] {
        let e = connect::open(url).err().expect(url);
        let text = e.to_string();
        assert!(matches!(e, ConnectorError::Unavailable { .. }), "{text}");
        assert!(!text.contains("s3cret-pw"), "{text}");
        assert_eq!(e.code().name(), "connector-unavailable");
    }
}

#[test]
fn an_erasure_that_leaves_the_subject_an_account_is_rolled_back_unverified() {
    // A trigger brings the subject back while the erasure runs: as her profile goes, a new
    // account under her address (written otherwise, the same once normalised) and a message it
    // owns, which only the users → whatsapp_messages edge leads to. The erasure's own walk ran
    // before either existed, so only the proof before the commit can see them.
    let users = "INSERT INTO users (id, tenant_id, email, display_name, invited_by, created_at) VALUES (77, OLD.tenant_id, ' ANN@example.test', 'Ann again', NULL,";
    let message = "INSERT INTO whatsapp_messages (id, tenant_id, user_id, peer_phone, body, sent_at, deleted_at) VALUES (477, OLD.tenant_id, 77, '+31 6 5555 0007', 'Back again',";
    for (dialect, db) in databases("unverified") {
        let mut a = app(&db, App::Mail, dialect);
        let trigger: Vec<String> = match dialect {
            Dialect::Postgres => vec![
                format!(
                    "CREATE FUNCTION custos_test_back() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF OLD.user_id = 1 THEN {users} now()); {message} now(), NULL); END IF; RETURN OLD; END $$"
                ),
                "CREATE TRIGGER custos_test_back AFTER DELETE ON profiles FOR EACH ROW EXECUTE FUNCTION custos_test_back()".to_owned(),
            ],
            Dialect::MariaDb => vec![format!(
                "CREATE TRIGGER custos_test_back AFTER DELETE ON profiles FOR EACH ROW BEGIN IF OLD.user_id = 1 THEN {users} UTC_TIMESTAMP(6)); {message} UTC_TIMESTAMP(6), NULL); END IF; END"
            )],
            Dialect::Sqlite => vec![format!(
                "CREATE TRIGGER custos_test_back AFTER DELETE ON profiles FOR EACH ROW WHEN OLD.user_id = 1 BEGIN {users} datetime('now')); {message} datetime('now'), NULL); END"
            )],
        };
        for s in &trigger {
            a.conn
                .batch(s)
                .unwrap_or_else(|e| panic!("{dialect:?}: {e}\n{s}"));
        }
        let e = connect::erase(a.conn.as_mut(), &a.plan, &a.policy, "acme", &ann(), &|_| {
            "h".into()
        })
        .unwrap_err();
        match &e {
            ConnectorError::Unverified { remaining, tables } => {
                assert!(*remaining > 0, "{dialect:?}: {e}");
                assert!(tables.contains("users"), "{dialect:?}: {e}");
            }
            other => panic!("{dialect:?}: not unverified: {other}"),
        }
        // Nothing was committed: her rows are all there, the trigger's are not.
        let conn = a.conn.as_mut();
        assert_eq!(
            scalar(conn, "SELECT COUNT(*) FROM users WHERE id = 1"),
            1,
            "{dialect:?}"
        );
        assert_eq!(
            scalar(conn, "SELECT COUNT(*) FROM profiles WHERE user_id = 1"),
            1
        );
        assert_eq!(
            scalar(conn, "SELECT COUNT(*) FROM mail_metadata WHERE user_id = 1"),
            5,
            "{dialect:?}"
        );
        assert_eq!(scalar(conn, "SELECT COUNT(*) FROM users WHERE id = 77"), 0);
        assert_eq!(
            scalar(
                conn,
                "SELECT COUNT(*) FROM whatsapp_messages WHERE id = 477"
            ),
            0
        );
    }
}

#[test]
fn a_customers_rows_go_ninety_days_after_its_contract_ended_by_a_clock_on_another_table() {
    // JetLink deletes a customer's data within 90 days after the contract ends: Oldfield Bakery
    // (organisation 2) ended 120 days ago, so its operator quinn (3), her session (4) and its
    // machine's readings go; Acme's own (organisation 1, no end) and Globex's stay.
    for (dialect, db) in databases("through") {
        let mut a = app(&db, App::Telemetry, dialect);
        let conn = a.conn.as_mut();
        let readings = |conn: &mut dyn Conn, machine: i64| {
            scalar(
                conn,
                &format!("SELECT COUNT(*) FROM telemetry WHERE machine_id = {machine}"),
            )
        };
        let (bakery, acme, globex) = (readings(conn, 3), readings(conn, 1), readings(conn, 500));
        assert!(bakery > 0 && acme > 0 && globex > 0, "{dialect:?}");
        let receipt = connect::purge(
            conn,
            &a.plan,
            &a.schema,
            &a.policy,
            &|_| Default::default(),
            &|_, _| None,
            jiff::Timestamp::now(),
            50,
        )
        .unwrap_or_else(|e| panic!("{dialect:?}: {e}"));
        assert_eq!(readings(conn, 3), 0, "{dialect:?}");
        assert_eq!(readings(conn, 1), acme, "{dialect:?}");
        assert_eq!(readings(conn, 500), globex, "{dialect:?}");
        assert_eq!(
            scalar(conn, "SELECT COUNT(*) FROM operators WHERE id = 3"),
            0,
            "{dialect:?}"
        );
        assert_eq!(
            scalar(conn, "SELECT COUNT(*) FROM sessions WHERE id = 4"),
            0,
            "{dialect:?}"
        );
        assert_eq!(
            scalar(
                conn,
                "SELECT COUNT(*) FROM operators WHERE id IN (1, 2, 500)"
            ),
            3,
            "{dialect:?}"
        );
        assert_eq!(
            scalar(conn, "SELECT COUNT(*) FROM organisations WHERE id = 2"),
            1,
            "the organisation itself holds no personal data and stays"
        );
        let deleted = |table: &str| -> u64 {
            receipt
                .tables
                .iter()
                .filter(|t| t.table == table && t.tenant == "acme")
                .map(|t| t.deleted)
                .sum()
        };
        assert_eq!(deleted("operators"), 1, "{dialect:?}");
        assert_eq!(deleted("sessions"), 1, "{dialect:?}");
        assert_eq!(deleted("telemetry"), bakery as u64, "{dialect:?}");
        // Children went first: the sessions of the operator were purged before the operator.
        let at = |table: &str| receipt.tables.iter().position(|t| t.table == table);
        assert!(at("sessions") < at("operators"), "{dialect:?}");
    }
}
