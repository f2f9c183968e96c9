//! `custos serve`: the HTTP server, configured from a file and the environment.

use std::path::PathBuf;
use std::process::ExitCode;

use custos_types::ErrorCode;

use crate::failure::Failure;
use custos_server::Config;

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
    // The demo reads the same environment as any server; only the policy has a default (the
    // built-in example) and the example's one accepted finding comes with it.
    let demo_defaults = args.demo && args.config.is_none() && env("CUSTOS_POLICY").is_none();
    let loaded_config = if demo_defaults {
        Config::load(None, |k| {
            if k == "CUSTOS_POLICY" {
                Some("examples/policies/jbsync.toml".to_owned())
            } else {
                env(k)
            }
        })
        .map(|mut c| {
            c.accepted_findings = demo_accepted_findings();
            c
        })
    } else {
        Config::load(args.config.as_deref(), env)
    };
    let mut config = match loaded_config {
        Ok(c) => c,
        Err(e) => return Failure::unusable(e.to_string()).stop(),
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
            return Failure::new(
                ErrorCode::InvalidPolicy,
                format!(
                    "{} is not a usable policy; run `custos check` on it",
                    text.name()
                ),
            )
            .usage()
            .stop();
        }
        Err(e) => return Failure::new(e.code(), e.to_string()).usage().stop(),
    };
    // A policy that fails `custos check` is not run, unless the configuration accepts each of
    // its findings of severity error with a reason.
    let gate = custos_server::policy_gate(&config.accepted_findings, &loaded);
    if !gate.refused.is_empty() {
        for d in &gate.refused {
            eprintln!("{}", d.render(&loaded.source));
        }
        let mut codes: Vec<&str> = gate.refused.iter().map(|d| d.code).collect();
        codes.sort_unstable();
        codes.dedup();
        return Failure::unusable(format!("{} has {} finding(s) of severity error ({}); `custos serve` does not run a policy that fails `custos check`.\n  Fix the policy, or accept each finding in the configuration file with the reason it is acceptable:\n    [[accept_finding]]\n    code = \"{}\"\n    reason = \"…\"", loaded.source.name(), gate.refused.len(), codes.join(", "), codes[0],)).stop();
    }
    // Storage calls run on the blocking pool, one database connection each: a few threads more
    // than connections (for mail and password hashing), since more only add memory.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(config.pool_size.clamp(1, 64) + 8)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return Failure::unusable(format!("cannot start the async runtime: {e}")).stop();
        }
    };
    let demo = args.demo && args.config.is_none() && env("CUSTOS_POLICY").is_none();
    let (backend, demo_keys) = match open_backend(&mut config, demo, &loaded.policy) {
        Ok(x) => x,
        Err(e) => {
            return Failure::unusable(e.to_string()).stop();
        }
    };
    // A real installation started without `custos init` has no way in yet: say how to get one.
    let no_admin = !demo
        && backend
            .access
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys(Some(None))
            .is_ok_and(|k| k.iter().all(|k| k.revoked_at.is_some()));
    let result = runtime.block_on(custos_server::serve(
        &config,
        loaded,
        Some(backend),
        move |addr| {
            println!("Custos is listening on http://{addr}");
            if let Some(d) = &demo_keys {
                println!("  privacy center:    http://{addr}/center/demo (codes are written to custos-demo-outbox/, no mail server in the demo)");
                println!("  privacy console:   http://{addr}/console");
                println!("    demo account:    name {} password {}", d.console.0, d.console.1);
                println!("    second factor:   {} (add it to an authenticator app)", d.console.2);
            }
            println!("  privacy statement: http://{addr}/privacy");
            println!("  API description:   http://{addr}/openapi.json");
            if no_admin {
                println!("  no active admin API key: run `custos init` with this configuration (--config) to print the first one");
            }
            if let Some(d) = &demo_keys {
                println!("  demo tenant `demo` (jbsync example policy, a few subjects)");
                println!("  app key (tenant demo):  {}", d.app);
                println!("  dpo key (tenant demo):  {}", d.dpo);
                println!("  admin key:              {}", d.admin);
                println!("  the demo database from the command line: custos key list {}", d.flags);
                println!(
                    "  try: curl -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' -d '{{\"subject\":\"jan@example.nl\"}}' http://{addr}/v1/records/query",
                    d.app
                );
            }
        },
        custos_server::shutdown_signal(),
    ));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => Failure::unusable(e.to_string()).stop(),
    }
}

/// The finding the demo runs with: the jbsync example encodes its statement faithfully, gaps
/// included, and the statement names no GDPR legal basis for cookies (§13 cites only the
/// Telecommunicatiewet exemption from consent). Pinned to that purpose's line, so any other
/// error in the example still stops the demo.
fn demo_accepted_findings() -> Vec<custos_server::config::AcceptedFinding> {
    // Line 0 matches nothing: should the purpose move away, the demo stops and says so.
    let line = DEMO_POLICY
        .lines()
        .position(|l| l.trim() == "id = \"cookies\"")
        .map_or(Some(0), |i| Some(i + 1));
    vec![custos_server::config::AcceptedFinding {
        code: "C101".into(),
        reason: "demo: the JBSync statement (§13) names no GDPR legal basis for its cookies, only the exemption from consent of art. 11.7a(3) Telecommunicatiewet; the example keeps the gap as written".into(),
        line,
    }]
}

