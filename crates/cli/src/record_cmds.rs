//! `custos record update | delete`: one stored record corrected (Art. 16) or deleted (Art. 17),
//! through the same library calls as `PUT` and `DELETE /v1/records/{id}`: audited with the
//! record id and category only, recipients told (Art. 19), refused under a legal hold and, for
//! deletion, while a law keeps the record (Art. 17(3)(b)).
//!
//! Exit codes: 0 done; 1 refused (a hold, a law, no such record); 2 unusable input.

use std::process::ExitCode;

use custos_vault::RecordId;

use crate::failure::Failure;
use crate::open::load_vault;
use crate::request_cmds::{ACTOR, Target, blame, correction};

#[derive(clap::Subcommand)]
pub enum RecordCommand {
    /// Correct a record's data (Art. 16); its category, purposes and retention stay.
    Update(UpdateArgs),
    /// Delete one record (Art. 17).
    Delete(DeleteArgs),
}

#[derive(clap::Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub target: Target,
    /// The record's id.
    pub id: String,
    /// The corrected data: `@FILE` (a JSON file; keeps the data out of the shell history) or
    /// the JSON itself.
    #[arg(long, value_name = "@FILE")]
    pub data: String,
}

#[derive(clap::Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub target: Target,
    /// The record's id.
    pub id: String,
}

/// `custos record ...`.
pub fn run(cmd: RecordCommand) -> ExitCode {
    let r = match cmd {
        RecordCommand::Update(a) => update(a),
        RecordCommand::Delete(a) => delete(a),
    };
    Failure::exit_blaming(r, blame)
}

fn record_id(id: &str) -> Result<RecordId, Failure> {
    RecordId::parse(id.trim()).map_err(|e| Failure::unusable(format!("record id: {e}")))
}

fn update(a: UpdateArgs) -> Result<(), Failure> {
    let id = record_id(&a.id)?;
    let mut c = correction(&format!("{}={}", id.as_str(), a.data)).map_err(|e| {
        let m = e.message().replace("--correct", "--data");
        e.with_message(m)
    })?;
    let (tenant, now) = (a.target.tenant()?, a.target.now());
    let (_, mut vault) = load_vault(&a.target.vault)?;
    let r = vault.tenant(&tenant).acting_as(ACTOR).update_record(
        &c.record,
        std::mem::take(&mut c.payload),
        now,
    )?;
    println!(
        "corrected record {} ({}); recipients that received the subject's data are told (Art. 19)",
        r.id.as_str(),
        r.category
    );
    Ok(())
}

fn delete(a: DeleteArgs) -> Result<(), Failure> {
    let id = record_id(&a.id)?;
    let (tenant, now) = (a.target.tenant()?, a.target.now());
    let (policy, mut vault) = load_vault(&a.target.vault)?;
    vault
        .tenant(&tenant)
        .acting_as(ACTOR)
        .delete_record(&policy, &id, now)?;
    println!(
        "deleted record {}; recipients that received the subject's data are told (Art. 19)",
        id.as_str()
    );
    Ok(())
}
