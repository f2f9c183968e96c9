//! The checks run before anything touches a database: the annotations against the live schema
//! and the policy. Every finding names its place in the annotations file; the job refuses to
//! run while one of severity error remains (fail closed: a table nobody annotated may hold
//! personal data an erasure would miss, and a mask the database refuses would fail halfway).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use custos_policy::diag::{Diagnostic, Severity};
use custos_policy::resolved::Policy;

use crate::annotations::{Annotations, Erase, IdKind, LinkAs, Rows, Sp, TableAnn, link_key};
use crate::schema::{Dialect, OnDelete, Schema, Table, ValueKind};

/// One finding.
fn finding(
    code: &'static str,
    name: &'static str,
    severity: Severity,
    message: String,
    span: Option<Range<usize>>,
) -> Diagnostic {
    Diagnostic {
        code,
        name,
        severity,
        message,
        article: None,
        span,
        help: None,
    }
}

fn error(
    code: &'static str,
    name: &'static str,
    message: String,
    span: Option<Range<usize>>,
) -> Diagnostic {
    finding(code, name, Severity::Error, message, span)
}

fn span<T>(s: &Sp<T>) -> Option<Range<usize>> {
    Some(s.span())
}

/// The masks an erasure can write, as named in `mask = { col = "..." }`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mask {
    /// NULL.
    Null,
    /// The fixed text [`REDACTED`].
    Redact,
    /// A keyed hash of the value (hex): distinct values stay distinct, so a unique key holds.
    Hash,
    /// A value of the annotator's choosing.
    Value(String),
}

/// The text `redact` writes.
pub const REDACTED: &str = "[erased]";

impl Mask {
    /// Reads a mask's name.
    pub fn parse(s: &str) -> Option<Mask> {
        match s {
            "null" => Some(Mask::Null),
            "redact" => Some(Mask::Redact),
            "hash" => Some(Mask::Hash),
            _ => s.strip_prefix("value:").map(|v| Mask::Value(v.to_owned())),
        }
    }

    /// The mask a column gets when the annotations name none: NULL where the column allows it,
    /// else a keyed hash for a text in a unique key, else the fixed text.
    pub fn default_for(table: &Table, column: &str) -> Mask {
        match table.column(column) {
            Some(c) if c.nullable => Mask::Null,
            Some(_) if table.in_unique_key(column) => Mask::Hash,
            _ => Mask::Redact,
        }
    }
}

/// Whether a column can hold a time: a date or time type, or on SQLite (which has none) text
/// holding ISO 8601, as its `datetime()` writes.
fn timeish(dialect: crate::schema::Dialect, c: &crate::schema::Column) -> bool {
    c.kind() == ValueKind::Time
        || (dialect == crate::schema::Dialect::Sqlite && c.kind() == ValueKind::Text)
}

/// Checks `ann` against the live `schema` and the `policy`. Findings come in file order where
/// they have a place; schema drift without a place (a table nobody annotated) comes first.
pub fn check(ann: &Annotations, schema: &Schema, policy: &Policy) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    dataset_rules(ann, &mut out);
    let mut seen = BTreeSet::new();
    for t in &ann.table {
        if !seen.insert(t.name.get_ref().as_str()) {
            out.push(error(
                "D108",
                "duplicate-table",
                format!("table `{}` is annotated twice", t.name.get_ref()),
                span(&t.name),
            ));
        }
    }
    for table in &schema.tables {
        if ann.table(&table.name).is_none() {
            out.push(
                error(
                    "D101",
                    "unannotated-table",
                    format!(
                        "table `{}` is in the database but not in the annotations (schema drift)",
                        table.name
                    ),
                    None,
                )
                .with_help(format!(
                    "add a [[table]] with name = \"{}\" and its rows, or rows = \"none\" if it holds no personal data",
                    table.name
                )),
            );
        }
    }
    for t in &ann.table {
        match schema.table(t.name.get_ref()) {
            None => out.push(
                error(
                    "D102",
                    "missing-table",
                    format!(
                        "table `{}` is annotated but the database has no such table (schema drift)",
                        t.name.get_ref()
                    ),
                    span(&t.name),
                )
                .with_help("remove the annotation, or point the check at the right database"),
            ),
            Some(table) => table_rules(ann, t, table, schema, policy, &mut out),
        }
    }
    plan_rules(ann, schema, &mut out);
    out
}

