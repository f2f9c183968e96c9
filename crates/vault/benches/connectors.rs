//! Connector jobs against hand-written SQL, on every database available: SQLite always (a file
//! in a temporary directory), PostgreSQL when `CUSTOS_TEST_DATABASE_URL` is set, MariaDB when
//! `CUSTOS_TEST_MARIADB_URL` is set (a scratch database `custos_bench_connectors` in each,
//! dropped at the end). The sample mail application (`testkit/connectors/`) at `Scale::full()`
//! (≈1.47 M rows; `CUSTOS_BENCH_SCALE=small` for a smoke run), the JBSync annotations and policy.
//!
//! Three figures per database, each against a baseline measured in the same run, reported as
//! throughput ours / baseline (1.00 = parity, higher is better):
//!
//! 1. **access** of the heavy subject (`heavy@example.test`, tenant acme, 50 000 rows): every
//!    record serialized with serde_json to `io::sink()`; the baseline selects the subject's rows
//!    by `user_id = 900` / `id = 900` table by table and serializes them the same way. Also the
//!    growth of peak resident memory (VmHWM, reset through `/proc/self/clear_refs` first).
//! 2. **erase** of the heavy subject vs one transaction of plain DELETEs, children first.
//! 3. **purge** (batches of 5000) vs plain key-range batched DELETEs of the same tables,
//!    tenants and clocks, one transaction a batch.
//!
//! Loads per database: two. Load 1: access (ours, then baseline), erase ours, purge ours. Load 2
//! (schema dropped and re-created, data regenerated): erase baseline, purge baseline. Both
//! purges thus run on the data without the heavy subject, and the baseline purge does exactly
//! the (table, tenant, clock) pairs for which our receipt shows deleted rows, with each cutoff
//! moved by the time between the two purges (the data is generated relative to load time), so
//! it deletes the same rows up to the few that cross the line in between. Row counts are printed.

#[path = "../../../testkit/connectors/sample.rs"]
mod sample;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use custos_connect::Plan;
use custos_connect::schema::Dialect as D;
use custos_policy::source::SourceFile;
use custos_vault::connect::{self, Cell, Conn, Identities, PurgeReceipt, Sql};

