//! What the server's watch reads (`custos_vault::watch`): the daily claim that makes one server
//! of many send the digest, and the audit trail's seal.

use jiff::civil::date;

use crate::harness::{Backend, policy, record, tenant};

pub fn a_daily_job_is_claimed_once_a_day_and_a_released_claim_can_be_taken_again(b: &Backend) {
    let mut one = b.open();
    let mut two = b.open();
    let day = date(2026, 12, 5);
    assert!(
        one.claim_day("digest", day).unwrap(),
        "the first claim of the day"
    );
    assert!(
        !two.claim_day("digest", day).unwrap(),
        "another server, the same day"
    );
    assert!(
        !one.claim_day("digest", day.yesterday().unwrap()).unwrap(),
        "a day back"
    );
    two.release_day("digest", day).unwrap();
    assert!(
        two.claim_day("digest", day).unwrap(),
        "after the failed send gave it back"
    );
    assert!(
        one.claim_day("digest", date(2026, 12, 6)).unwrap(),
        "the next day"
    );
    assert!(
        one.claim_day("other-job", day).unwrap(),
        "each job has its own day"
    );
}

pub fn the_seal_counts_the_entries_after_the_last_checkpoint(b: &Backend) {
    let mut v = b.open();
    let now = jiff::Timestamp::now();
    v.tenant(&tenant("acme"))
        .put(&policy(), record("jan", "one"), now)
        .unwrap();
    let before = v.seal_state().unwrap();
    assert!(before.head > before.sealed, "{before:?}");
    assert!(before.oldest_unsealed_at.is_some());
    let c = v
        .checkpoint_audit(now)
        .unwrap()
        .expect("a checkpoint at the head");
    let after = v.seal_state().unwrap();
    assert_eq!((after.head, after.sealed), (c.seq, c.seq));
    assert_eq!(after.oldest_unsealed_at, None);
    assert!(after.last_checkpoint_at.is_some());

    let a = v.attention().unwrap();
    assert_eq!(a.tenants.len(), 1);
    assert_eq!(a.tenants[0].tenant, "acme");
    assert_eq!(
        a.last_purges,
        vec![("acme".to_owned(), None)],
        "never purged"
    );
}

/// The application's own webhook (`custos_vault::app_events`): a purge batch and an erasure
/// queue one event each, naming the records by id; a tenant without the webhook queues none.
pub fn an_application_with_a_webhook_hears_which_records_a_purge_and_an_erasure_deleted(
    b: &Backend,
) {
    use crate::harness::{record_for, subject, ts};
    let mut v = b.open();
    let p = policy();
    let created = ts("2026-01-05T10:00:00Z");
    let now = ts("2026-12-05T10:00:00Z");
    let secret = custos_vault::recipients::WebhookSecret::new(*b"sixteen bytes or more").unwrap();
    let (old, jan) = {
        let mut t = v.tenant(&tenant("acme"));
        t.set_app_webhook("https://app.example.nl/custos", &secret, now)
            .unwrap();
        let old = t
            .put_batch(
                &p,
                vec![
                    record_for("piet", "support", "support", "a", created),
                    record_for("an", "support", "support", "b", created),
                ],
                now,
            )
            .unwrap();
        let jan = t
            .put(&p, record_for("jan", "support", "support", "c", now), now)
            .unwrap();
        (old, jan)
    };
    // Another tenant without the webhook: its purge queues nothing.
    v.tenant(&tenant("globex"))
        .put(
            &p,
            record_for("kees", "support", "support", "d", created),
            now,
        )
        .unwrap();

    let later = ts("2028-02-01T00:00:00Z");
    for t in ["acme", "globex"] {
        // Batches of one: piet's and an's records expire at the same instant, so on PostgreSQL
        // the batch that finds two due at its last instant takes the bounded path.
        let opts = custos_vault::PurgeOptions {
            batch_size: 1,
            ..custos_vault::PurgeOptions::default()
        };
        let r = v
            .tenant(&tenant(t))
            .purge(&p, later, opts, &mut |_| {})
            .unwrap();
        // jan's record, created a year later, is not due yet.
        assert_eq!(r.purged(), if t == "acme" { 2 } else { 1 }, "{t}");
    }
    let bodies = |v: &mut custos_vault::Vault, t: &str| -> Vec<serde_json::Value> {
        v.tenant(&tenant(t))
            .claim_due_notifications(now, 100, jiff::SignedDuration::from_secs(60))
            .unwrap()
            .into_iter()
            .map(|n| {
                assert_eq!(n.recipient, custos_vault::app_events::APP);
                serde_json::from_str(&n.body).unwrap()
            })
            .collect()
    };
    assert!(bodies(&mut v, "globex").is_empty());
    let events = bodies(&mut v, "acme");
    assert_eq!(events.len(), 2, "one event a batch: {events:?}");
    assert!(events.iter().all(|e| e["type"] == "records.purged"));
    let mut listed: Vec<&str> = events
        .iter()
        .flat_map(|e| e["records"].as_array().unwrap().iter())
        .map(|r| r.as_str().unwrap())
        .collect();
    listed.sort_unstable();
    let mut expected: Vec<String> = old.iter().map(|r| r.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);

    // An erasure names the subject's records.
    let fresh = jan;
    v.tenant(&tenant("acme"))
        .erase_subject(&subject("jan"), later)
        .unwrap();
    let events = bodies(&mut v, "acme");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "subject.erased");
    assert_eq!(events[0]["records"], serde_json::json!([fresh.to_string()]));
    let text = events[0].to_string();
    assert!(
        !text.contains("jan") && !text.contains("pseudonym"),
        "{text}"
    );
}

