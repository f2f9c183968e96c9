//! Tenants and API keys (PRODUCT.md C9), kept in the vault's database through the same storage
//! layer and transactions as everything else. The rules (roles and what they may do, the key
//! format, how a presented key is checked) live in `custos_access`; this module only stores.
//! The console's personal accounts and sessions are stored here too, by the same rule
//! (`custos_access::account`).

use custos_access::account::{
    self, AccountInfo, ConsoleUser, Lockout, NewAccount, NewSession, SignIn, SignInOutcome,
    StoredAccount, TotpSecret,
};
use custos_access::{
    AccessError, IssuedKey, KeyInfo, NewKey, Presented, Principal, Role, StoredKey, TenantInfo,
};
use jiff::Timestamp;
use zeroize::Zeroizing;

use crate::error::VaultError;
use crate::store::{NO_TENANT, Store, Tx, Val};
use crate::vault::StoreConfig;

/// Tenants and keys, in the database the [`StoreConfig`] names (SQLite or PostgreSQL).
pub struct Access {
    store: Box<dyn Store>,
    /// The key console accounts' TOTP secrets are sealed under (from the vault's key ring, see
    /// [`Access::sealing_secrets_with`]); without it no account is added or signed in to.
    totp_key: Option<zeroize::Zeroizing<[u8; 32]>>,
}

/// What a console account's sealed TOTP secret is bound to, besides the account.
const TOTP_CONTEXT: &[u8] = b"custos/access/totp/v1";

/// The length of a TOTP secret stored before secrets were sealed (raw, RFC 4226's 160 bits).
const RAW_TOTP_LEN: usize = 20;

/// Accounts are refused where the store was opened without the vault's key (fail closed).
fn no_totp_key() -> AccessError {
    AccessError::Storage(
        "console accounts need the vault's master key (open the access store with it)".into(),
    )
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
            totp_key: None,
        })
    }

    /// The same store, sealing console accounts' TOTP secrets under a key derived from
    /// `vault`'s identity key (AES-256-GCM, bound to the account): a copy of the database
    /// without the master key holds no usable second factor.
    pub fn sealing_secrets_with(mut self, vault: &crate::Vault) -> Access {
        self.totp_key = Some(vault.keys.derived(TOTP_CONTEXT));
        self
    }

    /// The account's TOTP secret as stored: sealed under the access key.
    fn seal_totp(&self, account_id: &str, secret: &[u8]) -> Result<Vec<u8>, AccessError> {
        let key = self.totp_key.as_ref().ok_or_else(no_totp_key)?;
        crate::keys::seal_bound(key, TOTP_CONTEXT, account_id, secret).map_err(storage)
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

const ACCOUNT_COLUMNS: &str = "account_id, tenant_id, role, name, password_hash, totp_secret, totp_last_step, failures, locked_until, disabled_at";

fn stored_account(
    row: Vec<Val>,
    totp_key: Option<&zeroize::Zeroizing<[u8; 32]>>,
) -> crate::Result<StoredAccount> {
    let mut it = row.into_iter();
    let mut next = |what| it.next().ok_or_else(|| corrupt(what));
    let account_id = next("account id")?
        .into_text()
        .ok_or_else(|| corrupt("account id"))?;
    let open_totp = |stored: Vec<u8>| -> crate::Result<TotpSecret> {
        if stored.len() == RAW_TOTP_LEN {
            // Written before secrets were sealed; sealed again at the account's next change.
            return Ok(TotpSecret::from_bytes(stored));
        }
        let key = totp_key.ok_or_else(|| {
            VaultError::Corrupt("a TOTP secret is sealed and the vault's key is not at hand".into())
        })?;
        crate::keys::open_bound(key, TOTP_CONTEXT, &account_id, &stored)
            .map(|plain| TotpSecret::from_bytes(plain.to_vec()))
            .ok_or_else(|| corrupt("TOTP secret (it does not open with this vault's key)"))
    };
    Ok(StoredAccount {
        account_id: account_id.clone(),
        tenant: next("tenant")?.into_text(),
        role: next("role")?.into_text().ok_or_else(|| corrupt("role"))?,
        name: next("name")?.into_text().ok_or_else(|| corrupt("name"))?,
        password_hash: next("password hash")?
            .into_text()
            .ok_or_else(|| corrupt("password hash"))?,
        totp: open_totp(
            next("TOTP secret")?
                .into_bytes()
                .ok_or_else(|| corrupt("TOTP secret"))?,
        )?,
        totp_last_step: next("TOTP step")?.int(),
        lockout: Lockout {
            failures: next("failures")?
                .int()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| corrupt("failure count"))?,
            locked_until: next("lock")?.int(),
        },
        disabled_at: next("time")?.int(),
    })
}