fn dataset_rules(ann: &Annotations, out: &mut Vec<Diagnostic>) {
    let d = &ann.dataset;
    match (&d.tenant_column, &d.tenant) {
        (Some(_), Some(t)) => out.push(error(
            "D111",
            "tenant",
            "`tenant` and `tenant_column` exclude each other: a database holds one tenant or names the column that tells them apart".into(),
            span(t),
        )),
        (None, None) if ann.table.iter().any(|t| t.personal() && t.tenant_column.is_none()) => out.push(
            error(
                "D111",
                "tenant",
                "the dataset names neither a tenant column nor its one tenant: without it, one tenant's request could reach another's rows".into(),
                span(&d.name),
            )
            .with_help("add tenant_column = \"tenant_id\" (or tenant = \"acme\" for a one-tenant database) to [dataset]"),
        ),
        _ => {}
    }
    if let Some(c) = &d.phone_country
        && (c.get_ref().is_empty()
            || c.get_ref().len() > 3
            || !c.get_ref().bytes().all(|b| b.is_ascii_digit()))
    {
        out.push(error(
            "D109",
            "invalid-value",
            "phone_country is a country calling code: one to three digits, such as \"31\"".into(),
            span(c),
        ));
    }
}

fn missing_column(table: &str, column: &str, s: Option<Range<usize>>) -> Diagnostic {
    error(
        "D104",
        "missing-column",
        format!("table `{table}` has no column `{column}` (schema drift, or a misspelling)"),
        s,
    )
}

fn category_rule(policy: &Policy, id: &Sp<String>, out: &mut Vec<Diagnostic>) -> bool {
    if policy.category(id.get_ref()).is_some() {
        return true;
    }
    let known: Vec<&str> = policy.categories.iter().map(|c| c.id.as_str()).collect();
    let mut d = error(
        "D107",
        "unknown-category",
        format!("category `{}` is not in the policy", id.get_ref()),
        span(id),
    );
    if let Some(n) = custos_policy::diag::nearest(id.get_ref(), known) {
        d = d.with_help(format!("did you mean `{n}`?"));
    }
    out.push(d);
    false
}

