//! Signed webhooks that tell recipients about rectification, erasure and restriction (Art. 19
//! GDPR), as pure functions: the signature Custos sends, the check a receiver runs, and the
//! retry schedule.
//!
//! # The signature
//!
//! Every delivery carries a header
//!
//! ```text
//! Custos-Signature: t=1767225600,v1=5f1c…
//! ```
//!
//! where `t` is the Unix time of sending and `v1` is HMAC-SHA256, keyed with the recipient's
//! webhook secret, over the bytes `"{t}.{body}"`, written as lowercase hex. Binding the time into
//! the MAC lets a receiver refuse replays of an old delivery ([`verify`] with a tolerance
//! window); a receiver that holds two secrets while rotating may see several `v1=` values and
//! accepts the delivery when any one matches.
//!
//! # The schedule
//!
//! A failed delivery is tried again after an exponentially growing delay with a cap, each delay
//! spread by ±20 % jitter so that a receiver coming back up is not hit by every sender at once
//! ([`Backoff`]). With the default schedule the delays are 30 s, 2 min, 8 min, 32 min, 2 h 8 min,
//! then 6 h three times: the ninth failed attempt, about 21 hours after the first, makes the
//! notification a dead letter for a person to look at.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Custos-Signature";

/// The header that carries the notification's id: deliveries are at least once, so a receiver
/// that sees the same id twice has already acted on it.
pub const ID_HEADER: &str = "Custos-Notification-Id";

/// How far a receiver should let the signed time lie from its own clock, unless it has reason
/// to choose otherwise: five minutes.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

/// HMAC-SHA256 of `"{timestamp}.{body}"` under `secret`, as lowercase hex.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
}

/// The value of the [`SIGNATURE_HEADER`] for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature(secret, timestamp, body))
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .expect("HMAC-SHA256 takes a key of any length");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// Why a delivery does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The header is not `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`.
    #[error("the {SIGNATURE_HEADER} header is malformed: {0}")]
    Malformed(&'static str),
    /// The signed time lies too far from the receiver's clock: a replay, or a clock that is off.
    #[error(
        "the signed time {timestamp} is {skew} s away from now ({now}), beyond the tolerance of {tolerance} s"
    )]
    OutsideTolerance {
        /// The time in the header.
        timestamp: i64,
        /// The receiver's clock.
        now: i64,
        /// How far apart they are.
        skew: i64,
        /// The tolerance allowed.
        tolerance: i64,
    },
    /// No signature in the header matches the body under the secret.
    #[error("no signature matches the body: wrong secret, or the body was altered")]
    Mismatch,
}

/// Checks a delivery as a receiver would: the header parses, its time is within `tolerance`
/// seconds of `now` (both Unix seconds), and one of its `v1` signatures matches `body` under
/// `secret`. The comparison is constant-time.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance: i64,
) -> Result<(), VerifyError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(VerifyError::Malformed("every part is `key=value`"))?;
        match key {
            "t" => {
                if timestamp.is_some() {
                    return Err(VerifyError::Malformed("`t` appears twice"));
                }
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| VerifyError::Malformed("`t` is not a number of seconds"))?,
                );
            }
            "v1" => signatures
                .push(hex::decode(value).map_err(|_| VerifyError::Malformed("`v1` is not hex"))?),
            // Later schemes (`v2=`) are ignored by receivers that do not know them.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(VerifyError::Malformed("no `t`"))?;
    if signatures.is_empty() {
        return Err(VerifyError::Malformed("no `v1` signature"));
    }
    let skew = now.saturating_sub(timestamp).saturating_abs();
    if skew > tolerance {
        return Err(VerifyError::OutsideTolerance {
            timestamp,
            now,
            skew,
            tolerance,
        });
    }
    let expected = mac(secret, timestamp, body);
    if signatures
        .iter()
        .any(|s| expected.clone().verify_slice(s).is_ok())
    {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

/// When to try a failed delivery again: `base × factor^(n−1)` after the n-th failed attempt,
/// at most `cap`, spread by ±`jitter` (a fraction); after `max_attempts` attempts, never.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The delay after the first failed attempt.
    pub base: Duration,
    /// How much each delay grows over the one before.
    pub factor: u32,
    /// The longest delay.
    pub cap: Duration,
    /// Attempts in all, the first included; the last failed one makes a dead letter.
    pub max_attempts: u32,
    /// Spread of each delay, as a fraction of it (0.2: ±20 %).
    pub jitter: f64,
}

