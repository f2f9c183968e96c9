//! Tenants and API keys (PRODUCT.md C9), kept in the vault's database through the same storage
//! layer and transactions as everything else. The rules (roles and what they may do, the key
//! format, how a presented key is checked) live in `custos_access`; this module only stores.

use custos_access::{
    AccessError, IssuedKey, KeyInfo, NewKey, Presented, Principal, Role, StoredKey, TenantInfo,
};
use jiff::Timestamp;

use crate::error::VaultError;
use crate::store::{NO_TENANT, Store, Tx, Val};
use crate::vault::StoreConfig;

/// Tenants and keys, in the database the [`StoreConfig`] names (SQLite or PostgreSQL).
pub struct Access {
    store: Box<dyn Store>,
}

/// A storage failure, described without anything from the rows (keys, labels).
fn storage(e: VaultError) -> AccessError {
    AccessError::Storage(e.to_string())
}

/// Serialises the first admin key's issue between installations starting at once on one
/// PostgreSQL (an arbitrary constant; SQLite's write transaction does this by itself).
const BOOTSTRAP_LOCK: i64 = 7_370_837_368;

fn exists(tx: &mut dyn Tx, tenant: &str) -> crate::Result<bool> {
    Ok(!tx
        .query(
            "SELECT 1 FROM access_tenants WHERE tenant_id = $1",
            &[tenant.into()],
        )?
        .is_empty())
}

fn insert_key(tx: &mut dyn Tx, new: &NewKey, label: &str, now: Timestamp) -> crate::Result<()> {
    tx.execute(
        "INSERT INTO access_keys (key_id, tenant_id, role, label, secret_sha256, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            new.issued.id.as_str().into(),
            Val::Text(new.issued.tenant.clone()),
            new.issued.role.as_str().into(),
            label.into(),
            new.digest.clone().into(),
            now.as_second().into(),
        ],
    )
    .map(drop)
}

fn corrupt(what: &str) -> VaultError {
    VaultError::Corrupt(format!("an access row has an unreadable {what}"))
}

impl Access {
    /// Opens the access tables in the database `config` names (creating and migrating it, as
    /// the vault does).
    pub fn open(config: &StoreConfig) -> Result<Access, AccessError> {
        Ok(Access {
            store: crate::vault::open_store(config).map_err(storage)?,
        })
    }

    /// Creates a tenant (its id follows [`custos_access::tenant_id`]).
    pub fn create_tenant(
        &mut self,
        id: &str,
        name: &str,
        now: Timestamp,
    ) -> Result<(), AccessError> {
        let id = custos_access::tenant_id(id)?;
        let mut inserted = 0;
        self.store
            .in_tx(id.as_str(), "creating a tenant", &mut |tx| {
                inserted = tx.execute(
                    "INSERT INTO access_tenants (tenant_id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[id.as_str().into(), name.into(), now.as_second().into()],
                )?;
                Ok(())
            })
            .map_err(storage)?;
        if inserted == 0 {
            return Err(AccessError::TenantExists(id.to_string()));
        }
        Ok(())
    }

    /// Whether a tenant exists.
    pub fn tenant_exists(&mut self, id: &str) -> Result<bool, AccessError> {
        let mut found = false;
        self.store
            .in_read_tx(id, "reading tenants", &mut |tx| {
                found = exists(tx, id)?;
                Ok(())
            })
            .map_err(storage)?;
        Ok(found)
    }

    /// Issues a key: for a tenant with role app/dpo/auditor/approver, or a platform admin key
    /// (`tenant = None`, role admin).
    pub fn issue_key(
        &mut self,
        tenant: Option<&str>,
        role: Role,
        label: &str,
        now: Timestamp,
    ) -> Result<IssuedKey, AccessError> {
        let new = NewKey::generate(tenant, role)?;
        let mut known = true;
        self.store
            .in_tx(tenant.unwrap_or(NO_TENANT), "issuing a key", &mut |tx| {
                if let Some(t) = tenant {
                    known = exists(tx, t)?;
                    if !known {
                        return Ok(());
                    }
                }
                insert_key(tx, &new, label, now)
            })
            .map_err(storage)?;
        match tenant {
            Some(t) if !known => Err(AccessError::NoSuchTenant(t.to_owned())),
            _ => Ok(new.issued),
        }
    }

    /// Revokes a key of `tenant` (or an admin key with `tenant = None`). Returns whether a key
    /// was revoked.
    pub fn revoke(
        &mut self,
        tenant: Option<&str>,
        key_id: &str,
        now: Timestamp,
    ) -> Result<bool, AccessError> {
        let mut revoked = 0;
        self.store
            .in_tx(tenant.unwrap_or(NO_TENANT), "revoking a key", &mut |tx| {
                revoked = tx.execute(
                    "UPDATE access_keys SET revoked_at = $1 WHERE key_id = $2 AND tenant_id IS NOT DISTINCT FROM $3 AND revoked_at IS NULL",
                    &[
                        now.as_second().into(),
                        key_id.into(),
                        Val::Text(tenant.map(str::to_owned)),
                    ],
                )?;
                Ok(())
            })
            .map_err(storage)?;
        Ok(revoked > 0)
    }

