//! The recognizers and the [`Scanner`] that runs them.
//!
//! Every recognizer is a pattern that proposes candidates plus plain Rust that validates
//! them (checksums, ranges, context words). Patterns use ASCII word boundaries so the
//! `regex` crate can run them on its lazy DFA even over non-ASCII text, in linear time.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use std::sync::Arc;

use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input, MatchKind, PatternSet};

use crate::checks::{
    bsn_eleven_check, card_prefix_ok, digits_of, iban_length, iban_mod97, luhn, valid_date,
    vin_check_digit,
};
use crate::context::{self, has_any};
use crate::names;
use crate::{EntityType, Finding};

/// Findings scoring below this are dropped unless [`Scanner::min_score`] says otherwise.
pub const DEFAULT_MIN_SCORE: f32 = 0.5;

const EMAIL_RE: &str = r"(?i-u)[a-z0-9][a-z0-9._%+\-]*(?:@|%40)[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*\.[a-z]{2,24}\b";
const URL_RE: &str = r#"(?i-u:\b(?:https?://|www\.))[^\s<>"'`]+"#;
const IBAN_RE: &str = r"(?-u:\b)[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,32}";
/// Numbers written from `+`, `(+`, `00` or a national `0`: Dutch and international forms.
const PHONE_RE: &str = r"(?:\(?\+|(?-u:\b)00|\(?(?-u:\b)0)[0-9][0-9()\-. ]{6,22}[0-9](?-u:\b)";
/// North American national forms: an optional trunk `1`, a three-digit area code (in
/// parentheses or followed by a separator), a three-digit exchange and four digits:
/// `(212) 555-0147`, `212-555-0147`, `212.555.0147`, `1-303-555-0199`, `1 (720) 555-0175`.
/// Ten digits without separators are not proposed: they are too often order numbers.
const NANP_RE: &str = r"(?-u:(?:\b1[ .\-]?)?(?:\([2-9][0-9]{2}\) ?|\b[2-9][0-9]{2}[ .\-])[2-9][0-9]{2}[ .\-][0-9]{4}\b)";
const CARD_RE: &str = r"(?-u:\b)[0-9]{4}(?:[ \-]?[0-9]){9,20}(?-u:\b)";
const BSN_RE: &str =
    r"(?-u:\b)(?:[0-9]{9}|[0-9]{4}\.[0-9]{2}\.[0-9]{3}|[0-9]{3} [0-9]{3} [0-9]{3})(?-u:\b)";
const KVK_RE: &str = r"(?-u:\b)[0-9]{8}(?-u:\b)";
const IPV4_RE: &str = r"(?-u:\b)(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?-u:\b)";
const IPV6_RE: &str = r"(?i-u:[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3})";
const POSTCODE_RE: &str = r"(?-u:\b)[1-9][0-9]{3} ?[A-Z]{2}(?-u:\b)";
const VIN_RE: &str = r"(?-u:\b)[A-HJ-NPR-Z0-9]{17}(?-u:\b)";
const DOB_RE: &str = r"(?i-u:\b(?:[0-9]{1,2}[\-/.][0-9]{1,2}[\-/.](?:19|20)[0-9]{2}|(?:19|20)[0-9]{2}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2} (?:jan|feb|mrt|mar|maa|apr|mei|may|jun|jul|aug|sep|okt|oct|nov|dec)[a-z]*\.? (?:19|20)[0-9]{2}|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? [0-9]{1,2},? (?:19|20)[0-9]{2})\b)";

/// Letters used on Dutch plates: no vowels, and not C, Q or Y.
const PL: &str = "[BDFGHJKLMNPRSTVWXZ]";

/// The official side codes 1–14 (RDW), L = letter, D = digit.
const SIDECODES: [&str; 14] = [
    "LL-DD-DD", "DD-DD-LL", "DD-LL-DD", "LL-DD-LL", "LL-LL-DD", "DD-LL-LL", "DD-LLL-D", "D-LLL-DD",
    "LL-DDD-L", "L-DDD-LL", "LLL-DD-L", "L-DD-LLL", "D-LL-DDD", "DDD-LL-D",
];

