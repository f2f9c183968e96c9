//! `custos export` as an operator runs it: the real binary on a real SQLite (and PostgreSQL)
//! vault filled through the library; the archive opened with a standard zip tool; exit codes for
//! bad input; the audit trail still verifying afterwards.

use std::process::Output;

use crate::scratch::{Scratch, err, out, succeeded};
use crate::unzip::extract;

const WHO: &str = "klant@example.nl";

/// `custos export --tenant acme --subject SUBJECT --out OUT` and then `more`.
fn export(s: &Scratch, subject: &str, out: &str, more: &[&str]) -> Output {
    let args = [
        "export",
        "--tenant",
        "acme",
        "--subject",
        subject,
        "--out",
        out,
    ];
    s.run(&[&args[..], more].concat())
}

fn access_answer(s: &Scratch) {
    s.fill(
        WHO,
        &[
            ("account", "service"),
            ("support", "support"),
            ("usage_log", "security"),
        ],
    );
    let o = export(s, WHO, "answer.zip", &[]);
    let said = succeeded(&o);
    assert!(
        said.starts_with("wrote answer.zip: access (Art. 15) answer, 3 records (data.json, data.csv, report.html)"),
        "{said}"
    );
    assert!(
        !said.contains(WHO),
        "the subject's identifier is not printed"
    );
    assert!(!s.dir.join("answer.zip.partial").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(s.dir.join("answer.zip"))
            .expect("answer")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the answer is readable by its owner only");
    }
    let to = s.dir.join("answer");
    extract(&s.dir.join("answer.zip"), &to);
    let data: serde_json::Value =
        serde_json::from_slice(&std::fs::read(to.join("data.json")).expect("data.json"))
            .expect("JSON");
    assert_eq!(data["records"].as_array().map(Vec::len), Some(3));
    assert!(data["information"]["recipients"].as_array().is_some());
    let csv = std::fs::read_to_string(to.join("data.csv")).expect("data.csv");
    assert_eq!(csv.lines().count(), 4);
    let html = std::fs::read_to_string(to.join("report.html")).expect("report.html");
    assert!(html.contains("Your data (Art. 15 GDPR)"));

    let o = s.run(&["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
}

#[test]
fn export_writes_an_access_answer_a_standard_tool_opens() {
    access_answer(&Scratch::new("access"));
}

#[test]
fn export_works_on_postgresql_too() {
    match Scratch::postgres("pg_access") {
        Some(s) => access_answer(&s),
        None => eprintln!("CUSTOS_TEST_DATABASE_URL is not set: skipping the PostgreSQL CLI test"),
    }
}

#[test]
fn export_portability_writes_only_portable_data_as_json_and_csv() {
    let s = Scratch::new("portability");
    s.fill(WHO, &[("support", "support"), ("usage_log", "security")]);
    let o = export(&s, WHO, "portable.zip", &["--portability", "--lang", "nl"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains("portability (Art. 20) answer, 1 record (data.json, data.csv)"),
        "{}",
        out(&o)
    );
    let to = s.dir.join("portable");
    extract(&s.dir.join("portable.zip"), &to);
    assert!(!to.join("report.html").exists());
    let data: serde_json::Value =
        serde_json::from_slice(&std::fs::read(to.join("data.json")).expect("data.json"))
            .expect("JSON");
    assert_eq!(data["records"][0]["category"], "support");
}

#[test]
fn export_refuses_to_overwrite_and_bad_input_exits_2_without_echoing_the_subject() {
    let s = Scratch::new("refusals");
    std::fs::write(s.dir.join("taken.zip"), b"keep me").expect("file");
    let o = export(&s, WHO, "taken.zip", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("taken.zip already exists"), "{}", err(&o));
    assert_eq!(
        std::fs::read(s.dir.join("taken.zip")).expect("file"),
        b"keep me"
    );

    let o = export(&s, "", "a.zip", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("--subject"), "{}", err(&o));

    let long = "x".repeat(2000);
    let o = export(&s, &long, "a.zip", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!err(&o).contains(&long), "the identifier is not echoed");

    let o = export(&s, WHO, "no/such/dir/a.zip", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(!err(&o).contains(WHO));
    assert!(!s.dir.join("a.zip").exists());
}
