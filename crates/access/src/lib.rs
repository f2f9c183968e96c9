//! Who may call Custos (PRODUCT.md C9): tenants, and API keys bound to one tenant and one role.
//!
//! A key is `cst_<id>_<secret>`: the id (16 hex digits) finds the row, the 256-bit secret is
//! shown once at creation and stored only as its SHA-256 (a fast hash is right for a random
//! 256-bit secret: there is nothing to brute-force), compared in constant time. Keys can be
//! revoked; a revoked key never authenticates again.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Platform administration: create tenants and their keys. Bound to no tenant.
    Admin,
    /// An application: write and read records.
    App,
    /// The data protection officer: also handle requests and read the audit trail.
    Dpo,
    /// An auditor: read the audit trail only.
    Auditor,
    /// A person who approves or rejects the items an app gates on approval (drafts before they
    /// are sent) and may list them; nothing else: no records, requests or audit trail.
    Approver,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::App => "app",
            Role::Dpo => "dpo",
            Role::Auditor => "auditor",
            Role::Approver => "approver",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "admin" => Role::Admin,
            "app" => Role::App,
            "dpo" => Role::Dpo,
            "auditor" => Role::Auditor,
            "approver" => Role::Approver,
            _ => return None,
        })
    }

    /// Whether the role may write and read records.
    pub fn may_use_records(self) -> bool {
        matches!(self, Role::App | Role::Dpo)
    }

    /// Whether the role may erase subjects and handle requests.
    pub fn may_handle_requests(self) -> bool {
        self == Role::Dpo
    }

    /// Whether the role may read the audit trail.
    pub fn may_read_audit(self) -> bool {
        matches!(self, Role::Dpo | Role::Auditor)
    }

    /// Whether the role may approve or reject items gated on approval: the approver, and the
    /// dpo (who could before the approver role existed).
    pub fn may_approve(self) -> bool {
        matches!(self, Role::Dpo | Role::Approver)
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// The key id (safe to log and to write to the audit trail).
    pub key_id: String,
    /// The tenant the key is bound to (`None` for admin keys).
    pub tenant: Option<String>,
    /// The role.
    pub role: Role,
}

impl Principal {
    /// The actor name used in the audit trail.
    pub fn actor(&self) -> String {
        format!("key:{}", self.key_id)
    }
}

/// A key just created: the only time its secret exists outside the caller's hands.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedKey {
    /// The id.
    pub id: String,
    /// The full key, to be shown once.
    pub key: String,
    /// The tenant.
    pub tenant: Option<String>,
    /// The role.
    pub role: Role,
}

/// A key as listed: everything but its secret, which is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// The id.
    pub id: String,
    /// The tenant (`None` for admin keys).
    pub tenant: Option<String>,
    /// The role, as stored.
    pub role: String,
    /// What the key is for.
    pub label: String,
    /// When it was issued (Unix seconds).
    pub created_at: i64,
    /// When it was revoked (Unix seconds), if it was.
    pub revoked_at: Option<i64>,
}

/// A tenant as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantInfo {
    /// The id.
    pub id: String,
    /// The display name.
    pub name: String,
    /// When it was created (Unix seconds).
    pub created_at: i64,
}

/// Why an access operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// SQLite failed.
    #[error("access store (SQLite): {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error("access store (PostgreSQL): {0}")]
    Postgres(#[from] postgres::Error),
    /// The system random source failed.
    #[error("no randomness available for a new key: {0}")]
    Random(String),
    /// A tenant id is not acceptable.
    #[error("tenant id `{0}` is invalid: use 1–64 characters a–z, 0–9, `-` or `_`")]
    InvalidTenant(String),
    /// The tenant already exists.
    #[error("tenant `{0}` already exists")]
    TenantExists(String),
    /// The tenant does not exist.
    #[error("tenant `{0}` does not exist")]
    NoSuchTenant(String),
    /// Tenant keys cannot have the admin role, and admin keys no tenant.
    #[error("role `{0}` cannot be given to a tenant key")]
    BadRole(String),
    /// A schema name is unsafe.
    #[error("schema name `{0}` may only hold a–z, 0–9 and `_`")]
    BadSchema(String),
}