/// Plates as written on the plate (`12-BDF-3`, every side code) and without dashes
/// (`GZ412T`, side codes 3–14). Side codes 1 and 2 are not proposed without dashes:
/// `KL1685` is a flight number and `1234BD` a postcode far more often than a plate of the
/// 1950s or 1960s.
fn plate_re() -> String {
    let compact = SIDECODES[2..].iter().map(|c| c.replace('-', ""));
    let alts: Vec<String> = SIDECODES
        .iter()
        .map(|c| c.to_string())
        .chain(compact)
        .map(|c| {
            c.chars()
                .map(|ch| match ch {
                    'L' => PL.to_string(),
                    'D' => "[0-9]".to_string(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    format!("(?-u:\\b)(?:{})(?-u:\\b)", alts.join("|"))
}

/// Runs the recognizers over text. Build one and reuse it: construction compiles the
/// patterns, scanning only reads them, and a `Scanner` can be shared between threads.
///
/// All patterns are compiled into one multi-pattern automaton, so the text is read once
/// whatever the number of recognizers; where candidates of several patterns start at the
/// same place, the pattern listed first wins; if it fails validation, the others are tried.
#[derive(Debug, Clone)]
pub struct Scanner {
    types: BTreeSet<EntityType>,
    min_score: f32,
    union: Arc<Regex>,
    /// One automaton per kind, for candidates the union's choice did not validate.
    singles: Arc<Vec<Regex>>,
    /// The union with all-matches semantics: which other kinds match at a failed
    /// candidate's start, in one anchored pass instead of one search per kind.
    starts: Arc<Regex>,
    kinds: Vec<Kind>,
}

/// Which validator a pattern feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Email,
    Url,
    Iban,
    Ipv6,
    Dob,
    Phone,
    PhoneNanp,
    Card,
    Bsn,
    Kvk,
    Ipv4,
    Postcode,
    Plate,
    Vin,
}

impl Kind {
    fn entity(self) -> EntityType {
        match self {
            Kind::Email => EntityType::Email,
            Kind::Url => EntityType::Url,
            Kind::Iban => EntityType::Iban,
            Kind::Ipv6 | Kind::Ipv4 => EntityType::IpAddress,
            Kind::Dob => EntityType::DateOfBirth,
            Kind::Phone | Kind::PhoneNanp => EntityType::Phone,
            Kind::Card => EntityType::CreditCard,
            Kind::Bsn => EntityType::Bsn,
            Kind::Kvk => EntityType::Kvk,
            Kind::Postcode => EntityType::PostcodeNl,
            Kind::Plate => EntityType::LicensePlateNl,
            Kind::Vin => EntityType::Vin,
        }
    }

    fn pattern(self) -> String {
        match self {
            Kind::Email => EMAIL_RE.to_string(),
            Kind::Url => URL_RE.to_string(),
            Kind::Iban => IBAN_RE.to_string(),
            Kind::Ipv6 => IPV6_RE.to_string(),
            Kind::Dob => DOB_RE.to_string(),
            Kind::Phone => PHONE_RE.to_string(),
            Kind::PhoneNanp => NANP_RE.to_string(),
            Kind::Card => CARD_RE.to_string(),
            Kind::Bsn => BSN_RE.to_string(),
            Kind::Kvk => KVK_RE.to_string(),
            Kind::Ipv4 => IPV4_RE.to_string(),
            Kind::Postcode => POSTCODE_RE.to_string(),
            Kind::Plate => plate_re(),
            Kind::Vin => VIN_RE.to_string(),
        }
    }
}

/// Pattern priority: where two candidates start at the same byte, the earlier kind wins.
/// Dates and BSNs come before phone numbers ("02-03-1985", "012345672"), cards before
/// VINs (17 digits). A candidate that fails validation is offered to the other patterns
/// at the same place (an IBAN-shaped VIN).
const PATTERNS: [Kind; 14] = [
    Kind::Email,
    Kind::Url,
    Kind::Iban,
    Kind::Ipv6,
    Kind::Dob,
    Kind::Bsn,
    Kind::Phone,
    Kind::PhoneNanp,
    Kind::Card,
    Kind::Kvk,
    Kind::Ipv4,
    Kind::Postcode,
    Kind::Plate,
    Kind::Vin,
];

/// A candidate match handed to a validator.
#[derive(Clone, Copy)]
struct Cand<'t> {
    hay: &'t str,
    start: usize,
    end: usize,
}

impl<'t> Cand<'t> {
    fn as_str(&self) -> &'t str {
        &self.hay[self.start..self.end]
    }
    fn start(&self) -> usize {
        self.start
    }
    fn end(&self) -> usize {
        self.end
    }
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

/// The compiled automata of a scanner: the union, one per kind, the all-matches union, and
/// the kinds in pattern order.
type Automata = (Arc<Regex>, Arc<Vec<Regex>>, Arc<Regex>, Vec<Kind>);

fn build(types: &BTreeSet<EntityType>) -> Automata {
    let kinds: Vec<Kind> = PATTERNS
        .into_iter()
        .filter(|k| types.contains(&k.entity()))
        .collect();
    let patterns: Vec<String> = kinds.iter().map(|k| k.pattern()).collect();
    // A roomy lazy-DFA cache: PII-dense text visits many states of the union automaton,
    // and a cache that keeps being cleared makes the engine fall back to slower ones.
    let config = Regex::config().hybrid_cache_capacity(32 << 20);
    // The patterns are constants of this file, covered by the unit tests below.
    let union = Regex::builder()
        .configure(config.clone())
        .build_many(&patterns)
        .expect("built-in PII patterns compile");
    let starts = Regex::builder()
        .configure(config.match_kind(MatchKind::All))
        .build_many(&patterns)
        .expect("built-in PII patterns compile");
    let singles = patterns
        .iter()
        .map(|p| Regex::new(p).expect("built-in PII pattern compiles"))
        .collect();
    (Arc::new(union), Arc::new(singles), Arc::new(starts), kinds)
}

impl Scanner {
    /// A scanner for every type with the default minimum score.
    pub fn new() -> Self {
        let types: BTreeSet<EntityType> = EntityType::ALL.into_iter().collect();
        let (union, singles, starts, kinds) = build(&types);
        Scanner {
            types,
            min_score: DEFAULT_MIN_SCORE,
            union,
            singles,
            starts,
            kinds,
        }
    }

    /// Only look for these types (an empty list means all types).
    pub fn with_types(mut self, types: impl IntoIterator<Item = EntityType>) -> Self {
        let set: BTreeSet<EntityType> = types.into_iter().collect();
        self.types = if set.is_empty() {
            EntityType::ALL.into_iter().collect()
        } else {
            set
        };
        (self.union, self.singles, self.starts, self.kinds) = build(&self.types);
        self
    }

    /// Drop findings scoring below `min` (default [`DEFAULT_MIN_SCORE`]).
    pub fn min_score(mut self, min: f32) -> Self {
        self.min_score = min;
        self
    }

    /// The types this scanner looks for.
    pub fn types(&self) -> impl Iterator<Item = EntityType> + '_ {
        self.types.iter().copied()
    }

    /// All findings in `text`, sorted by start, never overlapping. Where candidates of
    /// different types overlap, the longer span wins, then the higher score.
    ///
    /// Escapes such as `\n`, `\t` and `\"` (JSON lines, quoted log messages) count as
    /// separators, so "…,\nJan Jansen" yields the name and not "nJan".
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        let masked;
        let text = if memchr::memchr(b'\\', text.as_bytes()).is_some() {
            masked = mask_escapes(text);
            masked.as_str()
        } else {
            text
        };
        let mut out = Vec::new();
        let mut others: Option<PatternSet> = None;
        if !self.kinds.is_empty() {
            for m in self.union.find_iter(text) {
                let i = m.pattern().as_usize();
                let c = Cand {
                    hay: text,
                    start: m.start(),
                    end: m.end(),
                };
                if let Some(f) = validate(self.kinds[i], text, c) {
                    out.push(f);
                    continue;
                }
                // Offer the place to the other patterns that match at the same start.
                let input = Input::new(text).range(m.start()..).anchored(Anchored::Yes);
                let others = others.get_or_insert_with(|| PatternSet::new(self.kinds.len()));
                others.clear();
                self.starts.which_overlapping_matches(&input, others);
                for j in others.iter().map(|p| p.as_usize()) {
                    if j == i {
                        continue;
                    }
                    let Some(m2) = self.singles[j].search(&input) else {
                        continue;
                    };
                    let c2 = Cand {
                        hay: text,
                        start: m2.start(),
                        end: m2.end(),
                    };
                    if let Some(f) = validate(self.kinds[j], text, c2) {
                        out.push(f);
                        break;
                    }
                }
            }
        }
        if self.types.contains(&EntityType::Person) {
            self.persons(text, &mut out);
        }
        out.retain(|f| f.score >= self.min_score && f.end > f.start);
        resolve_overlaps(out)
    }

    fn emails(_text: &str, m: Cand<'_>) -> Option<Finding> {
        let s = m.as_str();
        // "%40" is an URL-encoded "@" (query strings in access logs).
        let local = s
            .split_once('@')
            .or_else(|| s.split_once("%40"))
            .map_or("", |(l, _)| l);
        if local.ends_with('.') || local.contains("..") {
            return None;
        }
        Some(finding(
            EntityType::Email,
            m.start(),
            m.end(),
            0.95,
            "email_pattern",
        ))
    }

    fn urls(_text: &str, m: Cand<'_>) -> Option<Finding> {
        let s = m
            .as_str()
            .trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '}']);
        if s.is_empty() || !url_has_personal_token(s) {
            return None;
        }
        let end = m.start() + s.len();
        Some(finding(
            EntityType::Url,
            m.start(),
            end,
            0.85,
            "url_personal_token",
        ))
    }

    fn ibans(text: &str, m: Cand<'_>) -> Option<Finding> {
        let s = m.as_str().as_bytes();
        let len = iban_length(&s[..2])?;
        // Take exactly `len` letters and digits; the next character must end the group.
        let mut compact = Vec::with_capacity(len);
        let mut end = 0;
        for (i, &b) in s.iter().enumerate() {
            if b == b' ' {
                continue;
            }
            compact.push(b);
            if compact.len() == len {
                end = i + 1;
                break;
            }
        }
        if compact.len() != len || s.get(end).is_some_and(u8::is_ascii_alphanumeric) {
            return None;
        }
        if !iban_mod97(&compact) {
            return None;
        }
        let after = text[m.start() + end..].bytes().next();
        if after.is_some_and(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        Some(finding(
            EntityType::Iban,
            m.start(),
            m.start() + end,
            0.95,
            "iban_mod97",
        ))
    }

    fn phones(text: &str, m: Cand<'_>) -> Option<Finding> {
        if preceded_by_digit_or_dot(text, m.start()) {
            return None;
        }
        let (len, base) = longest_valid_prefix(m.as_str(), phone_kind)?;
        let (start, end) = (m.start(), m.start() + len);
        let before = context::before(text, start);
        let mut score = base;
        if has_any(&before, context::PHONE) {
            score += 0.15;
        }
        if has_any(&before, context::NEGATIVE) {
            score -= 0.35;
        }
        Some(finding(
            EntityType::Phone,
            start,
            end,
            score.min(1.0),
            "phone_nl_e164",
        ))
    }

    /// North American numbers in national form (see [`NANP_RE`]). The area code and the
    /// exchange follow the numbering plan (no N11 service codes); dots are not mixed with
    /// other separators; a number glued to an identifier (`INV-303-555-0199`,
    /// `#415-555-2671`, `646-555-0131-B`, `…-0199/2`) is not one, nor is one after an
    /// order, invoice or ticket word.
    fn nanp_phones(text: &str, m: Cand<'_>) -> Option<Finding> {
        let b = text.as_bytes();
        let prev = b[..m.start()].last().copied();
        if prev.is_some_and(|p| p.is_ascii_alphanumeric() || b"_-/.#+@$".contains(&p))
            || continues_identifier(b, m.end())
        {
            return None;
        }
        let s = m.as_str();
        let digits = digits_of(s);
        let national = if digits.len() == 11 {
            &digits[1..]
        } else {
            &digits[..]
        };
        let n11 = |d: &[u8]| d[1] == 1 && d[2] == 1;
        if national.len() != 10 || n11(&national[..3]) || n11(&national[3..6]) {
            return None;
        }
        let seps: BTreeSet<u8> = s.bytes().filter(|c| b" .-".contains(c)).collect();
        if seps.contains(&b'.') && seps.len() > 1 {
            return None;
        }
        let before = context::before(text, m.start());
        let score: f32 = if has_any(&before, context::NEGATIVE) {
            0.35
        } else if has_any(&before, context::PHONE) {
            0.85
        } else {
            0.7
        };
        Some(finding(
            EntityType::Phone,
            m.start(),
            m.end(),
            score,
            "phone_nanp",
        ))
    }

    fn cards(text: &str, m: Cand<'_>) -> Option<Finding> {
        let (len, _) = longest_valid_prefix(m.as_str(), |c| {
            let d = digits_of(c);
            let seps: BTreeSet<char> = c.chars().filter(|ch| !ch.is_ascii_digit()).collect();
            (seps.len() <= 1 && (13..=19).contains(&d.len()) && luhn(&d) && card_prefix_ok(&d))
                .then_some(0.9)
        })?;
        let (start, end) = (m.start(), m.start() + len);
        let before = context::before(text, start);
        let mut score: f32 = 0.9;
        if has_any(&before, context::CARD) {
            score += 0.08;
        }
        if has_any(&before, context::NEGATIVE) {
            score -= 0.3;
        }
        Some(finding(
            EntityType::CreditCard,
            start,
            end,
            score,
            "credit_card_luhn",
        ))
    }

    fn bsns(text: &str, m: Cand<'_>) -> Option<Finding> {
        if preceded_by_digit_or_dot(text, m.start()) || followed_by_digit_group(text, m.end()) {
            return None;
        }
        if !bsn_eleven_check(&digits_of(m.as_str())) {
            return None;
        }
        let before = context::before(text, m.start());
        let mut score: f32 = 0.6;
        if has_any(&before, context::BSN) {
            score = 0.98;
        } else if has_any(&before, context::NEGATIVE) || has_any(&before, context::KVK) {
            score = 0.2;
        }
        Some(finding(
            EntityType::Bsn,
            m.start(),
            m.end(),
            score,
            "bsn_eleven_check",
        ))
    }

    fn kvks(text: &str, m: Cand<'_>) -> Option<Finding> {
        if preceded_by_digit_or_dot(text, m.start()) || followed_by_digit_group(text, m.end()) {
            return None;
        }
        let before = context::before(text, m.start());
        if !has_any(&before, context::KVK) {
            return None;
        }
        Some(finding(
            EntityType::Kvk,
            m.start(),
            m.end(),
            0.9,
            "kvk_context",
        ))
    }

    fn ipv4s(text: &str, m: Cand<'_>) -> Option<Finding> {
        if preceded_by_digit_or_dot(text, m.start()) || followed_by_digit_group(text, m.end()) {
            return None;
        }
        let s = m.as_str();
        if s.split('.').any(|o| o.len() > 1 && o.starts_with('0')) {
            return None;
        }
        let Ok(ip) = s.parse::<Ipv4Addr>() else {
            return None;
        };
        let first = ip.octets()[0];
        if first == 0 || first >= 224 || ip.is_loopback() {
            return None;
        }
        let before = context::before(text, m.start());
        let mut score: f32 = 0.85;
        if before.ends_with('v') || has_any(&before, &["version", "versie"]) {
            score = 0.3;
        }
        Some(finding(
            EntityType::IpAddress,
            m.start(),
            m.end(),
            score,
            "ipv4",
        ))
    }

    fn ipv6s(text: &str, m: Cand<'_>) -> Option<Finding> {
        let before_ok = text[..m.start()]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == ':' || c == '_'));
        let after_ok = text[m.end()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if !before_ok || !after_ok {
            return None;
        }
        let mut s = m.as_str();
        if s.ends_with(':') && !s.ends_with("::") {
            s = &s[..s.len() - 1];
        }
        let Ok(ip) = s.parse::<Ipv6Addr>() else {
            return None;
        };
        if ip.is_unspecified() || ip.is_loopback() {
            return None;
        }
        let end = m.start() + s.len();
        Some(finding(EntityType::IpAddress, m.start(), end, 0.85, "ipv6"))
    }

    /// Dutch postcodes, `1234 AB` or `1234AB` (never SA, SD or SS), also after `NL-`.
    ///
    /// Found on their own when written with the space, or with evidence when written
    /// together: a city after it, an address word or a comma before it, or a place word
    /// right before it ("verzonden naar", "shipped to"). Not found when glued to an
    /// identifier (`KB-1187`, `RK/22`), after a product or series code in capitals
    /// (`GTX 1080 TI`), after an order, version or build word, or when the letters are a
    /// unit, a country or a company form (`2048 MB`, `2024 NL`, `2000 BV`) unless a city
    /// or an address word vouches for it.
    fn postcodes(text: &str, m: Cand<'_>) -> Option<Finding> {
        let s = m.as_str();
        let letters = &s[s.len() - 2..];
        if matches!(letters, "SA" | "SD" | "SS") {
            return None;
        }
        let b = text.as_bytes();
        let head = &text[..m.start()];
        let glued_before = head
            .bytes()
            .next_back()
            .is_some_and(|p| b"-_/.#@".contains(&p));
        // "12:1234 AB" is part of a time or a counter.
        let after_digit_colon =
            head.ends_with(':') && head[..head.len() - 1].ends_with(|c: char| c.is_ascii_digit());
        if (glued_before && !head.ends_with("NL-"))
            || after_digit_colon
            || preceded_by_digit_or_dot(text, m.start())
            || continues_identifier(b, m.end())
        {
            return None;
        }
        let spaced = s.len() == 7;
        let mut score: f32 = if spaced { 0.55 } else { 0.45 };
        let rest = &text[m.end()..];
        // "1234 AB Amsterdam", "1234AB  Amsterdam", "1234 AB (Amsterdam)".
        let next_word = rest
            .strip_prefix(" (")
            .or_else(|| rest.strip_prefix(' '))
            .or_else(|| rest.strip_prefix("  "))
            .map(|r| r.split([' ', ',', '.', ')']).next().unwrap_or(""));
        let city = next_word.is_some_and(|w| {
            w.chars().next().is_some_and(char::is_uppercase) && !context::is_calendar_word(w)
        });
        if city {
            score += 0.3;
        }
        let before = context::before(text, m.start());
        if has_any(&before, context::POSTCODE) || before.trim_end().ends_with(',') {
            score += 0.3;
        }
        let word_before = head.strip_suffix(' ').map(|h| {
            let from = h.rfind([' ', '\t', '(', '"', ':']).map_or(0, |i| i + 1);
            &h[from..]
        });
        if let Some(w) = word_before {
            if context::PLACE_WORDS
                .iter()
                .any(|p| p.eq_ignore_ascii_case(w))
            {
                score += 0.15;
            }
            let code = w.len() >= 2
                && w.bytes().any(|c| c.is_ascii_uppercase())
                && w.bytes()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            if code && w != "NL" {
                score -= 0.3;
            }
        }
        if context::NOT_POSTCODE_LETTERS.contains(&letters) {
            score -= 0.3;
        }
        if has_any(&before, context::NOT_POSTCODE) {
            score -= 0.35;
        }
        Some(finding(
            EntityType::PostcodeNl,
            m.start(),
            m.end(),
            score.min(0.95),
            "postcode_nl",
        ))
    }

    /// Dutch plates by RDW side code, with plate letters only (no vowels, C, Q or Y).
    /// With dashes they are found on their own; without dashes (`GZ412T`) they look like
    /// any code or id, so they need a vehicle word before or after them ("kenteken",
    /// "plate", "voertuig", "geparkeerd", …) and no code, order or id word before them.
    fn plates(text: &str, m: Cand<'_>) -> Option<Finding> {
        if !m.as_str().contains('-') {
            return Self::compact_plates(text, m);
        }
        let prev = text[..m.start()].bytes().next_back();
        let next = text[m.end()..].bytes().next();
        if prev.is_some_and(|b| b == b'-' || b == b'/')
            || next.is_some_and(|b| b == b'-' || b == b'/')
        {
            return None;
        }
        let before = context::before(text, m.start());
        let mut score: f32 = 0.8;
        if has_any(&before, context::PLATE) {
            score += 0.15;
        }
        if has_any(&before, context::NEGATIVE) {
            score -= 0.4;
        }
        Some(finding(
            EntityType::LicensePlateNl,
            m.start(),
            m.end(),
            score,
            "license_plate_nl_sidecode",
        ))
    }

    fn compact_plates(text: &str, m: Cand<'_>) -> Option<Finding> {
        let b = text.as_bytes();
        let prev = b[..m.start()].last().copied();
        if prev.is_some_and(|p| b"-_/.#@\\".contains(&p)) || continues_identifier(b, m.end()) {
            return None;
        }
        let before = context::before(text, m.start());
        // "bestelbus met kenteken …": a plate word outweighs an order word.
        let named = has_any(&before, &["kenteken", "nummerbord", "plate"]);
        if (has_any(&before, context::NEGATIVE) && !named) || has_any(&before, context::NOT_PLATE) {
            return None;
        }
        let vehicle = has_any(&before, context::VEHICLE)
            || has_any(&context::after(text, m.end()), context::VEHICLE);
        if !vehicle {
            return None;
        }
        Some(finding(
            EntityType::LicensePlateNl,
            m.start(),
            m.end(),
            0.85,
            "license_plate_nl_sidecode",
        ))
    }

    fn vins(text: &str, m: Cand<'_>) -> Option<Finding> {
        let s = m.as_str().as_bytes();
        let letters = s.iter().filter(|b| b.is_ascii_uppercase()).count();
        let digits = s.len() - letters;
        if letters < 2 || digits < 3 {
            return None;
        }
        let before = context::before(text, m.start());
        let ctx = has_any(&before, context::VIN);
        let score = match (vin_check_digit(s), ctx) {
            (true, true) => 0.98,
            (true, false) => 0.85,
            // European VINs need not carry a check digit: accept them only with context.
            (false, true) => 0.75,
            (false, false) => return None,
        };
        Some(finding(
            EntityType::Vin,
            m.start(),
            m.end(),
            score,
            "vin_check_digit",
        ))
    }

    fn dobs(text: &str, m: Cand<'_>) -> Option<Finding> {
        if !date_is_valid(m.as_str()) || preceded_by_digit_or_dot(text, m.start()) {
            return None;
        }
        let before = context::before(text, m.start());
        if !has_any(&before, context::DOB) {
            return None;
        }
        Some(finding(
            EntityType::DateOfBirth,
            m.start(),
            m.end(),
            0.9,
            "date_of_birth_context",
        ))
    }

    fn persons(&self, text: &str, out: &mut Vec<Finding>) {
        let mut group: Vec<(usize, usize)> = Vec::new();
        let mut last_end = 0usize;
        let mut pos = 0;
        while let Some((start, end)) = next_capitalized_word(text, pos) {
            pos = end;
            if !group.is_empty() && !joins_name(&text[last_end..start]) {
                person_from_group(text, &group, out);
                group.clear();
            }
            group.push((start, end));
            last_end = end;
        }
        if !group.is_empty() {
            person_from_group(text, &group, out);
        }
    }
}

