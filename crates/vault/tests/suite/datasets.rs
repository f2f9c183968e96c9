//! The company's own databases inside Custos's own use cases (PRODUCT.md C10): a configured
//! dataset (the sample mail application in SQLite, annotated by `examples/connectors/mail.toml`)
//! is part of a request's access answer and erasure and of the purge, with the vault's holds and
//! settings, and a dataset that is down or drifted stops the job before anything changes.
//! The dialects themselves are `connectors.rs`'s; here the vault's handling is what is tested.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use custos_policy::Lang;
use custos_vault::connect::{ConnectorError, Dataset};
use custos_vault::rights::{Executed, Rectification, RequestKind, RequestState};
use custos_vault::{HoldTarget, Vault, VaultError};

use crate::harness::{
    Backend, audit_entries, example_policy, file_request_id, new_request, put, scratch, subject,
    tenant, ts, verify_attested,
};
use crate::sample::{self, App, Dialect, Scale};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Ann, the sample's fixed subject in tenant `acme`, as the request names her.
const ANN: &str = "Ann@Example.test";

/// The sample mail application in a fresh SQLite file.
fn mail_db(case: &str) -> PathBuf {
    let dir = scratch(&format!("dataset-{case}"));
    let path = dir.join("app.db");
    let c = rusqlite::Connection::open(&path).expect("app database");
    for s in sample::statements(sample::schema(App::Mail, Dialect::Sqlite)) {
        c.execute_batch(&s).expect("schema");
    }
    for s in sample::statements(&sample::generate(
        App::Mail,
        Dialect::Sqlite,
        &Scale::small(),
    )) {
        c.execute_batch(&s).expect("data");
    }
    path
}

fn dataset(db: &Path) -> Dataset {
    Dataset::load(
        Path::new(&format!("{ROOT}/examples/connectors/mail.toml")),
        db.display().to_string(),
    )
    .expect("the sample annotations parse")
}

fn count(db: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .expect("app database")
        .query_row(sql, [], |r| r.get(0))
        .expect("count")
}

fn with(v: &mut Vault, datasets: Vec<Dataset>) {
    v.set_datasets(Arc::new(datasets));
}

/// Ann's one record in the vault (a support message); its id.
fn ann_record(
    t: &mut custos_vault::TenantVault<'_>,
    policy: &custos_policy::Policy,
) -> custos_vault::RecordId {
    put(
        t,
        policy,
        ANN,
        "support",
        "support",
        ts("2026-01-10T00:00:00Z"),
    )
}

/// The sample's mail annotations with `edit` applied, as a dataset on `db` (for the checks that
/// refuse an annotation).
fn edited_dataset(db: &Path, edit: impl FnOnce(&str) -> String) -> Dataset {
    let text = std::fs::read_to_string(format!("{ROOT}/examples/connectors/mail.toml"))
        .expect("annotations");
    let edited = edit(&text);
    assert_ne!(text, edited, "the edit changes the annotations");
    Dataset::from_source(
        custos_policy::source::SourceFile::new("mail.toml", edited),
        db.display().to_string(),
    )
    .expect("parses")
}

/// Files and verifies a request of `kind` for Ann; returns its id.
fn verified(v: &mut Vault, kind: RequestKind) -> String {
    let policy = example_policy("jbsync.toml");
    let mut t = v.tenant(&tenant("acme"));
    let id = file_request_id(&mut t, &policy, new_request(kind, ANN, None, "2026-03-02"));
    verify_attested(&mut t, &id, "signed-in session", ts("2026-03-02T11:00:00Z"));
    id
}

