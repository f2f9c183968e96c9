//! Per-key rate limiting (a token bucket per API key) and idempotency keys for writes (a replay
//! of the same key with the same body returns the first response; with another body it is
//! refused). Both are in memory, per server process.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Recently authenticated keys, by the SHA-256 of the presented key, for a few seconds: a
/// key checked once is not looked up in the database on every request. Revocation through this
/// server clears the cache at once; through another server it takes effect within the TTL.
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

    /// Forgets everything (after a revocation).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// A token bucket per key.
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

    /// Takes one token for `key`; on refusal, how long until one is available.
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

/// What an idempotent write answered.
#[derive(Clone)]
pub struct Stored {
    /// SHA-256 of the request body.
    pub body_hash: [u8; 32],
    /// The response status.
    pub status: u16,
    /// The response body.
    pub response: Vec<u8>,
}

/// The remembered answers by (tenant, key), and the keys in insertion order for eviction.
type Remembered = (
    HashMap<(String, String), (Stored, Instant)>,
    VecDeque<(String, String)>,
);

/// Idempotency keys per tenant, kept for a day, at most `capacity` of them.
pub struct Idempotency {
    capacity: usize,
    ttl: Duration,
    inner: Mutex<Remembered>,
}

/// The outcome of looking a key up.
pub enum Seen {
    /// Not seen: go ahead and remember the answer.
    New,
    /// Seen with the same body: answer this.
    Replay(Stored),
    /// Seen with another body.
    Conflict,
}

/// SHA-256 of a body.
pub fn hash(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

impl Idempotency {
    /// Keeps at most `capacity` keys for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Idempotency {
            capacity,
            ttl,
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// Looks up `key` of `tenant` for a request with `body_hash`.
    pub fn seen(&self, tenant: &str, key: &str, body_hash: &[u8; 32], now: Instant) -> Seen {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match g.0.get(&(tenant.to_owned(), key.to_owned())) {
            Some((s, at)) if now.saturating_duration_since(*at) < self.ttl => {
                if &s.body_hash == body_hash {
                    Seen::Replay(s.clone())
                } else {
                    Seen::Conflict
                }
            }
            _ => Seen::New,
        }
    }

    /// Remembers the answer to `key`.
    pub fn remember(&self, tenant: &str, key: &str, stored: Stored, now: Instant) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let id = (tenant.to_owned(), key.to_owned());
        if g.0.insert(id.clone(), (stored, now)).is_none() {
            g.1.push_back(id);
        }
        while g.1.len() > self.capacity {
            if let Some(old) = g.1.pop_front() {
                g.0.remove(&old);
            }
        }
    }
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
    fn a_key_replays_with_the_same_body_and_conflicts_with_another() {
        let i = Idempotency::new(2, Duration::from_secs(60));
        let t = Instant::now();
        let h = hash(b"a");
        assert!(matches!(i.seen("t", "k1", &h, t), Seen::New));
        i.remember(
            "t",
            "k1",
            Stored {
                body_hash: h,
                status: 201,
                response: b"r".to_vec(),
            },
            t,
        );
        assert!(matches!(i.seen("t", "k1", &h, t), Seen::Replay(s) if s.status == 201));
        assert!(matches!(i.seen("t", "k1", &hash(b"b"), t), Seen::Conflict));
        assert!(
            matches!(i.seen("other-tenant", "k1", &h, t), Seen::New),
            "keys are per tenant"
        );
        i.remember(
            "t",
            "k2",
            Stored {
                body_hash: h,
                status: 201,
                response: vec![],
            },
            t,
        );
        i.remember(
            "t",
            "k3",
            Stored {
                body_hash: h,
                status: 201,
                response: vec![],
            },
            t,
        );
        assert!(
            matches!(i.seen("t", "k1", &h, t), Seen::New),
            "the oldest key is evicted at capacity"
        );
        assert!(
            matches!(
                i.seen("t", "k3", &h, t + Duration::from_secs(61)),
                Seen::New
            ),
            "keys expire"
        );
    }
}
