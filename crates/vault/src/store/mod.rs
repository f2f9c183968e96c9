//! The storage interface and its two implementations. The interface is crate-private: callers
//! reach storage only through [`crate::TenantVault`], so no storage call exists that is not
//! scoped to a tenant. Every method that touches tenant data takes the tenant id, and every
//! implementation runs each method in one transaction (all or nothing).

mod group;
pub use group::{GroupCommitTotals, group_commit_totals};
pub(crate) mod postgres;
pub(crate) mod sqlite;

use crate::error::Result;

/// The scope of the work that belongs to no tenant (vault settings, the list of tenants).
pub(crate) const NO_TENANT: &str = "";

/// How long an idempotency key is remembered: a day, as the HTTP API promises.
pub(crate) const IDEMPOTENCY_SECONDS: i64 = 24 * 60 * 60;

/// An idempotency key remembered with the write it answered, in the write's transaction: a
/// retry with the same key finds it, whichever server it reaches and whatever happened to the
/// record since (a purge in between).
#[derive(Debug, Clone)]
pub(crate) struct IdempotencyRow {
    /// SHA-256 of the tenant and the key, in hex: the key itself is never stored.
    pub key_hash: String,
    /// The hash of the request the key came with.
    pub body_hash: String,
    /// The record written.
    pub record_id: String,
    /// Its creation time.
    pub record_created_at: i64,
}

/// One record as stored: the payload is ciphertext.
#[derive(Debug, Clone)]
pub(crate) struct RecordRow {
    pub record_id: String,
    pub pseudonym: String,
    pub category: String,
    /// JSON array of purpose ids.
    pub purposes: String,
    pub key_domain: String,
    pub ciphertext: Vec<u8>,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    /// JSON object: event name → RFC 3339 timestamp.
    pub clocks: String,
    /// When retention lets it go (microseconds); `None` while it waits for an event, or when
    /// only criteria govern it.
    pub expires_at: Option<i64>,
    /// JSON object when the record is kept under restriction (Art. 17(3), 18): readable only
    /// for the reason it is kept, never to everyday processing. `None` normally.
    pub restriction: Option<String>,
}

/// Writes with at most this many records wait to be committed in a group; larger ones (batch
/// imports) take a transaction of their own.
pub(crate) const GROUP_ROWS: usize = 64;

/// The most writes one group transaction takes.
pub(crate) const GROUP_WRITES: usize = 256;

/// One write of records, as [`Store::insert_records`] was given it.
pub(crate) struct Write<'a> {
    pub(crate) tenant: &'a str,
    pub(crate) rows: &'a [RecordRow],
    pub(crate) now: i64,
    /// The tenant's retention version its expiries were computed at.
    pub(crate) version: i64,
    pub(crate) idempotency: Option<&'a IdempotencyRow>,
    /// Data keys the write made for its rows (their subject had none for the category yet):
    /// stored in the write's transaction, before its rows.
    pub(crate) new_keys: Option<&'a NewKeys>,
    /// The stored data keys its rows are encrypted under, as the write read them: each must
    /// still be stored as it was when the write commits (see [`Store::insert_records`]).
    pub(crate) keys_read: &'a [WrappedKeyRow],
    pub(crate) audit: &'a WriteAudit,
}

/// Data keys a write made for itself, to be stored with its records in its transaction (see
/// [`store_new_keys_in`]): a write to a new subject costs no transaction of its own.
#[derive(Debug, Clone)]
pub(crate) struct NewKeys {
    pub(crate) rows: Vec<WrappedKeyRow>,
    /// The check value of the master key that wrapped them (`meta.key_check`).
    pub(crate) check: String,
}

/// A write waiting in its group, owned (see `store/group.rs`).
pub(crate) struct PendingWrite {
    pub(crate) tenant: String,
    pub(crate) rows: Vec<RecordRow>,
    pub(crate) now: i64,
    pub(crate) version: i64,
    pub(crate) idempotency: Option<IdempotencyRow>,
    pub(crate) new_keys: Option<NewKeys>,
    pub(crate) keys_read: Vec<WrappedKeyRow>,
    pub(crate) audit: WriteAudit,
}

impl PendingWrite {
    /// `write`, copied to wait in a queue.
    pub(crate) fn owned(write: &Write<'_>) -> Self {
        PendingWrite {
            tenant: write.tenant.to_owned(),
            rows: write.rows.to_vec(),
            now: write.now,
            version: write.version,
            idempotency: write.idempotency.cloned(),
            new_keys: write.new_keys.cloned(),
            keys_read: write.keys_read.to_vec(),
            audit: write.audit.clone(),
        }
    }

    /// The write, borrowed.
    pub(crate) fn view(&self) -> Write<'_> {
        Write {
            tenant: &self.tenant,
            rows: &self.rows,
            now: self.now,
            version: self.version,
            idempotency: self.idempotency.as_ref(),
            new_keys: self.new_keys.as_ref(),
            keys_read: &self.keys_read,
            audit: &self.audit,
        }
    }
}

/// What [`Store::retention_inputs`] reads: the tenant's retention state (version and JSON text),
/// if any, and the subjects' recorded events.
pub(crate) type RetentionInputs = (Option<(i64, String)>, Vec<SubjectEventRow>);

/// One recorded event of a subject (`subject_events`), as stored.
#[derive(Debug, Clone)]
pub(crate) struct SubjectEventRow {
    pub pseudonym: String,
    pub event: String,
    /// Empty: every purpose.
    pub purpose: String,
    /// Microseconds since the Unix epoch; `None` if unreadable.
    pub at: Option<i64>,
}

/// A subject's wrapped data key for one key domain and category.
#[derive(Debug, Clone)]
pub(crate) struct WrappedKeyRow {
    pub pseudonym: String,
    pub key_domain: String,
    /// The category whose records it encrypts; [`crate::keys::LEGACY_CATEGORY`] (empty) for a key
    /// of the first scheme, shared by every category of the domain.
    pub category: String,
    pub key_version: u32,
    pub wrapped: Vec<u8>,
}

