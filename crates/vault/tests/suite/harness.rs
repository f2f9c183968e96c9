//! A backend to run one case against: its configuration, a fixed master key, the JBSync policy,
//! and raw access to the stored rows (to tamper with ciphertexts as an attacker or a bad disk
//! would).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use custos_policy::Policy;
use custos_vault::rights::{Filed, NewRequest, RequestKind, Verification};
use custos_vault::{MasterKey, NewRecord, StoreConfig, SubjectId, TenantId, TenantVault, Vault};

pub const KEY_HEX: &str = "8f2c4e6a0b1d3f5e7a9c2b4d6f8e0a1c3e5b7d9f1a2c4e6b8d0f2a4c6e8b0d2f";
pub const PG_ENV: &str = "CUSTOS_TEST_DATABASE_URL";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn master() -> MasterKey {
    MasterKey::parse(KEY_HEX, "test").expect("the test key is valid")
}

pub fn policy() -> Policy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies/jbsync.toml");
    custos_policy::load(&path)
        .expect("the jbsync example policy loads")
        .policy
}

/// The text of `examples/policies/<name>`.
pub fn example_text(name: &str) -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../examples/policies/{name}"));
    std::fs::read_to_string(path).expect("example policy")
}

/// The example policy `examples/policies/<name>`, loaded.
pub fn example_policy(name: &str) -> Policy {
    custos_policy::load_source(custos_policy::SourceFile::new(name, example_text(name)))
        .expect("policy loads")
        .policy
}

pub fn tenant(id: &str) -> TenantId {
    TenantId::new(id).expect("valid tenant id")
}

pub fn subject(id: &str) -> SubjectId {
    SubjectId::new(id).expect("valid subject id")
}

pub fn ts(s: &str) -> jiff::Timestamp {
    s.parse().expect("valid timestamp")
}

/// A record of category `account` for the `service` purpose.
pub fn record(subject_id: &str, payload: &str) -> NewRecord {
    record_for(
        subject_id,
        "account",
        "service",
        payload,
        ts("2026-11-01T10:00:00Z"),
    )
}

/// A record of `who` in `category` for one `purpose`, created at `created_at`, with no event
/// clocks.
pub fn record_for(
    who: &str,
    category: &str,
    purpose: &str,
    payload: impl Into<Vec<u8>>,
    created_at: jiff::Timestamp,
) -> NewRecord {
    NewRecord {
        subject: subject(who),
        category: category.into(),
        purposes: vec![purpose.into()],
        payload: payload.into(),
        created_at,
        clocks: BTreeMap::new(),
    }
}

/// A request `who` files through the API on the day `on` (`YYYY-MM-DD`, received at 10:00 UTC),
/// due a month later and at most three months later (custos-rights' answers for these dates).
pub fn new_request(kind: RequestKind, who: &str, purpose: Option<&str>, on: &str) -> NewRequest {
    let received_on: jiff::civil::Date = on.parse().expect("valid date");
    NewRequest {
        kind,
        subject: subject(who),
        purpose: purpose.map(str::to_owned),
        received_at: ts(&format!("{on}T10:00:00Z")),
        received_on,
        due_on: received_on
            .checked_add(jiff::Span::new().months(1))
            .expect("date"),
        extended_due_on: received_on
            .checked_add(jiff::Span::new().months(3))
            .expect("date"),
        channel: "api".into(),
        request_id: None,
        language: None,
    }
}

/// Files `request`.
pub fn file(t: &mut TenantVault<'_>, p: &Policy, request: NewRequest) -> Filed {
    t.file_request(p, request).expect("filed")
}

/// Files `request`; returns its id.
pub fn file_request_id(t: &mut TenantVault<'_>, p: &Policy, request: NewRequest) -> String {
    file(t, p, request).request.request_id
}

/// Marks request `id` verified at `at` by an identity check the operator attests (`method`).
pub fn verify_attested(t: &mut TenantVault<'_>, id: &str, method: &str, at: jiff::Timestamp) {
    t.verify_request(
        id,
        &Verification::Attested {
            method: method.into(),
        },
        at,
    )
    .expect("verified");
}

/// The tenant's audit entries, oldest first: all of them, or those of one `action`.
pub fn audit_entries(
    t: &mut TenantVault<'_>,
    action: Option<&str>,
    limit: usize,
) -> Vec<custos_audit::Entry> {
    t.audit(&custos_audit::Query {
        action: action.map(str::to_owned),
        limit,
        ..custos_audit::Query::default()
    })
    .expect("audit")
}

