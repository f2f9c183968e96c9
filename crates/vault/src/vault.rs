//! The vault: open, scope to a tenant, put, get, list, erase, rotate.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use custos_policy::Policy;
use jiff::Timestamp;
use zeroize::Zeroizing;

use crate::error::{Result, VaultError};
use crate::ids::{Pseudonym, RecordId, SubjectId, TenantId, hex};
use crate::journal::Journal;
use crate::keys::{self, DataKey, KeyRing, MasterKey, RecordIdentity};
use crate::store::{self, ErasureCounts, JournalEntry, RecordRow, Store, WrappedKeyRow};

mod shred;

/// Where the vault keeps its data.
#[derive(Clone)]
pub enum StoreConfig {
    /// One SQLite file (the default). The erasure journal is the sidecar file
    /// `<path>-erasures.jsonl` (see [`StoreConfig::journal_path`]).
    Sqlite {
        /// The database file; created if absent.
        path: PathBuf,
    },
    /// A PostgreSQL database, in one schema (created if absent).
    Postgres {
        /// A libpq-style connection string or URL.
        url: String,
        /// The schema: a lowercase identifier, e.g. `custos`.
        schema: String,
        /// An erasure journal file kept outside the database, replayed on open; recommended
        /// when database backups may be restored. Without it, the `erasures` table is the only
        /// journal.
        journal: Option<PathBuf>,
    },
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite { path } => f.debug_struct("Sqlite").field("path", path).finish(),
            // The URL may hold a password.
            Self::Postgres {
                schema, journal, ..
            } => f
                .debug_struct("Postgres")
                .field("url", &"<redacted>")
                .field("schema", schema)
                .field("journal", journal)
                .finish(),
        }
    }
}

impl StoreConfig {
    /// The erasure journal file for this store, if it has one.
    pub fn journal_path(&self) -> Option<PathBuf> {
        match self {
            Self::Sqlite { path } => {
                let mut name = path
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_else(|| "custos.db".into());
                name.push("-erasures.jsonl");
                Some(path.with_file_name(name))
            }
            Self::Postgres { journal, .. } => journal.clone(),
        }
    }
}

/// A record to store.
pub struct NewRecord {
    /// Whose data it is.
    pub subject: SubjectId,
    /// The policy category id, e.g. `mail.metadata`.
    pub category: String,
    /// The purposes it serves (policy purpose ids; at least one).
    pub purposes: Vec<String>,
    /// The data. Zeroized once encrypted.
    pub payload: Vec<u8>,
    /// When it was created (the `created` retention clock).
    pub created_at: Timestamp,
    /// Further event clocks for retention, e.g. `draft.decided` → when it happened.
    pub clocks: BTreeMap<String, Timestamp>,
}

impl fmt::Debug for NewRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewRecord")
            .field("category", &self.category)
            .field("purposes", &self.purposes)
            .field("payload", &format_args!("<{} bytes>", self.payload.len()))
            .finish_non_exhaustive()
    }
}

/// An idempotency key sent with a write (an HTTP `Idempotency-Key`), with a hash of the request
/// it came with: the same key with the same request is a retry, with another a mistake.
#[derive(Debug, Clone, Copy)]
pub struct Idempotency<'a> {
    /// The key as the app sent it; only a hash of it (with the tenant) is stored.
    pub key: &'a str,
    /// A hash of the request, in hex.
    pub request_hash: &'a str,
}

impl Idempotency<'_> {
    fn key_hash(&self, tenant: &TenantId) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(tenant.as_str().as_bytes());
        h.update([0]);
        h.update(self.key.as_bytes());
        hex(&h.finalize())
    }
}

/// An idempotency key's stored form, carried through a write.
struct IdempotencyKeyHash {
    key_hash: String,
    body_hash: String,
}

/// What a write stored: enough to answer the app from what was written.
#[derive(Debug, Clone)]
pub struct Written {
    /// The record's id.
    pub id: RecordId,
    /// Its subject's pseudonym.
    pub subject: Pseudonym,
    /// Its creation time.
    pub created_at: Timestamp,
    /// The write was a retry of an earlier one with the same idempotency key: nothing new was
    /// stored.
    pub replayed: bool,
}

/// A record read back and decrypted.
pub struct Record {
    /// Its id.
    pub id: RecordId,
    /// Its subject's pseudonym.
    pub subject: Pseudonym,
    /// Its category.
    pub category: String,
    /// The purposes it serves.
    pub purposes: Vec<String>,
    /// The decrypted data; zeroized on drop, never printed by `Debug`.
    pub payload: Zeroizing<Vec<u8>>,
    /// When it was created.
    pub created_at: Timestamp,
    /// Its event clocks.
    pub clocks: BTreeMap<String, Timestamp>,
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("id", &self.id)
            .field("subject", &self.subject)
            .field("category", &self.category)
            .field("purposes", &self.purposes)
            .field("payload", &format_args!("<{} bytes>", self.payload.len()))
            .field("created_at", &self.created_at)
            .field("clocks", &self.clocks)
            .finish()
    }
}

/// What an erasure did: the journal entry's id and time, and what was destroyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    /// The erasure's id in the journal.
    pub erasure_id: String,
    /// The subject's pseudonym (what an audit entry may name).
    pub subject: Pseudonym,
    /// When.
    pub erased_at: Timestamp,
    /// Data keys destroyed and records deleted.
    pub counts: ErasureCounts,
}

/// The vault, open on one store with one master key. Data operations exist only on the
/// tenant-scoped handle returned by [`Vault::tenant`].
pub struct Vault {
    pub(crate) store: Box<dyn Store>,
    config: StoreConfig,
    audit_key: custos_audit::SigningKey,
    pub(crate) keys: KeyRing,
    key_version: u32,
    journal: Option<Journal>,
    replayed: usize,
    /// The company's databases requests and purges reach as well (PRODUCT.md C10).
    pub(crate) datasets: std::sync::Arc<Vec<crate::connect::Dataset>>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("key_version", &self.key_version)
            .field("journal", &self.journal)
            .finish_non_exhaustive()
    }
}

const META_CHECK: &str = "key_check";

/// A signed checkpoint every this many audit entries (the cadence verification expects).
pub const AUDIT_CHECKPOINT_EVERY: u64 = custos_audit::CHECKPOINT_EVERY;

