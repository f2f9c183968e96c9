//! The policy versions a server published: each text recorded once, with when it was first
//! published, and read back for the console's comparison of two versions (Art. 13(3): people
//! are told of a change before it applies, so what was published when must be known).

use crate::harness::{Backend, example_text, ts};

pub fn a_policy_version_is_recorded_once_with_its_first_publication(b: &Backend) {
    let mut v = b.open();
    let old = example_text("jbsync.toml");
    let new = old.replace("version = \"2.0\"", "version = \"2.1\"");
    assert!(
        v.policy_versions().unwrap().is_empty(),
        "none before a start"
    );
    let first = v
        .record_policy_version(Some("2.0"), &old, ts("2026-05-21T09:00:00Z"))
        .unwrap();
    assert_eq!(first.fingerprint, custos_vault::policy_fingerprint(&old));
    assert_eq!(first.fingerprint.len(), 64, "SHA-256 in hex");
    let again = v
        .record_policy_version(Some("2.0"), &old, ts("2026-06-01T09:00:00Z"))
        .unwrap();
    assert_eq!(
        again, first,
        "a restart with the same text keeps the first publication"
    );
    let second = v
        .record_policy_version(Some("2.1"), &new, ts("2026-07-01T09:00:00Z"))
        .unwrap();
    let listed = v.policy_versions().unwrap();
    assert_eq!(listed, [first.clone(), second.clone()], "oldest first");
    assert_eq!(
        v.policy_text(&first.fingerprint).unwrap().as_deref(),
        Some(old.as_str())
    );
    assert_eq!(
        v.policy_text(&second.fingerprint).unwrap().as_deref(),
        Some(new.as_str())
    );
    assert_eq!(v.policy_text(&"0".repeat(64)).unwrap(), None);
    drop(v);
    let mut reopened = b.open();
    assert_eq!(reopened.policy_versions().unwrap().len(), 2, "kept");
}
