//! Per-key request limits and the short cache of authenticated keys.
//!
//! One server (SQLite, one process): a token bucket per API key in memory ([`RateLimiter`]), and
//! checked keys remembered for a few seconds ([`AuthCache`]), cleared when this server revokes a
//! key.
//!
//! Many servers over one PostgreSQL (docs/scale-out.md, "Many servers"):
//! - the bucket lives in the database, one row per key ([`custos_vault::key_gate`]). A server
//!   takes a few tokens at a time (a twentieth of a second's worth, at least one) and spends
//!   them on its next requests within a second ([`Leases`]), so the limit holds in total across
//!   the servers (the rate and burst of [`RateLimiter::new`], refilled by the database's clock)
//!   without a round trip per request;
//! - revocations are heard: each server listens for the notice a revoked key sends
//!   ([`custos_vault::key_gate::KeyWatch`]), and a cached key is trusted only in the watch's
//!   current epoch, which every notice moves on. A key revoked through any server is refused
//!   by every server as soon as PostgreSQL has delivered the notice (it goes out at the
//!   revocation's commit). While a server's watch cannot vouch for its connection, each of its
//!   requests asks the database whether the key is live, as in one statement with its tokens.
//!
//! If the database cannot be asked (unreachable), the request falls back to this process's own
//! bucket and to the cache: it fails open to a per-server limit (the total then at most the
//! number of servers times the limit) and a revocation bound of the cache's TTL, rather than
//! refusing every request for a failure that is not the caller's; the request's own work needs
//! the database anyway and answers 503 when it is down. The failure is logged without the key.
//!
//! Idempotency keys are not here: the vault stores each with the write it answered, in the
//! write's transaction, so every server sees them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Recently authenticated keys, by the SHA-256 of the presented key, for a few seconds: a
/// key checked once is not looked up in the database on every request. Each entry carries the
/// epoch of revocations it was checked in (see the module documentation): revocation through
/// this server clears the cache at once; through another server over the same PostgreSQL it
/// moves the epoch on, so the entry is looked up again.
pub struct AuthCache {
    ttl: Duration,
    entries: Mutex<HashMap<[u8; 32], Cached>>,
}

struct Cached {
    principal: custos_access::Principal,
    at: Instant,
    /// The revocations' epoch the key was checked in.
    epoch: u64,
}

impl AuthCache {
    /// Keeps entries for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        AuthCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The principal for a key digest, if checked within the TTL and in the epoch of
    /// revocations `epoch` (whether or not revocations are heard now: an entry a heard
    /// revocation made stale never answers, not even when the database cannot be asked).
    pub fn get(
        &self,
        digest: &[u8; 32],
        now: Instant,
        epoch: u64,
    ) -> Option<custos_access::Principal> {
        let g = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        g.get(digest)
            .filter(|c| now.saturating_duration_since(c.at) < self.ttl)
            .filter(|c| c.epoch == epoch)
            .map(|c| c.principal.clone())
    }

    /// Remembers a successful check made in `epoch` (read before the check began, so a
    /// revocation heard during the check leaves the entry stale).
    pub fn put(
        &self,
        digest: [u8; 32],
        principal: custos_access::Principal,
        now: Instant,
        epoch: u64,
    ) {
        let mut g = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if g.len() > 10_000 {
            g.retain(|_, c| now.saturating_duration_since(c.at) < self.ttl);
        }
        g.insert(
            digest,
            Cached {
                principal,
                at: now,
                epoch,
            },
        );
    }

    /// Forgets one key (found revoked).
    pub fn forget(&self, digest: &[u8; 32]) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(digest);
    }

    /// Forgets everything (after a revocation).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// The tokens this server took from keys' shared buckets in the database and has not spent
/// yet. A lease is spent within [`Leases::LIFE`] or dropped, so tokens taken long ago cannot add
/// to a later burst.
#[derive(Default)]
pub struct Leases {
    held: Mutex<HashMap<String, (u32, Instant)>>,
    /// Keys whose chunk is being taken from the database right now: a request that finds none
    /// held meanwhile takes one token for itself, not another chunk, so requests arriving
    /// together do not take more than they spend.
    taking: Mutex<std::collections::HashSet<String>>,
}