/// One erasure, as journaled: no personal data, only the tenant and the pseudonym.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JournalEntry {
    /// 32 hex digits, unique per erasure.
    pub erasure_id: String,
    pub tenant: String,
    pub pseudonym: String,
    /// Microseconds since the Unix epoch.
    pub erased_at: i64,
    /// Categories kept under restriction rather than deleted, because a law obliges the
    /// controller to keep them (Art. 17(3)(b) GDPR). Empty for a full erasure.
    pub keep: Vec<String>,
}

/// What one erasure removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErasureCounts {
    /// Data keys destroyed.
    pub keys: u64,
    /// Records deleted.
    pub records: u64,
    /// Records kept under restriction (statutory retention, Art. 17(3)(b)).
    pub restricted: u64,
}

/// The storage operations. Implementations: [`sqlite::SqliteStore`], [`postgres::PostgresStore`].
pub(crate) trait Store: Send {
    /// Writes a vault-wide setting if it is absent; returns the value now stored.
    fn init_meta(&mut self, key: &str, value: &str) -> Result<String> {
        let mut stored = None;
        self.in_tx(NO_TENANT, "initialising vault settings", &mut |tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                &[key.into(), value.into()],
            )?;
            stored = tx
                .query("SELECT value FROM meta WHERE key = $1", &[key.into()])?
                .into_iter()
                .next()
                .and_then(|r| r.into_iter().next())
                .and_then(Val::into_text);
            Ok(())
        })?;
        stored.ok_or_else(|| {
            crate::error::VaultError::Corrupt("a vault setting cannot be read back".into())
        })
    }
    /// The subject's wrapped key for `key_domain` and `category`, if any.
    fn data_key(
        &mut self,
        tenant: &str,
        pseudonym: &str,
        key_domain: &str,
        category: &str,
    ) -> Result<Option<WrappedKeyRow>>;
    /// Stores wrapped keys, each unless one exists for (tenant, subject, domain, category), in one
    /// transaction; returns the keys now stored, in order (so two writers racing to create a key
    /// both end up using the same one). Written once for both dialects.
    fn insert_data_keys(
        &mut self,
        tenant: &str,
        keys: &[WrappedKeyRow],
        now: i64,
        key_check: &str,
    ) -> Result<Vec<WrappedKeyRow>> {
        let mut stored = Vec::with_capacity(keys.len());
        self.in_tx(tenant, "creating data keys", &mut |tx| {
            stored = insert_data_keys_in(tx, tenant, keys, now, key_check)?;
            Ok(())
        })?;
        Ok(stored)
    }
    /// Inserts a write's records (and registers the tenant and subjects, and stores the data keys
    /// it made) in one transaction. The audit entries of `write.audit` are appended in the same
    /// transaction. (The transaction may hold other writes too: see `store/group.rs`. Each
    /// write is all or nothing and answered on its own.)
    /// The rows' expiries were computed from the tenant's retention state at `write.version`;
    /// if a retention change committed since, nothing is written and
    /// [`VaultError::RetentionChanged`](crate::VaultError) asks the caller to recompute.
    ///
    /// With `write.idempotency`, the key is remembered in the same transaction; if another
    /// write remembered the same key first, nothing is written and the answer is
    /// [`VaultError::IdempotencyRace`]. Keys older than [`IDEMPOTENCY_SECONDS`] are forgotten
    /// on the way. A data key of the rows that is gone (destroyed since it was read), that is
    /// not stored as `write.keys_read` has it (destroyed and made again since: the rows are
    /// under a key nobody has), or that another write stored first for the same subject and
    /// category, leaves nothing written and is answered
    /// [`VaultError::DataKeyGone`](crate::VaultError): encrypt again.
    fn insert_records(&mut self, write: &Write<'_>) -> Result<()>;
    /// Whether [`Store::insert_records_from`] writes each part as it comes (so a caller gains
    /// by encrypting the next part meanwhile), rather than gathering them first.
    fn streams_inserts(&self) -> bool {
        false
    }
    /// [`Store::insert_records`] for a batch that arrives in parts: `next` answers each part in
    /// turn and `None` after the last; all are written in one transaction, or none. The default
    /// gathers the parts, then inserts them.
    fn insert_records_from(
        &mut self,
        tenant: &str,
        next: &mut dyn FnMut() -> Result<Option<Vec<RecordRow>>>,
        now: i64,
        retention_version: i64,
        keys_read: &[WrappedKeyRow],
        audit: &WriteAudit,
    ) -> Result<()> {
        let mut rows = Vec::new();
        while let Some(mut part) = next()? {
            rows.append(&mut part);
        }
        self.insert_records(&Write {
            tenant,
            rows: &rows,
            now,
            version: retention_version,
            idempotency: None,
            new_keys: None,
            keys_read,
            audit,
        })
    }
    /// One record.
    fn record(&mut self, tenant: &str, record_id: &str) -> Result<Option<RecordRow>>;
    /// A subject's records, oldest first.
    fn records_of(&mut self, tenant: &str, pseudonym: &str) -> Result<Vec<RecordRow>>;
    /// Deletes the subject's records (but those of the kept categories, which it restricts),
    /// destroys every data key of the subject that no kept record needs (see
    /// [`destroy_unused_keys`]), deletes its subject row, and journals the erasure, in one
    /// transaction. Idempotent: an erasure already journaled changes nothing. After the commit
    /// [`Store::after_erasure`] lets the backend clear what its files still hold (see
    /// `docs/vault.md`). The audit entry `audit` builds (given what was destroyed) is appended in
    /// the same transaction. Written once for both dialects.
    fn erase(
        &mut self,
        entry: &JournalEntry,
        audit: &mut EraseAuditFn<'_>,
    ) -> Result<ErasureCounts> {
        let mut counts = None;
        self.in_tx(&entry.tenant, "erasing a subject", &mut |tx| {
            counts = erase_in(tx, entry, audit)?;
            Ok(())
        })?;
        match counts {
            Some(counts) => {
                self.after_erasure(counts);
                Ok(counts)
            }
            None => Ok(ErasureCounts::default()),
        }
    }
    /// What a backend does after an erasure committed, best effort: SQLite checkpoints and
    /// truncates its WAL (the old pages are there), PostgreSQL vacuums the data keys' dead tuples.
    fn after_erasure(&mut self, counts: ErasureCounts);
    /// Whether the database already holds this erasure.
    fn has_erasure(&mut self, entry: &JournalEntry) -> Result<bool> {
        let mut found = false;
        self.in_read_tx(&entry.tenant, "reading the erasure journal", &mut |tx| {
            found = !tx
                .query(
                    "SELECT 1 FROM erasures WHERE tenant_id = $1 AND erasure_id = $2",
                    &[
                        entry.tenant.as_str().into(),
                        entry.erasure_id.as_str().into(),
                    ],
                )?
                .is_empty();
            Ok(())
        })?;
        Ok(found)
    }
    /// Re-wraps every data key of every tenant in one transaction, and records `new_version` as
    /// the current key version, and each of `settings` (key, value), in the same transaction.
    /// Returns the number of keys re-wrapped.
    fn rewrap_all(
        &mut self,
        new_version: u32,
        settings: &[(&str, String)],
        rewrap: &mut dyn FnMut(&str, &WrappedKeyRow) -> Result<Vec<u8>>,
    ) -> Result<u64>;
    /// Runs `work` in one transaction scoped to `tenant` (row-level security on PostgreSQL):
    /// committed if it returns `Ok`, rolled back otherwise. Retention uses this to write its
    /// logic once for both backends.
    fn in_tx(
        &mut self,
        tenant: &str,
        operation: &'static str,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<()>,
    ) -> Result<()>;
    /// Like [`Store::in_tx`] for work that only reads: on SQLite a deferred transaction, which
    /// takes no write lock (WAL readers never wait for the writer).
    fn in_read_tx(
        &mut self,
        tenant: &str,
        operation: &'static str,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<()>,
    ) -> Result<()> {
        self.in_tx(tenant, operation, work)
    }
    /// What a write needs to compute its records' expiries, read in one snapshot and changing
    /// nothing: the tenant's retention state (version and JSON text; `None` before its first
    /// write) and the recorded events of `subjects` (pseudonym, event, purpose, microseconds).
    /// PostgreSQL reads it in one statement on the session; the version is checked again when
    /// the write commits, so a change in between is caught there.
    fn retention_inputs(&mut self, tenant: &str, subjects: &[&str]) -> Result<RetentionInputs> {
        let mut out = (None, Vec::new());
        self.in_read_tx(tenant, "reading retention settings", &mut |tx| {
            out.0 = tx
                .query(
                    "SELECT version, state FROM tenant_retention WHERE tenant_id = $1",
                    &[tenant.into()],
                )?
                .into_iter()
                .next()
                .map(|r| {
                    let mut it = r.into_iter();
                    (
                        it.next().and_then(|v| v.int()).unwrap_or(0),
                        it.next().and_then(Val::into_text).unwrap_or_default(),
                    )
                });
            out.1.clear();
            for chunk in subjects.chunks(400) {
                let mut params: Vec<Val> = vec![tenant.into()];
                params.extend(chunk.iter().map(|s| Val::from(*s)));
                let sql = format!(
                    "SELECT pseudonym, event, purpose, occurred_at FROM subject_events WHERE tenant_id = $1 AND pseudonym IN ({})",
                    placeholders(2, chunk.len())
                );
                for r in tx.query(&sql, &params)? {
                    let mut it = r.into_iter();
                    out.1.push(SubjectEventRow {
                        pseudonym: it.next().and_then(Val::into_text).unwrap_or_default(),
                        event: it.next().and_then(Val::into_text).unwrap_or_default(),
                        purpose: it.next().and_then(Val::into_text).unwrap_or_default(),
                        at: it.next().and_then(|v| v.int()),
                    });
                }
            }
            Ok(())
        })?;
        Ok(out)
    }
    /// Whether `key_id` is live and, with `rate`, up to `up_to` tokens of its bucket, shared by
    /// every server over the store, in one statement (see [`crate::key_gate`]). `None` where the
    /// store belongs to one process (SQLite): the server keeps both in memory.
    fn key_gate(
        &mut self,
        _tenant: &str,
        _key_id: &str,
        _rate: Option<crate::key_gate::Rate>,
        _up_to: u32,
    ) -> Result<Option<crate::key_gate::KeyGate>> {
        Ok(None)
    }
    /// The ids of every tenant with data in the vault (not tenant data itself).
    fn tenant_ids(&mut self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        self.in_read_tx(NO_TENANT, "listing tenants", &mut |tx| {
            ids = tx
                .query("SELECT tenant_id FROM tenants ORDER BY tenant_id", &[])?
                .into_iter()
                .filter_map(|r| r.into_iter().next().and_then(Val::into_text))
                .collect();
            Ok(())
        })?;
        Ok(ids)
    }
}