#[test]
fn an_erasure_request_erases_the_subject_in_the_companys_database_with_a_receipt() {
    let policy = example_policy("jbsync.toml");
    let db = mail_db("erase");
    let b = Backend::sqlite("dataset_erase");
    let mut v = b.open();
    with(&mut v, vec![dataset(&db)]);
    let mut t = v.tenant(&tenant("acme"));
    ann_record(&mut t, &policy);
    drop(t);
    let id = verified(&mut v, RequestKind::Erasure);
    let mut t = v.tenant(&tenant("acme")).acting_as("key-1");
    let executed = t
        .execute_request(
            &policy,
            &id,
            &subject(ANN),
            Rectification::default(),
            ts("2026-03-03T09:00:00Z"),
        )
        .expect("erased in the vault and in the dataset");
    let Executed::Erasure(answer) = executed else {
        panic!("an erasure answers with what it erased")
    };
    assert_eq!(answer.records_erased, 1, "the vault's own record");
    let [mail] = answer.datasets.as_slice() else {
        panic!("one dataset in the answer: {:?}", answer.datasets)
    };
    assert_eq!(mail.dataset, "mail");
    assert_eq!(mail.remaining, 0, "verified after the commit");
    assert!(mail.deleted >= 12, "{mail:?}");
    assert_eq!(mail.masked, 5, "{mail:?}");
    let invoices = mail.kept.iter().find(|k| k.table == "invoices");
    assert!(
        invoices.is_some_and(|k| k.rows == 2 && k.until.is_some()),
        "invoices kept under Art. 17(3)(b) with their date: {mail:?}"
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM users WHERE id = 1"), 0);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM invoices WHERE id IN (601, 602)"),
        2
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM users WHERE tenant_id = 'globex' AND id = 500"
        ),
        1,
        "the same address in another tenant is another tenant's person"
    );
    // The receipt: pseudonym and counts, never the address.
    let pseudonym = t.pseudonym(&subject(ANN)).as_str().to_owned();
    let receipts = audit_entries(&mut t, Some("connector.erase"), 10);
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].subject.as_deref(), Some(pseudonym.as_str()));
    assert!(!receipts[0].details.to_lowercase().contains("ann@"));
    assert_eq!(receipts[0].actor, "key-1");
    let r = t.request(&id).expect("request");
    assert_eq!(r.state, RequestState::Completed);
}

#[test]
fn a_dataset_that_cannot_be_reached_stops_the_erasure_before_anything_is_erased() {
    let policy = example_policy("jbsync.toml");
    let db = mail_db("down");
    let b = Backend::sqlite("dataset_down");
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let record = ann_record(&mut t, &policy);
    drop(t);
    // The reachable dataset first, the unreachable one second: neither is written.
    let gone = db.with_file_name("moved-away.db");
    with(&mut v, vec![dataset(&db), dataset(&gone)]);
    let id = verified(&mut v, RequestKind::Erasure);
    let mut t = v.tenant(&tenant("acme"));
    let e = t
        .execute_request(
            &policy,
            &id,
            &subject(ANN),
            Rectification::default(),
            ts("2026-03-03T09:00:00Z"),
        )
        .expect_err("a database that is down stops the erasure");
    assert_eq!(
        e.code(),
        custos_types::ErrorCode::ConnectorUnavailable,
        "{e}"
    );
    assert!(!e.to_string().to_lowercase().contains("ann@"), "{e}");
    assert!(t.get(&record).is_ok(), "the vault's record is still there");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM users WHERE id = 1"), 1);
    assert_eq!(
        t.request(&id).expect("request").state,
        RequestState::InProgress,
        "the request waits to be carried out again"
    );
    drop(t);
    // Once the database is back, the same request finishes.
    with(&mut v, vec![dataset(&db)]);
    let mut t = v.tenant(&tenant("acme"));
    t.execute_request(
        &policy,
        &id,
        &subject(ANN),
        Rectification::default(),
        ts("2026-03-03T10:00:00Z"),
    )
    .expect("carried out again");
    assert!(t.get(&record).is_err());
    assert_eq!(count(&db, "SELECT COUNT(*) FROM users WHERE id = 1"), 0);
}

#[test]
fn a_schema_that_drifted_from_its_annotations_stops_the_erasure_and_says_where() {
    let policy = example_policy("jbsync.toml");
    let db = mail_db("drift");
    rusqlite::Connection::open(&db)
        .expect("app database")
        .execute_batch("ALTER TABLE whatsapp_messages ADD COLUMN nickname TEXT")
        .expect("drift");
    let b = Backend::sqlite("dataset_drift");
    let mut v = b.open();
    with(&mut v, vec![dataset(&db)]);
    let id = verified(&mut v, RequestKind::Erasure);
    let mut t = v.tenant(&tenant("acme"));
    let e = t
        .execute_request(
            &policy,
            &id,
            &subject(ANN),
            Rectification::default(),
            ts("2026-03-03T09:00:00Z"),
        )
        .expect_err("drift stops it");
    assert_eq!(e.code(), custos_types::ErrorCode::DatasetCheckFailed, "{e}");
    let text = e.to_string();
    assert!(
        text.contains("mail.toml:") && text.contains("nickname"),
        "{text}"
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM users WHERE id = 1"), 1);
}

#[test]
fn a_legal_hold_on_the_subject_keeps_the_companys_rows_too() {
    let policy = example_policy("jbsync.toml");
    let db = mail_db("hold");
    let b = Backend::sqlite("dataset_hold");
    let mut v = b.open();
    with(&mut v, vec![dataset(&db)]);
    let id = verified(&mut v, RequestKind::Erasure);
    let mut t = v.tenant(&tenant("acme"));
    t.place_hold(
        &policy,
        &HoldTarget::Subject(subject(ANN)),
        "case 2026-17",
        ts("2026-03-02T12:00:00Z"),
    )
    .expect("hold");
    let e = t
        .execute_request(
            &policy,
            &id,
            &subject(ANN),
            Rectification::default(),
            ts("2026-03-03T09:00:00Z"),
        )
        .expect_err("held");
    assert!(matches!(e, VaultError::Held { .. }), "{e:?}");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM users WHERE id = 1"), 1);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM mail_metadata WHERE tenant_id = 'acme' AND user_id = 1"
        ),
        5
    );
}

