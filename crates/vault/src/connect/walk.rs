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

fn create_temp(conn: &mut dyn Conn, t: &PlanTable, name: &str) -> Result<(), ConnectorError> {
    let d = conn.dialect();
    conn.batch(&drop_temp(d, name))?;
    let (kw, never) = match d {
        Dialect::Postgres => ("CREATE TEMP TABLE", "false"),
        Dialect::Mysql => ("CREATE TEMPORARY TABLE", "1 = 0"),
        Dialect::Sqlite => ("CREATE TEMP TABLE", "0"),
    };
    conn.batch(&format!(
        "{kw} {name} AS SELECT {} FROM {} t WHERE {never}",
        key_select(d, t, "t"),
        q(d, &t.name)
    ))?;
    let ks: Vec<String> = (0..t.key.len()).map(|i| format!("k{i}")).collect();
    let index = match d {
        Dialect::Postgres => format!("CREATE UNIQUE INDEX ON {name} ({})", ks.join(", ")),
        Dialect::Mysql => format!("ALTER TABLE {name} ADD PRIMARY KEY ({})", ks.join(", ")),
        Dialect::Sqlite => format!(
            "CREATE UNIQUE INDEX temp.{name}_k ON {name} ({})",
            ks.join(", ")
        ),
    };
    conn.batch(&index)
}

/// `INSERT ... ` that skips rows already there, in the dialect's words.
fn insert_new(d: Dialect, into: &str, n: usize) -> (String, &'static str) {
    let ks: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
    match d {
        Dialect::Postgres => (
            format!("INSERT INTO {into} ({}) ", ks.join(", ")),
            " ON CONFLICT DO NOTHING",
        ),
        Dialect::Mysql => (
            format!("INSERT IGNORE INTO {into} ({}) ", ks.join(", ")),
            "",
        ),
        Dialect::Sqlite => (
            format!("INSERT OR IGNORE INTO {into} ({}) ", ks.join(", ")),
            "",
        ),
    }
}

