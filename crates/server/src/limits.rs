//! Per-key request limits and the short cache of authenticated keys.
//!
//! One server (SQLite, one process): a token bucket per API key in memory ([`RateLimiter`]), and
//! checked keys remembered for a few seconds ([`AuthCache`]), cleared when this server revokes a
//! key.
//!
//! Many servers over one PostgreSQL (docs/scale-out.md, "Many servers"): the bucket lives in the
//! database, one row per key, and every request takes its token with one statement that also
//! reads whether the key is still live ([`custos_vault::key_gate`]): one round trip per
//! authenticated request, on a pooled connection. So the limit holds in total across the
//! servers (the rate and burst of [`RateLimiter::new`], refilled by the database's clock), and a
//! key revoked through any server is refused by every server from its next request on: the
//! cache then only spares the key's lookup, never decides that a revoked key is live.
//!
//! If that statement fails (the database unreachable), the request falls back to this process's
//! own bucket and to the cache: it fails open to a per-server limit (the total then at most the
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
/// key checked once is not looked up in the database on every request. Revocation through this
/// server clears the cache at once; through another server over the same PostgreSQL the shared
/// check of every request refuses the key at once (see the module documentation) and the entry
/// is forgotten; without a shared database there is no other server.
pub struct AuthCache {
    ttl: Duration,
    entries: Mutex<HashMap<[u8; 32], (custos_access::Principal, Instant)>>,
}

impl AuthCache {
    /// Keeps entries for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        AuthCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The principal for a key digest, if checked within the TTL.
    pub fn get(&self, digest: &[u8; 32], now: Instant) -> Option<custos_access::Principal> {
        let g = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        g.get(digest)
            .filter(|(_, at)| now.saturating_duration_since(*at) < self.ttl)
            .map(|(p, _)| p.clone())
    }

    /// Remembers a successful check.
    pub fn put(&self, digest: [u8; 32], p: custos_access::Principal, now: Instant) {
        let mut g = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if g.len() > 10_000 {
            g.retain(|_, (_, at)| now.saturating_duration_since(*at) < self.ttl);
        }
        g.insert(digest, (p, now));
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
