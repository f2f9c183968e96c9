//! The plan: the annotations resolved against the live schema into what the vault's connector
//! layer executes. Tables by index, the edges an access walk follows to its fixpoint, and the
//! order an erasure deletes in (children first, cycles broken at a nullable or deferrable key).
//! Built only from annotations [`crate::check::check`] found no error in.

use std::collections::{BTreeMap, BTreeSet};

use custos_policy::diag::{Diagnostic, Severity};
use custos_policy::resolved::Policy;
use serde::Serialize;

use crate::annotations::{Annotations, Erase, HopAnn, IdKind, LinkAs, Rows, link_key};
use crate::check::{Mask, check, masked_columns};
use crate::schema::{Dialect, OnDelete, Schema, ValueKind};

/// Default lock timeout of a job's statements, in seconds.
pub const LOCK_TIMEOUT_SECONDS: u32 = 5;
/// Default statement timeout, in seconds.
pub const STATEMENT_TIMEOUT_SECONDS: u32 = 300;

/// Everything a connector job needs to know about one database.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The dataset's name: the source in answers and receipts.
    pub dataset: String,
    /// The database's dialect.
    pub dialect: Dialect,
    /// For a one-tenant database, its tenant.
    pub fixed_tenant: Option<String>,
    /// The country calling code for national phone numbers.
    pub phone_country: Option<String>,
    /// Lock timeout in seconds.
    pub lock_timeout: u32,
    /// Statement timeout in seconds.
    pub statement_timeout: u32,
    /// The tables with personal data (rows other than `none`).
    pub tables: Vec<PlanTable>,
    /// The ways from a subject's rows in one table to rows in another.
    pub edges: Vec<Edge>,
    /// Tables whose rows an erasure may delete, children before the tables they reference.
    pub delete_order: Vec<usize>,
    /// Foreign-key columns an erasure sets to NULL in the rows it reaches before it deletes: to
    /// break a cycle, for a self-reference on MySQL (which checks row by row), and where a kept
    /// table points at deleted rows.
    pub clear_first: Vec<usize>,
}

/// One table of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanTable {
    /// Its name.
    pub name: String,
    /// The columns that identify a row; `["rowid"]` for a SQLite table without a key.
    pub key: Vec<String>,
    /// The tenant column (`None` for a one-tenant database).
    pub tenant_column: Option<String>,
    /// What its rows are to a subject.
    pub rows: Rows,
    /// How an erasure treats its owned rows.
    pub erase: Erase,
    /// The category its rows are records of.
    pub category: String,
    /// Columns identifying the subject.
    pub subject: Vec<(String, IdKind)>,
    /// JSON mentions: column, array key, kind.
    pub json: Vec<(String, String, IdKind)>,
    /// Masks of a `mentions` table's subject columns.
    pub masks: Vec<(String, Mask)>,
    /// For kept rows: the column that starts the statutory period.
    pub keep_clock: Option<String>,
    /// Retention rules: (clock column, category).
    pub retention: Vec<(String, String)>,
    /// For each retention rule, in the same order: the way to the table its clock lives on
    /// (no hops: the clock is a column of this table).
    pub clock_paths: Vec<ClockPath>,
    /// Every column, in table order, with its kind and its type as the database names it.
    pub columns: Vec<(String, ValueKind, String)>,
}

/// One hop of a retention clock's way to another table: this side's `column` matches the
/// `table`'s `key` (a key of its own), within the tenant (`tenant_column`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    /// The referencing column, in the table the hop starts from.
    pub column: String,
    /// The referenced table.
    pub table: String,
    /// Its key column.
    pub key: String,
    /// Its tenant column, if the database holds several tenants.
    pub tenant_column: Option<String>,
    /// The key column's type as the database names it.
    pub key_type: String,
}

/// Where a retention rule's clock lives: this table (no hops), or the end of its hops.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClockPath {
    /// The hops, in order.
    pub hops: Vec<Hop>,
    /// The clock column's type as the database names it, on the last hop's table.
    pub clock_type: String,
}

/// What an edge does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EdgeKind {
    /// Child rows of the subject's parent rows are the subject's.
    Owner,
    /// Child rows of the subject's parent rows mention the subject; the child columns are set
    /// NULL on erasure.
    Mention,
    /// The subject's child (link) rows make the subject a member of the parent (shared) rows.
    Member,
}

