//! The walk: the subject's rows in every table, found to a fixpoint by set-based statements into
//! temporary key tables. Each table of the plan gets `custos_o<i>` (rows the subject owns), a
//! shared table `custos_s<i>` (rows the subject is a member of), a `mentions` table with subject
//! columns `custos_b<i>`, a table with JSON mentions `custos_j<i>`, and each mention edge
//! `custos_m<e>`. The key tables live in the job's connection and transaction only.

use custos_connect::annotations::{IdKind, Rows};
use custos_connect::plan::{Edge, EdgeKind, Plan, PlanTable};
use custos_connect::schema::Dialect;

use super::ConnectorError;
use super::driver::{Conn, Sql, quote};

/// The subject's identifiers, each already in the normal form of its kind.
#[derive(Debug, Clone, Default)]
pub struct Identities {
    /// (kind, normalised value).
    pub values: Vec<(IdKind, String)>,
}

impl Identities {
    /// The values of one kind.
    pub fn of(&self, kind: IdKind) -> impl Iterator<Item = &str> {
        self.values
            .iter()
            .filter(move |(k, _)| *k == kind)
            .map(|(_, v)| v.as_str())
    }
}

/// The temporary key tables of one walk.
pub struct Reach {
    /// Per table: owned rows.
    pub owned: Vec<String>,
    /// Per table: shared rows (shared tables only).
    pub shared: Vec<Option<String>>,
    /// Per table: rows whose subject columns name the subject (mentions tables only).
    pub base_mention: Vec<Option<String>>,
    /// Per table: rows whose JSON mentions the subject.
    pub json: Vec<Option<String>>,
    /// Per edge: child rows that mention the subject through it (mention edges only).
    pub mention: Vec<Option<String>>,
    /// Per table: a staging copy for self-referencing owner edges.
    stage: Vec<Option<String>>,
    /// The generation of the last statement that added keys (every key row has its `g`).
    generation: i64,
}

pub(super) fn q(d: Dialect, name: &str) -> String {
    quote(d, name)
}

/// `alias.key0 = r.k0 AND ...` for table `t` against a key table aliased `r`.
pub(super) fn key_join(d: Dialect, t: &PlanTable, alias: &str, r: &str) -> String {
    t.key
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{alias}.{} = {r}.k{i}", key_col(d, k)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn key_col(d: Dialect, k: &str) -> String {
    if k == "rowid" && d == Dialect::Sqlite {
        "rowid".to_owned()
    } else {
        q(d, k)
    }
}

