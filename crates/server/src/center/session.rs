//! The privacy center's tokens and sessions: the hidden field that ties a form to the page that
//! served it (signed with a key of this process, HMAC-SHA-256, so another site cannot make a
//! visitor's browser post it), and the sessions a visitor gets after entering a code: the
//! cookie holds a random token, the server keeps what it stands for (the tenant, the subject's
//! pseudonym and identifier) in memory until it expires.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{KeyInit, Mac};
use jiff::Timestamp;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The session cookie's name: `__Host-` makes browsers refuse it unless it is Secure, set by
/// this host for the whole site, and never set by a subdomain.
pub const COOKIE: &str = "__Host-custos-center";

/// The name used instead for a browser on this machine that talks to Custos directly over plain
/// HTTP (the demo at `http://127.0.0.1:8080`), where no browser keeps a Secure cookie.
pub const LOCAL_COOKIE: &str = "custos-center";

/// How long a session lasts after the code was entered.
pub const SESSION_SECONDS: i64 = 30 * 60;

/// How long a form stays valid after the page that served it.
pub const FORM_SECONDS: i64 = 2 * 60 * 60;

/// The signing key: random per process, so tokens die with it (a restart asks for a new code).
pub struct Signer([u8; 32]);

impl Signer {
    /// A fresh random key.
    pub fn new() -> Signer {
        let mut k = [0u8; 32];
        // Without randomness tokens would be forgeable: the process refuses to start instead.
        getrandom::fill(&mut k).expect("the operating system's random source works");
        Signer(k)
    }

    fn mac(&self, payload: &str) -> Vec<u8> {
        let mut m = HmacSha256::new_from_slice(&self.0).expect("any key length");
        m.update(payload.as_bytes());
        m.finalize().into_bytes().to_vec()
    }

    /// `payload` and its signature, as one URL- and cookie-safe token.
    pub fn sign(&self, payload: &str) -> String {
        format!(
            "{}.{}",
            B64.encode(payload.as_bytes()),
            B64.encode(self.mac(payload))
        )
    }

    /// The payload of a token this key signed; `None` for anything else.
    pub fn open(&self, token: &str) -> Option<String> {
        let (p, sig) = token.split_once('.')?;
        let payload = String::from_utf8(B64.decode(p).ok()?).ok()?;
        let sig = B64.decode(sig).ok()?;
        let mut m = HmacSha256::new_from_slice(&self.0).ok()?;
        m.update(payload.as_bytes());
        m.verify_slice(&sig).ok()?;
        Some(payload)
    }

    /// The hidden field of a form of `purpose` (`file:acme`, `code:acme:<request>`,
    /// `cancel:acme:<request>:<session>`), valid for [`FORM_SECONDS`].
    pub fn form_token(&self, purpose: &str, now: Timestamp) -> String {
        let until = now.as_second() + FORM_SECONDS;
        self.sign(&format!("form|{purpose}|{until}"))
    }

    /// Whether `token` is a live form token of `purpose`.
    pub fn form_ok(&self, token: &str, purpose: &str, now: Timestamp) -> bool {
        let Some(p) = self.open(token) else {
            return false;
        };
        let mut parts = p.rsplitn(2, '|');
        let (Some(until), Some(head)) = (parts.next(), parts.next()) else {
            return false;
        };
        head == format!("form|{purpose}")
            && until.parse::<i64>().is_ok_and(|u| u >= now.as_second())
    }
}

impl Default for Signer {
    fn default() -> Self {
        Signer::new()
    }
}

/// Entries that expire, kept in memory: the center's sessions, its sign-in codes and the
/// addresses of requests waiting for their code. Bounded: beyond `cap` entries the expired go,
/// then the oldest.
pub struct Expiring<V> {
    map: std::sync::Mutex<std::collections::HashMap<String, (i64, V)>>,
    cap: usize,
}

impl<V: Clone> Expiring<V> {
    /// An empty store of at most `cap` entries.
    pub fn new(cap: usize) -> Self {
        Expiring {
            map: std::sync::Mutex::new(std::collections::HashMap::new()),
            cap,
        }
    }

    /// Keeps `value` under `key` until `until` (Unix seconds).
    pub fn put(&self, key: String, value: V, until: i64, now: Timestamp) {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() >= self.cap {
            m.retain(|_, (u, _)| *u >= now.as_second());
            if m.len() >= self.cap
                && let Some(oldest) = m
                    .iter()
                    .min_by_key(|(_, (u, _))| *u)
                    .map(|(k, _)| k.clone())
            {
                m.remove(&oldest);
            }
        }
        m.insert(key, (until, value));
    }

