//! Property tests of the chain in the real SQLite store (in memory): whatever sequence of appends
//! is made, the trail verifies; and after any single edit, deletion, insertion or swap of stored
//! rows, verification names the exact entry where the chain first breaks. The hand-written cases
//! in `tests.rs` show each kind once on both backends; these search for the case they missed.

use proptest::prelude::*;
use proptest::sample::Index;

use super::*;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn at(i: usize) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_790_000_000 + i as i64).expect("valid time")
}

fn store() -> SqliteStore {
    let conn = rusqlite::Connection::open_in_memory().expect("an in-memory database opens");
    SqliteStore::from_connection(conn).expect("the audit tables are created")
}

fn event() -> impl Strategy<Value = Event> {
    (
        prop::sample::select(vec!["acme", "globex", "-"]),
        "(key|operator):[a-z0-9]{1,8}",
        prop::sample::select(vec![
            "record.put",
            "records.read",
            "subject.erase",
            "consent.grant",
            "purge.batch",
        ]),
        prop::option::of("ps_[0-9a-f]{1,8}"),
        prop::collection::btree_map("[a-z]{1,6}", "[ -~]{0,12}", 0..3),
    )
        .prop_map(|(tenant, actor, action, subject, details)| Event {
            tenant: tenant.into(),
            actor,
            action: action.into(),
            subject,
            details: serde_json::to_value(details).expect("a map of strings is JSON"),
        })
}

