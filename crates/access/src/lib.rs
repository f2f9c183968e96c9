//! Who may call Custos (PRODUCT.md C9): tenants, and API keys bound to one tenant and one role.
//! This crate holds the rules (roles and what they may do, the key format, how a presented key
//! is checked); the tables live with the rest of the storage, in the vault
//! (`custos_vault::Access`).
//!
//! A key is `cst_<id>_<secret>`: the id (16 hex digits) finds the row, the 256-bit secret is
//! shown once at creation and stored only as its SHA-256 (a fast hash is right for a random
//! 256-bit secret: there is nothing to brute-force), compared in constant time. Keys can be
//! revoked; a revoked key never authenticates again.
//!
//! The privacy team's personal accounts for the console (password, second factor, lockout,
//! sessions) follow their own rules, in [`account`].

pub mod account;

use custos_types::TenantId;
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
    /// The database failed; nothing was written.
    #[error("access store: {0}")]
    Storage(String),
    /// The system random source failed.
    #[error("no randomness available for a new key: {0}")]
    Random(String),
    /// A tenant id is not acceptable.
    #[error("tenant id `{0}` is invalid: use 1–64 characters A–Z, a–z, 0–9, `-`, `_` or `.`")]
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
    /// A console account is a dpo or auditor of a tenant, or an admin of none.
    #[error("a console account with role `{0}` {1}")]
    BadAccountRole(String, &'static str),
    /// An account name is not acceptable.
    #[error(
        "an account name has 1–64 characters, no control characters and no leading or trailing space"
    )]
    InvalidAccountName,
    /// The account name is taken.
    #[error("an account named `{0}` exists already: choose another name")]
    AccountExists(String),
}

impl AccessError {
    /// Its code in the error table (`docs/errors.md`). A failing database, like the random
    /// generator a key needs, is `unavailable`: nothing was written and a retry may succeed.
    pub fn code(&self) -> custos_types::ErrorCode {
        use custos_types::ErrorCode as C;
        match self {
            AccessError::Storage(_) | AccessError::Random(_) => C::Unavailable,
            AccessError::InvalidTenant(_) => C::InvalidTenant,
            AccessError::TenantExists(_) => C::TenantExists,
            AccessError::NoSuchTenant(_) => C::TenantNotFound,
            AccessError::BadRole(_) | AccessError::BadAccountRole(..) => C::InvalidRole,
            // Console accounts are made from the command line only: a name that cannot be used
            // is an argument to change.
            AccessError::InvalidAccountName | AccessError::AccountExists(_) => C::InvalidArgument,
        }
    }
}

/// Validates the id of a tenant to create: the one rule for every tenant id in Custos
/// ([`TenantId`]), so any tenant that can hold keys can hold data and the other way round.
pub fn tenant_id(id: &str) -> Result<TenantId, AccessError> {
    TenantId::new(id).map_err(|_| AccessError::InvalidTenant(id.to_owned()))
}

/// Which role may be given to a key for `tenant`: admin keys belong to no tenant, every other
/// key to exactly one.
pub fn check_role(tenant: Option<&str>, role: Role) -> Result<(), AccessError> {
    match (tenant, role) {
        (None, Role::Admin) | (Some(_), Role::App | Role::Dpo | Role::Auditor | Role::Approver) => {
            Ok(())
        }
        (Some(_), Role::Admin) | (None, _) => Err(AccessError::BadRole(role.as_str().to_owned())),
    }
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

/// A key about to be stored: what the caller sees once, and the digest the store keeps.
pub struct NewKey {
    /// The key as shown once.
    pub issued: IssuedKey,
    /// SHA-256 of the secret: all the store ever holds of it.
    pub digest: Vec<u8>,
}

impl NewKey {
    /// A fresh key (16-hex-digit id, 256-bit secret) for `tenant` and `role`, after
    /// [`check_role`].
    pub fn generate(tenant: Option<&str>, role: Role) -> Result<NewKey, AccessError> {
        check_role(tenant, role)?;
        let id = random_hex(8)?;
        let secret = random_hex(32)?;
        Ok(NewKey {
            digest: digest(&secret),
            issued: IssuedKey {
                key: format!("cst_{id}_{secret}"),
                id,
                tenant: tenant.map(str::to_owned),
                role,
            },
        })
    }
}

/// A key as presented by a caller, split and hashed before anything is looked up (so the timing
/// of a lookup for an unknown id tells nothing about the secret).
pub struct Presented<'a> {
    /// The key id, to find the stored row.
    pub id: &'a str,
    digest: Vec<u8>,
}

