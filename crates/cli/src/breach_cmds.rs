//! The breach register from the command line, on the configured vault as the server keeps it:
//! `custos breach record|list|show|decide|draft`. A record is the JSON the API takes (the EDPB
//! template, `docs/breaches.md`); every write goes to the audit trail with the operator as actor
//! and the record's digest, never its text. `--config` (the server's configuration) supplies the
//! `[breaches]` settings: the Digital Omnibus date, a processing contract's hours, UAVG art. 42.
//! Exit codes: 0 done, 1 refused or failed, 2 unusable input.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use custos_breach::assess::Decision;
use custos_breach::record::Breach;
use custos_policy::Lang;
use custos_types::ErrorCode;
use custos_vault::VaultError;
use custos_vault::breaches::RegisterSettings;

use crate::failure::{Failure, json};
use crate::open::load_vault;
use crate::request_cmds::{ACTOR, Target};

#[derive(clap::Subcommand)]
pub enum BreachCommand {
    /// Record a breach from a JSON file (`-` for standard input): every breach, notified or not
    /// (Art. 33(5)). Prints it with its deadline, clock and Custos's proposal.
    Record(RecordArgs),
    /// List the register: open breaches by deadline (all with --all).
    List(ListArgs),
    /// Show one breach: the record, the clock, the proposal, the decision.
    Show(ShowArgs),
    /// Record the decision on notifying the authority and the people affected.
    Decide(DecideArgs),
    /// Print the notification for the Autoriteit Persoonsgegevens in its form's order, with the
    /// questions still open, and the letter to the people affected.
    Draft(DraftArgs),
}

#[derive(clap::Args)]
pub struct RecordArgs {
    #[command(flatten)]
    pub target: Target,
    /// The record as JSON (the API's body of `POST /v1/breaches`); `-` reads standard input.
    #[arg(long)]
    pub file: PathBuf,
}

#[derive(clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub target: Target,
    /// Closed breaches too.
    #[arg(long)]
    pub all: bool,
}

#[derive(clap::Args)]
pub struct ShowArgs {
    /// The breach's id.
    pub breach_id: String,
    #[command(flatten)]
    pub target: Target,
}

/// Yes or no.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum YesNo {
    /// Yes.
    Yes,
    /// No.
    No,
}

#[derive(clap::Args)]
pub struct DecideArgs {
    /// The breach's id.
    pub breach_id: String,
    #[command(flatten)]
    pub target: Target,
    /// The version decided on (as `custos breach show` prints it).
    #[arg(long)]
    pub version: i64,
    /// Notify the authority (Art. 33(1)).
    #[arg(long, value_enum)]
    pub notify_authority: YesNo,
    /// Tell the people affected (Art. 34(1)).
    #[arg(long, value_enum)]
    pub notify_subjects: YesNo,
    /// Why; when departing from Custos's proposal, say so.
    #[arg(long)]
    pub reasons: String,
}

#[derive(clap::Args)]
pub struct DraftArgs {
    /// The breach's id.
    pub breach_id: String,
    #[command(flatten)]
    pub target: Target,
    /// The drafts' language: nl or en.
    #[arg(long, default_value = "nl")]
    pub lang: String,
}

/// `custos breach ...`.
pub fn run(cmd: BreachCommand) -> ExitCode {
    Failure::exit(match cmd {
        BreachCommand::Record(a) => record(a),
        BreachCommand::List(a) => list(a),
        BreachCommand::Show(a) => show(a),
        BreachCommand::Decide(a) => decide(a),
        BreachCommand::Draft(a) => draft(a),
    })
}

/// The register's settings: the server configuration's `[breaches]` (or the defaults) with the
/// policy's own `[breach]` settings.
fn settings(target: &Target, policy: &custos_policy::Policy) -> Result<RegisterSettings, Failure> {
    match &target.vault.datasets_from {
        None => Ok(custos_server::config::BreachConfig::default().settings(policy)),
        Some(path) => custos_server::Config::load_storage(Some(path), |k| std::env::var(k).ok())
            .map(|c| c.breaches.settings(policy))
            .map_err(|e| Failure::unusable(format!("--config: {e}"))),
    }
}

