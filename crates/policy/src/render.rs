//! The public privacy statement, rendered from a resolved policy.
//!
//! Words come from the translation catalogues in `i18n/{en,nl}.toml` and layout from the
//! templates in `templates/`; this module only builds a language-resolved view of the policy
//! (every text picked in the target language, every enum turned into its catalogue label) and
//! hands it to minijinja. Both catalogues and templates are compiled into the binary, so a
//! statement renders the same everywhere.

use std::sync::OnceLock;

use minijinja::Environment;
use serde::Serialize;

use crate::model::{self as m, Acceptance, AutomatedKind, Choice, Mechanism, Role};
use crate::period::Period;
use crate::resolved::{self as r, Policy};
use crate::text::{Lang, Text};

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

/// Why a statement could not be rendered. These are bugs in a catalogue or template (tests
/// render every seed in every language), never something a policy author can cause.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
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
    /// Its code in the error table (`docs/errors.md`): the templates and catalogues ship with
    /// Custos, so a failure to render is a bug.
    pub fn code(&self) -> custos_types::ErrorCode {
        match self {
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

/// A translation catalogue: nested TOML tables of strings.
#[derive(Debug)]
pub struct Catalogue {
    lang: Lang,
    table: toml::Table,
}

impl Catalogue {
    /// The built-in catalogue for `lang`.
    pub fn get(lang: Lang) -> Result<&'static Catalogue, RenderError> {
        static EN: OnceLock<Result<Catalogue, String>> = OnceLock::new();
        static NL: OnceLock<Result<Catalogue, String>> = OnceLock::new();
        let (cell, text) = match lang {
            Lang::En => (&EN, CATALOGUE_EN),
            Lang::Nl => (&NL, CATALOGUE_NL),
        };
        cell.get_or_init(|| {
            text.parse::<toml::Table>()
                .map(|table| Catalogue { lang, table })
                .map_err(|e| e.to_string())
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

    /// All keys, dotted, for comparing catalogues.
    pub fn keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (group, v) in &self.table {
            match v.as_table() {
                Some(t) => out.extend(t.keys().map(|k| format!("{group}.{k}"))),
                None => out.push(group.clone()),
            }
        }
        out.sort();
        out
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
    if format == Format::Json {
        let mut s = serde_json::to_string_pretty(policy)?;
        s.push('\n');
        return Ok(s);
    }
    let cat = Catalogue::get(lang)?;
    let view = View::build(policy, lang, cat)?;
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

#[derive(Serialize)]
struct View {
    lang: &'static str,
    title: String,
    version: Option<String>,
    updated: Option<String>,
    scope: Option<String>,
    url: Option<String>,
    controller: ControllerView,
    joint: Vec<JointView>,
    purposes: Vec<PurposeView>,
    categories: Vec<CategoryView>,
    recipients: Vec<RecipientView>,
    transfers: Vec<RecipientView>,
    measures: Vec<MeasureView>,
    automated: Vec<AutomatedView>,
    /// Purposes that explain why they involve no Art. 22 decision.
    no_automated: Vec<AutomatedView>,
    rights: RightsView,
    complaint: Vec<AuthorityView>,
    breach: BreachView,
    notice: NoticeView,
    commitments: Vec<CommitmentView>,
    /// The cookie table (ePrivacy Directive Art. 5(3)); empty when the policy declares none.
    cookies: Vec<CookieView>,
    /// The policy-wide transfer clause, when the policy has one.
    transfer_clause: Option<TransferClauseView>,
    /// The retention rule for all data without a rule of its own.
    retention_general: Option<String>,
    /// Complaint routes described rather than named ("any supervisory authority").
    complaint_scopes: Vec<String>,
}

#[derive(Serialize)]
struct CookieView {
    name: String,
    provider: String,
    purpose: String,
    kind: String,
    lifetime: String,
    party: String,
    consent: String,
}

#[derive(Serialize)]
struct TransferClauseView {
    outside_eea: bool,
    description: Option<String>,
    locations: Vec<String>,
    mechanisms: Vec<String>,
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
    dpo: Option<DpoView>,
    representative: Option<String>,
}

#[derive(Serialize)]
struct DpoView {
    appointed: bool,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    reason: Option<String>,
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
    role: Option<String>,
    on_behalf_of: Option<String>,
    agreement: Option<String>,
    basis: Option<String>,
    basis_article: Option<String>,
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
    subjects: Vec<String>,
    flags: Vec<String>,
    source: String,
    stored: bool,
    handling: Option<String>,
    retention: String,
    retention_note: Option<String>,
    statutory: Option<String>,
    purposes: Vec<String>,
    note: Option<String>,
}

#[derive(Serialize)]
struct RecipientView {
    name: String,
    kind: String,
    purpose: Option<String>,
    location: String,
    mechanism: String,
    safeguards: Option<String>,
    tia: bool,
    dpa: bool,
    conditions: Vec<String>,
    categories: Vec<String>,
    note: Option<String>,
}

#[derive(Serialize)]
struct MeasureView {
    kind: String,
    description: String,
    every: Option<String>,
}

#[derive(Serialize)]
struct AutomatedView {
    kind_is_decision: bool,
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
    response: String,
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

#[derive(Serialize)]
struct NoticeView {
    material: Option<String>,
    subprocessor: Option<String>,
    channel: Option<String>,
    acceptance: Option<String>,
    history: Option<String>,
}

#[derive(Serialize)]
struct CommitmentView {
    title: String,
    text: String,
}

type R<T> = Result<T, RenderError>;

impl View {
    fn build(p: &Policy, lang: Lang, c: &Catalogue) -> R<View> {
        let tx = |t: &Option<Text>| {
            t.as_ref()
                .map(|t| t.get_or_any(lang).to_owned())
                .filter(|s| !s.trim().is_empty())
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
            dpo: ctrl.dpo.as_ref().map(|d| DpoView {
                appointed: d.appointed,
                name: d.name.clone(),
                email: d.email.clone(),
                phone: d.phone.clone(),
                reason: tx(&d.reason),
            }),
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
                Ok(PurposeView {
                    id: x.id.clone(),
                    name: one(&x.name),
                    description: tx(&x.description),
                    role: if x.role == Role::Controller {
                        None
                    } else {
                        Some(c.label("role", &x.role)?)
                    },
                    on_behalf_of: tx(&x.on_behalf_of),
                    agreement: tx(&x.dpa),
                    // Several bases: each label and article joined ("or"), the note says when.
                    basis: if x.bases.is_empty() {
                        None
                    } else {
                        Some(
                            x.bases
                                .iter()
                                .map(|b| c.label("basis", b))
                                .collect::<R<Vec<_>>>()?
                                .join(&format!(" {} ", c.t("label.or")?)),
                        )
                    },
                    basis_article: if x.bases.is_empty() {
                        None
                    } else {
                        Some(
                            x.bases
                                .iter()
                                .map(|b| {
                                    fill("label.article", "article", crate::law::basis_article(*b))
                                })
                                .collect::<R<Vec<_>>>()?
                                .join("; "),
                        )
                    },
                    basis_note: tx(&x.basis_note),
                    legitimate_interest: tx(&x.legitimate_interest),
                    legal_obligation: tx(&x.legal_obligation),
                    special_condition: x
                        .special_condition
                        .map(|s| -> R<String> {
                            let article = fill(
                                "label.article",
                                "article",
                                x.special_condition_article.unwrap_or_default(),
                            )?;
                            Ok(format!("{} ({article})", c.label("special_condition", &s)?))
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
                    approval: x
                        .approval
                        .as_ref()
                        .map(|a| -> R<String> {
                            Ok(fill("label.approval_text", "action", &a.action)?
                                .replace("{approver}", &one(&a.approver)))
                        })
                        .transpose()?,
                    approval_audit: x.approval.as_ref().is_some_and(|a| a.audit),
                    subjects: x.subjects.iter().map(|s| subj_name(s)).collect(),
                    categories: x.categories.iter().map(|k| cat_name(k)).collect(),
                    recipients: x.recipients.iter().map(|k| rec_name(k)).collect(),
                    note: tx(&x.note),
                })
            })
            .collect::<R<Vec<_>>>()?;

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
                    k.retention
                        .as_ref()
                        .map(|ret| retention_words(p, ret, lang, c))
                        .transpose()?
                        .unwrap_or_else(|| "—".into())
                } else {
                    c.t("label.never_stored")?.to_owned()
                };
                let statutory = k
                    .retention
                    .as_ref()
                    .and_then(|ret| ret.statutory.as_ref())
                    .map(|s| -> R<String> {
                        let law = one(&s.law);
                        Ok(match &s.period {
                            Some(per) => {
                                format!("{}: {} ({law})", c.t("label.statutory")?, c.period(per)?)
                            }
                            None => format!("{}: {law}", c.t("label.statutory")?),
                        })
                    })
                    .transpose()?;
                Ok(CategoryView {
                    id: k.id.clone(),
                    name: one(&k.name),
                    depth: k.depth,
                    examples: tx(&k.examples),
                    subjects: k.subjects.iter().map(|s| subj_name(s)).collect(),
                    flags,
                    source,
                    stored: k.stored,
                    handling: tx(&k.handling),
                    retention,
                    retention_note: k.retention.as_ref().and_then(|r| tx(&r.note)),
                    statutory,
                    purposes: k.purposes.iter().map(|x| purpose_name(x)).collect(),
                    note: tx(&k.note),
                })
            })
            .collect::<R<Vec<_>>>()?;

        let recipients = p
            .recipients
            .iter()
            .map(|x| {
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
                let mechanism = if x.transfer.is_empty() {
                    if x.locations.is_empty() {
                        c.t("label.location_unknown")?.to_owned()
                    } else if x.third_countries.is_empty() {
                        c.label("mechanism", &Mechanism::None)?
                    } else {
                        "—".into()
                    }
                } else {
                    let mut labels = x
                        .transfer
                        .iter()
                        .map(|mch| c.label("mechanism", mch))
                        .collect::<R<Vec<_>>>()?;
                    if let Some(module) = x.scc_module
                        && let Some(l) = labels
                            .iter_mut()
                            .zip(&x.transfer)
                            .find(|(_, m)| **m == Mechanism::Scc)
                            .map(|(l, _)| l)
                    {
                        l.push_str(&format!(", module {module}"));
                    }
                    if let Some(d) = &x.derogation {
                        labels.push(format!("49(1)({d})"));
                    }
                    labels.join("; ")
                };
                Ok(RecipientView {
                    name: x.name.clone(),
                    kind: c.label("recipient_kind", &x.kind)?,
                    purpose: tx(&x.purpose),
                    location,
                    mechanism,
                    safeguards: tx(&x.safeguards),
                    tia: x.tia == Some(true),
                    dpa: x.dpa == Some(true),
                    conditions,
                    categories: x.categories.iter().map(|k| cat_name(k)).collect(),
                    note: tx(&x.note),
                })
            })
            .collect::<R<Vec<_>>>()?;
        let transfers = p
            .recipients
            .iter()
            .zip(&recipients)
            .filter(|(x, _)| !x.third_countries.is_empty())
            .map(|(_, v)| RecipientView {
                name: v.name.clone(),
                kind: v.kind.clone(),
                purpose: v.purpose.clone(),
                location: v.location.clone(),
                mechanism: v.mechanism.clone(),
                safeguards: v.safeguards.clone(),
                tia: v.tia,
                dpa: v.dpa,
                conditions: v.conditions.clone(),
                categories: v.categories.clone(),
                note: v.note.clone(),
            })
            .collect();

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

        let automated = p
            .purposes
            .iter()
            .filter_map(|x| x.automated_decision.as_ref().map(|a| (x, a)))
            .map(|(x, a)| {
                Ok(AutomatedView {
                    kind_is_decision: a.kind != AutomatedKind::None,
                    purpose: one(&x.name),
                    kind: c.label("automated_kind", &a.kind)?,
                    logic: tx(&a.logic),
                    significance: tx(&a.significance),
                    consequences: tx(&a.consequences),
                    safeguards: tx(&a.safeguards),
                })
            })
            .collect::<R<Vec<_>>>()?;

        let rights = RightsView {
            offered: p
                .rights
                .offered
                .iter()
                .map(|rt| {
                    Ok(RightView {
                        label: c.label("right", rt)?,
                        article: fill("label.article", "article", rt.article())?,
                    })
                })
                .collect::<R<_>>()?,
            channels: channels(&p.rights.channels)?,
            response: fill("label.response", "period", &c.period(&p.rights.response)?)?,
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

        let (automated, no_automated): (Vec<_>, Vec<_>) =
            automated.into_iter().partition(|a| a.kind_is_decision);
        Ok(View {
            lang: lang.code(),
            title: tx(&p.meta.title).unwrap_or(c.t("meta.title")?.to_owned()),
            version: p.meta.version.clone(),
            updated: p.meta.updated.clone(),
            scope: tx(&p.meta.scope),
            url: p.meta.url.clone(),
            controller,
            joint: p
                .joint_controllers
                .iter()
                .map(|j| JointView {
                    name: one(&j.name),
                    purposes: j.purposes.iter().map(|x| purpose_name(x)).collect(),
                    arrangement: tx(&j.arrangement),
                    condition: tx(&j.condition),
                })
                .collect(),
            purposes,
            categories,
            recipients,
            transfers,
            measures,
            automated,
            no_automated,
            rights,
            complaint,
            breach,
            notice,
            commitments: p
                .commitments
                .iter()
                .map(|x| CommitmentView {
                    title: one(&x.title),
                    text: one(&x.text),
                })
                .collect(),
            cookies: p
                .cookies
                .iter()
                .map(|k| -> R<CookieView> {
                    Ok(CookieView {
                        name: k.name.clone(),
                        provider: k.provider.clone().unwrap_or_default(),
                        purpose: tx(&k.purpose).unwrap_or_default(),
                        kind: c.label("cookie_type", &k.kind)?,
                        lifetime: match &k.lifetime {
                            Some(m::Lifetime::Session) => c.t("label.cookie_session")?.to_owned(),
                            Some(m::Lifetime::Period(per)) => c.period(per)?,
                            None => String::new(),
                        },
                        party: match k.party {
                            Some(party) => c.label("cookie_party", &party)?,
                            None => String::new(),
                        },
                        consent: c
                            .t(if k.consent_needed {
                                "label.cookie_consent_yes"
                            } else {
                                "label.cookie_consent_no"
                            })?
                            .to_owned(),
                    })
                })
                .collect::<R<Vec<_>>>()?,
            transfer_clause: p
                .transfer
                .as_ref()
                .map(|t| -> R<TransferClauseView> {
                    Ok(TransferClauseView {
                        outside_eea: t.outside_eea,
                        description: tx(&t.description),
                        locations: t.locations.clone(),
                        mechanisms: t
                            .mechanisms
                            .iter()
                            .map(|mch| c.label("mechanism", mch))
                            .collect::<R<_>>()?,
                        safeguards: tx(&t.safeguards),
                    })
                })
                .transpose()?,
            retention_general: p
                .retention
                .as_ref()
                .map(|ret| retention_words(p, ret, lang, c))
                .transpose()?,
            complaint_scopes: p
                .rights
                .complaint_scopes
                .iter()
                .map(|sc| c.label("complaint_scope", sc))
                .collect::<R<_>>()?,
        })
    }
}

fn authority_name(a: &r::AuthorityRef, lang: Lang) -> String {
    match lang {
        Lang::En => a.name_en.clone(),
        Lang::Nl => a.name_nl.clone(),
    }
}

/// A retention rule in words: "7 days", "30 days after the draft is decided", "deleted as soon
/// as the transcript is created", with tiers, tenant override bounds, criteria and the purge
/// cadence appended.
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
    Ok(if parts.is_empty() {
        "—".into()
    } else {
        parts.join(c.t("retention.and_then")?)
    })
}

#[cfg(test)]
mod tests {
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
            ] {
                c.label("mechanism", &mch).unwrap();
            }
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
}
