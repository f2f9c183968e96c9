//! The company's schema as Custos read it from the live database: tables, columns and types,
//! keys, foreign keys with their `ON DELETE` action, NOT NULL and CHECK constraints, indexes and
//! partitions. The vault's connector layer fills it in (one introspection per dialect); every
//! rule in this crate reads it and nothing else, so the rules never see a connection.

use serde::Serialize;

/// Which database the schema was read from. The rules need to know only where the dialects
/// differ in what they guarantee (see [`Dialect::cascade_limit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB (InnoDB).
    Mysql,
    /// SQLite.
    Sqlite,
}

impl Dialect {
    /// The name people know it by.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// How deep a chain of `ON DELETE CASCADE` the database follows: InnoDB stops at 15 levels
    /// and fails the statement (MySQL reference manual, "FOREIGN KEY Constraints"); the others
    /// have no limit.
    pub fn cascade_limit(self) -> Option<usize> {
        match self {
            Dialect::Mysql => Some(15),
            _ => None,
        }
    }
}

/// A whole schema.
#[derive(Debug, Clone, Serialize)]
pub struct Schema {
    /// Where it was read from.
    pub dialect: Dialect,
    /// Its tables, by name (partitions are folded into their parent).
    pub tables: Vec<Table>,
}

impl Schema {
    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Every foreign key of the schema, with the table it belongs to.
    pub fn foreign_keys(&self) -> impl Iterator<Item = (&Table, &ForeignKey)> {
        self.tables
            .iter()
            .flat_map(|t| t.foreign_keys.iter().map(move |f| (t, f)))
    }
}

/// One table.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// Its name (unqualified: a connector works on one schema or database at a time).
    pub name: String,
    /// Its columns in order.
    pub columns: Vec<Column>,
    /// The primary key's columns; empty when it has none.
    pub primary_key: Vec<String>,
    /// Unique constraints and unique indexes other than the primary key.
    pub uniques: Vec<Vec<String>>,
    /// Its foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
    /// Its CHECK constraints.
    pub checks: Vec<Check>,
    /// Its indexes (unique ones too), each as its list of columns; an expression in an index is
    /// written as the expression's text.
    pub indexes: Vec<Vec<String>>,
    /// How it is partitioned, if it is.
    pub partitions: Option<Partitioning>,
    /// SQLite only: whether the table has a `rowid` (every table but a `WITHOUT ROWID` one).
    pub rowid: bool,
}

impl Table {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The columns that identify a row: the primary key, else the first unique key whose columns
    /// are all NOT NULL. `None` when the table has neither (see [`Table::rowid`]).
    pub fn row_key(&self) -> Option<Vec<String>> {
        if !self.primary_key.is_empty() {
            return Some(self.primary_key.clone());
        }
        self.uniques
            .iter()
            .find(|u| {
                u.iter()
                    .all(|c| self.column(c).is_some_and(|c| !c.nullable))
            })
            .cloned()
    }

    /// Whether a unique constraint (or the primary key) holds exactly these columns or a subset
    /// of them... in the sense that matters for masking: whether `column` is part of any unique
    /// key, so that writing one constant into it for two rows would break the key.
    pub fn in_unique_key(&self, column: &str) -> bool {
        self.primary_key.iter().any(|c| c == column)
            || self.uniques.iter().any(|u| u.iter().any(|c| c == column))
    }

    /// Whether an index starts with these columns, in this order.
    pub fn has_index_on(&self, leading: &[&str]) -> bool {
        self.indexes
            .iter()
            .any(|ix| ix.len() >= leading.len() && ix.iter().zip(leading).all(|(a, b)| a == b))
            || {
                let pk: Vec<&str> = self.primary_key.iter().map(String::as_str).collect();
                pk.len() >= leading.len() && pk.iter().zip(leading).all(|(a, b)| a == b)
            }
    }
}

/// One column.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type as the database names it (`bigint`, `varchar(255)`, `jsonb`, `TEXT`).
    pub data_type: String,
    /// Whether it accepts NULL.
    pub nullable: bool,
}

impl Column {
    /// What kind of value it holds, from its declared type.
    pub fn kind(&self) -> ValueKind {
        ValueKind::of(&self.data_type)
    }
}

