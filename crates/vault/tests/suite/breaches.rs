//! The breach register on both backends: every version of a breach kept and audited by its
//! digest (never its text), a follow-up refused when written on a version it did not see, another
//! tenant's breach absent, and the query of who a breach affected counting subjects and records
//! by category and window, with those erased since, and leaving its trace in the audit trail.

use custos_breach::assess::Decision;
use custos_breach::record::{Answer, Breach, BreachId, Kind, Party, Told};
use custos_vault::VaultError;
use custos_vault::breach_letters::Outgoing;
use custos_vault::breaches::{BreachError, RegisterSettings};

use crate::harness::{Backend, audit_entries, policy, put, subject, tenant, ts};

/// A confidentiality breach the officer became aware of at `aware`, described as `what`.
fn breach(aware: &str, what: &str) -> Breach {
    let mut b = Breach::new(
        BreachId::new("0".repeat(32)).expect("an id"),
        Answer::person(ts(aware), "dpo"),
        Answer::person(vec![Kind::Confidentiality], "dpo"),
    );
    b.description = Some(Answer::person(what.to_owned(), "dpo"));
    b
}

/// Art. 33(4) and (5): the first record and its follow-up are both kept; the trail holds their
/// digests; a writer who did not see the newest version is refused; the deadline is 72 hours
/// from awareness (Art. 33(1)); a record that contradicts itself is refused field by field.
pub fn a_breach_keeps_every_version_and_is_audited_by_digest(b: &Backend) {
    let settings = RegisterSettings::default();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme")).acting_as("account:dpo-1");
    let first = breach("2026-11-02T08:00:00Z", "laptop of Ann de Vries stolen");
    let b1 = t
        .record_breach(first.clone(), &settings, ts("2026-11-02T09:00:00Z"))
        .expect("recorded");
    assert_eq!(b1.version, 1);
    assert_eq!(b1.deadline_at, ts("2026-11-05T08:00:00Z"));
    let id = b1.breach_id.clone();
    let second = breach("2026-11-02T08:00:00Z", "laptop stolen; disk encrypted");
    let b2 = t
        .update_breach(
            &id,
            1,
            second.clone(),
            &settings,
            ts("2026-11-03T09:00:00Z"),
        )
        .expect("follow-up");
    assert_eq!((b2.version, b2.opened_at), (2, b1.opened_at));
    let e = t
        .update_breach(&id, 1, first.clone(), &settings, ts("2026-11-03T10:00:00Z"))
        .expect_err("stale");
    assert!(
        matches!(e, VaultError::Breach(BreachError::Stale { current: 2, .. })),
        "{e}"
    );
    let versions = t.breach_versions(&id).expect("versions");
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(
        versions[0].entry().expect("entry").breach.description,
        first.description
    );
    assert_eq!(
        t.breach(&id)
            .expect("read")
            .entry()
            .expect("entry")
            .breach
            .description,
        second.description
    );
    // Aware in the future: refused, naming the field.
    let e = t
        .record_breach(
            breach("2026-12-01T00:00:00Z", "x"),
            &settings,
            ts("2026-11-03T10:00:00Z"),
        )
        .expect_err("in the future");
    match e {
        VaultError::InvalidBreach(found) => {
            assert!(found.iter().any(|i| i.field == "/aware_at"), "{found:?}")
        }
        other => panic!("{other}"),
    }
    let entries = audit_entries(&mut t, None, 100);
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"breach.recorded") && actions.contains(&"breach.updated"),
        "{actions:?}"
    );
    let text: String = entries.iter().map(|e| e.details.as_str()).collect();
    assert!(
        !text.contains("Ann de Vries"),
        "no record text in the trail"
    );
    assert!(text.contains("record_sha256"));
    // Another tenant has no such breach.
    let e = v
        .tenant(&tenant("globex"))
        .breach(&id)
        .expect_err("not globex's");
    assert!(matches!(e, VaultError::Breach(BreachError::NotFound(_))));
    assert!(
        v.tenant(&tenant("globex"))
            .breaches(true)
            .expect("list")
            .is_empty()
    );
}