/// `$from, $from+1, …`: `n` numbered placeholders for an `IN (…)` list.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A value bound to or read from a statement in [`Tx`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val {
    Int(Option<i64>),
    Text(Option<String>),
    /// A byte string (`BLOB`, `bytea`), read as it is stored.
    Bytes(Option<Vec<u8>>),
}

impl Val {
    pub fn int(&self) -> Option<i64> {
        match self {
            Val::Int(i) => *i,
            Val::Text(_) | Val::Bytes(_) => None,
        }
    }
    pub fn text(&self) -> Option<&str> {
        match self {
            Val::Text(t) => t.as_deref(),
            Val::Int(_) | Val::Bytes(_) => None,
        }
    }
    pub fn into_text(self) -> Option<String> {
        match self {
            Val::Text(t) => t,
            Val::Int(_) | Val::Bytes(_) => None,
        }
    }
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Val::Bytes(b) => b,
            Val::Int(_) | Val::Text(_) => None,
        }
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(Some(v))
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Self {
        Val::Int(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(Some(v.to_owned()))
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(Some(v))
    }
}
impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Self {
        Val::Text(v)
    }
}
impl From<Vec<u8>> for Val {
    fn from(v: Vec<u8>) -> Self {
        Val::Bytes(Some(v))
    }
}

