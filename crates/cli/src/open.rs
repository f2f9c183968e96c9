//! How a command reaches its data: where the database is (`StoreArgs`, `DbArgs`, `VaultArgs`),
//! opening the vault with its policy and master key, opening the tenants and keys, and writing
//! an operator's change to the audit trail. Every command that touches a database goes through
//! here, so they all find it, and refuse it, the same way.

use std::path::PathBuf;

use custos_access::IssuedKey;
use custos_policy::{LoadError, Policy};
use custos_server::Config;
use custos_types::ErrorCode;
use custos_vault::{Access, MasterKey, StoreConfig, Vault};

use crate::failure::Failure;

/// Where the vault is: the SQLite file by default, or PostgreSQL.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// The SQLite database file (the default store).
    #[arg(long, default_value = "custos.db")]
    pub db: PathBuf,
    /// A PostgreSQL connection URL; when given, the vault lives there instead of in `--db`.
    #[arg(long)]
    pub postgres: Option<String>,
    /// The PostgreSQL schema.
    #[arg(long, default_value = "custos", requires = "postgres")]
    pub schema: String,
    /// With PostgreSQL: the erasure journal file kept outside the database.
    #[arg(long, requires = "postgres")]
    pub journal: Option<PathBuf>,
}

impl StoreArgs {
    pub(crate) fn config(&self) -> StoreConfig {
        match &self.postgres {
            Some(url) => StoreConfig::Postgres {
                url: url.clone(),
                schema: self.schema.clone(),
                journal: self.journal.clone(),
            },
            None => StoreConfig::Sqlite {
                path: self.db.clone(),
            },
        }
    }
}

/// Where the database and the master key are.
#[derive(clap::Args)]
pub struct DbArgs {
    /// The server's configuration file: `database`, `schema`, `journal` and `key_file` are read
    /// from it (CUSTOS_* environment variables on top), as `custos serve` reads them.
    #[arg(long, conflicts_with_all = ["db", "postgres"])]
    pub config: Option<PathBuf>,
    /// The SQLite database file (default: CUSTOS_DATABASE_URL, else custos.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// A PostgreSQL connection URL; when given, the vault lives there instead of in `--db`.
    #[arg(long)]
    pub postgres: Option<String>,
    /// The PostgreSQL schema (default: CUSTOS_SCHEMA, else custos).
    #[arg(long, requires = "postgres")]
    pub schema: Option<String>,
    /// With PostgreSQL: the erasure journal file kept outside the database.
    #[arg(long, requires = "postgres")]
    pub journal: Option<PathBuf>,
    /// The master key file, used when CUSTOS_MASTER_KEY is not set (default: the
    /// configuration's `key_file`, CUSTOS_KEY_FILE, else custos.key).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
}

impl DbArgs {
    /// The store and the master key file.
    pub(crate) fn resolve(&self) -> Result<(StoreConfig, PathBuf), String> {
        let env = |k: &str| std::env::var(k).ok();
        let mut c = Config::load_storage(self.config.as_deref(), env).map_err(|e| e.to_string())?;
        if let Some(db) = &self.db {
            c.database = db.display().to_string();
        }
        if let Some(url) = &self.postgres {
            c.database = url.clone();
            if let Some(s) = &self.schema {
                c.schema = s.clone();
            }
            if self.journal.is_some() {
                c.journal = self.journal.clone();
            }
        }
        if let Some(k) = &self.key_file {
            c.key_file = Some(k.clone());
        }
        let key_file = c.key_file.clone().unwrap_or_else(|| "custos.key".into());
        Ok((custos_server::backend::store_config(&c), key_file))
    }
}

/// The access store of `store`.
pub(crate) fn open_access(store: &StoreConfig) -> Result<Access, String> {
    Access::open(store).map_err(|e| e.to_string())
}

/// Writes one administrative event to the audit trail (no secrets, no labels).
pub(crate) fn audit(
    vault: &Vault,
    tenant: Option<&str>,
    action: &str,
    details: serde_json::Value,
) -> Result<(), String> {
    let ev = custos_audit::Event {
        tenant: tenant.unwrap_or("-").to_owned(),
        actor: ACTOR.to_owned(),
        action: action.to_owned(),
        subject: None,
        details,
    };
    vault
        .append_audit(&[ev], jiff::Timestamp::now())
        .map_err(|e| format!("the change was made but writing it to the audit trail failed: {e}"))
}

/// The audit entry of an issued key.
pub(crate) fn audit_issued(vault: &Vault, k: &IssuedKey) -> Result<(), String> {
    audit(
        vault,
        k.tenant.as_deref(),
        "key.issue",
        serde_json::json!({ "key": k.id, "role": k.role.as_str() }),
    )
}

/// Who acts in the audit trail for changes made from the command line.
pub(crate) const ACTOR: &str = "operator:cli";

/// The vault, the policy and the master key.
#[derive(clap::Args)]
pub struct VaultArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The policy file whose retention rules apply.
    #[arg(long, env = "CUSTOS_POLICY")]
    pub policy: PathBuf,
    /// The master key file, used when CUSTOS_MASTER_KEY is not set.
    #[arg(long, default_value = "custos.key")]
    pub key_file: PathBuf,
    /// The server's configuration file: its `[[dataset]]` databases (the company's own) are
    /// reached by erasures, access answers and purges as `custos serve` reaches them.
    #[arg(long = "config", env = "CUSTOS_CONFIG")]
    pub datasets_from: Option<PathBuf>,
}

/// Loads the policy of `args` (its diagnostics printed as `custos check` prints them) and opens
/// the vault; the error says what is unusable and what to do, and is the command line's input to
/// blame (exit 2). Every command that works on a vault opens it here.
pub(crate) fn load_vault(args: &VaultArgs) -> Result<(Policy, Vault), Failure> {
    let policy = match custos_policy::load(&args.policy) {
        Ok(l) => l.policy,
        Err(LoadError::Invalid { text, diagnostics }) => {
            for d in &diagnostics {
                eprintln!("{}", d.render(&text));
            }
            return Err(Failure::new(
                ErrorCode::InvalidPolicy,
                format!(
                    "{} is not a usable policy; run `custos check` on it",
                    text.name()
                ),
            )
            .usage());
        }
        Err(e) => return Err(Failure::new(e.code(), e.to_string()).usage()),
    };
    let config = args.store.config();
    if let StoreConfig::Sqlite { path } = &config
        && !path.exists()
    {
        return Err(Failure::unusable(format!(
            "{} does not exist; create a vault with `custos init` first",
            path.display()
        )));
    }
    let mut vault = MasterKey::from_env_or_file(Some(&args.key_file))
        .and_then(|k| Vault::open(&config, k))
        .map_err(|e| Failure::from(e).usage())?;
    if let Some(path) = &args.datasets_from {
        let datasets = Config::load_storage(Some(path), |k| std::env::var(k).ok())
            .and_then(|c| c.load_datasets())
            .map_err(|e| Failure::new(ErrorCode::DatasetCheckFailed, e.to_string()).usage())?;
        vault.set_datasets(std::sync::Arc::new(datasets));
    }
    Ok((policy, vault))
}
