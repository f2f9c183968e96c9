//! `custos export`: a subject's access answer (Art. 15) or portability answer (Art. 20) as one
//! zip archive. Opens the vault, makes one library call (`TenantVault::write_answer`) and says
//! what it wrote. Exit codes: 0 written, 1 failed (nothing is left at `--out`), 2 unusable input.
//!
//! The archive is written to `<out>.partial` (mode 0600: it holds personal data) and renamed to
//! `--out` once complete, so a failed or interrupted export never leaves something that looks
//! like an answer.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use custos_rights::archive::AnswerKind;
use custos_vault::{SubjectId, TenantId};
use jiff::Timestamp;

use crate::failure::Failure;
use crate::open::{VaultArgs, load_vault};
use crate::output::{create_private, partial_path};
use crate::policy_cmds::LangArg;

/// Who acts in the audit trail for answers written from the command line.
const ACTOR: &str = "operator:cli";

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub vault: VaultArgs,
    /// The tenant.
    #[arg(long)]
    pub tenant: String,
    /// The subject (the app's identifier). Verify the requester's identity first.
    #[arg(long)]
    pub subject: String,
    /// Only the data the subject provided and that is processed on consent or contract, as JSON
    /// and CSV (Art. 20(1)); without it, the full access answer with the Art. 15 report.
    #[arg(long)]
    pub portability: bool,
    /// The archive to write; refused if it exists.
    #[arg(long)]
    pub out: PathBuf,
    /// Language of the report.
    #[arg(long, value_enum, default_value = "en")]
    pub lang: LangArg,
}

pub fn export(args: ExportArgs) -> ExitCode {
    Failure::exit(run(args))
}

fn run(args: ExportArgs) -> Result<(), Failure> {
    let tenant =
        TenantId::new(&args.tenant).map_err(|e| Failure::unusable(format!("--tenant: {e}")))?;
    // The error names the flag, never the identifier given.
    let subject =
        SubjectId::new(&args.subject).map_err(|e| Failure::unusable(format!("--subject: {e}")))?;
    if args.out.exists() {
        return Err(Failure::unusable(format!(
            "{} already exists; refusing to overwrite it (choose another --out or move it away)",
            args.out.display()
        )));
    }
    let (policy, mut vault) = load_vault(&args.vault)?;
    let kind = if args.portability {
        AnswerKind::Portability
    } else {
        AnswerKind::Access
    };
    let partial = partial_path(&args.out);
    let file = create_private(&partial).map_err(|e| {
        Failure::unusable(format!("{}: {e}; check the directory", partial.display()))
    })?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    let written = vault
        .tenant(&tenant)
        .acting_as(ACTOR)
        .write_answer::<anyhow::Error>(
            &policy,
            &subject,
            kind,
            args.lang.into(),
            Timestamp::now(),
            &mut out,
        )
        .and_then(|w| {
            let file = out.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            Ok(w)
        })
        .and_then(|w| {
            std::fs::rename(&partial, &args.out)?;
            Ok(w)
        });
    let written = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(Failure::new(
                crate::failure::answer_code(&e),
                format!("writing {}: {e:#}", args.out.display()),
            ));
        }
    };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(
        stdout,
        "wrote {}: {} answer, {} record{} ({}), {} bytes",
        args.out.display(),
        match kind {
            AnswerKind::Access => "access (Art. 15)",
            AnswerKind::Portability => "portability (Art. 20)",
        },
        written.records,
        if written.records == 1 { "" } else { "s" },
        written.files.join(", "),
        written.bytes
    );
    Ok(())
}
