//! `custos audit verify`: checks the audit trail of a database and reports the first entry that
//! was edited, deleted, inserted or reordered. Exit 0 intact, 1 tampered, 2 unusable input.

use std::process::ExitCode;

use custos_audit::{PgStore, SqliteStore, Store, Verification, VerifyingKey, verify_store};

#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chain and the signed checkpoints.
    Verify(VerifyArgs),
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The database: an SQLite file path, or a `postgres://` URL.
    #[arg(long, env = "CUSTOS_DATABASE_URL", default_value = "custos.db")]
    pub database: String,
    /// The checkpoint public key (hex, 32 bytes), as published to auditors.
    #[arg(long, env = "CUSTOS_AUDIT_PUBLIC_KEY")]
    pub public_key: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: AuditCommand) -> ExitCode {
    match cmd {
        AuditCommand::Verify(args) => verify(args),
    }
}

fn parse_key(hex_key: &str) -> Result<VerifyingKey, String> {
    let bytes = hex::decode(hex_key.trim()).map_err(|e| format!("--public-key is not hex: {e}"))?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|v: Vec<u8>| format!("--public-key must be 32 bytes, got {}", v.len()))?;
    VerifyingKey::from_bytes(&arr)
        .map_err(|_| "--public-key is not a valid Ed25519 public key".to_owned())
}

fn open(database: &str) -> Result<Box<dyn Store>, String> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        PgStore::connect(database, None)
            .map(|s| Box::new(s) as Box<dyn Store>)
            .map_err(|e| e.to_string())
    } else {
        let path = std::path::Path::new(database);
        if !path.is_file() {
            return Err(format!("{database}: no such database file"));
        }
        SqliteStore::open(path)
            .map(|s| Box::new(s) as Box<dyn Store>)
            .map_err(|e| e.to_string())
    }
}

fn verify(args: VerifyArgs) -> ExitCode {
    let key = match parse_key(&args.public_key) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut store = match open(&args.database) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match verify_store(store.as_mut(), &key) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        println!("{}", serde_json::to_string(&result).unwrap_or_default());
    }
    match result {
        Verification::Intact(v) => {
            if !args.json {
                println!(
                    "intact: {} entries, {} signed checkpoints, head {}",
                    v.entries,
                    v.checkpoints,
                    hex::encode(v.head)
                );
            }
            ExitCode::SUCCESS
        }
        Verification::Tampered(t) => {
            if !args.json {
                println!("TAMPERED: {t}");
            }
            ExitCode::from(1)
        }
    }
}
