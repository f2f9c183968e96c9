//! `custos backup`: an online, consistent copy of an SQLite vault, safe while the server writes
//! (`custos_vault::backup`). PostgreSQL is backed up with `pg_dump` as the backup role of
//! `docs/operations.md`, so this command refuses a PostgreSQL store and says so.

use std::path::PathBuf;
use std::process::ExitCode;

use custos_types::ErrorCode;
use custos_vault::StoreConfig;

use crate::failure::Failure;
use crate::open::DbArgs;

#[derive(clap::Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The file to write the copy to; it must not exist.
    pub to: PathBuf,
}

pub fn backup(args: BackupArgs) -> ExitCode {
    Failure::exit(run(&args))
}

fn run(args: &BackupArgs) -> Result<(), Failure> {
    let (store, _key_file) = args.db.resolve().map_err(Failure::unusable)?;
    let source = match store {
        StoreConfig::Sqlite { path } => path,
        StoreConfig::Postgres { .. } => {
            return Err(Failure::new(
                ErrorCode::BackupUnsupported,
                "a PostgreSQL vault is backed up with pg_dump as a role that bypasses row-level \
                 security (the application role's dump fails or is empty): see \
                 docs/operations.md, \"Backups and restores\"",
            )
            .usage());
        }
    };
    if !source.exists() {
        return Err(Failure::unusable(format!(
            "{} does not exist: name the vault with --db or --config",
            source.display()
        )));
    }
    let report = custos_vault::backup::backup_sqlite(&source, &args.to).map_err(|e| {
        let blame_input = matches!(e, custos_vault::VaultError::Io { .. });
        let f = Failure::from(e);
        if blame_input { f.usage() } else { f }
    })?;
    println!(
        "backup written: {} ({} bytes, schema version {}, {} records, audit head {})",
        report.path.display(),
        report.bytes,
        report.schema_version,
        report.records,
        report.audit_head
    );
    println!(
        "keep the master key apart from this copy, and never restore the erasure journal \
         ({}-erasures.jsonl) from a backup: it replays erasures made since",
        source.display()
    );
    Ok(())
}
