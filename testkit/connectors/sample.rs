//! The two sample applications that the connector tests and benchmarks run against, as plain
//! SQL for PostgreSQL, MariaDB and SQLite: "mail" (a mail assistant modelled on JBSync: users,
//! shared mailboxes, mail, AI drafts with human approvals, WhatsApp messages, invoices) and
//! "telemetry" (machines streaming sensor readings, operators in sessions, modelled on JetLink).
//! Included by `#[path]` (test code cannot otherwise be shared between crates); `README.md`
//! beside this file names the fixed people and what each of them has.
//!
//! A database gets an application in two scripts, each run statement by statement
//! ([`statements`]) on one connection: the schema ([`schema`], which drops the tables first so
//! it reruns) and the data ([`generate`], fixed people plus bulk rows made inside the database
//! from the [`Scale`]). All times in the data are relative to the moment the script runs.
//!
//! Per dialect, what the connection must allow:
//! - SQLite: `PRAGMA foreign_keys = ON` first, or the foreign keys are not enforced (the
//!   scripts are valid either way).
//! - MariaDB: the telemetry schema computes its monthly partitions with `EXECUTE IMMEDIATE`,
//!   which runs through the text protocol only (a plain query, not a prepared statement).

#![allow(dead_code)]

/// A database dialect the sample scripts are written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// PostgreSQL 15 or later (jsonb, declarative partitioning).
    Postgres,
    /// MariaDB 10.11 or later with InnoDB (the SEQUENCE engine makes the series).
    MariaDb,
    /// SQLite 3.38 or later (JSON functions, `unixepoch`).
    Sqlite,
}

impl Dialect {
    /// Every dialect, for tests that run on each.
    pub(crate) const ALL: [Dialect; 3] = [Dialect::Postgres, Dialect::MariaDb, Dialect::Sqlite];
}

/// A sample application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum App {
    /// The mail assistant (JBSync): ten tables, every one with `tenant_id`.
    Mail,
    /// Industrial telemetry (JetLink): five tables, the readings partitioned by month.
    Telemetry,
}

impl App {
    /// Both applications.
    pub(crate) const ALL: [App; 2] = [App::Mail, App::Telemetry];
}

/// How much bulk data [`generate`] makes beside the fixed people. The mail parameters do
/// nothing for telemetry and the other way round. 0 is allowed everywhere (no such rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Scale {
    /// Mail: bulk tenants `t001`, `t002`, … (at most 999).
    pub(crate) tenants: u32,
    /// Mail: users in each bulk tenant.
    pub(crate) users: u32,
    /// Mail: `mail_metadata` rows of each bulk user (a quarter of that in WhatsApp messages, a
    /// tenth in drafts).
    pub(crate) mails: u32,
    /// Mail: rows owned by the heavy subject, user 900 (60% mail, 30% WhatsApp, 10% drafts).
    pub(crate) heavy: u32,
    /// Telemetry: bulk machines, five to a bulk organisation (at most 4995).
    pub(crate) machines: u32,
    /// Telemetry: days of readings for each bulk machine (1440 readings a machine a day).
    pub(crate) days: u32,
}

impl Scale {
    /// A few thousand rows per application, for tests: 609 mail rows, 10 790 telemetry rows.
    pub(crate) fn small() -> Self {
        Scale {
            tenants: 2,
            users: 5,
            mails: 20,
            heavy: 200,
            machines: 2,
            days: 2,
        }
    }

    /// At least a million rows per application, for benchmarks: 1 474 065 mail rows (1 030 009
    /// of them `mail_metadata`, 50 000 owned by the heavy subject) and 1 013 738 telemetry rows.
    pub(crate) fn full() -> Self {
        Scale {
            tenants: 10,
            users: 100,
            mails: 1000,
            heavy: 50_000,
            machines: 10,
            days: 70,
        }
    }
}

