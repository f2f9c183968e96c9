//! What the command tests share: a scratch directory with a vault made by `custos init` (SQLite,
//! or PostgreSQL in a schema of its own), the real binary run in it, and the example policy.
//! Every scratch gets a directory of its own, also when `cargo test` runs the SQLite and
//! PostgreSQL variants of a test in one process at once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use custos_vault::{MasterKey, NewRecord, StoreConfig, SubjectId, TenantId, Vault};

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub(crate) struct Scratch {
    pub(crate) dir: PathBuf,
    /// Where the vault is, and the same as command-line arguments.
    pub(crate) store: StoreConfig,
    pub(crate) store_args: Vec<String>,
    /// What `custos init` printed (the first admin API key among it).
    pub(crate) init_out: String,
}

/// A fresh directory of its own, and a number unique in this process.
fn scratch_dir(name: &str) -> (PathBuf, usize) {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("custos-it-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    (dir, n)
}

/// A fresh, empty directory of its own (for a test that makes its vault another way).
pub(crate) fn fresh_dir(name: &str) -> PathBuf {
    scratch_dir(name).0
}

impl Scratch {
    /// A fresh directory with an SQLite vault made by `custos init`.
    pub(crate) fn new(name: &str) -> Scratch {
        let (dir, _) = scratch_dir(name);
        let store = StoreConfig::Sqlite {
            path: dir.join("custos.db"),
        };
        Scratch::init(dir, store, Vec::new())
    }

    /// The same on PostgreSQL, in a schema of its own; `None` without
    /// `CUSTOS_TEST_DATABASE_URL` (a failure under CI).
    pub(crate) fn postgres(name: &str) -> Option<Scratch> {
        let url = crate::database_url::postgres_url()?;
        crate::stale_schemas::sweep(&url, "cli");
        let (dir, n) = scratch_dir(name);
        let schema = format!("cli_{}_{n}", std::process::id());
        let journal = dir.join("erasures.jsonl");
        let args = vec![
            "--postgres".to_owned(),
            url.clone(),
            "--schema".to_owned(),
            schema.clone(),
            "--journal".to_owned(),
            journal.display().to_string(),
        ];
        let store = StoreConfig::Postgres {
            url,
            schema,
            journal: Some(journal),
        };
        Some(Scratch::init(dir, store, args))
    }

    fn init(dir: PathBuf, store: StoreConfig, store_args: Vec<String>) -> Scratch {
        let mut s = Scratch {
            dir,
            store,
            store_args,
            init_out: String::new(),
        };
        let o = s.run(&["init"]);
        assert!(o.status.success(), "{}", err(&o));
        s.init_out = out(&o);
        s
    }

    /// `custos ARGS` on this scratch's vault, with the example policy, no master key in the
    /// environment (the key file in the directory is used) and no colours.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_custos"));
        cmd.args(args)
            .args(&self.store_args)
            .current_dir(&self.dir)
            .env_remove("CUSTOS_MASTER_KEY")
            .env("CUSTOS_POLICY", policy_path())
            .env("NO_COLOR", "1");
        cmd
    }

    /// Runs `custos ARGS` and waits for it.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("the custos binary runs")
    }

    /// Runs `custos COMMAND --tenant acme ARGS` and waits for it.
    pub(crate) fn acme(&self, command: &[&str], args: &[&str]) -> Output {
        self.run(&[command, &["--tenant", "acme"], args].concat())
    }

    /// The vault itself, through the library.
    pub(crate) fn vault(&self) -> Vault {
        let key = MasterKey::from_file(&self.dir.join("custos.key")).expect("key file");
        Vault::open(&self.store, key).expect("vault opens")
    }

    /// Stores one record per (category, purpose) for `who` in tenant `acme`, through the
    /// library.
    pub(crate) fn fill(&self, who: &str, records: &[(&str, &str)]) -> Vec<custos_vault::RecordId> {
        let mut v = self.vault();
        let batch = records
            .iter()
            .enumerate()
            .map(|(i, (category, purpose))| NewRecord {
                subject: SubjectId::new(who).expect("valid"),
                category: (*category).into(),
                purposes: vec![(*purpose).into()],
                payload: format!("{{\"i\":{i}}}").into_bytes(),
                created_at: "2026-10-01T08:00:00Z".parse().expect("valid"),
                clocks: Default::default(),
            })
            .collect();
        v.tenant(&TenantId::new("acme").expect("valid"))
            .put_batch(&policy(), batch, jiff::Timestamp::now())
            .expect("records stored")
    }
}

/// The JBSync example policy's path.
pub(crate) fn policy_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies/jbsync.toml")
}

/// The JBSync example policy.
pub(crate) fn policy() -> custos_policy::Policy {
    custos_policy::load(&policy_path())
        .expect("example policy loads")
        .policy
}

/// A command's standard output, once it is checked that the command exited 0.
pub(crate) fn succeeded(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "{}", err(o));
    out(o)
}

/// A command's standard output.
pub(crate) fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A command's standard error.
pub(crate) fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A small policy that passes `custos check` with no finding; its purpose's `basis = "contract"`
/// is at line 13 (tests remove it to get C101 there).
pub(crate) const CLEAN_POLICY: &str = r#"
[policy]
[controller]
name = "Acme"
contact = [{ kind = "email", address = "privacy@acme.example" }]
authority = "nl-ap"
dpo = { appointed = false, reason = "no core activity of large-scale monitoring" }
[[category]]
id = "account"
name = "Account"
retention = { period = "1 year" }
[[purpose]]
id = "service"
name = "Service"
basis = "contract"
categories = ["account"]
[rights]
offered = ["access", "rectification", "erasure", "restriction", "objection", "portability"]
[breach]
authority_within = "72 hours"
"#;