/// A person decides on notifying; the breach stays open until those the decision names were
/// told, then closes in the register.
pub fn a_decided_breach_closes_once_those_it_names_were_told(b: &Backend) {
    let settings = RegisterSettings::default();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let now = ts("2026-11-02T09:00:00Z");
    let b1 = t
        .record_breach(
            breach("2026-11-02T08:00:00Z", "mail to the wrong customer"),
            &settings,
            now,
        )
        .expect("recorded");
    let id = b1.breach_id.clone();
    let decision = Decision {
        notify_authority: true,
        notify_subjects: false,
        reasons: "one customer's order details to one other customer, who deleted them".into(),
        by: "dpo".into(),
        at: ts("2026-11-02T10:00:00Z"),
    };
    let b2 = t
        .decide_breach(
            &id,
            1,
            decision.clone(),
            &settings,
            ts("2026-11-02T10:00:00Z"),
        )
        .expect("decided");
    assert!(b2.closed_at.is_none(), "the authority is not told yet");
    let mut told = b2.entry().expect("entry").breach;
    told.told.push(Told {
        party: Party::Authority {
            name: "Autoriteit Persoonsgegevens".into(),
        },
        at: ts("2026-11-03T08:00:00Z"),
        reference: Some("AP-2026-1".into()),
        source: custos_breach::record::Source::Person {
            actor: "dpo".into(),
        },
    });
    let b3 = t
        .update_breach(&id, 2, told, &settings, ts("2026-11-03T09:00:00Z"))
        .expect("told");
    assert_eq!(b3.authority_notified_at, Some(ts("2026-11-03T08:00:00Z")));
    assert!(b3.closed_at.is_some(), "closed once the authority was told");
    assert_eq!(b3.entry().expect("entry").decision, Some(decision));
    assert!(t.breaches(false).expect("open ones").is_empty());
    assert_eq!(t.breaches(true).expect("all").len(), 1);
}

/// Art. 33(3)(a), 34(3)(a): the counts of a breach of the `account` and `billing` categories
/// during October: records stored by the window's end, each subject once, the subject erased
/// since counted apart, everything encrypted at rest; the query is in the trail.
pub fn the_affected_query_counts_by_category_and_window_and_those_erased_since(b: &Backend) {
    let p = policy();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme"));
    let before = ts("2026-09-15T10:00:00Z");
    put(&mut t, &p, "a@example.test", "account", "service", before);
    put(&mut t, &p, "a@example.test", "billing", "billing", before);
    put(&mut t, &p, "b@example.test", "account", "service", before);
    put(
        &mut t,
        &p,
        "c@example.test",
        "account",
        "service",
        ts("2026-11-20T10:00:00Z"),
    );
    put(&mut t, &p, "d@example.test", "account", "service", before);
    t.erase_subject(&subject("d@example.test"), ts("2026-10-20T10:00:00Z"))
        .expect("erased");
    let cats = vec!["account".to_owned(), "billing".to_owned()];
    let got = t
        .breach_affected(
            None,
            &cats,
            ts("2026-10-01T00:00:00Z"),
            ts("2026-10-31T23:59:59Z"),
            ts("2026-11-02T09:00:00Z"),
        )
        .expect("counted");
    assert_eq!(
        (got.subjects, got.records),
        (2, 3),
        "a and b; c came after the window"
    );
    assert_eq!(got.erased_since, 1, "d was there in October");
    assert_eq!(got.per_category[0].category, "account");
    assert_eq!(
        (got.per_category[0].records, got.per_category[0].subjects),
        (2, 2)
    );
    assert_eq!(
        (got.per_category[1].records, got.per_category[1].subjects),
        (1, 1)
    );
    assert!(got.encrypted_at_rest);
    let entries = audit_entries(&mut t, Some("breach.affected_queried"), 10);
    assert_eq!(entries.len(), 1);
    let details: serde_json::Value = serde_json::from_str(&entries[0].details).expect("JSON");
    assert_eq!(details["result_sha256"], got.digest.as_str());
}

