//! Where the chain lives: one table of entries and one of checkpoints, in SQLite or PostgreSQL.
//! Appends run in one exclusive transaction (SQLite `BEGIN IMMEDIATE`; a PostgreSQL
//! transaction-scoped advisory lock), so any number of Custos processes appending to the same
//! database produce one unbroken chain.

use crate::AuditError;
use crate::chain::{Checkpoint, Entry, Hash};

/// Filters for reading entries of one tenant.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only entries about this subject pseudonym.
    pub subject: Option<String>,
    /// Only entries with this action.
    pub action: Option<String>,
    /// Only entries after this seq (the cursor of the previous page).
    pub after_seq: u64,
    /// At most this many (capped at 1000).
    pub limit: usize,
}

/// Storage of the chain. Both implementations pass the same tests.
pub trait Store {
    /// In one exclusive transaction: reads the chain head, asks `build` for the entries (and
    /// possibly a checkpoint) that follow it, and stores them. All or nothing.
    fn append(&mut self, build: &mut BuildFn<'_>) -> Result<(), AuditError>;
    /// Entries with seq greater than `after_seq`, in seq order, at most `limit`.
    fn read(&mut self, after_seq: u64, limit: usize) -> Result<Vec<Entry>, AuditError>;
    /// [`Store::read`] into `out`, replacing what it held. A store that can refill the entries
    /// already in `out` (reusing their strings) overrides it, so that verification reads the
    /// whole trail without allocating per entry.
    fn read_into(
        &mut self,
        after_seq: u64,
        limit: usize,
        out: &mut Vec<Entry>,
    ) -> Result<(), AuditError> {
        *out = self.read(after_seq, limit)?;
        Ok(())
    }
    /// The last entry, if any.
    fn head(&mut self) -> Result<Option<Entry>, AuditError>;
    /// Every checkpoint.
    fn checkpoints(&mut self) -> Result<Vec<Checkpoint>, AuditError>;
    /// Checkpoints with seq greater than `after_seq`, in seq order (what is not yet published).
    fn checkpoints_after(&mut self, after_seq: u64) -> Result<Vec<Checkpoint>, AuditError>;
    /// The checkpoint with the highest seq, if any (how much of the chain is sealed).
    fn last_checkpoint(&mut self) -> Result<Option<Checkpoint>, AuditError>;
    /// Entries of one tenant matching `q`, in seq order.
    fn query(&mut self, tenant: &str, q: &Query) -> Result<Vec<Entry>, AuditError>;
    /// How many entries `tenant` has, and how many of them have seq greater than `after_seq`.
    fn tenant_counts(&mut self, tenant: &str, after_seq: u64) -> Result<(u64, u64), AuditError>;
    /// Entries of one tenant (only those with `action`, if given), the newest first: `limit`
    /// (at most 1000) after skipping the newest `offset`. A page for people reading the trail
    /// back from now; cut in the database, not in memory.
    fn recent(
        &mut self,
        tenant: &str,
        action: Option<&str>,
        offset: u64,
        limit: usize,
    ) -> Result<Vec<Entry>, AuditError>;
}

const MAX_PAGE: usize = 1000;

/// What an append computes inside its transaction: given the chain head, the entries that
/// follow it and possibly a checkpoint.
pub type BuildFn<'a> = dyn FnMut(Option<(u64, Hash)>) -> (Vec<Entry>, Option<Checkpoint>) + 'a;

/// Like [`BuildFn`], for the entries of several writes at once, each of which may complete a
/// checkpoint (see [`pg_append_all_in`]).
pub type BuildAllFn<'a> = dyn FnMut(Option<(u64, Hash)>) -> (Vec<Entry>, Vec<Checkpoint>) + 'a;

fn to_hash(v: Vec<u8>, what: &str, seq: u64) -> Result<Hash, AuditError> {
    v.try_into()
        .map_err(|_| AuditError::Corrupt(format!("entry {seq}: {what} is not 32 bytes")))
}

fn to_seq(v: i64) -> Result<u64, AuditError> {
    u64::try_from(v).map_err(|_| AuditError::Corrupt(format!("negative seq {v}")))
}

// ---- SQLite -------------------------------------------------------------------------------

/// The audit tables in SQLite (idempotent).
pub const SQLITE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_entries (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT,
    details TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_entries_tenant ON audit_entries (tenant_id, seq);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    seq INTEGER PRIMARY KEY,
    hash BLOB NOT NULL,
    at TEXT NOT NULL,
    signature BLOB NOT NULL
);
";

/// The chain in an SQLite database (the vault's file, or its own).
pub struct SqliteStore {
    conn: rusqlite::Connection,
}

impl SqliteStore {
    /// Opens (creating if needed) the audit tables in the SQLite database at `path`.
    pub fn open(path: &std::path::Path) -> Result<Self, AuditError> {
        let conn = rusqlite::Connection::open(path)?;
        Self::from_connection(conn)
    }