fn erasure_event(
    e: &JournalEntry,
    counts: ErasureCounts,
    actor: &str,
    action: &str,
) -> custos_audit::Event {
    custos_audit::Event {
        tenant: e.tenant.clone(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        subject: Some(e.pseudonym.clone()),
        details: serde_json::json!({ "erasure_id": e.erasure_id, "keys_destroyed": counts.keys, "records_deleted": counts.records, "records_restricted": counts.restricted, "kept_categories": e.keep }),
    }
}
const META_VERSION: &str = "key_version";
/// The identity key sealed under the master key, once a master key was replaced (empty before:
/// the identity key is the master key). See [`KeyRing`].
const META_IDENTITY: &str = "identity_key";

/// The key ring of `keys`' master with the identity key `sealed` holds (none: the master's own).
fn with_identity(keys: KeyRing, sealed: &str) -> Result<KeyRing> {
    if sealed.is_empty() {
        return Ok(keys);
    }
    let bytes = hex::decode(sealed)
        .ok()
        .ok_or_else(|| VaultError::Corrupt("the sealed identity key is not hex".into()))?;
    KeyRing::with_sealed_identity(keys.into_master(), &bytes).ok_or_else(|| {
        VaultError::Corrupt("the sealed identity key does not open under this master key".into())
    })
}

/// The public key that verifies the checkpoints of the vault `config` names, for `master`:
/// read without opening (and so without migrating or writing to) the vault, as `custos audit
/// verify` needs it. After a master key was replaced, it is the identity key's, which the new
/// master unseals from the vault's settings.
pub fn checkpoint_public_key(
    config: &StoreConfig,
    master: MasterKey,
) -> Result<custos_audit::VerifyingKey> {
    let sealed = read_setting(config, META_IDENTITY)?.unwrap_or_default();
    Ok(with_identity(KeyRing::new(master), &sealed)?
        .audit_signing_key()
        .verifying_key())
}

/// One vault setting, read without opening the vault (`None`: not set, or no settings table).
fn read_setting(config: &StoreConfig, key: &str) -> Result<Option<String>> {
    match config {
        StoreConfig::Sqlite { path } => {
            let conn = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .map_err(|e| VaultError::Unavailable {
                target: path.display().to_string(),
                reason: e.to_string(),
            })?;
            Ok(conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .ok())
        }
        StoreConfig::Postgres { url, schema, .. } => {
            let mut client = store::postgres::connect(url, schema)?;
            Ok(client
                .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
                .ok()
                .flatten()
                .map(|r| r.get(0)))
        }
    }
}

/// Connects to the database `config` names and migrates it: the one way into storage, for the
/// vault and for the access tables alike.
pub(crate) fn open_store(config: &StoreConfig) -> Result<Box<dyn Store>> {
    Ok(match config {
        StoreConfig::Sqlite { path } => Box::new(store::sqlite::SqliteStore::open(path)?),
        StoreConfig::Postgres { url, schema, .. } => {
            Box::new(store::postgres::PostgresStore::open(url, schema)?)
        }
    })
}

impl Vault {
    /// Opens the store (creating and migrating it as needed), checks the master key against
    /// the stored key check value (a new store records it), and replays the erasure journal.
    ///
    /// Fails with [`VaultError::WrongMasterKey`] when the key is not the one the vault was
    /// created with, before any data is read.
    pub fn open(config: &StoreConfig, master: MasterKey) -> Result<Self> {
        let store = open_store(config)?;
        Self::with_store(
            store,
            config.clone(),
            config.journal_path().map(Journal::new),
            master,
        )
    }

    pub(crate) fn with_store(
        mut store: Box<dyn Store>,
        config: StoreConfig,
        journal: Option<Journal>,
        master: MasterKey,
    ) -> Result<Self> {
        let keys = KeyRing::new(master);
        let stored_check = store.init_meta(META_CHECK, &keys.check_value())?;
        if !keys.matches_check_value(&stored_check) {
            return Err(VaultError::WrongMasterKey);
        }
        let keys = with_identity(keys, &store.init_meta(META_IDENTITY, "")?)?;
        let version_text = store.init_meta(META_VERSION, "1")?;
        let key_version = version_text.parse::<u32>().map_err(|_| {
            VaultError::Corrupt(format!("key version `{version_text}` is not a number"))
        })?;
        let audit_key = keys.audit_signing_key();
        let mut vault = Self {
            store,
            config,
            audit_key,
            keys,
            key_version,
            journal,
            replayed: 0,
            datasets: std::sync::Arc::default(),
        };
        vault.replay_journal()?;
        Ok(vault)
    }

    fn replay_journal(&mut self) -> Result<()> {
        let Some(journal) = &self.journal else {
            return Ok(());
        };
        for entry in journal.read_all()? {
            if !self.store.has_erasure(&entry)? {
                // Opening the vault is the edge where the time is read.
                let now = Timestamp::now();
                self.rekey_kept_legacy(&entry, now)?;
                let key = &self.audit_key;
                self.store.erase(&entry, &mut |counts, head| {
                    let ev = erasure_event(&entry, counts, "custos", "subject.erase.replayed");
                    custos_audit::build(head, &[ev], now, key, AUDIT_CHECKPOINT_EVERY)
                })?;
                self.replayed += 1;
            }
        }
        Ok(())
    }

    /// How many journaled erasures [`Vault::open`] found missing from the database (after a
    /// restore from backup, or a crash mid-erasure) and applied.
    pub fn replayed_erasures(&self) -> usize {
        self.replayed
    }

    /// The erasure journal file, if this store has one.
    pub fn journal_path(&self) -> Option<&Path> {
        self.journal.as_ref().map(Journal::path)
    }

    /// The public key that verifies this vault's audit checkpoints; publish it to auditors.
    pub fn audit_public_key(&self) -> custos_audit::VerifyingKey {
        self.audit_key.verifying_key()
    }

    pub(crate) fn audit_store(&self) -> Result<Box<dyn custos_audit::Store>> {
        Ok(match &self.config {
            StoreConfig::Sqlite { path } => Box::new(
                custos_audit::SqliteStore::open(path)
                    .map_err(|e| audit_err("opening the audit trail", e))?,
            ),
            StoreConfig::Postgres { url, schema, .. } => Box::new(
                custos_audit::PgStore::connect(url, Some(schema))
                    .map_err(|e| audit_err("opening the audit trail", e))?,
            ),
        })
    }

    /// Verifies the whole audit trail: the hash chain, every signed checkpoint and the
    /// checkpoint cadence. Entries after the last checkpoint are an unsealed tail.
    pub fn verify_audit(&self) -> Result<custos_audit::Verification> {
        self.verify_audit_with(custos_audit::Expect::default())
    }

    /// [`Vault::verify_audit`], also against anchors kept outside the database: an expected
    /// head and published checkpoints (see [`custos_audit::Expect`]).
    pub fn verify_audit_with(
        &self,
        expect: custos_audit::Expect,
    ) -> Result<custos_audit::Verification> {
        let mut store = self.audit_store()?;
        custos_audit::verify_store_with(store.as_mut(), &self.audit_key.verifying_key(), expect)
            .map_err(|e| audit_err("verifying the audit trail", e))
    }

    /// Appends the audit checkpoints with seq above `after` to `file`; returns the highest seq
    /// now published.
    pub fn publish_audit_checkpoints(
        &self,
        file: &custos_audit::published::CheckpointFile,
        after: u64,
    ) -> Result<u64> {
        let mut store = self.audit_store()?;
        custos_audit::published::publish(store.as_mut(), file, after)
            .map_err(|e| audit_err("publishing audit checkpoints", e))
    }

    /// Appends events that do not change the vault (reads, exports) to the audit trail, in one
    /// transaction of their own.
    pub fn append_audit(&self, events: &[custos_audit::Event], now: Timestamp) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let store = self.audit_store()?;
        let mut log =
            custos_audit::AuditLog::new(store, self.audit_key.clone(), AUDIT_CHECKPOINT_EVERY);
        log.append(events, now)
            .map(|_| ())
            .map_err(|e| audit_err("appending to the audit trail", e))
    }

    /// Signs a checkpoint at the audit trail's head now (the server does this on a timer, so a
    /// quiet trail is anchored too).
    pub fn checkpoint_audit(&self, now: Timestamp) -> Result<Option<custos_audit::Checkpoint>> {
        let store = self.audit_store()?;
        let mut log =
            custos_audit::AuditLog::new(store, self.audit_key.clone(), AUDIT_CHECKPOINT_EVERY);
        log.checkpoint(now)
            .map_err(|e| audit_err("signing an audit checkpoint", e))
    }

    /// The ids of every tenant with data in the vault.
    pub fn tenant_ids(&mut self) -> Result<Vec<String>> {
        self.store.tenant_ids()
    }

    /// The key version new data keys are wrapped with.
    pub fn key_version(&self) -> u32 {
        self.key_version
    }

    /// The handle through which all of one tenant's data is reached.
    pub fn tenant<'v>(&'v mut self, tenant: &TenantId) -> TenantVault<'v> {
        TenantVault {
            vault: self,
            tenant: tenant.clone(),
            actor: "custos".to_owned(),
        }
    }

    /// Key rotation: derives the key-encryption keys of the next key version and re-wraps every
    /// data key of every tenant with them, in one transaction. Record rows are not touched: their
    /// ciphertexts stay byte-identical and decrypt as before.
    pub fn rotate_keys(&mut self) -> Result<Rotation> {
        self.rewrap_to(None, &[])
    }

    /// Re-wraps every data key at the next key version: under `next`'s master key (a
    /// replacement), or under the current one (a rotation), writing `settings` in the same
    /// transaction.
    fn rewrap_to(
        &mut self,
        next: Option<KeyRing>,
        settings: &[(&str, String)],
    ) -> Result<Rotation> {
        let from = self.key_version;
        let to = from
            .checked_add(1)
            .ok_or_else(|| VaultError::Corrupt("key version at its maximum".into()))?;
        let old = &self.keys;
        let new = next.as_ref().unwrap_or(old);
        let rewrapped =
            self.store
                .rewrap_all(to, settings, &mut |tenant, row: &WrappedKeyRow| {
                    let dk = unwrap_row(old, tenant, row)?;
                    new.wrap(
                        &dk,
                        tenant,
                        &row.pseudonym,
                        &row.key_domain,
                        &row.category,
                        to,
                    )
                })?;
        if let Some(next) = next {
            self.keys = next;
        }
        self.key_version = to;
        Ok(Rotation {
            from,
            to,
            rewrapped,
        })
    }

    /// Replaces the master key with `new` (after the old one leaked, or by policy): every data
    /// key is re-wrapped under the new key's key-encryption keys at the next key version, the
    /// key check value becomes the new key's, and the identity key (pseudonyms, tenant secrets,
    /// the checkpoint signing key) is sealed under the new key, all in one transaction. From the
    /// commit on, the old master key opens neither the vault nor any data key in it; records
    /// are not touched. Servers still running with the old key are refused when they would
    /// create a data key ([`VaultError::MasterKeyReplaced`]) and must restart with the new key.
    ///
    /// What stays derived from the first master key is the identity: someone holding a leaked
    /// old key can still compute pseudonyms and the tenants' webhook-secret and suppression keys,
    /// and sign checkpoints; the runbook says what to reissue (`docs/operations.md`, "Keys").
    pub fn replace_master_key(&mut self, new: MasterKey) -> Result<Rotation> {
        let next = self.keys.replaced_by(new);
        let settings = [
            (META_CHECK, next.check_value()),
            (META_IDENTITY, hex(&next.sealed_identity()?)),
        ];
        self.rewrap_to(Some(next), &settings)
    }
}

