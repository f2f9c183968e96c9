//! Reading the live schema, once per dialect, from the database's own catalog: PostgreSQL's
//! `pg_catalog`, MySQL's `information_schema`, SQLite's `pragma_*` functions. What comes back
//! is the dialect-free [`Schema`] every rule reads.

use std::collections::BTreeMap;

use custos_connect::schema::{
    Check, Column, Dialect, ForeignKey, OnDelete, Partition, Partitioning, Schema, Table,
};

use super::ConnectorError;
use super::driver::{Cell, Conn, Sql, quote};

fn text(c: &Cell) -> String {
    c.text().unwrap_or_default()
}

fn list(c: &Cell) -> Vec<String> {
    let t = text(c);
    if t.is_empty() {
        Vec::new()
    } else {
        t.split('\u{1f}').map(str::to_owned).collect()
    }
}

/// Reads the schema the connection works in (PostgreSQL: the current schema; MySQL: the
/// database of the URL; SQLite: `main`).
pub fn introspect(conn: &mut dyn Conn) -> Result<Schema, ConnectorError> {
    let mut tables = match conn.dialect() {
        Dialect::Postgres => postgres(conn)?,
        Dialect::Mysql => mysql(conn)?,
        Dialect::Sqlite => sqlite(conn)?,
    };
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Schema {
        dialect: conn.dialect(),
        tables,
    })
}

