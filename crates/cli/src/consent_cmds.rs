//! Consent and processing decisions from the command line (PRODUCT.md C6, C7): `custos consent
//! grant | withdraw | state | history`, `custos approval list | approve | reject` and `custos
//! decide`. The same library calls as the HTTP API (`crates/server/src/consent.rs`), so a consent
//! taken on paper and one given in an app land in one ledger, under one set of rules.
//!
//! Exit codes: 0 done (for `decide`: allowed); 1 refused by the state (an approval decided
//! before), a denial (`decide`), or a failure of the vault; 2 unusable input (an undefined
//! purpose or one not based on consent, nothing to withdraw, an entry out of order, a bad hash, a
//! full IP address in the proof, an unknown approval, a policy or vault that does not open).
//! Messages name the flag, never the subject.

use std::process::ExitCode;

use custos_vault::consent::{
    Approval, ConsentCallError, ConsentRecord, DecisionQuery, PurposeConsent,
};
use custos_vault::{RecordId, SubjectId, TenantId, VaultError};
use jiff::Timestamp;

use crate::failure::{Blame, Failure, json};
use crate::open::{VaultArgs, load_vault};
use crate::output::Format;

/// Who acts in the audit trail for changes made from the command line, unless `--by` names the
/// person.
const ACTOR: &str = "operator:cli";

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

#[derive(clap::Subcommand)]
pub enum ConsentCommand {
    /// Record that the person gave consent for a purpose (with the notice they saw and proof).
    Grant(EntryArgs),
    /// Record that the person withdrew consent for a purpose (Art. 7(3)).
    Withdraw(EntryArgs),
    /// The person's consent for every consent-based purpose, stale ones marked.
    State(StateArgs),
    /// The person's whole consent ledger, oldest first.
    History(HistoryArgs),
}

#[derive(clap::Args)]
pub struct EntryArgs {
    #[command(flatten)]
    pub target: Target,
    /// The subject (the app's identifier for the person). Only its pseudonym is stored.
    #[arg(long)]
    pub subject: String,
    /// A purpose of the policy based on consent (or an opt-in).
    #[arg(long)]
    pub purpose: String,
    /// When the person did it (RFC 3339; default now).
    #[arg(long)]
    pub at: Option<Timestamp>,
    /// The version of the notice the person saw.
    #[arg(long)]
    pub notice_version: String,
    /// SHA-256 of the notice text the person saw (64 hex digits).
    #[arg(long)]
    pub notice_hash: String,
    /// Through which channel (`paper`, `phone`, `web`, ...).
    #[arg(long, default_value = "cli")]
    pub channel: String,
    /// Proof: a form or letter reference, a truncated IP. Never a full IP address.
    #[arg(long)]
    pub proof: String,
}