/// The schema script of `app` in `dialect`: drops the application's tables, then creates them.
pub(crate) fn schema(app: App, dialect: Dialect) -> &'static str {
    match (app, dialect) {
        (App::Mail, Dialect::Postgres) => include_str!("mail.postgres.sql"),
        (App::Mail, Dialect::MariaDb) => include_str!("mail.mariadb.sql"),
        (App::Mail, Dialect::Sqlite) => include_str!("mail.sqlite.sql"),
        (App::Telemetry, Dialect::Postgres) => include_str!("telemetry.postgres.sql"),
        (App::Telemetry, Dialect::MariaDb) => include_str!("telemetry.mariadb.sql"),
        (App::Telemetry, Dialect::Sqlite) => include_str!("telemetry.sqlite.sql"),
    }
}

/// The data script of `app` in `dialect` at `scale`, to run on the freshly created schema: the
/// fixed people, then the bulk rows, all made inside the database. [`row_counts`] says how
/// many rows each table then holds.
///
/// # Panics
/// When `scale` is beyond what the id and name scheme holds: more than 999 tenants or 4995
/// machines (three-digit tenant names), more than 1 000 000 bulk users, a heavy subject of more
/// than 998 999 rows, or more than 3 000 000 000 bulk mails (the time hash would overflow).
pub(crate) fn generate(app: App, dialect: Dialect, scale: &Scale) -> String {
    let template = match (app, dialect) {
        (App::Mail, Dialect::Postgres) => include_str!("mail.generate.postgres.sql"),
        (App::Mail, Dialect::MariaDb) => include_str!("mail.generate.mariadb.sql"),
        (App::Mail, Dialect::Sqlite) => include_str!("mail.generate.sqlite.sql"),
        (App::Telemetry, Dialect::Postgres) => include_str!("telemetry.generate.postgres.sql"),
        (App::Telemetry, Dialect::MariaDb) => include_str!("telemetry.generate.mariadb.sql"),
        (App::Telemetry, Dialect::Sqlite) => include_str!("telemetry.generate.sqlite.sql"),
    };
    match app {
        App::Mail => {
            let users = u64::from(scale.tenants) * u64::from(scale.users);
            assert!(
                scale.tenants <= 999,
                "at most 999 bulk tenants (t001..t999)"
            );
            assert!(
                users <= 1_000_000,
                "at most 1 000 000 bulk users (ids 1000001..)"
            );
            assert!(
                scale.heavy <= 998_999,
                "the heavy subject's rows have ids 1001..999999"
            );
            assert!(
                users * u64::from(scale.mails) <= 3_000_000_000,
                "at most 3 000 000 000 bulk mails (the time hash multiplies the id)"
            );
        }
        App::Telemetry => {
            assert!(
                scale.machines <= 4995,
                "at most 999 bulk organisations of five machines"
            );
        }
    }
    let sql = template
        .replace("{{tenants}}", &scale.tenants.to_string())
        .replace("{{users}}", &scale.users.to_string())
        .replace("{{mails}}", &scale.mails.to_string())
        .replace("{{heavy}}", &scale.heavy.to_string())
        .replace("{{machines}}", &scale.machines.to_string())
        .replace("{{days}}", &scale.days.to_string());
    assert!(
        !sql.contains("{{"),
        "a generate script names a parameter Scale does not have"
    );
    sql
}

/// The statements of a script, in order, each without its closing `;`. A statement ends at a
/// line whose last character (before trailing blanks) is `;`; lines starting with `--` are
/// left out, and so are statements with nothing in them. Text after the last `;` counts as a
/// final statement. The sample scripts are written for this split: no `;` inside a literal or
/// at the end of a line within a statement.
pub(crate) fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let line = line.trim_end();
        if line.trim_start().starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line.ends_with(';') {
            push_statement(&mut out, &current);
            current.clear();
        }
    }
    push_statement(&mut out, &current);
    out
}

fn push_statement(out: &mut Vec<String>, text: &str) {
    let text = text.trim();
    let text = text.strip_suffix(';').unwrap_or(text).trim_end();
    if !text.is_empty() {
        out.push(text.to_owned());
    }
}

