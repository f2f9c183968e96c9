//! `custos init` and `custos keys rotate` driven as an operator would: the real binary, a real
//! SQLite file, exit codes and messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use custos_vault::{MasterKey, NewRecord, StoreConfig, SubjectId, TenantId, Vault};

fn custos(dir: &Path, args: &[&str], master_key: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_custos"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("CUSTOS_MASTER_KEY");
    if let Some(k) = master_key {
        cmd.env("CUSTOS_MASTER_KEY", k);
    }
    cmd.output().expect("the custos binary runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("custos-it-vault-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn policy() -> custos_policy::Policy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies/jbsync.toml");
    custos_policy::load(&path)
        .expect("example policy loads")
        .policy
}

#[test]
fn init_creates_an_owner_only_key_file_and_a_vault_that_opens_with_it() {
    let dir = scratch("init");
    let o = custos(&dir, &["init"], None);
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("custos.key"), "{}", out(&o));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("custos.key"))
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
    let key = MasterKey::from_file(&dir.join("custos.key")).expect("a valid key");
    Vault::open(
        &StoreConfig::Sqlite {
            path: dir.join("custos.db"),
        },
        key,
    )
    .expect("the new vault opens with its key");
}

#[test]
fn init_refuses_to_overwrite_an_existing_key_file() {
    let dir = scratch("init-twice");
    std::fs::write(dir.join("custos.key"), "precious\n").expect("write");
    let o = custos(&dir, &["init"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("already exists") && err(&o).contains("custos.key"),
        "{}",
        err(&o)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("custos.key")).expect("read"),
        "precious\n"
    );
    assert!(!dir.join("custos.db").exists(), "no vault without its key");
}

#[test]
fn init_refuses_an_existing_database() {
    let dir = scratch("init-db");
    assert!(custos(&dir, &["init"], None).status.success());
    let o = custos(&dir, &["init", "--key-file", "other.key"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("custos.db already exists"), "{}", err(&o));
    assert!(!dir.join("other.key").exists());
}

/// `custos init` of `v.db` and `v.key` in `dir`, and one record of jan's ("Jan") in tenant acme.
fn vault_with_one_record(dir: &Path) -> (StoreConfig, custos_vault::RecordId) {
    assert!(
        custos(dir, &["init", "--db", "v.db", "--key-file", "v.key"], None)
            .status
            .success()
    );
    let config = StoreConfig::Sqlite {
        path: dir.join("v.db"),
    };
    let id = {
        let key = MasterKey::from_file(&dir.join("v.key")).expect("key");
        let mut v = Vault::open(&config, key).expect("opens");
        let record = NewRecord {
            subject: SubjectId::new("jan@example.nl").expect("valid"),
            category: "account".into(),
            purposes: vec!["service".into()],
            payload: b"Jan".to_vec(),
            created_at: "2026-11-01T00:00:00Z".parse().expect("time"),
            clocks: Default::default(),
        };
        v.tenant(&TenantId::new("acme").expect("valid"))
            .put(&policy(), record, jiff::Timestamp::now())
            .expect("stored")
    };
    (config, id)
}

#[test]
fn keys_rotate_rewraps_data_keys_and_records_still_decrypt() {
    let dir = scratch("rotate");
    let (config, id) = vault_with_one_record(&dir);
    let o = custos(
        &dir,
        &["keys", "rotate", "--db", "v.db", "--key-file", "v.key"],
        None,
    );
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        out(&o).contains("version 1 -> 2, 1 data key(s) re-wrapped"),
        "{}",
        out(&o)
    );
    let key = MasterKey::from_file(&dir.join("v.key")).expect("key");
    let mut v = Vault::open(&config, key).expect("opens");
    assert_eq!(v.key_version(), 2);
    assert_eq!(
        v.tenant(&TenantId::new("acme").expect("valid"))
            .get(&id)
            .expect("decrypts")
            .payload
            .as_slice(),
        b"Jan"
    );
    drop(v);
    // The runbook's form: the server's configuration file names the database and the key.
    std::fs::write(
        dir.join("custos.toml"),
        "database = \"v.db\"\nkey_file = \"v.key\"\npolicy = \"unused.toml\"\n",
    )
    .unwrap();
    let o = custos(&dir, &["keys", "rotate", "--config", "custos.toml"], None);
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("version 2 -> 3"), "{}", out(&o));
}

#[test]
fn keys_replace_moves_the_vault_to_a_new_key_file_and_the_old_key_opens_nothing() {
    let dir = scratch("replace");
    let (config, id) = vault_with_one_record(&dir);
    // `custos ARGS --db v.db`.
    let on_db = |args: &[&str]| custos(&dir, &[args, &["--db", "v.db"]].concat(), None);
    let o = on_db(&[
        "keys",
        "replace",
        "--key-file",
        "v.key",
        "--new-key-file",
        "new.key",
    ]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("1 data key(s) re-wrapped"), "{}", out(&o));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join("new.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The old key opens nothing; the new one opens the record, and the trail verifies with it.
    let o = on_db(&["keys", "rotate", "--key-file", "v.key"]);
    assert!(err(&o).contains("error[wrong-master-key]"), "{}", err(&o));
    let verify = on_db(&["audit", "verify", "--key-file", "new.key"]);
    assert!(verify.status.success(), "{}{}", out(&verify), err(&verify));
    let key = MasterKey::from_file(&dir.join("new.key")).expect("key");
    let mut v = Vault::open(&config, key).expect("opens with the new key");
    assert_eq!(
        v.tenant(&TenantId::new("acme").expect("valid"))
            .get(&id)
            .expect("decrypts")
            .payload
            .as_slice(),
        b"Jan"
    );
    drop(v);
    // A new key file is never written over.
    let o = on_db(&[
        "keys",
        "replace",
        "--key-file",
        "new.key",
        "--new-key-file",
        "v.key",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("--new-key-file"), "{}", err(&o));
}

#[test]
fn keys_rotate_with_a_wrong_master_key_fails_loudly() {
    let dir = scratch("rotate-wrong");
    assert!(custos(&dir, &["init"], None).status.success());
    let wrong = "00".repeat(32);
    let o = custos(&dir, &["keys", "rotate"], Some(&wrong));
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("wrong master key"), "{}", err(&o));
    assert!(!err(&o).contains(&wrong), "the key must not be echoed");
}

#[test]
fn keys_rotate_without_a_vault_says_to_run_init() {
    let dir = scratch("rotate-none");
    let o = custos(&dir, &["keys", "rotate"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("custos init"), "{}", err(&o));
}

#[test]
fn keys_rotate_with_a_malformed_master_key_names_the_variable() {
    let dir = scratch("rotate-bad");
    assert!(custos(&dir, &["init"], None).status.success());
    let o = custos(&dir, &["keys", "rotate"], Some("not-a-key"));
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("CUSTOS_MASTER_KEY"), "{}", err(&o));
}
