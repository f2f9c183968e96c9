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
