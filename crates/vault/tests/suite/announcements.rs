//! Announcements of new sub-processors and material policy changes (issue 21), with the seeds'
//! own promises: JBSync tells customers "minstens 30 dagen vooraf" of a new sub-processor
//! (statement §7, Art. 28(2) GDPR; SCC 2021/915 clause 7.7(a) lets the customer object in that
//! time); Jet-Stream asks customers to accept a new statement at their next login. The time is an
//! argument throughout, so each case walks its own calendar.

use custos_vault::announcements::{AnnouncementError, EMAIL, MailRecorded, WEBHOOK};
use custos_vault::policy_fingerprint;

use crate::harness::{Backend, audit_entries, example_text, subject, tenant, ts};

/// A US speech-to-text sub-processor, the kind JBSync's §7 lists.
const ASSEMBLY: &str = "[[recipient]]\nid = \"assemblyai\"\nname = \"AssemblyAI Inc.\"\nkind = \"sub_processor\"\npurpose.nl = \"Spraaktranscriptie\"\npurpose.en = \"Speech-to-text\"\nlocations = [\"US\"]\ntransfer = [\"dpf\"]\ndpa = true\n\n";

const CONTACT: &str = "privacy@acme.example";

fn load(name: &str, text: &str) -> custos_policy::Policy {
    custos_policy::load_source(custos_policy::SourceFile::new(name, text))
        .expect("the policy loads")
        .policy
}

/// JBSync 2.0, and 2.1 with one more sub-processor in the US.
fn jbsync() -> (String, String) {
    let old = example_text("jbsync.toml");
    let new = old
        .replace("version = \"2.0\"", "version = \"2.1\"")
        .replacen("[[recipient]]\n", &format!("{ASSEMBLY}[[recipient]]\n"), 1);
    (old, new)
}

/// Publishes `old` at `t0` and `new` at `t1` (as two server starts would) and announces `new`.
fn publish(
    v: &mut custos_vault::Vault,
    (old, new): (&str, &str),
    t0: &str,
    t1: &str,
) -> Option<custos_vault::announcements::Announcement> {
    let (o, n) = (load("old.toml", old), load("new.toml", new));
    v.record_policy_version(o.meta.version.as_deref(), old, ts(t0))
        .unwrap();
    assert!(
        v.announce_published(&o, old, ts(t0)).unwrap().is_none(),
        "the first version has nothing before it to announce against"
    );
    v.record_policy_version(n.meta.version.as_deref(), new, ts(t1))
        .unwrap();
    v.announce_published(&n, new, ts(t1)).unwrap()
}

