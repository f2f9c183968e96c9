//! The jobs: access, erasure (and its dry run), purges, and the replay of journaled erasures
//! onto a restored database. Each returns a receipt of counts and table names only; the caller
//! appends it to the audit trail ([`ErasureReceipt::event`], [`PurgeReceipt::events`]).

use std::collections::{BTreeMap, BTreeSet};

use custos_connect::annotations::{Erase, IdKind, Rows};
use custos_connect::check::{Mask, REDACTED};
use custos_connect::identity::column_form;
use custos_connect::plan::{EdgeKind, Plan, PlanTable, deletes};
use custos_connect::schema::{Dialect, ValueKind};
use custos_policy::resolved::Policy;
use custos_retention::TenantSettings;
use custos_rights::access::ExportRecord;
use jiff::Timestamp;
use serde::Serialize;

use super::ConnectorError;
use super::driver::{Cell, Conn, Sql};
pub use super::walk::Identities;
use super::walk::{
    Reach, json_count, key_in, key_join, norm, q, seed_count, tenant_pred, valid_json_key,
};

impl Identities {
    /// The identities of a subject given as identifiers (an e-mail address, a phone number, an
    /// application's own id): each in the normal form of every kind it can be.
    pub fn from_given(given: &[String], phone_country: Option<&str>) -> Identities {
        let mut values = Vec::new();
        for g in given {
            for kind in [IdKind::Email, IdKind::Phone] {
                if let Some(v) = custos_connect::identity::normalise(kind, g, phone_country) {
                    values.push((kind, v));
                }
            }
            values.push((IdKind::Opaque, g.trim().to_owned()));
        }
        values.sort_by(|a, b| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)));
        values.dedup();
        Identities { values }
    }
}

fn begin(conn: &mut dyn Conn, plan: &Plan, write: bool) -> Result<(), ConnectorError> {
    let (lock, stmt) = (plan.lock_timeout, plan.statement_timeout);
    match conn.dialect() {
        Dialect::Postgres => conn.batch(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SET LOCAL lock_timeout = '{lock}s'; SET LOCAL statement_timeout = '{stmt}s'; SET CONSTRAINTS ALL DEFERRED"
        )),
        Dialect::Mysql => {
            conn.batch(&format!("SET SESSION innodb_lock_wait_timeout = {lock}"))?;
            // MariaDB's name for it; MySQL has none for every statement, so a refusal is fine.
            let _ = conn.batch(&format!("SET SESSION max_statement_time = {stmt}"));
            conn.batch(if write { "START TRANSACTION" } else { "START TRANSACTION WITH CONSISTENT SNAPSHOT" })
        }
        Dialect::Sqlite => {
            conn.batch(if write { "BEGIN IMMEDIATE" } else { "BEGIN" })?;
            conn.batch("PRAGMA defer_foreign_keys = ON")
        }
    }
}

fn rollback(conn: &mut dyn Conn) {
    let _ = conn.batch("ROLLBACK");
}

/// Runs `f` in a transaction that is rolled back whatever happens (reads, dry runs).
fn read_only<T>(
    conn: &mut dyn Conn,
    plan: &Plan,
    f: impl FnOnce(&mut dyn Conn) -> Result<T, ConnectorError>,
) -> Result<T, ConnectorError> {
    begin(conn, plan, false)?;
    let out = f(conn);
    rollback(conn);
    out
}

fn tenant_applies(plan: &Plan, tenant: &str) -> bool {
    plan.fixed_tenant.as_deref().is_none_or(|t| t == tenant)
}

/// How many rows an access answer holds per table of one dataset.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AccessSummary {
    /// Table → rows in the answer.
    pub rows: BTreeMap<String, u64>,
}

/// Streams the subject's rows of one dataset to `sink`, as records of an access answer: owned
/// and shared rows whole; rows that merely mention the subject with only the mentioning columns
/// (and of a JSON array only the subject's own elements), leaving other people's data out
/// (Art. 15(4) GDPR). Runs in one read snapshot and writes nothing.
pub fn access(
    conn: &mut dyn Conn,
    plan: &Plan,
    policy: &Policy,
    tenant: &str,
    ids: &Identities,
    sink: &mut dyn FnMut(ExportRecord) -> Result<(), ConnectorError>,
) -> Result<AccessSummary, ConnectorError> {
    let mut summary = AccessSummary::default();
    if !tenant_applies(plan, tenant) {
        return Ok(summary);
    }
    read_only(conn, plan, |conn| {
        let mut reach = Reach::create(conn, plan)?;
        reach.walk(conn, plan, tenant, ids)?;
        let d = conn.dialect();
        for (i, t) in plan.tables.iter().enumerate() {
            let purposes = policy
                .category(&t.category)
                .map(|c| c.purposes.clone())
                .unwrap_or_default();
            let mut n = 0u64;
            let all: Vec<&str> = t.columns.iter().map(|c| c.0.as_str()).collect();
            let mut emit = |conn: &mut dyn Conn,
                            reach_table: &str,
                            cols: &[&str],
                            json: Option<(&str, &str, IdKind)>|
             -> Result<(), ConnectorError> {
                let mut sql = Sql::new(d);
                let select: Vec<String> = t
                    .key
                    .iter()
                    .map(String::as_str)
                    .chain(cols.iter().copied())
                    .map(|c| as_text(d, "t", c))
                    .collect();
                sql.push(&format!(
                    "SELECT {} FROM {} t JOIN {reach_table} r ON {} WHERE ",
                    select.join(", "),
                    q(d, &t.name),
                    key_join(d, t, "t", "r")
                ));
                tenant_pred(&mut sql, d, t, "t", tenant);
                conn.each(&sql, &mut |row| {
                    let (key, values) = row.split_at(t.key.len());
                    let key: Vec<String> =
                        key.iter().map(|c| c.text().unwrap_or_default()).collect();
                    let mut data = serde_json::Map::new();
                    let mut created = String::new();
                    for (name, v) in cols.iter().zip(values) {
                        let kind = t
                            .columns
                            .iter()
                            .find(|c| c.0 == *name)
                            .map_or(ValueKind::Text, |c| c.1);
                        if created.is_empty()
                            && kind == ValueKind::Time
                            && let Some(s) = v.text()
                        {
                            created = s;
                        }
                        let mut value = json_value(kind, v);
                        if let Some((col, path, id_kind)) = json
                            && *name == col
                        {
                            value = own_elements(
                                &value,
                                path,
                                id_kind,
                                ids,
                                plan.phone_country.as_deref(),
                            );
                        }
                        data.insert((*name).to_owned(), value);
                    }
                    let data = serde_json::value::to_raw_value(&data)
                        .map_err(custos_rights::access::ExportError::from)?;
                    n += 1;
                    sink(ExportRecord {
                        id: format!("{}/{}/{}", plan.dataset, t.name, key.join(",")),
                        category: t.category.clone(),
                        purposes: purposes.clone(),
                        created_at: created,
                        data,
                        restriction: None,
                        source: Some(plan.dataset.clone()),
                    })
                })
            };
            emit(conn, &reach.owned[i], &all, None)?;
            if let Some(s) = &reach.shared[i] {
                // Shared rows that are not the subject's alone (those are in `owned`).
                let only = format!("custos_so{i}");
                let mut sql = Sql::new(d);
                sql.push(&format!(
                    "DELETE FROM {s} WHERE {}",
                    not_in_owned(d, t, s, &reach.owned[i])
                ));
                let _ = only;
                conn.execute(&sql)?;
                emit(conn, s, &all, None)?;
            }
            if let Some(b) = &reach.base_mention[i] {
                let cols: Vec<&str> = t.subject.iter().map(|(c, _)| c.as_str()).collect();
                emit(conn, b, &cols, None)?;
            }
            if let Some(j) = &reach.json[i] {
                for (col, path, kind) in &t.json {
                    emit(conn, j, &[col.as_str()], Some((col, path, *kind)))?;
                }
            }
            for (e, edge) in plan.edges.iter().enumerate() {
                if edge.child == i
                    && let Some(m) = &reach.mention[e]
                {
                    let cols: Vec<&str> = edge.pairs.iter().map(|(c, _)| c.as_str()).collect();
                    emit(conn, m, &cols, None)?;
                }
            }
            if n > 0 {
                summary.rows.insert(t.name.clone(), n);
            }
        }
        reach.drop(conn)?;
        Ok(summary)
    })
}