/// The rows each table of `app` holds after [`schema`] and [`generate`] at `scale`, parents
/// before children (the order the script fills them in). The same in every dialect.
pub(crate) fn row_counts(app: App, scale: &Scale) -> Vec<(&'static str, u64)> {
    match app {
        App::Mail => {
            let tenants = u64::from(scale.tenants);
            let users = tenants * u64::from(scale.users);
            let mails = u64::from(scale.mails);
            // The heavy subject's row n (1..=heavy) goes by n % 10: 0-5 mail, 6-8 WhatsApp, 9 draft.
            let heavy = u64::from(scale.heavy);
            let with_rest = |rests: std::ops::RangeInclusive<u64>| -> u64 {
                rests
                    .map(|r| {
                        if r == 0 {
                            heavy / 10
                        } else if heavy >= r {
                            (heavy - r) / 10 + 1
                        } else {
                            0
                        }
                    })
                    .sum()
            };
            let drafts = mails / 10;
            vec![
                ("tenant_settings", 2 + tenants),
                ("users", 5 + users),
                ("profiles", 5 + users),
                ("mailboxes", 4 + users + tenants),
                ("mailbox_members", 5 + 2 * users),
                ("mail_metadata", 9 + with_rest(0..=5) + users * mails),
                ("drafts", 3 + with_rest(9..=9) + users * drafts),
                // two in three bulk drafts are decided (draft number m / 10 not a multiple of 3)
                ("approvals", 2 + users * (drafts - drafts / 3)),
                (
                    "whatsapp_messages",
                    7 + with_rest(6..=8) + users * (mails / 4),
                ),
                ("invoices", 3 + 2 * users),
            ]
        }
        App::Telemetry => {
            let machines = u64::from(scale.machines);
            let organisations = machines.div_ceil(5);
            let machine_days = machines * u64::from(scale.days);
            vec![
                ("organisations", 3 + organisations),
                ("operators", 4 + 3 * organisations),
                ("machines", 4 + machines),
                ("sessions", 5 + machine_days),
                // fixed: machine 1 (1152 slots), 2 (288), 3 (180), 500 (48), three metrics each
                ("telemetry", 5004 + machine_days * 480 * 3),
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use super::*;

    #[test]
    fn statements_split_at_line_ends_and_skip_comments_and_blanks() {
        let sql = "-- a comment;\nCREATE TABLE a (\n    x int -- the x\n);\n\n;\n  -- indented;\nINSERT INTO a VALUES (1);\nSELECT 1";
        assert_eq!(
            statements(sql),
            vec![
                "CREATE TABLE a (\n    x int -- the x\n)",
                "INSERT INTO a VALUES (1)",
                "SELECT 1"
            ]
        );
    }

    #[test]
    fn every_generated_script_has_its_parameters_filled_in() {
        for app in App::ALL {
            for dialect in Dialect::ALL {
                let sql = generate(app, dialect, &Scale::small());
                assert!(!sql.contains("{{"), "{app:?} {dialect:?}");
                assert!(
                    statements(&sql).iter().all(|s| s.starts_with("INSERT")
                        || s.starts_with("WITH")
                        || s.starts_with("ANALYZE")),
                    "{app:?} {dialect:?}"
                );
                assert!(
                    statements(schema(app, dialect))
                        .first()
                        .is_some_and(|s| s.starts_with("DROP TABLE"))
                );
            }
        }
    }

    #[test]
    fn the_full_scale_makes_a_million_rows_per_app_and_the_small_one_a_few_thousand() {
        for app in App::ALL {
            let full: u64 = row_counts(app, &Scale::full()).iter().map(|(_, n)| n).sum();
            let small: u64 = row_counts(app, &Scale::small())
                .iter()
                .map(|(_, n)| n)
                .sum();
            assert!(full >= 1_000_000, "{app:?}: {full}");
            assert!(small < 12_000, "{app:?}: {small}");
        }
        let mail = row_counts(App::Mail, &Scale::full());
        assert!(mail.contains(&("mail_metadata", 1_030_009)));
        assert!(mail.contains(&("approvals", 67_002)));
        let telemetry = row_counts(App::Telemetry, &Scale::full());
        assert!(telemetry.contains(&("telemetry", 1_013_004)));
    }
}
