//! Data-subject requests from the command line (PRODUCT.md C5, Art. 12–22 GDPR): `custos request
//! file | list | show | code | verify | extend | refuse | execute`. The same library calls as the
//! HTTP API (`crates/server/src/requests.rs`), so a request filed from a letter on the desk and
//! one filed by an app follow one lifecycle, one deadline arithmetic and one audit trail.
//!
//! Exit codes: 0 done; 1 refused by the request's state or the law's rules (not verified yet,
//! already closed, too late to extend, a legal hold) or a failure of the vault; 2 unusable input
//! (an unknown kind or request, a malformed id, a wrong code, a missing reason or note, a policy
//! or vault that does not open). Messages name the flag or the request, never the subject.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use custos_policy::{Lang, Policy};
use custos_types::ErrorCode;
use custos_vault::recipients::Notification;
use custos_vault::rights::{
    AT_RISK_DAYS, Executed, NewRequest, Rectification, Request, RequestError, RequestKind,
    RequestState, Risk, Step, Verification, ZONE, day_of,
};
use custos_vault::{RecordId, RequestId, SubjectId, TenantId, TenantVault, VaultError};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use crate::failure::{Blame, Failure, json};
use crate::open::{VaultArgs, load_vault};
use crate::output::Format;
use crate::output::{create_private, partial_path};

/// Who acts in the audit trail for steps taken from the command line (as for retention and
/// exports).
pub(crate) const ACTOR: &str = "operator:cli";

#[derive(clap::Subcommand)]
pub enum RequestCommand {
    /// File a request (from a letter, an e-mail, a phone call); prints its id and due date.
    File(FileArgs),
    /// Open requests by due date, earliest first, each on track, AT RISK or OVERDUE.
    List(ListArgs),
    /// One request: where it stands, its history (step, when, who) and the recipients told.
    Show(ShowArgs),
    /// Issue a one-time code to send to the address on file (a new code replaces the old one).
    Code(CodeArgs),
    /// Verify the requester's identity: the code they typed, or how it was established.
    Verify(VerifyArgs),
    /// Take the two-month extension (Art. 12(3)), with the reason told to the requester.
    Extend(ReasonArgs),
    /// Refuse a request, with the reason; the answer names the right to complain (Art. 12(4)).
    Refuse(ReasonArgs),
    /// Carry out a verified request and print the answer.
    Execute(ExecuteArgs),
}

/// The vault, the tenant and the moment taken as now.
#[derive(clap::Args)]
pub struct Target {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The tenant.
    #[arg(long)]
    pub tenant: String,
    /// The moment taken as now (RFC 3339; for operators' tests).
    #[arg(long, hide = true)]
    pub now: Option<Timestamp>,
}

#[derive(clap::Args)]
pub struct FileArgs {
    #[command(flatten)]
    pub target: Target,
    /// What is asked.
    #[arg(long, value_enum)]
    pub kind: KindArg,
    /// The subject (the app's identifier for the person). Only its pseudonym is stored.
    #[arg(long)]
    pub subject: String,
    /// The purpose concerned: required for `withdrawal`, optional for `objection`.
    #[arg(long)]
    pub purpose: Option<String>,
    /// When the person made the request: YYYY-MM-DD (that day, in the controller's time zone)
    /// or RFC 3339; default now. The deadline counts from its day (Reg. 1182/71).
    #[arg(long, value_name = "DATE|TIME")]
    pub received: Option<String>,
    /// How it came in (`letter`, `email`, `phone`, `desk`, ...).
    #[arg(long, default_value = "cli")]
    pub channel: String,
    /// A day equated to a public holiday by decree (Atw art. 3(3)), which the deadline skips like
    /// a statutory holiday (as `equated_holidays` in the server's configuration); repeat for
    /// several.
    #[arg(long = "equated", value_name = "YYYY-MM-DD")]
    pub equated: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// The kinds of request, as spelled on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum KindArg {
    /// Art. 15: access to the data and the Art. 15(1) information.
    Access,
    /// Art. 16: rectification.
    Rectification,
    /// Art. 17: erasure.
    Erasure,
    /// Art. 18: restriction of processing.
    Restriction,
    /// Art. 20: data portability.
    Portability,
    /// Art. 21: objection.
    Objection,
    /// Art. 7(3): withdrawal of consent.
    Withdrawal,
}

