//! The public privacy statement, rendered from a resolved policy.
//!
//! Words come from the translation catalogues in `i18n/{en,nl}.toml` and layout from the
//! templates in `templates/`; this module only builds a language-resolved view of the policy
//! (every text picked in the target language, every enum turned into its catalogue label) and
//! hands it to minijinja. Both catalogues and templates are compiled into the binary, so a
//! statement renders the same everywhere.
//!
//! The statement is a legal document (Art. 12(1), 13, 14 GDPR): every sentence in it is a
//! promise the company answers for. So the view holds only what the policy states. A sentence
//! that would be a conclusion (where data is processed) is written only when the policy's
//! facts support it; a default (the one-month response period) is attributed to the law, not
//! promised; a section with nothing to say is left out; and a language the policy has no texts
//! for is refused rather than rendered as headings in one language over texts in another.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use minijinja::Environment;
use serde::Serialize;

use crate::law::{self, Zone};
use crate::model::{self as m, Acceptance, AutomatedKind, Choice, Mechanism, Role};
use crate::period::Period;
use crate::resolved::{self as r, Policy};
use crate::text::{FormOfAddress, Lang, Text};

/// Output formats of `custos render`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Markdown, for a website or a repository.
    Markdown,
    /// A standalone, semantic, accessible HTML page.
    Html,
    /// The canonical, fully resolved policy as JSON.
    Json,
}

/// How a statement is rendered besides its language and format.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Link the statement in the policy's other languages (`?lang=xx`), for a page served by
    /// Custos (`/privacy`); a file rendered for elsewhere has no such address.
    pub language_links: bool,
}

/// Why a statement could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The policy has no texts in the language asked for (`[policy] languages`): rendering it
    /// would put Custos's headings in one language over the policy's texts in another.
    #[error(
        "the policy is not written in `{lang}`: its languages are {}; render it in one of those, or add `{lang}` texts and list `{lang}` in [policy] languages",
        offered.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", ")
    )]
    LanguageNotOffered {
        /// The language asked for.
        lang: Lang,
        /// The languages the policy provides.
        offered: Vec<Lang>,
    },
    /// A catalogue lacks a key the renderer needs.
    #[error("the {lang} translation catalogue has no entry `{key}`")]
    MissingTranslation {
        /// Language.
        lang: Lang,
        /// Dotted key.
        key: String,
    },
    /// A catalogue file is not valid TOML.
    #[error("the {lang} translation catalogue is invalid: {message}")]
    Catalogue {
        /// Language.
        lang: Lang,
        /// What the TOML parser said.
        message: String,
    },
    /// A template failed.
    #[error("template error: {0}")]
    Template(#[from] minijinja::Error),
    /// JSON serialisation failed.
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
}

impl RenderError {
    /// Its code in the error table (`docs/errors.md`). Apart from a language the policy does
    /// not offer, the templates and catalogues ship with Custos, so a failure is a bug.
    pub fn code(&self) -> custos_types::ErrorCode {
        match self {
            RenderError::LanguageNotOffered { .. } => custos_types::ErrorCode::LanguageNotOffered,
            RenderError::MissingTranslation { .. }
            | RenderError::Catalogue { .. }
            | RenderError::Template(_)
            | RenderError::Json(_) => custos_types::ErrorCode::Internal,
        }
    }
}

const CATALOGUE_EN: &str = include_str!("../i18n/en.toml");
const CATALOGUE_NL: &str = include_str!("../i18n/nl.toml");
const TEMPLATE_MD: &str = include_str!("../templates/statement.md");
const TEMPLATE_HTML: &str = include_str!("../templates/statement.html");

/// The table of `nl.toml` that gives the sentences addressing the reader with *je*.
const JE: &str = "je";

/// A translation catalogue: nested TOML tables of strings.
#[derive(Debug)]
pub struct Catalogue {
    lang: Lang,
    table: toml::Table,
}

impl Catalogue {
    /// The built-in catalogue for `lang`, addressing a Dutch reader with *u*.
    pub fn get(lang: Lang) -> Result<&'static Catalogue, RenderError> {
        Catalogue::for_statement(lang, FormOfAddress::U)
    }

    /// The built-in catalogue for `lang` in the policy's form of address: for Dutch with *je*,
    /// every sentence of the `[je]` table replaces its *u* form.
    pub fn for_statement(
        lang: Lang,
        form: FormOfAddress,
    ) -> Result<&'static Catalogue, RenderError> {
        static EN: OnceLock<Result<Catalogue, String>> = OnceLock::new();
        static NL: OnceLock<Result<Catalogue, String>> = OnceLock::new();
        static NL_JE: OnceLock<Result<Catalogue, String>> = OnceLock::new();
        let (cell, text, je) = match (lang, form) {
            (Lang::En, _) => (&EN, CATALOGUE_EN, false),
            (Lang::Nl, FormOfAddress::U) => (&NL, CATALOGUE_NL, false),
            (Lang::Nl, FormOfAddress::Je) => (&NL_JE, CATALOGUE_NL, true),
        };
        cell.get_or_init(|| {
            let mut table = text.parse::<toml::Table>().map_err(|e| e.to_string())?;
            if je {
                let overrides = table
                    .get(JE)
                    .and_then(|t| t.as_table())
                    .cloned()
                    .unwrap_or_default();
                for (key, value) in overrides {
                    let (group, name) = key
                        .split_once('.')
                        .ok_or_else(|| format!("[je] key `{key}` is not `group.name`"))?;
                    let slot = table
                        .get_mut(group)
                        .and_then(|g| g.as_table_mut())
                        .filter(|g| g.contains_key(name))
                        .ok_or_else(|| format!("[je] key `{key}` replaces no sentence"))?;
                    slot.insert(name.to_owned(), value);
                }
            }
            Ok(Catalogue { lang, table })
        })
        .as_ref()
        .map_err(|message| RenderError::Catalogue {
            lang,
            message: message.clone(),
        })
    }

    fn lookup(&self, key: &str) -> Option<&toml::Value> {
        let (group, name) = key.split_once('.')?;
        self.table.get(group)?.as_table()?.get(name)
    }

    /// The string at `group.name`.
    pub fn t(&self, key: &str) -> Result<&str, RenderError> {
        self.lookup(key)
            .and_then(|v| v.as_str())
            .ok_or_else(|| RenderError::MissingTranslation {
                lang: self.lang,
                key: key.into(),
            })
    }

    /// The label of an enum value serialised as snake_case, e.g. `basis.contract`.
    fn label<T: Serialize>(&self, group: &str, value: &T) -> Result<String, RenderError> {
        let key = serde_json::to_value(value)?
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Ok(self.t(&format!("{group}.{key}"))?.to_owned())
    }

    /// A period in words, e.g. `7 dagen`, `1 year 2 months`.
    pub fn period(&self, p: &Period) -> Result<String, RenderError> {
        let mut words = Vec::new();
        for (n, unit) in p.parts() {
            let forms = self
                .lookup(&format!("unit.{unit}"))
                .and_then(|v| v.as_array());
            let form = forms
                .and_then(|f| f.get(usize::from(n != 1)))
                .and_then(|v| v.as_str())
                .ok_or_else(|| RenderError::MissingTranslation {
                    lang: self.lang,
                    key: format!("unit.{unit}"),
                })?;
            words.push(format!("{n} {form}"));
        }
        Ok(words.join(" "))
    }

    /// An article of the GDPR cited the way the regulation's own language version cites it:
    /// `Art. 6(1)(b) GDPR` in English, `art. 6 lid 1 onder b AVG` in Dutch. `article` is
    /// written the English way (`6(1)(b)`, `7(3)`, `15`), as the law module keeps it.
    pub fn cite(&self, article: &str) -> Result<String, RenderError> {
        let written = match self.lang {
            Lang::En => article.to_owned(),
            Lang::Nl => dutch_article(article),
        };
        Ok(self.t("label.article")?.replace("{article}", &written))
    }

    /// A purpose's legal bases in words, each with its article, alternatives joined by "or":
    /// `Consent (Art. 6(1)(a) GDPR) or necessary for legitimate interests (Art. 6(1)(f) GDPR)`.
    /// `None` when the policy names none (a dash would read as an answer).
    pub fn bases(&self, bases: &[m::Basis]) -> Result<Option<String>, RenderError> {
        if bases.is_empty() {
            return Ok(None);
        }
        let mut words = Vec::with_capacity(bases.len());
        for (i, b) in bases.iter().enumerate() {
            let label = self.label("basis", b)?;
            let label = if i == 0 { label } else { lower_first(&label) };
            words.push(format!("{label} ({})", self.cite(law::basis_article(*b))?));
        }
        Ok(Some(words.join(&format!(" {} ", self.t("label.or")?))))
    }

    /// A date of the policy (`2026-05-21`, or `2025-06` when the statement names only the
    /// month) in words: `21 May 2026`, `21 mei 2026`, `June 2025`. Anything else is returned
    /// as written.
    pub fn date(&self, iso: &str) -> String {
        let months = self.lookup("month.names").and_then(|v| v.as_array());
        let month_name = |m: &str| -> Option<&str> {
            let i: usize = m.parse().ok()?;
            months?.get(i.checked_sub(1)?)?.as_str()
        };
        let parts: Vec<&str> = iso.split('-').collect();
        let year_ok = |y: &str| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit());
        match parts.as_slice() {
            [y, mo, d] if year_ok(y) && d.len() == 2 => {
                match (
                    month_name(mo),
                    d.parse::<u8>().ok().filter(|d| (1..=31).contains(d)),
                ) {
                    (Some(name), Some(day)) => format!("{day} {name} {y}"),
                    _ => iso.to_owned(),
                }
            }
            [y, mo] if year_ok(y) => match month_name(mo) {
                Some(name) => format!("{name} {y}"),
                None => iso.to_owned(),
            },
            _ => iso.to_owned(),
        }
    }

    /// All keys, dotted, for comparing catalogues (the Dutch-only `[je]` table left out).
    pub fn keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (group, v) in &self.table {
            if group == JE {
                continue;
            }
            match v.as_table() {
                Some(t) => out.extend(t.keys().map(|k| format!("{group}.{k}"))),
                None => out.push(group.clone()),
            }
        }
        out.sort();
        out
    }
}