/// Stores a record of `who` in `category` for one `purpose`, created at `created`; returns its id.
pub fn put(
    t: &mut TenantVault<'_>,
    policy: &Policy,
    who: &str,
    category: &str,
    purpose: &str,
    created: jiff::Timestamp,
) -> custos_vault::RecordId {
    let record = record_for(who, category, purpose, "x", created);
    t.put(policy, record, jiff::Timestamp::now())
        .expect("record stored")
}

/// Stores `record` in tenant `tenant_id` with `put`; returns its id.
pub fn put_in(
    v: &mut Vault,
    tenant_id: &str,
    p: &Policy,
    record: NewRecord,
) -> custos_vault::RecordId {
    v.tenant(&tenant(tenant_id))
        .put(p, record, jiff::Timestamp::now())
        .expect("stored")
}

/// Stores `records` in tenant `tenant_id` with `put_batch`; returns their ids.
pub fn put_batch_in(
    v: &mut Vault,
    tenant_id: &str,
    p: &Policy,
    records: Vec<NewRecord>,
) -> Vec<custos_vault::RecordId> {
    v.tenant(&tenant(tenant_id))
        .put_batch(p, records, jiff::Timestamp::now())
        .expect("stored")
}

/// A scratch directory unique to the process and the case.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("custos-vault-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub struct Backend {
    pub config: StoreConfig,
    pub kind: &'static str,
    pg_url: Option<String>,
}

impl Backend {
    pub fn sqlite(case: &str) -> Self {
        let dir = scratch(case);
        Self {
            config: StoreConfig::Sqlite {
                path: dir.join("custos.db"),
            },
            kind: "sqlite",
            pg_url: None,
        }
    }

    /// `None` (with a notice) when `CUSTOS_TEST_DATABASE_URL` is unset (a failure under CI).
    pub fn postgres(case: &str) -> Option<Self> {
        let Some(url) = crate::database_url::postgres_url() else {
            skip_notice(case);
            return None;
        };
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let schema = format!("t_{}_{}_{n}", std::process::id(), short(case));
        let journal = scratch(&format!("pg-{case}")).join("erasures.jsonl");
        Some(Self {
            config: StoreConfig::Postgres {
                url: url.clone(),
                schema,
                journal: Some(journal),
            },
            kind: "postgres",
            pg_url: Some(url),
        })
    }

    pub fn open(&self) -> Vault {
        Vault::open(&self.config, master()).expect("the vault opens")
    }

    /// The tenants and keys in this backend's database.
    pub fn access(&self) -> custos_vault::Access {
        custos_vault::Access::open(&self.config).expect("the access tables open")
    }

    fn schema(&self) -> Option<&str> {
        match &self.config {
            StoreConfig::Postgres { schema, .. } => Some(schema),
            StoreConfig::Sqlite { .. } => None,
        }
    }

    fn pg(&self) -> postgres::Client {
        let url = self.pg_url.as_deref().expect("a PostgreSQL backend");
        let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connects");
        c.batch_execute(&format!(
            "SET search_path TO {}",
            self.schema().expect("schema")
        ))
        .expect("search path");
        c
    }

    /// The SQLite database file of this backend.
    pub fn sqlite_path(&self) -> &Path {
        match &self.config {
            StoreConfig::Sqlite { path } => path,
            StoreConfig::Postgres { .. } => unreachable!("not a SQLite backend"),
        }
    }

    /// A raw PostgreSQL connection to this backend's schema with `tenant` set for RLS (for
    /// tests that play another transaction).
    pub fn pg_as_tenant(&self, tenant: &str) -> postgres::Client {
        let mut c = self.pg();
        c.execute("SELECT set_config('custos.tenant', $1, false)", &[&tenant])
            .expect("tenant");
        c
    }

    /// Runs `f` on a raw connection with the tenant set for RLS (PostgreSQL) or plainly (SQLite).
    pub fn ciphertext(&self, tenant: &str, record_id: &str) -> Vec<u8> {
        if self.pg_url.is_some() {
            let mut c = self.pg();
            let mut tx = c.transaction().expect("tx");
            tx.execute("SELECT set_config('custos.tenant', $1, true)", &[&tenant])
                .expect("tenant");
            let row = tx
                .query_one(
                    "SELECT ciphertext FROM records WHERE tenant_id = $1 AND record_id = $2",
                    &[&tenant, &record_id],
                )
                .expect("row");
            row.get(0)
        } else {
            let c = rusqlite::Connection::open(self.sqlite_path()).expect("opens");
            c.query_row(
                "SELECT ciphertext FROM records WHERE tenant_id = ?1 AND record_id = ?2",
                [tenant, record_id],
                |r| r.get(0),
            )
            .expect("row")
        }
    }

