//! Access export figures for BENCHMARKS.md (issue 6).
//!
//! Stores one subject with N records of ~1 KiB (JSON, categories `support` and `usage_log` of the
//! jbsync example policy, one creation time per second) beside 10 000 records of 100 other
//! subjects, on SQLite, through `put_batch`. Then, on a freshly opened vault:
//!
//! - times the full access answer (`TenantVault::write_answer`: `data.json`, `data.csv` and
//!   `report.html` in one zip, records streamed from the store once per data file) written to a
//!   file (the archive is written on a second thread while the calling one reads), wall time
//!   and the CPU time of the reading thread (the longer of the two; other load on the machine
//!   does not inflate it), and samples this process's RSS meanwhile, to show memory stays flat
//!   from 10k to 100k;
//! - times one read pass alone (`for_each_record`, decrypting, writing nothing), as a diagnosis
//!   of where the answer's time goes;
//! - times the portability answer (JSON and CSV of the portable records only);
//! - times the erasure of the same subject (`erase_subject`: keys destroyed, records deleted,
//!   journaled and audited).
//!
//! Run:
//!
//! ```sh
//! cargo bench -p custos-vault --bench export
//! CUSTOS_BENCH_SIZES=10000,100000,1000000 cargo bench -p custos-vault --bench export
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use custos_policy::Lang;
use custos_rights::access::ExportError;
use custos_rights::archive::AnswerKind;
use custos_vault::{MasterKey, NewRecord, StoreConfig, SubjectId, Vault, VaultError};
use jiff::{SignedDuration, Timestamp};

mod support;

use support::{RssSampler, mib, policy, tenant};

const SUBJECT: &str = "bench-subject@example.nl";
const PUT_BATCH: usize = 10_000;
const OTHERS: usize = 10_000;
const RUNS: usize = 3;

fn master() -> MasterKey {
    MasterKey::parse(&"6b".repeat(32), "bench").expect("valid key")
}

/// The bench's error type: storage or writing.
#[derive(Debug)]
#[allow(dead_code)] // read through Debug when a run fails
enum BenchError {
    Vault(VaultError),
    Export(ExportError),
}

impl From<VaultError> for BenchError {
    fn from(e: VaultError) -> Self {
        BenchError::Vault(e)
    }
}

impl From<ExportError> for BenchError {
    fn from(e: ExportError) -> Self {
        BenchError::Export(e)
    }
}

/// CPU time of the calling thread so far (`/proc/thread-self/schedstat`, nanoseconds on CPU):
/// unlike wall time, it does not grow when other processes share the cores.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// About 1 KiB of JSON: a support message or a usage-log line, varied per record.
fn payload(i: usize) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "factuur",
        "koppeling",
        "agenda",
        "concept",
        "antwoord",
        "klant",
        "afspraak",
        "telefoon",
        "bericht",
        "offerte",
        "vraag",
        "levering",
    ];
    let mut text = String::with_capacity(1000);
    let mut k = i;
    while text.len() < 900 {
        text.push_str(WORDS[k % WORDS.len()]);
        text.push(' ');
        k = k.wrapping_mul(31).wrapping_add(7);
    }
    serde_json::json!({ "n": i, "channel": "email", "subject": format!("Vraag {i}"), "message": text })
        .to_string()
        .into_bytes()
}

fn new_record(who: &str, i: usize, base: Timestamp) -> NewRecord {
    // Nine in ten are support messages the customer wrote (portable); one in ten usage logs
    // kept for security on legitimate interest (not portable).
    let (category, purpose) = if i % 10 == 9 {
        ("usage_log", "security")
    } else {
        ("support", "support")
    };
    NewRecord {
        subject: SubjectId::new(who).expect("valid"),
        category: category.into(),
        purposes: vec![purpose.into()],
        payload: payload(i),
        created_at: base + SignedDuration::from_secs(i as i64),
        clocks: BTreeMap::new(),
    }
}

