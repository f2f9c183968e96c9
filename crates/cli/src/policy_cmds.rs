//! Subcommands over the policy language: check, render, diff, ropa, export-dpv.
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct CheckArgs { pub files: Vec<PathBuf> }
#[derive(clap::Args)]
pub struct RenderArgs { pub file: PathBuf }
#[derive(clap::Args)]
pub struct DiffArgs { pub old: PathBuf, pub new: PathBuf }
#[derive(clap::Args)]
pub struct RopaArgs { pub file: PathBuf }
#[derive(clap::Args)]
pub struct ExportDpvArgs { pub file: PathBuf }

pub fn check(_: CheckArgs) -> ExitCode { ExitCode::from(2) }
pub fn render(_: RenderArgs) -> ExitCode { ExitCode::from(2) }
pub fn diff(_: DiffArgs) -> ExitCode { ExitCode::from(2) }
pub fn ropa(_: RopaArgs) -> ExitCode { ExitCode::from(2) }
pub fn export_dpv(_: ExportDpvArgs) -> ExitCode { ExitCode::from(2) }
