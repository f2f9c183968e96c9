//! The first draft of an annotations file, for a person to review: from the live schema and a
//! bounded sample of values per column run through the PII scanner (not only the column names:
//! a column called `note` full of e-mail addresses is found, one called `email_opt_in` holding
//! booleans is not taken for an address). Every guess says what it rests on, in a comment.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use custos_pii::{EntityType, Scanner};
use custos_policy::resolved::Policy;

use crate::annotations::link_key;
use crate::schema::{Schema, Table, ValueKind};

/// Values sampled from one table: column name → up to the sampling bound of non-NULL values
/// as text. The values are scanned here and never written into the proposal.
pub type Samples = BTreeMap<String, Vec<String>>;

/// What the scanner found in one column's sample.
#[derive(Debug, Default, Clone)]
struct Evidence {
    sampled: usize,
    found: BTreeMap<EntityType, usize>,
}

impl Evidence {
    fn dominant(&self) -> Option<(EntityType, usize)> {
        self.found
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(t, n)| (*t, *n))
    }

    /// Most values are one identifier each.
    fn identifier(&self) -> Option<EntityType> {
        let (t, n) = self.dominant()?;
        (matches!(t, EntityType::Email | EntityType::Phone) && n * 2 > self.sampled).then_some(t)
    }

    fn words(&self) -> String {
        if self.sampled == 0 {
            return "no values to sample".into();
        }
        if self.found.is_empty() {
            return format!(
                "{} values sampled, no personal data found by the scanner",
                self.sampled
            );
        }
        let found: Vec<String> = self
            .found
            .iter()
            .map(|(t, n)| format!("{n} {}", t.as_str()))
            .collect();
        format!("{} values sampled: {}", self.sampled, found.join(", "))
    }
}

const TENANT_NAMES: [&str; 4] = ["tenant_id", "tenant", "customer_id", "account_id"];

fn is_key_like(name: &str) -> bool {
    name == "id" || name.ends_with("_id") || name == "uuid"
}

