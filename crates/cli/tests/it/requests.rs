//! `custos request ...` as an operator runs it: the real binary on a real SQLite (and PostgreSQL)
//! vault filled through the library. Every kind runs file → code → verify → execute → show; the
//! list flags requests at risk and overdue; bad input exits 2 and names the flag, never the
//! subject; every step is in the audit trail under the operator, and the trail still verifies.

use std::process::Output;

use custos_vault::{SubjectId, TenantId};
use serde_json::Value;

use crate::scratch::{Scratch, err, out, policy, succeeded};

/// The person; no output or error may name them.
const WHO: &str = "klant@example.nl";
/// The moment taken as now (a Monday).
const NOW: &str = "2026-11-23T10:00:00Z";

impl Scratch {
    /// `custos request ARGS --tenant acme --now NOW`.
    fn req(&self, args: &[&str]) -> Output {
        let mut all = vec!["request"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--tenant", "acme", "--now", NOW]);
        let o = self.run(&all);
        assert!(
            !out(&o).contains(WHO) && !err(&o).contains(WHO),
            "`request {}` printed the subject's identifier:\n{}{}",
            args.first().unwrap_or(&""),
            out(&o),
            err(&o)
        );
        o
    }

    /// Files a request as JSON and returns its id.
    fn file(&self, kind: &str, extra: &[&str]) -> String {
        let mut args = vec!["file", "--kind", kind, "--subject", WHO, "--format", "json"];
        args.extend_from_slice(extra);
        let o = self.req(&args);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        let v = json(&o);
        v["request"]["request_id"]
            .as_str()
            .expect("a request id")
            .to_owned()
    }

    /// Issues a code and verifies with it.
    fn verify(&self, id: &str) {
        let o = self.req(&["code", id]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        let code = out(&o).trim().to_owned();
        assert_eq!(code.len(), 6, "six digits: {code}");
        let o = self.req(&["verify", id, "--code", &code]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        assert!(out(&o).contains("verified"), "{}", out(&o));
    }

    fn show(&self, id: &str) -> Value {
        let o = self.req(&["show", id, "--format", "json"]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        json(&o)
    }
}

fn acme() -> TenantId {
    TenantId::new("acme").expect("valid")
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(o)))
}

fn steps(detail: &Value) -> Vec<String> {
    detail["history"]
        .as_array()
        .expect("a history")
        .iter()
        .map(|h| h["step"].as_str().expect("a step").to_owned())
        .collect()
}

/// Every step of the request is in the audit trail under the operator, and the trail verifies.
fn audited(s: &Scratch, id: &str, action: &str) {
    let entries = s
        .vault()
        .tenant(&acme())
        .audit(&custos_audit::Query {
            action: Some(action.into()),
            limit: 1000,
            ..custos_audit::Query::default()
        })
        .expect("audit");
    assert!(
        entries
            .iter()
            .any(|e| e.details.contains(id) && e.actor == "operator:cli"),
        "`{action}` of {id} by operator:cli is in the trail: {entries:?}"
    );
    let o = s.run(&["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
}

// ---- every kind, end to end ---------------------------------------------------------------

/// File → code → verify → execute → show for an access or portability request.
fn answer_flow(s: &Scratch, kind: &str) {
    s.fill(WHO, &[("support", "support"), ("account", "service")]);
    let id = s.file(kind, &["--channel", "letter"]);
    // Art. 12(6): nothing is disclosed before identity is verified.
    let o = s.req(&["execute", &id, "--subject", WHO, "--out", "early.zip"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(err(&o).contains("Art. 12(6)"), "{}", err(&o));
    assert!(!s.dir.join("early.zip").exists());
    s.verify(&id);
    let o = s.req(&["execute", &id, "--subject", WHO, "--out", "answer.zip"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("completed"), "{}", out(&o));
    let zip = std::fs::read(s.dir.join("answer.zip")).expect("the answer is written");
    assert!(zip.starts_with(b"PK"), "a zip archive");
    assert!(!s.dir.join("answer.zip.partial").exists());
    let d = s.show(&id);
    assert_eq!(d["request"]["state"], "completed");
    assert_eq!(d["risk"], "closed");
    assert_eq!(d["request"]["detail"]["channel"], "letter");
    assert_eq!(
        steps(&d),
        [
            "received",
            "code_issued",
            "verified",
            "in_progress",
            "completed"
        ]
    );
    assert!(
        d["history"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["actor"] == "operator:cli")
    );
    audited(s, &id, "request.completed");
}

#[test]
fn an_access_request_runs_from_filing_to_the_answer_archive() {
    answer_flow(&Scratch::new("access"), "access");
}

#[test]
fn a_portability_request_runs_from_filing_to_the_answer_archive() {
    answer_flow(&Scratch::new("portability"), "portability");
}

#[test]
fn an_erasure_erases_keeps_what_a_law_keeps_and_tells_recipients() {
    erasure_flow(&Scratch::new("erasure"));
}

fn erasure_flow(s: &Scratch) {
    s.fill(WHO, &[("support", "support"), ("billing", "billing")]);
    let now: jiff::Timestamp = NOW.parse().unwrap();
    s.vault()
        .tenant(&acme())
        .record_disclosure(
            &policy(),
            &SubjectId::new(WHO).unwrap(),
            "stripe",
            &["billing".to_owned()],
            None,
            now,
            now,
        )
        .expect("disclosure recorded");
    let id = s.file("erasure", &[]);
    s.verify(&id);
    let o = s.req(&["execute", &id, "--subject", WHO]);
    let text = succeeded(&o);
    assert!(text.contains("erased 1 record "), "{text}");
    // Art. 17(3)(b): the invoice is kept under restriction, with the law and the date.
    assert!(text.contains("Art. 17(3)(b)"), "{text}");
    let kept = text
        .lines()
        .find(|l| l.contains("billing"))
        .unwrap_or_else(|| panic!("billing is kept: {text}"));
    assert!(kept.contains("Article 52 AWR"), "{kept}");
    assert!(kept.contains("2033-"), "kept until seven years on: {kept}");
    assert!(text.contains("stripe"), "recipients to be told: {text}");

    let o = s.req(&["show", &id]);
    let shown = succeeded(&o);
    let told = shown
        .split("recipients told (Art. 19)")
        .nth(1)
        .expect("a recipients section");
    assert!(told.contains("stripe"), "{shown}");
    assert!(told.contains("erasure"), "{shown}");
    let d = s.show(&id);
    assert_eq!(d["request"]["state"], "completed");
    assert_eq!(d["notifications"][0]["recipient"], "stripe");
    assert!(steps(&d).contains(&"recipients_notified".to_owned()));
    audited(s, &id, "request.completed");
}

#[test]
fn a_rectification_needs_a_note_and_records_it() {
    let s = Scratch::new("rectification");
    let ids = s.fill(WHO, &[("account", "service")]);
    let id = s.file("rectification", &[]);
    s.verify(&id);
    // `execute ID --subject WHO` and then `more`.
    let execute = |more: &[&str]| s.req(&[&["execute", &id, "--subject", WHO][..], more].concat());
    let o = execute(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(err(&o).contains("--note"), "{}", err(&o));
    // Art. 16: the request carries out the correction it describes.
    let o = execute(&["--note", "postal address corrected"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(err(&o).contains("corrections"), "{}", err(&o));
    let corrected = s.dir.join("corrected.json");
    std::fs::write(&corrected, br#"{"i": 9}"#).unwrap();
    let o = execute(&[
        "--note",
        "postal address corrected",
        "--correct",
        &format!("{}=@{}", ids[0].as_str(), corrected.display()),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("rectified: postal address corrected"));
    let d = s.show(&id);
    assert_eq!(
        d["request"]["detail"]["outcome"]["rectified"],
        "postal address corrected"
    );
    let mut v = s.vault();
    let r = v.tenant(&acme()).get(&ids[0]).unwrap();
    assert_eq!(&*r.payload, br#"{"i":9}"#);
    audited(&s, &id, "request.completed");
}

/// A restriction, objection or withdrawal sets its flag for the subject.
fn flag_flow(name: &str, kind: &str, purpose: Option<&str>, flag: &str) {
    let s = Scratch::new(name);
    s.fill(WHO, &[("support", "support")]);
    let id = match purpose {
        Some(p) => s.file(kind, &["--purpose", p]),
        None => s.file(kind, &[]),
    };
    s.verify(&id);
    let o = s.req(&["execute", &id, "--subject", WHO]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains(&format!("flag `{flag}` set")),
        "{}",
        out(&o)
    );
    let d = s.show(&id);
    assert_eq!(d["request"]["state"], "completed");
    assert_eq!(d["request"]["detail"]["outcome"]["flag"], flag);
    assert_eq!(
        steps(&d),
        [
            "received",
            "code_issued",
            "verified",
            "flag_set",
            "completed"
        ]
    );
    let flags = s
        .vault()
        .tenant(&acme())
        .subject_flags(&SubjectId::new(WHO).unwrap())
        .expect("flags");
    assert!(flags.iter().any(|f| f.flag == flag), "{flags:?}");
    audited(&s, &id, "request.flag_set");
}

#[test]
fn a_restriction_sets_the_restricted_flag() {
    flag_flow("restriction", "restriction", None, "restricted");
}

#[test]
fn an_objection_to_direct_marketing_sets_the_objected_flag() {
    flag_flow("objection", "objection", Some("customer_email"), "objected");
}

#[test]
fn a_withdrawal_of_consent_sets_the_withdrawn_flag() {
    flag_flow(
        "withdrawal",
        "withdrawal",
        Some("style_learning"),
        "withdrawn",
    );
}

// ---- intake, deadlines and the list -------------------------------------------------------

#[test]
fn filing_counts_the_deadline_and_a_second_open_request_is_a_duplicate() {
    let s = Scratch::new("duplicate");
    // Received Friday 2026-10-30; one month on is Monday 2026-11-30 (Reg. 1182/71 art. 3(2)(c)).
    let o = s.req(&[
        "file",
        "--kind",
        "access",
        "--subject",
        WHO,
        "--received",
        "2026-10-30",
    ]);
    let text = succeeded(&o);
    assert!(text.contains("due        2026-11-30"), "{text}");
    assert!(text.contains("duplicate  no"), "{text}");
    let first = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("request"))
        .expect("the id first")
        .trim()
        .to_owned();
    let o = s.req(&["file", "--kind", "access", "--subject", WHO]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains(&first), "{}", out(&o));
    assert!(out(&o).contains("duplicate  yes"), "{}", out(&o));
    assert_eq!(steps(&s.show(&first)), ["received", "duplicate"]);
    // Received 2026-04-14: one month on is Ascension Day (Thursday 14 May), so Friday 15 May;
    // when a decree equates that Friday to a holiday (Atw art. 3(3)), Monday 18 May.
    for (kind, equated, due) in [
        ("restriction", None, "2026-05-15"),
        ("erasure", Some("2026-05-15"), "2026-05-18"),
    ] {
        let mut args = vec![
            "file",
            "--kind",
            kind,
            "--subject",
            WHO,
            "--received",
            "2026-04-14",
        ];
        args.extend(equated.iter().flat_map(|d| ["--equated", d]));
        let o = s.req(&args);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        assert!(
            out(&o).contains(&format!("due        {due}")),
            "{kind}: {}",
            out(&o)
        );
    }
}

#[test]
fn the_list_orders_by_due_date_and_flags_requests_at_risk_and_overdue() {
    let s = Scratch::new("list");
    // Today is 2026-11-23. Received 2026-10-20: due 2026-11-20, overdue. Received 2026-10-27:
    // due 2026-11-27, within 7 days. Received today: due 2026-12-23, on track.
    let on_track = s.file("access", &[]);
    let overdue = s.file("erasure", &["--received", "2026-10-20"]);
    let at_risk = s.file("restriction", &["--received", "2026-10-27T09:00:00+01:00"]);
    let o = s.req(&["list"]);
    let text = succeeded(&o);
    let row = |id: &str| {
        text.lines()
            .position(|l| l.contains(id))
            .unwrap_or_else(|| panic!("{id} listed: {text}"))
    };
    assert!(row(&overdue) < row(&at_risk) && row(&at_risk) < row(&on_track));
    let line = |id: &str| text.lines().nth(row(id)).unwrap().to_owned();
    assert!(line(&overdue).contains("OVERDUE"), "{text}");
    assert!(line(&overdue).starts_with("2026-11-20"), "{text}");
    assert!(line(&at_risk).contains("AT RISK"), "{text}");
    assert!(line(&on_track).contains("on track"), "{text}");
    assert!(text.contains("3 open: 1 OVERDUE, 1 AT RISK"), "{text}");

    let o = s.req(&["list", "--format", "json"]);
    let risks: Vec<String> = json(&o)
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v["risk"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(risks, ["overdue", "at_risk", "on_track"]);

    // Closed requests only with --all.
    let o = s.req(&["refuse", &on_track, "--reason", "manifestly unfounded"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(!out(&s.req(&["list"])).contains(&on_track));
    let all = out(&s.req(&["list", "--all"]));
    assert!(
        all.lines()
            .any(|l| l.contains(&on_track) && l.contains("closed")),
        "{all}"
    );
}

#[test]
fn an_extension_is_taken_once_with_its_reason_and_a_refusal_names_the_right_to_complain() {
    let s = Scratch::new("extend");
    let id = s.file("access", &[]);
    let o = s.req(&["extend", &id, "--reason", "records in several systems"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    // Received 2026-11-23: three months on is Tuesday 2027-02-23.
    assert!(out(&o).contains("now due 2027-02-23"), "{}", out(&o));
    let o = s.req(&["extend", &id, "--reason", "again"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(err(&o).contains("already extended"), "{}", err(&o));
    let o = s.req(&["refuse", &id, "--reason", "manifestly unfounded"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("Art. 77"), "{}", out(&o));
    let o = s.req(&["refuse", &id, "--reason", "again"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let d = s.show(&id);
    assert_eq!(d["request"]["state"], "refused");
    assert_eq!(steps(&d), ["received", "extended", "refused"]);
    audited(&s, &id, "request.extended");
}

#[test]
fn an_extension_after_the_first_month_is_refused() {
    let s = Scratch::new("late");
    let id = s.file("access", &["--received", "2026-10-20"]);
    let o = s.req(&["extend", &id, "--reason", "busy"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(err(&o).contains("Art. 12(3)"), "{}", err(&o));
}

#[test]
fn a_wrong_code_is_bad_input_and_counts_an_attempt() {
    let s = Scratch::new("code");
    let id = s.file("access", &[]);
    let o = s.req(&["verify", &id, "--code", "123456"]);
    assert_eq!(o.status.code(), Some(1), "no code issued yet: {}", err(&o));
    let code = out(&s.req(&["code", &id])).trim().to_owned();
    let wrong = if code == "123456" { "654321" } else { "123456" };
    let o = s.req(&["verify", &id, "--code", wrong]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(err(&o).contains("--code"), "{}", err(&o));
    assert!(err(&o).contains("4 attempts left"), "{}", err(&o));
    let o = s.req(&["verify", &id, "--attested", "ID checked at the desk"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let d = s.show(&id);
    assert_eq!(
        d["request"]["detail"]["verified_by"],
        "ID checked at the desk"
    );
}

#[test]
fn bad_input_exits_2_naming_the_flag_and_never_the_subject() {
    let s = Scratch::new("bad");
    let id = s.file("erasure", &[]);
    let access = s.file("access", &[]);
    // `file --kind KIND --subject WHO` and then `more`.
    let file = |kind: &'static str, more: &[&'static str]| -> Vec<&'static str> {
        [&["file", "--kind", kind, "--subject", WHO][..], more].concat()
    };
    for (args, names) in [
        (file("forget-me", &[]), "--kind"),
        (file("withdrawal", &[]), "--purpose"),
        (file("objection", &["--purpose", "service"]), "--purpose"),
        (file("access", &["--received", "2027-01-01"]), "--received"),
        (
            file("access", &["--received", "last tuesday"]),
            "--received",
        ),
        (file("access", &["--equated", "15 May"]), "--equated"),
        (vec!["show", "not-an-id"], "request id"),
        (
            vec!["show", "0123456789abcdef0123456789abcdef"],
            "no request",
        ),
        (vec!["extend", &id, "--reason", " "], "--reason"),
        (vec!["verify", &id], "--code"),
        (
            vec!["execute", &id, "--subject", WHO, "--out", "x.zip"],
            "--out",
        ),
        (vec!["execute", &access, "--subject", WHO], "--out"),
        (
            vec!["execute", &id, "--subject", "someone-else@example.nl"],
            "--subject",
        ),
    ] {
        let o = s.req(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}{}", out(&o), err(&o));
        assert!(err(&o).contains(names), "{args:?}: {}", err(&o));
    }
    // Nothing changed: both requests are as filed.
    assert_eq!(steps(&s.show(&id)), ["received"]);
    assert_eq!(steps(&s.show(&access)), ["received"]);
}

// ---- PostgreSQL ---------------------------------------------------------------------------

#[test]
fn access_and_erasure_run_end_to_end_on_postgresql() {
    let (Some(access), Some(erasure)) = (
        Scratch::postgres("pg_access"),
        Scratch::postgres("pg_erasure"),
    ) else {
        eprintln!("CUSTOS_TEST_DATABASE_URL is not set; skipping");
        return;
    };
    answer_flow(&access, "access");
    erasure_flow(&erasure);
}
