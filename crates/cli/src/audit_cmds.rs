//! `custos audit verify`: checks the audit trail of a database and reports the first entry that
//! was edited, deleted, inserted or reordered, a checkpoint the cadence requires that is missing,
//! and (with `--expect-head` or `--checkpoints`) a tail cut off after an anchor kept outside the
//! database. Exit 0 intact or unsealed tail (1 with `--sealed`), 1 tampered, 2 unusable input.

use std::process::ExitCode;

use crate::failure::Failure;
use custos_audit::published::CheckpointFile;
use custos_audit::{
    Expect, PgStore, SqliteStore, Store, Verification, VerifyingKey, verify_store_with,
};

#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chain and the signed checkpoints.
    Verify(VerifyArgs),
    /// Print the public key that verifies the checkpoints (hex), to hand to auditors.
    PublicKey(KeyArgs),
}

#[derive(clap::Args)]
pub struct KeyArgs {
    /// The vault whose checkpoints the key verifies (after `custos keys replace` the key is no
    /// longer the master key's own).
    #[command(flatten)]
    pub store: crate::open::StoreArgs,
    /// The master key file, used when CUSTOS_MASTER_KEY is not set.
    #[arg(long, default_value = "custos.key")]
    pub key_file: std::path::PathBuf,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub store: crate::open::StoreArgs,
    /// The checkpoint public key (hex, 32 bytes), as published to auditors. Without it, the key
    /// is derived from the master key (CUSTOS_MASTER_KEY or --key-file).
    #[arg(long, env = "CUSTOS_AUDIT_PUBLIC_KEY")]
    pub public_key: Option<String>,
    /// The master key file, used when neither --public-key nor CUSTOS_MASTER_KEY is given.
    #[arg(long, default_value = "custos.key")]
    pub key_file: std::path::PathBuf,
    /// An entry the chain must hold, as SEQ:HASH (e.g. the `seq` and `hash` of a checkpoint
    /// published elsewhere); a chain without it is reported as cut.
    #[arg(long, value_name = "SEQ:HASH")]
    pub expect_head: Option<String>,
    /// The checkpoint file (`audit_checkpoint_file` of `custos serve`): every signed checkpoint
    /// in it must verify, be in the chain and still be in the database.
    #[arg(long, value_name = "FILE")]
    pub checkpoints: Option<std::path::PathBuf>,
    /// Fail (exit 1) when entries after the last checkpoint are unsealed: use after a clean stop
    /// of every server, which seals the head.
    #[arg(long)]
    pub sealed: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: AuditCommand) -> ExitCode {
    match cmd {
        AuditCommand::Verify(args) => verify(args),
        AuditCommand::PublicKey(args) => match checkpoint_key(&args.store, &args.key_file) {
            Ok(k) => {
                println!("{}", hex::encode(k.to_bytes()));
                ExitCode::SUCCESS
            }
            Err(f) => f.stop(),
        },
    }
}

/// The key that verifies the checkpoints of the vault `store` names, from the master key: read
/// from the vault's settings when it exists (a replaced master key no longer derives it), else
/// the master key's own.
fn checkpoint_key(
    store: &crate::open::StoreArgs,
    key_file: &std::path::Path,
) -> Result<VerifyingKey, Failure> {
    let master = custos_vault::MasterKey::from_env_or_file(Some(key_file))
        .map_err(|e| Failure::from(e).usage())?;
    let config = store.config();
    if let custos_vault::StoreConfig::Sqlite { path } = &config
        && !path.is_file()
    {
        return Ok(master.audit_public_key());
    }
    custos_vault::checkpoint_public_key(&config, master).map_err(Failure::from)
}

fn parse_key(hex_key: &str) -> Result<VerifyingKey, String> {
    let bytes = hex::decode(hex_key.trim()).map_err(|e| format!("--public-key is not hex: {e}"))?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|v: Vec<u8>| format!("--public-key must be 32 bytes, got {}", v.len()))?;
    VerifyingKey::from_bytes(&arr)
        .map_err(|_| "--public-key is not a valid Ed25519 public key".to_owned())
}

fn open(store: &crate::open::StoreArgs) -> Result<Box<dyn Store>, String> {
    match store.config() {
        custos_vault::StoreConfig::Postgres { url, schema, .. } => {
            PgStore::connect(&url, Some(&schema))
                .map(|s| Box::new(s) as Box<dyn Store>)
                .map_err(|e| e.to_string())
        }
        custos_vault::StoreConfig::Sqlite { path } => {
            if !path.is_file() {
                return Err(format!("{}: no such database file", path.display()));
            }
            SqliteStore::open(&path)
                .map(|s| Box::new(s) as Box<dyn Store>)
                .map_err(|e| e.to_string())
        }
    }
}

fn verify(args: VerifyArgs) -> ExitCode {
    let key = match &args.public_key {
        Some(hex_key) => parse_key(hex_key).map_err(Failure::unusable),
        None => checkpoint_key(&args.store, &args.key_file),
    };
    let key = match key {
        Ok(k) => k,
        Err(f) => return f.stop(),
    };
    let head = match args
        .expect_head
        .as_deref()
        .map(custos_audit::chain::parse_anchor)
    {
        None => None,
        Some(Ok(anchor)) => Some(anchor),
        Some(Err(e)) => {
            return Failure::unusable(format!("--expect-head: {e}")).stop();
        }
    };
    let published = match args
        .checkpoints
        .as_ref()
        .map(|p| CheckpointFile::new(p).read())
    {
        None => Vec::new(),
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            let f = Failure::from(e);
            let m = format!("--checkpoints: {}", f.message());
            return f.with_message(m).usage().stop();
        }
    };
    let expect = Expect {
        head,
        published,
        ..Expect::default()
    };
    let mut store = match open(&args.store) {
        Ok(s) => s,
        Err(e) => {
            return Failure::unusable(e.to_string()).stop();
        }
    };
    let result = match verify_store_with(store.as_mut(), &key, expect) {
        Ok(r) => r,
        Err(e) => {
            return Failure::from(e).usage().stop();
        }
    };
    if args.json {
        println!("{}", serde_json::to_string(&result).unwrap_or_default());
    }
    match result {
        Verification::Intact(v) => {
            if !args.json {
                println!(
                    "intact: {} entries, {} signed checkpoints, head {}, sealed to the head",
                    v.entries,
                    v.checkpoints,
                    hex::encode(v.head)
                );
            }
            ExitCode::SUCCESS
        }
        Verification::UnsealedTail(v) => {
            if !args.json {
                println!(
                    "unsealed tail: {} entries, {} signed checkpoints, head {}; intact up to entry {}, the {} entries after it (since {}) are not yet covered by a signed checkpoint",
                    v.entries,
                    v.checkpoints,
                    hex::encode(v.head),
                    v.sealed_to,
                    v.unsealed,
                    v.unsealed_since.as_deref().unwrap_or("?"),
                );
            }
            if args.sealed {
                if !args.json {
                    println!("UNSEALED: --sealed requires a checkpoint at the head");
                }
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Verification::Tampered(t) => {
            if !args.json {
                println!("TAMPERED: {t}");
            }
            ExitCode::from(1)
        }
    }
}
