//! The marketing suppression list: once a person opts out of marketing, no marketing purpose
//! is allowed for their address again, even after the subject is erased. Only a keyed hash of
//! the normalised address is kept, so the list holds no personal data in the clear.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The key that turns addresses into suppression entries (derived from the master key).
pub struct SuppressionKey([u8; 32]);

impl std::fmt::Debug for SuppressionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SuppressionKey(…)")
    }
}

impl SuppressionKey {
    /// A key from 32 bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        SuppressionKey(bytes)
    }

    /// The entry for an e-mail address or phone number: HMAC-SHA256 of its normal form
    /// ([`crate::identifier::normalise`]: e-mail addresses trimmed and lower-cased, phone numbers
    /// without separators), hex.
    pub fn entry(&self, address: &str) -> String {
        let normalised = crate::identifier::normalise(address);
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        mac.update(b"custos-suppression-v1\0");
        mac.update(normalised.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl Drop for SuppressionKey {
    fn drop(&mut self) {
        self.0 = [0; 32];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_address_in_another_spelling_maps_to_the_same_entry() {
        let k = SuppressionKey::new([1; 32]);
        assert_eq!(
            k.entry(" Jan.Jansen@Example.NL "),
            k.entry("jan.jansen@example.nl")
        );
        assert_eq!(k.entry("+31 6 1234-5678"), k.entry("+31612345678"));
        assert_ne!(k.entry("a@example.nl"), k.entry("b@example.nl"));
        assert!(!k.entry("jan.jansen@example.nl").contains("jansen"));
        assert_ne!(
            SuppressionKey::new([2; 32]).entry("a@example.nl"),
            k.entry("a@example.nl"),
            "entries depend on the key"
        );
    }
}
