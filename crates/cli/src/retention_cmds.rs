//! Retention from the command line: `custos purge`, `custos event`, `custos hold ...` and
//! `custos retention ...`. Each opens the vault, makes one library call and prints the result;
//! the rules themselves live in `custos_vault::retention` and `custos_retention`. Exit codes: 0
//! done, 1 refused or failed (the message on stderr says why and what to do), 2 unusable input
//! (a policy that does not load, a vault that does not open).

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use custos_types::ErrorCode;
use custos_vault::{
    EventTarget, HoldInfo, HoldTarget, PurgeOptions, PurgeReport, RecordId, RetentionReport,
    SubjectId, TenantId, VaultError,
};
use jiff::Timestamp;

use crate::failure::{Failure, json};
use crate::open::{ACTOR, VaultArgs, load_vault};
use crate::output::{Format, table};

#[derive(clap::Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// Only report what is due; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only this tenant (default: every tenant).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Records deleted per transaction (each batch leaves its receipts in the audit trail).
    #[arg(long, default_value_t = custos_vault::retention::DEFAULT_BATCH, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Measure expiry against this moment instead of the clock (RFC 3339; for operators' tests).
    #[arg(long, hide = true)]
    pub now: Option<Timestamp>,
}

#[derive(clap::Args)]
pub struct EventArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The tenant.
    #[arg(long)]
    pub tenant: String,
    /// The event: declared in the policy (`[[event]]`) or a built-in clock.
    pub event: String,
    /// The subject the event is about (the app's identifier); without it and `--record`, the
    /// event is about the whole tenant.
    #[arg(long, conflicts_with = "record")]
    pub subject: Option<String>,
    /// With `--subject`: the purpose the event concerns.
    #[arg(long, requires = "subject")]
    pub purpose: Option<String>,
    /// The record the event is about.
    #[arg(long)]
    pub record: Option<String>,
    /// When it happened (RFC 3339; default now).
    #[arg(long)]
    pub at: Option<Timestamp>,
    /// The moment taken as now (RFC 3339; for operators' tests).
    #[arg(long, hide = true)]
    pub now: Option<Timestamp>,
}

#[derive(clap::Subcommand)]
pub enum HoldCommand {
    /// Place a legal hold: no purge or erasure removes what it covers until it is released.
    Place(HoldPlaceArgs),
    /// Release a legal hold.
    Release(HoldReleaseArgs),
    /// List the tenant's legal holds.
    List(HoldListArgs),
}

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["subject", "category", "all"]))]
pub struct HoldPlaceArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The tenant.
    #[arg(long)]
    pub tenant: String,
    /// Hold one subject's records (the app's identifier).
    #[arg(long)]
    pub subject: Option<String>,
    /// Hold one category (and the categories under it).
    #[arg(long)]
    pub category: Option<String>,
    /// Hold everything of the tenant.
    #[arg(long)]
    pub all: bool,
    /// Why: a case or claim reference (no personal data).
    #[arg(long)]
    pub reason: String,
}

#[derive(clap::Args)]
pub struct HoldReleaseArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The tenant.
    #[arg(long)]
    pub tenant: String,
    /// The hold's id (from `custos hold place` or `custos hold list`).
    pub hold_id: String,
}

#[derive(clap::Args)]
pub struct HoldListArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The tenant.
    #[arg(long)]
    pub tenant: String,
    /// Released holds too.
    #[arg(long)]
    pub all: bool,
}

#[derive(clap::Subcommand)]
pub enum RetentionCommand {
    /// Per category: the rule, records, oldest, next expiry, due, waiting, held; and the holds.
    Report(ReportArgs),
    /// Set the tenant's subscription tier.
    Tier(TierArgs),
    /// Set (or `--clear`) the tenant's own period for a category, within the policy's bounds.
    Override(OverrideArgs),
}

#[derive(clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The tenant.
    #[arg(long)]
    pub tenant: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// The moment taken as now (RFC 3339; for operators' tests).
    #[arg(long, hide = true)]
    pub now: Option<Timestamp>,
}

#[derive(clap::Args)]
pub struct TierArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The tenant.
    #[arg(long)]
    pub tenant: String,
    /// A tier declared in the policy (`[[tier]]`).
    pub tier: String,
    /// Since when (RFC 3339; default now).
    #[arg(long)]
    pub since: Option<Timestamp>,
}

#[derive(clap::Args)]
pub struct OverrideArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The tenant.
    #[arg(long)]
    pub tenant: String,
    /// The category.
    pub category: String,
    /// The period in words or ISO 8601 (`"30 days"`, `P1Y`).
    #[arg(required_unless_present = "clear", conflicts_with = "clear")]
    pub period: Option<String>,
    /// Remove the override: the policy's period applies again.
    #[arg(long)]
    pub clear: bool,
}