impl Reach {
    /// Creates the key tables.
    pub fn create(conn: &mut dyn Conn, plan: &Plan) -> Result<Reach, ConnectorError> {
        let mut r = Reach {
            owned: Vec::new(),
            shared: Vec::new(),
            base_mention: Vec::new(),
            json: Vec::new(),
            mention: Vec::new(),
            stage: Vec::new(),
        };
        for (i, t) in plan.tables.iter().enumerate() {
            let o = format!("custos_o{i}");
            create_temp(conn, t, &o)?;
            r.owned.push(o);
            r.shared.push(if t.rows == Rows::Shared {
                let s = format!("custos_s{i}");
                create_temp(conn, t, &s)?;
                Some(s)
            } else {
                None
            });
            r.base_mention
                .push(if t.rows == Rows::Mentions && !t.subject.is_empty() {
                    let s = format!("custos_b{i}");
                    create_temp(conn, t, &s)?;
                    Some(s)
                } else {
                    None
                });
            r.json.push(if t.json.is_empty() {
                None
            } else {
                let s = format!("custos_j{i}");
                create_temp(conn, t, &s)?;
                Some(s)
            });
            let self_owner = plan
                .edges
                .iter()
                .any(|e| e.parent == i && e.child == i && e.kind == EdgeKind::Owner);
            r.stage.push(if self_owner {
                let s = format!("custos_x{i}");
                create_temp(conn, t, &s)?;
                Some(s)
            } else {
                None
            });
        }
        for (e, edge) in plan.edges.iter().enumerate() {
            r.mention.push(if edge.kind == EdgeKind::Mention {
                let s = format!("custos_m{e}");
                create_temp(conn, &plan.tables[edge.child], &s)?;
                Some(s)
            } else {
                None
            });
        }
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

    /// Empties every key table (to walk again, e.g. to verify an erasure).
    pub fn clear(&self, conn: &mut dyn Conn) -> Result<(), ConnectorError> {
        for t in self.tables() {
            conn.batch(&format!("DELETE FROM {t}"))?;
        }
        Ok(())
    }

    /// Drops every key table.
    pub fn drop(&self, conn: &mut dyn Conn) -> Result<(), ConnectorError> {
        let d = conn.dialect();
        for t in self.tables() {
            conn.batch(&drop_temp(d, t))?;
        }
        Ok(())
    }

    /// Walks from the identities to the fixpoint. Returns the statements run, with their
    /// placeholders, for a dry run.
    pub fn walk(
        &self,
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
                Rows::Owned => Some(&self.owned[i]),
                Rows::Mentions => self.base_mention[i].as_ref(),
                _ => None,
            };
            if let Some(target) = target
                && let Some(sql) = base_sql(d, t, target, tenant, ids, cc)
            {
                conn.execute(&sql)?;
                log.push(sql.text);
            }
            if let Some(target) = &self.json[i] {
                for (col, path, kind) in &t.json {
                    for id in ids.of(*kind) {
                        let sql = json_sql(d, t, target, col, path, *kind, tenant, id, cc)?;
                        conn.execute(&sql)?;
                        log.push(sql.text);
                    }
                }
            }
        }
        // The edges, to a fixpoint.
        let mut round = 0;
        loop {
            round += 1;
            let mut added = 0;
            for (e, edge) in plan.edges.iter().enumerate() {
                added += self.edge_step(conn, plan, e, edge, tenant, round == 1, &mut log)?;
            }
            for (i, t) in plan.tables.iter().enumerate() {
                if let Some(s) = &self.shared[i] {
                    added += self.orphans(conn, plan, i, t, s, tenant, round == 1, &mut log)?;
                }
            }
            if added == 0 {
                break;
            }
        }
        Ok(log)
    }

    #[allow(clippy::too_many_arguments)]
    fn edge_step(
        &self,
        conn: &mut dyn Conn,
        plan: &Plan,
        e: usize,
        edge: &Edge,
        tenant: &str,
        first: bool,
        log: &mut Vec<String>,
    ) -> Result<u64, ConnectorError> {
        let d = conn.dialect();
        let parent = &plan.tables[edge.parent];
        let child = &plan.tables[edge.child];
        let (from_reach, target, select_from): (&str, &str, &PlanTable) = match edge.kind {
            EdgeKind::Owner => (&self.owned[edge.parent], &self.owned[edge.child], child),
            EdgeKind::Mention => (
                &self.owned[edge.parent],
                self.mention[e]
                    .as_deref()
                    .expect("a mention edge has its table"),
                child,
            ),
            // Member: the subject's link rows make it a member of the shared parent rows.
            EdgeKind::Member => (
                &self.owned[edge.child],
                self.shared[edge.parent]
                    .as_deref()
                    .expect("a member edge points at a shared table"),
                parent,
            ),
        };
        let mut sql = Sql::new(d);
        let stage = (edge.kind == EdgeKind::Owner && edge.parent == edge.child)
            .then(|| self.stage[edge.child].clone())
            .flatten();
        let into = stage.as_deref().unwrap_or(target);
        let (insert, tail) = insert_new(d, into, select_from.key.len());
        if stage.is_some() {
            conn.batch(&format!("DELETE FROM {into}"))?;
        }
        let on: Vec<String> = edge
            .pairs
            .iter()
            .map(|(c, p)| format!("c.{} = p.{}", q(d, c), q(d, p)))
            .collect();
        let pick = if edge.kind == EdgeKind::Member {
            "p"
        } else {
            "c"
        };
        sql.push(&insert).push(&format!(
            "SELECT DISTINCT {} FROM {} c JOIN {} p ON {}",
            key_select(d, select_from, pick),
            q(d, &child.name),
            q(d, &parent.name),
            on.join(" AND ")
        ));
        if let Some((at, from, until)) = &edge.during {
            sql.push(&format!(
                " AND c.{at} >= p.{from} AND (p.{until} IS NULL OR c.{at} < p.{until})",
                at = q(d, at),
                from = q(d, from),
                until = q(d, until)
            ));
        }
        let (reach_table, reach_alias_table, alias) = match edge.kind {
            EdgeKind::Member => (from_reach, child, "c"),
            _ => (from_reach, parent, "p"),
        };
        sql.push(&format!(
            " JOIN {reach_table} r ON {} WHERE ",
            key_join(d, reach_alias_table, alias, "r")
        ));
        tenant_pred(&mut sql, d, child, "c", tenant);
        sql.push(" AND ");
        tenant_pred(&mut sql, d, parent, "p", tenant);
        sql.push(tail);
        let mut n = conn.execute(&sql)?;
        if first {
            log.push(sql.text.clone());
        }
        if stage.is_some() {
            let ks: Vec<String> = (0..child.key.len()).map(|i| format!("k{i}")).collect();
            let (insert, tail) = insert_new(d, target, child.key.len());
            let mut copy = Sql::new(d);
            copy.push(&insert)
                .push(&format!("SELECT {} FROM {into}", ks.join(", ")))
                .push(tail);
            n = conn.execute(&copy)?;
        }
        Ok(n)
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
        first: bool,
        log: &mut Vec<String>,
    ) -> Result<u64, ConnectorError> {
        let d = conn.dialect();
        let (insert, tail) = insert_new(d, &self.owned[i], t.key.len());
        let ks: Vec<String> = (0..t.key.len()).map(|k| format!("s.k{k}")).collect();
        let mut sql = Sql::new(d);
        sql.push(&insert).push(&format!(
            "SELECT {} FROM {shared} s WHERE 1 = 1",
            ks.join(", ")
        ));
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
            tenant_pred(&mut sql, d, link, "c", tenant);
            sql.push(&format!(
                " AND NOT ({}))",
                key_in(d, link, Some("c"), &self.owned[edge.child])
            ));
        }
        sql.push(tail);
        let n = conn.execute(&sql)?;
        if first {
            log.push(sql.text.clone());
        }
        Ok(n)
    }
}