/// `alias.key0, alias.key1` (selected as `k0, k1`).
pub(super) fn key_select(d: Dialect, t: &PlanTable, alias: &str) -> String {
    t.key
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{alias}.{} AS k{i}", key_col(d, k)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(alias.key0, alias.key1) IN (SELECT k0, k1 FROM r)`, or the one-column form.
pub(super) fn key_in(d: Dialect, t: &PlanTable, alias: Option<&str>, r: &str) -> String {
    let prefix = alias.map(|a| format!("{a}.")).unwrap_or_default();
    let cols: Vec<String> = t
        .key
        .iter()
        .map(|k| format!("{prefix}{}", key_col(d, k)))
        .collect();
    let ks: Vec<String> = (0..t.key.len()).map(|i| format!("k{i}")).collect();
    if cols.len() == 1 {
        format!("{} IN (SELECT {} FROM {r})", cols[0], ks[0])
    } else {
        format!(
            "({}) IN (SELECT {} FROM {r})",
            cols.join(", "),
            ks.join(", ")
        )
    }
}

/// The tenant predicate on `t` aliased `alias`: `alias.tenant = ?`; nothing for a one-tenant
/// database (the job checked the tenant before it began).
pub(super) fn tenant_pred(sql: &mut Sql, d: Dialect, t: &PlanTable, alias: &str, tenant: &str) {
    if let Some(c) = &t.tenant_column {
        sql.push(&format!("{alias}.{} = ", q(d, c))).bind(tenant);
    } else {
        sql.push("1 = 1");
    }
}

/// The normal form of a column's value, in SQL: the same steps as
/// `custos_connect::identity::column_form`.
pub(super) fn norm(d: Dialect, kind: IdKind, expr: &str, phone_country: Option<&str>) -> String {
    let concat = |a: &str, b: &str| match d {
        Dialect::Mysql => format!("CONCAT({a}, {b})"),
        _ => format!("({a} || {b})"),
    };
    match kind {
        IdKind::Email => format!("LOWER(TRIM({expr}))"),
        IdKind::Opaque => match d {
            Dialect::Postgres => format!("CAST({expr} AS text)"),
            _ => expr.to_owned(),
        },
        IdKind::Phone => {
            let mut x = format!("TRIM({expr})");
            for ch in [" ", "-", ".", "(", ")"] {
                x = format!("REPLACE({x}, '{ch}', '')");
            }
            let national = match phone_country {
                Some(cc) if cc.bytes().all(|b| b.is_ascii_digit()) => format!(
                    " WHEN {x} LIKE '0%' THEN {}",
                    concat(&format!("'+{cc}'"), &format!("SUBSTR({x}, 2)"))
                ),
                _ => String::new(),
            };
            format!(
                "(CASE WHEN {x} LIKE '00%' THEN {}{national} ELSE {x} END)",
                concat("'+'", &format!("SUBSTR({x}, 3)"))
            )
        }
    }
}

fn drop_temp(d: Dialect, name: &str) -> String {
    match d {
        Dialect::Postgres => format!("DROP TABLE IF EXISTS pg_temp.{name}"),
        Dialect::Mysql => format!("DROP TEMPORARY TABLE IF EXISTS {name}"),
        Dialect::Sqlite => format!("DROP TABLE IF EXISTS temp.{name}"),
    }
}

/// The statements that (re)create a key table: the key columns of `t` as `k0, k1, ...` and the
/// generation `g` of the step that found the row.
///
/// SQLite and MySQL skip keys already there through a unique key (`INSERT OR IGNORE`,
/// `INSERT IGNORE`; MySQL cannot name a temporary table twice in one statement, so it has no
/// other way). PostgreSQL keeps no index at all: it skips known keys with `NOT EXISTS` (see
/// [`Insert`]), and maintaining a unique index under `ON CONFLICT` cost three times the insert
/// itself (measured: 30 000 keys in 69 ms with the index, 18 ms without); its joins against a
/// key table hash it.
fn create_temp(d: Dialect, t: &PlanTable, name: &str, out: &mut Vec<String>) {
    out.push(drop_temp(d, name));
    let ks: Vec<String> = (0..t.key.len()).map(|i| format!("k{i}")).collect();
    let (kw, never) = match d {
        Dialect::Postgres => ("CREATE TEMP TABLE".to_owned(), "false"),
        // The key declared in the CREATE itself: an ALTER TABLE, even of a temporary table,
        // commits the transaction on MySQL and MariaDB, and the erasure's writes would then each
        // commit on their own, out of reach of its rollback.
        Dialect::Mysql => (
            format!(
                "CREATE TEMPORARY TABLE {name} (PRIMARY KEY ({}))",
                ks.join(", ")
            ),
            "1 = 0",
        ),
        Dialect::Sqlite => ("CREATE TEMP TABLE".to_owned(), "0"),
    };
    let named = if d == Dialect::Mysql {
        kw
    } else {
        format!("{kw} {name}")
    };
    out.push(format!(
        "{named} AS SELECT {}, 0 AS g FROM {} t WHERE {never}",
        key_select(d, t, "t"),
        q(d, &t.name)
    ));
    if d == Dialect::Sqlite {
        out.push(format!(
            "CREATE UNIQUE INDEX temp.{name}_k ON {name} ({})",
            ks.join(", ")
        ));
    }
}

/// Runs statements without parameters: in one round trip where the driver takes several
/// statements at once (PostgreSQL, SQLite), one by one on MySQL.
fn run_all(conn: &mut dyn Conn, statements: &[String]) -> Result<(), ConnectorError> {
    if statements.is_empty() {
        return Ok(());
    }
    match conn.dialect() {
        Dialect::Mysql => statements.iter().try_for_each(|s| conn.batch(s)),
        _ => conn.batch(&statements.join(";\n")),
    }
}

/// An `INSERT` of the distinct keys a query selects into a key table, skipping keys already
/// there, in the dialect's words: `head`, then the caller's `FROM ... WHERE ...`, then
/// [`Insert::finish`].
struct Insert {
    into: String,
    exprs: Vec<String>,
}

impl Insert {
    /// Starts `INSERT INTO into (k0, ..., g) SELECT DISTINCT exprs..., generation`.
    fn head(d: Dialect, sql: &mut Sql, into: &str, exprs: Vec<String>, generation: i64) -> Insert {
        let ks: Vec<String> = (0..exprs.len()).map(|i| format!("k{i}")).collect();
        let verb = match d {
            Dialect::Postgres => "INSERT INTO",
            Dialect::Mysql => "INSERT IGNORE INTO",
            Dialect::Sqlite => "INSERT OR IGNORE INTO",
        };
        sql.push(&format!(
            "{verb} {into} ({}, g) SELECT DISTINCT {}, {generation} ",
            ks.join(", "),
            exprs.join(", ")
        ));
        Insert {
            into: into.to_owned(),
            exprs,
        }
    }

    /// Ends the statement (after its `WHERE` clause): on PostgreSQL, `AND NOT EXISTS` the key in
    /// the key table (the `SELECT` sees the table as it was before the statement, and `DISTINCT`
    /// removes repeats within it, so no key is ever there twice).
    fn finish(self, d: Dialect, sql: &mut Sql) {
        if d == Dialect::Postgres {
            let on: Vec<String> = self
                .exprs
                .iter()
                .enumerate()
                .map(|(i, e)| format!("x.k{i} = {e}"))
                .collect();
            sql.push(&format!(
                " AND NOT EXISTS (SELECT 1 FROM {} x WHERE {})",
                self.into,
                on.join(" AND ")
            ));
        }
    }
}

/// The key expressions of `t` aliased `alias` (`alias.key0`, ...).
fn key_exprs(d: Dialect, t: &PlanTable, alias: &str) -> Vec<String> {
    t.key
        .iter()
        .map(|k| format!("{alias}.{}", key_col(d, k)))
        .collect()
}

/// The rows an edge leads to from the rows of a key table (`FROM ... WHERE ...`), and the
/// table and alias whose keys it selects.
///
/// The key table comes first and, on SQLite, drives the join (`CROSS JOIN` fixes the order):
/// SQLite has no statistics on a temporary table and otherwise may read the whole data table
/// to probe a key table of a few rows.
fn edge_body<'p>(
    sql: &mut Sql,
    d: Dialect,
    plan: &'p Plan,
    edge: &Edge,
    from_reach: &str,
    since: i64,
    tenant: &str,
) -> (&'p PlanTable, &'static str) {
    let parent = &plan.tables[edge.parent];
    let child = &plan.tables[edge.child];
    let join = if d == Dialect::Sqlite {
        "CROSS JOIN"
    } else {
        "JOIN"
    };
    let on: Vec<String> = edge
        .pairs
        .iter()
        .map(|(c, p)| format!("c.{} = p.{}", q(d, c), q(d, p)))
        .collect();
    let mut on = on.join(" AND ");
    if let Some((at, from, until)) = &edge.during {
        on.push_str(&format!(
            " AND c.{at} >= p.{from} AND (p.{until} IS NULL OR c.{at} < p.{until})",
            at = q(d, at),
            from = q(d, from),
            until = q(d, until)
        ));
    }
    // Member: the subject's link rows (the child) make it a member of the shared parent rows.
    let (near, near_alias, far, far_alias, pick) = match edge.kind {
        EdgeKind::Member => (child, "c", parent, "p", (parent, "p")),
        _ => (parent, "p", child, "c", (child, "c")),
    };
    sql.push(&format!(
        "FROM {from_reach} r {join} {} {near_alias} ON {} {join} {} {far_alias} ON {on} WHERE r.g > {since} AND ",
        q(d, &near.name),
        key_join(d, near, near_alias, "r"),
        q(d, &far.name),
    ));
    tenant_pred(sql, d, child, "c", tenant);
    sql.push(" AND ");
    tenant_pred(sql, d, parent, "p", tenant);
    pick
}