/// One open transaction, scoped to one tenant (every statement that filters on `tenant_id = $1`
/// must bind that tenant as `$1`: [`check_tenant_bound`] refuses anything else), with just enough surface to write backend-neutral SQL: placeholders
/// are `$1`, `$2`, …; integers, text and byte strings. `FOR UPDATE SKIP LOCKED` and row locks are written
/// only where [`Tx::postgres`] says they exist.
pub(crate) trait Tx {
    /// Runs a statement; returns the rows it changed.
    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64>;
    /// Runs a query; returns its rows.
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>>;
    /// Appends audit entries in this transaction.
    fn append_audit(&mut self, build: &mut AuditFn<'_>) -> Result<()>;
    /// Whether this is PostgreSQL (row locks, `SKIP LOCKED`).
    fn postgres(&self) -> bool;
    /// The clause that locks the rows a `SELECT` reads until the transaction ends: ` FOR UPDATE`
    /// on PostgreSQL; nothing on SQLite, whose write transaction already excludes every other
    /// writer.
    fn for_update(&self) -> &'static str {
        if self.postgres() { " FOR UPDATE" } else { "" }
    }
    /// Like [`Tx::for_update`], skipping rows another transaction holds (work queues that several
    /// servers drain at once).
    fn for_update_skip_locked(&self) -> &'static str {
        if self.postgres() {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        }
    }
}

/// Refuses a statement that filters on `tenant_id = $1` but binds another value than the
/// transaction's tenant as `$1`. PostgreSQL's row-level security would hide the other tenant's
/// rows anyway; SQLite has no such thing, so this check is what keeps a mistaken binding from
/// reading or changing another tenant's data there. A refusal is a bug in Custos, never the
/// caller's: it is reported as an internal error and nothing is written (the transaction rolls
/// back).
pub(crate) fn check_tenant_bound(sql: &str, params: &[Val], tenant: &str) -> Result<()> {
    if !sql.contains("tenant_id = $1") {
        return Ok(());
    }
    match params.first() {
        Some(Val::Text(Some(bound))) if bound == tenant => Ok(()),
        _ => Err(crate::error::VaultError::TenantNotBound),
    }
}

/// Builds the audit entries of a write, given the chain head (see `custos_audit::build`).
pub(crate) type AuditFn<'a> = custos_audit::store::BuildFn<'a>;

/// The audit entries a write of records appends in its own transaction: its events, stamped
/// `at`, chained after the head, with a checkpoint signed by `key` when the cadence is due.
/// Owned, so that a write can wait in a group for another caller to commit it.
#[derive(Clone)]
pub(crate) struct WriteAudit {
    pub events: Vec<custos_audit::Event>,
    pub at: jiff::Timestamp,
    pub key: custos_audit::SigningKey,
}

impl WriteAudit {
    /// The entries (and the checkpoint, if due) that follow `head`.
    pub(crate) fn build(
        &self,
        head: Option<(u64, custos_audit::Hash)>,
    ) -> (Vec<custos_audit::Entry>, Option<custos_audit::Checkpoint>) {
        custos_audit::build(
            head,
            &self.events,
            self.at,
            &self.key,
            crate::vault::AUDIT_CHECKPOINT_EVERY,
        )
    }
}

/// Builds the audit entry of an erasure from what it destroyed and the chain head.
pub(crate) type EraseAuditFn<'a> = dyn FnMut(
        ErasureCounts,
        Option<(u64, custos_audit::Hash)>,
    ) -> (Vec<custos_audit::Entry>, Option<custos_audit::Checkpoint>)
    + 'a;

/// The statement that destroys every data key of one subject that no remaining record needs:
/// a record of format 2 needs its (key domain, category) key, one of format 1 the legacy key of
/// its domain. Parameters: `$1` tenant, `$2` pseudonym.
pub(crate) fn unused_keys_sql(postgres: bool) -> &'static str {
    if postgres {
        "DELETE FROM data_keys k WHERE k.tenant_id = $1 AND k.pseudonym = $2 AND NOT EXISTS
           (SELECT 1 FROM records r WHERE r.tenant_id = $1 AND r.pseudonym = $2
              AND r.key_domain = k.key_domain
              AND (CASE WHEN get_byte(r.ciphertext, 0) = 1 THEN '' ELSE r.category END) = k.category)"
    } else {
        "DELETE FROM data_keys WHERE tenant_id = $1 AND pseudonym = $2 AND NOT EXISTS
           (SELECT 1 FROM records r WHERE r.tenant_id = $1 AND r.pseudonym = $2
              AND r.key_domain = data_keys.key_domain
              AND (CASE WHEN substr(r.ciphertext, 1, 1) = x'01' THEN '' ELSE r.category END) = data_keys.category)"
    }
}

/// PostgreSQL advisory lock class of a tenant's subjects: a write of records holds its subjects'
/// locks shared from before it checks or stores its data keys until it commits
/// (`commit_writes`); whatever destroys a subject's keys holds the subject's lock alone
/// ([`lock_subject`]). The two-key advisory lock space does not overlap the single-key one the
/// audit trail uses.
pub(crate) const SUBJECT_LOCK: i32 = 0x4355_5342; // "CUSB"

/// Subjects share one of this many locks per tenant ([`subject_lock_key`]), so a write to
/// thousands of subjects takes at most this many locks: PostgreSQL keeps advisory locks in a
/// shared table of `max_locks_per_transaction` (64 by default) per connection. An erasure then
/// holds back the writes of one in 64 of its tenant's subjects, for the time it takes.
pub(crate) const SUBJECT_LOCK_BUCKETS: i32 = 64;

