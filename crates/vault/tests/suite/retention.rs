//! Retention on stored records: the seed companies' promises, kept by the purge under a clock the
//! test controls, and the faults (overrides out of bounds, unknown events and records, late and
//! out-of-order events, a clock that goes back, a purge stopped halfway, legal holds).

use std::collections::BTreeMap;

use custos_policy::{Period, Policy, SourceFile};
use custos_vault::{
    EventTarget, HoldTarget, NewRecord, PurgeOptions, PurgeReport, RecordId, TenantVault, Vault,
    VaultError,
};
use jiff::{Timestamp, ToSpan};

use crate::harness::{Backend, example_text, put, record_for, subject, tenant, ts};

fn load(name: &str, text: &str) -> Policy {
    custos_policy::load_source(SourceFile::new(name, text))
        .expect("policy loads")
        .policy
}

/// `n` mail-metadata records (jbsync) of `subjects` inboxes, created on day 0, a minute apart
/// when `spread`.
fn mail_metadata(n: usize, subjects: usize, spread: bool) -> Vec<NewRecord> {
    (0..n)
        .map(|i| NewRecord {
            subject: subject(&format!("inbox-{}", i % subjects)),
            category: "mail.metadata".into(),
            purposes: vec!["service.client_data".into()],
            payload: vec![1; 16],
            created_at: if spread {
                day(0) + (i as i64).minutes()
            } else {
                day(0)
            },
            clocks: BTreeMap::new(),
        })
        .collect()
}

/// Stores `mail_metadata(n, subjects, spread)` under `policy`.
fn put_mail_metadata(
    t: &mut TenantVault<'_>,
    policy: &Policy,
    n: usize,
    subjects: usize,
    spread: bool,
) {
    t.put_batch(
        policy,
        mail_metadata(n, subjects, spread),
        jiff::Timestamp::now(),
    )
    .expect("records stored");
}

/// Stores a record of `who` in `category` for JBSync's `service.client_data`.
fn put_client_data(
    t: &mut TenantVault<'_>,
    policy: &Policy,
    who: &str,
    category: &str,
    created: Timestamp,
) -> RecordId {
    put(t, policy, who, category, "service.client_data", created)
}

/// A purge in batches of ten records.
fn purge_by_tens(t: &mut TenantVault<'_>, policy: &Policy, now: Timestamp) -> PurgeReport {
    let opts = PurgeOptions {
        batch_size: 10,
        ..PurgeOptions::default()
    };
    t.purge(policy, now, opts, &mut |_| {}).unwrap()
}

/// JBSync's policy with mail metadata kept 3 days instead of 7: a retention rule change.
fn jbsync_mail_metadata_three_days() -> Policy {
    let text = example_text("jbsync.toml").replace(
        "retention.period = \"7 days\"\nretention.purge_every",
        "retention.period = \"3 days\"\nretention.purge_every",
    );
    load("jbsync-v2.toml", &text)
}