fn fill(path: &Path, n: usize) -> Duration {
    let policy = policy();
    let mut vault = Vault::open(
        &StoreConfig::Sqlite {
            path: path.to_owned(),
        },
        master(),
    )
    .expect("opens");
    let mut t = vault.tenant(&tenant());
    let base: Timestamp = "2026-01-01T00:00:00Z".parse().expect("valid");
    let start = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(PUT_BATCH) {
        let batch = chunk
            .iter()
            .map(|&i| new_record(SUBJECT, i, base))
            .collect();
        t.put_batch(&policy, batch, jiff::Timestamp::now())
            .expect("stored");
    }
    let others = (0..OTHERS)
        .map(|i| new_record(&format!("other-{}@example.nl", i % 100), i, base))
        .collect();
    t.put_batch(&policy, others, jiff::Timestamp::now())
        .expect("stored");
    start.elapsed()
}

struct Row {
    n: usize,
    fill_s: f64,
    access_s: Vec<f64>,
    access_cpu_s: Vec<f64>,
    access_bytes: u64,
    rss_before: u64,
    rss_peak: u64,
    stream_s: f64,
    portability_s: f64,
    portable: u64,
    erase_s: f64,
}

/// Writes an answer to `out`; returns (wall seconds, CPU seconds, records, bytes).
fn answer(vault: &mut Vault, kind: AnswerKind, out: &Path) -> (f64, f64, u64, u64) {
    let policy = policy();
    let file = std::fs::File::create(out).expect("answer file");
    let (start, cpu) = (Instant::now(), thread_cpu());
    let written = vault
        .tenant(&tenant())
        .write_answer::<BenchError>(
            &policy,
            &SubjectId::new(SUBJECT).expect("valid"),
            kind,
            Lang::Nl,
            Timestamp::now(),
            std::io::BufWriter::with_capacity(1 << 16, file),
        )
        .expect("the answer is written");
    (
        start.elapsed().as_secs_f64(),
        (thread_cpu() - cpu).as_secs_f64(),
        written.records,
        written.bytes,
    )
}