    /// Uses an open connection, creating the audit tables if needed.
    pub fn from_connection(conn: rusqlite::Connection) -> Result<Self, AuditError> {
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.execute_batch(SQLITE_SCHEMA)?;
        Ok(SqliteStore { conn })
    }

    /// The underlying connection (for tests that tamper with the table, and for the vault).
    pub fn connection(&self) -> &rusqlite::Connection {
        &self.conn
    }
}

fn sqlite_entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawEntry> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

type RawEntry = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Vec<u8>,
    Vec<u8>,
);

fn entry_from_raw(r: RawEntry) -> Result<Entry, AuditError> {
    let seq = to_seq(r.0)?;
    Ok(Entry {
        seq,
        at: r.1,
        tenant: r.2,
        actor: r.3,
        action: r.4,
        subject: r.5,
        details: r.6,
        prev_hash: to_hash(r.7, "prev_hash", seq)?,
        hash: to_hash(r.8, "hash", seq)?,
    })
}

/// Column `i` as text, borrowed from the row (as strict as `String`'s `FromSql`: text only).
fn sqlite_text<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    row.get_ref(i)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

/// Column `i` as a hash, borrowed from the row (a blob of 32 bytes).
fn sqlite_hash(
    row: &rusqlite::Row<'_>,
    i: usize,
    what: &str,
    seq: u64,
) -> Result<Hash, AuditError> {
    let blob = row.get_ref(i)?.as_blob().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, e.into())
    })?;
    blob.try_into()
        .map_err(|_| AuditError::Corrupt(format!("entry {seq}: {what} is not 32 bytes")))
}

fn refill(s: &mut String, from: &str) {
    s.clear();
    s.push_str(from);
}

/// Overwrites `e` with the row (a row of `SELECT seq, at, tenant_id, actor, action, subject,
/// details, prev_hash, hash`), reusing its strings' buffers.
fn sqlite_refill(e: &mut Entry, row: &rusqlite::Row<'_>) -> Result<(), AuditError> {
    e.seq = to_seq(row.get(0)?)?;
    refill(&mut e.at, sqlite_text(row, 1)?);
    refill(&mut e.tenant, sqlite_text(row, 2)?);
    refill(&mut e.actor, sqlite_text(row, 3)?);
    refill(&mut e.action, sqlite_text(row, 4)?);
    match row.get_ref(5)? {
        rusqlite::types::ValueRef::Null => e.subject = None,
        _ => {
            let text = sqlite_text(row, 5)?;
            match &mut e.subject {
                Some(s) => refill(s, text),
                None => e.subject = Some(text.to_owned()),
            }
        }
    }
    refill(&mut e.details, sqlite_text(row, 6)?);
    e.prev_hash = sqlite_hash(row, 7, "prev_hash", e.seq)?;
    e.hash = sqlite_hash(row, 8, "hash", e.seq)?;
    Ok(())
}

/// An entry to be overwritten by [`sqlite_refill`].
fn blank_entry() -> Entry {
    Entry {
        seq: 0,
        at: String::new(),
        tenant: String::new(),
        actor: String::new(),
        action: String::new(),
        subject: None,
        details: String::new(),
        prev_hash: [0; 32],
        hash: [0; 32],
    }
}

/// Writes one entry as a row of `audit_entries`, exactly as given (an append's new entries; the
/// property tests' tampered rows).
pub(crate) fn sqlite_insert(conn: &rusqlite::Connection, e: &Entry) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO audit_entries (seq, at, tenant_id, actor, action, subject, details, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(rusqlite::params![
        e.seq as i64,
        e.at,
        e.tenant,
        e.actor,
        e.action,
        e.subject,
        e.details,
        &e.prev_hash[..],
        &e.hash[..]
    ])?;
    Ok(())
}

