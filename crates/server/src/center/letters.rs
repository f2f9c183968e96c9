//! The letters that answer a requester, in the language they wrote in (the request keeps it;
//! else the policy's first language): the extension of the period with its reason (Art. 12(3)),
//! the refusal with its reason and the right to complain and to a judicial remedy (Art. 12(4),
//! Art. 77, Art. 79), and the notice that an answer is ready to download. The privacy team sees
//! each letter before the step that sends it; the words are the privacy center's (`i18n/*.toml`).

use custos_policy::{Lang, Policy};
use custos_vault::rights::Request;
use serde::Serialize;

use super::page::{date_text, word};

/// Which letter, with what it says beyond the request itself.
pub(crate) enum LetterKind<'a> {
    /// The period is extended by two months, to `due_on`, for `reason` (Art. 12(3)).
    Extension {
        reason: &'a str,
        due_on: jiff::civil::Date,
    },
    /// The request is not carried out, for `reason` (Art. 12(4)).
    Refusal { reason: &'a str },
    /// The answer can be downloaded from the privacy center (Art. 15(3), Art. 20).
    AnswerReady,
}

/// A letter: its language, subject line and paragraphs.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Letter {
    /// `nl` or `en`.
    pub(crate) lang: &'static str,
    /// The subject line.
    pub(crate) subject: String,
    /// The paragraphs, in order.
    pub(crate) paragraphs: Vec<String>,
}

impl Letter {
    /// The letter as plain text for an e-mail.
    pub(crate) fn text(&self) -> String {
        self.paragraphs.join("\n\n")
    }
}

/// The language a request's letters are written in.
pub(crate) fn language_of(policy: &Policy, r: &Request) -> Lang {
    r.detail
        .get("language")
        .and_then(|l| l.as_str())
        .and_then(Lang::from_code)
        .or_else(|| policy.meta.languages.first().copied())
        .unwrap_or(Lang::En)
}

/// Who the complaint may go to, in `lang`: the policy's authorities, or any (Art. 77(1)).
fn authorities(policy: &Policy, lang: Lang) -> String {
    let names: Vec<&str> = policy
        .rights
        .complaint
        .iter()
        .map(|a| match lang {
            Lang::Nl => a.name_nl.as_str(),
            Lang::En => a.name_en.as_str(),
        })
        .collect();
    if names.is_empty() {
        word(lang, "letter_any_authority", &[])
    } else {
        names.join(", ")
    }
}

/// Letter `kind` about request `r` from `name` (the controller as the center names it).
pub(crate) fn letter(policy: &Policy, name: &str, r: &Request, kind: &LetterKind<'_>) -> Letter {
    let lang = language_of(policy, r);
    let what = word(lang, &format!("kind_{}", r.kind.as_str()), &[]);
    let received = date_text(lang, r.received_on);
    let w = |key: &str, args: &[(&str, &str)]| word(lang, key, args);
    let opening = w(
        "letter_opening",
        &[("received", &received), ("kind", &what)],
    );
    let (subject, mut body) = match kind {
        LetterKind::Extension { reason, due_on } => (
            w("letter_extension_subject", &[("name", name)]),
            vec![
                opening,
                w(
                    "letter_extension_body",
                    &[("due", &date_text(lang, *due_on))],
                ),
                w("letter_reason", &[("reason", reason)]),
            ],
        ),
        LetterKind::Refusal { reason } => (
            w("letter_refusal_subject", &[("name", name)]),
            vec![
                opening,
                w("letter_refusal_body", &[]),
                w("letter_reason", &[("reason", reason)]),
                w(
                    "letter_remedies",
                    &[("authorities", &authorities(policy, lang))],
                ),
            ],
        ),
        LetterKind::AnswerReady => (
            w("letter_ready_subject", &[("name", name)]),
            vec![opening, w("letter_ready_body", &[])],
        ),
    };
    body.push(w("letter_closing", &[("name", name)]));
    Letter {
        lang: lang.code(),
        subject,
        paragraphs: body,
    }
}