/// What `--demo` prints: fresh keys, and the command-line flags that reach its database.
struct Demo {
    admin: String,
    app: String,
    dpo: String,
    flags: String,
    /// A console account of the demo tenant's privacy officer: name, password, the second
    /// factor as an otpauth:// URI.
    console: (String, String, String),
}

type DemoKeys = Option<Demo>;

/// Opens the vault and access store. With `--demo`: an SQLite file and key file in the current
/// directory (created on first start), a `demo` tenant with a few subjects, and fresh admin, app
/// and dpo keys to print.
fn open_backend(
    config: &mut Config,
    demo: bool,
    policy: &custos_policy::Policy,
) -> Result<(custos_server::Backend, DemoKeys), String> {
    use custos_vault::MasterKey;
    if demo {
        if config.smtp.is_none() && config.mail_outbox.is_none() {
            config.mail_outbox = Some(PathBuf::from("custos-demo-outbox"));
        }
        if config.database == "custos.db" {
            config.database = "custos-demo.db".into();
        }
        let key_file = config
            .key_file
            .clone()
            .unwrap_or_else(|| PathBuf::from("custos-demo.key"));
        if std::env::var(custos_vault::MASTER_KEY_ENV).is_err() && !key_file.exists() {
            MasterKey::generate()
                .and_then(|k| k.write_new_file(&key_file))
                .map_err(|e| e.to_string())?;
        }
        config.key_file = Some(key_file);
    }
    let master =
        MasterKey::from_env_or_file(config.key_file.as_deref()).map_err(|e| e.to_string())?;
    let backend = custos_server::Backend::open(config, master).map_err(|e| e.to_string())?;
    if !demo {
        return Ok((backend, None));
    }
    let now = jiff::Timestamp::now();
    let keys = {
        let mut a = backend.access.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = a.create_tenant("demo", "Demo B.V.", now).is_ok();
        let admin = a
            .issue_key(None, custos_access::Role::Admin, "demo admin", now)
            .map_err(|e| e.to_string())?;
        let app = a
            .issue_key(Some("demo"), custos_access::Role::App, "demo app", now)
            .map_err(|e| e.to_string())?;
        let dpo = a
            .issue_key(Some("demo"), custos_access::Role::Dpo, "demo dpo", now)
            .map_err(|e| e.to_string())?;
        (fresh, admin, app, dpo)
    };
    // A fresh console account each start (its password is shown once): a dpo of the demo tenant,
    // named after the first free number (a restart within the same second included).
    let console = {
        let mut a = backend.access.lock().unwrap_or_else(|p| p.into_inner());
        let taken = a.accounts(Some("demo")).map_err(|e| e.to_string())?.len();
        let mut added = None;
        for n in taken + 1..taken + 100 {
            match a.add_account(
                Some("demo"),
                custos_access::Role::Dpo,
                &format!("demo-dpo-{n}"),
                now,
            ) {
                Ok(acc) => {
                    added = Some(acc);
                    break;
                }
                Err(custos_access::AccessError::AccountExists(_)) => continue,
                Err(e) => return Err(e.to_string()),
            }
        }
        added.ok_or("no free name for a demo console account")?
    };
    crate::open::audit(
        &backend.vault(),
        Some("demo"),
        "console.account.add",
        serde_json::json!({ "account": console.info.account_id, "role": "dpo" }),
    )?;
    {
        let v = backend.vault();
        for k in [&keys.1, &keys.2, &keys.3] {
            crate::open::audit_issued(&v, k)?;
        }
    }
    if keys.0 {
        let mut v = backend.vault();
        let tenant = custos_vault::TenantId::new("demo").map_err(|e| e.to_string())?;
        let mut t = v.tenant(&tenant).acting_as("custos:demo");
        for (who, text) in [
            ("jan@example.nl", "Vraag over factuur 2026-114"),
            ("piet@example.nl", "Graag een kopie van mijn gegevens"),
            ("an@example.com", "Please call me back"),
        ] {
            let rec = custos_vault::NewRecord {
                subject: custos_vault::SubjectId::new(who).map_err(|e| e.to_string())?,
                category: "support".into(),
                purposes: vec!["support".into()],
                payload: serde_json::to_vec(&serde_json::json!({ "message": text }))
                    .unwrap_or_default(),
                created_at: now,
                clocks: Default::default(),
            };
            t.put(policy, rec, now).map_err(|e| e.to_string())?;
        }
    }
    let key_file = config
        .key_file
        .as_deref()
        .map(|k| format!(" --key-file {}", k.display()))
        .unwrap_or_default();
    let flags = match custos_server::backend::store_config(config) {
        custos_vault::StoreConfig::Sqlite { path } => {
            format!("--db {}{key_file}", path.display())
        }
        // The URL may hold a password: name the variable it came from instead.
        custos_vault::StoreConfig::Postgres { schema, .. } => {
            format!("--postgres \"$CUSTOS_DATABASE_URL\" --schema {schema}{key_file}")
        }
    };
    Ok((
        backend,
        Some(Demo {
            admin: keys.1.key,
            app: keys.2.key,
            dpo: keys.3.key,
            flags,
            console: (
                console.info.name.clone(),
                console.password.expose().to_owned(),
                console.totp.otpauth_uri("Custos demo", &console.info.name),
            ),
        }),
    ))
}