fn table_rules(
    ann: &Annotations,
    t: &TableAnn,
    table: &Table,
    schema: &Schema,
    policy: &Policy,
    out: &mut Vec<Diagnostic>,
) {
    let name = t.name.get_ref();
    let rows = *t.rows.get_ref();
    if rows == Rows::None {
        return;
    }
    match &t.category {
        Some(c) => {
            category_rule(policy, c, out);
        }
        None => out.push(
            error(
                "D107",
                "unknown-category",
                format!("table `{name}` holds personal data but names no category"),
                span(&t.rows),
            )
            .with_help("add category = \"...\", the policy category its rows are records of"),
        ),
    }
    if let Some(tc) = ann.tenant_column(t)
        && table.column(tc.get_ref()).is_none()
    {
        out.push(missing_column(name, tc.get_ref(), span(tc)).with_help(
            "every table with personal data needs the tenant column, so a request never reaches another tenant's rows",
        ));
    }
    // Columns: every one covered, every one annotated exists, every category known.
    for c in &table.columns {
        if !t.columns.contains_key(&c.name) {
            out.push(
                error(
                    "D103",
                    "unannotated-column",
                    format!(
                        "column `{}.{}` is in the database but not in the annotations (schema drift)",
                        name, c.name
                    ),
                    span(&t.name),
                )
                .with_help(format!(
                    "add {} = \"<category>\" (or \"-\" if it holds no personal data) to the table's columns",
                    c.name
                )),
            );
        }
    }
    for (col, cat) in &t.columns {
        if table.column(col).is_none() {
            out.push(missing_column(name, col, span(cat)));
        } else if cat.get_ref() != "-" {
            category_rule(policy, cat, out);
        }
    }
    for (col, kind) in &t.subject {
        if table.column(col).is_none() {
            out.push(missing_column(name, col, span(kind)));
        }
    }
    if table.row_key().is_none()
        && !(schema.dialect == crate::schema::Dialect::Sqlite && table.rowid)
    {
        out.push(error(
            "D110",
            "no-row-key",
            format!("table `{name}` has no primary key and no unique key of NOT NULL columns: its rows cannot be told apart, so they cannot be erased one by one or proven gone"),
            span(&t.name),
        ).with_help("add a primary key to the table"));
    }
    link_rules(ann, t, table, schema, out);
    reference_rules(ann, t, table, schema, out);
    for j in &t.json {
        match table.column(j.column.get_ref()) {
            None => out.push(missing_column(name, j.column.get_ref(), span(&j.column))),
            Some(c) if !matches!(c.kind(), ValueKind::Json | ValueKind::Text) => out.push(error(
                "D123",
                "mask-type",
                format!(
                    "column `{name}.{}` is of type {}, not JSON",
                    c.name, c.data_type
                ),
                span(&j.column),
            )),
            Some(_) => {}
        }
    }
    mask_rules(t, table, out);
    match t.erase() {
        Erase::Keep => keep_rules(t, table, schema, policy, out),
        Erase::Unlink => {
            if t.reference.is_empty() {
                out.push(error(
                    "D160",
                    "unlink",
                    format!("erase = \"unlink\" on `{name}` needs an undeclared reference whose rows the erasure deletes; with none, its rows stay attributable"),
                    t.erase.as_ref().map(|e| e.span()),
                ));
            }
        }
        Erase::Delete => {}
    }
    let mut ways: Vec<(&String, &Vec<Sp<String>>)> = Vec::new();
    for r in &t.retention {
        // One way to each clock name: a purge finds a rule's way by its clock.
        let way = (r.clock.get_ref(), &r.through);
        if ways.iter().any(|(c, th)| {
            *c == way.0 && th.iter().map(Sp::get_ref).ne(way.1.iter().map(Sp::get_ref))
        }) {
            out.push(error(
                "D142",
                "clock-path",
                format!("`{name}` has two retention rules on clock `{}` by different ways; give each clock one way", r.clock.get_ref()),
                span(&r.clock),
            ));
            continue;
        }
        ways.push(way);
        let Some(clock_table) = clock_table(r, table, schema, out) else {
            continue;
        };
        let at = &clock_table.name;
        match clock_table.column(r.clock.get_ref()) {
            None => out.push(missing_column(at, r.clock.get_ref(), span(&r.clock))),
            Some(c) if !timeish(schema.dialect, c) => out.push(error(
                "D141",
                "clock-type",
                format!(
                    "retention clock `{at}.{}` is of type {}, not a date or time",
                    c.name, c.data_type
                ),
                span(&r.clock),
            )),
            Some(_) => {}
        }
        let cat = r.category.as_ref().or(t.category.as_ref());
        if let Some(cat) = cat
            && category_rule(policy, cat, out)
            && let Some(c) = policy.category(cat.get_ref())
        {
            match &c.retention {
                Some(rule) if rule.period.is_some() || !rule.tiers.is_empty() => {}
                _ => out.push(
                    finding(
                        "D150",
                        "no-period",
                        Severity::Warning,
                        format!(
                            "category `{}` has no retention period (only criteria or ending events): rows of `{name}` cannot be purged on a clock",
                            cat.get_ref()
                        ),
                        span(&r.clock),
                    ),
                ),
            }
        }
    }
}