impl AccessError {
    /// Its code in the error table (`docs/errors.md`). A failing database, like the random
    /// generator a key needs, is `unavailable`: nothing was written and a retry may succeed.
    pub fn code(&self) -> custos_types::ErrorCode {
        use custos_types::ErrorCode as C;
        match self {
            AccessError::Sqlite(_)
            | AccessError::Postgres(_)
            | AccessError::Random(_)
            | AccessError::BadSchema(_) => C::Unavailable,
            AccessError::InvalidTenant(_) => C::InvalidTenant,
            AccessError::TenantExists(_) => C::TenantExists,
            AccessError::NoSuchTenant(_) => C::TenantNotFound,
            AccessError::BadRole(_) => C::InvalidRole,
        }
    }
}

/// Validates a tenant id: short, lowercase, URL-safe.
pub fn valid_tenant(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn random_hex(n: usize) -> Result<String, AccessError> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| AccessError::Random(e.to_string()))?;
    Ok(hex::encode(b))
}

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Constant-time equality of two digests.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Splits `cst_<id>_<secret>`.
fn split_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("cst_")?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) && secret.len() == 64)
        .then_some((id, secret))
}

/// A stored key: tenant, role, secret digest, revocation time.
type KeyRow = (Option<String>, String, Vec<u8>, Option<i64>);

enum Conn {
    Sqlite(rusqlite::Connection),
    Pg(postgres::Client),
}

/// Tenants and keys, in SQLite or PostgreSQL.
pub struct Access {
    conn: Conn,
}

