//! Personal accounts of the privacy team, for the console (PRODUCT.md C9): the rules, pure.
//! The tables (`console_accounts`, `console_sessions`) and the transactions that apply these
//! rules are the vault's (`custos_vault::Access`).
//!
//! - A password is stored only as its argon2id hash (a PHC string) with the parameters OWASP's
//!   Password Storage Cheat Sheet gives as its first choice: 19 MiB of memory, two passes, one
//!   lane ([`PASSWORD_MEMORY_KIB`], [`PASSWORD_PASSES`], [`PASSWORD_LANES`]). The initial
//!   password is random, shown once.
//! - The second factor is a time-based one-time password (RFC 6238: HMAC-SHA-1, 30-second
//!   steps, 6 digits, the common authenticator apps' defaults), accepted one step either side
//!   of now for clock drift, and each step once only (a code seen over a shoulder or replayed
//!   from a log is void).
//! - After [`LOCK_AFTER`] wrong sign-ins in a row an account is locked for [`LOCK_SECONDS`]; a
//!   locked account is refused even with the right password and code, so guessing gets five
//!   tries per quarter of an hour however many client addresses it uses.
//! - A session is a random 256-bit token in the cookie, stored only as its SHA-256 (as an API
//!   key's secret is), ending after [`SESSION_IDLE_SECONDS`] without use or at sign-out.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use hmac::{KeyInit, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{AccessError, Role};

/// Memory of one password hash, KiB (OWASP: m = 19 MiB).
pub const PASSWORD_MEMORY_KIB: u32 = 19_456;
/// Passes over that memory (OWASP: t = 2).
pub const PASSWORD_PASSES: u32 = 2;
/// Lanes (OWASP: p = 1).
pub const PASSWORD_LANES: u32 = 1;
/// Wrong sign-ins in a row that lock an account.
pub const LOCK_AFTER: u32 = 5;
/// How long a locked account stays locked, seconds.
pub const LOCK_SECONDS: i64 = 15 * 60;
/// A TOTP step, seconds (RFC 6238 §4.1: X = 30).
pub const TOTP_STEP_SECONDS: i64 = 30;
/// Digits of a TOTP code.
pub const TOTP_DIGITS: u32 = 6;
/// Steps either side of now that are accepted (RFC 6238 §5.2 recommends at most one).
pub const TOTP_WINDOW: i64 = 1;
/// A console session ends after this long without a page (8 hours: one working day).
pub const SESSION_IDLE_SECONDS: i64 = 8 * 60 * 60;

/// The roles a console account can have, and the tenant rule: a dpo or an auditor works for one
/// tenant; an admin (an operator across tenants) for none.
pub fn check_account_role(tenant: Option<&str>, role: Role) -> Result<(), AccessError> {
    match (tenant, role) {
        (Some(_), Role::Dpo | Role::Auditor) | (None, Role::Admin) => Ok(()),
        (_, Role::App | Role::Approver) => Err(AccessError::BadAccountRole(
            role.as_str().to_owned(),
            "is not for people at the console: give dpo, auditor or admin",
        )),
        (Some(_), _) => Err(AccessError::BadAccountRole(
            role.as_str().to_owned(),
            "works across tenants: leave out --tenant",
        )),
        (None, _) => Err(AccessError::BadAccountRole(
            role.as_str().to_owned(),
            "belongs to a tenant: give --tenant",
        )),
    }
}

/// Checks an account name: what a person types to sign in, shown in the console and the
/// account list (never in the audit trail, which names accounts by id). 1–64 characters,
/// no control characters, no leading or trailing space.
pub fn account_name(name: &str) -> Result<&str, AccessError> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name.trim() == name
        && !name.chars().any(char::is_control);
    if ok {
        Ok(name)
    } else {
        Err(AccessError::InvalidAccountName)
    }
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(PASSWORD_MEMORY_KIB, PASSWORD_PASSES, PASSWORD_LANES, None)
        .expect("the OWASP parameters are within argon2's bounds");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn random(n: usize) -> Result<Vec<u8>, AccessError> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| AccessError::Random(e.to_string()))?;
    Ok(b)
}

/// The argon2id hash of `password` with a fresh 128-bit salt, as a PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`), which carries its own parameters so that
/// stronger ones later still verify the old hashes.
pub fn hash_password(password: &str) -> Result<String, AccessError> {
    let salt = random(16)?;
    hasher()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccessError::Storage(format!("hashing a password: {e}")))
}

/// Whether `password` is the one `hash` (a PHC string from [`hash_password`]) was made from.
/// An unreadable hash matches nothing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    hasher().verify_password(password.as_bytes(), hash).is_ok()
}

