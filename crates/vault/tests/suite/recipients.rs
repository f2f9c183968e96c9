//! Recipients told (Art. 19 GDPR): disclosures recorded against the policy's recipients,
//! webhooks, and the notifications outbox (queued with the change they tell about, claimed by
//! one worker at a time, retried, dead-lettered, retried from the dead-letter list), on both
//! backends.

use custos_audit::Query;
use custos_vault::recipients::{FailureOutcome, NO_WEBHOOK, NotificationState, WebhookSecret};
use custos_vault::{Vault, VaultError};
use jiff::{SignedDuration, Timestamp};

use crate::harness::{Backend, policy, subject, tenant, ts};

macro_rules! recipients_suite {
    ($($case:ident),* $(,)?) => {
        mod recipients_sqlite {
            $( #[test] fn $case() { super::$case(&crate::harness::Backend::sqlite(stringify!($case))); } )*
        }
        mod recipients_postgres {
            $( #[test] fn $case() {
                if let Some(b) = crate::harness::Backend::postgres(stringify!($case)) { super::$case(&b); }
            } )*
        }
    };
}

recipients_suite!(
    disclosures_are_recorded_per_recipient_and_audited_without_the_reference,
    an_undeclared_recipient_is_refused_with_the_nearest_declared_one,
    a_disclosure_without_categories_with_an_unknown_one_or_in_the_future_is_refused,
    every_recipient_that_received_the_data_is_notified_and_one_without_a_webhook_is_a_dead_letter,
    the_body_names_the_recipients_reference_and_categories_and_never_the_subject,
    a_failing_notification_is_retried_then_dead_then_retried_from_the_dead_letters_and_delivered,
    an_outcome_from_a_claim_that_was_taken_over_is_ignored,
    two_claimers_at_once_never_take_the_same_notification,
    a_tenant_sees_and_retries_only_its_own_notifications,
    a_webhook_is_replaced_not_duplicated_and_its_secret_is_neither_in_the_clear_nor_audited,
);

const NOW: &str = "2026-11-23T10:00:00Z";
const SECRET: &[u8] = b"whsec_0123456789abcdef0123456789";

fn cats(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn disclose(
    v: &mut Vault,
    t: &str,
    who: &str,
    recipient: &str,
    c: &[&str],
    reference: &str,
) -> custos_vault::recipients::Disclosure {
    v.tenant(&tenant(t))
        .record_disclosure(
            &policy(),
            &subject(who),
            recipient,
            &cats(c),
            Some(reference.to_owned()),
            ts("2026-11-01T09:00:00Z"),
            ts(NOW),
        )
        .expect("the disclosure is recorded")
}

/// The same for jan@example.nl in tenant acme.
fn disclose_jan(
    v: &mut Vault,
    recipient: &str,
    c: &[&str],
    reference: &str,
) -> custos_vault::recipients::Disclosure {
    disclose(v, "acme", "jan@example.nl", recipient, c, reference)
}

fn hook(v: &mut Vault, t: &str, recipient: &str, url: &str) {
    v.tenant(&tenant(t))
        .set_webhook(
            &policy(),
            recipient,
            url,
            &WebhookSecret::new(SECRET.to_vec()).expect("secret"),
            ts(NOW),
        )
        .expect("the webhook is set");
}

fn audit(v: &mut Vault, t: &str, action: &str) -> Vec<custos_audit::Entry> {
    v.tenant(&tenant(t))
        .audit(&Query {
            action: Some(action.to_owned()),
            limit: 1000,
            ..Query::default()
        })
        .expect("audit reads")
}

fn lease() -> SignedDuration {
    SignedDuration::from_secs(600)
}

pub fn disclosures_are_recorded_per_recipient_and_audited_without_the_reference(b: &Backend) {
    let mut v = b.open();
    let within = disclose_jan(&mut v, "anthropic", &["mail.body", "draft"], "ant-ref-1");
    assert!(within.outside_policy.is_empty(), "{within:?}");
    // JBSync's policy does not say Anthropic receives support tickets: recorded all the same
    // (Anthropic must be told of changes), and flagged for the DPO.
    let beyond = disclose_jan(&mut v, "anthropic", &["draft", "support"], "ant-ref-1");
    assert_eq!(beyond.outside_policy, ["support"]);
    disclose_jan(&mut v, "deepgram", &["call.audio"], "dg-77");
    disclose(
        &mut v,
        "acme",
        "piet@example.nl",
        "openai",
        &["draft"],
        "oa-1",
    );
    hook(
        &mut v,
        "acme",
        "anthropic",
        "https://hooks.anthropic.example/custos",
    );

    let got = v
        .tenant(&tenant("acme"))
        .recipients_of(&subject("jan@example.nl"))
        .expect("listed");
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].recipient, "anthropic");
    assert_eq!(got[0].categories, ["draft", "mail.body", "support"]);
    assert_eq!(got[0].disclosures, 2);
    assert!(got[0].has_webhook);
    assert_eq!(got[1].recipient, "deepgram");
    assert!(!got[1].has_webhook);
    assert!(
        v.tenant(&tenant("acme"))
            .recipients_of(&subject("nobody@example.nl"))
            .expect("listed")
            .is_empty()
    );

    let entries = audit(&mut v, "acme", "recipients.disclosed");
    assert_eq!(entries.len(), 4);
    let jan = v
        .tenant(&tenant("acme"))
        .pseudonym(&subject("jan@example.nl"));
    assert_eq!(entries[0].subject.as_deref(), Some(jan.as_str()));
    for e in &entries {
        assert!(
            !e.details.contains("ant-ref-1") && !e.details.contains("@example.nl"),
            "{}",
            e.details
        );
    }
}