/// The data key a stored row wraps, unwrapped with `keys`; [`VaultError::KeyUnwrap`] naming the
/// subject's pseudonym and key domain when it does not authenticate.
fn unwrap_row(keys: &KeyRing, tenant: &str, row: &WrappedKeyRow) -> Result<DataKey> {
    keys.unwrap(
        &row.wrapped,
        tenant,
        &row.pseudonym,
        &row.key_domain,
        &row.category,
        row.key_version,
    )
    .ok_or_else(|| VaultError::KeyUnwrap {
        pseudonym: row.pseudonym.clone(),
        key_domain: row.key_domain.clone(),
    })
}

/// What a key rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// The key version before.
    pub from: u32,
    /// The key version now.
    pub to: u32,
    /// How many data keys were re-wrapped.
    pub rewrapped: u64,
}

/// One tenant's view of the vault. Every operation is confined to this tenant.
pub struct TenantVault<'v> {
    pub(crate) vault: &'v mut Vault,
    tenant: TenantId,
    actor: String,
}

impl fmt::Debug for TenantVault<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantVault")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

/// Checks a record against the policy: its category is declared and may be stored, and each
/// purpose is declared. Returns the category's key domain.
pub fn validate(
    policy: &Policy,
    category: &str,
    purposes: &[String],
    clocks: &BTreeMap<String, Timestamp>,
) -> Result<String> {
    let cat = policy
        .category(category)
        .ok_or_else(|| VaultError::UnknownCategory {
            category: category.to_owned(),
        })?;
    if !cat.stored {
        return Err(VaultError::NeverStored {
            category: category.to_owned(),
        });
    }
    if purposes.is_empty() {
        return Err(VaultError::NoPurpose {
            category: category.to_owned(),
        });
    }
    if let Some(p) = purposes.iter().find(|p| policy.purpose(p).is_none()) {
        return Err(VaultError::UnknownPurpose {
            purpose: p.clone(),
            category: category.to_owned(),
        });
    }
    // Art. 5(1)(b): data is stored only for purposes that use it. The decision call denies
    // processing of a category for a purpose that does not list it; a write must not store it
    // under that purpose either.
    if let Some(p) = purposes
        .iter()
        .filter_map(|p| policy.purpose(p))
        .find(|p| !policy.purpose_uses(p, category))
    {
        return Err(VaultError::CategoryNotForPurpose {
            purpose: p.id.clone(),
            category: category.to_owned(),
        });
    }
    if clocks.keys().any(|k| k.trim().is_empty()) {
        return Err(VaultError::EmptyClockName {
            category: category.to_owned(),
        });
    }
    Ok(cat.key_domain.clone())
}

fn clocks_json(clocks: &BTreeMap<String, Timestamp>) -> String {
    if clocks.is_empty() {
        return "{}".to_owned();
    }
    let map: serde_json::Map<String, serde_json::Value> = clocks
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.to_string())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

fn parse_clocks(id: &RecordId, text: &str) -> Result<BTreeMap<String, Timestamp>> {
    let bad = || VaultError::Corrupt(format!("record {id} has unreadable event clocks"));
    let v: serde_json::Value = serde_json::from_str(text).map_err(|_| bad())?;
    let obj = v.as_object().ok_or_else(bad)?;
    obj.iter()
        .map(|(k, v)| {
            Ok((
                k.clone(),
                v.as_str().and_then(|s| s.parse().ok()).ok_or_else(bad)?,
            ))
        })
        .collect()
}