/// A decided breach whose people are to be told (Art. 34(1)): version 2 of a new breach.
fn decided_to_tell(
    t: &mut custos_vault::TenantVault<'_>,
    settings: &RegisterSettings,
    notify_subjects: bool,
) -> String {
    let b1 = t
        .record_breach(
            breach(
                "2026-11-02T08:00:00Z",
                "customer passwords read by an intruder",
            ),
            settings,
            ts("2026-11-02T09:00:00Z"),
        )
        .expect("recorded");
    let decision = Decision {
        notify_authority: true,
        notify_subjects,
        reasons: "passwords in clear text: high risk for the customers".into(),
        by: "dpo".into(),
        at: ts("2026-11-02T10:00:00Z"),
    };
    t.decide_breach(
        &b1.breach_id,
        1,
        decision,
        settings,
        ts("2026-11-02T10:00:00Z"),
    )
    .expect("decided");
    b1.breach_id
}

fn letter(body: &str) -> Outgoing {
    Outgoing {
        lang: "nl".into(),
        subject: "Datalek bij Acme: uw gegevens".into(),
        body: body.into(),
    }
}

/// Art. 34(1): letters leave only once a person decided the people are to be told; each address
/// is told once per breach; the record keeps a digest of each address, never the address, and
/// forgets the sealed address once the letter is delivered; a failure is retried, then dead,
/// each on record.
pub fn letters_to_the_people_affected_are_told_once_and_keep_no_address(b: &Backend) {
    use custos_vault::breach_letters::LetterRecorded;
    let settings = RegisterSettings::default();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("acme")).acting_as("account:dpo-1");
    let undecided = decided_to_tell(&mut t, &settings, false);
    let e = t
        .queue_subject_letters(
            &undecided,
            &letter("x"),
            &["ann@example.test".into()],
            ts("2026-11-02T11:00:00Z"),
        )
        .expect_err("not decided to tell");
    assert!(
        e.to_string().contains("Art. 34(1)") || format!("{e:?}").contains("Art. 34(1)"),
        "{e:?}"
    );
    let id = decided_to_tell(&mut t, &settings, true);
    let e = t
        .queue_subject_letters(
            &id,
            &letter("x"),
            &["ann@example.test".into(), "not an address".into()],
            ts("2026-11-02T11:00:00Z"),
        )
        .expect_err("a bad address");
    assert!(format!("{e:?}").contains("/addresses/1"), "{e:?}");
    let q = t
        .queue_subject_letters(
            &id,
            &letter("Wij melden u een datalek."),
            &["ann@example.test".into(), "bob@example.test".into()],
            ts("2026-11-02T11:00:00Z"),
        )
        .expect("queued");
    assert_eq!((q.queued, q.already), (2, 0));
    // Ann again (her address in other letters), Carl new: Ann is not told twice.
    let q2 = t
        .queue_subject_letters(
            &id,
            &letter("Wij melden u een datalek."),
            &["ANN@example.test".into(), "carl@example.test".into()],
            ts("2026-11-02T11:05:00Z"),
        )
        .expect("queued");
    assert_eq!(
        (q2.queued, q2.already, q2.letter_id.as_str()),
        (1, 1, q.letter_id.as_str())
    );
    let lease = jiff::SignedDuration::from_secs(300);
    let due = t
        .claim_breach_mail(ts("2026-11-02T11:06:00Z"), 16, lease)
        .expect("claimed");
    let mut to: Vec<&str> = due.iter().map(|d| d.to.as_str()).collect();
    to.sort();
    assert_eq!(
        to,
        ["ann@example.test", "bob@example.test", "carl@example.test"]
    );
    assert!(
        t.claim_breach_mail(ts("2026-11-02T11:07:00Z"), 16, lease)
            .expect("none")
            .is_empty(),
        "leased"
    );
    let now = ts("2026-11-02T11:08:00Z");
    for d in &due {
        let outcome = if d.to.starts_with("bob") {
            Err((
                Some(ts("2026-11-02T11:30:00Z")),
                "451 4.4.1 try again later".to_owned(),
            ))
        } else if d.to.starts_with("carl") {
            Err((None, "550 5.1.1 no such mailbox".to_owned()))
        } else {
            Ok(())
        };
        let r = t.record_breach_mail(d, outcome, now).expect("recorded");
        assert_ne!(r, LetterRecorded::Stale);
    }
    let retry = t
        .claim_breach_mail(ts("2026-11-02T11:31:00Z"), 16, lease)
        .expect("retry");
    assert_eq!(
        retry
            .iter()
            .map(|d| (d.to.as_str(), d.attempt))
            .collect::<Vec<_>>(),
        [("bob@example.test", 2)]
    );
    let letters = t.breach_letters(&id).expect("letters");
    assert_eq!(letters.len(), 1);
    let l = &letters[0];
    assert_eq!(l.counts.get("delivered"), Some(&1));
    assert_eq!(l.counts.get("dead"), Some(&1));
    assert_eq!(l.counts.get("pending"), Some(&1));
    assert!(
        l.deliveries
            .iter()
            .all(|d| d.target.len() == 32 && !d.target.contains('@'))
    );
    let dead = l
        .deliveries
        .iter()
        .find(|d| d.state == "dead")
        .expect("dead listed");
    assert!(
        dead.last_error
            .as_deref()
            .is_some_and(|e| e.contains("5.1.1"))
    );
    // Nothing personal in the trail: digests and counts.
    let trail = audit_entries(&mut t, None, 200);
    assert!(trail.iter().any(|e| e.action == "breach.letters_queued"));
    assert!(trail.iter().any(|e| e.action == "breach.letter_delivery"));
    assert!(
        trail.iter().all(|e| !e.details.contains("example.test")),
        "no address in the trail"
    );
}

