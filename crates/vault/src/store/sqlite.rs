//! Embedded SQLite: one file, WAL, `synchronous = FULL`, every method one transaction.
//!
//! SQLite writes one transaction at a time per file. The connections of this process to one file
//! take turns through a lock of their own ([`File::writer`]) before they begin a write, instead of
//! finding the file locked and sleeping in SQLite's busy handler; reads never wait for it. Small
//! writes of records queue and are committed in groups, as on PostgreSQL (`store/group.rs`): one
//! transaction and one flush of the log for every write that arrived during the last commit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::group::Group;
use super::{
    AuditFn, ErasureCounts, GROUP_ROWS, GROUP_WRITES, IDEMPOTENCY_SECONDS, IdempotencyRow, NewKeys,
    PendingWrite, RecordRow, Store, Tx, Val, WrappedKeyRow, Write, WriteAudit, audit_error,
};
use crate::error::{Result, VaultError};

/// The migrations, in order; `schema_migrations` records which ran. Never edit a shipped one:
/// append a new version.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;
    CREATE TABLE tenants (
        tenant_id  TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE subjects (
        tenant_id  TEXT NOT NULL REFERENCES tenants(tenant_id),
        pseudonym  TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, pseudonym)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE data_keys (
        tenant_id   TEXT NOT NULL,
        pseudonym   TEXT NOT NULL,
        key_domain  TEXT NOT NULL,
        key_version INTEGER NOT NULL,
        wrapped     BLOB NOT NULL,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, pseudonym, key_domain)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE records (
        tenant_id  TEXT NOT NULL,
        record_id  TEXT NOT NULL,
        pseudonym  TEXT NOT NULL,
        category   TEXT NOT NULL,
        purposes   TEXT NOT NULL,
        key_domain TEXT NOT NULL,
        ciphertext BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        clocks     TEXT NOT NULL,
        PRIMARY KEY (tenant_id, record_id)
    ) STRICT;
    CREATE INDEX records_by_subject ON records (tenant_id, pseudonym, created_at);
    CREATE TABLE erasures (
        erasure_id TEXT PRIMARY KEY,
        tenant_id  TEXT NOT NULL,
        pseudonym  TEXT NOT NULL,
        erased_at  INTEGER NOT NULL
    ) STRICT;",
    ),
    (
        2,
        "ALTER TABLE records ADD COLUMN expires_at INTEGER;
    CREATE INDEX records_by_expiry ON records (tenant_id, expires_at) WHERE expires_at IS NOT NULL;
    CREATE TABLE tenant_retention (
        tenant_id     TEXT PRIMARY KEY,
        version       INTEGER NOT NULL,
        state         TEXT NOT NULL,
        fingerprint   TEXT NOT NULL,
        last_purge_at INTEGER
    ) STRICT;
    CREATE TABLE subject_events (
        tenant_id   TEXT NOT NULL,
        pseudonym   TEXT NOT NULL,
        event       TEXT NOT NULL,
        purpose     TEXT NOT NULL,
        occurred_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, pseudonym, event, purpose)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE holds (
        tenant_id   TEXT NOT NULL,
        hold_id     TEXT NOT NULL,
        pseudonym   TEXT,
        category    TEXT,
        reason      TEXT NOT NULL,
        set_by      TEXT NOT NULL,
        set_at      INTEGER NOT NULL,
        released_at INTEGER,
        released_by TEXT,
        PRIMARY KEY (tenant_id, hold_id)
    ) STRICT;",
    ),
    (
        3,
        // Data-subject rights (issue 6): requests and their history, restriction and objection
        // flags, records kept under restriction (Art. 17(3), 18), disclosures to recipients and
        // the webhooks that tell them (Art. 19).
        "CREATE TABLE requests (
        tenant_id   TEXT NOT NULL,
        request_id  TEXT NOT NULL,
        kind        TEXT NOT NULL,
        pseudonym   TEXT NOT NULL,
        purpose     TEXT NOT NULL,
        state       TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        received_on TEXT NOT NULL,
        due_on      TEXT NOT NULL,
        extended    INTEGER NOT NULL,
        verified_at INTEGER,
        closed_at   INTEGER,
        detail      TEXT NOT NULL,
        PRIMARY KEY (tenant_id, request_id)
    ) STRICT;
    CREATE INDEX requests_by_due ON requests (tenant_id, due_on);
    CREATE UNIQUE INDEX requests_open_once ON requests (tenant_id, pseudonym, kind, purpose)
        WHERE closed_at IS NULL;
    CREATE TABLE request_history (
        tenant_id  TEXT NOT NULL,
        request_id TEXT NOT NULL,
        seq        INTEGER NOT NULL,
        at         INTEGER NOT NULL,
        state      TEXT NOT NULL,
        actor      TEXT NOT NULL,
        note       TEXT NOT NULL,
        PRIMARY KEY (tenant_id, request_id, seq)
    ) STRICT;
    CREATE TABLE subject_flags (
        tenant_id  TEXT NOT NULL,
        pseudonym  TEXT NOT NULL,
        flag       TEXT NOT NULL,
        purpose    TEXT NOT NULL,
        set_at     INTEGER NOT NULL,
        request_id TEXT,
        lifted_at  INTEGER,
        PRIMARY KEY (tenant_id, pseudonym, flag, purpose)
    ) STRICT;
    ALTER TABLE records ADD COLUMN restriction TEXT;
    CREATE TABLE disclosures (
        tenant_id     TEXT NOT NULL,
        disclosure_id TEXT NOT NULL,
        pseudonym     TEXT NOT NULL,
        recipient     TEXT NOT NULL,
        categories    TEXT NOT NULL,
        reference     TEXT,
        disclosed_at  INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, disclosure_id)
    ) STRICT;
    CREATE INDEX disclosures_by_subject ON disclosures (tenant_id, pseudonym);
    CREATE TABLE webhooks (
        tenant_id  TEXT NOT NULL,
        recipient  TEXT NOT NULL,
        url        TEXT NOT NULL,
        secret     BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, recipient)
    ) STRICT;
    CREATE TABLE notifications (
        tenant_id       TEXT NOT NULL,
        notification_id TEXT NOT NULL,
        request_id      TEXT,
        recipient       TEXT NOT NULL,
        body            TEXT NOT NULL,
        state           TEXT NOT NULL,
        attempts        INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        delivered_at    INTEGER,
        PRIMARY KEY (tenant_id, notification_id)
    ) STRICT;
    CREATE INDEX notifications_due ON notifications (tenant_id, next_attempt_at) WHERE state = 'pending';",
    ),
    (
        4,
        // Consent (issue 7): the append-only consent ledger, acceptances of statement versions,
        // the marketing suppression list (keyed hashes only) and approval gates with one-time
        // tokens (hashes only).
        "CREATE TABLE consent_entries (
        tenant_id      TEXT NOT NULL,
        pseudonym      TEXT NOT NULL,
        purpose        TEXT NOT NULL,
        seq            INTEGER NOT NULL,
        kind           TEXT NOT NULL,
        at             INTEGER NOT NULL,
        notice_version TEXT NOT NULL,
        notice_hash    TEXT NOT NULL,
        channel        TEXT NOT NULL,
        proof          TEXT NOT NULL,
        recorded_at    INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, pseudonym, purpose, seq)
    ) STRICT;
    CREATE TABLE acceptances (
        tenant_id   TEXT NOT NULL,
        pseudonym   TEXT NOT NULL,
        version     TEXT NOT NULL,
        notice_hash TEXT NOT NULL,
        at          INTEGER NOT NULL,
        channel     TEXT NOT NULL,
        proof       TEXT NOT NULL,
        PRIMARY KEY (tenant_id, pseudonym, version)
    ) STRICT;
    CREATE TABLE suppression (
        tenant_id TEXT NOT NULL,
        entry     TEXT NOT NULL,
        reason    TEXT NOT NULL,
        added_at  INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, entry)
    ) STRICT;
    CREATE TABLE approvals (
        tenant_id        TEXT NOT NULL,
        approval_id      TEXT NOT NULL,
        action           TEXT NOT NULL,
        item             TEXT NOT NULL,
        state            TEXT NOT NULL,
        requested_by     TEXT NOT NULL,
        requested_at     INTEGER NOT NULL,
        decided_by       TEXT,
        decided_at       INTEGER,
        reason           TEXT,
        token_hash       TEXT,
        token_expires_at INTEGER,
        token_used_at    INTEGER,
        PRIMARY KEY (tenant_id, approval_id)
    ) STRICT;
    CREATE UNIQUE INDEX approvals_by_token ON approvals (tenant_id, token_hash);",
    ),
    (
        5,
        // Data keys per category (issue 16): an erasure that keeps statutory categories still
        // destroys the key of everything it erases. Existing keys become legacy keys (category
        // ''), still read by the records written under them (format byte 1).
        "CREATE TABLE data_keys_v5 (
        tenant_id   TEXT NOT NULL,
        pseudonym   TEXT NOT NULL,
        key_domain  TEXT NOT NULL,
        category    TEXT NOT NULL,
        key_version INTEGER NOT NULL,
        wrapped     BLOB NOT NULL,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, pseudonym, key_domain, category)
    ) STRICT, WITHOUT ROWID;
    INSERT INTO data_keys_v5 (tenant_id, pseudonym, key_domain, category, key_version, wrapped, created_at)
        SELECT tenant_id, pseudonym, key_domain, '', key_version, wrapped, created_at FROM data_keys;
    DROP TABLE data_keys;
    ALTER TABLE data_keys_v5 RENAME TO data_keys;",
    ),
    // 6: approvals bound to the subject their item concerns; idempotency keys remembered with
    // the write they answered (a replay never writes twice, on any server).
    (
        6,
        "ALTER TABLE approvals ADD COLUMN pseudonym TEXT;
    CREATE TABLE idempotency_keys (
        tenant_id  TEXT NOT NULL,
        key_hash   TEXT NOT NULL,
        body_hash  TEXT NOT NULL,
        record_id  TEXT NOT NULL,
        record_created_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, key_hash)
    ) STRICT;
    CREATE INDEX idempotency_keys_by_age ON idempotency_keys (tenant_id, created_at);",
    ),
    // 7: tenants and API keys join the vault's schema (until now the access store created these
    // two tables itself, with `IF NOT EXISTS`; databases that have them keep them as they are).
    (
        7,
        "CREATE TABLE IF NOT EXISTS access_tenants (tenant_id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS access_keys (
        key_id TEXT PRIMARY KEY, tenant_id TEXT, role TEXT NOT NULL, label TEXT NOT NULL,
        secret_sha256 BLOB NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER
    );",
    ),
    // 8: a category hold remembers the categories declared under it (by `parent`) when it was
    // placed, so a deletion, correction or erasure refuses them as the purge does.
    (8, "ALTER TABLE holds ADD COLUMN covers TEXT;"),
    // 9: the privacy team's personal accounts for the console, and their sessions (the rules
    // are `custos_access::account`). The password is an argon2id PHC string; a session is kept
    // as the SHA-256 of its cookie. Account names are unique across tenants: a person signs in
    // by name alone. `IF NOT EXISTS` as in 7: rewinding a test vault to an older schema (shred.rs)
    // runs this again on a database that has the tables.
    (
        9,
        "CREATE TABLE IF NOT EXISTS console_accounts (
        account_id TEXT PRIMARY KEY, tenant_id TEXT, role TEXT NOT NULL, name TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL, totp_secret BLOB NOT NULL, totp_last_step INTEGER,
        failures INTEGER NOT NULL DEFAULT 0, locked_until INTEGER,
        created_at INTEGER NOT NULL, disabled_at INTEGER
    );
    CREATE INDEX IF NOT EXISTS console_accounts_by_tenant ON console_accounts (tenant_id);
    CREATE TABLE IF NOT EXISTS console_sessions (
        token_sha256 BLOB PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES console_accounts (account_id),
        created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL, ended_at INTEGER
    );
    CREATE INDEX IF NOT EXISTS console_sessions_by_account ON console_sessions (account_id);",
    ),
    // 10: who filed a request, sealed (AES-256-GCM under a key of its own, bound to the tenant
    // and the request), so the privacy team can carry out a request filed in the privacy center
    // without ever seeing or typing the address; cleared when the request closes.
    (10, "ALTER TABLE requests ADD COLUMN requester BLOB;"),
    // 11: every policy version a server has run with, its text kept once (by the SHA-256 of the
    // text), so the console can compare two published versions. One policy serves every tenant:
    // no tenant column. Append-only: nothing updates or deletes a row.
    (
        11,
        "CREATE TABLE policy_versions (
        fingerprint TEXT PRIMARY KEY,
        version TEXT,
        policy TEXT NOT NULL,
        first_published_at INTEGER NOT NULL
    ) STRICT;",
    ),
    // 12: the breach register (Art. 33(5)): each breach as it stands, with the columns it is
    // listed and watched by, and every version of its record (phased notification, Art. 33(4)).
    (
        12,
        "CREATE TABLE breaches (
        tenant_id             TEXT NOT NULL,
        breach_id             TEXT NOT NULL,
        version               INTEGER NOT NULL,
        opened_at             INTEGER NOT NULL,
        aware_at              INTEGER NOT NULL,
        deadline_at           INTEGER NOT NULL,
        authority_notified_at INTEGER,
        closed_at             INTEGER,
        updated_at            INTEGER NOT NULL,
        actor                 TEXT NOT NULL,
        record                TEXT NOT NULL,
        PRIMARY KEY (tenant_id, breach_id)
    ) STRICT;
    CREATE INDEX breaches_by_deadline ON breaches (tenant_id, deadline_at);
    CREATE TABLE breach_versions (
        tenant_id   TEXT NOT NULL,
        breach_id   TEXT NOT NULL,
        version     INTEGER NOT NULL,
        recorded_at INTEGER NOT NULL,
        actor       TEXT NOT NULL,
        record      TEXT NOT NULL,
        PRIMARY KEY (tenant_id, breach_id, version)
    ) STRICT;",
    ),
    // 13: the console's queue of open requests, by due date, counted and paged from one index
    // that holds only the open ones (a tenant's closed requests grow without end).
    (
        13,
        "CREATE INDEX requests_open_by_due ON requests (tenant_id, due_on, received_at, request_id) WHERE closed_at IS NULL;",
    ),
    // 14: announcements of new sub-processors and material policy changes (issue 21): one per
    // pair of published versions (no tenant: one policy serves every tenant), and per tenant the
    // contacts and contract notice, the objections (Art. 28(2) GDPR) and a delivery record per
    // channel and target.
    (
        14,
        "CREATE TABLE announcements (
        announcement_id TEXT PRIMARY KEY,
        old_fingerprint TEXT NOT NULL,
        new_fingerprint TEXT NOT NULL,
        old_version     TEXT,
        new_version     TEXT,
        published_at    INTEGER NOT NULL,
        notice          TEXT,
        effective_at    INTEGER NOT NULL,
        acceptance      INTEGER NOT NULL,
        new_recipients  TEXT NOT NULL,
        changes         TEXT NOT NULL,
        UNIQUE (old_fingerprint, new_fingerprint)
    ) STRICT;
    CREATE TABLE announcement_settings (
        tenant_id       TEXT PRIMARY KEY,
        contacts        TEXT NOT NULL,
        contract_notice TEXT,
        updated_at      INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE announcement_objections (
        tenant_id       TEXT NOT NULL,
        announcement_id TEXT NOT NULL,
        reason          TEXT NOT NULL,
        objected_at     INTEGER NOT NULL,
        actor           TEXT NOT NULL,
        withdrawn_at    INTEGER,
        PRIMARY KEY (tenant_id, announcement_id)
    ) STRICT;
    CREATE TABLE announcement_deliveries (
        tenant_id       TEXT NOT NULL,
        announcement_id TEXT NOT NULL,
        channel         TEXT NOT NULL,
        target          TEXT NOT NULL,
        state           TEXT NOT NULL,
        attempts        INTEGER NOT NULL,
        next_attempt_at INTEGER,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        delivered_at    INTEGER,
        notification_id TEXT,
        PRIMARY KEY (tenant_id, announcement_id, channel, target)
    ) STRICT;
    CREATE INDEX announcement_deliveries_due ON announcement_deliveries (tenant_id, channel, state, next_attempt_at);",
    ),
    // 15: telling people of a breach (issue 21): each letter as sent (the text, once), and per
    // letter a delivery record per channel and target, the target a keyed digest of the address
    // (the address itself sealed only while the letter may still be sent); and the deadline
    // reminders already given, so each is given once.
    (
        15,
        "CREATE TABLE breach_letters (
        tenant_id  TEXT NOT NULL,
        letter_id  TEXT NOT NULL,
        breach_id  TEXT NOT NULL,
        kind       TEXT NOT NULL,
        lang       TEXT NOT NULL,
        subject    TEXT NOT NULL,
        body       TEXT NOT NULL,
        reference  TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, letter_id)
    ) STRICT;
    CREATE INDEX breach_letters_by_breach ON breach_letters (tenant_id, breach_id);
    CREATE UNIQUE INDEX breach_letters_by_reference ON breach_letters (tenant_id, reference);
    CREATE TABLE breach_deliveries (
        tenant_id       TEXT NOT NULL,
        letter_id       TEXT NOT NULL,
        breach_id       TEXT NOT NULL,
        kind            TEXT NOT NULL,
        channel         TEXT NOT NULL,
        target          TEXT NOT NULL,
        sealed          BLOB,
        state           TEXT NOT NULL,
        attempts        INTEGER NOT NULL,
        next_attempt_at INTEGER,
        last_error      TEXT,
        created_at      INTEGER NOT NULL,
        delivered_at    INTEGER,
        notification_id TEXT,
        PRIMARY KEY (tenant_id, letter_id, channel, target)
    ) STRICT;
    CREATE INDEX breach_deliveries_due ON breach_deliveries (tenant_id, channel, state, next_attempt_at);
    CREATE INDEX breach_deliveries_by_target ON breach_deliveries (tenant_id, breach_id, kind, channel, target);
    CREATE TABLE breach_reminders (
        tenant_id       TEXT NOT NULL,
        breach_id       TEXT NOT NULL,
        hours_before    INTEGER NOT NULL,
        sent_at         INTEGER NOT NULL,
        notification_id TEXT,
        PRIMARY KEY (tenant_id, breach_id, hours_before)
    ) STRICT;",
    ),
    // 16: an erasure's key carries its tenant, as every distributed table's key must (issue 23,
    // docs/scale-out.md); on SQLite a unique index of the same columns keeps the dialects alike.
    (
        16,
        "CREATE UNIQUE INDEX IF NOT EXISTS erasures_by_tenant ON erasures (tenant_id, erasure_id);",
    ),
    // 17: the request-rate buckets PostgreSQL shares between servers (`crate::key_gate`). One
    // SQLite file serves one process, whose buckets are in memory: the table stays empty and is
    // created only so that both dialects have the same tables.
    (
        17,
        "CREATE TABLE IF NOT EXISTS rate_buckets (
        tenant_id   TEXT NOT NULL,
        key_id      TEXT NOT NULL,
        tokens      REAL NOT NULL,
        refilled_at REAL NOT NULL,
        granted     INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, key_id)
    ) STRICT;",
    ),
    // 18: the buckets' count of tokens last taken, as on PostgreSQL (the table stays empty here,
    // so it is made anew). Revocations need no trigger: one process hears its own.
    (
        18,
        "DROP TABLE IF EXISTS rate_buckets;
    CREATE TABLE rate_buckets (
        tenant_id   TEXT NOT NULL,
        key_id      TEXT NOT NULL,
        tokens      REAL NOT NULL,
        refilled_at REAL NOT NULL,
        granted     INTEGER NOT NULL,
        taken       REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant_id, key_id)
    ) STRICT;",
    ),
];