/// Who acts, and when, for audit entries written inside a transaction.
pub(crate) struct AuditCtx {
    pub(crate) tenant: String,
    pub(crate) actor: String,
    pub(crate) key: custos_audit::SigningKey,
    pub(crate) now: Timestamp,
}

impl AuditCtx {
    /// Appends one entry to the audit trail in `tx`.
    pub(crate) fn audit(
        &self,
        tx: &mut dyn store::Tx,
        action: &str,
        subject: Option<String>,
        details: serde_json::Value,
    ) -> Result<()> {
        let ev = custos_audit::Event {
            tenant: self.tenant.clone(),
            actor: self.actor.clone(),
            action: action.to_owned(),
            subject,
            details,
        };
        let (now, key) = (self.now, &self.key);
        tx.append_audit(&mut |head| {
            custos_audit::build(
                head,
                std::slice::from_ref(&ev),
                now,
                key,
                AUDIT_CHECKPOINT_EVERY,
            )
        })
    }
}

impl TenantVault<'_> {
    /// The tenant, actor and signing key for audit entries written at `now`.
    pub(crate) fn audit_ctx(&self, now: Timestamp) -> AuditCtx {
        AuditCtx {
            tenant: self.tenant.as_str().to_owned(),
            actor: self.actor.clone(),
            key: self.vault.audit_key.clone(),
            now,
        }
    }

    pub(crate) fn store(&mut self) -> &mut dyn Store {
        self.vault.store.as_mut()
    }

    pub(crate) fn audit_key(&self) -> &custos_audit::SigningKey {
        &self.vault.audit_key
    }

    /// A key of this tenant's own for `purpose`, derived from the master key.
    pub(crate) fn tenant_key(&self, purpose: &str) -> zeroize::Zeroizing<[u8; 32]> {
        self.vault
            .keys
            .derived(format!("custos/{purpose}/v1/{}", self.tenant.as_str()).as_bytes())
    }

    pub(crate) fn actor(&self) -> &str {
        &self.actor
    }

    /// The tenant.
    pub fn tenant_id(&self) -> &TenantId {
        &self.tenant
    }

    /// The subject's pseudonym in this tenant.
    pub fn pseudonym(&self, subject: &SubjectId) -> Pseudonym {
        self.vault.keys.pseudonym(&self.tenant, subject)
    }

    /// The same handle, recording `actor` (an API key id, an operator) as who acts in the
    /// audit trail. Without it the actor is `custos`.
    pub fn acting_as(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// This tenant's audit entries matching `q`, oldest first.
    pub fn audit(&mut self, q: &custos_audit::Query) -> Result<Vec<custos_audit::Entry>> {
        let tenant = self.tenant.as_str().to_owned();
        let mut store = self.vault.audit_store()?;
        store
            .query(&tenant, q)
            .map_err(|e| audit_err("reading the audit trail", e))
    }

    /// This tenant's audit entries (only those with `action`, if given), the newest first:
    /// `limit` (at most 1000) after skipping the newest `offset`, cut in the database.
    pub fn audit_recent(
        &mut self,
        action: Option<&str>,
        offset: u64,
        limit: usize,
    ) -> Result<Vec<custos_audit::Entry>> {
        let tenant = self.tenant.as_str().to_owned();
        let mut store = self.vault.audit_store()?;
        store
            .recent(&tenant, action, offset, limit)
            .map_err(|e| audit_err("reading the audit trail", e))
    }

    /// How many audit entries this tenant has, and how many of them come after entry
    /// `after_seq` (e.g. after the last checkpoint: the tenant's unsealed entries).
    pub fn audit_counts(&mut self, after_seq: u64) -> Result<(u64, u64)> {
        let tenant = self.tenant.as_str().to_owned();
        let mut store = self.vault.audit_store()?;
        store
            .tenant_counts(&tenant, after_seq)
            .map_err(|e| audit_err("counting audit entries", e))
    }

    /// Stores one record at `now`; see [`TenantVault::put_batch`].
    pub fn put(&mut self, policy: &Policy, record: NewRecord, now: Timestamp) -> Result<RecordId> {
        let mut ids = self.put_batch(policy, vec![record], now)?;
        ids.pop()
            .ok_or_else(|| VaultError::Corrupt("a batch of one stored no record".into()))
    }

    /// Validates every record against the policy, encrypts each under its subject's data key for
    /// the category's key domain (creating the key if needed), and inserts all of them in one
    /// transaction: either every record is stored or none is. `now` is the write's time: the
    /// new ids' time part, the audit entries' and the new data keys' creation. Returns the new
    /// ids in order.
    pub fn put_batch(
        &mut self,
        policy: &Policy,
        records: Vec<NewRecord>,
        now: Timestamp,
    ) -> Result<Vec<RecordId>> {
        self.put_rows(policy, records, None, now)
    }

    /// Stores one record and answers with what was written, not with a read after the commit
    /// (a purge between the two would turn a stored, audited write into a 404). With an
    /// idempotency key, the key is remembered with the write in its transaction: a retry with
    /// the same key and request, on any server and within a day, writes nothing and answers as
    /// the first write did (`replayed`), even if the record has since gone; the same key with
    /// another request is refused ([`VaultError::IdempotencyKeyReused`]).
    pub fn put_once(
        &mut self,
        policy: &Policy,
        record: NewRecord,
        idempotency: Option<&Idempotency<'_>>,
        now: Timestamp,
    ) -> Result<Written> {
        let subject = self.pseudonym(&record.subject);
        let created_at = record.created_at;
        let Some(idem) = idempotency else {
            let id = self.put(policy, record, now)?;
            return Ok(Written {
                id,
                subject,
                created_at,
                replayed: false,
            });
        };
        let key_hash = idem.key_hash(&self.tenant);
        if let Some(w) = self.replay(&key_hash, idem.request_hash, &subject, now)? {
            return Ok(w);
        }
        let key = IdempotencyKeyHash {
            key_hash: key_hash.clone(),
            body_hash: idem.request_hash.to_owned(),
        };
        match self.put_rows(policy, vec![record], Some(key), now) {
            Ok(mut ids) => {
                let id = ids
                    .pop()
                    .ok_or_else(|| VaultError::Corrupt("a batch of one stored no record".into()))?;
                Ok(Written {
                    id,
                    subject,
                    created_at,
                    replayed: false,
                })
            }
            // Another server stored the same request first: answer as it did.
            Err(VaultError::IdempotencyRace) => self
                .replay(&key_hash, idem.request_hash, &subject, now)?
                .ok_or_else(|| VaultError::Corrupt("an idempotency key vanished".into())),
            Err(e) => Err(e),
        }
    }

    /// The write an idempotency key answered, if the key was used within a day of `now`.
    fn replay(
        &mut self,
        key_hash: &str,
        request_hash: &str,
        subject: &Pseudonym,
        now: Timestamp,
    ) -> Result<Option<Written>> {
        let tenant = self.tenant.as_str().to_owned();
        let since = store::micros(now) - store::IDEMPOTENCY_SECONDS * 1_000_000;
        let mut found = None;
        self.store().in_read_tx(&tenant, "reading an idempotency key", &mut |tx| {
            found = tx
                .query(
                    "SELECT body_hash, record_id, record_created_at FROM idempotency_keys WHERE tenant_id = $1 AND key_hash = $2 AND created_at >= $3",
                    &[tenant.as_str().into(), key_hash.into(), since.into()],
                )?
                .into_iter()
                .next();
            Ok(())
        })?;
        let Some(row) = found else { return Ok(None) };
        let bad = || VaultError::Corrupt("an idempotency key is unreadable".into());
        let mut it = row.into_iter();
        let (Some(body), Some(id), Some(at)) = (
            it.next().and_then(store::Val::into_text),
            it.next().and_then(store::Val::into_text),
            it.next().and_then(|v| v.int()),
        ) else {
            return Err(bad());
        };
        if body != request_hash {
            return Err(VaultError::IdempotencyKeyReused);
        }
        Ok(Some(Written {
            id: RecordId::parse(&id).map_err(|_| bad())?,
            subject: subject.clone(),
            created_at: Timestamp::from_microsecond(at).map_err(|_| bad())?,
            replayed: true,
        }))
    }

    /// Validates, encrypts and stores `records` in one transaction; the payloads are wiped
    /// however it ends. A data key destroyed between encrypting and storing (an erasure or
    /// deletion committed meanwhile) encrypts the batch again under a new key.
    fn put_rows(
        &mut self,
        policy: &Policy,
        records: Vec<NewRecord>,
        idempotency: Option<IdempotencyKeyHash>,
        now_ts: Timestamp,
    ) -> Result<Vec<RecordId>> {
        let records = Plaintexts(records);
        let mut attempts = 0;
        loop {
            match self.put_rows_once(policy, &records.0, idempotency.as_ref(), now_ts) {
                Err(VaultError::DataKeyGone) if attempts < KEY_RETRIES => attempts += 1,
                other => return other,
            }
        }
    }

    fn put_rows_once(
        &mut self,
        policy: &Policy,
        records: &[NewRecord],
        idempotency: Option<&IdempotencyKeyHash>,
        now_ts: Timestamp,
    ) -> Result<Vec<RecordId>> {
        // Each record's slot: its subject's pseudonym (one HMAC per distinct subject), the key
        // domain of its category and the category, as an index into the batch's distinct slots,
        // so a record costs no string copies or hashing of its own beyond the lookups. Records
        // of a batch mostly share category and purposes: validated once per run of equal ones.
        let mut pseudonyms: Vec<Pseudonym> = Vec::new();
        let mut subject_index: HashMap<&SubjectId, usize> = HashMap::new();
        let mut slots: Vec<KeySlot> = Vec::new();
        let mut slot_index: HashMap<(usize, &str), usize> = HashMap::new();
        let mut slot_of = Vec::with_capacity(records.len());
        let mut checked: Option<(&str, &[String], String)> = None;
        for r in records {
            let domain = match &checked {
                Some((c, p, d)) if *c == r.category && *p == r.purposes.as_slice() => {
                    if r.clocks.keys().any(|k| k.trim().is_empty()) {
                        validate(policy, &r.category, &r.purposes, &r.clocks)?;
                    }
                    d.clone()
                }
                _ => {
                    let d = validate(policy, &r.category, &r.purposes, &r.clocks)?;
                    checked = Some((&r.category, &r.purposes, d.clone()));
                    d
                }
            };
            let subject = *subject_index.entry(&r.subject).or_insert_with(|| {
                pseudonyms.push(self.pseudonym(&r.subject));
                pseudonyms.len() - 1
            });
            let slot = *slot_index
                .entry((subject, r.category.as_str()))
                .or_insert_with(|| {
                    slots.push((pseudonyms[subject].clone(), domain, r.category.clone()));
                    slots.len() - 1
                });
            slot_of.push(slot);
        }
        drop((subject_index, slot_index, checked));
        // A large batch a store writes in parts stores its new keys first, in a transaction of
        // their own; any other write stores them with its records, in its own transaction.
        let streams = idempotency.is_none()
            && records.len() >= Sealer::STREAM_FROM
            && self.vault.store.streams_inserts();
        let SlotKeys {
            keys: mut found,
            read: keys_read,
            made,
        } = if streams {
            self.data_keys_for(&slots, now_ts)?
        } else {
            self.known_or_new_keys(&slots)?
        };
        let new_keys = self.new_keys(made);
        let data_keys = slots
            .iter()
            .map(|s| {
                found
                    .remove(s)
                    .ok_or_else(|| VaultError::Corrupt("a data key of the batch is missing".into()))
            })
            .collect::<Result<Vec<DataKey>>>()?;
        drop(found);
        let now = store::micros(now_ts);
        // Nonces and the ids' random start for the whole batch in one system call each.
        let mut nonces = vec![0u8; records.len() * keys::RECORD_NONCE_LEN];
        keys::fill_random(&mut nonces)?;
        let mut id_start = [0u8; 10];
        keys::fill_random(&mut id_start)?;
        // One audit entry per subject of the batch: who wrote how many records of which
        // categories. Never the payload. Counted per slot (a subject and a category), then
        // summed per subject.
        let mut per_subject: std::collections::BTreeMap<
            &str,
            (u64, std::collections::BTreeSet<&str>),
        > = Default::default();
        let mut per_slot = vec![0u64; slots.len()];
        for &slot in &slot_of {
            per_slot[slot] += 1;
        }
        for ((pseudonym, _, category), n) in slots.iter().zip(per_slot) {
            let e = per_subject.entry(pseudonym.as_str()).or_default();
            e.0 += n;
            e.1.insert(category.as_str());
        }
        let events: Vec<custos_audit::Event> = per_subject
            .into_iter()
            .map(|(pseudonym, (n, cats))| custos_audit::Event {
                tenant: self.tenant.as_str().to_owned(),
                actor: self.actor.clone(),
                action: "records.put".to_owned(),
                subject: Some(pseudonym.to_owned()),
                details: serde_json::json!({ "records": n, "categories": cats }),
            })
            .collect();
        let audit = store::WriteAudit {
            events,
            at: now_ts,
            key: self.vault.audit_key.clone(),
        };
        let subjects: Vec<&str> = {
            let mut v: Vec<&str> = pseudonyms.iter().map(Pseudonym::as_str).collect();
            v.sort_unstable();
            v
        };
        let tenant = self.tenant.as_str().to_owned();
        let sealer = Sealer {
            tenant: &tenant,
            slots: &slots,
            keys: &data_keys,
            nonces: &nonces,
            id_start: &id_start,
            now_ms: now_ts.as_millisecond(),
        };
        // A large batch on a store that takes its rows in parts (SQLite): encrypted on a thread
        // of its own while the store writes the parts already encrypted.
        if streams {
            let (version, ctx) = self.retention_context(policy, &subjects)?;
            match self.put_streamed(
                &sealer, &ctx, records, &slot_of, now, version, &keys_read, &audit,
            ) {
                Ok(ids) => return Ok(ids),
                // A retention change committed meanwhile: written below, the usual way.
                Err(VaultError::RetentionChanged) => {}
                Err(e) => return Err(e),
            }
        }
        let mut last_purposes = None;
        let mut rows = Vec::with_capacity(records.len());
        let mut ids = Vec::with_capacity(records.len());
        for (i, (rec, &slot)) in records.iter().zip(&slot_of).enumerate() {
            let (row, id) = sealer.seal(i, rec, slot, &mut last_purposes)?;
            rows.push(row);
            ids.push(id);
        }
        let record_clocks: Vec<&BTreeMap<String, Timestamp>> =
            records.iter().map(|r| &r.clocks).collect();
        // Each record's expiry, from the tenant's retention state; recomputed if a retention
        // change commits in between (the insert checks the state's version under a lock).
        let mut attempts = 0;
        loop {
            let (version, ctx) = self.retention_context(policy, &subjects)?;
            let mut expiries = Expiries::new(&ctx, now_ts);
            for ((row, clocks), &slot) in rows.iter_mut().zip(&record_clocks).zip(&slot_of) {
                row.expires_at = expiries.of(row, clocks, slot)?;
            }
            drop(expiries);
            drop(ctx);
            let idem_row = match (idempotency, rows.as_slice()) {
                (Some(k), [row]) => Some(store::IdempotencyRow {
                    key_hash: k.key_hash.clone(),
                    body_hash: k.body_hash.clone(),
                    record_id: row.record_id.clone(),
                    record_created_at: row.created_at,
                }),
                _ => None,
            };
            match self.vault.store.insert_records(&store::Write {
                tenant: self.tenant.as_str(),
                rows: &rows,
                now,
                version,
                idempotency: idem_row.as_ref(),
                new_keys: new_keys.as_ref(),
                keys_read: &keys_read,
                audit: &audit,
            }) {
                Err(VaultError::RetentionChanged) if attempts < 5 => attempts += 1,
                other => return other.map(|()| ids),
            }
        }
    }

    /// Writes a large batch while it is being encrypted: a thread seals the records (and
    /// computes their expiry under `ctx`, read at `version`) in parts of
    /// [`Sealer::PART`], and the store writes each part as it comes, all in one transaction.
    /// The records' payloads are left to the caller to wipe. A retention change committed since
    /// `version` is answered [`VaultError::RetentionChanged`] before anything is written.
    #[allow(clippy::too_many_arguments)]
    fn put_streamed(
        &mut self,
        sealer: &Sealer<'_>,
        ctx: &crate::retention::Context<'_>,
        records: &[NewRecord],
        slot_of: &[usize],
        now: i64,
        version: i64,
        keys_read: &[WrappedKeyRow],
        audit: &store::WriteAudit,
    ) -> Result<Vec<RecordId>> {
        type Part = Result<(Vec<RecordRow>, Vec<RecordId>)>;
        let tenant = self.tenant.as_str().to_owned();
        let store = &mut self.vault.store;
        std::thread::scope(|scope| {
            let (parts, next_part) = std::sync::mpsc::sync_channel::<Part>(2);
            scope.spawn(move || {
                let mut last_purposes = None;
                let mut expiries = Expiries::new(ctx, sealer.at());
                let mut part = (Vec::with_capacity(Sealer::PART), Vec::new());
                for (i, (rec, &slot)) in records.iter().zip(slot_of).enumerate() {
                    let sealed =
                        sealer
                            .seal(i, rec, slot, &mut last_purposes)
                            .and_then(|(mut row, id)| {
                                row.expires_at = expiries.of(&row, &rec.clocks, slot)?;
                                Ok((row, id))
                            });
                    match sealed {
                        Ok((row, id)) => {
                            part.0.push(row);
                            part.1.push(id);
                        }
                        Err(e) => {
                            let _ = parts.send(Err(e));
                            return;
                        }
                    }
                    if part.0.len() == Sealer::PART {
                        let full = std::mem::replace(
                            &mut part,
                            (Vec::with_capacity(Sealer::PART), Vec::new()),
                        );
                        // The store stopped taking parts (it failed): nothing more to do.
                        if parts.send(Ok(full)).is_err() {
                            return;
                        }
                    }
                }
                if !part.0.is_empty() {
                    let _ = parts.send(Ok(part));
                }
            });
            let mut ids = Vec::with_capacity(records.len());
            let written = store.insert_records_from(
                &tenant,
                &mut || match next_part.recv() {
                    Ok(Ok((rows, part_ids))) => {
                        ids.extend(part_ids);
                        Ok(Some(rows))
                    }
                    Ok(Err(e)) => Err(e),
                    // The thread is done: with every record sealed, the batch is whole.
                    Err(_) if ids.len() == records.len() => Ok(None),
                    // It stopped early (it panicked): nothing of the batch may commit.
                    Err(_) => Err(VaultError::Corrupt(
                        "the thread encrypting a batch stopped before its end".into(),
                    )),
                },
                now,
                version,
                keys_read,
                audit,
            );
            // Unblocks the thread if the store stopped early.
            drop(next_part);
            written.map(|()| ids)
        })
    }

    /// The data keys for every (subject, key domain, category) of a batch: the stored ones
    /// unwrapped, the missing ones created (at `now`) and stored wrapped in one transaction;
    /// all of them then `read` (none `made`).
    fn data_keys_for(&mut self, slots: &[KeySlot], now: Timestamp) -> Result<SlotKeys> {
        let SlotKeys {
            keys: mut found,
            mut read,
            made: missing,
        } = self.known_or_new_keys(slots)?;
        if !missing.is_empty() {
            let check = self.vault.keys.check_value();
            let tenant = self.tenant.as_str();
            let stored =
                self.vault
                    .store
                    .insert_data_keys(tenant, &missing, store::micros(now), &check)?;
            // Another writer may have stored a key for the same slot first: its key is the one.
            for row in stored {
                let pseudonym = Pseudonym::parse(&row.pseudonym)?;
                let dk = self.unwrap_key(&row)?;
                found.insert(
                    (pseudonym, row.key_domain.clone(), row.category.clone()),
                    dk,
                );
                read.push(row);
            }
        }
        Ok(SlotKeys {
            keys: found,
            read,
            made: Vec::new(),
        })
    }

    /// The data key of each slot: the stored one (`read`), or one made here (`made`, not
    /// stored yet: for the caller's write to store).
    fn known_or_new_keys(&mut self, slots: &[KeySlot]) -> Result<SlotKeys> {
        let tenant = self.tenant.as_str();
        let mut found: HashMap<KeySlot, DataKey> = HashMap::new();
        let mut read: Vec<WrappedKeyRow> = Vec::new();
        let mut missing: Vec<WrappedKeyRow> = Vec::new();
        for slot in slots {
            if found.contains_key(slot) {
                continue;
            }
            let (pseudonym, domain, category) = slot;
            let key =
                match self
                    .vault
                    .store
                    .data_key(tenant, pseudonym.as_str(), domain, category)?
                {
                    Some(row) => {
                        let key = self.unwrap_key(&row)?;
                        read.push(row);
                        key
                    }
                    None => {
                        let key = DataKey::generate()?;
                        let version = self.vault.key_version;
                        let wrapped = self.vault.keys.wrap(
                            &key,
                            tenant,
                            pseudonym.as_str(),
                            domain,
                            category,
                            version,
                        )?;
                        missing.push(WrappedKeyRow {
                            pseudonym: pseudonym.as_str().to_owned(),
                            key_domain: domain.clone(),
                            category: category.clone(),
                            key_version: version,
                            wrapped,
                        });
                        key
                    }
                };
            found.insert(slot.clone(), key);
        }
        Ok(SlotKeys {
            keys: found,
            read,
            made: missing,
        })
    }

    /// Keys made for a write, to be stored with its rows, with the check of the master key that
    /// wrapped them; `None` if none were made.
    fn new_keys(&self, made: Vec<WrappedKeyRow>) -> Option<store::NewKeys> {
        (!made.is_empty()).then(|| store::NewKeys {
            rows: made,
            check: self.vault.keys.check_value(),
        })
    }

    fn unwrap_key(&self, row: &WrappedKeyRow) -> Result<DataKey> {
        unwrap_row(&self.vault.keys, self.tenant.as_str(), row)
    }

    /// The data keys `pseudonym`'s records are rewritten under (corrections, a re-encryption),
    /// one per slot of `slots`: the stored one, or one made here (once per slot, however many
    /// records need it). A record still under its key domain's legacy key moves to its
    /// category's key with the rewrite. The rewrite's transaction keeps the keys
    /// ([`KeysToKeep::keep_in`]).
    pub(crate) fn keys_to_rewrite(
        &mut self,
        pseudonym: &Pseudonym,
        slots: &[KeySlot],
    ) -> Result<(HashMap<KeySlot, DataKey>, KeysToKeep)> {
        let SlotKeys { keys, read, made } = self.known_or_new_keys(slots)?;
        let keep = KeysToKeep {
            pseudonym: pseudonym.as_str().to_owned(),
            read,
            made: self.new_keys(made),
        };
        Ok((keys, keep))
    }

    /// One stored row of this tenant, as it is (ciphertext, restriction and all).
    pub(crate) fn store_record(
        &mut self,
        tenant: &str,
        id: &RecordId,
    ) -> Result<Option<RecordRow>> {
        self.vault.store.record(tenant, id.as_str())
    }

    pub(crate) fn decrypt(
        &mut self,
        row: RecordRow,
        cache: &mut HashMap<String, DataKey>,
    ) -> Result<Record> {
        let id = RecordId::parse(&row.record_id)
            .map_err(|_| VaultError::Corrupt("a record id in the database is malformed".into()))?;
        let subject = Pseudonym::parse(&row.pseudonym)
            .map_err(|_| VaultError::Corrupt(format!("record {id} has a malformed pseudonym")))?;
        // The format byte says which key: the category's own, or the domain's legacy key.
        let key_category = keys::key_category_of(&row.ciphertext, &row.category)
            .ok_or_else(|| VaultError::Decrypt(id.clone()))?;
        let slot = format!("{}\u{0}{key_category}", row.key_domain);
        if !cache.contains_key(&slot) {
            let tenant = self.tenant.as_str();
            let Some(wrapped) =
                self.vault
                    .store
                    .data_key(tenant, &row.pseudonym, &row.key_domain, key_category)?
            else {
                return Err(VaultError::KeyDestroyed(id));
            };
            let dk = self.unwrap_key(&wrapped)?;
            cache.insert(slot.clone(), dk);
        }
        let dk = cache
            .get(&slot)
            .ok_or_else(|| VaultError::Corrupt("data key cache lost an entry".into()))?;
        let identity = RecordIdentity {
            tenant: self.tenant.as_str(),
            pseudonym: &row.pseudonym,
            category: &row.category,
            record_id: &row.record_id,
        };
        let payload = keys::decrypt_record(dk, &identity, &row.ciphertext)
            .ok_or_else(|| VaultError::Decrypt(id.clone()))?;
        let purposes = serde_json::from_str::<Vec<String>>(&row.purposes)
            .map_err(|_| VaultError::Corrupt(format!("record {id} has unreadable purposes")))?;
        let created_at = Timestamp::from_microsecond(row.created_at).map_err(|_| {
            VaultError::Corrupt(format!("record {id} has an impossible creation time"))
        })?;
        let clocks = parse_clocks(&id, &row.clocks)?;
        Ok(Record {
            id,
            subject,
            category: row.category,
            purposes,
            payload,
            created_at,
            clocks,
        })
    }

    /// Reads and decrypts one record of this tenant.
    pub fn get(&mut self, id: &RecordId) -> Result<Record> {
        let row = self
            .vault
            .store
            .record(self.tenant.as_str(), id.as_str())?
            .ok_or_else(|| VaultError::RecordNotFound(id.clone()))?;
        if row.restriction.is_some() {
            return Err(VaultError::Restricted(id.clone()));
        }
        self.decrypt(row, &mut HashMap::new())
    }

    /// Reads and decrypts all of a subject's records in this tenant, oldest first. Records kept
    /// under restriction (Art. 17(3), 18) are not part of everyday processing and left out.
    pub fn list(&mut self, subject: &SubjectId) -> Result<Vec<Record>> {
        let pseudonym = self.pseudonym(subject);
        let rows = self
            .vault
            .store
            .records_of(self.tenant.as_str(), pseudonym.as_str())?;
        let mut cache = HashMap::new();
        rows.into_iter()
            .filter(|r| r.restriction.is_none())
            .map(|r| self.decrypt(r, &mut cache))
            .collect()
    }

    /// Erases a subject (Art. 17 GDPR): journals the erasure (the journal file first, synced),
    /// then destroys the subject's data keys and deletes its records in one transaction. Once
    /// the keys are gone, every copy of the records anywhere, backups included, is unreadable;
    /// restoring an older database replays the journal on open.
    ///
    /// Refused with [`VaultError::Held`] while a legal hold covers any of the subject's data
    /// (Art. 17(3)(e) GDPR).
    pub fn erase_subject(&mut self, subject: &SubjectId, now: Timestamp) -> Result<Erasure> {
        let pseudonym = self.pseudonym(subject);
        self.erase_pseudonym(pseudonym, now, Vec::new(), None, "subject.erase")
    }

    /// Erases the subject behind `pseudonym`, keeping the records of the categories in `keep`
    /// under restriction (Art. 17(3)(b)). With `erasure_id` given (a resumed request), the same
    /// erasure is applied once only.
    pub(crate) fn erase_pseudonym(
        &mut self,
        pseudonym: Pseudonym,
        now: Timestamp,
        keep: Vec<String>,
        erasure_id: Option<String>,
        action: &str,
    ) -> Result<Erasure> {
        if let Some(hold) = self.hold_on_subject(pseudonym.as_str())? {
            return Err(VaultError::Held {
                hold_id: hold.hold_id,
                scope: hold.scope,
            });
        }
        let erasure_id = match erasure_id {
            Some(id) => id,
            None => new_erasure_id()?,
        };
        let entry = JournalEntry {
            erasure_id,
            tenant: self.tenant.as_str().to_owned(),
            pseudonym: pseudonym.as_str().to_owned(),
            erased_at: store::micros(now),
            keep,
        };
        if let Some(journal) = &self.vault.journal {
            journal.append(&entry)?;
        }
        self.rekey_kept_legacy(&entry, now)?;
        let (key, actor) = (&self.vault.audit_key, &self.actor);
        let counts = self.vault.store.erase(&entry, &mut |counts, head| {
            let ev = erasure_event(&entry, counts, actor, action);
            custos_audit::build(head, &[ev], now, key, AUDIT_CHECKPOINT_EVERY)
        })?;
        Ok(Erasure {
            erasure_id: entry.erasure_id,
            subject: pseudonym,
            erased_at: now,
            counts,
        })
    }
}