/// `6(1)(b)` as the Dutch text of the GDPR cites it: `6 lid 1 onder b`. A form it does not
/// know is returned as written.
fn dutch_article(article: &str) -> String {
    let Some((number, rest)) = article.split_once('(') else {
        return article.to_owned();
    };
    let inner: Vec<String> = rest
        .split(['(', ')'])
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    match inner.as_slice() {
        [lid] if lid.bytes().all(|b| b.is_ascii_digit()) => format!("{number} lid {lid}"),
        [lid, point] if lid.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{number} lid {lid} onder {point}")
        }
        _ => article.to_owned(),
    }
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        // A Markdown table cell holds one line and no unescaped pipe.
        env.add_filter("cell", |s: String| {
            s.replace('|', "\\|")
                .replace("\r\n", "<br>")
                .replace('\n', "<br>")
        });
        env.add_template("statement.md", TEMPLATE_MD)
            .expect("the Markdown template is valid (tested)");
        env.add_template("statement.html", TEMPLATE_HTML)
            .expect("the HTML template is valid (tested)");
        env
    })
}

/// Renders the statement of `policy` in `lang` as `format`.
pub fn render(policy: &Policy, lang: Lang, format: Format) -> Result<String, RenderError> {
    render_with(policy, lang, format, &Options::default())
}

/// Renders the statement of `policy` in `lang` as `format`, with `options`. Refuses a language
/// the policy does not list in `[policy] languages` ([`RenderError::LanguageNotOffered`]);
/// the canonical JSON has no language and is always rendered.
pub fn render_with(
    policy: &Policy,
    lang: Lang,
    format: Format,
    options: &Options,
) -> Result<String, RenderError> {
    if format == Format::Json {
        let mut s = serde_json::to_string_pretty(policy)?;
        s.push('\n');
        return Ok(s);
    }
    if !policy.meta.languages.contains(&lang) {
        return Err(RenderError::LanguageNotOffered {
            lang,
            offered: policy.meta.languages.clone(),
        });
    }
    let cat = Catalogue::for_statement(lang, policy.meta.form_of_address)?;
    let view = View::build(policy, lang, cat, options)?;
    let name = if format == Format::Html {
        "statement.html"
    } else {
        "statement.md"
    };
    let t = minijinja::Value::from_serialize(&cat.table);
    Ok(env()
        .get_template(name)?
        .render(minijinja::context! { s => view, t => t })?)
}

// ---- The view: the policy in one language, labels resolved --------------------------------
//
// Every field is `Option`, an empty list or `false` when the policy does not state it, and the
// templates write nothing for those: `statement_sentences_come_from_their_policy_fields` in the
// tests maps each sentence to its field.

