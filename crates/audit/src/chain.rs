//! The pure core of the audit trail: how an entry is hashed and linked to the one before it,
//! how checkpoints are signed, and how a stored chain is verified. No I/O.
//!
//! Each entry's hash is SHA-256 over a domain tag, the previous entry's hash and every field
//! exactly as stored (length-prefixed, so no two different entries encode alike). The `seq`
//! column is the position in the chain and is not hashed: that is what lets the verifier tell a
//! deleted entry (a gap), an inserted one (a row the next entry skips), a reordered one (a row
//! whose predecessor comes later) and an edited one (a row whose own hash no longer matches)
//! apart. A checkpoint signs (seq, hash) of an entry with Ed25519, so rewriting the whole chain
//! from some point on, hashes included, is still caught at the next checkpoint.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier as _, VerifyingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The `prev_hash` of the first entry.
pub const GENESIS: Hash = [0; 32];

const DOMAIN: &[u8] = b"custos-audit-entry-v1";
const CHECKPOINT_DOMAIN: &[u8] = b"custos-audit-checkpoint-v1";

/// What happened, as the caller reports it. Never holds personal data in the clear: subjects are
/// named by their keyed pseudonym, and `details` carries ids, counts and reasons only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// The tenant the event concerns (`-` for platform events).
    pub tenant: String,
    /// Who did it: an API key id, an operator, `custos` for the engine itself.
    pub actor: String,
    /// What was done, e.g. `record.put`, `subject.erase`, `purge.batch`.
    pub action: String,
    /// The data subject's pseudonym, when the event concerns one.
    pub subject: Option<String>,
    /// Further facts as a JSON object: ids, counts, reasons. No personal data.
    pub details: serde_json::Value,
}

/// One entry of the chain, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// When it was appended, RFC 3339 in UTC with microseconds, exactly as stored and hashed.
    pub at: String,
    /// Tenant.
    pub tenant: String,
    /// Actor.
    pub actor: String,
    /// Action.
    pub action: String,
    /// Subject pseudonym.
    pub subject: Option<String>,
    /// Details, as the exact JSON text stored and hashed.
    pub details: String,
    /// Hash of the previous entry ([`GENESIS`] for the first).
    #[serde(with = "hex_hash")]
    pub prev_hash: Hash,
    /// Hash of this entry.
    #[serde(with = "hex_hash")]
    pub hash: Hash,
}

mod hex_hash {
    pub fn serialize<S: serde::Serializer>(h: &super::Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }
}

/// Formats a timestamp the way entries store it.
pub fn format_time(at: jiff::Timestamp) -> String {
    format!("{:.6}", at)
}

fn put(h: &mut Sha256, field: &[u8]) {
    h.update((field.len() as u64).to_le_bytes());
    h.update(field);
}

/// The hash of an entry with these fields.
pub fn entry_hash(
    prev: &Hash,
    at: &str,
    tenant: &str,
    actor: &str,
    action: &str,
    subject: Option<&str>,
    details: &str,
) -> Hash {
    let mut h = Sha256::new();
    put(&mut h, DOMAIN);
    put(&mut h, prev);
    put(&mut h, at.as_bytes());
    put(&mut h, tenant.as_bytes());
    put(&mut h, actor.as_bytes());
    put(&mut h, action.as_bytes());
    match subject {
        Some(s) => {
            h.update([1]);
            put(&mut h, s.as_bytes());
        }
        None => h.update([0]),
    }
    put(&mut h, details.as_bytes());
    h.finalize().into()
}

impl Entry {
    /// The entry that follows `prev` (or starts the chain) for `event` at `at`.
    pub fn next(prev: Option<(u64, &Hash)>, at: jiff::Timestamp, event: &Event) -> Entry {
        let (seq, prev_hash) = match prev {
            Some((seq, h)) => (seq + 1, *h),
            None => (1, GENESIS),
        };
        let at = format_time(at);
        let details = if event.details.is_null() {
            "{}".to_owned()
        } else {
            event.details.to_string()
        };
        let hash = entry_hash(
            &prev_hash,
            &at,
            &event.tenant,
            &event.actor,
            &event.action,
            event.subject.as_deref(),
            &details,
        );
        Entry {
            seq,
            at,
            tenant: event.tenant.clone(),
            actor: event.actor.clone(),
            action: event.action.clone(),
            subject: event.subject.clone(),
            details,
            prev_hash,
            hash,
        }
    }

    /// Whether the stored hash matches the stored fields.
    pub fn self_consistent(&self) -> bool {
        entry_hash(
            &self.prev_hash,
            &self.at,
            &self.tenant,
            &self.actor,
            &self.action,
            self.subject.as_deref(),
            &self.details,
        ) == self.hash
    }
}