/// Waits (PostgreSQL) until a statement starting with `statement` waits for a lock: another
/// transaction holds what it needs.
fn wait_until_blocked(b: &Backend, tenant: &str, statement: &str) {
    let mut watcher = b.pg_as_tenant(tenant);
    let pattern = format!("{statement}%");
    let started = std::time::Instant::now();
    loop {
        let waiting: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.query LIKE $1",
                &[&pattern],
            )
            .unwrap()
            .get(0);
        if waiting > 0 {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "`{statement}…` never waited for the other transaction"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A purge of `tenant` under `policy` at `now` on a connection of its own, in a thread; it
/// answers (records recomputed, records purged).
fn purge_in_thread(
    b: &Backend,
    tenant: &'static str,
    policy: Policy,
    now: Timestamp,
) -> std::thread::JoinHandle<(u64, u64)> {
    let config = b.config.clone();
    std::thread::spawn(move || {
        let mut v = Vault::open(&config, crate::harness::master()).unwrap();
        let r = purge(&mut v, tenant, &policy, now);
        (r.recomputed, r.purged())
    })
}

/// `mail_metadata(n, subjects, spread)` stored in tenant `ten` under JBSync's rules, with the
/// rules' fingerprint stored by a purge on day 4 that finds nothing due.
fn stored_under_jbsync(b: &Backend, ten: &str, n: usize, subjects: usize, spread: bool) {
    let old = jbsync();
    let mut v = b.open();
    put_mail_metadata(&mut v.tenant(&tenant(ten)), &old, n, subjects, spread);
    assert_eq!(purge(&mut v, ten, &old, day(4)).purged(), 0);
}

/// A purge under the changed rules `new` on day 4 in a thread (see `purge_in_thread`), once its
/// write of the recomputed expiries waits for another transaction.
fn recompute_waiting(
    b: &Backend,
    ten: &'static str,
    new: Policy,
) -> std::thread::JoinHandle<(u64, u64)> {
    let purger = purge_in_thread(b, ten, new, day(4));
    wait_until_blocked(b, ten, "UPDATE records SET expires_at");
    purger
}

fn jbsync() -> Policy {
    load("jbsync.toml", &example_text("jbsync.toml"))
}

fn jetstream() -> Policy {
    load("jetstream.toml", &example_text("jetstream.toml"))
}

/// JetLink's statement says telemetry is kept "according to subscription tier" without naming the
/// tiers; this variant declares two (as JetLink would once it publishes them) and a statutory
/// invoice category, to test tiers and statutory records that outlive the contract.
fn jetlink_with_tiers() -> Policy {
    let mut text = example_text("jetlink.toml");
    let marker = "[[category]]\nid = \"customer_data\"";
    assert!(
        text.contains(marker),
        "jetlink.toml still starts its categories with customer_data"
    );
    text = text.replacen(
        marker,
        &format!(
            "[[tier]]\nid = \"basic\"\nname = \"Basic\"\n\n[[tier]]\nid = \"pro\"\nname = \"Pro\"\n\n\
             [[category]]\nid = \"telemetry\"\nname = \"Telemetry\"\nsubjects = [\"platform_user\"]\n\
             retention.period = \"90 days\"\n\
             retention.tiers = [{{ tier = \"basic\", period = \"30 days\" }}, {{ tier = \"pro\", period = \"1 year\" }}]\n\
             retention.until = [\"relationship.terminated\"]\n\n\
             [[category]]\nid = \"invoice\"\nname = \"Invoices\"\nsubjects = [\"contact_person\"]\n\
             retention.period = \"7 years\"\nretention.statutory.law = \"Article 52 AWR\"\n\n{marker}"
        ),
        1,
    );
    let service = text
        .find("categories = [")
        .expect("a purpose lists categories");
    text.insert_str(
        service + "categories = [".len(),
        "\"telemetry\", \"invoice\", ",
    );
    load("jetlink-tiers.toml", &text)
}

fn purge(v: &mut Vault, t: &str, policy: &Policy, now: Timestamp) -> PurgeReport {
    v.tenant(&tenant(t))
        .purge(policy, now, PurgeOptions::default(), &mut |_| {})
        .expect("purge")
}

fn count(v: &mut Vault, t: &str, policy: &Policy, category: &str) -> u64 {
    v.tenant(&tenant(t))
        .retention_report(policy, ts("2026-01-01T00:00:00Z"))
        .expect("report")
        .categories
        .iter()
        .find(|c| c.category == category)
        .map_or(0, |c| c.records)
}

fn day(n: i64) -> Timestamp {
    ts("2026-01-01T00:00:00Z") + (n * 24).hours()
}

fn receipts(v: &mut Vault, t: &str) -> Vec<serde_json::Value> {
    v.tenant(&tenant(t))
        .audit(&custos_audit::Query {
            action: Some("retention.purged".into()),
            limit: 1000,
            ..custos_audit::Query::default()
        })
        .expect("audit")
        .into_iter()
        .map(|e| {
            assert!(e.subject.is_none(), "a receipt names no subject");
            serde_json::from_str(&e.details).expect("details are JSON")
        })
        .collect()
}

fn receipt_total(v: &mut Vault, t: &str) -> u64 {
    receipts(v, t)
        .iter()
        .map(|d| d["records"].as_u64().expect("count"))
        .sum()
}

/// JBSync: mail metadata 7 days rolling, purged daily; drafts 30 days after `draft.decided`;
/// WhatsApp 90 days by default and 30 for a customer that chose so; raw audio gone as soon as the
/// transcript exists.
pub fn jbsync_promises_hold_over_simulated_months(b: &Backend) {
    let policy = jbsync();
    let mut v = b.open();
    let (a, c) = ("kantoor-a", "kantoor-c");
    let mut draft = None;
    let mut audio = None;
    for d in 0..100 {
        let mut t = v.tenant(&tenant(a));
        put_client_data(
            &mut t,
            &policy,
            "inbox-1",
            "mail.metadata",
            day(d) + 10.hours(),
        );
        if d == 0 {
            draft = Some(put(
                &mut t,
                &policy,
                "inbox-1",
                "draft",
                "auto_draft",
                day(0),
            ));
            audio = Some(put_client_data(
                &mut t,
                &policy,
                "caller-1",
                "call.audio",
                day(0),
            ));
            put_client_data(&mut t, &policy, "chat-1", "whatsapp", day(0));
            let mut tc = v.tenant(&tenant(c));
            put_client_data(&mut tc, &policy, "chat-1", "whatsapp", day(0));
            // Customer C chose 30 days for WhatsApp.
            let o = tc
                .set_override(
                    &policy,
                    "whatsapp",
                    Some(Period::parse("30 days").unwrap()),
                    day(0),
                )
                .expect("override within bounds");
            assert_eq!(o.recomputed, 1);
        }
        if d == 2 {
            let mut t = v.tenant(&tenant(a));
            let r = t
                .record_event(
                    &policy,
                    &EventTarget::Record(audio.clone().unwrap()),
                    "transcript.created",
                    day(2) + 12.hours(),
                    day(2) + 12.hours(),
                )
                .expect("event");
            assert!(r.changed);
            // Period zero: gone at the moment of the event.
            purge(&mut v, a, &policy, day(2) + 12.hours());
            assert_eq!(
                count(&mut v, a, &policy, "call.audio"),
                0,
                "raw audio purged right after transcription"
            );
        }
        if d == 10 {
            v.tenant(&tenant(a))
                .record_event(
                    &policy,
                    &EventTarget::Record(draft.clone().unwrap()),
                    "draft.decided",
                    day(10),
                    day(10),
                )
                .expect("decided");
        }
        // The daily purge, at 02:00 the next day.
        let now = day(d + 1) + 2.hours();
        purge(&mut v, a, &policy, now);
        purge(&mut v, c, &policy, now);
        assert_eq!(
            count(&mut v, a, &policy, "mail.metadata"),
            (d as u64 + 1).min(7),
            "day {d}: exactly the last 7 days of mail metadata are kept"
        );
        let drafts = count(&mut v, a, &policy, "draft");
        assert_eq!(
            drafts,
            u64::from(d + 1 < 40),
            "day {d}: the draft goes 30 days after the decision (day 40)"
        );
        assert_eq!(
            count(&mut v, c, &policy, "whatsapp"),
            u64::from(d + 1 < 30),
            "day {d}: C's WhatsApp goes after 30 days"
        );
        assert_eq!(
            count(&mut v, a, &policy, "whatsapp"),
            u64::from(d + 1 < 90),
            "day {d}: A's WhatsApp goes after 90 days"
        );
    }
    // Every purge left receipts; together they account for every record purged.
    let r = receipts(&mut v, a);
    assert!(r.iter().any(|d| d["category"] == "mail.metadata"
        && d["rule"].as_str().unwrap().contains("7 days from created")));
    assert_eq!(
        receipt_total(&mut v, a),
        93 + 1 + 1 + 1,
        "mail metadata of days 0..92, the draft, the audio, WhatsApp"
    );
    let c_rules = receipts(&mut v, c);
    assert!(
        c_rules[0]["rule"]
            .as_str()
            .unwrap()
            .contains("tenant override"),
        "{c_rules:?}"
    );
    let verified = v.verify_audit().expect("verify");
    assert!(verified.unbroken().is_some(), "{verified:?}");
}

/// Jet-Stream: everything 3 months after the contract ends, administrative records 7 years.
pub fn jetstream_deletes_three_months_after_the_contract_but_keeps_administration_seven_years(
    b: &Backend,
) {
    let policy = jetstream();
    let mut v = b.open();
    let ten = "omroep-x";
    let mut t = v.tenant(&tenant(ten));
    let start = ts("2025-06-01T09:00:00Z");
    put(
        &mut t,
        &policy,
        "klant-1",
        "customer",
        "customer_service",
        start,
    );
    put(&mut t, &policy, "klant-1", "media", "media_hosting", start);
    put(
        &mut t,
        &policy,
        "klant-1",
        "support_contact",
        "support",
        start,
    );
    put(
        &mut t,
        &policy,
        "klant-1",
        "administrative_record",
        "administration",
        start,
    );
    // Until the contract ends nothing of it expires (access logs roll on their own).
    let report = t
        .retention_report(&policy, ts("2026-03-01T00:00:00Z"))
        .expect("report");
    let customer = report
        .categories
        .iter()
        .find(|c| c.category == "customer")
        .unwrap();
    assert_eq!((customer.records, customer.waiting), (1, 1));
    purge(&mut v, ten, &policy, ts("2026-03-01T00:00:00Z"));
    assert_eq!(count(&mut v, ten, &policy, "customer"), 1);
    // The contract ends on 15 March; the event is reported a week late.
    v.tenant(&tenant(ten))
        .record_event(
            &policy,
            &EventTarget::Tenant,
            "contract.ended",
            ts("2026-03-15T00:00:00Z"),
            ts("2026-03-22T00:00:00Z"),
        )
        .expect("contract ended");
    purge(&mut v, ten, &policy, ts("2026-06-14T23:59:59Z"));
    assert_eq!(
        count(&mut v, ten, &policy, "media"),
        1,
        "not before 3 months"
    );
    purge(&mut v, ten, &policy, ts("2026-06-15T00:00:00Z"));
    for c in ["customer", "media", "support_contact"] {
        assert_eq!(
            count(&mut v, ten, &policy, c),
            0,
            "{c} gone 3 months after the contract ended"
        );
    }
    assert_eq!(
        count(&mut v, ten, &policy, "administrative_record"),
        1,
        "statutory records outlive the contract"
    );
    purge(&mut v, ten, &policy, ts("2032-05-31T00:00:00Z"));
    assert_eq!(count(&mut v, ten, &policy, "administrative_record"), 1);
    purge(&mut v, ten, &policy, ts("2032-06-01T09:00:00Z"));
    assert_eq!(
        count(&mut v, ten, &policy, "administrative_record"),
        0,
        "gone after 7 years"
    );
}

/// JetLink: telemetry by subscription tier, everything 90 days after the relationship ends,
/// except statutory records.
pub fn jetlink_keeps_telemetry_by_tier_and_all_else_until_90_days_after_termination(b: &Backend) {
    let policy = jetlink_with_tiers();
    let mut v = b.open();
    let (basic, pro) = ("fabriek-basic", "fabriek-pro");
    for ten in [basic, pro] {
        let mut t = v.tenant(&tenant(ten));
        for d in 0..60 {
            put(
                &mut t,
                &policy,
                "operator-1",
                "telemetry",
                "platform_operation",
                day(d),
            );
        }
        put(
            &mut t,
            &policy,
            "operator-1",
            "user_account",
            "platform_operation",
            day(0),
        );
        put(
            &mut t,
            &policy,
            "contact-1",
            "invoice",
            "platform_operation",
            day(0),
        );
    }
    v.tenant(&tenant(basic))
        .set_tier(&policy, "basic", day(0), day(0))
        .expect("tier");
    v.tenant(&tenant(pro))
        .set_tier(&policy, "pro", day(0), day(0))
        .expect("tier");
    // A stale tier change (dated before the current one) arriving late changes nothing.
    let stale = v
        .tenant(&tenant(pro))
        .set_tier(&policy, "basic", day(-5), day(1))
        .expect("stale tier");
    assert!(!stale.changed);
    purge(&mut v, basic, &policy, day(60));
    purge(&mut v, pro, &policy, day(60));
    assert_eq!(
        count(&mut v, basic, &policy, "telemetry"),
        29,
        "basic keeps 30 days of telemetry (days 31..59 at day 60)"
    );
    assert_eq!(
        count(&mut v, pro, &policy, "telemetry"),
        60,
        "pro keeps a year"
    );
    // The relationship ends on day 100: telemetry at once, the rest 90 days later.
    v.tenant(&tenant(pro))
        .record_event(
            &policy,
            &EventTarget::Tenant,
            "relationship.terminated",
            day(100),
            day(100),
        )
        .expect("terminated");
    purge(&mut v, pro, &policy, day(100));
    assert_eq!(count(&mut v, pro, &policy, "telemetry"), 0);
    assert_eq!(count(&mut v, pro, &policy, "user_account"), 1);
    purge(&mut v, pro, &policy, day(190));
    assert_eq!(
        count(&mut v, pro, &policy, "user_account"),
        0,
        "all gone 90 days after termination"
    );
    assert_eq!(
        count(&mut v, pro, &policy, "invoice"),
        1,
        "statutory records stay"
    );
}

/// Overrides outside the policy's bounds are refused with the bounds; categories without an
/// override are refused too.
pub fn an_override_outside_the_bounds_is_refused_with_the_bounds(b: &Backend) {
    let text = example_text("jbsync.toml").replace(
        "retention.period = \"90 days\"\nretention.tenant_override = {}",
        "retention.period = \"90 days\"\nretention.tenant_override = { min = \"7 days\", max = \"1 year\" }",
    );
    let policy = load("jbsync-bounds.toml", &text);
    let mut v = b.open();
    let mut t = v.tenant(&tenant("kantoor-a"));
    put_client_data(&mut t, &policy, "chat-1", "whatsapp", day(0));
    let e = t
        .set_override(
            &policy,
            "whatsapp",
            Some(Period::parse("2 years").unwrap()),
            day(1),
        )
        .expect_err("out of bounds");
    let msg = e.to_string();
    assert!(
        msg.contains("between 7 days and 1 year") && msg.contains("whatsapp"),
        "{msg}"
    );
    let e = t
        .set_override(
            &policy,
            "mail.metadata",
            Some(Period::parse("30 days").unwrap()),
            day(1),
        )
        .expect_err("no override allowed");
    assert!(e.to_string().contains("no tenant override"), "{e}");
    assert!(
        t.set_override(
            &policy,
            "whatsapp",
            Some(Period::parse("14 days").unwrap()),
            day(1)
        )
        .unwrap()
        .changed
    );
    // Setting the same again is idempotent.
    assert!(
        !t.set_override(
            &policy,
            "whatsapp",
            Some(Period::parse("14 days").unwrap()),
            day(1)
        )
        .unwrap()
        .changed
    );
}

/// Bad events: unknown names (with a suggestion), unknown records, subjects and tenants, dates in
/// the future. Good events: idempotent, late and out of order without corrupting expiries.
pub fn events_are_checked_idempotent_and_order_free(b: &Backend) {
    let policy = jbsync();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("kantoor-a"));
    let draft = put(&mut t, &policy, "inbox-1", "draft", "auto_draft", day(0));
    let e = t
        .record_event(
            &policy,
            &EventTarget::Record(draft.clone()),
            "draft.decidde",
            day(1),
            day(1),
        )
        .expect_err("unknown event");
    assert!(
        matches!(&e, VaultError::UnknownEvent { nearest: Some(n), .. } if n == "draft.decided"),
        "{e}"
    );
    let other =
        RecordId::parse("0000000000000000000000000000000a").unwrap_or_else(|_| draft.clone());
    if other != draft {
        let e = t
            .record_event(
                &policy,
                &EventTarget::Record(other),
                "draft.decided",
                day(1),
                day(1),
            )
            .expect_err("unknown record");
        assert!(matches!(e, VaultError::RecordNotFound(_)), "{e}");
    }
    let e = t
        .record_event(
            &policy,
            &EventTarget::Subject {
                subject: subject("nobody"),
                purpose: None,
            },
            "consent.withdrawn",
            day(1),
            day(1),
        )
        .expect_err("unknown subject");
    assert!(matches!(e, VaultError::UnknownSubject), "{e}");
    let e = t
        .record_event(
            &policy,
            &EventTarget::Record(draft.clone()),
            "draft.decided",
            day(3),
            day(1),
        )
        .expect_err("future");
    assert!(matches!(e, VaultError::EventInFuture { .. }), "{e}");
    let e = v
        .tenant(&tenant("never-seen"))
        .record_event(
            &policy,
            &EventTarget::Tenant,
            "integration.removed",
            day(1),
            day(1),
        )
        .expect_err("unknown tenant");
    assert!(matches!(e, VaultError::UnknownTenant(_)), "{e}");

    let mut t = v.tenant(&tenant("kantoor-a"));
    // Decided on day 5, reported; then a late duplicate saying day 8; then the true first
    // decision on day 2 arrives out of order. The first time counts: expiry day 32.
    assert!(
        t.record_event(
            &policy,
            &EventTarget::Record(draft.clone()),
            "draft.decided",
            day(5),
            day(9)
        )
        .unwrap()
        .changed
    );
    assert!(
        !t.record_event(
            &policy,
            &EventTarget::Record(draft.clone()),
            "draft.decided",
            day(8),
            day(9)
        )
        .unwrap()
        .changed
    );
    assert!(
        !t.record_event(
            &policy,
            &EventTarget::Record(draft.clone()),
            "draft.decided",
            day(5),
            day(9)
        )
        .unwrap()
        .changed,
        "a replay changes nothing"
    );
    assert!(
        t.record_event(
            &policy,
            &EventTarget::Record(draft.clone()),
            "draft.decided",
            day(2),
            day(9)
        )
        .unwrap()
        .changed
    );
    let next = t
        .retention_report(&policy, day(9))
        .unwrap()
        .categories
        .into_iter()
        .find(|c| c.category == "draft")
        .unwrap()
        .next_expiry;
    assert_eq!(next, Some(day(32)));

    // Consent withdrawn for one purpose reaches only the records serving it.
    let style = put(
        &mut t,
        &policy,
        "inbox-1",
        "style_profile",
        "style_learning",
        day(0),
    );
    let r = t
        .record_event(
            &policy,
            &EventTarget::Subject {
                subject: subject("inbox-1"),
                purpose: Some("style_learning".into()),
            },
            "consent.withdrawn",
            day(9),
            day(9),
        )
        .unwrap();
    assert!(r.changed && r.recomputed == 2, "{r:?}");
    let rep = purge(&mut v, "kantoor-a", &policy, day(9));
    assert_eq!(rep.purged(), 1, "{rep:?}");
    assert!(
        v.tenant(&tenant("kantoor-a")).get(&style).is_err(),
        "the style profile is gone"
    );
    assert!(
        v.tenant(&tenant("kantoor-a")).get(&draft).is_ok(),
        "the draft is not"
    );
}

/// Legal holds on a subject, a category or the whole tenant stop the purge until released, and
/// the dry run and the report say what is held.
pub fn a_legal_hold_stops_every_purge_of_what_it_covers_until_released(b: &Backend) {
    let policy = jbsync();
    let mut v = b.open();
    let ten = "kantoor-a";
    let mut t = v.tenant(&tenant(ten)).acting_as("dpo-key");
    for who in ["inbox-1", "inbox-2"] {
        put_client_data(&mut t, &policy, who, "mail.metadata", day(0));
        put_client_data(&mut t, &policy, who, "whatsapp", day(0));
    }
    let e = t
        .place_hold(&policy, &HoldTarget::Tenant, "  ", day(1))
        .expect_err("reason needed");
    assert!(matches!(e, VaultError::InvalidHold(_)), "{e}");
    let e = t
        .place_hold(
            &policy,
            &HoldTarget::Category("mail.metdata".into()),
            "case 7",
            day(1),
        )
        .expect_err("unknown category");
    assert!(e.to_string().contains("mail.metdata"), "{e}");
    let subject_hold = t
        .place_hold(
            &policy,
            &HoldTarget::Subject(subject("inbox-1")),
            "case 2026-17",
            day(1),
        )
        .unwrap();
    let category_hold = t
        .place_hold(
            &policy,
            &HoldTarget::Category("whatsapp".into()),
            "case 2026-18",
            day(1),
        )
        .unwrap();
    assert_eq!(subject_hold.set_by, "dpo-key");

    // Everything is due on day 200; the dry run says what would go and what is held.
    let dry = t
        .purge(
            &policy,
            day(200),
            PurgeOptions {
                dry_run: true,
                ..PurgeOptions::default()
            },
            &mut |_| {},
        )
        .unwrap();
    assert_eq!((dry.purged(), dry.held()), (1, 3), "{dry:?}");
    assert_eq!(
        count(&mut v, ten, &policy, "mail.metadata"),
        2,
        "a dry run deletes nothing"
    );
    let rep = purge(&mut v, ten, &policy, day(200));
    assert_eq!((rep.purged(), rep.held()), (1, 3), "{rep:?}");
    // Overrides and events do not get around a hold either.
    let mut t = v.tenant(&tenant(ten));
    t.set_override(
        &policy,
        "whatsapp",
        Some(Period::parse("1 day").unwrap()),
        day(201),
    )
    .unwrap();
    t.record_event(
        &policy,
        &EventTarget::Tenant,
        "integration.removed",
        day(201),
        day(201),
    )
    .unwrap();
    let report = t.retention_report(&policy, day(201)).unwrap();
    assert_eq!(report.holds.len(), 2);
    let wa = report
        .categories
        .iter()
        .find(|c| c.category == "whatsapp")
        .unwrap();
    assert_eq!((wa.records, wa.held), (2, 2));
    assert_eq!(purge(&mut v, ten, &policy, day(202)).purged(), 0);
    // A tenant-wide hold stops everything, even after the others are released.
    let mut t = v.tenant(&tenant(ten));
    let all = t
        .place_hold(&policy, &HoldTarget::Tenant, "regulator inquiry", day(202))
        .unwrap();
    t.release_hold(&subject_hold.hold_id, day(202)).unwrap();
    t.release_hold(&category_hold.hold_id, day(202)).unwrap();
    let e = t
        .release_hold(&category_hold.hold_id, day(202))
        .expect_err("released twice");
    assert!(matches!(e, VaultError::HoldNotFound(_)), "{e}");
    assert_eq!(purge(&mut v, ten, &policy, day(203)).purged(), 0);
    v.tenant(&tenant(ten))
        .release_hold(&all.hold_id, day(204))
        .unwrap();
    assert_eq!(purge(&mut v, ten, &policy, day(204)).purged(), 3);
    let audit: Vec<String> = v
        .tenant(&tenant(ten))
        .audit(&custos_audit::Query {
            limit: 1000,
            ..custos_audit::Query::default()
        })
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        audit
            .iter()
            .filter(|a| *a == "retention.hold.placed")
            .count(),
        3
    );
    assert_eq!(
        audit
            .iter()
            .filter(|a| *a == "retention.hold.released")
            .count(),
        3
    );
    assert_eq!(v.tenant(&tenant(ten)).holds(true).unwrap().len(), 3);
}