/// What the connections of this process to one file share.
struct File {
    /// Held through every write transaction of this process on the file.
    writer: Mutex<()>,
    /// Small writes of records waiting to be committed together.
    group: Group<PendingWrite>,
}

impl File {
    /// The file at `path` (one per file, however it is named).
    fn of(path: &Path) -> Arc<File> {
        static FILES: OnceLock<Mutex<HashMap<PathBuf, Arc<File>>>> = OnceLock::new();
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        FILES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_insert_with(|| {
                Arc::new(File {
                    writer: Mutex::new(()),
                    group: Group::new(GROUP_WRITES),
                })
            })
            .clone()
    }

    /// This process's turn to write: held until the transaction ends.
    fn writing(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The vault on one SQLite file.
pub(crate) struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    file: Arc<File>,
    /// An erasure committed but the truncating WAL checkpoint after it could not finish (another
    /// connection was reading): retried after the next write transaction.
    checkpoint_pending: bool,
}

/// Opens a connection with the vault's settings. Public for the benchmark's plain baseline.
pub fn connect(path: &Path) -> Result<Connection> {
    let target = path.display().to_string();
    let unavailable = |e: rusqlite::Error| VaultError::Unavailable {
        target: target.clone(),
        reason: e.to_string(),
    };
    let conn = Connection::open(path).map_err(unavailable)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(unavailable)?;
    // journal_mode returns a row; the others do not.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(unavailable)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(VaultError::Unavailable {
            target,
            reason: format!("cannot switch to WAL (journal mode is {mode})"),
        });
    }
    // secure_delete: deleted content (erased records, destroyed keys) is overwritten with zeros
    // in the page instead of lingering in free space. mmap_size: reads come from the shared page
    // cache instead of a copy per connection and per read (256 MiB of address space, not memory).
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; PRAGMA mmap_size = 268435456;",
    )
    .map_err(unavailable)?;
    Ok(conn)
}