/// The next word at or after `from` that could be part of a name: an upper-case letter
/// followed by a lower-case one ("Jan", "McBride") or an apostrophe and a capital ("O'Brien"),
/// or an initial ("J."). Words inside other words, e-mail addresses and dotted identifiers
/// are skipped. A hand-written loop rather than a regex: it runs over every byte of the input.
fn next_capitalized_word(text: &str, from: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let mut i = from;
    while i < b.len() {
        let c = b[i];
        if !(c.is_ascii_uppercase() || c >= 0xC0) {
            i += 1;
            continue;
        }
        let start = i;
        // Take the whole run of letters so inner capitals are not tried again.
        let mut end = i;
        for x in text[i..].chars() {
            if x.is_alphabetic() || matches!(x, '\'' | '’' | '-') {
                end += x.len_utf8();
            } else {
                break;
            }
        }
        let Some(ch) = text[start..].chars().next() else {
            break;
        };
        if end == start {
            i += ch.len_utf8();
            continue;
        }
        i = end;
        if !ch.is_uppercase() {
            continue;
        }
        let prev = text[..start].chars().next_back();
        if prev.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '@') {
            continue;
        }
        let mut rest = text[start + ch.len_utf8()..end].chars();
        let second = rest.next();
        let word_ok = match second {
            Some(s2) if s2.is_lowercase() => true,
            Some('\'' | '’') => rest.next().is_some_and(char::is_uppercase),
            None => text[end..].starts_with('.'),
            _ => false,
        };
        if !word_ok {
            continue;
        }
        if second.is_none() {
            return Some((start, end + 1)); // an initial with its dot
        }
        if prev == Some('.') && end - start > 2 {
            continue; // a dotted identifier such as "config.Value"
        }
        return Some((start, end));
    }
    None
}