/// A purge stopped after some batches (as if killed) resumes: every due record goes exactly once
/// and every batch has its receipt.
pub fn a_purge_stopped_halfway_resumes_and_receipts_account_for_every_record(b: &Backend) {
    let policy = jbsync();
    let mut v = b.open();
    let ten = "kantoor-a";
    let mut t = v.tenant(&tenant(ten));
    put_mail_metadata(&mut t, &policy, 55, 7, true);
    put_client_data(&mut t, &policy, "inbox-1", "mail.metadata", day(20));
    let opts = PurgeOptions {
        batch_size: 10,
        max_batches: Some(2),
        dry_run: false,
    };
    let first = t.purge(&policy, day(10), opts, &mut |_| {}).unwrap();
    assert_eq!((first.purged(), first.batches), (20, 2));
    let rest = purge_by_tens(&mut t, &policy, day(10));
    assert_eq!((rest.purged(), rest.batches), (35, 4));
    let again = purge(&mut v, ten, &policy, day(10));
    assert_eq!(again.purged(), 0, "idempotent");
    assert_eq!(receipt_total(&mut v, ten), 55);
    assert_eq!(
        receipts(&mut v, ten).len(),
        6,
        "one receipt per batch (one category)"
    );
    assert_eq!(count(&mut v, ten, &policy, "mail.metadata"), 1);
    let verified = v.verify_audit().unwrap();
    assert!(verified.unbroken().is_some(), "{verified:?}");
}