#[test]
fn an_access_answer_holds_the_companys_rows_marked_by_source() {
    let policy = example_policy("jbsync.toml");
    let db = mail_db("access");
    let b = Backend::sqlite("dataset_access");
    let mut v = b.open();
    with(&mut v, vec![dataset(&db)]);
    let mut t = v.tenant(&tenant("acme"));
    ann_record(&mut t, &policy);
    drop(t);
    let id = verified(&mut v, RequestKind::Access);
    let dir = scratch("dataset-access-answer");
    let zip = dir.join("answer.zip");
    let mut t = v.tenant(&tenant("acme"));
    let (r, written) = t
        .answer_request::<ConnectorError, _>(
            &policy,
            &id,
            &subject(ANN),
            Lang::En,
            ts("2026-03-03T09:00:00Z"),
            std::fs::File::create(&zip).expect("answer file"),
            |_| Ok(()),
        )
        .expect("answered");
    assert_eq!(r.state, RequestState::Completed);
    let out = dir.join("out");
    crate::unzip::extract(&zip, &out);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("data.json")).expect("data.json"))
            .expect("JSON");
    let records = json["records"].as_array().expect("records");
    let from_mail = records.iter().filter(|r| r["source"] == "mail").count();
    assert_eq!(
        records.len() - from_mail,
        1,
        "the vault's record, without a source"
    );
    assert_eq!(from_mail, 24, "every row the walk reaches in the sample");
    assert_eq!(written.records as usize, records.len());
    let all = serde_json::to_string(records).expect("text");
    assert!(
        !all.contains("dave@example.test"),
        "another person's address"
    );
    // The report names the categories found in the dataset (Art. 15(1)(b)).
    let categories: Vec<&str> = json["information"]["categories"]
        .as_array()
        .map(|c| c.iter().filter_map(|x| x["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(categories.contains(&"mail.metadata"), "{categories:?}");
    assert!(categories.contains(&"support"), "{categories:?}");
}

#[test]
fn the_purge_applies_the_vaults_holds_and_settings_in_the_dataset() {
    let policy = example_policy("jbsync.toml");
    let db = mail_db("purge");
    let b = Backend::sqlite("dataset_purge");
    let mut v = b.open();
    let d = dataset(&db);
    // Tenant acme is known to the vault and under a hold; t001 (a bulk tenant the vault does
    // not know) follows the policy's own period.
    let mut t = v.tenant(&tenant("acme"));
    ann_record(&mut t, &policy);
    t.place_hold(
        &policy,
        &HoldTarget::Tenant,
        "audit 2026",
        ts("2026-03-02T12:00:00Z"),
    )
    .expect("hold");
    drop(t);
    let due = |tenant: &str| {
        count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM whatsapp_messages WHERE tenant_id = '{tenant}' AND sent_at < datetime('now', '-90 days')"
            ),
        )
    };
    let (acme, bulk) = (due("acme"), due("t001"));
    assert!(
        acme > 0 && bulk > 0,
        "the sample has expired messages in both tenants"
    );
    let mut prepared = d.prepare(&policy).expect("prepared");
    let receipt = v
        .purge_dataset(
            &policy,
            &mut prepared,
            jiff::Timestamp::now(),
            100,
            "custos:test",
        )
        .expect("purged");
    assert_eq!(due("acme"), acme, "the hold keeps acme's rows");
    assert_eq!(due("t001"), 0, "t001's expired messages are gone");
    let skipped = receipt
        .tables
        .iter()
        .find(|t| t.tenant == "acme" && t.table == "whatsapp_messages")
        .and_then(|t| t.skipped.clone());
    assert!(skipped.is_some_and(|s| s.contains("legal hold")));
    let mut t = v.tenant(&tenant("acme"));
    assert!(
        !audit_entries(&mut t, Some("connector.purge"), 10).is_empty(),
        "the skip is on record"
    );
    // A dataset the purge cannot prepare says so and changes nothing.
    let e = dataset(&db.with_file_name("gone.db"))
        .prepare(&policy)
        .err()
        .expect("unreachable");
    assert!(matches!(e, ConnectorError::Unavailable { .. }), "{e:?}");
}