    pub fn set_ciphertext(&self, tenant: &str, record_id: &str, bytes: &[u8]) {
        if self.pg_url.is_some() {
            let mut c = self.pg();
            let mut tx = c.transaction().expect("tx");
            tx.execute("SELECT set_config('custos.tenant', $1, true)", &[&tenant])
                .expect("tenant");
            let n = tx
                .execute(
                    "UPDATE records SET ciphertext = $3 WHERE tenant_id = $1 AND record_id = $2",
                    &[&tenant, &record_id, &bytes],
                )
                .expect("update");
            assert_eq!(n, 1);
            tx.commit().expect("commit");
        } else {
            let c = rusqlite::Connection::open(self.sqlite_path()).expect("opens");
            let n = c
                .execute(
                    "UPDATE records SET ciphertext = ?3 WHERE tenant_id = ?1 AND record_id = ?2",
                    rusqlite::params![tenant, record_id, bytes],
                )
                .expect("update");
            assert_eq!(n, 1);
        }
    }

    /// Copies a record row (all columns) so it can be put back later, as a stray copy would be.
    pub fn copy_row(&self, tenant: &str, record_id: &str) -> Vec<String> {
        // Hex-encode the ciphertext so every column travels as text.
        let sql_pg = "SELECT record_id, pseudonym, category, purposes, key_domain, encode(ciphertext, 'hex'), created_at::TEXT, clocks FROM records WHERE tenant_id = $1 AND record_id = $2";
        let sql_lite = "SELECT record_id, pseudonym, category, purposes, key_domain, hex(ciphertext), CAST(created_at AS TEXT), clocks FROM records WHERE tenant_id = ?1 AND record_id = ?2";
        if self.pg_url.is_some() {
            let mut c = self.pg();
            let mut tx = c.transaction().expect("tx");
            tx.execute("SELECT set_config('custos.tenant', $1, true)", &[&tenant])
                .expect("tenant");
            let row = tx.query_one(sql_pg, &[&tenant, &record_id]).expect("row");
            (0..8).map(|i| row.get::<_, String>(i)).collect()
        } else {
            let c = rusqlite::Connection::open(self.sqlite_path()).expect("opens");
            c.query_row(sql_lite, [tenant, record_id], |r| {
                (0..8).map(|i| r.get::<_, String>(i)).collect()
            })
            .expect("row")
        }
    }

