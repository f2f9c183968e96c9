//! Custos PII: find personal data in free text and logs, and anonymize it.
//!
//! * [`Scanner`] runs the recognizers (e-mail, phone, IBAN, BSN, KvK, credit card, IP,
//!   Dutch postcode and licence plate, VIN, date of birth, URL with personal tokens, person
//!   names) over a piece of text and returns [`Finding`]s: type, byte span, score and the
//!   recognizer that made it. Every recognizer validates its candidates (checksums, ranges,
//!   context words in Dutch and English) to keep false positives down. All matching uses the
//!   `regex` crate, whose engines run in time linear in the input: no input can make a scan
//!   explode.
//! * [`stream::scan_stream`] scans any `BufRead` in bounded memory, line by line, cutting
//!   very long lines into chunks and replacing invalid UTF-8.
//! * [`Operator`] and [`anonymize`] turn findings into redacted, masked, replaced, keyed
//!   pseudonymized, truncated or generalized text; [`truncate_chars`] cuts snippets.
//! * [`kanon`] publishes grouped count/sum/average aggregates only for groups of at least k.
//!
//! ```
//! use custos_pii::{anonymize, EntityType, Operator, PseudonymKey, Scanner};
//!
//! let scanner = Scanner::new();
//! let text = "Beste Jan Jansen, uw IBAN NL91 ABNA 0417 1643 00 is gewijzigd (IP 81.2.69.142).";
//! let found = scanner.scan(text);
//! let types: Vec<EntityType> = found.iter().map(|f| f.entity).collect();
//! assert_eq!(types, [EntityType::Person, EntityType::Iban, EntityType::IpAddress]);
//!
//! assert_eq!(
//!     anonymize(text, &found, &Operator::Replace),
//!     "Beste <PERSON>, uw IBAN <IBAN> is gewijzigd (IP <IP_ADDRESS>)."
//! );
//! // Jet-Stream style: keep the network, drop the host.
//! let ip_only = Scanner::new().with_types([EntityType::IpAddress]);
//! let found = ip_only.scan(text);
//! assert!(anonymize(text, &found, &Operator::TruncateIp).ends_with("(IP 81.2.69.0)."));
//! // The same value under the same key always gets the same pseudonym.
//! let key = PseudonymKey::new(b"a secret from the vault".to_vec())?;
//! assert_eq!(key.pseudonym(EntityType::Email, "a@b.nl"), key.pseudonym(EntityType::Email, "a@b.nl"));
//! # Ok::<(), custos_pii::PiiError>(())
//! ```

mod checks;
mod context;
mod error;
pub mod kanon;
mod names;
mod operators;
mod recognizers;
pub mod stream;

pub use error::PiiError;
pub use operators::{Operator, PseudonymKey, anonymize, apply_operator, truncate_chars};
pub use recognizers::{DEFAULT_MIN_SCORE, Scanner};

use std::fmt;
use std::str::FromStr;

/// The kinds of personal data the scanner knows. Their [`EntityType::as_str`] names are the
/// stable, upper-case names used in JSON output and on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntityType {
    /// An e-mail address.
    Email,
    /// A telephone number (Dutch, international or North American).
    Phone,
    /// An international bank account number.
    Iban,
    /// A Dutch citizen service number (burgerservicenummer) that passes the eleven check.
    Bsn,
    /// A payment card number that passes the Luhn check.
    CreditCard,
    /// An IPv4 or IPv6 address.
    IpAddress,
    /// A Dutch postcode.
    PostcodeNl,
    /// A Dutch licence plate.
    LicensePlateNl,
    /// A vehicle identification number.
    Vin,
    /// A date of birth.
    DateOfBirth,
    /// A person's name.
    Person,
    /// A Dutch Chamber of Commerce (KvK) number.
    Kvk,
    /// A web address.
    Url,
}

impl EntityType {
    /// Every type, in a fixed order.
    pub const ALL: [EntityType; 13] = [
        EntityType::Email,
        EntityType::Phone,
        EntityType::Iban,
        EntityType::Bsn,
        EntityType::CreditCard,
        EntityType::IpAddress,
        EntityType::PostcodeNl,
        EntityType::LicensePlateNl,
        EntityType::Vin,
        EntityType::DateOfBirth,
        EntityType::Person,
        EntityType::Kvk,
        EntityType::Url,
    ];

    /// The stable upper-case name, e.g. `EMAIL`, `LICENSE_PLATE_NL`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Email => "EMAIL",
            EntityType::Phone => "PHONE",
            EntityType::Iban => "IBAN",
            EntityType::Bsn => "BSN",
            EntityType::CreditCard => "CREDIT_CARD",
            EntityType::IpAddress => "IP_ADDRESS",
            EntityType::PostcodeNl => "POSTCODE_NL",
            EntityType::LicensePlateNl => "LICENSE_PLATE_NL",
            EntityType::Vin => "VIN",
            EntityType::DateOfBirth => "DATE_OF_BIRTH",
            EntityType::Person => "PERSON",
            EntityType::Kvk => "KVK",
            EntityType::Url => "URL",
        }
    }

    /// All names, in the order of [`EntityType::ALL`].
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|t| t.as_str()).collect()
    }
}

impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntityType {
    type Err = PiiError;

    /// Accepts the upper-case name in any case, with `-` or `_` (`credit-card`, `CREDIT_CARD`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_uppercase().replace('-', "_");
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == norm)
            .ok_or_else(|| PiiError::UnknownType(s.to_string()))
    }
}

/// One piece of personal data found in a text.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    /// What kind of personal data this is.
    #[serde(rename = "type")]
    pub entity: EntityType,
    /// Byte offset of the first byte, on a `char` boundary of the scanned text.
    pub start: usize,
    /// Byte offset one past the last byte, on a `char` boundary of the scanned text.
    pub end: usize,
    /// Confidence in 0..=1 after validation and context words.
    pub score: f32,
    /// The recognizer that made this finding, e.g. `iban_mod97`.
    pub recognizer: &'static str,
}

impl Finding {
    /// The length of the span in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True for an empty span (never produced by the scanner).
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip_through_from_str() {
        for t in EntityType::ALL {
            assert_eq!(t.as_str().parse::<EntityType>().ok(), Some(t));
        }
        assert_eq!(
            "credit-card".parse::<EntityType>().ok(),
            Some(EntityType::CreditCard)
        );
        assert!("SSN".parse::<EntityType>().is_err());
    }
}