impl From<KindArg> for RequestKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Access => RequestKind::Access,
            KindArg::Rectification => RequestKind::Rectification,
            KindArg::Erasure => RequestKind::Erasure,
            KindArg::Restriction => RequestKind::Restriction,
            KindArg::Portability => RequestKind::Portability,
            KindArg::Objection => RequestKind::Objection,
            KindArg::Withdrawal => RequestKind::Withdrawal,
        }
    }
}

#[derive(clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub target: Target,
    /// Completed and refused requests too.
    #[arg(long)]
    pub all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub target: Target,
    /// The request's id (32 hex digits, dashes allowed).
    pub id: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(clap::Args)]
pub struct CodeArgs {
    #[command(flatten)]
    pub target: Target,
    /// The request's id.
    pub id: String,
}

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("how").required(true).args(["code", "attested"]))]
pub struct VerifyArgs {
    #[command(flatten)]
    pub target: Target,
    /// The request's id.
    pub id: String,
    /// The one-time code as the person typed it.
    #[arg(long)]
    pub code: Option<String>,
    /// Instead of a code: how identity was established ("ID checked at the desk").
    #[arg(long)]
    pub attested: Option<String>,
}

#[derive(clap::Args)]
pub struct ReasonArgs {
    #[command(flatten)]
    pub target: Target,
    /// The request's id.
    pub id: String,
    /// Why; it is told to the requester (no personal data).
    #[arg(long)]
    pub reason: String,
}

#[derive(clap::Args)]
pub struct ExecuteArgs {
    #[command(flatten)]
    pub target: Target,
    /// The request's id.
    pub id: String,
    /// The subject (the app's identifier); must be the request's subject.
    #[arg(long)]
    pub subject: String,
    /// For rectification: what was corrected, in words without personal data.
    #[arg(long)]
    pub note: Option<String>,
    /// For rectification: a record and its corrected data, as `RECORD_ID=@FILE` (a JSON file;
    /// keeps the data out of the shell history) or `RECORD_ID=JSON`; repeatable.
    #[arg(long = "correct", value_name = "RECORD_ID=@FILE")]
    pub corrections: Vec<String>,
    /// For access and portability: the zip archive to write (refused if it exists).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// `custos request ...`.
pub fn run(cmd: RequestCommand) -> ExitCode {
    let r = match cmd {
        RequestCommand::File(a) => file(a),
        RequestCommand::List(a) => list(a),
        RequestCommand::Show(a) => show(a),
        RequestCommand::Code(a) => code(a),
        RequestCommand::Verify(a) => verify(a),
        RequestCommand::Extend(a) => extend(a),
        RequestCommand::Refuse(a) => refuse(a),
        RequestCommand::Execute(a) => execute(a),
    };
    Failure::exit_blaming(r, blame)
}

// ---- plumbing -----------------------------------------------------------------------------

/// Input the operator can fix is blamed on the command line (exit 2), naming the flag; what the
/// request's state or the law refuses is not.
pub(crate) fn blame(e: &VaultError) -> Option<Blame> {
    use RequestError as R;
    let VaultError::Request(r) = e else {
        return match e {
            VaultError::InvalidId { .. } => Some(Blame::Input),
            _ => None,
        };
    };
    match r {
        R::NotFound(_) | R::BadId(_) => Some(Blame::Input),
        R::OtherSubject(_) => Some(Blame::Flag("--subject")),
        R::PurposeRequired { .. }
        | R::UnknownPurpose { .. }
        | R::NotConsent { .. }
        | R::NotObjectable { .. } => Some(Blame::Flag("--purpose")),
        R::WrongCode { .. } => Some(Blame::Flag("--code")),
        R::ReasonRequired(_) => Some(Blame::Flag("--reason")),
        R::NoCorrections => Some(Blame::Flag("--correct")),
        R::NotVerified(_)
        | R::Closed { .. }
        | R::ExtensionTooLate { .. }
        | R::AlreadyExtended(_)
        | R::AlreadyVerified(_)
        | R::WrongKind { .. }
        | R::IdTaken(_)
        | R::NoCode(_)
        | R::CodeVoid => None,
    }
}

impl Target {
    pub(crate) fn tenant(&self) -> Result<TenantId, Failure> {
        TenantId::new(&self.tenant).map_err(|e| Failure::unusable(format!("--tenant: {e}")))
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.now.unwrap_or_else(Timestamp::now)
    }
}

/// The error names the flag, never the identifier given.
fn subject_id(s: &str) -> Result<SubjectId, Failure> {
    SubjectId::new(s).map_err(|e| Failure::unusable(format!("--subject: {e}")))
}

/// A request id as the library stores it: 32 lowercase hex digits (a UUID's dashes dropped).
fn request_id(id: &str) -> Result<RequestId, Failure> {
    RequestId::parse(id).map_err(|_| {
        Failure::unusable(format!(
            "`{id}` is not a request id: a request id is 32 hex digits (see `custos request list`)"
        ))
    })
}

/// `--received`: a moment (RFC 3339), or a day, taken as its start in the controller's time zone.
fn received_at(text: &str) -> Result<Timestamp, Failure> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let bad = || {
        Failure::unusable(format!(
            "--received: `{text}` is neither a date (YYYY-MM-DD) nor a moment (RFC 3339, e.g. 2026-11-02T09:30:00+01:00)"
        ))
    };
    let day: Date = text.parse().map_err(|_| bad())?;
    let tz = jiff::tz::TimeZone::get(ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    day.to_zoned(tz).map(|z| z.timestamp()).map_err(|_| bad())
}

/// A moment in the controller's time zone, where the days of receipt and the deadlines are.
fn time(t: Option<Timestamp>) -> String {
    let tz = jiff::tz::TimeZone::get(ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    t.map_or_else(
        || "-".into(),
        |t| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string()
        },
    )
}

fn risk_text(risk: Risk) -> &'static str {
    match risk {
        Risk::OnTrack => "on track",
        Risk::AtRisk => "AT RISK",
        Risk::Overdue => "OVERDUE",
        Risk::Closed => "closed",
    }
}

