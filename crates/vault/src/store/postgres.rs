//! PostgreSQL, for many stateless Custos servers over one database.
//!
//! Tenant isolation has two walls. The first is the API: every method takes the tenant and
//! filters on it. The second is row-level security: every tenant-data table (`subjects`,
//! `data_keys`, `records`, `erasures`) has RLS enabled *and forced* (so the owning role is bound
//! too) with a policy that admits only rows whose `tenant_id` equals the transaction-local
//! setting `custos.tenant`. Each method sets it with `set_config('custos.tenant', $1, true)`
//! (that is `SET LOCAL`) at the start of its transaction, so a query that forgot its tenant
//! filter still sees one tenant only, and outside a transaction no tenant row is visible at all.
//! The role must not be a superuser nor have BYPASSRLS (see `.ci/run`).

use postgres::{Client, NoTls, Transaction};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use super::group::Group;
use super::{
    AuditFn, ErasureCounts, GROUP_ROWS, GROUP_WRITES, IDEMPOTENCY_SECONDS, IdempotencyRow,
    PendingWrite, RecordRow, RetentionInputs, SUBJECT_LOCK, Store, SubjectEventRow, Tx, Val,
    WrappedKeyRow, Write, audit_error,
};
use crate::error::{Result, VaultError};

/// Tables that hold tenant data and are guarded by row-level security.
#[cfg(test)]
pub(crate) const TENANT_TABLES: [&str; 7] = [
    "subjects",
    "data_keys",
    "records",
    "erasures",
    "tenant_retention",
    "subject_events",
    "holds",
];

/// The migrations, in order. Never edit a shipped one: append a new version.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE tenants (
        tenant_id  TEXT PRIMARY KEY,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE subjects (
        tenant_id  TEXT NOT NULL REFERENCES tenants(tenant_id),
        pseudonym  TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, pseudonym)
    );
    CREATE TABLE data_keys (
        tenant_id   TEXT NOT NULL,
        pseudonym   TEXT NOT NULL,
        key_domain  TEXT NOT NULL,
        key_version INTEGER NOT NULL,
        wrapped     BYTEA NOT NULL,
        created_at  BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, pseudonym, key_domain)
    );
    CREATE TABLE records (
        tenant_id  TEXT NOT NULL,
        record_id  TEXT NOT NULL,
        pseudonym  TEXT NOT NULL,
        category   TEXT NOT NULL,
        purposes   TEXT NOT NULL,
        key_domain TEXT NOT NULL,
        ciphertext BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        clocks     TEXT NOT NULL,
        PRIMARY KEY (tenant_id, record_id)
    );
    CREATE INDEX records_by_subject ON records (tenant_id, pseudonym, created_at);
    CREATE TABLE erasures (
        erasure_id TEXT PRIMARY KEY,
        tenant_id  TEXT NOT NULL,
        pseudonym  TEXT NOT NULL,
        erased_at  BIGINT NOT NULL
    );
    DO $$ DECLARE t TEXT; BEGIN
      FOREACH t IN ARRAY ARRAY['subjects', 'data_keys', 'records', 'erasures'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
                          USING (tenant_id = current_setting(''custos.tenant'', true))
                          WITH CHECK (tenant_id = current_setting(''custos.tenant'', true))', t);
      END LOOP;
    END $$;",
    ),
    (
        2,
        "ALTER TABLE records ADD COLUMN expires_at BIGINT;
    CREATE INDEX records_by_expiry ON records (tenant_id, expires_at) WHERE expires_at IS NOT NULL;
    CREATE TABLE tenant_retention (
        tenant_id     TEXT PRIMARY KEY,
        version       BIGINT NOT NULL,
        state         TEXT NOT NULL,
        fingerprint   TEXT NOT NULL,
        last_purge_at BIGINT
    );
    CREATE TABLE subject_events (
        tenant_id   TEXT NOT NULL,
        pseudonym   TEXT NOT NULL,
        event       TEXT NOT NULL,
        purpose     TEXT NOT NULL,
        occurred_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, pseudonym, event, purpose)
    );
    CREATE TABLE holds (
        tenant_id   TEXT NOT NULL,
        hold_id     TEXT NOT NULL,
        pseudonym   TEXT,
        category    TEXT,
        reason      TEXT NOT NULL,
        set_by      TEXT NOT NULL,
        set_at      BIGINT NOT NULL,
        released_at BIGINT,
        released_by TEXT,
        PRIMARY KEY (tenant_id, hold_id)
    );
    DO $$ DECLARE t TEXT; BEGIN
      FOREACH t IN ARRAY ARRAY['tenant_retention', 'subject_events', 'holds'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
                          USING (tenant_id = current_setting(''custos.tenant'', true))
                          WITH CHECK (tenant_id = current_setting(''custos.tenant'', true))', t);
      END LOOP;
    END $$;",
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
        received_at BIGINT NOT NULL,
        received_on TEXT NOT NULL,
        due_on      TEXT NOT NULL,
        extended    BIGINT NOT NULL,
        verified_at BIGINT,
        closed_at   BIGINT,
        detail      TEXT NOT NULL,
        PRIMARY KEY (tenant_id, request_id)
    );
    CREATE INDEX requests_by_due ON requests (tenant_id, due_on);
    CREATE UNIQUE INDEX requests_open_once ON requests (tenant_id, pseudonym, kind, purpose)
        WHERE closed_at IS NULL;
    CREATE TABLE request_history (
        tenant_id  TEXT NOT NULL,
        request_id TEXT NOT NULL,
        seq        BIGINT NOT NULL,
        at         BIGINT NOT NULL,
        state      TEXT NOT NULL,
        actor      TEXT NOT NULL,
        note       TEXT NOT NULL,
        PRIMARY KEY (tenant_id, request_id, seq)
    );
    CREATE TABLE subject_flags (
        tenant_id  TEXT NOT NULL,
        pseudonym  TEXT NOT NULL,
        flag       TEXT NOT NULL,
        purpose    TEXT NOT NULL,
        set_at     BIGINT NOT NULL,
        request_id TEXT,
        lifted_at  BIGINT,
        PRIMARY KEY (tenant_id, pseudonym, flag, purpose)
    );
    ALTER TABLE records ADD COLUMN restriction TEXT;
    CREATE TABLE disclosures (
        tenant_id     TEXT NOT NULL,
        disclosure_id TEXT NOT NULL,
        pseudonym     TEXT NOT NULL,
        recipient     TEXT NOT NULL,
        categories    TEXT NOT NULL,
        reference     TEXT,
        disclosed_at  BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, disclosure_id)
    );
    CREATE INDEX disclosures_by_subject ON disclosures (tenant_id, pseudonym);
    CREATE TABLE webhooks (
        tenant_id  TEXT NOT NULL,
        recipient  TEXT NOT NULL,
        url        TEXT NOT NULL,
        secret     BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, recipient)
    );
    CREATE TABLE notifications (
        tenant_id       TEXT NOT NULL,
        notification_id TEXT NOT NULL,
        request_id      TEXT,
        recipient       TEXT NOT NULL,
        body            TEXT NOT NULL,
        state           TEXT NOT NULL,
        attempts        BIGINT NOT NULL,
        next_attempt_at BIGINT NOT NULL,
        last_error      TEXT,
        created_at      BIGINT NOT NULL,
        delivered_at    BIGINT,
        PRIMARY KEY (tenant_id, notification_id)
    );
    CREATE INDEX notifications_due ON notifications (tenant_id, next_attempt_at) WHERE state = 'pending';
    DO $$ DECLARE t TEXT; BEGIN
      FOREACH t IN ARRAY ARRAY['requests', 'request_history', 'subject_flags', 'disclosures', 'webhooks', 'notifications'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
                          USING (tenant_id = current_setting(''custos.tenant'', true))
                          WITH CHECK (tenant_id = current_setting(''custos.tenant'', true))', t);
      END LOOP;
    END $$;",
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
        seq            BIGINT NOT NULL,
        kind           TEXT NOT NULL,
        at             BIGINT NOT NULL,
        notice_version TEXT NOT NULL,
        notice_hash    TEXT NOT NULL,
        channel        TEXT NOT NULL,
        proof          TEXT NOT NULL,
        recorded_at    BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, pseudonym, purpose, seq)
    );
    CREATE TABLE acceptances (
        tenant_id   TEXT NOT NULL,
        pseudonym   TEXT NOT NULL,
        version     TEXT NOT NULL,
        notice_hash TEXT NOT NULL,
        at          BIGINT NOT NULL,
        channel     TEXT NOT NULL,
        proof       TEXT NOT NULL,
        PRIMARY KEY (tenant_id, pseudonym, version)
    );
    CREATE TABLE suppression (
        tenant_id TEXT NOT NULL,
        entry     TEXT NOT NULL,
        reason    TEXT NOT NULL,
        added_at  BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, entry)
    );
    CREATE TABLE approvals (
        tenant_id        TEXT NOT NULL,
        approval_id      TEXT NOT NULL,
        action           TEXT NOT NULL,
        item             TEXT NOT NULL,
        state            TEXT NOT NULL,
        requested_by     TEXT NOT NULL,
        requested_at     BIGINT NOT NULL,
        decided_by       TEXT,
        decided_at       BIGINT,
        reason           TEXT,
        token_hash       TEXT,
        token_expires_at BIGINT,
        token_used_at    BIGINT,
        PRIMARY KEY (tenant_id, approval_id)
    );
    CREATE UNIQUE INDEX approvals_by_token ON approvals (tenant_id, token_hash);
    DO $$ DECLARE t TEXT; BEGIN
      FOREACH t IN ARRAY ARRAY['consent_entries', 'acceptances', 'suppression', 'approvals'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
                          USING (tenant_id = current_setting(''custos.tenant'', true))
                          WITH CHECK (tenant_id = current_setting(''custos.tenant'', true))', t);
      END LOOP;
    END $$;",
    ),
    (
        5,
        // Data keys per category (issue 16): an erasure that keeps statutory categories still
        // destroys the key of everything it erases. Existing keys become legacy keys (category
        // ''), still read by the records written under them (format byte 1).
        "ALTER TABLE data_keys ADD COLUMN category TEXT NOT NULL DEFAULT '';
    ALTER TABLE data_keys DROP CONSTRAINT data_keys_pkey;
    ALTER TABLE data_keys ADD PRIMARY KEY (tenant_id, pseudonym, key_domain, category);",
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
        record_created_at BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, key_hash)
    );
    CREATE INDEX idempotency_keys_by_age ON idempotency_keys (tenant_id, created_at);
    ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
    ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON idempotency_keys
      USING (tenant_id = current_setting('custos.tenant', true))
      WITH CHECK (tenant_id = current_setting('custos.tenant', true));",
    ),
    // 7: tenants and API keys join the vault's schema (until now the access store created these
    // two tables itself, with `IF NOT EXISTS`; databases that have them keep them as they are).
    (
        7,
        "CREATE TABLE IF NOT EXISTS access_tenants (tenant_id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at BIGINT NOT NULL);
    CREATE TABLE IF NOT EXISTS access_keys (
        key_id TEXT PRIMARY KEY, tenant_id TEXT, role TEXT NOT NULL, label TEXT NOT NULL,
        secret_sha256 BYTEA NOT NULL, created_at BIGINT NOT NULL, revoked_at BIGINT
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
        password_hash TEXT NOT NULL, totp_secret BYTEA NOT NULL, totp_last_step BIGINT,
        failures BIGINT NOT NULL DEFAULT 0, locked_until BIGINT,
        created_at BIGINT NOT NULL, disabled_at BIGINT
    );
    CREATE INDEX IF NOT EXISTS console_accounts_by_tenant ON console_accounts (tenant_id);
    CREATE TABLE IF NOT EXISTS console_sessions (
        token_sha256 BYTEA PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES console_accounts (account_id),
        created_at BIGINT NOT NULL, last_seen_at BIGINT NOT NULL, ended_at BIGINT
    );
    CREATE INDEX IF NOT EXISTS console_sessions_by_account ON console_sessions (account_id);",
    ),
    // 10: who filed a request, sealed (AES-256-GCM under a key of its own, bound to the tenant
    // and the request), so the privacy team can carry out a request filed in the privacy center
    // without ever seeing or typing the address; cleared when the request closes.
    (10, "ALTER TABLE requests ADD COLUMN requester BYTEA;"),
    // 11: every policy version a server has run with, its text kept once (by the SHA-256 of the
    // text), so the console can compare two published versions. One policy serves every tenant:
    // no tenant column, so no row-level security. Append-only: nothing updates or deletes a row.
    (
        11,
        "CREATE TABLE policy_versions (
        fingerprint TEXT PRIMARY KEY,
        version TEXT,
        policy TEXT NOT NULL,
        first_published_at BIGINT NOT NULL
    );",
    ),
    // 12: the breach register (Art. 33(5)): each breach as it stands, with the columns it is
    // listed and watched by, and every version of its record (phased notification, Art. 33(4)).
    (
        12,
        "CREATE TABLE breaches (
        tenant_id             TEXT NOT NULL,
        breach_id             TEXT NOT NULL,
        version               BIGINT NOT NULL,
        opened_at             BIGINT NOT NULL,
        aware_at              BIGINT NOT NULL,
        deadline_at           BIGINT NOT NULL,
        authority_notified_at BIGINT,
        closed_at             BIGINT,
        updated_at            BIGINT NOT NULL,
        actor                 TEXT NOT NULL,
        record                TEXT NOT NULL,
        PRIMARY KEY (tenant_id, breach_id)
    );
    CREATE INDEX breaches_by_deadline ON breaches (tenant_id, deadline_at);
    CREATE TABLE breach_versions (
        tenant_id   TEXT NOT NULL,
        breach_id   TEXT NOT NULL,
        version     BIGINT NOT NULL,
        recorded_at BIGINT NOT NULL,
        actor       TEXT NOT NULL,
        record      TEXT NOT NULL,
        PRIMARY KEY (tenant_id, breach_id, version)
    );
    DO $$ DECLARE t TEXT; BEGIN
      FOREACH t IN ARRAY ARRAY['breaches', 'breach_versions'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
                          USING (tenant_id = current_setting(''custos.tenant'', true))
                          WITH CHECK (tenant_id = current_setting(''custos.tenant'', true))', t);
      END LOOP;
    END $$;",
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
        published_at    BIGINT NOT NULL,
        notice          TEXT,
        effective_at    BIGINT NOT NULL,
        acceptance      BIGINT NOT NULL,
        new_recipients  TEXT NOT NULL,
        changes         TEXT NOT NULL,
        UNIQUE (old_fingerprint, new_fingerprint)
    );
    CREATE TABLE announcement_settings (
        tenant_id       TEXT PRIMARY KEY,
        contacts        TEXT NOT NULL,
        contract_notice TEXT,
        updated_at      BIGINT NOT NULL
    );
    CREATE TABLE announcement_objections (
        tenant_id       TEXT NOT NULL,
        announcement_id TEXT NOT NULL,
        reason          TEXT NOT NULL,
        objected_at     BIGINT NOT NULL,
        actor           TEXT NOT NULL,
        withdrawn_at    BIGINT,
        PRIMARY KEY (tenant_id, announcement_id)
    );
    CREATE TABLE announcement_deliveries (
        tenant_id       TEXT NOT NULL,
        announcement_id TEXT NOT NULL,
        channel         TEXT NOT NULL,
        target          TEXT NOT NULL,
        state           TEXT NOT NULL,
        attempts        BIGINT NOT NULL,
        next_attempt_at BIGINT,
        last_error      TEXT,
        created_at      BIGINT NOT NULL,
        delivered_at    BIGINT,
        notification_id TEXT,
        PRIMARY KEY (tenant_id, announcement_id, channel, target)
    );
    CREATE INDEX announcement_deliveries_due ON announcement_deliveries (tenant_id, channel, state, next_attempt_at);
    DO $$ DECLARE t TEXT; BEGIN
      FOREACH t IN ARRAY ARRAY['announcement_settings', 'announcement_objections', 'announcement_deliveries'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
                          USING (tenant_id = current_setting(''custos.tenant'', true))
                          WITH CHECK (tenant_id = current_setting(''custos.tenant'', true))', t);
      END LOOP;
    END $$;",
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
        created_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, letter_id)
    );
    CREATE INDEX breach_letters_by_breach ON breach_letters (tenant_id, breach_id);
    CREATE UNIQUE INDEX breach_letters_by_reference ON breach_letters (tenant_id, reference);
    CREATE TABLE breach_deliveries (
        tenant_id       TEXT NOT NULL,
        letter_id       TEXT NOT NULL,
        breach_id       TEXT NOT NULL,
        kind            TEXT NOT NULL,
        channel         TEXT NOT NULL,
        target          TEXT NOT NULL,
        sealed          BYTEA,
        state           TEXT NOT NULL,
        attempts        BIGINT NOT NULL,
        next_attempt_at BIGINT,
        last_error      TEXT,
        created_at      BIGINT NOT NULL,
        delivered_at    BIGINT,
        notification_id TEXT,
        PRIMARY KEY (tenant_id, letter_id, channel, target)
    );
    CREATE INDEX breach_deliveries_due ON breach_deliveries (tenant_id, channel, state, next_attempt_at);
    CREATE INDEX breach_deliveries_by_target ON breach_deliveries (tenant_id, breach_id, kind, channel, target);
    CREATE TABLE breach_reminders (
        tenant_id       TEXT NOT NULL,
        breach_id       TEXT NOT NULL,
        hours_before    BIGINT NOT NULL,
        sent_at         BIGINT NOT NULL,
        notification_id TEXT,
        PRIMARY KEY (tenant_id, breach_id, hours_before)
    );
    DO $$ DECLARE t TEXT; BEGIN
      FOREACH t IN ARRAY ARRAY['breach_letters', 'breach_deliveries', 'breach_reminders'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
                          USING (tenant_id = current_setting(''custos.tenant'', true))
                          WITH CHECK (tenant_id = current_setting(''custos.tenant'', true))', t);
      END LOOP;
    END $$;",
    ),
    // 16: an erasure's key carries its tenant, as every distributed table's key must (issue 23,
    // docs/scale-out.md); on SQLite a unique index of the same columns keeps the dialects alike.
    (
        16,
        "ALTER TABLE erasures DROP CONSTRAINT IF EXISTS erasures_pkey; ALTER TABLE erasures ADD PRIMARY KEY (tenant_id, erasure_id);",
    ),
    // 17: a request-rate bucket per API key, shared by every server over the database (issue
    // 23, `crate::key_gate`): tokens refilled by the database's clock (seconds since the epoch).
    // The tenant leads the key (empty for admin keys); no row-level security, as it holds no
    // tenant data and is written in one statement before any tenant transaction. Unlogged: a
    // request's token then costs no WAL flush at commit (measured 600 µs logged, see
    // docs/scale-out.md), and what a crash or a failover loses is only buckets that start full
    // again. `IF NOT EXISTS`, so rewinding a test vault (shred.rs) may run it again.
    (
        17,
        "CREATE UNLOGGED TABLE IF NOT EXISTS rate_buckets (
        tenant_id   TEXT NOT NULL,
        key_id      TEXT NOT NULL,
        tokens      DOUBLE PRECISION NOT NULL,
        refilled_at DOUBLE PRECISION NOT NULL,
        granted     BOOLEAN NOT NULL,
        PRIMARY KEY (tenant_id, key_id)
    );",
    ),
    // 18: servers take several tokens at a time (`taken`, how many the last statement gave),
    // and hear of revoked keys instead of asking on every request: triggers notify the channel
    // `custos_keys` with the table's schema when a key's revocation changes or a key is removed
    // (not for statements that change nothing: each notice makes every server look its keys up
    // again), in the revoking transaction, so the notice goes out when it commits
    // (`crate::key_gate`; PostgreSQL sends one notice per transaction for equal ones).
    // Idempotent, so rewinding a test vault (shred.rs) may run it again.
    (
        18,
        "ALTER TABLE rate_buckets ADD COLUMN IF NOT EXISTS taken DOUBLE PRECISION NOT NULL DEFAULT 0;
    CREATE OR REPLACE FUNCTION custos_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('custos_keys', TG_TABLE_SCHEMA);
      RETURN NULL;
    END $$;
    DROP TRIGGER IF EXISTS access_keys_revoked ON access_keys;
    CREATE TRIGGER access_keys_revoked AFTER UPDATE OF revoked_at ON access_keys
      FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
      EXECUTE FUNCTION custos_key_changed();
    DROP TRIGGER IF EXISTS access_keys_removed ON access_keys;
    CREATE TRIGGER access_keys_removed AFTER DELETE ON access_keys
      FOR EACH ROW EXECUTE FUNCTION custos_key_changed();",
    ),
];

