//! `custos serve`: the HTTP server, configured from a file and the environment.

use std::path::PathBuf;
use std::process::ExitCode;

use custos_server::{Config, LogFormat};

/// The jbsync example policy, built in so `custos serve --demo` works from anywhere.
const DEMO_POLICY: &str = include_str!("../../../examples/policies/jbsync.toml");

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Configuration file (TOML); environment variables CUSTOS_* override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Start on the embedded defaults with the jbsync example policy.
    #[arg(long)]
    pub demo: bool,
    /// Address to listen on (overrides the config and CUSTOS_LISTEN).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
}

pub fn serve(args: ServeArgs) -> ExitCode {
    let env = |k: &str| std::env::var(k).ok();
    let mut config = if args.demo && args.config.is_none() && env("CUSTOS_POLICY").is_none() {
        let mut c = Config::with_policy("examples/policies/jbsync.toml");
        if let Some(f) = env("CUSTOS_LOG_FORMAT") {
            c.log_format = if f == "text" {
                LogFormat::Text
            } else {
                LogFormat::Json
            };
        }
        c
    } else {
        match Config::load(args.config.as_deref(), env) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    };
    if let Some(l) = args.listen {
        config.listen = l;
    }
    custos_server::init_logging(config.log_format);
    let loaded = if args.demo && args.config.is_none() && env("CUSTOS_POLICY").is_none() {
        custos_policy::load_source(custos_policy::SourceFile::new(
            "jbsync.toml (built in)",
            DEMO_POLICY,
        ))
    } else {
        custos_policy::load(&config.policy)
    };
    let loaded = match loaded {
        Ok(l) => l,
        Err(custos_policy::LoadError::Invalid { text, diagnostics }) => {
            for d in &diagnostics {
                eprintln!("{}", d.render(&text));
            }
            eprintln!(
                "error: {} is not a usable policy; run `custos check` on it",
                text.name()
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let demo = args.demo;
    let result = runtime.block_on(custos_server::serve(
        &config,
        loaded,
        move |addr| {
            println!("Custos is listening on http://{addr}");
            println!("  privacy statement: http://{addr}/privacy");
            println!("  API description:   http://{addr}/openapi.json");
            if demo {
                println!("  (demo: the jbsync example policy)");
            }
        },
        custos_server::shutdown_signal(),
    ));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