impl Reach {
    /// Creates the key tables (in one round trip where the dialect allows).
    pub fn create(conn: &mut dyn Conn, plan: &Plan) -> Result<Reach, ConnectorError> {
        let d = conn.dialect();
        let mut r = Reach {
            owned: Vec::new(),
            shared: Vec::new(),
            base_mention: Vec::new(),
            json: Vec::new(),
            mention: Vec::new(),
            stage: Vec::new(),
            generation: 0,
        };
        let mut ddl = Vec::new();
        let mut make = |t: &PlanTable, name: String| {
            create_temp(d, t, &name, &mut ddl);
            name
        };
        for (i, t) in plan.tables.iter().enumerate() {
            r.owned.push(make(t, format!("custos_o{i}")));
            r.shared
                .push((t.rows == Rows::Shared).then(|| make(t, format!("custos_s{i}"))));
            r.base_mention.push(
                (t.rows == Rows::Mentions && !t.subject.is_empty())
                    .then(|| make(t, format!("custos_b{i}"))),
            );
            r.json
                .push((!t.json.is_empty()).then(|| make(t, format!("custos_j{i}"))));
            let self_owner = plan
                .edges
                .iter()
                .any(|e| e.parent == i && e.child == i && e.kind == EdgeKind::Owner);
            r.stage
                .push(self_owner.then(|| make(t, format!("custos_x{i}"))));
        }
        for (e, edge) in plan.edges.iter().enumerate() {
            r.mention.push(
                (edge.kind == EdgeKind::Mention)
                    .then(|| make(&plan.tables[edge.child], format!("custos_m{e}"))),
            );
        }
        run_all(conn, &ddl)?;
        Ok(r)
    }