pub fn a_new_us_sub_processor_is_announced_once_with_thirty_days_notice_and_refused_until_then(
    b: &Backend,
) {
    let mut v = b.open();
    let (old, new) = jbsync();
    // acme asked to be e-mailed before the change was published.
    v.tenant(&tenant("acme"))
        .set_announcement_contacts(&[CONTACT.into()], ts("2026-05-01T00:00:00Z"))
        .unwrap();
    let a = publish(
        &mut v,
        (&old, &new),
        "2026-05-21T09:00:00Z",
        "2026-06-01T09:00:00Z",
    )
    .expect("a new sub-processor is announced");
    assert_eq!(a.new_recipients, ["assemblyai"]);
    assert_eq!(a.notice.as_deref(), Some("P30D"));
    assert_eq!(a.effective_at, ts("2026-07-01T09:00:00Z"), "30 days on");
    assert_eq!(a.old_version.as_deref(), Some("2.0"));
    assert_eq!(a.new_version.as_deref(), Some("2.1"));
    assert!(
        a.changes.iter().any(
            |c| c.what == "recipient `assemblyai` added, outside the EEA: US" && c.new_subprocessor
        ),
        "{:?}",
        a.changes
    );
    assert_eq!(a.old_fingerprint, policy_fingerprint(&old));
    // A restart with the same version announces nothing new.
    let again = v
        .announce_published(&load("new.toml", &new), &new, ts("2026-06-02T09:00:00Z"))
        .unwrap()
        .unwrap();
    assert_eq!(again, a, "idempotent by the pair of fingerprints");
    assert_eq!(v.announcements().unwrap().len(), 1);

    // Delivered to acme's contact by e-mail; no webhook, and that is on record too.
    let listed = v
        .tenant(&tenant("acme"))
        .announcements_for_tenant(ts("2026-06-01T10:00:00Z"))
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, "in_notice");
    let channels: Vec<(&str, &str, &str)> = listed[0]
        .deliveries
        .iter()
        .map(|d| (d.channel.as_str(), d.target.as_str(), d.state.as_str()))
        .collect();
    assert_eq!(
        channels,
        [(EMAIL, CONTACT, "pending"), (WEBHOOK, "", "not_configured")]
    );

    // Refused before the effective date, allowed from it.
    let board = v.announcement_board().unwrap();
    let refusal = board
        .recipient_refusal("acme", "assemblyai", ts("2026-06-30T23:59:59Z"))
        .expect("refused in the notice period");
    assert_eq!(refusal.rule(), "recipient.in_notice");
    assert!(refusal.detail().contains("2026-07-01T09:00:00Z"));
    assert!(
        board
            .recipient_refusal("acme", "assemblyai", ts("2026-07-01T09:00:00Z"))
            .is_none()
    );
    assert!(
        board
            .recipient_refusal("acme", "anthropic", ts("2026-06-02T00:00:00Z"))
            .is_none(),
        "a sub-processor published before is not held back"
    );
    // The publication and the queueing are audited, without the address.
    let mut acme = v.tenant(&tenant("acme"));
    let trail = audit_entries(&mut acme, None, 100);
    assert!(
        trail.iter().any(|e| e.action == "announcements.queued"),
        "queued is audited"
    );
    let text: String = trail.iter().map(|e| e.details.as_str()).collect();
    assert!(!text.contains(CONTACT), "no address in the trail: {text}");
}

pub fn an_objection_holds_for_the_objecting_tenant_only_and_closes_at_the_effective_date(
    b: &Backend,
) {
    let mut v = b.open();
    for t in ["acme", "globex"] {
        v.tenant(&tenant(t))
            .set_announcement_contacts(&[], ts("2026-05-01T00:00:00Z"))
            .unwrap();
    }
    let (old, new) = jbsync();
    let a = publish(
        &mut v,
        (&old, &new),
        "2026-05-21T09:00:00Z",
        "2026-06-01T09:00:00Z",
    )
    .unwrap();
    let id = a.announcement_id.as_str();
    let reason = "Onze klanten eisen verwerking binnen de EER";
    let (o, recorded) = v
        .tenant(&tenant("acme"))
        .acting_as("key_dpo")
        .object_to_announcement(id, reason, ts("2026-06-10T12:00:00Z"))
        .unwrap();
    assert!(recorded);
    assert_eq!((o.state, o.reason.as_str()), ("open", reason));
    let (_, again) = v
        .tenant(&tenant("acme"))
        .object_to_announcement(id, "nogmaals", ts("2026-06-11T12:00:00Z"))
        .unwrap();
    assert!(!again, "an open objection is not made twice");

    let board = v.announcement_board().unwrap();
    let after = ts("2026-07-15T00:00:00Z");
    assert_eq!(
        board
            .recipient_refusal("acme", "assemblyai", after)
            .map(|r| r.rule()),
        Some("recipient.objected"),
        "the objection holds after the effective date"
    );
    assert!(
        board
            .recipient_refusal("globex", "assemblyai", after)
            .is_none()
    );

    // After the effective date the time to object has passed.
    let late = v.tenant(&tenant("globex")).object_to_announcement(
        id,
        "te laat",
        ts("2026-07-01T09:00:00Z"),
    );
    match late {
        Err(e @ AnnouncementError::ObjectionClosed { .. }) => {
            assert_eq!(e.code().name(), "objection-closed");
            assert!(e.to_string().contains("2026-07-01T09:00:00Z"), "{e}");
        }
        other => panic!("expected objection-closed, got {other:?}"),
    }
    // An unknown announcement, and a reason left out.
    let unknown = v.tenant(&tenant("acme")).object_to_announcement(
        "ann_00000000000000000000",
        "x",
        ts("2026-06-10T00:00:00Z"),
    );
    assert_eq!(unknown.unwrap_err().code().name(), "announcement-not-found");
    let empty =
        v.tenant(&tenant("acme"))
            .object_to_announcement(id, "  ", ts("2026-06-10T00:00:00Z"));
    assert_eq!(empty.unwrap_err().code().name(), "reason-required");

    // The objection is audited with its length, never its text.
    let mut acme = v.tenant(&tenant("acme"));
    let trail = audit_entries(&mut acme, Some("announcements.objection"), 10);
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].actor, "key_dpo");
    let details: serde_json::Value = serde_json::from_str(&trail[0].details).unwrap();
    assert_eq!(details["reason_chars"], reason.chars().count());
    assert!(!trail[0].details.contains("EER"));

    // Withdrawn, the announcement applies to acme as to everyone.
    let w = acme
        .withdraw_objection(id, ts("2026-07-20T00:00:00Z"))
        .unwrap();
    assert_eq!(w.state, "withdrawn");
    assert!(
        v.announcement_board()
            .unwrap()
            .recipient_refusal("acme", "assemblyai", ts("2026-07-20T00:00:01Z"))
            .is_none()
    );
    assert_eq!(
        v.tenant(&tenant("acme"))
            .withdraw_objection(id, ts("2026-07-21T00:00:00Z"))
            .unwrap_err()
            .code()
            .name(),
        "announcement-not-found"
    );
}

