//! `custos check --announced` (issue 21; Art. 28(2) GDPR, SCC 2021/915 clause 7.7(a)): against
//! the installation's database, a recipient its tenants were never told of is an error (V101):
//! not in the first version the installation published and named as new by no announcement.

use std::process::Command;

const JBSYNC: &str = include_str!("../../../../examples/policies/jbsync.toml");

fn recipient(id: &str, name: &str) -> String {
    format!(
        "[[recipient]]\nid = \"{id}\"\nname = \"{name}\"\nkind = \"sub_processor\"\npurpose.nl = \"Vertaling\"\npurpose.en = \"Translation\"\nlocations = [\"US\"]\ntransfer = [\"dpf\"]\ndpa = true\n\n"
    )
}

/// JBSync with `extra` recipients added before the first, as version `version`.
fn jbsync(version: &str, extra: &[(&str, &str)]) -> String {
    let added: String = extra.iter().map(|(id, name)| recipient(id, name)).collect();
    JBSYNC
        .replace("version = \"2.0\"", &format!("version = \"{version}\""))
        .replacen("[[recipient]]\n", &format!("{added}[[recipient]]\n"), 1)
}

fn custos(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(args)
        .env_remove("CUSTOS_MASTER_KEY")
        .output()
        .unwrap()
}

#[test]
fn check_announced_flags_a_recipient_the_tenants_were_never_told_of() {
    let dir = std::env::temp_dir().join(format!("custos-it-announced-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (db, key) = (dir.join("custos.db"), dir.join("custos.key"));
    let files = [
        "--db",
        db.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
    ];
    let init = custos(&[&["init"][..], &files].concat());
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );

    // Published 2.0, then 2.1 with AssemblyAI: announced.
    let v21 = jbsync("2.1", &[("assemblyai", "AssemblyAI Inc.")]);
    {
        let master = custos_vault::MasterKey::from_file(&key).unwrap();
        let mut v = custos_vault::Vault::open(
            &custos_vault::StoreConfig::Sqlite { path: db.clone() },
            master,
        )
        .unwrap();
        let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
        v.record_policy_version(Some("2.0"), JBSYNC, at("2026-05-01T00:00:00Z"))
            .unwrap();
        v.record_policy_version(Some("2.1"), &v21, at("2026-06-01T00:00:00Z"))
            .unwrap();
        let loaded =
            custos_policy::load_source(custos_policy::SourceFile::new("v21.toml", v21.as_str()))
                .unwrap();
        let a = v
            .announce_published(&loaded.policy, &v21, at("2026-06-01T00:00:00Z"))
            .unwrap()
            .expect("the new sub-processor is announced");
        assert_eq!(a.new_recipients, ["assemblyai"]);
    }
    let published = dir.join("v21.toml");
    std::fs::write(&published, &v21).unwrap();
    let o = custos(
        &[
            &["check", published.to_str().unwrap(), "--announced"][..],
            &files,
        ]
        .concat(),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        !out.contains("V101"),
        "everything in 2.1 was announced: {out}"
    );

    // 2.2 adds DeepL and was never published: flagged at its id, with the article.
    let v22 = dir.join("v22.toml");
    std::fs::write(
        &v22,
        jbsync(
            "2.2",
            &[("deepl", "DeepL SE"), ("assemblyai", "AssemblyAI Inc.")],
        ),
    )
    .unwrap();
    let o = custos(
        &[
            &[
                "check",
                v22.to_str().unwrap(),
                "--announced",
                "--format",
                "json",
            ][..],
            &files,
        ]
        .concat(),
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let findings: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|f: &serde_json::Value| f["code"] == "V101")
        .collect();
    assert_eq!(findings.len(), 1, "{findings:?}");
    let f = &findings[0];
    assert!(f["message"].as_str().unwrap().contains("`deepl`"), "{f}");
    assert_eq!(f["article"], "Art. 28(2) GDPR");
    assert_eq!(f["snippet"], "id = \"deepl\"", "located at its id: {f}");
    assert!(f["start"]["line"].as_u64().is_some(), "{f}");

    // Without the database the check cannot tell, and says so (exit 2).
    let missing = dir.join("nothing.db");
    let o = custos(&[
        "check",
        v22.to_str().unwrap(),
        "--announced",
        "--db",
        missing.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    let rules = custos(&["check", "--rules"]);
    assert!(String::from_utf8_lossy(&rules.stdout).contains("V101"));
}