impl Default for Backoff {
    /// 30 s growing fourfold to a cap of 6 h, nine attempts (about 21 h), ±20 % jitter.
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(30),
            factor: 4,
            cap: Duration::from_secs(6 * 3600),
            max_attempts: 9,
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// The delay before the next attempt, after `attempts` attempts (≥ 1) have failed; `None`
    /// when that was the last one. `random` is a number in `[0, 1)` that places the delay in its
    /// jitter window (0.5: the nominal delay), so the schedule itself stays a pure function.
    pub fn next_delay(&self, attempts: u32, random: f64) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let nominal = self.nominal(attempts.max(1));
        // NaN or out-of-range inputs fall back to the nominal delay or the window's edge: a
        // delay is never negative, infinite, or a panic.
        let unit = |x: f64, default: f64| {
            if x.is_finite() {
                x.clamp(0.0, 1.0)
            } else {
                default
            }
        };
        let spread = unit(self.jitter, 0.0) * (2.0 * unit(random, 0.5) - 1.0);
        Some(nominal.mul_f64(1.0 + spread))
    }

    /// The delay after `attempts` failed attempts, before jitter.
    fn nominal(&self, attempts: u32) -> Duration {
        let growth = self
            .factor
            .max(1)
            .checked_pow(attempts.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base
            .checked_mul(growth)
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// The time from the first attempt to the last, before jitter.
    pub fn span(&self) -> Duration {
        (1..self.max_attempts).map(|n| self.nominal(n)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_0123456789abcdef";
    const BODY: &[u8] = br#"{"type":"custos.erasure"}"#;

    #[test]
    fn hmac_sha256_matches_rfc_4231_test_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?". The signed bytes are
        // "{t}.{body}", so t = "what do ya want for nothing?" cannot be written; instead the MAC
        // is checked on the same primitive the signature uses.
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(m.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_signature_matches_a_known_answer() {
        // Computed independently: python3 -c "import hmac,hashlib;
        // print(hmac.new(b'whsec_test_0123456789abcdef',
        // b'1767225600.{\"type\":\"custos.erasure\"}', hashlib.sha256).hexdigest())"
        assert_eq!(
            sign(SECRET, 1_767_225_600, BODY),
            "t=1767225600,v1=b3893a61954fe377a050f2897b945451c85c2461f36c2c191c22902afe436b8d"
        );
    }

    #[test]
    fn a_signed_body_verifies_within_the_tolerance() {
        let h = sign(SECRET, 1000, BODY);
        assert_eq!(verify(SECRET, &h, BODY, 1000, 300), Ok(()));
        assert_eq!(verify(SECRET, &h, BODY, 1300, 300), Ok(()));
        assert_eq!(verify(SECRET, &h, BODY, 700, 300), Ok(()));
    }

    #[test]
    fn an_old_delivery_replayed_later_is_refused() {
        let h = sign(SECRET, 1000, BODY);
        assert!(matches!(
            verify(SECRET, &h, BODY, 1301, 300),
            Err(VerifyError::OutsideTolerance { skew: 301, .. })
        ));
    }

    #[test]
    fn an_altered_body_a_wrong_secret_or_a_moved_time_does_not_verify() {
        let h = sign(SECRET, 1000, BODY);
        let altered = br#"{"type":"custos.rectification"}"#;
        assert_eq!(
            verify(SECRET, &h, altered, 1000, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"another secret", &h, BODY, 1000, 300),
            Err(VerifyError::Mismatch)
        );
        let moved = h.replace("t=1000", "t=1001");
        assert_eq!(
            verify(SECRET, &moved, BODY, 1000, 300),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn any_of_several_signatures_may_match_while_a_secret_is_rotated() {
        let old = signature(b"old secret", 1000, BODY);
        let new = signature(SECRET, 1000, BODY);
        let h = format!("t=1000,v1={old},v1={new}");
        assert_eq!(verify(SECRET, &h, BODY, 1000, 300), Ok(()));
        assert_eq!(verify(b"old secret", &h, BODY, 1000, 300), Ok(()));
    }

    #[test]
    fn a_malformed_header_is_refused_saying_why() {
        for (header, why) in [
            ("", "every part is `key=value`"),
            ("v1=00", "no `t`"),
            ("t=1000", "no `v1` signature"),
            ("t=soon,v1=00", "`t` is not a number of seconds"),
            ("t=1000,v1=zz", "`v1` is not hex"),
            ("t=1,t=2,v1=00", "`t` appears twice"),
        ] {
            assert_eq!(
                verify(SECRET, header, BODY, 1000, 300),
                Err(VerifyError::Malformed(why)),
                "{header}"
            );
        }
    }

    #[test]
    fn no_header_a_receiver_is_sent_makes_verify_panic() {
        // A receiver parses this header from the network: arbitrary text only ever yields an
        // error. (A cheap sweep in the spirit of a fuzz target, over the header's own alphabet.)
        let alphabet: Vec<char> = "tv1v2=,0123456789abcdefABCDEF- \u{0}é\u{202e}"
            .chars()
            .collect();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let valid = sign(SECRET, 1000, BODY);
        for i in 0..20_000 {
            let header: String = if i % 4 == 0 {
                // Mutations of a valid header.
                let mut h: Vec<char> = valid.chars().collect();
                let at = (next() % h.len() as u64) as usize;
                h[at] = alphabet[(next() % alphabet.len() as u64) as usize];
                h.into_iter().collect()
            } else {
                let len = (next() % 90) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            };
            let now = (next() % 3000) as i64 - 1000;
            let _ = verify(SECRET, &header, BODY, now, 300);
            let _ = verify(SECRET, &header, BODY, i64::MIN, i64::MAX);
        }
    }

    #[test]
    fn the_default_schedule_grows_to_its_cap_and_ends_after_nine_attempts() {
        let b = Backoff::default();
        let mins = |n| b.next_delay(n, 0.5).map(|d| d.as_secs_f64() / 60.0);
        assert_eq!(mins(1), Some(0.5));
        assert_eq!(mins(2), Some(2.0));
        assert_eq!(mins(3), Some(8.0));
        assert_eq!(mins(4), Some(32.0));
        assert_eq!(mins(5), Some(128.0));
        assert_eq!(mins(6), Some(360.0));
        assert_eq!(mins(8), Some(360.0));
        assert_eq!(mins(9), None, "the ninth failure makes a dead letter");
        let hours = b.span().as_secs_f64() / 3600.0;
        assert!((20.0..24.0).contains(&hours), "{hours} h");
    }

    #[test]
    fn jitter_stays_within_its_window() {
        let b = Backoff::default();
        let low = b.next_delay(2, 0.0).unwrap().as_secs_f64();
        let high = b.next_delay(2, 0.999_999).unwrap().as_secs_f64();
        assert!((low - 96.0).abs() < 1e-6, "{low}");
        assert!((high - 144.0).abs() < 1e-3, "{high}");
        // Out-of-range randomness is clamped, never a panic or a negative delay.
        assert!(b.next_delay(2, -5.0).unwrap() >= Duration::from_secs(96));
        assert!(b.next_delay(2, f64::NAN).is_some());
    }

    #[test]
    fn a_huge_attempt_count_or_factor_never_overflows() {
        let b = Backoff {
            factor: u32::MAX,
            max_attempts: u32::MAX,
            ..Backoff::default()
        };
        assert_eq!(b.next_delay(40, 0.5), Some(b.cap));
    }
}