/// Spends the time of one [`verify_password`] without an account, so a sign-in with an unknown
/// name takes as long as one with a known name and a wrong password.
pub fn verify_nothing(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("no account has this").unwrap_or_default());
    let _ = verify_password(hash, password);
}

/// A password to be shown once: zeroed when dropped, never printed by `{:?}`.
pub struct Password(Zeroizing<String>);

impl Password {
    /// A random password of 24 characters from an alphabet without look-alikes (120 bits),
    /// in groups of four for reading aloud.
    pub fn generate() -> Result<Password, AccessError> {
        const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
        let bytes = Zeroizing::new(random(24)?);
        let mut s = String::with_capacity(29);
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 && i % 4 == 0 {
                s.push('-');
            }
            s.push(char::from(ALPHABET[usize::from(b & 31)]));
        }
        Ok(Password(Zeroizing::new(s)))
    }

    /// The password.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// A TOTP shared secret (RFC 4226 §4 asks for at least 128 bits; this is 160, the length of an
/// HMAC-SHA-1 key): zeroed when dropped, never printed by `{:?}`.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    /// A fresh random secret.
    pub fn generate() -> Result<TotpSecret, AccessError> {
        Ok(TotpSecret(Zeroizing::new(random(20)?)))
    }

    /// A stored secret.
    pub fn from_bytes(bytes: Vec<u8>) -> TotpSecret {
        TotpSecret(Zeroizing::new(bytes))
    }

    /// The raw secret, for the store.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret in base32 (RFC 4648, no padding), as authenticator apps take it typed in.
    pub fn base32(&self) -> String {
        base32(&self.0)
    }

    /// The `otpauth://` URI an authenticator app reads (as a QR code or pasted): issuer
    /// `issuer`, account `name`, SHA-1, 6 digits, 30 seconds.
    pub fn otpauth_uri(&self, issuer: &str, name: &str) -> String {
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP_SECONDS}",
            uri_escape(issuer),
            uri_escape(name),
            self.base32(),
            uri_escape(issuer)
        )
    }

    /// The code of time step `step` (RFC 6238 §4: HOTP of T = floor(unix time / 30)), as six
    /// digits with leading zeros.
    pub fn code_of_step(&self, step: i64) -> String {
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        mac.update(&step.to_be_bytes());
        let h = mac.finalize().into_bytes();
        // RFC 4226 §5.3: dynamic truncation.
        let offset = usize::from(h[h.len() - 1] & 0x0f);
        let bin = u32::from_be_bytes([
            h[offset] & 0x7f,
            h[offset + 1],
            h[offset + 2],
            h[offset + 3],
        ]);
        format!(
            "{:0width$}",
            bin % 10u32.pow(TOTP_DIGITS),
            width = TOTP_DIGITS as usize
        )
    }

    /// The code at `unix_seconds`.
    pub fn code_at(&self, unix_seconds: i64) -> String {
        self.code_of_step(unix_seconds.div_euclid(TOTP_STEP_SECONDS))
    }

    /// The step `code` belongs to, if it is the code of a step within [`TOTP_WINDOW`] of
    /// `unix_seconds` and later than `last_used` (each step's code works once). Spaces in the
    /// code are ignored (apps show `123 456`).
    pub fn check(&self, code: &str, unix_seconds: i64, last_used: Option<i64>) -> Option<i64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != TOTP_DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = unix_seconds.div_euclid(TOTP_STEP_SECONDS);
        let mut found = None;
        // Every step in the window is computed and compared, so the time taken does not say
        // which one matched.
        for step in now - TOTP_WINDOW..=now + TOTP_WINDOW {
            if same(self.code_of_step(step).as_bytes(), code.as_bytes())
                && last_used.is_none_or(|l| step > l)
            {
                found = Some(step);
            }
        }
        found
    }
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// RFC 4648 §6 base32, without padding (what authenticator apps expect).
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Percent-encodes everything but unreserved characters (RFC 3986 §2.3).
fn uri_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An account's run of wrong sign-ins and its lock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lockout {
    /// Wrong sign-ins since the last right one or the last lock.
    pub failures: u32,
    /// Locked until then (Unix seconds).
    pub locked_until: Option<i64>,
}