pub fn an_undeclared_recipient_is_refused_with_the_nearest_declared_one(b: &Backend) {
    let mut v = b.open();
    let e = v
        .tenant(&tenant("acme"))
        .record_disclosure(
            &policy(),
            &subject("jan@example.nl"),
            "antropic",
            &cats(&["draft"]),
            None,
            ts(NOW),
            ts(NOW),
        )
        .expect_err("not declared");
    let msg = e.to_string();
    assert!(
        msg.contains("`antropic`") && msg.contains("did you mean `anthropic`?"),
        "{msg}"
    );
    let e = v
        .tenant(&tenant("acme"))
        .set_webhook(
            &policy(),
            "zzzzzz",
            "https://example.com/",
            &WebhookSecret::new(SECRET.to_vec()).unwrap(),
            ts(NOW),
        )
        .expect_err("not declared");
    assert!(matches!(e, VaultError::Recipient(_)), "{e}");
}

pub fn a_disclosure_without_categories_with_an_unknown_one_or_in_the_future_is_refused(
    b: &Backend,
) {
    let mut v = b.open();
    let p = policy();
    let mut t = v.tenant(&tenant("acme"));
    let jan = subject("jan@example.nl");
    let e = t
        .record_disclosure(&p, &jan, "anthropic", &[], None, ts(NOW), ts(NOW))
        .expect_err("no categories");
    assert!(e.to_string().contains("names no category"), "{e}");
    let e = t
        .record_disclosure(
            &p,
            &jan,
            "anthropic",
            &cats(&["draft", "drafts"]),
            None,
            ts(NOW),
            ts(NOW),
        )
        .expect_err("unknown category");
    assert!(
        matches!(e, VaultError::UnknownCategory { ref category } if category == "drafts"),
        "{e}"
    );
    let e = t
        .record_disclosure(
            &p,
            &jan,
            "anthropic",
            &cats(&["draft"]),
            None,
            ts("2026-11-23T11:00:00Z"),
            ts(NOW),
        )
        .expect_err("in the future");
    assert!(e.to_string().contains("after now"), "{e}");
    let e = t
        .record_disclosure(
            &p,
            &jan,
            "anthropic",
            &cats(&["draft"]),
            Some("a\u{0}b".into()),
            ts(NOW),
            ts(NOW),
        )
        .expect_err("control character");
    assert!(e.to_string().contains("control characters"), "{e}");
    assert!(
        t.recipients_of(&jan).expect("listed").is_empty(),
        "nothing was written"
    );
}