/// The SQL of a subject's lock key: the schema, the tenant (`tenant`, an SQL expression) and the
/// subject's bucket (of `pseudonym`, an SQL expression), hashed.
pub(crate) fn subject_lock_key(tenant: &str, pseudonym: &str) -> String {
    format!(
        "hashtext(current_schema() || '/' || {tenant} || '/' || (hashtext({pseudonym}) & {}))",
        SUBJECT_LOCK_BUCKETS - 1
    )
}

/// Takes the subject behind `pseudonym` alone (PostgreSQL; [`SUBJECT_LOCK`]), before anything
/// that may destroy its data keys reads which records remain. A write in progress holds it
/// shared from before it checks its keys (and stores the ones it made) until its commit: this
/// waits for that write, and the statements after it (each with a snapshot of its own) see the
/// write's records and keys, so a key a new record needs is never destroyed under it. A write
/// that comes later waits for this transaction, then finds the key gone and is encrypted again
/// (`data-key-gone`); a key it makes itself is stored after the erasure, for records after it.
/// A row lock could not do this: a key a write is about to create has no row to lock yet. On
/// SQLite writes take turns, so nothing can interleave.
pub(crate) fn lock_subject(tx: &mut dyn Tx, tenant: &str, pseudonym: &str) -> Result<()> {
    if tx.postgres() {
        tx.execute(
            &format!(
                "SELECT pg_advisory_xact_lock({SUBJECT_LOCK}, {})",
                subject_lock_key("$1", "$2")
            ),
            &[tenant.into(), pseudonym.into()],
        )?;
    }
    Ok(())
}

/// Destroys every data key of the subject behind `pseudonym` that no remaining record of it needs,
/// in the caller's transaction; returns how many. Call it after deleting records (one record, a
/// category, a purge) so that what was deleted loses its key too: a copy of its ciphertext left
/// anywhere (a WAL, a dead tuple, a backup) can then never be decrypted again.
pub(crate) fn destroy_unused_keys(tx: &mut dyn Tx, tenant: &str, pseudonym: &str) -> Result<u64> {
    lock_subject(tx, tenant, pseudonym)?;
    let sql = unused_keys_sql(tx.postgres());
    tx.execute(sql, &[tenant.into(), pseudonym.into()])
}

/// Stores one wrapped data key unless the subject has one for its domain and category.
/// `$5::bigint`: PostgreSQL keeps the version in an `integer`, bound here as an i64.
const INSERT_DATA_KEY: &str = "INSERT INTO data_keys (tenant_id, pseudonym, key_domain, category, key_version, wrapped, created_at)
     VALUES ($1, $2, $3, $4, CAST($5 AS BIGINT), $6, $7)
     ON CONFLICT (tenant_id, pseudonym, key_domain, category) DO NOTHING";

fn insert_data_key(tx: &mut dyn Tx, tenant: &str, key: &WrappedKeyRow, now: i64) -> Result<u64> {
    tx.execute(
        INSERT_DATA_KEY,
        &[
            tenant.into(),
            key.pseudonym.as_str().into(),
            key.key_domain.as_str().into(),
            key.category.as_str().into(),
            i64::from(key.key_version).into(),
            key.wrapped.clone().into(),
            now.into(),
        ],
    )
}

/// The check value of the vault's master key (`meta.key_check`), read by whatever is about to
/// store data keys, to refuse keys wrapped under another. On PostgreSQL it first takes
/// `data_keys` in `ROW EXCLUSIVE` mode: a rotation or a replacement of the master key holds the
/// table in `SHARE ROW EXCLUSIVE` mode until it commits, so this waits for it, and the check read
/// is the new key's. Read before waiting, the old check would pass, and keys wrapped under the
/// old master would be stored after the replacement: keys nobody can open.
pub(crate) fn current_key_check(tx: &mut dyn Tx) -> Result<Option<String>> {
    if tx.postgres() {
        tx.execute("LOCK TABLE data_keys IN ROW EXCLUSIVE MODE", &[])?;
    }
    Ok(tx
        .query(
            "SELECT value FROM meta WHERE key = $1",
            &["key_check".into()],
        )?
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
        .and_then(Val::into_text))
}

/// Refuses to store keys wrapped under a master key other than the vault's: if it was replaced
/// meanwhile (by `custos keys replace` while this server ran), storing them would leave keys the
/// new master cannot open. The server must restart with the new key. Also registers the tenant,
/// which its keys belong to.
fn before_storing_keys(tx: &mut dyn Tx, tenant: &str, now: i64, key_check: &str) -> Result<()> {
    if current_key_check(tx)?.as_deref() != Some(key_check) {
        return Err(crate::error::VaultError::MasterKeyReplaced);
    }
    tx.execute(
        "INSERT INTO tenants (tenant_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[tenant.into(), now.into()],
    )?;
    Ok(())
}

/// Stores the data keys a write made for itself, in the write's transaction, before its rows.
/// A key another write stored first for the same subject, domain and category is kept: this
/// write's rows are then under a key that is not stored, and the answer is
/// [`VaultError::DataKeyGone`](crate::error::VaultError) (encrypt again, under the stored
/// key). Used where nothing can destroy the keys between this and the commit: where writes take
/// turns (SQLite), or holding the subject ([`keep_keys_in`]); a PostgreSQL group stores all its
/// writes' keys in one statement, under their subjects' locks (`commit_writes`).
pub(crate) fn store_new_keys_in(
    tx: &mut dyn Tx,
    tenant: &str,
    keys: &NewKeys,
    now: i64,
) -> Result<()> {
    before_storing_keys(tx, tenant, now, &keys.check)?;
    for key in &keys.rows {
        if insert_data_key(tx, tenant, key, now)? == 0 {
            return Err(crate::error::VaultError::DataKeyGone);
        }
    }
    Ok(())
}