/// `text` with each backslash escape of a letter or quote (`\n`, `\t`, `\"`, `\\`, `\/`)
/// replaced by two spaces: same length, same char boundaries, so spans found in the copy
/// are spans of the original.
fn mask_escapes(text: &str) -> String {
    let mut b = text.as_bytes().to_vec();
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'\\'
            && matches!(
                b[i + 1],
                b'n' | b't' | b'r' | b'b' | b'f' | b'"' | b'\\' | b'/'
            )
        {
            b[i] = b' ';
            b[i + 1] = b' ';
            i += 2;
        } else {
            i += 1;
        }
    }
    // Only ASCII bytes were replaced by ASCII bytes, so the text is still UTF-8.
    String::from_utf8(b).unwrap_or_else(|_| text.to_string())
}

fn validate(kind: Kind, text: &str, c: Cand<'_>) -> Option<Finding> {
    match kind {
        Kind::Email => Scanner::emails(text, c),
        Kind::Url => Scanner::urls(text, c),
        Kind::Iban => Scanner::ibans(text, c),
        Kind::Ipv6 => Scanner::ipv6s(text, c),
        Kind::Dob => Scanner::dobs(text, c),
        Kind::Phone => Scanner::phones(text, c),
        Kind::PhoneNanp => Scanner::nanp_phones(text, c),
        Kind::Card => Scanner::cards(text, c),
        Kind::Bsn => Scanner::bsns(text, c),
        Kind::Kvk => Scanner::kvks(text, c),
        Kind::Ipv4 => Scanner::ipv4s(text, c),
        Kind::Postcode => Scanner::postcodes(text, c),
        Kind::Plate => Scanner::plates(text, c),
        Kind::Vin => Scanner::vins(text, c),
    }
}

