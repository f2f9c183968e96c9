//! The annotations file: how the tables and columns of one database map onto the policy. One
//! TOML file per database, written first by `custos datasets scan` and then reviewed by a person
//! (see `docs/connectors.md`). Parsing keeps every place, so a finding of [`crate::check`] names
//! the file, line and column it is about.

use std::collections::BTreeMap;

use custos_policy::diag::Diagnostic;
use custos_policy::source::SourceFile;
use serde::Deserialize;
use toml::Spanned;

/// A value with the byte range it was read from.
pub type Sp<T> = Spanned<T>;

/// One annotations file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Annotations {
    /// The database as a whole.
    pub dataset: Dataset,
    /// Its tables, each once.
    #[serde(default)]
    pub table: Vec<TableAnn>,
}

/// `[dataset]`: the database as a whole.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// The name answers and receipts give this database as its source (`mail`).
    pub name: Sp<String>,
    /// The column that holds the tenant in every table that does not name its own.
    #[serde(default)]
    pub tenant_column: Option<Sp<String>>,
    /// For a database that holds one tenant's data only: that tenant. Exclusive with
    /// `tenant_column`.
    #[serde(default)]
    pub tenant: Option<Sp<String>>,
    /// The country calling code (digits, `31`) a phone number written without one belongs to,
    /// so that `06-87654321` and `+31 6 8765 4321` are one number (E.164).
    #[serde(default)]
    pub phone_country: Option<Sp<String>>,
    /// How long a statement may wait for a lock before the whole job gives up, unchanged
    /// (default 5 seconds).
    #[serde(default)]
    pub lock_timeout_seconds: Option<Sp<u32>>,
    /// How long one statement may run before the whole job gives up, unchanged (default 300
    /// seconds).
    #[serde(default)]
    pub statement_timeout_seconds: Option<Sp<u32>>,
}

/// What a table's rows are to a data subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rows {
    /// Each row belongs to one subject: found by the subject's identity or through an `owner`
    /// link, erased by its `erase` action.
    Owned,
    /// Rows belong to someone else and merely mention the subject: only the mentioning columns
    /// (or JSON elements) are masked, and an access answer shows only those (Art. 15(4)).
    Mentions,
    /// Rows shared by several subjects through a link table (`member` links): an erasure deletes
    /// the subject's link and deletes the shared row only when no other member remains.
    Shared,
    /// No personal data: the table is covered and left alone.
    None,
}

/// How an erasure treats a table's owned rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Erase {
    /// Deleted for real.
    Delete,
    /// Kept, because a law obliges the company to keep them (Art. 17(3)(b) GDPR), until the
    /// `keep` clock plus the category's statutory period; the answer says until when, and the
    /// retention purge deletes them then.
    Keep,
    /// The table's rows are attributable to the subject only through an undeclared reference
    /// (a time window) to rows that the erasure deletes: once those are gone, nothing links these
    /// rows to the subject any more, and they stay.
    Unlink,
}

/// How one identifier column is compared with the subject's identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdKind {
    /// An e-mail address: trimmed and case-folded on both sides.
    Email,
    /// A phone number: separators removed, `00` read as `+`, a national number given the
    /// dataset's `phone_country` (E.164).
    Phone,
    /// Anything else: compared exactly.
    Opaque,
}

impl IdKind {
    /// Its name in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::Email => "email",
            IdKind::Phone => "phone",
            IdKind::Opaque => "opaque",
        }
    }
}

/// What a foreign key (or an undeclared reference) means for the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkAs {
    /// The referencing rows belong to whoever owns the referenced row.
    Owner,
    /// The referencing rows mention the referenced row's subject: the link's columns are
    /// masked (set NULL) on erasure.
    Mention,
    /// The referencing table is the link table of a `shared` table: its rows make their subject
    /// a member of the referenced shared row.
    Member,
    /// Not followed: the referenced table holds no personal data of the referencing row's
    /// subject (an organisation, a setting).
    Ignore,
}

/// `[[table]]`: one table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableAnn {
    /// The table's name.
    pub name: Sp<String>,
    /// What its rows are to a subject.
    pub rows: Sp<Rows>,
    /// The policy category its rows are records of (required unless `rows = "none"`).
    #[serde(default)]
    pub category: Option<Sp<String>>,
    /// The tenant column, when it is not the dataset's.
    #[serde(default)]
    pub tenant_column: Option<Sp<String>>,
    /// Columns that identify the subject directly, with how each is compared.
    #[serde(default)]
    pub subject: BTreeMap<String, Sp<IdKind>>,
    /// Every column: the policy category it holds, or `"-"` for no personal data (keys,
    /// times, flags). Required for every column unless `rows = "none"`.
    #[serde(default)]
    pub columns: BTreeMap<String, Sp<String>>,
    /// The erase action for owned rows (default `delete`).
    #[serde(default)]
    pub erase: Option<Sp<Erase>>,
    /// With `erase = "keep"`: the column that starts the statutory clock.
    #[serde(default)]
    pub keep: Option<Keep>,
    /// Masks per column, for the columns an erasure overwrites instead of deleting the row:
    /// `null`, `redact` (a fixed text), `hash` (a keyed hash, distinct values stay distinct, so
    /// unique keys hold), or `value:TEXT`.
    #[serde(default)]
    pub mask: BTreeMap<String, Sp<String>>,
    /// Every foreign key of the table, by its columns joined with `,`: what it means.
    #[serde(default)]
    pub links: BTreeMap<String, Sp<LinkAs>>,
    /// References the schema does not declare.
    #[serde(default)]
    pub reference: Vec<Reference>,
    /// JSON columns that mention subjects by identifier.
    #[serde(default)]
    pub json: Vec<JsonMention>,
    /// Retention rules: each names the column that starts the rule's clock.
    #[serde(default)]
    pub retention: Vec<RetentionAnn>,
}