/// Refuses rows under a data key that is no longer stored as `keys_read` has it
/// ([`VaultError::DataKeyGone`](crate::error::VaultError), encrypt again): since it was read,
/// an erasure or a deletion destroyed it (no record needed it any more), and perhaps a write
/// after that made the subject a new one. A row under the key read could never be read. Call
/// it where nothing can destroy the keys before the commit: in a write's turn (SQLite), or
/// holding the subject ([`lock_subject`], [`keep_keys_in`]).
pub(crate) fn check_keys_read_in(
    tx: &mut dyn Tx,
    tenant: &str,
    keys_read: &[WrappedKeyRow],
) -> Result<()> {
    for k in keys_read {
        let stored = tx
            .query(
                "SELECT wrapped FROM data_keys WHERE tenant_id = $1 AND pseudonym = $2 AND key_domain = $3 AND category = $4",
                &[
                    tenant.into(),
                    k.pseudonym.as_str().into(),
                    k.key_domain.as_str().into(),
                    k.category.as_str().into(),
                ],
            )?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .and_then(Val::into_bytes);
        if stored.as_ref() != Some(&k.wrapped) {
            return Err(crate::error::VaultError::DataKeyGone);
        }
    }
    Ok(())
}

/// Makes sure the data keys of rows about to be rewritten one by one (a correction, a
/// re-encryption), not by a group, last until the commit: takes the subject alone
/// ([`lock_subject`]), refuses keys no longer stored as read ([`check_keys_read_in`]) and
/// stores the ones made for them ([`store_new_keys_in`]), in the caller's transaction. A key
/// made for a record still under its domain's legacy key is used by no record until the
/// rewrite commits: stored in a transaction of its own, a deletion meanwhile would destroy it
/// as unused, and the rewritten record could never be read.
pub(crate) fn keep_keys_in(
    tx: &mut dyn Tx,
    tenant: &str,
    pseudonym: &str,
    keys_read: &[WrappedKeyRow],
    made: Option<&NewKeys>,
    now: i64,
) -> Result<()> {
    lock_subject(tx, tenant, pseudonym)?;
    check_keys_read_in(tx, tenant, keys_read)?;
    match made {
        Some(keys) => store_new_keys_in(tx, tenant, keys, now),
        None => Ok(()),
    }
}

/// [`Store::insert_data_keys`] in the caller's transaction.
fn insert_data_keys_in(
    tx: &mut dyn Tx,
    tenant: &str,
    keys: &[WrappedKeyRow],
    now: i64,
    key_check: &str,
) -> Result<Vec<WrappedKeyRow>> {
    before_storing_keys(tx, tenant, now, key_check)?;
    let mut stored = Vec::with_capacity(keys.len());
    for key in keys {
        insert_data_key(tx, tenant, key, now)?;
        let row = tx
            .query(
                "SELECT key_version, wrapped FROM data_keys WHERE tenant_id = $1 AND pseudonym = $2 AND key_domain = $3 AND category = $4",
                &[
                    tenant.into(),
                    key.pseudonym.as_str().into(),
                    key.key_domain.as_str().into(),
                    key.category.as_str().into(),
                ],
            )?
            .into_iter()
            .next();
        let corrupt = || {
            crate::error::VaultError::Corrupt("a data key just stored cannot be read back".into())
        };
        let mut row = row.ok_or_else(corrupt)?.into_iter();
        let version = row
            .next()
            .and_then(|v| v.int())
            .and_then(|v| u32::try_from(v).ok());
        let wrapped = row.next().and_then(Val::into_bytes);
        stored.push(WrappedKeyRow {
            pseudonym: key.pseudonym.clone(),
            key_domain: key.key_domain.clone(),
            category: key.category.clone(),
            key_version: version.ok_or_else(corrupt)?,
            wrapped: wrapped.ok_or_else(corrupt)?,
        });
    }
    Ok(stored)
}

/// [`Store::erase`] in the caller's transaction; `None` when the erasure was journaled before
/// (it changes nothing then).
fn erase_in(
    tx: &mut dyn Tx,
    e: &JournalEntry,
    audit: &mut EraseAuditFn<'_>,
) -> Result<Option<ErasureCounts>> {
    let subject = [e.tenant.as_str().into(), e.pseudonym.as_str().into()];
    let journaled = tx.execute(
        "INSERT INTO erasures (erasure_id, tenant_id, pseudonym, erased_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        &[
            e.erasure_id.as_str().into(),
            e.tenant.as_str().into(),
            e.pseudonym.as_str().into(),
            e.erased_at.into(),
        ],
    )?;
    if journaled == 0 {
        return Ok(None);
    }
    // Before reading which records there are: a write under the subject's keys in progress
    // commits first, and its records are erased with the rest.
    lock_subject(tx, &e.tenant, &e.pseudonym)?;
    // What a law obliges the controller to keep is restricted, not deleted (Art. 17(3)(b)).
    let restricted = if e.keep.is_empty() {
        0
    } else {
        let kept = if tx.postgres() {
            "SELECT jsonb_array_elements_text(($4::text)::jsonb)"
        } else {
            "SELECT value FROM json_each($4)"
        };
        tx.execute(
            &format!(
                "UPDATE records SET restriction = $3 WHERE tenant_id = $1 AND pseudonym = $2 AND category IN ({kept})"
            ),
            &[
                e.tenant.as_str().into(),
                e.pseudonym.as_str().into(),
                restriction_json(e).into(),
                keep_json(e).into(),
            ],
        )?
    };
    // The application hears which of its records went and which stay restricted
    // (crate::app_events), named by record id only.
    let records = if crate::app_events::hooked(tx, &e.tenant)? {
        let restricted = crate::app_events::ids(tx.query(
            "SELECT record_id FROM records WHERE tenant_id = $1 AND pseudonym = $2 AND restriction IS NOT NULL ORDER BY record_id",
            &subject,
        )?);
        let deleted = crate::app_events::ids(tx.query(
            "DELETE FROM records WHERE tenant_id = $1 AND pseudonym = $2 AND restriction IS NULL RETURNING record_id",
            &subject,
        )?);
        let n = deleted.len() as u64;
        if n > 0 || !restricted.is_empty() {
            let event = crate::app_events::AppEvent::Erased {
                erasure_id: &e.erasure_id,
                records: deleted,
                restricted,
            };
            let at = jiff::Timestamp::from_microsecond(e.erased_at)
                .unwrap_or_else(|_| jiff::Timestamp::now());
            crate::app_events::enqueue(tx, &e.tenant, event, at)?;
        }
        n
    } else {
        tx.execute(
            "DELETE FROM records WHERE tenant_id = $1 AND pseudonym = $2 AND restriction IS NULL",
            &subject,
        )?
    };
    // Every key no kept record needs goes, in the same transaction: from the commit on, every
    // copy of the erased records anywhere (a WAL, dead tuples, backups) is unreadable.
    let keys = destroy_unused_keys(tx, &e.tenant, &e.pseudonym)?;
    tx.execute(
        "DELETE FROM subjects WHERE tenant_id = $1 AND pseudonym = $2
           AND NOT EXISTS (SELECT 1 FROM records WHERE tenant_id = $1 AND pseudonym = $2)",
        &subject,
    )?;
    tx.execute(
        "DELETE FROM subject_events WHERE tenant_id = $1 AND pseudonym = $2",
        &subject,
    )?;
    let counts = ErasureCounts {
        keys,
        records,
        restricted,
    };
    tx.append_audit(&mut |head| audit(counts, head))?;
    Ok(Some(counts))
}