/// A signed statement that the chain's entry `seq` has hash `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// The entry.
    pub seq: u64,
    /// Its hash.
    #[serde(with = "hex_hash")]
    pub hash: Hash,
    /// When the checkpoint was made.
    pub at: String,
    /// Ed25519 signature over the domain tag, seq, hash and time.
    #[serde(serialize_with = "hex_sig")]
    pub signature: [u8; 64],
}

fn hex_sig<S: serde::Serializer>(sig: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(sig))
}

fn checkpoint_message(seq: u64, hash: &Hash, at: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(CHECKPOINT_DOMAIN.len() + 8 + 32 + at.len());
    m.extend_from_slice(CHECKPOINT_DOMAIN);
    m.extend_from_slice(&seq.to_le_bytes());
    m.extend_from_slice(hash);
    m.extend_from_slice(at.as_bytes());
    m
}

impl Checkpoint {
    /// Signs the position of `entry`.
    pub fn sign(entry: &Entry, at: jiff::Timestamp, key: &SigningKey) -> Checkpoint {
        let at = format_time(at);
        let signature = key
            .sign(&checkpoint_message(entry.seq, &entry.hash, &at))
            .to_bytes();
        Checkpoint {
            seq: entry.seq,
            hash: entry.hash,
            at,
            signature,
        }
    }

    /// Whether the signature is valid under `key`.
    pub fn signature_valid(&self, key: &VerifyingKey) -> bool {
        key.verify(
            &checkpoint_message(self.seq, &self.hash, &self.at),
            &Signature::from_bytes(&self.signature),
        )
        .is_ok()
    }
}

/// How the chain was tampered with, at the first place it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Tamper {
    /// The entry's fields no longer match its hash.
    Edited {
        /// The entry.
        seq: u64,
    },
    /// Entries are missing after `after` (a gap, or an entry whose predecessor is gone).
    Deleted {
        /// The last intact entry before the gap (0: the start of the chain).
        after: u64,
    },
    /// An entry that the chain does not link through was inserted.
    Inserted {
        /// The inserted entry's position.
        seq: u64,
    },
    /// An entry appears before the entry it follows.
    Reordered {
        /// The first out-of-place entry.
        seq: u64,
    },
    /// The chain was rewritten, hashes included, up to a signed checkpoint that no longer matches.
    Rewritten {
        /// The last checkpoint that still matches (0: none).
        after: u64,
        /// The checkpoint that no longer matches.
        checkpoint: u64,
    },
    /// A checkpoint's signature is invalid (forged, or signed with another key).
    BadCheckpoint {
        /// Its position.
        seq: u64,
    },
}

impl std::fmt::Display for Tamper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tamper::Edited { seq } => write!(
                f,
                "entry {seq} was edited: its contents no longer match its hash"
            ),
            Tamper::Deleted { after } => write!(f, "entries were deleted after entry {after}"),
            Tamper::Inserted { seq } => write!(
                f,
                "entry {seq} was inserted: the chain does not pass through it"
            ),
            Tamper::Reordered { seq } => write!(
                f,
                "entry {seq} was reordered: it comes before the entry it follows"
            ),
            Tamper::Rewritten { after, checkpoint } => {
                write!(
                    f,
                    "entries after {after} were rewritten: the signed checkpoint at {checkpoint} no longer matches"
                )
            }
            Tamper::BadCheckpoint { seq } => {
                write!(f, "the checkpoint at entry {seq} has an invalid signature")
            }
        }
    }
}

/// The result of a verification that found nothing wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// Entries checked.
    pub entries: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// The last entry's hash (the chain head).
    #[serde(with = "hex_hash")]
    pub head: Hash,
}

/// Streaming verifier: feed entries in `seq` order in windows (the window is used to look
/// ahead when classifying a break), then [`Verifier::finish`] with the checkpoints.
pub struct Verifier {
    last_seq: u64,
    last_hash: Hash,
    count: u64,
    hashes_at_checkpoints: Vec<(u64, Hash)>,
    checkpoint_seqs: std::collections::BTreeSet<u64>,
}

impl Verifier {
    /// A verifier that will check the positions of `checkpoints` as it goes.
    pub fn new(checkpoints: &[Checkpoint]) -> Self {
        Verifier {
            last_seq: 0,
            last_hash: GENESIS,
            count: 0,
            hashes_at_checkpoints: Vec::new(),
            checkpoint_seqs: checkpoints.iter().map(|c| c.seq).collect(),
        }
    }

