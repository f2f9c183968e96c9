//! Retention on the stored records (PRODUCT.md C4, Art. 5(1)(e) GDPR: storage limitation).
//!
//! Every record carries `expires_at`, the moment [`custos_retention::expiry`] gives for it from
//! the policy's rule for its category, the record's own clocks, its subject's events and its
//! tenant's events and settings (tier, overrides). The column is kept true transactionally:
//!
//! - a write computes it from the tenant's retention state at version *v*, and the insert
//!   checks, under a lock on that state, that *v* is still current (else it recomputes);
//! - an event, a tier change or an override bumps the version and recomputes the records it can
//!   affect, in the same transaction;
//! - a policy whose retention rules changed (its fingerprint differs) makes the next purge
//!   recompute the tenant's records first.
//!
//! The purge then deletes due records in batches, oldest expiry first, each batch one
//! transaction with its receipts in the audit trail (per category: the rule, how many, the time
//! ranges; never a pseudonym or a payload). Legal holds are read inside the same transaction and
//! excluded in the statement itself, so no purge can remove what a hold covers; placing a hold
//! takes the tenant's retention row for update, so it waits for a batch in flight and every
//! later batch sees it. On PostgreSQL, each batch takes a per-tenant advisory lock first: several
//! servers purging at once take turns batch by batch, so none deletes a batch another took and
//! none is skipped (each batch's statement sees the batches before it gone).
//!
//! All of it is written once, over [`Tx`], for both backends.

use std::collections::{BTreeMap, HashMap};

use custos_policy::model::EventScope;
use custos_policy::resolved::BUILTIN_CLOCKS;
use custos_policy::{Period, Policy};
use custos_retention::{Clocks, Expiry, HoldScope, TenantSettings, rule_text};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, VaultError};
use crate::ids::{RecordId, SubjectId};
use crate::store::{Tx, Val};
use crate::vault::{AUDIT_CHECKPOINT_EVERY, TenantVault, Vault};

/// Records deleted per purge transaction, unless [`PurgeOptions::batch_size`] says otherwise.
pub const DEFAULT_BATCH: u32 = 10_000;

/// PostgreSQL advisory lock class taken (with a hash of the schema and tenant) by each purge
/// batch, so one tenant is purged by one server at a time. The two-key advisory lock space does
/// not overlap the single-key one the audit trail uses.
const PURGE_LOCK: i32 = 0x4355_5052; // "CUPR"

/// Rows read per page when expiries are recomputed (memory stays flat however large a tenant).
const PAGE: i64 = 2000;

/// Whom an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTarget {
    /// The whole tenant (`contract.ended`, `integration.removed`).
    Tenant,
    /// One subject (`consent.withdrawn`, `account.deleted`), optionally for one purpose only:
    /// then it reaches only the subject's records that serve that purpose.
    Subject {
        /// The app's identifier of the subject.
        subject: SubjectId,
        /// The purpose the event concerns, if it concerns one.
        purpose: Option<String>,
    },
    /// One record (`draft.decided`, `transcript.created`).
    Record(RecordId),
}

/// What an event, a tier change or an override did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChangeOutcome {
    /// Whether anything changed (an event already known with an earlier time changes nothing).
    pub changed: bool,
    /// How many records' expiries were recomputed.
    pub recomputed: u64,
}

/// What a legal hold covers, as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldTarget {
    /// Everything of the tenant.
    Tenant,
    /// Every record of one subject.
    Subject(SubjectId),
    /// Every record of one category (and of the categories under it).
    Category(String),
}

/// A legal hold as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldInfo {
    /// Its id.
    pub hold_id: String,
    /// `tenant`, `subject` or `category`.
    pub scope: String,
    /// The subject's pseudonym, for a subject hold.
    pub subject: Option<String>,
    /// The category, for a category hold.
    pub category: Option<String>,
    /// Why (a case number; no personal data).
    pub reason: String,
    /// Who placed it.
    pub set_by: String,
    /// When.
    pub set_at: Timestamp,
    /// When it was released, if it was.
    pub released_at: Option<Timestamp>,
    /// Who released it.
    pub released_by: Option<String>,
}

/// How a purge runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeOptions {
    /// Records per batch (one transaction and one receipt per category each).
    pub batch_size: u32,
    /// Only report what would go.
    pub dry_run: bool,
    /// Stop after this many batches (an operator's throttle; tests use it to stop halfway).
    pub max_batches: Option<u64>,
}

impl Default for PurgeOptions {
    fn default() -> Self {
        Self {
            batch_size: DEFAULT_BATCH,
            dry_run: false,
            max_batches: None,
        }
    }
}

/// What a purge did (or, dry, would do) for one rule of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleOutcome {
    /// The tenant.
    pub tenant: String,
    /// The category.
    pub category: String,
    /// The rule, in words.
    pub rule: String,
    /// Records purged (or due, on a dry run).
    pub purged: u64,
    /// Due records kept because a legal hold covers them.
    pub held: u64,
    /// The earliest and latest expiry among them.
    pub expired_from: Option<Timestamp>,
    /// See `expired_from`.
    pub expired_to: Option<Timestamp>,
}

/// What a purge did across tenants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    /// Whether nothing was deleted.
    pub dry_run: bool,
    /// The moment the purge measured expiry against.
    pub now: Option<Timestamp>,
    /// Per tenant and category, in order.
    pub rules: Vec<RuleOutcome>,
    /// Batches committed.
    pub batches: u64,
    /// Records whose expiry was recomputed first (the policy's retention rules changed).
    pub recomputed: u64,
    /// Tenants the purge could not run for, with the reason (a clock that went back, …).
    pub failed: Vec<(String, String)>,
}

impl PurgeReport {
    /// Records purged (or due) in all.
    pub fn purged(&self) -> u64 {
        self.rules.iter().map(|r| r.purged).sum()
    }
    /// Due records kept by legal holds.
    pub fn held(&self) -> u64 {
        self.rules.iter().map(|r| r.held).sum()
    }
}

/// One category in a tenant's retention report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryReport {
    /// The category.
    pub category: String,
    /// Its rule for this tenant, in words.
    pub rule: String,
    /// Records stored.
    pub records: u64,
    /// The oldest record's creation.
    pub oldest: Option<Timestamp>,
    /// The earliest expiry.
    pub next_expiry: Option<Timestamp>,
    /// Records already due (the next purge takes them unless held).
    pub due: u64,
    /// Records waiting for an event before their period can start or end.
    pub waiting: u64,
    /// Records under a legal hold.
    pub held: u64,
    /// Why the expiries of this category cannot be computed for the tenant, if they cannot
    /// ([`custos_retention::rule_problem`]): its writes are refused until it is fixed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A tenant's retention report: per category, and the holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// The tenant.
    pub tenant: String,
    /// When it was made.
    pub at: Timestamp,
    /// The tenant's tier.
    pub tier: Option<String>,
    /// The tenant's overrides: category → period in words.
    pub overrides: BTreeMap<String, String>,
    /// Tenant-level events: name → when.
    pub events: BTreeMap<String, Timestamp>,
    /// Per stored category of the policy (and any category found in the data).
    pub categories: Vec<CategoryReport>,
    /// The active legal holds.
    pub holds: Vec<HoldInfo>,
    /// When the tenant was last purged.
    pub last_purge: Option<Timestamp>,
}

/// The tenant's retention state, stored as JSON in `tenant_retention.state`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tier_since: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    overrides: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    events: BTreeMap<String, Timestamp>,
}

impl State {
    fn settings(&self) -> TenantSettings {
        TenantSettings::from_stored(self.tier.clone(), &self.overrides)
    }
}

/// The state row, read inside a transaction.
struct Row {
    version: i64,
    state: State,
    fingerprint: String,
    last_purge_at: Option<i64>,
}

/// A subject's event as stored.
#[derive(Debug, Clone)]
struct SubjectEvent {
    event: String,
    /// Empty: every purpose.
    purpose: String,
    at: Timestamp,
}

/// The retention-relevant part of a policy, hashed: when it changes, stored expiries are stale.
pub(crate) fn fingerprint(policy: &Policy) -> String {
    let rules: Vec<_> = policy
        .categories
        .iter()
        .map(|c| (&c.id, c.stored, &c.retention))
        .collect();
    let json = serde_json::to_vec(&rules).unwrap_or_default();
    hex::encode(&Sha256::digest(&json)[..16])
}

fn ts(micros: i64) -> Result<Timestamp> {
    Timestamp::from_microsecond(micros)
        .map_err(|_| VaultError::Corrupt(format!("impossible time {micros} in retention data")))
}

fn corrupt(what: &str) -> VaultError {
    VaultError::Corrupt(format!("unreadable {what} in retention data"))
}

/// Reads (creating at version 0) the tenant's state row; on PostgreSQL locks it `FOR UPDATE`
/// (`exclusive`) or `FOR SHARE`.
fn lock_state(tx: &mut dyn Tx, tenant: &str, exclusive: bool) -> Result<Row> {
    tx.execute(
        "INSERT INTO tenant_retention (tenant_id, version, state, fingerprint) VALUES ($1, 0, '{}', '') ON CONFLICT DO NOTHING",
        &[tenant.into()],
    )?;
    let lock = match (tx.postgres(), exclusive) {
        (false, _) => "",
        (true, true) => " FOR UPDATE",
        (true, false) => " FOR SHARE",
    };
    let rows = tx.query(
        &format!("SELECT version, state, fingerprint, last_purge_at FROM tenant_retention WHERE tenant_id = $1{lock}"),
        &[tenant.into()],
    )?;
    let mut row = rows
        .into_iter()
        .next()
        .ok_or_else(|| corrupt("tenant state"))?
        .into_iter();
    let mut next = || row.next().ok_or_else(|| corrupt("tenant state"));
    let version = next()?.int().ok_or_else(|| corrupt("state version"))?;
    let state_text = next()?.into_text().ok_or_else(|| corrupt("state"))?;
    let fingerprint = next()?.into_text().unwrap_or_default();
    let last_purge_at = next()?.int();
    let state = serde_json::from_str(&state_text).map_err(|_| corrupt("tenant state"))?;
    Ok(Row {
        version,
        state,
        fingerprint,
        last_purge_at,
    })
}

