//! How a privacy-center page is made: the language (a `?lang=` switch, else the browser's
//! `Accept-Language`, else the policy's first language), the words of that language
//! (`i18n/*.toml`, the same keys in each), the templates (`templates/*.html`, minijinja with
//! HTML escaping), and the headers every page carries (a strict Content-Security-Policy: no
//! script at all, styles only from the binary's own stylesheet; no referrer; no framing).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use custos_policy::Lang;
use serde::Serialize;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("home.html", include_str!("templates/home.html")),
    ("code.html", include_str!("templates/code.html")),
    ("status.html", include_str!("templates/status.html")),
    ("message.html", include_str!("templates/message.html")),
    ("signin.html", include_str!("templates/signin.html")),
    ("me.html", include_str!("templates/me.html")),
];

/// The stylesheet, served at `/center/assets/center.css`.
pub const CSS: &str = include_str!("assets/center.css");

/// The Content-Security-Policy of every center page: nothing but this server, no script, no
/// inline style, forms posting only here, never in a frame.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn words(lang: Lang) -> &'static BTreeMap<String, String> {
    static NL: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    static EN: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    let (cell, text) = match lang {
        Lang::Nl => (&NL, include_str!("i18n/nl.toml")),
        Lang::En => (&EN, include_str!("i18n/en.toml")),
    };
    // The catalogues are part of the binary and parsed in a unit test: a bad one cannot ship.
    cell.get_or_init(|| toml::from_str(text).unwrap_or_default())
}

