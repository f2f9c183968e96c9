//! Subcommands over the policy language: check, render, diff, ropa, export-dpv. Each one loads
//! policies through `custos_policy::load`, calls one library function and prints the result.
//! Exit codes: 0 clean, 1 findings of severity error (or material changes for `diff
//! --exit-code`), 2 unusable input.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::failure::Failure;
use clap::ValueEnum;
use custos_policy::{Diagnostic, Lang, LoadError, Loaded, Severity, SourceFile};

/// Output format for diagnostics and reports.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    /// For people.
    Human,
    /// For machines.
    Json,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Policy files to check.
    #[arg(required_unless_present = "rules")]
    pub files: Vec<PathBuf>,
    /// List the rule catalogue (code, severity, article, explanation) instead of checking.
    #[arg(long)]
    pub rules: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: OutFormat,
    /// Also flag the recipients the installation's tenants were never told of (rule V101):
    /// neither in the first policy version it published nor announced since. Reads the
    /// database of `--config`, `--db` or `--postgres`, with its master key.
    #[arg(long)]
    pub announced: bool,
    /// Where the installation's database is (with `--announced`).
    #[command(flatten)]
    pub db: crate::open::DbArgs,
}

/// The rule `--announced` adds: it needs the installation's database, not only the file.
const UNANNOUNCED: custos_policy::check::Rule = custos_policy::check::Rule {
    code: "V101",
    name: "recipient-unannounced",
    severity: Severity::Error,
    article: "Art. 28(2) GDPR",
    summary: "a recipient the tenants were never told of: not in the first published version and never announced (SCC 2021/915 clause 7.7(a))",
};

/// The recipients of `loaded` the installation never announced, as findings at their ids.
fn unannounced(loaded: &Loaded, db: &crate::open::DbArgs) -> Result<Vec<Diagnostic>, Failure> {
    let (store, key_file) = db.resolve().map_err(Failure::unusable)?;
    // Fail closed: a database that is not there cannot say what was announced.
    if let custos_vault::StoreConfig::Sqlite { path } = &store
        && !path.exists()
    {
        return Err(Failure::unusable(format!(
            "{} does not exist: without the installation's database the check cannot tell which recipients were announced",
            path.display()
        )));
    }
    let mut vault = custos_vault::MasterKey::from_env_or_file(Some(&key_file))
        .and_then(|k| custos_vault::Vault::open(&store, k))
        .map_err(|e| Failure::from(e).usage())?;
    let ids = vault
        .unannounced_recipients(&loaded.policy)
        .map_err(|e| Failure::new(e.code(), e.to_string()))?;
    Ok(ids
        .iter()
        .map(|id| {
            let span = loaded
                .file
                .recipient
                .iter()
                .find(|r| r.get_ref().id.get_ref() == id)
                .map(|r| r.get_ref().id.span());
            Diagnostic {
                code: UNANNOUNCED.code,
                name: UNANNOUNCED.name,
                severity: UNANNOUNCED.severity,
                message: format!(
                    "recipient `{id}` was never announced to the tenants: it is not in the first version this installation published, and no announcement names it as new"
                ),
                article: Some(UNANNOUNCED.article),
                span,
                help: Some("publish the version that adds it (`custos serve` announces it with the policy's notice period) and disclose nothing to it before the announcement takes effect".into()),
            }
        })
        .collect())
}

/// Findings of severity error: the policy is refused, as a refused command is.
const EXIT_FINDINGS: u8 = 1;
/// A file that cannot be used: the exit code of the error table's `usage` kind.
const EXIT_UNUSABLE: u8 = 2;

/// Loads a policy or prints why it cannot be used (to stderr, or as JSON to stdout).
fn load_or_report(path: &Path, format: OutFormat) -> Option<Loaded> {
    match custos_policy::load(path) {
        Ok(l) => Some(l),
        Err(e) => {
            report_load_error(&e, format);
            None
        }
    }
}

fn report_load_error(e: &LoadError, format: OutFormat) {
    match (e, format) {
        (LoadError::Invalid { text, diagnostics }, OutFormat::Human) => {
            let mut err = std::io::stderr().lock();
            for d in diagnostics {
                let _ = writeln!(err, "{}", d.render(text));
            }
            let _ = writeln!(
                err,
                "{}: not a usable policy ({} error(s))",
                text.name(),
                diagnostics.len()
            );
        }
        (LoadError::Invalid { text, diagnostics }, OutFormat::Json) => {
            print_json_diagnostics(text, diagnostics)
        }
        (LoadError::Read(r), OutFormat::Human) => eprintln!("error: {r}"),
        (LoadError::Read(r), OutFormat::Json) => {
            let v = serde_json::json!({ "code": "S000", "name": "unreadable", "severity": "error", "message": r.to_string() });
            println!("{v}");
        }
    }
}

fn print_json_diagnostics(file: &SourceFile, diagnostics: &[Diagnostic]) {
    let mut out = std::io::stdout().lock();
    for d in diagnostics {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string(&d.to_json(file)).unwrap_or_default()
        );
    }
}