/// Copies the whole WAL into the database file and truncates it to zero bytes, so the pages an
/// erasure wrote (and the old page images it replaced) no longer sit in the `-wal` file. Returns
/// whether it finished: it cannot while another connection reads an older snapshot.
pub(crate) fn checkpoint_truncate(conn: &Connection) -> rusqlite::Result<bool> {
    // The checkpoint waits for readers through the busy handler: a short wait here, so a long
    // reader elsewhere delays an erasure by a moment, not by the full busy timeout.
    conn.busy_timeout(CHECKPOINT_WAIT)?;
    // The row is (busy, pages in the log, pages checkpointed); busy = 1 means it gave up.
    let done = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        Ok(r.get::<_, i64>(0)? == 0)
    });
    conn.busy_timeout(BUSY_TIMEOUT)?;
    done
}

/// How long a statement waits for another connection's lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long the checkpoint after an erasure waits for readers before it is left for later.
const CHECKPOINT_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

/// A write's records in the caller's transaction `tx`, without its audit entries: the tenant's
/// row, the retention version check (before the first part is asked for), the subjects, the
/// records part by part, and the idempotency key.
fn insert_rows_in<'r>(
    tx: &Connection,
    target: &str,
    tenant: &str,
    next: &mut dyn FnMut() -> Result<Option<std::borrow::Cow<'r, [RecordRow]>>>,
    now: i64,
    expected_retention: i64,
    idempotency: Option<&IdempotencyRow>,
) -> Result<()> {
    let err = |e: rusqlite::Error| VaultError::Storage {
        operation: "writing records",
        target: target.to_owned(),
        reason: e.to_string(),
    };
    tx.prepare_cached(
        "INSERT INTO tenants (tenant_id, created_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )
    .and_then(|mut s| s.execute(params![tenant, now]))
    .map_err(err)?;
    if retention_version(tx, tenant).map_err(err)? != expected_retention {
        return Err(VaultError::RetentionChanged);
    }
    // The data keys the rows were encrypted under, read before this transaction: an erasure or
    // a deletion committed since may have destroyed one (no record needed it any more), and a
    // row under it could never be read. Asked here, in the write's turn, nothing can destroy
    // it before the commit.
    let mut key = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM data_keys WHERE tenant_id = ?1 AND pseudonym = ?2 AND key_domain = ?3 AND category = ?4)")
        .map_err(err)?;
    // Each distinct key once: by pseudonym, then (key domain, category).
    let mut keys_seen: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let mut first_time = |r: &RecordRow| {
        let of_subject = match keys_seen.get_mut(r.pseudonym.as_str()) {
            Some(v) => v,
            None => keys_seen.entry(r.pseudonym.clone()).or_default(),
        };
        if of_subject
            .iter()
            .any(|(d, c)| *d == r.key_domain && *c == r.category)
        {
            return false;
        }
        of_subject.push((r.key_domain.clone(), r.category.clone()));
        true
    };
    {
        let mut subject = tx
            .prepare_cached("INSERT INTO subjects (tenant_id, pseudonym, created_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")
            .map_err(err)?;
        let mut insert = tx
            .prepare_cached(&format!("INSERT INTO records (tenant_id, {RECORD_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"))
            .map_err(err)?;
        // Rows of a batch mostly share their tenant, category, purposes, key domain and
        // clocks: a value stays bound until it changes (SQLite copies every text it binds),
        // so a row rebinds little more than its id and its ciphertext.
        insert.raw_bind_parameter(1, tenant).map_err(err)?;
        // The last row of the part before: what stays bound.
        let mut before: Option<RecordRow> = None;
        while let Some(part) = next()? {
            let mut last: Option<&RecordRow> = before.as_ref();
            for r in part.iter() {
                let changed =
                    |field: fn(&RecordRow) -> &str| last.is_none_or(|l| field(l) != field(r));
                if (changed(|r| &r.pseudonym)
                    || changed(|r| &r.key_domain)
                    || changed(|r| &r.category))
                    && first_time(r)
                    && !key
                        .query_row(
                            params![tenant, r.pseudonym, r.key_domain, r.category],
                            |row| row.get::<_, bool>(0),
                        )
                        .map_err(err)?
                {
                    return Err(VaultError::DataKeyGone);
                }
                if changed(|r| &r.pseudonym) {
                    subject
                        .execute(params![tenant, r.pseudonym, now])
                        .map_err(err)?;
                    insert.raw_bind_parameter(3, &r.pseudonym).map_err(err)?;
                }
                insert.raw_bind_parameter(2, &r.record_id).map_err(err)?;
                if changed(|r| &r.category) {
                    insert.raw_bind_parameter(4, &r.category).map_err(err)?;
                }
                if changed(|r| &r.purposes) {
                    insert.raw_bind_parameter(5, &r.purposes).map_err(err)?;
                }
                if changed(|r| &r.key_domain) {
                    insert.raw_bind_parameter(6, &r.key_domain).map_err(err)?;
                }
                insert.raw_bind_parameter(7, &r.ciphertext).map_err(err)?;
                insert.raw_bind_parameter(8, r.created_at).map_err(err)?;
                if changed(|r| &r.clocks) {
                    insert.raw_bind_parameter(9, &r.clocks).map_err(err)?;
                }
                insert.raw_bind_parameter(10, r.expires_at).map_err(err)?;
                insert.raw_execute().map_err(err)?;
                last = Some(r);
            }
            before = last.cloned();
        }
    }
    if let Some(k) = idempotency {
        tx.prepare_cached("DELETE FROM idempotency_keys WHERE tenant_id = ?1 AND created_at < ?2")
            .and_then(|mut st| st.execute(params![tenant, now - IDEMPOTENCY_SECONDS * 1_000_000]))
            .map_err(err)?;
        let added = tx
            .prepare_cached("INSERT INTO idempotency_keys (tenant_id, key_hash, body_hash, record_id, record_created_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING")
            .and_then(|mut st| st.execute(params![tenant, k.key_hash, k.body_hash, k.record_id, k.record_created_at, now]))
            .map_err(err)?;
        if added == 0 {
            return Err(VaultError::IdempotencyRace);
        }
    }
    Ok(())
}