fn tenant_id(t: &str) -> Result<TenantId, Failure> {
    TenantId::new(t).map_err(|e| Failure::unusable(format!("--tenant: {e}")))
}

fn subject_id(s: &str) -> Result<SubjectId, Failure> {
    SubjectId::new(s).map_err(|e| Failure::unusable(format!("--subject: {e}")))
}

fn time(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".into(), |t| t.strftime("%Y-%m-%d %H:%M").to_string())
}

// ---- purge --------------------------------------------------------------------------------

/// `custos purge`.
pub fn purge(args: PurgeArgs) -> ExitCode {
    Failure::exit(run_purge(args))
}

fn run_purge(args: PurgeArgs) -> Result<(), Failure> {
    let (policy, mut vault) = load_vault(&args.vault)?;
    let now = args.now.unwrap_or_else(Timestamp::now);
    let opts = PurgeOptions {
        batch_size: args.batch,
        dry_run: args.dry_run,
        max_batches: None,
    };
    let show_progress = !args.dry_run && std::io::stderr().is_terminal();
    let mut shown = false;
    let mut progress = |tenant: &str, n: u64| {
        if show_progress {
            eprint!("\r{tenant}: {n} records purged");
            let _ = std::io::stderr().flush();
            shown = true;
        }
    };
    let report = match &args.tenant {
        Some(t) => {
            let tenant = tenant_id(t)?;
            if !vault.tenant_ids()?.iter().any(|x| x == tenant.as_str()) {
                return Err(VaultError::UnknownTenant(t.clone()).into());
            }
            let mut r =
                vault
                    .tenant(&tenant)
                    .acting_as(ACTOR)
                    .purge(&policy, now, opts, &mut |n| progress(t, n))?;
            r.now = Some(now);
            r
        }
        None => vault.purge_all(&policy, now, opts, &mut progress)?,
    };
    if shown {
        eprintln!();
    }
    // The company's own databases (`[[dataset]]` of --config), after the vault: every tenant's
    // rows there, with the same settings and holds. A dry run lists the vault's due records
    // only.
    let mut receipts = Vec::new();
    let mut dataset_failures = Vec::new();
    if !args.dry_run && args.tenant.is_none() {
        let datasets = vault.shared_datasets();
        let context = if datasets.is_empty() {
            Default::default()
        } else {
            vault.purge_context()?
        };
        for d in datasets.iter() {
            match d.purge(&context, &policy, now, args.batch) {
                Ok(r) => {
                    vault.append_audit(&r.events(ACTOR), now)?;
                    receipts.push(r);
                }
                Err(e) => dataset_failures.push((e.code(), format!("dataset `{}`: {e}", d.name()))),
            }
        }
    }
    match args.format {
        Format::Json if receipts.is_empty() => json(&report)?,
        Format::Json => {
            let mut v = serde_json::to_value(&report).map_err(|e| {
                Failure::new(
                    ErrorCode::Internal,
                    format!("the report would not serialise: {e}"),
                )
            })?;
            v["datasets"] = serde_json::to_value(&receipts).unwrap_or_default();
            json(&v)?
        }
        Format::Text => {
            print_purge(&report);
            for r in &receipts {
                for t in r
                    .tables
                    .iter()
                    .filter(|t| t.deleted > 0 || t.skipped.is_some())
                {
                    println!(
                        "dataset {} table {} tenant {}: {} row(s) purged{}",
                        r.dataset,
                        t.table,
                        t.tenant,
                        t.deleted,
                        t.skipped
                            .as_deref()
                            .map(|s| format!(" (skipped: {s})"))
                            .unwrap_or_default()
                    );
                }
            }
        }
    }
    if let Some((code, _)) = dataset_failures.first() {
        let list: Vec<&str> = dataset_failures.iter().map(|(_, m)| m.as_str()).collect();
        return Err(Failure::new(
            *code,
            format!(
                "{} dataset(s) were not purged:\n  {}",
                list.len(),
                list.join("\n  ")
            ),
        ));
    }
    if report.failed.is_empty() {
        Ok(())
    } else {
        let list: Vec<String> = report
            .failed
            .iter()
            .map(|(t, why)| format!("tenant `{t}`: {why}"))
            .collect();
        Err(Failure::new(
            ErrorCode::ClockWentBack,
            format!(
                "{} tenant(s) were not purged:\n  {}",
                list.len(),
                list.join("\n  ")
            ),
        ))
    }
}