/// Fills a fresh vault with `n` records of the subject, then measures in a child process of
/// its own, so the RSS figures start from a process that has only opened the vault (not one
/// whose heap still holds what filling it took).
fn run(dir: &Path, n: usize) -> Row {
    let db = dir.join(format!("export-{n}.db"));
    for suffix in ["", "-wal", "-shm", "-erasures.jsonl"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let fill_s = fill(&db, n).as_secs_f64();
    let child = std::process::Command::new(std::env::current_exe().expect("this bench"))
        .arg(CHILD)
        .arg(&db)
        .arg(n.to_string())
        .output()
        .expect("the measuring child runs");
    assert!(
        child.status.success(),
        "{}",
        String::from_utf8_lossy(&child.stderr)
    );
    let text = String::from_utf8_lossy(&child.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("ROW "))
        .expect("the child reports a row");
    let v: Vec<f64> = line
        .split_whitespace()
        .map(|x| x.parse().expect("a number"))
        .collect();
    for suffix in ["", "-wal", "-shm", "-erasures.jsonl"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    Row {
        n,
        fill_s,
        access_s: vec![v[0], v[1], v[2]],
        access_cpu_s: vec![v[3], v[4], v[5]],
        access_bytes: v[6] as u64,
        rss_before: v[7] as u64,
        rss_peak: v[8] as u64,
        stream_s: v[9],
        portability_s: v[10],
        portable: v[11] as u64,
        erase_s: v[12],
    }
}

/// The first argument that makes this bench the measuring child.
const CHILD: &str = "--measure-export";

/// In the child: every measurement on the filled vault at `db`; prints one `ROW` line.
fn measure(db: &Path, n: usize) {
    let config = StoreConfig::Sqlite {
        path: db.to_owned(),
    };
    let mut vault = Vault::open(&config, master()).expect("opens");
    let out = db.with_extension("zip");
    let mut access_s = Vec::new();
    let mut access_cpu_s = Vec::new();
    let (mut access_bytes, mut rss_before, mut rss_peak) = (0, u64::MAX, 0);
    for _ in 0..RUNS {
        let rss = RssSampler::start();
        let (s, cpu, records, bytes) = answer(&mut vault, AnswerKind::Access, &out);
        let (before, peak) = rss.finish();
        assert_eq!(records as usize, n, "every record of the subject, once");
        access_s.push(s);
        access_cpu_s.push(cpu);
        access_bytes = bytes;
        rss_before = rss_before.min(before);
        rss_peak = rss_peak.max(peak);
    }
    access_s.sort_by(f64::total_cmp);
    access_cpu_s.sort_by(f64::total_cmp);
    // Diagnosis: one pass of reading and decrypting alone, no answer written.
    let start = Instant::now();
    let streamed = vault
        .tenant(&tenant())
        .for_each_record(&SubjectId::new(SUBJECT).expect("valid"), |r| {
            std::hint::black_box(r);
            Ok::<(), VaultError>(())
        })
        .expect("streamed");
    let stream_s = start.elapsed().as_secs_f64();
    assert_eq!(streamed as usize, n);
    let (portability_s, _, portable, _) = answer(&mut vault, AnswerKind::Portability, &out);
    assert_eq!(portable as usize, n - n / 10, "nine in ten are portable");
    let _ = std::fs::remove_file(&out);
    let start = Instant::now();
    let erased = vault
        .tenant(&tenant())
        .erase_subject(&SubjectId::new(SUBJECT).expect("valid"), Timestamp::now())
        .expect("erased");
    let erase_s = start.elapsed().as_secs_f64();
    assert_eq!(erased.counts.records as usize, n);
    println!(
        "ROW {} {} {} {} {} {} {access_bytes} {rss_before} {rss_peak} {stream_s} {portability_s} {portable} {erase_s}",
        access_s[0], access_s[1], access_s[2], access_cpu_s[0], access_cpu_s[1], access_cpu_s[2],
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(CHILD) {
        let n = args[3].parse().expect("a record count");
        measure(Path::new(&args[2]), n);
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this at the smallest size.
    let testing = std::env::args().any(|a| a == "--test");
    let sizes: Vec<usize> = match std::env::var("CUSTOS_BENCH_SIZES") {
        Ok(s) => s
            .split(',')
            .map(|x| {
                x.trim()
                    .parse()
                    .expect("CUSTOS_BENCH_SIZES: comma-separated counts")
            })
            .collect(),
        Err(_) if testing => vec![1_000],
        Err(_) => vec![10_000, 100_000],
    };
    let dir: PathBuf =
        std::env::temp_dir().join(format!("custos-bench-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    println!(
        "| records of the subject | fill (s) | access answer, median of {RUNS} (s) | fastest / slowest (s) | CPU of the reading thread, median (s) | archive (MiB) | RSS before (MiB) | peak RSS during (MiB) | growth (MiB) | one read pass alone (s) | portability answer (s) | portable records | erase_subject (s) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for n in sizes {
        let r = run(&dir, n);
        println!(
            "| {} | {:.1} | {:.3} | {:.3} / {:.3} | {:.3} | {:.0} | {:.1} | {:.1} | {:.1} | {:.3} | {:.3} | {} | {:.3} |",
            r.n,
            r.fill_s,
            r.access_s[r.access_s.len() / 2],
            r.access_s[0],
            r.access_s[r.access_s.len() - 1],
            r.access_cpu_s[r.access_cpu_s.len() / 2],
            r.access_bytes as f64 / (1024.0 * 1024.0),
            mib(r.rss_before),
            mib(r.rss_peak),
            mib(r.rss_peak.saturating_sub(r.rss_before)),
            r.stream_s,
            r.portability_s,
            r.portable,
            r.erase_s,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