pub fn a_failed_email_is_retried_and_recorded_then_dead_never_dropped(b: &Backend) {
    let mut v = b.open();
    let (old, new) = jbsync();
    // globex exists (it has a record of its consent settings) but has no contacts yet.
    v.tenant(&tenant("globex"))
        .set_announcement_contacts(&[], ts("2026-05-01T00:00:00Z"))
        .unwrap();
    let a = publish(
        &mut v,
        (&old, &new),
        "2026-05-21T09:00:00Z",
        "2026-06-01T09:00:00Z",
    )
    .unwrap();
    // Contacts given later, while the announcement is in its notice period, get it too.
    let mut g = v.tenant(&tenant("globex"));
    g.set_announcement_contacts(
        &["dpo@globex.example".into(), "DPO@globex.example".into()],
        ts("2026-06-05T00:00:00Z"),
    )
    .unwrap();
    let lease = jiff::SignedDuration::from_secs(300);
    let due = g
        .claim_announcement_mail(ts("2026-06-05T00:00:01Z"), 16, lease)
        .unwrap();
    assert_eq!(due.len(), 1, "duplicates dropped");
    assert_eq!(due[0].attempt, 1);
    assert_eq!(due[0].announcement.announcement_id, a.announcement_id);
    // The mail server is down: tried again later, with the reason on record.
    let retry_at = ts("2026-06-05T00:10:00Z");
    let r = g
        .record_announcement_mail(
            &due[0],
            Err((Some(retry_at), "connection refused".into())),
            ts("2026-06-05T00:00:02Z"),
        )
        .unwrap();
    assert_eq!(r, MailRecorded::Retry(retry_at));
    assert!(
        g.claim_announcement_mail(ts("2026-06-05T00:05:00Z"), 16, lease)
            .unwrap()
            .is_empty(),
        "not before its retry time"
    );
    let listed = g
        .announcements_for_tenant(ts("2026-06-05T00:05:00Z"))
        .unwrap();
    let mail = &listed[0].deliveries[0];
    assert_eq!(
        (mail.state.as_str(), mail.attempts),
        ("pending", 1),
        "{mail:?}"
    );
    assert_eq!(mail.last_error.as_deref(), Some("connection refused"));
    assert_eq!(mail.next_attempt_at, Some(retry_at));
    // The second attempt fails too and is the last: dead, listed with its error, audited.
    let due = g.claim_announcement_mail(retry_at, 16, lease).unwrap();
    assert_eq!(due[0].attempt, 2);
    let stale = due[0].clone();
    assert_eq!(
        g.record_announcement_mail(&due[0], Err((None, "connection refused".into())), retry_at)
            .unwrap(),
        MailRecorded::Dead
    );
    assert_eq!(
        g.record_announcement_mail(&stale, Ok(()), retry_at)
            .unwrap(),
        MailRecorded::Stale,
        "an outcome for a claim already recorded changes nothing"
    );
    let listed = g.announcements_for_tenant(retry_at).unwrap();
    assert_eq!(listed[0].deliveries[0].state, "dead");
    let trail = audit_entries(&mut g, Some("announcements.delivery"), 10);
    assert_eq!(trail.len(), 1);
    assert!(!trail[0].details.contains("globex.example"));
}

