//! Operator subcommands over the vault: `custos init` and `custos keys rotate`. Each opens the
//! vault through `custos_vault` and prints what happened. Exit codes: 0 done, 1 refused or
//! failed (the message on stderr says why and what to do).

use std::path::PathBuf;
use std::process::ExitCode;

use custos_vault::{MasterKey, StoreConfig, Vault, VaultError};

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

#[derive(clap::Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The master key file to create (mode 0600; never overwritten).
    #[arg(long, default_value = "custos.key")]
    pub key_file: PathBuf,
}

#[derive(clap::Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Move to the next key version: re-wrap every data key, leaving records untouched.
    Rotate(RotateArgs),
}

#[derive(clap::Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The master key file, used when CUSTOS_MASTER_KEY is not set.
    #[arg(long, default_value = "custos.key")]
    pub key_file: PathBuf,
}

fn fail(e: &VaultError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

/// `custos init`: a new master key file and a new, migrated vault.
pub fn init(args: InitArgs) -> ExitCode {
    let config = args.store.config();
    if let StoreConfig::Sqlite { path } = &config
        && path.exists()
    {
        eprintln!(
            "error: {} already exists; `custos init` only creates a new vault (use `custos keys rotate` to rotate its keys)",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    let key = match MasterKey::generate() {
        Ok(k) => k,
        Err(e) => return fail(&e),
    };
    if let Err(e) = key.write_new_file(&args.key_file) {
        return fail(&e);
    }
    match Vault::open(&config, key) {
        Ok(v) => {
            let where_ = match &config {
                StoreConfig::Sqlite { path } => path.display().to_string(),
                StoreConfig::Postgres { schema, .. } => format!("PostgreSQL schema {schema}"),
            };
            println!(
                "created master key file {} (mode 0600): keep it secret and back it up apart from the database",
                args.key_file.display()
            );
            println!(
                "initialised the vault in {where_} (key version {})",
                v.key_version()
            );
            if let Some(j) = v.journal_path() {
                println!(
                    "erasure journal: {} (keep it; never restore it from an older backup)",
                    j.display()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            // The vault was not created: leave no key file for it behind.
            let _ = std::fs::remove_file(&args.key_file);
            fail(&e)
        }
    }
}

/// `custos keys ...`.
pub fn keys(args: KeysArgs) -> ExitCode {
    match args.command {
        KeysCommand::Rotate(a) => rotate(a),
    }
}

fn rotate(args: RotateArgs) -> ExitCode {
    let config = args.store.config();
    if let StoreConfig::Sqlite { path } = &config
        && !path.exists()
    {
        eprintln!(
            "error: {} does not exist; create a vault with `custos init` first",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    let result = MasterKey::from_env_or_file(Some(&args.key_file))
        .and_then(|k| Vault::open(&config, k))
        .and_then(|mut v| v.rotate_keys());
    match result {
        Ok(r) => {
            println!(
                "rotated keys: version {} -> {}, {} data key(s) re-wrapped, records untouched",
                r.from, r.to, r.rewrapped
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}
