//! Context words: Dutch and English words near a candidate that make it more or less likely
//! to be personal data ("BSN 111222333" versus "ordernummer 111222333").

/// How far before a candidate we look for context words, in bytes.
const BEFORE: usize = 48;

/// The text just before `start`, lower-cased (ASCII), cut on a char boundary.
pub(crate) fn before(text: &str, start: usize) -> String {
    let mut from = start.saturating_sub(BEFORE);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let window = &text[from..start];
    // Context never reaches into the previous line.
    let window = window.rfind('\n').map_or(window, |i| &window[i + 1..]);
    window.to_ascii_lowercase()
}

/// The text just after `end`, lower-cased (ASCII), cut on a char boundary and at the end of
/// the line.
pub(crate) fn after(text: &str, end: usize) -> String {
    let mut to = (end + BEFORE).min(text.len());
    while !text.is_char_boundary(to) {
        to -= 1;
    }
    let window = &text[end..to];
    let window = window.find('\n').map_or(window, |i| &window[..i]);
    window.to_ascii_lowercase()
}

/// True when `window` holds any of `words` (already lower-case).
pub(crate) fn has_any(window: &str, words: &[&str]) -> bool {
    // Windows are a few dozen bytes: find each word's first byte with memchr and compare
    // from there, rather than building a substring searcher per word.
    let h = window.as_bytes();
    words.iter().any(|w| {
        let n = w.as_bytes();
        let Some((&first, rest)) = n.split_first() else {
            return false;
        };
        memchr::memchr_iter(first, h).any(|i| h.get(i + 1..i + n.len()) == Some(rest))
    })
}