/// A chunk being taken for a key (see [`Leases::taking`]); dropping it ends the take.
pub struct Taking<'a> {
    leases: &'a Leases,
    key: String,
}

impl Drop for Taking<'_> {
    fn drop(&mut self) {
        self.leases
            .taking
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

impl Leases {
    /// How long tokens taken from the database may wait to be spent.
    pub const LIFE: Duration = Duration::from_secs(1);

    /// How many tokens to take at once for `rate`: a twentieth of a second's worth, at least
    /// one, at most a tenth of the burst (rounded down).
    pub fn chunk(rate: custos_vault::key_gate::Rate) -> u32 {
        let n = (rate.per_second / 20.0).min(rate.burst / 10.0).floor();
        // Clamped first, so the conversion cannot wrap.
        n.clamp(1.0, 10_000.0) as u32
    }

    /// Spends one of `key`'s held tokens; `false` when none is held (or they expired).
    pub fn spend(&self, key: &str, now: Instant) -> bool {
        let mut g = self.held.lock().unwrap_or_else(|p| p.into_inner());
        match g.get_mut(key) {
            Some((n, at)) if *n > 0 && now.saturating_duration_since(*at) < Self::LIFE => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// Starts taking a chunk for `key`: `None` when another request is taking one already (this
    /// one then takes a single token).
    pub fn taking(&self, key: &str) -> Option<Taking<'_>> {
        self.taking
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned())
            .then(|| Taking {
                leases: self,
                key: key.to_owned(),
            })
    }

    /// Holds `n` more tokens of `key`, taken from the database at `now`.
    pub fn hold(&self, key: &str, n: u32, now: Instant) {
        let mut g = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if g.len() > 10_000 {
            g.retain(|_, (n, at)| *n > 0 && now.saturating_duration_since(*at) < Self::LIFE);
        }
        let e = g.entry(key.to_owned()).or_insert((0, now));
        if now.saturating_duration_since(e.1) >= Self::LIFE {
            e.0 = 0;
        }
        *e = (e.0.saturating_add(n), now);
    }
}

/// A token bucket per key, in this process's memory (the shared one is in the database).
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_second` requests per second per key, bursts of twice that; 0 disables limiting.
    pub fn new(per_second: u32) -> Self {
        RateLimiter {
            per_second: f64::from(per_second),
            burst: f64::from(per_second) * 2.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The rate as the shared bucket in the database keeps it; `None` when limiting is off.
    pub fn rate(&self) -> Option<custos_vault::key_gate::Rate> {
        (self.per_second > 0.0).then_some(custos_vault::key_gate::Rate {
            per_second: self.per_second,
            burst: self.burst,
        })
    }

    /// Takes one token for `key` from this process's bucket; on refusal, how long until one is
    /// available.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = b.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*last).as_secs_f64() * self.per_second)
            .min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }
}

/// Failed API-key authentications per client (see `client.rs`): a token bucket of `per_minute`
/// failures that refills over a minute. A client that has used it up is refused before its key
/// is looked at, so a brute force learns nothing more until the bucket refills, not even when
/// it guesses right.
pub struct FailedAuthLimiter {
    per_minute: u32,
    /// A random key of this process: buckets are keyed by a hash, not by the address.
    salt: [u8; 32],
    buckets: Mutex<HashMap<[u8; 32], (f64, Instant)>>,
}

impl FailedAuthLimiter {
    /// `per_minute` failed authentications per client; 0 turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        let mut salt = [0u8; 32];
        // Without randomness the buckets are still per client, only the hash is predictable.
        let _ = getrandom::fill(&mut salt);
        FailedAuthLimiter {
            per_minute,
            salt,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refill(&self, tokens: f64, last: Instant, now: Instant) -> f64 {
        let cap = f64::from(self.per_minute);
        (tokens + now.saturating_duration_since(last).as_secs_f64() * cap / 60.0).min(cap)
    }

    /// Whether `client` may try a key now; if not, how long until it may.
    pub fn check(&self, client: &crate::client::ClientAddr, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        match b.get(&client.bucket(&self.salt)) {
            Some(&(tokens, last)) => {
                let tokens = self.refill(tokens, last, now);
                if tokens >= 1.0 {
                    Ok(())
                } else {
                    let per_second = f64::from(self.per_minute) / 60.0;
                    Err(Duration::from_secs_f64((1.0 - tokens) / per_second))
                }
            }
            None => Ok(()),
        }
    }

    /// Counts one failed authentication of `client`.
    pub fn failed(&self, client: &crate::client::ClientAddr, now: Instant) {
        if self.per_minute == 0 {
            return;
        }
        let cap = f64::from(self.per_minute);
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if b.len() > 100_000 {
            // A bucket that has refilled is the same as none.
            b.retain(|_, (tokens, last)| self.refill(*tokens, *last, now) < cap);
        }
        let (tokens, last) = b.entry(client.bucket(&self.salt)).or_insert((cap, now));
        *tokens = (self.refill(*tokens, *last, now) - 1.0).max(0.0);
        *last = now;
    }
}

/// SHA-256 of some bytes (a presented key, a request body).
pub fn hash(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_refuses_beyond_the_burst_and_refills_over_time() {
        let l = RateLimiter::new(10);
        let t0 = Instant::now();
        for _ in 0..20 {
            l.check("k", t0).unwrap();
        }
        let wait = l.check("k", t0).unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        l.check("other", t0).unwrap();
        l.check("k", t0 + Duration::from_millis(150)).unwrap();
        assert!(RateLimiter::new(0).check("k", t0).is_ok());
    }

    #[test]
    fn held_tokens_are_spent_once_and_expire_after_a_second() {
        let l = Leases::default();
        let t0 = Instant::now();
        assert!(!l.spend("k", t0), "nothing held yet");
        l.hold("k", 2, t0);
        assert!(l.spend("k", t0));
        assert!(l.spend("k", t0 + Duration::from_millis(500)));
        assert!(
            !l.spend("k", t0 + Duration::from_millis(500)),
            "two held, two spent"
        );
        l.hold("k", 3, t0);
        assert!(!l.spend("other", t0));
        assert!(
            !l.spend("k", t0 + Leases::LIFE),
            "tokens held a second are not spent"
        );
        let rate = |per_second: f64| custos_vault::key_gate::Rate {
            per_second,
            burst: per_second * 2.0,
        };
        let first = l.taking("k").expect("nobody takes for k");
        assert!(l.taking("k").is_none(), "one chunk at a time");
        assert!(l.taking("other").is_some());
        drop(first);
        assert!(l.taking("k").is_some(), "the take ended");
        assert_eq!(Leases::chunk(rate(2.0)), 1);
        assert_eq!(Leases::chunk(rate(1000.0)), 50);
    }

    #[test]
    fn a_cached_key_answers_only_in_the_epoch_it_was_checked_in() {
        let c = AuthCache::new(Duration::from_secs(5));
        let p = custos_access::Principal {
            key_id: "k".into(),
            tenant: Some("acme".into()),
            role: custos_access::Role::App,
        };
        let t0 = Instant::now();
        c.put([1; 32], p, t0, 7);
        assert!(c.get(&[1; 32], t0, 7).is_some());
        assert!(c.get(&[1; 32], t0, 8).is_none(), "a revocation was heard");
        assert!(c.get(&[1; 32], t0 + Duration::from_secs(5), 7).is_none());
    }

    #[test]
    fn a_client_that_failed_too_often_waits_and_others_do_not() {
        use crate::client::ClientAddr;
        let l = FailedAuthLimiter::new(3);
        let (a, b) = (
            ClientAddr("203.0.113.9".parse().unwrap()),
            ClientAddr("203.0.113.10".parse().unwrap()),
        );
        let t0 = Instant::now();
        for _ in 0..3 {
            l.check(&a, t0).unwrap();
            l.failed(&a, t0);
        }
        let wait = l.check(&a, t0).unwrap_err();
        assert_eq!(wait.as_secs(), 20, "one failure back every 60 s / 3");
        l.check(&b, t0).unwrap();
        l.check(&a, t0 + Duration::from_secs(20)).unwrap();
        let off = FailedAuthLimiter::new(0);
        for _ in 0..100 {
            off.failed(&a, t0);
        }
        assert!(off.check(&a, t0).is_ok());
    }
}
