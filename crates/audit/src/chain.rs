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
use serde::{Deserialize, Serialize};
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

impl Event {
    /// An event of `tenant` done by `actor`; `subject` is a pseudonym, never an identifier.
    pub fn new(
        tenant: &str,
        actor: &str,
        action: &str,
        subject: Option<String>,
        details: serde_json::Value,
    ) -> Event {
        Event {
            tenant: tenant.to_owned(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            subject,
            details,
        }
    }
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

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<super::Hash, D::Error> {
        super::hex_bytes(d)
    }
}

fn hex_bytes<'de, D: serde::Deserializer<'de>, const N: usize>(d: D) -> Result<[u8; N], D::Error> {
    let text = <std::borrow::Cow<'de, str> as Deserialize>::deserialize(d)?;
    let bytes = hex::decode(text.as_ref())
        .map_err(|_| serde::de::Error::custom(format!("expected {N} bytes in hex")))?;
    bytes
        .try_into()
        .map_err(|_| serde::de::Error::custom(format!("expected {N} bytes in hex")))
}

/// Parses `SEQ:HASH` (a checkpoint's entry and its hash in hex), as an auditor passes an
/// expected head.
pub fn parse_anchor(text: &str) -> Result<(u64, Hash), String> {
    let (seq, hash) = text
        .trim()
        .split_once(':')
        .ok_or("write the expected head as SEQ:HASH, e.g. 2000:9f86d0…")?;
    let seq: u64 = seq
        .parse()
        .map_err(|_| format!("`{seq}` is not an entry number (SEQ in SEQ:HASH)"))?;
    if seq == 0 {
        return Err("entries are numbered from 1 (SEQ in SEQ:HASH)".into());
    }
    let hash: Hash = hex::decode(hash)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("HASH in SEQ:HASH must be 32 bytes in hex (64 characters)")?;
    Ok((seq, hash))
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

    /// The hash the entry's fields give after its `prev_hash`: what `hash` must be.
    pub fn computed_hash(&self) -> Hash {
        entry_hash(
            &self.prev_hash,
            &self.at,
            &self.tenant,
            &self.actor,
            &self.action,
            self.subject.as_deref(),
            &self.details,
        )
    }

    /// Whether the stored hash matches the stored fields.
    pub fn self_consistent(&self) -> bool {
        self.computed_hash() == self.hash
    }
}

/// A signed statement that the chain's entry `seq` has hash `hash`. Its JSON form (one line of
/// the checkpoint file) is `{"seq":…,"hash":"hex","at":"…","signature":"hex"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The entry.
    pub seq: u64,
    /// Its hash.
    #[serde(with = "hex_hash")]
    pub hash: Hash,
    /// When the checkpoint was made.
    pub at: String,
    /// Ed25519 signature over the domain tag, seq, hash and time.
    #[serde(serialize_with = "hex_sig", deserialize_with = "hex_bytes")]
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
    /// The chain ends before an entry that an anchor kept outside the database (the expected
    /// head, a checkpoint from the checkpoint file) says exists: its tail was cut off.
    Cut {
        /// The last entry the chain holds (0: none).
        head: u64,
        /// The entry the anchor names.
        expected: u64,
    },
    /// A checkpoint the cadence requires is missing: the chain holds entry `due` (a multiple of
    /// the cadence) but no signed checkpoint was found for it. Checkpoints are made in the same
    /// transaction as the entries they cover, so one was deleted.
    MissingCheckpoint {
        /// The entry that was due a checkpoint.
        due: u64,
        /// The cadence: a checkpoint every this many entries.
        every: u64,
    },
    /// A checkpoint published outside the database (the checkpoint file) is no longer in the
    /// database, although the chain still holds its entry.
    CheckpointDeleted {
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
            Tamper::Cut { head, expected } => write!(
                f,
                "the chain was cut: it ends at entry {head}, but entry {expected} was anchored outside the database"
            ),
            Tamper::MissingCheckpoint { due, every } => write!(
                f,
                "the signed checkpoint due at entry {due} (one every {every} entries) is missing: it was deleted"
            ),
            Tamper::CheckpointDeleted { seq } => write!(
                f,
                "the checkpoint at entry {seq} was deleted from the database (the checkpoint file still holds it)"
            ),
        }
    }
}

/// The cadence of the trail: the append that reaches entry 1000, 2000, … signs a checkpoint at
/// its last entry, in the same transaction. Verification expects every one of them.
pub const CHECKPOINT_EVERY: u64 = 1000;