/// The table a retention rule's clock lives on: the rule's own, or the end of its `through`
/// hops, each checked (D142): `column -> table.key`, the column in the table the hop starts
/// from, the table in the schema, the key one of its primary or unique keys on its own (so a
/// row reaches one clock, not several). `None` after a finding.
fn clock_table<'s>(
    r: &crate::annotations::RetentionAnn,
    table: &'s Table,
    schema: &'s Schema,
    out: &mut Vec<Diagnostic>,
) -> Option<&'s Table> {
    let mut at = table;
    for hop in &r.through {
        let bad = |message: String| {
            let mut d = error("D142", "clock-path", message, span(hop));
            d.help = Some("write each hop as \"column -> table.key\", e.g. through = [\"organisation_id -> organisations.id\"]".into());
            d
        };
        let Some(h) = crate::annotations::HopAnn::parse(hop.get_ref()) else {
            out.push(bad(format!(
                "`{}` is not a hop `column -> table.key`",
                hop.get_ref()
            )));
            return None;
        };
        if at.column(&h.column).is_none() {
            out.push(missing_column(&at.name, &h.column, span(hop)));
            return None;
        }
        let Some(next) = schema.table(&h.table) else {
            out.push(bad(format!(
                "the hop from `{}.{}` names a table `{}` the database does not have",
                at.name, h.column, h.table
            )));
            return None;
        };
        if next.column(&h.key).is_none() {
            out.push(missing_column(&next.name, &h.key, span(hop)));
            return None;
        }
        let one = [h.key.clone()];
        if next.primary_key != one && !next.uniques.iter().any(|u| u[..] == one) {
            out.push(bad(format!("`{}.{}` is not a key of its own (primary or unique): a row of `{}` could reach several clocks", next.name, h.key, at.name)));
            return None;
        }
        at = next;
    }
    Some(at)
}

fn link_rules(
    ann: &Annotations,
    t: &TableAnn,
    table: &Table,
    schema: &Schema,
    out: &mut Vec<Diagnostic>,
) {
    let name = t.name.get_ref();
    let mut declared = BTreeSet::new();
    for fk in &table.foreign_keys {
        let key = link_key(&fk.columns);
        declared.insert(key.clone());
        let Some(link) = t.links.get(&key) else {
            out.push(
                error(
                    "D105",
                    "unannotated-foreign-key",
                    format!(
                        "foreign key {} is in the database but not in the table's links (schema drift)",
                        fk.describe(name)
                    ),
                    span(&t.name),
                )
                .with_help(format!(
                    "add \"{key}\" = \"owner\", \"mention\", \"member\" or \"ignore\" to the table's links"
                )),
            );
            continue;
        };
        let target = ann.table(&fk.references);
        let target_rows = target.map(|x| *x.rows.get_ref());
        match link.get_ref() {
            LinkAs::Member if target_rows != Some(Rows::Shared) => out.push(error(
                "D112",
                "link",
                format!("a member link must point at a table with rows = \"shared\"; `{}` is not one", fk.references),
                span(link),
            )),
            LinkAs::Owner | LinkAs::Mention if target_rows == Some(Rows::None) => out.push(error(
                "D112",
                "link",
                format!("`{}` holds no personal data, so nothing of a subject is found through it: mark this link \"ignore\"", fk.references),
                span(link),
            )),
            LinkAs::Mention => {
                for c in &fk.columns {
                    if table.column(c).is_some_and(|c| !c.nullable) {
                        out.push(error(
                            "D120",
                            "mask-not-null",
                            format!("a mention link is erased by setting `{name}.{c}` to NULL, but the column is NOT NULL"),
                            span(link),
                        ).with_help("make the link \"owner\" (the rows are deleted), or allow NULL in the column"));
                    }
                }
            }
            _ => {}
        }
        let _ = schema;
    }
    for (key, link) in &t.links {
        if !declared.contains(key) {
            out.push(error(
                "D106",
                "missing-foreign-key",
                format!("table `{name}` has no foreign key on ({key}) (schema drift); an undeclared reference goes in [[table.reference]]"),
                span(link),
            ));
        }
    }
}