impl<'a> Presented<'a> {
    /// Splits `cst_<id>_<secret>`; `None` for anything else.
    pub fn parse(key: &'a str) -> Option<Presented<'a>> {
        let rest = key.trim().strip_prefix("cst_")?;
        let (id, secret) = rest.split_once('_')?;
        (id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) && secret.len() == 64).then(
            || Presented {
                id,
                digest: digest(secret),
            },
        )
    }

    /// The principal this key stands for, given its stored row: `None` when the secret differs,
    /// the key is revoked or its role is unknown (the caller cannot tell which).
    pub fn principal(&self, stored: StoredKey) -> Option<Principal> {
        if !same(&self.digest, &stored.digest) || stored.revoked_at.is_some() {
            return None;
        }
        Role::parse(&stored.role).map(|role| Principal {
            key_id: self.id.to_owned(),
            tenant: stored.tenant,
            role,
        })
    }
}

/// A key's stored row, as the store reads it for [`Presented::principal`].
pub struct StoredKey {
    /// The tenant (`None` for admin keys).
    pub tenant: Option<String>,
    /// The role, as stored.
    pub role: String,
    /// SHA-256 of the secret.
    pub digest: Vec<u8>,
    /// When it was revoked (Unix seconds), if it was.
    pub revoked_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(k: &NewKey) -> StoredKey {
        StoredKey {
            tenant: k.issued.tenant.clone(),
            role: k.issued.role.as_str().to_owned(),
            digest: k.digest.clone(),
            revoked_at: None,
        }
    }

    #[test]
    fn a_generated_key_checks_against_its_own_row_only() {
        let k = NewKey::generate(Some("acme"), Role::App).expect("random");
        assert!(k.issued.key.starts_with(&format!("cst_{}_", k.issued.id)));
        let p = Presented::parse(&k.issued.key).expect("well-formed");
        assert_eq!(p.id, k.issued.id);
        let who = p.principal(stored(&k)).expect("authenticates");
        assert_eq!((who.tenant.as_deref(), who.role), (Some("acme"), Role::App));
        let other = NewKey::generate(Some("acme"), Role::App).expect("random");
        assert!(
            p.principal(stored(&other)).is_none(),
            "another key's digest"
        );
        let revoked = StoredKey {
            revoked_at: Some(1),
            ..stored(&k)
        };
        assert!(p.principal(revoked).is_none(), "a revoked key");
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        for bad in [
            "",
            "cst_",
            "Bearer x",
            "cst_0123456789abcdef_short",
            "cst_zz23456789abcdef_",
        ] {
            assert!(Presented::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn admin_keys_belong_to_no_tenant_and_tenant_keys_to_one() {
        assert!(check_role(None, Role::Admin).is_ok());
        assert!(check_role(Some("acme"), Role::Approver).is_ok());
        assert!(matches!(
            check_role(Some("acme"), Role::Admin),
            Err(AccessError::BadRole(_))
        ));
        assert!(matches!(
            check_role(None, Role::Dpo),
            Err(AccessError::BadRole(_))
        ));
    }

    #[test]
    fn a_tenant_id_follows_the_one_rule_of_every_tenant_id() {
        assert!(matches!(
            tenant_id("Acme!"),
            Err(AccessError::InvalidTenant(_))
        ));
        assert!(tenant_id("acme").is_ok());
        assert!(
            tenant_id("acme-corp.nl_1").is_ok(),
            "the vault's rule: dots and capitals too"
        );
    }
}
