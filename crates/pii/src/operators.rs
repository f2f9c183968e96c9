//! Operators: what to put in place of a finding.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::{EntityType, Finding, PiiError};

/// A secret key for keyed pseudonyms. It never prints.
#[derive(Clone)]
pub struct PseudonymKey(Vec<u8>);

impl PseudonymKey {
    /// Wraps a key; an empty key is refused because it would make pseudonyms guessable.
    pub fn new(key: impl Into<Vec<u8>>) -> Result<Self, PiiError> {
        let key = key.into();
        if key.is_empty() {
            return Err(PiiError::EmptyKey);
        }
        Ok(PseudonymKey(key))
    }

    /// `TYPE_` and the first 12 hex digits of HMAC-SHA256(key, TYPE ":" value): the same
    /// value under the same key always gives the same pseudonym, and without the key the
    /// value cannot be recovered or tested.
    pub fn pseudonym(&self, entity: EntityType, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC accepts keys of any length");
        mac.update(entity.as_str().as_bytes());
        mac.update(b":");
        mac.update(value.as_bytes());
        let tag = mac.finalize().into_bytes();
        let hex: String = tag.iter().take(6).map(|b| format!("{b:02x}")).collect();
        format!("{}_{hex}", entity.as_str())
    }
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(<redacted>)")
    }
}

/// What replaces a finding.
#[derive(Debug, Clone)]
pub enum Operator {
    /// `[REDACTED]`.
    Redact,
    /// Every character but the last `keep_last` becomes `*`.
    Mask {
        /// How many characters at the end stay readable.
        keep_last: usize,
    },
    /// `<TYPE>`, e.g. `<EMAIL>`.
    Replace,
    /// A keyed pseudonym, see [`PseudonymKey::pseudonym`].
    Hash(PseudonymKey),
    /// IPv4 with its last octet set to 0, IPv6 cut to its /48 prefix; other types are
    /// replaced by `<TYPE>`.
    TruncateIp,
    /// Date of birth to its year, postcode to its four digits; other types are replaced by
    /// `<TYPE>`.
    Generalize,
}

impl Operator {
    /// Parses `redact`, `mask`, `mask:N`, `replace`, `hash`, `truncate-ip`, `generalize`.
    /// `hash` needs `key`.
    pub fn parse(name: &str, key: Option<PseudonymKey>) -> Result<Self, PiiError> {
        let lower = name.trim().to_ascii_lowercase();
        let (op, arg) = lower.split_once(':').unwrap_or((lower.as_str(), ""));
        Ok(match op {
            "redact" => Operator::Redact,
            "mask" => Operator::Mask {
                keep_last: if arg.is_empty() {
                    4
                } else {
                    arg.parse()
                        .map_err(|_| PiiError::UnknownOperator(name.to_string()))?
                },
            },
            "replace" => Operator::Replace,
            "hash" | "pseudonymize" => Operator::Hash(key.ok_or(PiiError::EmptyKey)?),
            "truncate-ip" | "truncate_ip" => Operator::TruncateIp,
            "generalize" => Operator::Generalize,
            _ => return Err(PiiError::UnknownOperator(name.to_string())),
        })
    }
}

/// What `op` puts in place of `value`, a finding of type `entity`.
pub fn apply_operator(op: &Operator, entity: EntityType, value: &str) -> String {
    match op {
        Operator::Redact => "[REDACTED]".to_string(),
        Operator::Mask { keep_last } => {
            let n = value.chars().count();
            let keep = (*keep_last).min(n);
            let mut out: String = "*".repeat(n - keep);
            out.extend(value.chars().skip(n - keep));
            out
        }
        Operator::Replace => format!("<{entity}>"),
        Operator::Hash(key) => key.pseudonym(entity, value),
        Operator::TruncateIp => truncate_ip(value).unwrap_or_else(|| format!("<{entity}>")),
        Operator::Generalize => generalize(entity, value).unwrap_or_else(|| format!("<{entity}>")),
    }
}

/// IPv4 `a.b.c.d` → `a.b.c.0`; IPv6 → its /48 prefix (`2001:db8:85a3::`).
fn truncate_ip(value: &str) -> Option<String> {
    if let Ok(v4) = value.parse::<Ipv4Addr>() {
        let [a, b, c, _] = v4.octets();
        return Some(Ipv4Addr::new(a, b, c, 0).to_string());
    }
    let v6 = value.parse::<Ipv6Addr>().ok()?;
    let s = v6.segments();
    Some(Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0).to_string())
}

