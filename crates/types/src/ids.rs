//! Identifiers as distinct types, so a subject's identifier cannot be passed where a record id
//! is expected, and the app's own identifier for a person never prints. Each type checks its
//! form once, where text from outside (a path, a flag, a row) becomes an id.

use std::fmt;

/// Why a text is not a valid identifier. Never holds the text itself: it may be personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct InvalidId {
    /// Which kind of identifier (`tenant id`, `record id`, ...).
    pub kind: &'static str,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl InvalidId {
    /// Its code in the error table.
    pub fn code(&self) -> crate::ErrorCode {
        crate::ErrorCode::InvalidId
    }
}

/// `true` when `text` is exactly 32 lowercase hex digits: the form of every id Custos makes.
fn is_hex32(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// A tenant: one customer of the company running Custos. 1–64 characters from
/// `A–Z a–z 0–9 _ - .`; not personal data.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Validates a tenant id.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidId> {
        let id = id.into();
        if id.is_empty() || id.len() > 64 {
            return Err(InvalidId {
                kind: "tenant id",
                reason: "must be 1 to 64 characters",
            });
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(InvalidId {
                kind: "tenant id",
                reason: "may only contain A-Z, a-z, 0-9, `_`, `-` and `.`",
            });
        }
        Ok(Self(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({})", self.0)
    }
}

/// The app's own identifier for a person (an account id, an e-mail address, ...). It is
/// personal data: Custos never stores it in the clear, never prints it (`Debug` shows
/// `<redacted>`, there is no `Display`) and replaces it by a [`Pseudonym`] everywhere. The one
/// copy it keeps is sealed: who filed an open data-subject request, cleared when it closes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SubjectId(String);

impl SubjectId {
    /// Validates an identifier (1 to 1024 characters, as the API's schema states it) and writes
    /// it in its normal form
    /// ([`crate::identifier::normalise`]): `Jan@Example.NL` and `jan@example.nl` are one
    /// subject, so is `+31 6 1234 5678` and `+31612345678`; an app's own ids stay as given.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidId> {
        let id = id.into();
        if id.is_empty() || id.chars().count() > 1024 {
            return Err(InvalidId {
                kind: "subject id",
                reason: "must be 1 to 1024 characters",
            });
        }
        Ok(match crate::identifier::normalise(&id) {
            std::borrow::Cow::Borrowed(_) => Self(id),
            std::borrow::Cow::Owned(n) => Self(n),
        })
    }

    /// The identifier itself, for keying a pseudonym on it. Never log, print or store it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubjectId(<redacted>)")
    }
}

/// A subject's keyed pseudonym within one tenant: HMAC-SHA256 of (tenant, subject id) under a
/// key derived from the master key, as 32 lowercase hex digits. It is what leaves the vault (in
/// audit entries, logs and errors); without the master key it cannot be linked to the person.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym(String);

impl Pseudonym {
    /// Parses a pseudonym printed earlier.
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        if is_hex32(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidId {
                kind: "pseudonym",
                reason: "must be 32 lowercase hex digits",
            })
        }
    }

    /// The pseudonym made of a keyed hash's leading bytes (the vault computes the hash).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(hex(bytes))
    }

    /// The pseudonym as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pseudonym({})", self.0)
    }
}

/// A record's id, made by the vault: 128 bits as 32 lowercase hex digits. Ids are
/// time-ordered (the first 48 bits are the Unix time in milliseconds, the other 80 a random start
/// per batch plus the record's position in it), so inserts append to the primary-key index
/// instead of scattering over it; they are unique, not secret.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(String);

impl RecordId {
    /// Parses a record id given by a caller.
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        if is_hex32(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidId {
                kind: "record id",
                reason: "must be 32 lowercase hex digits",
            })
        }
    }

    /// The `index`-th id of a batch started at `millis` with the random 80-bit `start`.
    pub fn in_batch(millis: i64, start: &[u8; 10], index: usize) -> Self {
        let mut wide = [0u8; 16];
        wide[6..].copy_from_slice(start);
        let tail = u128::from_be_bytes(wide).wrapping_add(index as u128) & ((1u128 << 80) - 1);
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
        bytes[6..].copy_from_slice(&tail.to_be_bytes()[6..]);
        Self(hex(&bytes))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({})", self.0)
    }
}