    pub fn put_back_row(&self, tenant: &str, row: &[String]) {
        if self.pg_url.is_some() {
            let mut c = self.pg();
            let mut tx = c.transaction().expect("tx");
            tx.execute("SELECT set_config('custos.tenant', $1, true)", &[&tenant])
                .expect("tenant");
            tx.execute(
                "INSERT INTO records (tenant_id, record_id, pseudonym, category, purposes, key_domain, ciphertext, created_at, clocks)
                 VALUES ($1, $2, $3, $4, $5, $6, decode($7, 'hex'), $8::TEXT::BIGINT, $9)",
                &[&tenant, &row[0], &row[1], &row[2], &row[3], &row[4], &row[5], &row[6], &row[7]],
            )
            .expect("insert");
            tx.commit().expect("commit");
        } else {
            let c = rusqlite::Connection::open(self.sqlite_path()).expect("opens");
            c.execute(
                "INSERT INTO records (tenant_id, record_id, pseudonym, category, purposes, key_domain, ciphertext, created_at, clocks)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, unhex(?7), CAST(?8 AS INTEGER), ?9)",
                rusqlite::params![tenant, row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7]],
            )
            .expect("insert");
        }
    }

    /// Overwrites the tenant's stored retention state (as a damaged or hand-edited row would).
    pub fn set_retention_state(&self, tenant: &str, state: &str) {
        let sql = "UPDATE tenant_retention SET state = $2 WHERE tenant_id = $1";
        let n = if self.pg_url.is_some() {
            let mut c = self.pg();
            let mut tx = c.transaction().expect("tx");
            tx.execute("SELECT set_config('custos.tenant', $1, true)", &[&tenant])
                .expect("tenant");
            let n = tx.execute(sql, &[&tenant, &state]).expect("update");
            tx.commit().expect("commit");
            n
        } else {
            let c = rusqlite::Connection::open(self.sqlite_path()).expect("opens");
            c.execute(
                "UPDATE tenant_retention SET state = ?2 WHERE tenant_id = ?1",
                [tenant, state],
            )
            .expect("update") as u64
        };
        assert_eq!(n, 1, "the tenant has a retention state");
    }

    /// How many records the tenant has, counted raw.
    /// Each record's expiry (microseconds) by record id, in id order.
    pub fn expiries(&self, tenant: &str) -> Vec<(String, Option<i64>)> {
        let sql =
            "SELECT record_id, expires_at FROM records WHERE tenant_id = $1 ORDER BY record_id";
        if self.pg_url.is_some() {
            let mut c = self.pg();
            let mut tx = c.transaction().expect("tx");
            tx.execute("SELECT set_config('custos.tenant', $1, true)", &[&tenant])
                .expect("tenant");
            tx.query(sql, &[&tenant])
                .expect("expiries")
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect()
        } else {
            let c = rusqlite::Connection::open(self.sqlite_path()).expect("opens");
            let mut st = c.prepare(&sql.replace("$1", "?1")).expect("prepare");
            st.query_map([tenant], |r| Ok((r.get(0)?, r.get(1)?)))
                .expect("expiries")
                .collect::<Result<_, _>>()
                .expect("rows")
        }
    }

    pub fn count_records(&self, tenant: &str) -> i64 {
        if self.pg_url.is_some() {
            let mut c = self.pg();
            let mut tx = c.transaction().expect("tx");
            tx.execute("SELECT set_config('custos.tenant', $1, true)", &[&tenant])
                .expect("tenant");
            tx.query_one(
                "SELECT count(*) FROM records WHERE tenant_id = $1",
                &[&tenant],
            )
            .expect("count")
            .get(0)
        } else {
            let c = rusqlite::Connection::open(self.sqlite_path()).expect("opens");
            c.query_row(
                "SELECT count(*) FROM records WHERE tenant_id = ?1",
                [tenant],
                |r| r.get(0),
            )
            .expect("count")
        }
    }

    /// The key versions of the tenant's data keys.
    pub fn key_versions(&self, tenant: &str) -> Vec<i64> {
        if self.pg_url.is_some() {
            let mut c = self.pg();
            let mut tx = c.transaction().expect("tx");
            tx.execute("SELECT set_config('custos.tenant', $1, true)", &[&tenant])
                .expect("tenant");
            tx.query(
                "SELECT key_version::BIGINT FROM data_keys WHERE tenant_id = $1 ORDER BY 1",
                &[&tenant],
            )
            .expect("rows")
            .iter()
            .map(|r| r.get(0))
            .collect()
        } else {
            let c = rusqlite::Connection::open(self.sqlite_path()).expect("opens");
            let mut s = c
                .prepare("SELECT key_version FROM data_keys WHERE tenant_id = ?1 ORDER BY 1")
                .expect("prepare");
            s.query_map([tenant], |r| r.get(0))
                .expect("rows")
                .collect::<Result<_, _>>()
                .expect("rows")
        }
    }

    /// Whether the payload bytes appear anywhere in the stored database.
    pub fn raw_contains(&self, needle: &[u8]) -> bool {
        if self.pg_url.is_some() {
            let mut c = self.pg();
            // Superuser-free check: dump every bytea and text column we wrote, for every tenant.
            let tenants: Vec<String> = c
                .query("SELECT tenant_id FROM tenants", &[])
                .expect("tenants")
                .iter()
                .map(|r| r.get(0))
                .collect();
            tenants.iter().any(|t| {
                let mut tx = c.transaction().expect("tx");
                tx.execute("SELECT set_config('custos.tenant', $1, true)", &[t])
                    .expect("tenant");
                let rows = tx
                    .query(
                        "SELECT ciphertext, purposes || clocks || category FROM records",
                        &[],
                    )
                    .expect("rows");
                rows.iter().any(|r| {
                    let ct: Vec<u8> = r.get(0);
                    let text: String = r.get(1);
                    contains(&ct, needle) || contains(text.as_bytes(), needle)
                })
            })
        } else {
            let mut bytes = std::fs::read(self.sqlite_path()).expect("read db");
            let wal = self.sqlite_path().with_extension("db-wal");
            if let Ok(w) = std::fs::read(wal) {
                bytes.extend(w);
            }
            contains(&bytes, needle)
        }
    }
}

/// Says once, past the test harness's output capture, that the PostgreSQL runs are skipped.
fn skip_notice(case: &str) {
    use std::io::Write as _;
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(std::io::stderr(), "notice: {PG_ENV} is not set; skipping the PostgreSQL runs of the vault suite (first: `{case}`)");
    });
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn short(case: &str) -> String {
    case.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(20)
        .collect::<String>()
        .to_ascii_lowercase()
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let (Some(url), Some(schema)) = (self.pg_url.clone(), self.schema().map(str::to_owned))
            && let Ok(mut c) = postgres::Client::connect(&url, postgres::NoTls)
        {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}