/// Writes the proposal. `samples` maps table names to their samples (tables missing from it
/// were not sampled).
pub fn propose(
    schema: &Schema,
    samples: &BTreeMap<String, Samples>,
    policy: &Policy,
    dataset: &str,
) -> String {
    let scanner = Scanner::new();
    let evidence: BTreeMap<(&str, &str), Evidence> = schema
        .tables
        .iter()
        .flat_map(|t| t.columns.iter().map(move |c| (t, c)))
        .map(|(t, c)| {
            let mut e = Evidence::default();
            if let Some(values) = samples.get(&t.name).and_then(|s| s.get(&c.name)) {
                e.sampled = values.len();
                for v in values {
                    let kinds: BTreeSet<EntityType> =
                        scanner.scan(v).into_iter().map(|f| f.entity).collect();
                    for k in kinds {
                        *e.found.entry(k).or_default() += 1;
                    }
                }
            }
            ((t.name.as_str(), c.name.as_str()), e)
        })
        .collect();
    let tenant_column = TENANT_NAMES.into_iter().find(|n| {
        let with = schema
            .tables
            .iter()
            .filter(|t| t.column(n).is_some())
            .count();
        with * 2 > schema.tables.len()
    });
    // Tables with personal data: an identifier column, or a foreign key into such a table,
    // to a fixpoint.
    let mut personal: BTreeSet<&str> = schema
        .tables
        .iter()
        .filter(|t| {
            t.columns.iter().any(|c| {
                let e = &evidence[&(t.name.as_str(), c.name.as_str())];
                e.dominant().is_some_and(|(t, _)| t != EntityType::Url)
            })
        })
        .map(|t| t.name.as_str())
        .collect();
    loop {
        let before = personal.len();
        for t in &schema.tables {
            if t.foreign_keys
                .iter()
                .any(|f| personal.contains(f.references.as_str()))
            {
                personal.insert(t.name.as_str());
            }
        }
        if personal.len() == before {
            break;
        }
    }
    // A link table: its primary key is exactly two foreign keys. The table its second key
    // points at is shared between the subjects of the first.
    let shared: BTreeSet<&str> = schema
        .tables
        .iter()
        .filter_map(|t| link_target(t, schema, &evidence))
        .collect();
    let categories: Vec<&str> = policy.categories.iter().map(|c| c.id.as_str()).collect();

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Custos dataset annotations, PROPOSED by `custos datasets scan`: review every line."
    );
    let _ = writeln!(
        out,
        "# The guesses rest on the schema and a bounded sample of values run through the PII"
    );
    let _ = writeln!(
        out,
        "# scanner; no sampled value is written here. `custos datasets check` fails until every"
    );
    let _ = writeln!(
        out,
        "# table, column and foreign key is covered and every category is in the policy."
    );
    let _ = writeln!(out, "# Reference: docs/connectors.md\n");
    let _ = writeln!(out, "[dataset]\nname = \"{dataset}\"");
    match tenant_column {
        Some(c) => {
            let _ = writeln!(out, "tenant_column = \"{c}\"");
        }
        None => {
            let _ = writeln!(
                out,
                "# No column holds a tenant in most tables: a one-tenant database names its tenant.\ntenant = \"REVIEW\""
            );
        }
    }
    for t in &schema.tables {
        let name = t.name.as_str();
        let _ = writeln!(out, "\n[[table]]\nname = \"{name}\"");
        if !personal.contains(name) {
            let _ = writeln!(
                out,
                "# No personal data found in the sample and no link to a table with some.\nrows = \"none\""
            );
            continue;
        }
        let rows = if shared.contains(name) {
            "shared"
        } else {
            "owned"
        };
        let _ = writeln!(out, "rows = \"{rows}\"");
        let guess =
            custos_policy::diag::nearest(&name.replace('_', "."), categories.iter().copied())
                .or_else(|| custos_policy::diag::nearest(name, categories.iter().copied()));
        match guess {
            Some(c) => {
                let _ = writeln!(out, "category = \"{c}\"  # guessed from the table's name");
            }
            None => {
                let _ = writeln!(
                    out,
                    "category = \"REVIEW\"  # no policy category resembles the table's name"
                );
            }
        }
        if let Some(tc) = tenant_column
            && t.column(tc).is_none()
        {
            let _ = writeln!(
                out,
                "# This table has no `{tc}` column: name the column that holds its tenant.\ntenant_column = \"REVIEW\""
            );
        }
        let subjects: Vec<(&str, &str)> = t
            .columns
            .iter()
            .filter_map(|c| match evidence[&(name, c.name.as_str())].identifier() {
                Some(EntityType::Email) => Some((c.name.as_str(), "email")),
                Some(EntityType::Phone) => Some((c.name.as_str(), "phone")),
                _ => None,
            })
            .collect();
        if !subjects.is_empty() {
            let list: Vec<String> = subjects
                .iter()
                .map(|(c, k)| format!("{c} = \"{k}\""))
                .collect();
            let _ = writeln!(
                out,
                "subject = {{ {} }}  # most sampled values are one identifier each",
                list.join(", ")
            );
        }
        let _ = writeln!(out, "[table.columns]");
        for c in &t.columns {
            let e = &evidence[&(name, c.name.as_str())];
            let plain = Some(c.name.as_str()) == tenant_column
                || (e.found.is_empty()
                    && (is_key_like(&c.name)
                        || matches!(
                            c.kind(),
                            ValueKind::Time
                                | ValueKind::Boolean
                                | ValueKind::Integer
                                | ValueKind::Number
                        )));
            let value = if plain {
                "-".to_owned()
            } else {
                guess.unwrap_or("REVIEW").to_owned()
            };
            let _ = writeln!(
                out,
                "{} = \"{value}\"  # {} ({})",
                quote_key(&c.name),
                c.data_type,
                e.words()
            );
        }
        if !t.foreign_keys.is_empty() {
            let _ = writeln!(out, "[table.links]");
            for f in &t.foreign_keys {
                let target_personal = personal.contains(f.references.as_str());
                let link = if !target_personal {
                    "ignore"
                } else if shared.contains(f.references.as_str()) {
                    "member"
                } else if f.references == t.name {
                    "mention"
                } else {
                    "owner"
                };
                let _ = writeln!(
                    out,
                    "\"{}\" = \"{link}\"  # -> {}({}), ON DELETE {}",
                    link_key(&f.columns),
                    f.references,
                    f.referenced_columns.join(", "),
                    f.on_delete.sql()
                );
            }
        }
        for c in t.columns.iter().filter(|c| c.kind() == ValueKind::Json) {
            let e = &evidence[&(name, c.name.as_str())];
            if e.found.contains_key(&EntityType::Email) {
                let _ = writeln!(
                    out,
                    "# `{}` holds e-mail addresses ({}): if they are other people's, declare where:\n# [[table.json]]\n# column = \"{}\"\n# path = \"REVIEW\"\n# identity = \"email\"",
                    c.name,
                    e.words(),
                    c.name
                );
            }
        }
        if let Some(cat) = guess.and_then(|g| policy.category(g))
            && let Some(rule) = &cat.retention
            && rule.period.is_some()
            && let Some(clock) = clock_column(t, &rule.from)
        {
            let _ = writeln!(
                out,
                "[[table.retention]]\nclock = \"{clock}\"  # the rule of `{}` counts from `{}`",
                cat.id, rule.from
            );
        }
    }
    out
}

fn quote_key(name: &str) -> String {
    if name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\\\""))
    }
}

/// The column most likely to hold the time a rule's clock starts: for `created`, a
/// `created_at`-like column or the first time column; for an event, a column named after it.
fn clock_column<'t>(t: &'t Table, from: &str) -> Option<&'t str> {
    let times: Vec<&str> = t
        .columns
        .iter()
        .filter(|c| c.kind() == ValueKind::Time)
        .map(|c| c.name.as_str())
        .collect();
    let event = from.rsplit('.').next().unwrap_or(from);
    times
        .iter()
        .find(|c| c.starts_with(event) || (from == "created" && c.starts_with("created")))
        .or_else(|| (from == "created").then(|| times.first()).flatten())
        .copied()
}

fn link_target<'s>(
    t: &Table,
    schema: &'s Schema,
    evidence: &BTreeMap<(&str, &str), Evidence>,
) -> Option<&'s str> {
    if t.primary_key.len() != 2 || t.foreign_keys.len() != 2 {
        return None;
    }
    let covers = t
        .foreign_keys
        .iter()
        .all(|f| f.columns.len() == 1 && t.primary_key.contains(&f.columns[0]));
    if !covers {
        return None;
    }
    // The shared side is the one without an identifier column of its own.
    let identifies = |name: &str| {
        schema.table(name).is_some_and(|x| {
            x.columns.iter().any(|c| {
                evidence
                    .get(&(x.name.as_str(), c.name.as_str()))
                    .is_some_and(|e| e.identifier().is_some())
            })
        })
    };
    let a = &t.foreign_keys[0].references;
    let b = &t.foreign_keys[1].references;
    let target = match (identifies(a), identifies(b)) {
        (true, false) => b,
        (false, true) => a,
        _ => return None,
    };
    schema.table(target).map(|x| x.name.as_str())
}