#[derive(Serialize)]
struct View {
    lang: &'static str,
    title: String,
    version: Option<String>,
    /// The date of the last update in words; `updated_iso` for `<time datetime>`.
    updated: Option<String>,
    updated_iso: Option<String>,
    scope: Option<String>,
    url: Option<String>,
    /// The statement in the policy's other languages (only for a page Custos serves).
    languages: Vec<LangLink>,
    /// The sections that have something to say, in order: `(id, heading)`.
    toc: Vec<(&'static str, String)>,
    controller: ControllerView,
    joint: Vec<JointView>,
    purposes: Vec<PurposeView>,
    categories: Vec<CategoryView>,
    recipients: Vec<RecipientView>,
    transfers: Vec<TransferView>,
    /// Whether the policy supports "personal data is processed within the EEA": no `[transfer]`
    /// clause, and the controller and every recipient have a known location, all in the EEA.
    eea_only: bool,
    measures: Vec<MeasureView>,
    automated: Vec<AutomatedView>,
    /// Purposes that explain why they involve no Art. 22 decision.
    no_automated: Vec<AutomatedView>,
    /// Whether the policy supports "we take no Art. 22 decisions": every purpose says what it
    /// decides automatically, and none is an Art. 22(1) decision.
    no_automated_claim: bool,
    rights: RightsView,
    complaint: Vec<AuthorityView>,
    breach: BreachView,
    notice: NoticeView,
    commitments: Vec<CommitmentView>,
    /// What Custos enforces of this statement, for the footer.
    enforced: Vec<String>,
    /// The cookie table (ePrivacy Directive Art. 5(3)); empty when the policy declares none.
    cookies: Vec<CookieView>,
    /// The policy-wide transfer clause, when the policy has one.
    transfer_clause: Option<TransferClauseView>,
    /// The retention rule for all data without a rule of its own.
    retention_general: Option<String>,
    /// The statement's own wording of that rule, when it says more than `retention_general`.
    retention_general_note: Option<String>,
    /// Complaint routes described rather than named ("any supervisory authority").
    complaint_scopes: Vec<String>,
}

#[derive(Serialize)]
struct LangLink {
    code: &'static str,
    name: &'static str,
    href: String,
}

/// A row of the cookie table: every cell the policy leaves unstated is `None` and left empty.
#[derive(Serialize)]
struct CookieView {
    name: String,
    provider: Option<String>,
    purpose: Option<String>,
    kind: String,
    lifetime: Option<String>,
    party: Option<String>,
    /// Whether it is set only with consent, when the policy says so (`consent`, or a `basis`
    /// or `choice` that settles it); else what the law requires, said to be the law's.
    consent: String,
}

#[derive(Serialize)]
struct TransferClauseView {
    /// The statement's own wording of the clause.
    description: Option<String>,
    /// "We do not transfer personal data outside the EEA", for `outside_eea = false` without a
    /// description of its own.
    none_outside_eea: bool,
    /// For `outside_eea = true`: the mechanisms in words ("none stated" when it names none).
    mechanisms: Option<String>,
    /// For `outside_eea = true`: the countries the clause names.
    locations: Option<String>,
    safeguards: Option<String>,
}

#[derive(Serialize)]
struct ChannelView {
    kind: String,
    address: String,
    href: Option<String>,
}

#[derive(Serialize)]
struct ControllerView {
    name: Option<String>,
    address: Option<String>,
    registration: Option<String>,
    contacts: Vec<ChannelView>,
    website: Option<String>,
    roles: Vec<String>,
    /// The DPO's contact details, or the reason there is none, or "not appointed".
    dpo: Option<String>,
    representative: Option<String>,
}

#[derive(Serialize)]
struct JointView {
    name: String,
    purposes: Vec<String>,
    arrangement: Option<String>,
    condition: Option<String>,
}

#[derive(Serialize)]
struct PurposeView {
    id: String,
    name: String,
    description: Option<String>,
    /// Our role when it is not controller, with on whose behalf: "processor, on behalf of …".
    role: Option<String>,
    agreement: Option<String>,
    /// The legal basis with its article; absent when the policy names none.
    basis: Option<String>,
    /// With several bases: which applies when, in the policy's words.
    basis_note: Option<String>,
    legitimate_interest: Option<String>,
    legal_obligation: Option<String>,
    special_condition: Option<String>,
    criminal_authorisation: Option<String>,
    choice: Option<String>,
    withdraw: Option<String>,
    direct_marketing: bool,
    provision: Option<String>,
    consequence: Option<String>,
    approval: Option<String>,
    approval_audit: bool,
    subjects: Vec<String>,
    categories: Vec<String>,
    recipients: Vec<String>,
    note: Option<String>,
}

#[derive(Serialize)]
struct CategoryView {
    id: String,
    name: String,
    depth: usize,
    examples: Option<String>,
    flags: Vec<String>,
    source: String,
    handling: Option<String>,
    /// The retention in words, statutory retention included; empty when the policy states
    /// none.
    retention: String,
    /// The statement's own wording of the retention, when it says more than `retention`.
    retention_note: Option<String>,
    note: Option<String>,
}

#[derive(Serialize)]
struct RecipientView {
    name: String,
    kind: String,
    purpose: Option<String>,
    location: String,
    mechanism: String,
    /// Safeguards of a recipient without transfers (those with transfers show them there).
    safeguards: Option<String>,
    dpa: bool,
    conditions: Vec<String>,
    note: Option<String>,
}

#[derive(Serialize)]
struct TransferView {
    name: String,
    location: String,
    mechanism: String,
    safeguards: Option<String>,
    tia: bool,
}

#[derive(Serialize)]
struct MeasureView {
    kind: String,
    description: String,
    every: Option<String>,
}

#[derive(Serialize)]
struct AutomatedView {
    purpose: String,
    kind: String,
    logic: Option<String>,
    significance: Option<String>,
    consequences: Option<String>,
    safeguards: Option<String>,
}

#[derive(Serialize)]
struct RightView {
    label: String,
    article: String,
}

#[derive(Serialize)]
struct RightsView {
    offered: Vec<RightView>,
    channels: Vec<ChannelView>,
    /// The response period the policy promises (`[rights] response`).
    response: Option<String>,
    /// The law's period, attributed to the law, when the policy promises none (Art. 12(3)).
    response_law: Option<String>,
    extension: Option<String>,
    export_formats: Vec<String>,
    self_service: Option<String>,
    note: Option<String>,
}

#[derive(Serialize)]
struct AuthorityView {
    name: String,
    url: String,
}

#[derive(Serialize)]
struct BreachView {
    authority: Option<String>,
    subjects: Option<String>,
    note: Option<String>,
}

impl BreachView {
    fn is_empty(&self) -> bool {
        self.authority.is_none() && self.subjects.is_none() && self.note.is_none()
    }
}

#[derive(Serialize)]
struct NoticeView {
    material: Option<String>,
    subprocessor: Option<String>,
    channel: Option<String>,
    acceptance: Option<String>,
    history: Option<String>,
}

impl NoticeView {
    fn is_empty(&self) -> bool {
        self.material.is_none()
            && self.subprocessor.is_none()
            && self.channel.is_none()
            && self.acceptance.is_none()
            && self.history.is_none()
    }
}

#[derive(Serialize)]
struct CommitmentView {
    title: String,
    text: String,
}

type R<T> = Result<T, RenderError>;

/// Whether every word of `note` already appears in `said`: then the note repeats a fact the
/// statement states (the statement's own "24 months" beside the computed "24 months").
fn repeats(note: &str, said: &str) -> bool {
    let words = |s: &str| -> BTreeSet<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let said = words(said);
    let note = words(note);
    !note.is_empty() && note.is_subset(&said)
}

impl View {
    fn build(p: &Policy, lang: Lang, c: &Catalogue, options: &Options) -> R<View> {
        let tx = |t: &Option<Text>| {
            t.as_ref()
                .map(|t| t.get_or_any(lang).trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        let one = |t: &Text| t.get_or_any(lang).to_owned();
        let cat_name = |id: &str| {
            p.category(id)
                .map_or_else(|| id.to_owned(), |k| one(&k.name))
        };
        let rec_name = |id: &str| {
            p.recipient(id)
                .map_or_else(|| id.to_owned(), |k| k.name.clone())
        };
        let subj_name = |id: &str| {
            p.subject(id)
                .map_or_else(|| id.to_owned(), |k| one(&k.name))
        };
        let purpose_name = |id: &str| {
            p.purpose(id)
                .map_or_else(|| id.to_owned(), |k| one(&k.name))
        };
        let fill = |key: &str, var: &str, value: &str| -> R<String> {
            Ok(c.t(key)?.replace(&format!("{{{var}}}"), value))
        };
        let channels = |chs: &[m::Channel]| -> R<Vec<ChannelView>> {
            chs.iter()
                .map(|ch| {
                    Ok(ChannelView {
                        kind: c.label("channel", &ch.kind)?,
                        address: ch.address.clone(),
                        href: match ch.kind {
                            m::ChannelKind::Email => Some(format!("mailto:{}", ch.address)),
                            m::ChannelKind::Phone => {
                                Some(format!("tel:{}", ch.address.replace(' ', "")))
                            }
                            m::ChannelKind::Web if ch.address.starts_with("https://") => {
                                Some(ch.address.clone())
                            }
                            _ => None,
                        },
                    })
                })
                .collect()
        };

        let ctrl = &p.controller;
        let controller = ControllerView {
            name: ctrl.name.clone(),
            address: ctrl.address.clone(),
            registration: ctrl
                .registration
                .as_ref()
                .map(|r| format!("{} {}", r.register.to_uppercase(), r.number)),
            contacts: channels(&ctrl.contact)?,
            website: ctrl.website.clone(),
            roles: ctrl
                .roles
                .iter()
                .map(|r| c.label("role", r))
                .collect::<R<_>>()?,
            // Art. 13(1)(b): the DPO's contact details. Without one, the policy's reason says
            // so in its own words; only without a reason do we say "not appointed".
            dpo: match ctrl.dpo.as_ref() {
                None => None,
                Some(d) if d.appointed => Some(
                    [d.name.clone(), d.email.clone(), d.phone.clone()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(", "),
                )
                .filter(|s| !s.is_empty()),
                Some(d) => Some(match tx(&d.reason) {
                    Some(reason) => reason,
                    None => c.t("label.no_dpo")?.to_owned(),
                }),
            },
            representative: ctrl.representative.as_ref().map(|r| {
                [Some(r.name.clone()), r.address.clone(), r.email.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
        };

        let purposes = p
            .purposes
            .iter()
            .map(|x| {
                let role = if x.role == Role::Controller {
                    None
                } else {
                    let label = c.label("purpose_role", &x.role)?;
                    Some(match tx(&x.on_behalf_of) {
                        Some(whom) => {
                            format!(
                                "{label}, {} {}",
                                c.t("label.on_behalf_of")?,
                                lower_first(&whom)
                            )
                        }
                        None => label,
                    })
                };
                Ok(PurposeView {
                    id: x.id.clone(),
                    name: one(&x.name),
                    description: tx(&x.description),
                    role,
                    agreement: tx(&x.dpa),
                    // Alternatives joined by "or"; the policy's note says which applies when
                    // (Art. 13(1)(c)).
                    basis: c.bases(&x.bases)?,
                    basis_note: tx(&x.basis_note),
                    legitimate_interest: tx(&x.legitimate_interest),
                    legal_obligation: tx(&x.legal_obligation),
                    special_condition: x
                        .special_condition
                        .map(|s| -> R<String> {
                            let article = x
                                .special_condition_article
                                .unwrap_or_else(|| law::special_condition_article(s));
                            Ok(format!(
                                "{} ({})",
                                c.label("special_condition", &s)?,
                                c.cite(article)?
                            ))
                        })
                        .transpose()?,
                    criminal_authorisation: tx(&x.criminal_authorisation),
                    choice: if x.choice == Choice::None {
                        None
                    } else {
                        Some(c.label("choice", &x.choice)?)
                    },
                    withdraw: tx(&x.withdraw),
                    direct_marketing: x.direct_marketing,
                    provision: x
                        .provision
                        .as_ref()
                        .map(|pr| c.label("requirement", &pr.requirement))
                        .transpose()?,
                    consequence: x.provision.as_ref().and_then(|pr| tx(&pr.consequence)),
                    // The action is an id the app sends (`draft.send`), not words for a reader:
                    // the approval is said of the purpose it belongs to.
                    approval: x
                        .approval
                        .as_ref()
                        .map(|a| fill("label.approval_text", "approver", one(&a.approver).trim()))
                        .transpose()?,
                    approval_audit: x.approval.as_ref().is_some_and(|a| a.audit),
                    subjects: x.subjects.iter().map(|s| subj_name(s)).collect(),
                    categories: x.categories.iter().map(|k| cat_name(k)).collect(),
                    recipients: x.recipients.iter().map(|k| rec_name(k)).collect(),
                    note: tx(&x.note),
                })
            })
            .collect::<R<Vec<_>>>()?;

        let general_note = p.retention.as_ref().and_then(|r| tx(&r.note));
        let categories = p
            .categories
            .iter()
            .map(|k| {
                let mut flags = Vec::new();
                if let Some(s) = &k.special {
                    flags.push(format!(
                        "{}: {}",
                        c.t("label.special")?,
                        c.label("special_kind", s)?
                    ));
                }
                if k.criminal {
                    flags.push(c.t("label.criminal")?.to_owned());
                }
                let source = match tx(&k.source.description) {
                    Some(d) if k.source.is_indirect() => {
                        format!("{}: {d}", c.label("source", &k.source.kind)?)
                    }
                    Some(d) => d,
                    None => c.label("source", &k.source.kind)?,
                };
                let retention = if k.stored {
                    match &k.retention {
                        Some(ret) => {
                            let words = retention_words(p, ret, lang, c)?;
                            match statutory_words(ret, lang, c)? {
                                Some(s) if words.is_empty() => s,
                                Some(s) => format!("{words}; {s}"),
                                None => words,
                            }
                        }
                        None => String::new(),
                    }
                } else {
                    c.t("label.never_stored")?.to_owned()
                };
                // The general rule's note is said once, beside that rule, not in every row
                // that inherits it.
                let retention_note = k
                    .retention
                    .as_ref()
                    .and_then(|r| tx(&r.note))
                    .filter(|note| !repeats(note, &retention))
                    .filter(|note| general_note.as_ref() != Some(note));
                Ok(CategoryView {
                    id: k.id.clone(),
                    name: one(&k.name),
                    depth: k.depth,
                    examples: tx(&k.examples),
                    flags,
                    source,
                    handling: tx(&k.handling),
                    retention,
                    retention_note,
                    note: tx(&k.note),
                })
            })
            .collect::<R<Vec<_>>>()?;

        let mut recipients = Vec::new();
        let mut transfers = Vec::new();
        for x in &p.recipients {
            let mut conditions = Vec::new();
            if x.optional {
                conditions.push(c.t("label.optional")?.to_owned());
            }
            if x.tenant_opt_in {
                conditions.push(c.t("label.tenant_opt_in")?.to_owned());
            }
            let location = match tx(&x.location_note) {
                Some(note) => note,
                None if x.locations.is_empty() => c.t("label.location_unknown")?.to_owned(),
                None => x.locations.join(", "),
            };
            let mechanism = mechanism_words(x, c)?;
            if !x.third_countries.is_empty() {
                // Art. 13(1)(f): the transfer, its safeguards and where to get a copy.
                transfers.push(TransferView {
                    name: x.name.clone(),
                    location: location.clone(),
                    mechanism: mechanism.clone(),
                    safeguards: tx(&x.safeguards),
                    tia: x.tia == Some(true),
                });
            }
            recipients.push(RecipientView {
                name: x.name.clone(),
                kind: c.label("recipient_kind", &x.kind)?,
                purpose: tx(&x.purpose),
                location,
                mechanism,
                safeguards: if x.third_countries.is_empty() {
                    tx(&x.safeguards)
                } else {
                    None
                },
                dpa: x.dpa == Some(true),
                conditions,
                note: tx(&x.note),
            });
        }
        // "Processed within the EEA" is a conclusion: drawn only when the controller's and
        // every recipient's locations are known and all in the EEA (Art. 13(1)(f)), and never
        // beside a policy-wide transfer clause, which says in its own words where data goes.
        let in_eea = |code: &str| law::zone(code) == Some(Zone::Eea);
        let eea_only = p.transfer.is_none()
            && p.controller.country.as_deref().is_some_and(in_eea)
            && p.recipients
                .iter()
                .all(|x| !x.locations.is_empty() && x.locations.iter().all(|l| in_eea(l)));

        let measures = p
            .measures
            .iter()
            .map(|x| {
                Ok(MeasureView {
                    kind: c.label("measure", &x.kind)?,
                    description: one(&x.description),
                    every: x.every.as_ref().map(|e| c.period(e)).transpose()?,
                })
            })
            .collect::<R<Vec<_>>>()?;

        let mut automated = Vec::new();
        let mut no_automated = Vec::new();
        for (x, a) in p
            .purposes
            .iter()
            .filter_map(|x| x.automated_decision.as_ref().map(|a| (x, a)))
        {
            let v = AutomatedView {
                purpose: one(&x.name),
                kind: c.label("automated_kind", &a.kind)?,
                logic: tx(&a.logic),
                significance: tx(&a.significance),
                consequences: tx(&a.consequences),
                safeguards: tx(&a.safeguards),
            };
            if a.kind == AutomatedKind::None {
                if v.logic.is_some() || v.safeguards.is_some() {
                    no_automated.push(v);
                }
            } else {
                automated.push(v);
            }
        }
        // Art. 13(2)(f): saying there is no Art. 22 decision is a statement about every
        // purpose, so it is made only when every purpose says what it decides.
        let no_automated_claim = !p.purposes.is_empty()
            && p.purposes.iter().all(|x| {
                x.automated_decision
                    .as_ref()
                    .is_some_and(|a| a.kind != AutomatedKind::SolelyAutomated)
            });

        let rights = RightsView {
            offered: p
                .rights
                .offered
                .iter()
                .map(|rt| {
                    Ok(RightView {
                        label: c.label("right", rt)?,
                        article: c.cite(rt.article())?,
                    })
                })
                .collect::<R<_>>()?,
            channels: channels(&p.rights.channels)?,
            // Art. 12(3) sets one month; a policy that states no period has promised nothing
            // beyond the law, so the law is cited as the law.
            response: if p.rights.response_stated {
                Some(fill(
                    "label.response",
                    "period",
                    &c.period(&p.rights.response)?,
                )?)
            } else {
                None
            },
            response_law: if p.rights.response_stated {
                None
            } else {
                Some(c.t("label.response_law")?.to_owned())
            },
            extension: p
                .rights
                .extension
                .as_ref()
                .map(|e| -> R<String> { fill("label.extension", "period", &c.period(e)?) })
                .transpose()?,
            export_formats: p
                .rights
                .export_formats
                .iter()
                .map(|f| c.label("export_format", f))
                .collect::<R<_>>()?,
            self_service: tx(&p.rights.self_service),
            note: tx(&p.rights.note),
        };

        let complaint = p
            .rights
            .complaint
            .iter()
            .map(|a| AuthorityView {
                name: authority_name(a, lang),
                url: a.url.clone(),
            })
            .collect();

        let breach = BreachView {
            authority: p
                .breach
                .authority_within
                .as_ref()
                .map(|w| -> R<String> { fill("label.breach_authority", "period", &c.period(w)?) })
                .transpose()?,
            subjects: tx(&p.breach.subjects),
            note: tx(&p.breach.note),
        };
        let notice = NoticeView {
            material: p
                .notice
                .material_change
                .as_ref()
                .map(|w| -> R<String> { fill("label.notice_material", "period", &c.period(w)?) })
                .transpose()?,
            subprocessor: p
                .notice
                .new_subprocessor
                .as_ref()
                .map(|w| -> R<String> {
                    fill("label.notice_subprocessor", "period", &c.period(w)?)
                })
                .transpose()?,
            channel: tx(&p.notice.channel),
            acceptance: if p.notice.acceptance == Acceptance::NextLogin {
                Some(c.t("label.acceptance_next_login")?.to_owned())
            } else {
                None
            },
            history: tx(&p.notice.history),
        };
        let commitments: Vec<CommitmentView> = p
            .commitments
            .iter()
            .map(|x| CommitmentView {
                title: one(&x.title),
                text: one(&x.text),
            })
            .collect();

        let languages = if options.language_links {
            p.meta
                .languages
                .iter()
                .filter(|l| **l != lang)
                .map(|l| LangLink {
                    code: l.code(),
                    name: l.native_name(),
                    href: format!("?lang={}", l.code()),
                })
                .collect()
        } else {
            Vec::new()
        };

        let joint: Vec<JointView> = p
            .joint_controllers
            .iter()
            .map(|j| JointView {
                name: one(&j.name),
                purposes: j.purposes.iter().map(|x| purpose_name(x)).collect(),
                arrangement: tx(&j.arrangement),
                condition: tx(&j.condition),
            })
            .collect();

        // The cookie table (ePrivacy Directive Art. 5(3)). Whether a cookie waits for consent
        // is the company's word only when the policy says it (`consent`, or a `basis` or
        // `choice` that settles it); otherwise the table says what the law requires of its
        // stated type, attributed to the law, as the response period is.
        let cookies = p
            .cookies
            .iter()
            .map(|k| -> R<CookieView> {
                let consent = c.t(match k.consent_stated {
                    Some(true) => "label.cookie_consent_yes",
                    Some(false) => "label.cookie_consent_no",
                    None if k.consent_required_by_law => "label.cookie_consent_law",
                    None => "label.cookie_consent_law_no",
                })?;
                Ok(CookieView {
                    name: k.name.clone(),
                    provider: k.provider.clone().filter(|s| !s.trim().is_empty()),
                    purpose: tx(&k.purpose),
                    kind: c.label("cookie_type", &k.kind)?,
                    lifetime: match &k.lifetime {
                        Some(m::Lifetime::Session) => Some(c.t("label.cookie_session")?.to_owned()),
                        Some(m::Lifetime::Period(per)) => Some(c.period(per)?),
                        None => None,
                    },
                    party: k
                        .party
                        .map(|party| c.label("cookie_party", &party))
                        .transpose()?,
                    consent: consent.to_owned(),
                })
            })
            .collect::<R<Vec<_>>>()?;
        // Art. 13(1)(f): the policy-wide clause, in the statement's words, with the mechanisms
        // it names ("none stated" when it names none, as for a recipient).
        let transfer_clause = p
            .transfer
            .as_ref()
            .map(|t| -> R<TransferClauseView> {
                let description = tx(&t.description);
                let mechanisms = if t.outside_eea {
                    let words = if t.mechanisms.is_empty() {
                        c.t("label.none_stated")?.to_owned()
                    } else {
                        t.mechanisms
                            .iter()
                            .map(|mch| c.label("mechanism", mch))
                            .collect::<R<Vec<_>>>()?
                            .join("; ")
                    };
                    Some(words)
                } else {
                    None
                };
                Ok(TransferClauseView {
                    none_outside_eea: !t.outside_eea && description.is_none(),
                    description,
                    mechanisms,
                    locations: if t.outside_eea && !t.locations.is_empty() {
                        Some(t.locations.join(", "))
                    } else {
                        None
                    },
                    safeguards: tx(&t.safeguards),
                })
            })
            .transpose()?;
        // The rule for all other data, said once: in words, with the statement's own wording
        // when it says more; a rule with nothing but that wording is said in it.
        let general_words = p
            .retention
            .as_ref()
            .map(|ret| retention_words(p, ret, lang, c))
            .transpose()?
            .filter(|words| !words.is_empty());
        let (retention_general, retention_general_note) = match (general_words, general_note) {
            (Some(words), Some(note)) if !repeats(&note, &words) => (Some(words), Some(note)),
            (Some(words), _) => (Some(words), None),
            (None, note) => (note, None),
        };
        let complaint_scopes = p
            .rights
            .complaint_scopes
            .iter()
            .map(|sc| c.label("complaint_scope", sc))
            .collect::<R<Vec<_>>>()?;

        let heading = |id: &str| -> R<String> { Ok(c.t(&format!("heading.{id}"))?.to_owned()) };
        let mut toc: Vec<(&'static str, String)> = Vec::new();
        let present: [(&'static str, bool); 13] = [
            ("controller", true),
            ("purposes", !purposes.is_empty()),
            ("categories", !categories.is_empty()),
            ("recipients", !recipients.is_empty()),
            (
                "transfers",
                !transfers.is_empty() || eea_only || transfer_clause.is_some(),
            ),
            ("cookies", !cookies.is_empty()),
            ("security", !measures.is_empty()),
            (
                "automated",
                !automated.is_empty() || !no_automated.is_empty() || no_automated_claim,
            ),
            ("rights", true),
            ("complaint", true),
            ("breach", !breach.is_empty()),
            ("changes", !notice.is_empty()),
            ("commitments", !commitments.is_empty()),
        ];
        for (id, shown) in present {
            if shown {
                toc.push((id, heading(id)?));
            }
        }

        Ok(View {
            lang: lang.code(),
            title: tx(&p.meta.title).unwrap_or(c.t("meta.title")?.to_owned()),
            version: p.meta.version.clone(),
            updated: p.meta.updated.as_deref().map(|d| c.date(d)),
            updated_iso: p.meta.updated.clone(),
            scope: tx(&p.meta.scope),
            url: p.meta.url.clone(),
            languages,
            toc,
            controller,
            joint,
            purposes,
            categories,
            recipients,
            transfers,
            eea_only,
            measures,
            automated,
            no_automated,
            no_automated_claim,
            rights,
            complaint,
            breach,
            notice,
            commitments,
            enforced: enforced(p, c)?,
            cookies,
            transfer_clause,
            retention_general,
            retention_general_note,
            complaint_scopes,
        })
    }
}

/// What Custos enforces of a policy's statement, as the footer lists it: only what a running
/// Custos does by itself, never the company's own measures (pen tests, HSTS) that it cannot
/// see.
fn enforced(p: &Policy, c: &Catalogue) -> R<Vec<String>> {
    let mut out = Vec::new();
    let purged = p
        .categories
        .iter()
        .filter(|k| {
            k.stored
                && k.retention
                    .as_ref()
                    .is_some_and(|r| r.period.is_some() || !r.until.is_empty())
        })
        .count();
    match purged {
        0 => {}
        1 => out.push(c.t("enforced.retention_one")?.to_owned()),
        n => out.push(c.t("enforced.retention")?.replace("{n}", &n.to_string())),
    }
    // A never-stored category's children are never stored either; the parent names them.
    let never: Vec<String> = p
        .categories
        .iter()
        .filter(|k| {
            !k.stored
                && k.parent
                    .as_deref()
                    .and_then(|parent| p.category(parent))
                    .is_none_or(|parent| parent.stored)
        })
        .map(|k| k.name.get_or_any(c.lang).to_lowercase())
        .collect();
    if !never.is_empty() {
        out.push(
            c.t("enforced.never_stored")?
                .replace("{names}", &never.join(", ")),
        );
    }
    out.push(c.t("enforced.rights")?.to_owned());
    if p.uses_consent() {
        out.push(c.t("enforced.consent")?.to_owned());
    }
    if !p.recipients.is_empty() {
        out.push(c.t("enforced.recipients")?.to_owned());
    }
    if !p.approval_actions().is_empty() {
        out.push(c.t("enforced.approval")?.to_owned());
    }
    out.push(c.t("enforced.audit")?.to_owned());
    Ok(out)
}

/// `Onze klant` → `onze klant`, for a name that follows a word in a sentence; an acronym or a
/// proper name (second letter upper case, or a name with a capital after the first word) is
/// left as written.
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if a.is_uppercase() && b.is_lowercase() => {
            let rest: String = s.chars().skip(1).collect();
            format!("{}{rest}", a.to_lowercase())
        }
        _ => s.to_owned(),
    }
}

/// A recipient's transfer mechanisms in words; for a recipient in the EEA "none (within the
/// EEA)", for one whose location is unknown "not stated", and for a transfer without a
/// mechanism "none stated" (the checker reports it, Art. 44).
fn mechanism_words(x: &r::Recipient, c: &Catalogue) -> R<String> {
    if x.transfer.is_empty() {
        return Ok(if x.locations.is_empty() {
            c.t("label.location_unknown")?.to_owned()
        } else if x.third_countries.is_empty() {
            c.label("mechanism", &Mechanism::None)?
        } else {
            c.t("label.none_stated")?.to_owned()
        });
    }
    let mut labels = Vec::new();
    for mch in &x.transfer {
        let mut label = c.label("mechanism", mch)?;
        if *mch == Mechanism::Scc
            && let Some(module) = x.scc_module
        {
            label.push_str(", ");
            label.push_str(
                &c.t("label.scc_module")?
                    .replace("{module}", &module.to_string()),
            );
        }
        if *mch == Mechanism::Derogation
            && let Some(point) = &x.derogation
        {
            label = c.t("label.derogation")?.replace("{point}", point);
        }
        labels.push(label);
    }
    Ok(labels.join("; "))
}

/// Statutory retention in words: `statutory retention (art. 52 AWR)` when it lasts as long as
/// the retention period, else with its own period.
fn statutory_words(ret: &r::Retention, lang: Lang, c: &Catalogue) -> R<Option<String>> {
    let Some(s) = &ret.statutory else {
        return Ok(None);
    };
    let law = s.law.get_or_any(lang).trim().to_owned();
    let label = c.t("label.statutory")?;
    Ok(Some(match &s.period {
        Some(per) if Some(per) != ret.period.as_ref() => {
            format!("{label}: {} ({law})", c.period(per)?)
        }
        _ => format!("{label} ({law})"),
    }))
}

fn authority_name(a: &r::AuthorityRef, lang: Lang) -> String {
    match lang {
        Lang::En => a.name_en.clone(),
        Lang::Nl => a.name_nl.clone(),
    }
}

/// A retention rule in words: "7 days", "30 days after the draft is decided", "deleted as soon
/// as the transcript is created", with tiers, tenant override bounds, criteria and the purge
/// cadence appended. Empty when the rule states none of these (the checker reports it).
pub fn retention_words(p: &Policy, ret: &r::Retention, lang: Lang, c: &Catalogue) -> R<String> {
    let clock = |id: &str| -> R<String> {
        if let Ok(label) = c.t(&format!("clock.{id}")) {
            return Ok(label.to_owned());
        }
        let ev = p.events.iter().find(|e| e.id == id);
        Ok(ev
            .and_then(|e| e.name.as_ref())
            .map_or_else(|| id.to_owned(), |n| n.get_or_any(lang).to_owned()))
    };
    let events = ret
        .until
        .iter()
        .map(|e| clock(e))
        .collect::<R<Vec<_>>>()?
        .join(c.t("retention.or")?);
    let mut parts: Vec<String> = Vec::new();
    match &ret.period {
        Some(per) if per.is_zero() => {
            let what = if ret.until.is_empty() {
                clock(&ret.from)?
            } else {
                events.clone()
            };
            parts.push(c.t("retention.immediately")?.replace("{events}", &what));
        }
        Some(per) => {
            let words = c.period(per)?;
            let base = if ret.from == "created" {
                c.t("retention.from_created")?.replace("{period}", &words)
            } else {
                c.t("retention.after")?
                    .replace("{period}", &words)
                    .replace("{clock}", &clock(&ret.from)?)
            };
            if ret.until.is_empty() {
                parts.push(base);
            } else {
                parts.push(format!(
                    "{base}{}{}",
                    c.t("retention.or")?,
                    c.t("retention.until")?.replace("{events}", &events)
                ));
            }
        }
        None if !ret.until.is_empty() => {
            parts.push(c.t("retention.until")?.replace("{events}", &events))
        }
        None => {}
    }
    for t in &ret.tiers {
        let tier = p
            .tiers
            .iter()
            .find(|x| x.id == t.tier)
            .and_then(|x| x.name.as_ref())
            .map_or_else(|| t.tier.clone(), |n| n.get_or_any(lang).to_owned());
        parts.push(
            c.t("label.tier")?
                .replace("{tier}", &tier)
                .replace("{period}", &c.period(&t.period)?),
        );
    }
    if let Some(b) = &ret.tenant_override {
        let s = match (&b.min, &b.max) {
            (Some(min), Some(max)) => c
                .t("label.override")?
                .replace("{min}", &c.period(min)?)
                .replace("{max}", &c.period(max)?),
            (Some(min), None) => c.t("label.override_min")?.replace("{min}", &c.period(min)?),
            (None, Some(max)) => c.t("label.override_max")?.replace("{max}", &c.period(max)?),
            (None, None) => c.t("label.override_any")?.to_owned(),
        };
        if !s.is_empty() {
            parts.push(s);
        }
    }
    if let Some(cr) = ret
        .criteria
        .as_ref()
        .map(|t| t.get_or_any(lang))
        .filter(|s| !s.trim().is_empty())
    {
        parts.push(cr.to_owned());
    }
    if let Some(every) = &ret.purge_every {
        parts.push(c.t("label.purge")?.replace("{period}", &c.period(every)?));
    }
    Ok(parts.join(c.t("retention.and_then")?))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::SourceFile;

    #[test]
    fn both_catalogues_have_exactly_the_same_keys() {
        let en = Catalogue::get(Lang::En).unwrap().keys();
        let nl = Catalogue::get(Lang::Nl).unwrap().keys();
        let only_en: Vec<_> = en.iter().filter(|k| !nl.contains(k)).collect();
        let only_nl: Vec<_> = nl.iter().filter(|k| !en.contains(k)).collect();
        assert!(
            only_en.is_empty() && only_nl.is_empty(),
            "only in en: {only_en:?}; only in nl: {only_nl:?}"
        );
    }

    #[test]
    fn every_enum_value_has_a_label_in_every_language() {
        use crate::model::*;
        for lang in Lang::ALL {
            let c = Catalogue::get(lang).unwrap();
            for r in Right::ALL {
                c.label("right", &r).unwrap();
            }
            for b in [
                Basis::Consent,
                Basis::Contract,
                Basis::LegalObligation,
                Basis::VitalInterests,
                Basis::PublicTask,
                Basis::LegitimateInterest,
            ] {
                c.label("basis", &b).unwrap();
            }
            for mch in [
                Mechanism::None,
                Mechanism::Adequacy,
                Mechanism::Dpf,
                Mechanism::Scc,
                Mechanism::Bcr,
                Mechanism::CodeOfConduct,
                Mechanism::Certification,
                Mechanism::AdHocClauses,
                Mechanism::Derogation,
                Mechanism::PrivacyShield,
                Mechanism::Scc2010,
            ] {
                c.label("mechanism", &mch).unwrap();
            }
            for k in [
                CookieType::StrictlyNecessary,
                CookieType::Preferences,
                CookieType::Analytics,
                CookieType::Marketing,
            ] {
                c.label("cookie_type", &k).unwrap();
            }
            for party in [CookieParty::First, CookieParty::Third] {
                c.label("cookie_party", &party).unwrap();
            }
            for (_, scope) in law::ComplaintScope::ALL {
                c.label("complaint_scope", &scope).unwrap();
            }
            c.label("special_kind", &SpecialKind::Unspecified).unwrap();
            for u in [
                "1 year",
                "2 years",
                "1 month",
                "3 months",
                "1 week",
                "2 weeks",
                "1 day",
                "7 days",
                "72 hours",
                "1 minute",
                "5 minutes",
            ] {
                c.period(&Period::parse(u).unwrap()).unwrap();
            }
        }
    }

    #[test]
    fn periods_are_spelled_in_the_statement_language() {
        let nl = Catalogue::get(Lang::Nl).unwrap();
        let en = Catalogue::get(Lang::En).unwrap();
        assert_eq!(
            nl.period(&Period::parse("7 days").unwrap()).unwrap(),
            "7 dagen"
        );
        assert_eq!(
            nl.period(&Period::parse("1 month").unwrap()).unwrap(),
            "1 maand"
        );
        assert_eq!(
            en.period(&Period::parse("P7Y").unwrap()).unwrap(),
            "7 years"
        );
    }

    const POLICY: &str = r#"
[policy]
id = "t"
languages = ["en", "nl"]
[controller]
name = "Acme B.V."
contact = [{ kind = "email", address = "privacy@acme.example" }]
authority = "nl-ap"
[[event]]
id = "draft.decided"
name = { en = "the draft is approved or skipped", nl = "het goedkeuren of overslaan van het concept" }
[[event]]
id = "transcript.created"
name = { en = "the transcript is made", nl = "de transcriptie gemaakt is" }
[[category]]
id = "drafts"
name = { en = "AI drafts", nl = "AI-concepten" }
retention = { period = "30 days", from = "draft.decided" }
[[category]]
id = "audio"
name = { en = "Raw audio", nl = "Ruwe audio" }
retention = { period = "0 days", until = ["transcript.created"] }
[[category]]
id = "wa"
name = { en = "WhatsApp <messages>", nl = "WhatsApp-berichten" }
retention = { period = "90 days", tenant_override = { min = "7 days", max = "1 year" } }
[[recipient]]
id = "openai"
name = "OpenAI | API"
locations = ["US"]
transfer = ["dpf", "scc"]
"#;

    fn rendered(lang: Lang, format: Format) -> String {
        let loaded = crate::load_source(SourceFile::new("t.toml", POLICY)).unwrap();
        render(&loaded.policy, lang, format).unwrap()
    }

    #[test]
    fn retention_rules_read_as_sentences_in_both_languages() {
        let en = rendered(Lang::En, Format::Markdown);
        assert!(
            en.contains("30 days after the draft is approved or skipped"),
            "{en}"
        );
        assert!(
            en.contains("deleted as soon as the transcript is made"),
            "{en}"
        );
        assert!(
            en.contains("90 days; customers can choose between 7 days and 1 year"),
            "{en}"
        );
        let nl = rendered(Lang::Nl, Format::Markdown);
        assert!(
            nl.contains("30 dagen na het goedkeuren of overslaan van het concept"),
            "{nl}"
        );
        assert!(
            nl.contains("verwijderd zodra de transcriptie gemaakt is"),
            "{nl}"
        );
        assert!(
            nl.contains("90 dagen; klanten kunnen kiezen tussen 7 dagen en 1 jaar"),
            "{nl}"
        );
    }

    #[test]
    fn markdown_table_cells_escape_pipes_and_html_escapes_markup() {
        let md = rendered(Lang::En, Format::Markdown);
        assert!(md.contains("OpenAI \\| API"), "{md}");
        let html = rendered(Lang::En, Format::Html);
        assert!(html.contains("WhatsApp &lt;messages&gt;"), "{html}");
        assert!(!html.contains("WhatsApp <messages>"));
    }

    #[test]
    fn html_is_a_standalone_page_in_the_statement_language() {
        let html = rendered(Lang::Nl, Format::Html);
        assert!(html.starts_with("<!doctype html>"), "{}", &html[..40]);
        assert!(html.contains("<html lang=\"nl\">"));
        assert!(html.contains("<main") && html.contains("</html>"));
        assert!(
            html.contains("<th scope=\"col\">Bewaartermijn</th>"),
            "{html}"
        );
    }

    #[test]
    fn json_is_the_resolved_policy_with_defaults_applied() {
        let json: serde_json::Value =
            serde_json::from_str(&rendered(Lang::En, Format::Json)).unwrap();
        assert_eq!(json["rights"]["response"], "P1M");
        assert_eq!(json["categories"][0]["retention"]["from"], "draft.decided");
        assert_eq!(json["categories"][1]["key_domain"], "default");
        assert_eq!(json["recipients"][0]["third_countries"][0], "US");
        assert_eq!(json["rights"]["complaint"][0]["id"], "nl-ap");
    }

    // ---- issue 22: render only what the policy says ------------------------------------------

    fn load(src: &str) -> Policy {
        match crate::load_source(SourceFile::new("p.toml", src)) {
            Ok(l) => l.policy,
            Err(e) => panic!("{e:?}\n{src}"),
        }
    }

    fn md(src: &str, lang: Lang) -> String {
        render(&load(src), lang, Format::Markdown).unwrap()
    }

    /// A policy with nothing but what every statement needs, and room for one more field at
    /// each place a field can go.
    fn minimal(
        policy: &str,
        controller: &str,
        category: &str,
        purpose: &str,
        tables: &str,
    ) -> String {
        format!(
            r#"
[policy]
languages = ["en", "nl"]
{policy}
[controller]
name = "Acme B.V."
contact = [{{ kind = "email", address = "privacy@acme.example" }}]
{controller}
[[category]]
id = "account"
name = {{ en = "Account", nl = "Account" }}
{category}
[[purpose]]
id = "service"
name = {{ en = "Service", nl = "Dienst" }}
categories = ["account"]
{purpose}
{tables}
"#
        )
    }

    /// Every sentence type of the statement, with the policy field it comes from: rendered
    /// without the field, the sentence is absent; with it, present. (Issue 22: rendering a
    /// policy never states a fact that is not in it; Art. 12(1), 13, 14 GDPR.)
    #[test]
    fn statement_sentences_come_from_their_policy_fields() {
        // (field, [policy] keys, [controller] keys, [[category]] keys, [[purpose]] keys,
        //  further tables, a sentence in English, the same in Dutch)
        type Case = (
            &'static str,
            &'static str,
            &'static str,
            &'static str,
            &'static str,
            &'static str,
            &'static str,
            &'static str,
        );
        const CASES: &[Case] = &[
            (
                "policy.updated",
                r#"updated = "2026-05-21""#,
                "",
                "",
                "",
                "",
                "Last updated: 21 May 2026",
                "Laatst bijgewerkt: 21 mei 2026",
            ),
            (
                "policy.version",
                r#"version = "3.1""#,
                "",
                "",
                "",
                "",
                "Version 3.1",
                "Versie 3.1",
            ),
            (
                "policy.scope",
                r#"scope = "The app""#,
                "",
                "",
                "",
                "",
                "**Scope:** The app",
                "**Reikwijdte:** The app",
            ),
            (
                "controller.registration",
                "",
                r#"registration = { register = "kvk", number = "123" }"#,
                "",
                "",
                "",
                "Registration: KVK 123",
                "Inschrijving: KVK 123",
            ),
            (
                "controller.dpo",
                "",
                r#"dpo = { appointed = true, email = "dpo@acme.example" }"#,
                "",
                "",
                "",
                "Data protection officer: dpo@acme.example",
                "Functionaris voor gegevensbescherming: dpo@acme.example",
            ),
            (
                "controller.dpo.appointed = false",
                "",
                r#"dpo = { appointed = false }"#,
                "",
                "",
                "",
                "Data protection officer: not appointed",
                "Functionaris voor gegevensbescherming: niet aangesteld",
            ),
            (
                "controller.country + every recipient's location",
                "",
                r#"country = "NL""#,
                "",
                "",
                "",
                "Personal data is processed within the European Economic Area.",
                "Persoonsgegevens worden verwerkt binnen de Europese Economische Ruimte.",
            ),
            (
                "purpose.basis",
                "",
                "",
                "",
                r#"basis = "contract""#,
                "",
                "Legal basis: Necessary for the performance of a contract (Art. 6(1)(b) GDPR)",
                "Rechtsgrond: Noodzakelijk voor de uitvoering van een overeenkomst (art. 6 lid 1 onder b AVG)",
            ),
            (
                "purpose.legitimate_interest",
                "",
                "",
                "",
                r#"legitimate_interest = "Fraud prevention""#,
                "",
                "Legitimate interest: Fraud prevention",
                "Gerechtvaardigd belang: Fraud prevention",
            ),
            (
                "purpose.choice",
                "",
                "",
                "",
                r#"choice = "opt_in""#,
                "",
                "Your choice: Only if you switch it on",
                "Uw keuze: Alleen als u het aanzet",
            ),
            (
                "purpose.direct_marketing",
                "",
                "",
                "",
                "direct_marketing = true",
                "",
                "This is direct marketing",
                "Dit is direct marketing",
            ),
            (
                "purpose.provision",
                "",
                "",
                "",
                r#"provision = { requirement = "contractual" }"#,
                "",
                "Must you provide the data? Required by the contract",
                "Moet u de gegevens verstrekken? Verplicht volgens de overeenkomst",
            ),
            (
                "purpose.approval",
                "",
                "",
                "",
                r#"approval = { action = "draft.send", approver = "A support lead" }"#,
                "",
                "Human approval: A support lead approves it before it is carried out.",
                "Menselijke goedkeuring: A support lead keurt dit goed voordat het wordt uitgevoerd.",
            ),
            (
                "purpose.approval (footer)",
                "",
                "",
                "",
                r#"approval = { action = "draft.send", approver = "A lead" }"#,
                "",
                "human approval before the steps that require it",
                "menselijke goedkeuring vóór de stappen",
            ),
            (
                "purpose.role + on_behalf_of",
                "",
                "",
                "",
                "role = \"processor\"\non_behalf_of = \"Our customers\"",
                "",
                "Our role: processor, on behalf of our customers",
                "Onze rol: verwerker, namens our customers",
            ),
            (
                "purpose.automated_decision (none, on every purpose)",
                "",
                "",
                "",
                r#"automated_decision = { kind = "none" }"#,
                "",
                "We do not take decisions based solely on automated processing",
                "Wij nemen geen besluiten die uitsluitend",
            ),
            (
                "purpose.automated_decision (profiling)",
                "",
                "",
                "",
                r#"automated_decision = { kind = "profiling", logic = "Scores by use" }"#,
                "",
                "Logic involved: Scores by use",
                "Onderliggende logica: Scores by use",
            ),
            (
                "purpose.basis = consent (footer)",
                "",
                "",
                "",
                r#"basis = "consent""#,
                "",
                "the record of consent given and withdrawn",
                "het vastleggen van toestemming",
            ),
            (
                "category.retention",
                "",
                "",
                r#"retention = { period = "2 years" }"#,
                "",
                "",
                "| 2 years |",
                "| 2 jaar |",
            ),
            (
                "category.retention (footer)",
                "",
                "",
                r#"retention = { period = "2 years" }"#,
                "",
                "",
                "data in 1 category is deleted automatically",
                "gegevens in 1 categorie worden na afloop automatisch verwijderd",
            ),
            (
                "category.retention.statutory",
                "",
                "",
                r#"retention = { period = "7 years", statutory = { law = "art. 52 AWR" } }"#,
                "",
                "",
                "7 years; statutory retention (art. 52 AWR)",
                "7 jaar; wettelijke bewaarplicht (art. 52 AWR)",
            ),
            (
                "category.stored = false",
                "",
                "",
                "stored = false",
                "",
                "",
                "the ban on storing account",
                "het verbod op opslag van account",
            ),
            (
                "category.special",
                "",
                "",
                r#"special = "health""#,
                "",
                "",
                "Special category of personal data (Art. 9 GDPR): Health",
                "Bijzondere categorie van persoonsgegevens (art. 9 AVG): Gezondheid",
            ),
            (
                "recipient",
                "",
                "",
                "",
                "",
                "[[recipient]]\nid = \"host\"\nname = \"HostCo\"\nlocations = [\"DE\"]",
                "## Who receives personal data",
                "## Wie persoonsgegevens ontvangt",
            ),
            (
                "recipient (footer)",
                "",
                "",
                "",
                "",
                "[[recipient]]\nid = \"host\"\nname = \"HostCo\"",
                "telling recipients of rectification",
                "het informeren van ontvangers",
            ),
            (
                "recipient.locations outside the EEA",
                "",
                "",
                "",
                "",
                "[[recipient]]\nid = \"host\"\nname = \"HostCo\"\nlocations = [\"US\"]",
                "**HostCo** (US): none stated.",
                "**HostCo** (US): geen vermeld.",
            ),
            (
                "recipient.transfer",
                "",
                "",
                "",
                "",
                "[[recipient]]\nid = \"host\"\nname = \"HostCo\"\nlocations = [\"US\"]\ntransfer = [\"scc\"]\nscc_module = 2",
                "Standard contractual clauses (Art. 46(2)(c) GDPR), module 2",
                "Standaardbepalingen inzake gegevensbescherming (art. 46 lid 2 onder c AVG), module 2",
            ),
            (
                "measure",
                "",
                "",
                "",
                "",
                "[[measure]]\nid = \"tls\"\nkind = \"encryption_in_transit\"\ndescription = \"TLS 1.3\"",
                "**Encryption in transit**: TLS 1.3",
                "**Versleuteling tijdens transport**: TLS 1.3",
            ),
            (
                "breach.authority_within",
                "",
                "",
                "",
                "",
                "[breach]\nauthority_within = \"72 hours\"",
                "We notify a personal data breach to the supervisory authority within 72 hours",
                "Wij melden een inbreuk in verband met persoonsgegevens binnen 72 uur",
            ),
            (
                "rights.response",
                "",
                "",
                "",
                "",
                "[rights]\nresponse = \"1 month\"",
                "We answer within 1 month of receiving your request.",
                "Wij reageren binnen 1 maand na ontvangst van uw verzoek.",
            ),
            (
                "rights.extension",
                "",
                "",
                "",
                "",
                "[rights]\nextension = \"2 months\"",
                "we may extend that period by up to 2 months",
                "met ten hoogste 2 maanden verlengen",
            ),
            (
                "rights.offered",
                "",
                "",
                "",
                "",
                "[rights]\noffered = [\"access\"]",
                "- Right of access to your personal data (Art. 15 GDPR)",
                "- Recht van inzage in uw persoonsgegevens (art. 15 AVG)",
            ),
            (
                "rights.export_formats",
                "",
                "",
                "",
                "",
                "[rights]\nexport_formats = [\"json\"]",
                "You receive a copy of your data in these formats: JSON.",
                "U ontvangt een kopie van uw gegevens in deze formaten: JSON.",
            ),
            (
                "notice.material_change",
                "",
                "",
                "",
                "",
                "[notice]\nmaterial_change = \"30 days\"",
                "We announce material changes at least 30 days",
                "Wezenlijke wijzigingen kondigen wij ten minste 30 dagen",
            ),
            (
                "purpose.basis (several)",
                "",
                "",
                "",
                r#"basis = ["consent", "legitimate_interest"]"#,
                "",
                "Legal basis: Consent (Art. 6(1)(a) GDPR) or necessary for legitimate interests (Art. 6(1)(f) GDPR)",
                "Rechtsgrond: Toestemming (art. 6 lid 1 onder a AVG) of noodzakelijk voor de behartiging van gerechtvaardigde belangen (art. 6 lid 1 onder f AVG)",
            ),
            (
                "purpose.basis_note",
                "",
                "",
                "",
                "basis = [\"consent\", \"contract\"]\nbasis_note = \"Contract for customers\"",
                "",
                "Which basis applies when: Contract for customers",
                "Welke rechtsgrond wanneer geldt: Contract for customers",
            ),
            (
                "retention (the rule for all other data)",
                "",
                "",
                "",
                "",
                "[retention]\nperiod = \"2 years\"\nfrom = \"last_activity\"",
                "All other data: 2 years after the last activity",
                "Alle andere gegevens: 2 jaar na de laatste activiteit",
            ),
            (
                "transfer.description",
                "",
                "",
                "",
                "",
                "[transfer]\noutside_eea = true\ndescription = \"Some suppliers work from the US.\"",
                "Some suppliers work from the US.",
                "Some suppliers work from the US.",
            ),
            (
                "transfer.outside_eea without mechanisms",
                "",
                "",
                "",
                "",
                "[transfer]\noutside_eea = true",
                "- Transfer mechanism: none stated.",
                "- Doorgiftemechanisme: geen vermeld.",
            ),
            (
                "transfer.mechanisms + locations",
                "",
                "",
                "",
                "",
                "[transfer]\noutside_eea = true\nlocations = [\"US\"]\nmechanisms = [\"dpf\"]",
                "- Transfer mechanism (US): EU-US Data Privacy Framework (adequacy decision 2023/1795).",
                "- Doorgiftemechanisme (US): EU-VS Data Privacy Framework (adequaatheidsbesluit 2023/1795).",
            ),
            (
                "transfer.safeguards",
                "",
                "",
                "",
                "",
                "[transfer]\noutside_eea = true\nmechanisms = [\"scc\"]\nsafeguards = \"Ask privacy@acme.example\"",
                "- Safeguards: Ask privacy@acme.example",
                "- Waarborgen: Ask privacy@acme.example",
            ),
            (
                "transfer.outside_eea = false",
                "",
                "",
                "",
                "",
                "[transfer]\noutside_eea = false",
                "We do not transfer personal data to countries outside the European Economic Area.",
                "Wij geven geen persoonsgegevens door aan landen buiten de Europese Economische Ruimte.",
            ),
            (
                "cookie (the table, with what the law requires of its type)",
                "",
                "",
                "",
                "",
                "[[cookie]]\nid = \"sid\"\nname = \"SID\"\nprovider = \"Acme\"\npurpose = \"Login\"\ntype = \"strictly_necessary\"\nlifetime = \"session\"\nparty = \"first\"",
                "| `SID` | Acme | Login | Strictly necessary | Until you close the browser | Us (first party) | Not required by law |",
                "| `SID` | Acme | Login | Strikt noodzakelijk | Tot u de browser sluit | Wijzelf (eigen cookie) | Wettelijk niet vereist |",
            ),
            (
                "cookie.type = analytics, consent unstated",
                "",
                "",
                "",
                "",
                "[[cookie]]\nid = \"ga\"\ntype = \"analytics\"",
                "| `ga` |  |  | Analytics |  |  | Required by law |",
                "| `ga` |  |  | Analyse |  |  | Wettelijk vereist |",
            ),
            (
                "cookie.consent",
                "",
                "",
                "",
                "",
                "[[cookie]]\nid = \"ga\"\ntype = \"analytics\"\nconsent = true\nlifetime = \"13 months\"",
                "| Analytics | 13 months |  | Only with your consent |",
                "| Analyse | 13 maanden |  | Alleen met uw toestemming |",
            ),
            (
                "cookie.basis (not consent)",
                "",
                "",
                "",
                "",
                "[[cookie]]\nid = \"ads\"\ntype = \"marketing\"\nbasis = \"legitimate_interest\"",
                "| Marketing |  |  | Not needed |",
                "| Marketing |  |  | Niet nodig |",
            ),
            (
                "rights.complaint (a route, not an authority)",
                "",
                "",
                "",
                "",
                "[rights]\ncomplaint = [\"habitual_residence\"]",
                "- The supervisory authority of the EU or EEA country where you live",
                "- De toezichthoudende autoriteit van het EU- of EER-land waar u woont",
            ),
            (
                "commitment",
                "",
                "",
                "",
                "",
                "[[commitment]]\nid = \"x\"\ntitle = \"No ads\"\ntext = \"We show no ads.\"",
                "## Further commitments",
                "## Verdere toezeggingen",
            ),
        ];
        let base = minimal("", "", "", "", "");
        let (base_en, base_nl) = (md(&base, Lang::En), md(&base, Lang::Nl));
        for (field, pol, ctrl, cat, purpose, tables, en, nl) in CASES {
            assert!(
                !base_en.contains(en),
                "without `{field}` the statement says `{en}`:\n{base_en}"
            );
            assert!(
                !base_nl.contains(nl),
                "without `{field}` the statement says `{nl}`:\n{base_nl}"
            );
            let with = minimal(pol, ctrl, cat, purpose, tables);
            let (got_en, got_nl) = (md(&with, Lang::En), md(&with, Lang::Nl));
            assert!(
                got_en.contains(en),
                "with `{field}` the statement lacks `{en}`:\n{got_en}"
            );
            assert!(
                got_nl.contains(nl),
                "with `{field}` the statement lacks `{nl}`:\n{got_nl}"
            );
        }
    }

    #[test]
    fn a_language_the_policy_has_no_texts_for_is_refused_with_a_stable_code() {
        let p = load(
            &minimal("", "", "", "", "")
                .replace(r#"languages = ["en", "nl"]"#, r#"languages = ["en"]"#),
        );
        for format in [Format::Markdown, Format::Html] {
            let e = render(&p, Lang::Nl, format).unwrap_err();
            assert!(
                matches!(e, RenderError::LanguageNotOffered { lang: Lang::Nl, .. }),
                "{e}"
            );
            assert_eq!(e.code(), custos_types::ErrorCode::LanguageNotOffered);
            assert!(e.to_string().contains("its languages are `en`"), "{e}");
        }
        assert!(
            render(&p, Lang::En, Format::Html)
                .unwrap()
                .contains("<html lang=\"en\">")
        );
        // The canonical JSON has no language.
        render(&p, Lang::Nl, Format::Json).unwrap();
    }

    #[test]
    fn within_the_eea_is_said_only_when_every_location_is_known_and_in_the_eea() {
        let recipient =
            |locations: &str| format!("[[recipient]]\nid = \"r\"\nname = \"R\"\n{locations}");
        let sentence = "processed within the European Economic Area";
        let all_eea = md(
            &minimal(
                "",
                r#"country = "NL""#,
                "",
                "",
                &recipient(r#"locations = ["DE", "EEA"]"#),
            ),
            Lang::En,
        );
        assert!(all_eea.contains(sentence), "{all_eea}");
        // A recipient without a location: nothing is said about where.
        let unknown = md(
            &minimal("", r#"country = "NL""#, "", "", &recipient("")),
            Lang::En,
        );
        assert!(!unknown.contains(sentence), "{unknown}");
        assert!(!unknown.contains("## Transfers"), "{unknown}");
        assert!(
            unknown.contains("| R | Processor |  | not stated | not stated |"),
            "{unknown}"
        );
        // The controller's own location unknown: neither.
        let no_country = md(
            &minimal("", "", "", "", &recipient(r#"locations = ["DE"]"#)),
            Lang::En,
        );
        assert!(!no_country.contains(sentence), "{no_country}");
        // A transfer under standard clauses (the webshop of issue 22): listed, never "within".
        let scc = md(
            &minimal(
                "",
                r#"country = "NL""#,
                "",
                "",
                &recipient("locations = [\"US\"]\ntransfer = [\"scc\"]"),
            ),
            Lang::Nl,
        );
        assert!(
            !scc.contains("binnen de Europese Economische Ruimte."),
            "{scc}"
        );
        assert!(
            scc.contains("- **R** (US): Standaardbepalingen inzake gegevensbescherming"),
            "{scc}"
        );
        // A policy-wide transfer clause says in its own words where data goes: every
        // recipient in the EEA or not, the conclusion is not drawn beside it.
        let clause = md(
            &minimal(
                "",
                r#"country = "NL""#,
                "",
                "",
                &format!(
                    "{}\n[transfer]\noutside_eea = true\nmechanisms = [\"scc\"]",
                    recipient(r#"locations = ["DE"]"#)
                ),
            ),
            Lang::En,
        );
        assert!(!clause.contains(sentence), "{clause}");
        assert!(clause.contains("## Transfers"), "{clause}");
    }

    #[test]
    fn a_response_period_the_policy_does_not_state_is_attributed_to_the_law() {
        let silent = md(&minimal("", "", "", "", ""), Lang::Nl);
        assert!(!silent.contains("Wij reageren binnen"), "{silent}");
        assert!(
            silent.contains("Volgens de AVG moet een verzoek binnen één maand na ontvangst worden beantwoord; die termijn kan zo nodig met twee maanden worden verlengd (art. 12 lid 3 AVG)."),
            "{silent}"
        );
        let stated = md(
            &minimal("", "", "", "", "[rights]\nresponse = \"2 weeks\""),
            Lang::En,
        );
        assert!(
            stated.contains("We answer within 2 weeks of receiving your request."),
            "{stated}"
        );
        assert!(!stated.contains("Under the GDPR"), "{stated}");
    }

    #[test]
    fn the_footer_names_what_custos_enforces_and_never_the_companys_own_measures() {
        let src = minimal(
            "",
            "",
            r#"retention = { period = "1 year" }"#,
            "",
            "[[measure]]\nid = \"p\"\nkind = \"penetration_testing\"\ndescription = \"Yearly pen test\"\n[[measure]]\nid = \"h\"\nkind = \"hsts\"\ndescription = \"HSTS\"",
        );
        for lang in Lang::ALL {
            let out = md(&src, lang);
            let footer = out.rsplit("---").next().unwrap();
            assert!(
                !footer.to_lowercase().contains("every statement here"),
                "{footer}"
            );
            assert!(!footer.contains("alles wat hier staat"), "{footer}");
            for not_enforced in [
                "pen",
                "HSTS",
                "Strict",
                "record of consent",
                "vastleggen van toestemming",
                "ontvangers",
                "recipients",
            ] {
                assert!(
                    !footer.contains(not_enforced),
                    "{lang}: the footer claims `{not_enforced}`: {footer}"
                );
            }
        }
        let en = md(&src, Lang::En);
        let footer = en.rsplit("---").next().unwrap();
        assert!(
            footer.contains("Of what it says, Custos enforces: the retention periods: data in 1 category is deleted automatically when its period ends, and every deletion is recorded; the time limits of data subjects' requests (Art. 12(3) GDPR); a verifiable audit trail"),
            "{footer}"
        );
    }

    #[test]
    fn sections_with_nothing_to_say_are_left_out() {
        let src = minimal("", "", "", "", "");
        let en = md(&src, Lang::En);
        for heading in [
            "## Who receives personal data",
            "## Transfers",
            "## How we protect",
            "## Automated decision-making",
            "## Personal data breaches",
            "## Changes to this statement",
            "## Further commitments",
        ] {
            assert!(!en.contains(heading), "empty section `{heading}`:\n{en}");
        }
        let html = render(&load(&src), Lang::En, Format::Html).unwrap();
        for id in [
            "recipients",
            "transfers",
            "security",
            "automated",
            "breach",
            "changes",
        ] {
            assert!(
                !html.contains(&format!("href=\"#{id}\"")),
                "the contents list `{id}`"
            );
            assert!(
                !html.contains(&format!("<section id=\"{id}\"")),
                "empty section `{id}`"
            );
        }
        assert!(html.contains("href=\"#rights\"") && html.contains("<section id=\"rights\""));
        // Nothing absent is shown as a dash.
        assert!(!en.contains('—'), "{en}");
    }

    #[test]
    fn dutch_addresses_the_reader_with_u_by_default_and_with_je_when_the_policy_says_so() {
        let tables = "[rights]\noffered = [\"access\", \"withdraw_consent\"]\nchannels = [{ kind = \"email\", address = \"p@acme.example\" }]";
        let purpose = "choice = \"opt_in\"\ndirect_marketing = true\nprovision = { requirement = \"contractual\" }";
        let u = md(&minimal("", "", "", purpose, tables), Lang::Nl);
        let je = md(
            &minimal(r#"form_of_address = "je""#, "", "", purpose, tables),
            Lang::Nl,
        );
        let words = |s: &str| -> BTreeSet<String> {
            s.split(|c: char| !c.is_alphanumeric())
                .map(str::to_owned)
                .collect()
        };
        let (wu, wje) = (words(&u), words(&je));
        for formal in ["u", "uw", "Uw", "U"] {
            assert!(!wje.contains(formal), "`{formal}` in a je-statement:\n{je}");
        }
        for informal in ["je", "jij", "jouw", "Je", "Jouw"] {
            assert!(
                !wu.contains(informal),
                "`{informal}` in a u-statement:\n{u}"
            );
        }
        assert!(u.contains("## Uw rechten") && je.contains("## Jouw rechten"));
        // English has one form; the setting changes nothing there.
        assert_eq!(
            md(&minimal("", "", "", purpose, tables), Lang::En),
            md(
                &minimal(r#"form_of_address = "je""#, "", "", purpose, tables),
                Lang::En
            )
        );
    }

    /// Every catalogue sentence that addresses the reader with *u* has a *je* form, and every
    /// *je* form replaces a sentence (Art. 12(1): one form of address throughout).
    #[test]
    fn every_dutch_sentence_with_u_has_a_je_form() {
        let nl: toml::Table = CATALOGUE_NL.parse().unwrap();
        let je = nl["je"].as_table().unwrap();
        let formal = |s: &str| {
            s.split(|c: char| !c.is_alphanumeric())
                .any(|w| matches!(w, "u" | "U" | "uw" | "Uw" | "Uzelf"))
        };
        for (group, t) in nl.iter().filter(|(g, _)| *g != "je") {
            for (name, v) in t.as_table().unwrap() {
                let Some(text) = v.as_str() else { continue };
                let key = format!("{group}.{name}");
                if formal(text) {
                    let informal = je.get(&key).and_then(|v| v.as_str());
                    assert!(
                        informal.is_some(),
                        "`{key}` addresses the reader with u and has no je form"
                    );
                    assert!(
                        !formal(informal.unwrap()),
                        "the je form of `{key}` still says u"
                    );
                }
            }
        }
        Catalogue::for_statement(Lang::Nl, FormOfAddress::Je).unwrap();
    }

    #[test]
    fn articles_are_cited_as_each_language_version_of_the_gdpr_cites_them() {
        let nl = Catalogue::get(Lang::Nl).unwrap();
        assert_eq!(nl.cite("6(1)(b)").unwrap(), "art. 6 lid 1 onder b AVG");
        assert_eq!(nl.cite("7(3)").unwrap(), "art. 7 lid 3 AVG");
        assert_eq!(nl.cite("15").unwrap(), "art. 15 AVG");
        let en = Catalogue::get(Lang::En).unwrap();
        assert_eq!(en.cite("22(3)").unwrap(), "Art. 22(3) GDPR");
        let src = minimal(
            "",
            "",
            "",
            r#"basis = "consent""#,
            "[rights]\noffered = [\"withdraw_consent\", \"human_intervention\"]",
        );
        let out = md(&src, Lang::Nl);
        assert!(
            !out.contains("art. 6(") && !out.contains("art. 7(") && !out.contains("art. 22("),
            "{out}"
        );
        assert!(
            out.contains("(art. 7 lid 3 AVG)") && out.contains("(art. 22 lid 3 AVG)"),
            "{out}"
        );
    }

    #[test]
    fn dates_are_written_in_words() {
        let nl = Catalogue::get(Lang::Nl).unwrap();
        let en = Catalogue::get(Lang::En).unwrap();
        assert_eq!(nl.date("2026-01-01"), "1 januari 2026");
        assert_eq!(en.date("2026-01-01"), "1 January 2026");
        assert_eq!(en.date("2025-06"), "June 2025");
        assert_eq!(nl.date("2025-06"), "juni 2025");
        assert_eq!(en.date("soon"), "soon");
        assert_eq!(en.date("2026-13-01"), "2026-13-01");
        let html = render(
            &load(&minimal(r#"updated = "2026-01-01""#, "", "", "", "")),
            Lang::Nl,
            Format::Html,
        )
        .unwrap();
        assert!(
            html.contains("<time datetime=\"2026-01-01\">1 januari 2026</time>"),
            "{html}"
        );
    }

    #[test]
    fn no_internal_ids_or_dashes_for_absent_facts_appear_in_the_prose() {
        let src = minimal(
            "",
            "",
            "",
            "approval = { action = \"draft.send\", approver = \"A lead\" }",
            "",
        );
        for lang in Lang::ALL {
            let out = md(&src, lang);
            assert!(!out.contains("draft.send"), "{out}");
            assert!(
                !out.contains("Grondslag") && !out.contains("Rechtsgrond:"),
                "{out}"
            );
            assert!(!out.contains("Legal basis:"), "{out}");
            assert!(!out.contains('—'), "{out}");
        }
    }

    #[test]
    fn a_retention_note_that_repeats_the_period_is_left_out() {
        let same = md(
            &minimal(
                "",
                "",
                r#"retention = { period = "24 months", note = "24 months" }"#,
                "",
                "",
            ),
            Lang::En,
        );
        assert!(same.contains("| 24 months |"), "{same}");
        assert!(!same.contains("24 months — 24 months"), "{same}");
        let more = md(
            &minimal(
                "",
                "",
                r#"retention = { period = "12 months", note = "12 months rolling" }"#,
                "",
                "",
            ),
            Lang::En,
        );
        assert!(more.contains("12 months — 12 months rolling"), "{more}");
    }

    #[test]
    fn html_tables_become_cards_on_a_phone_and_wrap_long_words() {
        let src = minimal(
            "",
            "",
            "",
            "",
            "[[recipient]]\nid = \"r\"\nname = \"R\"\nlocations = [\"US\"]\ntransfer = [\"scc\"]",
        );
        let html = render(&load(&src), Lang::En, Format::Html).unwrap();
        assert!(
            html.contains("@media (max-width: 48rem)"),
            "responsive rules"
        );
        assert!(html.contains("overflow-wrap: anywhere"), "long words wrap");
        assert!(
            html.contains("<div class=\"table-wrap\">"),
            "a wide table scrolls, never clips"
        );
        assert_eq!(html.matches("<table class=\"stack\">").count(), 2);
        assert_eq!(
            html.matches("<td>").count(),
            0,
            "every cell is labelled for the card layout"
        );
        assert!(
            html.contains("<td data-label=\"Transfer mechanism\">"),
            "{html}"
        );
    }

    #[test]
    fn accept_language_picks_the_best_offered_language() {
        let both = [Lang::Nl, Lang::En];
        assert_eq!(
            Lang::negotiate("nl-NL,nl;q=0.9,en;q=0.8", &both),
            Some(Lang::Nl)
        );
        assert_eq!(
            Lang::negotiate("en-GB,en;q=0.9,nl;q=0.8", &both),
            Some(Lang::En)
        );
        assert_eq!(
            Lang::negotiate("de, en;q=0.5, nl;q=0.7", &both),
            Some(Lang::Nl)
        );
        assert_eq!(Lang::negotiate("de", &both), None);
        assert_eq!(Lang::negotiate("*", &both), Some(Lang::Nl));
        assert_eq!(Lang::negotiate("nl;q=0, *", &both), Some(Lang::En));
        assert_eq!(Lang::negotiate("nl", &[Lang::En]), None);
        assert_eq!(Lang::negotiate("en;q=abc, nl;q=0.1", &both), Some(Lang::Nl));
        assert_eq!(Lang::negotiate("", &both), None);
    }

    // ---- the seeds, as reviewed ----------------------------------------------------------

    const SEEDS: [(&str, &str); 4] = [
        (
            "jbsync",
            include_str!("../../../examples/policies/jbsync.toml"),
        ),
        (
            "jetlink",
            include_str!("../../../examples/policies/jetlink.toml"),
        ),
        (
            "jetstream",
            include_str!("../../../examples/policies/jetstream.toml"),
        ),
        (
            "jifeline",
            include_str!("../../../examples/policies/jifeline.toml"),
        ),
    ];

    #[test]
    fn the_seed_statements_read_as_reviewed() {
        for (name, src) in SEEDS {
            let p = load(src);
            for lang in p.meta.languages.clone() {
                let out = render(&p, lang, Format::Markdown).unwrap();
                insta::assert_snapshot!(format!("{name}_{lang}_md"), out);
            }
        }
    }

    #[test]
    fn the_jbsync_page_reads_as_reviewed() {
        let p = load(SEEDS[0].1);
        let options = Options {
            language_links: true,
        };
        for lang in [Lang::Nl, Lang::En] {
            let out = render_with(&p, lang, Format::Html, &options).unwrap();
            insta::assert_snapshot!(format!("jbsync_{lang}_html"), out);
        }
    }
}