fn save_state(tx: &mut dyn Tx, tenant: &str, row: &Row) -> Result<()> {
    let text = serde_json::to_string(&row.state).map_err(|_| corrupt("tenant state"))?;
    tx.execute(
        "UPDATE tenant_retention SET version = $2, state = $3, fingerprint = $4, last_purge_at = $5 WHERE tenant_id = $1",
        &[
            tenant.into(),
            row.version.into(),
            text.into(),
            row.fingerprint.clone().into(),
            row.last_purge_at.into(),
        ],
    )?;
    Ok(())
}

/// Registers the tenant (settings and holds may come before its first record).
fn register_tenant(tx: &mut dyn Tx, tenant: &str, now: Timestamp) -> Result<()> {
    tx.execute(
        "INSERT INTO tenants (tenant_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[tenant.into(), now.as_microsecond().into()],
    )?;
    Ok(())
}

/// Events need data to act on: one for a tenant the vault has never seen is refused.
fn tenant_exists(tx: &mut dyn Tx, tenant: &str) -> Result<()> {
    let found = tx.query(
        "SELECT 1 FROM tenants WHERE tenant_id = $1",
        &[tenant.into()],
    )?;
    if found.is_empty() {
        return Err(VaultError::UnknownTenant(tenant.to_owned()));
    }
    Ok(())
}

use crate::store::placeholders;

/// Subject events of the given subjects (all of the tenant's when `None`).
fn subject_events(
    tx: &mut dyn Tx,
    tenant: &str,
    subjects: Option<&[&str]>,
) -> Result<HashMap<String, Vec<SubjectEvent>>> {
    let mut out: HashMap<String, Vec<SubjectEvent>> = HashMap::new();
    let mut load = |tx: &mut dyn Tx, sql: &str, params: &[Val]| -> Result<()> {
        for r in tx.query(sql, params)? {
            let mut it = r.into_iter();
            let (Some(p), Some(e), Some(pu), Some(at)) =
                (it.next(), it.next(), it.next(), it.next())
            else {
                return Err(corrupt("subject event"));
            };
            out.entry(p.into_text().ok_or_else(|| corrupt("pseudonym"))?)
                .or_default()
                .push(SubjectEvent {
                    event: e.into_text().ok_or_else(|| corrupt("event"))?,
                    purpose: pu.into_text().unwrap_or_default(),
                    at: ts(at.int().ok_or_else(|| corrupt("event time"))?)?,
                });
        }
        Ok(())
    };
    const COLS: &str =
        "SELECT pseudonym, event, purpose, occurred_at FROM subject_events WHERE tenant_id = $1";
    match subjects {
        None => load(tx, COLS, &[tenant.into()])?,
        Some(list) => {
            for chunk in list.chunks(400) {
                let mut params: Vec<Val> = vec![tenant.into()];
                params.extend(chunk.iter().map(|s| Val::from(*s)));
                load(
                    tx,
                    &format!("{COLS} AND pseudonym IN ({})", placeholders(2, chunk.len())),
                    &params,
                )?;
            }
        }
    }
    Ok(out)
}

/// Everything needed to compute a record's expiry besides the record itself.
pub(crate) struct Context<'a> {
    policy: &'a Policy,
    settings: TenantSettings,
    tenant_events: BTreeMap<String, Timestamp>,
    subjects: HashMap<String, Vec<SubjectEvent>>,
}

