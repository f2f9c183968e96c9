//! A company database configured as a `[[dataset]]` (the sample mail application in SQLite):
//! an erasure request carried out over HTTP erases the subject there too and says so in its
//! answer, and the retention scheduler purges there. How the connectors work on each database
//! is the vault's suite; this is the server wiring.

use serde_json::json as j;

use custos_server::config::DatasetConfig;

use crate::data::{Setup, admin_key, json, open_backend, send, sqlite_config, tenant};
use crate::sample::{self, App, Dialect, Scale};
use crate::{Running, get};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The sample mail application in a fresh SQLite file beside the vault.
fn mail_db(config: &custos_server::Config) -> std::path::PathBuf {
    let path = std::path::Path::new(&config.database).with_file_name("app.db");
    std::fs::File::create(&path).expect("app database");
    let mut c = custos_vault::connect::open(&path.display().to_string()).expect("opens");
    for s in sample::statements(sample::schema(App::Mail, Dialect::Sqlite))
        .into_iter()
        .chain(sample::statements(&sample::generate(
            App::Mail,
            Dialect::Sqlite,
            &Scale::small(),
        )))
    {
        c.batch(&s).expect("sample");
    }
    path
}

fn count(db: &std::path::Path, sql: &str) -> i64 {
    let mut c = custos_vault::connect::open(&db.display().to_string()).expect("opens");
    let mut q = custos_vault::connect::Sql::new(c.dialect());
    q.push(sql);
    c.query(&q).expect("count")[0][0].int().expect("a number")
}

fn with_dataset(name: &str, purge: Option<std::time::Duration>) -> (Setup, std::path::PathBuf) {
    let mut config = sqlite_config(name);
    let db = mail_db(&config);
    config.datasets = vec![DatasetConfig {
        annotations: format!("{ROOT}/examples/connectors/mail.toml").into(),
        url_env: None,
        url: Some(db.display().to_string()),
    }];
    let backend = open_backend(&config);
    let admin = admin_key(&backend);
    let server = Running::start_custom(Some(backend), 1000, crate::JBSYNC.to_owned(), purge);
    (Setup { server, admin }, db)
}

#[test]
fn an_erasure_over_http_erases_the_subject_in_the_configured_dataset() {
    let (s, db) = with_dataset("dataset-erase", None);
    let (app, dpo, _) = tenant(&s, "acme");
    let who = "ann@example.test";
    let r = send(
        "POST",
        &s.server.url("/v1/requests"),
        &app,
        Some(j!({ "kind": "erasure", "subject": who })),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = json(&r)["request"]["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = send(
        "POST",
        &s.server.url(&format!("/v1/requests/{id}/verify")),
        &dpo,
        Some(j!({ "attested": "signed-in session in the app" })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM users WHERE id = 1"), 1);
    let r = send(
        "POST",
        &s.server.url(&format!("/v1/requests/{id}/execute")),
        &dpo,
        Some(j!({ "subject": who })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = json(&r);
    assert_eq!(v["request"]["state"], "completed", "{v}");
    let mail = &v["answer"]["datasets"][0];
    assert_eq!(mail["dataset"], "mail", "{v}");
    assert_eq!(mail["remaining"], 0, "{v}");
    assert_eq!(mail["kept"][0]["table"], "invoices", "{v}");
    assert!(!r.body.to_lowercase().contains("ann@"), "{}", r.body);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM users WHERE id = 1"), 0);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM whatsapp_messages WHERE user_id = 1"
        ),
        0
    );
}

#[test]
fn the_retention_scheduler_purges_the_configured_dataset() {
    let (s, db) = with_dataset("dataset-purge", Some(std::time::Duration::from_secs(1)));
    let expired =
        "SELECT COUNT(*) FROM whatsapp_messages WHERE sent_at < datetime('now', '-90 days')";
    let before = count(&db, expired);
    assert!(before > 0, "the sample has expired messages");
    // The rows go during a run; the run is counted when it ends.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let m = get(&s.server.url("/metrics")).body;
        if count(&db, expired) == 0 && m.contains("custos_purge_runs_total{outcome=\"ok\"}") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduler did not purge the dataset: {} rows left\n{m}",
            count(&db, expired)
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
