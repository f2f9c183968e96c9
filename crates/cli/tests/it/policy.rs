//! `custos check | render | diff | ropa | export-dpv` driven as a user would: the real binary,
//! real files, exit codes and output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::scratch::CLEAN_POLICY;

fn custos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("the custos binary runs")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally, not by a signal")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A scratch directory unique to the test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("custos-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

const SEEDS: [&str; 4] = ["jbsync", "jetlink", "jetstream", "jifeline"];

fn seed(name: &str) -> String {
    format!("examples/policies/{name}.toml")
}

// ---- check -------------------------------------------------------------------------------

#[test]
fn check_on_every_seed_matches_its_snapshot() {
    for name in SEEDS {
        let o = custos(&["check", &seed(name)]);
        assert!(
            matches!(code(&o), 0 | 1),
            "{name}: exit {} {}",
            code(&o),
            stderr(&o)
        );
        insta::assert_snapshot!(format!("check_{name}"), stdout(&o));
    }
}

#[test]
fn check_rules_lists_every_rule_with_code_severity_and_article() {
    let o = custos(&["check", "--rules"]);
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    for c in [
        "C101", "C102", "C103", "C104", "C106", "C107", "C108", "C109", "C110", "C112", "C113",
        "C115", "C116", "C117", "C120", "C121", "C123", "C124",
    ] {
        assert!(out.contains(c), "{c} missing from\n{out}");
    }
    assert!(out.contains("Art. 33(1) GDPR"));
    let json = custos(&["check", "--rules", "--format", "json"]);
    let first: serde_json::Value =
        serde_json::from_str(stdout(&json).lines().next().unwrap()).unwrap();
    assert_eq!(first["code"], "C101");
    assert_eq!(first["severity"], "error");
}