/// The data keys of a write, in its turn and before its rows: the keys it read checked
/// ([`super::check_keys_read_in`]), the keys it made stored ([`super::store_new_keys_in`]).
fn keep_write_keys(
    tx: &Connection,
    target: &str,
    tenant: &str,
    keys_read: &[WrappedKeyRow],
    made: Option<&NewKeys>,
    now: i64,
) -> Result<()> {
    let mut on = SqliteTx {
        conn: tx,
        tenant,
        target,
        operation: "writing records",
    };
    super::check_keys_read_in(&mut on, tenant, keys_read)?;
    match made {
        Some(keys) => super::store_new_keys_in(&mut on, tenant, keys, now),
        None => Ok(()),
    }
}

impl SqliteStore {
    /// [`Store::insert_records`] for rows that come in parts (`next` answers `None` after the
    /// last), in a transaction of their own: the retention version is checked before the first
    /// part is asked for, and every part goes into the one transaction.
    #[allow(clippy::too_many_arguments)]
    fn insert_parts<'r>(
        &mut self,
        tenant: &str,
        next: &mut dyn FnMut() -> Result<Option<std::borrow::Cow<'r, [RecordRow]>>>,
        now: i64,
        expected_retention: i64,
        new_keys: Option<&NewKeys>,
        keys_read: &[WrappedKeyRow],
        audit: &WriteAudit,
    ) -> Result<()> {
        self.in_write_tx("writing records", |tx, target| {
            keep_write_keys(tx, target, tenant, keys_read, new_keys, now)?;
            insert_rows_in(tx, target, tenant, next, now, expected_retention, None)?;
            custos_audit::store::sqlite_append_in(tx, &mut |head| audit.build(head))
                .map_err(|e| audit_error(target, e))
        })
    }

    /// Runs `work` in a write transaction (`BEGIN IMMEDIATE`) in this process's turn to write
    /// on the file: committed if `work` returns `Ok`, rolled back otherwise. `work` gets the
    /// transaction and the file's name for errors.
    fn in_write_tx<T>(
        &mut self,
        operation: &'static str,
        work: impl FnOnce(&rusqlite::Transaction<'_>, &str) -> Result<T>,
    ) -> Result<T> {
        self.in_tx_of(TransactionBehavior::Immediate, operation, work)
    }

    /// Runs `work` in one transaction of `behavior`, committed if it returns `Ok`, rolled back
    /// otherwise; a write (`Immediate`) waits for this process's turn to write on the file.
    fn in_tx_of<T>(
        &mut self,
        behavior: TransactionBehavior,
        operation: &'static str,
        work: impl FnOnce(&rusqlite::Transaction<'_>, &str) -> Result<T>,
    ) -> Result<T> {
        let target = self.path.display().to_string();
        let err = |e: rusqlite::Error| VaultError::Storage {
            operation,
            target: target.clone(),
            reason: e.to_string(),
        };
        let file = self.file.clone();
        let _writing = matches!(behavior, TransactionBehavior::Immediate).then(|| file.writing());
        let tx = self.conn.transaction_with_behavior(behavior).map_err(err)?;
        let out = work(&tx, &target)?;
        tx.commit().map_err(err)?;
        Ok(out)
    }

    /// Commits a group of writes (see `store/group.rs`): one outcome per write. If the group's
    /// transaction fails as a whole, each write is tried alone.
    fn commit_group(&mut self, writes: &[Write<'_>]) -> Vec<Result<()>> {
        match self.commit_writes(writes) {
            Ok(outcomes) => outcomes,
            Err(e) if writes.len() == 1 => vec![Err(e)],
            Err(_) => writes
                .iter()
                .map(|w| {
                    self.commit_writes(std::slice::from_ref(w))
                        .and_then(|mut one| one.pop().unwrap_or(Ok(())))
                })
                .collect(),
        }
    }

    /// The writes' records and audit entries in one transaction. `Err`: nothing was written.
    /// `Ok`: committed, with each write's outcome: `Ok` if it is in, else why it was left out
    /// (its tenant's retention changed since its expiries were computed, its idempotency key was
    /// taken first, or one of its rows could not be inserted). Each write runs under a savepoint,
    /// so one left out takes nothing of the others with it; the audit entries of the admitted
    /// ones are chained after, in the group's order.
    fn commit_writes(&mut self, writes: &[Write<'_>]) -> Result<Vec<Result<()>>> {
        self.in_write_tx("writing records", |tx, target| {
            let err = |e: rusqlite::Error| VaultError::Storage {
                operation: "writing records",
                target: target.to_owned(),
                reason: e.to_string(),
            };
            let mut outcomes = Vec::with_capacity(writes.len());
            for w in writes {
                tx.execute_batch("SAVEPOINT custos_write").map_err(err)?;
                let mut whole = Some(w.rows);
                let outcome = keep_write_keys(tx, target, w.tenant, w.keys_read, w.new_keys, w.now)
                    .and_then(|()| {
                        insert_rows_in(
                            tx,
                            target,
                            w.tenant,
                            &mut || Ok(whole.take().map(std::borrow::Cow::Borrowed)),
                            w.now,
                            w.version,
                            w.idempotency,
                        )
                    });
                if outcome.is_err() {
                    tx.execute_batch("ROLLBACK TO custos_write").map_err(err)?;
                }
                tx.execute_batch("RELEASE custos_write").map_err(err)?;
                outcomes.push(outcome);
            }
            for (w, outcome) in writes.iter().zip(&outcomes) {
                if outcome.is_ok() {
                    custos_audit::store::sqlite_append_in(tx, &mut |head| w.audit.build(head))
                        .map_err(|e| audit_error(target, e))?;
                }
            }
            Ok(outcomes)
        })
    }

    /// Opens (creating if needed) and migrates the database at `path`.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let conn = connect(path)?;
        let mut store = Self {
            conn,
            path: path.to_owned(),
            file: File::of(path),
            checkpoint_pending: false,
        };
        store.migrate()?;
        store
            .conn
            .execute_batch(custos_audit::store::SQLITE_SCHEMA)
            .map_err(store.err("creating the audit tables"))?;
        Ok(store)
    }

    /// Runs the truncating checkpoint after an erasure, or retries a pending one; remembers
    /// whether it is still pending. A checkpoint that cannot finish is not an error: the erasure
    /// committed and its keys are gone; only the WAL's copy of the old pages waits.
    fn checkpoint_after_erasure(&mut self) {
        self.checkpoint_pending = !checkpoint_truncate(&self.conn).unwrap_or(false);
    }

    fn err(&self, operation: &'static str) -> impl Fn(rusqlite::Error) -> VaultError + '_ {
        move |e| VaultError::Storage {
            operation,
            target: self.path.display().to_string(),
            reason: e.to_string(),
        }
    }

    /// Runs `work` in one transaction of `behavior` scoped to `tenant`: committed if it returns
    /// `Ok`, rolled back otherwise.
    fn run_tx(
        &mut self,
        behavior: TransactionBehavior,
        tenant: &str,
        operation: &'static str,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<()>,
    ) -> Result<()> {
        self.in_tx_of(behavior, operation, |tx, target| {
            work(&mut SqliteTx {
                conn: tx,
                tenant,
                target,
                operation,
            })
        })
    }

    fn migrate(&mut self) -> Result<()> {
        let target = self.path.display().to_string();
        let err = |e: rusqlite::Error| VaultError::Storage {
            operation: "migrating the schema",
            target: target.clone(),
            reason: e.to_string(),
        };
        let file = self.file.clone();
        let _writing = file.writing();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT")
            .map_err(err)?;
        let current: i64 = tx
            .query_row(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        let now = jiff::Timestamp::now().as_microsecond();
        for (version, sql) in super::pending_migrations(MIGRATIONS, current)? {
            tx.execute_batch(sql).map_err(err)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, now],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }
}

fn record_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecordRow> {
    Ok(RecordRow {
        record_id: r.get(0)?,
        pseudonym: r.get(1)?,
        category: r.get(2)?,
        purposes: r.get(3)?,
        key_domain: r.get(4)?,
        ciphertext: r.get(5)?,
        created_at: r.get(6)?,
        clocks: r.get(7)?,
        expires_at: r.get(8)?,
        restriction: r.get(9)?,
    })
}

const RECORD_COLUMNS: &str = "record_id, pseudonym, category, purposes, key_domain, ciphertext, created_at, clocks, expires_at";

/// The retention version of `tenant` inside a write transaction (creating its row at 0).
fn retention_version(tx: &Connection, tenant: &str) -> rusqlite::Result<i64> {
    tx.prepare_cached("INSERT INTO tenant_retention (tenant_id, version, state, fingerprint) VALUES (?1, 0, '{}', '') ON CONFLICT DO NOTHING")?
        .execute([tenant])?;
    tx.prepare_cached("SELECT version FROM tenant_retention WHERE tenant_id = ?1")?
        .query_row([tenant], |r| r.get(0))
}

/// [`super::Tx`] over an SQLite transaction.
struct SqliteTx<'a> {
    conn: &'a Connection,
    /// The tenant the transaction is scoped to (see [`super::check_tenant_bound`]).
    tenant: &'a str,
    target: &'a str,
    operation: &'static str,
}

impl SqliteTx<'_> {
    fn err(&self, e: rusqlite::Error) -> VaultError {
        VaultError::Storage {
            operation: self.operation,
            target: self.target.to_owned(),
            reason: e.to_string(),
        }
    }
}

fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

fn bind(params: &[Val]) -> Vec<rusqlite::types::Value> {
    params
        .iter()
        .map(|v| match v {
            Val::Int(Some(i)) => rusqlite::types::Value::Integer(*i),
            Val::Text(Some(t)) => rusqlite::types::Value::Text(t.clone()),
            Val::Bytes(Some(b)) => rusqlite::types::Value::Blob(b.clone()),
            Val::Int(None) | Val::Text(None) | Val::Bytes(None) => rusqlite::types::Value::Null,
        })
        .collect()
}

impl Tx for SqliteTx<'_> {
    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        super::check_tenant_bound(sql, params, self.tenant)?;
        let n = self
            .conn
            .prepare_cached(&sqlite_sql(sql))
            .and_then(|mut s| s.execute(rusqlite::params_from_iter(bind(params))))
            .map_err(|e| self.err(e))?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>> {
        super::check_tenant_bound(sql, params, self.tenant)?;
        let mut stmt = self
            .conn
            .prepare_cached(&sqlite_sql(sql))
            .map_err(|e| self.err(e))?;
        let n = stmt.column_count();
        stmt.query_map(rusqlite::params_from_iter(bind(params)), |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Integer(v) => Val::Int(Some(v)),
                        rusqlite::types::ValueRef::Text(t) => {
                            Val::Text(Some(String::from_utf8_lossy(t).into_owned()))
                        }
                        rusqlite::types::ValueRef::Null => Val::Int(None),
                        rusqlite::types::ValueRef::Real(f) => Val::Int(Some(f as i64)),
                        rusqlite::types::ValueRef::Blob(b) => Val::Bytes(Some(b.to_vec())),
                    })
                })
                .collect()
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.err(e))
    }

    fn append_audit(&mut self, build: &mut AuditFn<'_>) -> Result<()> {
        custos_audit::store::sqlite_append_in(self.conn, build)
            .map_err(|e| audit_error(self.target, e))
    }

    fn postgres(&self) -> bool {
        false
    }
}