/// The word `key` in `lang`, with `{name}` placeholders filled from `args`. An unknown key
/// shows as itself (a unit test keeps every key used in both catalogues).
pub fn word(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
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

/// The language of a page: `?lang=` when given and known, else the first of `nl`/`en` the
/// browser accepts (by its q-values), else `fallback`.
pub fn negotiate(query: Option<&str>, headers: &HeaderMap, fallback: Lang) -> Lang {
    if let Some(l) = query.and_then(Lang::from_code) {
        return l;
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut best: Option<(f32, Lang)> = None;
    for part in accept.split(',') {
        let mut bits = part.trim().split(';');
        let tag = bits.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = bits
            .find_map(|b| b.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or("");
        if let Some(l) = Lang::from_code(primary)
            && q > 0.0
            && best.is_none_or(|(bq, _)| q > bq)
        {
            best = Some((q, l));
        }
    }
    best.map_or(fallback, |(_, l)| l)
}

/// `d` as people write it in `lang`: "2 maart 2026", "2 March 2026".
pub(crate) fn date_text(lang: Lang, d: jiff::civil::Date) -> String {
    const NL: [&str; 12] = [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ];
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let m = usize::try_from(d.month() - 1).unwrap_or(0);
    match lang {
        Lang::Nl => format!("{} {} {}", d.day(), NL[m], d.year()),
        Lang::En => format!("{} {} {}", d.day(), EN[m], d.year()),
    }
}

/// The catalogue key of a request's history step (`step_received`, …; `step_other` for a step
/// the pages do not name): the center's and the console's catalogues both hold these keys.
pub(crate) fn step_key(step: &str) -> String {
    match step {
        k @ ("received"
        | "duplicate"
        | "code_issued"
        | "verification_failed"
        | "verified"
        | "in_progress"
        | "extended"
        | "completed"
        | "refused"
        | "answer_released"
        | "recipients_notified") => format!("step_{k}"),
        _ => "step_other".to_owned(),
    }
}

/// The other language, for the switch.
pub fn other(lang: Lang) -> Lang {
    match lang {
        Lang::Nl => Lang::En,
        Lang::En => Lang::Nl,
    }
}

/// What every page shows besides its own content.
#[derive(Serialize)]
pub struct Frame {
    /// `nl` or `en`.
    pub lang: &'static str,
    /// The other language's code.
    pub other_lang: &'static str,
    /// The controller's name.
    pub name: String,
    /// The center's home, in this language.
    pub home: String,
    /// This page in the other language.
    pub switch: String,
    /// The footer line.
    pub footer: String,
    /// The tenant's accent stylesheet, if it has one.
    pub theme: Option<String>,
    /// The tenant's logo, if it has one.
    pub logo: Option<String>,
}

impl Frame {
    /// The frame of a page of `tenant`'s center at `path` (without query) in `lang`.
    pub fn new(lang: Lang, name: &str, tenant: &str, path: &str) -> Frame {
        let o = other(lang);
        Frame {
            lang: lang.code(),
            other_lang: o.code(),
            name: name.to_owned(),
            home: format!("/center/{tenant}?lang={}", lang.code()),
            switch: format!("{path}?lang={}", o.code()),
            footer: word(lang, "footer", &[("name", name)]),
            theme: None,
            logo: None,
        }
    }
}

/// Renders `template` with the frame, the words of the language (`t`) and `extra`; a failure
/// (a bug: every template is rendered by the unit tests) is a plain 500 without details.
pub fn render(
    status: StatusCode,
    template: &str,
    frame: &Frame,
    extra: serde_json::Value,
) -> Response {
    let lang = Lang::from_code(frame.lang).unwrap_or(Lang::En);
    render_with(
        Templates {
            env: env(),
            words: words(lang),
            what: "a privacy-center template failed",
        },
        status,
        template,
        (frame, frame.lang),
        extra,
    )
}

/// A set of templates and the words of one language, as the center and the console each have.
pub(crate) struct Templates<'a> {
    /// The templates.
    pub(crate) env: &'a minijinja::Environment<'static>,
    /// The words, given to every template as `t`.
    pub(crate) words: &'a BTreeMap<String, String>,
    /// What the log says when a template fails.
    pub(crate) what: &'static str,
}

/// Renders `template` of `set` with `frame` (serialised, in the language `lang`), the words as
/// `t` and the fields of `extra`, with the security headers; a failure (a bug: every template is
/// rendered by the unit tests) is logged and answered by a plain 500 without details.
pub(crate) fn render_with(
    set: Templates<'_>,
    status: StatusCode,
    template: &str,
    (frame, lang): (&impl Serialize, &'static str),
    extra: serde_json::Value,
) -> Response {
    let mut ctx = serde_json::to_value(frame).unwrap_or_default();
    ctx["t"] = serde_json::to_value(set.words).unwrap_or_default();
    if let (Some(c), serde_json::Value::Object(e)) = (ctx.as_object_mut(), extra) {
        c.extend(e);
    }
    let html = set.env.get_template(template).and_then(|t| t.render(&ctx));
    match html {
        Ok(html) => with_headers(status, html, "text/html; charset=utf-8", lang),
        Err(e) => {
            tracing::error!(template, error = %e, "{}", set.what);
            let text = set
                .words
                .get("error_server")
                .cloned()
                .unwrap_or_else(|| "error_server".to_owned());
            with_headers(
                StatusCode::INTERNAL_SERVER_ERROR,
                text,
                "text/plain; charset=utf-8",
                lang,
            )
        }
    }
}

/// A body with the center's security headers.
pub fn with_headers(
    status: StatusCode,
    body: String,
    content_type: &'static str,
    lang: &'static str,
) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(lang));
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Cookie, Sec-GPC"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_catalogues_parse_and_have_the_same_keys() {
        let nl: BTreeMap<String, String> =
            toml::from_str(include_str!("i18n/nl.toml")).expect("nl.toml parses");
        let en: BTreeMap<String, String> =
            toml::from_str(include_str!("i18n/en.toml")).expect("en.toml parses");
        let (a, b): (Vec<_>, Vec<_>) = (nl.keys().collect(), en.keys().collect());
        assert_eq!(a, b, "the same keys in both languages");
        for key in ["center_title", "kind_access", "due_month", "mail_body"] {
            assert_ne!(word(Lang::Nl, key, &[]), word(Lang::En, key, &[]), "{key}");
        }
    }

    #[test]
    fn the_language_follows_the_switch_then_the_browser() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("de-DE, nl-BE;q=0.8, en;q=0.5"),
        );
        assert_eq!(negotiate(None, &h, Lang::En), Lang::Nl);
        assert_eq!(negotiate(Some("en"), &h, Lang::Nl), Lang::En);
        assert_eq!(negotiate(Some("xx"), &h, Lang::En), Lang::Nl);
        assert_eq!(negotiate(None, &HeaderMap::new(), Lang::En), Lang::En);
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("nl;q=0, en"),
        );
        assert_eq!(negotiate(None, &h, Lang::Nl), Lang::En);
    }

    #[test]
    fn every_template_renders_in_both_languages() {
        for lang in [Lang::Nl, Lang::En] {
            let frame = Frame::new(lang, "JBSync B.V.", "acme", "/center/acme");
            for (template, extra) in super::super::samples() {
                let res = render(StatusCode::OK, template, &frame, extra);
                assert_eq!(res.status(), StatusCode::OK, "{template} in {lang:?}");
            }
        }
    }
}