/// The `restriction` value an erasure writes on the records it keeps.
pub(crate) fn restriction_json(e: &JournalEntry) -> String {
    serde_json::json!({
        "basis": "Art. 17(3)(b) GDPR",
        "erasure_id": e.erasure_id,
        "since": e.erased_at,
    })
    .to_string()
}

/// The categories an erasure keeps, as a JSON array for `json_each` / `jsonb_array_elements_text`.
pub(crate) fn keep_json(e: &JournalEntry) -> String {
    serde_json::Value::from(e.keep.clone()).to_string()
}

/// The migrations a database at schema version `current` still needs, in order; refuses a
/// database migrated by a newer Custos ([`VaultError::SchemaTooNew`](crate::VaultError)).
pub(crate) fn pending_migrations(
    migrations: &'static [(i64, &'static str)],
    current: i64,
) -> Result<impl Iterator<Item = &'static (i64, &'static str)>> {
    let newest = migrations.last().map_or(0, |m| m.0);
    if current > newest {
        return Err(crate::error::VaultError::SchemaTooNew {
            found: current,
            supported: newest,
        });
    }
    Ok(migrations.iter().filter(move |m| m.0 > current))
}

/// An audit append that failed inside a storage transaction (the transaction rolls back).
pub(crate) fn audit_error(target: &str, e: custos_audit::AuditError) -> crate::error::VaultError {
    crate::error::VaultError::Storage {
        operation: "appending to the audit trail",
        target: target.to_owned(),
        reason: e.to_string(),
    }
}