/// Appends within an SQLite transaction the caller already holds (the vault uses this to write
/// the audit entry in the same transaction as the change it records).
pub fn sqlite_append_in(
    tx: &rusqlite::Connection,
    build: &mut BuildFn<'_>,
) -> Result<(), AuditError> {
    let head: Option<(i64, Vec<u8>)> = tx
        .query_row(
            "SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    let head = match head {
        Some((seq, hash)) => {
            let seq = to_seq(seq)?;
            Some((seq, to_hash(hash, "hash", seq)?))
        }
        None => None,
    };
    let (entries, checkpoint) = build(head);
    for e in &entries {
        sqlite_insert(tx, e)?;
    }
    if let Some(c) = checkpoint {
        // Two servers sealing the same head at once (timer, shutdown) sign the same entry: the
        // first checkpoint stands, the second is not an error.
        tx.execute(
            "INSERT INTO audit_checkpoints (seq, hash, at, signature) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (seq) DO NOTHING",
            rusqlite::params![c.seq as i64, &c.hash[..], c.at, &c.signature[..]],
        )?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn append(&mut self, build: &mut BuildFn<'_>) -> Result<(), AuditError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        sqlite_append_in(&tx, build)?;
        tx.commit()?;
        Ok(())
    }

    fn read(&mut self, after_seq: u64, limit: usize) -> Result<Vec<Entry>, AuditError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, at, tenant_id, actor, action, subject, details, prev_hash, hash FROM audit_entries WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = st.query_map(
            rusqlite::params![after_seq as i64, limit as i64],
            sqlite_entry,
        )?;
        rows.map(|r| entry_from_raw(r?)).collect()
    }

    fn read_into(
        &mut self,
        after_seq: u64,
        limit: usize,
        out: &mut Vec<Entry>,
    ) -> Result<(), AuditError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, at, tenant_id, actor, action, subject, details, prev_hash, hash FROM audit_entries WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let mut rows = st.query(rusqlite::params![after_seq as i64, limit as i64])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            if n == out.len() {
                out.push(blank_entry());
            }
            sqlite_refill(&mut out[n], row)?;
            n += 1;
        }
        out.truncate(n);
        Ok(())
    }

    fn head(&mut self) -> Result<Option<Entry>, AuditError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, at, tenant_id, actor, action, subject, details, prev_hash, hash FROM audit_entries ORDER BY seq DESC LIMIT 1",
        )?;
        let mut rows = st.query_map([], sqlite_entry)?;
        rows.next().map(|r| entry_from_raw(r?)).transpose()
    }

    fn checkpoints(&mut self) -> Result<Vec<Checkpoint>, AuditError> {
        self.checkpoints_after(0)
    }

    fn last_checkpoint(&mut self) -> Result<Option<Checkpoint>, AuditError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, hash, at, signature FROM audit_checkpoints ORDER BY seq DESC LIMIT 1",
        )?;
        let mut rows = st.query_map([], sqlite_checkpoint)?;
        rows.next().map(|r| r?).transpose()
    }

    fn checkpoints_after(&mut self, after_seq: u64) -> Result<Vec<Checkpoint>, AuditError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, hash, at, signature FROM audit_checkpoints WHERE seq > ?1 ORDER BY seq",
        )?;
        let rows = st.query_map([after_seq as i64], sqlite_checkpoint)?;
        rows.map(|r| r?).collect()
    }

    fn query(&mut self, tenant: &str, q: &Query) -> Result<Vec<Entry>, AuditError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, at, tenant_id, actor, action, subject, details, prev_hash, hash FROM audit_entries
             WHERE tenant_id = ?1 AND seq > ?2 AND (?3 IS NULL OR subject = ?3) AND (?4 IS NULL OR action = ?4)
             ORDER BY seq LIMIT ?5",
        )?;
        let limit = q.limit.clamp(1, MAX_PAGE) as i64;
        let rows = st.query_map(
            rusqlite::params![tenant, q.after_seq as i64, q.subject, q.action, limit],
            sqlite_entry,
        )?;
        rows.map(|r| entry_from_raw(r?)).collect()
    }

    fn tenant_counts(&mut self, tenant: &str, after_seq: u64) -> Result<(u64, u64), AuditError> {
        let (all, after): (i64, i64) = self.conn.query_row(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE seq > ?2) FROM audit_entries WHERE tenant_id = ?1",
            rusqlite::params![tenant, after_seq as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((to_seq(all)?, to_seq(after)?))
    }

    fn recent(
        &mut self,
        tenant: &str,
        action: Option<&str>,
        offset: u64,
        limit: usize,
    ) -> Result<Vec<Entry>, AuditError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, at, tenant_id, actor, action, subject, details, prev_hash, hash FROM audit_entries
             WHERE tenant_id = ?1 AND (?2 IS NULL OR action = ?2)
             ORDER BY seq DESC LIMIT ?3 OFFSET ?4",
        )?;
        let limit = limit.clamp(1, MAX_PAGE) as i64;
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows = st.query_map(
            rusqlite::params![tenant, action, limit, offset],
            sqlite_entry,
        )?;
        rows.map(|r| entry_from_raw(r?)).collect()
    }
}