/// Appends of one to five events each.
fn batches(appends: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Vec<Event>>> {
    prop::collection::vec(prop::collection::vec(event(), 1..6), appends)
}

/// A log with a checkpoint every `every` entries, after `batches` appended through the log's API
/// (one transaction each, at increasing times).
fn appended(batches: &[Vec<Event>], every: u64) -> (AuditLog<SqliteStore>, Vec<Entry>) {
    let mut log = AuditLog::new(store(), key(), every);
    let mut written = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        written.extend(log.append(batch, at(i)).expect("the append is stored"));
    }
    (log, written)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_sequence_of_appends_verifies(batches in batches(1..12), every in 1u64..12) {
        let (mut log, written) = appended(&batches, every);
        // The append that crosses a multiple of the cadence signs a checkpoint at its last entry.
        let (mut end, mut sealed_to, mut checkpoints) = (0u64, 0u64, 0u64);
        for batch in &batches {
            let before = end;
            end += batch.len() as u64;
            if end / every > before / every {
                sealed_to = end;
                checkpoints += 1;
            }
        }
        let verification = log.verify().expect("verification reads the store");
        let v = verification.unbroken().unwrap_or_else(|| panic!("{verification:?}")).clone();
        prop_assert_eq!(v.entries, end);
        prop_assert_eq!(v.head, written.last().expect("at least one entry").hash);
        prop_assert_eq!((v.checkpoints, v.sealed_to), (checkpoints, sealed_to));
        prop_assert_eq!(v.unsealed, end - sealed_to);
        prop_assert_eq!(matches!(verification, Verification::Intact(_)), sealed_to == end);
    }

    #[test]
    fn an_edited_entry_is_reported_at_its_position(
        batches in batches(2..8),
        every in 1u64..12,
        pos in any::<Index>(),
        field in 0usize..8,
        suffix in "[ -~]{1,6}",
        flip in (0usize..32, 1u8..=255),
    ) {
        let (mut log, written) = appended(&batches, every);
        let mut e = written[pos.index(written.len())].clone();
        let add = |s: &mut String| s.push_str(&suffix);
        match field {
            0 => add(&mut e.at),
            1 => add(&mut e.tenant),
            2 => add(&mut e.actor),
            3 => add(&mut e.action),
            4 => add(e.subject.get_or_insert_with(String::new)),
            5 => add(&mut e.details),
            6 => e.prev_hash[flip.0] ^= flip.1,
            _ => e.hash[flip.0] ^= flip.1,
        }
        let c = log.store_mut().connection();
        c.execute("DELETE FROM audit_entries WHERE seq = ?1", [e.seq as i64]).expect("delete");
        insert(c, &e);
        prop_assert_eq!(tampered(&mut log), Some(Tamper::Edited { seq: e.seq }));
    }

    #[test]
    fn a_deleted_entry_is_reported_after_the_last_intact_one(
        batches in batches(2..8),
        every in 1u64..12,
        pos in any::<Index>(),
    ) {
        let (mut log, written) = appended(&batches, every);
        let seq = pos.index(written.len()) as u64 + 1;
        let sealed_head = log
            .store_mut()
            .checkpoints()
            .expect("checkpoints")
            .iter()
            .any(|c| c.seq == seq);
        log.store_mut()
            .connection()
            .execute("DELETE FROM audit_entries WHERE seq = ?1", [seq as i64])
            .expect("delete");
        if seq < written.len() as u64 || sealed_head {
            prop_assert_eq!(tampered(&mut log), Some(Tamper::Deleted { after: seq - 1 }));
        } else {
            // The last entry with no checkpoint over it: nothing signed says it existed, which
            // is what verification reports as the unsealed tail (see tests.rs).
            prop_assert_eq!(tampered(&mut log), None);
        }
    }

    #[test]
    fn an_inserted_entry_is_reported_at_its_position(
        batches in batches(2..8),
        every in 1u64..12,
        before in any::<Index>(),
        forged in (0usize..3, event(), any::<Index>(), any::<[u8; 32]>()),
    ) {
        let (mut log, written) = appended(&batches, every);
        // The row lands at `seq`, before the entry that held it (inserting after the last entry
        // is an append, which only a signed checkpoint could tell apart).
        let seq = before.index(written.len()) as u64 + 1;
        let prev = seq.checked_sub(2).map(|i| &written[i as usize]);
        let (how, ev, donor, garbage) = forged;
        let donor = donor.index(written.len()) as u64 + 1;
        let (row, expected) = match how {
            // A forger who computes the hash: the row links to its predecessor.
            0 => (
                Entry::next(prev.map(|p| (p.seq, &p.hash)), at(99), &ev),
                Tamper::Inserted { seq },
            ),
            // Garbage: the stored hash matches nothing.
            1 => (
                Entry { hash: garbage, ..Entry::next(prev.map(|p| (p.seq, &p.hash)), at(99), &ev) },
                Tamper::Inserted { seq },
            ),
            // A copy of a genuine row. Placed right after its original, the two rows are
            // identical and either could be the insertion: verification names the first. A copy
            // of a later row stands before the entry it follows: out of order, at its position.
            _ => (
                written[donor as usize - 1].clone(),
                match donor + 1 {
                    d if d == seq => Tamper::Inserted { seq: donor },
                    d if d <= seq + 1 => Tamper::Inserted { seq },
                    _ => Tamper::Reordered { seq },
                },
            ),
        };
        let c = log.store_mut().connection();
        c.execute_batch(&format!(
            "UPDATE audit_entries SET seq = seq + 1000000 WHERE seq >= {seq};
             UPDATE audit_entries SET seq = seq - 1000000 + 1 WHERE seq > 1000000;"
        ))
        .expect("make room");
        insert(c, &Entry { seq, ..row });
        prop_assert_eq!(tampered(&mut log), Some(expected));
    }

    #[test]
    fn swapped_entries_are_reported_at_the_first_of_them(
        batches in batches(2..8),
        every in 1u64..12,
        first in any::<Index>(),
        gap in any::<Index>(),
    ) {
        let (mut log, written) = appended(&batches, every);
        let n = written.len();
        let i = first.index(n);
        let j = (i + 1 + gap.index(n - 1)) % n;
        let (a, b) = (i.min(j) as u64 + 1, i.max(j) as u64 + 1);
        log.store_mut()
            .connection()
            .execute_batch(&format!(
                "UPDATE audit_entries SET seq = -1 WHERE seq = {a};
                 UPDATE audit_entries SET seq = {a} WHERE seq = {b};
                 UPDATE audit_entries SET seq = {b} WHERE seq = -1;"
            ))
            .expect("swap");
        prop_assert_eq!(tampered(&mut log), Some(Tamper::Reordered { seq: a }));
    }
}

/// Stores `e` as a row, exactly as given.
fn insert(c: &rusqlite::Connection, e: &Entry) {
    crate::store::sqlite_insert(c, e).expect("the tampered row is stored");
}

/// What verification reports: the tampering, or `None` for an unbroken chain.
fn tampered(log: &mut AuditLog<SqliteStore>) -> Option<Tamper> {
    match log.verify().expect("verification reads the store") {
        Verification::Tampered(t) => Some(t),
        Verification::Intact(_) | Verification::UnsealedTail(_) => None,
    }
}