/// Microseconds since the epoch, the vault's stored time format.
pub(crate) fn micros(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

/// Rows and audit entries for the stores' tests of group commit.
#[cfg(test)]
pub(crate) mod testing {
    use super::{IdempotencyRow, NewKeys, RecordRow, WrappedKeyRow, Write, WriteAudit};

    /// What committing a group answers: each write's outcome, or the group's failure.
    type GroupAnswer = crate::error::Result<Vec<crate::error::Result<()>>>;

    /// Commits, as one group, three writes of acme's that each made a data key: two made one
    /// for `p1`'s `account` records at once (the first's key wrapped as `[1]`), and one for
    /// `p3` under another master key than `check`'s; checks each write's answer. The first is
    /// in; the second's rows are under a key nobody has (`DataKeyGone`, encrypt again); the
    /// third is refused (`MasterKeyReplaced`).
    pub(crate) fn commit_writes_that_make_keys(
        check: &str,
        commit: &mut dyn FnMut(&[Write<'_>]) -> GroupAnswer,
    ) {
        use crate::error::VaultError;
        let (mine, also, stale) = (
            made_key("p1", 1, check),
            made_key("p1", 2, check),
            made_key("p3", 3, "another master key"),
        );
        let (r1, r2, r3) = (
            [row("acme", 60, "p1")],
            [row("acme", 61, "p1")],
            [row("acme", 62, "p3")],
        );
        let audit = audit_of("put", "acme");
        let made = |rows, keys| Write {
            new_keys: Some(keys),
            ..acme_write(rows, None, &audit)
        };
        let outcomes = commit(&[
            made(&r1[..], &mine),
            made(&r2[..], &also),
            made(&r3[..], &stale),
        ])
        .expect("the group commits");
        assert!(outcomes[0].is_ok(), "{outcomes:?}");
        assert!(
            matches!(outcomes[1], Err(VaultError::DataKeyGone)),
            "{outcomes:?}"
        );
        assert!(
            matches!(outcomes[2], Err(VaultError::MasterKeyReplaced)),
            "{outcomes:?}"
        );
    }

    /// As [`commit_writes_that_make_keys`], with the writes of one master key in one group (on
    /// PostgreSQL the keys then go in the group's one trip) and the write of another master key
    /// in a group of its own: for `p4`, the first write's key (wrapped as `[4]`) is stored and
    /// the second's rows are under a key nobody has; `p5`'s write is refused.
    pub(crate) fn commit_writes_that_make_keys_under_one_check(
        check: &str,
        commit: &mut dyn FnMut(&[Write<'_>]) -> GroupAnswer,
    ) {
        use crate::error::VaultError;
        let (mine, also, stale) = (
            made_key("p4", 4, check),
            made_key("p4", 5, check),
            made_key("p5", 6, "another master key"),
        );
        let (r1, r2, r3) = (
            [row("acme", 63, "p4")],
            [row("acme", 64, "p4")],
            [row("acme", 65, "p5")],
        );
        let audit = audit_of("put", "acme");
        let made = |rows, keys| Write {
            new_keys: Some(keys),
            ..acme_write(rows, None, &audit)
        };
        let outcomes =
            commit(&[made(&r1[..], &mine), made(&r2[..], &also)]).expect("the group commits");
        assert!(outcomes[0].is_ok(), "{outcomes:?}");
        assert!(
            matches!(outcomes[1], Err(VaultError::DataKeyGone)),
            "{outcomes:?}"
        );
        let refused = commit(&[made(&r3[..], &stale)]).expect("the group commits");
        assert!(
            matches!(refused[0], Err(VaultError::MasterKeyReplaced)),
            "{refused:?}"
        );
    }

    /// Commits, as one group, two writes of acme's under keys they read before, where `p1` and
    /// `p2` each hold a key wrapped as `stored`: the first read `p1`'s key as it was before an
    /// erasure destroyed it and a later write made another (wrapped as `stored + 1`); the
    /// second read `p2`'s as it is. The first's rows are under a key nobody has
    /// (`DataKeyGone`, encrypt again); the second is in.
    pub(crate) fn commit_writes_under_a_key_made_again(
        stored: u8,
        commit: &mut dyn FnMut(&[Write<'_>]) -> GroupAnswer,
    ) {
        use crate::error::VaultError;
        let (before, current) = (
            [key_row("p1", stored.wrapping_add(1))],
            [key_row("p2", stored)],
        );
        let (lost, kept) = ([row("acme", 80, "p1")], [row("acme", 81, "p2")]);
        let audit = audit_of("put", "acme");
        let under = |rows, keys_read| Write {
            keys_read,
            ..acme_write(rows, None, &audit)
        };
        let outcomes = commit(&[
            under(&lost[..], &before[..]),
            under(&kept[..], &current[..]),
        ])
        .expect("the group commits");
        assert!(
            matches!(outcomes[0], Err(VaultError::DataKeyGone)),
            "{outcomes:?}"
        );
        assert!(outcomes[1].is_ok(), "{outcomes:?}");
        let alone = commit(&[under(&lost[..], &before[..])]).expect("the group commits");
        assert!(
            matches!(alone[0], Err(VaultError::DataKeyGone)),
            "{alone:?}"
        );
    }

    /// A data key a write made for `subject`'s records of [`row`] (domain `default`, category
    /// `account`), wrapped as `wrapped`, under the master key whose check value is `check`.
    pub(crate) fn made_key(subject: &str, wrapped: u8, check: &str) -> NewKeys {
        NewKeys {
            rows: vec![key_row(subject, wrapped)],
            check: check.into(),
        }
    }

    /// `subject`'s data key for the records of [`row`] (domain `default`, category `account`),
    /// wrapped as `wrapped`.
    pub(crate) fn key_row(subject: &str, wrapped: u8) -> WrappedKeyRow {
        WrappedKeyRow {
            pseudonym: subject.into(),
            key_domain: "default".into(),
            category: "account".into(),
            key_version: 1,
            wrapped: vec![wrapped],
        }
    }

    /// A write of acme's `rows` at time 5, computed at retention version 0.
    pub(crate) fn acme_write<'a>(
        rows: &'a [RecordRow],
        idempotency: Option<&'a IdempotencyRow>,
        audit: &'a WriteAudit,
    ) -> Write<'a> {
        Write {
            tenant: "acme",
            rows,
            now: 5,
            version: 0,
            idempotency,
            new_keys: None,
            keys_read: &[],
            audit,
        }
    }

    /// A record row of `tenant` with id number `id`, of the subject (pseudonym) `subject`,
    /// created at 5.
    pub(crate) fn row(tenant: &str, id: usize, subject: &str) -> RecordRow {
        RecordRow {
            record_id: format!("{tenant}{id:029}"),
            pseudonym: subject.into(),
            category: "account".into(),
            purposes: "[\"service\"]".into(),
            key_domain: "default".into(),
            // Format 2 (its first byte): needs the key of its (key domain, category).
            ciphertext: vec![2, 0, 0],
            created_at: 5,
            clocks: "{}".into(),
            expires_at: None,
            restriction: None,
        }
    }

    /// One audit entry `action` of `tenant`.
    pub(crate) fn audit_of(action: &str, tenant: &str) -> WriteAudit {
        WriteAudit {
            events: vec![custos_audit::Event {
                tenant: tenant.into(),
                actor: "test".into(),
                action: action.into(),
                subject: None,
                details: serde_json::json!({}),
            }],
            at: jiff::Timestamp::UNIX_EPOCH,
            key: custos_audit::SigningKey::from_bytes(&[7; 32]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_gets_the_migrations_after_its_version_and_a_newer_one_is_refused() {
        const M: &[(i64, &str)] = &[(1, "a"), (2, "b"), (3, "c")];
        let versions = |current| {
            pending_migrations(M, current)
                .map(|it| it.map(|m| m.0).collect::<Vec<_>>())
                .ok()
        };
        assert_eq!(versions(0), Some(vec![1, 2, 3]));
        assert_eq!(versions(2), Some(vec![3]));
        assert_eq!(versions(3), Some(vec![]));
        assert!(matches!(
            pending_migrations(M, 4).map(|_| ()),
            Err(crate::error::VaultError::SchemaTooNew {
                found: 4,
                supported: 3
            })
        ));
    }

    #[test]
    fn a_tenant_filter_must_bind_the_transactions_tenant_as_its_first_value() {
        let sql = "SELECT 1 FROM records WHERE tenant_id = $1 AND record_id = $2";
        assert!(check_tenant_bound(sql, &["acme".into(), "r".into()], "acme").is_ok());
        for wrong in [
            vec![Val::from("beta"), "r".into()],
            vec![Val::Text(None)],
            vec![Val::Int(Some(1))],
            vec![],
        ] {
            assert!(
                check_tenant_bound(sql, &wrong, "acme").is_err(),
                "{wrong:?} must be refused"
            );
        }
        // A statement that does not filter on a tenant (the migrations, the meta table) is not
        // this check's business.
        assert!(
            check_tenant_bound(
                "SELECT value FROM meta WHERE key = $1",
                &["k".into()],
                "acme"
            )
            .is_ok()
        );
    }
}
