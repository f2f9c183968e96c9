//! Throughput of the PII scanner on one core, in bytes per second.
//!
//!     cargo bench -p custos-pii --bench pii
//!
//! Inputs of about 1 MB each: application logs without personal data (`logs_clean`), the
//! same logs with one line in ten from the labelled corpus (`logs_10pct_pii`), only corpus
//! lines, about three findings each (`dense_pii`, the worst case), and plain Dutch/English
//! prose without personal data (`prose_clean`).

use std::fmt::Write;

use custos_pii::Scanner;
use custos_pii::stream::{DEFAULT_CHUNK, scan_stream};
use divan::Bencher;
use divan::counter::BytesCount;

fn main() {
    divan::main();
}

const TARGET: usize = 1 << 20;

fn logs_clean() -> String {
    let mut s = String::with_capacity(TARGET + 256);
    let mut i = 0u64;
    while s.len() < TARGET {
        i += 1;
        let _ = writeln!(
            s,
            "2026-11-23T03:{:02}:{:02}.{:03}Z INFO  http{{method=GET path=/api/v1/orders/{} status=200}} request_id=4f{:06x}-aa31 took {}ms (worker {}) cache=hit v2.14.{}",
            i % 60,
            (i * 7) % 60,
            i % 1000,
            10_000 + i % 90_000,
            i * 2_654_435_761 % 0xff_ffff,
            i % 900,
            i % 8,
            i % 30
        );
    }
    s
}

fn prose_clean() -> String {
    const LINES: [&str; 4] = [
        "De levering van het pakket is vertraagd door drukte bij het sorteercentrum; we verwachten het morgen te bezorgen.",
        "The quarterly report shows revenue growth of 12 percent, driven by subscriptions in the retail segment.",
        "Vergeet niet de nieuwe versie 3.2.1 te installeren voordat u de instellingen wijzigt en opnieuw opstart.",
        "Our support team answers questions about invoices, shipping and returns on weekdays between nine and five.",
    ];
    let mut s = String::with_capacity(TARGET + 256);
    let mut i = 0;
    while s.len() < TARGET {
        s.push_str(LINES[i % LINES.len()]);
        s.push('\n');
        i += 1;
    }
    s
}

fn corpus_lines() -> Vec<String> {
    let corpus = include_str!("../tests/data/pii_corpus.jsonl");
    corpus
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect()
}

fn logs_10pct_pii() -> String {
    let pii = corpus_lines();
    let logs: Vec<&str> = LOGS.lines().collect();
    let mut s = String::with_capacity(TARGET + 256);
    let mut i = 0;
    while s.len() < TARGET {
        let line = if i % 10 == 9 {
            pii[(i / 10) % pii.len()].as_str()
        } else {
            logs[i % logs.len()]
        };
        s.push_str(line);
        s.push('\n');
        i += 1;
    }
    s
}

fn dense_pii() -> String {
    let lines = corpus_lines();
    let mut s = String::with_capacity(TARGET + 256);
    while s.len() < TARGET {
        for l in &lines {
            s.push_str(l);
            s.push('\n');
        }
    }
    s
}

static LOGS: std::sync::LazyLock<String> = std::sync::LazyLock::new(logs_clean);

fn input(name: &str) -> String {
    match name {
        "logs_clean" => logs_clean(),
        "prose_clean" => prose_clean(),
        "logs_10pct_pii" => logs_10pct_pii(),
        _ => dense_pii(),
    }
}

/// The scanner alone, line by line.
#[divan::bench(args = ["logs_clean", "prose_clean", "logs_10pct_pii", "dense_pii"], sample_count = 20)]
fn scan_lines(bencher: Bencher<'_, '_>, name: &str) {
    let scanner = Scanner::new();
    let text = input(name);
    bencher.counter(BytesCount::of_str(&text)).bench(|| {
        let mut n = 0usize;
        for line in text.lines() {
            n += scanner.scan(divan::black_box(line)).len();
        }
        n
    });
}

/// The streaming path the CLI uses: line splitting, UTF-8 check, scan.
#[divan::bench(args = ["logs_clean", "logs_10pct_pii", "dense_pii"], sample_count = 20)]
fn scan_stream_bufread(bencher: Bencher<'_, '_>, name: &str) {
    let scanner = Scanner::new();
    let text = input(name);
    bencher.counter(BytesCount::of_str(&text)).bench(|| {
        let mut n = 0usize;
        let r = scan_stream::<_, custos_pii::PiiError>(
            text.as_bytes(),
            &scanner,
            DEFAULT_CHUNK,
            |_, f| {
                n += f.len();
                Ok(())
            },
        );
        (r.is_ok(), n)
    });
}
