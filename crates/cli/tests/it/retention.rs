//! `custos purge`, `event`, `hold` and `retention` as an operator runs them: the real binary on
//! a real SQLite (and PostgreSQL) vault filled through the library, exit codes, output, and the
//! audit trail still verifying afterwards, also after a purge killed halfway.

use custos_audit::Store as _;
use custos_vault::{NewRecord, SubjectId, TenantId, Vault};

use crate::scratch::{Scratch, err, out, policy};

fn years_ago(n: i64) -> jiff::Timestamp {
    jiff::Timestamp::now() - jiff::SignedDuration::from_hours(n * 366 * 24)
}

/// Stores `n` records of `category` for `tenant`, spread over `subjects` subjects.
fn fill(
    v: &mut Vault,
    tenant: &str,
    category: &str,
    purpose: &str,
    n: usize,
    subjects: usize,
    created: jiff::Timestamp,
) {
    let policy = policy();
    let tenant = TenantId::new(tenant).unwrap();
    let mut t = v.tenant(&tenant);
    let all: Vec<usize> = (0..n).collect();
    for chunk in all.chunks(5000) {
        let records = chunk
            .iter()
            .map(|i| NewRecord {
                subject: SubjectId::new(format!("s{}@example.nl", i % subjects)).unwrap(),
                category: category.into(),
                purposes: vec![purpose.into()],
                payload: b"{}".to_vec(),
                created_at: created,
                clocks: Default::default(),
            })
            .collect();
        t.put_batch(&policy, records, jiff::Timestamp::now())
            .expect("records stored");
    }
}

fn receipts_total(v: &mut Vault, tenant: &str) -> u64 {
    let mut total = 0;
    let mut after = 0;
    loop {
        let page = v
            .tenant(&TenantId::new(tenant).unwrap())
            .audit(&custos_audit::Query {
                action: Some("retention.purged".into()),
                after_seq: after,
                limit: 1000,
                ..custos_audit::Query::default()
            })
            .expect("audit");
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            assert!(e.subject.is_none(), "a receipt names no subject");
            let d: serde_json::Value = serde_json::from_str(&e.details).unwrap();
            total += d["records"].as_u64().expect("a count");
        }
    }
    total
}