#[test]
fn rows_kept_by_law_need_a_purge_that_ends_their_keeping() {
    let policy = example_policy("jbsync.toml");
    let db = mail_db("keep");
    // Without the sample's purge of invoices on issued_at.
    let d = edited_dataset(&db, |text| {
        text.replace("retention = [{ clock = \"issued_at\" }]\n", "")
    });
    let e = d.prepare(&policy).err().expect("refused");
    let text = e.to_string();
    assert!(
        text.contains("D136") && text.contains("mail.toml:"),
        "{text}"
    );
}

#[test]
fn a_clock_on_another_table_must_be_reached_by_keys() {
    let policy = example_policy("jbsync.toml");
    let db = mail_db("hops");
    let own = "retention = [{ clock = \"received_at\" }]";
    for (through, expect) in [
        ("mailbox_id -> mailboxes.name", "not a key of its own"),
        ("mailbox_id -> nowhere.id", "does not have"),
        ("mailbox_id mailboxes.id", "is not a hop"),
    ] {
        let d = edited_dataset(&db, |text| {
            text.replace(
                own,
                &format!("retention = [{{ clock = \"created_at\", through = [\"{through}\"] }}]"),
            )
        });
        let e = d.prepare(&policy).err().expect("refused").to_string();
        assert!(e.contains("D142") && e.contains(expect), "{through}: {e}");
    }
}

#[test]
fn a_foreign_key_the_walk_ignores_still_orders_the_deletes() {
    // drafts.mail_id is annotated `ignore` (a draft is the user's own, whoever's mail it
    // answers); its ON DELETE SET NULL would still update every draft that the same erasure
    // deletes right after, unless the drafts go first.
    let policy = example_policy("jbsync.toml");
    let db = mail_db("order");
    let p = dataset(&db).prepare(&policy).expect("prepared");
    let at = |name: &str| {
        p.plan
            .delete_order
            .iter()
            .position(|&i| p.plan.tables[i].name == name)
            .unwrap_or_else(|| panic!("{name} is deleted"))
    };
    assert!(
        at("drafts") < at("mail_metadata"),
        "{:?}",
        p.plan.delete_order
    );
}

/// Art. 33(3)(a): a breach of `account` (and everything under `mail`) counts the tenant's rows
/// the company's database holds now, per table, with distinct subjects where one column names
/// them, and nothing of another tenant; the query's digest is in the trail.
#[test]
fn a_breach_counts_the_tenants_rows_in_the_companys_database() {
    let db = mail_db("breach-count");
    let policy = example_policy("jbsync.toml");
    let b = Backend::sqlite("dataset_breach_count");
    let mut v = b.open();
    with(&mut v, vec![dataset(&db)]);
    let mut t = v.tenant(&tenant("acme"));
    let held = t
        .breach_affected_in_datasets(
            &policy,
            Some("0123"),
            &["account".to_owned(), "mail".to_owned()],
            ts("2026-11-02T09:00:00Z"),
        )
        .expect("counted");
    assert_eq!(held.len(), 1);
    let tables = &held[0].tables;
    let of = |name: &str| {
        tables
            .iter()
            .find(|c| c.table == name)
            .unwrap_or_else(|| panic!("{name}: {tables:?}"))
    };
    let users = count(&db, "SELECT COUNT(*) FROM users WHERE tenant_id = 'acme'");
    assert!(users > 0);
    assert_eq!(of("users").rows, users as u64);
    assert_eq!(
        of("users").subjects,
        Some(count(
            &db,
            "SELECT COUNT(DISTINCT email) FROM users WHERE tenant_id = 'acme'"
        ) as u64)
    );
    assert_eq!(
        of("mail_metadata").category,
        "mail.metadata",
        "`mail` covers its sub-categories"
    );
    assert_eq!(
        of("mail_metadata").rows,
        count(
            &db,
            "SELECT COUNT(*) FROM mail_metadata WHERE tenant_id = 'acme'"
        ) as u64
    );
    assert_eq!(
        of("mail_metadata").subjects,
        None,
        "no single column names the subject"
    );
    assert!(
        tables
            .iter()
            .all(|c| c.table != "drafts" && c.table != "invoices"),
        "{tables:?}"
    );
    assert_eq!(held[0].rows, tables.iter().map(|c| c.rows).sum::<u64>());
    let trail = audit_entries(&mut t, Some("breach.affected_queried"), 10);
    assert_eq!(trail.len(), 1);
    let details: serde_json::Value = serde_json::from_str(&trail[0].details).expect("JSON");
    assert_eq!(
        details["datasets"],
        serde_json::json!([held[0].dataset]),
        "{details}"
    );
    assert!(details["result_sha256"].is_string(), "{details}");
}
