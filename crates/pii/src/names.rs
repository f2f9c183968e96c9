//! Dictionaries of common Dutch and English first names and surnames, from `data/`.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

static FIRST: LazyLock<WordSet> = LazyLock::new(|| load(include_str!("../data/first_names.txt")));
static LAST: LazyLock<WordSet> = LazyLock::new(|| load(include_str!("../data/surnames.txt")));

/// A multiply-rotate hash (as in rustc's FxHash): the sets are fixed at start-up, so the
/// flooding resistance of SipHash buys nothing here and costs a quarter of the name search.
#[derive(Default, Clone, Copy)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type WordSet = HashSet<&'static str, BuildHasherDefault<WordHasher>>;

fn load(text: &'static str) -> WordSet {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Lower-case particles that sit between first name and surname ("Jan van der Berg").
pub(crate) const PARTICLES: &[&str] = &[
    "van", "de", "der", "den", "ter", "ten", "te", "'t", "von", "la", "le", "du", "da", "di",
    "del", "dos",
];

/// Words that make a capitalized group a company, not a person ("Morgan Ltd").
const COMPANY: &[&str] = &[
    "ltd",
    "inc",
    "llc",
    "plc",
    "gmbh",
    "bv",
    "b.v",
    "nv",
    "n.v",
    "group",
    "groep",
    "holding",
    "company",
    "corp",
    "corporation",
    "partners",
    "zonen",
    "co",
    "sons",
    "associates",
    "team",
    "teams",
    "afdeling",
    "department",
    "dept",
    "office",
    "kantoor",
    "support",
    "services",
    "stichting",
    "koninklijke",
    "vereniging",
    "gemeente",
    "university",
    "universiteit",
    "hospital",
    "ziekenhuis",
    "bank",
];

/// Words that make a capitalized group a place unless it starts with a known first name
/// ("Downing Street", but "Jennifer Hall").
const PLACE: &[&str] = &[
    "street", "road", "avenue", "lane", "square", "drive", "straat", "laan", "weg", "plein",
    "park", "station", "airport", "bridge", "hall", "house", "building", "center", "centre",
    "hotel", "church", "kerk", "museum", "school", "college",
];

/// True for a word that marks a place name.
pub(crate) fn is_place_word(word: &str) -> bool {
    let w = word.trim_end_matches('.');
    w.len() <= 12 && lookup(&PLACE_SET, w)
}

static PLACE_SET: LazyLock<WordSet> = LazyLock::new(|| PLACE.iter().copied().collect());
static COMPANY_SET: LazyLock<WordSet> = LazyLock::new(|| COMPANY.iter().copied().collect());

/// True for a word that marks a company name.
pub(crate) fn is_company_word(word: &str) -> bool {
    let w = word.trim_end_matches('.');
    w.len() <= 12 && lookup(&COMPANY_SET, w)
}

/// Capitalized words that start sentences or are common words far more often than names.
/// Weekdays and months in English and Dutch: capitalized words that are no names, and words
/// that after a number mean a date or a time, not a postcode.
pub(crate) const CALENDAR: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "maandag",
    "dinsdag",
    "woensdag",
    "donderdag",
    "vrijdag",
    "zaterdag",
    "zondag",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "januari",
    "februari",
    "maart",
    "mei",
    "juni",
    "juli",
    "augustus",
    "oktober",
];

const NOT_NAMES: &[&str] = &[
    "the",
    "de",
    "het",
    "een",
    "a",
    "an",
    "dear",
    "beste",
    "geachte",
    "hallo",
    "hello",
    "hoi",
    "hey",
    "lieve",
    "hi",
    "dag",
    "goedemorgen",
    "goedemiddag",
    "this",
    "that",
    "these",
    "deze",
    "dit",
    "die",
    "dat",
    "we",
    "wij",
    "ik",
    "i",
    "you",
    "u",
    "jij",
    "he",
    "she",
    "hij",
    "zij",
    "they",
    "it",
    "er",
    "in",
    "on",
    "at",
    "op",
    "to",
    "for",
    "voor",
    "met",
    "with",
    "and",
    "en",
    "or",
    "of",
    "but",
    "maar",
    "if",
    "als",
    "when",
    "wanneer",
    "please",
    "graag",
    "thanks",
    "bedankt",
    "dank",
    "name",
    "naam",
    "klant",
    "customer",
    "user",
    "gebruiker",
    "contact",
    "from",
    "van",
    "by",
    "door",
    "mr",
    "mrs",
    "ms",
    "dr",
    "dhr",
    "mevr",
    "mevrouw",
    "meneer",
    "heer",
    "sir",
    "error",
    "warning",
    "info",
    "debug",
    "user",
    "order",
    "invoice",
    "iban",
    "bsn",
    "kvk",
    "tel",
    "phone",
    "email",
    "mail",
    "ip",
    "get",
    "post",
    "put",
    "delete",
    "http",
    "https",
    "status",
    "street",
    "road",
    "avenue",
    "straat",
    "laan",
    "city",
    "new",
    "north",
    "south",
    "east",
    "west",
    "noord",
    "zuid",
    "oost",
];

/// Looks `word` up lower-cased, without allocating for short ASCII words.
fn lookup(set: &WordSet, word: &str) -> bool {
    let mut buf = [0u8; 32];
    if word.len() <= buf.len() && word.is_ascii() {
        let b = &mut buf[..word.len()];
        b.copy_from_slice(word.as_bytes());
        b.make_ascii_lowercase();
        // ASCII in, ASCII out: still UTF-8.
        return std::str::from_utf8(b).is_ok_and(|w| set.contains(w));
    }
    set.contains(word.to_lowercase().as_str())
}

/// True for a common first name (`word` in any case).
pub(crate) fn is_first_name(word: &str) -> bool {
    lookup(&FIRST, word)
}

/// True for a common surname (`word` in any case).
pub(crate) fn is_surname(word: &str) -> bool {
    lookup(&LAST, word)
}

/// True for a capitalized word that is a common word rather than a name.
pub(crate) fn is_not_name(word: &str) -> bool {
    let w = word.trim_end_matches('.');
    w.len() <= 12 && lookup(&NOT_NAME_SET, w)
}

static NOT_NAME_SET: LazyLock<WordSet> =
    LazyLock::new(|| NOT_NAMES.iter().chain(CALENDAR).copied().collect());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionaries_know_common_dutch_and_english_names() {
        assert!(FIRST.len() > 500 && LAST.len() > 1000);
        assert!(is_surname("Jansen") || is_surname("Visser") || is_surname("Smit"));
        assert!(is_first_name("Emma") || is_first_name("Daan") || is_first_name("James"));
        assert!(is_not_name("Dear"));
    }
}
