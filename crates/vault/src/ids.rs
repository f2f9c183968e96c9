//! Identifiers as distinct types, so a subject's identifier cannot be passed where a record id
//! is expected, and the app's own identifier for a person never prints.

use std::fmt;

use crate::error::{Result, VaultError};

/// A tenant: one customer of the company running Custos. 1–64 characters from
/// `A–Z a–z 0–9 _ - .`; not personal data.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Validates a tenant id.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if id.is_empty() || id.len() > 64 {
            return Err(VaultError::InvalidId {
                kind: "tenant id",
                reason: "must be 1 to 64 characters",
            });
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(VaultError::InvalidId {
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
/// personal data: the vault never stores it, never prints it (`Debug` shows `<redacted>`, there
/// is no `Display`) and replaces it by a [`Pseudonym`] everywhere.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SubjectId(String);

impl SubjectId {
    /// Validates an identifier (1 to 1024 bytes) and writes it in its normal form
    /// ([`custos_consent::identifier::normalise`]): `Jan@Example.NL` and `jan@example.nl` are one
    /// subject, so is `+31 6 1234 5678` and `+31612345678`; an app's own ids stay as given.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if id.is_empty() || id.len() > 1024 {
            return Err(VaultError::InvalidId {
                kind: "subject id",
                reason: "must be 1 to 1024 bytes",
            });
        }
        Ok(match custos_consent::identifier::normalise(&id) {
            std::borrow::Cow::Borrowed(_) => Self(id),
            std::borrow::Cow::Owned(n) => Self(n),
        })
    }

    pub(crate) fn expose(&self) -> &str {
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
    pub fn parse(text: &str) -> Result<Self> {
        if text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(text.to_owned()))
        } else {
            Err(VaultError::InvalidId {
                kind: "pseudonym",
                reason: "must be 32 lowercase hex digits",
            })
        }
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Self {
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
    pub fn parse(text: &str) -> Result<Self> {
        if text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(text.to_owned()))
        } else {
            Err(VaultError::InvalidId {
                kind: "record id",
                reason: "must be 32 lowercase hex digits",
            })
        }
    }

    /// The `index`-th id of a batch started at `millis` with the random 80-bit `start`.
    pub(crate) fn in_batch(millis: i64, start: &[u8; 10], index: usize) -> Self {
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

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
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
}