/// Serialises migrations between servers starting at once (an arbitrary constant).
const MIGRATION_LOCK: i64 = 0x0C05_7050_7661_756C;

/// The vault on PostgreSQL, in one schema.
pub(crate) struct PostgresStore {
    client: OwnedClient,
    url: String,
    schema: String,
    target: String,
    /// The tenant set on the session for single-statement reads (transactions set their own
    /// with `SET LOCAL`), and the reads' prepared statements; both reset on reconnect.
    session: Option<Session>,
    /// The statements transactions run (`Tx`), each prepared once per connection: a statement
    /// then takes one round trip instead of two (parse, then execute). Reset on reconnect.
    prepared: HashMap<String, postgres::Statement>,
    /// The writes of every connection of this process to the same database and schema,
    /// committed in groups (see `store/group.rs`).
    group: Arc<Group<PendingWrite>>,
    /// The connection failed (see [`PostgresStore::note`]): the next call reconnects.
    broken: bool,
}

/// Statements kept prepared per connection; past this (SQL built for varying lists) the cache
/// starts over.
const PREPARED_MAX: usize = 256;

/// The connection, closed on a thread of its own when dropped: `postgres::Client` closes itself
/// by running a small async runtime, which panics (and aborts the process) when the last owner
/// of a vault happens to drop it on an async runtime's thread, as a server's router does when it
/// shuts down.
struct OwnedClient(Option<Client>);

impl std::ops::Deref for OwnedClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        // `None` only inside `drop`.
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("the client is taken only on drop"))
    }
}

impl std::ops::DerefMut for OwnedClient {
    fn deref_mut(&mut self) -> &mut Client {
        self.0
            .as_mut()
            .unwrap_or_else(|| unreachable!("the client is taken only on drop"))
    }
}

impl Drop for OwnedClient {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            // If the thread cannot start, dropping here is no worse than before.
            let _ = std::thread::Builder::new()
                .name("custos-pg-close".into())
                .spawn(move || drop(client))
                .map(|h| h.join());
        }
    }
}

struct Session {
    tenant: Option<String>,
    set_tenant: postgres::Statement,
    record: postgres::Statement,
    data_key: postgres::Statement,
    retention: postgres::Statement,
}

/// Describes a database error with the server's own message (the driver's `Display` alone says
/// only "db error").
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => {
            let mut s = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                s.push_str(": ");
                s.push_str(&cause.to_string());
                source = cause.source();
            }
            s
        }
    }
}

/// Host, port and database of a connection string, without user or password.
fn redacted_target(url: &str) -> String {
    match url.parse::<postgres::Config>() {
        Ok(c) => {
            let host = match c.get_hosts().first() {
                Some(postgres::config::Host::Tcp(h)) => h.clone(),
                #[cfg(unix)]
                Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
                None => "localhost".to_owned(),
            };
            let port = c.get_ports().first().copied().unwrap_or(5432);
            format!(
                "postgresql {host}:{port}/{}",
                c.get_dbname().unwrap_or("(default)")
            )
        }
        Err(_) => "postgresql (unparsable connection string)".to_owned(),
    }
}

/// Checks a schema name is a plain lowercase identifier, so it can be spliced into SQL.
pub(crate) fn valid_schema(schema: &str) -> bool {
    !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.as_bytes()[0].is_ascii_digit()
}

/// Opens a connection with the vault's settings: the schema (created if absent) on the search
/// path. Errors name host, port and database, never credentials.
pub fn connect(url: &str, schema: &str) -> Result<Client> {
    let target = redacted_target(url);
    if !valid_schema(schema) {
        return Err(VaultError::InvalidId {
            kind: "PostgreSQL schema name",
            reason: "must be a lowercase identifier (a-z, 0-9, _)",
        });
    }
    let mut client = Client::connect(url, NoTls).map_err(|e| VaultError::Unavailable {
        target: target.clone(),
        reason: describe(&e),
    })?;
    custos_audit::store::pg_ensure_schema(&mut client, schema).map_err(|e| {
        VaultError::Unavailable {
            target,
            reason: describe(&e),
        }
    })?;
    Ok(client)
}

/// The listening thread of a [`crate::key_gate::KeyWatch`]: connects, `LISTEN`s, moves the
/// epoch on for every notice about `schema`, confirms the connection every second, and on any
/// failure stops vouching, moves the epoch on and reconnects (after a second, then at most every
/// ten). Ends when the watch is dropped.
pub(crate) fn watch_keys(url: String, schema: String, heard: Weak<crate::key_gate::Heard>) {
    use postgres::fallible_iterator::FallibleIterator;
    if !valid_schema(&schema) {
        // Never vouching: every request asks (and the vault itself refuses such a schema).
        return;
    }
    let listen = move |heard: &Weak<crate::key_gate::Heard>| -> Result<()> {
        let failed = |e: postgres::Error| VaultError::Unavailable {
            target: redacted_target(&url),
            reason: describe(&e),
        };
        // No schema of its own: it only listens (and must not race the vault's first
        // `CREATE SCHEMA`). A connection that falls silent (a half-open socket) must fail within
        // seconds, not the kernel's quarter of an hour, so the watch reconnects.
        let mut config: postgres::Config = url.parse().map_err(failed)?;
        config
            .keepalives_idle(Duration::from_secs(5))
            .keepalives_interval(Duration::from_secs(2))
            .keepalives_retries(3)
            .tcp_user_timeout(Duration::from_secs(10));
        let mut client = config.connect(NoTls).map_err(failed)?;
        // Named with its schema (a valid identifier), so an operator sees whose it is.
        client
            .batch_execute(&format!(
                "SET application_name TO 'custos-key-watch {schema}'; LISTEN {}",
                crate::key_gate::CHANNEL
            ))
            .map_err(failed)?;
        // Listening from here on: whatever was revoked before is looked up again.
        match heard.upgrade() {
            Some(h) => {
                h.moved_on();
                h.listening(true);
            }
            None => return Ok(()),
        }
        loop {
            {
                let mut notices = client.notifications();
                let mut it = notices.timeout_iter(Duration::from_secs(1));
                while let Some(n) = it.next().map_err(failed)? {
                    let Some(h) = heard.upgrade() else {
                        return Ok(());
                    };
                    if n.channel() == crate::key_gate::CHANNEL && n.payload() == schema {
                        h.moved_on();
                    }
                    // A notice, whoever's, shows the connection alive: notices that keep coming
                    // must not keep the check below from ever running and the watch from
                    // vouching.
                    h.confirmed();
                }
            }
            // A second without notices, or the connection ended: the database must answer.
            client.batch_execute("SELECT 1").map_err(failed)?;
            match heard.upgrade() {
                Some(h) => h.confirmed(),
                None => return Ok(()),
            }
        }
    };
    let spawned = std::thread::Builder::new()
        .name("custos-key-watch".into())
        .spawn(move || {
            let mut pause = Duration::from_secs(1);
            loop {
                let began = std::time::Instant::now();
                let result = listen(&heard);
                if began.elapsed() > Duration::from_secs(30) {
                    pause = Duration::from_secs(1);
                }
                let Some(h) = heard.upgrade() else { return };
                h.listening(false);
                h.moved_on();
                drop(h);
                if let Err(e) = result {
                    tracing::warn!(
                        error = %e,
                        "not listening for revoked keys; every request asks the database until the connection is back"
                    );
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(10));
            }
        });
    if let Err(e) = spawned {
        // Without the thread the watch never vouches: every request asks the database.
        tracing::warn!(error = %e, "cannot start listening for revoked keys");
    }
}

/// Sets the tenant for the rest of the transaction (`SET LOCAL`).
pub(crate) fn set_tenant(
    tx: &mut Transaction<'_>,
    tenant: &str,
) -> std::result::Result<(), postgres::Error> {
    tx.execute("SELECT set_config('custos.tenant', $1, true)", &[&tenant])
        .map(|_| ())
}

impl PostgresStore {
    /// Connects, creates the schema if needed and migrates it.
    pub(crate) fn open(url: &str, schema: &str) -> Result<Self> {
        let client = OwnedClient(Some(connect(url, schema)?));
        let mut store = Self {
            client,
            url: url.to_owned(),
            schema: schema.to_owned(),
            target: redacted_target(url),
            session: None,
            prepared: HashMap::new(),
            group: group_for(url, schema),
            broken: false,
        };
        store.migrate()?;
        // The audit tables, created under the audit crate's own lock.
        custos_audit::PgStore::connect(url, Some(schema))
            .map_err(|e| audit_error(&store.target, e))?;
        Ok(store)
    }