    /// Checks a window of consecutive stored entries. `lookahead` is the start of the next
    /// window, if any (for classifying a break at the window's end).
    pub fn feed(&mut self, window: &[Entry], lookahead: &[Entry]) -> Result<(), Tamper> {
        for (i, e) in window.iter().enumerate() {
            let next = window.get(i + 1).or_else(|| lookahead.first());
            if !e.self_consistent() {
                // An edited entry, unless it is a clumsy insertion the next entry skips.
                if next.is_some_and(|n| n.prev_hash == self.last_hash && n.self_consistent()) {
                    return Err(Tamper::Inserted { seq: e.seq });
                }
                return Err(Tamper::Edited { seq: e.seq });
            }
            if e.prev_hash != self.last_hash {
                let later = window[i + 1..].iter().chain(lookahead);
                if later.clone().any(|l| l.hash == e.prev_hash) {
                    return Err(Tamper::Reordered { seq: e.seq });
                }
                if next.is_some_and(|n| n.prev_hash == self.last_hash) {
                    return Err(Tamper::Inserted { seq: e.seq });
                }
                return Err(Tamper::Deleted {
                    after: self.last_seq,
                });
            }
            if e.seq != self.last_seq + 1 {
                // Linked correctly but numbered wrongly: the numbering was tampered with.
                return Err(if e.seq > self.last_seq + 1 {
                    Tamper::Deleted {
                        after: self.last_seq,
                    }
                } else {
                    Tamper::Reordered { seq: e.seq }
                });
            }
            // An entry that links fine but that the next entry skips was inserted right here.
            if let Some(n) = next
                && n.prev_hash != e.hash
                && n.prev_hash == e.prev_hash
                && n.self_consistent()
            {
                return Err(Tamper::Inserted { seq: e.seq });
            }
            self.last_seq = e.seq;
            self.last_hash = e.hash;
            self.count += 1;
            if self.checkpoint_seqs.contains(&e.seq) {
                self.hashes_at_checkpoints.push((e.seq, e.hash));
            }
        }
        Ok(())
    }

    /// Checks the checkpoints against the hashes seen, and returns the summary.
    pub fn finish(
        self,
        checkpoints: &[Checkpoint],
        key: &VerifyingKey,
    ) -> Result<Verified, Tamper> {
        let mut last_good = 0;
        let mut sorted: Vec<&Checkpoint> = checkpoints.iter().collect();
        sorted.sort_by_key(|c| c.seq);
        for c in sorted {
            if !c.signature_valid(key) {
                return Err(Tamper::BadCheckpoint { seq: c.seq });
            }
            match self.hashes_at_checkpoints.iter().find(|(s, _)| *s == c.seq) {
                Some((_, h)) if *h == c.hash => last_good = c.seq,
                Some(_) => {
                    return Err(Tamper::Rewritten {
                        after: last_good,
                        checkpoint: c.seq,
                    });
                }
                // The chain ends before a signed checkpoint: its tail was cut off.
                None => {
                    return Err(Tamper::Deleted {
                        after: self.last_seq,
                    });
                }
            }
        }
        Ok(Verified {
            entries: self.count,
            checkpoints: checkpoints.len() as u64,
            head: self.last_hash,
        })
    }
}