/// Art. 33(2) with Clause 9.2 of Decision (EU) 2021/915: a processor's notice lands in the
/// controller-tenant's register as a breach of its own, aware from the notice, queued by e-mail
/// to each contact and by webhook to the application; the same reference again tells no one
/// twice; a tenant without contacts or webhook has that on record.
pub fn a_processors_notice_lands_in_the_controllers_register_once(b: &Backend) {
    let settings = RegisterSettings::default();
    let mut v = b.open();
    let secret = custos_vault::recipients::WebhookSecret::new(*b"sixteen bytes or more").unwrap();
    let now = ts("2026-11-03T09:00:00Z");
    {
        let mut a = v.tenant(&tenant("acme")).acting_as("admin:1");
        a.set_announcement_contacts(
            &["privacy@acme.example".into(), "it@acme.example".into()],
            now,
        )
        .expect("contacts");
        a.set_app_webhook("https://app.acme.example/custos", &secret, now)
            .expect("hook");
    }
    let facts = breach(
        "2026-11-02T08:00:00Z",
        "a backup of the mail store was readable from the internet",
    );
    let mut theirs = facts.clone();
    theirs.aware_at = Answer::custos(now, "the processor's notice JB-7 reached this register");
    let notice = Outgoing {
        lang: "en".into(),
        subject: "Personal data breach notice from processor JBSync (JB-7)".into(),
        body: "Your data subjects affected: 2; records: 3.".into(),
    };
    let mut a = v.tenant(&tenant("acme")).acting_as("admin:1");
    let r = a
        .receive_processor_notice("JB-7", theirs.clone(), &notice, &settings, now)
        .expect("received");
    assert!(r.new);
    assert_eq!(r.queued.queued, 3, "two contacts and the webhook");
    assert_eq!(r.breach.aware_at, now);
    assert_eq!(
        r.breach.deadline_at,
        ts("2026-11-06T09:00:00Z"),
        "72 hours from the notice"
    );
    let again = a
        .receive_processor_notice(
            "JB-7",
            theirs.clone(),
            &notice,
            &settings,
            ts("2026-11-03T09:05:00Z"),
        )
        .expect("again");
    assert!(!again.new);
    assert_eq!(
        (again.breach.breach_id.as_str(), again.queued.queued),
        (r.breach.breach_id.as_str(), 0)
    );
    assert_eq!(
        a.breaches(true).expect("register").len(),
        1,
        "one breach, not two"
    );
    let letters = a.breach_letters(&r.breach.breach_id).expect("letters");
    assert_eq!(letters[0].reference.as_deref(), Some("JB-7"));
    let mut channels: Vec<(&str, &str)> = letters[0]
        .deliveries
        .iter()
        .map(|d| (d.channel.as_str(), d.state.as_str()))
        .collect();
    channels.sort();
    assert_eq!(
        channels,
        [
            ("email", "pending"),
            ("email", "pending"),
            ("webhook", "pending")
        ]
    );
    let hooks = a
        .claim_due_notifications(
            ts("2026-11-03T09:06:00Z"),
            16,
            jiff::SignedDuration::from_secs(60),
        )
        .expect("outbox");
    let body: serde_json::Value = serde_json::from_str(&hooks[0].body).expect("JSON");
    assert_eq!(
        (body["type"].as_str(), body["reference"].as_str()),
        (Some("breach.notice"), Some("JB-7"))
    );
    // Globex has no contacts and no webhook: that is on record, nothing is lost.
    let mut g = v.tenant(&tenant("globex")).acting_as("admin:1");
    let rg = g
        .receive_processor_notice("JB-7", theirs, &notice, &settings, now)
        .expect("received");
    assert_eq!(
        (rg.queued.queued, rg.queued.not_configured.clone()),
        (0, vec!["email", "webhook"])
    );
}

