//! What many servers over one PostgreSQL must agree on for every request made with an API key:
//! whether the key is still live, and how much of its request rate is left (issue 23,
//! docs/scale-out.md). Both are answered by one statement on a pooled connection (one round trip,
//! no transaction): a token bucket per key in `rate_buckets`, refilled by the database's own
//! clock so the servers' clocks do not matter, updated atomically by
//! `INSERT … ON CONFLICT DO UPDATE … RETURNING`, with the key's revocation read from
//! `access_keys` in the same statement.
//!
//! On SQLite (one process) there is nothing to share: [`Vault::key_gate`] answers `None` and the
//! server keeps its bucket and its cache of checked keys in memory.
//!
//! `rate_buckets` carries `tenant_id` in its key (empty for admin keys, which belong to no
//! tenant) but no row-level security: it holds no tenant data, only a count per key id, and is
//! written before any tenant transaction starts.

use std::time::Duration;

use crate::TenantId;
use crate::error::Result;
use crate::vault::Vault;

/// A key's request rate: `per_second` tokens a second, at most `burst` held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_second: f64,
    /// The most tokens a key holds (the burst it may send at once).
    pub burst: f64,
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyGate {
    /// The key exists and is not revoked (as the database holds it now, whichever server
    /// revoked it).
    pub live: bool,
    /// `None`: a token was taken, the request may go on. `Some(wait)`: the bucket is empty and
    /// one token will be there after `wait`.
    pub wait: Option<Duration>,
}

impl Vault {
    /// For a request with the key `key_id` (of `tenant`; `None` for an admin key): whether the
    /// key is live and, with `rate`, one token of its bucket shared by every server over this
    /// database. `None` where the store is not shared (SQLite). One statement, one round trip.
    pub fn key_gate(
        &mut self,
        tenant: Option<&TenantId>,
        key_id: &str,
        rate: Option<Rate>,
    ) -> Result<Option<KeyGate>> {
        let tenant = tenant.map_or(crate::store::NO_TENANT, TenantId::as_str);
        self.store.key_gate(tenant, key_id, rate)
    }
}