#[test]
fn check_exits_0_on_a_clean_policy_and_1_on_findings() {
    let dir = scratch("clean");
    let clean = write(&dir, "clean.toml", CLEAN_POLICY);
    let o = custos(&["check", &clean]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains("0 error(s), 0 warning(s)"));
    let findings = write(
        &dir,
        "lax.toml",
        std::fs::read_to_string(&clean)
            .unwrap()
            .replace("basis = \"contract\"\n", ""),
    );
    let o = custos(&["check", &findings]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(
        out.contains("error[C101]: purpose `service` has no legal basis"),
        "{out}"
    );
    assert!(out.contains("lax.toml:13:6"), "{out}");
    assert!(out.contains("law: Art. 6(1) GDPR"), "{out}");
}

#[test]
fn check_json_output_is_one_finding_per_line_with_file_line_and_column() {
    let o = custos(&["check", "--format", "json", &seed("jifeline")]);
    assert_eq!(code(&o), 1);
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert!(!lines.is_empty());
    let located = lines
        .iter()
        .find(|l| l["start"].is_object())
        .expect("a located finding");
    assert!(located["start"]["line"].as_u64().unwrap() >= 1);
    assert!(located["file"].as_str().unwrap().ends_with("jifeline.toml"));
    assert!(located["article"].as_str().unwrap().contains("GDPR"));
}

// ---- bad input: every case is a clear error with exit code 2, never a panic ------------------

fn assert_unusable(o: &Output, needle: &str) {
    assert_eq!(code(o), 2, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
    let err = stderr(o);
    assert!(err.contains(needle), "expected `{needle}` in:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn malformed_toml_names_file_line_and_column_with_the_snippet() {
    let dir = scratch("malformed");
    let f = write(
        &dir,
        "bad.toml",
        "[policy]\nid = \"x\"\n[[purpose]\nid = \"a\"\n",
    );
    let o = custos(&["check", &f]);
    assert_unusable(&o, "bad.toml:3:");
    assert!(stderr(&o).contains("3 | [[purpose]"), "{}", stderr(&o));
}

#[test]
fn an_unknown_key_suggests_the_nearest_valid_key() {
    let dir = scratch("unknown");
    let f = write(
        &dir,
        "p.toml",
        "[policy]\n[[category]]\nid = \"a\"\nname = \"A\"\nretension = { period = \"1 day\" }\n",
    );
    let o = custos(&["check", &f]);
    assert_unusable(&o, "unknown key `retension`");
    assert!(stderr(&o).contains("p.toml:5:1"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("did you mean `retention`?"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_wrong_type_is_refused_at_its_place() {
    let dir = scratch("type");
    let f = write(
        &dir,
        "p.toml",
        "[policy]\n[[category]]\nid = \"a\"\nname = \"A\"\nstored = \"no\"\n",
    );
    let o = custos(&["check", &f]);
    assert_unusable(&o, "p.toml:5:10");
}

#[test]
fn an_undefined_reference_suggests_the_nearest_id() {
    let dir = scratch("ref");
    let f = write(
        &dir,
        "p.toml",
        "[policy]\n[[category]]\nid = \"mail.metadata\"\nname = \"M\"\n[[purpose]]\nid = \"p\"\nname = \"P\"\ncategories = [\"mail.metadta\"]\n",
    );
    let o = custos(&["check", &f]);
    assert_unusable(&o, "no category with id `mail.metadta` is defined");
    assert!(stderr(&o).contains("p.toml:8:15"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("did you mean `mail.metadata`?"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_missing_file_is_unusable() {
    assert_unusable(
        &custos(&["check", "does/not/exist.toml"]),
        "does/not/exist.toml: no such file",
    );
}

#[test]
fn a_directory_is_unusable() {
    assert_unusable(&custos(&["check", "examples/policies"]), "is a directory");
}

#[test]
fn a_binary_file_is_unusable() {
    let dir = scratch("binary");
    let f = write(
        &dir,
        "p.toml",
        [0x7f, b'E', b'L', b'F', 0xff, 0xfe, 0, 1, 2, 3],
    );
    assert_unusable(&custos(&["check", &f]), "not a text file");
}

#[test]
fn a_50_mb_file_is_refused_before_it_is_read() {
    let dir = scratch("huge");
    let path = dir.join("huge.toml");
    let mut text = String::from("[policy]\n");
    let filler = "# ".to_owned() + &"x".repeat(1022) + "\n";
    while text.len() < 50 * 1024 * 1024 {
        text.push_str(&filler);
    }
    std::fs::write(&path, text).unwrap();
    assert_unusable(
        &custos(&["check", path.to_str().unwrap()]),
        "too large for a policy file",
    );
}

#[test]
fn an_empty_file_is_unusable() {
    let dir = scratch("empty");
    let f = write(&dir, "p.toml", "");
    assert_unusable(&custos(&["check", &f]), "the policy file is empty");
}

#[test]
fn a_duplicated_id_is_unusable() {
    let dir = scratch("dup");
    let f = write(
        &dir,
        "p.toml",
        "[policy]\n[[purpose]]\nid = \"a\"\nname = \"A\"\n[[purpose]]\nid = \"a\"\nname = \"B\"\n",
    );
    let o = custos(&["check", &f]);
    assert_unusable(&o, "purpose id `a` is defined twice");
    assert!(stderr(&o).contains("p.toml:6:6"), "{}", stderr(&o));
}

#[test]
fn a_cycle_in_category_parents_is_unusable() {
    let dir = scratch("cycle");
    let f = write(
        &dir,
        "p.toml",
        "[policy]\n[[category]]\nid = \"a\"\nname = \"A\"\nparent = \"b\"\n[[category]]\nid = \"b\"\nname = \"B\"\nparent = \"a\"\n",
    );
    assert_unusable(&custos(&["check", &f]), "category `a` is its own ancestor");
}

#[test]
fn every_command_refuses_unusable_input_with_exit_2() {
    for args in [
        vec!["render", "nope.toml"],
        vec!["diff", "nope.toml", "examples/policies/jbsync.toml"],
        vec!["ropa", "nope.toml"],
        vec!["export-dpv", "nope.toml"],
    ] {
        assert_unusable(&custos(&args), "nope.toml: no such file");
    }
}

// ---- render ------------------------------------------------------------------------------

#[test]
fn every_seed_renders_in_its_languages_and_all_formats() {
    for name in SEEDS {
        let json = custos(&["render", &seed(name), "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
        let languages: Vec<String> = v["meta"]["languages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_owned())
            .collect();
        for lang in &languages {
            for format in ["md", "html", "json"] {
                let o = custos(&["render", &seed(name), "--lang", lang, "--format", format]);
                assert_eq!(code(&o), 0, "{name} {lang} {format}: {}", stderr(&o));
                assert!(
                    stdout(&o).len() > 1000,
                    "{name} {lang} {format} is suspiciously short"
                );
            }
        }
    }
}

// ---- issue 22: render only what the policy says (the statement's own tests are in
// crates/policy/src/render.rs) -----------------------------------------------------------

#[test]
fn render_refuses_a_language_the_policy_has_no_texts_for() {
    // jetlink's statement is English only: Dutch headings over English text are refused.
    let o = custos(&[
        "render",
        &seed("jetlink"),
        "--lang",
        "nl",
        "--format",
        "html",
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    assert!(
        stderr(&o).contains("language-not-offered"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("its languages are `en`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn render_defaults_to_the_policys_first_language() {
    let o = custos(&["render", &seed("jbsync"), "--format", "html"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("<html lang=\"nl\">"));
    let o = custos(&["render", &seed("jetlink")]);
    assert!(stdout(&o).starts_with("# "), "{}", stderr(&o));
}

#[test]
fn the_jbsync_statement_uses_je_throughout_and_cites_the_avg_in_dutch() {
    let md = stdout(&custos(&["render", &seed("jbsync"), "--lang", "nl"]));
    let words: std::collections::BTreeSet<&str> =
        md.split(|c: char| !c.is_alphanumeric()).collect();
    for formal in ["u", "uw", "Uw", "Uzelf"] {
        assert!(!words.contains(formal), "`{formal}` in the je-statement");
    }
    assert!(md.contains("## Jouw rechten"));
    assert!(!md.contains("6(1)("), "English citation style in Dutch");
    assert!(md.contains("(art. 6 lid 1 onder b AVG)"));
    assert!(
        md.contains("Laatst bijgewerkt: 21 mei 2026"),
        "date in words"
    );
    assert!(!md.contains("draft.send"), "internal id");
    assert!(!md.contains("24 maanden — 24 maanden"), "repeated fact");
    assert!(!md.contains(": —"), "a dash for an absent fact");
}

#[test]
fn ropa_and_dpv_list_per_purpose_only_the_recipients_linked_to_it() {
    let json = custos(&["render", &seed("jbsync"), "--format", "json"]);
    let policy: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let names = |ids: &serde_json::Value| -> Vec<String> {
        ids.as_array()
            .unwrap()
            .iter()
            .map(|id| {
                policy["recipients"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| &r["id"] == id)
                    .unwrap()["name"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let ropa: serde_json::Value = serde_json::from_str(&stdout(&custos(&[
        "ropa",
        &seed("jbsync"),
        "--format",
        "json",
    ])))
    .unwrap();
    for a in ropa["controller_activities"].as_array().unwrap() {
        let purpose = policy["purposes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == a["id"])
            .unwrap();
        let listed: Vec<String> = a["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(listed, names(&purpose["recipients"]), "{}", a["id"]);
        assert!(a["rights"].as_array().is_some_and(|r| !r.is_empty()));
        assert!(a["direct_marketing"].is_boolean());
    }
    let dpv: serde_json::Value =
        serde_json::from_str(&stdout(&custos(&["export-dpv", &seed("jbsync")]))).unwrap();
    let marketing = dpv["@graph"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| {
            n["dpv:hasPurpose"]
                .to_string()
                .contains("dpv:DirectMarketing")
        })
        .count();
    assert!(marketing >= 2, "jbsync's two direct-marketing purposes");
}

#[test]
fn render_json_is_the_canonical_resolved_policy() {
    let o = custos(&["render", &seed("jbsync"), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["meta"]["id"], "jbsync");
    assert!(
        v["categories"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["key_domain"].is_string()),
        "defaults applied"
    );
    assert!(v["rights"]["response"].is_string());
}

// ---- diff --------------------------------------------------------------------------------

#[test]
fn diff_of_a_policy_with_itself_has_no_changes() {
    let o = custos(&["diff", &seed("jbsync"), &seed("jbsync")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("0 change(s)"), "{}", stdout(&o));
}

#[test]
fn diff_classifies_a_new_sub_processor_as_material_with_the_policy_notice_period() {
    let dir = scratch("diff");
    let old = std::fs::read_to_string(repo().join(seed("jbsync"))).unwrap();
    let new = format!(
        "{old}\n[[recipient]]\nid = \"newco\"\nname = \"NewCo Inc.\"\nkind = \"sub_processor\"\nlocations = [\"US\"]\ntransfer = [\"dpf\"]\n"
    );
    let new = write(&dir, "new.toml", new);
    let o = custos(&["diff", &seed("jbsync"), &new, "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["material"], true);
    let change = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "newco")
        .unwrap();
    assert_eq!(change["kind"], "material");
    assert_eq!(change["new_subprocessor"], true);
    assert!(v["notice"]["period"].is_string(), "{v}");
    let human = custos(&["diff", &seed("jbsync"), &new]);
    assert!(
        stdout(&human).contains("material   recipient `newco` added, outside the EEA: US"),
        "{}",
        stdout(&human)
    );
}

// ---- ropa and DPV -------------------------------------------------------------------------

#[test]
fn ropa_csv_has_one_row_per_purpose() {
    let o = custos(&["ropa", &seed("jbsync")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let json = custos(&["render", &seed("jbsync"), "--format", "json"]);
    let purposes = serde_json::from_str::<serde_json::Value>(&stdout(&json)).unwrap()["purposes"]
        .as_array()
        .unwrap()
        .len();
    let out = stdout(&o);
    let mut rd = csv::Reader::from_reader(out.as_bytes());
    assert_eq!(rd.records().count(), purposes);
    let j = custos(&["ropa", &seed("jbsync"), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&j)).unwrap();
    assert!(
        v["controller_activities"].as_array().unwrap().len()
            + v["processor_activities"].as_array().unwrap().len()
            == purposes
    );
}

#[test]
fn export_dpv_is_json_ld_with_one_process_per_purpose() {
    let o = custos(&["export-dpv", &seed("jbsync")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["@context"]["dpv"], "https://w3id.org/dpv#");
    let processes = v["@graph"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["@type"] == "dpv:PersonalDataProcess")
        .count();
    assert!(processes >= 5, "{processes}");
}

// ---- the jbsync statement says at least everything the seed's tables say -------------------

/// The table row (Markdown) that starts with `name`.
fn row<'a>(md: &'a str, name: &str) -> &'a str {
    md.lines()
        .find(|l| l.starts_with(&format!("| {name}")) || l.starts_with(&format!("| ↳ {name}")))
        .unwrap_or_else(|| panic!("no row for `{name}`"))
}

fn assert_rows(md: &str, rows: &[(&str, &[&str])]) {
    for (name, fragments) in rows {
        let r = row(md, name);
        for f in *fragments {
            assert!(r.contains(f), "row `{name}` lacks `{f}`:\n{r}");
        }
    }
}

const SUBPROCESSORS: [(&str, &str); 14] = [
    ("Anthropic Ireland Ltd. (Claude API)", "46"),
    ("Deepgram Inc.", "46"),
    ("OpenAI Ireland Ltd.", "2023/1795"),
    ("ElevenLabs Inc.", "46"),
    ("Supabase Inc.", "EU (Frankfurt)"),
    ("VPS-provider", "EU (Frankfurt)"),
    ("Twilio Inc.", "2023/1795"),
    ("Meta Platforms Ireland Ltd.", "46"),
    ("Google Ireland Ltd.", "2023/1795"),
    ("Microsoft Ireland Ops Ltd.", "2023/1795"),
    ("Twilio SendGrid", "2023/1795"),
    ("Stripe Payments Europe Ltd.", "2023/1795"),
    ("Sentry", "2023/1795"),
    ("Redis (self-hosted)", "EU (Frankfurt)"),
];

#[test]
fn jbsync_in_english_covers_every_row_of_the_seed_tables() {
    let md = stdout(&custos(&["render", &seed("jbsync"), "--lang", "en"]));
    assert_rows(
        &md,
        &[
            ("Account data", &["Chamber of Commerce number", "7 years"]),
            (
                "Invoice and payment data",
                &["IBAN suffix", "7 years", "Article 52 AWR"],
            ),
            (
                "Login credentials",
                &["Hashed passwords", "until account deletion"],
            ),
            ("Usage logs", &["audit trail of approvals", "12 months"]),
            (
                "Support communication",
                &["WhatsApp support messages", "24 months"],
            ),
            (
                "Prospect data",
                &["LinkedIn profiles", "24 months", "until"],
            ),
            ("Cookies", &["Session ID", "14 months"]),
            (
                "Mail metadata",
                &["snippet ≤500 characters", "7 days", "purged every 1 day"],
            ),
            ("Mail bodies", &["Full content of emails", "Never stored"]),
            ("AI draft replies", &["classifier score", "30 days after"]),
            (
                "Writing-style profile (opt-in)",
                &["Aggregated features", "until consent is withdrawn"],
            ),
            (
                "WhatsApp messages",
                &["90 days", "customers can set their own period"],
            ),
            (
                "Phone-call transcripts",
                &["30 days", "customers can set their own period"],
            ),
            ("Calendar events", &["attendees", "until"]),
            ("Cancelled events", &["90 days"]),
            ("OAuth tokens", &["Access and refresh tokens", "until"]),
        ],
    );
    for (name, mechanism) in SUBPROCESSORS {
        let r = row(&md, name);
        assert!(
            r.contains(mechanism),
            "sub-processor `{name}` lacks `{mechanism}`:\n{r}"
        );
    }
    for (purpose, basis) in [
        ("Delivery of the Service (mail/WhatsApp/voice)", "6(1)(b)"),
        ("Auto-draft generation (opt-in per integration)", "6(1)(b)"),
        ("Writing-style learning (opt-in)", "6(1)(a)"),
        ("Invoicing and accounting", "6(1)(c)"),
        ("Security, fraud prevention, audit logs", "6(1)(f)"),
        (
            "Email contact with existing customers about the Service",
            "6(1)(f)",
        ),
        ("Cold outreach (business prospects)", "6(1)(f)"),
        ("Customer support tickets", "6(1)(b)"),
    ] {
        let at = md
            .find(&format!("### {purpose}"))
            .unwrap_or_else(|| panic!("no section for purpose `{purpose}`"));
        let section = &md[at..];
        let end = section[4..].find("\n### ").map_or(section.len(), |e| e + 4);
        assert!(
            section[..end].contains(&format!("Art. {basis} GDPR")),
            "purpose `{purpose}` lacks Art. {basis}"
        );
    }
    assert!(md.contains("We answer within 1 month"), "response period");
    assert!(md.contains("by up to 2 months"), "extension");
    assert!(md.contains("at least 30 days"), "notice");
    assert!(md.contains("Dutch Data Protection Authority"), "authority");
    assert!(
        md.contains("An authorised person approves it before it is carried out."),
        "approval gate"
    );
}

#[test]
fn jbsync_in_dutch_covers_every_row_of_the_seed_tables() {
    let md = stdout(&custos(&["render", &seed("jbsync"), "--lang", "nl"]));
    assert_rows(
        &md,
        &[
            ("Account-data", &["KvK-nummer", "7 jaar"]),
            (
                "Factuur- en betalingsdata",
                &["IBAN-suffix", "7 jaar", "artikel 52 AWR"],
            ),
            (
                "Inloggegevens",
                &["Gehashte wachtwoorden", "tot verwijdering account"],
            ),
            ("Gebruikslogs", &["audit-trail van approvals", "12 maanden"]),
            (
                "Communicatie met support",
                &["WhatsApp-supportberichten", "24 maanden"],
            ),
            (
                "Prospect-gegevens",
                &["LinkedIn-profielen", "24 maanden", "tot"],
            ),
            ("Cookies", &["Sessie-ID", "14 maanden"]),
            (
                "Mail-metadata",
                &["snippet ≤500 tekens", "7 dagen", "elke 1 dag opgeschoond"],
            ),
            (
                "Mail-bodies",
                &["Volledige inhoud van e-mails", "Nooit opgeslagen"],
            ),
            ("AI-conceptantwoorden", &["classifier-score", "30 dagen na"]),
            (
                "Schrijfstijl-profiel (opt-in)",
                &[
                    "Geaggregeerde features",
                    "tot het intrekken van de toestemming",
                ],
            ),
            (
                "WhatsApp-berichten",
                &["90 dagen", "klanten kunnen een eigen termijn instellen"],
            ),
            (
                "Telefoongesprek-transcripten",
                &["30 dagen", "klanten kunnen een eigen termijn instellen"],
            ),
            ("Agenda-events", &["deelnemers", "tot"]),
            ("Afgelaste afspraken", &["90 dagen"]),
            ("OAuth-tokens", &["Access- en refresh-tokens", "tot"]),
        ],
    );
    for (name, mechanism) in SUBPROCESSORS {
        let r = row(&md, name);
        assert!(
            r.contains(mechanism),
            "sub-processor `{name}` lacks `{mechanism}`:\n{r}"
        );
    }
    for purpose in [
        "Levering van de Dienst (mail/WhatsApp/voice)",
        "Auto-draft generatie (opt-in per koppeling)",
        "Schrijfstijl-leren (opt-in)",
        "Facturatie en boekhouding",
        "Beveiliging, fraudepreventie, audit-logs",
        "E-mailcontact bestaande klanten over Dienst",
        "Cold outreach (zakelijke prospects)",
        "Klant-supporttickets",
    ] {
        assert!(
            md.contains(&format!("### {purpose}")),
            "no section for purpose `{purpose}`"
        );
    }
    assert!(
        md.contains("Wij reageren binnen 1 maand"),
        "response period"
    );
    assert!(md.contains("ten hoogste 2 maanden"), "extension");
    assert!(md.contains("Autoriteit Persoonsgegevens"), "authority");
}

#[test]
fn jbsync_html_is_accessible_in_both_languages() {
    for lang in ["nl", "en"] {
        let html = stdout(&custos(&[
            "render",
            &seed("jbsync"),
            "--lang",
            lang,
            "--format",
            "html",
        ]));
        assert!(html.starts_with("<!doctype html>"));
        assert!(html.contains(&format!("<html lang=\"{lang}\">")));
        assert!(
            html.contains("<a class=\"skip\" href=\"#statement\">"),
            "skip link"
        );
        assert!(html.contains("<caption>"), "tables have captions");
        assert_eq!(html.matches("<h1>").count(), 1, "one top-level heading");
        assert!(!html.contains("<td></td><td></td>"), "no empty rows");
        for section in [
            "controller",
            "purposes",
            "categories",
            "recipients",
            "transfers",
            "security",
            "automated",
            "rights",
            "complaint",
            "breach",
            "changes",
        ] {
            assert!(
                html.contains(&format!(
                    "<section id=\"{section}\" aria-labelledby=\"h-{section}\">"
                )),
                "{lang}: section {section}"
            );
        }
    }
}

#[test]
fn the_version_names_the_commit_the_binary_was_built_from() {
    let o = custos(&["--version"]);
    assert_eq!(code(&o), 0);
    let line = stdout(&o);
    let expected_start = format!("custos {} (", env!("CARGO_PKG_VERSION"));
    assert!(line.starts_with(&expected_start), "{line}");
    let commit = line
        .trim_end()
        .strip_prefix(&expected_start)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no commit in {line:?}"));
    // Built from a git checkout (as here and in CI): the commit's first 12 hex digits, marked
    // `-dirty` when tracked files differed; `unknown` only outside a checkout.
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match head {
        Some(head) => assert!(
            commit == head || commit == format!("{head}-dirty"),
            "{commit} is not HEAD {head}"
        ),
        None => assert_eq!(commit, "unknown"),
    }
}

// ---- issue 22: a policy language for real statements, cookies, a checker a lawyer agrees with

/// The example policies written for issue 22 part 6 (a consumer webshop, a B2B SaaS).
const EXAMPLES: [&str; 2] = ["webshop", "saas"];

#[test]
fn check_on_the_webshop_and_saas_examples_matches_their_snapshots() {
    for name in EXAMPLES {
        let o = custos(&["check", &seed(name)]);
        assert_eq!(code(&o), 1, "{name}: {}{}", stdout(&o), stderr(&o));
        insta::assert_snapshot!(format!("check_{name}"), stdout(&o));
    }
}

#[test]
fn render_of_the_webshop_and_saas_examples_matches_their_snapshots_in_both_languages() {
    for name in EXAMPLES {
        for lang in ["nl", "en"] {
            let o = custos(&["render", "--lang", lang, &seed(name)]);
            assert_eq!(code(&o), 0, "{name} {lang}: {}", stderr(&o));
            insta::assert_snapshot!(format!("render_{name}_{lang}"), stdout(&o));
        }
    }
}

#[test]
fn several_legal_bases_are_a_finding_to_explain_not_invalid_toml() {
    let dir = scratch("bases");
    let f = write(
        &dir,
        "p.toml",
        CLEAN_POLICY.replace(
            "basis = \"contract\"\n",
            "basis = [\"consent\", \"contract\"]\nwithdraw = \"settings\"\n",
        ),
    );
    let o = custos(&["check", &f]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(!stderr(&o).contains("invalid TOML"), "{}", stderr(&o));
    assert!(stdout(&o).contains("error[C139]"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("law: Art. 13(1)(c), 5(1)(a) GDPR"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn render_json_gives_the_banner_each_cookie_with_its_consent_purpose() {
    let o = custos(&["render", "--format", "json", &seed("webshop")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    let cookies = json["cookies"].as_array().expect("cookies");
    let ga = cookies.iter().find(|c| c["id"] == "ga").expect("_ga");
    assert_eq!(ga["name"], "_ga");
    assert_eq!(ga["provider"], "Google Ireland Ltd.");
    assert_eq!(ga["type"], "analytics");
    assert_eq!(ga["consent_needed"], true);
    assert_eq!(ga["consent_purpose"], "analytics");
    let matomo = cookies
        .iter()
        .find(|c| c["id"] == "matomo")
        .expect("matomo");
    assert_eq!(
        matomo["consent_needed"], false,
        "Telecommunicatiewet art. 11.7a(3)(b)"
    );
    assert!(
        cookies
            .iter()
            .any(|c| c["id"] == "meta_pixel" && c["technology"] == "pixel")
    );
    assert_eq!(json["breach"]["financial_undertaking"], false);
}

#[test]
fn check_rules_documents_the_rules_of_issue_22_with_their_judgments() {
    let o = custos(&["check", "--rules"]);
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    for needle in [
        "C139",
        "C140",
        "C141",
        "C142",
        "C143",
        "C144",
        "C145",
        "C146",
        "C147",
        "C148",
        "C149",
        "C150",
        "C151",
        "C152",
        "C153",
        "CJEU C-673/17 Planet49",
        "CJEU C-311/18",
        "CJEU C-210/16",
        "WP260 rev.01 para. 48",
        "Telecommunicatiewet art. 11.7a",
        "UAVG art. 42",
    ] {
        assert!(out.contains(needle), "{needle} missing from\n{out}");
    }
}

#[test]
fn a_german_land_authority_and_any_authority_are_valid_complaint_routes() {
    let dir = scratch("authorities");
    let f = write(
        &dir,
        "p.toml",
        CLEAN_POLICY.replace(
            "[rights]\n",
            "[rights]\ncomplaint = [\"de-by-lda\", \"any\"]\n",
        ),
    );
    let o = custos(&["render", "--lang", "en", &f]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Bavarian Data Protection Authority"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("Any supervisory authority"),
        "{}",
        stdout(&o)
    );
}