/// Whether to colour text: a terminal, and no `NO_COLOR` (https://no-color.org).
fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `line` in bold red (overdue) or bold yellow (at risk) when colouring.
fn paint(line: String, risk: Risk, colour: bool) -> String {
    match (colour, risk) {
        (true, Risk::Overdue) => format!("\x1b[1;31m{line}\x1b[0m"),
        (true, Risk::AtRisk) => format!("\x1b[1;33m{line}\x1b[0m"),
        _ => line,
    }
}

/// Rows padded to their widest cell, header first.
fn table(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            s.push_str(&format!("{c:<w$}  ", w = widths[i]));
        }
        s.trim_end().to_owned()
    };
    std::iter::once(line(header))
        .chain(
            rows.iter()
                .map(|r| line(&r.iter().map(String::as_str).collect::<Vec<_>>())),
        )
        .collect()
}

/// A request with how it stands against its deadline (the API's `RequestView`).
#[derive(Serialize)]
struct View<'a> {
    request: &'a Request,
    risk: Risk,
}

/// The due date if the request is extended, as stored when it was filed.
fn extended_due(r: &Request) -> Option<&str> {
    r.detail.get("extended_due_on").and_then(|d| d.as_str())
}

fn kind_text(kind: RequestKind) -> String {
    format!("{} ({})", kind.as_str(), kind.article())
}

fn due_text(r: &Request) -> String {
    match (r.extended, extended_due(r)) {
        (true, _) => format!("{} (extended)", r.due_on),
        (false, Some(x)) => format!("{} ({x} if extended)", r.due_on),
        (false, None) => r.due_on.to_string(),
    }
}

// ---- file ---------------------------------------------------------------------------------

/// The request as the library takes it, with the deadlines counted as the law counts them (the
/// Dutch calendar with the days `equated` by decree).
fn new_request(
    kind: RequestKind,
    subject: SubjectId,
    purpose: Option<String>,
    received_at: Timestamp,
    channel: String,
    equated: &[String],
) -> Result<NewRequest, Failure> {
    let cal = crate::rights_cmds::equated_calendar(equated).map_err(Failure::unusable)?;
    NewRequest::counted(kind, subject, purpose, received_at, channel, &cal).ok_or_else(|| {
        Failure::unusable("--received: the due date falls outside the calendar's range")
    })
}