    /// Issues the first admin key, atomically: `None` when an active (unrevoked) admin key
    /// exists already, so two installations racing on one database print one key between them.
    pub fn bootstrap_admin(
        &mut self,
        label: &str,
        now: Timestamp,
    ) -> Result<Option<IssuedKey>, AccessError> {
        let new = NewKey::generate(None, Role::Admin)?;
        let mut issued = false;
        self.store
            .in_tx(NO_TENANT, "issuing the first admin key", &mut |tx| {
                if tx.postgres() {
                    tx.execute("SELECT pg_advisory_xact_lock($1)", &[BOOTSTRAP_LOCK.into()])?;
                }
                let active = tx.query(
                    "SELECT count(*) FROM access_keys WHERE role = 'admin' AND tenant_id IS NULL AND revoked_at IS NULL",
                    &[],
                )?;
                let count = active.first().and_then(|r| r.first()).and_then(Val::int);
                if count.ok_or_else(|| corrupt("count"))? > 0 {
                    return Ok(());
                }
                insert_key(tx, &new, label, now)?;
                issued = true;
                Ok(())
            })
            .map_err(storage)?;
        Ok(issued.then_some(new.issued))
    }

    /// The tenants, by id.
    pub fn tenants(&mut self) -> Result<Vec<TenantInfo>, AccessError> {
        let mut out = Vec::new();
        self.store
            .in_read_tx(NO_TENANT, "listing tenants", &mut |tx| {
                out = tx
                    .query(
                        "SELECT tenant_id, name, created_at FROM access_tenants ORDER BY tenant_id",
                        &[],
                    )?
                    .into_iter()
                    .map(|row| {
                        let mut it = row.into_iter();
                        Ok(TenantInfo {
                            id: it
                                .next()
                                .and_then(Val::into_text)
                                .ok_or_else(|| corrupt("tenant id"))?,
                            name: it
                                .next()
                                .and_then(Val::into_text)
                                .ok_or_else(|| corrupt("name"))?,
                            created_at: it
                                .next()
                                .and_then(|v| v.int())
                                .ok_or_else(|| corrupt("time"))?,
                        })
                    })
                    .collect::<crate::Result<_>>()?;
                Ok(())
            })
            .map_err(storage)?;
        Ok(out)
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
        let mut out = Vec::new();
        self.store
            .in_read_tx(NO_TENANT, "listing keys", &mut |tx| {
                out = tx
                    .query(
                        "SELECT key_id, tenant_id, role, label, created_at, revoked_at FROM access_keys ORDER BY created_at, key_id",
                        &[],
                    )?
                    .into_iter()
                    .map(|row| {
                        let mut it = row.into_iter();
                        let mut next = |what| it.next().ok_or_else(|| corrupt(what));
                        Ok(KeyInfo {
                            id: next("key id")?.into_text().ok_or_else(|| corrupt("key id"))?,
                            tenant: next("tenant")?.into_text(),
                            role: next("role")?.into_text().ok_or_else(|| corrupt("role"))?,
                            label: next("label")?.into_text().ok_or_else(|| corrupt("label"))?,
                            created_at: next("time")?.int().ok_or_else(|| corrupt("time"))?,
                            revoked_at: next("time")?.int(),
                        })
                    })
                    .collect::<crate::Result<_>>()?;
                Ok(())
            })
            .map_err(storage)?;
        Ok(out)
    }

    /// The principal a presented key stands for; `None` for a malformed, unknown or revoked key
    /// (the caller cannot tell which: all are "not authenticated").
    pub fn authenticate(&mut self, key: &str) -> Result<Option<Principal>, AccessError> {
        // Split and hashed before the lookup, so timing does not tell an unknown id.
        let Some(presented) = Presented::parse(key) else {
            return Ok(None);
        };
        let mut stored = None;
        self.store
            .in_read_tx(NO_TENANT, "authenticating a key", &mut |tx| {
                let row = tx
                    .query(
                        "SELECT tenant_id, role, secret_sha256, revoked_at FROM access_keys WHERE key_id = $1",
                        &[presented.id.into()],
                    )?
                    .into_iter()
                    .next();
                stored = match row {
                    None => None,
                    Some(row) => {
                        let mut it = row.into_iter();
                        let mut next = |what| it.next().ok_or_else(|| corrupt(what));
                        Some(StoredKey {
                            tenant: next("tenant")?.into_text(),
                            role: next("role")?.into_text().ok_or_else(|| corrupt("role"))?,
                            digest: next("digest")?.into_bytes().ok_or_else(|| corrupt("digest"))?,
                            revoked_at: next("time")?.int(),
                        })
                    }
                };
                Ok(())
            })
            .map_err(storage)?;
        Ok(stored.and_then(|s| presented.principal(s)))
    }
}