    fn err<'a>(
        target: &'a str,
        operation: &'static str,
    ) -> impl Fn(postgres::Error) -> VaultError + 'a {
        move |e| VaultError::Storage {
            operation,
            target: target.to_owned(),
            reason: describe(&e),
        }
    }

    /// The connection, re-established if the server dropped it.
    fn client(&mut self) -> Result<&mut Client> {
        if self.client.is_closed() || self.broken {
            self.client = OwnedClient(Some(connect(&self.url, &self.schema)?));
            self.broken = false;
            self.session = None;
            self.prepared.clear();
        }
        Ok(&mut self.client)
    }

    /// Notes a failed call: when the connection itself failed (closed, an I/O error, or the
    /// server ending the session with a FATAL error, as `pg_terminate_backend` or a restart
    /// does), the next call reconnects instead of trying the dead socket once more (the driver
    /// sees the close only when it next reads).
    fn note(&mut self, e: &postgres::Error) {
        let fatal = e
            .as_db_error()
            .is_some_and(|d| matches!(d.severity(), "FATAL" | "PANIC"));
        if fatal || e.is_closed() || e.as_db_error().is_none() {
            self.broken = true;
        }
    }

    /// A single-statement read as `tenant`: the session's tenant is set only when it changes
    /// (row-level security reads it), and the statement is prepared once per connection. One
    /// round trip instead of the six of a transaction with `SET LOCAL` and an unprepared query.
    fn read_one(
        &mut self,
        tenant: &str,
        which: fn(&Session) -> &postgres::Statement,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> std::result::Result<Option<postgres::Row>, postgres::Error> {
        let stmt = self.on_session(tenant, which)?;
        let row = self.client.query_opt(&stmt, params);
        if let Err(e) = &row {
            self.note(e);
        }
        row
    }

    /// The statement `which`, with the session's tenant set to `tenant` (see [`Self::read_one`]).
    fn on_session(
        &mut self,
        tenant: &str,
        which: fn(&Session) -> &postgres::Statement,
    ) -> std::result::Result<postgres::Statement, postgres::Error> {
        if self.client.is_closed() || self.broken {
            // Reconnect errors surface through the query below as a closed connection.
            if let Ok(c) = connect(&self.url, &self.schema) {
                self.client = OwnedClient(Some(c));
                self.broken = false;
            }
            self.session = None;
            self.prepared.clear();
        }
        if self.session.is_none() {
            let set_tenant = self
                .client
                .prepare("SELECT set_config('custos.tenant', $1, false)")?;
            let record = self.client.prepare(&format!(
                "SELECT {RECORD_COLUMNS}, restriction FROM records WHERE tenant_id = $1 AND record_id = $2"
            ))?;
            let data_key = self.client.prepare("SELECT key_version, wrapped FROM data_keys WHERE tenant_id = $1 AND pseudonym = $2 AND key_domain = $3 AND category = $4")?;
            // Always one row: the state's columns are null before the tenant's first write.
            let retention = self.client.prepare("SELECT r.version, r.state, e.pseudonym, e.event, e.purpose, e.occurred_at FROM (SELECT 1) AS one LEFT JOIN tenant_retention r ON r.tenant_id = $1 LEFT JOIN subject_events e ON e.tenant_id = $1 AND e.pseudonym = ANY($2::text[])")?;
            self.session = Some(Session {
                tenant: None,
                set_tenant,
                record,
                data_key,
                retention,
            });
        }
        let s = self
            .session
            .as_mut()
            .expect("the session was just prepared");
        if s.tenant.as_deref() != Some(tenant) {
            self.client.execute(&s.set_tenant, &[&tenant])?;
            s.tenant = Some(tenant.to_owned());
        }
        Ok(which(s).clone())
    }

    fn migrate(&mut self) -> Result<()> {
        let target = self.target.clone();
        let err = Self::err(&target, "migrating the schema");
        let mut tx = self.client.transaction().map_err(&err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(&err)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .map_err(&err)?;
        let current: i64 = tx
            .query_one(
                "SELECT coalesce(max(version), 0)::BIGINT FROM schema_migrations",
                &[],
            )
            .map_err(&err)?
            .get(0);
        let now = jiff::Timestamp::now().as_microsecond();
        for (version, sql) in super::pending_migrations(MIGRATIONS, current)? {
            tx.batch_execute(sql).map_err(&err)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[version, &now],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)
    }

    /// One write in a transaction of its own; its refusal (a retention change, a raced
    /// idempotency key) as its error.
    fn commit_alone(&mut self, write: &Write<'_>) -> Result<()> {
        self.commit_writes(std::slice::from_ref(write))?
            .pop()
            .unwrap_or(Ok(()))
    }

    /// Commits a group of writes in one transaction, answering each. If the transaction fails
    /// and held several writes, each is tried again alone, so that one write's failure (a bad
    /// row, a conflict) is its own and the others still commit.
    fn commit_group(&mut self, writes: &[Write<'_>]) -> Vec<Result<()>> {
        match self.commit_writes(writes) {
            Ok(outcomes) => outcomes,
            Err(e) if writes.len() == 1 => vec![Err(e)],
            Err(_) => writes.iter().map(|w| self.commit_alone(w)).collect(),
        }
    }

    /// Inserts the writes' records and audit entries in one transaction. `Err`: nothing was
    /// written. `Ok`: committed, with each write's outcome: `Ok` if it is in, else why it was
    /// left out (its tenant's retention changed since its expiries were computed; a data key of
    /// its rows is gone, or another write stored the key it made first; the key it made is
    /// wrapped under a master key that was replaced; or its idempotency key was taken by
    /// another write first).
    ///
    /// Per tenant (in tenant order, so concurrent groups lock in one order): the tenant's
    /// retention version is read `FOR SHARE` (a retention change, which takes the row `FOR
    /// UPDATE`, waits for this transaction, and this one for a change in progress), the
    /// writes' subjects are held shared (`SUBJECT_LOCK`), the data keys writes made are stored
    /// and every write's keys checked, the idempotency keys are claimed, then the subjects
    /// (sorted) and the records are inserted, column-wise from arrays. Then the audit chain's
    /// head is locked once and every admitted write's entries are chained after it, in the
    /// group's order.
    fn commit_writes(&mut self, writes: &[Write<'_>]) -> Result<Vec<Result<()>>> {
        use postgres::types::Type;
        let target = self.target.clone();
        let err = Self::err(&target, "writing records");
        self.client()?;
        let prepared = &mut self.prepared;
        let mut tx = self.client.transaction().map_err(&err)?;
        let mut outcomes: Vec<Result<()>> = writes.iter().map(|_| Ok(())).collect();
        let mut order: Vec<usize> = (0..writes.len()).collect();
        order.sort_by_key(|i| writes[*i].tenant);
        for same in order.chunk_by(|a, b| writes[*a].tenant == writes[*b].tenant) {
            let tenant = writes[same[0]].tenant;
            let now = same.iter().map(|i| writes[*i].now).max().unwrap_or(0);
            // The tenant's setting, its retention version, the subjects' locks, the keys writes
            // made and the check of the rows' keys in one round trip, when it can be: see
            // `checks_in_one_trip`.
            let mut on = PgTx {
                tx: &mut tx,
                tenant,
                prepared: &mut *prepared,
                target: &target,
                operation: "writing records",
            };
            let one_trip = checks_in_one_trip(&mut on, writes, same)?;
            let (version, present, made) = match one_trip {
                // The tenant's first write registers it now; the keys were read under the locks.
                Some(OneTrip {
                    version,
                    present,
                    made,
                }) => (
                    match version {
                        Some(version) => version,
                        None => tenant_version(&mut on, now)?,
                    },
                    Some(present),
                    made,
                ),
                None => (tenant_version(&mut on, now)?, None, None),
            };
            for i in same {
                if writes[*i].version != version {
                    outcomes[*i] = Err(VaultError::RetentionChanged);
                }
            }
            if let Some(made) = made {
                judge_one_trip_makers(writes, same, &made, &mut outcomes);
            }
            let present = match present {
                Some(present) => present,
                None => {
                    lock_subjects(&mut on, writes, same, &outcomes)?;
                    store_made_keys(&mut on, writes, same, &mut outcomes)?;
                    present_keys(&mut on, writes, same, &outcomes)?
                }
            };
            // The data keys the rows were encrypted under were read before this transaction: an
            // erasure or a deletion committed since may have destroyed one (and a write after it
            // made the subject a new one), and a row under it could never be read. Such a write
            // is left out (`data-key-gone`), before it claims an idempotency key; with its
            // subject held, no key can go between this and the commit.
            let stored = |pseudonym: &str, domain: &str, category: &str| {
                present.get(&(pseudonym.to_owned(), domain.to_owned(), category.to_owned()))
            };
            let checked: Vec<usize> = same
                .iter()
                .copied()
                .filter(|i| outcomes[*i].is_ok())
                .collect();
            for i in checked {
                let w = &writes[i];
                // A key stored other than as read was destroyed and made again meanwhile.
                let gone = w
                    .rows
                    .iter()
                    .any(|r| stored(&r.pseudonym, &r.key_domain, &r.category).is_none())
                    || w.keys_read.iter().any(|k| {
                        stored(&k.pseudonym, &k.key_domain, &k.category) != Some(&k.wrapped)
                    });
                if gone {
                    outcomes[i] = Err(VaultError::DataKeyGone);
                }
            }
            // Idempotency keys: each claimed by the first write that stores it; a write whose key
            // another write (of this group, or another server's) holds is left out.
            let keyed: Vec<usize> = same
                .iter()
                .copied()
                .filter(|i| outcomes[*i].is_ok() && writes[*i].idempotency.is_some())
                .collect();
            if !keyed.is_empty() {
                tx.execute_typed(
                    "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND created_at < $2",
                    &[
                        (&tenant, Type::TEXT),
                        (&(now - IDEMPOTENCY_SECONDS * 1_000_000), Type::INT8),
                    ],
                )
                .map_err(&err)?;
                let mut keys: Vec<(&IdempotencyRow, i64)> = keyed
                    .iter()
                    .filter_map(|i| writes[*i].idempotency.map(|k| (k, writes[*i].now)))
                    .collect();
                // Claimed in one order by every server: a group that claimed one key and waited
                // for another that a second server's group claimed, while that group waited for
                // the first, would deadlock (PostgreSQL would fail one of them after a second).
                keys.sort_by(|a, b| a.0.key_hash.cmp(&b.0.key_hash));
                let col = |f: fn(&IdempotencyRow) -> &str| {
                    keys.iter().map(|(k, _)| f(k)).collect::<Vec<&str>>()
                };
                let created: Vec<i64> = keys.iter().map(|(k, _)| k.record_created_at).collect();
                let at: Vec<i64> = keys.iter().map(|(_, now)| *now).collect();
                let claimed: std::collections::HashSet<(String, String)> = tx
                    .query_typed(
                        "INSERT INTO idempotency_keys (tenant_id, key_hash, body_hash, record_id, record_created_at, created_at) SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[]) ON CONFLICT DO NOTHING RETURNING key_hash, record_id",
                        &[
                            (&tenant, Type::TEXT),
                            (&col(|k| &k.key_hash), Type::TEXT_ARRAY),
                            (&col(|k| &k.body_hash), Type::TEXT_ARRAY),
                            (&col(|k| &k.record_id), Type::TEXT_ARRAY),
                            (&created, Type::INT8_ARRAY),
                            (&at, Type::INT8_ARRAY),
                        ],
                    )
                    .map_err(&err)?
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect();
                for i in keyed {
                    if let Some(k) = writes[i].idempotency
                        && !claimed.contains(&(k.key_hash.clone(), k.record_id.clone()))
                    {
                        outcomes[i] = Err(VaultError::IdempotencyRace);
                    }
                }
            }
            let admitted: Vec<&Write<'_>> = same
                .iter()
                .filter(|i| outcomes[**i].is_ok())
                .map(|i| &writes[*i])
                .collect();
            if admitted.is_empty() {
                continue;
            }
            let mut subjects: Vec<&str> = admitted
                .iter()
                .flat_map(|w| w.rows.iter().map(|r| r.pseudonym.as_str()))
                .collect();
            subjects.sort_unstable();
            subjects.dedup();
            // The subjects (with the first part of the records) and the records in one statement
            // per part: one round trip.
            let insert = prepared_in(
                prepared,
                &mut tx,
                &format!(
                    "WITH new_subjects AS (INSERT INTO subjects (tenant_id, pseudonym, created_at) SELECT $1, p, $12 FROM unnest($11::text[]) AS p ON CONFLICT DO NOTHING) INSERT INTO records (tenant_id, {RECORD_COLUMNS}) SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], $8::bigint[], $9::text[], $10::bigint[])"
                ),
            )
            .map_err(&err)?;
            let rows: Vec<&RecordRow> = admitted.iter().flat_map(|w| w.rows.iter()).collect();
            for (part, chunk) in rows.chunks(INSERT_CHUNK).enumerate() {
                let new_subjects: &[&str] = if part == 0 { &subjects } else { &[] };
                let col =
                    |f: fn(&RecordRow) -> &str| chunk.iter().map(|r| f(r)).collect::<Vec<&str>>();
                let ciphertexts: Vec<&[u8]> =
                    chunk.iter().map(|r| r.ciphertext.as_slice()).collect();
                let created: Vec<i64> = chunk.iter().map(|r| r.created_at).collect();
                let expires: Vec<Option<i64>> = chunk.iter().map(|r| r.expires_at).collect();
                tx.execute(
                    &insert,
                    &[
                        &tenant,
                        &col(|r| &r.record_id),
                        &col(|r| &r.pseudonym),
                        &col(|r| &r.category),
                        &col(|r| &r.purposes),
                        &col(|r| &r.key_domain),
                        &ciphertexts,
                        &created,
                        &col(|r| &r.clocks),
                        &expires,
                        &new_subjects,
                        &now,
                    ],
                )
                .map_err(&err)?;
            }
        }
        let admitted: Vec<&Write<'_>> = writes
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| o.is_ok())
            .map(|(w, _)| w)
            .collect();
        if !admitted.is_empty() {
            custos_audit::store::pg_append_all_in(&mut tx, &mut |mut head| {
                let mut entries = Vec::new();
                let mut checkpoints = Vec::new();
                for w in &admitted {
                    let (e, c) = w.audit.build(head);
                    head = e.last().map(|l| (l.seq, l.hash)).or(head);
                    entries.extend(e);
                    checkpoints.extend(c);
                }
                (entries, checkpoints)
            })
            .map_err(|e| audit_error(&target, e))?;
        }
        tx.commit().map_err(&err)?;
        Ok(outcomes)
    }

    /// The raw connection, for tests that prove the RLS wall holds without the API's filters.
    #[cfg(test)]
    pub(crate) fn raw_client(&mut self) -> &mut Client {
        &mut self.client
    }
}

fn record_row(r: &postgres::Row) -> RecordRow {
    RecordRow {
        record_id: r.get(0),
        pseudonym: r.get(1),
        category: r.get(2),
        purposes: r.get(3),
        key_domain: r.get(4),
        ciphertext: r.get(5),
        created_at: r.get(6),
        clocks: r.get(7),
        expires_at: r.get(8),
        restriction: r.get(9),
    }
}

/// The data keys of a tenant that a group's check found, by (pseudonym, key domain, category):
/// their wrapped bytes.
type PresentKeys = HashMap<(String, String, String), Vec<u8>>;

/// What [`checks_in_one_trip`] found: the tenant's retention version (`None` before its first
/// write), the data keys of the writes' rows, and what became of the keys writes made.
struct OneTrip {
    version: Option<i64>,
    present: PresentKeys,
    made: Option<MadeKeys>,
}

/// The keys a group's writes made, one per slot ([`first_made_keys`]), as the one trip stored
/// them: the master key's check it read, and the slots it stored (none if the check was not
/// the makers').
struct MadeKeys {
    current_check: Option<String>,
    stored: std::collections::HashSet<(String, String, String)>,
}

/// The outcomes of the writes `same` that made keys and are still in, from what the one trip
/// stored: all left out (`master-key-replaced`) if the master key's check was not theirs, else
/// as [`judge_makers`] (which write's key a slot keeps is decided over every maker, as the one
/// trip stored it).
fn judge_one_trip_makers(
    writes: &[Write<'_>],
    same: &[usize],
    made: &MadeKeys,
    outcomes: &mut [Result<()>],
) {
    let makers: Vec<usize> = same
        .iter()
        .copied()
        .filter(|i| writes[*i].new_keys.is_some())
        .collect();
    let check = makers
        .first()
        .and_then(|i| writes[*i].new_keys)
        .map(|k| k.check.as_str());
    if made.current_check.as_deref() != check {
        for i in makers {
            if outcomes[i].is_ok() {
                outcomes[i] = Err(VaultError::MasterKeyReplaced);
            }
        }
        return;
    }
    let first = first_made_keys(writes, &makers);
    judge_makers(writes, &makers, &first, &made.stored, outcomes);
}

/// `value` as an SQL string literal, or `None` if it holds a backslash or a NUL (then the caller
/// binds it as a parameter instead): with those left out, doubling the quotes is the whole of
/// the quoting, whatever `standard_conforming_strings` says.
fn sql_literal(value: &str) -> Option<String> {
    (!value.contains(['\\', '\0'])).then(|| format!("'{}'", value.replace('\'', "''")))
}

/// `values` as an SQL `text[]` literal, or `None` as [`sql_literal`].
fn sql_text_array<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let items = values
        .into_iter()
        .map(sql_literal)
        .collect::<Option<Vec<String>>>()?;
    Some(format!("ARRAY[{}]::text[]", items.join(", ")))
}

/// The subjects of the writes `same` (of one tenant) that are `still_in`.
fn subjects_of<'w>(
    writes: &'w [Write<'_>],
    same: &[usize],
    still_in: impl Fn(usize) -> bool,
) -> Vec<&'w str> {
    let mut subjects: Vec<&str> = same
        .iter()
        .filter(|i| still_in(**i))
        .flat_map(|i| writes[*i].rows.iter().map(|r| r.pseudonym.as_str()))
        .collect();
    subjects.sort_unstable();
    subjects.dedup();
    subjects
}