fn file(a: FileArgs) -> Result<(), Failure> {
    let tenant = a.target.tenant()?;
    let subject = subject_id(&a.subject)?;
    let now = a.target.now();
    let at = match &a.received {
        Some(t) => received_at(t)?,
        None => now,
    };
    if custos_types::limits::beyond_skew(at.as_second(), now.as_second()) {
        return Err(Failure::unusable(format!(
            "--received: {} lies in the future",
            a.received.as_deref().unwrap_or_default()
        )));
    }
    if a.channel.trim().is_empty() {
        return Err(Failure::unusable(
            "--channel: say how the request came in (letter, email, ...)",
        ));
    }
    let purpose = a.purpose.filter(|p| !p.trim().is_empty());
    let new = new_request(a.kind.into(), subject, purpose, at, a.channel, &a.equated)?;
    let (policy, mut vault) = load_vault(&a.target.vault)?;
    let filed = vault
        .tenant(&tenant)
        .acting_as(ACTOR)
        .file_request(&policy, new)?;
    let r = &filed.request;
    let risk = r.risk(day_of(now));
    match a.format {
        Format::Json => {
            #[derive(Serialize)]
            struct Filed<'a> {
                #[serde(flatten)]
                view: View<'a>,
                duplicate: bool,
            }
            json(&Filed {
                view: View { request: r, risk },
                duplicate: filed.duplicate,
            })
        }
        Format::Text => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "request    {}", r.request_id);
            let _ = writeln!(out, "kind       {}", kind_text(r.kind));
            let _ = writeln!(out, "received   {}", r.received_on);
            let _ = writeln!(out, "due        {}", due_text(r));
            let _ = writeln!(out, "risk       {}", risk_text(risk));
            let _ = writeln!(
                out,
                "duplicate  {}",
                if filed.duplicate {
                    "yes: this subject already has this request open; it is returned, and the duplicate is noted in its history"
                } else {
                    "no"
                }
            );
            if !filed.duplicate && r.state == RequestState::Received {
                let _ = writeln!(
                    out,
                    "next: verify the requester's identity (`custos request code {}`)",
                    r.request_id
                );
            }
            Ok(())
        }
    }
}

// ---- list ---------------------------------------------------------------------------------