/// A data-subject request's id: 128 bits as 32 lowercase hex digits. Callers may give it as a
/// UUID (OpenGDPR's `subject_request_id`), in either case and with dashes; it is stored without.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(String);

impl RequestId {
    /// Parses a request id: 32 hex digits, or a UUID (dashes and upper case are dropped).
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        let norm = text.to_ascii_lowercase().replace('-', "");
        if is_hex32(&norm) {
            Ok(Self(norm))
        } else {
            Err(InvalidId {
                kind: "request id",
                reason: "a request id is 32 hex digits",
            })
        }
    }

    /// A request id from 16 random bytes.
    pub fn from_bytes(bytes: &[u8; 16]) -> Self {
        Self(hex(bytes))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", self.0)
    }
}

/// A legal hold's id: `hold_` and 16 lowercase hex digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HoldId(String);

impl HoldId {
    /// Parses a hold id.
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        match text.strip_prefix("hold_") {
            Some(h)
                if h.len() == 16 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
            {
                Ok(Self(text.to_owned()))
            }
            _ => Err(InvalidId {
                kind: "hold id",
                reason: "a hold id is `hold_` and 16 lowercase hex digits",
            }),
        }
    }

    /// A hold id from 8 random bytes.
    pub fn from_bytes(bytes: &[u8; 8]) -> Self {
        Self(format!("hold_{}", hex(bytes)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HoldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for HoldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HoldId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_id_with_a_space_is_refused() {
        assert!(TenantId::new("acme corp").is_err());
        assert!(TenantId::new("").is_err());
        assert!(TenantId::new("acme-corp.nl_1").is_ok());
    }

    #[test]
    fn a_subject_id_never_prints() {
        let s = SubjectId::new("jan@example.nl").expect("valid");
        assert_eq!(format!("{s:?}"), "SubjectId(<redacted>)");
    }

    #[test]
    fn record_ids_of_a_batch_are_ordered_and_distinct() {
        let start = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe];
        let ids: Vec<RecordId> = (0..3)
            .map(|i| RecordId::in_batch(1_793_527_200_000, &start, i))
            .collect();
        assert!(ids.iter().all(|id| RecordId::parse(id.as_str()).is_ok()));
        assert!(ids[0] < ids[1], "{ids:?}");
        assert_ne!(
            ids[1], ids[2],
            "wrapping the 80-bit counter still gives distinct ids"
        );
        assert!(
            ids[0].as_str().starts_with("01a1968d3900"),
            "the first 48 bits are the milliseconds: {ids:?}"
        );
    }

    #[test]
    fn a_record_id_must_be_32_hex_digits() {
        assert!(RecordId::parse("00112233445566778899aabbccddeeff").is_ok());
        assert!(RecordId::parse("00112233445566778899AABBCCDDEEFF").is_err());
        assert!(RecordId::parse("0011").is_err());
        assert!(RecordId::parse("'; DROP TABLE records; --xxxxxxx").is_err());
    }

    #[test]
    fn a_request_id_may_be_given_as_a_uuid_in_any_case() {
        let id = RequestId::parse("0A1B2C3D-0000-4000-8000-00000000000F").expect("a UUID");
        assert_eq!(id.as_str(), "0a1b2c3d00004000800000000000000f");
        assert!(RequestId::parse("0a1b").is_err());
        assert!(RequestId::parse("zz1b2c3d00004000800000000000000f").is_err());
    }

    #[test]
    fn a_hold_id_is_hold_and_16_hex_digits() {
        let id = HoldId::from_bytes(&[0, 1, 2, 3, 4, 5, 6, 0xff]);
        assert_eq!(id.as_str(), "hold_00010203040506ff");
        assert_eq!(HoldId::parse(id.as_str()), Ok(id));
        assert!(HoldId::parse("hold_0001").is_err());
        assert!(HoldId::parse("00010203040506ff").is_err());
    }
}