/// The (pseudonym, key domain, category) of every row of the writes `same` that are
/// `still_in`.
fn slots_of<'w>(
    writes: &'w [Write<'_>],
    same: &[usize],
    still_in: impl Fn(usize) -> bool,
) -> Vec<(&'w str, &'w str, &'w str)> {
    let mut slots: Vec<(&str, &str, &str)> = same
        .iter()
        .filter(|i| still_in(**i))
        .flat_map(|i| writes[*i].rows.iter())
        .map(|r| {
            (
                r.pseudonym.as_str(),
                r.key_domain.as_str(),
                r.category.as_str(),
            )
        })
        .collect();
    slots.sort_unstable();
    slots.dedup();
    slots
}

/// In one round trip (one simple query of four statements, seven when writes made data keys),
/// what a group does first for the writes `same` of one tenant (`on`'s): sets the tenant for
/// row-level security, reads its retention version `FOR SHARE`, takes the writes' subjects
/// shared ([`SUBJECT_LOCK`]), stores the keys writes made (as [`store_made_keys`] does) and reads
/// their rows' data keys. Each statement takes its snapshot when it starts, so the keys are
/// read after the locks are held, as when the statements are sent one by one
/// ([`tenant_version`], [`lock_subjects`], [`store_made_keys`], [`present_keys`]). The values are
/// written into the query as literals; `None` (nothing sent) if one cannot be
/// ([`sql_literal`]), or if the makers' keys are of more than one master key.
fn checks_in_one_trip(
    on: &mut PgTx<'_, '_>,
    writes: &[Write<'_>],
    same: &[usize],
) -> Result<Option<OneTrip>> {
    let subjects = subjects_of(writes, same, |_| true);
    let slots = slots_of(writes, same, |_| true);
    let (Some(tenant), Some(subjects), Some(pseudonyms), Some(domains), Some(categories)) = (
        sql_literal(on.tenant),
        sql_text_array(subjects),
        sql_text_array(slots.iter().map(|s| s.0)),
        sql_text_array(slots.iter().map(|s| s.1)),
        sql_text_array(slots.iter().map(|s| s.2)),
    ) else {
        return Ok(None);
    };
    // The keys writes made, stored between the locks and the key read (as `store_made_keys`
    // does): after waiting for a replacement of the master key in progress (`data_keys` taken
    // `ROW EXCLUSIVE`, as `current_key_check` does), and only if the master key's check is still
    // the makers'. Makers of one group are of one server, so of one check; if not, or if a value
    // cannot be written, the statements go one by one.
    let makers: Vec<usize> = same
        .iter()
        .copied()
        .filter(|i| writes[*i].new_keys.is_some())
        .collect();
    let store_made = if makers.is_empty() {
        String::new()
    } else {
        let checks: std::collections::BTreeSet<&str> = makers
            .iter()
            .filter_map(|i| writes[*i].new_keys.map(|k| k.check.as_str()))
            .collect();
        let [check] = checks.into_iter().collect::<Vec<_>>()[..] else {
            return Ok(None);
        };
        let now = same.iter().map(|i| writes[*i].now).max().unwrap_or(0);
        let mut values = Vec::new();
        for (k, _) in first_made_keys(writes, &makers) {
            let (Some(p), Some(d), Some(c)) = (
                sql_literal(&k.pseudonym),
                sql_literal(&k.key_domain),
                sql_literal(&k.category),
            ) else {
                return Ok(None);
            };
            values.push(format!(
                "({p}, {d}, {c}, {}, decode('{}', 'hex'))",
                k.key_version,
                hex::encode(&k.wrapped)
            ));
        }
        let Some(check) = sql_literal(check).filter(|_| !values.is_empty()) else {
            return Ok(None);
        };
        // Joined to the statement before it: it starts with that statement's `;`.
        format!(
            ";
             LOCK TABLE data_keys IN ROW EXCLUSIVE MODE;
             SELECT value FROM meta WHERE key = 'key_check';
             INSERT INTO data_keys (tenant_id, pseudonym, key_domain, category, key_version, wrapped, created_at) SELECT {tenant}, v.pseudonym, v.key_domain, v.category, v.key_version, v.wrapped, {now} FROM (VALUES {values}) AS v (pseudonym, key_domain, category, key_version, wrapped) WHERE (SELECT value FROM meta WHERE key = 'key_check') = {check} ON CONFLICT (tenant_id, pseudonym, key_domain, category) DO NOTHING RETURNING pseudonym, key_domain, category",
            values = values.join(", "),
        )
    };
    let sql = format!(
        "SELECT set_config('custos.tenant', {tenant}, true);
         SELECT r.version, EXISTS (SELECT 1 FROM tenants t WHERE t.tenant_id = {tenant}) FROM tenant_retention r WHERE r.tenant_id = {tenant} FOR SHARE OF r;
         SELECT pg_advisory_xact_lock_shared({SUBJECT_LOCK}, {lock}) FROM unnest({subjects}) AS p{store_made};
         SELECT k.pseudonym, k.key_domain, k.category, encode(k.wrapped, 'hex') FROM data_keys k JOIN unnest({pseudonyms}, {domains}, {categories}) AS w (pseudonym, key_domain, category) USING (pseudonym, key_domain, category) WHERE k.tenant_id = {tenant}",
        lock = super::subject_lock_key(&tenant, "p"),
    );
    let replies = on.tx.simple_query(&sql).map_err(|e| on.err(e))?;
    let answers = custos_audit::store::pg_statement_rows(replies);
    let corrupt = |what: &str| VaultError::Corrupt(format!("a group's checks answered {what}"));
    let (version, made, keys) = match answers.as_slice() {
        [_, version, _, keys] if makers.is_empty() => (version, None, keys),
        [_, version, _, _, current, stored, keys] if !makers.is_empty() => {
            let current_check = current
                .first()
                .and_then(|row| row.get(0))
                .map(str::to_owned);
            let stored = stored
                .iter()
                .map(|row| {
                    let field = |i: usize| row.get(i).unwrap_or_default().to_owned();
                    (field(0), field(1), field(2))
                })
                .collect();
            (
                version,
                Some(MadeKeys {
                    current_check,
                    stored,
                }),
                keys,
            )
        }
        _ => return Err(corrupt("another number of statements")),
    };
    let version = match version.first() {
        Some(row) if row.get(1) == Some("t") => Some(
            row.get(0)
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| corrupt("a retention version that is no number"))?,
        ),
        _ => None,
    };
    let mut present = PresentKeys::new();
    for row in keys {
        let field = |i: usize| row.get(i).unwrap_or_default().to_owned();
        let wrapped = hex::decode(field(3)).map_err(|_| corrupt("a data key that is no hex"))?;
        present.insert((field(0), field(1), field(2)), wrapped);
    }
    Ok(Some(OneTrip {
        version,
        present,
        made,
    }))
}

/// Sets the tenant (`on`'s) for row-level security and reads its retention version `FOR SHARE`
/// (a retention change, which takes the row `FOR UPDATE`, waits for this transaction, and this
/// one for a change in progress); at the tenant's first write, registers it first.
fn tenant_version(on: &mut PgTx<'_, '_>, now: i64) -> Result<i64> {
    use postgres::types::Type;
    let tenant = on.tenant;
    on.tx
        .execute_typed(
            "SELECT set_config('custos.tenant', $1, true)",
            &[(&tenant, Type::TEXT)],
        )
        .map_err(|e| on.err(e))?;
    let version = |on: &mut PgTx<'_, '_>| {
        on.tx
            .query_typed_opt(
                "SELECT r.version, EXISTS (SELECT 1 FROM tenants t WHERE t.tenant_id = $1) FROM tenant_retention r WHERE r.tenant_id = $1 FOR SHARE OF r",
                &[(&tenant, Type::TEXT)],
            )
            .map(|row| row.and_then(|r| r.get::<_, bool>(1).then(|| r.get::<_, i64>(0))))
            .map_err(|e| on.err(e))
    };
    if let Some(v) = version(on)? {
        return Ok(v);
    }
    // The tenant's first write.
    on.tx
        .execute_typed(
            "INSERT INTO tenants (tenant_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[(&tenant, Type::TEXT), (&now, Type::INT8)],
        )
        .map_err(|e| on.err(e))?;
    on.tx
        .execute_typed(
            "INSERT INTO tenant_retention (tenant_id, version, state, fingerprint) VALUES ($1, 0, '{}', '') ON CONFLICT DO NOTHING",
            &[(&tenant, Type::TEXT)],
        )
        .map_err(|e| on.err(e))?;
    version(on)?.ok_or_else(|| VaultError::Corrupt("a tenant's retention state vanished".into()))
}

