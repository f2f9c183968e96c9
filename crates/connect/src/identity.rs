//! How a subject's identifiers meet the values in a company's columns. Both sides go through
//! one normal form per kind: the vault's connector layer writes the same steps in SQL for the
//! column side (see `column_sql` there), and the tests hold the two to each other.

use crate::annotations::IdKind;
use custos_types::identifier::{IdentifierKind, kind, normalise as normalise_any};

/// `value` in the normal form of `id_kind`, or `None` when it is not an identifier of that kind
/// (an e-mail address is never compared with a phone column).
///
/// - e-mail: trimmed and case-folded;
/// - phone: separators removed, a leading `00` written `+`, and a national number (leading
///   `0`) given `+` and the `phone_country` calling code when one is set (E.164: `06-87654321`
///   with country `31` is `+31687654321`);
/// - opaque: exactly as given.
pub fn normalise(id_kind: IdKind, value: &str, phone_country: Option<&str>) -> Option<String> {
    match id_kind {
        IdKind::Email => {
            (kind(value) == IdentifierKind::Email).then(|| normalise_any(value).into_owned())
        }
        IdKind::Phone => {
            if kind(value) != IdentifierKind::Phone {
                return None;
            }
            let n = phone_digits(value);
            Some(national(n, phone_country))
        }
        IdKind::Opaque => Some(value.to_owned()),
    }
}

/// The column-side steps for a phone number, in Rust: the characters ` `, `-`, `.`, `(`, `)`
/// removed, a leading `00` read as `+`. Mirrors the SQL exactly (which cannot tell a phone
/// number from other text, so it applies the steps to any value).
pub fn phone_digits(value: &str) -> String {
    let s: String = value
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    match s.strip_prefix("00") {
        Some(rest) if !s.starts_with('+') => format!("+{rest}"),
        _ => s,
    }
}

fn national(n: String, country: Option<&str>) -> String {
    match (country, n.strip_prefix('0')) {
        (Some(cc), Some(rest)) if !n.starts_with('+') => format!("+{cc}{rest}"),
        _ => n,
    }
}

/// The column side in Rust, for values read back (JSON elements): what the SQL normal form of
/// `id_kind` makes of `value`.
pub fn column_form(id_kind: IdKind, value: &str, phone_country: Option<&str>) -> String {
    match id_kind {
        IdKind::Email => value.trim().to_lowercase(),
        IdKind::Phone => national(phone_digits(value), phone_country),
        IdKind::Opaque => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_address_is_case_folded_and_a_phone_number_written_in_e164() {
        assert_eq!(
            normalise(IdKind::Email, " Ann@Example.TEST", None).as_deref(),
            Some("ann@example.test")
        );
        assert_eq!(normalise(IdKind::Email, "+31 6 1234 5678", None), None);
        assert_eq!(
            normalise(IdKind::Phone, "+31 6 1234 5678", None).as_deref(),
            Some("+31612345678")
        );
        assert_eq!(
            normalise(IdKind::Phone, "0031 6 1234 5678", None).as_deref(),
            Some("+31612345678")
        );
        assert_eq!(
            normalise(IdKind::Phone, "06-87654321", Some("31")).as_deref(),
            Some("+31687654321")
        );
        assert_eq!(
            normalise(IdKind::Phone, "06-87654321", None).as_deref(),
            Some("0687654321")
        );
        assert_eq!(normalise(IdKind::Phone, "ann@example.test", None), None);
        assert_eq!(
            normalise(IdKind::Opaque, "User-1", None).as_deref(),
            Some("User-1")
        );
    }

    #[test]
    fn the_column_side_meets_the_subject_side() {
        for (stored, given) in [
            ("+31 6 1234 5678", "0031612345678"),
            ("(06) 8765-4321", "+31 6 87654321"),
            ("06.87.65.43.21", "06 87654321"),
        ] {
            assert_eq!(
                Some(column_form(IdKind::Phone, stored, Some("31"))),
                normalise(IdKind::Phone, given, Some("31")),
                "{stored} vs {given}"
            );
        }
        assert_eq!(
            column_form(IdKind::Email, " ANN@example.test ", None),
            "ann@example.test"
        );
    }
}