#[derive(clap::Args)]
pub struct StateArgs {
    #[command(flatten)]
    pub target: Target,
    /// The subject.
    #[arg(long)]
    pub subject: String,
    /// A notice version whose change needs consent again (from `custos diff`); repeatable.
    #[arg(long = "stale-version")]
    pub stale_versions: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(clap::Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub target: Target,
    /// The subject.
    #[arg(long)]
    pub subject: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(clap::Subcommand)]
pub enum ApprovalCommand {
    /// The tenant's approvals waiting for a person (`--all`: decided ones too).
    List(ApprovalListArgs),
    /// Approve an item; prints the one-time token the app presents for the action.
    Approve(VerdictArgs),
    /// Reject an item, with the reason.
    Reject(VerdictArgs),
}

#[derive(clap::Args)]
pub struct ApprovalListArgs {
    #[command(flatten)]
    pub target: Target,
    /// Decided approvals too.
    #[arg(long)]
    pub all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(clap::Args)]
pub struct VerdictArgs {
    #[command(flatten)]
    pub target: Target,
    /// The approval's id (from `custos approval list`).
    pub approval_id: String,
    /// Why: required to reject, optional to approve. No personal data.
    #[arg(long)]
    pub reason: Option<String>,
    /// Who decides, for the audit trail (`operator:<by>`; default `operator:cli`).
    #[arg(long)]
    pub by: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(clap::Args)]
pub struct DecideArgs {
    #[command(flatten)]
    pub target: Target,
    /// The subject.
    #[arg(long)]
    pub subject: String,
    /// The purpose of the processing.
    #[arg(long)]
    pub purpose: String,
    /// The category of data.
    #[arg(long)]
    pub category: String,
    /// The record concerned: its retention expiry counts.
    #[arg(long)]
    pub record: Option<String>,
    /// The person's e-mail address or phone number, checked against the suppression list.
    #[arg(long)]
    pub address: Option<String>,
    /// The action about to be taken (e.g. `draft.send`), for approval gates.
    #[arg(long)]
    pub action: Option<String>,
    /// The item the action is taken on (the draft id), as given when the approval was asked
    /// for: a token approves one item of one subject.
    #[arg(long, requires = "action")]
    pub item: Option<String>,
    /// The one-time approval token for the action; used up when the decision allows.
    #[arg(long, requires = "action")]
    pub token: Option<String>,
    /// The person sent Global Privacy Control with this request.
    #[arg(long)]
    pub gpc: bool,
    /// A notice version whose change needs consent again; repeatable.
    #[arg(long = "stale-version")]
    pub stale_versions: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

// ---- plumbing -----------------------------------------------------------------------------

/// The flag to fix, where the command line's input is to blame; the subject is never named.
fn blame(e: &VaultError) -> Option<Blame> {
    use custos_consent::ledger::ConsentError as L;
    let flag = match e {
        VaultError::Consent(c) => match c {
            ConsentCallError::Ledger(L::UnknownPurpose(_) | L::NotConsentBased { .. }) => {
                Some("--purpose")
            }
            ConsentCallError::Ledger(L::NothingToWithdraw(_)) => Some("withdraw"),
            ConsentCallError::Ledger(L::OutOfOrder { .. }) => Some("--at"),
            ConsentCallError::BadHash => Some("--notice-hash"),
            ConsentCallError::FullIp => Some("--proof"),
            ConsentCallError::Empty("reason") => Some("--reason"),
            ConsentCallError::Empty(_) => Some("arguments"),
            ConsentCallError::ApprovalNotFound(_) => Some("approval id"),
            ConsentCallError::UnknownAction { .. } => Some("--action"),
            ConsentCallError::TokenForOtherItem
            | ConsentCallError::TokenForOtherSubject
            | ConsentCallError::AlreadyDecided { .. }
            | ConsentCallError::TokenInvalid
            | ConsentCallError::TokenUsed(_)
            | ConsentCallError::TokenExpired(_)
            | ConsentCallError::TokenForOtherAction { .. } => None,
        },
        VaultError::EventInFuture { .. } => Some("--at"),
        VaultError::RecordNotFound(_) => Some("--record"),
        VaultError::InvalidId { .. } => Some("arguments"),
        _ => None,
    };
    flag.map(Blame::Flag)
}

impl Target {
    fn tenant(&self) -> Result<TenantId, Failure> {
        TenantId::new(&self.tenant).map_err(|e| Failure::unusable(format!("--tenant: {e}")))
    }