/// `keep = { clock = "issued_at" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keep {
    /// The column that starts the statutory period.
    pub clock: Sp<String>,
}

/// `[[table.reference]]`: a reference the schema does not declare.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// The referenced table.
    pub to: Sp<String>,
    /// Pairs of this table's column = the referenced table's column.
    pub columns: BTreeMap<String, Sp<String>>,
    /// A time window: this row's `at` lies between the referenced row's `from` and `until`
    /// (an open `until` means still running).
    #[serde(default)]
    pub during: Option<During>,
    /// What the reference means (default `owner`).
    #[serde(default, rename = "as")]
    pub link_as: Option<Sp<LinkAs>>,
}

/// A time window of a [`Reference`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct During {
    /// This table's time column.
    pub at: Sp<String>,
    /// The referenced table's start column.
    pub from: Sp<String>,
    /// The referenced table's end column.
    pub until: Sp<String>,
}

/// `[[table.json]]`: a JSON column whose array at `path` holds identifiers of other people.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonMention {
    /// The JSON column.
    pub column: Sp<String>,
    /// The key of the array within the object (one level: `cc`).
    pub path: Sp<String>,
    /// How the identifiers in it are compared.
    pub identity: Sp<IdKind>,
}

/// `[[table.retention]]`: one retention rule on a table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionAnn {
    /// The column holding the time the rule's clock starts (the rule's `from` event); a NULL
    /// there means the clock has not started and the row is not due.
    pub clock: Sp<String>,
    /// The category whose rule applies (default: the table's).
    #[serde(default)]
    pub category: Option<Sp<String>>,
    /// When the clock lives on another table (an organisation's contract end for its operators'
    /// rows): the way there, one hop per reference, each `column -> table.key` (the key a
    /// primary or unique key, so a row has one clock). `clock` is then a column of the last
    /// table. The hops need no declared foreign key.
    #[serde(default)]
    pub through: Vec<Sp<String>>,
}

/// One hop of a clock's way to another table: `column -> table.key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HopAnn {
    /// The referencing column, in the table the hop starts from.
    pub column: String,
    /// The referenced table.
    pub table: String,
    /// Its key column the reference matches.
    pub key: String,
}

impl HopAnn {
    /// Reads `column -> table.key`.
    pub fn parse(text: &str) -> Option<HopAnn> {
        let (column, target) = text.split_once("->")?;
        let (table, key) = target.trim().split_once('.')?;
        let (column, table, key) = (column.trim(), table.trim(), key.trim());
        let plain = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
        (plain(column) && plain(table) && plain(key)).then(|| HopAnn {
            column: column.to_owned(),
            table: table.to_owned(),
            key: key.to_owned(),
        })
    }
}

/// Reads an annotations file. A syntax error, an unknown key or a wrong type is one diagnostic
/// with its place, worded as the policy's are.
// The error path is cold and taken once per file.
#[allow(clippy::result_large_err)]
pub fn parse(file: &SourceFile) -> Result<Annotations, Diagnostic> {
    if file.text().trim().is_empty() {
        return Err(Diagnostic::structural(
            "S001",
            "empty-file",
            "the annotations file is empty",
            None,
        )
        .with_help("start from the file `custos datasets scan` proposes"));
    }
    toml::from_str::<Annotations>(file.text())
        .map_err(|e| custos_policy::parse::toml_diagnostic(&e))
}

impl TableAnn {
    /// The erase action, with its default.
    pub fn erase(&self) -> Erase {
        self.erase.as_ref().map_or(Erase::Delete, |e| *e.get_ref())
    }

    /// Whether the table holds personal data at all.
    pub fn personal(&self) -> bool {
        *self.rows.get_ref() != Rows::None
    }
}

impl Annotations {
    /// The annotation of table `name`.
    pub fn table(&self, name: &str) -> Option<&TableAnn> {
        self.table.iter().find(|t| t.name.get_ref() == name)
    }

    /// The tenant column of `table`: its own, else the dataset's; `None` for a one-tenant
    /// database.
    pub fn tenant_column<'a>(&'a self, table: &'a TableAnn) -> Option<&'a Sp<String>> {
        table
            .tenant_column
            .as_ref()
            .or(self.dataset.tenant_column.as_ref())
    }
}

/// The key a foreign key has in `links`: its columns joined with `,`.
pub fn link_key(columns: &[String]) -> String {
    columns.join(",")
}
