//! One narrow interface over the three databases a connector reaches, and its three
//! implementations. Everything above it is written once: statements are built by [`Sql`] with
//! the dialect's placeholders and quoting, values travel as text (each dialect casts them where
//! they are compared), and rows stream through a callback so no answer is held in memory.

use custos_connect::schema::Dialect;

use super::ConnectorError;

/// One value read back.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// NULL.
    Null,
    /// A whole number.
    Int(i64),
    /// Another number.
    Float(f64),
    /// Text (PostgreSQL results are always read as text: see [`Sql::text`]).
    Text(String),
    /// Bytes that are not UTF-8.
    Bytes(Vec<u8>),
}

impl Cell {
    /// As text (numbers written out); `None` for NULL and bytes.
    pub fn text(&self) -> Option<String> {
        match self {
            Cell::Null | Cell::Bytes(_) => None,
            Cell::Int(i) => Some(i.to_string()),
            Cell::Float(f) => Some(f.to_string()),
            Cell::Text(t) => Some(t.clone()),
        }
    }

    /// As a whole number, when it is one (or text that reads as one).
    pub fn int(&self) -> Option<i64> {
        match self {
            Cell::Int(i) => Some(*i),
            Cell::Text(t) => t.trim().parse().ok(),
            Cell::Float(f) => Some(*f as i64),
            _ => None,
        }
    }
}

/// A statement under construction: text with the dialect's placeholders, and the values bound
/// to them in order (a placeholder per use, so MySQL's positional `?` works the same way).
#[derive(Debug, Clone)]
pub struct Sql {
    dialect: Dialect,
    /// The statement.
    pub text: String,
    /// The values, in placeholder order.
    pub params: Vec<String>,
}

impl Sql {
    /// An empty statement for `dialect`.
    pub fn new(dialect: Dialect) -> Sql {
        Sql {
            dialect,
            text: String::new(),
            params: Vec::new(),
        }
    }

    /// Appends text.
    pub fn push(&mut self, s: &str) -> &mut Sql {
        self.text.push_str(s);
        self
    }

    /// Appends a placeholder for `value`.
    pub fn bind(&mut self, value: impl Into<String>) -> &mut Sql {
        self.params.push(value.into());
        let n = self.params.len();
        match self.dialect {
            // Parameters travel as text; the comparison decides the type.
            Dialect::Postgres => self.text.push_str(&format!("${n}::text")),
            Dialect::Sqlite => self.text.push_str(&format!("?{n}")),
            Dialect::Mysql => self.text.push('?'),
        }
        self
    }

    /// Appends a placeholder for `value` converted to the SQL type `data_type` (PostgreSQL
    /// compares only equal types; the others convert by themselves).
    pub fn bind_as(&mut self, value: impl Into<String>, data_type: &str) -> &mut Sql {
        match self.dialect {
            Dialect::Postgres => {
                self.text.push_str("CAST(");
                self.bind(value);
                self.text.push_str(&format!(" AS {data_type})"));
            }
            _ => {
                self.bind(value);
            }
        }
        self
    }
}

/// Quotes an identifier for `dialect` (names come from the schema as read, so they are real
/// names; the quote character is doubled all the same).
pub fn quote(dialect: Dialect, name: &str) -> String {
    match dialect {
        Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// A connection to the company's database.
pub trait Conn {
    /// Its dialect.
    fn dialect(&self) -> Dialect;
    /// Runs statements without parameters.
    fn batch(&mut self, sql: &str) -> Result<(), ConnectorError>;
    /// Runs one statement; the rows it changed.
    fn execute(&mut self, sql: &Sql) -> Result<u64, ConnectorError>;
    /// Streams the rows of a query to `each`.
    fn each(
        &mut self,
        sql: &Sql,
        each: &mut dyn FnMut(&[Cell]) -> Result<(), ConnectorError>,
    ) -> Result<(), ConnectorError>;
    /// All rows of a (small) query.
    fn query(&mut self, sql: &Sql) -> Result<Vec<Vec<Cell>>, ConnectorError> {
        let mut rows = Vec::new();
        self.each(sql, &mut |r| {
            rows.push(r.to_vec());
            Ok(())
        })?;
        Ok(rows)
    }
    /// The first column of the first row as a number (0 when there is none).
    fn count(&mut self, sql: &Sql) -> Result<u64, ConnectorError> {
        let rows = self.query(sql)?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .and_then(Cell::int)
            .map_or(0, |n| n.max(0) as u64))
    }
}

/// Host, port and database of a URL, never its user or password: what messages may show.
pub fn redacted(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
    if scheme.is_empty() {
        rest.to_owned()
    } else {
        format!("{scheme}://{rest}")
    }
}

/// Opens `url`: `postgres://` or `postgresql://`, `mysql://` or `mariadb://`, `sqlite://PATH`
/// or a path to a SQLite file.
pub fn open(url: &str) -> Result<Box<dyn Conn>, ConnectorError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Box::new(pg::Pg::open(url)?))
    } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        Ok(Box::new(my::My::open(url)?))
    } else {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        Ok(Box::new(lite::Lite::open(path)?))
    }
}