fn list(a: ListArgs) -> Result<(), Failure> {
    let tenant = a.target.tenant()?;
    let today = day_of(a.target.now());
    let (_, mut vault) = load_vault(&a.target.vault)?;
    let requests = vault.tenant(&tenant).requests(a.all)?;
    let views: Vec<View<'_>> = requests
        .iter()
        .map(|r| View {
            request: r,
            risk: r.risk(today),
        })
        .collect();
    if a.format == Format::Json {
        return json(&views);
    }
    let mut out = std::io::stdout().lock();
    if views.is_empty() {
        let _ = writeln!(out, "no {}requests", if a.all { "" } else { "open " });
        return Ok(());
    }
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            let r = v.request;
            vec![
                r.due_on.to_string() + if r.extended { "*" } else { "" },
                risk_text(v.risk).to_owned(),
                r.request_id.clone(),
                r.kind.as_str().to_owned(),
                r.state.as_str().to_owned(),
                r.received_on.to_string(),
                r.purpose.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let lines = table(
        &[
            "due", "risk", "request", "kind", "state", "received", "purpose",
        ],
        &rows,
    );
    let colour = colour();
    let mut lines = lines.into_iter();
    if let Some(header) = lines.next() {
        let _ = writeln!(out, "{header}");
    }
    for (line, v) in lines.zip(&views) {
        let _ = writeln!(out, "{}", paint(line, v.risk, colour));
    }
    let count = |risk| views.iter().filter(|v| v.risk == risk).count();
    let open = views.iter().filter(|v| v.risk != Risk::Closed).count();
    let _ = writeln!(out);
    let _ = write!(
        out,
        "{open} open: {} OVERDUE, {} AT RISK (due within {AT_RISK_DAYS} days), {} on track",
        count(Risk::Overdue),
        count(Risk::AtRisk),
        count(Risk::OnTrack),
    );
    if views.iter().any(|v| v.request.extended) {
        let _ = write!(out, "; * extended (Art. 12(3))");
    }
    let _ = writeln!(out);
    Ok(())
}

// ---- show ---------------------------------------------------------------------------------

fn show(a: ShowArgs) -> Result<(), Failure> {
    let tenant = a.target.tenant()?;
    let id = request_id(&a.id)?;
    let today = day_of(a.target.now());
    let (_, mut vault) = load_vault(&a.target.vault)?;
    let mut t = vault.tenant(&tenant);
    let request = t.request(id.as_str())?;
    let history = t.request_history(id.as_str())?;
    let notifications = t.notifications_of_request(id.as_str())?;
    let risk = request.risk(today);
    if a.format == Format::Json {
        /// The API's `RequestDetail`.
        #[derive(Serialize)]
        struct Detail<'a> {
            #[serde(flatten)]
            view: View<'a>,
            history: &'a [Step],
            notifications: &'a [Notification],
        }
        return json(&Detail {
            view: View {
                request: &request,
                risk,
            },
            history: &history,
            notifications: &notifications,
        });
    }
    print_request(&request, risk);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out);
    let _ = writeln!(out, "history");
    let rows: Vec<Vec<String>> = history
        .iter()
        .map(|s| {
            vec![
                s.seq.to_string(),
                time(Some(s.at)),
                s.step.clone(),
                s.actor.clone(),
                note_text(&s.note),
            ]
        })
        .collect();
    for line in table(&["#", "when", "step", "who", "note"], &rows) {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(out);
    if notifications.is_empty() {
        let _ = writeln!(out, "recipients told (Art. 19): none");
    } else {
        let _ = writeln!(out, "recipients told (Art. 19)");
        let rows: Vec<Vec<String>> = notifications
            .iter()
            .map(|n| {
                vec![
                    n.recipient.clone(),
                    n.action.clone(),
                    serde_json::to_value(n.state)
                        .ok()
                        .and_then(|s| s.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    n.attempts.to_string(),
                    time(Some(n.created_at)),
                    time(n.delivered_at),
                ]
            })
            .collect();
        for line in table(
            &[
                "recipient",
                "action",
                "state",
                "attempts",
                "queued",
                "acknowledged",
            ],
            &rows,
        ) {
            let _ = writeln!(out, "  {line}");
        }
    }
    Ok(())
}

/// A history step's note on one line; empty notes print nothing.
fn note_text(note: &serde_json::Value) -> String {
    match note {
        serde_json::Value::Null => String::new(),
        serde_json::Value::Object(o) if o.is_empty() => String::new(),
        other => other.to_string(),
    }
}

/// The request's fields, one per line. The subject's pseudonym and a pending code's hash stay
/// out of text output.
fn print_request(r: &Request, risk: Risk) {
    let colour = colour();
    let mut out = std::io::stdout().lock();
    let d = &r.detail;
    let text = |k: &str| d.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let _ = writeln!(out, "request    {}", r.request_id);
    let _ = writeln!(out, "kind       {}", kind_text(r.kind));
    let _ = writeln!(out, "state      {}", r.state.as_str());
    if let Some(p) = &r.purpose {
        let _ = writeln!(out, "purpose    {p}");
    }
    let _ = writeln!(
        out,
        "received   {} ({}, via {})",
        r.received_on,
        time(Some(r.received_at)),
        text("channel").unwrap_or_else(|| "-".into())
    );
    let _ = writeln!(out, "due        {}", due_text(r));
    let _ = writeln!(
        out,
        "{}",
        paint(format!("risk       {}", risk_text(risk)), risk, colour)
    );
    if let Some(reason) = text("extension_reason") {
        let _ = writeln!(out, "extension  {reason}");
    }
    if r.verified_at.is_some() {
        let _ = writeln!(
            out,
            "verified   {} ({})",
            time(r.verified_at),
            text("verified_by").unwrap_or_else(|| "-".into())
        );
    }
    if r.closed_at.is_some() {
        let _ = writeln!(out, "closed     {}", time(r.closed_at));
    }
    if let Some(refusal) = d.get("refusal") {
        let s = |k: &str| refusal.get(k).and_then(|v| v.as_str()).unwrap_or("-");
        let _ = writeln!(out, "refused    {}", s("reason"));
        let _ = writeln!(out, "complaint  {}", s("complaint"));
    }
    if let Some(outcome) = d.get("outcome") {
        let _ = writeln!(out, "outcome    {outcome}");
    }
}

// ---- code and verify ----------------------------------------------------------------------

fn code(a: CodeArgs) -> Result<(), Failure> {
    let tenant = a.target.tenant()?;
    let id = request_id(&a.id)?;
    let now = a.target.now();
    let (_, mut vault) = load_vault(&a.target.vault)?;
    let code = vault
        .tenant(&tenant)
        .acting_as(ACTOR)
        .issue_code(id.as_str(), now)?;
    // The code alone on stdout, so `$(custos request code ...)` captures it; the guidance beside.
    println!("{code}");
    let until = now + jiff::SignedDuration::from_secs(custos_vault::rights::CODE_VALID_SECONDS);
    eprintln!(
        "send this code to the address you hold on file for this person (never to one the requester just gave); valid until {}, {} tries; then `custos request verify {id} --code <what they typed>`",
        time(Some(until)),
        custos_vault::rights::CODE_ATTEMPTS
    );
    Ok(())
}

fn verify(a: VerifyArgs) -> Result<(), Failure> {
    let tenant = a.target.tenant()?;
    let id = request_id(&a.id)?;
    let how = match (a.code, a.attested) {
        (Some(code), None) => Verification::Code(code),
        (None, Some(method)) if method.trim().is_empty() => {
            return Err(Failure::unusable(
                "--attested: say how identity was established (e.g. \"ID checked at the desk\")",
            ));
        }
        (None, Some(method)) => Verification::Attested { method },
        _ => {
            return Err(Failure::unusable(
                "give exactly one of --code and --attested",
            ));
        }
    };
    let (_, mut vault) = load_vault(&a.target.vault)?;
    let r =
        vault
            .tenant(&tenant)
            .acting_as(ACTOR)
            .verify_request(id.as_str(), &how, a.target.now())?;
    println!(
        "request {} verified ({}); next: `custos request execute {}`",
        r.request_id,
        r.detail
            .get("verified_by")
            .and_then(|v| v.as_str())
            .unwrap_or("-"),
        r.request_id
    );
    Ok(())
}

// ---- extend and refuse --------------------------------------------------------------------

fn extend(a: ReasonArgs) -> Result<(), Failure> {
    let tenant = a.target.tenant()?;
    let id = request_id(&a.id)?;
    let now = a.target.now();
    let (_, mut vault) = load_vault(&a.target.vault)?;
    let r = vault.tenant(&tenant).acting_as(ACTOR).extend_request(
        id.as_str(),
        &a.reason,
        day_of(now),
        now,
    )?;
    println!(
        "request {} extended by two months (Art. 12(3)): now due {}; tell the requester, with the reason, before the first month runs out",
        r.request_id, r.due_on
    );
    Ok(())
}

fn refuse(a: ReasonArgs) -> Result<(), Failure> {
    let tenant = a.target.tenant()?;
    let id = request_id(&a.id)?;
    let (policy, mut vault) = load_vault(&a.target.vault)?;
    let r = vault.tenant(&tenant).acting_as(ACTOR).refuse_request(
        &policy,
        id.as_str(),
        &a.reason,
        a.target.now(),
    )?;
    let complaint = r
        .detail
        .get("refusal")
        .and_then(|f| f.get("complaint"))
        .and_then(|c| c.as_str())
        .unwrap_or_default();
    println!("request {} refused: {}", r.request_id, a.reason.trim());
    println!("tell the requester the reason and their right to complain (Art. 12(4)):");
    println!("{complaint}");
    Ok(())
}

// ---- execute ------------------------------------------------------------------------------

fn execute(a: ExecuteArgs) -> Result<(), Failure> {
    let tenant = a.target.tenant()?;
    let id = request_id(&a.id)?;
    let subject = subject_id(&a.subject)?;
    let now = a.target.now();
    let (policy, mut vault) = load_vault(&a.target.vault)?;
    let mut t = vault.tenant(&tenant).acting_as(ACTOR);
    let r = t.request(id.as_str())?;
    // Whether --out and --note fit this kind is input, checked before anything changes.
    let answers = matches!(r.kind, RequestKind::Access | RequestKind::Portability);
    match (&a.out, answers) {
        (None, true) => {
            return Err(Failure::unusable(format!(
                "--out: request {id} is a{} {} request; name the zip archive to write its answer to",
                if r.kind == RequestKind::Access {
                    "n"
                } else {
                    ""
                },
                r.kind.as_str()
            )));
        }
        (Some(_), false) => {
            return Err(Failure::unusable(format!(
                "--out: request {id} is a {} request; only access and portability answers are archives",
                r.kind.as_str()
            )));
        }
        (Some(out), true) if out.exists() => {
            return Err(Failure::unusable(format!(
                "--out: {} already exists; refusing to overwrite it (choose another --out or move it away)",
                out.display()
            )));
        }
        _ => {}
    }
    if a.note.is_some() && r.kind != RequestKind::Rectification {
        return Err(Failure::unusable(format!(
            "--note: request {id} is a{} {} request; a note says what a rectification corrected",
            if r.kind == RequestKind::Access {
                "n"
            } else {
                ""
            },
            r.kind.as_str()
        )));
    }
    let answer = match (&a.out, r.kind) {
        (Some(out), _) => answer_archive(&mut t, &policy, id.as_str(), &subject, out, now)?,
        (None, RequestKind::Rectification) => {
            let note = a.note.unwrap_or_default();
            if note.trim().is_empty() {
                return Err(Failure::unusable(
                    "--note: say what was corrected (without personal data)",
                ));
            }
            let corrections = a
                .corrections
                .iter()
                .map(|c| correction(c))
                .collect::<Result<Vec<_>, _>>()?;
            // The subject is checked first: someone else's identifier is not this request (and
            // says nothing about whose it is).
            t.execute_request(
                &policy,
                id.as_str(),
                &subject,
                Rectification { note, corrections },
                now,
            )?
        }
        (None, _) => t.execute_request(
            &policy,
            id.as_str(),
            &subject,
            Rectification::default(),
            now,
        )?,
    };
    let r = t.request(id.as_str())?;
    let told = t.notifications_of_request(id.as_str())?;
    let risk = r.risk(day_of(now));
    if a.format == Format::Json {
        let mut body = serde_json::to_value(View { request: &r, risk })
            .map_err(|e| Failure::new(ErrorCode::Internal, format!("encoding the result: {e}")))?;
        body["answer"] = serde_json::to_value(&answer).unwrap_or_default();
        return json(&body);
    }
    print_answer(&r, &answer, a.out.as_deref(), &told);
    Ok(())
}

/// One `--correct RECORD_ID=@FILE` (or `=JSON`): the record and its corrected data, checked to
/// be JSON. The error never quotes the data.
pub(crate) fn correction(arg: &str) -> Result<custos_vault::records::Correction, Failure> {
    let (id, data) = arg.split_once('=').ok_or_else(|| {
        Failure::unusable("--correct: write it as RECORD_ID=@FILE or RECORD_ID=JSON")
    })?;
    let record = RecordId::parse(id.trim())
        .map_err(|_| Failure::unusable("--correct: the part before `=` is not a record id"))?;
    let payload = match data.strip_prefix('@') {
        Some(path) => std::fs::read(path)
            .map_err(|e| Failure::unusable(format!("--correct: cannot read {path}: {e}")))?,
        None => data.as_bytes().to_vec(),
    };
    let value: serde_json::Value = serde_json::from_slice(&payload).map_err(|e| {
        Failure::unusable(format!(
            "--correct: the corrected data of record {} is not JSON (line {}, column {})",
            record.as_str(),
            e.line(),
            e.column()
        ))
    })?;
    let payload = serde_json::to_vec(&value)
        .map_err(|_| Failure::unusable("--correct: the data cannot be encoded"))?;
    Ok(custos_vault::records::Correction { record, payload })
}

/// Access and portability: refuses before writing a byte when the request cannot be answered,
/// writes the archive beside `out` and renames it once whole, and only then completes the
/// request ([`TenantVault::answer_request`]). A failure leaves the request in progress and
/// nothing at `out`.
fn answer_archive(
    t: &mut TenantVault<'_>,
    policy: &Policy,
    id: &str,
    subject: &SubjectId,
    out: &Path,
    now: Timestamp,
) -> Result<Executed, Failure> {
    let (request, _) = t.request_to_answer(id, subject)?;
    // In the language the subject wrote in (the request keeps it), else the policy's first.
    let lang = request
        .detail
        .get("language")
        .and_then(|l| l.as_str())
        .and_then(Lang::from_code)
        .filter(|l| policy.meta.languages.contains(l))
        .or_else(|| policy.meta.languages.first().copied())
        .unwrap_or(Lang::En);
    let partial = partial_path(out);
    let file = create_private(&partial).map_err(|e| {
        Failure::unusable(format!(
            "--out: {}: {e}; check the directory",
            partial.display()
        ))
    })?;
    let w = std::io::BufWriter::with_capacity(1 << 16, file);
    let answered = t.answer_request::<anyhow::Error, _>(policy, id, subject, lang, now, w, |w| {
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&partial, out)?;
        Ok(())
    });
    match answered {
        Ok((_, written)) => Ok(Executed::Archive(written)),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(Failure::new(
                crate::failure::answer_code(&e),
                format!(
                    "writing {}: {e:#}; request {id} stays in progress, run the command again",
                    out.display(),
                ),
            ))
        }
    }
}