/// What a verification expects besides the entries and checkpoints in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// The cadence the trail was written with: the append that reaches a multiple of this many
    /// entries signs a checkpoint at its last entry. 0: no cadence check.
    pub checkpoint_every: u64,
    /// An entry the chain must hold, with this hash: an auditor's anchor, e.g. a checkpoint
    /// published elsewhere (`--expect-head SEQ:HASH`).
    pub head: Option<(u64, Hash)>,
    /// Signed checkpoints kept outside the database (the checkpoint file): each must verify, the
    /// chain must hold its entry with its hash, and the database must still hold it.
    pub published: Vec<Checkpoint>,
}

impl Default for Expect {
    /// The server's cadence ([`CHECKPOINT_EVERY`]), no anchors.
    fn default() -> Self {
        Expect::cadence(CHECKPOINT_EVERY)
    }
}

impl Expect {
    /// A checkpoint every `every` entries, no anchors.
    pub fn cadence(every: u64) -> Self {
        Expect {
            checkpoint_every: every,
            head: None,
            published: Vec::new(),
        }
    }

    /// Nothing beyond the stored checkpoints.
    pub fn nothing() -> Self {
        Expect::cadence(0)
    }
}

/// The result of a verification that found nothing wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// Entries checked.
    pub entries: u64,
    /// Checkpoints checked (in the database).
    pub checkpoints: u64,
    /// The last entry's hash (the chain head).
    #[serde(with = "hex_hash")]
    pub head: Hash,
    /// The last entry covered by an anchor: a signed checkpoint (in the database or the
    /// checkpoint file) or the expected head. 0: none.
    pub sealed_to: u64,
    /// Entries after `sealed_to`: they link correctly, but nothing signed proves they were not
    /// cut off or rewritten (0: the chain is sealed to its head).
    pub unsealed: u64,
    /// When the first unsealed entry was written (absent when `unsealed` is 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsealed_since: Option<String>,
}

impl Verified {
    /// Whether an anchor covers the head.
    pub fn sealed(&self) -> bool {
        self.unsealed == 0
    }
}

/// Streaming verifier: feed entries in `seq` order in windows (the window is used to look
/// ahead when classifying a break), then [`Verifier::finish`] with the checkpoints.
pub struct Verifier {
    last_seq: u64,
    last_hash: Hash,
    count: u64,
    anchored: std::collections::BTreeSet<u64>,
    hashes_at_anchors: std::collections::BTreeMap<u64, Hash>,
    /// `at` of every entry at a multiple of the cadence: the checkpoint due for it was signed
    /// in the same append, so carries the same time.
    at_multiples: std::collections::BTreeMap<u64, String>,
    first_unsealed: u64,
    unsealed_since: Option<String>,
    expect: Expect,
}

impl Verifier {
    /// A verifier that will check the positions of `checkpoints` as it goes, with no further
    /// expectations.
    pub fn new(checkpoints: &[Checkpoint]) -> Self {
        Verifier::expecting(checkpoints, Expect::nothing())
    }

    /// A verifier for the stored `checkpoints` and what `expect` says.
    pub fn expecting(checkpoints: &[Checkpoint], expect: Expect) -> Self {
        let anchored: std::collections::BTreeSet<u64> = checkpoints
            .iter()
            .map(|c| c.seq)
            .chain(expect.published.iter().map(|c| c.seq))
            .chain(expect.head.map(|(s, _)| s))
            .collect();
        let first_unsealed = anchored.last().map_or(1, |s| s + 1);
        Verifier {
            last_seq: 0,
            last_hash: GENESIS,
            count: 0,
            anchored,
            hashes_at_anchors: Default::default(),
            at_multiples: Default::default(),
            first_unsealed,
            unsealed_since: None,
            expect,
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
            if self.anchored.contains(&e.seq) {
                self.hashes_at_anchors.insert(e.seq, e.hash);
            }
            let every = self.expect.checkpoint_every;
            if every > 0 && e.seq.is_multiple_of(every) {
                self.at_multiples.insert(e.seq, e.at.clone());
            }
            if e.seq == self.first_unsealed {
                self.unsealed_since = Some(e.at.clone());
            }
        }
        Ok(())
    }

