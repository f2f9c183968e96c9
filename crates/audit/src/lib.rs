//! The Custos audit trail (PRODUCT.md C3): append-only, hash-chained entries recording who did
//! what, when, for which tenant and which subject pseudonym, never personal data in the clear,
//! with periodic Ed25519-signed checkpoints. [`AuditLog::verify`] reports the first entry that
//! was edited, deleted, inserted or reordered.
//!
//! [`chain`] is the pure core (hashing, signing, verifying); [`store`] keeps the chain in
//! SQLite or PostgreSQL; [`published`] keeps a copy of the signed checkpoints outside the
//! database (the checkpoint file). The clock is passed in: nothing here reads the system time.
//!
//! What verification promises: every entry links to the one before it, every stored checkpoint
//! is signed and matches its entry, every checkpoint the cadence ([`CHECKPOINT_EVERY`]) requires
//! exists, and every anchor kept outside the database (an expected head, the checkpoint file)
//! is still in the chain. Entries after the last anchor are reported as an unsealed tail: they
//! link, but nothing signed proves that more did not follow them.

pub mod chain;
pub mod published;
pub mod store;

pub use chain::{CHECKPOINT_EVERY, Checkpoint, Entry, Event, Expect, Hash, Tamper, Verified};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
pub use store::{PgStore, Query, SqliteStore, Store};

/// Everything that can go wrong reading or writing the trail (tampering is not an error: it is
/// what [`AuditLog::verify`] reports).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// SQLite failed.
    #[error("audit trail (SQLite): {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error("audit trail (PostgreSQL): {0}")]
    Postgres(#[from] postgres::Error),
    /// A stored value has an impossible shape (a hash of the wrong length, a negative seq).
    #[error("audit trail is corrupt: {0}")]
    Corrupt(String),
    /// Bad configuration.
    #[error("audit trail configuration: {0}")]
    Config(String),
    /// The checkpoint file could not be read or written.
    #[error("audit checkpoint file {path}: {reason}")]
    CheckpointFile {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong, with the line where it applies.
        reason: String,
    },
}

impl AuditError {
    /// Its code in the error table (`docs/errors.md`).
    pub fn code(&self) -> custos_types::ErrorCode {
        use custos_types::ErrorCode as C;
        match self {
            AuditError::Sqlite(_) | AuditError::Postgres(_) => C::Unavailable,
            AuditError::Corrupt(_) => C::DataCorrupt,
            AuditError::Config(_) => C::InvalidArgument,
            AuditError::CheckpointFile { .. } => C::FileError,
        }
    }
}

/// The outcome of a verification (JSON: `{"status": "intact" | "unsealed_tail" | "tampered",
/// ...}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verification {
    /// Every entry and checkpoint checks out, and a signed checkpoint (or the expected head)
    /// covers the last entry: sealed to the head.
    Intact(Verified),
    /// Every entry and checkpoint checks out up to `sealed_to`; the `unsealed` entries after it
    /// link correctly but no checkpoint covers them yet, so a cut there would not show. Normal
    /// while a server runs (the next timed checkpoint seals them); after a clean stop of every
    /// server, the head is sealed.
    UnsealedTail(Verified),
    /// The first place the chain breaks.
    Tampered(Tamper),
}

impl Verification {
    /// The summary of an unbroken chain, sealed or not; `None` when tampered.
    pub fn unbroken(&self) -> Option<&Verified> {
        match self {
            Verification::Intact(v) | Verification::UnsealedTail(v) => Some(v),
            Verification::Tampered(_) => None,
        }
    }

    fn from_result(r: Result<Verified, Tamper>) -> Self {
        match r {
            Ok(v) if v.sealed() => Verification::Intact(v),
            Ok(v) => Verification::UnsealedTail(v),
            Err(t) => Verification::Tampered(t),
        }
    }
}

/// How many entries verification reads at a time.
const WINDOW: usize = 8192;

/// The audit trail over a store, with the key that signs checkpoints.
pub struct AuditLog<S: Store> {
    store: S,
    key: SigningKey,
    checkpoint_every: u64,
}

impl<S: Store> AuditLog<S> {
    /// A trail over `store`, signing a checkpoint every `checkpoint_every` entries (at least 1)
    /// with `key`.
    pub fn new(store: S, key: SigningKey, checkpoint_every: u64) -> Self {
        AuditLog {
            store,
            key,
            checkpoint_every: checkpoint_every.max(1),
        }
    }

    /// The key auditors verify checkpoints with.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The store (for reading, or for tests).
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Appends `events` at time `at` in one transaction; returns the entries written. A
    /// checkpoint is signed whenever the chain crosses a multiple of `checkpoint_every`.
    pub fn append(
        &mut self,
        events: &[Event],
        at: jiff::Timestamp,
    ) -> Result<Vec<Entry>, AuditError> {
        let mut written = Vec::new();
        let (key, every) = (&self.key, self.checkpoint_every);
        self.store.append(&mut |head| {
            let (entries, cp) = build(head, events, at, key, every);
            written = entries.clone();
            (entries, cp)
        })?;
        Ok(written)
    }