fn reference_rules(
    ann: &Annotations,
    t: &TableAnn,
    table: &Table,
    schema: &Schema,
    out: &mut Vec<Diagnostic>,
) {
    let name = t.name.get_ref();
    for r in &t.reference {
        let Some(to) = schema.table(r.to.get_ref()) else {
            out.push(error(
                "D102",
                "missing-table",
                format!(
                    "reference to `{}`: the database has no such table",
                    r.to.get_ref()
                ),
                span(&r.to),
            ));
            continue;
        };
        if ann.table(r.to.get_ref()).is_none_or(|x| !x.personal()) {
            out.push(error(
                "D112",
                "link",
                format!(
                    "reference to `{}`, which holds no personal data in the annotations",
                    r.to.get_ref()
                ),
                span(&r.to),
            ));
        }
        if r.columns.is_empty() {
            out.push(error(
                "D112",
                "link",
                "a reference needs at least one pair in columns".into(),
                span(&r.to),
            ));
        }
        for (mine, theirs) in &r.columns {
            if table.column(mine).is_none() {
                out.push(missing_column(name, mine, span(theirs)));
            }
            if to.column(theirs.get_ref()).is_none() {
                out.push(missing_column(&to.name, theirs.get_ref(), span(theirs)));
            }
        }
        if let Some(d) = &r.during {
            for (tab, col) in [(table, &d.at), (to, &d.from), (to, &d.until)] {
                match tab.column(col.get_ref()) {
                    None => out.push(missing_column(&tab.name, col.get_ref(), span(col))),
                    Some(c) if !timeish(schema.dialect, c) => out.push(error(
                        "D141",
                        "clock-type",
                        format!(
                            "`{}.{}` is of type {}, not a date or time",
                            tab.name, c.name, c.data_type
                        ),
                        span(col),
                    )),
                    Some(_) => {}
                }
            }
        }
        if let Some(a) = &r.link_as
            && matches!(a.get_ref(), LinkAs::Member | LinkAs::Ignore)
        {
            out.push(error(
                "D112",
                "link",
                "an undeclared reference is \"owner\" or \"mention\"".into(),
                span(a),
            ));
        }
    }
}

/// The columns an erasure masks in `t`, with their masks: for a `mentions` table the subject
/// columns (with the table's mask or the default); mention links are set NULL (checked in
/// [`link_rules`]); JSON mentions drop the element. Owned tables mask nothing.
pub fn masked_columns(t: &TableAnn, table: &Table) -> Vec<(String, Mask)> {
    if *t.rows.get_ref() != Rows::Mentions {
        return Vec::new();
    }
    t.subject
        .keys()
        .map(|c| {
            let m = t
                .mask
                .get(c)
                .and_then(|m| Mask::parse(m.get_ref()))
                .unwrap_or_else(|| Mask::default_for(table, c));
            (c.clone(), m)
        })
        .collect()
}

fn mask_rules(t: &TableAnn, table: &Table, out: &mut Vec<Diagnostic>) {
    let name = t.name.get_ref();
    for (col, m) in &t.mask {
        let Some(c) = table.column(col) else {
            out.push(missing_column(name, col, span(m)));
            continue;
        };
        let Some(mask) = Mask::parse(m.get_ref()) else {
            out.push(
                error(
                    "D124",
                    "unknown-mask",
                    format!("`{}` is not a mask", m.get_ref()),
                    span(m),
                )
                .with_help("masks: \"null\", \"redact\", \"hash\", \"value:TEXT\""),
            );
            continue;
        };
        mask_fits(name, table, c.name.as_str(), &mask, span(m), out);
        if *t.rows.get_ref() != Rows::Mentions || !t.subject.contains_key(col) {
            out.push(finding(
                "D125",
                "mask-unused",
                Severity::Warning,
                format!("the mask of `{name}.{col}` is never used: only the subject columns of a rows = \"mentions\" table are masked"),
                span(m),
            ));
        }
    }
    if *t.rows.get_ref() == Rows::Mentions {
        for (col, mask) in masked_columns(t, table) {
            if !t.mask.contains_key(&col) {
                mask_fits(name, table, &col, &mask, span(&t.subject[&col]), out);
            }
        }
    }
}

