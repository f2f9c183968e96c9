//! How a person's identifier is written down before anything is keyed on it. An app may send
//! `Jan@Example.NL` one day and `jan@example.nl` the next; both are one person, and an erasure,
//! an access answer or an opt-out must reach everything stored under either spelling. One
//! normalisation, used for subject ids (and so for pseudonyms) and for the suppression list:
//!
//! - **E-mail address** (one `@` with text on both sides, no spaces inside): trimmed and
//!   lower-cased as a whole. RFC 5321 lets a mail server treat the local part case-sensitively;
//!   no mainstream provider does, and treating two spellings as two people would let data
//!   escape an erasure, so Custos treats them as one.
//! - **Phone number** (an optional leading `+`, then digits with spaces, dashes, dots or
//!   parentheses between them, at least 7 digits): trimmed, the separators removed, and a
//!   leading international `00` written as `+` (`0031 6 1234 5678` → `+31612345678`).
//! - **Anything else** (an app's own opaque id such as `user-1234`) is kept exactly as given:
//!   the app decides what is one person there.

use std::borrow::Cow;

/// The kind of identifier [`normalise`] recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifierKind {
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// Anything else, kept as given.
    Opaque,
}

/// What kind of identifier `id` is (see the module documentation).
pub fn kind(id: &str) -> IdentifierKind {
    let t = id.trim();
    if let Some((local, domain)) = t.split_once('@')
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !t.chars().any(char::is_whitespace)
    {
        return IdentifierKind::Email;
    }
    let body = t.strip_prefix('+').unwrap_or(t);
    let digits = body.bytes().filter(u8::is_ascii_digit).count();
    let phone_chars = body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'.' | b'(' | b')'));
    if !body.is_empty()
        && phone_chars
        && digits >= 7
        && body
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'(')
    {
        return IdentifierKind::Phone;
    }
    IdentifierKind::Opaque
}

/// `id` in its normal form (see the module documentation). Borrowed when nothing changes.
pub fn normalise(id: &str) -> Cow<'_, str> {
    match kind(id) {
        IdentifierKind::Email => {
            let t = id.trim();
            if t.len() == id.len() && !t.bytes().any(|b| b.is_ascii_uppercase()) && t.is_ascii() {
                Cow::Borrowed(id)
            } else {
                Cow::Owned(t.to_lowercase())
            }
        }
        IdentifierKind::Phone => {
            let t = id.trim();
            let plus = t.starts_with('+');
            let digits: String = t.chars().filter(char::is_ascii_digit).collect();
            let n = match (plus, digits.strip_prefix("00")) {
                (true, _) => format!("+{digits}"),
                (false, Some(rest)) if rest.len() >= 7 => format!("+{rest}"),
                (false, _) => digits,
            };
            if n == id {
                Cow::Borrowed(id)
            } else {
                Cow::Owned(n)
            }
        }
        IdentifierKind::Opaque => Cow::Borrowed(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_in_any_spelling_is_one_identifier() {
        assert_eq!(normalise(" Jan@Example.NL "), "jan@example.nl");
        assert_eq!(normalise("jan@example.nl"), "jan@example.nl");
        assert_eq!(normalise("ÉLODIE@Example.fr"), "élodie@example.fr");
    }

    #[test]
    fn one_phone_number_in_any_spelling_is_one_identifier() {
        for spelling in [
            "+31 6 1234 5678",
            "+31-6-12345678",
            "0031 6 12345678",
            " +31612345678",
        ] {
            assert_eq!(normalise(spelling), "+31612345678", "{spelling}");
        }
        assert_eq!(normalise("06-12345678"), "0612345678");
        assert_eq!(normalise("(212) 555-0147"), "2125550147");
    }

    #[test]
    fn an_apps_own_ids_are_kept_exactly() {
        for id in [
            "user-1234",
            "User-1234",
            "inbox-1",
            "a.b",
            "12-34",
            "erin",
            " spaced ",
        ] {
            assert_eq!(normalise(id), id, "{id}");
            assert_eq!(kind(id), IdentifierKind::Opaque, "{id}");
        }
        assert_eq!(kind("not an @ address"), IdentifierKind::Opaque);
        assert_eq!(kind("a@b@c"), IdentifierKind::Opaque);
    }
}