/// Rows of `t` whose subject columns hold one of the identities.
fn base_sql(
    d: Dialect,
    t: &PlanTable,
    target: &str,
    tenant: &str,
    ids: &Identities,
    cc: Option<&str>,
) -> Option<Sql> {
    let mut ors = Vec::new();
    let mut sql = Sql::new(d);
    let (insert, tail) = insert_new(d, target, t.key.len());
    sql.push(&insert).push(&format!(
        "SELECT {} FROM {} t WHERE ",
        key_select(d, t, "t"),
        q(d, &t.name)
    ));
    tenant_pred(&mut sql, d, t, "t", tenant);
    sql.push(" AND (");
    for (col, kind) in &t.subject {
        for id in ids.of(*kind) {
            if !ors.is_empty() {
                sql.push(" OR ");
            }
            sql.push(&format!(
                "{} = ",
                norm(d, *kind, &format!("t.{}", q(d, col)), cc)
            ))
            .bind(id);
            ors.push(());
        }
    }
    sql.push(")").push(tail);
    (!ors.is_empty()).then_some(sql)
}

/// Whether a JSON key can be written into a path literal.
pub(super) fn valid_json_key(path: &str) -> bool {
    !path.is_empty() && path.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

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
) -> Result<Sql, ConnectorError> {
    if !valid_json_key(path) {
        return Err(ConnectorError::Statement {
            reason: format!(
                "the JSON key of `{}.{col}` must be letters, digits and _",
                t.name
            ),
        });
    }
    let mut sql = Sql::new(d);
    let (insert, tail) = insert_new(d, target, t.key.len());
    sql.push(&insert).push(&format!(
        "SELECT {} FROM {} t WHERE ",
        key_select(d, t, "t"),
        q(d, &t.name)
    ));
    tenant_pred(&mut sql, d, t, "t", tenant);
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
    sql.bind(id).push(")").push(tail);
    Ok(sql)
}
