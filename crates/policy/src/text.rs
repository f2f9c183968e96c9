//! Free text in a policy: one string, or translations per language (`{ en = "…", nl = "…" }`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// The languages a statement can be rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English.
    En,
    /// Dutch.
    Nl,
}

impl Lang {
    /// All supported languages.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Nl];

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Nl => "nl",
        }
    }

    /// Parses an ISO 639-1 code.
    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "nl" => Some(Lang::Nl),
            _ => None,
        }
    }
}

impl Lang {
    /// The language's own name, for a language switch ("Nederlands", "English").
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Nl => "Nederlands",
        }
    }

    /// The language of `offered` an HTTP `Accept-Language` header prefers (RFC 9110 §12.5.4):
    /// ranges are matched by their primary subtag (`nl-BE` asks for `nl`), the highest q-value
    /// wins and ties go to the header's order; `*` takes the first offered language; `q=0`
    /// refuses a language. `None` when the header accepts none of them (the caller then uses
    /// its default).
    pub fn negotiate(accept_language: &str, offered: &[Lang]) -> Option<Lang> {
        let mut best: Option<(u16, usize, Lang)> = None;
        let mut refused: Vec<Lang> = Vec::new();
        for (order, item) in accept_language.split(',').enumerate() {
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            if range.is_empty() {
                continue;
            }
            let mut q: u16 = 1000;
            for param in parts {
                if let Some(v) = param
                    .trim()
                    .strip_prefix("q=")
                    .or_else(|| param.trim().strip_prefix("Q="))
                {
                    q = parse_qvalue(v.trim()).unwrap_or(0);
                }
            }
            let primary = range.split('-').next().unwrap_or("");
            let lang = if primary == "*" {
                offered.iter().copied().find(|l| !refused.contains(l))
            } else {
                Lang::from_code(primary).filter(|l| offered.contains(l))
            };
            let Some(lang) = lang else { continue };
            if q == 0 {
                refused.push(lang);
                continue;
            }
            let better = match best {
                None => true,
                Some((bq, _, _)) => q > bq,
            };
            if better {
                best = Some((q, order, lang));
            }
        }
        best.map(|(_, _, l)| l).filter(|l| !refused.contains(l))
    }
}

/// A q-value (`1`, `0.8`, `0.125`) in thousandths; `None` when malformed.
fn parse_qvalue(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let mut thousandths: u16 = 0;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    (whole + thousandths <= 1000).then_some(whole + thousandths)
}

/// How a Dutch statement addresses its reader: the informal *je* or the formal *u*. A statement
/// uses one throughout (`form_of_address` in `[policy]`, default *u*); English has one form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FormOfAddress {
    /// Formal: *u*, *uw*.
    #[default]
    U,
    /// Informal: *je*, *jouw*.
    Je,
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A text written once for all languages, or once per language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Text {
    /// The same words in every language (names, addresses, or a policy written in one language).
    Plain(String),
    /// One text per language.
    Translated(BTreeMap<Lang, String>),
}

impl Text {
    /// The text for `lang`; a plain text serves every language. `None` when a translated
    /// text lacks that language.
    pub fn get(&self, lang: Lang) -> Option<&str> {
        match self {
            Text::Plain(s) => Some(s),
            Text::Translated(m) => m.get(&lang).map(String::as_str),
        }
    }

    /// The text for `lang`, or any available translation when it is missing (the checker warns
    /// about missing translations separately).
    pub fn get_or_any(&self, lang: Lang) -> &str {
        match self {
            Text::Plain(s) => s,
            Text::Translated(m) => m
                .get(&lang)
                .or_else(|| m.values().next())
                .map(String::as_str)
                .unwrap_or(""),
        }
    }

    /// Whether the text is empty in every language.
    pub fn is_blank(&self) -> bool {
        match self {
            Text::Plain(s) => s.trim().is_empty(),
            Text::Translated(m) => m.values().all(|s| s.trim().is_empty()),
        }
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a text: a string, or a table of translations such as { en = \"…\", nl = \"…\" }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text::Plain(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    let lang = Lang::from_code(&key).ok_or_else(|| {
                        serde::de::Error::custom(format!(
                            "unknown language `{key}` in a text, expected `en` or `nl`"
                        ))
                    })?;
                    out.insert(lang, map.next_value::<String>()?);
                }
                Ok(Text::Translated(out))
            }
        }
        d.deserialize_any(V)
    }
}