fn finding(
    entity: EntityType,
    start: usize,
    end: usize,
    score: f32,
    recognizer: &'static str,
) -> Finding {
    Finding {
        entity,
        start,
        end,
        score: score.clamp(0.0, 1.0),
        recognizer,
    }
}

/// True when the gap between two capitalized words keeps them in one name: a single space,
/// optionally with lower-case particles ("Jan van der Berg").
fn joins_name(gap: &str) -> bool {
    if gap == " " {
        return true;
    }
    if gap.len() > 12 || !gap.starts_with(' ') || !gap.ends_with(' ') {
        return false;
    }
    gap.split(' ')
        .filter(|w| !w.is_empty())
        .all(|w| names::PARTICLES.contains(&w))
}

fn person_from_group(text: &str, group: &[(usize, usize)], out: &mut Vec<Finding>) {
    let word = |i: usize| &text[group[i].0..group[i].1];
    let mut first = 0;
    let mut titled = false;
    // Drop leading titles and sentence words; a title marks what follows as a name.
    while first < group.len() {
        let w = word(first);
        if is_title(w) {
            titled = true;
            first += 1;
        } else if names::is_not_name(w) && !((w == "De" || w == "Van") && first + 1 < group.len()) {
            first += 1;
        } else {
            break;
        }
    }
    if first >= group.len() {
        return;
    }
    let start = group[first].0;
    // Context is looked up only when the dictionary alone does not decide.
    let titled = || titled || title_before(text, start);
    let ctx = || has_any(&context::before(text, start), context::PERSON);
    // A single name needs its context close by ("Beste Anna", not "… by X at Y, Anna").
    let near_ctx = || {
        let b = context::before(text, start);
        let mut from = b.len().saturating_sub(16);
        while !b.is_char_boundary(from) {
            from += 1;
        }
        has_any(&b[from..], context::PERSON)
    };
    // "Morgan Ltd", "de Jong NV", "Jansen & Zonen", "the Sales Team": organisations.
    let after_group = &text[group[group.len() - 1].1..];
    let next_word = after_group
        .strip_prefix(' ')
        .and_then(|r| r.split([' ', ',', ')', ';']).next())
        .unwrap_or("");
    let place = group[first + 1..]
        .iter()
        .any(|&(s, e)| names::is_place_word(&text[s..e]));
    if (place && !names::is_first_name(&text[start..group[first].1]))
        || group[first..]
            .iter()
            .any(|&(s, e)| names::is_company_word(&text[s..e]))
        || names::is_company_word(next_word)
        || after_group.starts_with(" &")
        || article_before(text, start)
    {
        return;
    }
    let mut last = group.len() - 1;
    // Trailing capitalized words that are not surnames (a city after a name) are dropped.
    while last > first + 1 && !names::is_surname(word(last)) && names::is_surname(word(last - 1)) {
        last -= 1;
    }
    if last - first >= 3 {
        last = first + 2;
    }
    let f = word(first);
    let initial = f.len() == 2 && f.ends_with('.');
    let first_known = !initial && names::is_first_name(f);
    let end = group[last].1;
    let score: f32 = if last > first {
        let l = word(last);
        let last_known = names::is_surname(l) && !names::is_not_name(l);
        // "Mirthe de Jong": capitalized words joined by particles are a Dutch name.
        let particles = text[start..end]
            .split(' ')
            .any(|w| names::PARTICLES.contains(&w));
        let s: f32 = match (first_known, last_known) {
            (true, true) => 0.95,
            (true, false) => 0.8,
            (false, true) if initial || titled() => 0.85,
            (false, true) if ctx() => 0.7,
            (false, true) => 0.45,
            (false, false) if titled() => 0.75,
            (false, false) if near_ctx() => 0.6,
            (false, false) => 0.0,
        };
        if particles && (first_known || last_known) {
            s.max(0.8)
        } else {
            s
        }
    } else if initial {
        0.0
    } else if titled() {
        0.85
    } else if first_known && near_ctx() {
        0.65
    } else if first_known {
        0.35
    } else {
        0.0
    };
    // A place name right after a postcode ("1234 AB Den Bommel") is not a person.
    if score <= 0.0 || (!titled() && ends_with_postcode(context::before(text, start).trim_end())) {
        return;
    }
    out.push(finding(
        EntityType::Person,
        start,
        end,
        score,
        "person_dictionary_context",
    ));
}