impl Context<'_> {
    /// The record's expiry in microseconds, or `None` while it waits for an event or when only
    /// criteria govern it (never purged automatically). An expiry that cannot be computed (an
    /// override that cannot be read, a period past the calendar's end) is an error naming the
    /// category: the write or change is refused rather than the record kept forever.
    pub(crate) fn expires_at(
        &self,
        category: &str,
        purposes: &[String],
        pseudonym: &str,
        created_at: Timestamp,
        record_clocks: &BTreeMap<String, Timestamp>,
    ) -> Result<Option<i64>> {
        let mut clocks = Clocks::created_at(created_at);
        let note = |clocks: &mut Clocks, name: &str, at: Timestamp| {
            if name == "last_activity" {
                // The latest activity counts, not the first.
                clocks.last_activity = Some(clocks.last_activity.map_or(at, |t| t.max(at)));
            } else {
                clocks.record(name, at);
            }
        };
        for (k, v) in record_clocks {
            note(&mut clocks, k, *v);
        }
        for (k, v) in &self.tenant_events {
            note(&mut clocks, k, *v);
        }
        for e in self.subjects.get(pseudonym).into_iter().flatten() {
            if e.purpose.is_empty() || purposes.contains(&e.purpose) {
                note(&mut clocks, &e.event, e.at);
            }
        }
        match custos_retention::expiry(self.policy, category, &clocks, &self.settings) {
            Ok(Expiry::At { at, .. }) => Ok(Some(at.as_microsecond())),
            Ok(Expiry::Pending { .. } | Expiry::Manual) => Ok(None),
            // A stored record of a category the policy (since changed) no longer names or
            // stores: no rule says when it goes, so it stays until the policy names it again or
            // the subject is erased, and the retention report lists it as not in the policy.
            // Writes never get here: they are validated against the policy first.
            Err(
                custos_retention::RetentionError::UnknownCategory(_)
                | custos_retention::RetentionError::NeverStored(_),
            ) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// What a retention change returns from its state update: the records to recompute and the
/// audit entry, or `None` when nothing changed.
type Applied = Option<(Scope, custos_audit::Event)>;

/// Which records a change can affect.
enum Scope {
    /// The tenant's records in these categories.
    Categories(Vec<String>),
    /// One subject's records (by pseudonym).
    Subject(String),
    /// One record.
    Record(String),
}

/// Recomputes and stores the expiries of the records in `scope`, page by page. Returns how
/// many were looked at.
fn recompute(tx: &mut dyn Tx, tenant: &str, ctx: &Context<'_>, scope: &Scope) -> Result<u64> {
    // The scope's condition, and its parameters from `$3`.
    let (filter, scope_params): (String, Vec<Val>) = match scope {
        Scope::Categories(cats) if cats.is_empty() => return Ok(0),
        Scope::Categories(cats) => (
            format!(" AND category IN ({})", placeholders(3, cats.len())),
            cats.iter().map(|c| Val::from(c.as_str())).collect(),
        ),
        Scope::Subject(p) => (" AND pseudonym = $3".into(), vec![p.as_str().into()]),
        Scope::Record(id) => (" AND record_id = $3".into(), vec![id.as_str().into()]),
    };
    let sql = page_query(tx, &filter);
    let in_key_order = matches!(scope, Scope::Categories(_));
    let mut after = String::new();
    let mut seen = 0u64;
    loop {
        let mut params = vec![tenant.into(), after.clone().into()];
        params.extend(scope_params.iter().cloned());
        let rows = read_page(tx, &sql, &params, in_key_order)?;
        let n = rows.len();
        if let Some(last) = recompute_rows(tx, tenant, ctx, rows)? {
            after = last;
        }
        seen += n as u64;
        if n < PAGE as usize {
            return Ok(seen);
        }
    }
}

/// The page query of a recompute: records of `tenant` after `$2` in id order, `filter` added
/// (its parameters from `$3`); on PostgreSQL with each row's location as a last column, so a
/// page's changes are written by that (see [`recompute_rows`]).
fn page_query(tx: &dyn Tx, filter: &str) -> String {
    let location = if tx.postgres() {
        ", CAST(ctid AS text)"
    } else {
        ""
    };
    format!(
        "SELECT record_id, pseudonym, category, purposes, created_at, clocks, expires_at{location} FROM records WHERE tenant_id = $1 AND record_id > $2{filter} ORDER BY record_id LIMIT {PAGE}"
    )
}

/// One page of a recompute ([`page_query`]). On PostgreSQL a table not yet analysed (a bulk
/// load, a restore) can make the planner expect a handful of rows and answer each page with a
/// scan of the whole tenant and a sort (seen: 30 s for 500 000 records). Pages over a tenant or
/// its categories (`in_key_order`) walk the primary key in order, so sorting is never the better
/// plan for them: it is turned off while one is read.
fn read_page(
    tx: &mut dyn Tx,
    sql: &str,
    params: &[Val],
    in_key_order: bool,
) -> Result<Vec<Vec<Val>>> {
    if !(in_key_order && tx.postgres()) {
        return tx.query(sql, params);
    }
    tx.query("SELECT set_config('enable_sort', 'off', true)", &[])?;
    let rows = tx.query(sql, params)?;
    tx.execute("SET LOCAL enable_sort TO DEFAULT", &[])?;
    Ok(rows)
}

/// Recomputes the expiries of one page of rows from [`page_query`] with `ctx` and stores those
/// that changed. Returns the last record id of the page.
fn recompute_rows(
    tx: &mut dyn Tx,
    tenant: &str,
    ctx: &Context<'_>,
    rows: Vec<Vec<Val>>,
) -> Result<Option<String>> {
    let batched = tx.postgres();
    // On PostgreSQL: the changed records of the page, as (row location, id, new expiry).
    let mut changed: Vec<(String, String, Option<i64>)> = Vec::new();
    let mut last = None;
    for r in rows {
        let mut it = r.into_iter();
        let mut next = || it.next().ok_or_else(|| corrupt("record"));
        let id = next()?.into_text().ok_or_else(|| corrupt("record id"))?;
        let pseudonym = next()?.into_text().ok_or_else(|| corrupt("pseudonym"))?;
        let category = next()?.into_text().ok_or_else(|| corrupt("category"))?;
        let purposes: Vec<String> =
            serde_json::from_str(next()?.text().unwrap_or("[]")).unwrap_or_default();
        let created = ts(next()?.int().ok_or_else(|| corrupt("creation time"))?)?;
        let clocks = parse_clocks(next()?.text().unwrap_or("{}"))?;
        let old = next()?.int();
        let new = ctx.expires_at(&category, &purposes, &pseudonym, created, &clocks)?;
        if new != old {
            if batched {
                let at = next()?.into_text().ok_or_else(|| corrupt("row location"))?;
                changed.push((at, id.clone(), new));
            } else {
                set_expiry(tx, tenant, &id, new)?;
            }
        }
        last = Some(id);
    }
    // On PostgreSQL a page's changes go in one statement that finds its rows by location
    // (a TID scan: no plan to go wrong on a table whose statistics are stale, where joining
    // by id was seen to scan the whole tenant for every page) and checks each is still the
    // record read. SQLite runs in process, where a statement per record costs little.
    if !changed.is_empty() {
        let locations: Vec<&str> = changed.iter().map(|(at, _, _)| at.as_str()).collect();
        let expiries: serde_json::Map<String, serde_json::Value> = changed
            .iter()
            .map(|(_, id, new)| (id.clone(), serde_json::Value::from(*new)))
            .collect();
        let written = tx.execute(
            "UPDATE records SET expires_at = CAST(CAST(CAST($3 AS text) AS jsonb) ->> record_id AS bigint) WHERE ctid = ANY(CAST(string_to_array(CAST($2 AS text), ';') AS tid[])) AND tenant_id = $1 AND CAST(CAST($3 AS text) AS jsonb) ? record_id",
            &[
                tenant.into(),
                locations.join(";").into(),
                serde_json::Value::Object(expiries).to_string().into(),
            ],
        )?;
        // A row moved since it was read (another transaction changed the record): the
        // page's changes are written again by id.
        if written != changed.len() as u64 {
            for (_, id, new) in &changed {
                set_expiry(tx, tenant, id, *new)?;
            }
        }
    }
    Ok(last)
}

/// Stores one record's recomputed expiry.
fn set_expiry(tx: &mut dyn Tx, tenant: &str, id: &str, expiry: Option<i64>) -> Result<()> {
    tx.execute(
        "UPDATE records SET expires_at = $3 WHERE tenant_id = $1 AND record_id = $2",
        &[tenant.into(), id.into(), expiry.into()],
    )?;
    Ok(())
}

pub(crate) fn parse_clocks(text: &str) -> Result<BTreeMap<String, Timestamp>> {
    let v: BTreeMap<String, String> =
        serde_json::from_str(text).map_err(|_| corrupt("record clocks"))?;
    v.into_iter()
        .map(|(k, v)| Ok((k, v.parse().map_err(|_| corrupt("record clock"))?)))
        .collect()
}

fn clocks_text(clocks: &BTreeMap<String, Timestamp>) -> String {
    let map: BTreeMap<&String, String> = clocks.iter().map(|(k, v)| (k, v.to_string())).collect();
    serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
}

/// The categories whose rule counts from or ends with `event`.
fn categories_on_event(policy: &Policy, event: &str) -> Vec<String> {
    policy
        .categories
        .iter()
        .filter(|c| {
            c.retention
                .as_ref()
                .is_some_and(|r| r.from == event || r.until.iter().any(|u| u == event))
        })
        .map(|c| c.id.clone())
        .collect()
}

/// The active holds, and the SQL filter that leaves out what they cover.
struct Holds {
    tenant_wide: bool,
    subjects: Vec<String>,
    categories: Vec<String>,
}

impl Holds {
    /// No hold of any kind is active.
    fn is_empty(&self) -> bool {
        !self.tenant_wide && self.subjects.is_empty() && self.categories.is_empty()
    }

    fn load(tx: &mut dyn Tx, tenant: &str, policy: &Policy) -> Result<Holds> {
        let mut h = Holds {
            tenant_wide: false,
            subjects: Vec::new(),
            categories: Vec::new(),
        };
        for r in tx.query(
            "SELECT pseudonym, category FROM holds WHERE tenant_id = $1 AND released_at IS NULL",
            &[tenant.into()],
        )? {
            let mut it = r.into_iter();
            let subject = it.next().and_then(Val::into_text);
            let category = it.next().and_then(Val::into_text);
            let scope = HoldScope::of(subject.as_deref(), category.as_deref());
            match (scope.purge_exempt(policy), subject) {
                (None, _) => h.tenant_wide = true,
                (Some(_), Some(s)) => h.subjects.push(s),
                (Some(exempt), None) => h.categories.extend(exempt),
            }
        }
        h.subjects.sort();
        h.subjects.dedup();
        h.categories.sort();
        h.categories.dedup();
        Ok(h)
    }

    /// ` AND pseudonym NOT IN (…) AND category NOT IN (…)` with placeholders from `$from`, and
    /// the values to bind.
    fn filter(&self, from: usize) -> (String, Vec<Val>) {
        let mut sql = String::new();
        let mut vals = Vec::new();
        if !self.subjects.is_empty() {
            sql.push_str(&format!(
                " AND pseudonym NOT IN ({})",
                placeholders(from, self.subjects.len())
            ));
            vals.extend(self.subjects.iter().map(|s| Val::from(s.as_str())));
        }
        if !self.categories.is_empty() {
            sql.push_str(&format!(
                " AND category NOT IN ({})",
                placeholders(from + vals.len(), self.categories.len())
            ));
            vals.extend(self.categories.iter().map(|s| Val::from(s.as_str())));
        }
        (sql, vals)
    }
}

fn validate_event(policy: &Policy, event: &str) -> Result<()> {
    let known = policy.events.iter().any(|e| e.id == event)
        || (BUILTIN_CLOCKS.contains(&event) && event != "created");
    if known {
        return Ok(());
    }
    let candidates = policy
        .events
        .iter()
        .map(|e| e.id.as_str())
        .chain(BUILTIN_CLOCKS.iter().copied().filter(|c| *c != "created"));
    Err(VaultError::UnknownEvent {
        event: event.to_owned(),
        nearest: custos_policy::diag::nearest(event, candidates).map(str::to_owned),
    })
}

fn hold_row(r: Vec<Val>) -> Result<HoldInfo> {
    let mut it = r.into_iter();
    let mut next = || it.next().ok_or_else(|| corrupt("hold"));
    let hold_id = next()?.into_text().ok_or_else(|| corrupt("hold id"))?;
    let subject = next()?.into_text();
    let category = next()?.into_text();
    let reason = next()?.into_text().unwrap_or_default();
    let set_by = next()?.into_text().unwrap_or_default();
    let set_at = ts(next()?.int().ok_or_else(|| corrupt("hold time"))?)?;
    let released_at = next()?.int().map(ts).transpose()?;
    let released_by = next()?.into_text();
    let scope = HoldScope::of(subject.as_deref(), category.as_deref()).kind();
    Ok(HoldInfo {
        hold_id,
        scope: scope.into(),
        subject,
        category,
        reason,
        set_by,
        set_at,
        released_at,
        released_by,
    })
}

const HOLD_COLUMNS: &str =
    "hold_id, pseudonym, category, reason, set_by, set_at, released_at, released_by";

/// An active hold and the categories declared under its category when it was placed.
pub(crate) struct ActiveHold {
    /// The hold.
    pub info: HoldInfo,
    /// The categories whose `parent` was the held category when the hold was placed (empty for
    /// other holds, and for holds placed before Custos recorded them).
    pub declared_under: Vec<String>,
}

impl ActiveHold {
    /// Whether the hold covers a record of `category` of the subject behind `pseudonym`: what
    /// [`HoldScope::covers`] says, and the categories declared under a held category (Art.
    /// 17(3)(e): data kept for legal claims is not erased).
    pub fn covers(&self, pseudonym: &str, category: &str) -> bool {
        HoldScope::of(self.info.subject.as_deref(), self.info.category.as_deref())
            .covers(pseudonym, category)
            || self.declared_under.iter().any(|c| c == category)
    }

    /// Whether it covers any of the data of the subject, who has records of `categories`.
    pub fn covers_any(&self, pseudonym: &str, categories: &[String]) -> bool {
        HoldScope::of(self.info.subject.as_deref(), self.info.category.as_deref())
            .covers_any(pseudonym, categories.iter().map(String::as_str))
            || categories.iter().any(|c| self.declared_under.contains(c))
    }
}

/// The tenant's active holds that can cover data of the subject behind `pseudonym`: those of
/// the tenant or a category, and the subject's own; oldest first. Which of them covers what is
/// [`ActiveHold::covers`]'s to say.
pub(crate) fn active_holds_for(
    tx: &mut dyn Tx,
    tenant: &str,
    pseudonym: &str,
) -> Result<Vec<ActiveHold>> {
    tx.query(
        &format!(
            "SELECT {HOLD_COLUMNS}, covers FROM holds WHERE tenant_id = $1 AND released_at IS NULL AND (pseudonym IS NULL OR pseudonym = $2) ORDER BY set_at, hold_id"
        ),
        &[tenant.into(), pseudonym.into()],
    )?
    .into_iter()
    .map(|mut row| {
        let covers = row.pop().and_then(Val::into_text);
        let declared_under = match covers {
            Some(json) => serde_json::from_str(&json).map_err(|_| corrupt("hold's categories"))?,
            None => Vec::new(),
        };
        Ok(ActiveHold {
            info: hold_row(row)?,
            declared_under,
        })
    })
    .collect()
}

/// Refuses a purge whose clock is behind the tenant's last purge by more than the allowed
/// skew. Servers' clocks differ a little: within [`CLOCK_SKEW_SECONDS`](custos_types::limits::CLOCK_SKEW_SECONDS) a purge goes ahead (an
/// earlier "now" only purges less); beyond it the clock is wrong.
fn check_purge_clock(tenant: &str, last_purge_at: Option<i64>, now: Timestamp) -> Result<()> {
    match last_purge_at {
        Some(last)
            if last
                > now.as_microsecond() + custos_types::limits::CLOCK_SKEW_SECONDS * 1_000_000 =>
        {
            Err(VaultError::ClockWentBack {
                tenant: tenant.to_owned(),
                last: ts(last)?,
                now,
            })
        }
        _ => Ok(()),
    }
}

/// What a purge run needs in each of its transactions.
struct PurgeRun<'p> {
    tenant: String,
    actor: String,
    key: custos_audit::SigningKey,
    policy: &'p Policy,
    settings: TenantSettings,
    now: Timestamp,
}

impl PurgeRun<'_> {
    /// The outcome of `category` in `per`, started with the category's rule if new.
    fn outcome<'m>(
        &self,
        per: &'m mut BTreeMap<String, RuleOutcome>,
        category: &str,
    ) -> &'m mut RuleOutcome {
        per.entry(category.to_owned())
            .or_insert_with(|| RuleOutcome {
                tenant: self.tenant.clone(),
                category: category.to_owned(),
                rule: rule_text(self.policy, category, &self.settings),
                purged: 0,
                held: 0,
                expired_from: None,
                expired_to: None,
            })
    }

    /// Appends `events` to the audit trail at the run's time.
    fn append(&self, tx: &mut dyn Tx, events: &[custos_audit::Event]) -> Result<()> {
        tx.append_audit(&mut |head| {
            custos_audit::build(head, events, self.now, &self.key, AUDIT_CHECKPOINT_EVERY)
        })
    }
}