/// Holds the subjects of the writes `same` still in shared until the commit
/// ([`SUBJECT_LOCK`]): whatever destroys a subject's keys (an erasure, the deletion of its last
/// record of a category) holds its subject alone, so it waits for this group, and then sees its
/// records and keys; or this group waits for it, and then sees what it destroyed.
fn lock_subjects(
    on: &mut PgTx<'_, '_>,
    writes: &[Write<'_>],
    same: &[usize],
    outcomes: &[Result<()>],
) -> Result<()> {
    use postgres::types::Type;
    let locked = subjects_of(writes, same, |i| outcomes[i].is_ok());
    if locked.is_empty() {
        return Ok(());
    }
    let tenant = on.tenant;
    on.tx
        .execute_typed(
            &format!(
                "SELECT pg_advisory_xact_lock_shared({SUBJECT_LOCK}, {}) FROM unnest($2::text[]) AS p",
                super::subject_lock_key("$1", "p")
            ),
            &[(&tenant, Type::TEXT), (&locked, Type::TEXT_ARRAY)],
        )
        .map(|_| ())
        .map_err(|e| on.err(e))
}

/// The data keys stored for the rows of the writes `same` still in, read after their subjects
/// are held ([`lock_subjects`]).
fn present_keys(
    on: &mut PgTx<'_, '_>,
    writes: &[Write<'_>],
    same: &[usize],
    outcomes: &[Result<()>],
) -> Result<PresentKeys> {
    use postgres::types::Type;
    let wanted = slots_of(writes, same, |i| outcomes[i].is_ok());
    if wanted.is_empty() {
        return Ok(PresentKeys::new());
    }
    let pseudonyms: Vec<&str> = wanted.iter().map(|k| k.0).collect();
    let domains: Vec<&str> = wanted.iter().map(|k| k.1).collect();
    let categories: Vec<&str> = wanted.iter().map(|k| k.2).collect();
    let tenant = on.tenant;
    Ok(on
        .tx
        .query_typed(
            "SELECT k.pseudonym, k.key_domain, k.category, k.wrapped FROM data_keys k JOIN unnest($2::text[], $3::text[], $4::text[]) AS w (pseudonym, key_domain, category) USING (pseudonym, key_domain, category) WHERE k.tenant_id = $1",
            &[
                (&tenant, Type::TEXT),
                (&pseudonyms, Type::TEXT_ARRAY),
                (&domains, Type::TEXT_ARRAY),
                (&categories, Type::TEXT_ARRAY),
            ],
        )
        .map_err(|e| on.err(e))?
        .iter()
        .map(|r| ((r.get(0), r.get(1), r.get(2)), r.get(3)))
        .collect())
}

/// Stores the keys the writes `same` (of one tenant, `on`'s) made for their new subjects (or
/// categories), in one statement, rather than in a transaction each: a key another write stored
/// first (of this group, the earlier one; or of another server) leaves its write out
/// (`data-key-gone`), to be encrypted again under the stored key. Keys wrapped under a master key
/// other than the vault's are refused (`master-key-replaced`), as `store_new_keys_in` does.
fn store_made_keys(
    on: &mut PgTx<'_, '_>,
    writes: &[Write<'_>],
    same: &[usize],
    outcomes: &mut [Result<()>],
) -> Result<()> {
    use postgres::types::Type;
    let makers: Vec<usize> = same
        .iter()
        .copied()
        .filter(|i| outcomes[*i].is_ok() && writes[*i].new_keys.is_some())
        .collect();
    if makers.is_empty() {
        return Ok(());
    }
    let current = super::current_key_check(on)?;
    for &i in &makers {
        if writes[i].new_keys.map(|k| k.check.as_str()) != current.as_deref() {
            outcomes[i] = Err(VaultError::MasterKeyReplaced);
        }
    }
    let makers: Vec<usize> = makers
        .into_iter()
        .filter(|i| outcomes[*i].is_ok())
        .collect();
    let made = first_made_keys(writes, &makers);
    if made.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&WrappedKeyRow) -> &str| made.iter().map(|(k, _)| f(k)).collect::<Vec<&str>>();
    let versions: Vec<i64> = made.iter().map(|(k, _)| i64::from(k.key_version)).collect();
    let wrapped: Vec<&[u8]> = made.iter().map(|(k, _)| k.wrapped.as_slice()).collect();
    let now = same.iter().map(|i| writes[*i].now).max().unwrap_or(0);
    let tenant = on.tenant;
    let stored: std::collections::HashSet<(String, String, String)> = on
        .tx
        .query_typed(
            "INSERT INTO data_keys (tenant_id, pseudonym, key_domain, category, key_version, wrapped, created_at) SELECT $1, *, $7 FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bytea[]) ON CONFLICT (tenant_id, pseudonym, key_domain, category) DO NOTHING RETURNING pseudonym, key_domain, category",
            &[
                (&tenant, Type::TEXT),
                (&col(|k| &k.pseudonym), Type::TEXT_ARRAY),
                (&col(|k| &k.key_domain), Type::TEXT_ARRAY),
                (&col(|k| &k.category), Type::TEXT_ARRAY),
                (&versions, Type::INT8_ARRAY),
                (&wrapped, Type::BYTEA_ARRAY),
                (&now, Type::INT8),
            ],
        )
        .map_err(|e| on.failed(e))?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    judge_makers(writes, &makers, &made, &stored, outcomes);
    Ok(())
}

/// Each slot's key from the first of `makers` that made one, in slot order: the one key of the
/// slot a group stores.
fn first_made_keys<'w>(
    writes: &'w [Write<'_>],
    makers: &[usize],
) -> Vec<(&'w WrappedKeyRow, usize)> {
    let mut made: Vec<(&WrappedKeyRow, usize)> = makers
        .iter()
        .filter_map(|&i| writes[i].new_keys.map(|k| (k, i)))
        .flat_map(|(keys, i)| keys.rows.iter().map(move |k| (k, i)))
        .collect();
    made.sort_by(|a, b| slot(a.0).cmp(&slot(b.0)));
    made.dedup_by(|later, first| slot(later.0) == slot(first.0));
    made
}

/// Leaves out (`data-key-gone`) each of `makers` still in that has a key another write's key of
/// the same slot was preferred to (`made`, [`first_made_keys`]), or that was not `stored` (a key
/// of another server's was there first): its rows are under a key nobody has.
fn judge_makers(
    writes: &[Write<'_>],
    makers: &[usize],
    made: &[(&WrappedKeyRow, usize)],
    stored: &std::collections::HashSet<(String, String, String)>,
    outcomes: &mut [Result<()>],
) {
    let kept: HashMap<(&str, &str, &str), usize> =
        made.iter().map(|(k, i)| (slot(k), *i)).collect();
    for &i in makers {
        let Some(keys) = writes[i].new_keys.filter(|_| outcomes[i].is_ok()) else {
            continue;
        };
        let all_stored = keys.rows.iter().all(|k| {
            let (p, d, c) = slot(k);
            kept.get(&(p, d, c)) == Some(&i)
                && stored.contains(&(p.to_owned(), d.to_owned(), c.to_owned()))
        });
        if !all_stored {
            outcomes[i] = Err(VaultError::DataKeyGone);
        }
    }
}

/// The slot a data key fills: its subject (pseudonym), key domain and category.
fn slot(k: &WrappedKeyRow) -> (&str, &str, &str) {
    (
        k.pseudonym.as_str(),
        k.key_domain.as_str(),
        k.category.as_str(),
    )
}

/// `sql` prepared on this connection once, from the connection's cache.
fn prepared_in(
    prepared: &mut HashMap<String, postgres::Statement>,
    tx: &mut Transaction<'_>,
    sql: &str,
) -> std::result::Result<postgres::Statement, postgres::Error> {
    if let Some(s) = prepared.get(sql) {
        return Ok(s.clone());
    }
    if prepared.len() >= PREPARED_MAX {
        prepared.clear();
    }
    let s = tx.prepare(sql)?;
    prepared.insert(sql.to_owned(), s.clone());
    Ok(s)
}

/// The group-commit queue of every connection of this process to one database and schema.
fn group_for(url: &str, schema: &str) -> Arc<Group<PendingWrite>> {
    type Groups = HashMap<(String, String), Arc<Group<PendingWrite>>>;
    static GROUPS: OnceLock<Mutex<Groups>> = OnceLock::new();
    let mut groups = GROUPS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    groups
        .entry((url.to_owned(), schema.to_owned()))
        .or_insert_with(|| Arc::new(Group::new(GROUP_WRITES)))
        .clone()
}

/// Up to `$5` tokens of a key's shared bucket (`crate::key_gate`), refilled by the database's
/// clock, and whether the key is live: `$1` tenant, `$2` key id, `$3` tokens per second, `$4`
/// burst, `$5` the most to take. All whole tokens up to `$5` are taken, none when less than one
/// is there. The refilled count is written out each time: `ON CONFLICT DO UPDATE` has no place
/// to name it.
const TAKE_TOKENS: &str = "INSERT INTO rate_buckets AS b (tenant_id, key_id, tokens, refilled_at, granted, taken) \
     VALUES ($1, $2, $4::float8 - least($5::float8, floor($4::float8)), extract(epoch FROM clock_timestamp())::float8, true, least($5::float8, floor($4::float8))) \
     ON CONFLICT (tenant_id, key_id) DO UPDATE SET \
       taken = CASE WHEN least($4::float8, b.tokens + greatest(0, excluded.refilled_at - b.refilled_at) * $3::float8) >= 1 \
         THEN least($5::float8, floor(least($4::float8, b.tokens + greatest(0, excluded.refilled_at - b.refilled_at) * $3::float8))) \
         ELSE 0 END, \
       tokens = least($4::float8, b.tokens + greatest(0, excluded.refilled_at - b.refilled_at) * $3::float8) \
         - CASE WHEN least($4::float8, b.tokens + greatest(0, excluded.refilled_at - b.refilled_at) * $3::float8) >= 1 \
           THEN least($5::float8, floor(least($4::float8, b.tokens + greatest(0, excluded.refilled_at - b.refilled_at) * $3::float8))) \
           ELSE 0 END, \
       granted = least($4::float8, b.tokens + greatest(0, excluded.refilled_at - b.refilled_at) * $3::float8) >= 1, \
       refilled_at = greatest(b.refilled_at, excluded.refilled_at) \
     RETURNING b.tokens, b.taken, EXISTS (SELECT 1 FROM access_keys k WHERE k.key_id = $2 AND k.revoked_at IS NULL)";

/// Whether a key is live, when no rate is kept (`crate::key_gate`).
const KEY_LIVE: &str =
    "SELECT EXISTS (SELECT 1 FROM access_keys WHERE key_id = $1 AND revoked_at IS NULL)";

/// Records written by one INSERT of a batch (its arrays are built per chunk).
const INSERT_CHUNK: usize = 1_000;

const RECORD_COLUMNS: &str = "record_id, pseudonym, category, purposes, key_domain, ciphertext, created_at, clocks, expires_at";

/// [`super::Tx`] over a PostgreSQL transaction.
struct PgTx<'a, 'b> {
    tx: &'a mut Transaction<'b>,
    /// The tenant the transaction is scoped to (row-level security, and
    /// [`super::check_tenant_bound`]).
    tenant: &'a str,
    prepared: &'a mut HashMap<String, postgres::Statement>,
    target: &'a str,
    operation: &'static str,
}

impl PgTx<'_, '_> {
    /// The error of running a statement. The connection's prepared statements are dropped, so
    /// later runs prepare them again: when another server's migration changed a table, every
    /// statement prepared on it is stale and would otherwise fail once each ("cached plan must
    /// not change result type"). Errors are rare; preparing again costs a round trip.
    fn failed(&mut self, e: postgres::Error) -> VaultError {
        self.prepared.clear();
        self.err(e)
    }

    /// `sql` prepared on this connection (once; later calls reuse it).
    fn statement(
        &mut self,
        sql: &str,
    ) -> std::result::Result<postgres::Statement, postgres::Error> {
        prepared_in(self.prepared, self.tx, sql)
    }

    fn err(&self, e: postgres::Error) -> VaultError {
        VaultError::Storage {
            operation: self.operation,
            target: self.target.to_owned(),
            reason: describe(&e),
        }
    }
}

fn pg_params(params: &[Val]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|v| match v {
            Val::Int(i) => i as &(dyn postgres::types::ToSql + Sync),
            Val::Text(t) => t as &(dyn postgres::types::ToSql + Sync),
            Val::Bytes(b) => b as &(dyn postgres::types::ToSql + Sync),
        })
        .collect()
}

fn pg_value(row: &postgres::Row, i: usize) -> std::result::Result<Val, postgres::Error> {
    use postgres::types::Type;
    let ty = row.columns()[i].type_();
    Ok(if *ty == Type::INT8 {
        Val::Int(row.try_get(i)?)
    } else if *ty == Type::INT4 {
        Val::Int(row.try_get::<_, Option<i32>>(i)?.map(i64::from))
    } else if *ty == Type::BOOL {
        Val::Int(row.try_get::<_, Option<bool>>(i)?.map(i64::from))
    } else if *ty == Type::BYTEA {
        Val::Bytes(row.try_get(i)?)
    } else {
        Val::Text(row.try_get(i)?)
    })
}

