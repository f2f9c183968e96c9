//! What many servers over one PostgreSQL must agree on for the requests made with an API key:
//! whether the key is still live, and how much of its request rate is left (issue 23,
//! docs/scale-out.md).
//!
//! - **The rate**: a token bucket per key in `rate_buckets`, refilled by the database's own
//!   clock so the servers' clocks do not matter, taken from atomically by
//!   `INSERT … ON CONFLICT DO UPDATE … RETURNING` ([`Vault::key_gate`]). A server takes a few
//!   tokens at a time and spends them on its next requests, so the bucket is not asked on every
//!   request; what a server took is spent only by it, so the total across servers still never
//!   exceeds what the bucket gave.
//! - **Revocation**: a trigger on `access_keys` (migration 18) sends a notice on the channel
//!   [`CHANNEL`] when a key is revoked, in the revoking transaction, so it is delivered when that
//!   commits and only then. Each server listens on a connection of its own ([`KeyWatch`]) and
//!   trusts its cache of checked keys only while it is listening: a notice, or a lost
//!   connection, moves the watch's epoch on, and a cache entry of an older epoch is looked up
//!   again. While the watch cannot vouch for its connection, every request asks the database
//!   whether its key is live (in the same statement as its token).
//!
//! On SQLite (one process) there is nothing to share: [`Vault::key_gate`] answers `None`, there is
//! no watch, and the server keeps its bucket and its cache of checked keys in memory.
//!
//! `rate_buckets` carries `tenant_id` in its key (empty for admin keys, which belong to no
//! tenant) but no row-level security: it holds no tenant data, only a count per key id, and is
//! written before any tenant transaction starts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::TenantId;
use crate::error::Result;
use crate::vault::{StoreConfig, Vault};

/// The notification channel the `access_keys` trigger sends on; the payload is the schema, so
/// servers of other schemas in the same database ignore it.
pub const CHANNEL: &str = "custos_keys";

/// How long a watch vouches for its connection after it last heard from the database: past
/// this, requests ask the database again (the watch confirms every second).
pub const VOUCHED_FOR: Duration = Duration::from_secs(3);

/// A key's request rate: `per_second` tokens a second, at most `burst` held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_second: f64,
    /// The most tokens a key holds (the burst it may send at once).
    pub burst: f64,
}

/// The database's answer for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyGate {
    /// The key exists and is not revoked (as the database holds it now, whichever server
    /// revoked it).
    pub live: bool,
    /// Tokens taken from the bucket (at most the number asked for; 0 without a rate).
    pub taken: u32,
    /// `Some(wait)`: the bucket held less than one token; one will be there after `wait`.
    pub wait: Option<Duration>,
}

impl Vault {
    /// For the key `key_id` (of `tenant`; `None` for an admin key): whether the key is live
    /// and, with `rate`, up to `up_to` tokens (at least one) of its bucket shared by every server
    /// over this database. `None` where the store is not shared (SQLite). One statement, one
    /// round trip.
    pub fn key_gate(
        &mut self,
        tenant: Option<&TenantId>,
        key_id: &str,
        rate: Option<Rate>,
        up_to: u32,
    ) -> Result<Option<KeyGate>> {
        let tenant = tenant.map_or(crate::store::NO_TENANT, TenantId::as_str);
        self.store.key_gate(tenant, key_id, rate, up_to.max(1))
    }
}

/// A server's ear on the database for revoked keys (see the module documentation): a thread
/// with a connection of its own that `LISTEN`s on [`CHANNEL`], confirms the connection every
/// second and reconnects when it is lost. Dropping the watch stops the thread within a second.
pub struct KeyWatch {
    heard: Arc<Heard>,
}

/// What the listening thread tells the server.
pub(crate) struct Heard {
    /// Moves on with every notice for this schema and every lost or regained connection.
    epoch: AtomicU64,
    /// The connection is up and listening.
    listening: AtomicBool,
    /// Milliseconds after `since` when the database last answered on the listening connection.
    confirmed_ms: AtomicU64,
    since: Instant,
}

impl Heard {
    /// A revocation was heard, or the connection was lost or regained: every key checked
    /// before is checked again.
    pub(crate) fn moved_on(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn listening(&self, yes: bool) {
        if yes {
            self.confirmed();
        }
        self.listening.store(yes, Ordering::SeqCst);
    }

    pub(crate) fn confirmed(&self) {
        let ms = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.confirmed_ms.store(ms, Ordering::SeqCst);
    }
}

impl KeyWatch {
    /// Starts listening for revocations in the store's database; `None` for a store of one
    /// process (SQLite), where the server itself revokes every key it must forget. The watch
    /// starts out not vouching: until its connection listens, requests ask the database.
    pub fn start(store: &StoreConfig) -> Option<KeyWatch> {
        let StoreConfig::Postgres { url, schema, .. } = store else {
            return None;
        };
        let heard = Arc::new(Heard {
            epoch: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            confirmed_ms: AtomicU64::new(0),
            since: Instant::now(),
        });
        crate::store::postgres::watch_keys(url.clone(), schema.clone(), Arc::downgrade(&heard));
        Some(KeyWatch { heard })
    }

    /// The epoch of the keys this server may trust without asking the database: `Some` while
    /// the watch is listening and the database answered it within [`VOUCHED_FOR`]; a key
    /// checked in an earlier epoch must be checked again. `None`: the watch cannot vouch, so
    /// every request asks the database whether its key is live.
    pub fn epoch(&self) -> Option<u64> {
        let (epoch, vouches) = self.state();
        vouches.then_some(epoch)
    }

    /// The epoch as it stands (moved on by every notice and every lost or regained
    /// connection, whether or not the watch vouches now), and whether the watch vouches. A key
    /// checked in an earlier epoch is stale even while the database is asked about every key:
    /// should asking fail, a stale entry must not answer.
    pub fn state(&self) -> (u64, bool) {
        let h = &self.heard;
        // The epoch is read first: a notice that lands after it makes the caller's entries
        // stale, never the other way round.
        let epoch = h.epoch.load(Ordering::SeqCst);
        let now = u64::try_from(h.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        let confirmed = h.confirmed_ms.load(Ordering::SeqCst);
        let fresh = now.saturating_sub(confirmed) < VOUCHED_FOR.as_millis() as u64;
        (epoch, h.listening.load(Ordering::SeqCst) && fresh)
    }
}
