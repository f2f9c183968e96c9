//! `custos datasets`: the company's own databases (PRODUCT.md C10). Scan a live schema into
//! proposed annotations, check reviewed annotations against the schema and the policy, and run
//! access, erasure (with `--dry-run`), retention purges and the replay of journaled erasures
//! there. A thin shell: the rules are `custos_connect`'s, the SQL the vault's `connect` module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use custos_connect::{Annotations, Plan, Schema};
use custos_policy::diag::Severity;
use custos_policy::source::SourceFile;
use custos_policy::{Lang, Policy};
use custos_types::ErrorCode;
use custos_vault::TenantId;
use custos_vault::connect::{self, Conn, ConnectorError, Identities};

use crate::failure::Failure;
use crate::open::{ACTOR, VaultArgs, load_vault};

/// The dataset subcommands.
#[derive(clap::Subcommand)]
pub enum DatasetCommand {
    /// Read a live schema and sample its values; write proposed annotations for review.
    Scan(ScanArgs),
    /// Check annotations against the live schema and the policy (exit 1 on errors).
    Check(CheckArgs),
    /// Write a subject's rows in the dataset as an access answer (zip: data.json, data.csv,
    /// report.html).
    Access(SubjectArgs),
    /// Erase a subject from the dataset in one transaction, verified, with a receipt in the
    /// audit trail (`--dry-run`: the ordered SQL and the counts, nothing written).
    Erase(EraseArgs),
    /// Delete the rows whose retention ended, in batches, with receipts in the audit trail.
    Purge(PurgeArgs),
    /// After restoring a backup of the company's database: erase again every subject the audit
    /// trail says was erased from this dataset.
    Replay(ReplayArgs),
}

/// Where the database is.
#[derive(clap::Args)]
pub struct UrlArgs {
    /// The company's database: postgres://…, mysql://… (MariaDB too) or a SQLite file. Read from
    /// the environment so the password stays out of the shell history and the process list.
    #[arg(long, env = "CUSTOS_DATASET_URL", hide_env_values = true)]
    pub url: String,
}

#[derive(clap::Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub db: UrlArgs,
    /// The policy whose categories the proposal guesses from.
    #[arg(long, env = "CUSTOS_POLICY")]
    pub policy: PathBuf,
    /// The dataset's name in answers and receipts.
    #[arg(long, default_value = "app")]
    pub name: String,
    /// Rows sampled per table for the PII scanner.
    #[arg(long, default_value_t = 50)]
    pub sample: u32,
    /// Write the proposal here instead of to standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The annotations file.
    pub annotations: PathBuf,
    #[command(flatten)]
    pub db: UrlArgs,
    /// The policy the categories must be in.
    #[arg(long, env = "CUSTOS_POLICY")]
    pub policy: PathBuf,
}

#[derive(clap::Args)]
pub struct SubjectArgs {
    /// The annotations file.
    pub annotations: PathBuf,
    #[command(flatten)]
    pub db: UrlArgs,
    /// The policy.
    #[arg(long, env = "CUSTOS_POLICY")]
    pub policy: PathBuf,
    /// The tenant.
    #[arg(long)]
    pub tenant: String,
    /// The subject's identifiers (an e-mail address, a phone number, an id); repeat for several.
    #[arg(long = "subject", required = true)]
    pub subjects: Vec<String>,
    /// Write the answer here (a zip archive).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The report's language.
    #[arg(long, default_value = "en")]
    pub lang: String,
}

#[derive(clap::Args)]
pub struct EraseArgs {
    /// The annotations file.
    pub annotations: PathBuf,
    #[command(flatten)]
    pub db: UrlArgs,
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The tenant.
    #[arg(long)]
    pub tenant: String,
    /// The subject's identifiers; repeat for several.
    #[arg(long = "subject", required = true)]
    pub subjects: Vec<String>,
    /// Print the ordered SQL with placeholders and the row counts; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(clap::Args)]
pub struct PurgeArgs {
    /// The annotations file.
    pub annotations: PathBuf,
    #[command(flatten)]
    pub db: UrlArgs,
    #[command(flatten)]
    pub vault: VaultArgs,
    /// Rows per batch (one short transaction each).
    #[arg(long, default_value_t = 5000)]
    pub batch: u32,
}

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// The annotations file.
    pub annotations: PathBuf,
    #[command(flatten)]
    pub db: UrlArgs,
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The tenant.
    #[arg(long)]
    pub tenant: String,
}

