//! Operator subcommands over the vault: `custos init` and `custos keys rotate`. Each opens the
//! vault through `custos_vault` and prints what happened. Exit codes: 0 done, 1 refused or
//! failed (the message on stderr says why and what to do).

use std::process::ExitCode;

use custos_types::ErrorCode;
use custos_vault::{MasterKey, StoreConfig, Vault};

use crate::failure::Failure;

#[derive(clap::Args)]
pub struct InitArgs {
    /// Where the vault and the master key file go (`--key-file`: created with mode 0600, never
    /// overwritten).
    #[command(flatten)]
    pub db: crate::open::DbArgs,
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
    /// Replace the master key with a new one, written to a new key file: every data key is
    /// re-wrapped under it and the old key opens nothing any more. Stop every server first.
    Replace(ReplaceArgs),
}

#[derive(clap::Args)]
pub struct ReplaceArgs {
    /// Where the vault and its current master key are (`--config FILE`, or `--db`/`--postgres`
    /// and `--key-file`).
    #[command(flatten)]
    pub db: crate::open::DbArgs,
    /// Where to write the new master key (mode 0600; it must not exist).
    #[arg(long)]
    pub new_key_file: std::path::PathBuf,
}

#[derive(clap::Args)]
pub struct RotateArgs {
    /// Where the vault and its master key are (`--config FILE` as `custos serve` reads it, or
    /// `--db`/`--postgres` and `--key-file`).
    #[command(flatten)]
    pub db: crate::open::DbArgs,
}

/// `custos init`: a new master key file, a new, migrated vault and the first admin API key,
/// printed once. On an existing vault (with its key file) it only issues the first admin key,
/// and only when the vault has no active one: a second run prints nothing secret.
pub fn init(args: InitArgs) -> ExitCode {
    let (config, key_file) = match args.db.resolve() {
        Ok(x) => x,
        Err(e) => return Failure::unusable(e).stop(),
    };
    let exists = match &config {
        StoreConfig::Sqlite { path } => path.exists(),
        StoreConfig::Postgres { .. } => key_file.exists(),
    };
    let vault = if exists {
        if let StoreConfig::Sqlite { path } = &config
            && !key_file.exists()
            && std::env::var_os(custos_vault::MASTER_KEY_ENV).is_none()
        {
            return Failure::new(
                ErrorCode::MasterKeyMissing,
                format!(
                    "{} already exists and its key file {} does not; `custos init` creates a new vault, or issues the first admin key of an existing one given its key file (use `custos keys rotate` to rotate its keys)",
                    path.display(),
                    key_file.display()
                ),
            )
            .stop();
        }
        match MasterKey::from_env_or_file(Some(&key_file)).and_then(|k| Vault::open(&config, k)) {
            Ok(v) => v,
            Err(e) => return Failure::from(e).stop(),
        }
    } else {
        let key = match MasterKey::generate() {
            Ok(k) => k,
            Err(e) => return Failure::from(e).stop(),
        };
        if let Err(e) = key.write_new_file(&key_file) {
            return Failure::from(e).stop();
        }
        match Vault::open(&config, key) {
            Ok(v) => {
                let where_ = match &config {
                    StoreConfig::Sqlite { path } => path.display().to_string(),
                    StoreConfig::Postgres { schema, .. } => format!("PostgreSQL schema {schema}"),
                };
                println!(
                    "created master key file {} (mode 0600): keep it secret and back it up apart from the database",
                    key_file.display()
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
                v
            }
            Err(e) => {
                // The vault was not created: leave no key file for it behind.
                let _ = std::fs::remove_file(&key_file);
                return Failure::from(e).stop();
            }
        }
    };
    bootstrap_admin(&config, &vault)
}

/// Prints the first admin API key, once: only when no active admin key exists.
fn bootstrap_admin(config: &StoreConfig, vault: &Vault) -> ExitCode {
    let issued = crate::open::open_access(config).and_then(|mut a| {
        a.bootstrap_admin("first admin (custos init)", jiff::Timestamp::now())
            .map_err(|e| e.to_string())
    });
    match issued {
        Ok(Some(k)) => {
            if let Err(e) = crate::open::audit_issued(vault, &k) {
                return Failure::new(ErrorCode::Unavailable, e).stop();
            }
            println!(
                "first admin API key {} (shown this once; only its hash is stored; create tenants with it or with `custos tenant create`):",
                k.id
            );
            println!("{}", k.key);
            ExitCode::SUCCESS
        }
        Ok(None) => {
            println!(
                "an admin API key exists already: nothing secret printed (see `custos key list`; issue another with `custos key issue --role admin --label …`)"
            );
            ExitCode::SUCCESS
        }
        Err(e) => Failure::new(ErrorCode::Unavailable, e).stop(),
    }
}

/// `custos keys ...`.
pub fn keys(args: KeysArgs) -> ExitCode {
    match args.command {
        KeysCommand::Rotate(a) => rotate(a),
        KeysCommand::Replace(a) => Failure::exit(replace(&a)),
    }
}

/// `custos keys replace`: the new key is written (and synced) before the vault depends on it;
/// if the replacement fails, the vault is unchanged and the new file is removed again.
fn replace(args: &ReplaceArgs) -> Result<(), Failure> {
    let (config, key_file) = args.db.resolve().map_err(Failure::unusable)?;
    if let StoreConfig::Sqlite { path } = &config
        && !path.exists()
    {
        return Err(Failure::unusable(format!(
            "{} does not exist; create a vault with `custos init` first",
            path.display()
        )));
    }
    let mut vault = MasterKey::from_env_or_file(Some(&key_file))
        .and_then(|k| Vault::open(&config, k))
        .map_err(|e| Failure::from(e).usage())?;
    let new = MasterKey::generate().map_err(Failure::from)?;
    new.write_new_file(&args.new_key_file)
        .map_err(|e| Failure::flag("--new-key-file", e.code(), e))?;
    let r = match vault.replace_master_key(new) {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&args.new_key_file);
            return Err(Failure::from(e));
        }
    };
    crate::open::audit(
        &vault,
        None,
        "keys.replace",
        serde_json::json!({ "from_version": r.from, "to_version": r.to, "rewrapped": r.rewrapped }),
    )
    .map_err(|m| Failure::new(ErrorCode::Internal, m))?;
    println!(
        "master key replaced: {} data key(s) re-wrapped under the new key (version {} -> {}), records untouched",
        r.rewrapped, r.from, r.to
    );
    println!(
        "next: point key_file (or CUSTOS_MASTER_KEY) at {} and start the servers; the old key opens nothing in this vault any more",
        args.new_key_file.display()
    );
    Ok(())
}

fn rotate(args: RotateArgs) -> ExitCode {
    let (config, key_file) = match args.db.resolve() {
        Ok(r) => r,
        Err(e) => return Failure::unusable(e).stop(),
    };
    if let StoreConfig::Sqlite { path } = &config
        && !path.exists()
    {
        return Failure::new(
            ErrorCode::FileError,
            format!(
                "{} does not exist; create a vault with `custos init` first",
                path.display()
            ),
        )
        .stop();
    }
    let result = MasterKey::from_env_or_file(Some(&key_file))
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
        Err(e) => Failure::from(e).stop(),
    }
}