/// A way from rows of one table to rows of another: a foreign key, or an undeclared reference.
#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    /// The referenced table.
    pub parent: usize,
    /// The referencing table.
    pub child: usize,
    /// (child column, parent column) pairs.
    pub pairs: Vec<(String, String)>,
    /// What it means.
    pub kind: EdgeKind,
    /// A time window: (child time column, parent start, parent end).
    pub during: Option<(String, String, String)>,
    /// For a declared foreign key: its ON DELETE action and whether it is deferrable.
    pub declared: Option<(OnDelete, bool)>,
    /// Whether every child column accepts NULL.
    pub nullable: bool,
}

impl Plan {
    /// Checks the annotations and builds the plan. Fails with every finding of severity error
    /// (warnings do not stop a plan; [`check`] reports them).
    pub fn build(
        ann: &Annotations,
        schema: &Schema,
        policy: &Policy,
    ) -> Result<Plan, Vec<Diagnostic>> {
        let errors: Vec<Diagnostic> = check(ann, schema, policy)
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut tables = Vec::new();
        let mut index = BTreeMap::new();
        for t in ann.table.iter().filter(|t| t.personal()) {
            let table = schema
                .table(t.name.get_ref())
                .expect("checked: every annotated table exists");
            let category = t
                .category
                .as_ref()
                .map(|c| c.get_ref().clone())
                .unwrap_or_default();
            index.insert(t.name.get_ref().clone(), tables.len());
            tables.push(PlanTable {
                name: table.name.clone(),
                key: table.row_key().unwrap_or_else(|| vec!["rowid".to_owned()]),
                tenant_column: ann.tenant_column(t).map(|c| c.get_ref().clone()),
                rows: *t.rows.get_ref(),
                erase: t.erase(),
                subject: t
                    .subject
                    .iter()
                    .map(|(c, k)| (c.clone(), *k.get_ref()))
                    .collect(),
                json: t
                    .json
                    .iter()
                    .map(|j| {
                        (
                            j.column.get_ref().clone(),
                            j.path.get_ref().clone(),
                            *j.identity.get_ref(),
                        )
                    })
                    .collect(),
                masks: masked_columns(t, table),
                keep_clock: t.keep.as_ref().map(|k| k.clock.get_ref().clone()),
                retention: t
                    .retention
                    .iter()
                    .map(|r| {
                        let cat = r
                            .category
                            .as_ref()
                            .map_or_else(|| category.clone(), |c| c.get_ref().clone());
                        (r.clock.get_ref().clone(), cat)
                    })
                    .collect(),
                clock_paths: t
                    .retention
                    .iter()
                    .map(|r| {
                        let hops: Vec<Hop> = r
                            .through
                            .iter()
                            .filter_map(|h| HopAnn::parse(h.get_ref()))
                            .map(|h| {
                                let ann_t = ann.table.iter().find(|x| x.name.get_ref() == &h.table);
                                let key_type = schema
                                    .table(&h.table)
                                    .and_then(|x| x.column(&h.key))
                                    .map(|c| c.data_type.clone())
                                    .unwrap_or_default();
                                Hop {
                                    tenant_column: ann_t
                                        .and_then(|x| ann.tenant_column(x))
                                        .map(|c| c.get_ref().clone()),
                                    column: h.column,
                                    table: h.table,
                                    key: h.key,
                                    key_type,
                                }
                            })
                            .collect();
                        let at = hops
                            .last()
                            .map_or(t.name.get_ref().as_str(), |h| h.table.as_str());
                        let clock_type = schema
                            .table(at)
                            .and_then(|x| x.column(r.clock.get_ref()))
                            .map(|c| c.data_type.clone())
                            .unwrap_or_default();
                        ClockPath { hops, clock_type }
                    })
                    .collect(),
                category,
                columns: table
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), c.kind(), c.data_type.clone()))
                    .collect(),
            });
        }
        let mut edges = Vec::new();
        for t in ann.table.iter().filter(|t| t.personal()) {
            let child = index[t.name.get_ref()];
            let table = schema.table(t.name.get_ref()).expect("checked");
            for fk in &table.foreign_keys {
                let link = *t.links[&link_key(&fk.columns)].get_ref();
                let Some(&parent) = index.get(&fk.references) else {
                    continue; // a link to a table without personal data: checked to be `ignore`
                };
                let kind = match link {
                    LinkAs::Ignore => continue,
                    LinkAs::Owner if t.rows.get_ref() == &Rows::Mentions => EdgeKind::Mention,
                    LinkAs::Owner => EdgeKind::Owner,
                    LinkAs::Mention => EdgeKind::Mention,
                    LinkAs::Member => EdgeKind::Member,
                };
                edges.push(Edge {
                    parent,
                    child,
                    pairs: fk
                        .columns
                        .iter()
                        .cloned()
                        .zip(fk.referenced_columns.iter().cloned())
                        .collect(),
                    kind,
                    during: None,
                    declared: Some((fk.on_delete, fk.deferrable)),
                    nullable: fk
                        .columns
                        .iter()
                        .all(|c| table.column(c).is_some_and(|c| c.nullable)),
                });
            }
            for r in &t.reference {
                let parent = index[r.to.get_ref()];
                let kind = match r.link_as.as_ref().map(|a| *a.get_ref()) {
                    Some(LinkAs::Mention) => EdgeKind::Mention,
                    _ if t.rows.get_ref() == &Rows::Mentions => EdgeKind::Mention,
                    _ => EdgeKind::Owner,
                };
                edges.push(Edge {
                    parent,
                    child,
                    pairs: r
                        .columns
                        .iter()
                        .map(|(a, b)| (a.clone(), b.get_ref().clone()))
                        .collect(),
                    kind,
                    during: r.during.as_ref().map(|d| {
                        (
                            d.at.get_ref().clone(),
                            d.from.get_ref().clone(),
                            d.until.get_ref().clone(),
                        )
                    }),
                    declared: None,
                    nullable: r
                        .columns
                        .keys()
                        .all(|c| table.column(c).is_some_and(|c| c.nullable)),
                });
            }
        }
        // Foreign keys the annotations ignore for the walk still tie rows together: deleting
        // the child side first spares the database an ON DELETE SET NULL (or a check) on rows
        // the same erasure deletes a moment later. An order only, dropped first in a cycle.
        let mut hints = Vec::new();
        for t in ann.table.iter().filter(|t| t.personal()) {
            let child = index[t.name.get_ref()];
            let table = schema.table(t.name.get_ref()).expect("checked");
            for fk in &table.foreign_keys {
                let ignored = t
                    .links
                    .get(&link_key(&fk.columns))
                    .is_some_and(|l| *l.get_ref() == LinkAs::Ignore);
                if let (true, Some(&parent)) = (ignored, index.get(&fk.references))
                    && parent != child
                {
                    hints.push((child, parent));
                }
            }
        }
        let (delete_order, clear_first) = delete_order(&tables, &edges, &hints, schema.dialect)?;
        let d = &ann.dataset;
        Ok(Plan {
            dataset: d.name.get_ref().clone(),
            dialect: schema.dialect,
            fixed_tenant: d.tenant.as_ref().map(|t| t.get_ref().clone()),
            phone_country: d.phone_country.as_ref().map(|c| c.get_ref().clone()),
            lock_timeout: d
                .lock_timeout_seconds
                .as_ref()
                .map_or(LOCK_TIMEOUT_SECONDS, |s| *s.get_ref()),
            statement_timeout: d
                .statement_timeout_seconds
                .as_ref()
                .map_or(STATEMENT_TIMEOUT_SECONDS, |s| *s.get_ref()),
            tables,
            edges,
            delete_order,
            clear_first,
        })
    }

    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<usize> {
        self.tables.iter().position(|t| t.name == name)
    }
}