pub fn every_recipient_that_received_the_data_is_notified_and_one_without_a_webhook_is_a_dead_letter(
    b: &Backend,
) {
    let mut v = b.open();
    disclose_jan(&mut v, "anthropic", &["draft"], "ant-1");
    disclose_jan(&mut v, "anthropic", &["support"], "ant-1");
    disclose_jan(&mut v, "deepgram", &["call.audio"], "dg-1");
    disclose(
        &mut v,
        "acme",
        "piet@example.nl",
        "openai",
        &["draft"],
        "oa-1",
    );
    hook(&mut v, "acme", "anthropic", "https://a.example/hook");
    hook(&mut v, "acme", "openai", "https://o.example/hook");

    let told = v
        .tenant(&tenant("acme"))
        .notify_recipients(&subject("jan@example.nl"), "req_1", "erasure", ts(NOW))
        .expect("queued");
    assert_eq!(
        told,
        ["anthropic", "deepgram"],
        "one per distinct recipient; piet's openai is not told"
    );

    let history = v
        .tenant(&tenant("acme"))
        .notifications_of_request("req_1")
        .expect("listed");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].recipient, "anthropic");
    assert_eq!(history[0].state, NotificationState::Pending);
    assert_eq!(history[0].action, "erasure");
    assert_eq!(history[1].recipient, "deepgram");
    assert_eq!(history[1].state, NotificationState::Dead);
    assert_eq!(history[1].last_error.as_deref(), Some(NO_WEBHOOK));

    let dead = v.tenant(&tenant("acme")).dead_letters().expect("listed");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].recipient, "deepgram");

    let due = v
        .tenant(&tenant("acme"))
        .claim_due_notifications(ts(NOW), 10, lease())
        .expect("claimed");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].recipient, "anthropic");
    assert_eq!(due[0].url, "https://a.example/hook");
    assert_eq!(due[0].secret.expose(), SECRET);
    assert_eq!(due[0].attempt, 1);

    let e = v
        .tenant(&tenant("acme"))
        .notify_recipients(&subject("jan@example.nl"), "req_2", "deletion", ts(NOW))
        .expect_err("not an Art. 19 action");
    assert!(
        e.to_string()
            .contains("rectification, erasure or restriction"),
        "{e}"
    );
    let none = v
        .tenant(&tenant("acme"))
        .notify_recipients(
            &subject("nobody@example.nl"),
            "req_3",
            "rectification",
            ts(NOW),
        )
        .expect("nothing to queue");
    assert!(none.is_empty());
}

pub fn the_body_names_the_recipients_reference_and_categories_and_never_the_subject(b: &Backend) {
    let mut v = b.open();
    disclose_jan(&mut v, "anthropic", &["draft"], "ant-1");
    disclose_jan(&mut v, "anthropic", &["support"], "ant-2");
    hook(&mut v, "acme", "anthropic", "https://a.example/hook");
    v.tenant(&tenant("acme"))
        .notify_recipients(
            &subject("jan@example.nl"),
            "req_9",
            "rectification",
            ts(NOW),
        )
        .expect("queued");
    // The subject is erased right after: the body was written before.
    let due = v
        .tenant(&tenant("acme"))
        .claim_due_notifications(ts(NOW), 10, lease())
        .expect("claimed");
    let body: serde_json::Value = serde_json::from_str(&due[0].body).expect("JSON body");
    assert_eq!(body["type"], "custos.subject.rectification");
    assert_eq!(body["id"], due[0].notification_id.as_str());
    assert_eq!(body["request_id"], "req_9");
    assert_eq!(body["action"], "rectification");
    assert_eq!(body["recipient"], "anthropic");
    assert_eq!(
        body["subject_references"],
        serde_json::json!(["ant-1", "ant-2"])
    );
    assert_eq!(body["categories"], serde_json::json!(["draft", "support"]));
    assert_eq!(body["occurred_at"], "2026-11-23T10:00:00Z");
    let pseudonym = v
        .tenant(&tenant("acme"))
        .pseudonym(&subject("jan@example.nl"));
    assert!(!due[0].body.contains("jan@example.nl"));
    assert!(!due[0].body.contains(pseudonym.as_str()));
}