    /// Every key table of the walk.
    fn tables(&self) -> impl Iterator<Item = &String> {
        self.owned
            .iter()
            .chain(self.shared.iter().flatten())
            .chain(self.base_mention.iter().flatten())
            .chain(self.json.iter().flatten())
            .chain(self.mention.iter().flatten())
            .chain(self.stage.iter().flatten())
    }

    /// Drops every key table.
    pub fn drop(&self, conn: &mut dyn Conn) -> Result<(), ConnectorError> {
        let d = conn.dialect();
        let all: Vec<&String> = self.tables().collect();
        let statements: Vec<String> = match d {
            Dialect::Postgres => vec![format!(
                "DROP TABLE IF EXISTS {}",
                all.iter()
                    .map(|t| format!("pg_temp.{t}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )],
            Dialect::Mysql => vec![format!(
                "DROP TEMPORARY TABLE IF EXISTS {}",
                all.iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )],
            Dialect::Sqlite => all.iter().map(|t| drop_temp(d, t)).collect(),
        };
        run_all(conn, &statements)
    }

    /// The generation of the next statement that adds keys.
    pub fn advance(&mut self) -> i64 {
        self.generation += 1;
        self.generation
    }

    /// Walks from the identities to the fixpoint. Returns the statements run, with their
    /// placeholders, for a dry run.
    ///
    /// Semi-naive: every key row carries the generation of the statement that added it, and an
    /// edge joins only the rows of its source added since it last ran (each statement of a round
    /// used to join the whole key table again, so a subject's 30 000 mails were re-read once per
    /// round). Rows an edge adds to its own source (a self-reference) are of its own generation
    /// and so joined on its next run. The fixpoint is a round that adds nothing: then every edge
    /// has joined every source row. Shared rows left to the subject alone (`orphans`) are not
    /// monotone in the member rows, so they are looked at whole every round.
    pub fn walk(
        &mut self,
        conn: &mut dyn Conn,
        plan: &Plan,
        tenant: &str,
        ids: &Identities,
    ) -> Result<Vec<String>, ConnectorError> {
        let d = conn.dialect();
        let cc = plan.phone_country.as_deref();
        let mut log = Vec::new();
        // The subject's own columns.
        for (i, t) in plan.tables.iter().enumerate() {
            let target = match t.rows {
                Rows::Owned => Some(self.owned[i].clone()),
                Rows::Mentions => self.base_mention[i].clone(),
                _ => None,
            };
            if let Some(target) = target {
                let g = self.advance();
                if let Some(sql) = base_sql(d, t, &target, tenant, ids, cc, g) {
                    conn.execute(&sql)?;
                    log.push(sql.text);
                }
            }
            if let Some(target) = self.json[i].clone() {
                for (col, path, kind) in &t.json {
                    for id in ids.of(*kind) {
                        let g = self.advance();
                        let sql = json_sql(d, t, &target, col, path, *kind, tenant, id, cc, g)?;
                        conn.execute(&sql)?;
                        log.push(sql.text);
                    }
                }
            }
        }
        // The edges, to a fixpoint.
        let mut seen = vec![0i64; plan.edges.len()];
        let mut round = 0;
        loop {
            round += 1;
            let mut added = 0;
            for (e, edge) in plan.edges.iter().enumerate() {
                let g = self.advance();
                let first = round == 1;
                added +=
                    self.edge_step(conn, plan, e, edge, tenant, seen[e], g, first, &mut log)?;
                seen[e] = g - 1;
            }
            for (i, t) in plan.tables.iter().enumerate() {
                if let Some(s) = self.shared[i].clone() {
                    let g = self.advance();
                    added += self.orphans(conn, plan, i, t, &s, tenant, g, round == 1, &mut log)?;
                }
            }
            if added == 0 {
                break;
            }
        }
        Ok(log)
    }

    /// Adds the rows edge `e` leads to from the rows of its source added after generation
    /// `since`, as generation `g`. Returns how many were new.
    #[allow(clippy::too_many_arguments)]
    pub fn edge_step(
        &self,
        conn: &mut dyn Conn,
        plan: &Plan,
        e: usize,
        edge: &Edge,
        tenant: &str,
        since: i64,
        g: i64,
        first: bool,
        log: &mut Vec<String>,
    ) -> Result<u64, ConnectorError> {
        let d = conn.dialect();
        let (from_reach, target): (&str, &str) = match edge.kind {
            EdgeKind::Owner => (&self.owned[edge.parent], &self.owned[edge.child]),
            EdgeKind::Mention => (
                &self.owned[edge.parent],
                self.mention[e]
                    .as_deref()
                    .expect("a mention edge has its table"),
            ),
            EdgeKind::Member => (
                &self.owned[edge.child],
                self.shared[edge.parent]
                    .as_deref()
                    .expect("a member edge points at a shared table"),
            ),
        };
        // MySQL cannot name a temporary table twice in one statement: a self-reference adds to
        // a staging table first.
        let stage = (edge.kind == EdgeKind::Owner && edge.parent == edge.child)
            .then(|| self.stage[edge.child].clone())
            .flatten();
        let into = stage.as_deref().unwrap_or(target);
        if stage.is_some() {
            conn.batch(&format!("DELETE FROM {into}"))?;
        }
        let select_from = match edge.kind {
            EdgeKind::Member => &plan.tables[edge.parent],
            _ => &plan.tables[edge.child],
        };
        let alias = if edge.kind == EdgeKind::Member {
            "p"
        } else {
            "c"
        };
        let mut sql = Sql::new(d);
        let insert = Insert::head(d, &mut sql, into, key_exprs(d, select_from, alias), g);
        edge_body(&mut sql, d, plan, edge, from_reach, since, tenant);
        insert.finish(d, &mut sql);
        let mut n = conn.execute(&sql)?;
        if first {
            log.push(sql.text.clone());
        }
        if let Some(stage) = &stage {
            let ks: Vec<String> = (0..select_from.key.len())
                .map(|i| format!("s.k{i}"))
                .collect();
            let mut copy = Sql::new(d);
            let insert = Insert::head(d, &mut copy, target, ks, g);
            copy.push(&format!("FROM {stage} s WHERE 1 = 1"));
            insert.finish(d, &mut copy);
            n = conn.execute(&copy)?;
        }
        Ok(n)
    }

    /// How many distinct rows an edge leads to from every row of its source, now.
    pub fn edge_count(
        &self,
        conn: &mut dyn Conn,
        plan: &Plan,
        edge: &Edge,
        tenant: &str,
    ) -> Result<u64, ConnectorError> {
        let d = conn.dialect();
        let source = match edge.kind {
            EdgeKind::Member => &self.owned[edge.child],
            _ => &self.owned[edge.parent],
        };
        let mut sql = Sql::new(d);
        let mut body = Sql::new(d);
        let (t, alias) = edge_body(&mut body, d, plan, edge, source, 0, tenant);
        sql.push(&format!(
            "SELECT COUNT(*) FROM (SELECT DISTINCT {} ",
            key_exprs(d, t, alias).join(", ")
        ));
        sql.push(&body.text);
        sql.params.extend(body.params);
        sql.push(") z");
        conn.count(&sql)
    }

    /// Shared rows whose every member link belongs to the subject become the subject's own.
    #[allow(clippy::too_many_arguments)]
    fn orphans(
        &self,
        conn: &mut dyn Conn,
        plan: &Plan,
        i: usize,
        t: &PlanTable,
        shared: &str,
        tenant: &str,
        g: i64,
        first: bool,
        log: &mut Vec<String>,
    ) -> Result<u64, ConnectorError> {
        let d = conn.dialect();
        let ks: Vec<String> = (0..t.key.len()).map(|k| format!("s.k{k}")).collect();
        let mut sql = Sql::new(d);
        let insert = Insert::head(d, &mut sql, &self.owned[i], ks, g);
        sql.push(&format!("FROM {shared} s WHERE 1 = 1"));
        orphan_pred(&mut sql, d, plan, i, t, &self.owned, tenant);
        insert.finish(d, &mut sql);
        let n = conn.execute(&sql)?;
        if first {
            log.push(sql.text.clone());
        }
        Ok(n)
    }

    /// How many rows of shared table `i`'s key table belong to the subject alone, now (read,
    /// not added).
    pub fn orphan_count(
        &self,
        conn: &mut dyn Conn,
        plan: &Plan,
        i: usize,
        tenant: &str,
    ) -> Result<u64, ConnectorError> {
        let d = conn.dialect();
        let Some(shared) = &self.shared[i] else {
            return Ok(0);
        };
        let mut sql = Sql::new(d);
        sql.push(&format!("SELECT COUNT(*) FROM {shared} s WHERE 1 = 1"));
        orphan_pred(&mut sql, d, plan, i, &plan.tables[i], &self.owned, tenant);
        conn.count(&sql)
    }
}

/// `AND NOT EXISTS` a member link of the shared row `s` that is not the subject's, for every
/// member edge into table `i`.
fn orphan_pred(
    sql: &mut Sql,
    d: Dialect,
    plan: &Plan,
    i: usize,
    t: &PlanTable,
    owned: &[String],
    tenant: &str,
) {
    for edge in plan
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Member && e.parent == i)
    {
        let link = &plan.tables[edge.child];
        let on: Vec<String> = edge
            .pairs
            .iter()
            .map(|(c, p)| format!("c.{} = p.{}", q(d, c), q(d, p)))
            .collect();
        sql.push(&format!(
            " AND NOT EXISTS (SELECT 1 FROM {} c JOIN {} p ON {} WHERE {} AND ",
            q(d, &link.name),
            q(d, &t.name),
            on.join(" AND "),
            key_join(d, t, "p", "s")
        ));
        tenant_pred(sql, d, link, "c", tenant);
        sql.push(&format!(
            " AND NOT ({}))",
            key_in(d, link, Some("c"), &owned[edge.child])
        ));
    }
}

/// `FROM t t WHERE <tenant> AND (<a subject column holds an identity>)`; false when no
/// identity is of a kind the table has a column for.
fn seed_body(
    sql: &mut Sql,
    d: Dialect,
    t: &PlanTable,
    tenant: &str,
    ids: &Identities,
    cc: Option<&str>,
) -> bool {
    let mut any = false;
    sql.push(&format!("FROM {} t WHERE ", q(d, &t.name)));
    tenant_pred(sql, d, t, "t", tenant);
    sql.push(" AND (");
    for (col, kind) in &t.subject {
        for id in ids.of(*kind) {
            if any {
                sql.push(" OR ");
            }
            sql.push(&format!(
                "{} = ",
                norm(d, *kind, &format!("t.{}", q(d, col)), cc)
            ))
            .bind(id);
            any = true;
        }
    }
    sql.push(")");
    any
}

/// Adds the rows of `t` whose subject columns hold one of the identities, as generation `g`.
fn base_sql(
    d: Dialect,
    t: &PlanTable,
    target: &str,
    tenant: &str,
    ids: &Identities,
    cc: Option<&str>,
    g: i64,
) -> Option<Sql> {
    let mut sql = Sql::new(d);
    let insert = Insert::head(d, &mut sql, target, key_exprs(d, t, "t"), g);
    let any = seed_body(&mut sql, d, t, tenant, ids, cc);
    insert.finish(d, &mut sql);
    any.then_some(sql)
}

/// How many rows of `t` a subject column of names the subject now; with `known`, only those
/// not in that key table.
pub(super) fn seed_count(
    conn: &mut dyn Conn,
    t: &PlanTable,
    tenant: &str,
    ids: &Identities,
    cc: Option<&str>,
    known: Option<&str>,
) -> Result<u64, ConnectorError> {
    let d = conn.dialect();
    let mut sql = Sql::new(d);
    sql.push("SELECT COUNT(*) ");
    if !seed_body(&mut sql, d, t, tenant, ids, cc) {
        return Ok(0);
    }
    if let Some(known) = known {
        sql.push(&format!(
            " AND NOT EXISTS (SELECT 1 FROM {known} x WHERE {})",
            key_join(d, t, "t", "x")
        ));
    }
    conn.count(&sql)
}

/// Whether a JSON key can be written into a path literal.
pub(super) fn valid_json_key(path: &str) -> bool {
    !path.is_empty() && path.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `FROM t t WHERE <tenant> AND EXISTS (<an element of col's array at path is id>)`.
#[allow(clippy::too_many_arguments)]
fn json_body(
    sql: &mut Sql,
    d: Dialect,
    t: &PlanTable,
    col: &str,
    path: &str,
    kind: IdKind,
    tenant: &str,
    id: &str,
    cc: Option<&str>,
) -> Result<(), ConnectorError> {
    if !valid_json_key(path) {
        return Err(ConnectorError::Statement {
            reason: format!(
                "the JSON key of `{}.{col}` must be letters, digits and _",
                t.name
            ),
        });
    }
    sql.push(&format!("FROM {} t WHERE ", q(d, &t.name)));
    tenant_pred(sql, d, t, "t", tenant);
    let c = format!("t.{}", q(d, col));
    match d {
        Dialect::Postgres => {
            sql.push(&format!(
                " AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(({c})::jsonb -> '{path}') = 'array' THEN ({c})::jsonb -> '{path}' ELSE '[]'::jsonb END) e(v) WHERE {} = ",
                norm(d, kind, "e.v", cc)
            ));
        }
        Dialect::Mysql => {
            sql.push(&format!(
                " AND EXISTS (SELECT 1 FROM JSON_TABLE({c}, '$.{path}[*]' COLUMNS (v TEXT PATH '$')) e WHERE {} = ",
                norm(d, kind, "e.v", cc)
            ));
        }
        Dialect::Sqlite => {
            sql.push(&format!(
                " AND EXISTS (SELECT 1 FROM json_each({c}, '$.{path}') e WHERE {} = ",
                norm(d, kind, "e.value", cc)
            ));
        }
    }
    sql.bind(id).push(")");
    Ok(())
}

/// Adds the rows of `t` whose JSON array names the subject, as generation `g`.
#[allow(clippy::too_many_arguments)]
fn json_sql(
    d: Dialect,
    t: &PlanTable,
    target: &str,
    col: &str,
    path: &str,
    kind: IdKind,
    tenant: &str,
    id: &str,
    cc: Option<&str>,
    g: i64,
) -> Result<Sql, ConnectorError> {
    let mut sql = Sql::new(d);
    let insert = Insert::head(d, &mut sql, target, key_exprs(d, t, "t"), g);
    json_body(&mut sql, d, t, col, path, kind, tenant, id, cc)?;
    insert.finish(d, &mut sql);
    Ok(sql)
}

/// How many rows of `t` the JSON mentions of name the subject now.
pub(super) fn json_count(
    conn: &mut dyn Conn,
    t: &PlanTable,
    tenant: &str,
    ids: &Identities,
    cc: Option<&str>,
) -> Result<u64, ConnectorError> {
    let d = conn.dialect();
    let mut n = 0;
    for (col, path, kind) in &t.json {
        for id in ids.of(*kind) {
            let mut sql = Sql::new(d);
            sql.push("SELECT COUNT(*) ");
            json_body(&mut sql, d, t, col, path, *kind, tenant, id, cc)?;
            n += conn.count(&sql)?;
        }
    }
    Ok(n)
}