fn print_answer(r: &Request, answer: &Executed, out: Option<&Path>, told: &[Notification]) {
    let mut o = std::io::stdout().lock();
    let _ = writeln!(
        o,
        "request {} {}: {}",
        r.request_id,
        r.state.as_str(),
        kind_text(r.kind)
    );
    match answer {
        Executed::Archive(w) => {
            let _ = writeln!(
                o,
                "wrote {}: {} record{} ({}), {} bytes; hand it to the requester through a secure channel",
                out.map(|p| p.display().to_string()).unwrap_or_default(),
                w.records,
                if w.records == 1 { "" } else { "s" },
                w.files.join(", "),
                w.bytes
            );
        }
        Executed::Erasure(e) => {
            let _ = writeln!(
                o,
                "erased {} record{} ({} data key{} destroyed; erasure {}){}",
                e.records_erased,
                if e.records_erased == 1 { "" } else { "s" },
                e.keys_destroyed,
                if e.keys_destroyed == 1 { "" } else { "s" },
                e.erasure_id,
                if e.resumed {
                    "; this finished an erasure that had been interrupted"
                } else {
                    ""
                }
            );
            for d in &e.datasets {
                let _ = writeln!(
                    o,
                    "dataset {}: {} row(s) deleted, {} masked, {} unlinked; {} remain (verified after the commit)",
                    d.dataset, d.deleted, d.masked, d.unlinked, d.remaining
                );
                for k in &d.kept {
                    let _ = writeln!(
                        o,
                        "  {}: {} row(s) kept under statutory retention (Art. 17(3)(b)) until {}; the retention purge deletes them then",
                        k.table,
                        k.rows,
                        k.until
                            .as_deref()
                            .unwrap_or("the end of their statutory period")
                    );
                }
            }
            if e.kept.is_empty() {
                let _ = writeln!(o, "kept: nothing");
            } else {
                let _ = writeln!(
                    o,
                    "kept under restriction, unreadable to everyday processing (Art. 17(3)(b)):"
                );
                let rows: Vec<Vec<String>> = e
                    .kept
                    .iter()
                    .map(|k| {
                        vec![
                            k.category.clone(),
                            k.records.to_string(),
                            k.law.clone(),
                            k.until.to_string(),
                        ]
                    })
                    .collect();
                for line in table(&["category", "records", "why", "until"], &rows) {
                    let _ = writeln!(o, "  {line}");
                }
            }
        }
        Executed::Outcome(outcome) => {
            if let Some(flag) = outcome.get("flag").and_then(|f| f.as_str()) {
                let purpose = outcome
                    .get("purpose")
                    .and_then(|p| p.as_str())
                    .map_or_else(|| "every purpose".to_owned(), |p| format!("purpose `{p}`"));
                let _ = writeln!(
                    o,
                    "flag `{flag}` set for {purpose}: every later processing decision sees it"
                );
                if let Some(article) = outcome.get("article").and_then(|a| a.as_str()) {
                    let _ = writeln!(o, "{article}");
                }
            } else if let Some(note) = outcome.get("rectified").and_then(|n| n.as_str()) {
                let _ = writeln!(o, "rectified: {note}");
            }
        }
    }
    if !told.is_empty() {
        let mut names: Vec<&str> = told.iter().map(|n| n.recipient.as_str()).collect();
        names.dedup();
        let _ = writeln!(
            o,
            "recipients to be told (Art. 19): {} (see `custos request show {}`)",
            names.join(", "),
            r.request_id
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_received_date_is_that_day_in_the_controllers_time_zone() {
        // Across both DST changes and a year end: the day of receipt stays the day given.
        for d in ["2026-03-29", "2026-10-25", "2026-12-31", "2027-01-01"] {
            let at = received_at(d).unwrap_or_else(|_| panic!("{d} parses"));
            assert_eq!(day_of(at).to_string(), d);
        }
    }

    #[test]
    fn a_received_moment_counts_on_its_day_in_amsterdam() {
        // 23:30 UTC on 31 October is 00:30 on 1 November in Amsterdam (CET).
        let at = received_at("2026-10-31T23:30:00Z").unwrap_or_else(|_| panic!("parses"));
        assert_eq!(day_of(at).to_string(), "2026-11-01");
    }

    #[test]
    fn a_request_id_may_be_written_as_a_uuid() {
        let id = request_id("0AF14FA9-E4C0-7230-E897-C7066B128F22")
            .map(|id| id.to_string())
            .unwrap_or_default();
        assert_eq!(id, "0af14fa9e4c07230e897c7066b128f22");
        assert!(request_id("not-an-id").is_err());
    }
}