pub fn check(args: CheckArgs) -> ExitCode {
    if args.rules {
        print_rules(args.format);
        return ExitCode::SUCCESS;
    }
    let mut worst = 0u8;
    for path in &args.files {
        let Some(loaded) = load_or_report(path, args.format) else {
            worst = EXIT_UNUSABLE;
            continue;
        };
        let mut findings = custos_policy::check::check(&loaded);
        if args.announced {
            match unannounced(&loaded, &args.db) {
                Ok(more) => findings.extend(more),
                Err(f) => return f.stop(),
            }
        }
        match args.format {
            OutFormat::Human => {
                let mut out = std::io::stdout().lock();
                for d in &findings {
                    let _ = writeln!(out, "{}", d.render(&loaded.source));
                }
                let count = |s| findings.iter().filter(|d| d.severity == s).count();
                let _ = writeln!(
                    out,
                    "{}: {} error(s), {} warning(s), {} note(s)",
                    loaded.source.name(),
                    count(Severity::Error),
                    count(Severity::Warning),
                    count(Severity::Info)
                );
            }
            OutFormat::Json => print_json_diagnostics(&loaded.source, &findings),
        }
        if findings.iter().any(|d| d.severity == Severity::Error) {
            worst = worst.max(EXIT_FINDINGS);
        }
    }
    ExitCode::from(worst)
}

fn print_rules(format: OutFormat) {
    let rules: Vec<&custos_policy::check::Rule> = custos_policy::check::RULES
        .iter()
        .chain(std::iter::once(&UNANNOUNCED))
        .collect();
    match format {
        OutFormat::Json => {
            let mut out = std::io::stdout().lock();
            for r in rules {
                let _ = writeln!(out, "{}", serde_json::to_string(r).unwrap_or_default());
            }
        }
        OutFormat::Human => {
            let mut out = std::io::stdout().lock();
            for r in rules {
                let _ = writeln!(
                    out,
                    "{}  {:<7}  {:<28}  {:<34}  {}",
                    r.code,
                    r.severity.as_str(),
                    r.article,
                    r.name,
                    r.summary
                );
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    /// Markdown.
    Md,
    /// A standalone HTML page.
    Html,
    /// The canonical, fully resolved policy.
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    /// English.
    En,
    /// Dutch.
    Nl,
}

impl From<LangArg> for Lang {
    fn from(l: LangArg) -> Lang {
        match l {
            LangArg::En => Lang::En,
            LangArg::Nl => Lang::Nl,
        }
    }
}

#[derive(clap::Args)]
pub struct RenderArgs {
    /// The policy file.
    pub file: PathBuf,
    /// Language of the statement (default: the policy's first language). A language the
    /// policy has no texts for is refused (`language-not-offered`).
    #[arg(long, value_enum)]
    pub lang: Option<LangArg>,
    /// Output format.
    #[arg(long, value_enum, default_value = "md")]
    pub format: RenderFormat,
}

pub fn render(args: RenderArgs) -> ExitCode {
    let Some(loaded) = load_or_report(&args.file, OutFormat::Human) else {
        return ExitCode::from(EXIT_UNUSABLE);
    };
    let format = match args.format {
        RenderFormat::Md => custos_policy::render::Format::Markdown,
        RenderFormat::Html => custos_policy::render::Format::Html,
        RenderFormat::Json => custos_policy::render::Format::Json,
    };
    let lang = match args.lang {
        Some(l) => l.into(),
        None => loaded
            .policy
            .meta
            .languages
            .first()
            .copied()
            .unwrap_or(Lang::En),
    };
    match custos_policy::render::render(&loaded.policy, lang, format) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => Failure::new(e.code(), e.to_string()).stop(),
    }
}

#[derive(clap::Args)]
pub struct DiffArgs {
    /// The published version.
    pub old: PathBuf,
    /// The new version.
    pub new: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: OutFormat,
}

pub fn diff(args: DiffArgs) -> ExitCode {
    let (Some(old), Some(new)) = (
        load_or_report(&args.old, args.format),
        load_or_report(&args.new, args.format),
    ) else {
        return ExitCode::from(EXIT_UNUSABLE);
    };
    let report = custos_policy::diff::diff(&old.policy, &new.policy);
    match args.format {
        OutFormat::Human => print!("{}", report.to_human()),
        OutFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
    }
    ExitCode::SUCCESS
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// Comma-separated values, one row per processing activity.
    Csv,
    /// JSON.
    Json,
}

#[derive(clap::Args)]
pub struct RopaArgs {
    /// The policy file.
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: TableFormat,
    /// Language for texts.
    #[arg(long, value_enum, default_value = "en")]
    pub lang: LangArg,
}

pub fn ropa(args: RopaArgs) -> ExitCode {
    let Some(loaded) = load_or_report(&args.file, OutFormat::Human) else {
        return ExitCode::from(EXIT_UNUSABLE);
    };
    let out = custos_policy::ropa::record(&loaded.policy, args.lang.into())
        .map_err(|e| e.to_string())
        .and_then(|record| match args.format {
            TableFormat::Csv => record.to_csv().map_err(|e| e.to_string()),
            TableFormat::Json => serde_json::to_string_pretty(&record).map_err(|e| e.to_string()),
        });
    match out {
        Ok(s) => {
            print!("{s}");
            if args.format == TableFormat::Json {
                println!();
            }
            ExitCode::SUCCESS
        }
        Err(e) => Failure::unusable(e.to_string()).stop(),
    }
}

#[derive(clap::Args)]
pub struct ExportDpvArgs {
    /// The policy file.
    pub file: PathBuf,
}

pub fn export_dpv(args: ExportDpvArgs) -> ExitCode {
    let Some(loaded) = load_or_report(&args.file, OutFormat::Human) else {
        return ExitCode::from(EXIT_UNUSABLE);
    };
    let doc = custos_policy::dpv::export(&loaded.policy);
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    ExitCode::SUCCESS
}