pub fn a_failing_notification_is_retried_then_dead_then_retried_from_the_dead_letters_and_delivered(
    b: &Backend,
) {
    let mut v = b.open();
    disclose_jan(&mut v, "anthropic", &["draft"], "ant-1");
    hook(&mut v, "acme", "anthropic", "http://127.0.0.1:9/down");
    v.tenant(&tenant("acme"))
        .notify_recipients(&subject("jan@example.nl"), "req_1", "erasure", ts(NOW))
        .expect("queued");
    let now = ts(NOW);
    let at = |s: i64| now + SignedDuration::from_secs(s);
    let mut t = v.tenant(&tenant("acme"));

    let d = t
        .claim_due_notifications(now, 10, lease())
        .expect("claimed");
    let id = d[0].notification_id.clone();
    assert_eq!(
        t.mark_failed(&id, 1, Some(at(30)), "connection refused", at(1))
            .expect("recorded"),
        FailureOutcome::Retry(at(30))
    );
    assert!(
        t.claim_due_notifications(at(29), 10, lease())
            .expect("none")
            .is_empty(),
        "not due before its retry"
    );
    let d = t
        .claim_due_notifications(at(30), 10, lease())
        .expect("claimed");
    assert_eq!(d[0].attempt, 2);
    assert_eq!(
        t.mark_failed(&id, 2, None, "HTTP 503", at(31))
            .expect("recorded"),
        FailureOutcome::Dead
    );
    assert!(
        t.claim_due_notifications(at(10_000), 10, lease())
            .expect("none")
            .is_empty(),
        "dead is not claimed"
    );
    let dead = t.dead_letters().expect("listed");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 2);
    assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 503"));

    let retried = t.retry_dead(&id, at(100)).expect("retried");
    assert_eq!(retried.state, NotificationState::Pending);
    assert_eq!(retried.attempts, 0);
    assert!(
        matches!(t.retry_dead(&id, at(100)), Err(VaultError::Recipient(_))),
        "only dead letters are retried"
    );
    let d = t
        .claim_due_notifications(at(100), 10, lease())
        .expect("claimed");
    assert_eq!(d[0].attempt, 1);
    assert!(t.mark_delivered(&id, at(101)).expect("recorded"));
    assert!(
        !t.mark_delivered(&id, at(102)).expect("idempotent"),
        "delivered once"
    );

    let history = t.notifications_of_request("req_1").expect("listed");
    assert_eq!(history[0].state, NotificationState::Delivered);
    assert_eq!(
        history[0].action, "erasure",
        "the record outlives the redacted body"
    );
    assert_eq!(history[0].delivered_at, Some(at(101)));
    assert!(t.dead_letters().expect("listed").is_empty());
    drop(t);
    for action in [
        "recipients.notification.dead",
        "recipients.notification.retried",
        "recipients.notification.delivered",
    ] {
        let e = audit(&mut v, "acme", action);
        assert_eq!(e.len(), 1, "{action}");
        assert!(e[0].details.contains(&id), "{}", e[0].details);
        assert!(!e[0].details.contains("ant-1"));
    }
}

pub fn an_outcome_from_a_claim_that_was_taken_over_is_ignored(b: &Backend) {
    let mut v = b.open();
    disclose_jan(&mut v, "anthropic", &["draft"], "ant-1");
    hook(&mut v, "acme", "anthropic", "https://a.example/hook");
    v.tenant(&tenant("acme"))
        .notify_recipients(&subject("jan@example.nl"), "req_1", "restriction", ts(NOW))
        .expect("queued");
    let now = ts(NOW);
    let mut t = v.tenant(&tenant("acme"));
    let first = t
        .claim_due_notifications(now, 10, SignedDuration::from_secs(60))
        .expect("claimed");
    assert!(
        t.claim_due_notifications(now + SignedDuration::from_secs(59), 10, lease())
            .expect("none")
            .is_empty(),
        "leased"
    );
    // The first worker hangs past its lease; a second one takes the notification over.
    let second = t
        .claim_due_notifications(now + SignedDuration::from_secs(61), 10, lease())
        .expect("claimed");
    assert_eq!(second[0].attempt, 2);
    let id = first[0].notification_id.clone();
    assert_eq!(
        t.mark_failed(
            &id,
            1,
            None,
            "timed out",
            now + SignedDuration::from_secs(62)
        )
        .expect("recorded"),
        FailureOutcome::Stale,
        "the stale worker cannot kill the notification"
    );
    assert!(t.dead_letters().expect("listed").is_empty());
}