/// The figures of one category's records in a purge batch (microseconds).
#[derive(Debug, Clone, Copy)]
struct Group {
    records: u64,
    expired_from: i64,
    expired_to: i64,
    created_from: i64,
    created_to: i64,
}

/// Per category, the figures of a batch's records.
type Groups = BTreeMap<String, Group>;

/// Adds a row `category, records, min expiry, max expiry, min creation, max creation` to
/// `groups`.
fn add_group(groups: &mut Groups, r: &[Val]) {
    let int = |i: usize| r.get(i).and_then(Val::int).unwrap_or(0);
    let category = r.first().and_then(Val::text).unwrap_or_default();
    let g = match groups.get_mut(category) {
        Some(g) => g,
        None => groups.entry(category.to_owned()).or_insert(Group {
            records: 0,
            expired_from: i64::MAX,
            expired_to: i64::MIN,
            created_from: i64::MAX,
            created_to: i64::MIN,
        }),
    };
    g.records += int(1) as u64;
    g.expired_from = g.expired_from.min(int(2));
    g.expired_to = g.expired_to.max(int(3));
    g.created_from = g.created_from.min(int(4));
    g.created_to = g.created_to.max(int(5));
}

/// What one purge batch did.
struct Batch {
    /// Per category, what it deleted.
    groups: Groups,
    /// Records it set out to purge (more than it purged if some changed meanwhile).
    claimed: u64,
    /// Whether it saw no legal hold at all.
    unheld: bool,
    /// PostgreSQL: where the next batch starts.
    next_lo: i64,
}

impl Batch {
    /// Records deleted.
    fn purged(&self) -> u64 {
        self.groups.values().map(|g| g.records).sum()
    }
}

/// One purge batch, inside its transaction: on PostgreSQL the purger lock first, then the
/// tenant's state (shared) and its holds, the deletion of up to `batch_size` due records not
/// held, in the backend's dialect, and their receipts. `lo` is where the batch starts on
/// PostgreSQL (the last batch's final expiry instant).
fn purge_batch(tx: &mut dyn Tx, run: &PurgeRun<'_>, batch_size: u32, lo: i64) -> Result<Batch> {
    let tenant = run.tenant.as_str();
    if tx.postgres() {
        // One purger per tenant at a time (see PURGE_LOCK): a second server waits here for
        // the batch in flight, then its statement's snapshot sees that batch gone, so no batch
        // is taken twice and none is skipped. A batch commits without waiting for its WAL to
        // reach the disk: a database crash can lose the last batches, but only whole, with
        // their receipts (the next purge does them again); the purge's closing transaction
        // waits for all of it.
        tx.execute(
            &format!("SELECT set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock({PURGE_LOCK}, hashtext(current_schema() || '/' || $1))"),
            &[tenant.into()],
        )?;
    }
    lock_state(tx, tenant, false)?;
    let holds = Holds::load(tx, tenant, run.policy)?;
    let mut batch = Batch {
        groups: Groups::new(),
        claimed: 0,
        unheld: holds.is_empty(),
        next_lo: lo,
    };
    if holds.tenant_wide {
        return Ok(batch);
    }
    let (filter, vals) = holds.filter(4);
    let cond = format!("tenant_id = $1 AND expires_at IS NOT NULL AND expires_at <= $2{filter}");
    let mut params: Vec<Val> = vec![
        tenant.into(),
        run.now.as_microsecond().into(),
        i64::from(batch_size).into(),
    ];
    params.extend(vals);
    // The application hears which records went (crate::app_events): then the batch's deleting
    // statement returns their ids.
    let mut listed = crate::app_events::hooked(tx, tenant)?.then(Vec::new);
    if tx.postgres() {
        delete_batch_postgres(tx, &cond, params, batch_size, &mut batch, listed.as_mut())?;
    } else if let Some(ids) = listed.as_mut() {
        delete_batch_listed(tx, &cond, &params, &mut batch, ids)?;
    } else {
        delete_batch_sqlite(tx, &cond, &params, &mut batch)?;
    }
    if let Some(records) = listed.filter(|r| !r.is_empty()) {
        let categories = batch.groups.keys().map(String::as_str).collect();
        let event = crate::app_events::AppEvent::Purged {
            categories,
            records,
        };
        crate::app_events::enqueue(tx, tenant, event, run.now)?;
    }
    if !batch.groups.is_empty() {
        purge_receipts(tx, run, &batch.groups)?;
    }
    Ok(batch)
}

/// SQLite: deletes the batch's records in expiry order; the deleted rows' figures come back and
/// are summed here. `cond` selects the due records not held; `params` are its values, the batch
/// size third.
fn delete_batch_sqlite(
    tx: &mut dyn Tx,
    cond: &str,
    params: &[Val],
    batch: &mut Batch,
) -> Result<()> {
    let sql = format!(
        "DELETE FROM records WHERE tenant_id = $1 AND record_id IN (SELECT record_id FROM records WHERE {cond} ORDER BY expires_at LIMIT $3) RETURNING category, 1, expires_at, expires_at, created_at, created_at"
    );
    for r in tx.query(&sql, params)? {
        add_group(&mut batch.groups, &r);
    }
    batch.claimed = batch.purged();
    Ok(())
}

/// SQLite, for a tenant whose application is told of purges: deletes the batch's records in
/// expiry order, their ids into `ids` (the figures summed as in [`delete_batch_sqlite`]).
fn delete_batch_listed(
    tx: &mut dyn Tx,
    cond: &str,
    params: &[Val],
    batch: &mut Batch,
    ids: &mut Vec<String>,
) -> Result<()> {
    let sql = format!(
        "DELETE FROM records WHERE tenant_id = $1 AND record_id IN (SELECT record_id FROM records WHERE {cond} ORDER BY expires_at LIMIT $3) RETURNING {LISTED_COLUMNS}"
    );
    add_listed(tx.query(&sql, params)?, batch, ids);
    batch.claimed = batch.purged();
    Ok(())
}

/// What a listing DELETE returns per record: the figures of [`add_group`], then the record id.
const LISTED_COLUMNS: &str =
    "category, CAST(1 AS BIGINT), expires_at, expires_at, created_at, created_at, record_id";

/// Sums the rows of a listing DELETE into the batch's figures and collects their ids.
fn add_listed(rows: Vec<Vec<Val>>, batch: &mut Batch, ids: &mut Vec<String>) {
    for r in rows {
        add_group(&mut batch.groups, &r);
        if let Some(id) = r.get(6).and_then(Val::text) {
            ids.push(id.to_owned());
        }
    }
}

