//! Tenants and API keys from the command line, acting directly on the configured database:
//! `custos tenant create|list`, `custos key issue|list|revoke`, and the first admin key that
//! `custos init` prints. The database is found as `custos serve` finds it (`--config`, then the
//! CUSTOS_* environment, then the defaults), or with `--db`/`--postgres` as the other commands.
//! Issuing and revoking keys and creating tenants go to the audit trail as the HTTP API's admin
//! calls do, without secrets. Exit codes: 0 done, 1 refused or failed, 2 unusable input.

use std::io::Write as _;
use std::process::ExitCode;

use custos_access::Role;
use custos_types::ErrorCode;
use custos_vault::Access;
use custos_vault::{MasterKey, StoreConfig, Vault};

use crate::failure::{Failure, json};
use crate::open::{DbArgs, audit, audit_issued, open_access};

#[derive(clap::Subcommand)]
pub enum TenantCommand {
    /// Create a tenant (prints nothing secret; issue its keys with `custos key issue`).
    Create(TenantCreateArgs),
    /// List the tenants.
    List(ListArgs),
}

#[derive(clap::Args)]
pub struct TenantCreateArgs {
    /// The tenant id: 1–64 characters A–Z, a–z, 0–9, `-`, `_`, `.`.
    pub id: String,
    /// The display name.
    #[arg(long)]
    pub name: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: crate::output::Format,
}

#[derive(clap::Subcommand)]
pub enum KeyCommand {
    /// Issue an API key: prints the key once on standard output; only its hash is stored.
    Issue(KeyIssueArgs),
    /// List API keys: ids, tenants, roles, labels, when issued and revoked (never a secret).
    List(KeyListArgs),
    /// Revoke an API key by id (a running server refuses it within 5 seconds).
    Revoke(KeyRevokeArgs),
}

/// The roles a key can have.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    /// Platform administration: tenants and their keys (no tenant).
    Admin,
    /// An application: records, consent, decisions, approval requests.
    App,
    /// The data protection officer: also requests, erasure, retention, the audit trail.
    Dpo,
    /// Reads the audit trail only.
    Auditor,
    /// Approves or rejects items gated on approval, and nothing else.
    Approver,
}

impl RoleArg {
    fn role(self) -> Role {
        match self {
            RoleArg::Admin => Role::Admin,
            RoleArg::App => Role::App,
            RoleArg::Dpo => Role::Dpo,
            RoleArg::Auditor => Role::Auditor,
            RoleArg::Approver => Role::Approver,
        }
    }
}

#[derive(clap::Args)]
pub struct KeyIssueArgs {
    /// The role.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// The tenant (required for every role but admin; admin keys belong to no tenant).
    #[arg(long)]
    pub tenant: Option<String>,
    /// What the key is for (shown by `custos key list`); no personal data.
    #[arg(long)]
    pub label: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(clap::Args)]
pub struct KeyListArgs {
    /// Only this tenant's keys.
    #[arg(long)]
    pub tenant: Option<String>,
    #[command(flatten)]
    pub list: ListArgs,
}

#[derive(clap::Args)]
pub struct KeyRevokeArgs {
    /// The key id (16 hex digits, as `custos key list` shows).
    pub key_id: String,
    #[command(flatten)]
    pub db: DbArgs,
}

/// Refuses a missing SQLite file rather than creating an empty database.
fn existing(store: &StoreConfig) -> Result<(), Failure> {
    if let StoreConfig::Sqlite { path } = store
        && !path.exists()
    {
        return Err(Failure::unusable(format!(
            "{} does not exist; create the vault with `custos init` first (or point at it with --config or --db)",
            path.display()
        )));
    }
    Ok(())
}

/// The access store alone (listing needs no master key).
fn access_only(db: &DbArgs) -> Result<Access, Failure> {
    let (store, _) = db.resolve().map_err(Failure::unusable)?;
    existing(&store)?;
    open_access(&store).map_err(Failure::unusable)
}

/// The vault (for the audit trail, which needs the master key) and the access store.
fn vault_and_access(db: &DbArgs) -> Result<(Vault, Access), Failure> {
    let (store, key_file) = db.resolve().map_err(Failure::unusable)?;
    existing(&store)?;
    let vault = MasterKey::from_env_or_file(Some(&key_file))
        .and_then(|k| Vault::open(&store, k))
        .map_err(|e| Failure::from(e).usage())?;
    let access = open_access(&store).map_err(Failure::unusable)?;
    Ok((vault, access))
}

/// A change made but not written to the audit trail: the trail's storage failed.
fn audit_failed(message: String) -> Failure {
    Failure::new(ErrorCode::Unavailable, message)
}