/// `NOT EXISTS` the same key in `owned` (for a key table aliased by its name).
fn not_in_owned(d: Dialect, t: &PlanTable, s: &str, owned: &str) -> String {
    let _ = d;
    let on: Vec<String> = (0..t.key.len())
        .map(|k| format!("o.k{k} = {s}.k{k}"))
        .collect();
    format!(
        "EXISTS (SELECT 1 FROM {owned} o WHERE {})",
        on.join(" AND ")
    )
}

fn as_text(d: Dialect, alias: &str, col: &str) -> String {
    let c = if col == "rowid" && d == Dialect::Sqlite {
        "rowid".to_owned()
    } else {
        q(d, col)
    };
    match d {
        Dialect::Postgres => format!("{alias}.{c}::text"),
        _ => format!("{alias}.{c}"),
    }
}

fn json_value(kind: ValueKind, v: &Cell) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Cell::Null => J::Null,
        Cell::Int(i) if kind == ValueKind::Boolean => J::Bool(*i != 0),
        Cell::Int(i) => J::from(*i),
        Cell::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Cell::Bytes(b) => J::String(b.iter().map(|x| format!("{x:02x}")).collect()),
        Cell::Text(t) => match kind {
            ValueKind::Integer => t
                .parse::<i64>()
                .map_or_else(|_| J::String(t.clone()), J::from),
            ValueKind::Number => t
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| J::String(t.clone()), J::Number),
            ValueKind::Boolean => J::Bool(matches!(t.as_str(), "true" | "t" | "1")),
            ValueKind::Json => serde_json::from_str(t).unwrap_or_else(|_| J::String(t.clone())),
            _ => J::String(t.clone()),
        },
    }
}

/// Of a JSON object, only `path`'s elements that are the subject's (other people's addresses
/// are left out of the subject's answer, Art. 15(4)).
fn own_elements(
    v: &serde_json::Value,
    path: &str,
    kind: IdKind,
    ids: &Identities,
    cc: Option<&str>,
) -> serde_json::Value {
    let mine: BTreeSet<&str> = ids.of(kind).collect();
    let elements = v
        .get(path)
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter(|e| {
                    e.as_str()
                        .is_some_and(|s| mine.contains(column_form(kind, s, cc).as_str()))
                })
                .cloned()
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    serde_json::json!({ path: elements })
}

/// What one erasure did to one table.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TableCount {
    /// The table.
    pub table: String,
    /// Rows deleted.
    pub deleted: u64,
    /// Rows whose mentions of the subject were masked.
    pub masked: u64,
    /// Rows kept under statutory retention (Art. 17(3)(b)).
    pub kept: u64,
    /// Until when the last of them is kept (the statutory clock of the latest plus its period);
    /// the retention purge deletes them then.
    pub kept_until: Option<String>,
    /// Rows attributable to the subject only through rows the erasure deleted: they stay, no
    /// longer linked.
    pub unlinked: u64,
}

/// The receipt of one erasure in one dataset: no personal data, counts per table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ErasureReceipt {
    /// The dataset.
    pub dataset: String,
    /// Whether this was a dry run (nothing written).
    pub dry_run: bool,
    /// Per table, in the order the erasure ran.
    pub tables: Vec<TableCount>,
    /// Rows of the subject a fresh walk found after the commit (0 when the erasure is complete;
    /// for a dry run, what it would find now).
    pub remaining: u64,
    /// The statements in the order they run, with placeholders (a dry run's listing).
    pub statements: Vec<String>,
}

impl ErasureReceipt {
    /// The audit event of the receipt (`connector.erase`): the subject as its pseudonym.
    pub fn event(&self, tenant: &str, actor: &str, pseudonym: &str) -> custos_audit::Event {
        custos_audit::Event::new(
            tenant,
            actor,
            "connector.erase",
            Some(pseudonym.to_owned()),
            serde_json::json!({
                "dataset": self.dataset,
                "tables": self.tables,
                "verified_remaining": self.remaining,
                "basis": "Art. 17(1) GDPR; rows kept under Art. 17(3)(b) until the date given",
            }),
        )
    }
}

fn count(conn: &mut dyn Conn, table: &str) -> Result<u64, ConnectorError> {
    let mut sql = Sql::new(conn.dialect());
    sql.push(&format!("SELECT COUNT(*) FROM {table}"));
    conn.count(&sql)
}

/// Erases the subject from one dataset in one transaction, proves inside it that nothing of the
/// subject is left (see [`proof`]; it rolls back with [`ConnectorError::Unverified`] otherwise),
/// commits, and runs the same proof once more after the commit for the receipt's `remaining`.
/// `hash` is the keyed hash a `hash` mask writes for an identity.
pub fn erase(
    conn: &mut dyn Conn,
    plan: &Plan,
    policy: &Policy,
    tenant: &str,
    ids: &Identities,
    hash: &dyn Fn(&str) -> String,
) -> Result<ErasureReceipt, ConnectorError> {
    let (mut receipt, reach) = erase_in(conn, plan, policy, tenant, ids, hash, true)?;
    if let Some(mut reach) = reach {
        // The key tables outlive the commit (temporary tables belong to the session): after it,
        // the proof reads what other transactions may have committed since.
        let left = read_only(conn, plan, |conn| {
            proof(conn, plan, &mut reach, tenant, ids).map(|(n, _)| n)
        });
        let dropped = reach.drop(conn);
        receipt.remaining = left?;
        dropped?;
    }
    Ok(receipt)
}

/// What [`erase`] would do: the ordered statements with placeholders and the row counts. Runs
/// the walk in a transaction that is rolled back; writes nothing.
pub fn erase_dry_run(
    conn: &mut dyn Conn,
    plan: &Plan,
    policy: &Policy,
    tenant: &str,
    ids: &Identities,
) -> Result<ErasureReceipt, ConnectorError> {
    erase_in(conn, plan, policy, tenant, ids, &|_| String::new(), false).map(|(r, _)| r)
}