fn verify(s: &Scratch) {
    let o = s.run(&["audit", "verify"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(
        out(&o).starts_with("intact:") || out(&o).starts_with("unsealed tail:"),
        "{}",
        out(&o)
    );
}

#[test]
fn purge_reports_what_is_due_then_deletes_it_and_the_trail_verifies() {
    purge_lifecycle(&Scratch::new("purge"));
}

#[test]
fn the_same_purge_works_on_postgresql() {
    match Scratch::postgres("pg_purge") {
        Some(s) => purge_lifecycle(&s),
        None => eprintln!("CUSTOS_TEST_DATABASE_URL is not set: skipping the PostgreSQL CLI test"),
    }
}

fn purge_lifecycle(s: &Scratch) {
    {
        let mut v = s.vault();
        fill(&mut v, "acme", "support", "support", 20, 20, years_ago(3));
        fill(
            &mut v,
            "globex",
            "usage_log",
            "security",
            3,
            3,
            years_ago(2),
        );
    }
    // Fresh records are not due.
    let mut v = s.vault();
    v.tenant(&TenantId::new("acme").unwrap())
        .put(
            &policy(),
            NewRecord {
                subject: SubjectId::new("new@example.nl").unwrap(),
                category: "support".into(),
                purposes: vec!["support".into()],
                payload: b"{}".to_vec(),
                created_at: jiff::Timestamp::now(),
                clocks: Default::default(),
            },
            jiff::Timestamp::now(),
        )
        .unwrap();
    drop(v);
    let held = s.acme(
        &["hold", "place"],
        &["--subject", "s0@example.nl", "--reason", "case 2026-4"],
    );
    assert!(held.status.success(), "{}", err(&held));
    assert!(
        out(&held).starts_with("placed legal hold hold_"),
        "{}",
        out(&held)
    );

    let dry = s.run(&["purge", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", err(&dry));
    let text = out(&dry);
    assert!(text.contains("tenant acme\ncategory"), "{text}");
    assert!(text.contains("tenant globex\n"), "{text}");
    let support = text
        .lines()
        .find(|l| l.starts_with("support "))
        .expect("a support row");
    let cells: Vec<&str> = support
        .split("  ")
        .filter(|c| !c.trim().is_empty())
        .collect();
    assert_eq!(cells[1].trim(), "24 months from created", "{support}");
    assert_eq!(cells[2].trim(), "19", "due: {support}");
    assert_eq!(cells[3].trim(), "1", "held: {support}");
    assert!(
        text.ends_with("dry run: 22 record(s) due, 1 held by legal holds; nothing was deleted\n"),
        "{text}"
    );
    assert!(
        err(&dry).is_empty(),
        "no progress when stderr is not a terminal"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&s.run(&["purge", "--dry-run", "--format", "json"]).stdout)
            .expect("JSON");
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["rules"].as_array().unwrap().len(), 2, "{json}");

    let only = s.run(&["purge", "--tenant", "globex"]);
    assert_eq!(only.status.code(), Some(0), "{}", err(&only));
    assert!(
        out(&only).contains("purged 3 record(s) in 1 batch(es)"),
        "{}",
        out(&only)
    );
    let real = s.run(&["purge", "--batch", "7"]);
    assert_eq!(real.status.code(), Some(0), "{}", err(&real));
    assert!(
        out(&real)
            .contains("purged 19 record(s) in 3 batch(es); 1 due record(s) held by legal holds"),
        "{}",
        out(&real)
    );
    let again = s.run(&["purge"]);
    assert!(
        out(&again).contains("purged 0 record(s)"),
        "{}",
        out(&again)
    );

    let report: serde_json::Value = serde_json::from_slice(
        &s.acme(&["retention", "report"], &["--format", "json"])
            .stdout,
    )
    .expect("report JSON");
    let support = report["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "support")
        .unwrap();
    assert_eq!(
        support["records"], 2,
        "the held one and the fresh one: {report}"
    );
    assert_eq!(support["held"], 1);
    assert!(report["last_purge"].is_string());
    let text = out(&s.acme(&["retention", "report"], &[]));
    assert!(text.contains("case 2026-4"), "the holds are listed: {text}");

    let mut v = s.vault();
    assert_eq!(receipts_total(&mut v, "acme"), 19);
    assert_eq!(receipts_total(&mut v, "globex"), 3);
    drop(v);
    verify(s);
    // A clock earlier than the last purge is refused for the tenant, by name.
    let back = s.run(&["purge", "--now", "2020-01-01T00:00:00Z"]);
    assert_eq!(back.status.code(), Some(1), "{}", out(&back));
    assert!(err(&back).contains("tenant `acme`"), "{}", err(&back));
    assert!(err(&back).contains("refusing to purge"), "{}", err(&back));
}

#[test]
fn events_holds_and_overrides_from_the_command_line() {
    let s = Scratch::new("commands");
    {
        let mut v = s.vault();
        fill(&mut v, "acme", "support", "support", 2, 2, years_ago(1));
    }
    let e = s.acme(&["event"], &["subscription.endd"]);
    assert_eq!(e.status.code(), Some(1));
    assert!(
        err(&e).contains("did you mean `subscription.ended`?"),
        "{}",
        err(&e)
    );
    let e = s.acme(&["event"], &["subscription.ended"]);
    assert!(e.status.success(), "{}", err(&e));
    assert!(
        out(&e).starts_with("recorded `subscription.ended`"),
        "{}",
        out(&e)
    );
    let e = s.acme(&["event"], &["subscription.ended"]);
    assert!(out(&e).contains("nothing changed"), "{}", out(&e));
    let e = s.acme(
        &["event"],
        &["account.deleted", "--subject", "s1@example.nl"],
    );
    assert!(e.status.success(), "{}", err(&e));
    let e = s.acme(
        &["event"],
        &[
            "draft.decided",
            "--record",
            "00000000000000000000000000000000",
        ],
    );
    assert_eq!(e.status.code(), Some(1));
    assert!(err(&e).contains("does not exist"), "{}", err(&e));
    let e = s.acme(
        &["event"],
        &["draft.decided", "--at", "2999-01-01T00:00:00Z"],
    );
    assert_eq!(e.status.code(), Some(1));
    assert!(err(&e).contains("after now"), "{}", err(&e));

    let o = s.acme(&["retention", "override"], &["whatsapp", "30 days"]);
    assert!(o.status.success(), "{}", err(&o));
    let o = s.acme(&["retention", "override"], &["support", "30 days"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("no tenant override"), "{}", err(&o));
    let o = s.acme(&["retention", "override"], &["whatsapp", "--clear"]);
    assert!(out(&o).contains("removed"), "{}{}", out(&o), err(&o));
    let o = s.acme(&["retention", "tier"], &["gold"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("tier `gold` is not declared"),
        "{}",
        err(&o)
    );

    let placed = out(&s.acme(
        &["hold", "place"],
        &["--category", "support", "--reason", "claim 9"],
    ));
    let hold_id = placed.split_whitespace().nth(3).unwrap().to_owned();
    let list = out(&s.acme(&["hold", "list"], &[]));
    assert!(
        list.contains(&hold_id) && list.contains("category support"),
        "{list}"
    );
    let r = s.acme(&["hold", "release"], &[&hold_id]);
    assert!(r.status.success(), "{}", err(&r));
    let r = s.acme(&["hold", "release"], &[&hold_id]);
    assert_eq!(r.status.code(), Some(1));
    assert!(err(&r).contains("no active legal hold"), "{}", err(&r));
    let all = out(&s.acme(&["hold", "list"], &["--all"]));
    assert!(all.contains(&hold_id), "{all}");
    assert!(out(&s.acme(&["hold", "list"], &[])).contains("no legal holds"));
    let bad = s.acme(&["hold", "place"], &["--reason", "x"]);
    assert_eq!(bad.status.code(), Some(2), "clap wants a target");

    let missing = s.run(&["purge", "--db", "nope.db"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(err(&missing).contains("custos init"), "{}", err(&missing));
    let unknown = s.run(&["purge", "--tenant", "nobody"]);
    assert_eq!(unknown.status.code(), Some(1));
    verify(&s);
}

/// A purge killed with SIGKILL between batches loses nothing and double-counts nothing: each
/// batch is one transaction with its receipt, so the re-run finishes the job and the receipts
/// add up to exactly the records deleted.
#[cfg(unix)]
#[test]
fn a_purge_killed_midway_finishes_on_the_next_run_with_receipts_adding_up() {
    const N: u64 = 50_000;
    let s = Scratch::new("killed");
    {
        let mut v = s.vault();
        fill(
            &mut v,
            "acme",
            "support",
            "support",
            N as usize,
            500,
            years_ago(3),
        );
    }
    let mut audit = custos_audit::SqliteStore::open(&s.dir.join("custos.db")).expect("trail");
    let mut child = s
        .command(&["purge", "--batch", "500"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("purge starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let receipts = audit
            .query(
                "acme",
                &custos_audit::Query {
                    action: Some("retention.purged".into()),
                    limit: 1000,
                    ..custos_audit::Query::default()
                },
            )
            .map(|r| r.len())
            .unwrap_or(0);
        if receipts >= 3 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the purge finished before it could be killed; make the data larger"
        );
        assert!(std::time::Instant::now() < deadline, "no batch was purged");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed, not finished: {status:?}");
    drop(audit);

    let mut v = s.vault();
    let before = receipts_total(&mut v, "acme");
    assert!(before > 0 && before < N, "killed midway: {before} purged");
    drop(v);

    let rerun = s.run(&["purge", "--batch", "500"]);
    assert_eq!(rerun.status.code(), Some(0), "{}", err(&rerun));
    assert!(
        out(&rerun).contains(&format!("purged {} record(s)", N - before)),
        "{}",
        out(&rerun)
    );
    let mut v = s.vault();
    assert_eq!(receipts_total(&mut v, "acme"), N, "the receipts add up");
    let report = v
        .tenant(&TenantId::new("acme").unwrap())
        .retention_report(&policy(), jiff::Timestamp::now())
        .unwrap();
    let support = report
        .categories
        .iter()
        .find(|c| c.category == "support")
        .unwrap();
    assert_eq!(support.records, 0, "every due record is gone");
    drop(v);
    verify(&s);
}