/// Runs a dataset subcommand.
pub fn run(cmd: DatasetCommand) -> ExitCode {
    match cmd {
        DatasetCommand::Check(args) => check(args),
        DatasetCommand::Scan(args) => Failure::exit(scan(args)),
        DatasetCommand::Access(args) => Failure::exit(access(args)),
        DatasetCommand::Erase(args) => Failure::exit(erase(args)),
        DatasetCommand::Purge(args) => Failure::exit(purge(args)),
        DatasetCommand::Replay(args) => Failure::exit(replay(args)),
    }
}

fn load_policy(path: &std::path::Path) -> Result<Policy, Failure> {
    match custos_policy::load(path) {
        Ok(l) => Ok(l.policy),
        Err(custos_policy::LoadError::Invalid { text, diagnostics }) => {
            for d in &diagnostics {
                eprintln!("{}", d.render(&text));
            }
            Err(Failure::new(
                ErrorCode::InvalidPolicy,
                format!(
                    "{} is not a usable policy; run `custos check` on it",
                    text.name()
                ),
            )
            .usage())
        }
        Err(e) => Err(Failure::new(e.code(), e.to_string()).usage()),
    }
}

fn load_annotations(path: &std::path::Path) -> Result<(SourceFile, Annotations), Failure> {
    let file = SourceFile::read(path)
        .map_err(|e| Failure::new(ErrorCode::DatasetCheckFailed, e.to_string()).usage())?;
    match custos_connect::annotations::parse(&file) {
        Ok(a) => Ok((file, a)),
        Err(d) => {
            eprintln!("{}", d.render(&file));
            Err(Failure::new(
                ErrorCode::DatasetCheckFailed,
                format!("{} is not a usable annotations file", file.name()),
            )
            .usage())
        }
    }
}

/// Opens the database and reads its schema.
fn connect(url: &str) -> Result<(Box<dyn Conn>, Schema), Failure> {
    let mut conn = connect::open(url)?;
    let schema = connect::introspect(conn.as_mut())?;
    Ok((conn, schema))
}

/// Everything a job needs: the annotations checked against the live schema and the policy
/// into a plan, and the connection. Findings are printed as `custos check` prints them.
fn prepare(
    annotations: &std::path::Path,
    url: &str,
    policy: &Policy,
) -> Result<connect::Prepared, Failure> {
    let (file, ann) = load_annotations(annotations)?;
    let (conn, schema) = connect(url)?;
    match Plan::build(&ann, &schema, policy) {
        Ok(plan) => Ok(connect::Prepared { plan, conn, schema }),
        Err(findings) => {
            for d in &findings {
                eprintln!("{}", d.render(&file));
            }
            Err(ConnectorError::Check(findings).into())
        }
    }
}

fn check(args: CheckArgs) -> ExitCode {
    let r = (|| -> Result<bool, Failure> {
        let policy = load_policy(&args.policy)?;
        let (file, ann) = load_annotations(&args.annotations)?;
        let (_, schema) = connect(&args.db.url)?;
        let mut findings = custos_connect::check::check(&ann, &schema, &policy);
        if let Err(more) = Plan::build(&ann, &schema, &policy) {
            for d in more {
                if !findings.contains(&d) {
                    findings.push(d);
                }
            }
        }
        for d in &findings {
            println!("{}", d.render(&file));
        }
        let errors = findings
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        let warnings = findings
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count();
        println!("{}: {errors} error(s), {warnings} warning(s)", file.name());
        Ok(errors == 0)
    })();
    match r {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(f) => f.stop(),
    }
}