/// Whether an erasure leaves none of a table's owned rows the subject's: it deletes them (owned
/// rows under `delete`, shared rows whose last member goes) or unlinks them (`unlink`: they stay,
/// and must no longer be reachable). Kept rows (`keep`) stay the subject's, by law.
fn must_go(t: &PlanTable) -> bool {
    deletes(t) || t.erase == Erase::Unlink
}

/// Whether a table's owned rows stay the subject's after an erasure (`keep`).
fn kept(t: &PlanTable) -> bool {
    t.rows == Rows::Owned && t.erase == Erase::Keep
}

/// The proof that an erasure is complete: how many rows of the subject a fresh walk from the
/// identities would still find outside kept rows, and in which tables (none when it is 0).
/// Cheap: it does not walk again. With the key tables of the erasure's walk, it reads
///
/// 1. **the seeds**: the rows whose subject columns or JSON arrays name the subject now, in every
///    table whose rows must go and every mentions table; in a table of kept rows, those that are
///    not among the kept rows the walk found;
/// 2. **one step from the kept rows** the walk found (of all the walk's rows, the only ones that
///    may stay the subject's): the rows each edge leads to from them now, in tables whose rows
///    must go and, through mention edges, the mentions left; in tables of kept rows, those the
///    walk did not find;
/// 3. **the shared rows** the subject's kept link rows still make it a member of, that no one
///    else is a member of.
///
/// Why that suffices, whatever the database holds now. Call a row *bad* if a fresh walk would
/// count it (an owned row of a table whose rows must go, a mention) or it is an owned row the
/// erasure's walk did not find. Suppose a fresh walk counts a row. The walk derives each row it
/// finds step by step from the seeds, so the derivation of that row contains a first bad row
/// `w`. Every row before `w` is not bad: it is a kept row the erasure's walk found, or a shared
/// row the subject is a member of (edges leave only from owned rows, and a shared row becomes
/// owned only when the subject alone is its member, which makes it bad). So `w` is a seed (read
/// by 1), or one edge from a kept row the erasure's walk found (read by 2), or a shared row left
/// to the subject alone through kept link rows (read by 3: its member links the fresh walk counts
/// as the subject's are not bad, so the erasure's walk found them, and 3 counts as the subject's
/// every link that walk found, which is no fewer). Each counts `w`: the proof is never 0 where a
/// fresh walk would find something. It may be stricter, never looser. A row reachable only
/// through a long chain of new rows is caught at the chain's first row.
///
/// What it reads it reads in the transaction's view, like the second full walk it replaces:
/// - PostgreSQL: the erasure runs in REPEATABLE READ, so the walk, the deletes and this proof
///   read one snapshot plus the erasure's own writes. A row committed concurrently is invisible
///   to all three, as it was to the full walk. One that references a row the erasure deletes
///   through a foreign key waits on the erasure's row lock and then fails (or the erasure fails
///   with a serialization error); one linked only through an undeclared reference or a new seed
///   shows in `remaining` after the commit, where the proof runs again in a new snapshot.
/// - MySQL/MariaDB: every statement of the walk is an `INSERT ... SELECT`, a locking read under
///   REPEATABLE READ that takes next-key locks on every index range it reads, so no other
///   transaction can add a row that a seed lookup or an edge from a found row would match until
///   the erasure commits. This proof's plain reads are consistent reads whose view is created at
///   the first plain read of the transaction, after the walk: they see what the walk saw and the
///   erasure's writes.
/// - SQLite: `BEGIN IMMEDIATE` keeps every other writer out until the commit.
///
/// After the commit the argument holds as it is (it assumes nothing of how rows got there):
/// `remaining` counts what a concurrent writer linked to the subject meanwhile.
fn proof(
    conn: &mut dyn Conn,
    plan: &Plan,
    reach: &mut Reach,
    tenant: &str,
    ids: &Identities,
) -> Result<(u64, Vec<String>), ConnectorError> {
    let cc = plan.phone_country.as_deref();
    let mut per: BTreeMap<usize, u64> = BTreeMap::new();
    // 1. The seeds.
    for (i, t) in plan.tables.iter().enumerate() {
        let mut n = 0;
        if t.rows == Rows::Owned && must_go(t) {
            n += seed_count(conn, t, tenant, ids, cc, None)?;
        } else if kept(t) {
            n += seed_count(conn, t, tenant, ids, cc, Some(&reach.owned[i]))?;
        } else if reach.base_mention[i].is_some() {
            n += seed_count(conn, t, tenant, ids, cc, None)?;
        }
        if reach.json[i].is_some() {
            n += json_count(conn, t, tenant, ids, cc)?;
        }
        *per.entry(i).or_default() += n;
    }
    // 2. One step from the kept rows.
    let mut unused = Vec::new();
    for (e, edge) in plan.edges.iter().enumerate() {
        if edge.kind == EdgeKind::Member || !kept(&plan.tables[edge.parent]) {
            continue;
        }
        let n = if edge.kind == EdgeKind::Owner && kept(&plan.tables[edge.child]) {
            // Added to the kept rows' key table (through the staging table for a
            // self-reference, as MySQL requires): each row added is new.
            let g = reach.advance();
            reach.edge_step(conn, plan, e, edge, tenant, 0, g, false, &mut unused)?
        } else {
            reach.edge_count(conn, plan, edge, tenant)?
        };
        *per.entry(edge.child).or_default() += n;
    }
    // 3. Shared rows left to the subject alone through its kept link rows.
    for i in 0..plan.tables.len() {
        let Some(shared) = reach.shared[i].clone() else {
            continue;
        };
        let members: Vec<usize> = (0..plan.edges.len())
            .filter(|&e| {
                let edge = &plan.edges[e];
                edge.kind == EdgeKind::Member && edge.parent == i && kept(&plan.tables[edge.child])
            })
            .collect();
        if members.is_empty() {
            continue;
        }
        conn.batch(&format!("DELETE FROM {shared}"))?;
        for e in members {
            let g = reach.advance();
            reach.edge_step(
                conn,
                plan,
                e,
                &plan.edges[e],
                tenant,
                0,
                g,
                false,
                &mut unused,
            )?;
        }
        *per.entry(i).or_default() += reach.orphan_count(conn, plan, i, tenant)?;
    }
    let total = per.values().sum();
    let tables = per
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(i, _)| plan.tables[*i].name.clone())
        .collect();
    Ok((total, tables))
}