use sample::{App, Dialect, Scale};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const DB: &str = "custos_bench_connectors";
const TENANT: &str = "acme";
const HEAVY: i64 = 900;
const BATCH: u32 = 5000;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// A database to measure on, and how to get rid of it.
struct Target {
    name: &'static str,
    dialect: Dialect,
    url: String,
    /// Admin URL to drop the scratch database with.
    admin: Option<String>,
    dir: Option<PathBuf>,
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(admin) = &self.admin
            && let Ok(mut c) = connect::open(admin)
        {
            let sql = if self.dialect == Dialect::Postgres {
                format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
            } else {
                format!("DROP DATABASE IF EXISTS {DB}")
            };
            if let Err(e) = c.batch(&sql) {
                eprintln!("{}: cannot drop {DB}: {e}", self.name);
            }
        }
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn targets() -> Res<Vec<Target>> {
    let mut out = Vec::new();
    let dir = std::env::temp_dir().join(format!("custos_bench_connectors_{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("mail.db");
    rusqlite::Connection::open(&file)?;
    out.push(Target {
        name: "SQLite",
        dialect: Dialect::Sqlite,
        url: file.display().to_string(),
        admin: None,
        dir: Some(dir),
    });
    if let Ok(url) = std::env::var("CUSTOS_TEST_DATABASE_URL")
        && !url.is_empty()
    {
        let mut admin = connect::open(&url)?;
        admin.batch(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))?;
        admin.batch(&format!("CREATE DATABASE {DB}"))?;
        let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
        out.push(Target {
            name: "PostgreSQL",
            dialect: Dialect::Postgres,
            url: format!("{base}/{DB}"),
            admin: Some(url.clone()),
            dir: None,
        });
    } else {
        eprintln!("note: CUSTOS_TEST_DATABASE_URL is not set: no PostgreSQL figures");
    }
    if let Ok(url) = std::env::var("CUSTOS_TEST_MARIADB_URL")
        && !url.is_empty()
    {
        let mut admin = connect::open(&url)?;
        admin.batch(&format!("DROP DATABASE IF EXISTS {DB}"))?;
        admin.batch(&format!("CREATE DATABASE {DB}"))?;
        let trimmed = url.trim_end_matches('/');
        let base = match trimmed.split_once("://") {
            Some((_, rest)) if rest.contains('/') => {
                trimmed.rsplit_once('/').map_or(trimmed, |(b, _)| b)
            }
            _ => trimmed,
        };
        out.push(Target {
            name: "MariaDB",
            dialect: Dialect::MariaDb,
            url: format!("{base}/{DB}"),
            admin: Some(url.clone()),
            dir: None,
        });
    } else {
        eprintln!("note: CUSTOS_TEST_MARIADB_URL is not set: no MariaDB figures");
    }
    Ok(out)
}

/// Drops and re-creates the mail schema, then generates the data.
fn load(conn: &mut dyn Conn, dialect: Dialect, scale: &Scale) -> Res<Duration> {
    let start = Instant::now();
    for s in sample::statements(sample::schema(App::Mail, dialect)) {
        conn.batch(&s)
            .map_err(|e| format!("{dialect:?} schema: {e}\n{s}"))?;
    }
    for s in sample::statements(&sample::generate(App::Mail, dialect, scale)) {
        conn.batch(&s)
            .map_err(|e| format!("{dialect:?} data: {e}\n{s}"))?;
    }
    Ok(start.elapsed())
}

fn sql(d: D, text: &str) -> Sql {
    let mut s = Sql::new(d);
    s.push(text);
    s
}

fn ids() -> Identities {
    Identities::from_given(&["heavy@example.test".to_owned()], Some("31"))
}

/// Peak resident memory so far, in KiB.
fn vm_hwm() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmHWM:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// Resets the peak to the current resident size (Linux ≥ 4.0), so the next growth is the job's.
fn reset_hwm() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// One measured job: rows handled in a time.
#[derive(Clone, Copy, Default)]
struct Run {
    rows: u64,
    time: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.time.as_secs_f64().max(1e-9)
    }
}

struct Figures {
    db: &'static str,
    load: Duration,
    access: (Run, Run, f64),
    erase: (Run, Run),
    purge: (Run, Run),
}

/// The tables the baseline access and erasure read, children first, with the column naming
/// the heavy subject.
const SUBJECT_TABLES: [(&str, &str); 7] = [
    ("drafts", "user_id"),
    ("whatsapp_messages", "user_id"),
    ("mail_metadata", "user_id"),
    ("mailbox_members", "user_id"),
    ("mailboxes", "id"),
    ("profiles", "user_id"),
    ("users", "id"),
];

fn baseline_access(conn: &mut dyn Conn, plan: &Plan) -> Res<u64> {
    let d = conn.dialect();
    let mut out = std::io::sink();
    let mut rows = 0u64;
    begin(conn, false)?;
    for (table, col) in SUBJECT_TABLES {
        let t = plan
            .tables
            .iter()
            .find(|t| t.name == table)
            .ok_or(format!("{table} not in the plan"))?;
        let names: Vec<&str> = t.columns.iter().map(|c| c.0.as_str()).collect();
        let select: Vec<String> = names
            .iter()
            .map(|c| {
                if d == D::Postgres {
                    format!("{c}::text")
                } else {
                    (*c).to_owned()
                }
            })
            .collect();
        let q = sql(
            d,
            &format!(
                "SELECT {} FROM {table} WHERE tenant_id = '{TENANT}' AND {col} = {HEAVY}",
                select.join(", ")
            ),
        );
        conn.each(&q, &mut |row| {
            let mut data = serde_json::Map::new();
            for (name, v) in names.iter().zip(row) {
                let value = match v {
                    Cell::Null => serde_json::Value::Null,
                    Cell::Int(i) => (*i).into(),
                    other => other
                        .text()
                        .map_or(serde_json::Value::Null, serde_json::Value::String),
                };
                data.insert((*name).to_owned(), value);
            }
            let record = serde_json::json!({ "table": table, "data": data });
            serde_json::to_writer(&mut out, &record).map_err(|e| {
                connect::ConnectorError::Statement {
                    reason: e.to_string(),
                }
            })?;
            rows += 1;
            Ok(())
        })?;
    }
    conn.batch("ROLLBACK")?;
    Ok(rows)
}

fn begin(conn: &mut dyn Conn, write: bool) -> Res<()> {
    match (conn.dialect(), write) {
        (D::Sqlite, true) => conn.batch("BEGIN IMMEDIATE")?,
        (D::Mysql, _) => conn.batch("START TRANSACTION")?,
        _ => conn.batch("BEGIN")?,
    }
    Ok(())
}

/// The hand-written erasure: one transaction, children first.
fn baseline_erase(conn: &mut dyn Conn) -> Res<u64> {
    let d = conn.dialect();
    begin(conn, true)?;
    let mut rows = 0;
    for (table, col) in SUBJECT_TABLES {
        rows += conn.execute(&sql(
            d,
            &format!("DELETE FROM {table} WHERE tenant_id = '{TENANT}' AND {col} = {HEAVY}"),
        ))?;
    }
    conn.batch("COMMIT")?;
    Ok(rows)
}

/// A cutoff as the dialect's literal.
fn time_literal(d: D, t: jiff::Timestamp) -> String {
    let utc = t.to_zoned(jiff::tz::TimeZone::UTC);
    match d {
        D::Postgres => format!("'{t}'::timestamptz"),
        D::Mysql => format!("'{}'", utc.strftime("%Y-%m-%d %H:%M:%S%.6f")),
        D::Sqlite => format!("'{}'", utc.strftime("%Y-%m-%d %H:%M:%S")),
    }
}

/// Plain batched purge: for each (table, tenant, clock) our receipt deleted rows from, find the
/// 5000th expired id after the last batch, delete up to it in one transaction, go on.
fn baseline_purge(
    conn: &mut dyn Conn,
    receipt: &PurgeReceipt,
    shift: jiff::SignedDuration,
) -> Res<u64> {
    let d = conn.dialect();
    let mut rows = 0;
    for p in receipt.tables.iter().filter(|p| p.deleted > 0) {
        let cutoff: jiff::Timestamp = p.cutoff.as_deref().ok_or("no cutoff")?.parse()?;
        let cutoff = time_literal(d, cutoff.checked_add(shift)?);
        let due = format!("tenant_id = '{}' AND {} < {cutoff}", p.tenant, p.clock);
        let mut last: Option<i64> = None;
        loop {
            let after = last.map(|l| format!(" AND id > {l}")).unwrap_or_default();
            let found = conn.query(&sql(
                d,
                &format!(
                    "SELECT id FROM {} WHERE {due}{after} ORDER BY id LIMIT 1 OFFSET {}",
                    p.table,
                    BATCH - 1
                ),
            ))?;
            let upper = found.first().and_then(|r| r[0].int());
            let upto = upper.map(|u| format!(" AND id <= {u}")).unwrap_or_default();
            begin(conn, true)?;
            rows += conn.execute(&sql(
                d,
                &format!("DELETE FROM {} WHERE {due}{after}{upto}", p.table),
            ))?;
            conn.batch("COMMIT")?;
            match upper {
                Some(u) => last = Some(u),
                None => break,
            }
        }
    }
    Ok(rows)
}

fn measure(target: &Target, scale: &Scale) -> Res<Figures> {
    let policy = custos_policy::load(&PathBuf::from(format!(
        "{ROOT}/examples/policies/jbsync.toml"
    )))?
    .policy;
    let file = SourceFile::read(&PathBuf::from(format!(
        "{ROOT}/examples/connectors/mail.toml"
    )))?;
    let ann = custos_connect::annotations::parse(&file).map_err(|d| d.render(&file))?;
    let mut conn = connect::open(&target.url)?;
    let conn = conn.as_mut();
    let name = target.name;

    // Load 1.
    let load1 = load(conn, target.dialect, scale)?;
    eprintln!("{name}: loaded in {:.1} s", load1.as_secs_f64());
    let schema = connect::introspect(conn)?;
    let plan = Plan::build(&ann, &schema, &policy).map_err(|e| format!("{e:?}"))?;
    let ids = ids();

    // 1. Access.
    reset_hwm();
    let before = vm_hwm();
    let mut out = std::io::sink();
    let mut records = 0u64;
    let start = Instant::now();
    connect::access(conn, &plan, &policy, TENANT, &ids, &mut |record| {
        serde_json::to_writer(&mut out, &record).map_err(|e| {
            connect::ConnectorError::Statement {
                reason: e.to_string(),
            }
        })?;
        records += 1;
        Ok(())
    })?;
    let ours = Run {
        rows: records,
        time: start.elapsed(),
    };
    let grown = vm_hwm().saturating_sub(before) as f64 / 1024.0;
    let start = Instant::now();
    let rows = baseline_access(conn, &plan)?;
    let base = Run {
        rows,
        time: start.elapsed(),
    };
    eprintln!(
        "{name}: access {records} records in {:.2} s",
        ours.time.as_secs_f64()
    );
    let access = (ours, base, grown);

    // 2. Erasure, ours.
    let start = Instant::now();
    let receipt = connect::erase(conn, &plan, &policy, TENANT, &ids, &|_| "h".into())?;
    let erase_ours = Run {
        rows: receipt.tables.iter().map(|t| t.deleted).sum(),
        time: start.elapsed(),
    };
    if receipt.remaining != 0 {
        return Err(format!(
            "{name}: {} rows remain after the erasure",
            receipt.remaining
        )
        .into());
    }
    eprintln!(
        "{name}: erase {} rows in {:.2} s",
        erase_ours.rows,
        erase_ours.time.as_secs_f64()
    );

    // 3. Purge, ours.
    let now1 = jiff::Timestamp::now();
    let start = Instant::now();
    let purged = connect::purge(
        conn,
        &plan,
        &schema,
        &policy,
        &|_| Default::default(),
        &|_, _| None,
        now1,
        BATCH,
    )?;
    let purge_ours = Run {
        rows: purged.tables.iter().map(|t| t.deleted).sum(),
        time: start.elapsed(),
    };
    eprintln!(
        "{name}: purge {} rows in {:.2} s",
        purge_ours.rows,
        purge_ours.time.as_secs_f64()
    );
    for t in purged
        .tables
        .iter()
        .filter(|t| t.deleted > 0 && t.tenant == TENANT)
    {
        eprintln!(
            "  {name}: purged {} rows of {} (tenant {}, {} batches)",
            t.deleted, t.table, t.tenant, t.batches
        );
    }

    // Load 2, the baselines.
    let load2 = load(conn, target.dialect, scale)?;
    eprintln!("{name}: reloaded in {:.1} s", load2.as_secs_f64());
    let start = Instant::now();
    let rows = baseline_erase(conn)?;
    let erase_base = Run {
        rows,
        time: start.elapsed(),
    };
    let shift = jiff::Timestamp::now().duration_since(now1);
    let start = Instant::now();
    let rows = baseline_purge(conn, &purged, shift)?;
    let purge_base = Run {
        rows,
        time: start.elapsed(),
    };

    Ok(Figures {
        db: name,
        load: load1,
        access,
        erase: (erase_ours, erase_base),
        purge: (purge_ours, purge_base),
    })
}

fn print(scale_name: &str, figures: &[Figures]) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(
        o,
        "connectors, mail sample at Scale::{scale_name}(); ratio = ours rows/s ÷ baseline rows/s"
    );
    let _ = writeln!(
        o,
        "{:<10} {:<7} {:>9} {:>9} {:>12} {:>9} {:>9} {:>12} {:>6}  note",
        "database",
        "job",
        "rows",
        "ours s",
        "ours rows/s",
        "base rows",
        "base s",
        "base rows/s",
        "ratio",
    );
    for f in figures {
        let jobs = [
            (
                "access",
                f.access.0,
                f.access.1,
                format!(
                    "peak RSS +{:.1} MiB; load {:.1} s",
                    f.access.2,
                    f.load.as_secs_f64()
                ),
            ),
            ("erase", f.erase.0, f.erase.1, String::new()),
            ("purge", f.purge.0, f.purge.1, String::new()),
        ];
        for (job, ours, base, note) in jobs {
            let _ = writeln!(
                o,
                "{:<10} {:<7} {:>9} {:>9.3} {:>12.0} {:>9} {:>9.3} {:>12.0} {:>6.2}  {}",
                f.db,
                job,
                ours.rows,
                ours.time.as_secs_f64(),
                ours.rate(),
                base.rows,
                base.time.as_secs_f64(),
                base.rate(),
                ours.rate() / base.rate().max(1e-9),
                note
            );
        }
    }
}

fn main() -> Res<()> {
    let small = std::env::var("CUSTOS_BENCH_SCALE").is_ok_and(|s| s == "small");
    let (scale, scale_name) = if small {
        (Scale::small(), "small")
    } else {
        (Scale::full(), "full")
    };
    let mut figures = Vec::new();
    let mut failed = false;
    for target in targets()? {
        match measure(&target, &scale) {
            Ok(f) => figures.push(f),
            Err(e) => {
                eprintln!("{}: {e}", target.name);
                failed = true;
            }
        }
    }
    print(scale_name, &figures);
    if failed {
        return Err("a database failed (see above)".into());
    }
    Ok(())
}