impl Lockout {
    /// Whether the account is locked at `now`.
    pub fn locked(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|u| now < u)
    }

    /// After one more wrong sign-in at `now`: the [`LOCK_AFTER`]th locks the account for
    /// [`LOCK_SECONDS`] and starts the count again.
    pub fn after_failure(self, now: i64) -> Lockout {
        let failures = self.failures + 1;
        if failures >= LOCK_AFTER {
            Lockout {
                failures: 0,
                locked_until: Some(now + LOCK_SECONDS),
            }
        } else {
            Lockout {
                failures,
                locked_until: self.locked_until.filter(|u| now < *u),
            }
        }
    }
}

/// An account's stored row, as the store reads it for [`sign_in`].
pub struct StoredAccount {
    /// Its id.
    pub account_id: String,
    /// Its tenant (`None`: an operator across tenants).
    pub tenant: Option<String>,
    /// Its role, as stored.
    pub role: String,
    /// Its name.
    pub name: String,
    /// The PHC string of its password.
    pub password_hash: String,
    /// Its TOTP secret.
    pub totp: TotpSecret,
    /// The last TOTP step used to sign in.
    pub totp_last_step: Option<i64>,
    /// Its wrong sign-ins and lock.
    pub lockout: Lockout,
    /// When it was disabled (Unix seconds), if it was.
    pub disabled_at: Option<i64>,
}

/// What a sign-in attempt comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// Right password and a fresh code: the TOTP step to remember as used.
    Accepted {
        /// The step the code belonged to.
        totp_step: i64,
    },
    /// Wrong password or code: the account's new lockout.
    Wrong(Lockout),
    /// Locked (nothing was checked, nothing counts).
    Locked,
    /// Disabled, or of a role the console does not know.
    Disabled,
}

/// The rule of a sign-in with `password` and `code` on account `stored` at `now` (Unix
/// seconds). The password is always checked, locked or not, so the time taken does not tell a
/// locked account from an open one.
pub fn sign_in(stored: &StoredAccount, password: &str, code: &str, now: i64) -> SignIn {
    let password_ok = verify_password(&stored.password_hash, password);
    if stored.disabled_at.is_some() || Role::parse(&stored.role).is_none() {
        return SignIn::Disabled;
    }
    if stored.lockout.locked(now) {
        return SignIn::Locked;
    }
    match (
        password_ok,
        stored.totp.check(code, now, stored.totp_last_step),
    ) {
        (true, Some(totp_step)) => SignIn::Accepted { totp_step },
        _ => SignIn::Wrong(stored.lockout.after_failure(now)),
    }
}

impl SignInOutcome {
    /// The refusal of a name no account has.
    pub fn unknown() -> SignInOutcome {
        SignInOutcome::Refused {
            account: None,
            tenant: None,
            why: "unknown",
        }
    }
}

/// A sign-in's outcome held against the account's row as it is when the outcome is written
/// (`fresh`, `fresh_last_step`), since the password was checked outside the transaction and
/// another attempt may have come in meanwhile: an account locked meanwhile stays locked, a code
/// used meanwhile counts as wrong, and a wrong attempt counts on top of the others.
pub fn settle(outcome: SignIn, fresh: Lockout, fresh_last_step: Option<i64>, now: i64) -> SignIn {
    match outcome {
        SignIn::Accepted { .. } | SignIn::Wrong(_) if fresh.locked(now) => SignIn::Locked,
        SignIn::Accepted { totp_step } if fresh_last_step.is_none_or(|l| totp_step > l) => {
            SignIn::Accepted { totp_step }
        }
        SignIn::Accepted { .. } | SignIn::Wrong(_) => SignIn::Wrong(fresh.after_failure(now)),
        other => other,
    }
}

/// What a console sign-in came to, for the page and the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInOutcome {
    /// Signed in as this user.
    Accepted(ConsoleUser),
    /// Refused. `account` and `tenant` name the account the name belongs to (`None` for a name
    /// nobody has); `why` is `unknown`, `wrong`, `now-locked` (this attempt locked it),
    /// `locked` or `disabled`: for the audit trail only, never for the person signing in.
    Refused {
        /// The account's id, when the name is known.
        account: Option<String>,
        /// The account's tenant.
        tenant: Option<String>,
        /// Why, in one word.
        why: &'static str,
    },
}

/// A console user, once signed in: what every console page knows of who is asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsoleUser {
    /// The account's id (what the audit trail names).
    pub account_id: String,
    /// The tenant (`None`: an operator across tenants).
    pub tenant: Option<String>,
    /// The role.
    pub role: Role,
    /// The account's name.
    pub name: String,
}

impl ConsoleUser {
    /// The actor name used in the audit trail.
    pub fn actor(&self) -> String {
        actor(&self.account_id)
    }
}