/// Runs the erasure (or its dry run) in one transaction. A real erasure that succeeds commits
/// and hands back the walk's key tables for the proof after the commit; the dry run drops them
/// and rolls back.
#[allow(clippy::too_many_arguments)]
fn erase_in(
    conn: &mut dyn Conn,
    plan: &Plan,
    policy: &Policy,
    tenant: &str,
    ids: &Identities,
    hash: &dyn Fn(&str) -> String,
    write: bool,
) -> Result<(ErasureReceipt, Option<Reach>), ConnectorError> {
    let mut receipt = ErasureReceipt {
        dataset: plan.dataset.clone(),
        dry_run: !write,
        ..ErasureReceipt::default()
    };
    if !tenant_applies(plan, tenant) {
        return Ok((receipt, None));
    }
    begin(conn, plan, write)?;
    let mut reach = None;
    let out = erase_steps(
        conn,
        plan,
        policy,
        tenant,
        ids,
        hash,
        write,
        &mut receipt,
        &mut reach,
    );
    let out = match out {
        Ok(()) if write => conn.batch("COMMIT").inspect_err(|_| rollback(conn)),
        Ok(()) => {
            if let Some(r) = reach.take() {
                r.drop(conn)?;
            }
            rollback(conn);
            Ok(())
        }
        Err(e) => {
            rollback(conn);
            Err(e)
        }
    };
    match out {
        Ok(()) => Ok((receipt, reach)),
        Err(e) => {
            // MySQL's temporary tables outlive a rollback; elsewhere they are gone with it.
            if let Some(r) = reach {
                let _ = r.drop(conn);
            }
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn erase_steps(
    conn: &mut dyn Conn,
    plan: &Plan,
    policy: &Policy,
    tenant: &str,
    ids: &Identities,
    hash: &dyn Fn(&str) -> String,
    write: bool,
    receipt: &mut ErasureReceipt,
    kept_tables: &mut Option<Reach>,
) -> Result<(), ConnectorError> {
    let d = conn.dialect();
    let cc = plan.phone_country.as_deref();
    let reach = kept_tables.insert(Reach::create(conn, plan)?);
    let walked = reach.walk(conn, plan, tenant, ids)?;
    receipt.statements.extend(walked);
    let mut counts: BTreeMap<usize, TableCount> = BTreeMap::new();
    let run = |conn: &mut dyn Conn,
               sql: Sql,
               statements: &mut Vec<String>|
     -> Result<u64, ConnectorError> {
        statements.push(sql.text.clone());
        if write { conn.execute(&sql) } else { Ok(0) }
    };
    // 1. Mentions through a link: the link's columns set NULL.
    for (e, edge) in plan.edges.iter().enumerate() {
        let Some(m) = &reach.mention[e] else { continue };
        let t = &plan.tables[edge.child];
        let n = count(conn, m)?;
        let sets: Vec<String> = edge
            .pairs
            .iter()
            .map(|(c, _)| format!("{} = NULL", q(d, c)))
            .collect();
        let mut sql = Sql::new(d);
        let col = update_keyed(&mut sql, d, t, m);
        sql.push(
            &sets
                .iter()
                .map(|s| format!("{col}{s}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        keyed_where(&mut sql, d, t, m, tenant);
        run(conn, sql, &mut receipt.statements)?;
        counts.entry(edge.child).or_insert_with(|| named(t)).masked += n;
    }
    // 2. Mentions by identifier: the subject columns masked.
    for (i, t) in plan.tables.iter().enumerate() {
        let Some(b) = &reach.base_mention[i] else {
            continue;
        };
        let n = count(conn, b)?;
        let name = q(d, &t.name);
        for (col, mask) in &t.masks {
            let kind = t
                .subject
                .iter()
                .find(|(c, _)| c == col)
                .map_or(IdKind::Opaque, |(_, k)| *k);
            for id in ids.of(kind) {
                let mut sql = Sql::new(d);
                let qualified = update_keyed(&mut sql, d, t, b);
                sql.push(&format!("{qualified}{} = ", q(d, col)));
                match mask {
                    Mask::Null => {
                        sql.push("NULL");
                    }
                    Mask::Redact => {
                        sql.bind(REDACTED);
                    }
                    Mask::Hash => {
                        sql.bind(hash(id));
                    }
                    Mask::Value(v) => {
                        sql.bind_as(v.clone(), t.data_type(col));
                    }
                }
                keyed_where(&mut sql, d, t, b, tenant);
                sql.push(&format!(
                    " AND {} = ",
                    norm(d, kind, &format!("{name}.{}", q(d, col)), cc)
                ))
                .bind(id);
                run(conn, sql, &mut receipt.statements)?;
            }
        }
        counts.entry(i).or_insert_with(|| named(t)).masked += n;
    }
    // 3. JSON mentions: the subject's elements taken out of the array, row by row (few rows:
    //    only those that mention the subject).
    for (i, t) in plan.tables.iter().enumerate() {
        let Some(j) = &reach.json[i] else { continue };
        for (col, path, kind) in &t.json {
            if !valid_json_key(path) {
                continue;
            }
            let mut read = Sql::new(d);
            let keys: Vec<String> = t.key.iter().map(|k| as_text(d, "t", k)).collect();
            read.push(&format!(
                "SELECT {}, {} FROM {j} r {} {} t ON {}",
                keys.join(", "),
                as_text(d, "t", col),
                keys_first(d),
                q(d, &t.name),
                key_join(d, t, "t", "r")
            ));
            let mut changes: Vec<(Vec<String>, String)> = Vec::new();
            let mine: BTreeSet<&str> = ids.of(*kind).collect();
            conn.each(&read, &mut |row| {
                let key: Vec<String> = row[..t.key.len()]
                    .iter()
                    .map(|c| c.text().unwrap_or_default())
                    .collect();
                let Some(text) = row[t.key.len()].text() else {
                    return Ok(());
                };
                let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&text) else {
                    return Ok(());
                };
                if let Some(a) = v.get_mut(path.as_str()).and_then(|a| a.as_array_mut()) {
                    a.retain(|e| {
                        !e.as_str()
                            .is_some_and(|s| mine.contains(column_form(*kind, s, cc).as_str()))
                    });
                }
                changes.push((key, v.to_string()));
                Ok(())
            })?;
            let name = q(d, &t.name);
            let mut shown = false;
            for (key, json) in &changes {
                let mut sql = Sql::new(d);
                sql.push(&format!("UPDATE {name} SET {} = ", q(d, col)))
                    .bind_as(json.clone(), t.data_type(col))
                    .push(" WHERE ");
                tenant_pred(&mut sql, d, t, &name, tenant);
                for (k, v) in t.key.iter().zip(key) {
                    sql.push(&format!(" AND {name}.{} = ", q(d, k)))
                        .bind_as(v.clone(), t.data_type(k));
                }
                if write {
                    conn.execute(&sql)?;
                }
                if !shown {
                    receipt.statements.push(format!(
                        "{}  -- once per row that mentions the subject",
                        sql.text
                    ));
                    shown = true;
                }
            }
            counts.entry(i).or_insert_with(|| named(t)).masked += changes.len() as u64;
        }
    }
    // 4. Links cleared before the deletes: cycles, MySQL self-references, kept rows.
    for &e in &plan.clear_first {
        let edge = &plan.edges[e];
        let t = &plan.tables[edge.child];
        let sets: Vec<String> = edge
            .pairs
            .iter()
            .map(|(c, _)| format!("{} = NULL", q(d, c)))
            .collect();
        let mut sql = Sql::new(d);
        let owned = &reach.owned[edge.child];
        let col = update_keyed(&mut sql, d, t, owned);
        sql.push(
            &sets
                .iter()
                .map(|s| format!("{col}{s}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        keyed_where(&mut sql, d, t, owned, tenant);
        run(conn, sql, &mut receipt.statements)?;
    }
    // 5. Owned rows deleted, children first; kept and unlinked rows counted.
    let mut short = Vec::new();
    for &i in &plan.delete_order {
        let t = &plan.tables[i];
        let n = count(conn, &reach.owned[i])?;
        let mut sql = Sql::new(d);
        delete_keyed(&mut sql, d, t, &reach.owned[i], tenant);
        let deleted = run(conn, sql, &mut receipt.statements)?;
        if write && deleted != n {
            // Fewer than found (a foreign key's cascade took some first, or a trigger kept
            // some): the proof looks for the rest.
            short.push(i);
        }
        counts.entry(i).or_insert_with(|| named(t)).deleted += if write { deleted } else { n };
    }
    for (i, t) in plan.tables.iter().enumerate() {
        match (t.rows, t.erase) {
            (Rows::Owned, Erase::Keep) => {
                let n = count(conn, &reach.owned[i])?;
                if n > 0 {
                    let until = kept_until(conn, plan, policy, t, &reach.owned[i])?;
                    let c = counts.entry(i).or_insert_with(|| named(t));
                    c.kept += n;
                    c.kept_until = until;
                }
            }
            (_, Erase::Unlink) => {
                let n = count(conn, &reach.owned[i])?;
                if n > 0 {
                    counts.entry(i).or_insert_with(|| named(t)).unlinked += n;
                }
            }
            _ => {}
        }
    }
    // 6. Proved inside the transaction, before the commit: every row the walk found to delete
    //    is gone, and nothing a fresh walk would find is left.
    if write {
        let mut left = 0;
        let mut tables = Vec::new();
        for i in short {
            let t = &plan.tables[i];
            let mut sql = Sql::new(d);
            sql.push(&format!(
                "SELECT COUNT(*) FROM {} r {} {} t ON {} WHERE ",
                reach.owned[i],
                keys_first(d),
                q(d, &t.name),
                key_join(d, t, "t", "r")
            ));
            tenant_pred(&mut sql, d, t, "t", tenant);
            let n = conn.count(&sql)?;
            if n > 0 {
                left += n;
                tables.push(t.name.clone());
            }
        }
        let (n, more) = proof(conn, plan, reach, tenant, ids)?;
        left += n;
        tables.extend(
            more.into_iter()
                .filter(|t| !tables.contains(t))
                .collect::<Vec<_>>(),
        );
        if left > 0 {
            return Err(ConnectorError::Unverified {
                remaining: left,
                tables: tables.join(", "),
            });
        }
    }
    let order: Vec<usize> = plan.delete_order.clone();
    let mut tables: Vec<TableCount> = Vec::new();
    // In the order the erasure ran: masks first, then deletes, then kept.
    let mut done = BTreeSet::new();
    for i in counts
        .keys()
        .copied()
        .filter(|i| !order.contains(i))
        .chain(order.iter().copied())
    {
        if done.insert(i)
            && let Some(c) = counts.get(&i)
            && (c.deleted + c.masked + c.kept + c.unlinked > 0 || !write)
        {
            tables.push(c.clone());
        }
    }
    receipt.tables = tables;
    Ok(())
}

/// On SQLite, `CROSS JOIN`: a join whose left side, a key table, must drive it (SQLite keeps no
/// statistics on a temporary table and otherwise may read a whole data table to probe a key
/// table of a few rows: 68 ms instead of nothing for the JSON mentions of the benchmark).
fn keys_first(d: Dialect) -> &'static str {
    if d == Dialect::Sqlite {
        "CROSS JOIN"
    } else {
        "JOIN"
    }
}

/// Starts an `UPDATE` of the rows of `t` whose keys are in key table `keys`: the caller writes
/// the assignments (each column prefixed with what this returns), then [`keyed_where`].
///
/// MySQL gets a join with the key table: MariaDB runs the `IN (SELECT ...)` of a single-table
/// `UPDATE` or `DELETE` as a subquery per row of the tenant (the erasure's delete of 15 000
/// WhatsApp messages took 218 ms that way, the bare `DELETE` 74 ms).
fn update_keyed(sql: &mut Sql, d: Dialect, t: &PlanTable, keys: &str) -> String {
    let name = q(d, &t.name);
    if d == Dialect::Mysql {
        sql.push(&format!(
            "UPDATE {name} JOIN {keys} r ON {} SET ",
            key_join(d, t, &name, "r")
        ));
        // Qualified: the key table's columns (k0, g) could share a name with the table's.
        format!("{name}.")
    } else {
        sql.push(&format!("UPDATE {name} SET "));
        String::new()
    }
}

/// The `WHERE` of [`update_keyed`] and [`delete_keyed`]: the tenant, and (but on MySQL, which
/// joined) the key in `keys`.
fn keyed_where(sql: &mut Sql, d: Dialect, t: &PlanTable, keys: &str, tenant: &str) {
    let name = q(d, &t.name);
    sql.push(" WHERE ");
    tenant_pred(sql, d, t, &name, tenant);
    if d != Dialect::Mysql {
        sql.push(&format!(" AND {}", key_in(d, t, Some(&name), keys)));
    }
}

/// `DELETE` the rows of `t` whose keys are in key table `keys` (see [`update_keyed`]).
fn delete_keyed(sql: &mut Sql, d: Dialect, t: &PlanTable, keys: &str, tenant: &str) {
    let name = q(d, &t.name);
    if d == Dialect::Mysql {
        sql.push(&format!(
            "DELETE FROM {name} USING {name} JOIN {keys} r ON {}",
            key_join(d, t, &name, "r")
        ));
    } else {
        sql.push(&format!("DELETE FROM {name}"));
    }
    keyed_where(sql, d, t, keys, tenant);
}

fn named(t: &PlanTable) -> TableCount {
    TableCount {
        table: t.name.clone(),
        ..TableCount::default()
    }
}

/// The end of statutory retention of the latest kept row: its keep clock plus the statutory
/// period of the table's category.
fn kept_until(
    conn: &mut dyn Conn,
    plan: &Plan,
    policy: &Policy,
    t: &PlanTable,
    owned: &str,
) -> Result<Option<String>, ConnectorError> {
    let d = conn.dialect();
    let Some(clock) = &t.keep_clock else {
        return Ok(None);
    };
    let period = policy
        .category(&t.category)
        .and_then(|c| c.retention.as_ref())
        .and_then(|r| r.statutory.as_ref().and_then(|s| s.period).or(r.period));
    let Some(period) = period else {
        return Ok(None);
    };
    let mut sql = Sql::new(d);
    sql.push(&format!(
        "SELECT MAX({}) FROM {owned} r {} {} t ON {}",
        as_text(d, "t", clock),
        keys_first(d),
        q(d, &t.name),
        key_join(d, t, "t", "r")
    ));
    let _ = plan;
    let latest = conn
        .query(&sql)?
        .first()
        .and_then(|r| r.first())
        .and_then(Cell::text);
    Ok(latest.and_then(|s| parse_time(&s)).and_then(|at| {
        at.to_zoned(jiff::tz::TimeZone::UTC)
            .checked_add(period.span())
            .ok()
            .map(|z| z.date().to_string())
    }))
}

/// A time as the databases print it (`2026-12-05 10:00:00[.ffffff][+00]`), read as UTC.
pub(super) fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    let date = s.get(..10)?;
    let time = s.get(11..).unwrap_or("00:00:00");
    let time: String = time
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ':' || *c == '.')
        .collect();
    let dt: jiff::civil::DateTime = format!(
        "{date}T{}",
        if time.is_empty() { "00:00:00" } else { &time }
    )
    .parse()
    .ok()?;
    dt.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// A cutoff as the dialect compares it with a time column.
fn time_param(d: Dialect, t: Timestamp) -> String {
    let utc = t.to_zoned(jiff::tz::TimeZone::UTC);
    match d {
        Dialect::Postgres => t.to_string(),
        Dialect::Mysql => utc.strftime("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        Dialect::Sqlite => utc.strftime("%Y-%m-%d %H:%M:%S").to_string(),
    }
}

/// One table's purge for one tenant and rule.
#[derive(Debug, Clone, Serialize)]
pub struct PurgeTable {
    /// The table.
    pub table: String,
    /// The tenant.
    pub tenant: String,
    /// The category whose rule applied.
    pub category: String,
    /// The clock column.
    pub clock: String,
    /// The rule in words, with where its period came from.
    pub rule: String,
    /// Rows whose clock lies before this were due.
    pub cutoff: Option<String>,
    /// Rows deleted.
    pub deleted: u64,
    /// Batches (one short transaction each).
    pub batches: u64,
    /// Why nothing was purged, when nothing was (a legal hold, no period).
    pub skipped: Option<String>,
    /// What would make it cheaper: the index to add, partitions that expired whole.
    pub advice: Vec<String>,
}

/// The receipt of a purge of one dataset.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PurgeReceipt {
    /// The dataset.
    pub dataset: String,
    /// Per table, tenant and rule.
    pub tables: Vec<PurgeTable>,
}

impl PurgeReceipt {
    /// The audit events of the receipt (`connector.purge`, one per table, tenant and rule that
    /// deleted rows or was skipped), each in its tenant.
    pub fn events(&self, actor: &str) -> Vec<custos_audit::Event> {
        self.tables
            .iter()
            .filter(|t| t.deleted > 0 || t.skipped.is_some())
            .map(|t| {
                custos_audit::Event::new(
                    &t.tenant,
                    actor,
                    "connector.purge",
                    None,
                    serde_json::json!({
                        "dataset": self.dataset,
                        "table": t.table,
                        "category": t.category,
                        "rule": t.rule,
                        "cutoff": t.cutoff,
                        "deleted": t.deleted,
                        "batches": t.batches,
                        "skipped": t.skipped,
                        "basis": "Art. 5(1)(e) GDPR",
                    }),
                )
            })
            .collect()
    }
}

/// Deletes every row whose retention clock has run out, per table, tenant and rule: the period
/// from the policy, the tenant's tier or its own override (`settings`), never where a legal hold
/// covers the tenant's category (`held` says why). Batches of `batch` rows, each its own short
/// transaction, in key order: on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so several servers
/// never take the same batch; elsewhere by key range. A purge stopped halfway has deleted whole
/// batches only, and the next run goes on.
#[allow(clippy::too_many_arguments)]
pub fn purge(
    conn: &mut dyn Conn,
    plan: &Plan,
    schema: &custos_connect::Schema,
    policy: &Policy,
    settings: &dyn Fn(&str) -> TenantSettings,
    held: &dyn Fn(&str, &str) -> Option<String>,
    now: Timestamp,
    batch: u32,
) -> Result<PurgeReceipt, ConnectorError> {
    let d = conn.dialect();
    let mut receipt = PurgeReceipt {
        dataset: plan.dataset.clone(),
        tables: Vec::new(),
    };
    let batch = batch.max(1);
    // Children before parents: a parent's rows may go in the same run as the rows that
    // reference them (an operator and the sessions of an organisation whose contract ended).
    for t in purge_order(plan).into_iter().map(|i| &plan.tables[i]) {
        if t.retention.is_empty() {
            continue;
        }
        let tenants: Vec<String> = match (&plan.fixed_tenant, &t.tenant_column) {
            (Some(f), _) => vec![f.clone()],
            (None, Some(c)) => {
                let mut sql = Sql::new(d);
                sql.push(&format!(
                    "SELECT DISTINCT {} FROM {} t",
                    as_text(d, "t", c),
                    q(d, &t.name)
                ));
                conn.query(&sql)?
                    .iter()
                    .filter_map(|r| r[0].text())
                    .collect()
            }
            (None, None) => Vec::new(),
        };
        for tenant in tenants {
            let s = settings(&tenant);
            for (clock, category) in &t.retention {
                let mut row = PurgeTable {
                    table: t.name.clone(),
                    tenant: tenant.clone(),
                    category: category.clone(),
                    clock: clock.clone(),
                    rule: custos_retention::rule_text(policy, category, &s),
                    cutoff: None,
                    deleted: 0,
                    batches: 0,
                    skipped: None,
                    advice: Vec::new(),
                };
                if let Some(why) = held(&tenant, category) {
                    row.skipped = Some(why);
                    receipt.tables.push(row);
                    continue;
                }
                let Some(rule) = policy.category(category).and_then(|c| c.retention.as_ref())
                else {
                    row.skipped = Some("the category has no retention rule".into());
                    receipt.tables.push(row);
                    continue;
                };
                let (period, _) = custos_retention::applicable_period(rule, category, &s)?;
                let Some(period) = period.filter(|p| !p.is_zero()) else {
                    row.skipped = Some(
                        "the rule has no period to count (criteria or ending events only)".into(),
                    );
                    receipt.tables.push(row);
                    continue;
                };
                let cutoff = now
                    .to_zoned(jiff::tz::TimeZone::UTC)
                    .checked_sub(period.span())
                    .map_err(|_| custos_retention::RetentionError::Overflow(category.clone()))?
                    .timestamp();
                row.cutoff = Some(cutoff.to_string());
                row.advice = advice(conn, plan, t, clock, &tenant, cutoff)?;
                let own_clock = t.clock_path(clock).is_none();
                if let Some(table) = schema.table(&t.name).filter(|_| own_clock) {
                    for p in expired_partitions(table, cutoff) {
                        row.advice.push(format!(
                            "partition `{p}` of `{}` lies wholly before the cutoff: detaching and dropping it is cheaper than deleting its rows one by one",
                            t.name
                        ));
                    }
                }
                let (deleted, batches) = purge_rows(conn, t, clock, &tenant, cutoff, batch, plan)?;
                row.deleted = deleted;
                row.batches = batches;
                receipt.tables.push(row);
            }
        }
    }
    Ok(receipt)
}

/// Every table of the plan, each after the tables whose declared foreign keys reference it
/// (children first), so that a purge deleting a parent's rows has already deleted the rows
/// that point at them; tables in a cycle keep the plan's order.
fn purge_order(plan: &Plan) -> Vec<usize> {
    let mut remaining: Vec<usize> = (0..plan.tables.len()).collect();
    let mut order = Vec::with_capacity(remaining.len());
    while !remaining.is_empty() {
        let ready: Vec<usize> = remaining
            .iter()
            .copied()
            .filter(|&n| {
                !plan.edges.iter().any(|e| {
                    e.declared.is_some()
                        && e.parent == n
                        && e.child != n
                        && remaining.contains(&e.child)
                })
            })
            .collect();
        if ready.is_empty() {
            order.append(&mut remaining);
            break;
        }
        remaining.retain(|n| !ready.contains(n));
        order.extend(ready);
    }
    order
}

fn due_pred(
    sql: &mut Sql,
    d: Dialect,
    t: &PlanTable,
    alias: &str,
    clock: &str,
    tenant: &str,
    cutoff: Timestamp,
) {
    tenant_pred(sql, d, t, alias, tenant);
    let Some(path) = t.clock_path(clock) else {
        sql.push(&format!(" AND {alias}.{} < ", q(d, clock)))
            .bind_as(time_param(d, cutoff), t.data_type(clock));
        return;
    };
    // The clock lives on another table (an organisation's contract end for its operators'
    // rows): the row is due when the one row its hops reach has a clock before the cutoff,
    // every hop within the tenant. A row whose way ends nowhere (a dangling reference, a NULL)
    // has no clock and is not due.
    sql.push(" AND EXISTS (SELECT 1 FROM ");
    for (i, h) in path.hops.iter().enumerate() {
        let j = format!("j{i}");
        if i == 0 {
            sql.push(&format!("{} {j}", q(d, &h.table)));
        } else {
            sql.push(&format!(
                " JOIN {} {j} ON {j}.{} = j{}.{}",
                q(d, &h.table),
                q(d, &h.key),
                i - 1,
                q(d, &h.column)
            ));
        }
    }
    let first = &path.hops[0];
    sql.push(&format!(
        " WHERE j0.{} = {alias}.{}",
        q(d, &first.key),
        q(d, &first.column)
    ));
    for (i, h) in path.hops.iter().enumerate() {
        if let Some(c) = &h.tenant_column {
            sql.push(&format!(" AND j{i}.{} = ", q(d, c))).bind(tenant);
        }
    }
    let last = path.hops.len() - 1;
    sql.push(&format!(" AND j{last}.{} < ", q(d, clock)))
        .bind_as(time_param(d, cutoff), &path.clock_type);
    sql.push(")");
}

fn purge_rows(
    conn: &mut dyn Conn,
    t: &PlanTable,
    clock: &str,
    tenant: &str,
    cutoff: Timestamp,
    batch: u32,
    plan: &Plan,
) -> Result<(u64, u64), ConnectorError> {
    let d = conn.dialect();
    let name = q(d, &t.name);
    let keys: Vec<String> = t
        .key
        .iter()
        .map(|k| {
            if k == "rowid" && d == Dialect::Sqlite {
                "rowid".into()
            } else {
                q(d, k)
            }
        })
        .collect();
    let (mut deleted, mut batches) = (0, 0);
    // `(key columns) op (bound values)`, one placeholder per key column.
    let key_bound = |sql: &mut Sql, cols: &[String], op: &str, values: &[String]| {
        sql.push(&format!(" AND ({}) {op} (", cols.join(", ")));
        for (i, (k, v)) in t.key.iter().zip(values).enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind_as(v.clone(), t.data_type(k));
        }
        sql.push(")");
    };
    if d == Dialect::Postgres {
        // Each batch takes the next `batch` due rows in key order after the last batch's last
        // key, skipping rows another purge holds, and deletes them; it hands back how many and
        // the last key. Without the lower bound every batch read the key index from its start,
        // over every row an earlier batch deleted and every other tenant's (0.43 of bare batched
        // DELETEs at full scale).
        let pick: Vec<String> = keys.iter().map(|k| format!("x.{k}")).collect();
        let on: Vec<String> = keys.iter().map(|k| format!("t.{k} = b.{k}")).collect();
        let back: Vec<String> = keys.iter().map(|k| format!("t.{k}")).collect();
        let last_key: Vec<String> = keys.iter().map(|k| format!("{k}::text")).collect();
        // Qualified: the output columns are text, and "999" sorts after "1000".
        let desc: Vec<String> = keys.iter().map(|k| format!("gone.{k} DESC")).collect();
        let mut last: Option<Vec<String>> = None;
        loop {
            let mut sql = Sql::new(d);
            sql.push(&format!(
                "WITH b AS (SELECT {} FROM {name} x WHERE ",
                pick.join(", ")
            ));
            due_pred(&mut sql, d, t, "x", clock, tenant, cutoff);
            if let Some(l) = &last {
                key_bound(&mut sql, &pick, ">", l);
            }
            sql.push(&format!(
                " ORDER BY {} LIMIT {batch} FOR UPDATE SKIP LOCKED), gone AS (DELETE FROM {name} t USING b WHERE {} RETURNING {}) SELECT COUNT(*) OVER (), {} FROM gone ORDER BY {} LIMIT 1",
                pick.join(", "),
                on.join(" AND "),
                back.join(", "),
                last_key.join(", "),
                desc.join(", ")
            ));
            conn.batch(&format!(
                "BEGIN; SET LOCAL lock_timeout = '{}s'; SET LOCAL statement_timeout = '{}s'",
                plan.lock_timeout, plan.statement_timeout
            ))?;
            let row = match conn.query(&sql) {
                Ok(rows) => rows.into_iter().next(),
                Err(e) => {
                    rollback(conn);
                    return Err(e);
                }
            };
            conn.batch("COMMIT")?;
            let n = row
                .as_ref()
                .and_then(|r| r.first())
                .and_then(Cell::int)
                .map_or(0, |n| n.max(0) as u64);
            deleted += n;
            batches += 1;
            if n < u64::from(batch) {
                return Ok((deleted, batches));
            }
            last = row.map(|r| {
                r[1..]
                    .iter()
                    .map(|c| c.text().unwrap_or_default())
                    .collect()
            });
        }
    }
    // Key ranges: find the batch's last key, delete up to it, go on after it.
    let mut last: Option<Vec<String>> = None;
    loop {
        let mut find = Sql::new(d);
        find.push(&format!(
            "SELECT {} FROM {name} t WHERE ",
            keys.iter()
                .map(|k| format!("t.{k}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        due_pred(&mut find, d, t, "t", clock, tenant, cutoff);
        let plain: Vec<String> = keys.iter().map(|k| format!("t.{k}")).collect();
        if let Some(l) = &last {
            key_bound(&mut find, &plain, ">", l);
        }
        find.push(&format!(
            " ORDER BY {} LIMIT 1 OFFSET {}",
            keys.join(", "),
            batch - 1
        ));
        let upper: Option<Vec<String>> = conn
            .query(&find)?
            .first()
            .map(|r| r.iter().map(|c| c.text().unwrap_or_default()).collect());
        let mut del = Sql::new(d);
        del.push(&format!("DELETE FROM {name} WHERE "));
        due_pred(&mut del, d, t, &name, clock, tenant, cutoff);
        let qualified: Vec<String> = keys.iter().map(|k| format!("{name}.{k}")).collect();
        if let Some(l) = &last {
            key_bound(&mut del, &qualified, ">", l);
        }
        if let Some(u) = &upper {
            key_bound(&mut del, &qualified, "<=", u);
        }
        let n = conn.execute(&del)?;
        deleted += n;
        batches += 1;
        match upper {
            Some(u) => last = Some(u),
            None => return Ok((deleted, batches)),
        }
    }
}

/// What would make a table's purge cheaper: an index when the database would read the whole
/// table to find expired rows (read from its query plan), and partitions whose every row has
/// expired (dropping one is cheaper than deleting its rows).
fn advice(
    conn: &mut dyn Conn,
    plan: &Plan,
    t: &PlanTable,
    clock: &str,
    tenant: &str,
    cutoff: Timestamp,
) -> Result<Vec<String>, ConnectorError> {
    let d = conn.dialect();
    let mut out = Vec::new();
    let mut sql = Sql::new(d);
    let explain = match d {
        Dialect::Postgres => "EXPLAIN ",
        Dialect::Mysql => "EXPLAIN ",
        Dialect::Sqlite => "EXPLAIN QUERY PLAN ",
    };
    sql.push(&format!(
        "{explain}SELECT 1 FROM {} t WHERE ",
        q(d, &t.name)
    ));
    due_pred(&mut sql, d, t, "t", clock, tenant, cutoff);
    let rows = conn.query(&sql)?;
    let text: Vec<String> = rows
        .iter()
        .map(|r| {
            r.iter()
                .filter_map(Cell::text)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let full = match d {
        Dialect::Postgres => text.iter().any(|l| l.contains("Seq Scan")),
        // EXPLAIN's `type` column: ALL reads every row.
        Dialect::Mysql => rows
            .iter()
            .any(|r| r.get(3).and_then(Cell::text).as_deref() == Some("ALL")),
        Dialect::Sqlite => text
            .iter()
            .any(|l| l.contains("SCAN ") && !l.contains("USING")),
    };
    let mut cols: Vec<String> = t.tenant_column.iter().cloned().collect();
    // A clock on another table is reached through the first hop's column.
    cols.push(
        t.clock_path(clock)
            .map_or_else(|| clock.to_owned(), |p| p.hops[0].column.clone()),
    );
    if full {
        out.push(format!(
            "the purge of `{}` reads the whole table to find expired rows (query plan: {}); add CREATE INDEX ON {} ({})",
            t.name,
            text.first().map(|s| s.trim()).unwrap_or(""),
            t.name,
            cols.join(", ")
        ));
    }
    let _ = plan;
    Ok(out)
}

/// Partitions of `table` whose every row lies before `cutoff` (the schema's bounds).
pub fn expired_partitions(table: &custos_connect::schema::Table, cutoff: Timestamp) -> Vec<String> {
    table
        .partitions
        .iter()
        .flat_map(|p| p.partitions.iter())
        .filter(|p| p.upper.is_some_and(|u| u <= cutoff))
        .map(|p| p.name.clone())
        .collect()
}

/// Erases again, after a restore, every subject the audit trail says was erased from this
/// dataset: the values of the subject columns are normalised and keyed (`pseudonym`) and
/// matched against `erased` (pseudonyms, never identities), so the journal holds no identity in
/// clear. Returns one receipt per subject found.
pub fn replay_erasures(
    conn: &mut dyn Conn,
    plan: &Plan,
    policy: &Policy,
    tenant: &str,
    erased: &BTreeSet<String>,
    pseudonym: &dyn Fn(&str) -> String,
    hash: &dyn Fn(&str) -> String,
) -> Result<Vec<(String, ErasureReceipt)>, ConnectorError> {
    let d = conn.dialect();
    let cc = plan.phone_country.as_deref();
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if !tenant_applies(plan, tenant) {
        return Ok(Vec::new());
    }
    for t in plan.tables.iter().filter(|t| t.rows == Rows::Owned) {
        for (col, kind) in &t.subject {
            let mut sql = Sql::new(d);
            sql.push(&format!(
                "SELECT DISTINCT {} FROM {} t WHERE ",
                as_text(d, "t", col),
                q(d, &t.name)
            ));
            tenant_pred(&mut sql, d, t, "t", tenant);
            conn.each(&sql, &mut |row| {
                if let Some(v) = row[0].text() {
                    let n = column_form(*kind, &v, cc);
                    let p = pseudonym(&n);
                    if erased.contains(&p) {
                        let ids = found.entry(p).or_default();
                        if !ids.contains(&n) {
                            ids.push(n);
                        }
                    }
                }
                Ok(())
            })?;
        }
    }
    let mut out = Vec::new();
    for (p, given) in found {
        let ids = Identities::from_given(&given, cc);
        out.push((p, erase(conn, plan, policy, tenant, &ids, hash)?));
    }
    Ok(out)
}

/// Rows of one table of a breach's categories that a tenant holds now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldCount {
    /// The table.
    pub table: String,
    /// Its category in the annotations.
    pub category: String,
    /// Its rows of the tenant.
    pub rows: u64,
    /// Distinct subjects among them, where one column names the subject (owned rows); `None`
    /// where the table names no subject or several columns do.
    pub subjects: Option<u64>,
}

/// Counts, in one read snapshot, the tenant's rows of every table whose category is one of
/// `categories` or under one (`mail` covers `mail.metadata`), and the distinct subjects where a
/// single column names them: who a breach of those categories may have affected in the company's
/// own database (Art. 33(3)(a)). Rows held now: rows deleted since the breach are not known
/// here. Counts only; writes nothing.
pub fn count_held(
    conn: &mut dyn Conn,
    plan: &Plan,
    tenant: &str,
    categories: &[String],
) -> Result<Vec<HeldCount>, ConnectorError> {
    if !tenant_applies(plan, tenant) {
        return Ok(Vec::new());
    }
    let covered = |c: &str| {
        categories.iter().any(|k| {
            c == k
                || c.strip_prefix(k.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
        })
    };
    read_only(conn, plan, |conn| {
        let d = conn.dialect();
        let mut out = Vec::new();
        for t in plan.tables.iter().filter(|t| covered(&t.category)) {
            let distinct = match t.subject.as_slice() {
                [(col, _)] => format!(", COUNT(DISTINCT t.{})", q(d, col)),
                _ => String::new(),
            };
            let mut sql = Sql::new(d);
            sql.push(&format!(
                "SELECT COUNT(*){distinct} FROM {} t WHERE ",
                q(d, &t.name)
            ));
            tenant_pred(&mut sql, d, t, "t", tenant);
            let row = conn.query(&sql)?;
            let n = |i: usize| {
                row.first()
                    .and_then(|r| r.get(i))
                    .and_then(Cell::int)
                    .and_then(|n| u64::try_from(n).ok())
            };
            out.push(HeldCount {
                table: t.name.clone(),
                category: t.category.clone(),
                rows: n(0).unwrap_or(0),
                subjects: if distinct.is_empty() { None } else { n(1) },
            });
        }
        Ok(out)
    })
}