fn account_info(row: Vec<Val>) -> crate::Result<AccountInfo> {
    let mut it = row.into_iter();
    let mut next = |what| it.next().ok_or_else(|| corrupt(what));
    Ok(AccountInfo {
        account_id: next("account id")?
            .into_text()
            .ok_or_else(|| corrupt("account id"))?,
        tenant: next("tenant")?.into_text(),
        role: next("role")?.into_text().ok_or_else(|| corrupt("role"))?,
        name: next("name")?.into_text().ok_or_else(|| corrupt("name"))?,
        created_at: next("time")?.int().ok_or_else(|| corrupt("time"))?,
        disabled_at: next("time")?.int(),
    })
}

/// Console accounts and their sessions (the rules are [`custos_access::account`]). Writing the
/// audit trail is the caller's: it holds the vault.
impl Access {
    /// Creates a console account for `tenant` (a dpo or auditor) or for none (an admin): the
    /// returned account holds its initial password and TOTP secret, to be shown once.
    pub fn add_account(
        &mut self,
        tenant: Option<&str>,
        role: Role,
        name: &str,
        now: Timestamp,
    ) -> Result<NewAccount, AccessError> {
        let new = NewAccount::generate(tenant, role, name, now.as_second())?;
        let sealed = self.seal_totp(&new.info.account_id, new.totp.expose())?;
        let (mut known, mut inserted) = (true, 0);
        self.store
            .in_tx(tenant.unwrap_or(NO_TENANT), "adding a console account", &mut |tx| {
                if let Some(t) = tenant {
                    known = exists(tx, t)?;
                    if !known {
                        return Ok(());
                    }
                }
                inserted = tx.execute(
                    "INSERT INTO console_accounts (account_id, tenant_id, role, name, password_hash, totp_secret, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                    &[
                        new.info.account_id.as_str().into(),
                        Val::Text(new.info.tenant.clone()),
                        new.info.role.as_str().into(),
                        new.info.name.as_str().into(),
                        new.password_hash.as_str().into(),
                        sealed.clone().into(),
                        now.as_second().into(),
                    ],
                )?;
                Ok(())
            })
            .map_err(storage)?;
        match tenant {
            Some(t) if !known => Err(AccessError::NoSuchTenant(t.to_owned())),
            _ if inserted == 0 => Err(AccessError::AccountExists(new.info.name)),
            _ => Ok(new),
        }
    }

    /// The console accounts of `tenant` (`None`: the admins), oldest first, without secrets.
    pub fn accounts(&mut self, tenant: Option<&str>) -> Result<Vec<AccountInfo>, AccessError> {
        let mut out = Vec::new();
        self.store
            .in_read_tx(tenant.unwrap_or(NO_TENANT), "listing console accounts", &mut |tx| {
                out = tx
                    .query(
                        "SELECT account_id, tenant_id, role, name, created_at, disabled_at FROM console_accounts WHERE tenant_id IS NOT DISTINCT FROM $1 ORDER BY created_at, account_id",
                        &[Val::Text(tenant.map(str::to_owned))],
                    )?
                    .into_iter()
                    .map(account_info)
                    .collect::<crate::Result<_>>()?;
                Ok(())
            })
            .map_err(storage)?;
        Ok(out)
    }

    /// Disables a console account of `tenant` and ends its sessions. Returns whether an active
    /// account was disabled.
    pub fn disable_account(
        &mut self,
        tenant: Option<&str>,
        account_id: &str,
        now: Timestamp,
    ) -> Result<bool, AccessError> {
        let mut disabled = 0;
        self.store
            .in_tx(tenant.unwrap_or(NO_TENANT), "disabling a console account", &mut |tx| {
                disabled = tx.execute(
                    "UPDATE console_accounts SET disabled_at = $1 WHERE account_id = $2 AND tenant_id IS NOT DISTINCT FROM $3 AND disabled_at IS NULL",
                    &[
                        now.as_second().into(),
                        account_id.into(),
                        Val::Text(tenant.map(str::to_owned)),
                    ],
                )?;
                if disabled > 0 {
                    tx.execute(
                        "UPDATE console_sessions SET ended_at = $1 WHERE account_id = $2 AND ended_at IS NULL",
                        &[now.as_second().into(), account_id.into()],
                    )?;
                }
                Ok(())
            })
            .map_err(storage)?;
        Ok(disabled > 0)
    }

    /// Signs in to the console with an account's name, password and current TOTP code:
    /// [`Access::account_by_name`], the rule [`account::sign_in`] (argon2id, some tens of
    /// milliseconds), then [`Access::record_sign_in`]. An unknown name costs the same hashing
    /// time as a known one. A server calls the three itself, so as not to hold the access store
    /// while hashing.
    pub fn sign_in(
        &mut self,
        name: &str,
        password: &str,
        code: &str,
        now: Timestamp,
    ) -> Result<SignInOutcome, AccessError> {
        match self.account_by_name(name)? {
            None => {
                account::verify_nothing(password);
                Ok(SignInOutcome::unknown())
            }
            Some(stored) => {
                let first = account::sign_in(&stored, password, code, now.as_second());
                self.record_sign_in(&stored, first, now)
            }
        }
    }

    /// The stored row of the console account named `name`, for [`account::sign_in`].
    pub fn account_by_name(&mut self, name: &str) -> Result<Option<StoredAccount>, AccessError> {
        let mut found = None;
        let totp_key = self.totp_key.as_ref();
        self.store
            .in_read_tx(NO_TENANT, "reading a console account", &mut |tx| {
                found = tx
                    .query(
                        &format!("SELECT {ACCOUNT_COLUMNS} FROM console_accounts WHERE name = $1"),
                        &[name.into()],
                    )?
                    .into_iter()
                    .next()
                    .map(|row| stored_account(row, totp_key))
                    .transpose()?;
                Ok(())
            })
            .map_err(storage)?;
        Ok(found)
    }

    /// Writes what sign-in attempt `first` (the rule's outcome on `stored`, read before the
    /// password was checked) comes to, settled against the row as it now stands
    /// ([`account::settle`]): the run of wrong attempts, the lock, the TOTP step used.
    pub fn record_sign_in(
        &mut self,
        stored: &StoredAccount,
        first: SignIn,
        now: Timestamp,
    ) -> Result<SignInOutcome, AccessError> {
        let now_s = now.as_second();
        let mut outcome = first.clone();
        if matches!(first, SignIn::Accepted { .. } | SignIn::Wrong(_)) {
            let tenant = stored.tenant.clone();
            self.store
                .in_tx(tenant.as_deref().unwrap_or(NO_TENANT), "recording a console sign-in", &mut |tx| {
                    let row = tx
                        .query(
                            "SELECT failures, locked_until, totp_last_step FROM console_accounts WHERE account_id = $1 AND tenant_id IS NOT DISTINCT FROM $2",
                            &[stored.account_id.as_str().into(), Val::Text(tenant.clone())],
                        )?
                        .into_iter()
                        .next()
                        .ok_or_else(|| corrupt("account (it vanished)"))?;
                    let fresh = Lockout {
                        failures: row
                            .first()
                            .and_then(Val::int)
                            .and_then(|n| u32::try_from(n).ok())
                            .ok_or_else(|| corrupt("failure count"))?,
                        locked_until: row.get(1).and_then(Val::int),
                    };
                    let last_step = row.get(2).and_then(Val::int);
                    outcome = account::settle(first.clone(), fresh, last_step, now_s);
                    let (failures, locked_until, step) = match &outcome {
                        SignIn::Accepted { totp_step } => (0, None, Some(*totp_step)),
                        SignIn::Wrong(l) => (l.failures, l.locked_until, last_step),
                        SignIn::Locked | SignIn::Disabled => return Ok(()),
                    };
                    tx.execute(
                        "UPDATE console_accounts SET failures = $1, locked_until = $2, totp_last_step = $3 WHERE account_id = $4 AND tenant_id IS NOT DISTINCT FROM $5",
                        &[
                            i64::from(failures).into(),
                            locked_until.into(),
                            step.into(),
                            stored.account_id.as_str().into(),
                            Val::Text(tenant.clone()),
                        ],
                    )?;
                    Ok(())
                })
                .map_err(storage)?;
        }
        let refused = |why| SignInOutcome::Refused {
            account: Some(stored.account_id.clone()),
            tenant: stored.tenant.clone(),
            why,
        };
        Ok(match outcome {
            SignIn::Accepted { .. } => match Role::parse(&stored.role) {
                Some(role) => SignInOutcome::Accepted(ConsoleUser {
                    account_id: stored.account_id.clone(),
                    tenant: stored.tenant.clone(),
                    role,
                    name: stored.name.clone(),
                }),
                None => refused("disabled"),
            },
            SignIn::Wrong(l) if l.locked(now_s) => refused("now-locked"),
            SignIn::Wrong(_) => refused("wrong"),
            SignIn::Locked => refused("locked"),
            SignIn::Disabled => refused("disabled"),
        })
    }

    /// Opens a session for `user`: the token for the cookie, shown to nobody else (only its
    /// SHA-256 is stored).
    pub fn open_session(
        &mut self,
        user: &ConsoleUser,
        now: Timestamp,
    ) -> Result<Zeroizing<String>, AccessError> {
        let new = NewSession::generate()?;
        self.store
            .in_tx(NO_TENANT, "opening a console session", &mut |tx| {
                tx.execute(
                    "INSERT INTO console_sessions (token_sha256, account_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)",
                    &[
                        new.digest.clone().into(),
                        user.account_id.as_str().into(),
                        now.as_second().into(),
                    ],
                )
                .map(drop)
            })
            .map_err(storage)?;
        Ok(new.token)
    }

    /// The user of a live session (`None`: unknown, ended, idle for
    /// [`account::SESSION_IDLE_SECONDS`], or its account disabled), marking it used now.
    pub fn session(
        &mut self,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<ConsoleUser>, AccessError> {
        let digest = account::session_digest(token);
        let mut found = None;
        self.store
            .in_read_tx(NO_TENANT, "reading a console session", &mut |tx| {
                found = tx
                    .query(
                        "SELECT a.account_id, a.tenant_id, a.role, a.name, a.disabled_at, s.last_seen_at, s.ended_at FROM console_sessions s JOIN console_accounts a ON a.account_id = s.account_id WHERE s.token_sha256 = $1",
                        &[digest.clone().into()],
                    )?
                    .into_iter()
                    .next();
                Ok(())
            })
            .map_err(storage)?;
        let Some(row) = found else { return Ok(None) };
        let mut it = row.into_iter();
        let (id, tenant, role, name) = (
            it.next().and_then(Val::into_text),
            it.next().and_then(Val::into_text),
            it.next().and_then(Val::into_text),
            it.next().and_then(Val::into_text),
        );
        let (disabled, last_seen, ended) = (
            it.next().and_then(|v| v.int()),
            it.next().and_then(|v| v.int()),
            it.next().and_then(|v| v.int()),
        );
        let (Some(account_id), Some(role), Some(name), Some(last_seen)) =
            (id, role.as_deref().and_then(Role::parse), name, last_seen)
        else {
            return Err(storage(corrupt("console session")));
        };
        let now_s = now.as_second();
        if disabled.is_some() || ended.is_some() || !account::session_live(last_seen, now_s) {
            return Ok(None);
        }
        // Marked used at most once a minute: a page view is a read, not a write.
        if now_s - last_seen >= 60 {
            self.store
                .in_tx(NO_TENANT, "marking a console session used", &mut |tx| {
                    tx.execute(
                        "UPDATE console_sessions SET last_seen_at = $1 WHERE token_sha256 = $2 AND ended_at IS NULL",
                        &[now_s.into(), digest.clone().into()],
                    )
                    .map(drop)
                })
                .map_err(storage)?;
        }
        Ok(Some(ConsoleUser {
            account_id,
            tenant,
            role,
            name,
        }))
    }

    /// Ends a session (sign-out): returns its user when it was live.
    pub fn end_session(
        &mut self,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<ConsoleUser>, AccessError> {
        let user = self.session(token, now)?;
        if user.is_some() {
            let digest = account::session_digest(token);
            self.store
                .in_tx(NO_TENANT, "ending a console session", &mut |tx| {
                    tx.execute(
                        "UPDATE console_sessions SET ended_at = $1 WHERE token_sha256 = $2 AND ended_at IS NULL",
                        &[now.as_second().into(), digest.clone().into()],
                    )
                    .map(drop)
                })
                .map_err(storage)?;
        }
        Ok(user)
    }
}