/// A clock that went back is refused before anything is deleted.
pub fn a_clock_that_went_back_is_refused(b: &Backend) {
    let policy = jbsync();
    let mut v = b.open();
    let ten = "kantoor-a";
    let mut t = v.tenant(&tenant(ten));
    put_client_data(&mut t, &policy, "inbox-1", "mail.metadata", day(0));
    put_client_data(&mut t, &policy, "inbox-1", "mail.metadata", day(3));
    assert_eq!(purge(&mut v, ten, &policy, day(8)).purged(), 1);
    let e = v
        .tenant(&tenant(ten))
        .purge(&policy, day(2), PurgeOptions::default(), &mut |_| {})
        .expect_err("clock went back");
    assert!(matches!(e, VaultError::ClockWentBack { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("earlier than tenant `kantoor-a`'s last purge"),
        "{e}"
    );
    let all = v
        .purge_all(&policy, day(2), PurgeOptions::default(), &mut |_, _| {})
        .unwrap();
    assert_eq!(all.failed.len(), 1);
    assert_eq!(count(&mut v, ten, &policy, "mail.metadata"), 1);
    assert_eq!(
        purge(&mut v, ten, &policy, day(11)).purged(),
        1,
        "with the clock right again it resumes"
    );
}

/// A policy whose retention rules changed makes the next purge recompute stored expiries.
pub fn a_changed_policy_recomputes_expiries_at_the_next_purge(b: &Backend) {
    let old = jbsync();
    let new = jbsync_mail_metadata_three_days();
    let mut v = b.open();
    let ten = "kantoor-a";
    let mut t = v.tenant(&tenant(ten));
    put_client_data(&mut t, &old, "inbox-1", "mail.metadata", day(0));
    // More than a page of the recompute (2 000 records), each of whose expiries changes.
    put_mail_metadata(&mut t, &old, 2_500, 7, false);
    assert_eq!(purge(&mut v, ten, &old, day(4)).purged(), 0);
    let r = purge(&mut v, ten, &new, day(4));
    assert_eq!((r.recomputed, r.purged()), (2_501, 2_501), "{r:?}");
}

/// A subject under a legal hold (directly, through its tenant, or through a category it has
/// records in) cannot be erased until the hold is released.
pub fn a_legal_hold_refuses_erasure_until_released(b: &Backend) {
    let policy = jbsync();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("kantoor-a"));
    put_client_data(&mut t, &policy, "inbox-1", "mail.metadata", day(0));
    put_client_data(&mut t, &policy, "inbox-2", "whatsapp", day(0));
    let h1 = t
        .place_hold(
            &policy,
            &HoldTarget::Subject(subject("inbox-1")),
            "case 1",
            day(1),
        )
        .unwrap();
    let h2 = t
        .place_hold(
            &policy,
            &HoldTarget::Category("whatsapp".into()),
            "case 2",
            day(1),
        )
        .unwrap();
    for (who, hold) in [("inbox-1", &h1), ("inbox-2", &h2)] {
        let e = t.erase_subject(&subject(who), day(2)).expect_err("held");
        assert!(
            matches!(&e, VaultError::Held { hold_id, .. } if *hold_id == hold.hold_id),
            "{e}"
        );
        assert!(e.to_string().contains("17(3)(e)"), "{e}");
    }
    assert_eq!(count(&mut v, "kantoor-a", &policy, "mail.metadata"), 1);
    let mut t = v.tenant(&tenant("kantoor-a"));
    t.release_hold(&h1.hold_id, day(3)).unwrap();
    assert_eq!(
        t.erase_subject(&subject("inbox-1"), day(3))
            .unwrap()
            .counts
            .records,
        1
    );
    let all = t
        .place_hold(&policy, &HoldTarget::Tenant, "inquiry", day(3))
        .unwrap();
    t.release_hold(&h2.hold_id, day(3)).unwrap();
    assert!(matches!(
        t.erase_subject(&subject("inbox-2"), day(4)),
        Err(VaultError::Held { .. })
    ));
    t.release_hold(&all.hold_id, day(4)).unwrap();
    assert_eq!(
        t.erase_subject(&subject("inbox-2"), day(4))
            .unwrap()
            .counts
            .records,
        1
    );
}

/// PostgreSQL: a batch is claimed (its receipt figures summed) and then deleted without row
/// locks. Another transaction that changes a claimed record in between (here it pushes the
/// record's expiry out; an erasure or a rewrite does the same) makes the DELETE skip that record;
/// the purge notices the count differs, does the batch again returning what it deleted, and its
/// receipts count only records really purged.
pub fn a_record_changed_while_its_batch_is_deleted_is_not_counted_in_a_receipt(b: &Backend) {
    let policy = jbsync();
    let ten = "kantoor-race";
    let mut v = b.open();
    let mut t = v.tenant(&tenant(ten));
    put_mail_metadata(&mut t, &policy, 25, 5, true);
    drop(v);

    // The other transaction: the oldest record (first in the first batch) gets a far expiry,
    // not yet committed, so the purge's claim still counts it and its DELETE must wait.
    let mut other = b.pg_as_tenant(ten);
    let mut tx = other.transaction().unwrap();
    let far = ts("2100-01-01T00:00:00Z").as_microsecond();
    let changed = tx
        .execute(
            "UPDATE records SET expires_at = $2 WHERE tenant_id = $1 AND record_id = (SELECT record_id FROM records WHERE tenant_id = $1 ORDER BY expires_at LIMIT 1)",
            &[&ten, &far],
        )
        .unwrap();
    assert_eq!(changed, 1);

    let config = b.config.clone();
    let purger = std::thread::spawn(move || {
        let mut v = Vault::open(&config, crate::harness::master()).unwrap();
        let report = purge_by_tens(&mut v.tenant(&tenant(ten)), &jbsync(), day(10));
        (report.purged(), report.batches)
    });
    wait_until_blocked(b, ten, "DELETE FROM records");
    tx.commit().unwrap();
    let (purged, batches) = purger.join().unwrap();
    assert_eq!(purged, 24, "the changed record is no longer due");
    assert_eq!(batches, 3);
    let mut v = b.open();
    assert_eq!(
        receipt_total(&mut v, ten),
        24,
        "the receipts count exactly the records purged"
    );
    assert_eq!(count(&mut v, ten, &policy, "mail.metadata"), 1);
    let verified = v.verify_audit().unwrap();
    assert!(verified.unbroken().is_some(), "{verified:?}");
}

/// Records that share one expiry instant (a tenant event dates them all alike) still go in
/// batches of the requested size, each with its receipt.
pub fn records_sharing_one_expiry_still_go_in_bounded_batches(b: &Backend) {
    let policy = jbsync();
    let mut v = b.open();
    let ten = "kantoor-ties";
    let mut t = v.tenant(&tenant(ten));
    put_mail_metadata(&mut t, &policy, 25, 5, false);
    put_client_data(&mut t, &policy, "inbox-1", "mail.metadata", day(20));
    let report = purge_by_tens(&mut t, &policy, day(10));
    assert_eq!((report.purged(), report.batches), (25, 3));
    let counts: Vec<u64> = receipts(&mut v, ten)
        .iter()
        .map(|r| r["records"].as_u64().expect("a count"))
        .collect();
    let mut sorted = counts.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [5, 10, 10], "receipts per batch: {counts:?}");
    assert_eq!(count(&mut v, ten, &policy, "mail.metadata"), 1);
}