    /// Checks the anchors (stored checkpoints, published checkpoints, the expected head) against
    /// the hashes seen, in chain order, then the cadence, and returns the summary.
    pub fn finish(
        self,
        checkpoints: &[Checkpoint],
        key: &VerifyingKey,
    ) -> Result<Verified, Tamper> {
        enum Source {
            Stored,
            Published,
            Expected,
        }
        let mut anchors: Vec<(u64, Hash, Source, Option<&Checkpoint>)> = checkpoints
            .iter()
            .map(|c| (c.seq, c.hash, Source::Stored, Some(c)))
            .chain(
                self.expect
                    .published
                    .iter()
                    .map(|c| (c.seq, c.hash, Source::Published, Some(c))),
            )
            .chain(
                self.expect
                    .head
                    .map(|(s, h)| (s, h, Source::Expected, None)),
            )
            .collect();
        // In chain order; at one position, the stored checkpoint first.
        anchors.sort_by_key(|(seq, _, source, _)| (*seq, !matches!(source, Source::Stored)));
        let stored: std::collections::BTreeMap<u64, &Checkpoint> =
            checkpoints.iter().map(|c| (c.seq, c)).collect();
        let mut last_good = 0;
        for (seq, hash, source, signed) in anchors {
            if let Some(c) = signed
                && !c.signature_valid(key)
            {
                return Err(Tamper::BadCheckpoint { seq });
            }
            match self.hashes_at_anchors.get(&seq) {
                Some(h) if *h == hash => last_good = seq,
                Some(_) => {
                    return Err(Tamper::Rewritten {
                        after: last_good,
                        checkpoint: seq,
                    });
                }
                // The chain ends before the anchor: its tail was cut off.
                None => {
                    return Err(match source {
                        Source::Stored => Tamper::Deleted {
                            after: self.last_seq,
                        },
                        Source::Published | Source::Expected => Tamper::Cut {
                            head: self.last_seq,
                            expected: seq,
                        },
                    });
                }
            }
            if matches!(source, Source::Published)
                && stored.get(&seq).is_none_or(|c| c.hash != hash)
            {
                return Err(Tamper::CheckpointDeleted { seq });
            }
        }
        self.check_cadence(&stored)?;
        let sealed_to = last_good;
        Ok(Verified {
            entries: self.count,
            checkpoints: checkpoints.len() as u64,
            head: self.last_hash,
            sealed_to,
            unsealed: self.last_seq - sealed_to,
            unsealed_since: (self.last_seq > sealed_to)
                .then_some(self.unsealed_since)
                .flatten(),
        })
    }

    /// Every multiple of the cadence that the chain reaches has its checkpoint: the first stored
    /// checkpoint at or after it lies before the next multiple, or (an append that crossed
    /// several multiples signs once, at its end) was signed in the same append, at the same time.
    fn check_cadence(
        &self,
        stored: &std::collections::BTreeMap<u64, &Checkpoint>,
    ) -> Result<(), Tamper> {
        let every = self.expect.checkpoint_every;
        if every == 0 {
            return Ok(());
        }
        for (&due, at) in &self.at_multiples {
            let covered = stored
                .range(due..)
                .next()
                .is_some_and(|(&seq, c)| seq < due.saturating_add(every) || c.at == *at);
            if !covered {
                return Err(Tamper::MissingCheckpoint { due, every });
            }
        }
        Ok(())
    }
}

/// Verifies a whole chain held in memory against its stored checkpoints only.
pub fn verify(
    entries: &[Entry],
    checkpoints: &[Checkpoint],
    key: &VerifyingKey,
) -> Result<Verified, Tamper> {
    verify_with(entries, checkpoints, key, Expect::nothing())
}

/// Verifies a whole chain held in memory against its checkpoints and `expect`.
pub fn verify_with(
    entries: &[Entry],
    checkpoints: &[Checkpoint],
    key: &VerifyingKey,
    expect: Expect,
) -> Result<Verified, Tamper> {
    let mut v = Verifier::expecting(checkpoints, expect);
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
            n.hash = n.computed_hash();
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

    #[test]
    fn an_append_that_crosses_two_multiples_satisfies_the_cadence_with_its_one_checkpoint() {
        // What `build` does: one checkpoint at the end of the append, with the append's time.
        let mut c = chain(25);
        let same = c[0].at.clone();
        for e in &mut c {
            e.at = same.clone();
        }
        let mut prev = GENESIS;
        for e in &mut c {
            e.prev_hash = prev;
            e.hash = e.computed_hash();
            prev = e.hash;
        }
        let at: jiff::Timestamp = same.parse().unwrap();
        let cps = vec![Checkpoint::sign(&c[24], at, &key())];
        let v = verify_with(&c, &cps, &key().verifying_key(), Expect::cadence(10)).unwrap();
        assert_eq!((v.sealed_to, v.unsealed), (25, 0));
        // Signed at another time, it cannot stand in for the one due at 10.
        let late = vec![Checkpoint::sign(
            &c[24],
            jiff::Timestamp::UNIX_EPOCH,
            &key(),
        )];
        assert_eq!(
            verify_with(&c, &late, &key().verifying_key(), Expect::cadence(10)),
            Err(Tamper::MissingCheckpoint { due: 10, every: 10 })
        );
    }

    #[test]
    fn an_expected_head_is_parsed_from_seq_and_hash() {
        let h = hex::encode([3u8; 32]);
        assert_eq!(parse_anchor(&format!("12:{h}")), Ok((12, [3; 32])));
        assert!(parse_anchor("12").is_err());
        assert!(parse_anchor(&format!("0:{h}")).is_err());
        assert!(parse_anchor("12:abcd").is_err());
    }
}