pub fn two_claimers_at_once_never_take_the_same_notification(b: &Backend) {
    let mut v = b.open();
    let recipients = ["anthropic", "deepgram", "openai", "elevenlabs", "supabase"];
    for r in recipients {
        hook(&mut v, "acme", r, &format!("https://{r}.example/hook"));
    }
    let subjects = 30;
    for i in 0..subjects {
        let who = format!("s{i}@example.nl");
        for r in recipients {
            disclose(&mut v, "acme", &who, r, &["draft"], &format!("{r}-{i}"));
        }
        v.tenant(&tenant("acme"))
            .notify_recipients(&subject(&who), &format!("req_{i}"), "erasure", ts(NOW))
            .expect("queued");
    }
    drop(v);
    let total = subjects * recipients.len();
    let claimers: Vec<_> = (0..2)
        .map(|_| {
            let mut v = b.open();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                loop {
                    let got = v
                        .tenant(&tenant("acme"))
                        .claim_due_notifications(ts(NOW), 7, lease())
                        .expect("claimed");
                    if got.is_empty() {
                        break;
                    }
                    mine.extend(got.into_iter().map(|d| d.notification_id));
                }
                mine
            })
        })
        .collect();
    let results: Vec<Vec<String>> = claimers
        .into_iter()
        .map(|h| h.join().expect("claimer"))
        .collect();
    let mut all: Vec<&String> = results.iter().flatten().collect();
    let claimed = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), claimed, "no notification was claimed twice");
    assert_eq!(claimed, total, "none was skipped");
}

pub fn a_tenant_sees_and_retries_only_its_own_notifications(b: &Backend) {
    let mut v = b.open();
    disclose_jan(&mut v, "deepgram", &["call.audio"], "dg-1");
    v.tenant(&tenant("acme"))
        .notify_recipients(&subject("jan@example.nl"), "req_1", "erasure", ts(NOW))
        .expect("queued");
    let id = v.tenant(&tenant("acme")).dead_letters().expect("listed")[0]
        .notification_id
        .clone();
    let mut other = v.tenant(&tenant("globex"));
    assert!(other.dead_letters().expect("listed").is_empty());
    assert!(
        other
            .notifications_of_request("req_1")
            .expect("listed")
            .is_empty()
    );
    let e = other.retry_dead(&id, ts(NOW)).expect_err("not globex's");
    assert!(e.to_string().contains("no dead notification"), "{e}");
    assert!(
        other
            .claim_due_notifications(Timestamp::MAX, 10, lease())
            .expect("none")
            .is_empty()
    );
}

pub fn a_webhook_is_replaced_not_duplicated_and_its_secret_is_neither_in_the_clear_nor_audited(
    b: &Backend,
) {
    let mut v = b.open();
    hook(
        &mut v,
        "acme",
        "anthropic",
        "https://old.example/hook?token=abc",
    );
    hook(&mut v, "acme", "anthropic", "https://new.example/hook");
    let hooks = v.tenant(&tenant("acme")).webhooks().expect("listed");
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].url, "https://new.example/hook");
    let e = v
        .tenant(&tenant("acme"))
        .set_webhook(
            &policy(),
            "anthropic",
            "ftp://x.example/",
            &WebhookSecret::new(SECRET.to_vec()).unwrap(),
            ts(NOW),
        )
        .expect_err("not http");
    assert!(e.to_string().contains("http or https"), "{e}");
    let entries = audit(&mut v, "acme", "recipients.webhook.set");
    assert_eq!(entries.len(), 2);
    for e in &entries {
        assert!(
            !e.details.contains("token=abc") && !e.details.contains("whsec_"),
            "{}",
            e.details
        );
    }
    assert!(entries[0].details.contains("https://old.example"));
    assert!(
        !b.raw_contains(SECRET),
        "the webhook secret is stored encrypted, never as given"
    );
}