impl Tx for PgTx<'_, '_> {
    fn execute(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        super::check_tenant_bound(sql, params, self.tenant)?;
        let stmt = self.statement(sql).map_err(|e| self.err(e))?;
        let r = self.tx.execute(&stmt, &pg_params(params));
        r.map_err(|e| self.failed(e))
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>> {
        super::check_tenant_bound(sql, params, self.tenant)?;
        let stmt = self.statement(sql).map_err(|e| self.err(e))?;
        let rows = self.tx.query(&stmt, &pg_params(params));
        let rows = rows.map_err(|e| self.failed(e))?;
        rows.iter()
            .map(|r| (0..r.len()).map(|i| pg_value(r, i)).collect())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    fn append_audit(&mut self, build: &mut AuditFn<'_>) -> Result<()> {
        custos_audit::store::pg_append_in(self.tx, build).map_err(|e| audit_error(self.target, e))
    }

    fn postgres(&self) -> bool {
        true
    }
}

fn version_out(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn version_in(v: i32) -> Result<u32> {
    u32::try_from(v)
        .map_err(|_| VaultError::Corrupt(format!("negative key version {v} in data_keys")))
}

impl Store for PostgresStore {
    fn key_gate(
        &mut self,
        tenant: &str,
        key_id: &str,
        rate: Option<crate::key_gate::Rate>,
        up_to: u32,
    ) -> Result<Option<crate::key_gate::KeyGate>> {
        let target = self.target.clone();
        let err = Self::err(&target, "checking an API key's rate");
        self.client()?;
        let sql = if rate.is_some() {
            TAKE_TOKENS
        } else {
            KEY_LIVE
        };
        let stmt = match self.prepared.get(sql) {
            Some(s) => s.clone(),
            None => {
                let s = self.client.prepare(sql).map_err(&err)?;
                self.prepared.insert(sql.to_owned(), s.clone());
                s
            }
        };
        let row = match rate {
            Some(r) => self.client.query_one(
                &stmt,
                &[&tenant, &key_id, &r.per_second, &r.burst, &f64::from(up_to)],
            ),
            None => self.client.query_one(&stmt, &[&key_id]),
        }
        .map_err(|e| {
            // A statement prepared before another server's migration may have gone stale.
            self.prepared.clear();
            err(e)
        })?;
        let gate = match rate {
            Some(r) => {
                let (tokens, taken, live): (f64, f64, bool) = (row.get(0), row.get(1), row.get(2));
                // A whole number between 0 and `up_to`, as the statement computes it.
                let taken = taken.clamp(0.0, f64::from(up_to)) as u32;
                crate::key_gate::KeyGate {
                    live,
                    taken,
                    wait: (taken == 0).then(|| {
                        std::time::Duration::from_secs_f64(
                            ((1.0 - tokens) / r.per_second).clamp(0.0, 3600.0),
                        )
                    }),
                }
            }
            None => crate::key_gate::KeyGate {
                live: row.get(0),
                taken: 0,
                wait: None,
            },
        };
        Ok(Some(gate))
    }

    fn data_key(
        &mut self,
        tenant: &str,
        pseudonym: &str,
        key_domain: &str,
        category: &str,
    ) -> Result<Option<WrappedKeyRow>> {
        let target = self.target.clone();
        let err = Self::err(&target, "reading a data key");
        let row = self
            .read_one(
                tenant,
                |s| &s.data_key,
                &[&tenant, &pseudonym, &key_domain, &category],
            )
            .map_err(&err)?;
        row.map(|r| {
            Ok(WrappedKeyRow {
                pseudonym: pseudonym.to_owned(),
                key_domain: key_domain.to_owned(),
                category: category.to_owned(),
                key_version: version_in(r.get(0))?,
                wrapped: r.get(1),
            })
        })
        .transpose()
    }

    fn insert_records(&mut self, write: &Write<'_>) -> Result<()> {
        // A large batch is a transaction of its own (copying it into the queue would cost more
        // than waiting saves); small writes, the API's, are committed in groups.
        if write.rows.len() > GROUP_ROWS {
            return self.commit_alone(write);
        }
        let pending = PendingWrite::owned(write);
        let group = self.group.clone();
        group.submit(pending, &mut |writes| {
            let views: Vec<Write<'_>> = writes.iter().map(PendingWrite::view).collect();
            self.commit_group(&views)
        })
    }

    fn retention_inputs(&mut self, tenant: &str, subjects: &[&str]) -> Result<RetentionInputs> {
        let target = self.target.clone();
        let err = Self::err(&target, "reading retention settings");
        let rows = self
            .on_session(tenant, |s| &s.retention)
            .and_then(|stmt| self.client.query(&stmt, &[&tenant, &subjects]));
        if let Err(e) = &rows {
            self.note(e);
        }
        let rows = rows.map_err(&err)?;
        let mut state = None;
        let mut events = Vec::new();
        for r in &rows {
            if state.is_none()
                && let (Some(v), Some(text)) =
                    (r.get::<_, Option<i64>>(0), r.get::<_, Option<String>>(1))
            {
                state = Some((v, text));
            }
            if let Some(pseudonym) = r.get::<_, Option<String>>(2) {
                events.push(SubjectEventRow {
                    pseudonym,
                    event: r.get::<_, Option<String>>(3).unwrap_or_default(),
                    purpose: r.get::<_, Option<String>>(4).unwrap_or_default(),
                    at: r.get(5),
                });
            }
        }
        Ok((state, events))
    }

    fn record(&mut self, tenant: &str, record_id: &str) -> Result<Option<RecordRow>> {
        let target = self.target.clone();
        let err = Self::err(&target, "reading a record");
        let row = self
            .read_one(tenant, |s| &s.record, &[&tenant, &record_id])
            .map_err(&err)?;
        Ok(row.as_ref().map(record_row))
    }

    fn records_of(&mut self, tenant: &str, pseudonym: &str) -> Result<Vec<RecordRow>> {
        let target = self.target.clone();
        let err = Self::err(&target, "listing a subject's records");
        let mut tx = self.client()?.transaction().map_err(&err)?;
        set_tenant(&mut tx, tenant).map_err(&err)?;
        let rows = tx
            .query(
                &format!("SELECT {RECORD_COLUMNS}, restriction FROM records WHERE tenant_id = $1 AND pseudonym = $2 ORDER BY created_at, record_id"),
                &[&tenant, &pseudonym],
            )
            .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(rows.iter().map(record_row).collect())
    }

    fn after_erasure(&mut self, counts: ErasureCounts) {
        if counts.keys > 0 {
            // Makes the destroyed keys' dead tuples reclaimable now rather than at autovacuum's
            // next pass. Best effort and cheap (the table holds 32-byte keys): it cannot run in
            // the transaction, SKIP_LOCKED never waits for another vacuum, and a failure leaves the
            // work to autovacuum. The guarantee is the key's destruction, not this (docs/vault.md).
            let _ = self.client.batch_execute("VACUUM (SKIP_LOCKED) data_keys");
        }
    }

    fn rewrap_all(
        &mut self,
        new_version: u32,
        settings: &[(&str, String)],
        rewrap: &mut dyn FnMut(&str, &WrappedKeyRow) -> Result<Vec<u8>>,
    ) -> Result<u64> {
        let target = self.target.clone();
        let err = Self::err(&target, "rotating keys");
        let mut tx = self.client()?.transaction().map_err(&err)?;
        // One writer at a time: a key created concurrently would otherwise keep the old version.
        tx.batch_execute("LOCK TABLE data_keys IN SHARE ROW EXCLUSIVE MODE")
            .map_err(&err)?;
        let tenants: Vec<String> = tx
            .query(
                "SELECT tenant_id FROM tenants ORDER BY tenant_id COLLATE \"C\"",
                &[],
            )
            .map_err(&err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut count = 0u64;
        for tenant in &tenants {
            set_tenant(&mut tx, tenant).map_err(&err)?;
            let keys = tx.query("SELECT pseudonym, key_domain, key_version, wrapped, category FROM data_keys WHERE tenant_id = $1 ORDER BY pseudonym, key_domain, category", &[tenant]).map_err(&err)?;
            for r in &keys {
                let key = WrappedKeyRow {
                    pseudonym: r.get(0),
                    key_domain: r.get(1),
                    key_version: version_in(r.get(2))?,
                    wrapped: r.get(3),
                    category: r.get(4),
                };
                let wrapped = rewrap(tenant, &key)?;
                tx.execute(
                    "UPDATE data_keys SET key_version = $1, wrapped = $2 WHERE tenant_id = $3 AND pseudonym = $4 AND key_domain = $5 AND category = $6",
                    &[&version_out(new_version), &wrapped, tenant, &key.pseudonym, &key.key_domain, &key.category],
                )
                .map_err(&err)?;
                count += 1;
            }
        }
        let version = new_version.to_string();
        for (key, value) in
            std::iter::once(("key_version", &version)).chain(settings.iter().map(|(k, v)| (*k, v)))
        {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&key, value],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        Ok(count)
    }

    fn in_tx(
        &mut self,
        tenant: &str,
        operation: &'static str,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<()>,
    ) -> Result<()> {
        let target = self.target.clone();
        let err = Self::err(&target, operation);
        self.client()?;
        let mut tx = self.client.transaction().map_err(&err)?;
        let mut t = PgTx {
            tx: &mut tx,
            tenant,
            prepared: &mut self.prepared,
            target: &target,
            operation,
        };
        // The tenant for row-level security, and plans made for each execution's own values
        // as an unprepared statement would get (a statement prepared once could otherwise
        // switch to a generic plan after five runs), both for this transaction only.
        t.query(
            "SELECT set_config('custos.tenant', $1, true), set_config('plan_cache_mode', 'force_custom_plan', true)",
            &[tenant.into()],
        )?;
        work(&mut t)?;
        tx.commit().map_err(&err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::JournalEntry;
    use crate::store::NewKeys;
    use crate::store::testing::{
        acme_write, audit_of, commit_writes_that_make_keys,
        commit_writes_that_make_keys_under_one_check, commit_writes_under_a_key_made_again,
        made_key, row,
    };

    /// A store in a fresh schema, dropped afterwards; `None` (with a notice) without a database.
    struct Scratch {
        store: PostgresStore,
        url: String,
        schema: String,
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            if let Ok(mut c) = Client::connect(&self.url, NoTls) {
                let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
            }
        }
    }

    fn scratch(name: &str) -> Option<Scratch> {
        let Some(url) = crate::database_url::postgres_url() else {
            // Written past the harness's output capture, so the skip is seen.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "notice: CUSTOS_TEST_DATABASE_URL is not set; skipping the PostgreSQL test `{name}`"
            );
            return None;
        };
        let schema = format!("u_{}_{name}", std::process::id());
        let mut store = PostgresStore::open(&url, &schema).expect("opens");
        for (tenant, n) in [("acme", 2), ("globex", 1)] {
            let rows: Vec<RecordRow> = (0..n)
                .map(|i| RecordRow {
                    record_id: format!("{tenant}{i:029}"),
                    pseudonym: format!("{tenant}-subject"),
                    category: "account".into(),
                    purposes: "[\"service\"]".into(),
                    key_domain: "default".into(),
                    ciphertext: vec![1, 2, 3],
                    created_at: 0,
                    clocks: "{}".into(),
                    expires_at: None,
                    restriction: None,
                })
                .collect();
            let key = WrappedKeyRow {
                pseudonym: format!("{tenant}-subject"),
                key_domain: "default".into(),
                category: "account".into(),
                key_version: 1,
                wrapped: vec![9],
            };
            let check = store.init_meta("key_check", "a test check").expect("meta");
            store
                .insert_data_keys(tenant, &[key], 0, &check)
                .expect("key");
            store
                .insert_records(&Write {
                    tenant,
                    rows: &rows,
                    now: 0,
                    version: 0,
                    idempotency: None,
                    new_keys: None,
                    keys_read: &[],
                    audit: &crate::store::WriteAudit {
                        events: Vec::new(),
                        at: jiff::Timestamp::UNIX_EPOCH,
                        key: custos_audit::SigningKey::from_bytes(&[7; 32]),
                    },
                })
                .expect("records");
            let e = JournalEntry {
                erasure_id: format!("{tenant}-erasure"),
                tenant: tenant.into(),
                pseudonym: "gone".into(),
                erased_at: 0,
                keep: Vec::new(),
            };
            store
                .erase(&e, &mut |_, _| (Vec::new(), None))
                .expect("journaled");
            store
                .in_tx(tenant, "test rows", &mut |tx| {
                    tx.execute("INSERT INTO subject_events (tenant_id, pseudonym, event, purpose, occurred_at) VALUES ($1, 's', 'consent.withdrawn', '', 0)", &[tenant.into()])?;
                    tx.execute("INSERT INTO holds (tenant_id, hold_id, reason, set_by, set_at) VALUES ($1, 'h', 'case 1', 'dpo', 0)", &[tenant.into()])?;
                    Ok(())
                })
                .expect("retention rows");
        }
        Some(Scratch { store, url, schema })
    }

    /// `sql`'s count, as `tenant` (row-level security shows only its rows).
    fn count(s: &mut Scratch, tenant: &str, sql: &str) -> i64 {
        let mut c = Client::connect(&s.url, NoTls).expect("connects");
        c.batch_execute(&format!(
            "SET search_path TO {}; SELECT set_config('custos.tenant', '{tenant}', false)",
            s.schema
        ))
        .expect("schema and tenant");
        c.query_one(sql, &[]).expect("counts").get(0)
    }

    #[test]
    fn a_group_commits_its_admitted_writes_and_answers_each_refusal_on_its_own() {
        let Some(mut s) = scratch("group_outcomes") else {
            return;
        };
        give_keys(
            &mut s,
            &[
                ("acme", "p1"),
                ("acme", "p2"),
                ("acme", "p3"),
                ("globex", "p4"),
            ],
        );
        let key = |record: &str| IdempotencyRow {
            key_hash: "k1".into(),
            body_hash: "b".into(),
            record_id: record.into(),
            record_created_at: 5,
        };
        let (r1, r2, r3, r4) = (
            [row("acme", 10, "p1")],
            [row("acme", 11, "p2")],
            [row("acme", 12, "p3")],
            [row("globex", 13, "p4")],
        );
        let (k1, k3) = (key(&r1[0].record_id), key(&r3[0].record_id));
        let audits = [
            audit_of("first", "acme"),
            audit_of("stale", "acme"),
            audit_of("raced", "acme"),
            audit_of("other-tenant", "globex"),
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
        ];
        let outcomes = s.store.commit_writes(&writes).expect("the group commits");
        assert!(outcomes[0].is_ok() && outcomes[3].is_ok(), "{outcomes:?}");
        assert!(matches!(outcomes[1], Err(VaultError::RetentionChanged)));
        assert!(matches!(outcomes[2], Err(VaultError::IdempotencyRace)));
        let written = "SELECT count(*) FROM records WHERE created_at = 5";
        assert_eq!(count(&mut s, "acme", written), 1, "only the admitted write");
        assert_eq!(count(&mut s, "globex", written), 1);
        let actions: Vec<String> = {
            let mut c = Client::connect(&s.url, NoTls).expect("connects");
            c.batch_execute(&format!("SET search_path TO {}", s.schema))
                .expect("schema");
            c.query("SELECT action FROM audit_entries ORDER BY seq", &[])
                .expect("audit")
                .iter()
                .map(|r| r.get(0))
                .collect()
        };
        assert_eq!(
            actions,
            ["first", "other-tenant"],
            "audited in the group's order"
        );
    }

    /// A data key row for each (tenant, pseudonym), domain `default`, category `account`: what
    /// [`row`]'s records are encrypted under.
    fn give_keys(s: &mut Scratch, owners: &[(&str, &str)]) {
        for (tenant, pseudonym) in owners {
            let key = WrappedKeyRow {
                pseudonym: (*pseudonym).into(),
                key_domain: "default".into(),
                category: "account".into(),
                key_version: 1,
                wrapped: vec![9],
            };
            let check = key_check(s);
            s.store
                .insert_data_keys(tenant, &[key], 0, &check)
                .expect("a data key");
        }
    }

    #[test]
    fn a_write_under_a_data_key_destroyed_meanwhile_is_refused_alone() {
        // p1's key was read before the write; an erasure destroyed it since (no row here).
        let Some(mut s) = scratch("key_gone") else {
            return;
        };
        give_keys(&mut s, &[("acme", "p2")]);
        let (gone, kept) = ([row("acme", 30, "p1")], [row("acme", 31, "p2")]);
        let audit = audit_of("put", "acme");
        let key = IdempotencyRow {
            key_hash: "k-gone".into(),
            body_hash: "b".into(),
            record_id: gone[0].record_id.clone(),
            record_created_at: 5,
        };
        let outcomes = s
            .store
            .commit_writes(&[
                acme_write(&gone[..], Some(&key), &audit),
                acme_write(&kept[..], None, &audit),
            ])
            .expect("the group commits");
        assert!(
            matches!(outcomes[0], Err(VaultError::DataKeyGone)),
            "{outcomes:?}"
        );
        assert!(outcomes[1].is_ok());
        let written = "SELECT count(*) FROM records WHERE created_at = 5";
        assert_eq!(count(&mut s, "acme", written), 1);
        assert_eq!(
            count(&mut s, "acme", "SELECT count(*) FROM idempotency_keys"),
            0,
            "the refused write claims no idempotency key"
        );
        let alone = s.store.insert_records(&acme_write(&gone, None, &audit));
        assert!(matches!(alone, Err(VaultError::DataKeyGone)), "{alone:?}");
        assert_eq!(count(&mut s, "acme", written), 1);
    }

    #[test]
    fn a_write_under_a_data_key_destroyed_and_made_again_meanwhile_is_refused() {
        let Some(mut s) = scratch("key_made_again") else {
            return;
        };
        // Both keys wrapped as [9]; p1's read as [10], before it was destroyed and made again.
        give_keys(&mut s, &[("acme", "p1"), ("acme", "p2")]);
        commit_writes_under_a_key_made_again(9, &mut |writes| s.store.commit_writes(writes));
        let written = "SELECT count(*) FROM records WHERE created_at = 5";
        assert_eq!(count(&mut s, "acme", written), 1, "only p2's record is in");
    }

    #[test]
    fn sql_literals_double_their_quotes_and_refuse_backslashes_and_nuls() {
        assert_eq!(super::sql_literal("acme").as_deref(), Some("'acme'"));
        assert_eq!(super::sql_literal("o'neil").as_deref(), Some("'o''neil'"));
        assert_eq!(super::sql_literal("a\\b"), None);
        assert_eq!(super::sql_literal("a\0b"), None);
        assert_eq!(
            super::sql_text_array(["p'1", "p2"]).as_deref(),
            Some("ARRAY['p''1', 'p2']::text[]")
        );
        assert_eq!(super::sql_text_array(["p1", "p\\2"]), None);
        assert_eq!(
            super::sql_text_array(std::iter::empty()).as_deref(),
            Some("ARRAY[]::text[]")
        );
    }

    #[test]
    fn a_group_without_new_keys_checks_them_in_one_trip() {
        let Some(mut s) = scratch("one_trip_used") else {
            return;
        };
        give_keys(&mut s, &[("acme", "p1")]);
        let rows = [row("acme", 110, "p1")];
        let audit = audit_of("put", "acme");
        let writes = [acme_write(&rows, None, &audit)];
        let mut prepared = HashMap::new();
        let mut tx = s.store.raw_client().transaction().expect("tx");
        let found = super::checks_in_one_trip(
            &mut super::PgTx {
                tx: &mut tx,
                tenant: "acme",
                prepared: &mut prepared,
                target: "test",
                operation: "test",
            },
            &writes,
            &[0],
        )
        .expect("checks")
        .expect("in one trip");
        assert_eq!(found.version, Some(0));
        assert_eq!(
            found
                .present
                .get(&("p1".into(), "default".into(), "account".into())),
            Some(&vec![9])
        );
    }

    #[test]
    fn an_erasure_that_holds_the_subject_when_a_group_checks_its_keys_is_waited_for() {
        // The erasure holds p1 and destroys its key; the group (no key made: its checks go in one
        // trip) waits for p1, then reads the keys with a snapshot taken after the wait.
        let Some(mut s) = scratch("one_trip_waits") else {
            return;
        };
        give_keys(&mut s, &[("acme", "p1")]);
        let rows = [row("acme", 111, "p1")];
        let read = [crate::store::testing::key_row("p1", 9)];
        let audit = audit_of("put", "acme");
        let mut erasing = Client::connect(&s.url, NoTls).expect("connects");
        let mut erasure = erasing.transaction().expect("tx");
        erasure
            .batch_execute(&format!(
                "SET LOCAL search_path TO {}; SELECT set_config('custos.tenant', 'acme', true)",
                s.schema
            ))
            .expect("scoped");
        erasure
            .execute(
                &format!(
                    "SELECT pg_advisory_xact_lock({SUBJECT_LOCK}, {})",
                    crate::store::subject_lock_key("$1::text", "$2::text")
                ),
                &[&"acme", &"p1"],
            )
            .expect("holds p1");
        erasure
            .execute(
                "DELETE FROM data_keys WHERE tenant_id = 'acme' AND pseudonym = 'p1'",
                &[],
            )
            .expect("destroys p1's key");
        let mut watch = Client::connect(&s.url, NoTls).expect("connects");
        let writer_pid = backend_pid(&mut s.store);
        std::thread::scope(|scope| {
            let store = &mut s.store;
            let group = scope.spawn(move || {
                store.commit_writes(&[Write {
                    keys_read: &read,
                    ..acme_write(&rows, None, &audit)
                }])
            });
            let until = std::time::Instant::now() + Duration::from_secs(20);
            while !waits(&mut watch, writer_pid) {
                assert!(std::time::Instant::now() < until, "the group never waited");
                std::thread::sleep(Duration::from_millis(10));
            }
            erasure.commit().expect("the erasure commits");
            let outcomes = group
                .join()
                .expect("the group ends")
                .expect("the group commits");
            assert!(
                matches!(outcomes[0], Err(VaultError::DataKeyGone)),
                "{outcomes:?}"
            );
        });
        let written = "SELECT count(*) FROM records WHERE created_at = 5";
        assert_eq!(count(&mut s, "acme", written), 0);
    }

    #[test]
    fn a_group_checks_keys_in_one_trip_whatever_its_names_hold() {
        // Names with a quote go into the one-trip checks as literals; a name with a backslash
        // sends the group's checks one statement at a time. Either way a write under a stored key
        // is in and one under a missing key is left out.
        let Some(mut s) = scratch("one_trip") else {
            return;
        };
        let check = key_check(&mut s);
        let audit = audit_of("put", "acme");
        for (n, category) in ["it's", "back\\slash"].into_iter().enumerate() {
            let key = WrappedKeyRow {
                category: category.into(),
                ..crate::store::testing::key_row("p'1", 7)
            };
            s.store
                .insert_data_keys("acme", &[key], 0, &check)
                .expect("a data key");
            let under = |id: usize, subject: &str| {
                let mut r = row("acme", id, subject);
                r.category = category.into();
                [r]
            };
            let (kept, lost) = (under(100 + 2 * n, "p'1"), under(101 + 2 * n, "p'2"));
            let outcomes = s
                .store
                .commit_writes(&[
                    acme_write(&kept, None, &audit),
                    acme_write(&lost, None, &audit),
                ])
                .expect("the group commits");
            assert!(outcomes[0].is_ok(), "{category}: {outcomes:?}");
            assert!(
                matches!(outcomes[1], Err(VaultError::DataKeyGone)),
                "{category}: {outcomes:?}"
            );
        }
        let written = "SELECT count(*) FROM records WHERE created_at = 5";
        assert_eq!(count(&mut s, "acme", written), 2);
    }

    #[test]
    fn groups_claim_idempotency_keys_in_one_order_so_two_servers_never_deadlock() {
        let Some(mut s) = scratch("idempotency_order") else {
            return;
        };
        give_keys(&mut s, &[("acme", "p1"), ("acme", "p2")]);
        let (first, second) = ([row("acme", 90, "p1")], [row("acme", 91, "p2")]);
        let key = |hash: &str, row: &RecordRow| IdempotencyRow {
            key_hash: hash.into(),
            body_hash: "b".into(),
            record_id: row.record_id.clone(),
            record_created_at: 5,
        };
        let (a, b) = (key("k-a", &first[0]), key("k-b", &second[0]));
        let audit = audit_of("put", "acme");
        let claim = |hash: &str| {
            format!(
                "INSERT INTO {}.idempotency_keys (tenant_id, key_hash, body_hash, record_id, record_created_at, created_at) VALUES ('acme', '{hash}', 'other', 'another server', 5, 5)",
                s.schema
            )
        };
        let (claim_a, claim_b) = (claim("k-a"), claim("k-b"));
        // Another server's group has claimed k-a and has yet to claim k-b.
        let mut other = Client::connect(&s.url, NoTls).expect("connects");
        let mut theirs = other.transaction().expect("tx");
        theirs
            .batch_execute("SELECT set_config('custos.tenant', 'acme', true)")
            .expect("tenant");
        theirs.batch_execute(&claim_a).expect("claims k-a");
        let mut watch = Client::connect(&s.url, NoTls).expect("connects");
        let writer_pid = backend_pid(&mut s.store);
        std::thread::scope(|scope| {
            let store = &mut s.store;
            // This group has k-b's write first.
            let group = scope.spawn(move || {
                store.commit_writes(&[
                    acme_write(&second, Some(&b), &audit),
                    acme_write(&first, Some(&a), &audit),
                ])
            });
            let until = std::time::Instant::now() + Duration::from_secs(20);
            while !waits(&mut watch, writer_pid) {
                assert!(std::time::Instant::now() < until, "the group never waited");
                std::thread::sleep(Duration::from_millis(10));
            }
            // Had the group claimed k-b before waiting for k-a, this would wait for it.
            let claimed_b = theirs.batch_execute(&claim_b);
            assert!(
                claimed_b.is_ok(),
                "the other server claims k-b: {claimed_b:?}"
            );
            theirs.commit().expect("the other server commits");
            let outcomes = group
                .join()
                .expect("the group ends")
                .expect("the group commits");
            assert!(
                outcomes
                    .iter()
                    .all(|o| matches!(o, Err(VaultError::IdempotencyRace))),
                "both keys were the other server's first: {outcomes:?}"
            );
        });
    }

    #[test]
    fn keys_a_group_makes_under_one_master_key_are_stored_in_its_one_trip() {
        let Some(mut s) = scratch("made_keys_one_trip") else {
            return;
        };
        let check = key_check(&mut s);
        commit_writes_that_make_keys_under_one_check(&check, &mut |writes| {
            s.store.commit_writes(writes)
        });
        let written = "SELECT count(*) FROM records WHERE created_at = 5";
        assert_eq!(count(&mut s, "acme", written), 1);
        let kept = "SELECT count(*) FROM data_keys WHERE pseudonym = 'p4' AND wrapped = '\\x04'";
        assert_eq!(count(&mut s, "acme", kept), 1, "the first maker's key");
        let refused = "SELECT count(*) FROM data_keys WHERE pseudonym = 'p5'";
        assert_eq!(
            count(&mut s, "acme", refused),
            0,
            "no key of another master key"
        );
    }

    #[test]
    fn keys_writes_make_are_stored_with_their_records_and_a_second_maker_encrypts_again() {
        let Some(mut s) = scratch("made_keys") else {
            return;
        };
        let check = key_check(&mut s);
        commit_writes_that_make_keys(&check, &mut |writes| s.store.commit_writes(writes));
        let written = "SELECT count(*) FROM records WHERE created_at = 5";
        assert_eq!(count(&mut s, "acme", written), 1);
        let first = "SELECT count(*) FROM data_keys WHERE pseudonym = 'p1' AND wrapped = '\\x01'";
        assert_eq!(
            count(&mut s, "acme", first),
            1,
            "the first maker's key is stored, with its record"
        );
        assert_eq!(of_p1(&mut s, "data_keys"), 1);
        let refused = "SELECT count(*) FROM data_keys WHERE pseudonym = 'p3'";
        assert_eq!(count(&mut s, "acme", refused), 0);
    }

    #[test]
    fn an_erasure_under_way_when_a_write_makes_its_key_is_waited_for() {
        // The erasure has read what p1 had (nothing yet) and is about to destroy p1's keys; a
        // write makes p1's first key now. Without the subject's lock the write commits its key
        // and record in between, and the erasure's last statement destroys the key under the
        // record: a record nobody can ever read.
        let Some(mut s) = scratch("key_made_during_erasure") else {
            return;
        };
        let check = key_check(&mut s);
        let mut erasing = PostgresStore::open(&s.url, &s.schema).expect("opens");
        let mut watch = Client::connect(&s.url, NoTls).expect("connects");
        let writer_pid = backend_pid(&mut s.store);
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let key = made_key("p1", 1, &check);
        let rows = [row("acme", 70, "p1")];
        let audit = audit_of("put", "acme");
        std::thread::scope(|scope| {
            let eraser = scope.spawn(move || {
                erasing
                    .in_tx("acme", "erasing", &mut |tx| {
                        crate::store::lock_subject(tx, "acme", "p1")?;
                        locked_tx.send(()).expect("told");
                        go_rx.recv().expect("go");
                        tx.execute(
                            "DELETE FROM data_keys WHERE tenant_id = $1 AND pseudonym = $2",
                            &["acme".into(), "p1".into()],
                        )?;
                        Ok(())
                    })
                    .expect("erases");
            });
            locked_rx.recv().expect("the erasure holds p1");
            let store = &mut s.store;
            let write = Write {
                new_keys: Some(&key),
                ..acme_write(&rows, None, &audit)
            };
            let writer = scope.spawn(move || {
                store
                    .commit_writes(&[write])
                    .expect("the write commits")
                    .pop()
                    .expect("one outcome")
            });
            // The write waits for the erasure (without the lock it commits at once).
            let start = std::time::Instant::now();
            while !waits(&mut watch, writer_pid)
                && !writer.is_finished()
                && start.elapsed().as_secs() < 2
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            go_tx.send(()).expect("go");
            eraser.join().expect("the eraser");
            writer.join().expect("the writer").expect("the write is in");
        });
        assert_eq!(
            of_p1(&mut s, "records"),
            1,
            "the write is in, after the erasure"
        );
        assert_eq!(
            of_p1(&mut s, "data_keys"),
            1,
            "and the key it made with it: the erasure came first"
        );
    }

    /// The vault's master key check value, as a test vault records it: what keys are made under.
    fn key_check(s: &mut Scratch) -> String {
        s.store
            .init_meta("key_check", "a test check")
            .expect("meta")
    }

    /// Whether the backend `pid` waits for a lock.
    fn waits(c: &mut Client, pid: i32) -> bool {
        c.query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted)",
            &[&pid],
        )
        .expect("locks")
        .get(0)
    }

    /// The PostgreSQL backend serving `store`'s connection.
    fn backend_pid(store: &mut PostgresStore) -> i32 {
        store.client().expect("connects");
        store
            .raw_client()
            .query_one("SELECT pg_backend_pid()", &[])
            .expect("pid")
            .get(0)
    }

    /// Runs a write of `rows` (under `p1`'s key, stored or among `new_keys`) that stops just
    /// before its commit, holding what it locked, then `destroy` on a second connection, then
    /// lets the write commit; returns when both are done.
    fn while_a_write_waits_to_commit(
        s: &mut Scratch,
        rows: &[RecordRow],
        new_keys: Option<&NewKeys>,
        destroy: &mut (dyn FnMut(&mut PostgresStore) + Send),
    ) {
        // Opened first: opening takes the audit chain's lock too.
        let mut watch = Client::connect(&s.url, NoTls).expect("connects");
        let mut other = PostgresStore::open(&s.url, &s.schema).expect("opens");
        let (writer_pid, other_pid) = (backend_pid(&mut s.store), backend_pid(&mut other));
        // The audit chain's lock, which a write takes after its records are in: held here, the
        // write waits with its subject held and its rows inserted.
        let mut holder = Client::connect(&s.url, NoTls).expect("connects");
        let mut hold = holder.transaction().expect("tx");
        hold.execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[&custos_audit::store::PG_APPEND_LOCK],
        )
        .expect("the audit lock");
        let audit = audit_of("put", "acme");
        std::thread::scope(|scope| {
            let store = &mut s.store;
            let writer = scope.spawn(move || {
                let write = Write {
                    new_keys,
                    ..acme_write(rows, None, &audit)
                };
                store
                    .commit_writes(&[write])
                    .expect("the write commits")
                    .pop()
                    .expect("one outcome")
                    .expect("the write is in");
            });
            // Every wait here gives up rather than hang: the lock is released whatever happens,
            // and the assertions after it say what went wrong.
            let start = std::time::Instant::now();
            while !waits(&mut watch, writer_pid) && start.elapsed().as_secs() < 20 {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let destroyer = scope.spawn(move || destroy(&mut other));
            // The destroyer waits for the write's subject (without the lock it does not).
            let start = std::time::Instant::now();
            while !waits(&mut watch, other_pid) && start.elapsed().as_secs() < 2 {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            hold.commit().expect("releases the audit lock");
            writer.join().expect("the writer");
            destroyer.join().expect("the destroyer");
        });
    }

    #[test]
    fn two_servers_making_a_subjects_first_key_at_once_store_one_and_the_second_encrypts_again() {
        let Some(mut s) = scratch("key_made_twice") else {
            return;
        };
        let check = key_check(&mut s);
        let (first, second) = (made_key("p1", 1, &check), made_key("p1", 2, &check));
        let (rows, later) = ([row("acme", 80, "p1")], [row("acme", 81, "p1")]);
        let mut answer = None;
        // The second server's group waits for the first's key (the same slot), then finds it
        // stored: its own key is not, so its record, under that key, must not be either.
        while_a_write_waits_to_commit(&mut s, &rows, Some(&first), &mut |other| {
            let audit = audit_of("put", "acme");
            let write = Write {
                new_keys: Some(&second),
                ..acme_write(&later, None, &audit)
            };
            answer = other
                .commit_writes(&[write])
                .expect("the group commits")
                .pop();
        });
        assert!(
            matches!(answer, Some(Err(VaultError::DataKeyGone))),
            "{answer:?}"
        );
        assert_eq!(
            of_p1(&mut s, "records"),
            1,
            "the first server's record only"
        );
        let first_key =
            "SELECT count(*) FROM data_keys WHERE pseudonym = 'p1' AND wrapped = '\\x01'";
        assert_eq!(count(&mut s, "acme", first_key), 1);
        assert_eq!(of_p1(&mut s, "data_keys"), 1);
    }

    /// Runs `store_key` (which stores p1's key, made under the master key `check`) while a
    /// replacement of the master key holds the keys' table, then lets the replacement commit;
    /// returns `store_key`'s answer, which must be `MasterKeyReplaced`, with nothing stored.
    fn while_the_master_key_is_being_replaced(
        name: &str,
        store_key: &(dyn Fn(&mut PostgresStore, &str) -> Result<()> + Sync),
    ) {
        let Some(mut s) = scratch(name) else {
            return;
        };
        let check = key_check(&mut s);
        let writer_pid = backend_pid(&mut s.store);
        let mut watch = Client::connect(&s.url, NoTls).expect("connects");
        // What a replacement holds until it commits: the keys' table, and the new key's check.
        let mut replacing = Client::connect(&s.url, NoTls).expect("connects");
        replacing
            .batch_execute(&format!("SET search_path TO {}", s.schema))
            .expect("schema");
        let mut replace = replacing.transaction().expect("tx");
        replace
            .batch_execute("LOCK TABLE data_keys IN SHARE ROW EXCLUSIVE MODE; UPDATE meta SET value = 'the new master key' WHERE key = 'key_check'")
            .expect("the replacement's lock");
        let answer = std::thread::scope(|scope| {
            let store = &mut s.store;
            let check = &check;
            let writer = scope.spawn(move || store_key(store, check));
            let start = std::time::Instant::now();
            while !waits(&mut watch, writer_pid) && start.elapsed().as_secs() < 20 {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            replace.commit().expect("the replacement commits");
            writer.join().expect("the writer")
        });
        assert!(
            matches!(answer, Err(VaultError::MasterKeyReplaced)),
            "a key wrapped under the old master key, stored after the new one: {answer:?}"
        );
        assert_eq!(of_p1(&mut s, "data_keys"), 0);
        assert_eq!(of_p1(&mut s, "records"), 0);
    }

    #[test]
    fn a_key_a_write_made_while_the_master_key_is_being_replaced_is_refused() {
        while_the_master_key_is_being_replaced("write_during_replace", &|store, check| {
            let key = made_key("p1", 1, check);
            let (rows, audit) = ([row("acme", 90, "p1")], audit_of("put", "acme"));
            let write = Write {
                new_keys: Some(&key),
                ..acme_write(&rows, None, &audit)
            };
            store.commit_writes(&[write])?.pop().expect("one outcome")
        });
    }

    #[test]
    fn a_key_a_write_made_while_the_master_key_is_being_replaced_is_refused_one_statement_at_a_time()
     {
        // A backslash in the subject's name keeps the group's checks out of the one trip.
        while_the_master_key_is_being_replaced("write_during_replace_slow", &|store, check| {
            let key = made_key("p\\1", 1, check);
            let (rows, audit) = ([row("acme", 91, "p\\1")], audit_of("put", "acme"));
            let write = Write {
                new_keys: Some(&key),
                ..acme_write(&rows, None, &audit)
            };
            store.commit_writes(&[write])?.pop().expect("one outcome")
        });
    }

    #[test]
    fn a_key_made_alone_while_the_master_key_is_being_replaced_is_refused() {
        while_the_master_key_is_being_replaced("key_during_replace", &|store, check| {
            let key = made_key("p1", 1, check);
            store
                .insert_data_keys("acme", &key.rows, 5, check)
                .map(drop)
        });
    }

    #[test]
    fn a_write_to_many_subjects_takes_one_subject_lock_per_bucket_at_most() {
        let Some(mut s) = scratch("many_subjects") else {
            return;
        };
        let check = key_check(&mut s);
        let subjects: Vec<String> = (0..300).map(|i| format!("s{i}")).collect();
        let rows: Vec<RecordRow> = subjects
            .iter()
            .enumerate()
            .map(|(i, p)| row("acme", 1000 + i, p))
            .collect();
        let keys = NewKeys {
            rows: subjects
                .iter()
                .flat_map(|p| made_key(p, 1, &check).rows)
                .collect(),
            check: check.clone(),
        };
        let writer_pid = backend_pid(&mut s.store);
        let mut held = 0;
        while_a_write_waits_to_commit(&mut s, &rows, Some(&keys), &mut |other| {
            held = other
                .raw_client()
                .query_one(
                    &format!("SELECT count(*) FROM pg_locks WHERE pid = {writer_pid} AND locktype = 'advisory' AND classid = {SUBJECT_LOCK} AND objsubid = 2"),
                    &[],
                )
                .expect("locks")
                .get::<_, i64>(0);
        });
        assert!(
            held > 0 && held <= i64::from(crate::store::SUBJECT_LOCK_BUCKETS),
            "300 subjects held {held} locks"
        );
        assert_eq!(
            count(
                &mut s,
                "acme",
                "SELECT count(*) FROM records WHERE pseudonym LIKE 's%'"
            ),
            300
        );
    }

    /// How many rows of `table` acme's subject `p1` has.
    fn of_p1(s: &mut Scratch, table: &str) -> i64 {
        count(
            s,
            "acme",
            &format!("SELECT count(*) FROM {table} WHERE pseudonym = 'p1'"),
        )
    }

    #[test]
    fn a_key_a_write_in_progress_holds_is_not_destroyed_by_a_deletion_meanwhile() {
        let Some(mut s) = scratch("key_held") else {
            return;
        };
        give_keys(&mut s, &[("acme", "p1")]);
        // p1's only record, deleted while a new one is being written under the same key.
        let old = [row("acme", 40, "p1")];
        let audit = audit_of("put", "acme");
        s.store
            .insert_records(&acme_write(&old, None, &audit))
            .expect("the old record");
        let new = [row("acme", 41, "p1")];
        let old_id = old[0].record_id.clone();
        while_a_write_waits_to_commit(&mut s, &new, None, &mut |other| {
            other
                .in_tx("acme", "deleting a record", &mut |tx| {
                    tx.execute(
                        "DELETE FROM records WHERE tenant_id = 'acme' AND record_id = $1",
                        &[old_id.as_str().into()],
                    )?;
                    crate::store::destroy_unused_keys(tx, "acme", "p1")?;
                    Ok(())
                })
                .expect("deletes");
        });
        assert_eq!(of_p1(&mut s, "records"), 1, "the new record is in");
        assert_eq!(
            of_p1(&mut s, "data_keys"),
            1,
            "and its key with it: the deletion waited for the write and saw its record"
        );
    }

    #[test]
    fn an_erasure_during_a_write_erases_what_the_write_stored() {
        let Some(mut s) = scratch("erase_held") else {
            return;
        };
        give_keys(&mut s, &[("acme", "p1")]);
        let new = [row("acme", 50, "p1")];
        while_a_write_waits_to_commit(&mut s, &new, None, &mut |other| {
            let e = JournalEntry {
                erasure_id: "during-a-write".into(),
                tenant: "acme".into(),
                pseudonym: "p1".into(),
                erased_at: 6,
                keep: Vec::new(),
            };
            other
                .erase(&e, &mut |_, _| (Vec::new(), None))
                .expect("erases");
        });
        for table in ["records", "data_keys"] {
            assert_eq!(
                of_p1(&mut s, table),
                0,
                "{table}: the erasure waited for the write and took what it stored"
            );
        }
    }

    #[test]
    fn a_group_whose_transaction_fails_commits_each_write_alone() {
        let Some(mut s) = scratch("group_fallback") else {
            return;
        };
        give_keys(&mut s, &[("acme", "p1"), ("acme", "p2"), ("acme", "p3")]);
        // The second write repeats a stored record's id: its insert fails, and so does the
        // group's transaction; the first and third are then committed alone.
        let (r1, dup, r3) = (
            [row("acme", 20, "p1")],
            [row("acme", 0, "p2")],
            [row("acme", 22, "p3")],
        );
        let audit = audit_of("put", "acme");
        let write = |rows| acme_write(rows, None, &audit);
        let outcomes = s
            .store
            .commit_group(&[write(&r1[..]), write(&dup[..]), write(&r3[..])]);
        assert!(outcomes[0].is_ok() && outcomes[2].is_ok(), "{outcomes:?}");
        assert!(matches!(outcomes[1], Err(VaultError::Storage { .. })));
        assert_eq!(
            count(&mut s, "acme", "SELECT count(*) FROM audit_entries"),
            2
        );
        assert_eq!(
            count(
                &mut s,
                "acme",
                "SELECT count(*) FROM records WHERE created_at = 5"
            ),
            2
        );
    }

    fn tenants_visible(tx: &mut Transaction<'_>, table: &str) -> Vec<String> {
        // Deliberately no WHERE clause: the application "forgot" the tenant filter.
        tx.query(&format!("SELECT tenant_id FROM {table}"), &[])
            .expect("query")
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    #[test]
    fn rls_shows_a_query_without_a_tenant_filter_only_the_current_tenants_rows() {
        let Some(mut s) = scratch("rls_read") else {
            return;
        };
        let client = s.store.raw_client();
        for table in TENANT_TABLES {
            let mut tx = client.transaction().expect("tx");
            set_tenant(&mut tx, "acme").expect("tenant");
            let seen = tenants_visible(&mut tx, table);
            assert!(!seen.is_empty(), "{table}: acme sees its own rows");
            assert!(
                seen.iter().all(|t| t == "acme"),
                "{table}: acme saw {seen:?}"
            );
            tx.commit().expect("commit");
        }
        let mut tx = client.transaction().expect("tx");
        set_tenant(&mut tx, "globex").expect("tenant");
        assert_eq!(tenants_visible(&mut tx, "records"), ["globex"]);
        tx.commit().expect("commit");
    }

    #[test]
    fn rls_shows_no_rows_when_no_tenant_is_set() {
        let Some(mut s) = scratch("rls_none") else {
            return;
        };
        let client = s.store.raw_client();
        for table in TENANT_TABLES {
            let seen: Vec<String> = client
                .query(&format!("SELECT tenant_id FROM {table}"), &[])
                .expect("query")
                .iter()
                .map(|r| r.get(0))
                .collect();
            assert!(seen.is_empty(), "{table}: saw {seen:?} with no tenant set");
        }
    }

    #[test]
    fn rls_refuses_writing_or_moving_a_row_into_another_tenant() {
        let Some(mut s) = scratch("rls_write") else {
            return;
        };
        let client = s.store.raw_client();
        let mut tx = client.transaction().expect("tx");
        set_tenant(&mut tx, "acme").expect("tenant");
        let err = tx
            .execute(
                "INSERT INTO records (tenant_id, record_id, pseudonym, category, purposes, key_domain, ciphertext, created_at, clocks)
                 VALUES ('globex', 'x', 'p', 'c', '[]', 'd', '\\x00', 0, '{}')",
                &[],
            )
            .expect_err("WITH CHECK refuses another tenant's row");
        assert!(
            describe(&err).contains("row-level security"),
            "{}",
            describe(&err)
        );
        drop(tx);
        let mut tx = client.transaction().expect("tx");
        set_tenant(&mut tx, "acme").expect("tenant");
        assert!(
            tx.execute("UPDATE records SET tenant_id = 'globex'", &[])
                .is_err(),
            "moving rows out is refused"
        );
        drop(tx);
        let mut tx = client.transaction().expect("tx");
        set_tenant(&mut tx, "acme").expect("tenant");
        assert_eq!(
            tx.execute("DELETE FROM records", &[]).expect("delete"),
            2,
            "an unfiltered delete reaches acme's rows only"
        );
        tx.commit().expect("commit");
        let mut tx = client.transaction().expect("tx");
        set_tenant(&mut tx, "globex").expect("tenant");
        assert_eq!(tenants_visible(&mut tx, "records"), ["globex"]);
    }

    #[test]
    fn rls_is_forced_and_the_role_cannot_bypass_it() {
        let Some(mut s) = scratch("rls_forced") else {
            return;
        };
        let schema = s.schema.clone();
        let client = s.store.raw_client();
        let bypass: bool = client
            .query_one(
                "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
                &[],
            )
            .expect("role")
            .get(0);
        assert!(
            !bypass,
            "tests must run as a role that RLS binds (see .ci/run)"
        );
        for table in TENANT_TABLES {
            let (enabled, forced): (bool, bool) = client
                .query_one(
                    "SELECT c.relrowsecurity, c.relforcerowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = $1 AND c.relname = $2",
                    &[&schema, &table],
                )
                .map(|r| (r.get(0), r.get(1)))
                .expect("table exists");
            assert!(
                enabled && forced,
                "{table}: RLS enabled {enabled}, forced {forced}"
            );
        }
    }
}