    fn now(&self) -> Timestamp {
        self.now.unwrap_or_else(Timestamp::now)
    }
}

/// The error names the flag, never the identifier given.
fn subject_id(s: &str) -> Result<SubjectId, Failure> {
    SubjectId::new(s).map_err(|e| Failure::unusable(format!("--subject: {e}")))
}

fn time(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".into(), |t| t.strftime("%Y-%m-%d %H:%M").to_string())
}

fn state_text(s: &custos_consent::ledger::ConsentState) -> String {
    use custos_consent::ledger::ConsentState as S;
    match s {
        S::Never => "never given".into(),
        S::Granted { at, notice_version } => {
            format!("granted {} (notice {notice_version})", time(Some(*at)))
        }
        S::Withdrawn { at } => format!("withdrawn {}", time(Some(*at))),
    }
}

// ---- consent ------------------------------------------------------------------------------

/// `custos consent ...`.
pub fn consent(cmd: ConsentCommand) -> ExitCode {
    Failure::exit_blaming(
        match cmd {
            ConsentCommand::Grant(a) => entry(a, custos_consent::ledger::ConsentKind::Grant),
            ConsentCommand::Withdraw(a) => entry(a, custos_consent::ledger::ConsentKind::Withdraw),
            ConsentCommand::State(a) => state(a),
            ConsentCommand::History(a) => history(a),
        },
        blame,
    )
}

fn entry(a: EntryArgs, kind: custos_consent::ledger::ConsentKind) -> Result<(), Failure> {
    let (tenant, who, now) = (a.target.tenant()?, subject_id(&a.subject)?, a.target.now());
    let (policy, mut vault) = load_vault(&a.target.vault)?;
    let record = ConsentRecord {
        purpose: a.purpose.trim().to_owned(),
        kind,
        at: a.at.unwrap_or(now),
        notice_version: a.notice_version,
        notice_hash: a.notice_hash,
        channel: a.channel,
        proof: a.proof,
    };
    let state = vault
        .tenant(&tenant)
        .acting_as(ACTOR)
        .record_consent(&policy, &who, &record, now)?;
    println!("{}: {}", record.purpose, state_text(&state));
    Ok(())
}

fn state(a: StateArgs) -> Result<(), Failure> {
    let (tenant, who) = (a.target.tenant()?, subject_id(&a.subject)?);
    let (policy, mut vault) = load_vault(&a.target.vault)?;
    let stale: Vec<&str> = a.stale_versions.iter().map(String::as_str).collect();
    let states: Vec<PurposeConsent> = vault
        .tenant(&tenant)
        .acting_as(ACTOR)
        .consent_states(&policy, &who, &stale)?;
    if a.format == Format::Json {
        return json(&states);
    }
    let width = states.iter().map(|s| s.purpose.len()).max().unwrap_or(7);
    for s in &states {
        let mark = if s.stale { "  STALE: ask again" } else { "" };
        println!("{:<width$}  {}{mark}", s.purpose, state_text(&s.consent));
    }
    Ok(())
}

fn history(a: HistoryArgs) -> Result<(), Failure> {
    let (tenant, who) = (a.target.tenant()?, subject_id(&a.subject)?);
    let (_, mut vault) = load_vault(&a.target.vault)?;
    let entries = vault
        .tenant(&tenant)
        .acting_as(ACTOR)
        .consent_history(&who)?;
    if a.format == Format::Json {
        return json(&entries);
    }
    if entries.is_empty() {
        println!("no consent entries");
    }
    for e in &entries {
        let kind = match e.kind {
            custos_consent::ledger::ConsentKind::Grant => "grant",
            custos_consent::ledger::ConsentKind::Withdraw => "withdraw",
        };
        println!(
            "{}  {kind:<8}  {}  notice {} ({}…)  via {}  proof: {}",
            time(Some(e.at)),
            e.purpose,
            e.notice_version,
            &e.notice_hash[..12.min(e.notice_hash.len())],
            e.channel,
            e.proof
        );
    }
    Ok(())
}

// ---- approvals ----------------------------------------------------------------------------

/// `custos approval ...`.
pub fn approval(cmd: ApprovalCommand) -> ExitCode {
    Failure::exit_blaming(
        match cmd {
            ApprovalCommand::List(a) => list(a),
            ApprovalCommand::Approve(a) => verdict(a, true),
            ApprovalCommand::Reject(a) => verdict(a, false),
        },
        blame,
    )
}

fn approval_line(a: &Approval) -> String {
    let decided = match (&a.decided_by, a.decided_at) {
        (Some(by), at) => format!("  by {by} at {}", time(at)),
        _ => String::new(),
    };
    format!(
        "{}  {:<8}  {}  item {}  asked {} by {}{decided}",
        a.approval_id,
        a.state,
        a.action,
        a.item,
        time(Some(a.requested_at)),
        a.requested_by
    )
}

fn list(a: ApprovalListArgs) -> Result<(), Failure> {
    let tenant = a.target.tenant()?;
    let (_, mut vault) = load_vault(&a.target.vault)?;
    let approvals = vault.tenant(&tenant).approvals(a.all)?;
    if a.format == Format::Json {
        return json(&approvals);
    }
    if approvals.is_empty() {
        println!(
            "{}",
            if a.all {
                "no approvals"
            } else {
                "nothing waits for approval"
            }
        );
    }
    for x in &approvals {
        println!("{}", approval_line(x));
    }
    Ok(())
}

fn verdict(a: VerdictArgs, approve: bool) -> Result<(), Failure> {
    let tenant = a.target.tenant()?;
    let id = a.approval_id.trim().to_ascii_lowercase();
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Failure::unusable(
            "approval id: 32 hex digits, as `custos approval list` shows it",
        ));
    }
    let actor = match a.by.as_deref().map(str::trim) {
        Some(by) if !by.is_empty() => format!("operator:{by}"),
        _ => ACTOR.to_owned(),
    };
    let (_, mut vault) = load_vault(&a.target.vault)?;
    let (approval, token) = vault.tenant(&tenant).acting_as(&actor).decide_approval(
        &id,
        approve,
        a.reason.as_deref(),
        a.target.now(),
    )?;
    if a.format == Format::Json {
        return json(&serde_json::json!({ "approval": approval, "token": token }));
    }
    println!("{}", approval_line(&approval));
    if let Some(t) = token {
        println!(
            "token (shown once, good for one `{}` within 15 minutes): {t}",
            approval.action
        );
    }
    Ok(())
}

