//! Legal holds on a category reach the categories the policy declares under it (`parent`), for
//! deletion, correction and erasure as for the purge (Art. 17(3)(e): data needed for legal
//! claims is not erased).

use std::collections::BTreeMap;

use custos_vault::{HoldTarget, NewRecord, VaultError};

use crate::harness::{Backend, example_policy, subject, tenant, ts};

/// JetLink declares `user_account` with `parent = "customer_data"`: its id is not named under
/// `customer_data.`, so only the declared parent links them.
pub fn a_hold_on_a_category_refuses_deleting_its_declared_children(b: &Backend) {
    let policy = example_policy("jetlink.toml");
    let mut v = b.open();
    let mut t = v.tenant(&tenant("waterjet-a"));
    let now = ts("2026-11-01T10:00:00Z");
    let record = |who: &str| NewRecord {
        subject: subject(who),
        category: "user_account".into(),
        purposes: vec!["platform_operation".into()],
        payload: br#"{"name":"Operator"}"#.to_vec(),
        created_at: now,
        clocks: BTreeMap::new(),
    };
    let kept = t.put(&policy, record("operator-1"), now).expect("stored");
    let hold = t
        .place_hold(
            &policy,
            &HoldTarget::Category("customer_data".into()),
            "claim 2026-17",
            now,
        )
        .expect("placed");
    let held =
        |e: &VaultError| matches!(e, VaultError::Held { hold_id, .. } if *hold_id == hold.hold_id);
    let e = t
        .erase_subject(&subject("operator-1"), now)
        .expect_err("a declared child of a held category is not erased");
    assert!(held(&e), "{e}");
    let e = t
        .delete_record(&policy, &kept, now)
        .expect_err("nor deleted");
    assert!(held(&e), "{e}");
    let e = t
        .update_record(&kept, br#"{"name":"X"}"#.to_vec(), now)
        .expect_err("nor changed");
    assert!(held(&e), "{e}");
    t.release_hold(&hold.hold_id, now).expect("released");
    t.delete_record(&policy, &kept, now)
        .expect("released, the record goes");
}
