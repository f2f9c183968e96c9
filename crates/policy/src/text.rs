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
