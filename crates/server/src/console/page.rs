//! How a console page is made, as a privacy-center page is (`center/page.rs`): the language
//! (`?lang=`, else the browser's `Accept-Language`, else the policy's first language), the words
//! of that language (`i18n/*.toml`, the same keys in each), the templates (`templates/*.html`,
//! minijinja with HTML escaping) and the headers every page carries: a strict
//! Content-Security-Policy (no script at all, styles only from the binary's own stylesheet), no
//! referrer, no framing, no caching. The language choice, dates and headers are the
//! center's (`crate::center::page`); the templates and words are the console's own.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::response::Response;
use custos_policy::Lang;
use serde::Serialize;

/// The center's language choice, dates and security headers serve the console as they are.
pub(crate) use crate::center::page::{date_text, negotiate, with_headers};

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("signin.html", include_str!("templates/signin.html")),
    ("queue.html", include_str!("templates/queue.html")),
    ("request.html", include_str!("templates/request.html")),
    ("message.html", include_str!("templates/message.html")),
    ("retention.html", include_str!("templates/retention.html")),
    (
        "retention-dry-run.html",
        include_str!("templates/retention-dry-run.html"),
    ),
    ("audit.html", include_str!("templates/audit.html")),
    (
        "audit-verify.html",
        include_str!("templates/audit-verify.html"),
    ),
    ("policy.html", include_str!("templates/policy.html")),
    ("letter.html", include_str!("templates/letter.html")),
    ("breaches.html", include_str!("templates/breaches.html")),
    ("breach.html", include_str!("templates/breach.html")),
    (
        "breach-draft.html",
        include_str!("templates/breach-draft.html"),
    ),
    (
        "breach-affected.html",
        include_str!("templates/breach-affected.html"),
    ),
    (
        "breach-refused.html",
        include_str!("templates/breach-refused.html"),
    ),
];

/// The stylesheet, served at `/console/assets/console.css`.
pub(crate) const CSS: &str = include_str!("assets/console.css");

fn words(lang: Lang) -> &'static BTreeMap<String, String> {
    static NL: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    static EN: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    let (cell, parts) = match lang {
        Lang::Nl => (&NL, NL_PARTS),
        Lang::En => (&EN, EN_PARTS),
    };
    // The catalogues are part of the binary and parsed in a unit test: a bad one cannot ship.
    cell.get_or_init(|| {
        parts
            .iter()
            .flat_map(|text| toml::from_str::<BTreeMap<String, String>>(text).unwrap_or_default())
            .collect()
    })
}

/// Each language's words, in parts by area of the console (the same parts, with the same keys,
/// in each language).
const NL_PARTS: &[&str] = &[
    include_str!("i18n/nl.toml"),
    include_str!("i18n/nl-oversight.toml"),
    include_str!("i18n/nl-breaches.toml"),
];
const EN_PARTS: &[&str] = &[
    include_str!("i18n/en.toml"),
    include_str!("i18n/en-oversight.toml"),
    include_str!("i18n/en-breaches.toml"),
];

/// The word `key` in `lang`, with `{name}` placeholders filled from `args`. An unknown key
/// shows as itself (a unit test keeps the catalogues' keys the same).
pub(crate) fn word(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    let mut s = words(lang)
        .get(key)
        .cloned()
        .unwrap_or_else(|| key.to_owned());
    for (k, v) in args {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

fn env() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, text) in TEMPLATES {
            // Checked by the unit tests, which render every template.
            let _ = env.add_template(name, text);
        }
        env
    })
}

/// Who is signed in, as the header shows it.
#[derive(Serialize, Clone)]
pub(crate) struct UserView {
    /// The account's name.
    pub(crate) name: String,
    /// The role, in words.
    pub(crate) role: String,
    /// The tenant, if any.
    pub(crate) tenant: Option<String>,
}

/// What every page shows besides its own content.
#[derive(Serialize)]
pub(crate) struct Frame {
    /// `nl` or `en`.
    pub(crate) lang: &'static str,
    /// The other language's code.
    pub(crate) other_lang: &'static str,
    /// The console's home, in this language.
    pub(crate) home: String,
    /// This page in the other language.
    pub(crate) switch: String,
    /// The signed-in user, if any.
    pub(crate) user: Option<UserView>,
    /// The sign-out form's action and token (empty when nobody is signed in).
    pub(crate) signout_action: String,
    /// The sign-out form's token.
    pub(crate) signout_csrf: String,
}

impl Frame {
    /// The frame of the page at `path` (without query) in `lang`.
    pub(crate) fn new(lang: Lang, path: &str) -> Frame {
        let o = match lang {
            Lang::Nl => Lang::En,
            Lang::En => Lang::Nl,
        };
        Frame {
            lang: lang.code(),
            other_lang: o.code(),
            home: format!("/console/requests?lang={}", lang.code()),
            switch: format!("{path}?lang={}", o.code()),
            user: None,
            signout_action: format!("/console/signout?lang={}", lang.code()),
            signout_csrf: String::new(),
        }
    }
}

/// Renders `template` with the frame, the words of the language (`t`) and `extra`; a failure
/// (a bug: every template is rendered by the unit tests) is a plain 500 without details.
pub(crate) fn render(
    status: StatusCode,
    template: &str,
    frame: &Frame,
    extra: serde_json::Value,
) -> Response {
    let lang = Lang::from_code(frame.lang).unwrap_or(Lang::En);
    crate::center::page::render_with(
        crate::center::page::Templates {
            env: env(),
            words: words(lang),
            what: "a console template failed",
        },
        status,
        template,
        (frame, frame.lang),
        extra,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogues_parse_and_have_the_same_keys() {
        let mut seen = std::collections::BTreeSet::new();
        for (nl, en) in NL_PARTS.iter().zip(EN_PARTS) {
            let nl: BTreeMap<String, String> = toml::from_str(nl).expect("an nl part parses");
            let en: BTreeMap<String, String> = toml::from_str(en).expect("an en part parses");
            let (a, b): (Vec<_>, Vec<_>) = (nl.keys().collect(), en.keys().collect());
            assert_eq!(a, b, "the same keys in both languages");
            for key in nl.keys() {
                assert!(seen.insert(key.clone()), "{key} is in two parts");
            }
        }
        for key in ["console_title", "signin", "risk_overdue", "kind_access"] {
            assert_ne!(word(Lang::Nl, key, &[]), word(Lang::En, key, &[]), "{key}");
        }
    }

    #[test]
    fn dates_are_written_in_the_pages_language() {
        let d = jiff::civil::date(2026, 3, 2);
        assert_eq!(date_text(Lang::Nl, d), "2 maart 2026");
        assert_eq!(date_text(Lang::En, d), "2 March 2026");
    }

    #[test]
    fn every_template_renders_in_both_languages() {
        for lang in [Lang::Nl, Lang::En] {
            for signed_in in [false, true] {
                let mut frame = Frame::new(lang, "/console/requests");
                if signed_in {
                    frame.user = Some(UserView {
                        name: "Ann".into(),
                        role: "DPO".into(),
                        tenant: Some("acme".into()),
                    });
                    frame.signout_csrf = "x".into();
                }
                for (template, extra) in super::super::samples() {
                    let res = render(StatusCode::OK, template, &frame, extra);
                    assert_eq!(
                        res.status(),
                        StatusCode::OK,
                        "{template} in {lang:?}, signed in: {signed_in}"
                    );
                }
            }
        }
    }
}