impl Store for SqliteStore {
    fn data_key(
        &mut self,
        tenant: &str,
        pseudonym: &str,
        key_domain: &str,
        category: &str,
    ) -> Result<Option<WrappedKeyRow>> {
        self.conn
            .prepare_cached("SELECT key_version, wrapped FROM data_keys WHERE tenant_id = ?1 AND pseudonym = ?2 AND key_domain = ?3 AND category = ?4")
            .and_then(|mut s| {
                s.query_row([tenant, pseudonym, key_domain, category], |r| {
                    Ok(WrappedKeyRow { pseudonym: pseudonym.to_owned(), key_domain: key_domain.to_owned(), category: category.to_owned(), key_version: r.get(0)?, wrapped: r.get(1)? })
                })
                .optional()
            })
            .map_err(self.err("reading a data key"))
    }

    fn insert_records(&mut self, write: &Write<'_>) -> Result<()> {
        // A large batch is a transaction of its own; small writes, the API's, are committed in
        // groups. (An idempotency key comes with one record only.)
        if write.rows.len() > GROUP_ROWS && write.idempotency.is_none() {
            let mut whole = Some(write.rows);
            return self.insert_parts(
                write.tenant,
                &mut || Ok(whole.take().map(std::borrow::Cow::Borrowed)),
                write.now,
                write.version,
                write.new_keys,
                write.keys_read,
                write.audit,
            );
        }
        let pending = PendingWrite::owned(write);
        let file = self.file.clone();
        file.group.submit(pending, &mut |writes| {
            let views: Vec<Write<'_>> = writes.iter().map(PendingWrite::view).collect();
            self.commit_group(&views)
        })
    }

