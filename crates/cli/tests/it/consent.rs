//! `custos consent`, `custos approval` and `custos decide` as an operator runs them: the real
//! binary on a real SQLite vault, exit codes, output naming the flag (never the subject), and
//! the person who approved in the audit trail.

use custos_vault::TenantId;

use crate::scratch::{Scratch, err, out};

const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn entry<'a>(verb: &'a str, purpose: &'a str, at: &'a str, proof: &'a str) -> Vec<&'a str> {
    vec![
        "consent",
        verb,
        "--tenant",
        "acme",
        "--subject",
        "ann@example.com",
        "--purpose",
        purpose,
        "--at",
        at,
        "--notice-version",
        "2.0",
        "--notice-hash",
        HASH,
        "--channel",
        "paper",
        "--proof",
        proof,
    ]
}

#[test]
fn consent_is_granted_read_and_withdrawn_and_every_refusal_names_the_flag() {
    let s = Scratch::new("ledger");
    let o = s.run(&entry(
        "grant",
        "style_learning",
        "2026-05-01T10:00:00Z",
        "letter 114",
    ));
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        out(&o).contains("style_learning: granted 2026-05-01 10:00 (notice 2.0)"),
        "{}",
        out(&o)
    );

    let state = s.acme(
        &["consent", "state"],
        &["--subject", "ann@example.com", "--stale-version", "2.0"],
    );
    assert!(state.status.success(), "{}", err(&state));
    let line = out(&state)
        .lines()
        .find(|l| l.starts_with("style_learning"))
        .map(str::to_owned)
        .expect("style_learning listed");
    assert!(line.contains("STALE"), "{line}");

    let o = s.run(&entry(
        "withdraw",
        "style_learning",
        "2026-05-02T10:00:00Z",
        "call 7731",
    ));
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("withdrawn"), "{}", out(&o));

    for (args, flag) in [
        (
            entry(
                "withdraw",
                "style_learning",
                "2026-05-03T10:00:00Z",
                "call 7732",
            ),
            "withdraw:",
        ),
        (
            entry("grant", "billing", "2026-05-03T10:00:00Z", "letter 115"),
            "--purpose:",
        ),
        (
            entry(
                "grant",
                "style_lerning",
                "2026-05-03T10:00:00Z",
                "letter 115",
            ),
            "--purpose:",
        ),
        (
            entry(
                "grant",
                "style_learning",
                "2026-04-01T10:00:00Z",
                "letter 115",
            ),
            "--at:",
        ),
        (
            entry(
                "grant",
                "style_learning",
                "2026-05-03T10:00:00Z",
                "from 192.0.2.41",
            ),
            "--proof:",
        ),
    ] {
        let o = s.run(&args);
        assert_eq!(o.status.code(), Some(2), "{flag} {}", err(&o));
        assert!(err(&o).contains(flag), "{flag}: {}", err(&o));
        assert!(
            !err(&o).contains("ann@") && !err(&o).contains("192.0.2.41"),
            "{}",
            err(&o)
        );
    }

    let h = s.acme(
        &["consent", "history"],
        &["--subject", "ann@example.com", "--format", "json"],
    );
    assert!(h.status.success(), "{}", err(&h));
    let entries: serde_json::Value = serde_json::from_slice(&h.stdout).expect("JSON");
    let kinds: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["grant", "withdraw"], "refusals leave no trace");
}

#[test]
fn a_person_approves_from_the_command_line_and_the_token_is_good_for_one_send() {
    let s = Scratch::new("approvals");
    // JBSync's auto-drafts are opt-in; the app registered a draft for approval.
    let o = s.run(&entry(
        "grant",
        "auto_draft",
        "2026-05-01T10:00:00Z",
        "settings toggle",
    ));
    assert!(o.status.success(), "{}", err(&o));
    let id = {
        let mut v = s.vault();
        v.tenant(&TenantId::new("acme").unwrap())
            .acting_as("key:app")
            .request_approval(
                &crate::scratch::policy(),
                "draft.send",
                "draft-42",
                &custos_vault::SubjectId::new("ann@example.com").unwrap(),
                jiff::Timestamp::now(),
            )
            .expect("registered")
            .approval_id
    };
    let list = s.acme(&["approval", "list"], &[]);
    assert!(
        out(&list).contains(&id) && out(&list).contains("pending"),
        "{}",
        out(&list)
    );

    let decide = |token: Option<&str>| {
        let mut args = vec![
            "decide",
            "--tenant",
            "acme",
            "--subject",
            "ann@example.com",
            "--purpose",
            "auto_draft",
            "--category",
            "draft",
            "--action",
            "draft.send",
            "--item",
            "draft-42",
        ];
        if let Some(t) = token {
            args.extend(["--token", t]);
        }
        s.run(&args)
    };
    let o = decide(None);
    assert_eq!(
        o.status.code(),
        Some(1),
        "denied without approval: {}",
        out(&o)
    );
    assert!(out(&o).contains("approval.required"), "{}", out(&o));

    let o = s.acme(&["approval", "reject"], &[&id, "--by", "reviewer-7"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a rejection needs a reason: {}",
        err(&o)
    );
    assert!(err(&o).contains("--reason"), "{}", err(&o));
    let o = s.acme(
        &["approval", "approve"],
        &[&id, "--by", "reviewer-7", "--format", "json"],
    );
    assert!(o.status.success(), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["approval"]["decided_by"], "operator:reviewer-7");
    let token = v["token"].as_str().expect("a token").to_owned();
    let o = s.acme(&["approval", "approve"], &[&id]);
    assert_eq!(o.status.code(), Some(1), "decided before: {}", err(&o));
    assert!(err(&o).contains("already approved"), "{}", err(&o));

    let o = decide(Some(&token));
    assert!(o.status.success(), "one send: {}", out(&o));
    assert!(out(&o).starts_with("ALLOWED"), "{}", out(&o));
    let o = decide(Some(&token));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).contains("approval.token") && out(&o).contains("already used"),
        "{}",
        out(&o)
    );

    let mut v = s.vault();
    let trail = v
        .tenant(&TenantId::new("acme").unwrap())
        .audit(&custos_audit::Query {
            limit: 100,
            ..custos_audit::Query::default()
        })
        .expect("audit trail");
    let approved = trail
        .iter()
        .find(|e| e.action == "approval.approved")
        .expect("the approval is audited");
    assert_eq!(approved.actor, "operator:reviewer-7");
    assert!(
        trail.iter().all(|e| !e.details.contains(&token)),
        "the token is never audited"
    );
}