/// The kinds of value the rules tell apart (to choose a mask that fits the column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueKind {
    /// Whole numbers.
    Integer,
    /// Other numbers.
    Number,
    /// Text.
    Text,
    /// JSON.
    Json,
    /// A date or a time.
    Time,
    /// True or false.
    Boolean,
    /// Bytes, or anything else.
    Other,
}

impl ValueKind {
    /// The kind of a declared type (SQLite's affinity rules for types it does not know).
    pub fn of(data_type: &str) -> ValueKind {
        let t = data_type.to_ascii_lowercase();
        if t.contains("json") {
            ValueKind::Json
        } else if t.contains("bool") || t == "tinyint(1)" {
            ValueKind::Boolean
        } else if t.contains("int") {
            ValueKind::Integer
        } else if t.contains("timestamp") || t.contains("date") || t.starts_with("time") {
            ValueKind::Time
        } else if t.contains("char") || t.contains("text") || t.contains("clob") || t == "uuid" {
            ValueKind::Text
        } else if ["real", "floa", "doub", "numeric", "decimal"]
            .iter()
            .any(|p| t.contains(p))
        {
            ValueKind::Number
        } else {
            ValueKind::Other
        }
    }
}

/// What the database does to the referencing rows when a referenced row is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    /// Refuses the delete (checked at the end of the statement, or deferred).
    NoAction,
    /// Refuses the delete at once.
    Restrict,
    /// Deletes the referencing rows too.
    Cascade,
    /// Sets the referencing columns to NULL.
    SetNull,
    /// Sets the referencing columns to their default.
    SetDefault,
}

impl OnDelete {
    /// From the words the catalogs use (`NO ACTION`, `CASCADE`, ... or PostgreSQL's one-letter
    /// codes `a r c n d`). Unknown words read as `NoAction`, the strictest reading.
    pub fn parse(s: &str) -> OnDelete {
        match s.trim().to_ascii_uppercase().as_str() {
            "CASCADE" | "C" => OnDelete::Cascade,
            "SET NULL" | "N" => OnDelete::SetNull,
            "SET DEFAULT" | "D" => OnDelete::SetDefault,
            "RESTRICT" | "R" => OnDelete::Restrict,
            _ => OnDelete::NoAction,
        }
    }

    /// In SQL.
    pub fn sql(self) -> &'static str {
        match self {
            OnDelete::NoAction => "NO ACTION",
            OnDelete::Restrict => "RESTRICT",
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
            OnDelete::SetDefault => "SET DEFAULT",
        }
    }
}

/// A foreign key.
#[derive(Debug, Clone, Serialize)]
pub struct ForeignKey {
    /// Its name, when the database gave it one.
    pub name: Option<String>,
    /// The referencing columns, in order.
    pub columns: Vec<String>,
    /// The referenced table.
    pub references: String,
    /// The referenced columns, in the same order.
    pub referenced_columns: Vec<String>,
    /// What a delete of the referenced row does.
    pub on_delete: OnDelete,
    /// Whether the check can be deferred to the commit (PostgreSQL `DEFERRABLE`).
    pub deferrable: bool,
}

impl ForeignKey {
    /// How annotations and messages name it: `table(col, ...) -> referenced(col, ...)`.
    pub fn describe(&self, table: &str) -> String {
        format!(
            "{table}({}) -> {}({})",
            self.columns.join(", "),
            self.references,
            self.referenced_columns.join(", ")
        )
    }
}

/// A CHECK constraint.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Its name, when it has one.
    pub name: Option<String>,
    /// Its expression as the database prints it.
    pub expression: String,
}

/// How a table is partitioned.
#[derive(Debug, Clone, Serialize)]
pub struct Partitioning {
    /// The method (`range`, `list`, `hash`).
    pub method: String,
    /// The partition key (columns or an expression).
    pub key: String,
    /// The partitions.
    pub partitions: Vec<Partition>,
}

/// One partition.
#[derive(Debug, Clone, Serialize)]
pub struct Partition {
    /// Its name.
    pub name: String,
    /// Its bounds as the database prints them.
    pub bounds: String,
    /// For a range partition on a time: the exclusive upper bound, as an instant, when it could
    /// be read; a partition whose upper bound lies before a purge's cutoff has wholly expired.
    pub upper: Option<jiff::Timestamp>,
}