/// PostgreSQL: a batch is a range of expiry instants, walked up the expiry index from where the
/// last batch ended (`batch.next_lo` on entry), so no batch wades through the index entries its
/// predecessors left dead. The range ends at the expiry of the batch's n-th record. A first
/// statement sums the receipts' figures over the range; the DELETE then removes the same range
/// through the index, returning nothing. The rows are not locked first (a row lock costs a WAL
/// record per row): the purger lock keeps purgers apart and the tenant's state lock keeps holds
/// and recomputed expiries still; only a record erased or rewritten in between can make the
/// DELETE's count differ from the claim's. Then the batch goes back to its savepoint and is done
/// again returning every deleted row's figures, so a receipt never counts a record that was not
/// purged.
fn delete_batch_postgres(
    tx: &mut dyn Tx,
    cond: &str,
    mut params: Vec<Val>,
    batch_size: u32,
    batch: &mut Batch,
    listed: Option<&mut Vec<String>>,
) -> Result<()> {
    let lo = batch.next_lo;
    let lo_at = params.len() + 1;
    let range = format!("{cond} AND expires_at >= ${lo_at}");
    params.push(lo.into());
    // The claim looks at no more than n + 1 records of the range: more than n means records
    // share the range's last instant with the n-th (a tenant event dates them all alike); then
    // this batch takes n in expiry order by physical row id, in a statement that returns the
    // figures of what it deleted, and the next batch starts from the same instant. So no batch
    // exceeds n.
    let claim = format!(
        "WITH b AS (SELECT COALESCE((SELECT expires_at FROM records WHERE {range} ORDER BY expires_at OFFSET CAST($3 AS bigint) - 1 LIMIT 1), $2) AS upto)
         SELECT category, COUNT(*), MIN(expires_at), MAX(expires_at), MIN(created_at), MAX(created_at), (SELECT upto FROM b)
         FROM (SELECT category, expires_at, created_at FROM records WHERE {range} AND expires_at <= (SELECT upto FROM b) LIMIT CAST($3 AS bigint) + 1) s
         GROUP BY category"
    );
    let mut upto = None;
    for r in tx.query(&claim, &params)? {
        add_group(&mut batch.groups, &r);
        upto = r.get(6).and_then(Val::int);
    }
    let Some(upto) = upto else { return Ok(()) };
    let claimed = batch.purged();
    if let Some(ids) = listed {
        // The application is told which records went: every deleting statement returns them,
        // and their figures are summed from what it returned (exact without a second pass).
        batch.groups.clear();
        let sql = if claimed > u64::from(batch_size) {
            batch.next_lo = lo;
            format!(
                "DELETE FROM records WHERE {range} AND ctid = ANY(ARRAY(SELECT ctid FROM records WHERE {range} ORDER BY expires_at LIMIT $3)) RETURNING {LISTED_COLUMNS}"
            )
        } else {
            params[2] = upto.into();
            batch.next_lo = upto;
            format!(
                "DELETE FROM records WHERE {range} AND expires_at <= $3 RETURNING {LISTED_COLUMNS}"
            )
        };
        add_listed(tx.query(&sql, &params)?, batch, ids);
        batch.claimed = batch.purged();
        return Ok(());
    }
    if claimed > u64::from(batch_size) {
        batch.groups.clear();
        let bounded = format!(
            "WITH d AS (DELETE FROM records WHERE {range} AND ctid = ANY(ARRAY(SELECT ctid FROM records WHERE {range} ORDER BY expires_at LIMIT $3)) RETURNING category, expires_at, created_at)
             SELECT category, COUNT(*), MIN(expires_at), MAX(expires_at), MIN(created_at), MAX(created_at) FROM d GROUP BY category"
        );
        for r in tx.query(&bounded, &params)? {
            add_group(&mut batch.groups, &r);
        }
        batch.claimed = batch.purged();
        batch.next_lo = lo;
        return Ok(());
    }
    params[2] = upto.into();
    batch.claimed = claimed;
    tx.execute("SAVEPOINT purge_batch", &[])?;
    let deleted = tx.execute(
        &format!("DELETE FROM records WHERE {range} AND expires_at <= $3"),
        &params,
    )?;
    if deleted != claimed {
        tx.execute("ROLLBACK TO SAVEPOINT purge_batch", &[])?;
        batch.groups.clear();
        let exact = format!(
            "WITH d AS (DELETE FROM records WHERE {range} AND expires_at <= $3 RETURNING category, expires_at, created_at)
             SELECT category, COUNT(*), MIN(expires_at), MAX(expires_at), MIN(created_at), MAX(created_at) FROM d GROUP BY category"
        );
        for r in tx.query(&exact, &params)? {
            add_group(&mut batch.groups, &r);
        }
    }
    batch.next_lo = upto;
    Ok(())
}

/// A batch's receipts in the audit trail: one per category, with its rule, how many records
/// and their time ranges. No pseudonyms, no payloads.
fn purge_receipts(tx: &mut dyn Tx, run: &PurgeRun<'_>, groups: &Groups) -> Result<()> {
    let t = |m: i64| {
        Timestamp::from_microsecond(m)
            .map(|x| x.to_string())
            .unwrap_or_default()
    };
    let events: Vec<custos_audit::Event> = groups
        .iter()
        .map(|(c, g)| {
            custos_audit::Event::new(
                &run.tenant,
                &run.actor,
                "retention.purged",
                None,
                serde_json::json!({
                    "rule": rule_text(run.policy, c, &run.settings),
                    "category": c,
                    "records": g.records,
                    "expired_from": t(g.expired_from),
                    "expired_to": t(g.expired_to),
                    "created_from": t(g.created_from),
                    "created_to": t(g.created_to),
                    "purged_at": run.now,
                }),
            )
        })
        .collect();
    run.append(tx, &events)
}