/// The actor name of account `account_id` in the audit trail.
pub fn actor(account_id: &str) -> String {
    format!("account:{account_id}")
}

/// An account as listed: everything but its secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountInfo {
    /// Its id (16 hex digits).
    pub account_id: String,
    /// Its tenant (`None`: an operator across tenants).
    pub tenant: Option<String>,
    /// Its role.
    pub role: String,
    /// Its name.
    pub name: String,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// When it was disabled (Unix seconds), if it was.
    pub disabled_at: Option<i64>,
}

/// An account about to be stored: what its owner is given once, and what the store keeps.
pub struct NewAccount {
    /// The account.
    pub info: AccountInfo,
    /// The initial password, shown once.
    pub password: Password,
    /// Its argon2id hash, which the store keeps.
    pub password_hash: String,
    /// The TOTP secret, shown once (as an `otpauth://` URI) and kept by the store.
    pub totp: TotpSecret,
}

impl NewAccount {
    /// A fresh account (16-hex-digit id, random password, random TOTP secret) for `tenant`,
    /// `role` and `name`, after [`check_account_role`] and [`account_name`].
    pub fn generate(
        tenant: Option<&str>,
        role: Role,
        name: &str,
        now: i64,
    ) -> Result<NewAccount, AccessError> {
        check_account_role(tenant, role)?;
        let name = account_name(name)?;
        let password = Password::generate()?;
        Ok(NewAccount {
            info: AccountInfo {
                account_id: hex::encode(random(8)?),
                tenant: tenant.map(str::to_owned),
                role: role.as_str().to_owned(),
                name: name.to_owned(),
                created_at: now,
                disabled_at: None,
            },
            password_hash: hash_password(password.expose())?,
            password,
            totp: TotpSecret::generate()?,
        })
    }
}

/// A session just opened: the token for the cookie, and the digest the store keeps.
pub struct NewSession {
    /// The cookie's value (64 hex digits).
    pub token: Zeroizing<String>,
    /// Its SHA-256: all the store holds of it.
    pub digest: Vec<u8>,
}

impl NewSession {
    /// A fresh 256-bit token.
    pub fn generate() -> Result<NewSession, AccessError> {
        let token = Zeroizing::new(hex::encode(random(32)?));
        Ok(NewSession {
            digest: session_digest(&token),
            token,
        })
    }
}