/// True for a title such as "Dhr.", "mevr", "Mr", "Dr." (not all-capital "MW" of a postcode).
fn is_title(w: &str) -> bool {
    let bare = w.trim_end_matches('.');
    if bare.len() > 1 && bare.bytes().all(|b| b.is_ascii_uppercase()) {
        return false;
    }
    bare.len() <= 8 && context::TITLES.iter().any(|t| t.eq_ignore_ascii_case(bare))
}

/// True when an article stands right before `start` ("the Sales Team", "een Nieuwe Kerk").
fn article_before(text: &str, start: usize) -> bool {
    let head = text[..start].trim_end();
    let word = head.rsplit([' ', '\t', '(']).next().unwrap_or("");
    head.len() < start
        && ["the", "a", "an", "het", "een"]
            .iter()
            .any(|a| a.eq_ignore_ascii_case(word))
}

/// True when the word just before `start` is a title ("Mr. Smith", "mevrouw Jansen").
fn title_before(text: &str, start: usize) -> bool {
    let mut from = start.saturating_sub(12);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let t = text[from..start].trim_end();
    let last_word = t.rsplit([' ', '\t', '(', ',', '\n']).next().unwrap_or("");
    !last_word.is_empty() && is_title(last_word)
}

/// Tries the whole candidate, then ever shorter prefixes that end on a digit before a
/// separator, so "06 12345678 2024" still yields the phone number. Returns the byte length
/// of the first prefix that `check` accepts, with what `check` returned.
fn longest_valid_prefix<T>(cand: &str, check: impl Fn(&str) -> Option<T>) -> Option<(usize, T)> {
    let b = cand.as_bytes();
    let mut ends: Vec<usize> = (1..=b.len())
        .filter(|&i| b[i - 1].is_ascii_digit() && (i == b.len() || !b[i].is_ascii_digit()))
        .collect();
    ends.reverse();
    for end in ends.into_iter().take(6) {
        if let Some(v) = check(&cand[..end]) {
            return Some((end, v));
        }
    }
    None
}

/// Validates a phone candidate; returns its base score.
fn phone_kind(c: &str) -> Option<f32> {
    let digits = digits_of(c);
    let groups: Vec<&str> = c
        .split([' ', '-', '.', '(', ')'])
        .filter(|g| !g.is_empty())
        .collect();
    // A date inside the candidate ("06-12-2020 10") means it is not a phone number.
    let looks_like_date = groups.windows(3).any(|w| {
        w[0].len() <= 2
            && w[1].len() <= 2
            && w[2].len() == 4
            && (w[2].starts_with("19") || w[2].starts_with("20"))
    });
    if looks_like_date {
        return None;
    }
    if groups.len() > 6 || c.contains("  ") || c.contains("--") || c.contains("..") {
        return None;
    }
    if c.matches('(').count() != c.matches(')').count() {
        return None;
    }
    // "(+31) 6 1234 5678": the country code in parentheses.
    let c = c.strip_prefix("(+").map_or(c, |_| &c[1..]);
    if let Some(rest) = c.strip_prefix('+').or_else(|| c.strip_prefix("00")) {
        let rest_digits = digits_of(rest);
        if rest_digits.first() == Some(&0) {
            return None;
        }
        if rest.starts_with("31") {
            // +31 6 12345678, +31 (0)20 1234567: nine digits after the country code.
            let mut national: Vec<u8> = rest_digits[2..].to_vec();
            if national.first() == Some(&0) {
                national.remove(0);
            }
            return (national.len() == 9 && national[0] != 0).then_some(0.9);
        }
        return (8..=15).contains(&rest_digits.len()).then_some(0.8);
    }
    // Dutch national: 10 digits from a leading 0, with an area code as first group.
    if digits.len() != 10 || digits[0] != 0 || digits[1] == 0 {
        return None;
    }
    let first = groups.first()?;
    let ok = match first.len() {
        10 => true,
        2 => *first == "06",
        3 | 4 => true,
        _ => false,
    };
    if !ok {
        return None;
    }
    Some(0.75)
}

/// True when `s` ends with a Dutch postcode ("1234 ab" or "1234ab", lower-cased).
fn ends_with_postcode(s: &str) -> bool {
    let b = s.as_bytes();
    let n = b.len();
    if n < 6 || !b[n - 2..].iter().all(u8::is_ascii_lowercase) {
        return false;
    }
    let digits = b[..n - 2].trim_ascii_end();
    digits.len() >= 4 && digits[digits.len() - 4..].iter().all(u8::is_ascii_digit)
}

fn preceded_by_digit_or_dot(text: &str, start: usize) -> bool {
    let b = text.as_bytes();
    if start == 0 {
        return false;
    }
    let p = b[start - 1];
    p.is_ascii_digit()
        || (matches!(p, b'.' | b',' | b'-' | b'/') && start >= 2 && b[start - 2].is_ascii_digit())
}

/// True when the bytes at `end` carry on an identifier: `-`, `_`, `/` or `@` and more, or a
/// dot or comma followed by a letter or digit (`…-0199/2`, `KB-1187`, `555-0131-B`).
/// A full stop or comma ending a sentence does not count.
fn continues_identifier(b: &[u8], end: usize) -> bool {
    let next = b.get(end).copied();
    let after = b.get(end + 1).copied();
    match next {
        Some(b'-' | b'_' | b'/' | b'@') => after.is_some_and(|c| c.is_ascii_alphanumeric()),
        Some(b'.' | b',') => after.is_some_and(|c| c.is_ascii_alphanumeric()),
        _ => false,
    }
}

fn followed_by_digit_group(text: &str, end: usize) -> bool {
    let b = text.as_bytes();
    b.get(end)
        .is_some_and(|&c| matches!(c, b'.' | b',' | b'-' | b'/'))
        && b.get(end + 1).is_some_and(u8::is_ascii_digit)
}

fn date_is_valid(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let nums: Vec<u32> = lower
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.parse().ok())
        .collect();
    if nums.len() == 3 {
        let (a, b, c) = (nums[0], nums[1], nums[2]);
        return if a >= 1900 {
            valid_date(a, b, c)
        } else {
            valid_date(c, b, a) || valid_date(c, a, b)
        };
    }
    if nums.len() == 2 {
        let word: String = lower
            .chars()
            .filter(char::is_ascii_alphabetic)
            .take(3)
            .collect();
        let month = match word.as_str() {
            "jan" => Some(1),
            "feb" => Some(2),
            "mar" | "maa" | "mrt" => Some(3),
            "apr" => Some(4),
            "may" | "mei" => Some(5),
            "jun" => Some(6),
            "jul" => Some(7),
            "aug" => Some(8),
            "sep" => Some(9),
            "oct" | "okt" => Some(10),
            "nov" => Some(11),
            "dec" => Some(12),
            _ => None,
        };
        let Some(month) = month else { return false };
        let (day, year) = if nums[0] >= 1900 {
            (nums[1], nums[0])
        } else {
            (nums[0], nums[1])
        };
        return valid_date(year, month, day);
    }
    false
}