/// Art. 33(1): reminders 24, 6 and 1 hours before the deadline and once it passed, each once;
/// when several are due at once only the most urgent is sent; none once the authority was told
/// or a person decided not to notify it.
pub fn deadline_reminders_are_given_once_each_and_only_while_needed(b: &Backend) {
    let settings = RegisterSettings::default();
    let mut v = b.open();
    let secret = custos_vault::recipients::WebhookSecret::new(*b"sixteen bytes or more").unwrap();
    let mut t = v.tenant(&tenant("acme"));
    t.set_app_webhook(
        "https://app.acme.example/custos",
        &secret,
        ts("2026-11-02T09:00:00Z"),
    )
    .expect("hook");
    let open = t
        .record_breach(
            breach("2026-11-02T08:00:00Z", "stolen laptop"),
            &settings,
            ts("2026-11-02T09:00:00Z"),
        )
        .expect("recorded");
    let left = decided_to_tell(&mut t, &settings, false);
    let mut no = t
        .breach(&left)
        .expect("it")
        .entry()
        .expect("entry")
        .decision
        .expect("decided");
    no.notify_authority = false;
    no.reasons = "encrypted laptop, key safe: unlikely to result in a risk".into();
    t.decide_breach(&left, 2, no, &settings, ts("2026-11-02T11:00:00Z"))
        .expect("decided not to");
    let hours = [24, 6, 1];
    // Deadline 2026-11-05T08:00Z.
    assert!(
        t.remind_breach_deadlines(ts("2026-11-04T07:00:00Z"), &hours)
            .expect("none yet")
            .is_empty()
    );
    let r = t
        .remind_breach_deadlines(ts("2026-11-04T08:30:00Z"), &hours)
        .expect("24 h");
    assert_eq!(
        r.iter()
            .map(|r| (r.breach_id.as_str(), r.hours_before, r.webhook))
            .collect::<Vec<_>>(),
        [(open.breach_id.as_str(), 24, true)]
    );
    assert!(
        t.remind_breach_deadlines(ts("2026-11-04T09:00:00Z"), &hours)
            .expect("given")
            .is_empty(),
        "once"
    );
    // Custos was down from 24 to 30 minutes before: only the 1-hour reminder, the 6-hour one skipped.
    let r = t
        .remind_breach_deadlines(ts("2026-11-05T07:30:00Z"), &hours)
        .expect("1 h");
    assert_eq!(r.iter().map(|r| r.hours_before).collect::<Vec<_>>(), [1]);
    assert!(
        t.remind_breach_deadlines(ts("2026-11-05T07:45:00Z"), &hours)
            .expect("given")
            .is_empty()
    );
    let r = t
        .remind_breach_deadlines(ts("2026-11-05T08:00:01Z"), &hours)
        .expect("passed");
    assert_eq!(r.iter().map(|r| r.hours_before).collect::<Vec<_>>(), [0]);
    let outbox = t
        .claim_due_notifications(
            ts("2026-11-05T08:01:00Z"),
            16,
            jiff::SignedDuration::from_secs(60),
        )
        .expect("outbox");
    let kinds: Vec<serde_json::Value> = outbox
        .iter()
        .map(|n| serde_json::from_str(&n.body).expect("JSON"))
        .collect();
    assert_eq!(kinds.len(), 3);
    assert!(
        kinds
            .iter()
            .all(|k| k["type"] == "breach.deadline" && k["breach_id"] == open.breach_id.as_str())
    );
    assert_eq!(kinds.iter().filter(|k| k["passed"] == true).count(), 1);
}