/// `custos tenant ...`.
pub fn tenant(cmd: TenantCommand) -> ExitCode {
    Failure::exit(match cmd {
        TenantCommand::Create(a) => tenant_create(a),
        TenantCommand::List(a) => tenant_list(a),
    })
}

fn tenant_create(a: TenantCreateArgs) -> Result<(), Failure> {
    let (vault, mut access) = vault_and_access(&a.db)?;
    access
        .create_tenant(&a.id, &a.name, jiff::Timestamp::now())
        .map_err(Failure::from)?;
    audit(&vault, Some(&a.id), "tenant.create", serde_json::json!({})).map_err(audit_failed)?;
    println!(
        "created tenant `{}`; issue its keys with `custos key issue --tenant {} --role app --label …`",
        a.id, a.id
    );
    Ok(())
}

fn time(t: Option<i64>) -> String {
    t.and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(|| "-".into(), |t| t.strftime("%Y-%m-%d %H:%M").to_string())
}

fn tenant_list(a: ListArgs) -> Result<(), Failure> {
    let tenants = access_only(&a.db)?.tenants().map_err(Failure::from)?;
    if a.format == crate::output::Format::Json {
        return json(&tenants);
    }
    let rows: Vec<Vec<String>> = tenants
        .iter()
        .map(|t| vec![t.id.clone(), t.name.clone(), time(Some(t.created_at))])
        .collect();
    crate::output::table(
        &mut std::io::stdout().lock(),
        &["TENANT", "NAME", "CREATED"],
        &rows,
    );
    Ok(())
}

/// `custos key ...`.
pub fn key(cmd: KeyCommand) -> ExitCode {
    Failure::exit(match cmd {
        KeyCommand::Issue(a) => key_issue(a),
        KeyCommand::List(a) => key_list(a),
        KeyCommand::Revoke(a) => key_revoke(a),
    })
}

fn key_issue(a: KeyIssueArgs) -> Result<(), Failure> {
    let role = a.role.role();
    match (role, a.tenant.is_some()) {
        (Role::Admin, true) => {
            return Err(Failure::unusable(
                "admin keys belong to no tenant: leave out --tenant",
            ));
        }
        (r, false) if r != Role::Admin => {
            return Err(Failure::unusable(format!(
                "a key with role `{}` belongs to a tenant: give --tenant",
                r.as_str()
            )));
        }
        _ => {}
    }
    let (vault, mut access) = vault_and_access(&a.db)?;
    let issued = access
        .issue_key(a.tenant.as_deref(), role, &a.label, jiff::Timestamp::now())
        .map_err(Failure::from)?;
    audit_issued(&vault, &issued).map_err(audit_failed)?;
    eprintln!(
        "issued key {} (role {}{}); it is shown this once, only its hash is stored:",
        issued.id,
        role.as_str(),
        issued
            .tenant
            .as_deref()
            .map(|t| format!(", tenant {t}"))
            .unwrap_or_default()
    );
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", issued.key);
    Ok(())
}

fn key_list(a: KeyListArgs) -> Result<(), Failure> {
    let keys = access_only(&a.list.db)?
        .keys(a.tenant.as_deref().map(Some))
        .map_err(Failure::from)?;
    if a.list.format == crate::output::Format::Json {
        return json(&keys);
    }
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.id.clone(),
                k.tenant.clone().unwrap_or_else(|| "-".into()),
                k.role.clone(),
                time(Some(k.created_at)),
                time(k.revoked_at),
                k.label.clone(),
            ]
        })
        .collect();
    crate::output::table(
        &mut std::io::stdout().lock(),
        &["KEY", "TENANT", "ROLE", "CREATED", "REVOKED", "LABEL"],
        &rows,
    );
    Ok(())
}

fn key_revoke(a: KeyRevokeArgs) -> Result<(), Failure> {
    let (vault, mut access) = vault_and_access(&a.db)?;
    let now = jiff::Timestamp::now();
    let found = access.key(&a.key_id).map_err(Failure::from)?;
    let Some(k) = found.filter(|k| k.revoked_at.is_none()) else {
        return Err(Failure::new(
            ErrorCode::NotFound,
            format!(
                "no active key with id `{}` (see `custos key list`)",
                a.key_id
            ),
        ));
    };
    if !access
        .revoke(k.tenant.as_deref(), &k.id, now)
        .map_err(Failure::from)?
    {
        return Err(Failure::new(
            ErrorCode::NotFound,
            format!("key `{}` was revoked meanwhile", k.id),
        ));
    }
    audit(
        &vault,
        k.tenant.as_deref(),
        "key.revoke",
        serde_json::json!({ "key": k.id }),
    )
    .map_err(audit_failed)?;
    println!(
        "revoked key {}; a running server refuses it within 5 seconds",
        k.id
    );
    Ok(())
}