/// Whether writing `mask` into `column` keeps the table's constraints valid.
fn mask_fits(
    name: &str,
    table: &Table,
    column: &str,
    mask: &Mask,
    s: Option<Range<usize>>,
    out: &mut Vec<Diagnostic>,
) {
    let Some(c) = table.column(column) else {
        return;
    };
    match mask {
        Mask::Null if !c.nullable => out.push(
            error(
                "D120",
                "mask-not-null",
                format!("the mask writes NULL into `{name}.{column}`, which is NOT NULL"),
                s.clone(),
            )
            .with_help("choose \"redact\", \"hash\" or \"value:...\""),
        ),
        Mask::Redact | Mask::Value(_) if table.in_unique_key(column) => out.push(
            error(
                "D121",
                "mask-unique",
                format!("the mask writes one constant into `{name}.{column}`, which is in a unique key: the second masked row would break it"),
                s.clone(),
            )
            .with_help("choose \"hash\" (distinct values stay distinct) or \"null\""),
        ),
        _ => {}
    }
    let text = matches!(mask, Mask::Redact | Mask::Hash);
    if text && !matches!(c.kind(), ValueKind::Text | ValueKind::Other) {
        out.push(error(
            "D123",
            "mask-type",
            format!(
                "the mask writes text into `{name}.{column}`, of type {}",
                c.data_type
            ),
            s.clone(),
        ));
    }
    let value = match mask {
        Mask::Null => None,
        Mask::Redact => Some(REDACTED.to_owned()),
        Mask::Hash => Some(String::new()),
        Mask::Value(v) => Some(v.clone()),
    };
    if let Some(value) = value {
        for ch in &table.checks {
            if mentions_column(&ch.expression, column)
                && (matches!(mask, Mask::Hash) || !ch.expression.contains(&format!("'{value}'")))
            {
                out.push(
                    error(
                        "D122",
                        "mask-check",
                        format!(
                            "the mask's value for `{name}.{column}` is not one the CHECK constraint {} allows",
                            ch.name.as_deref().map_or_else(|| format!("({})", ch.expression), |n| format!("`{n}` ({})", ch.expression))
                        ),
                        s.clone(),
                    )
                    .with_help("choose value:X with X a value the constraint lists, or \"null\" if the column allows it"),
                );
            }
        }
    }
}