    fn streams_inserts(&self) -> bool {
        true
    }

    fn insert_records_from(
        &mut self,
        tenant: &str,
        next: &mut dyn FnMut() -> Result<Option<Vec<RecordRow>>>,
        now: i64,
        retention_version: i64,
        keys_read: &[WrappedKeyRow],
        audit: &WriteAudit,
    ) -> Result<()> {
        self.insert_parts(
            tenant,
            &mut || next().map(|part| part.map(std::borrow::Cow::Owned)),
            now,
            retention_version,
            None,
            keys_read,
            audit,
        )
    }

    fn record(&mut self, tenant: &str, record_id: &str) -> Result<Option<RecordRow>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS}, restriction FROM records WHERE tenant_id = ?1 AND record_id = ?2"
            ))
            .and_then(|mut s| s.query_row([tenant, record_id], record_row).optional())
            .map_err(self.err("reading a record"))
    }

    fn records_of(&mut self, tenant: &str, pseudonym: &str) -> Result<Vec<RecordRow>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS}, restriction FROM records WHERE tenant_id = ?1 AND pseudonym = ?2 ORDER BY created_at, record_id"
            ))
            .and_then(|mut s| s.query_map([tenant, pseudonym], record_row)?.collect())
            .map_err(self.err("listing a subject's records"))
    }

    fn after_erasure(&mut self, _counts: ErasureCounts) {
        // secure_delete zeroed the erased rows in the pages; the WAL still holds the pages as
        // they were before. Checkpoint and truncate it now (retried later if readers block it).
        self.checkpoint_after_erasure();
    }

    fn rewrap_all(
        &mut self,
        new_version: u32,
        settings: &[(&str, String)],
        rewrap: &mut dyn FnMut(&str, &WrappedKeyRow) -> Result<Vec<u8>>,
    ) -> Result<u64> {
        let target = self.path.display().to_string();
        let err = |x: rusqlite::Error| VaultError::Storage {
            operation: "rotating keys",
            target: target.clone(),
            reason: x.to_string(),
        };
        let file = self.file.clone();
        let _writing = file.writing();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let keys: Vec<(String, WrappedKeyRow)> = {
            let mut s = tx
                .prepare(
                    "SELECT tenant_id, pseudonym, key_domain, key_version, wrapped, category FROM data_keys",
                )
                .map_err(err)?;
            s.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    WrappedKeyRow {
                        pseudonym: r.get(1)?,
                        key_domain: r.get(2)?,
                        key_version: r.get(3)?,
                        wrapped: r.get(4)?,
                        category: r.get(5)?,
                    },
                ))
            })
            .and_then(|rows| rows.collect())
            .map_err(err)?
        };
        {
            let mut update = tx
                .prepare("UPDATE data_keys SET key_version = ?1, wrapped = ?2 WHERE tenant_id = ?3 AND pseudonym = ?4 AND key_domain = ?5 AND category = ?6")
                .map_err(err)?;
            for (tenant, key) in &keys {
                let wrapped = rewrap(tenant, key)?;
                update
                    .execute(params![
                        new_version,
                        wrapped,
                        tenant,
                        key.pseudonym,
                        key.key_domain,
                        key.category
                    ])
                    .map_err(err)?;
            }
        }
        let version = new_version.to_string();
        for (key, value) in
            std::iter::once(("key_version", &version)).chain(settings.iter().map(|(k, v)| (*k, v)))
        {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value.as_str()],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(keys.len() as u64)
    }

    fn in_tx(
        &mut self,
        tenant: &str,
        operation: &'static str,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<()>,
    ) -> Result<()> {
        self.run_tx(TransactionBehavior::Immediate, tenant, operation, work)?;
        if self.checkpoint_pending {
            // An erasure's checkpoint could not finish then; the next write (a purge, a request
            // step) tries again.
            self.checkpoint_after_erasure();
        }
        Ok(())
    }

    fn in_read_tx(
        &mut self,
        tenant: &str,
        operation: &'static str,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<()>,
    ) -> Result<()> {
        // Deferred: a read takes no write lock (WAL readers never wait for the writer).
        self.run_tx(TransactionBehavior::Deferred, tenant, operation, work)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::testing::{
        acme_write, audit_of, commit_writes_that_make_keys,
        commit_writes_that_make_keys_under_one_check, commit_writes_under_a_key_made_again, row,
    };

    /// A fresh vault file for the test `name`.
    fn scratch(name: &str) -> (PathBuf, SqliteStore) {
        let dir = std::env::temp_dir().join(format!("custos-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("vault.db");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let store = SqliteStore::open(&path).expect("open");
        (path, store)
    }

    /// A data key row for each (tenant, pseudonym), domain `default`, category `account`: what
    /// [`row`]'s records are encrypted under.
    fn give_keys(path: &Path, owners: &[(&str, &str)]) {
        let c = connect(path).expect("opens");
        for (tenant, pseudonym) in owners {
            c.execute(
                "INSERT INTO data_keys (tenant_id, pseudonym, key_domain, category, key_version, wrapped, created_at) VALUES (?1, ?2, 'default', 'account', 1, x'00', 0)",
                [tenant, pseudonym],
            )
            .expect("a data key");
        }
    }

    fn count(path: &Path, sql: &str) -> i64 {
        connect(path)
            .expect("opens")
            .query_row(sql, [], |r| r.get(0))
            .expect("counts")
    }

    #[test]
    fn a_group_commits_its_admitted_writes_and_answers_each_refusal_on_its_own() {
        let (path, mut store) = scratch("sqlite-group-outcomes");
        give_keys(
            &path,
            &[
                ("acme", "p1"),
                ("acme", "p2"),
                ("acme", "p3"),
                ("globex", "p4"),
                ("acme", "p5"),
            ],
        );
        let key = |record: &str| IdempotencyRow {
            key_hash: "k1".into(),
            body_hash: "b".into(),
            record_id: record.into(),
            record_created_at: 5,
        };
        let (r1, r2, r3, r4, dup) = (
            [row("acme", 10, "p1")],
            [row("acme", 11, "p2")],
            [row("acme", 12, "p3")],
            [row("globex", 13, "p4")],
            [row("acme", 14, "p5"), row("acme", 10, "p5")],
        );
        let (k1, k3) = (key(&r1[0].record_id), key(&r3[0].record_id));
        let audits = [
            audit_of("first", "acme"),
            audit_of("stale", "acme"),
            audit_of("raced", "acme"),
            audit_of("other-tenant", "globex"),
            audit_of("duplicate", "acme"),
        ];
        let write = |tenant, rows, version, idempotency, audit| Write {
            tenant,
            rows,
            now: 5,
            version,
            idempotency,
            new_keys: None,
            keys_read: &[],
            audit,
        };
        let writes = [
            write("acme", &r1[..], 0, Some(&k1), &audits[0]),
            // Computed before a retention change: left out, to be recomputed.
            write("acme", &r2[..], 7, None, &audits[1]),
            // The same idempotency key as the first write: left out.
            write("acme", &r3[..], 0, Some(&k3), &audits[2]),
            write("globex", &r4[..], 0, None, &audits[3]),
            // Its second row repeats the first write's id: left out whole, the first row too.
            write("acme", &dup[..], 0, None, &audits[4]),
        ];
        let outcomes = store.commit_writes(&writes).expect("the group commits");
        assert!(outcomes[0].is_ok() && outcomes[3].is_ok(), "{outcomes:?}");
        assert!(matches!(outcomes[1], Err(VaultError::RetentionChanged)));
        assert!(matches!(outcomes[2], Err(VaultError::IdempotencyRace)));
        assert!(matches!(outcomes[4], Err(VaultError::Storage { .. })));
        assert_eq!(
            count(&path, "SELECT count(*) FROM records WHERE created_at = 5"),
            2,
            "only the admitted writes"
        );
        let actions: Vec<String> = connect(&path)
            .expect("opens")
            .prepare("SELECT action FROM audit_entries ORDER BY seq")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .expect("audit");
        assert_eq!(
            actions,
            ["first", "other-tenant"],
            "audited in the group's order"
        );
    }

    #[test]
    fn a_write_under_a_data_key_destroyed_meanwhile_is_refused_alone() {
        // p1's key was read before the write; an erasure destroyed it since (no row here).
        let (path, mut store) = scratch("sqlite-key-gone");
        give_keys(&path, &[("acme", "p2")]);
        let (gone, kept) = ([row("acme", 30, "p1")], [row("acme", 31, "p2")]);
        let audit = audit_of("put", "acme");
        let write = |rows| acme_write(rows, None, &audit);
        let outcomes = store
            .commit_writes(&[write(&gone[..]), write(&kept[..])])
            .expect("the group commits");
        assert!(
            matches!(outcomes[0], Err(VaultError::DataKeyGone)),
            "{outcomes:?}"
        );
        assert!(outcomes[1].is_ok());
        assert_eq!(count(&path, "SELECT count(*) FROM records"), 1);
        let alone = store.insert_records(&acme_write(&gone, None, &audit));
        assert!(matches!(alone, Err(VaultError::DataKeyGone)), "{alone:?}");
        assert_eq!(count(&path, "SELECT count(*) FROM records"), 1);
    }

    #[test]
    fn a_write_under_a_data_key_destroyed_and_made_again_meanwhile_is_refused() {
        let (path, mut store) = scratch("sqlite-key-made-again");
        // Both keys wrapped as x'00'; p1's read as x'01', before it was destroyed and made again.
        give_keys(&path, &[("acme", "p1"), ("acme", "p2")]);
        commit_writes_under_a_key_made_again(0, &mut |writes| store.commit_writes(writes));
        assert_eq!(
            count(&path, "SELECT count(*) FROM records"),
            1,
            "only p2's record is in"
        );
    }

    #[test]
    fn keys_a_group_makes_under_one_master_key_are_stored_and_a_second_maker_encrypts_again() {
        let (path, mut store) = scratch("sqlite-made-keys-one-check");
        let check = store.init_meta("key_check", "a test check").expect("meta");
        commit_writes_that_make_keys_under_one_check(&check, &mut |writes| {
            store.commit_writes(writes)
        });
        assert_eq!(count(&path, "SELECT count(*) FROM records"), 1);
        assert_eq!(
            count(
                &path,
                "SELECT count(*) FROM data_keys WHERE wrapped = x'04'"
            ),
            1
        );
    }

    #[test]
    fn keys_writes_make_are_stored_with_their_records_and_a_second_maker_encrypts_again() {
        let (path, mut store) = scratch("sqlite-made-keys");
        let check = store.init_meta("key_check", "a test check").expect("meta");
        commit_writes_that_make_keys(&check, &mut |writes| store.commit_writes(writes));
        assert_eq!(count(&path, "SELECT count(*) FROM records"), 1);
        let first = "SELECT count(*) FROM data_keys WHERE pseudonym = 'p1' AND wrapped = x'01'";
        assert_eq!(
            count(&path, first),
            1,
            "the first maker's key is stored, with its record"
        );
        assert_eq!(count(&path, "SELECT count(*) FROM data_keys"), 1);
    }

    #[test]
    fn writes_from_many_connections_at_once_each_commit_once() {
        let (path, _first) = scratch("sqlite-group-many");
        give_keys(&path, &[("acme", "p1")]);
        let audit = audit_of("put", "acme");
        std::thread::scope(|s| {
            for t in 0..8 {
                let (path, audit) = (&path, &audit);
                s.spawn(move || {
                    let mut store = SqliteStore::open(path).expect("open");
                    for i in 0..10 {
                        let rows = [row("acme", 100 + t * 10 + i, "p1")];
                        store
                            .insert_records(&acme_write(&rows, None, audit))
                            .expect("each write is committed");
                    }
                });
            }
        });
        assert_eq!(count(&path, "SELECT count(*) FROM records"), 80);
        assert_eq!(count(&path, "SELECT count(*) FROM audit_entries"), 80);
    }

    #[test]
    fn a_statement_binding_another_tenant_is_refused_and_nothing_is_written() {
        let dir = std::env::temp_dir().join(format!("custos-tenant-bound-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("vault.db");
        let _ = std::fs::remove_file(&path);
        let mut store = SqliteStore::open(&path).expect("open");
        let insert = "INSERT INTO tenants (tenant_id, created_at) VALUES ($1, 0)";
        store
            .in_tx("acme", "test", &mut |tx| {
                tx.execute(insert, &["acme".into()]).map(|_| ())
            })
            .expect("the transaction's own tenant is fine");
        // A statement filtering on another tenant than the transaction's is refused before it
        // runs; the whole transaction rolls back.
        let refused = store.in_tx("acme", "test", &mut |tx| {
            tx.execute(insert, &["beta".into()])?;
            tx.query(
                "SELECT tenant_id FROM tenants WHERE tenant_id = $1",
                &["beta".into()],
            )
            .map(|_| ())
        });
        assert!(
            matches!(refused, Err(VaultError::TenantNotBound)),
            "{refused:?}"
        );
        assert_eq!(
            store.tenant_ids().expect("tenants"),
            ["acme"],
            "the insert rolled back"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
