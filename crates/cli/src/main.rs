//! `custos`: the command line. Every subcommand parses its arguments, calls one library
//! function and formats the result; no policy or GDPR logic lives here.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod access_cmds;
mod audit_cmds;
mod backup_cmd;
mod breach_cmds;
mod consent_cmds;
mod console_cmds;
mod dataset_cmds;
mod export_cmd;
mod failure;
mod open;
mod output;
mod policy_cmds;
mod record_cmds;
mod request_cmds;
mod retention_cmds;
mod rights_cmds;
mod scan_cmd;
mod serve_cmd;
mod vault_cmds;

#[derive(Parser)]
#[command(
    name = "custos",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("CUSTOS_COMMIT"), ")"),
    about = "Privacy engine: policy as code, checked against the GDPR and enforced on real data"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The company's own databases: scan, check, access, erase, purge, replay (docs/connectors.md).
    #[command(subcommand)]
    Datasets(dataset_cmds::DatasetCommand),
    /// Check policy files against the GDPR (exit 0 clean, 1 findings of severity error, 2 unusable input).
    Check(policy_cmds::CheckArgs),
    /// Render the public privacy statement from a policy.
    Render(policy_cmds::RenderArgs),
    /// Compare two versions of a policy: material or editorial, notice period, renewed consent.
    Diff(policy_cmds::DiffArgs),
    /// The Art. 30 record of processing activities.
    Ropa(policy_cmds::RopaArgs),
    /// The processing activities as W3C DPV JSON-LD.
    ExportDpv(policy_cmds::ExportDpvArgs),
    /// The due date of a data-subject request received on a day (Art. 12(3) GDPR, Reg. 1182/71).
    Deadline(rights_cmds::DeadlineArgs),
    /// A subject's access (Art. 15) or portability (Art. 20) answer as one zip archive.
    Export(export_cmd::ExportArgs),
    /// Run the HTTP server (`--demo` for the jbsync example on the embedded defaults).
    Serve(serve_cmd::ServeArgs),
    /// Write a consistent copy of an SQLite vault while the server runs (PostgreSQL: pg_dump, see
    /// docs/operations.md).
    Backup(backup_cmd::BackupArgs),
    /// The tamper-evident audit trail.
    #[command(subcommand)]
    Audit(audit_cmds::AuditCommand),
    /// Create a master key file (mode 0600) and a new vault database, and print the first admin
    /// API key once (on an existing vault: only if it has no active admin key).
    Init(vault_cmds::InitArgs),
    /// The vault's master (encryption) keys; API keys are `custos key`.
    Keys(vault_cmds::KeysArgs),
    /// Tenants: create, list (directly on the configured database).
    #[command(subcommand)]
    Tenant(access_cmds::TenantCommand),
    /// API keys: issue (prints the key once), list, revoke (directly on the configured database).
    #[command(subcommand)]
    Key(access_cmds::KeyCommand),
    /// The privacy console's personal accounts: add (prints password and TOTP once), list, disable.
    #[command(subcommand)]
    Console(console_cmds::ConsoleCommand),
    /// Find personal data in a file or stream (`-`); print findings or the anonymized stream.
    Scan(scan_cmd::ScanArgs),
    /// Delete the records whose retention ended (`--dry-run`: only report what is due).
    Purge(retention_cmds::PurgeArgs),
    /// Record that a retention event happened (for a tenant, a subject or a record).
    Event(retention_cmds::EventArgs),
    /// The breach register (Art. 33(5)): record, list, show, decide, draft the notifications.
    #[command(subcommand)]
    Breach(breach_cmds::BreachCommand),
    /// Legal holds: place, release, list.
    #[command(subcommand)]
    Hold(retention_cmds::HoldCommand),
    /// A tenant's retention: the report, its tier, its overrides.
    #[command(subcommand)]
    Retention(retention_cmds::RetentionCommand),
    /// Data-subject requests: file, list by deadline, show, verify, extend, refuse, execute.
    #[command(subcommand)]
    Request(request_cmds::RequestCommand),
    /// One stored record: correct its data (Art. 16) or delete it (Art. 17).
    #[command(subcommand)]
    Record(record_cmds::RecordCommand),
    /// The consent ledger: grant, withdraw, state, history.
    #[command(subcommand)]
    Consent(consent_cmds::ConsentCommand),
    /// Approval gates: list, approve (prints the one-time token), reject.
    #[command(subcommand)]
    Approval(consent_cmds::ApprovalCommand),
    /// May this subject's data be processed for this purpose now, and why (exit 0 allowed, 1 denied).
    Decide(consent_cmds::DecideArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => policy_cmds::check(args),
        Command::Datasets(cmd) => dataset_cmds::run(cmd),
        Command::Render(args) => policy_cmds::render(args),
        Command::Diff(args) => policy_cmds::diff(args),
        Command::Ropa(args) => policy_cmds::ropa(args),
        Command::ExportDpv(args) => policy_cmds::export_dpv(args),
        Command::Audit(cmd) => audit_cmds::run(cmd),
        Command::Serve(args) => serve_cmd::serve(args),
        Command::Backup(args) => backup_cmd::backup(args),
        Command::Export(args) => export_cmd::export(args),
        Command::Deadline(args) => rights_cmds::deadline(args),
        Command::Init(args) => vault_cmds::init(args),
        Command::Keys(args) => vault_cmds::keys(args),
        Command::Tenant(cmd) => access_cmds::tenant(cmd),
        Command::Key(cmd) => access_cmds::key(cmd),
        Command::Console(cmd) => console_cmds::run(cmd),
        Command::Scan(args) => scan_cmd::scan(args),
        Command::Purge(args) => retention_cmds::purge(args),
        Command::Event(args) => retention_cmds::event(args),
        Command::Hold(cmd) => retention_cmds::hold(cmd),
        Command::Breach(cmd) => breach_cmds::run(cmd),
        Command::Retention(cmd) => retention_cmds::retention(cmd),
        Command::Request(cmd) => request_cmds::run(cmd),
        Command::Record(cmd) => record_cmds::run(cmd),
        Command::Consent(cmd) => consent_cmds::consent(cmd),
        Command::Approval(cmd) => consent_cmds::approval(cmd),
        Command::Decide(args) => consent_cmds::decide(args),
    }
}