impl TenantVault<'_> {
    /// The context for computing expiries of new records of `subjects`, and the state version
    /// it was read at.
    pub(crate) fn retention_context<'p>(
        &mut self,
        policy: &'p Policy,
        subjects: &[&str],
    ) -> Result<(i64, Context<'p>)> {
        let tenant = self.tenant_id().as_str().to_owned();
        let (row, events) = self.store().retention_inputs(&tenant, subjects)?;
        let (version, state) = match row {
            Some((v, text)) => (
                v,
                serde_json::from_str::<State>(&text).map_err(|_| corrupt("tenant state"))?,
            ),
            None => (0, State::default()),
        };
        let mut subjects: HashMap<String, Vec<SubjectEvent>> = HashMap::new();
        for e in events {
            subjects.entry(e.pseudonym).or_default().push(SubjectEvent {
                event: e.event,
                purpose: e.purpose,
                at: ts(e.at.ok_or_else(|| corrupt("event time"))?)?,
            });
        }
        Ok((
            version,
            Context {
                policy,
                settings: state.settings(),
                tenant_events: state.events,
                subjects,
            },
        ))
    }

    /// Runs a retention change: locks the tenant's state, lets `apply` change it (returning the
    /// records to recompute, or `None` when nothing changed), bumps the version, recomputes and
    /// writes the audit entry, all in one transaction.
    fn change(
        &mut self,
        policy: &Policy,
        operation: &'static str,
        now: Timestamp,
        register: bool,
        apply: &mut dyn FnMut(&mut dyn Tx, &mut State) -> Result<Applied>,
    ) -> Result<ChangeOutcome> {
        let tenant = self.tenant_id().as_str().to_owned();
        let key = self.audit_key().clone();
        let mut outcome = ChangeOutcome {
            changed: false,
            recomputed: 0,
        };
        self.store().in_tx(&tenant, operation, &mut |tx| {
            if register {
                register_tenant(tx, &tenant, now)?;
            } else {
                tenant_exists(tx, &tenant)?;
            }
            let mut row = lock_state(tx, &tenant, true)?;
            let Some((scope, mut event)) = apply(tx, &mut row.state)? else {
                return Ok(());
            };
            row.version += 1;
            save_state(tx, &tenant, &row)?;
            let pseudonym = match &scope {
                Scope::Subject(p) => Some(vec![p.as_str()]),
                _ => None,
            };
            let ctx = Context {
                policy,
                settings: row.state.settings(),
                tenant_events: row.state.events.clone(),
                subjects: subject_events(tx, &tenant, pseudonym.as_deref())?,
            };
            let n = recompute(tx, &tenant, &ctx, &scope)?;
            if let Some(obj) = event.details.as_object_mut() {
                obj.insert("recomputed".into(), n.into());
            }
            tx.append_audit(&mut |head| {
                custos_audit::build(
                    head,
                    std::slice::from_ref(&event),
                    now,
                    &key,
                    AUDIT_CHECKPOINT_EVERY,
                )
            })?;
            outcome = ChangeOutcome {
                changed: true,
                recomputed: n,
            };
            Ok(())
        })?;
        Ok(outcome)
    }

    /// Records that `event` happened at `at` for `target` (Art. 5(1)(e)): idempotent, and late or
    /// out-of-order events are safe, because the first time an event happened is the one that
    /// counts (`last_activity`: the latest). Recomputes the expiries the event can change.
    pub fn record_event(
        &mut self,
        policy: &Policy,
        target: &EventTarget,
        event: &str,
        at: Timestamp,
        now: Timestamp,
    ) -> Result<ChangeOutcome> {
        validate_event(policy, event)?;
        if custos_types::limits::beyond_skew(at.as_second(), now.as_second()) {
            return Err(VaultError::EventInFuture {
                event: event.to_owned(),
                at,
                now,
                skew_seconds: custos_types::limits::CLOCK_SKEW_SECONDS,
            });
        }
        let scope = match target {
            EventTarget::Tenant => EventScope::Tenant,
            EventTarget::Subject { .. } => EventScope::Subject,
            EventTarget::Record(_) => EventScope::Record,
        };
        if let Some(decl) = policy.events.iter().find(|e| e.id == event)
            && !decl.allows(scope)
        {
            return Err(VaultError::EventScope {
                event: event.to_owned(),
                asked: scope.as_str(),
                declared: decl
                    .scope
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let tenant = self.tenant_id().as_str().to_owned();
        let actor = self.actor().to_owned();
        let later = |old: Timestamp| {
            if event == "last_activity" {
                at <= old
            } else {
                at >= old
            }
        };
        match target {
            EventTarget::Tenant => {
                let cats = categories_on_event(policy, event);
                self.change(policy, "recording a tenant event", now, false, &mut |_, state| {
                    if state.events.get(event).is_some_and(|old| later(*old)) {
                        return Ok(None);
                    }
                    state.events.insert(event.to_owned(), at);
                    Ok(Some((
                        Scope::Categories(cats.clone()),
                        custos_audit::Event::new(&tenant, &actor, "retention.event", None, serde_json::json!({ "event": event, "scope": "tenant", "at": at })),
                    )))
                })
            }
            EventTarget::Subject { subject, purpose } => {
                if let Some(p) = purpose
                    && policy.purpose(p).is_none()
                {
                    return Err(VaultError::UnknownPurpose {
                        purpose: p.clone(),
                        category: "-".into(),
                    });
                }
                let pseudonym = self.pseudonym(subject).as_str().to_owned();
                let purpose = purpose.clone().unwrap_or_default();
                self.change(policy, "recording a subject event", now, false, &mut |tx, _| {
                    let known = tx.query(
                        "SELECT 1 FROM subjects WHERE tenant_id = $1 AND pseudonym = $2",
                        &[tenant.as_str().into(), pseudonym.as_str().into()],
                    )?;
                    if known.is_empty() {
                        return Err(VaultError::UnknownSubject);
                    }
                    let old = tx.query(
                        "SELECT occurred_at FROM subject_events WHERE tenant_id = $1 AND pseudonym = $2 AND event = $3 AND purpose = $4",
                        &[tenant.as_str().into(), pseudonym.as_str().into(), event.into(), purpose.as_str().into()],
                    )?;
                    let old = old.into_iter().next().and_then(|r| r.first().and_then(Val::int));
                    if let Some(old) = old
                        && later(ts(old)?)
                    {
                        return Ok(None);
                    }
                    tx.execute(
                        "DELETE FROM subject_events WHERE tenant_id = $1 AND pseudonym = $2 AND event = $3 AND purpose = $4",
                        &[tenant.as_str().into(), pseudonym.as_str().into(), event.into(), purpose.as_str().into()],
                    )?;
                    tx.execute(
                        "INSERT INTO subject_events (tenant_id, pseudonym, event, purpose, occurred_at) VALUES ($1, $2, $3, $4, $5)",
                        &[tenant.as_str().into(), pseudonym.as_str().into(), event.into(), purpose.as_str().into(), at.as_microsecond().into()],
                    )?;
                    Ok(Some((
                        Scope::Subject(pseudonym.clone()),
                        custos_audit::Event::new(&tenant, &actor, "retention.event", Some(pseudonym.clone()), serde_json::json!({ "event": event, "scope": "subject", "purpose": purpose, "at": at })),
                    )))
                })
            }
            EventTarget::Record(id) => {
                self.change(policy, "recording a record event", now, false, &mut |tx, _| {
                    let rows = tx.query(
                        "SELECT clocks, pseudonym FROM records WHERE tenant_id = $1 AND record_id = $2",
                        &[tenant.as_str().into(), id.as_str().into()],
                    )?;
                    let Some(r) = rows.into_iter().next() else {
                        return Err(VaultError::RecordNotFound(id.clone()));
                    };
                    let mut clocks = parse_clocks(r[0].text().unwrap_or("{}"))?;
                    let pseudonym = r[1].text().map(str::to_owned);
                    if clocks.get(event).is_some_and(|old| later(*old)) {
                        return Ok(None);
                    }
                    clocks.insert(event.to_owned(), at);
                    tx.execute(
                        "UPDATE records SET clocks = $3 WHERE tenant_id = $1 AND record_id = $2",
                        &[tenant.as_str().into(), id.as_str().into(), clocks_text(&clocks).into()],
                    )?;
                    Ok(Some((
                        Scope::Record(id.as_str().to_owned()),
                        custos_audit::Event::new(&tenant, &actor, "retention.event", pseudonym, serde_json::json!({ "event": event, "scope": "record", "record": id.as_str(), "at": at })),
                    )))
                })
            }
        }
    }
}

impl TenantVault<'_> {
    /// The first active legal hold that covers any of the subject's data, if one does: the
    /// whole tenant, the subject, or a category (or a dotted sub-category) it has records in
    /// ([`HoldScope::covers_any`]).
    pub(crate) fn hold_on_subject(&mut self, pseudonym: &str) -> Result<Option<HoldInfo>> {
        let tenant = self.tenant_id().as_str().to_owned();
        let mut found = None;
        self.store()
            .in_tx(&tenant, "checking legal holds", &mut |tx| {
                let candidates = active_holds_for(tx, &tenant, pseudonym)?;
                if candidates.is_empty() {
                    found = None;
                    return Ok(());
                }
                let categories: Vec<String> = tx
                .query(
                    "SELECT DISTINCT category FROM records WHERE tenant_id = $1 AND pseudonym = $2",
                    &[tenant.as_str().into(), pseudonym.into()],
                )?
                .into_iter()
                .filter_map(|r| r.into_iter().next().and_then(Val::into_text))
                .collect();
                found = candidates
                    .into_iter()
                    .find(|h| h.covers_any(pseudonym, &categories))
                    .map(|h| h.info);
                Ok(())
            })?;
        Ok(found)
    }

    /// Sets the tenant's subscription tier as of `since`. A change dated before the tier already
    /// recorded is stale (it arrived out of order) and changes nothing.
    pub fn set_tier(
        &mut self,
        policy: &Policy,
        tier: &str,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<ChangeOutcome> {
        if !policy.tiers.iter().any(|t| t.id == tier) {
            return Err(VaultError::UnknownTier {
                tier: tier.to_owned(),
                nearest: custos_policy::diag::nearest(
                    tier,
                    policy.tiers.iter().map(|t| t.id.as_str()),
                )
                .map(str::to_owned),
            });
        }
        let cats: Vec<String> = policy
            .categories
            .iter()
            .filter(|c| c.retention.as_ref().is_some_and(|r| !r.tiers.is_empty()))
            .map(|c| c.id.clone())
            .collect();
        let tenant = self.tenant_id().as_str().to_owned();
        let actor = self.actor().to_owned();
        self.change(policy, "changing the tier", now, true, &mut |_, state| {
            if state.tier_since.is_some_and(|t| t > since)
                || (state.tier.as_deref() == Some(tier) && state.tier_since == Some(since))
            {
                return Ok(None);
            }
            state.tier = Some(tier.to_owned());
            state.tier_since = Some(since);
            Ok(Some((
                Scope::Categories(cats.clone()),
                custos_audit::Event::new(
                    &tenant,
                    &actor,
                    "retention.tier",
                    None,
                    serde_json::json!({ "tier": tier, "since": since }),
                ),
            )))
        })
    }

    /// Sets (or with `None` removes) the tenant's own period for `category`, which must lie
    /// within the policy's bounds ([`custos_retention::check_override`]).
    pub fn set_override(
        &mut self,
        policy: &Policy,
        category: &str,
        period: Option<Period>,
        now: Timestamp,
    ) -> Result<ChangeOutcome> {
        if let Some(p) = period {
            custos_retention::check_override(policy, category, p)?;
        } else if policy.category(category).is_none() {
            return Err(
                custos_retention::RetentionError::UnknownCategory(category.to_owned()).into(),
            );
        }
        let tenant = self.tenant_id().as_str().to_owned();
        let actor = self.actor().to_owned();
        let text = period.map(|p| p.to_string());
        self.change(
            policy,
            "changing a retention override",
            now,
            true,
            &mut |_, state| {
                if state.overrides.get(category) == text.as_ref() {
                    return Ok(None);
                }
                match &text {
                    Some(t) => state.overrides.insert(category.to_owned(), t.clone()),
                    None => state.overrides.remove(category),
                };
                Ok(Some((
                    Scope::Categories(custos_retention::categories_under(policy, category)),
                    custos_audit::Event::new(
                        &tenant,
                        &actor,
                        "retention.override",
                        None,
                        serde_json::json!({ "category": category, "period": text }),
                    ),
                )))
            },
        )
    }

    /// Places a legal hold: until it is released, no purge removes what it covers. The reason
    /// names a case or claim, not a person.
    pub fn place_hold(
        &mut self,
        policy: &Policy,
        target: &HoldTarget,
        reason: &str,
        now: Timestamp,
    ) -> Result<HoldInfo> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(VaultError::InvalidHold(
                "a hold needs a reason (a case or claim reference)".into(),
            ));
        }
        if reason.chars().count() > 500 {
            return Err(VaultError::InvalidHold(
                "the reason is longer than 500 characters".into(),
            ));
        }
        let (subject, category) = match target {
            HoldTarget::Tenant => (None, None),
            HoldTarget::Subject(s) => (Some(self.pseudonym(s).as_str().to_owned()), None),
            HoldTarget::Category(c) => {
                if policy.category(c).is_none() {
                    return Err(custos_retention::RetentionError::UnknownCategory(c.clone()).into());
                }
                (None, Some(c.clone()))
            }
        };
        let mut id = [0u8; 8];
        crate::keys::fill_random(&mut id)?;
        let hold = HoldInfo {
            hold_id: format!("hold_{}", hex::encode(id)),
            scope: match target {
                HoldTarget::Tenant => "tenant",
                HoldTarget::Subject(_) => "subject",
                HoldTarget::Category(_) => "category",
            }
            .into(),
            subject,
            category,
            reason: reason.to_owned(),
            set_by: self.actor().to_owned(),
            set_at: now,
            released_at: None,
            released_by: None,
        };
        // The categories declared under a held category, as the policy says now: a deletion or
        // erasure refuses them too (the purge reads them from the policy it runs with).
        let declared_under: Option<String> = hold.category.as_ref().map(|c| {
            serde_json::Value::from(custos_retention::categories_under(policy, c)).to_string()
        });
        let tenant = self.tenant_id().as_str().to_owned();
        let key = self.audit_key().clone();
        self.store().in_tx(&tenant, "placing a legal hold", &mut |tx| {
            register_tenant(tx, &tenant, now)?;
            // Waits for a purge batch in flight; every later batch sees the hold.
            lock_state(tx, &tenant, true)?;
            tx.execute(
                &format!("INSERT INTO holds (tenant_id, {HOLD_COLUMNS}, covers) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, $8)"),
                &[
                    tenant.as_str().into(),
                    hold.hold_id.as_str().into(),
                    hold.subject.clone().into(),
                    hold.category.clone().into(),
                    hold.reason.as_str().into(),
                    hold.set_by.as_str().into(),
                    now.as_microsecond().into(),
                    declared_under.clone().into(),
                ],
            )?;
            let ev = custos_audit::Event::new(&tenant, &hold.set_by, "retention.hold.placed", hold.subject.clone(), serde_json::json!({ "hold_id": hold.hold_id, "scope": hold.scope, "category": hold.category }));
            tx.append_audit(&mut |head| custos_audit::build(head, std::slice::from_ref(&ev), now, &key, AUDIT_CHECKPOINT_EVERY))
        })?;
        Ok(hold)
    }

    /// Releases a legal hold; purges may take what it covered from then on.
    pub fn release_hold(&mut self, hold_id: &str, now: Timestamp) -> Result<HoldInfo> {
        let tenant = self.tenant_id().as_str().to_owned();
        let key = self.audit_key().clone();
        let actor = self.actor().to_owned();
        let mut out = None;
        self.store().in_tx(&tenant, "releasing a legal hold", &mut |tx| {
            lock_state(tx, &tenant, true)?;
            let n = tx.execute(
                "UPDATE holds SET released_at = $3, released_by = $4 WHERE tenant_id = $1 AND hold_id = $2 AND released_at IS NULL",
                &[tenant.as_str().into(), hold_id.into(), now.as_microsecond().into(), actor.as_str().into()],
            )?;
            if n == 0 {
                return Err(VaultError::HoldNotFound(hold_id.to_owned()));
            }
            let rows = tx.query(
                &format!("SELECT {HOLD_COLUMNS} FROM holds WHERE tenant_id = $1 AND hold_id = $2"),
                &[tenant.as_str().into(), hold_id.into()],
            )?;
            let hold = hold_row(rows.into_iter().next().ok_or_else(|| corrupt("hold"))?)?;
            let ev = custos_audit::Event::new(&tenant, &actor, "retention.hold.released", hold.subject.clone(), serde_json::json!({ "hold_id": hold.hold_id, "scope": hold.scope, "category": hold.category }));
            tx.append_audit(&mut |head| custos_audit::build(head, std::slice::from_ref(&ev), now, &key, AUDIT_CHECKPOINT_EVERY))?;
            out = Some(hold);
            Ok(())
        })?;
        out.ok_or_else(|| corrupt("hold"))
    }

    /// When this tenant's retention purge last ran (`None`: never), as the purge recorded it.
    pub fn last_purge(&mut self) -> Result<Option<Timestamp>> {
        let tenant = self.tenant_id().as_str().to_owned();
        let mut last = None;
        self.store()
            .in_read_tx(&tenant, "reading the last purge", &mut |tx| {
                let rows = tx.query(
                    "SELECT last_purge_at FROM tenant_retention WHERE tenant_id = $1",
                    &[tenant.as_str().into()],
                )?;
                last = rows.into_iter().next().and_then(|r| r[0].int());
                Ok(())
            })?;
        last.map(|us| Timestamp::from_microsecond(us).map_err(|_| corrupt("last purge time")))
            .transpose()
    }

    /// The tenant's legal holds, active ones only unless `all`.
    pub fn holds(&mut self, all: bool) -> Result<Vec<HoldInfo>> {
        let tenant = self.tenant_id().as_str().to_owned();
        let mut out = Vec::new();
        let active = if all { "" } else { " AND released_at IS NULL" };
        self.store().in_tx(&tenant, "listing legal holds", &mut |tx| {
            out = tx
                .query(
                    &format!("SELECT {HOLD_COLUMNS} FROM holds WHERE tenant_id = $1{active} ORDER BY set_at, hold_id"),
                    &[tenant.as_str().into()],
                )?
                .into_iter()
                .map(hold_row)
                .collect::<Result<_>>()?;
            Ok(())
        })?;
        Ok(out)
    }

    /// Recomputes the expiry of every record of this tenant after its retention rules changed,
    /// then stores the rules' fingerprint `fp`. A page per transaction, each locking the
    /// tenant's retention state and reading it and the page's subjects' events afresh: an event
    /// or a write of the tenant waits for one page, not for the whole tenant (2M records took
    /// 44–52 s on PostgreSQL in one transaction). A recompute cut off halfway leaves the old
    /// fingerprint, so the next purge does it again (each page is idempotent), and no purge
    /// deletes by expiries not yet recomputed. Returns how many records were looked at.
    fn recompute_tenant(&mut self, policy: &Policy, fp: &str) -> Result<u64> {
        let tenant = self.tenant_id().as_str().to_owned();
        let mut after = String::new();
        let mut seen = 0u64;
        loop {
            let mut n = 0usize;
            self.store()
                .in_tx(&tenant, "recomputing expiries", &mut |tx| {
                    let row = lock_state(tx, &tenant, true)?;
                    let sql = page_query(&*tx, "");
                    let params = [tenant.as_str().into(), after.as_str().into()];
                    let rows = read_page(tx, &sql, &params, true)?;
                    n = rows.len();
                    let mut subjects: Vec<&str> = rows
                        .iter()
                        .filter_map(|r| r.get(1).and_then(Val::text))
                        .collect();
                    subjects.sort_unstable();
                    subjects.dedup();
                    let ctx = Context {
                        policy,
                        settings: row.state.settings(),
                        tenant_events: row.state.events.clone(),
                        subjects: subject_events(tx, &tenant, Some(&subjects))?,
                    };
                    drop(subjects);
                    if let Some(last) = recompute_rows(tx, &tenant, &ctx, rows)? {
                        after = last;
                    }
                    Ok(())
                })?;
            seen += n as u64;
            if n < PAGE as usize {
                break;
            }
        }
        self.store()
            .in_tx(&tenant, "recomputing expiries", &mut |tx| {
                let mut row = lock_state(tx, &tenant, true)?;
                row.fingerprint = fp.to_owned();
                row.version += 1;
                save_state(tx, &tenant, &row)
            })?;
        Ok(seen)
    }

    /// Purges this tenant's due records (see the module documentation). `progress` is told the
    /// records purged after each batch.
    pub fn purge(
        &mut self,
        policy: &Policy,
        now: Timestamp,
        opts: PurgeOptions,
        progress: &mut dyn FnMut(u64),
    ) -> Result<PurgeReport> {
        let fp = fingerprint(policy);
        let mut report = PurgeReport {
            dry_run: opts.dry_run,
            now: Some(now),
            ..PurgeReport::default()
        };
        // 1. The clock, and expiries made under an older policy.
        let (settings, rules_changed) = self.prepare_purge(&fp, now, opts.dry_run)?;
        if rules_changed {
            report.recomputed = self.recompute_tenant(policy, &fp)?;
        }
        let run = PurgeRun {
            tenant: self.tenant_id().as_str().to_owned(),
            actor: self.actor().to_owned(),
            key: self.audit_key().clone(),
            policy,
            settings,
            now,
        };
        // 2. What is due, and what of it is held.
        if opts.dry_run {
            report.rules = self.plan_purge(&run)?;
            return Ok(report);
        }
        // 3. Batches: claim, delete, receipt, commit.
        let batch_size = opts.batch_size.max(1);
        let mut per_category: BTreeMap<String, RuleOutcome> = BTreeMap::new();
        let mut batch_no = 0u64;
        let mut total = 0u64;
        // Whether the last batch saw no legal hold at all: then nothing due was held back.
        let mut unheld = false;
        // PostgreSQL: where the next batch starts (the last batch's final expiry instant).
        let mut lo = i64::MIN;
        loop {
            if opts.max_batches.is_some_and(|m| batch_no >= m) {
                break;
            }
            let mut done = None;
            self.store()
                .in_tx(&run.tenant, "purging expired records", &mut |tx| {
                    done = Some(purge_batch(tx, &run, batch_size, lo)?);
                    Ok(())
                })?;
            let batch = done.ok_or_else(|| corrupt("purge batch"))?;
            unheld = batch.unheld;
            let purged = batch.purged();
            if purged == 0 {
                break;
            }
            lo = batch.next_lo;
            batch_no += 1;
            total += purged;
            for (c, g) in &batch.groups {
                let o = run.outcome(&mut per_category, c);
                o.purged += g.records;
                let (from, to) = (ts(g.expired_from)?, ts(g.expired_to)?);
                o.expired_from = Some(o.expired_from.map_or(from, |x| x.min(from)));
                o.expired_to = Some(o.expired_to.map_or(to, |x| x.max(to)));
            }
            progress(total);
            if batch.claimed < u64::from(batch_size) {
                break;
            }
        }
        // 4. What holds kept back (nothing, and no need to look, when no hold was set), and the
        // run's closing entry.
        let finished = opts.max_batches.is_none_or(|m| batch_no < m);
        let count_kept = finished && !unheld;
        if batch_no > 0 || count_kept {
            let kept =
                self.close_purge(&run, batch_no, total, &per_category, finished, count_kept)?;
            for (c, n) in kept {
                run.outcome(&mut per_category, &c).held = n;
            }
        }
        report.batches = batch_no;
        report.rules = per_category.into_values().collect();
        Ok(report)
    }

    /// A purge's first transaction: refuses a clock that went back ([`check_purge_clock`]) and,
    /// unless `dry_run`, records the purge's time and says whether the policy's retention rules
    /// changed since the stored expiries were computed (their fingerprint is not `fp`). Returns
    /// the tenant's settings and that answer.
    fn prepare_purge(
        &mut self,
        fp: &str,
        now: Timestamp,
        dry_run: bool,
    ) -> Result<(TenantSettings, bool)> {
        let tenant = self.tenant_id().as_str().to_owned();
        let mut settings = TenantSettings::default();
        let mut rules_changed = false;
        self.store()
            .in_tx(&tenant, "preparing a purge", &mut |tx| {
                let mut row = lock_state(tx, &tenant, !dry_run)?;
                check_purge_clock(&tenant, row.last_purge_at, now)?;
                settings = row.state.settings();
                if dry_run {
                    return Ok(());
                }
                rules_changed = row.fingerprint != fp;
                let now_us = now.as_microsecond();
                row.last_purge_at = Some(row.last_purge_at.map_or(now_us, |l| l.max(now_us)));
                save_state(tx, &tenant, &row)
            })?;
        Ok((settings, rules_changed))
    }

    /// A dry run: per category, the records due at the run's time, and how many of them legal
    /// holds keep. Nothing is deleted and nothing is written.
    fn plan_purge(&mut self, run: &PurgeRun<'_>) -> Result<Vec<RuleOutcome>> {
        let tenant = run.tenant.as_str();
        let now_us = run.now.as_microsecond();
        let mut due: Vec<(String, u64, Option<i64>, Option<i64>)> = Vec::new();
        let mut free: HashMap<String, u64> = HashMap::new();
        self.store().in_tx(tenant, "reporting due records", &mut |tx| {
            due.clear();
            free.clear();
            let holds = Holds::load(tx, tenant, run.policy)?;
            let q = "SELECT category, count(*), min(expires_at), max(expires_at) FROM records WHERE tenant_id = $1 AND expires_at IS NOT NULL AND expires_at <= $2";
            for r in tx.query(&format!("{q} GROUP BY category"), &[tenant.into(), now_us.into()])? {
                due.push((r[0].text().unwrap_or_default().to_owned(), r[1].int().unwrap_or(0) as u64, r[2].int(), r[3].int()));
            }
            if !holds.tenant_wide {
                let (filter, vals) = holds.filter(3);
                let mut params: Vec<Val> = vec![tenant.into(), now_us.into()];
                params.extend(vals);
                for r in tx.query(&format!("{q}{filter} GROUP BY category"), &params)? {
                    free.insert(r[0].text().unwrap_or_default().to_owned(), r[1].int().unwrap_or(0) as u64);
                }
            }
            Ok(())
        })?;
        let mut per_category: BTreeMap<String, RuleOutcome> = BTreeMap::new();
        for (cat, n, from, to) in due {
            let o = run.outcome(&mut per_category, &cat);
            let go = free.get(&cat).copied().unwrap_or(0);
            o.purged = go;
            o.held = n - go.min(n);
            o.expired_from = from.map(ts).transpose()?;
            o.expired_to = to.map(ts).transpose()?;
        }
        Ok(per_category.into_values().collect())
    }

    /// A purge's last transaction: with `count_kept`, the due records legal holds kept back,
    /// per category (returned); after any batch, the run's closing audit entry. It commits
    /// synchronously: on PostgreSQL it waits until every batch before it is on disk, so when the
    /// purge returns, all of it is.
    fn close_purge(
        &mut self,
        run: &PurgeRun<'_>,
        batches: u64,
        records: u64,
        per_category: &BTreeMap<String, RuleOutcome>,
        finished: bool,
        count_kept: bool,
    ) -> Result<Vec<(String, u64)>> {
        let tenant = run.tenant.as_str();
        let counts: BTreeMap<&str, u64> = per_category
            .values()
            .filter(|o| o.purged > 0)
            .map(|o| (o.category.as_str(), o.purged))
            .collect();
        let mut kept: Vec<(String, u64)> = Vec::new();
        self.store().in_tx(tenant, "closing a purge", &mut |tx| {
            kept.clear();
            if count_kept {
                for r in tx.query(
                    "SELECT category, count(*) FROM records WHERE tenant_id = $1 AND expires_at IS NOT NULL AND expires_at <= $2 GROUP BY category",
                    &[tenant.into(), run.now.as_microsecond().into()],
                )? {
                    kept.push((r[0].text().unwrap_or_default().to_owned(), r[1].int().unwrap_or(0) as u64));
                }
            }
            if batches == 0 {
                return Ok(());
            }
            let ev = custos_audit::Event::new(tenant, &run.actor, "retention.purge.ended", None, serde_json::json!({
                "batches": batches,
                "records": records,
                "per_category": counts,
                "complete": finished,
                "purged_at": run.now,
            }));
            run.append(tx, std::slice::from_ref(&ev))
        })?;
        Ok(if finished { kept } else { Vec::new() })
    }

    /// The tenant's retention settings as stored (tier and overrides): what a purge outside the
    /// vault, in a company's own database, applies with the same rules.
    pub fn retention_settings(&mut self) -> Result<TenantSettings> {
        let tenant = self.tenant_id().as_str().to_owned();
        let mut settings = TenantSettings::default();
        self.store()
            .in_tx(&tenant, "reading retention settings", &mut |tx| {
                settings = lock_state(tx, &tenant, false)?.state.settings();
                Ok(())
            })?;
        Ok(settings)
    }

    /// The tenant's retention report: per category the records, the oldest, the next expiry,
    /// what is due, waiting or held; and the holds with their reasons.
    pub fn retention_report(&mut self, policy: &Policy, now: Timestamp) -> Result<RetentionReport> {
        let tenant = self.tenant_id().as_str().to_owned();
        let holds_list = self.holds(false)?;
        let mut rows: Vec<Vec<Val>> = Vec::new();
        let mut held: HashMap<String, u64> = HashMap::new();
        let mut state = State::default();
        let mut last_purge = None;
        self.store().in_tx(&tenant, "reporting retention", &mut |tx| {
            let r = tx.query("SELECT state, last_purge_at FROM tenant_retention WHERE tenant_id = $1", &[tenant.as_str().into()])?;
            if let Some(r) = r.into_iter().next() {
                state = r[0].text().and_then(|t| serde_json::from_str(t).ok()).ok_or_else(|| corrupt("tenant state"))?;
                last_purge = r[1].int();
            }
            rows = tx.query(
                "SELECT category, count(*), min(created_at), min(expires_at), count(CASE WHEN expires_at <= $2 THEN 1 END), count(CASE WHEN expires_at IS NULL THEN 1 END) FROM records WHERE tenant_id = $1 GROUP BY category ORDER BY category",
                &[tenant.as_str().into(), now.as_microsecond().into()],
            )?;
            let holds = Holds::load(tx, &tenant, policy)?;
            if holds.tenant_wide {
                for r in &rows {
                    held.insert(r[0].text().unwrap_or_default().to_owned(), r[1].int().unwrap_or(0) as u64);
                }
            } else if !holds.subjects.is_empty() || !holds.categories.is_empty() {
                // Held = all − not held.
                let (filter, vals) = holds.filter(2);
                let mut params: Vec<Val> = vec![tenant.as_str().into()];
                params.extend(vals);
                let free: HashMap<String, u64> = tx
                    .query(&format!("SELECT category, count(*) FROM records WHERE tenant_id = $1{filter} GROUP BY category"), &params)?
                    .into_iter()
                    .map(|r| (r[0].text().unwrap_or_default().to_owned(), r[1].int().unwrap_or(0) as u64))
                    .collect();
                for r in &rows {
                    let c = r[0].text().unwrap_or_default();
                    let all = r[1].int().unwrap_or(0) as u64;
                    held.insert(c.to_owned(), all - free.get(c).copied().unwrap_or(0).min(all));
                }
            }
            Ok(())
        })?;
        let settings = state.settings();
        let mut categories: BTreeMap<String, CategoryReport> = policy
            .categories
            .iter()
            .filter(|c| c.stored)
            .map(|c| {
                (
                    c.id.clone(),
                    CategoryReport {
                        category: c.id.clone(),
                        rule: rule_text(policy, &c.id, &settings),
                        records: 0,
                        oldest: None,
                        next_expiry: None,
                        due: 0,
                        waiting: 0,
                        held: 0,
                        problem: custos_retention::rule_problem(policy, &c.id, &settings)
                            .map(|e| e.to_string()),
                    },
                )
            })
            .collect();
        for r in rows {
            let c = r[0].text().unwrap_or_default().to_owned();
            let e = categories.entry(c.clone()).or_insert_with(|| CategoryReport {
                category: c.clone(),
                rule: "not in the policy (kept until the policy names it or the subject is erased)".into(),
                records: 0,
                oldest: None,
                next_expiry: None,
                due: 0,
                waiting: 0,
                held: 0,
                problem: None,
            });
            e.records = r[1].int().unwrap_or(0) as u64;
            e.oldest = r[2].int().map(ts).transpose()?;
            e.next_expiry = r[3].int().map(ts).transpose()?;
            e.due = r[4].int().unwrap_or(0) as u64;
            e.waiting = r[5].int().unwrap_or(0) as u64;
            e.held = held.get(&c).copied().unwrap_or(0);
        }
        Ok(RetentionReport {
            tenant,
            at: now,
            tier: state.tier.clone(),
            overrides: state.overrides.clone(),
            events: state.events.clone(),
            categories: categories.into_values().collect(),
            holds: holds_list,
            last_purge: last_purge.map(ts).transpose()?,
        })
    }
}