fn checkpoint_from_raw(
    seq: i64,
    hash: Vec<u8>,
    at: String,
    sig: Vec<u8>,
) -> Result<Checkpoint, AuditError> {
    let seq = to_seq(seq)?;
    let signature: [u8; 64] = sig
        .try_into()
        .map_err(|_| AuditError::Corrupt(format!("checkpoint {seq}: signature is not 64 bytes")))?;
    Ok(Checkpoint {
        seq,
        hash: to_hash(hash, "checkpoint hash", seq)?,
        at,
        signature,
    })
}

// ---- PostgreSQL ---------------------------------------------------------------------------

/// The audit tables in PostgreSQL (idempotent). Both are keyed by (tenant_id, seq), so that a
/// distributed PostgreSQL (Citus) can shard them by tenant like every other tenant table: a
/// checkpoint is filed under the tenant of the entry it seals. The chain itself is still one
/// over every tenant (`seq` is unique by construction: appends take one lock), found in seq
/// order through the plain index on `seq` (docs/scale-out.md).
///
/// Tables made by an earlier version (keyed by `seq` alone, checkpoints without a tenant) are
/// re-keyed in place the first time this runs: the entries keep every row and byte, so the chain
/// and every signed checkpoint verify as before.
pub const PG_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_entries (
    seq BIGINT NOT NULL,
    at TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT,
    details TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    seq BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    at TEXT NOT NULL,
    signature BYTEA NOT NULL,
    tenant_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_constraint c
               WHERE c.conrelid = 'audit_entries'::regclass AND c.contype = 'p'
                 AND cardinality(c.conkey) = 1) THEN
        ALTER TABLE audit_entries DROP CONSTRAINT audit_entries_pkey;
        ALTER TABLE audit_entries ADD PRIMARY KEY (tenant_id, seq);
        DROP INDEX IF EXISTS audit_entries_tenant;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_attribute a
                   WHERE a.attrelid = 'audit_checkpoints'::regclass AND a.attname = 'tenant_id'
                     AND NOT a.attisdropped) THEN
        ALTER TABLE audit_checkpoints ADD COLUMN tenant_id TEXT;
        UPDATE audit_checkpoints c SET tenant_id = e.tenant_id FROM audit_entries e WHERE e.seq = c.seq;
        -- A checkpoint whose entry is gone (deleted: verification reports it) is kept.
        UPDATE audit_checkpoints SET tenant_id = '-' WHERE tenant_id IS NULL;
        ALTER TABLE audit_checkpoints ALTER COLUMN tenant_id SET NOT NULL;
        ALTER TABLE audit_checkpoints DROP CONSTRAINT audit_checkpoints_pkey;
        ALTER TABLE audit_checkpoints ADD PRIMARY KEY (tenant_id, seq);
    END IF;
END
$$;
CREATE INDEX IF NOT EXISTS audit_entries_seq ON audit_entries (seq);
CREATE INDEX IF NOT EXISTS audit_checkpoints_seq ON audit_checkpoints (seq);
";

/// Serialises appenders across processes: a transaction-scoped advisory lock on this key.
pub const PG_APPEND_LOCK: i64 = 0x6375_7374_6f73_0a01;

/// Serialises the creation of schemas: `CREATE SCHEMA IF NOT EXISTS` is not safe against a
/// second session creating the same schema at the same moment (one of them fails on the catalog's
/// unique index).
const PG_SCHEMA_LOCK: i64 = 0x6375_7374_6f73_0a02;