    /// Signs a checkpoint at the current head now (the server calls this on a timer too, so
    /// a quiet trail is still anchored).
    pub fn checkpoint(&mut self, at: jiff::Timestamp) -> Result<Option<Checkpoint>, AuditError> {
        let mut made = None;
        let key = &self.key;
        let last = self.store.head()?;
        if let Some(e) = last {
            let already = self.store.checkpoints()?.iter().any(|c| c.seq == e.seq);
            if !already {
                self.store.append(&mut |_| {
                    let c = Checkpoint::sign(&e, at, key);
                    made = Some(c.clone());
                    (Vec::new(), Some(c))
                })?;
            }
        }
        Ok(made)
    }

    /// Verifies the whole trail, reading it in windows, expecting this log's cadence.
    pub fn verify(&mut self) -> Result<Verification, AuditError> {
        verify_store_with(
            &mut self.store,
            &self.key.verifying_key(),
            Expect::cadence(self.checkpoint_every),
        )
    }

    /// Entries of `tenant` matching `q`.
    pub fn query(&mut self, tenant: &str, q: &Query) -> Result<Vec<Entry>, AuditError> {
        self.store.query(tenant, q)
    }
}

/// The entries (and checkpoint) that follow `head` for `events`: what every append computes
/// inside its transaction, also usable by a caller that holds its own transaction.
pub fn build(
    head: Option<(u64, Hash)>,
    events: &[Event],
    at: jiff::Timestamp,
    key: &SigningKey,
    every: u64,
) -> (Vec<Entry>, Option<Checkpoint>) {
    let mut entries: Vec<Entry> = Vec::with_capacity(events.len());
    for ev in events {
        let prev = entries.last().map(|e| (e.seq, e.hash)).or(head);
        entries.push(Entry::next(prev.as_ref().map(|(s, h)| (*s, h)), at, ev));
    }
    let before = head.map_or(0, |(s, _)| s);
    let checkpoint = entries
        .last()
        .filter(|last| last.seq / every > before / every)
        .map(|last| Checkpoint::sign(last, at, key));
    (entries, checkpoint)
}

/// Verifies the trail in `store` with an auditor's public key (no signing key needed),
/// expecting the server's cadence ([`CHECKPOINT_EVERY`]) and no outside anchors.
pub fn verify_store<S: Store + ?Sized>(
    store: &mut S,
    key: &VerifyingKey,
) -> Result<Verification, AuditError> {
    verify_store_with(store, key, Expect::default())
}

/// Verifies the trail in `store` against its checkpoints and what `expect` says (cadence,
/// expected head, published checkpoints).
///
/// Reading and checking overlap: this thread reads the next window from the store while a
/// second one hashes and links the window before it (the store need not be `Send`; the
/// entries are). Windows go back and forth through the two channels, so after the first few
/// the entries' buffers are refilled rather than allocated.
pub fn verify_store_with<S: Store + ?Sized>(
    store: &mut S,
    key: &VerifyingKey,
    expect: Expect,
) -> Result<Verification, AuditError> {
    use std::sync::mpsc;

    let checkpoints = store.checkpoints()?;
    let mut v = chain::Verifier::expecting(&checkpoints, expect);
    let (checked, read) = std::thread::scope(|scope| {
        // One window read ahead of the one being checked (plus the checker's lookahead).
        let (full, to_check) = mpsc::sync_channel::<Vec<Entry>>(1);
        let (spent, to_refill) = mpsc::channel::<Vec<Entry>>();
        let checker = scope.spawn(move || -> Result<chain::Verifier, Tamper> {
            // A closed channel is the end of the trail (or a read error, which wins below).
            let mut window = to_check.recv().unwrap_or_default();
            loop {
                let next = to_check.recv().unwrap_or_default();
                v.feed(&window, &next)?;
                if next.is_empty() {
                    return Ok(v);
                }
                // The reader may have finished already; then the buffer is simply dropped.
                let _ = spent.send(std::mem::replace(&mut window, next));
            }
        });
        let read = read_windows(store, &full, &to_refill);
        drop(full);
        let checked = checker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (checked, read)
    });
    // As when reading and checking took turns: a read that fails is the answer, even if an
    // earlier window turned out tampered.
    read?;
    Ok(Verification::from_result(
        checked.and_then(|v| v.finish(&checkpoints, key)),
    ))
}

/// The reader's side of [`verify_store_with`]: every window of the trail in order, each sent
/// to the checker, refilling the buffers it sends back.
fn read_windows<S: Store + ?Sized>(
    store: &mut S,
    full: &std::sync::mpsc::SyncSender<Vec<Entry>>,
    to_refill: &std::sync::mpsc::Receiver<Vec<Entry>>,
) -> Result<(), AuditError> {
    let mut after = 0;
    loop {
        let mut window = to_refill.try_recv().unwrap_or_default();
        store.read_into(after, WINDOW, &mut window)?;
        let more = window.len() == WINDOW;
        after = window.last().map_or(after, |e| e.seq);
        // A closed channel: the checker stopped at a tampered entry.
        if full.send(window).is_err() || !more {
            return Ok(());
        }
    }
}

#[cfg(test)]
#[path = "../../../testkit/database_url.rs"]
mod database_url;

#[cfg(test)]
mod properties;

#[cfg(test)]
#[path = "../../../testkit/tenant_sql.rs"]
mod tenant_filter;

#[cfg(test)]
mod tests;