impl Vault {
    /// Purges every tenant's due records (see [`TenantVault::purge`]). A tenant that fails (a
    /// clock that went back, expiries that cannot be recomputed under a changed policy) is
    /// reported in [`PurgeReport::failed`] and the others go on.
    pub fn purge_all(
        &mut self,
        policy: &Policy,
        now: Timestamp,
        opts: PurgeOptions,
        progress: &mut dyn FnMut(&str, u64),
    ) -> Result<PurgeReport> {
        let mut all = PurgeReport {
            dry_run: opts.dry_run,
            now: Some(now),
            ..PurgeReport::default()
        };
        for id in self.tenant_ids()? {
            let tenant = crate::TenantId::new(&id)?;
            match self
                .tenant(&tenant)
                .purge(policy, now, opts, &mut |n| progress(&id, n))
            {
                Ok(r) => {
                    all.rules.extend(r.rules);
                    all.batches += r.batches;
                    all.recomputed += r.recomputed;
                }
                Err(e @ (VaultError::ClockWentBack { .. } | VaultError::Retention(_))) => {
                    all.failed.push((id, e.to_string()))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn a_purge_clock_within_the_skew_of_the_last_purge_goes_ahead() {
        let last = t("2026-03-01T12:00:00Z").as_microsecond();
        check_purge_clock("kantoor-a", None, t("2026-03-01T12:00:00Z")).unwrap();
        check_purge_clock("kantoor-a", Some(last), t("2026-03-01T11:55:00Z")).unwrap();
        check_purge_clock("kantoor-a", Some(last), t("2026-03-02T00:00:00Z")).unwrap();
    }

    #[test]
    fn a_purge_clock_further_behind_than_the_skew_is_refused() {
        let last = t("2026-03-01T12:00:00Z").as_microsecond();
        let e = check_purge_clock("kantoor-a", Some(last), t("2026-03-01T11:54:59Z"))
            .expect_err("the clock went back");
        assert!(
            matches!(&e, VaultError::ClockWentBack { tenant, last: l, .. } if tenant == "kantoor-a" && *l == t("2026-03-01T12:00:00Z")),
            "{e:?}"
        );
    }
}