/// Creates `schema` if it does not exist and puts it on `client`'s search path. Several
/// processes (servers starting together on a fresh database) may do this at once: the creation
/// runs under a transaction-scoped advisory lock, and only when the schema is missing. `schema`
/// must be a plain identifier (the caller checks).
pub fn pg_ensure_schema(
    client: &mut postgres::Client,
    schema: &str,
) -> Result<(), postgres::Error> {
    let exists = |c: &mut postgres::Transaction<'_>| -> Result<bool, postgres::Error> {
        Ok(c.query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&schema],
        )?
        .get(0))
    };
    let mut tx = client.transaction()?;
    if !exists(&mut tx)? {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PG_SCHEMA_LOCK])?;
        // Asked again under the lock: another session may have made it meanwhile.
        if !exists(&mut tx)? {
            tx.batch_execute(&format!("CREATE SCHEMA {schema}"))?;
        }
    }
    tx.commit()?;
    client.batch_execute(&format!("SET search_path TO {schema}"))
}

/// The chain in a PostgreSQL database.
pub struct PgStore {
    client: postgres::Client,
}

impl PgStore {
    /// Connects to `url` and creates the audit tables if needed. With `schema`, every table
    /// lives in that schema (created if missing), which is how tests keep runs apart.
    pub fn connect(url: &str, schema: Option<&str>) -> Result<Self, AuditError> {
        let mut client = postgres::Client::connect(url, postgres::NoTls)?;
        if let Some(s) = schema {
            if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(AuditError::Config(format!(
                    "schema name `{s}` may only hold letters, digits and `_`"
                )));
            }
            pg_ensure_schema(&mut client, s)?;
        }
        // Two processes creating the tables at once would race on the catalog: serialise.
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PG_APPEND_LOCK])?;
        tx.batch_execute(PG_SCHEMA)?;
        tx.commit()?;
        Ok(PgStore { client })
    }

    /// The underlying client.
    pub fn client(&mut self) -> &mut postgres::Client {
        &mut self.client
    }
}

/// Appends within a PostgreSQL transaction the caller already holds.
pub fn pg_append_in(
    tx: &mut postgres::Transaction<'_>,
    build: &mut BuildFn<'_>,
) -> Result<(), AuditError> {
    pg_append_all_in(tx, &mut |head| {
        let (entries, checkpoint) = build(head);
        (entries, checkpoint.into_iter().collect())
    })
}