/// `Vault::replace_master_key`: after it, the new key opens the vault and every record, the old
/// key opens nothing, pseudonyms and the checkpoint key are unchanged, and a process still
/// running with the old key is refused before it writes a data key the new key could not open.
pub fn replacing_the_master_key_keeps_records_pseudonyms_and_the_trail_and_shuts_out_the_old_key(
    b: &Backend,
) {
    use crate::harness::{master, put_in};
    use custos_vault::{MasterKey, Vault, VaultError};
    let mut v = b.open();
    let jan = put_in(&mut v, "acme", &policy(), record("jan", "een"));
    let public = v.audit_public_key();
    v.checkpoint_audit(jiff::Timestamp::now()).unwrap();
    let mut stale = b.open(); // a server still running with the old key

    let new = MasterKey::generate().unwrap();
    let r = v.replace_master_key(new.clone()).unwrap();
    assert_eq!((r.from, r.to, r.rewrapped), (1, 2, 1));
    drop(v);

    assert!(
        matches!(
            Vault::open(&b.config, master()),
            Err(VaultError::WrongMasterKey)
        ),
        "the old key opens nothing"
    );
    let mut v = Vault::open(&b.config, new.clone()).expect("the new key opens the vault");
    assert_eq!(v.key_version(), 2);
    let mut t = v.tenant(&tenant("acme"));
    assert_eq!(t.get(&jan).unwrap().payload.as_slice(), b"een");
    assert_eq!(
        t.list(&crate::harness::subject("jan")).unwrap().len(),
        1,
        "the same subject, found by the same pseudonym"
    );
    assert_eq!(v.audit_public_key(), public, "checkpoints keep their key");
    assert_eq!(
        custos_vault::checkpoint_public_key(&b.config, new.clone()).unwrap(),
        public
    );
    assert_ne!(MasterKey::audit_public_key(&new), public);

    let refused = stale
        .tenant(&tenant("acme"))
        .put(&policy(), record("piet", "twee"), jiff::Timestamp::now())
        .expect_err("a data key under the old master");
    assert!(
        matches!(refused, VaultError::MasterKeyReplaced),
        "{refused:?}"
    );
    assert!(
        v.tenant(&tenant("acme"))
            .list(&crate::harness::subject("piet"))
            .unwrap()
            .is_empty(),
        "nothing was written"
    );
    // A reopened vault keeps working, and a second replacement chains.
    let newer = MasterKey::generate().unwrap();
    v.replace_master_key(newer.clone()).unwrap();
    drop(v);
    let mut v = Vault::open(&b.config, newer).unwrap();
    assert_eq!(v.audit_public_key(), public);
    assert_eq!(
        v.tenant(&tenant("acme"))
            .get(&jan)
            .unwrap()
            .payload
            .as_slice(),
        b"een"
    );
}
