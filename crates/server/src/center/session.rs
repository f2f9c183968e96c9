//! The privacy center's tokens, signed with a key of this process (HMAC-SHA-256): the hidden
//! field that ties a form to the page that served it (so another site cannot make a visitor's
//! browser post it), and the session cookie a visitor gets after entering a code, which says
//! whose requests they may see (the subject's pseudonym, never the address) until when.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{KeyInit, Mac};
use jiff::Timestamp;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The session cookie's name: `__Host-` makes browsers refuse it unless it is Secure, set by
/// this host for the whole site, and never set by a subdomain.
pub const COOKIE: &str = "__Host-custos-center";

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

    /// A session of the subject `pseudonym` in `tenant`.
    pub fn session(&self, tenant: &str, pseudonym: &str, now: Timestamp) -> String {
        let until = now.as_second() + SESSION_SECONDS;
        self.sign(&format!("session|{tenant}|{pseudonym}|{until}"))
    }

    /// The pseudonym of a live session of `tenant`.
    pub fn session_of(&self, token: &str, tenant: &str, now: Timestamp) -> Option<String> {
        let p = self.open(token)?;
        let parts: Vec<&str> = p.split('|').collect();
        match parts[..] {
            ["session", t, pseudonym, until]
                if t == tenant && until.parse::<i64>().is_ok_and(|u| u >= now.as_second()) =>
            {
                Some(pseudonym.to_owned())
            }
            _ => None,
        }
    }
}

impl Default for Signer {
    fn default() -> Self {
        Signer::new()
    }
}

/// The `Set-Cookie` value of a session: HttpOnly (no script reads it), Secure (only over TLS,
/// or to this machine), SameSite=Strict (never sent with another site's request), for the
/// whole host and as long as the session.
pub fn set_cookie(token: &str) -> String {
    format!(
        "{COOKIE}={token}; Path=/; Max-Age={SESSION_SECONDS}; HttpOnly; Secure; SameSite=Strict"
    )
}

/// The session token among a request's cookies.
pub fn cookie_of(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(&format!("{COOKIE}="))
                .map(str::to_owned)
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
    fn forms_and_sessions_expire_and_keep_to_their_purpose_and_tenant() {
        let k = Signer::new();
        let f = k.form_token("file:acme", at(0));
        assert!(k.form_ok(&f, "file:acme", at(FORM_SECONDS)));
        assert!(!k.form_ok(&f, "file:acme", at(FORM_SECONDS + 1)), "expired");
        assert!(
            !k.form_ok(&f, "file:globex", at(0)),
            "another tenant's form"
        );
        assert!(!k.form_ok(&f, "file:acme|1", at(0)));
        let s = k.session("acme", "p1", at(0));
        assert_eq!(k.session_of(&s, "acme", at(60)).as_deref(), Some("p1"));
        assert_eq!(k.session_of(&s, "globex", at(60)), None);
        assert_eq!(k.session_of(&s, "acme", at(SESSION_SECONDS + 1)), None);
        assert_eq!(
            k.session_of(&f, "acme", at(0)),
            None,
            "a form is no session"
        );
    }
}