/// PostgreSQL writes a page of recomputed expiries by row location; a record another transaction
/// changed in between has moved, and must still get its new expiry (written again by id).
pub fn a_record_changed_while_its_expiry_is_recomputed_still_gets_the_new_one(b: &Backend) {
    let new = jbsync_mail_metadata_three_days();
    let ten = "kantoor-moved";
    stored_under_jbsync(b, ten, 5, 5, true);

    // The other transaction rewrites one record (a new row version, uncommitted), so the
    // recompute reads the old version and its write by location must wait for this one.
    let mut other = b.pg_as_tenant(ten);
    let mut tx = other.transaction().unwrap();
    let changed = tx
        .execute(
            "UPDATE records SET clocks = clocks WHERE tenant_id = $1 AND record_id = (SELECT min(record_id) FROM records WHERE tenant_id = $1)",
            &[&ten],
        )
        .unwrap();
    assert_eq!(changed, 1);

    let purger = recompute_waiting(b, ten, new);
    tx.commit().unwrap();
    // Under the new rule (3 days) every record is due on day 4, the moved one included.
    assert_eq!(purger.join().unwrap(), (5, 5));
}

/// A policy change's recompute commits page by page: while one page waits, the pages before it
/// are already stored, and the purge that follows still sees every record recomputed.
pub fn a_recompute_commits_page_by_page(b: &Backend) {
    let new = jbsync_mail_metadata_three_days();
    let ten = "kantoor-paged";
    stored_under_jbsync(b, ten, 2_500, 11, false);

    // Another transaction holds a record of the second page (ids in order, 2 000 a page).
    let mut other = b.pg_as_tenant(ten);
    let mut tx = other.transaction().unwrap();
    let held = tx
        .query(
            // (A subquery: rows an OFFSET skips under FOR UPDATE are locked too.)
            "SELECT record_id FROM records WHERE tenant_id = $1 AND record_id = (SELECT record_id FROM records WHERE tenant_id = $1 ORDER BY record_id OFFSET 2100 LIMIT 1) FOR UPDATE",
            &[&ten],
        )
        .unwrap();
    assert_eq!(held.len(), 1);

    let purger = recompute_waiting(b, ten, new);
    // The first page is committed while the second waits.
    let recomputed: i64 = b
        .pg_as_tenant(ten)
        .query_one(
            "SELECT count(*) FROM records WHERE tenant_id = $1 AND expires_at < $2",
            &[&ten, &day(4).as_microsecond()],
        )
        .unwrap()
        .get(0);
    assert_eq!(recomputed, 2_000, "the first page is stored on its own");
    tx.commit().unwrap();
    assert_eq!(purger.join().unwrap(), (2_500, 2_500));
}