/// How often a write (or a correction) is encrypted again after the first try when a data key it
/// used changed before its transaction ([`VaultError::DataKeyGone`]).
pub(crate) const KEY_RETRIES: usize = 5;

/// What a data key is for: (subject, key domain, category).
pub(crate) type KeySlot = (Pseudonym, String, String);

/// The data keys one subject's rows are rewritten under (a correction, a re-encryption), as
/// read or made before the rewrite's transaction.
pub(crate) struct KeysToKeep {
    pseudonym: String,
    read: Vec<WrappedKeyRow>,
    made: Option<store::NewKeys>,
}

impl KeysToKeep {
    /// In the rewrite's transaction, before its rows: the subject held, the keys read still
    /// stored as they were, the keys made stored ([`store::keep_keys_in`]); otherwise
    /// [`VaultError::DataKeyGone`] (seal again).
    pub(crate) fn keep_in(&self, tx: &mut dyn store::Tx, tenant: &str, now: i64) -> Result<()> {
        store::keep_keys_in(
            tx,
            tenant,
            &self.pseudonym,
            &self.read,
            self.made.as_ref(),
            now,
        )
    }
}

/// The data keys of a write's slots, unwrapped, and how the write came by them.
pub(crate) struct SlotKeys {
    pub(crate) keys: HashMap<KeySlot, DataKey>,
    /// The stored ones, as read: the write checks they still are ([`store::Write::keys_read`]).
    pub(crate) read: Vec<WrappedKeyRow>,
    /// The ones made here, wrapped, not stored yet: the write stores them with its rows.
    pub(crate) made: Vec<WrappedKeyRow>,
}