/// A database's error message without the values it may quote: MySQL and SQLite put values
/// (`Duplicate entry 'jan@example.nl' for key 'email'`) in single quotes, PostgreSQL quotes
/// them in double quotes in its data exceptions (SQLSTATE class 22, `invalid input syntax for
/// type integer: "…"`) and keeps them out of the message otherwise (they are in its DETAIL,
/// never read). What a quote held becomes `…`, so no personal data reaches an error, a log or
/// an answer.
fn scrub(dialect: Dialect, message: &str, code: Option<&str>) -> String {
    let quote = match dialect {
        Dialect::Postgres if code.is_some_and(|c| c.starts_with("22")) => '"',
        Dialect::Postgres => return message.to_owned(),
        Dialect::Mysql | Dialect::Sqlite => '\'',
    };
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for ch in message.chars() {
        if ch == quote {
            if inside {
                out.push('…');
            }
            inside = !inside;
            out.push(ch);
        } else if !inside {
            out.push(ch);
        }
    }
    out
}

fn statement_error(dialect: Dialect, message: String, code: Option<&str>) -> ConnectorError {
    let message = scrub(dialect, &message, code);
    // Lock timeouts and deadlocks: PostgreSQL 55P03 (lock_not_available) and 40P01, MySQL 1205
    // and 1213, SQLite "database is locked".
    let busy = match dialect {
        Dialect::Postgres => matches!(code, Some("55P03" | "40P01")),
        Dialect::Mysql => matches!(code, Some("1205" | "1213")),
        Dialect::Sqlite => message.contains("database is locked") || message.contains("busy"),
    };
    if busy {
        ConnectorError::Busy { reason: message }
    } else {
        ConnectorError::Statement { reason: message }
    }
}

mod pg {
    use super::*;
    use postgres::fallible_iterator::FallibleIterator;
    use postgres::{Client, NoTls};

    pub struct Pg(Client);

    fn reason(e: &postgres::Error) -> (String, Option<String>) {
        match e.as_db_error() {
            Some(db) => (
                format!("{} (SQLSTATE {})", db.message(), db.code().code()),
                Some(db.code().code().to_owned()),
            ),
            None => (crate::store::postgres::describe(e), None),
        }
    }

    fn err(e: postgres::Error) -> ConnectorError {
        let (message, code) = reason(&e);
        statement_error(Dialect::Postgres, message, code.as_deref())
    }

    impl Pg {
        pub fn open(url: &str) -> Result<Pg, ConnectorError> {
            let mut c = Client::connect(url, NoTls).map_err(|e| ConnectorError::Unavailable {
                target: redacted(url),
                reason: reason(&e).0,
            })?;
            c.batch_execute("SET TIME ZONE 'UTC'").map_err(err)?;
            Ok(Pg(c))
        }
    }