/// Whether a CHECK expression mentions `column` as a word.
fn mentions_column(expression: &str, column: &str) -> bool {
    let e = expression.to_ascii_lowercase();
    let c = column.to_ascii_lowercase();
    e.match_indices(&c).any(|(i, _)| {
        let before = e[..i].chars().next_back();
        let after = e[i + c.len()..].chars().next();
        let word = |ch: Option<char>| ch.is_some_and(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        !word(before) && !word(after)
    })
}

fn keep_rules(
    t: &TableAnn,
    table: &Table,
    schema: &Schema,
    policy: &Policy,
    out: &mut Vec<Diagnostic>,
) {
    let name = t.name.get_ref();
    let Some(keep) = &t.keep else {
        out.push(error(
            "D133",
            "keep",
            format!("erase = \"keep\" on `{name}` needs keep = {{ clock = \"...\" }}: the column that starts the statutory period"),
            t.erase.as_ref().map(|e| e.span()),
        ));
        return;
    };
    match table.column(keep.clock.get_ref()) {
        None => out.push(missing_column(
            name,
            keep.clock.get_ref(),
            span(&keep.clock),
        )),
        Some(c) if !timeish(schema.dialect, c) => out.push(error(
            "D141",
            "clock-type",
            format!(
                "keep clock `{name}.{}` is of type {}, not a date or time",
                c.name, c.data_type
            ),
            span(&keep.clock),
        )),
        Some(_) => {}
    }
    // Kept rows must still go at D: the retention purge deletes them, so the table needs a
    // retention rule on the same clock (Art. 5(1)(e); Art. 17(3)(b) keeps them only as long as
    // the law requires).
    if !t
        .retention
        .iter()
        .any(|r| r.through.is_empty() && r.clock.get_ref() == keep.clock.get_ref())
    {
        let mut d = error(
            "D136",
            "keep-without-purge",
            format!(
                "`{name}` keeps the subject's rows until its statutory period ends, but no retention rule on `{}` deletes them then: add retention = [{{ clock = \"{}\" }}]",
                keep.clock.get_ref(),
                keep.clock.get_ref()
            ),
            span(&keep.clock),
        );
        d.article = Some("Art. 5(1)(e) and 17(3)(b) GDPR");
        out.push(d);
    }
    let statutory = t
        .category
        .as_ref()
        .and_then(|c| policy.category(c.get_ref()))
        .and_then(|c| c.retention.as_ref())
        .and_then(|r| r.statutory.as_ref().map(|s| s.period.or(r.period)));
    match statutory {
        Some(Some(_)) => {}
        _ => {
            let mut d = error(
                "D133",
                "keep",
                format!(
                    "erase = \"keep\" on `{name}`, but its category has no statutory retention with a period in the policy: only a legal obligation lets an erasure keep data (Art. 17(3)(b) GDPR)"
                ),
                t.erase.as_ref().map(|e| e.span()),
            );
            d.article = Some("Art. 17(3)(b) GDPR");
            out.push(d);
        }
    }
}

/// Rules over the whole plan: references from outside it, cascades into kept tables, subjects
/// nobody can find.
fn plan_rules(ann: &Annotations, schema: &Schema, out: &mut Vec<Diagnostic>) {
    let deleted = |name: &str| {
        ann.table(name).is_some_and(|t| match *t.rows.get_ref() {
            Rows::Owned => t.erase() == Erase::Delete,
            Rows::Shared => true,
            _ => false,
        })
    };
    for (child, fk) in schema.foreign_keys() {
        if !deleted(&fk.references) {
            continue;
        }
        let Some(cann) = ann.table(&child.name) else {
            continue; // reported as an unannotated table
        };
        let link = cann.links.get(&link_key(&fk.columns)).map(|l| *l.get_ref());
        let outside = !cann.personal() || link == Some(LinkAs::Ignore);
        let s = cann
            .links
            .get(&link_key(&fk.columns))
            .map_or_else(|| span(&cann.name), span);
        if outside {
            match fk.on_delete {
                OnDelete::SetNull | OnDelete::SetDefault => {}
                OnDelete::Cascade => out.push(error(
                    "D130",
                    "reference-from-outside",
                    format!("erasing rows of `{}` cascades into `{}`, which is outside the erasure plan: those deletions would go unplanned and unreceipted", fk.references, child.name),
                    s,
                ).with_help(format!("annotate `{}` with its rows and this link as \"owner\" or \"mention\"", child.name))),
                OnDelete::NoAction | OnDelete::Restrict => out.push(error(
                    "D130",
                    "reference-from-outside",
                    format!("foreign key {} comes from outside the erasure plan: the database would refuse to erase the rows it references", fk.describe(&child.name)),
                    s,
                ).with_help(format!("annotate `{}` with its rows and this link as \"owner\" or \"mention\"", child.name))),
            }
            continue;
        }
        let kept = *cann.rows.get_ref() == Rows::Owned && cann.erase() == Erase::Keep;
        if kept && link == Some(LinkAs::Owner) {
            let nullable = fk
                .columns
                .iter()
                .all(|c| child.column(c).is_some_and(|c| c.nullable));
            if matches!(fk.on_delete, OnDelete::NoAction | OnDelete::Restrict) && !nullable {
                out.push(error(
                    "D134",
                    "keep-references-deleted",
                    format!("`{}` is kept under statutory retention but its NOT NULL foreign key {} points at rows the erasure deletes", child.name, fk.describe(&child.name)),
                    s,
                ).with_help("allow NULL in the column (Custos then clears it before the delete), or give the key ON DELETE SET NULL"));
            }
        }
    }
    cascade_rules(ann, schema, out);
    reach_rules(ann, schema, out);
}

/// Follows ON DELETE CASCADE from every table whose rows an erasure or a purge deletes: a chain
/// that reaches a table kept under statutory retention would delete what the law says to keep;
/// on MySQL a chain deeper than 15 levels fails.
fn cascade_rules(ann: &Annotations, schema: &Schema, out: &mut Vec<Diagnostic>) {
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (child, fk) in schema.foreign_keys() {
        if fk.on_delete == OnDelete::Cascade && child.name != fk.references {
            children
                .entry(fk.references.as_str())
                .or_default()
                .push(child.name.as_str());
        }
    }
    let kept = |name: &str| {
        ann.table(name)
            .is_some_and(|t| *t.rows.get_ref() == Rows::Owned && t.erase() == Erase::Keep)
    };
    let mut reported = BTreeSet::new();
    for t in ann
        .table
        .iter()
        .filter(|t| t.personal() && t.erase() != Erase::Keep)
    {
        // Breadth-first with the path, so the message shows the chain.
        let start = t.name.get_ref().as_str();
        let mut frontier = vec![vec![start]];
        let mut visited = BTreeSet::from([start]);
        let mut depth = 0;
        while !frontier.is_empty() {
            depth += 1;
            let mut next = Vec::new();
            for path in frontier {
                let last = *path.last().expect("a path is never empty");
                for &c in children.get(last).map(Vec::as_slice).unwrap_or(&[]) {
                    let mut p = path.clone();
                    p.push(c);
                    if kept(c) && reported.insert((start, c)) {
                        let mut d = error(
                            "D131",
                            "cascade-into-retention",
                            format!(
                                "ON DELETE CASCADE reaches `{c}`, kept under statutory retention: {}",
                                p.join(" -> ")
                            ),
                            span(&t.name),
                        )
                        .with_help(format!("change the foreign key into `{c}` to ON DELETE SET NULL or RESTRICT"));
                        d.article = Some("Art. 17(3)(b) GDPR");
                        out.push(d);
                    }
                    if visited.insert(c) {
                        next.push(p);
                    }
                }
            }
            if let Some(limit) = schema.dialect.cascade_limit()
                && depth > limit
                && !next.is_empty()
            {
                out.push(error(
                    "D132",
                    "cascade-too-deep",
                    format!("ON DELETE CASCADE from `{start}` runs deeper than {limit} levels, where {} stops and fails the delete", schema.dialect.as_str()),
                    span(&t.name),
                ));
                break;
            }
            frontier = next;
        }
    }
    let _ = Dialect::Postgres;
}

/// A personal table no subject column, link or reference leads to is never found by an access
/// request or an erasure: a warning, because the annotations may mean a table retention alone
/// governs.
fn reach_rules(ann: &Annotations, schema: &Schema, out: &mut Vec<Diagnostic>) {
    let mut reached: BTreeSet<&str> = ann
        .table
        .iter()
        .filter(|t| t.personal() && (!t.subject.is_empty() || !t.json.is_empty()))
        .map(|t| t.name.get_ref().as_str())
        .collect();
    loop {
        let before = reached.len();
        for t in ann.table.iter().filter(|t| t.personal()) {
            let name = t.name.get_ref().as_str();
            if let Some(table) = schema.table(name) {
                for fk in &table.foreign_keys {
                    let link = t.links.get(&link_key(&fk.columns)).map(|l| *l.get_ref());
                    match link {
                        Some(LinkAs::Owner | LinkAs::Mention)
                            if reached.contains(fk.references.as_str()) =>
                        {
                            reached.insert(name);
                        }
                        Some(LinkAs::Member) if reached.contains(name) => {
                            reached.insert(fk.references.as_str());
                        }
                        _ => {}
                    }
                }
            }
            if t.reference
                .iter()
                .any(|r| reached.contains(r.to.get_ref().as_str()))
            {
                reached.insert(name);
            }
        }
        if reached.len() == before {
            break;
        }
    }
    for t in ann.table.iter().filter(|t| t.personal()) {
        if !reached.contains(t.name.get_ref().as_str()) && schema.table(t.name.get_ref()).is_some()
        {
            out.push(finding(
                "D140",
                "unreachable",
                Severity::Warning,
                format!("no subject column, link or reference leads to `{}`: access requests and erasures never find its rows (retention still purges them)", t.name.get_ref()),
                span(&t.name),
            ));
        }
    }
}

/// Whether an identifier kind appears among `t`'s subject columns.
pub fn has_kind(t: &TableAnn, kind: IdKind) -> bool {
    t.subject.values().any(|k| *k.get_ref() == kind)
}