fn generalize(entity: EntityType, value: &str) -> Option<String> {
    match entity {
        EntityType::DateOfBirth => value
            .split(|c: char| !c.is_ascii_digit())
            .find(|p| p.len() == 4)
            .map(str::to_string),
        EntityType::PostcodeNl => Some(value.chars().filter(char::is_ascii_digit).collect()),
        _ => None,
    }
}

/// `text` with every finding replaced by what `op` makes of it. Findings must be sorted and
/// non-overlapping with spans on char boundaries, as [`crate::Scanner::scan`] returns them;
/// findings that are not are skipped rather than corrupting the text.
pub fn anonymize(text: &str, findings: &[Finding], op: &Operator) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for f in findings {
        let (Some(value), true) = (text.get(f.start..f.end), f.start >= pos) else {
            continue;
        };
        out.push_str(&text[pos..f.start]);
        out.push_str(&apply_operator(op, f.entity, value));
        pos = f.end;
    }
    out.push_str(&text[pos..]);
    out
}

/// At most the first `n` characters of `text`, never cutting a character in two
/// (JBSync's 500-character snippets).
pub fn truncate_chars(text: &str, n: usize) -> &str {
    match text.char_indices().nth(n) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PseudonymKey {
        PseudonymKey::new("secret").expect("non-empty key")
    }

    #[test]
    fn mask_keeps_the_last_n_characters() {
        assert_eq!(
            apply_operator(
                &Operator::Mask { keep_last: 4 },
                EntityType::Iban,
                "NL91ABNA0417164300"
            ),
            "**************4300"
        );
        assert_eq!(
            apply_operator(&Operator::Mask { keep_last: 9 }, EntityType::Bsn, "12é"),
            "12é"
        );
    }

    #[test]
    fn pseudonyms_are_stable_per_key_and_differ_between_keys() {
        let a = apply_operator(&Operator::Hash(key()), EntityType::Email, "a@b.nl");
        let b = apply_operator(&Operator::Hash(key()), EntityType::Email, "a@b.nl");
        let other = PseudonymKey::new("other").expect("non-empty key");
        let c = apply_operator(&Operator::Hash(other), EntityType::Email, "a@b.nl");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.starts_with("EMAIL_") && a.len() == 18);
        assert_eq!(format!("{:?}", key()), "PseudonymKey(<redacted>)");
        assert!(PseudonymKey::new("").is_err());
    }

    #[test]
    fn truncate_ip_zeroes_the_last_octet_and_cuts_ipv6_to_48_bits() {
        assert_eq!(
            apply_operator(&Operator::TruncateIp, EntityType::IpAddress, "81.2.69.142"),
            "81.2.69.0"
        );
        assert_eq!(
            apply_operator(
                &Operator::TruncateIp,
                EntityType::IpAddress,
                "2001:db8:85a3:8d3:1319:8a2e:370:7348"
            ),
            "2001:db8:85a3::"
        );
        assert_eq!(
            apply_operator(&Operator::TruncateIp, EntityType::Email, "a@b.nl"),
            "<EMAIL>"
        );
    }

    #[test]
    fn generalize_keeps_year_of_birth_and_postcode_digits() {
        assert_eq!(
            apply_operator(&Operator::Generalize, EntityType::DateOfBirth, "12-03-1985"),
            "1985"
        );
        assert_eq!(
            apply_operator(&Operator::Generalize, EntityType::PostcodeNl, "1234 AB"),
            "1234"
        );
    }

    #[test]
    fn anonymize_replaces_each_finding() {
        let text = "mail a@b.nl of bel 06-12345678";
        let found = crate::Scanner::new().scan(text);
        assert_eq!(
            anonymize(text, &found, &Operator::Replace),
            "mail <EMAIL> of bel <PHONE>"
        );
    }

    #[test]
    fn truncate_chars_never_splits_a_character() {
        assert_eq!(truncate_chars("héllo", 2), "hé");
        assert_eq!(truncate_chars("hé", 10), "hé");
        assert_eq!(truncate_chars("", 3), "");
    }

    #[test]
    fn operator_names_parse() {
        assert!(matches!(
            Operator::parse("mask:2", None),
            Ok(Operator::Mask { keep_last: 2 })
        ));
        assert!(Operator::parse("hash", None).is_err());
        assert!(Operator::parse("shred", None).is_err());
    }
}
