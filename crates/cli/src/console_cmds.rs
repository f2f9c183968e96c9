//! The console's personal accounts from the command line, acting directly on the configured
//! database as `custos key` does: `custos console add-account|list-accounts|disable-account`.
//! Adding prints the initial password and the TOTP secret (as an `otpauth://` URI) once; only the
//! password's argon2id hash is stored. Every change goes to the audit trail without secrets or
//! names (the account by id). Exit codes: 0 done, 1 refused or failed, 2 unusable input.

use std::io::Write as _;
use std::process::ExitCode;

use custos_access::Role;
use custos_types::ErrorCode;
use custos_vault::{Access, MasterKey, StoreConfig, Vault};

use crate::failure::{Failure, json};
use crate::open::{DbArgs, audit, open_access};

#[derive(clap::Subcommand)]
pub enum ConsoleCommand {
    /// Add a personal account for the privacy console: prints its initial password and its
    /// second factor (an otpauth:// URI for an authenticator app) once.
    AddAccount(AddArgs),
    /// List a tenant's console accounts (or the operators', without --tenant); no secrets.
    ListAccounts(ListArgs),
    /// Disable a console account: it can no longer sign in, and its sessions end at once.
    DisableAccount(DisableArgs),
}

/// The roles a console account can have.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AccountRole {
    /// The data protection officer of a tenant: the request queue and its steps.
    Dpo,
    /// An auditor of a tenant: reads, changes nothing.
    Auditor,
    /// An operator across tenants (no --tenant).
    Admin,
}

impl AccountRole {
    fn role(self) -> Role {
        match self {
            AccountRole::Dpo => Role::Dpo,
            AccountRole::Auditor => Role::Auditor,
            AccountRole::Admin => Role::Admin,
        }
    }
}

#[derive(clap::Args)]
pub struct AddArgs {
    /// The tenant the account works for (every role but admin).
    #[arg(long)]
    pub tenant: Option<String>,
    /// The role.
    #[arg(long, value_enum)]
    pub role: AccountRole,
    /// The account's name, which its owner signs in with (unique; 1–64 characters).
    #[arg(long)]
    pub name: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// The tenant (without it: the operators' accounts).
    #[arg(long)]
    pub tenant: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::output::Format,
}

#[derive(clap::Args)]
pub struct DisableArgs {
    /// The account's id (16 hex digits, as `custos console list-accounts` shows).
    pub account_id: String,
    /// Its tenant (without it: an operator's account).
    #[arg(long)]
    pub tenant: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

/// `custos console ...`.
pub fn run(cmd: ConsoleCommand) -> ExitCode {
    Failure::exit(match cmd {
        ConsoleCommand::AddAccount(a) => add(a),
        ConsoleCommand::ListAccounts(a) => list(a),
        ConsoleCommand::DisableAccount(a) => disable(a),
    })
}

fn store_of(db: &DbArgs) -> Result<(StoreConfig, std::path::PathBuf), Failure> {
    let (store, key_file) = db.resolve().map_err(Failure::unusable)?;
    if let StoreConfig::Sqlite { path } = &store
        && !path.exists()
    {
        return Err(Failure::unusable(format!(
            "{} does not exist; create the vault with `custos init` first (or point at it with --config or --db)",
            path.display()
        )));
    }
    Ok((store, key_file))
}

/// The vault (for the audit trail, which needs the master key) and the access store.
fn vault_and_access(db: &DbArgs) -> Result<(Vault, Access), Failure> {
    let (store, key_file) = store_of(db)?;
    let vault = MasterKey::from_env_or_file(Some(&key_file))
        .and_then(|k| Vault::open(&store, k))
        .map_err(|e| Failure::from(e).usage())?;
    let access = open_access(&store)
        .map_err(Failure::unusable)?
        .sealing_secrets_with(&vault);
    Ok((vault, access))
}

fn audit_failed(message: String) -> Failure {
    Failure::new(ErrorCode::Unavailable, message)
}

fn add(a: AddArgs) -> Result<(), Failure> {
    let (vault, mut access) = vault_and_access(&a.db)?;
    let role = a.role.role();
    let new = access
        .add_account(a.tenant.as_deref(), role, &a.name, jiff::Timestamp::now())
        .map_err(|e| Failure::from(e).usage())?;
    audit(
        &vault,
        a.tenant.as_deref(),
        "console.account.add",
        serde_json::json!({ "account": new.info.account_id, "role": role.as_str() }),
    )
    .map_err(audit_failed)?;
    let issuer = match &a.tenant {
        Some(t) => format!("Custos {t}"),
        None => "Custos".to_owned(),
    };
    eprintln!(
        "added console account {} ({}{}); its password and second factor are shown this once:",
        new.info.account_id,
        role.as_str(),
        a.tenant
            .as_deref()
            .map(|t| format!(", tenant {t}"))
            .unwrap_or_default()
    );
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "name:     {}", new.info.name);
    let _ = writeln!(out, "password: {}", new.password.expose());
    let _ = writeln!(
        out,
        "totp:     {}",
        new.totp.otpauth_uri(&issuer, &new.info.name)
    );
    Ok(())
}

fn time(t: Option<i64>) -> String {
    t.and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(|| "-".into(), |t| t.strftime("%Y-%m-%d %H:%M").to_string())
}

fn list(a: ListArgs) -> Result<(), Failure> {
    let (store, _) = store_of(&a.db)?;
    let accounts = open_access(&store)
        .map_err(Failure::unusable)?
        .accounts(a.tenant.as_deref())
        .map_err(Failure::from)?;
    if a.format == crate::output::Format::Json {
        return json(&accounts);
    }
    let rows: Vec<Vec<String>> = accounts
        .iter()
        .map(|k| {
            vec![
                k.account_id.clone(),
                k.tenant.clone().unwrap_or_else(|| "-".into()),
                k.role.clone(),
                time(Some(k.created_at)),
                time(k.disabled_at),
                k.name.clone(),
            ]
        })
        .collect();
    crate::output::table(
        &mut std::io::stdout().lock(),
        &["ACCOUNT", "TENANT", "ROLE", "CREATED", "DISABLED", "NAME"],
        &rows,
    );
    Ok(())
}

fn disable(a: DisableArgs) -> Result<(), Failure> {
    let (vault, mut access) = vault_and_access(&a.db)?;
    if !access
        .disable_account(a.tenant.as_deref(), &a.account_id, jiff::Timestamp::now())
        .map_err(Failure::from)?
    {
        return Err(Failure::new(
            ErrorCode::NotFound,
            format!(
                "no active console account `{}`{} (see `custos console list-accounts`)",
                a.account_id,
                a.tenant
                    .as_deref()
                    .map(|t| format!(" in tenant {t}"))
                    .unwrap_or_default()
            ),
        ));
    }
    audit(
        &vault,
        a.tenant.as_deref(),
        "console.account.disable",
        serde_json::json!({ "account": a.account_id }),
    )
    .map_err(audit_failed)?;
    println!(
        "disabled console account {}; its sessions have ended",
        a.account_id
    );
    Ok(())
}