// ---- decide -------------------------------------------------------------------------------

/// `custos decide`: exit 0 when allowed, 1 when denied.
pub fn decide(a: DecideArgs) -> ExitCode {
    match run_decide(a) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(f) => Failure::exit_blaming(Err(f), blame),
    }
}

fn run_decide(a: DecideArgs) -> Result<bool, Failure> {
    let (tenant, who, now) = (a.target.tenant()?, subject_id(&a.subject)?, a.target.now());
    let record = a
        .record
        .as_deref()
        .map(RecordId::parse)
        .transpose()
        .map_err(|e| Failure::unusable(format!("--record: {e}")))?;
    let (policy, mut vault) = load_vault(&a.target.vault)?;
    let stale: Vec<&str> = a.stale_versions.iter().map(String::as_str).collect();
    let q = DecisionQuery {
        subject: &who,
        purpose: &a.purpose,
        category: &a.category,
        record: record.as_ref(),
        address: a.address.as_deref(),
        gpc: a.gpc,
        action: a.action.as_deref(),
        item: a.item.as_deref(),
        approval_token: a.token.as_deref(),
        stale_versions: &stale,
    };
    let d = vault
        .tenant(&tenant)
        .acting_as(ACTOR)
        .decide(&policy, &q, now)?;
    if a.format == Format::Json {
        json(&d)?;
        return Ok(d.allowed);
    }
    println!("{}", if d.allowed { "ALLOWED" } else { "DENIED" });
    for r in &d.reasons {
        let effect = match r.effect {
            custos_consent::decision::Effect::Allow => "allow",
            custos_consent::decision::Effect::Deny => "deny ",
        };
        println!("  {effect}  {:<26} {:<22} {}", r.rule, r.article, r.detail);
    }
    Ok(d.allowed)
}