/// Many servers over one PostgreSQL (issue 23): every server's timer gives the deadline
/// reminders. While one is giving a breach's reminder (its transaction holds the breach and has
/// written the reminder), another skips that breach instead of queueing the reminder again and
/// failing on its key once the first commits; the reminder is given once.
#[test]
fn a_reminder_another_server_is_giving_is_skipped_not_failed() {
    let Some(b) = Backend::postgres("reminder_race") else {
        return;
    };
    let settings = RegisterSettings::default();
    let open = b
        .open()
        .tenant(&tenant("acme"))
        .record_breach(
            breach("2026-11-02T08:00:00Z", "stolen laptop"),
            &settings,
            ts("2026-11-02T09:00:00Z"),
        )
        .expect("recorded");
    let id = open.breach_id.to_string();
    // The other server, mid-reminder.
    let mut other = b.pg_as_tenant("acme");
    let mut tx = other.transaction().expect("a transaction");
    tx.query(
        "SELECT 1 FROM breaches WHERE tenant_id = 'acme' AND breach_id = $1 FOR UPDATE",
        &[&id],
    )
    .expect("holds the breach");
    tx.execute(
        "INSERT INTO breach_reminders (tenant_id, breach_id, hours_before, sent_at, notification_id) VALUES ('acme', $1, 24, 0, NULL)",
        &[&id],
    )
    .expect("writes its reminder");
    let mut v = b.open();
    let racing = std::thread::spawn(move || {
        v.tenant(&tenant("acme"))
            .remind_breach_deadlines(ts("2026-11-04T08:30:00Z"), &[24, 6, 1])
            .map(|r| r.len())
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    tx.commit().expect("the other server commits");
    assert_eq!(
        racing.join().expect("the thread").expect("no failure"),
        0,
        "the breach another server holds is skipped"
    );
    assert!(
        b.open()
            .tenant(&tenant("acme"))
            .remind_breach_deadlines(ts("2026-11-04T08:31:00Z"), &[24, 6, 1])
            .expect("reminds")
            .is_empty(),
        "given once"
    );
}