fn print_purge(report: &PurgeReport) {
    let mut out = std::io::stdout().lock();
    let count = if report.dry_run { "due" } else { "purged" };
    let mut tenants: Vec<&str> = report.rules.iter().map(|r| r.tenant.as_str()).collect();
    tenants.dedup();
    for t in &tenants {
        let rows: Vec<Vec<String>> = report
            .rules
            .iter()
            .filter(|r| r.tenant == *t)
            .map(|r| {
                vec![
                    r.category.clone(),
                    r.rule.clone(),
                    r.purged.to_string(),
                    r.held.to_string(),
                    match (r.expired_from, r.expired_to) {
                        (None, None) => "-".into(),
                        (a, b) => format!("{} .. {}", time(a), time(b)),
                    },
                ]
            })
            .collect();
        let _ = writeln!(out, "tenant {t}");
        table(
            &mut out,
            &["category", "rule", count, "held", "expired"],
            &rows,
        );
        let _ = writeln!(out);
    }
    if report.dry_run {
        let _ = writeln!(
            out,
            "dry run: {} record(s) due, {} held by legal holds; nothing was deleted",
            report.purged(),
            report.held()
        );
    } else {
        let _ = writeln!(
            out,
            "purged {} record(s) in {} batch(es); {} due record(s) held by legal holds",
            report.purged(),
            report.batches,
            report.held()
        );
    }
}

// ---- events -------------------------------------------------------------------------------

/// `custos event`.
pub fn event(args: EventArgs) -> ExitCode {
    Failure::exit(run_event(args))
}

fn run_event(args: EventArgs) -> Result<(), Failure> {
    let tenant = tenant_id(&args.tenant)?;
    let target = match (&args.subject, &args.record) {
        (Some(s), _) => EventTarget::Subject {
            subject: subject_id(s)?,
            purpose: args.purpose.clone(),
        },
        (None, Some(r)) => EventTarget::Record(
            RecordId::parse(r).map_err(|e| Failure::unusable(format!("--record: {e}")))?,
        ),
        (None, None) => EventTarget::Tenant,
    };
    let (policy, mut vault) = load_vault(&args.vault)?;
    let now = args.now.unwrap_or_else(Timestamp::now);
    let outcome = vault.tenant(&tenant).acting_as(ACTOR).record_event(
        &policy,
        &target,
        &args.event,
        args.at.unwrap_or(now),
        now,
    )?;
    if outcome.changed {
        println!(
            "recorded `{}`: {} record expir{} recomputed",
            args.event,
            outcome.recomputed,
            if outcome.recomputed == 1 { "y" } else { "ies" }
        );
    } else {
        println!(
            "`{}` was already recorded at an earlier time (the first occurrence counts); nothing changed",
            args.event
        );
    }
    Ok(())
}

// ---- holds --------------------------------------------------------------------------------

/// `custos hold ...`.
pub fn hold(cmd: HoldCommand) -> ExitCode {
    Failure::exit(match cmd {
        HoldCommand::Place(a) => hold_place(a),
        HoldCommand::Release(a) => hold_release(a),
        HoldCommand::List(a) => hold_list(a),
    })
}

fn covers(h: &HoldInfo) -> String {
    match (h.scope.as_str(), &h.subject, &h.category) {
        ("subject", Some(p), _) => format!("subject {p}"),
        ("category", _, Some(c)) => format!("category {c}"),
        _ => "the whole tenant".into(),
    }
}

fn hold_place(a: HoldPlaceArgs) -> Result<(), Failure> {
    let tenant = tenant_id(&a.tenant)?;
    let target = match (&a.subject, &a.category) {
        (Some(s), _) => HoldTarget::Subject(subject_id(s)?),
        (None, Some(c)) => HoldTarget::Category(c.clone()),
        (None, None) => HoldTarget::Tenant,
    };
    let (policy, mut vault) = load_vault(&a.vault)?;
    let h = vault.tenant(&tenant).acting_as(ACTOR).place_hold(
        &policy,
        &target,
        &a.reason,
        Timestamp::now(),
    )?;
    println!("placed legal hold {} on {}", h.hold_id, covers(&h));
    Ok(())
}

fn hold_release(a: HoldReleaseArgs) -> Result<(), Failure> {
    let tenant = tenant_id(&a.tenant)?;
    let (_, mut vault) = load_vault(&a.vault)?;
    let h = vault
        .tenant(&tenant)
        .acting_as(ACTOR)
        .release_hold(&a.hold_id, Timestamp::now())?;
    println!(
        "released legal hold {} on {}; the next purge takes what it kept",
        h.hold_id,
        covers(&h)
    );
    Ok(())
}