/// Like [`pg_append_in`], for a caller that appends the entries of several writes at once (a
/// group commit), each of which may complete a checkpoint. Every statement takes one round trip
/// (typed, unprepared), and the entries are inserted by one statement however many there are.
pub fn pg_append_all_in(
    tx: &mut postgres::Transaction<'_>,
    build: &mut BuildAllFn<'_>,
) -> Result<(), AuditError> {
    use postgres::types::Type;
    // The lock, then the head, in one round trip (two statements of one simple query). The head
    // is read by the second statement, whose snapshot (taken when it starts, after the lock is
    // held) sees every append that committed before this one could lock.
    let replies = tx.simple_query(&format!(
        "SELECT pg_advisory_xact_lock({PG_APPEND_LOCK}); SELECT seq, encode(hash, 'hex') FROM audit_entries ORDER BY seq DESC LIMIT 1"
    ))?;
    let answers = pg_statement_rows(replies);
    let [_, head] = answers.as_slice() else {
        return Err(AuditError::Corrupt(format!(
            "taking the chain's lock and reading its head answered {} statements, not 2",
            answers.len()
        )));
    };
    let head = match head.first() {
        Some(row) => {
            let field = |i: usize| row.get(i).unwrap_or_default();
            let seq = field(0)
                .parse::<i64>()
                .map_err(|_| AuditError::Corrupt(format!("the head's seq {:?}", field(0))))
                .and_then(to_seq)?;
            let hash = hex::decode(field(1))
                .map_err(|_| AuditError::Corrupt(format!("entry {seq}: hash is not hex")))?;
            Some((seq, to_hash(hash, "hash", seq)?))
        }
        None => None,
    };
    let (entries, checkpoints) = build(head);
    if !entries.is_empty() {
        let seqs: Vec<i64> = entries.iter().map(|e| e.seq as i64).collect();
        let text = |f: fn(&Entry) -> &str| entries.iter().map(f).collect::<Vec<&str>>();
        let subjects: Vec<Option<&str>> = entries.iter().map(|e| e.subject.as_deref()).collect();
        let prev: Vec<&[u8]> = entries.iter().map(|e| &e.prev_hash[..]).collect();
        let hashes: Vec<&[u8]> = entries.iter().map(|e| &e.hash[..]).collect();
        tx.execute_typed(
            "INSERT INTO audit_entries (seq, at, tenant_id, actor, action, subject, details, prev_hash, hash) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[], $9::bytea[])",
            &[
                (&seqs, Type::INT8_ARRAY),
                (&text(|e| &e.at), Type::TEXT_ARRAY),
                (&text(|e| &e.tenant), Type::TEXT_ARRAY),
                (&text(|e| &e.actor), Type::TEXT_ARRAY),
                (&text(|e| &e.action), Type::TEXT_ARRAY),
                (&subjects, Type::TEXT_ARRAY),
                (&text(|e| &e.details), Type::TEXT_ARRAY),
                (&prev, Type::BYTEA_ARRAY),
                (&hashes, Type::BYTEA_ARRAY),
            ],
        )?;
    }
    for c in checkpoints {
        // As on SQLite: a second checkpoint at the same entry is not an error. Filed under the
        // tenant of the entry it seals (an entry of this append, or the head it seals on a timer).
        tx.execute_typed(
            "INSERT INTO audit_checkpoints (tenant_id, seq, hash, at, signature) VALUES (COALESCE((SELECT tenant_id FROM audit_entries WHERE seq = $1 LIMIT 1), '-'), $1, $2, $3, $4) ON CONFLICT (tenant_id, seq) DO NOTHING",
            &[
                (&(c.seq as i64), Type::INT8),
                (&&c.hash[..], Type::BYTEA),
                (&c.at, Type::TEXT),
                (&&c.signature[..], Type::BYTEA),
            ],
        )?;
    }
    Ok(())
}

/// The rows a simple query of several statements answered, statement by statement (a statement
/// that returns no rows, such as an `INSERT`, has an empty list).
pub fn pg_statement_rows(
    replies: Vec<postgres::SimpleQueryMessage>,
) -> Vec<Vec<postgres::SimpleQueryRow>> {
    let mut statements = Vec::new();
    let mut rows = Vec::new();
    for reply in replies {
        match reply {
            postgres::SimpleQueryMessage::Row(row) => rows.push(row),
            postgres::SimpleQueryMessage::CommandComplete(_) => {
                statements.push(std::mem::take(&mut rows));
            }
            _ => {}
        }
    }
    statements
}

fn pg_entry(row: &postgres::Row) -> Result<Entry, AuditError> {
    entry_from_raw((
        row.get(0),
        row.get(1),
        row.get(2),
        row.get(3),
        row.get(4),
        row.get(5),
        row.get(6),
        row.get(7),
        row.get(8),
    ))
}

impl Store for PgStore {
    fn append(&mut self, build: &mut BuildFn<'_>) -> Result<(), AuditError> {
        let mut tx = self.client.transaction()?;
        pg_append_in(&mut tx, build)?;
        tx.commit()?;
        Ok(())
    }

    fn read(&mut self, after_seq: u64, limit: usize) -> Result<Vec<Entry>, AuditError> {
        let rows = self.client.query(
            "SELECT seq, at, tenant_id, actor, action, subject, details, prev_hash, hash FROM audit_entries WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&(after_seq as i64), &(limit as i64)],
        )?;
        rows.iter().map(pg_entry).collect()
    }

    fn head(&mut self) -> Result<Option<Entry>, AuditError> {
        let row = self.client.query_opt(
            "SELECT seq, at, tenant_id, actor, action, subject, details, prev_hash, hash FROM audit_entries ORDER BY seq DESC LIMIT 1",
            &[],
        )?;
        row.as_ref().map(pg_entry).transpose()
    }

    fn checkpoints(&mut self) -> Result<Vec<Checkpoint>, AuditError> {
        self.checkpoints_after(0)
    }

    fn last_checkpoint(&mut self) -> Result<Option<Checkpoint>, AuditError> {
        let row = self.client.query_opt(
            "SELECT seq, hash, at, signature FROM audit_checkpoints ORDER BY seq DESC LIMIT 1",
            &[],
        )?;
        row.map(|r| checkpoint_from_raw(r.get(0), r.get(1), r.get(2), r.get(3)))
            .transpose()
    }