fn scan(args: ScanArgs) -> Result<(), Failure> {
    let policy = load_policy(&args.policy)?;
    let (mut conn, schema) = connect(&args.db.url)?;
    let mut samples = BTreeMap::new();
    for t in &schema.tables {
        samples.insert(
            t.name.clone(),
            connect::sample(conn.as_mut(), t, args.sample)?,
        );
    }
    let text = custos_connect::propose::propose(&schema, &samples, &policy, &args.name);
    match &args.out {
        Some(p) => std::fs::write(p, text)
            .map_err(|e| Failure::new(ErrorCode::FileError, format!("{}: {e}", p.display())))?,
        None => print!("{text}"),
    }
    eprintln!(
        "{} tables read from {}; review the proposal, then run `custos datasets check`",
        schema.tables.len(),
        connect::redacted(&args.db.url)
    );
    Ok(())
}

fn lang(s: &str) -> Result<Lang, Failure> {
    match s {
        "en" => Ok(Lang::En),
        "nl" => Ok(Lang::Nl),
        other => Err(Failure::unusable(format!(
            "--lang: `{other}` is not a language Custos writes (en, nl)"
        ))),
    }
}

fn access(args: SubjectArgs) -> Result<(), Failure> {
    let policy = load_policy(&args.policy)?;
    let lang = lang(&args.lang)?;
    let connect::Prepared { plan, mut conn, .. } =
        prepare(&args.annotations, &args.db.url, &policy)?;
    let ids = Identities::from_given(&args.subjects, plan.phone_country.as_deref());
    // The categories first, for the report's Art. 15(1) information.
    let mut categories = BTreeSet::new();
    let summary = connect::access(
        conn.as_mut(),
        &plan,
        &policy,
        &args.tenant,
        &ids,
        &mut |r| {
            categories.insert(r.category);
            Ok(())
        },
    )?;
    let out: Box<dyn std::io::Write> = match &args.out {
        Some(p) => Box::new(
            std::fs::File::create(p)
                .map_err(|e| Failure::new(ErrorCode::FileError, format!("{}: {e}", p.display())))?,
        ),
        None => return crate::failure::json(&summary),
    };
    let written = custos_rights::archive::write_answer::<ConnectorError>(
        &policy,
        lang,
        custos_rights::archive::AnswerKind::Access,
        &categories,
        jiff::Timestamp::now(),
        &mut |sink| {
            connect::access(conn.as_mut(), &plan, &policy, &args.tenant, &ids, sink).map(|_| ())
        },
        std::io::BufWriter::new(out),
    )?;
    crate::failure::json(&serde_json::json!({ "rows": summary.rows, "answer": written }))
}

fn erase(args: EraseArgs) -> Result<(), Failure> {
    let (policy, mut vault) = load_vault(&args.vault)?;
    let tenant = TenantId::new(&args.tenant).map_err(Failure::from)?;
    let mut prepared = prepare(&args.annotations, &args.db.url, &policy)?;
    let mut t = vault.tenant(&tenant).acting_as(ACTOR);
    let receipt = if args.dry_run {
        t.erase_in_dataset_dry_run(&policy, &mut prepared, &args.subjects)?
    } else {
        t.erase_in_dataset(
            &policy,
            &mut prepared,
            &args.subjects,
            jiff::Timestamp::now(),
        )?
    };
    crate::failure::json(&receipt)
}

fn purge(args: PurgeArgs) -> Result<(), Failure> {
    let (policy, mut vault) = load_vault(&args.vault)?;
    let mut prepared = prepare(&args.annotations, &args.db.url, &policy)?;
    let receipt = vault.purge_dataset(
        &policy,
        &mut prepared,
        jiff::Timestamp::now(),
        args.batch,
        ACTOR,
    )?;
    crate::failure::json(&receipt)
}

fn replay(args: ReplayArgs) -> Result<(), Failure> {
    let (policy, mut vault) = load_vault(&args.vault)?;
    let tenant = TenantId::new(&args.tenant).map_err(Failure::from)?;
    let mut prepared = prepare(&args.annotations, &args.db.url, &policy)?;
    let receipts = vault.tenant(&tenant).acting_as(ACTOR).replay_in_dataset(
        &policy,
        &mut prepared,
        jiff::Timestamp::now(),
    )?;
    crate::failure::json(
        &serde_json::json!({ "erased_again": receipts.len(), "receipts": receipts }),
    )
}