/// A statement kept prepared on a connection goes stale when another server's migration changes
/// its table: the call that meets it fails, and the next prepares it again.
pub fn a_statement_made_stale_by_a_schema_change_is_prepared_again(b: &Backend) {
    let policy = jbsync();
    let ten = "kantoor-migrated";
    let mut v = b.open();
    put_mail_metadata(&mut v.tenant(&tenant(ten)), &policy, 3, 3, true);
    assert_eq!(purge(&mut v, ten, &policy, day(4)).purged(), 0);
    // Another server's migration changes a column the purge reads.
    b.pg_as_tenant(ten)
        .batch_execute("ALTER TABLE tenant_retention ALTER COLUMN fingerprint TYPE varchar(200)")
        .unwrap();
    let first = v
        .tenant(&tenant(ten))
        .purge(&policy, day(5), PurgeOptions::default(), &mut |_| {});
    if let Err(e) = &first {
        assert!(e.to_string().contains("cached plan"), "{e}");
    }
    assert_eq!(purge(&mut v, ten, &policy, day(10)).purged(), 3);
}

/// An override stored in a form that cannot be read (the state row edited or damaged) was
/// dropped silently, so the category's records quietly got the policy's default. Now a write of
/// that category is refused with an error naming the category (never the subject), other
/// categories are written as before, the retention report lists the category's problem, and
/// setting the override again repairs it.
pub fn an_override_that_cannot_be_read_refuses_writes_of_its_category_and_shows_in_the_report(
    b: &Backend,
) {
    let policy = jbsync();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("kantoor-a"));
    put_client_data(&mut t, &policy, "chat-1", "whatsapp", day(0));
    t.set_override(&policy, "whatsapp", Period::parse("30 days").ok(), day(1))
        .expect("override set");
    drop(t);
    b.set_retention_state("kantoor-a", r#"{"overrides":{"whatsapp":"thirty days"}}"#);
    let mut t = v.tenant(&tenant("kantoor-a"));
    let record =
        |category: &str| record_for("chat-2", category, "service.client_data", "x", day(2));
    let e = t
        .put(&policy, record("whatsapp"), jiff::Timestamp::now())
        .expect_err("the expiry cannot be computed");
    assert!(
        matches!(
            &e,
            VaultError::Retention(custos_retention::RetentionError::UnreadableOverride { category, .. })
                if category == "whatsapp"
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("`whatsapp`") && !msg.contains("chat-2"),
        "{msg}"
    );
    t.put(&policy, record("mail.metadata"), jiff::Timestamp::now())
        .expect("other categories are written as before");
    let report = t.retention_report(&policy, day(2)).expect("report");
    let wa = report
        .categories
        .iter()
        .find(|c| c.category == "whatsapp")
        .expect("whatsapp in the report");
    assert_eq!(wa.records, 1);
    assert!(
        wa.problem
            .as_deref()
            .is_some_and(|p| p.contains("cannot be read")),
        "{wa:?}"
    );
    assert!(
        wa.rule.starts_with("expiry cannot be computed"),
        "{}",
        wa.rule
    );
    assert!(
        report
            .categories
            .iter()
            .filter(|c| c.category != "whatsapp")
            .all(|c| c.problem.is_none())
    );
    t.set_override(&policy, "whatsapp", Period::parse("30 days").ok(), day(3))
        .expect("the override set again");
    t.put(&policy, record("whatsapp"), jiff::Timestamp::now())
        .expect("written again");
    let report = t.retention_report(&policy, day(3)).expect("report");
    assert!(report.categories.iter().all(|c| c.problem.is_none()));
}

/// A tenant whose expiries cannot be recomputed under a changed policy (its stored override
/// cannot be read) is reported as failed, naming the category, and the purge goes on for the
/// others; its records are not recomputed with the default in silence.
pub fn a_tenant_whose_expiries_cannot_be_recomputed_is_reported_and_the_others_purged(b: &Backend) {
    let old = jbsync();
    let new = jbsync_mail_metadata_three_days();
    let mut v = b.open();
    let mut t = v.tenant(&tenant("kantoor-a"));
    put_client_data(&mut t, &old, "chat-1", "whatsapp", day(0));
    t.set_override(&old, "whatsapp", Period::parse("30 days").ok(), day(0))
        .expect("override set");
    drop(t);
    b.set_retention_state("kantoor-a", r#"{"overrides":{"whatsapp":"thirty days"}}"#);
    let mut t = v.tenant(&tenant("kantoor-b"));
    put_client_data(&mut t, &old, "inbox-1", "mail.metadata", day(0));
    let r = v
        .purge_all(&new, day(4), PurgeOptions::default(), &mut |_, _| {})
        .expect("the purge runs");
    assert_eq!(r.failed.len(), 1, "{r:?}");
    assert_eq!(r.failed[0].0, "kantoor-a");
    assert!(r.failed[0].1.contains("`whatsapp`"), "{}", r.failed[0].1);
    assert_eq!(r.purged(), 1, "kantoor-b's mail metadata went: {r:?}");
}