    impl Conn for Pg {
        fn dialect(&self) -> Dialect {
            Dialect::Postgres
        }
        fn batch(&mut self, sql: &str) -> Result<(), ConnectorError> {
            self.0.batch_execute(sql).map_err(err)
        }
        fn execute(&mut self, sql: &Sql) -> Result<u64, ConnectorError> {
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> = sql
                .params
                .iter()
                .map(|p| p as &(dyn postgres::types::ToSql + Sync))
                .collect();
            self.0.execute(sql.text.as_str(), &params).map_err(err)
        }
        fn each(
            &mut self,
            sql: &Sql,
            each: &mut dyn FnMut(&[Cell]) -> Result<(), ConnectorError>,
        ) -> Result<(), ConnectorError> {
            let mut rows = self
                .0
                .query_raw(sql.text.as_str(), sql.params.iter())
                .map_err(err)?;
            let mut cells = Vec::new();
            while let Some(row) = rows.next().map_err(err)? {
                cells.clear();
                for i in 0..row.len() {
                    use postgres::types::Type;
                    let bad = |e: postgres::Error| ConnectorError::Statement {
                        reason: format!("column {i} cannot be read: {e}"),
                    };
                    let ty = row.columns()[i].type_().clone();
                    let cell = if ty == Type::INT8 {
                        row.try_get::<_, Option<i64>>(i)
                            .map_err(bad)?
                            .map(Cell::Int)
                    } else if ty == Type::INT4 {
                        row.try_get::<_, Option<i32>>(i)
                            .map_err(bad)?
                            .map(|v| Cell::Int(v.into()))
                    } else if ty == Type::INT2 {
                        row.try_get::<_, Option<i16>>(i)
                            .map_err(bad)?
                            .map(|v| Cell::Int(v.into()))
                    } else if ty == Type::FLOAT8 {
                        row.try_get::<_, Option<f64>>(i)
                            .map_err(bad)?
                            .map(Cell::Float)
                    } else if ty == Type::BOOL {
                        row.try_get::<_, Option<bool>>(i)
                            .map_err(bad)?
                            .map(|b| Cell::Int(b.into()))
                    } else {
                        // Everything else is selected as text (`::text`) by the statements.
                        row.try_get::<_, Option<String>>(i)
                            .map_err(bad)?
                            .map(Cell::Text)
                    };
                    cells.push(cell.unwrap_or(Cell::Null));
                }
                each(&cells)?;
            }
            Ok(())
        }
    }
}

mod my {
    use super::*;
    use mysql::prelude::Queryable;
    use mysql::{Conn as MyConn, Opts, Value};

    pub struct My(MyConn);

    fn err(e: mysql::Error) -> ConnectorError {
        match &e {
            mysql::Error::MySqlError(m) => {
                let code = m.code.to_string();
                statement_error(
                    Dialect::Mysql,
                    format!("{} (error {})", m.message, m.code),
                    Some(&code),
                )
            }
            other => ConnectorError::Statement {
                reason: other.to_string(),
            },
        }
    }

    fn cell(v: Value) -> Cell {
        match v {
            Value::NULL => Cell::Null,
            Value::Int(i) => Cell::Int(i),
            Value::UInt(u) => {
                i64::try_from(u).map_or_else(|_| Cell::Text(u.to_string()), Cell::Int)
            }
            Value::Float(f) => Cell::Float(f64::from(f)),
            Value::Double(f) => Cell::Float(f),
            Value::Bytes(b) => match String::from_utf8(b) {
                Ok(s) => Cell::Text(s),
                Err(e) => Cell::Bytes(e.into_bytes()),
            },
            Value::Date(y, mo, d, h, mi, s, us) => Cell::Text(format!(
                "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}"
            )),
            Value::Time(neg, d, h, mi, s, us) => Cell::Text(format!(
                "{}{:02}:{mi:02}:{s:02}.{us:06}",
                if neg { "-" } else { "" },
                u32::from(h) + d * 24
            )),
        }
    }

    impl My {
        pub fn open(url: &str) -> Result<My, ConnectorError> {
            let url2 = url.replacen("mariadb://", "mysql://", 1);
            let unavailable = |reason: String| ConnectorError::Unavailable {
                target: redacted(url),
                reason,
            };
            let opts = Opts::from_url(&url2).map_err(|e| {
                unavailable(format!(
                    "the URL cannot be read: {}",
                    redacted(&e.to_string())
                ))
            })?;
            let mut c = MyConn::new(opts).map_err(|e| {
                unavailable(match &e {
                    mysql::Error::MySqlError(m) => format!("{} (error {})", m.message, m.code),
                    other => other.to_string(),
                })
            })?;
            // Times compare in UTC; ANSI quotes stay off (identifiers are backquoted).
            c.query_drop("SET time_zone = '+00:00'").map_err(err)?;
            Ok(My(c))
        }
    }