/// The digest a session token is stored and looked up by.
pub fn session_digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether a session last used at `last_seen` is still open at `now` (both Unix seconds).
pub fn session_live(last_seen: i64, now: i64) -> bool {
    now - last_seen < SESSION_IDLE_SECONDS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the SHA-1 secret is the ASCII of "12345678901234567890"; the
    /// vectors give 8 digits, whose last 6 are the 6-digit code (the truncation is modulo
    /// 10^digits of the same number).
    #[test]
    fn totp_codes_match_the_rfc_6238_test_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        for (time, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(secret.code_at(time), eight[2..], "T = {time}");
        }
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn a_totp_code_is_accepted_one_step_either_side_and_only_once() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        let now = 1_111_111_111;
        let step = now / TOTP_STEP_SECONDS;
        let code = secret.code_at(now);
        assert_eq!(secret.check(&code, now, None), Some(step));
        assert_eq!(
            secret.check(&code, now + 30, None),
            Some(step),
            "one step late"
        );
        assert_eq!(
            secret.check(&code, now - 30, None),
            Some(step),
            "one step early"
        );
        assert_eq!(
            secret.check(&code, now + 90, None),
            None,
            "three steps late"
        );
        assert_eq!(secret.check(&code, now, Some(step)), None, "replayed");
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(secret.check(&spaced, now, Some(step - 1)), Some(step));
        for bad in ["", "12345", "1234567", "abcdef"] {
            assert_eq!(secret.check(bad, now, None), None, "{bad}");
        }
    }

    #[test]
    fn the_otpauth_uri_names_issuer_account_and_parameters() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        assert_eq!(
            secret.otpauth_uri("Custos acme", "Ann de Vries"),
            "otpauth://totp/Custos%20acme:Ann%20de%20Vries?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Custos%20acme&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(format!("{secret:?}"), "TotpSecret(..)");
    }

    #[test]
    fn a_password_hash_is_argon2id_with_the_owasp_parameters_and_verifies() {
        let hash = hash_password("correct horse battery").expect("hashed");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse battery "));
        assert!(!verify_password("not a hash", "correct horse battery"));
        let again = hash_password("correct horse battery").expect("hashed");
        assert_ne!(hash, again, "a fresh salt each time");
    }

    #[test]
    fn five_wrong_sign_ins_lock_an_account_for_a_quarter_of_an_hour() {
        let mut l = Lockout::default();
        for i in 1..LOCK_AFTER {
            l = l.after_failure(1000);
            assert_eq!(l.failures, i);
            assert!(!l.locked(1000));
        }
        l = l.after_failure(1000);
        assert!(l.locked(1000));
        assert!(l.locked(1000 + LOCK_SECONDS - 1));
        assert!(!l.locked(1000 + LOCK_SECONDS));
        assert_eq!(l.failures, 0, "the count starts again after the lock");
    }

    fn account(password: &str, totp: &TotpSecret) -> StoredAccount {
        StoredAccount {
            account_id: "0123456789abcdef".into(),
            tenant: Some("acme".into()),
            role: "dpo".into(),
            name: "Ann".into(),
            password_hash: hash_password(password).expect("hashed"),
            totp: totp.clone(),
            totp_last_step: None,
            lockout: Lockout::default(),
            disabled_at: None,
        }
    }

    #[test]
    fn a_sign_in_needs_the_password_and_a_fresh_code_and_stops_when_locked() {
        let totp = TotpSecret::generate().expect("random");
        let now = 1_800_000_000;
        let mut a = account("open sesame 12", &totp);
        let code = totp.code_at(now);
        assert_eq!(
            sign_in(&a, "open sesame 12", &code, now),
            SignIn::Accepted {
                totp_step: now / TOTP_STEP_SECONDS
            }
        );
        let SignIn::Wrong(l) = sign_in(&a, "open sesame 13", &code, now) else {
            panic!("a wrong password is wrong");
        };
        assert_eq!(l.failures, 1);
        let wrong_code = if code == "000000" { "000001" } else { "000000" };
        assert!(matches!(
            sign_in(&a, "open sesame 12", wrong_code, now),
            SignIn::Wrong(_)
        ));
        a.lockout = Lockout {
            failures: 0,
            locked_until: Some(now + 60),
        };
        assert_eq!(sign_in(&a, "open sesame 12", &code, now), SignIn::Locked);
        a.disabled_at = Some(now);
        assert_eq!(sign_in(&a, "open sesame 12", &code, now), SignIn::Disabled);
    }

    #[test]
    fn a_sign_in_is_settled_against_attempts_made_meanwhile() {
        let accepted = SignIn::Accepted { totp_step: 10 };
        assert_eq!(
            settle(accepted.clone(), Lockout::default(), Some(9), 0),
            accepted
        );
        assert_eq!(
            settle(accepted.clone(), Lockout::default(), Some(10), 0),
            SignIn::Wrong(Lockout {
                failures: 1,
                locked_until: None
            }),
            "the same code used by another attempt meanwhile"
        );
        let four = Lockout {
            failures: LOCK_AFTER - 1,
            locked_until: None,
        };
        let SignIn::Wrong(l) = settle(SignIn::Wrong(Lockout::default()), four, None, 0) else {
            panic!("still wrong");
        };
        assert!(
            l.locked(0),
            "the fifth in a row locks, whoever counted the four"
        );
        assert_eq!(settle(accepted, l, None, 0), SignIn::Locked);
    }

    #[test]
    fn console_accounts_are_dpo_or_auditor_of_a_tenant_or_admin_of_none() {
        assert!(check_account_role(Some("acme"), Role::Dpo).is_ok());
        assert!(check_account_role(Some("acme"), Role::Auditor).is_ok());
        assert!(check_account_role(None, Role::Admin).is_ok());
        assert!(check_account_role(Some("acme"), Role::App).is_err());
        assert!(check_account_role(Some("acme"), Role::Admin).is_err());
        assert!(check_account_role(None, Role::Dpo).is_err());
    }

    #[test]
    fn generated_passwords_are_long_random_and_hidden_from_debug() {
        let (a, b) = (Password::generate().unwrap(), Password::generate().unwrap());
        assert_eq!(a.expose().len(), 29);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(format!("{a:?}"), "Password(..)");
    }

    #[test]
    fn account_names_are_short_trimmed_and_printable() {
        assert!(account_name("Ann de Vries").is_ok());
        for bad in ["", " Ann", "Ann ", "A\nB", &"x".repeat(65)] {
            assert!(account_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sessions_end_after_eight_idle_hours() {
        assert!(session_live(0, SESSION_IDLE_SECONDS - 1));
        assert!(!session_live(0, SESSION_IDLE_SECONDS));
        let s = NewSession::generate().unwrap();
        assert_eq!(s.digest, session_digest(&s.token));
    }
}
