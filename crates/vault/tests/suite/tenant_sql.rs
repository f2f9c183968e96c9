//! Tenant scoping is checked, not only conventional: every SQL statement in the vault's source
//! that reads or changes a tenant table filters by tenant (`testkit/tenant_sql.rs` says how it
//! reads the source), except the few below, each with the reason it is not about one tenant.
//! A new statement without a tenant filter fails this test naming its file and line.

use std::path::Path;

use crate::tenant_filter::{Exception, assert_every_statement_filters_by_tenant};

/// Statements that deliberately span tenants.
const EXCEPTIONS: &[Exception] = &[
    Exception {
        statement: "SELECT r.version, EXISTS (SELECT 1 FROM tenants t WHERE t.tenant_id = {tenant}) FROM tenant_retention r WHERE r.tenant_id = {tenant} FOR SHARE OF r",
        reason: "filters by tenant, with the tenant written into the group's one-trip checks as \
                 a quoted literal (`sql_literal`), which the check cannot see as a parameter",
    },
    Exception {
        statement: "SELECT k.pseudonym, k.key_domain, k.category, encode(k.wrapped, 'hex') FROM data_keys k JOIN unnest({pseudonyms}, {domains}, {categories}) AS w (pseudonym, key_domain, category) USING (pseudonym, key_domain, category) WHERE k.tenant_id = {tenant}",
        reason: "filters by tenant, with the tenant written into the group's one-trip checks as \
                 a quoted literal (`sql_literal`), which the check cannot see as a parameter",
    },
    Exception {
        statement: "SELECT tenant_id, role, secret_sha256, revoked_at FROM access_keys WHERE key_id = $1",
        reason: "authentication: the presented key is looked up by its id, and its row says \
                 which tenant it belongs to",
    },
    Exception {
        statement: "SELECT EXISTS (SELECT 1 FROM access_keys WHERE key_id = $1 AND revoked_at IS NULL)",
        reason: "authentication on every server: whether a presented key (found by its id) is \
                 still live, read before its tenant's work starts",
    },
    Exception {
        statement: "INSERT INTO rate_buckets AS b (tenant_id, key_id, tokens, refilled_at, granted, taken) VALUES ($1, $2, $4::float8 - least($5::float8, floor($4::float8)), extract(epoch FROM clock_timestamp())::float8, true, least($5::float8, floor($4::float8))) ON CONFLICT (tenant_id, key_id) DO UPDATE SET taken = CASE WHEN least($4::float8, b.tokens + greatest(0, excluded.refilled_at - b.refilled_at) * $3::float8) >= 1 THEN least($5::float8, floor(least($4::float8, b.tokens + greatest(0, excluded.refilled_at - b.refilled_at) * $3::float8))) ELSE 0 END, tokens = least($4::float8, b.tokens + greatest(0, excluded.refilled_at - b.refilled_at) * $3::float8) - CASE WHEN least($4::float8, b.tokens + greatest(0, excluded.refilled_at - b.refilled_at) * $3::float8) >= 1 THEN least($5::float8, floor(least($4::float8, b.tokens + greatest(0, excluded.refilled_at - b.refilled_at) * $3::float8))) ELSE 0 END, granted = least($4::float8, b.tokens + greatest(0, excluded.refilled_at - b.refilled_at) * $3::float8) >= 1, refilled_at = greatest(b.refilled_at, excluded.refilled_at) RETURNING b.tokens, b.taken, EXISTS (SELECT 1 FROM access_keys k WHERE k.key_id = $2 AND k.revoked_at IS NULL)",
        reason: "the shared rate limit writes the key's own bucket (keyed by its tenant) and reads \
                 whether the key, found by its id, is still live, in one statement",
    },
    Exception {
        statement: "SELECT count(*) FROM access_keys WHERE role = 'admin' AND tenant_id IS NULL AND revoked_at IS NULL",
        reason: "bootstrap: whether an admin key (of no tenant) exists",
    },
    Exception {
        statement: "SELECT account_id, tenant_id, role, name, password_hash, totp_secret, totp_last_step, failures, locked_until, disabled_at FROM console_accounts WHERE name = $1",
        reason: "console sign-in: a person gives their account's name (unique across \
                 tenants), and its row says which tenant the account works for",
    },
    Exception {
        statement: "SELECT a.account_id, a.tenant_id, a.role, a.name, a.disabled_at, s.last_seen_at, s.ended_at FROM console_sessions s JOIN console_accounts a ON a.account_id = s.account_id WHERE s.token_sha256 = $1",
        reason: "a console session is found by its cookie's digest, and its account's row says \
                 which tenant it works for",
    },
    Exception {
        statement: "SELECT tenant_id, name, created_at FROM access_tenants ORDER BY tenant_id",
        reason: "the admin's list of tenants",
    },
    Exception {
        statement: "SELECT tenant_id FROM tenants ORDER BY tenant_id COLLATE \"C\"",
        reason: "the list of tenants that key rotation on PostgreSQL walks, in byte order: the \
                 order a group of writes takes its tenants' data keys in",
    },
    Exception {
        statement: "SELECT key_id, tenant_id, role, label, created_at, revoked_at FROM access_keys ORDER BY created_at, key_id",
        reason: "the admin's list of keys (a tenant's keys are filtered from it by `keys`)",
    },
    Exception {
        statement: "SELECT tenant_id FROM tenants ORDER BY tenant_id",
        reason: "the list of tenants itself, which the platform walks (the purger, the \
                 notifier, master-key rotation) to work on each tenant in turn, scoped to it",
    },
    Exception {
        statement: "SELECT tenant_id, pseudonym, key_domain, key_version, wrapped, category FROM data_keys",
        reason: "master-key rotation on SQLite re-wraps every tenant's data keys in one \
                 transaction (the key is the vault's, not a tenant's)",
    },
    Exception {
        statement: "SELECT (SELECT COALESCE(MAX(version), 0) FROM schema_migrations), (SELECT COUNT(*) FROM records), (SELECT COALESCE(MAX(seq), 0) FROM audit_entries)",
        reason: "`custos backup` reads back what the whole copy holds (every tenant's records \
                 are in a backup), on the copy itself",
    },
    Exception {
        statement: "INSERT INTO data_keys_v5 (tenant_id, pseudonym, key_domain, category, key_version, wrapped, created_at) SELECT tenant_id, pseudonym, key_domain, '', key_version, wrapped, created_at FROM data_keys",
        reason: "migration 5 copies the whole table to its new shape",
    },
];

#[test]
fn every_statement_on_a_tenant_table_filters_by_tenant() {
    assert_every_statement_filters_by_tenant(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        EXCEPTIONS,
    );
}