/// Verifies a whole chain held in memory.
pub fn verify(
    entries: &[Entry],
    checkpoints: &[Checkpoint],
    key: &VerifyingKey,
) -> Result<Verified, Tamper> {
    let mut v = Verifier::new(checkpoints);
    v.feed(entries, &[])?;
    v.finish(checkpoints, key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn chain(n: u64) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        for i in 0..n {
            let ev = Event {
                tenant: "t1".into(),
                actor: "key:app".into(),
                action: "record.put".into(),
                subject: Some(format!("ps_{i}")),
                details: serde_json::json!({ "record": i }),
            };
            let at = jiff::Timestamp::from_second(1_700_000_000 + i as i64).unwrap();
            let e = Entry::next(out.last().map(|p| (p.seq, &p.hash)), at, &ev);
            out.push(e);
        }
        out
    }

    fn checkpoints(entries: &[Entry], every: usize) -> Vec<Checkpoint> {
        entries
            .iter()
            .skip(every - 1)
            .step_by(every)
            .map(|e| Checkpoint::sign(e, jiff::Timestamp::UNIX_EPOCH, &key()))
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let c = chain(50);
        let cps = checkpoints(&c, 10);
        let v = verify(&c, &cps, &key().verifying_key()).unwrap();
        assert_eq!((v.entries, v.checkpoints, v.head), (50, 5, c[49].hash));
    }

    #[test]
    fn an_edited_entry_is_reported_by_its_seq() {
        let mut c = chain(20);
        c[7].action = "record.get".into();
        assert_eq!(
            verify(&c, &[], &key().verifying_key()),
            Err(Tamper::Edited { seq: 8 })
        );
    }

    #[test]
    fn a_deleted_entry_is_reported_after_the_last_intact_one() {
        let mut c = chain(20);
        c.remove(5);
        assert_eq!(
            verify(&c, &[], &key().verifying_key()),
            Err(Tamper::Deleted { after: 5 })
        );
        let mut renumbered = chain(20);
        renumbered.remove(5);
        for (i, e) in renumbered.iter_mut().enumerate() {
            e.seq = i as u64 + 1;
        }
        assert_eq!(
            verify(&renumbered, &[], &key().verifying_key()),
            Err(Tamper::Deleted { after: 5 })
        );
    }

    #[test]
    fn an_inserted_entry_is_reported_whether_or_not_it_links() {
        let c = chain(20);
        let forged_ev = Event {
            tenant: "t1".into(),
            actor: "x".into(),
            action: "record.put".into(),
            subject: None,
            details: serde_json::json!({}),
        };
        // Linked to its predecessor, so the next entry skips it.
        let linked = Entry::next(
            Some((c[9].seq, &c[9].hash)),
            jiff::Timestamp::UNIX_EPOCH,
            &forged_ev,
        );
        let mut a = c.clone();
        a.insert(10, linked);
        for (i, e) in a.iter_mut().enumerate() {
            e.seq = i as u64 + 1;
        }
        assert_eq!(
            verify(&a, &[], &key().verifying_key()),
            Err(Tamper::Inserted { seq: 11 })
        );
        // With a made-up predecessor.
        let mut dangling = Entry::next(
            Some((99, &[9; 32])),
            jiff::Timestamp::UNIX_EPOCH,
            &forged_ev,
        );
        dangling.seq = 11;
        let mut b = c.clone();
        b.insert(10, dangling);
        for (i, e) in b.iter_mut().enumerate() {
            e.seq = i as u64 + 1;
        }
        assert_eq!(
            verify(&b, &[], &key().verifying_key()),
            Err(Tamper::Inserted { seq: 11 })
        );
    }

    #[test]
    fn reordered_entries_are_reported_at_the_first_out_of_place_one() {
        let mut c = chain(20);
        c.swap(4, 5);
        let (s4, s5) = (c[4].seq, c[5].seq);
        c[4].seq = s5;
        c[5].seq = s4;
        assert_eq!(
            verify(&c, &[], &key().verifying_key()),
            Err(Tamper::Reordered { seq: 5 })
        );
    }

    #[test]
    fn a_chain_rewritten_with_fresh_hashes_is_caught_by_the_next_checkpoint() {
        let c = chain(30);
        let cps = checkpoints(&c, 10);
        // Rewrite entry 15 and recompute every hash after it, as an attacker with DB access could.
        let mut forged: Vec<Entry> = c[..14].to_vec();
        for e in &c[14..] {
            let mut ev = Event {
                tenant: e.tenant.clone(),
                actor: e.actor.clone(),
                action: e.action.clone(),
                subject: e.subject.clone(),
                details: serde_json::from_str(&e.details).unwrap(),
            };
            if e.seq == 15 {
                ev.action = "nothing.happened".into();
            }
            let prev = forged.last().unwrap();
            let mut n = Entry::next(
                Some((prev.seq, &prev.hash)),
                jiff::Timestamp::UNIX_EPOCH,
                &ev,
            );
            n.at = e.at.clone();
            n.hash = entry_hash(
                &n.prev_hash,
                &n.at,
                &n.tenant,
                &n.actor,
                &n.action,
                n.subject.as_deref(),
                &n.details,
            );
            forged.push(n);
        }
        assert_eq!(
            verify(&forged, &cps, &key().verifying_key()),
            Err(Tamper::Rewritten {
                after: 10,
                checkpoint: 20
            })
        );
    }

    #[test]
    fn a_checkpoint_signed_with_another_key_is_rejected() {
        let c = chain(10);
        let other = SigningKey::from_bytes(&[8; 32]);
        let cps = vec![Checkpoint::sign(&c[9], jiff::Timestamp::UNIX_EPOCH, &other)];
        assert_eq!(
            verify(&c, &cps, &key().verifying_key()),
            Err(Tamper::BadCheckpoint { seq: 10 })
        );
    }

    #[test]
    fn a_cut_off_tail_before_a_checkpoint_is_a_deletion() {
        let c = chain(30);
        let cps = checkpoints(&c, 10);
        assert_eq!(
            verify(&c[..25], &cps, &key().verifying_key()),
            Err(Tamper::Deleted { after: 25 })
        );
    }
}
