//! The Custos vault (PRODUCT.md C2): where personal data lives.
//!
//! - **Tenant-scoped by construction.** [`Vault`] has no data operations; they exist only on
//!   the [`TenantVault`] handle from [`Vault::tenant`], so an unscoped storage call cannot be
//!   written. On PostgreSQL, forced row-level security is a second wall.
//! - **Envelope encryption** with AES-256-GCM: one data key per (tenant, subject, key domain),
//!   wrapped by a key-encryption key per key domain and key version, derived with HKDF-SHA256
//!   from the 32-byte master key. Each record is bound to (tenant, subject, category, record
//!   id) as associated data. See [`keys`](crate::keys) for the hierarchy.
//! - **Subjects are pseudonymous**: the app's identifier ([`SubjectId`]) is never stored; a
//!   keyed [`Pseudonym`] per tenant stands for it.
//! - **Erasure is crypto-shredding plus deletion**, journaled outside the database so that a
//!   restored backup is erased again on open (see [`journal`](crate::journal)).
//! - **Policy-checked writes**: categories the policy does not define or marks `stored = false`,
//!   and undefined purposes, are refused.
//!
//! The API is synchronous and narrow: [`Vault::open`], [`Vault::tenant`],
//! [`TenantVault::put`]/[`put_batch`](TenantVault::put_batch), [`get`](TenantVault::get),
//! [`list`](TenantVault::list), [`erase_subject`](TenantVault::erase_subject), and
//! [`Vault::rotate_keys`].
//!
//! # Embedding the vault in a Rust application
//!
//! An application written in Rust can use the vault as a library instead of over HTTP
//! (`docs/integration.md`). The time is always an argument, so tests can run any clock:
//!
//! ```
//! use custos_vault::{MasterKey, NewRecord, StoreConfig, SubjectId, TenantId, Vault};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("custos-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! let policy = custos_policy::load(std::path::Path::new(concat!(
//!     env!("CARGO_MANIFEST_DIR"),
//!     "/../../examples/policies/jbsync.toml"
//! )))?
//! .policy;
//! let store = StoreConfig::Sqlite { path: dir.join("custos.db") };
//! let mut vault = Vault::open(&store, MasterKey::generate()?)?;
//! let now = jiff::Timestamp::now();
//!
//! // Store a support message of jan's, for the purpose it serves.
//! let jan = SubjectId::new("jan@example.nl")?;
//! let mut acme = vault.tenant(&TenantId::new("acme")?);
//! let id = acme.put(
//!     &policy,
//!     NewRecord {
//!         subject: jan.clone(),
//!         category: "support".into(),
//!         purposes: vec!["support".into()],
//!         payload: br#"{"message":"Vraag over factuur"}"#.to_vec(),
//!         created_at: now,
//!         clocks: Default::default(),
//!     },
//!     now,
//! )?;
//! assert_eq!(acme.get(&id)?.payload.as_slice(), br#"{"message":"Vraag over factuur"}"#);
//!
//! // May it be used for support now? Allowed, with the legal basis as the reason.
//! let decision = acme.decide(
//!     &policy,
//!     &custos_vault::consent::DecisionQuery {
//!         subject: &jan,
//!         purpose: "support",
//!         category: "support",
//!         record: Some(&id),
//!         address: None,
//!         gpc: false,
//!         action: None,
//!         item: None,
//!         approval_token: None,
//!         stale_versions: &[],
//!     },
//!     now,
//! )?;
//! assert!(decision.allowed);
//!
//! // Art. 17: erase jan; the keys go, so every copy of the records is unreadable.
//! let erasure = acme.erase_subject(&jan, now)?;
//! assert_eq!(erasure.counts.records, 1);
//! assert!(acme.list(&jan)?.is_empty());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```

pub mod access;
pub mod announcements;
pub mod app_events;
pub mod backup;
pub mod breach_letters;
pub mod breaches;
pub mod connect;
pub mod consent;
mod error;
pub mod export;
mod ids;
pub mod journal;
pub mod key_gate;
pub mod keys;
pub mod opengdpr;
pub mod policy_versions;
pub mod recipients;
pub mod records;
pub mod retention;
pub mod rights;
mod store;
mod vault;
pub mod watch;

pub use access::Access;
pub use error::{Result, VaultError};
pub use ids::{HoldId, Pseudonym, RecordId, RequestId, SubjectId, TenantId};
pub use keys::{MASTER_KEY_ENV, MasterKey};
pub use policy_versions::{PolicyVersion, policy_fingerprint};
pub use retention::{
    ChangeOutcome, EventTarget, HoldInfo, HoldTarget, PurgeOptions, PurgeReport, RetentionReport,
    RuleOutcome,
};
pub use store::postgres::connect as postgres_connection;
pub use store::sqlite::connect as sqlite_connection;
pub use store::{ErasureCounts, GroupCommitTotals, group_commit_totals};
pub use vault::{
    Erasure, Idempotency, NewRecord, Record, Rotation, StoreConfig, TenantVault, Vault, Written,
    checkpoint_public_key, validate,
};

#[cfg(test)]
#[path = "../../../testkit/database_url.rs"]
mod database_url;

#[cfg(test)]
mod tests {
    #[test]
    fn a_vault_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<super::Vault>();
    }
}