    fn checkpoints_after(&mut self, after_seq: u64) -> Result<Vec<Checkpoint>, AuditError> {
        let rows = self.client.query(
            "SELECT seq, hash, at, signature FROM audit_checkpoints WHERE seq > $1 ORDER BY seq",
            &[&(after_seq as i64)],
        )?;
        rows.iter()
            .map(|r| checkpoint_from_raw(r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect()
    }

    fn query(&mut self, tenant: &str, q: &Query) -> Result<Vec<Entry>, AuditError> {
        let limit = q.limit.clamp(1, MAX_PAGE) as i64;
        let rows = self.client.query(
            "SELECT seq, at, tenant_id, actor, action, subject, details, prev_hash, hash FROM audit_entries
             WHERE tenant_id = $1 AND seq > $2 AND ($3::TEXT IS NULL OR subject = $3) AND ($4::TEXT IS NULL OR action = $4)
             ORDER BY seq LIMIT $5",
            &[&tenant, &(q.after_seq as i64), &q.subject, &q.action, &limit],
        )?;
        rows.iter().map(pg_entry).collect()
    }

    fn tenant_counts(&mut self, tenant: &str, after_seq: u64) -> Result<(u64, u64), AuditError> {
        let row = self.client.query_one(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE seq > $2) FROM audit_entries WHERE tenant_id = $1",
            &[&tenant, &(after_seq as i64)],
        )?;
        Ok((to_seq(row.get(0))?, to_seq(row.get(1))?))
    }

    fn recent(
        &mut self,
        tenant: &str,
        action: Option<&str>,
        offset: u64,
        limit: usize,
    ) -> Result<Vec<Entry>, AuditError> {
        let limit = limit.clamp(1, MAX_PAGE) as i64;
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows = self.client.query(
            "SELECT seq, at, tenant_id, actor, action, subject, details, prev_hash, hash FROM audit_entries
             WHERE tenant_id = $1 AND ($2::TEXT IS NULL OR action = $2)
             ORDER BY seq DESC LIMIT $3 OFFSET $4",
            &[&tenant, &action, &limit, &offset],
        )?;
        rows.iter().map(pg_entry).collect()
    }
}

/// A checkpoint row of SQLite (`seq, hash, at, signature`), read and checked.
fn sqlite_checkpoint(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Checkpoint, AuditError>> {
    Ok(checkpoint_from_raw(
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
    ))
}

/// A boxed store is a store (so a backend can be chosen at run time).
impl<T: Store + ?Sized> Store for Box<T> {
    fn append(&mut self, build: &mut BuildFn<'_>) -> Result<(), AuditError> {
        (**self).append(build)
    }
    fn read(&mut self, after_seq: u64, limit: usize) -> Result<Vec<Entry>, AuditError> {
        (**self).read(after_seq, limit)
    }
    fn read_into(
        &mut self,
        after_seq: u64,
        limit: usize,
        out: &mut Vec<Entry>,
    ) -> Result<(), AuditError> {
        (**self).read_into(after_seq, limit, out)
    }
    fn head(&mut self) -> Result<Option<Entry>, AuditError> {
        (**self).head()
    }
    fn checkpoints(&mut self) -> Result<Vec<Checkpoint>, AuditError> {
        (**self).checkpoints()
    }
    fn checkpoints_after(&mut self, after_seq: u64) -> Result<Vec<Checkpoint>, AuditError> {
        (**self).checkpoints_after(after_seq)
    }
    fn last_checkpoint(&mut self) -> Result<Option<Checkpoint>, AuditError> {
        (**self).last_checkpoint()
    }
    fn query(&mut self, tenant: &str, q: &Query) -> Result<Vec<Entry>, AuditError> {
        (**self).query(tenant, q)
    }
    fn tenant_counts(&mut self, tenant: &str, after_seq: u64) -> Result<(u64, u64), AuditError> {
        (**self).tenant_counts(tenant, after_seq)
    }
    fn recent(
        &mut self,
        tenant: &str,
        action: Option<&str>,
        offset: u64,
        limit: usize,
    ) -> Result<Vec<Entry>, AuditError> {
        (**self).recent(tenant, action, offset, limit)
    }
}