pub fn a_longer_contract_notice_moves_the_effective_date_for_that_tenant(b: &Backend) {
    let mut v = b.open();
    let (old, new) = jbsync();
    let mut acme = v.tenant(&tenant("acme"));
    acme.set_contract_notice(Some("60 days"), ts("2026-05-01T00:00:00Z"))
        .unwrap();
    assert!(
        acme.set_contract_notice(Some("soon"), ts("2026-05-01T00:00:00Z"))
            .is_err()
    );
    v.tenant(&tenant("globex"))
        .set_announcement_contacts(&[], ts("2026-05-01T00:00:00Z"))
        .unwrap();
    let a = publish(
        &mut v,
        (&old, &new),
        "2026-05-21T09:00:00Z",
        "2026-06-01T09:00:00Z",
    )
    .unwrap();
    let at = ts("2026-07-10T00:00:00Z");
    let listed = v
        .tenant(&tenant("acme"))
        .announcements_for_tenant(at)
        .unwrap();
    assert_eq!(listed[0].effective_for_tenant, ts("2026-07-31T09:00:00Z"));
    assert_eq!(listed[0].state, "in_notice");
    let board = v.announcement_board().unwrap();
    assert!(board.recipient_refusal("acme", "assemblyai", at).is_some());
    assert!(
        board
            .recipient_refusal("globex", "assemblyai", at)
            .is_none()
    );
    // acme may still object; globex may not.
    assert!(
        v.tenant(&tenant("acme"))
            .object_to_announcement(&a.announcement_id, "contract", at)
            .is_ok()
    );
    assert!(
        v.tenant(&tenant("globex"))
            .object_to_announcement(&a.announcement_id, "contract", at)
            .is_err()
    );
}

pub fn a_jet_stream_statement_to_accept_at_next_login_is_announced_and_must_accept_agrees(
    b: &Backend,
) {
    let mut v = b.open();
    let old = example_text("jetstream.toml");
    // 3.2: a reworded scope only; Jet-Stream asks every customer to accept each new version.
    let new = old
        .replace("version = \"3.1\"", "version = \"3.2\"")
        .replacen(
            "scope = \"The Jet-Stream",
            "scope = \"Since 3.2: the Jet-Stream",
            1,
        );
    assert_ne!(old, new);
    let a = publish(
        &mut v,
        (&old, &new),
        "2026-03-01T00:00:00Z",
        "2026-09-01T00:00:00Z",
    )
    .expect("a version customers must accept is announced");
    assert!(a.acceptance_at_next_login);
    assert_eq!(a.new_version.as_deref(), Some("3.2"));
    assert!(a.new_recipients.is_empty());
    assert_eq!(a.notice, None, "Jet-Stream sets no notice period");
    assert_eq!(a.effective_at, a.published_at);
    // The login screen's question agrees: the customer has not accepted 3.2 yet.
    let mut t = v.tenant(&tenant("jet"));
    let who = subject("klant-42");
    assert!(t.must_accept(&who, "3.2").unwrap());
    t.accept_statement(
        &who,
        "3.2",
        &"a".repeat(64),
        ts("2026-09-02T08:00:00Z"),
        "web",
        "login-screen",
        ts("2026-09-02T08:00:00Z"),
    )
    .unwrap();
    assert!(!t.must_accept(&who, "3.2").unwrap());
    // An editorial change under the same label is nothing to announce.
    let same_label = new.replacen("Since 3.2:", "Since version 3.2:", 1);
    let n = load("n.toml", &same_label);
    v.record_policy_version(Some("3.2"), &same_label, ts("2026-09-10T00:00:00Z"))
        .unwrap();
    assert!(
        v.announce_published(&n, &same_label, ts("2026-09-10T00:00:00Z"))
            .unwrap()
            .is_none()
    );
}