fn url_has_personal_token(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    if let Some(scheme_end) = lower.find("://") {
        // user:password@host
        let rest = &lower[scheme_end + 3..];
        let host_end = rest.find('/').unwrap_or(rest.len());
        if rest[..host_end].contains('@') {
            return true;
        }
    }
    if let Some(q) = lower.find('?') {
        const KEYS: &[&str] = &[
            "email",
            "e-mail",
            "mail",
            "user",
            "username",
            "userid",
            "user_id",
            "uid",
            "name",
            "naam",
            "token",
            "access_token",
            "session",
            "sessionid",
            "sid",
            "key",
            "apikey",
            "api_key",
            "auth",
            "phone",
            "tel",
            "bsn",
            "iban",
            "account",
            "customer",
            "klant",
            "password",
            "pwd",
            "id",
            "zip",
            "postcode",
            "dob",
            "birthdate",
            "ssn",
        ];
        for pair in lower[q + 1..].split(['&', ';', '#']) {
            let key = pair.split('=').next().unwrap_or("");
            if pair.contains('=') && KEYS.contains(&key) {
                return true;
            }
        }
    }
    const PATHS: &[&str] = &[
        "/user/",
        "/users/",
        "/profile/",
        "/profiles/",
        "/u/",
        "/klant/",
        "/klanten/",
        "/customer/",
        "/customers/",
        "/account/",
        "/accounts/",
        "/patient/",
        "/members/",
        "/member/",
        "/reset/",
        "/verify/",
        "/unsubscribe/",
        "/invite/",
    ];
    if PATHS
        .iter()
        .any(|p| lower.find(p).is_some_and(|i| lower.len() > i + p.len()))
    {
        return true;
    }
    lower.contains('@') || lower.contains("%40")
}