/// An instant from the text a catalog prints for a time bound (`'2026-02-01 00:00:00+00'`,
/// `'2026-02-01'`), read as UTC.
fn bound_instant(s: &str) -> Option<jiff::Timestamp> {
    let s = s.trim().trim_matches('\'');
    let date = s.get(..10)?;
    let time = s.get(11..19).unwrap_or("00:00:00");
    let dt: jiff::civil::DateTime = format!("{date}T{time}").parse().ok()?;
    dt.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

fn postgres(conn: &mut dyn Conn) -> Result<Vec<Table>, ConnectorError> {
    let d = Dialect::Postgres;
    let mut q = Sql::new(d);
    q.push(
        "SELECT c.oid::text, c.relname::text, c.relkind::text, \
         CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
         ORDER BY c.relname",
    );
    let rels = conn.query(&q)?;
    let mut tables = Vec::new();
    for rel in rels {
        let oid = text(&rel[0]);
        let name = text(&rel[1]);
        let mut q = Sql::new(d);
        q.push("SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull::text FROM pg_attribute a WHERE a.attrelid = ")
            .bind_as(oid.clone(), "oid")
            .push(" AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum");
        let columns: Vec<Column> = conn
            .query(&q)?
            .iter()
            .map(|r| Column {
                name: text(&r[0]),
                data_type: text(&r[1]),
                nullable: text(&r[2]) != "true",
            })
            .collect();
        // Constraints with their columns, in key order, joined by U+001F.
        let cols = |arr: &str, rel: &str| {
            format!(
                "(SELECT string_agg(a.attname::text, chr(31) ORDER BY k.o) FROM unnest({arr}) WITH ORDINALITY k(n, o) \
                 JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.n)"
            )
        };
        let mut q = Sql::new(d);
        q.push(&format!(
            "SELECT co.conname::text, co.contype::text, pg_get_constraintdef(co.oid), {}, \
             (SELECT relname::text FROM pg_class WHERE oid = co.confrelid), {}, co.confdeltype::text, co.condeferrable::text \
             FROM pg_constraint co WHERE co.conrelid = ",
            cols("co.conkey", "co.conrelid"),
            cols("co.confkey", "co.confrelid")
        ))
        .bind_as(oid.clone(), "oid")
        .push(" AND co.conparentid = 0 ORDER BY co.conname");
        let mut t = Table {
            name: name.clone(),
            columns,
            primary_key: Vec::new(),
            uniques: Vec::new(),
            foreign_keys: Vec::new(),
            checks: Vec::new(),
            indexes: Vec::new(),
            partitions: None,
            rowid: false,
        };
        for r in conn.query(&q)? {
            match text(&r[1]).as_str() {
                "p" => t.primary_key = list(&r[3]),
                "u" => t.uniques.push(list(&r[3])),
                "c" => t.checks.push(Check {
                    name: Some(text(&r[0])),
                    expression: text(&r[2]),
                }),
                "f" => t.foreign_keys.push(ForeignKey {
                    name: Some(text(&r[0])),
                    columns: list(&r[3]),
                    references: text(&r[4]),
                    referenced_columns: list(&r[5]),
                    on_delete: OnDelete::parse(&text(&r[6])),
                    deferrable: text(&r[7]) == "true",
                }),
                _ => {}
            }
        }
        let mut q = Sql::new(d);
        q.push(
            "SELECT (SELECT string_agg(pg_get_indexdef(i.indexrelid, k, true), chr(31) ORDER BY k) \
             FROM generate_series(1, i.indnkeyatts) k), i.indisunique::text, i.indisprimary::text \
             FROM pg_index i WHERE i.indrelid = ",
        )
        .bind_as(oid.clone(), "oid");
        for r in conn.query(&q)? {
            let columns = list(&r[0]);
            if text(&r[1]) == "true" && text(&r[2]) != "true" && !t.uniques.contains(&columns) {
                t.uniques.push(columns.clone());
            }
            t.indexes.push(columns);
        }
        if text(&rel[2]) == "p" {
            let mut q = Sql::new(d);
            q.push("SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = ")
                .bind_as(oid.clone(), "oid")
                .push(" ORDER BY c.relname");
            let key = text(&rel[3]);
            let partitions = conn
                .query(&q)?
                .iter()
                .map(|r| {
                    let bounds = text(&r[1]);
                    let upper = bounds
                        .split_once(" TO (")
                        .and_then(|(_, b)| bound_instant(b.trim_end_matches(')')));
                    Partition {
                        name: text(&r[0]),
                        bounds,
                        upper,
                    }
                })
                .collect();
            t.partitions = Some(Partitioning {
                method: key
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase(),
                key,
                partitions,
            });
        }
        tables.push(t);
    }
    Ok(tables)
}

fn mysql(conn: &mut dyn Conn) -> Result<Vec<Table>, ConnectorError> {
    let d = Dialect::Mysql;
    let mut q = Sql::new(d);
    q.push("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME");
    let names: Vec<String> = conn.query(&q)?.iter().map(|r| text(&r[0])).collect();
    let mut tables = Vec::new();
    for name in names {
        let mut q = Sql::new(d);
        q.push("SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ")
            .bind(name.clone())
            .push(" ORDER BY ORDINAL_POSITION");
        let mut columns: Vec<Column> = conn
            .query(&q)?
            .iter()
            .map(|r| Column {
                name: text(&r[0]),
                data_type: text(&r[1]),
                nullable: text(&r[2]) == "YES",
            })
            .collect();
        let mut t = Table {
            name: name.clone(),
            columns: Vec::new(),
            primary_key: Vec::new(),
            uniques: Vec::new(),
            foreign_keys: Vec::new(),
            checks: Vec::new(),
            indexes: Vec::new(),
            partitions: None,
            rowid: false,
        };
        let mut q = Sql::new(d);
        q.push("SELECT INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ")
            .bind(name.clone())
            .push(" ORDER BY INDEX_NAME, SEQ_IN_INDEX");
        let mut indexes: BTreeMap<String, (bool, Vec<String>)> = BTreeMap::new();
        for r in conn.query(&q)? {
            let e = indexes
                .entry(text(&r[0]))
                .or_insert((r[1].int() == Some(0), Vec::new()));
            e.1.push(text(&r[2]));
        }
        for (index, (unique, cols)) in indexes {
            if index == "PRIMARY" {
                t.primary_key = cols.clone();
            } else if unique {
                t.uniques.push(cols.clone());
            }
            t.indexes.push(cols);
        }
        let mut q = Sql::new(d);
        q.push(
            "SELECT k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.DELETE_RULE \
             FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
             ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME \
             WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME = ",
        )
        .bind(name.clone())
        .push(" AND k.REFERENCED_TABLE_NAME IS NOT NULL ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION");
        let mut fks: BTreeMap<String, ForeignKey> = BTreeMap::new();
        for r in conn.query(&q)? {
            let fk = fks.entry(text(&r[0])).or_insert_with(|| ForeignKey {
                name: Some(text(&r[0])),
                columns: Vec::new(),
                references: text(&r[2]),
                referenced_columns: Vec::new(),
                on_delete: OnDelete::parse(&text(&r[4])),
                deferrable: false,
            });
            fk.columns.push(text(&r[1]));
            fk.referenced_columns.push(text(&r[3]));
        }
        t.foreign_keys = fks.into_values().collect();
        let mut q = Sql::new(d);
        q.push("SELECT CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = ")
            .bind(name.clone())
            .push(" ORDER BY CONSTRAINT_NAME");
        for r in conn.query(&q)? {
            let expression = text(&r[1]);
            // MariaDB's JSON type is LONGTEXT with a json_valid() check.
            let lower = expression.to_ascii_lowercase().replace('`', "");
            if let Some(col) = lower
                .strip_prefix("json_valid(")
                .and_then(|r| r.strip_suffix(')'))
                && let Some(c) = columns
                    .iter_mut()
                    .find(|c| c.name.eq_ignore_ascii_case(col))
            {
                c.data_type = "json".into();
                continue;
            }
            t.checks.push(Check {
                name: Some(text(&r[0])),
                expression,
            });
        }
        t.columns = columns;
        let mut q = Sql::new(d);
        q.push("SELECT PARTITION_NAME, PARTITION_METHOD, PARTITION_EXPRESSION, PARTITION_DESCRIPTION FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ")
            .bind(name.clone())
            .push(" AND PARTITION_NAME IS NOT NULL ORDER BY PARTITION_ORDINAL_POSITION");
        let rows = conn.query(&q)?;
        if let Some(first) = rows.first() {
            let expression = text(&first[2]);
            let to_days = expression.to_ascii_lowercase().contains("to_days");
            t.partitions = Some(Partitioning {
                method: text(&first[1]).to_ascii_lowercase(),
                key: expression.clone(),
                partitions: rows
                    .iter()
                    .map(|r| {
                        let bounds = text(&r[3]);
                        let upper = if to_days {
                            // TO_DAYS counts days from year 0; 719528 is 1970-01-01.
                            bounds.trim().parse::<i64>().ok().and_then(|n| {
                                jiff::Timestamp::from_second((n - 719_528) * 86_400).ok()
                            })
                        } else {
                            bound_instant(&bounds)
                        };
                        Partition {
                            name: text(&r[0]),
                            bounds,
                            upper,
                        }
                    })
                    .collect(),
            });
        }
        tables.push(t);
    }
    Ok(tables)
}

/// The CHECK constraints of a SQLite table, from its CREATE TABLE text (SQLite keeps no catalog
/// of them): every `CHECK (` with its balanced parentheses.
fn sqlite_checks(create: &str) -> Vec<Check> {
    let upper = create.to_ascii_uppercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = upper[from..].find("CHECK") {
        let start = from + i + 5;
        let rest = &create[start..];
        let Some(open) = rest.find('(') else { break };
        if !rest[..open].trim().is_empty() {
            from = start;
            continue;
        }
        let mut depth = 0;
        let mut end = None;
        for (j, ch) in rest[open..].char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(open + j);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        out.push(Check {
            name: None,
            expression: rest[open + 1..end].trim().to_owned(),
        });
        from = start + end;
    }
    out
}

fn sqlite(conn: &mut dyn Conn) -> Result<Vec<Table>, ConnectorError> {
    let d = Dialect::Sqlite;
    let mut q = Sql::new(d);
    q.push("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
    let rels = conn.query(&q)?;
    let mut tables = Vec::new();
    for rel in rels {
        let name = text(&rel[0]);
        let create = text(&rel[1]);
        let mut q = Sql::new(d);
        q.push("SELECT name, type, \"notnull\", pk FROM pragma_table_info(")
            .bind(name.clone())
            .push(") ORDER BY cid");
        let rows = conn.query(&q)?;
        let mut pk: Vec<(i64, String)> = Vec::new();
        let columns = rows
            .iter()
            .map(|r| {
                let p = r[3].int().unwrap_or(0);
                if p > 0 {
                    pk.push((p, text(&r[0])));
                }
                // A column of the primary key of a rowid table may hold NULL in SQLite, but
                // an INTEGER PRIMARY KEY never does.
                Column {
                    name: text(&r[0]),
                    data_type: text(&r[1]),
                    nullable: r[2].int() != Some(1) && p == 0,
                }
            })
            .collect();
        pk.sort();
        let mut t = Table {
            name: name.clone(),
            columns,
            primary_key: pk.into_iter().map(|(_, c)| c).collect(),
            uniques: Vec::new(),
            foreign_keys: Vec::new(),
            checks: sqlite_checks(&create),
            indexes: Vec::new(),
            partitions: None,
            rowid: !create.to_ascii_uppercase().contains("WITHOUT ROWID"),
        };
        let mut q = Sql::new(d);
        q.push("SELECT name, \"unique\", origin FROM pragma_index_list(")
            .bind(name.clone())
            .push(")");
        for r in conn.query(&q)? {
            let index = text(&r[0]);
            let mut q = Sql::new(d);
            q.push("SELECT name FROM pragma_index_info(")
                .bind(index)
                .push(") ORDER BY seqno");
            let cols: Vec<String> = conn.query(&q)?.iter().map(|c| text(&c[0])).collect();
            if r[1].int() == Some(1) && text(&r[2]) != "pk" {
                t.uniques.push(cols.clone());
            }
            t.indexes.push(cols);
        }
        let mut q = Sql::new(d);
        q.push("SELECT id, \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list(")
            .bind(name.clone())
            .push(") ORDER BY id, seq");
        let mut fks: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        for r in conn.query(&q)? {
            let fk = fks
                .entry(r[0].int().unwrap_or(0))
                .or_insert_with(|| ForeignKey {
                    name: None,
                    columns: Vec::new(),
                    references: text(&r[1]),
                    referenced_columns: Vec::new(),
                    on_delete: OnDelete::parse(&text(&r[4])),
                    deferrable: false,
                });
            fk.columns.push(text(&r[2]));
            fk.referenced_columns.push(text(&r[3]));
        }
        t.foreign_keys = fks.into_values().collect();
        tables.push(t);
    }
    // A foreign key that names no parent columns references the parent's primary key.
    let pks: BTreeMap<String, Vec<String>> = tables
        .iter()
        .map(|t| (t.name.clone(), t.primary_key.clone()))
        .collect();
    for t in &mut tables {
        for fk in &mut t.foreign_keys {
            if fk.referenced_columns.iter().all(String::is_empty)
                && let Some(pk) = pks.get(&fk.references)
            {
                fk.referenced_columns = pk.clone();
            }
        }
    }
    Ok(tables)
}

/// Up to `limit` rows of `table`, as text per column, for the PII scanner. The first rows the
/// database returns, not a random sample: a random one would read the whole table.
pub fn sample(
    conn: &mut dyn Conn,
    table: &Table,
    limit: u32,
) -> Result<BTreeMap<String, Vec<String>>, ConnectorError> {
    let d = conn.dialect();
    let cols: Vec<String> = table
        .columns
        .iter()
        .map(|c| match d {
            Dialect::Postgres => format!("{}::text", quote(d, &c.name)),
            _ => quote(d, &c.name),
        })
        .collect();
    let mut q = Sql::new(d);
    q.push(&format!(
        "SELECT {} FROM {} LIMIT {limit}",
        cols.join(", "),
        quote(d, &table.name)
    ));
    let mut out: BTreeMap<String, Vec<String>> = table
        .columns
        .iter()
        .map(|c| (c.name.clone(), Vec::new()))
        .collect();
    conn.each(&q, &mut |row| {
        for (c, v) in table.columns.iter().zip(row) {
            if let Some(v) = v.text() {
                out.get_mut(&c.name)
                    .expect("every column has an entry")
                    .push(v);
            }
        }
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_checks_are_read_from_the_create_statement() {
        let c = sqlite_checks(
            "CREATE TABLE d (status TEXT NOT NULL CHECK (status IN ('a', 'b')), n INT CHECK(n >= (0)))",
        );
        let e: Vec<&str> = c.iter().map(|c| c.expression.as_str()).collect();
        assert_eq!(e, ["status IN ('a', 'b')", "n >= (0)"]);
    }

    #[test]
    fn a_partition_bound_reads_as_an_instant_in_utc() {
        assert_eq!(
            bound_instant("'2026-02-01 00:00:00+00'")
                .unwrap()
                .to_string(),
            "2026-02-01T00:00:00Z"
        );
        assert_eq!(
            bound_instant("'2026-02-01'").unwrap().to_string(),
            "2026-02-01T00:00:00Z"
        );
        assert!(bound_instant("MAXVALUE").is_none());
    }
}