    /// The live value under `key`.
    pub fn get(&self, key: &str, now: Timestamp) -> Option<V> {
        let m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        m.get(key)
            .filter(|(u, _)| *u >= now.as_second())
            .map(|(_, v)| v.clone())
    }

    /// Changes the live value under `key` with `f`; returns what `f` returned.
    pub fn update<T>(&self, key: &str, now: Timestamp, f: impl FnOnce(&mut V) -> T) -> Option<T> {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        m.get_mut(key)
            .filter(|(u, _)| *u >= now.as_second())
            .map(|(_, v)| f(v))
    }

    /// Forgets `key`.
    pub fn remove(&self, key: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// A fresh random token (32 bytes, URL-safe).
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system's random source works");
    B64.encode(b)
}

/// What a session cookie stands for, kept on the server: the cookie itself is a random token,
/// so neither the address nor the pseudonym ever travels in it.
#[derive(Clone)]
pub struct Visit {
    /// The tenant whose center it is.
    pub tenant: String,
    /// The subject's pseudonym in the tenant.
    pub pseudonym: String,
    /// The subject's identifier (needed to record a withdrawal of consent), when the visit began
    /// with it.
    pub subject: Option<custos_vault::SubjectId>,
    /// The request whose answer this visit may download once, and until when (seconds): given
    /// by a fresh code, taken by the download.
    pub answer: Option<(String, i64)>,
}

/// The `Set-Cookie` value of a session: HttpOnly (no script reads it), Secure (only over TLS,
/// or to this machine), SameSite=Strict (never sent with another site's request), for the
/// whole host and as long as the session.
/// `secure` is false only for a browser on this machine talking to Custos directly (see
/// [`LOCAL_COOKIE`]); everywhere else, behind the TLS proxy, the cookie is `__Host-` and Secure.
pub fn set_cookie(token: &str, secure: bool) -> String {
    if secure {
        format!(
            "{COOKIE}={token}; Path=/; Max-Age={SESSION_SECONDS}; HttpOnly; Secure; SameSite=Strict"
        )
    } else {
        format!(
            "{LOCAL_COOKIE}={token}; Path=/; Max-Age={SESSION_SECONDS}; HttpOnly; SameSite=Strict"
        )
    }
}

/// The session token among a request's cookies (the `__Host-` one first). The token is only
/// a key into the server's sessions: a cookie that names no live session is no session.
pub fn cookie_of(headers: &axum::http::HeaderMap) -> Option<String> {
    let all: Vec<String> = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(|c| c.trim().to_owned())
        .collect();
    [COOKIE, LOCAL_COOKIE].iter().find_map(|name| {
        all.iter()
            .find_map(|c| c.strip_prefix(&format!("{name}=")).map(str::to_owned))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("a moment")
    }

    #[test]
    fn a_token_opens_only_with_its_key_and_unaltered() {
        let (a, b) = (Signer::new(), Signer::new());
        let t = a.sign("session|acme|p1|9");
        assert_eq!(a.open(&t).as_deref(), Some("session|acme|p1|9"));
        assert_eq!(b.open(&t), None, "another process's key");
        let (p, s) = t.split_once('.').unwrap();
        let forged = format!("{}.{s}", B64.encode("session|acme|p2|9"));
        assert_eq!(a.open(&forged), None, "a changed payload");
        assert_eq!(a.open(p), None);
    }

    #[test]
    fn forms_expire_and_keep_to_their_purpose_and_tenant() {
        let k = Signer::new();
        let f = k.form_token("file:acme", at(0));
        assert!(k.form_ok(&f, "file:acme", at(FORM_SECONDS)));
        assert!(!k.form_ok(&f, "file:acme", at(FORM_SECONDS + 1)), "expired");
        assert!(
            !k.form_ok(&f, "file:globex", at(0)),
            "another tenant's form"
        );
        assert!(!k.form_ok(&f, "file:acme|1", at(0)));
    }
}

#[cfg(test)]
mod expiring_tests {
    use super::*;

    #[test]
    fn entries_expire_and_the_store_stays_bounded() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let e: Expiring<u32> = Expiring::new(2);
        e.put("a".into(), 1, now.as_second() + 10, now);
        e.put("b".into(), 2, now.as_second() - 1, now);
        assert_eq!(e.get("a", now), Some(1));
        assert_eq!(e.get("b", now), None, "expired");
        e.put("c".into(), 3, now.as_second() + 5, now);
        assert_eq!(e.get("c", now), Some(3));
        assert_eq!(e.get("a", now), Some(1), "the expired one made room");
        assert_eq!(
            e.update("a", now, |v| {
                *v += 1;
                *v
            }),
            Some(2)
        );
        e.remove("a");
        assert_eq!(e.get("a", now), None);
    }
}