pub(crate) const BSN: &[&str] = &[
    "bsn",
    "burgerservicenummer",
    "sofinummer",
    "sofi-nummer",
    "sofi nummer",
    "citizen service number",
    "social security",
];
pub(crate) const PHONE: &[&str] = &[
    "tel",
    "phone",
    "mobiel",
    "mobile",
    "gsm",
    "bel ",
    "bellen",
    "call",
    "fax",
    "whatsapp",
    "bereikbaar",
    "reachable",
    "contact",
    "nummer",
    "number",
];
pub(crate) const KVK: &[&str] = &[
    "kvk",
    "kamer van koophandel",
    "chamber of commerce",
    "handelsregister",
    "coc",
];
pub(crate) const DOB: &[&str] = &[
    "geboren",
    "geboorte",
    "geb.",
    "geb ",
    "born",
    "birth",
    "dob",
    "d.o.b",
    "verjaardag",
];
pub(crate) const CARD: &[&str] = &[
    "card",
    "kaart",
    "visa",
    "mastercard",
    "amex",
    "american express",
    "maestro",
    "betaal",
    "payment",
    "cc ",
];
pub(crate) const POSTCODE: &[&str] = &[
    "postcode",
    "adres",
    "address",
    "woonachtig",
    "wonende",
    "woont",
    "lives",
    "zip",
    "straat",
    "laan",
    "weg ",
    "plein",
    "gracht",
    "kade",
    "dijk",
    "singel",
    "street",
];
/// Words right before a postcode that say a place follows ("verzonden naar 1234 AB").
pub(crate) const PLACE_WORDS: &[&str] = &[
    "naar", "in", "te", "uit", "bij", "op", "rond", "nabij", "to", "at", "from", "near", "into",
];
/// Two capitals that after four digits are mostly a unit, a time of day, a company form, a
/// country or a release name (`2048 MB`, `1130 AM`, `2000 BV`, `2024 NL`, `3141 RC`).
pub(crate) const NOT_POSTCODE_LETTERS: &[&str] = &[
    "KB", "MB", "GB", "TB", "PB", "KG", "MG", "ML", "CL", "DL", "CM", "MM", "KM", "KW", "MW", "GW",
    "KV", "HP", "PK", "PX", "DB", "HZ", "AM", "PM", "BV", "NV", "CV", "NL", "BE", "DE", "LU", "FR",
    "ES", "IT", "PL", "AT", "CH", "DK", "SE", "GB", "US", "UK", "EU", "RC", "LT", "SP", "HD", "TI",
    "GT", "XL", "XS", "TV", "PC", "CD",
];
/// Words that make a postcode-shaped code a reference, a version or an article. Narrower
/// than [`NEGATIVE`]: parcels and orders are sent to postcodes.
pub(crate) const NOT_POSTCODE: &[&str] = &[
    "ordernummer",
    "order no",
    "order number",
    "bestelnummer",
    "factuur",
    "invoice",
    "artikel",
    "article",
    "sku",
    "versie",
    "version",
    "build",
    "release",
    "firmware",
    "referentie",
    "reference",
    "ref ",
    "ref.",
    "ref:",
    "serial",
    "serienummer",
    "ticket",
    "model",
];
/// Capitalized weekdays and months: after a postcode-shaped code they are no city.
pub(crate) fn is_calendar_word(w: &str) -> bool {
    crate::names::CALENDAR
        .iter()
        .any(|m| m.eq_ignore_ascii_case(w))
}
pub(crate) const PLATE: &[&str] = &[
    "kenteken", "plate", "licence", "license", "auto", "car ", "voertuig", "vehicle", "wagen",
];
/// Vehicle words that vouch for a plate written without dashes, before or after it. Narrower
/// than [`PLATE`]: "auto" alone would also match "autorisatiecode".
pub(crate) const VEHICLE: &[&str] = &[
    "kenteken",
    "nummerbord",
    "plate",
    "voertuig",
    "vehicle",
    "auto ",
    "auto's",
    "car ",
    "rdw",
    "apk",
    "parkeer",
    "parking",
    "towed",
    "gesleept",
];
/// Words that make a six-character code an id rather than a plate written without dashes.
pub(crate) const NOT_PLATE: &[&str] = &[
    "code", "model", "type", "token", "sessie", "session", "voucher", "coupon", "promo", " id",
    "id:", "id=", "hash", "kleur", "color", "colour",
];
pub(crate) const VIN: &[&str] = &[
    "vin",
    "chassis",
    "vehicle identification",
    "voertuigidentificatie",
    "frame",
];
pub(crate) const PERSON: &[&str] = &[
    "naam",
    "name",
    "klant",
    "customer",
    "contactpersoon",
    "contact",
    "beste",
    "dear",
    "geachte",
    "hallo",
    "hoi ",
    "hey ",
    "lieve ",
    "hello",
    "hi ",
    "groet",
    "regards",
    "gebruiker",
    "user",
    "patient",
    "patiënt",
    "medewerker",
    "employee",
    " door",
    " by",
    " from",
    " van ",
    " aan ",
    "cc:",
    "signed",
    "t.n.v",
    "tnv",
    "ten name van",
    "registered to",
    "owner",
    "eigenaar",
    "houder",
    "mail ",
    "getekend",
    " met ",
    " with ",
];
/// Titles that mark the next capitalized word(s) as a name.
pub(crate) const TITLES: &[&str] = &[
    "dhr", "dhr.", "mevr", "mevr.", "mw", "mw.", "mr", "mr.", "mrs", "mrs.", "ms", "ms.", "miss",
    "dr", "dr.", "drs", "drs.", "ir", "ir.", "prof", "prof.", "mevrouw", "meneer", "heer", "sir",
    "madam",
];
/// Words that make a number look like a reference rather than personal data.
pub(crate) const NEGATIVE: &[&str] = &[
    "order",
    "bestel",
    "factuur",
    "invoice",
    "referentie",
    "reference",
    "ref.",
    "ref:",
    "ref ",
    "tracking",
    "klantnummer",
    "klantnr",
    "customer number",
    "customer no",
    "lidnummer",
    "artikel",
    "article",
    "sku",
    "versie",
    "version",
    "ticket",
    "transactie",
    "transaction",
    "zending",
    "shipment",
    "batch",
    "build",
    "serial",
    "serienummer",
    "pakket",
    "parcel",
    "product",
    "part no",
    "part number",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cut_on_char_boundaries() {
        let text = "ééééééééééééééééééééééééééééééé BSN 123";
        let start = text.len() - 3;
        assert!(before(text, start).ends_with("bsn "));
    }
}