fn hold_list(a: HoldListArgs) -> Result<(), Failure> {
    let tenant = tenant_id(&a.tenant)?;
    let (_, mut vault) = load_vault(&a.vault)?;
    let holds = vault.tenant(&tenant).holds(a.all)?;
    print_holds(&holds);
    Ok(())
}

fn print_holds(holds: &[HoldInfo]) {
    if holds.is_empty() {
        println!("no legal holds");
        return;
    }
    let rows: Vec<Vec<String>> = holds
        .iter()
        .map(|h| {
            vec![
                h.hold_id.clone(),
                covers(h),
                time(Some(h.set_at)),
                h.set_by.clone(),
                time(h.released_at),
                h.reason.clone(),
            ]
        })
        .collect();
    table(
        &mut std::io::stdout().lock(),
        &["hold", "covers", "placed", "by", "released", "reason"],
        &rows,
    );
}

// ---- retention ----------------------------------------------------------------------------

/// `custos retention ...`.
pub fn retention(cmd: RetentionCommand) -> ExitCode {
    Failure::exit(match cmd {
        RetentionCommand::Report(a) => report(a),
        RetentionCommand::Tier(a) => tier(a),
        RetentionCommand::Override(a) => override_(a),
    })
}

fn report(a: ReportArgs) -> Result<(), Failure> {
    let tenant = tenant_id(&a.tenant)?;
    let (policy, mut vault) = load_vault(&a.vault)?;
    let r = vault
        .tenant(&tenant)
        .retention_report(&policy, a.now.unwrap_or_else(Timestamp::now))?;
    match a.format {
        Format::Json => json(&r),
        Format::Text => {
            print_report(&r);
            Ok(())
        }
    }
}

fn print_report(r: &RetentionReport) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "tenant {} at {}", r.tenant, time(Some(r.at)));
    let _ = writeln!(out, "tier: {}", r.tier.as_deref().unwrap_or("-"));
    for (c, p) in &r.overrides {
        let _ = writeln!(out, "override: {c} = {p}");
    }
    for (e, at) in &r.events {
        let _ = writeln!(out, "event: {e} at {}", time(Some(*at)));
    }
    let _ = writeln!(out, "last purge: {}", time(r.last_purge));
    let _ = writeln!(out);
    let rows: Vec<Vec<String>> = r
        .categories
        .iter()
        .map(|c| {
            vec![
                c.category.clone(),
                c.records.to_string(),
                c.due.to_string(),
                c.waiting.to_string(),
                c.held.to_string(),
                time(c.oldest),
                time(c.next_expiry),
                c.rule.clone(),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            "category",
            "records",
            "due",
            "waiting",
            "held",
            "oldest",
            "next expiry",
            "rule",
        ],
        &rows,
    );
    // Categories whose expiries cannot be computed: never kept silently.
    for c in &r.categories {
        if let Some(p) = &c.problem {
            let _ = writeln!(out, "problem: {}: {p}", c.category);
        }
    }
    drop(out);
    if !r.holds.is_empty() {
        println!();
        print_holds(&r.holds);
    }
}

fn tier(a: TierArgs) -> Result<(), Failure> {
    let tenant = tenant_id(&a.tenant)?;
    let (policy, mut vault) = load_vault(&a.vault)?;
    let now = Timestamp::now();
    let o = vault.tenant(&tenant).acting_as(ACTOR).set_tier(
        &policy,
        &a.tier,
        a.since.unwrap_or(now),
        now,
    )?;
    if o.changed {
        println!(
            "tier set to `{}`: {} record expiries recomputed",
            a.tier, o.recomputed
        );
    } else {
        println!("tier unchanged (the same or a later change is already recorded)");
    }
    Ok(())
}

fn override_(a: OverrideArgs) -> Result<(), Failure> {
    let tenant = tenant_id(&a.tenant)?;
    let period = match (&a.period, a.clear) {
        (_, true) | (None, _) => None,
        (Some(p), false) => {
            Some(custos_policy::Period::parse(p).map_err(|e| Failure::unusable(e.to_string()))?)
        }
    };
    let (policy, mut vault) = load_vault(&a.vault)?;
    let o = vault.tenant(&tenant).acting_as(ACTOR).set_override(
        &policy,
        &a.category,
        period,
        Timestamp::now(),
    )?;
    match (o.changed, period) {
        (false, _) => println!("override of `{}` unchanged", a.category),
        (true, Some(p)) => println!(
            "`{}` is kept {p} for this tenant: {} record expiries recomputed",
            a.category, o.recomputed
        ),
        (true, None) => println!(
            "override of `{}` removed; the policy's period applies: {} record expiries recomputed",
            a.category, o.recomputed
        ),
    }
    Ok(())
}