/// A vault error as a failure: an invalid record names each field.
fn failure(e: VaultError) -> Failure {
    match e {
        VaultError::InvalidBreach(found) => Failure::new(
            ErrorCode::InvalidBreach,
            found
                .iter()
                .map(|i| format!("{}: {}", i.field, i.reason))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => Failure::from(other),
    }
}

fn print_view(
    settings: &RegisterSettings,
    stored: &custos_vault::breaches::StoredBreach,
    now: jiff::Timestamp,
) -> Result<(), Failure> {
    let v = custos_server::breaches::view(settings, stored, now).map_err(failure)?;
    json(&v)
}

fn record(a: RecordArgs) -> Result<(), Failure> {
    let text = if a.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(&a.file)
    }
    .map_err(|e| Failure::unusable(format!("{}: {e}", a.file.display())))?;
    let mut de = serde_json::Deserializer::from_str(&text);
    let breach: Breach = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        Failure::new(
            ErrorCode::InvalidBreach,
            format!(
                "{}: at {} (line {}, column {}): {}",
                a.file.display(),
                e.path(),
                e.inner().line(),
                e.inner().column(),
                e.inner()
            ),
        )
        .usage()
    })?;
    let tenant = a.target.tenant()?;
    let (policy, mut vault) = load_vault(&a.target.vault)?;
    let settings = settings(&a.target, &policy)?;
    let now = a.target.now();
    let stored = vault
        .tenant(&tenant)
        .acting_as(ACTOR)
        .record_breach(breach, &settings, now)
        .map_err(failure)?;
    eprintln!(
        "recorded breach {}; the authority's deadline is {} (Art. 33(1))",
        stored.breach_id, stored.deadline_at
    );
    print_view(&settings, &stored, now)
}

fn list(a: ListArgs) -> Result<(), Failure> {
    let tenant = a.target.tenant()?;
    let (policy, mut vault) = load_vault(&a.target.vault)?;
    let settings = settings(&a.target, &policy)?;
    let now = a.target.now();
    let views = vault
        .tenant(&tenant)
        .breaches(a.all)
        .map_err(failure)?
        .iter()
        .map(|b| custos_server::breaches::view(&settings, b, now))
        .collect::<Result<Vec<_>, _>>()
        .map_err(failure)?;
    json(&views)
}

fn show(a: ShowArgs) -> Result<(), Failure> {
    let tenant = a.target.tenant()?;
    let (policy, mut vault) = load_vault(&a.target.vault)?;
    let settings = settings(&a.target, &policy)?;
    let stored = vault
        .tenant(&tenant)
        .breach(&a.breach_id)
        .map_err(failure)?;
    print_view(&settings, &stored, a.target.now())
}

fn decide(a: DecideArgs) -> Result<(), Failure> {
    let tenant = a.target.tenant()?;
    let (policy, mut vault) = load_vault(&a.target.vault)?;
    let settings = settings(&a.target, &policy)?;
    let now = a.target.now();
    let decision = Decision {
        notify_authority: a.notify_authority == YesNo::Yes,
        notify_subjects: a.notify_subjects == YesNo::Yes,
        reasons: a.reasons.trim().to_owned(),
        by: ACTOR.to_owned(),
        at: now,
    };
    let stored = vault
        .tenant(&tenant)
        .acting_as(ACTOR)
        .decide_breach(&a.breach_id, a.version, decision, &settings, now)
        .map_err(failure)?;
    print_view(&settings, &stored, now)
}

fn draft(a: DraftArgs) -> Result<(), Failure> {
    let lang = Lang::from_code(&a.lang)
        .ok_or_else(|| Failure::unusable(format!("--lang {}: use nl or en", a.lang)))?;
    let tenant = a.target.tenant()?;
    let (policy, mut vault) = load_vault(&a.target.vault)?;
    let entry = vault
        .tenant(&tenant)
        .breach(&a.breach_id)
        .and_then(|b| b.entry())
        .map_err(failure)?;
    let who = custos_server::breaches::controller(&policy);
    let form =
        custos_breach::draft::ap_notification(&entry.breach, &who, entry.decision.as_ref(), lang);
    let letter = custos_breach::draft::subject_letter(&entry.breach, &who, lang);
    let mut out = std::io::stdout().lock();
    let (open, none) = match lang {
        Lang::Nl => ("Nog te beantwoorden", "(geen antwoord)"),
        Lang::En => ("Still to answer", "(no answer)"),
    };
    if !form.missing.is_empty() {
        let _ = writeln!(out, "{open}:");
        for m in &form.missing {
            let _ = writeln!(out, "  - {m}");
        }
        let _ = writeln!(out);
    }
    for c in &form.chapters {
        let title = match lang {
            Lang::Nl => &c.title_nl,
            Lang::En => &c.title_en,
        };
        let _ = writeln!(out, "## {title}");
        for item in &c.answers {
            let q = match lang {
                Lang::Nl => &item.question_nl,
                Lang::En => &item.question_en,
            };
            let _ = writeln!(out, "{q}\n  {}", item.answer.as_deref().unwrap_or(none));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "---\n{}\n", letter.subject);
    for p in &letter.paragraphs {
        let _ = writeln!(out, "{p}\n");
    }
    Ok(())
}
