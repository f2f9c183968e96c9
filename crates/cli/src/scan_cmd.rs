//! `custos scan FILE|-`: find personal data in a file or stream and print the findings or
//! the anonymized stream. A thin shell over `custos_pii`; usable as a filter in a pipe.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use custos_types::ErrorCode;

use crate::failure::Failure;
use custos_pii::stream::{Chunk, DEFAULT_CHUNK, StreamStats, scan_stream};
use custos_pii::{EntityType, Finding, Operator, PiiError, PseudonymKey, Scanner, apply_operator};

/// Output format for findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per finding: `line:start-end TYPE score recognizer`.
    Text,
    /// One JSON object per line: `line`, `start`, `end`, `type`, `score`, `recognizer`.
    Json,
}

#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// The file to scan (text or JSON lines); `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
    /// Only these types, comma-separated (e.g. EMAIL,IBAN,PHONE). Default: all.
    #[arg(long, value_delimiter = ',')]
    pub types: Vec<String>,
    /// Print the input with every finding anonymized instead of the findings:
    /// redact, mask[:N] (keep the last N, default 4), replace (<TYPE>), hash (keyed
    /// pseudonym; key from --key-file or CUSTOS_PII_KEY), truncate-ip, generalize.
    #[arg(long)]
    pub operator: Option<String>,
    /// How to print findings (ignored with --operator, which prints the stream).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Report only findings with at least this score (0..1).
    #[arg(long, default_value_t = 0.5)]
    pub min_score: f32,
    /// File holding the key for `--operator hash` (otherwise the CUSTOS_PII_KEY variable).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Do not print the summary by type on standard error.
    #[arg(long, short)]
    pub quiet: bool,
    /// Longest piece of a line scanned at once, in bytes; longer lines are cut into chunks.
    #[arg(long, default_value_t = DEFAULT_CHUNK, hide = true)]
    pub chunk_size: usize,
}

#[derive(Debug)]
enum ScanError {
    Pii(PiiError),
    Write(io::Error),
}

impl From<PiiError> for ScanError {
    fn from(e: PiiError) -> Self {
        ScanError::Pii(e)
    }
}

/// Runs `custos scan`. Exit 0 when the input was scanned, 2 on unusable arguments or input.
pub fn scan(args: ScanArgs) -> ExitCode {
    match run(&args) {
        Ok(stats) => {
            if !args.quiet {
                eprintln!("{}", summary(&stats));
            }
            ExitCode::SUCCESS
        }
        // The reader of our output went away (`custos scan big.log | head`): not an error.
        Err(ScanError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(ScanError::Write(e)) => {
            Failure::new(ErrorCode::FileError, format!("writing output: {e}"))
                .usage()
                .stop()
        }
        Err(ScanError::Pii(e)) => Failure::new(e.code(), e.to_string()).usage().stop(),
    }
}

fn run(args: &ScanArgs) -> Result<StreamStats, ScanError> {
    let types = args
        .types
        .iter()
        .filter(|t| !t.trim().is_empty())
        .map(|t| t.parse::<EntityType>())
        .collect::<Result<Vec<_>, _>>()?;
    let operator = match &args.operator {
        Some(name) => Some(Operator::parse(name, load_key(args)?)?),
        None => None,
    };
    let scanner = Scanner::new().with_types(types).min_score(args.min_score);
    let input: Box<dyn BufRead> = match args.file.as_deref() {
        None => Box::new(BufReader::with_capacity(1 << 16, io::stdin().lock())),
        Some(p) if p.as_os_str() == "-" => {
            Box::new(BufReader::with_capacity(1 << 16, io::stdin().lock()))
        }
        Some(p) => {
            let file = File::open(p).map_err(|e| {
                PiiError::Io(io::Error::new(
                    e.kind(),
                    format!("cannot open {}: {e}", p.display()),
                ))
            })?;
            Box::new(BufReader::with_capacity(1 << 16, file))
        }
    };
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let stats = scan_stream(input, &scanner, args.chunk_size, |chunk, found| {
        match &operator {
            Some(op) => write_redacted(&mut out, chunk, found, op),
            None => write_findings(&mut out, chunk, found, args.format),
        }
        .map_err(ScanError::Write)
    })?;
    out.flush().map_err(ScanError::Write)?;
    Ok(stats)
}

/// The key for `hash`: the file named by --key-file, else CUSTOS_PII_KEY; None if neither.
fn load_key(args: &ScanArgs) -> Result<Option<PseudonymKey>, PiiError> {
    let raw = match &args.key_file {
        Some(p) => Some(std::fs::read(p).map_err(|e| {
            PiiError::Io(io::Error::new(
                e.kind(),
                format!("cannot read key file {}: {e}", p.display()),
            ))
        })?),
        None => std::env::var_os("CUSTOS_PII_KEY").map(|v| v.into_encoded_bytes()),
    };
    match raw {
        Some(mut k) => {
            while k.last().is_some_and(|b| b.is_ascii_whitespace()) {
                k.pop();
            }
            PseudonymKey::new(k).map(Some)
        }
        None => Ok(None),
    }
}

fn write_redacted(
    out: &mut impl Write,
    chunk: &Chunk<'_>,
    found: &[Finding],
    op: &Operator,
) -> io::Result<()> {
    let text = chunk.text;
    let mut pos = 0;
    for f in found {
        out.write_all(&text.as_bytes()[pos..f.start])?;
        out.write_all(apply_operator(op, f.entity, &text[f.start..f.end]).as_bytes())?;
        pos = f.end;
    }
    out.write_all(&text.as_bytes()[pos..])?;
    if chunk.newline {
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn write_findings(
    out: &mut impl Write,
    chunk: &Chunk<'_>,
    found: &[Finding],
    format: Format,
) -> io::Result<()> {
    for f in found {
        let (start, end) = (chunk.offset + f.start, chunk.offset + f.end);
        match format {
            // The value itself is never printed: findings are personal data.
            Format::Json => writeln!(
                out,
                r#"{{"line":{},"start":{start},"end":{end},"type":"{}","score":{:.2},"recognizer":"{}"}}"#,
                chunk.line, f.entity, f.score, f.recognizer
            )?,
            Format::Text => writeln!(
                out,
                "{}:{start}-{end} {} {:.2} {}",
                chunk.line, f.entity, f.score, f.recognizer
            )?,
        }
    }
    Ok(())
}

fn summary(stats: &StreamStats) -> String {
    let total: u64 = stats.findings.values().sum();
    let by_type: Vec<String> = stats
        .findings
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect();
    let mut s = format!(
        "custos scan: {} lines, {} bytes, {total} findings{}{}",
        stats.lines,
        stats.bytes,
        if by_type.is_empty() { "" } else { ": " },
        by_type.join(", ")
    );
    if stats.invalid_utf8 > 0 {
        s.push_str(&format!(
            "\nwarning: replaced {} invalid UTF-8 sequence(s) with U+FFFD; offsets refer to the replaced text",
            stats.invalid_utf8
        ));
    }
    s
}