    impl Conn for My {
        fn dialect(&self) -> Dialect {
            Dialect::Mysql
        }
        fn batch(&mut self, sql: &str) -> Result<(), ConnectorError> {
            self.0.query_drop(sql).map_err(err)
        }
        fn execute(&mut self, sql: &Sql) -> Result<u64, ConnectorError> {
            if sql.params.is_empty() {
                self.0.query_drop(&sql.text).map_err(err)?;
            } else {
                self.0
                    .exec_drop(&sql.text, sql.params.clone())
                    .map_err(err)?;
            }
            Ok(self.0.affected_rows())
        }
        fn each(
            &mut self,
            sql: &Sql,
            each: &mut dyn FnMut(&[Cell]) -> Result<(), ConnectorError>,
        ) -> Result<(), ConnectorError> {
            let mut cells = Vec::new();
            let mut on_row = |row: mysql::Row| -> Result<(), ConnectorError> {
                cells.clear();
                cells.extend(row.unwrap().into_iter().map(cell));
                each(&cells)
            };
            if sql.params.is_empty() {
                let result = self.0.query_iter(&sql.text).map_err(err)?;
                for row in result {
                    on_row(row.map_err(err)?)?;
                }
            } else {
                let result = self
                    .0
                    .exec_iter(&sql.text, sql.params.clone())
                    .map_err(err)?;
                for row in result {
                    on_row(row.map_err(err)?)?;
                }
            }
            Ok(())
        }
    }
}

mod lite {
    use super::*;
    use rusqlite::{Connection, types::ValueRef};

    pub struct Lite(Connection);

    fn err(e: rusqlite::Error) -> ConnectorError {
        statement_error(Dialect::Sqlite, e.to_string(), None)
    }

    impl Lite {
        pub fn open(path: &str) -> Result<Lite, ConnectorError> {
            if !std::path::Path::new(path).is_file() {
                return Err(ConnectorError::Unavailable {
                    target: format!("sqlite {path}"),
                    reason: "no such database file".into(),
                });
            }
            let unavailable = |e: rusqlite::Error| ConnectorError::Unavailable {
                target: format!("sqlite {path}"),
                reason: e.to_string(),
            };
            let c = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
                .map_err(unavailable)?;
            c.busy_timeout(std::time::Duration::from_secs(5))
                .map_err(unavailable)?;
            // Foreign keys are off per connection by default, and the pragma does nothing inside
            // a transaction: switched on here, before any job begins one.
            c.execute_batch("PRAGMA foreign_keys = ON")
                .map_err(unavailable)?;
            Ok(Lite(c))
        }
    }

    impl Conn for Lite {
        fn dialect(&self) -> Dialect {
            Dialect::Sqlite
        }
        fn batch(&mut self, sql: &str) -> Result<(), ConnectorError> {
            self.0.execute_batch(sql).map_err(err)
        }
        fn execute(&mut self, sql: &Sql) -> Result<u64, ConnectorError> {
            let mut stmt = self.0.prepare_cached(&sql.text).map_err(err)?;
            let n = stmt
                .execute(rusqlite::params_from_iter(sql.params.iter()))
                .map_err(err)?;
            Ok(n as u64)
        }
        fn each(
            &mut self,
            sql: &Sql,
            each: &mut dyn FnMut(&[Cell]) -> Result<(), ConnectorError>,
        ) -> Result<(), ConnectorError> {
            let mut stmt = self.0.prepare_cached(&sql.text).map_err(err)?;
            let n = stmt.column_count();
            let mut rows = stmt
                .query(rusqlite::params_from_iter(sql.params.iter()))
                .map_err(err)?;
            let mut cells = Vec::with_capacity(n);
            while let Some(row) = rows.next().map_err(err)? {
                cells.clear();
                for i in 0..n {
                    cells.push(match row.get_ref(i).map_err(err)? {
                        ValueRef::Null => Cell::Null,
                        ValueRef::Integer(i) => Cell::Int(i),
                        ValueRef::Real(f) => Cell::Float(f),
                        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Cell::Bytes(b.to_vec()),
                    });
                }
                each(&cells)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Dialect, scrub};

    #[test]
    fn quoted_values_never_reach_an_error() {
        assert_eq!(
            scrub(
                Dialect::Mysql,
                "Duplicate entry 'jan@example.nl' for key 'email' (error 1062)",
                Some("1062")
            ),
            "Duplicate entry '…' for key '…' (error 1062)"
        );
        assert_eq!(
            scrub(
                Dialect::Postgres,
                "invalid input syntax for type integer: \"jan@example.nl\" (SQLSTATE 22P02)",
                Some("22P02")
            ),
            "invalid input syntax for type integer: \"…\" (SQLSTATE 22P02)"
        );
        // Outside data exceptions PostgreSQL names only tables, columns and constraints.
        let m =
            "duplicate key value violates unique constraint \"users_email_key\" (SQLSTATE 23505)";
        assert_eq!(scrub(Dialect::Postgres, m, Some("23505")), m);
    }
}