/// A batch's records, their payloads wiped when it is dropped, whether the write succeeded or
/// not.
struct Plaintexts(Vec<NewRecord>);

impl Drop for Plaintexts {
    fn drop(&mut self) {
        for r in &mut self.0 {
            keys::wipe(&mut r.payload);
        }
    }
}

/// What a batch's records are encrypted with: its distinct slots (pseudonym, key domain,
/// category) and their data keys, and one nonce per record in order.
struct Sealer<'a> {
    tenant: &'a str,
    slots: &'a [KeySlot],
    keys: &'a [DataKey],
    nonces: &'a [u8],
    id_start: &'a [u8; 10],
    now_ms: i64,
}

impl Sealer<'_> {
    /// From this many records on, a batch is encrypted while the store writes it (when the store
    /// takes rows in parts).
    const STREAM_FROM: usize = 4_096;
    /// Records per part handed to the store.
    const PART: usize = 1_024;

    /// The write's time.
    fn at(&self) -> Timestamp {
        Timestamp::from_millisecond(self.now_ms).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// Encrypts record `i` of the batch (of slot `slot`) into its row, without an expiry yet.
    /// `last_purposes` keeps the JSON of the last purposes list: records of a batch mostly share
    /// it.
    fn seal(
        &self,
        i: usize,
        rec: &NewRecord,
        slot: usize,
        last_purposes: &mut Option<(Vec<String>, String)>,
    ) -> Result<(RecordRow, RecordId)> {
        let ((pseudonym, domain, _), dk) = (&self.slots[slot], &self.keys[slot]);
        let id = RecordId::in_batch(self.now_ms, self.id_start, i);
        let mut nonce = [0u8; keys::RECORD_NONCE_LEN];
        nonce.copy_from_slice(
            &self.nonces[i * keys::RECORD_NONCE_LEN..(i + 1) * keys::RECORD_NONCE_LEN],
        );
        let identity = RecordIdentity {
            tenant: self.tenant,
            pseudonym: pseudonym.as_str(),
            category: &rec.category,
            record_id: id.as_str(),
        };
        let ciphertext = keys::encrypt_record(dk, &nonce, &identity, &rec.payload)?;
        let purposes = match last_purposes {
            Some((p, json)) if *p == rec.purposes => json.clone(),
            _ => {
                let json = serde_json::Value::from(rec.purposes.clone()).to_string();
                *last_purposes = Some((rec.purposes.clone(), json.clone()));
                json
            }
        };
        let row = RecordRow {
            record_id: id.as_str().to_owned(),
            pseudonym: pseudonym.as_str().to_owned(),
            category: rec.category.clone(),
            purposes,
            key_domain: domain.clone(),
            ciphertext,
            created_at: store::micros(rec.created_at),
            clocks: clocks_json(&rec.clocks),
            expires_at: None,
            restriction: None,
        };
        Ok((row, id))
    }
}