impl PlanTable {
    /// The way to the clock of the (first) retention rule on `clock`.
    pub fn clock_path(&self, clock: &str) -> Option<&ClockPath> {
        self.retention
            .iter()
            .position(|(c, _)| c == clock)
            .and_then(|i| self.clock_paths.get(i))
            .filter(|p| !p.hops.is_empty())
    }

    /// The type of column `name` as the database names it (`text` when unknown).
    pub fn data_type(&self, name: &str) -> &str {
        self.columns
            .iter()
            .find(|c| c.0 == name)
            .map_or("text", |c| c.2.as_str())
    }
}

/// Whether an erasure may delete rows of `t` (owned rows under `delete`, and the shared rows
/// whose last member goes).
pub fn deletes(t: &PlanTable) -> bool {
    matches!(
        (t.rows, t.erase),
        (Rows::Owned, Erase::Delete) | (Rows::Shared, _)
    )
}

/// Orders the deleting tables children first. A cycle is broken at a declared key that is
/// deferrable (PostgreSQL checks it at commit) or nullable (its columns are cleared first); a
/// cycle of NOT NULL, non-deferrable keys cannot be erased row by row and is refused.
fn delete_order(
    tables: &[PlanTable],
    edges: &[Edge],
    hints: &[(usize, usize)],
    dialect: Dialect,
) -> Result<(Vec<usize>, Vec<usize>), Vec<Diagnostic>> {
    let nodes: BTreeSet<usize> = (0..tables.len()).filter(|&i| deletes(&tables[i])).collect();
    let mut clear = Vec::new();
    // Edges between deleting tables, child -> parent; self-references aside.
    let mut live: Vec<usize> = Vec::new();
    for (e, edge) in edges.iter().enumerate() {
        if edge.declared.is_none() {
            continue;
        }
        let both = nodes.contains(&edge.parent) && nodes.contains(&edge.child);
        if edge.parent == edge.child {
            // MySQL checks a foreign key row by row: deleting a parent before its child in one
            // statement fails, so the self-reference is cleared first where it can be.
            if both && dialect == Dialect::Mysql && edge.nullable {
                clear.push(e);
            }
            continue;
        }
        if both {
            live.push(e);
        }
        // A kept (or masked) child whose key points at rows the erasure deletes: cleared first
        // unless the database sets it NULL itself.
        let child = &tables[edge.child];
        let kept = child.rows == Rows::Owned && child.erase == Erase::Keep;
        if kept
            && nodes.contains(&edge.parent)
            && edge.kind == EdgeKind::Owner
            && matches!(
                edge.declared,
                Some((OnDelete::NoAction | OnDelete::Restrict, _))
            )
            && edge.nullable
        {
            clear.push(e);
        }
    }
    let mut order = Vec::new();
    let mut remaining = nodes.clone();
    let mut hints: Vec<(usize, usize)> = hints
        .iter()
        .copied()
        .filter(|(c, p)| nodes.contains(c) && nodes.contains(p))
        .collect();
    while !remaining.is_empty() {
        // A table can go once no remaining table other than itself references it.
        let ready: Vec<usize> = remaining
            .iter()
            .copied()
            .filter(|&n| {
                !live
                    .iter()
                    .any(|&e| edges[e].parent == n && remaining.contains(&edges[e].child))
                    && !hints.iter().any(|&(c, p)| p == n && remaining.contains(&c))
            })
            .collect();
        if ready.is_empty() && !hints.is_empty() {
            // Stuck: the hints are orders of convenience, never a reason to fail.
            hints.clear();
            continue;
        }
        if !ready.is_empty() {
            for n in ready {
                remaining.remove(&n);
                order.push(n);
            }
            continue;
        }
        // A cycle: drop one breakable edge inside the remaining tables.
        let inside: Vec<usize> = live
            .iter()
            .copied()
            .filter(|&e| {
                remaining.contains(&edges[e].parent) && remaining.contains(&edges[e].child)
            })
            .collect();
        let breakable = inside.iter().copied().find(|&e| {
            matches!(edges[e].declared, Some((_, true))) && dialect == Dialect::Postgres
        });
        let breakable = breakable.or_else(|| inside.iter().copied().find(|&e| edges[e].nullable));
        match breakable {
            Some(e) => {
                if !(matches!(edges[e].declared, Some((_, true))) && dialect == Dialect::Postgres) {
                    clear.push(e);
                }
                live.retain(|&x| x != e);
            }
            None => {
                let names: Vec<&str> = remaining.iter().map(|&n| tables[n].name.as_str()).collect();
                return Err(vec![Diagnostic {
                    code: "D135",
                    name: "unbreakable-cycle",
                    severity: Severity::Error,
                    message: format!(
                        "the tables {} reference each other through NOT NULL foreign keys that cannot be deferred: no order deletes them",
                        names.join(", ")
                    ),
                    article: None,
                    span: None,
                    help: Some("make one foreign key of the cycle nullable or DEFERRABLE".into()),
                }]);
            }
        }
    }
    clear.sort_unstable();
    clear.dedup();
    Ok((order, clear))
}