const SQLITE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS access_tenants (tenant_id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS access_keys (
    key_id TEXT PRIMARY KEY, tenant_id TEXT, role TEXT NOT NULL, label TEXT NOT NULL,
    secret_sha256 BLOB NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER
);";

const PG_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS access_tenants (tenant_id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS access_keys (
    key_id TEXT PRIMARY KEY, tenant_id TEXT, role TEXT NOT NULL, label TEXT NOT NULL,
    secret_sha256 BYTEA NOT NULL, created_at BIGINT NOT NULL, revoked_at BIGINT
);";

impl Access {
    /// Opens the access tables in the SQLite file at `path` (creating them).
    pub fn sqlite(path: &std::path::Path) -> Result<Access, AccessError> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.execute_batch(SQLITE_SCHEMA)?;
        Ok(Access {
            conn: Conn::Sqlite(conn),
        })
    }

    /// Opens the access tables in PostgreSQL, in `schema`.
    pub fn postgres(url: &str, schema: &str) -> Result<Access, AccessError> {
        if schema.is_empty()
            || !schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(AccessError::BadSchema(schema.to_owned()));
        }
        let mut client = postgres::Client::connect(url, postgres::NoTls)?;
        client.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"
        ))?;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock(7370837367)", &[])?;
        tx.batch_execute(PG_SCHEMA)?;
        tx.commit()?;
        Ok(Access {
            conn: Conn::Pg(client),
        })
    }

    /// Creates a tenant.
    pub fn create_tenant(
        &mut self,
        id: &str,
        name: &str,
        now: jiff::Timestamp,
    ) -> Result<(), AccessError> {
        if !valid_tenant(id) {
            return Err(AccessError::InvalidTenant(id.to_owned()));
        }
        let t = now.as_second();
        let inserted = match &mut self.conn {
            Conn::Sqlite(c) => c.execute("INSERT INTO access_tenants (tenant_id, name, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING", rusqlite::params![id, name, t])? as u64,
            Conn::Pg(c) => c.execute("INSERT INTO access_tenants (tenant_id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", &[&id, &name, &t])?,
        };
        if inserted == 0 {
            return Err(AccessError::TenantExists(id.to_owned()));
        }
        Ok(())
    }

    /// Whether a tenant exists.
    pub fn tenant_exists(&mut self, id: &str) -> Result<bool, AccessError> {
        Ok(match &mut self.conn {
            Conn::Sqlite(c) => {
                c.query_row(
                    "SELECT count(*) FROM access_tenants WHERE tenant_id = ?1",
                    [id],
                    |r| r.get::<_, i64>(0),
                )? > 0
            }
            Conn::Pg(c) => {
                c.query_one(
                    "SELECT count(*) FROM access_tenants WHERE tenant_id = $1",
                    &[&id],
                )?
                .get::<_, i64>(0)
                    > 0
            }
        })
    }

    /// Issues a key: for a tenant with role app/dpo/auditor, or a platform admin key
    /// (`tenant = None`, role admin).
    pub fn issue_key(
        &mut self,
        tenant: Option<&str>,
        role: Role,
        label: &str,
        now: jiff::Timestamp,
    ) -> Result<IssuedKey, AccessError> {
        match (tenant, role) {
            (None, Role::Admin) => {}
            (Some(_), Role::Admin) | (None, _) => {
                return Err(AccessError::BadRole(role.as_str().to_owned()));
            }
            (Some(t), _) => {
                if !self.tenant_exists(t)? {
                    return Err(AccessError::NoSuchTenant(t.to_owned()));
                }
            }
        }
        let id = random_hex(8)?;
        let secret = random_hex(32)?;
        let hash = digest(&secret);
        let t = now.as_second();
        match &mut self.conn {
            Conn::Sqlite(c) => {
                c.execute(
                    "INSERT INTO access_keys (key_id, tenant_id, role, label, secret_sha256, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    rusqlite::params![id, tenant, role.as_str(), label, hash, t],
                )?;
            }
            Conn::Pg(c) => {
                c.execute(
                    "INSERT INTO access_keys (key_id, tenant_id, role, label, secret_sha256, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    &[&id, &tenant, &role.as_str(), &label, &hash, &t],
                )?;
            }
        }
        Ok(IssuedKey {
            key: format!("cst_{id}_{secret}"),
            id,
            tenant: tenant.map(str::to_owned),
            role,
        })
    }

    /// Revokes a key of `tenant` (or an admin key with `tenant = None`). Returns whether a key
    /// was revoked.
    pub fn revoke(
        &mut self,
        tenant: Option<&str>,
        key_id: &str,
        now: jiff::Timestamp,
    ) -> Result<bool, AccessError> {
        let t = now.as_second();
        Ok(match &mut self.conn {
            Conn::Sqlite(c) => c.execute(
                "UPDATE access_keys SET revoked_at = ?1 WHERE key_id = ?2 AND tenant_id IS ?3 AND revoked_at IS NULL",
                rusqlite::params![t, key_id, tenant],
            )? > 0,
            Conn::Pg(c) => {
                c.execute(
                    "UPDATE access_keys SET revoked_at = $1 WHERE key_id = $2 AND tenant_id IS NOT DISTINCT FROM $3 AND revoked_at IS NULL",
                    &[&t, &key_id, &tenant],
                )? > 0
            }
        })
    }

    /// Issues the first admin key, atomically: `None` when an active (unrevoked) admin key
    /// exists already, so two installations racing on one database print one key between them.
    pub fn bootstrap_admin(
        &mut self,
        label: &str,
        now: jiff::Timestamp,
    ) -> Result<Option<IssuedKey>, AccessError> {
        const ACTIVE: &str = "SELECT count(*) FROM access_keys WHERE role = 'admin' AND tenant_id IS NULL AND revoked_at IS NULL";
        let id = random_hex(8)?;
        let secret = random_hex(32)?;
        let hash = digest(&secret);
        let t = now.as_second();
        let role = Role::Admin.as_str();
        match &mut self.conn {
            Conn::Sqlite(c) => {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                if tx.query_row(ACTIVE, [], |r| r.get::<_, i64>(0))? > 0 {
                    return Ok(None);
                }
                tx.execute(
                    "INSERT INTO access_keys (key_id, tenant_id, role, label, secret_sha256, created_at) VALUES (?1, NULL, ?2, ?3, ?4, ?5)",
                    rusqlite::params![id, role, label, hash, t],
                )?;
                tx.commit()?;
            }
            Conn::Pg(c) => {
                let mut tx = c.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock(7370837368)", &[])?;
                if tx.query_one(ACTIVE, &[])?.get::<_, i64>(0) > 0 {
                    return Ok(None);
                }
                tx.execute(
                    "INSERT INTO access_keys (key_id, tenant_id, role, label, secret_sha256, created_at) VALUES ($1, NULL, $2, $3, $4, $5)",
                    &[&id, &role, &label, &hash, &t],
                )?;
                tx.commit()?;
            }
        }
        Ok(Some(IssuedKey {
            key: format!("cst_{id}_{secret}"),
            id,
            tenant: None,
            role: Role::Admin,
        }))
    }

    /// The tenants, by id.
    pub fn tenants(&mut self) -> Result<Vec<TenantInfo>, AccessError> {
        const Q: &str = "SELECT tenant_id, name, created_at FROM access_tenants ORDER BY tenant_id";
        Ok(match &mut self.conn {
            Conn::Sqlite(c) => {
                let mut st = c.prepare(Q)?;
                st.query_map([], |r| {
                    Ok(TenantInfo {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        created_at: r.get(2)?,
                    })
                })?
                .collect::<Result<_, _>>()?
            }
            Conn::Pg(c) => c
                .query(Q, &[])?
                .iter()
                .map(|r| TenantInfo {
                    id: r.get(0),
                    name: r.get(1),
                    created_at: r.get(2),
                })
                .collect(),
        })
    }

    /// The keys, oldest first: all of them (`None`), a tenant's (`Some(Some(t))`) or the admin
    /// keys (`Some(None)`). Secrets are not stored, so none can be listed.
    pub fn keys(&mut self, tenant: Option<Option<&str>>) -> Result<Vec<KeyInfo>, AccessError> {
        Ok(self
            .all_keys()?
            .into_iter()
            .filter(|k| tenant.is_none_or(|t| k.tenant.as_deref() == t))
            .collect())
    }

    /// One key by id.
    pub fn key(&mut self, key_id: &str) -> Result<Option<KeyInfo>, AccessError> {
        Ok(self.all_keys()?.into_iter().find(|k| k.id == key_id))
    }

    fn all_keys(&mut self) -> Result<Vec<KeyInfo>, AccessError> {
        const Q: &str = "SELECT key_id, tenant_id, role, label, created_at, revoked_at FROM access_keys ORDER BY created_at, key_id";
        Ok(match &mut self.conn {
            Conn::Sqlite(c) => {
                let mut st = c.prepare(Q)?;
                st.query_map([], |r| {
                    Ok(KeyInfo {
                        id: r.get(0)?,
                        tenant: r.get(1)?,
                        role: r.get(2)?,
                        label: r.get(3)?,
                        created_at: r.get(4)?,
                        revoked_at: r.get(5)?,
                    })
                })?
                .collect::<Result<_, _>>()?
            }
            Conn::Pg(c) => c
                .query(Q, &[])?
                .iter()
                .map(|r| KeyInfo {
                    id: r.get(0),
                    tenant: r.get(1),
                    role: r.get(2),
                    label: r.get(3),
                    created_at: r.get(4),
                    revoked_at: r.get(5),
                })
                .collect(),
        })
    }

    /// The principal a presented key stands for; `None` for a malformed, unknown or revoked key
    /// (the caller cannot tell which: all are "not authenticated").
    pub fn authenticate(&mut self, key: &str) -> Result<Option<Principal>, AccessError> {
        let Some((id, secret)) = split_key(key.trim()) else {
            return Ok(None);
        };
        let row: Option<KeyRow> = match &mut self.conn {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached("SELECT tenant_id, role, secret_sha256, revoked_at FROM access_keys WHERE key_id = ?1")?;
                let mut rows = st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
                rows.next().transpose()?
            }
            Conn::Pg(c) => c
                .query_opt("SELECT tenant_id, role, secret_sha256, revoked_at FROM access_keys WHERE key_id = $1", &[&id])?
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))),
        };
        // Hash the presented secret even when the id is unknown, so timing does not tell.
        let presented = digest(secret);
        let Some((tenant, role, stored, revoked)) = row else {
            return Ok(None);
        };
        if !same(&presented, &stored) || revoked.is_some() {
            return Ok(None);
        }
        Ok(Role::parse(&role).map(|role| Principal {
            key_id: id.to_owned(),
            tenant,
            role,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_790_000_000).unwrap()
    }

    fn both(f: impl Fn(&mut Access)) {
        let dir = std::env::temp_dir().join(format!("custos-access-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("a{n}.db"));
        let _ = std::fs::remove_file(&path);
        f(&mut Access::sqlite(&path).unwrap());
        match std::env::var("CUSTOS_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                let schema = format!("access_{}_{n}", std::process::id());
                f(&mut Access::postgres(&url, &schema).unwrap());
                let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                    .unwrap();
            }
            _ => eprintln!("CUSTOS_TEST_DATABASE_URL is not set: skipping the PostgreSQL half"),
        }
    }

    #[test]
    fn an_issued_key_authenticates_as_its_tenant_and_role_until_revoked() {
        both(|a| {
            a.create_tenant("acme", "Acme B.V.", now()).unwrap();
            let k = a
                .issue_key(Some("acme"), Role::App, "backend", now())
                .unwrap();
            assert!(k.key.starts_with(&format!("cst_{}_", k.id)));
            let p = a.authenticate(&k.key).unwrap().expect("authenticates");
            assert_eq!(
                (p.tenant.as_deref(), p.role, p.actor()),
                (Some("acme"), Role::App, format!("key:{}", k.id))
            );
            assert!(
                !a.revoke(Some("globex"), &k.id, now()).unwrap(),
                "another tenant cannot revoke it"
            );
            assert!(a.revoke(Some("acme"), &k.id, now()).unwrap());
            assert_eq!(a.authenticate(&k.key).unwrap(), None);
        });
    }

    #[test]
    fn wrong_malformed_and_unknown_keys_do_not_authenticate() {
        both(|a| {
            a.create_tenant("acme", "Acme", now()).unwrap();
            let k = a.issue_key(Some("acme"), Role::Dpo, "dpo", now()).unwrap();
            let mut wrong = k.key.clone();
            let last = wrong.pop().unwrap();
            wrong.push(if last == '0' { '1' } else { '0' });
            for bad in [
                wrong.as_str(),
                "",
                "cst_",
                "Bearer x",
                "cst_0123456789abcdef_short",
                &k.key.replace("cst_", "cst_f"),
            ] {
                assert_eq!(a.authenticate(bad).unwrap(), None, "{bad}");
            }
        });
    }

    #[test]
    fn tenants_are_validated_and_admin_keys_belong_to_no_tenant() {
        both(|a| {
            assert!(matches!(
                a.create_tenant("Acme!", "x", now()),
                Err(AccessError::InvalidTenant(_))
            ));
            a.create_tenant("acme", "Acme", now()).unwrap();
            assert!(matches!(
                a.create_tenant("acme", "again", now()),
                Err(AccessError::TenantExists(_))
            ));
            assert!(matches!(
                a.issue_key(Some("acme"), Role::Admin, "x", now()),
                Err(AccessError::BadRole(_))
            ));
            assert!(matches!(
                a.issue_key(None, Role::App, "x", now()),
                Err(AccessError::BadRole(_))
            ));
            assert!(matches!(
                a.issue_key(Some("nope"), Role::App, "x", now()),
                Err(AccessError::NoSuchTenant(_))
            ));
            let admin = a.issue_key(None, Role::Admin, "ops", now()).unwrap();
            assert_eq!(a.authenticate(&admin.key).unwrap().unwrap().tenant, None);
        });
    }

    #[test]
    fn the_first_admin_key_is_bootstrapped_once_and_keys_list_without_secrets() {
        both(|a| {
            let first = a
                .bootstrap_admin("first admin", now())
                .unwrap()
                .expect("issued");
            assert_eq!(
                a.authenticate(&first.key).unwrap().unwrap().role,
                Role::Admin
            );
            assert!(a.bootstrap_admin("again", now()).unwrap().is_none());
            a.create_tenant("acme", "Acme", now()).unwrap();
            let approver = a
                .issue_key(Some("acme"), Role::Approver, "reviewer", now())
                .unwrap();
            let p = a.authenticate(&approver.key).unwrap().unwrap();
            assert!(p.role.may_approve() && !p.role.may_use_records() && !p.role.may_read_audit());
            let all = a.keys(None).unwrap();
            assert_eq!(all.len(), 2);
            let listed = format!("{all:?}");
            assert!(!listed.contains(&first.key[21..]), "no secret in {listed}");
            assert_eq!(a.keys(Some(Some("acme"))).unwrap()[0].role, "approver");
            assert_eq!(a.keys(Some(None)).unwrap()[0].id, first.id);
            assert_eq!(a.tenants().unwrap()[0].name, "Acme");
            assert!(a.revoke(None, &first.id, now()).unwrap());
            assert!(a.key(&first.id).unwrap().unwrap().revoked_at.is_some());
            assert!(
                a.bootstrap_admin("after revocation", now())
                    .unwrap()
                    .is_some(),
                "with every admin key revoked, the bootstrap issues a new one"
            );
        });
    }
}