/// Records' expiries under one retention context. Records of a batch mostly share their
/// purposes (decoded once per run of equal lists), and a record without clocks of its own
/// expires as every other of its slot, purposes and creation time (computed once for each).
struct Expiries<'c, 'p> {
    ctx: &'c crate::retention::Context<'p>,
    at: Timestamp,
    decoded: Option<(String, Vec<String>)>,
    known: HashMap<(usize, i64), (String, Option<i64>)>,
}

impl<'c, 'p> Expiries<'c, 'p> {
    fn new(ctx: &'c crate::retention::Context<'p>, at: Timestamp) -> Self {
        Expiries {
            ctx,
            at,
            decoded: None,
            known: HashMap::new(),
        }
    }

    /// The expiry of `row` (of slot `slot`, with its event clocks `clocks`).
    fn of(
        &mut self,
        row: &RecordRow,
        clocks: &BTreeMap<String, Timestamp>,
        slot: usize,
    ) -> Result<Option<i64>> {
        let same = clocks.is_empty().then_some((slot, row.created_at));
        if let Some((purposes, expires_at)) = same.and_then(|k| self.known.get(&k))
            && *purposes == row.purposes
        {
            return Ok(*expires_at);
        }
        if self
            .decoded
            .as_ref()
            .is_none_or(|(text, _)| *text != row.purposes)
        {
            let list = serde_json::from_str(&row.purposes).unwrap_or_default();
            self.decoded = Some((row.purposes.clone(), list));
        }
        let purposes = self
            .decoded
            .as_ref()
            .map(|(_, l)| l.as_slice())
            .unwrap_or(&[]);
        let expires_at = self.ctx.expires_at(
            &row.category,
            purposes,
            &row.pseudonym,
            Timestamp::from_microsecond(row.created_at).unwrap_or(self.at),
            clocks,
        )?;
        if let Some(k) = same {
            self.known
                .entry(k)
                .or_insert_with(|| (row.purposes.clone(), expires_at));
        }
        Ok(expires_at)
    }
}

/// A fresh erasure id: 32 hex digits.
pub(crate) fn new_erasure_id() -> Result<String> {
    let mut id = [0u8; 16];
    keys::fill_random(&mut id)?;
    Ok(hex(&id))
}

fn audit_err(operation: &'static str, e: custos_audit::AuditError) -> VaultError {
    VaultError::Storage {
        operation,
        target: "audit trail".into(),
        reason: e.to_string(),
    }
}