/// Keeps non-overlapping findings: longer spans first, then higher scores.
fn resolve_overlaps(mut found: Vec<Finding>) -> Vec<Finding> {
    if found.len() < 2 {
        return found;
    }
    // Usually nothing overlaps: then order by start is all that is needed.
    found.sort_by_key(|f| f.start);
    if found.windows(2).all(|w| w[0].end <= w[1].start) {
        return found;
    }
    found.sort_by(|a, b| {
        b.len()
            .cmp(&a.len())
            .then(b.score.total_cmp(&a.score))
            .then(a.start.cmp(&b.start))
    });
    // Kept spans by start; they never overlap, so only the neighbours can conflict.
    let mut kept: BTreeMap<usize, Finding> = BTreeMap::new();
    for f in found {
        let before_ok = kept
            .range(..=f.start)
            .next_back()
            .is_none_or(|(_, k)| k.end <= f.start);
        let after_ok = kept
            .range(f.start..)
            .next()
            .is_none_or(|(_, k)| k.start >= f.end);
        if before_ok && after_ok {
            kept.insert(f.start, f);
        }
    }
    kept.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(text: &str) -> Vec<(EntityType, String)> {
        Scanner::new()
            .scan(text)
            .into_iter()
            .map(|f| (f.entity, text[f.start..f.end].to_string()))
            .collect()
    }

    fn one(text: &str, t: EntityType, value: &str) {
        let found = types(text);
        assert!(
            found.contains(&(t, value.to_string())),
            "{t} {value:?} not in {found:?} for {text:?}"
        );
    }

    fn none_of(text: &str, t: EntityType) {
        let found = types(text);
        assert!(
            found.iter().all(|(ft, _)| *ft != t),
            "unexpected {t} in {found:?} for {text:?}"
        );
    }

    #[test]
    fn finds_email_addresses() {
        one(
            "mail naar jan.jansen+test@example.co.uk graag",
            EntityType::Email,
            "jan.jansen+test@example.co.uk",
        );
    }

    #[test]
    fn finds_dutch_and_international_phone_numbers() {
        one("bel 06-12345678 aub", EntityType::Phone, "06-12345678");
        one(
            "tel: +31 6 1234 5678.",
            EntityType::Phone,
            "+31 6 1234 5678",
        );
        one(
            "kantoor (020) 123 4567",
            EntityType::Phone,
            "(020) 123 4567",
        );
        one(
            "office +44 20 7946 0958",
            EntityType::Phone,
            "+44 20 7946 0958",
        );
        one("+31 (0)20 1234567", EntityType::Phone, "+31 (0)20 1234567");
    }

    #[test]
    fn phone_numbers_in_pairs_of_digits_are_found_but_dates_with_times_are_not() {
        one(
            "Haar nummer is 06 48 12 33 90.",
            EntityType::Phone,
            "06 48 12 33 90",
        );
        none_of("op 06-12-2020 10:00 uur", EntityType::Phone);
    }

    #[test]
    fn north_american_national_numbers_are_found() {
        one(
            "call (212) 555-0147 today",
            EntityType::Phone,
            "(212) 555-0147",
        );
        one("from 1-303-555-0199.", EntityType::Phone, "1-303-555-0199");
        one("text 212.555.0147", EntityType::Phone, "212.555.0147");
        one("+1 212 555 0147", EntityType::Phone, "+1 212 555 0147");
        one(
            "op (+31) 6 4123 5678",
            EntityType::Phone,
            "(+31) 6 4123 5678",
        );
    }

    #[test]
    fn north_american_look_alikes_are_not_phone_numbers() {
        none_of("Order 212-555-0147 shipped", EntityType::Phone);
        none_of("invoice INV-303-555-0199", EntityType::Phone);
        none_of("serial 646-555-0131-B", EntityType::Phone);
        none_of("claim 1-303-555-0199/2", EntityType::Phone);
        none_of("dial 911-555-0147 or 212-411-0147", EntityType::Phone);
        none_of("EUR 1.212.555,01", EntityType::Phone);
    }

    #[test]
    fn url_encoded_email_addresses_are_found() {
        one(
            "GET /profile?email=anna%40example.nl HTTP/1.1",
            EntityType::Email,
            "anna%40example.nl",
        );
    }

    #[test]
    fn dates_and_short_numbers_are_not_phone_numbers() {
        none_of("op 01-02-2020 om 12:30", EntityType::Phone);
        none_of("versie 0.12.3", EntityType::Phone);
    }

    #[test]
    fn finds_iban_with_and_without_spaces_and_rejects_bad_checksum() {
        one(
            "IBAN NL91 ABNA 0417 1643 00 t.n.v.",
            EntityType::Iban,
            "NL91 ABNA 0417 1643 00",
        );
        one(
            "naar NL91ABNA0417164300.",
            EntityType::Iban,
            "NL91ABNA0417164300",
        );
        none_of("naar NL92ABNA0417164300", EntityType::Iban);
    }

    #[test]
    fn bsn_needs_the_eleven_check_and_loses_to_order_context() {
        one("BSN: 111222333", EntityType::Bsn, "111222333");
        one("mijn nummer 123456782", EntityType::Bsn, "123456782");
        none_of("BSN 123456789", EntityType::Bsn);
        none_of("ordernummer 123456782", EntityType::Bsn);
    }

    #[test]
    fn kvk_needs_context() {
        one("KvK-nummer 12345678", EntityType::Kvk, "12345678");
        none_of("totaal 12345678 stuks", EntityType::Kvk);
    }

    #[test]
    fn credit_cards_need_luhn_and_a_known_prefix() {
        one(
            "card 4111 1111 1111 1111 exp",
            EntityType::CreditCard,
            "4111 1111 1111 1111",
        );
        one(
            "5555-5555-5555-4444",
            EntityType::CreditCard,
            "5555-5555-5555-4444",
        );
        none_of("4111 1111 1111 1112", EntityType::CreditCard);
    }

    #[test]
    fn ip_addresses_must_be_valid() {
        one(
            "client 192.168.1.23 GET",
            EntityType::IpAddress,
            "192.168.1.23",
        );
        one(
            "from 2001:db8:85a3::8a2e:370:7334 ok",
            EntityType::IpAddress,
            "2001:db8:85a3::8a2e:370:7334",
        );
        none_of("at 999.1.1.1 and 1.2.3.4.5", EntityType::IpAddress);
        none_of("om 12:30:45 uur", EntityType::IpAddress);
    }

    #[test]
    fn postcodes_plates_and_vins() {
        one(
            "Kerkstraat 1, 1234 AB Amsterdam",
            EntityType::PostcodeNl,
            "1234 AB",
        );
        one(
            "kenteken 12-BDF-3 gezien",
            EntityType::LicensePlateNl,
            "12-BDF-3",
        );
        none_of("code AB-12-CD-34", EntityType::LicensePlateNl);
        one(
            "VIN 1M8GDM9AXKP042788",
            EntityType::Vin,
            "1M8GDM9AXKP042788",
        );
    }

    #[test]
    fn postcodes_in_ordinary_sentences_are_found() {
        one("verzonden naar 3512 JE.", EntityType::PostcodeNl, "3512 JE");
        one("7511JK Enschede", EntityType::PostcodeNl, "7511JK");
        one("shipped to 9711LM today", EntityType::PostcodeNl, "9711LM");
        one("to NL-1000 AP Amsterdam", EntityType::PostcodeNl, "1000 AP");
        one("Bestemming: 3824 MJ", EntityType::PostcodeNl, "3824 MJ");
    }

    #[test]
    fn postcode_look_alikes_are_not_postcodes() {
        none_of("Ordernummer 2024 KB-1187", EntityType::PostcodeNl);
        none_of("nog 2048 MB vrij", EntityType::PostcodeNl);
        none_of("moved to 1130 AM Friday", EntityType::PostcodeNl);
        none_of("GTX 1080 TI", EntityType::PostcodeNl);
        none_of("versie 2024 LT", EntityType::PostcodeNl);
        none_of("referentie 1988 RK/22", EntityType::PostcodeNl);
        none_of("in 2025 NL-breed", EntityType::PostcodeNl);
        none_of("tijdstip 12:1234 AB", EntityType::PostcodeNl);
        none_of("1234 SA Amsterdam", EntityType::PostcodeNl);
    }

    #[test]
    fn plates_without_dashes_need_a_vehicle_word_and_no_code_word() {
        one("kenteken GZ412T", EntityType::LicensePlateNl, "GZ412T");
        one(
            "SJ490N stond fout geparkeerd",
            EntityType::LicensePlateNl,
            "SJ490N",
        );
        none_of("token GZ412T", EntityType::LicensePlateNl);
        none_of("Autorisatiecode GH34KL", EntityType::LicensePlateNl);
        none_of("kleur #DB12FF voor de auto ", EntityType::LicensePlateNl);
        none_of("vlucht KL1685 per auto ", EntityType::LicensePlateNl);
        none_of("kenteken AB12CD", EntityType::LicensePlateNl);
    }

    #[test]
    fn dates_count_as_birth_dates_only_with_context() {
        one(
            "geboren op 12-03-1985 te Utrecht",
            EntityType::DateOfBirth,
            "12-03-1985",
        );
        one(
            "date of birth: March 4, 1990",
            EntityType::DateOfBirth,
            "March 4, 1990",
        );
        one(
            "geboortedatum 3 maart 1990",
            EntityType::DateOfBirth,
            "3 maart 1990",
        );
        none_of("factuurdatum 12-03-1985", EntityType::DateOfBirth);
        none_of("geboren 31-02-1985", EntityType::DateOfBirth);
    }

    #[test]
    fn urls_count_only_with_personal_tokens() {
        one(
            "see https://app.example.com/reset?token=abc123&email=x.",
            EntityType::Url,
            "https://app.example.com/reset?token=abc123&email=x",
        );
        none_of("docs at https://example.com/docs/intro.", EntityType::Url);
    }

    #[test]
    fn finds_person_names_with_particles_and_titles() {
        one(
            "Contactpersoon: Jan van der Berg, Utrecht",
            EntityType::Person,
            "Jan van der Berg",
        );
        one("Dear Mr. Smith,", EntityType::Person, "Smith");
        none_of("The Netherlands is small.", EntityType::Person);
    }

    #[test]
    fn adversarial_input_scans_in_linear_time() {
        let evil =
            "a".repeat(100_000) + &"@".repeat(10_000) + &"1 ".repeat(50_000) + &":".repeat(50_000);
        let start = std::time::Instant::now();
        let _ = Scanner::new().scan(&evil);
        assert!(start.elapsed().as_secs() < 10);
    }

    #[test]
    fn json_escapes_separate_words() {
        let line = r#"{"msg":"Beste Jan Jansen,\nbel 06-12345678\tof mail a@b.nl"}"#;
        one(line, EntityType::Person, "Jan Jansen");
        one(line, EntityType::Phone, "06-12345678");
        one(line, EntityType::Email, "a@b.nl");
    }

    #[test]
    fn organisations_and_places_are_not_people() {
        none_of("They met at 10 Downing Street, London.", EntityType::Person);
        none_of("Supplier Morgan Ltd shipped the goods.", EntityType::Person);
        none_of("Meeting with the Sales Team on Monday.", EntityType::Person);
    }

    #[test]
    fn a_scanner_for_names_only_needs_no_pattern() {
        let s = Scanner::new().with_types([EntityType::Person]);
        let f = s.scan("Beste Jan Jansen, mail a@b.nl");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].entity, EntityType::Person);
    }

    #[test]
    fn type_filter_limits_findings() {
        let s = Scanner::new().with_types([EntityType::Email]);
        let f = s.scan("a@b.nl 06-12345678");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].entity, EntityType::Email);
    }
}
