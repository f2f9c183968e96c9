//! The resolved policy: every default applied, every reference checked and expanded, categories
//! inheriting from their parents. This is what the renderer, `diff`, `ropa`, the DPV export and
//! the rest of Custos read, and what `custos render --format json` prints.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

use serde::Serialize;

use crate::diag::{Diagnostic, nearest};
use crate::law::{self, Zone};
use crate::model::{self as m, Basis, PolicyFile, Role, Sp};
use crate::period::Period;
use crate::text::{FormOfAddress, Lang, Text};

/// A complete, consistent policy. Vectors keep the order of the file, and item `i` of each
/// vector is item `i` of the same table in the [`PolicyFile`] it came from.
#[derive(Debug, Serialize)]
pub struct Policy {
    /// `[policy]`.
    pub meta: Meta,
    /// `[controller]`; absent tables become empty defaults (the checker reports what is missing).
    pub controller: Controller,
    /// Joint controllers.
    pub joint_controllers: Vec<JointController>,
    /// Data subjects.
    pub subjects: Vec<Subject>,
    /// Data categories, parents before children where the file has them so.
    pub categories: Vec<Category>,
    /// Declared events.
    pub events: Vec<EventDecl>,
    /// Declared tiers.
    pub tiers: Vec<Named>,
    /// Purposes.
    pub purposes: Vec<Purpose>,
    /// Recipients.
    pub recipients: Vec<Recipient>,
    /// Security measures.
    pub measures: Vec<Measure>,
    /// Breach handling.
    pub breach: Breach,
    /// Rights handling.
    pub rights: Rights,
    /// Notice rules.
    pub notice: Notice,
    /// Other promises.
    pub commitments: Vec<Commitment>,
    /// Cookies and similar trackers, in the order of the file.
    pub cookies: Vec<Cookie>,
    /// Declared indirect sources with the categories each provides.
    pub sources: Vec<SourceDecl>,
    /// The general retention rule for data without a rule of its own (already applied to
    /// those categories; kept here so the statement can say it once).
    pub retention: Option<Retention>,
    /// The policy-wide transfer clause.
    pub transfer: Option<Transfer>,
    /// National laws the statement refers to.
    pub laws: Vec<LawRef>,
}

/// Statement metadata.
#[derive(Debug, Serialize)]
pub struct Meta {
    /// Id.
    pub id: Option<String>,
    /// Version label.
    pub version: Option<String>,
    /// Date of last update.
    pub updated: Option<String>,
    /// Languages (default: English).
    pub languages: Vec<Lang>,
    /// Title.
    pub title: Option<Text>,
    /// Where published.
    pub url: Option<String>,
    /// Scope.
    pub scope: Option<Text>,
    /// How the Dutch statement addresses its reader (default *u*).
    pub form_of_address: FormOfAddress,
}

/// The controller.
#[derive(Debug, Serialize)]
pub struct Controller {
    /// Legal name.
    pub name: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// Registration.
    pub registration: Option<m::Registration>,
    /// Contact channels.
    pub contact: Vec<m::Channel>,
    /// Website.
    pub website: Option<String>,
    /// Roles (default: controller).
    pub roles: Vec<Role>,
    /// DPO.
    pub dpo: Option<Dpo>,
    /// EU representative.
    pub representative: Option<m::Party>,
    /// Lead authority.
    pub authority: Option<AuthorityRef>,
}

/// The DPO or why there is none.
#[derive(Debug, Serialize)]
pub struct Dpo {
    /// Whether one is appointed.
    pub appointed: bool,
    /// Name.
    pub name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Reason there is none.
    pub reason: Option<Text>,
}

/// A supervisory authority, expanded from its id.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorityRef {
    /// Id.
    pub id: String,
    /// Country.
    pub country: String,
    /// Name in English.
    pub name_en: String,
    /// Name in Dutch.
    pub name_nl: String,
    /// Website.
    pub url: String,
    /// Postal address, where the built-in table has a verified one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// For a German Land authority, the Land.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl AuthorityRef {
    fn from(a: &law::Authority) -> Self {
        AuthorityRef {
            id: a.id.into(),
            country: a.country.into(),
            name_en: a.name_en.into(),
            name_nl: a.name_nl.into(),
            url: a.url.into(),
            address: a.address.map(str::to_owned),
            region: a.region.map(str::to_owned),
        }
    }
}

/// A joint controller.
#[derive(Debug, Serialize)]
pub struct JointController {
    /// Id.
    pub id: String,
    /// Name.
    pub name: Text,
    /// Purposes.
    pub purposes: Vec<String>,
    /// Arrangement.
    pub arrangement: Option<Text>,
    /// Condition.
    pub condition: Option<Text>,
}

/// A data subject kind.
#[derive(Debug, Serialize)]
pub struct Subject {
    /// Id.
    pub id: String,
    /// Name.
    pub name: Text,
    /// Description.
    pub description: Option<Text>,
}

/// An id with an optional name.
#[derive(Debug, Serialize)]
pub struct Named {
    /// Id.
    pub id: String,
    /// Name.
    pub name: Option<Text>,
}

/// A declared event.
#[derive(Debug, Serialize)]
pub struct EventDecl {
    /// Id.
    pub id: String,
    /// Name.
    pub name: Option<Text>,
    /// The scopes it may be recorded at; empty: any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<m::EventScope>,
}

impl EventDecl {
    /// Whether the event may be recorded at `scope`.
    pub fn allows(&self, scope: m::EventScope) -> bool {
        self.scope.is_empty() || self.scope.contains(&scope)
    }
}

/// A data category with inherited values filled in.
#[derive(Debug, Serialize)]
pub struct Category {
    /// Id.
    pub id: String,
    /// Parent id.
    pub parent: Option<String>,
    /// Depth in the hierarchy (0 for a root).
    pub depth: usize,
    /// Name.
    pub name: Text,
    /// Examples.
    pub examples: Option<Text>,
    /// Subjects (own, else the parent's).
    pub subjects: Vec<String>,
    /// Special category, inherited (the first named, or `unspecified`).
    pub special: Option<m::SpecialKind>,
    /// Every special category named, inherited.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub specials: Vec<m::SpecialKind>,
    /// The declared `[[source]]`s that provide it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Criminal data, inherited.
    pub criminal: bool,
    /// Source, inherited; default the data subject.
    pub source: Source,
    /// Key domain, inherited; default `default`.
    pub key_domain: String,
    /// Whether it may be stored, inherited (a child of a never-stored category is never stored).
    pub stored: bool,
    /// How never-stored data is handled.
    pub handling: Option<Text>,
    /// Retention, own or inherited.
    pub retention: Option<Retention>,
    /// Note.
    pub note: Option<Text>,
    /// Purposes that use it.
    pub purposes: Vec<String>,
    /// Recipients that receive it (declared on the recipient or through a purpose).
    pub recipients: Vec<String>,
    /// W3C DPV concepts, own or inherited.
    pub dpv: Vec<String>,
}

/// Where data comes from.
#[derive(Debug, Serialize)]
pub struct Source {
    /// Kind.
    pub kind: m::SourceKind,
    /// Named sources.
    pub description: Option<Text>,
}

impl Source {
    /// Whether Art. 14 applies (the data was not obtained from the data subject).
    pub fn is_indirect(&self) -> bool {
        !matches!(
            self.kind,
            m::SourceKind::DataSubject | m::SourceKind::Observed
        )
    }
}

/// Retention of a category.
#[derive(Debug, Serialize)]
pub struct Retention {
    /// Period.
    pub period: Option<Period>,
    /// The clock (default `created`).
    pub from: String,
    /// Ending events.
    pub until: Vec<String>,
    /// Criteria.
    pub criteria: Option<Text>,
    /// Statutory retention.
    pub statutory: Option<Statutory>,
    /// Tenant override bounds.
    pub tenant_override: Option<Bounds>,
    /// Per-tier periods.
    pub tiers: Vec<TierPeriod>,
    /// Purge cadence.
    pub purge_every: Option<Period>,
    /// Note.
    pub note: Option<Text>,
}

/// Statutory retention.
#[derive(Debug, Serialize)]
pub struct Statutory {
    /// The law.
    pub law: Text,
    /// The period (default: the retention period).
    pub period: Option<Period>,
}

/// Tenant override bounds.
#[derive(Debug, Serialize)]
pub struct Bounds {
    /// Minimum.
    pub min: Option<Period>,
    /// Maximum.
    pub max: Option<Period>,
}

/// Period of one tier.
#[derive(Debug, Serialize)]
pub struct TierPeriod {
    /// Tier id.
    pub tier: String,
    /// Period.
    pub period: Period,
}

/// A purpose.
#[derive(Debug, Serialize)]
pub struct Purpose {
    /// Id.
    pub id: String,
    /// Name.
    pub name: Text,
    /// Description.
    pub description: Option<Text>,
    /// Our role (default controller).
    pub role: Role,
    /// On whose behalf, for processor activities.
    pub on_behalf_of: Option<Text>,
    /// The governing agreement, for processor activities.
    pub dpa: Option<Text>,
    /// Legal basis: the first of `bases` (the only one for most purposes).
    pub basis: Option<Basis>,
    /// The Art. 6(1) point of `basis`, e.g. `6(1)(b)`.
    pub basis_article: Option<&'static str>,
    /// Every legal basis, in the order written; more than one when the purpose relies on
    /// alternatives (`basis_note` then says which applies when).
    pub bases: Vec<Basis>,
    /// Which basis applies when.
    pub basis_note: Option<Text>,
    /// Legitimate interest.
    pub legitimate_interest: Option<Text>,
    /// Legal obligation.
    pub legal_obligation: Option<Text>,
    /// Art. 9(2) condition.
    pub special_condition: Option<m::SpecialCondition>,
    /// Art. 9(2) point.
    pub special_condition_article: Option<&'static str>,
    /// Art. 10 authorisation.
    pub criminal_authorisation: Option<Text>,
    /// Choice.
    pub choice: m::Choice,
    /// Withdrawal.
    pub withdraw: Option<Text>,
    /// Direct marketing.
    pub direct_marketing: bool,
    /// Requirement.
    pub provision: Option<Provision>,
    /// Automated decisions.
    pub automated_decision: Option<AutomatedDecision>,
    /// Approval gate.
    pub approval: Option<Approval>,
    /// Notice versions under which consent to this purpose no longer counts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stale_consent: Vec<String>,
    /// Subjects (declared, else those of its categories).
    pub subjects: Vec<String>,
    /// Categories.
    pub categories: Vec<String>,
    /// Recipients.
    pub recipients: Vec<String>,
    /// Joint controllers involved.
    pub joint_controllers: Vec<String>,
    /// Note.
    pub note: Option<Text>,
    /// W3C DPV purpose concepts.
    pub dpv: Vec<String>,
}

/// Requirement to provide data.
#[derive(Debug, Serialize)]
pub struct Provision {
    /// Requirement.
    pub requirement: m::Requirement,
    /// Consequence of not providing.
    pub consequence: Option<Text>,
}

/// Automated decision-making.
#[derive(Debug, Serialize)]
pub struct AutomatedDecision {
    /// Kind.
    pub kind: m::AutomatedKind,
    /// Logic.
    pub logic: Option<Text>,
    /// Significance.
    pub significance: Option<Text>,
    /// Consequences.
    pub consequences: Option<Text>,
    /// Safeguards.
    pub safeguards: Option<Text>,
}

/// Approval gate.
#[derive(Debug, Serialize)]
pub struct Approval {
    /// Action.
    pub action: String,
    /// Approver.
    pub approver: Text,
    /// Audited.
    pub audit: bool,
}

/// A recipient.
#[derive(Debug, Serialize)]
pub struct Recipient {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kind (default processor): the first of `kinds`.
    pub kind: m::RecipientKind,
    /// Every kind declared: `[processor, sub_processor]` for one that is our processor for our
    /// own purposes and our sub-processor where we act as processor.
    pub kinds: Vec<m::RecipientKind>,
    /// What they do.
    pub purpose: Option<Text>,
    /// Locations.
    pub locations: Vec<String>,
    /// Locations outside the EEA.
    pub third_countries: Vec<String>,
    /// Location note.
    pub location_note: Option<Text>,
    /// Mechanisms.
    pub transfer: Vec<m::Mechanism>,
    /// SCC module.
    pub scc_module: Option<u8>,
    /// Safeguards.
    pub safeguards: Option<Text>,
    /// Derogation point.
    pub derogation: Option<String>,
    /// DPA signed.
    pub dpa: Option<bool>,
    /// TIA done.
    pub tia: Option<bool>,
    /// Tenant opt-in.
    pub tenant_opt_in: bool,
    /// Optional.
    pub optional: bool,
    /// Categories (declared, plus those of purposes naming it).
    pub categories: Vec<String>,
    /// Purposes naming it.
    pub purposes: Vec<String>,
    /// Note.
    pub note: Option<Text>,
}

/// A measure.
#[derive(Debug, Serialize)]
pub struct Measure {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: m::MeasureKind,
    /// Description.
    pub description: Text,
    /// Cadence.
    pub every: Option<Period>,
}

/// Breach handling.
#[derive(Debug, Serialize, Default)]
pub struct Breach {
    /// Deadline for the authority.
    pub authority_within: Option<Period>,
    /// Subjects.
    pub subjects: Option<Text>,
    /// Whether the controller is a Dutch financial undertaking (Wft): UAVG art. 42 sets aside
    /// the Art. 34 notice to data subjects for it. Read by the breach assessment.
    pub financial_undertaking: bool,
    /// Note.
    pub note: Option<Text>,
}

/// Rights handling.
#[derive(Debug, Serialize)]
pub struct Rights {
    /// Rights listed.
    pub offered: Vec<m::Right>,
    /// Channels (default: the controller's contact channels).
    pub channels: Vec<m::Channel>,
    /// Response period (default one month, Art. 12(3)).
    pub response: Period,
    /// Whether the policy itself states the response period (`response`): only then does the
    /// statement promise it; the default is the law's, and is attributed to it.
    #[serde(skip)]
    pub response_stated: bool,
    /// Extension (default two months, Art. 12(3)).
    pub extension: Option<Period>,
    /// Export formats.
    pub export_formats: Vec<m::ExportFormat>,
    /// Complaint authorities named (default: the controller's lead authority).
    pub complaint: Vec<AuthorityRef>,
    /// Authorities described rather than named: any, or that of the person's habitual
    /// residence, place of work or of the infringement (Art. 77(1)).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub complaint_scopes: Vec<law::ComplaintScope>,
    /// Self-service.
    pub self_service: Option<Text>,
    /// Note.
    pub note: Option<Text>,
}

/// Notice rules.
#[derive(Debug, Serialize, Default)]
pub struct Notice {
    /// Notice before material changes.
    pub material_change: Option<Period>,
    /// Notice before new sub-processors.
    pub new_subprocessor: Option<Period>,
    /// Channel.
    pub channel: Option<Text>,
    /// Acceptance.
    pub acceptance: m::Acceptance,
    /// History.
    pub history: Option<Text>,
}

/// A commitment.
#[derive(Debug, Serialize)]
pub struct Commitment {
    /// Id.
    pub id: String,
    /// Title.
    pub title: Text,
    /// Text.
    pub text: Text,
}

/// A cookie or similar tracker, with what the consent banner needs to know about it.
#[derive(Debug, Serialize)]
pub struct Cookie {
    /// Id, unique among cookies: what the banner and the page refer to.
    pub id: String,
    /// The name as the browser shows it (default: the id).
    pub name: String,
    /// Who sets and reads it (default: the recipient's name).
    pub provider: Option<String>,
    /// The declared recipient behind it.
    pub recipient: Option<String>,
    /// What it is for.
    pub purpose: Option<Text>,
    /// Strictly necessary, preferences, analytics or marketing.
    #[serde(rename = "type")]
    pub kind: m::CookieType,
    /// Cookie, local storage, pixel, SDK, fingerprint.
    pub technology: m::Technology,
    /// How long it lives.
    pub lifetime: Option<m::Lifetime>,
    /// First or third party.
    pub party: Option<m::CookieParty>,
    /// Whether the banner must ask consent before it is set: what the policy states, else
    /// what the law requires (`consent_required_by_law`).
    pub consent_needed: bool,
    /// Whether the law requires consent (ePrivacy Directive Art. 5(3); Telecommunicatiewet
    /// art. 11.7a for a Dutch controller).
    pub consent_required_by_law: bool,
    /// Whether it is set only with consent in the policy's own words: `consent`, else a
    /// `basis` (consent or not) or a `choice` (opt-in or not); `None` when the policy leaves
    /// it to the law. The statement promises only this (issue 22).
    #[serde(skip)]
    pub consent_stated: Option<bool>,
    /// How it comes to be set, as stated.
    pub choice: Option<m::CookieChoice>,
    /// The legal basis claimed for it, as stated.
    pub basis: Option<Basis>,
    /// Analytics with little or no impact on privacy.
    pub minimal_impact: bool,
    /// The consent purpose the banner records the choice under (a purpose id).
    pub consent_purpose: Option<String>,
    /// Note.
    pub note: Option<Text>,
}

/// A declared indirect source.
#[derive(Debug, Serialize)]
pub struct SourceDecl {
    /// Id.
    pub id: String,
    /// Who or what it is.
    pub name: Text,
    /// Kind (default third party).
    pub kind: m::SourceKind,
    /// Publicly accessible.
    pub public: bool,
    /// The categories obtained from it.
    pub categories: Vec<String>,
    /// Note.
    pub note: Option<Text>,
}

/// The policy-wide transfer clause.
#[derive(Debug, Serialize)]
pub struct Transfer {
    /// Whether data may leave the EEA.
    pub outside_eea: bool,
    /// Countries named.
    pub locations: Vec<String>,
    /// Mechanisms relied on.
    pub mechanisms: Vec<m::Mechanism>,
    /// The clause in words.
    pub description: Option<Text>,
    /// Where a copy of the safeguards is available.
    pub safeguards: Option<Text>,
}

/// A national law referred to.
#[derive(Debug, Serialize)]
pub struct LawRef {
    /// Id.
    pub id: String,
    /// Name (the built-in name for a known law unless the policy gives one).
    pub name: Text,
    /// Country.
    pub country: Option<String>,
    /// Where published.
    pub url: Option<String>,
    /// What the statement relies on it for.
    pub note: Option<Text>,
}

/// Clocks every policy has without declaring them.
pub const BUILTIN_CLOCKS: &[&str] = &[
    "created",
    "last_activity",
    "consent.withdrawn",
    "objection.received",
];

impl Purpose {
    /// [`Policy::purpose_uses`] for a category already looked up (the decision has it at hand
    /// and spares the second lookup).
    pub fn uses(&self, c: &Category) -> bool {
        self.names_category(&c.id) || self.names_parent_of(c)
    }

    /// The category is one of the purpose's, or under one of them by its id (`mail` covers
    /// `mail.metadata`).
    fn names_category(&self, category: &str) -> bool {
        self.categories.iter().any(|c| {
            category
                .strip_prefix(c.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        })
    }

    /// The category's declared parent is one of the purpose's categories.
    fn names_parent_of(&self, c: &Category) -> bool {
        c.parent
            .as_ref()
            .is_some_and(|parent| self.categories.contains(parent))
    }
}

impl Policy {
    /// The category with `id`.
    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    /// The purpose with `id`.
    pub fn purpose(&self, id: &str) -> Option<&Purpose> {
        self.purposes.iter().find(|p| p.id == id)
    }

    /// Whether purpose `p` uses data of `category`: the category, or a parent of it, is one of
    /// the purpose's categories (`mail` covers `mail.metadata`). Processing a category for a
    /// purpose that does not list it is processing for another purpose (Art. 5(1)(b)).
    /// Checked in place, without allocating, as it runs on every decision and every write.
    pub fn purpose_uses(&self, p: &Purpose, category: &str) -> bool {
        p.names_category(category)
            || self
                .category(category)
                .is_some_and(|c| p.names_parent_of(c))
    }

    /// The actions the policy gates behind a person's approval (`approval = { action = … }` on a
    /// purpose), each once, in the order declared.
    pub fn approval_actions(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for a in self.purposes.iter().filter_map(|p| p.approval.as_ref()) {
            if !out.contains(&a.action.as_str()) {
                out.push(&a.action);
            }
        }
        out
    }

    /// The recipient with `id`.
    pub fn recipient(&self, id: &str) -> Option<&Recipient> {
        self.recipients.iter().find(|r| r.id == id)
    }

    /// The subject with `id`.
    pub fn subject(&self, id: &str) -> Option<&Subject> {
        self.subjects.iter().find(|s| s.id == id)
    }

    /// The cookie with `id`.
    pub fn cookie(&self, id: &str) -> Option<&Cookie> {
        self.cookies.iter().find(|c| c.id == id)
    }

    /// The cookies the banner must ask consent for before they are set, in file order.
    pub fn cookies_needing_consent(&self) -> impl Iterator<Item = &Cookie> {
        self.cookies.iter().filter(|c| c.consent_needed)
    }

    /// The consent choices a banner offers: each consent purpose that cookies needing consent
    /// map to, with those cookies, in the order the purposes first appear among the cookies.
    /// Cookies needing consent that name no purpose come last, under `None` (C149 reports them).
    pub fn cookie_consent_groups(&self) -> Vec<(Option<&str>, Vec<&Cookie>)> {
        let mut out: Vec<(Option<&str>, Vec<&Cookie>)> = Vec::new();
        for c in self.cookies_needing_consent() {
            let key = c.consent_purpose.as_deref();
            match out.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push(c),
                None => out.push((key, vec![c])),
            }
        }
        out.sort_by_key(|(k, _)| k.is_none());
        out
    }

    /// Whether any purpose relies on consent (Art. 6(1)(a) or 9(2)(a)).
    pub fn uses_consent(&self) -> bool {
        self.purposes.iter().any(|p| {
            p.bases.contains(&Basis::Consent)
                || p.special_condition == Some(m::SpecialCondition::ExplicitConsent)
                || p.choice == m::Choice::OptIn
        })
    }
}

struct Ids<'a> {
    kind: &'static str,
    spans: HashMap<&'a str, Range<usize>>,
}

impl<'a> Ids<'a> {
    fn collect(
        kind: &'static str,
        items: impl Iterator<Item = &'a Sp<String>>,
        out: &mut Vec<Diagnostic>,
    ) -> Self {
        let mut spans: HashMap<&str, Range<usize>> = HashMap::new();
        for id in items {
            if id.get_ref().trim().is_empty() {
                out.push(Diagnostic::structural(
                    "S003",
                    "invalid-value",
                    format!("a {kind} id must not be empty"),
                    Some(id.span()),
                ));
                continue;
            }
            if let Some(first) = spans.get(id.get_ref().as_str()) {
                let first = first.clone();
                out.push(
                    Diagnostic::structural(
                        "S006",
                        "duplicate-id",
                        format!("{kind} id `{}` is defined twice", id.get_ref()),
                        Some(id.span()),
                    )
                    .with_help(format!(
                        "the first definition is at byte {}; ids must be unique",
                        first.start
                    )),
                );
            } else {
                spans.insert(id.get_ref(), id.span());
            }
        }
        Ids { kind, spans }
    }

    fn check(&self, r: &Sp<String>, out: &mut Vec<Diagnostic>) -> bool {
        self.check_with(r, &[], out)
    }

    fn check_with(&self, r: &Sp<String>, extra: &[&str], out: &mut Vec<Diagnostic>) -> bool {
        let name = r.get_ref().as_str();
        if self.spans.contains_key(name) || extra.contains(&name) {
            return true;
        }
        let mut candidates: Vec<&str> = self
            .spans
            .keys()
            .copied()
            .chain(extra.iter().copied())
            .collect();
        candidates.sort_unstable();
        let mut d = Diagnostic::structural(
            "S005",
            "undefined-reference",
            format!("no {} with id `{name}` is defined", self.kind),
            Some(r.span()),
        );
        d = match nearest(name, candidates.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None if candidates.is_empty() => {
                d.with_help(format!("define it first with a [[{}]] table", self.kind))
            }
            None => d.with_help(format!(
                "defined {} ids: {}",
                self.kind,
                candidates.join(", ")
            )),
        };
        out.push(d);
        false
    }
}

/// Checks every id and reference in `file` and builds the resolved [`Policy`]. Returns all
/// structural errors found (duplicate ids, undefined references, category cycles, unknown
/// location codes, authorities or languages) rather than stopping at the first.
pub fn resolve(file: &PolicyFile) -> Result<Policy, Vec<Diagnostic>> {
    let mut errs = Vec::new();
    let subjects = Ids::collect(
        "subject",
        file.subject.iter().map(|s| &s.get_ref().id),
        &mut errs,
    );
    let categories = Ids::collect(
        "category",
        file.category.iter().map(|c| &c.get_ref().id),
        &mut errs,
    );
    let events = Ids::collect(
        "event",
        file.event.iter().map(|e| &e.get_ref().id),
        &mut errs,
    );
    let tiers = Ids::collect("tier", file.tier.iter().map(|t| &t.get_ref().id), &mut errs);
    let purposes = Ids::collect(
        "purpose",
        file.purpose.iter().map(|p| &p.get_ref().id),
        &mut errs,
    );
    let recipients = Ids::collect(
        "recipient",
        file.recipient.iter().map(|r| &r.get_ref().id),
        &mut errs,
    );
    Ids::collect(
        "joint_controller",
        file.joint_controller.iter().map(|j| &j.get_ref().id),
        &mut errs,
    );
    Ids::collect(
        "measure",
        file.measure.iter().map(|x| &x.get_ref().id),
        &mut errs,
    );
    Ids::collect(
        "commitment",
        file.commitment.iter().map(|x| &x.get_ref().id),
        &mut errs,
    );
    Ids::collect("cookie", file.cookies().map(|x| &x.get_ref().id), &mut errs);
    Ids::collect(
        "source",
        file.source.iter().map(|x| &x.get_ref().id),
        &mut errs,
    );
    Ids::collect("law", file.law.iter().map(|x| &x.get_ref().id), &mut errs);

    // References.
    let retentions = file
        .category
        .iter()
        .filter_map(|c| c.get_ref().retention.as_ref())
        .chain(file.retention.as_ref());
    for r in retentions {
        {
            let r = r.get_ref();
            if let Some(from) = &r.from {
                events.check_with(from, BUILTIN_CLOCKS, &mut errs);
            }
            for u in &r.until {
                events.check_with(u, BUILTIN_CLOCKS, &mut errs);
            }
            for t in &r.tiers {
                tiers.check(&t.get_ref().tier, &mut errs);
            }
        }
    }
    for c in &file.category {
        let c = c.get_ref();
        if let Some(p) = &c.parent {
            categories.check(p, &mut errs);
        }
        for s in &c.subjects {
            subjects.check(s, &mut errs);
        }
    }
    for k in file.cookies() {
        let k = k.get_ref();
        if let Some(r) = &k.recipient {
            recipients.check(r, &mut errs);
        }
        if let Some(p) = &k.consent_purpose {
            purposes.check(p, &mut errs);
        }
    }
    for src in &file.source {
        for c in &src.get_ref().categories {
            categories.check(c, &mut errs);
        }
    }
    for l in &file.law {
        let l = l.get_ref();
        if law::national_law(l.id.get_ref()).is_none() && l.name.is_none() {
            let known: Vec<&str> = law::NATIONAL_LAWS.iter().map(|n| n.id).collect();
            let d = Diagnostic::structural(
                "S008",
                "unknown-law",
                format!(
                    "`{}` is not a national law Custos knows, and the [[law]] gives no name",
                    l.id.get_ref()
                ),
                Some(l.id.span()),
            );
            errs.push(match nearest(l.id.get_ref(), known.iter().copied()) {
                Some(s) => d.with_help(format!(
                    "did you mean `{s}`? or add `name = \"…\"` for a law of your own"
                )),
                None => d.with_help(format!(
                    "known: {}; or add `name = \"…\"` for a law of your own",
                    known.join(", ")
                )),
            });
        }
    }
    let dpv_refs = file
        .category
        .iter()
        .flat_map(|c| c.get_ref().dpv.iter())
        .chain(file.purpose.iter().flat_map(|p| p.get_ref().dpv.iter()));
    for concept in dpv_refs {
        if !crate::vocabulary::is_known_concept(concept.get_ref()) {
            let mut d = Diagnostic::structural(
                "S008",
                "unknown-dpv-concept",
                format!(
                    "`{}` is not a DPV 2.3 concept Custos knows",
                    concept.get_ref()
                ),
                Some(concept.span()),
            );
            d = match nearest(concept.get_ref(), crate::vocabulary::known_concepts()) {
                Some(s) => d.with_help(format!("did you mean `{s}`? concepts are written with their prefix: `pd:EmailAddress`, `dpv:ServiceProvision`")),
                None => d.with_help("concepts are written with their prefix: `pd:EmailAddress`, `dpv:ServiceProvision`"),
            };
            errs.push(d);
        }
    }
    for p in &file.purpose {
        let p = p.get_ref();
        for s in &p.subjects {
            subjects.check(s, &mut errs);
        }
        for c in &p.categories {
            categories.check(c, &mut errs);
        }
        for r in &p.recipients {
            recipients.check(r, &mut errs);
        }
    }
    let transfer_locations = file
        .transfer
        .iter()
        .flat_map(|t| t.get_ref().locations.iter());
    for r in &file.recipient {
        for c in &r.get_ref().categories {
            categories.check(c, &mut errs);
        }
    }
    let locations = file
        .recipient
        .iter()
        .flat_map(|r| r.get_ref().locations.iter())
        .chain(transfer_locations);
    {
        for loc in locations {
            if law::zone(loc.get_ref()).is_none() {
                let mut d = Diagnostic::structural(
                    "S008",
                    "unknown-location",
                    format!(
                        "`{}` is not a location code: use an ISO 3166-1 alpha-2 country code, `EU` or `EEA`",
                        loc.get_ref()
                    ),
                    Some(loc.span()),
                );
                if let Some(s) = nearest(&loc.get_ref().to_uppercase(), law::location_codes()) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                errs.push(d);
            }
        }
    }
    for j in &file.joint_controller {
        for p in &j.get_ref().purposes {
            purposes.check(p, &mut errs);
        }
    }
    let authority_ids: Vec<&str> = law::AUTHORITIES.iter().map(|a| a.id).collect();
    let check_authority = |a: &Sp<String>, errs: &mut Vec<Diagnostic>| {
        if law::authority(a.get_ref()).is_none()
            && law::ComplaintScope::parse(a.get_ref()).is_none()
        {
            let mut d = Diagnostic::structural(
                "S008",
                "unknown-authority",
                format!(
                    "`{}` is not a supervisory authority Custos knows",
                    a.get_ref()
                ),
                Some(a.span()),
            );
            d = match nearest(a.get_ref(), authority_ids.iter().copied()) {
                Some(s) => d.with_help(format!(
                    "did you mean `{s}`? known: {}; or `any`, `habitual_residence`, `place_of_work`, `place_of_infringement` in `complaint`",
                    authority_ids.join(", ")
                )),
                None => d.with_help(format!(
                    "known: {}; or `any`, `habitual_residence`, `place_of_work`, `place_of_infringement` in `complaint`",
                    authority_ids.join(", ")
                )),
            };
            errs.push(d);
        }
    };
    if let Some(a) = file
        .controller
        .as_ref()
        .and_then(|c| c.get_ref().authority.as_ref())
    {
        if law::ComplaintScope::parse(a.get_ref()).is_some() {
            errs.push(
                Diagnostic::structural(
                    "S008",
                    "unknown-authority",
                    format!("the lead authority must be one authority, not `{}`", a.get_ref()),
                    Some(a.span()),
                )
                .with_help("name it by id, e.g. `nl-ap`; say `any` or `habitual_residence` in `[rights] complaint`"),
            );
        } else {
            check_authority(a, &mut errs);
        }
    }
    if let Some(r) = &file.rights {
        for a in &r.get_ref().complaint {
            check_authority(a, &mut errs);
        }
    }

    // Category hierarchy: explicit parent, else the dotted prefix when that is a category.
    let index: HashMap<&str, usize> = file
        .category
        .iter()
        .enumerate()
        .map(|(i, c)| (c.get_ref().id.get_ref().as_str(), i))
        .collect();
    let parent_of: Vec<Option<usize>> = file
        .category
        .iter()
        .map(|c| {
            let c = c.get_ref();
            match &c.parent {
                Some(p) => index.get(p.get_ref().as_str()).copied(),
                None => {
                    c.id.get_ref()
                        .rsplit_once('.')
                        .and_then(|(prefix, _)| index.get(prefix).copied())
                }
            }
        })
        .collect();
    for start in 0..parent_of.len() {
        let mut seen = BTreeSet::new();
        let mut at = Some(start);
        while let Some(i) = at {
            if !seen.insert(i) {
                if i == start {
                    let c = file.category[start].get_ref();
                    let span = c
                        .parent
                        .as_ref()
                        .map(|p| p.span())
                        .unwrap_or_else(|| c.id.span());
                    let chain: Vec<&str> = seen
                        .iter()
                        .map(|&k| file.category[k].get_ref().id.get_ref().as_str())
                        .collect();
                    errs.push(
                        Diagnostic::structural(
                            "S007",
                            "category-cycle",
                            format!("category `{}` is its own ancestor", c.id.get_ref()),
                            Some(span),
                        )
                        .with_help(format!(
                            "the parents form a cycle through: {}",
                            chain.join(" → ")
                        )),
                    );
                }
                break;
            }
            at = parent_of[i];
        }
    }

    if !errs.is_empty() {
        errs.sort_by_key(|d| d.span.as_ref().map(|s| s.start));
        errs.dedup();
        return Err(errs);
    }
    Ok(build(file, &parent_of))
}

fn text_vec(v: &[Sp<String>]) -> Vec<String> {
    v.iter().map(|s| s.get_ref().clone()).collect()
}

/// The policy's own metadata, English when it names no language.
fn meta(file: &PolicyFile) -> Meta {
    let meta_raw = file.policy.get_ref();
    let languages = if meta_raw.languages.is_empty() {
        vec![Lang::En]
    } else {
        let mut l: Vec<Lang> = meta_raw.languages.iter().map(|l| *l.get_ref()).collect();
        l.dedup();
        l
    };
    Meta {
        id: meta_raw.id.as_ref().map(|s| s.get_ref().clone()),
        version: meta_raw.version.as_ref().map(|s| s.get_ref().clone()),
        updated: meta_raw.updated.as_ref().map(|s| s.get_ref().clone()),
        languages,
        title: meta_raw.title.clone(),
        url: meta_raw.url.clone(),
        scope: meta_raw.scope.clone(),
        form_of_address: meta_raw
            .form_of_address
            .as_ref()
            .map(|f| *f.get_ref())
            .unwrap_or_default(),
    }
}

/// The controller, a plain controller with nothing known when the file names none.
fn controller(file: &PolicyFile) -> Controller {
    match &file.controller {
        Some(c) => {
            let c = c.get_ref();
            Controller {
                name: c.name.as_ref().map(|n| n.get_ref().clone()),
                address: c.address.clone(),
                country: c.country.as_ref().map(|n| n.get_ref().clone()),
                registration: c.registration.clone(),
                contact: c.contact.iter().map(|ch| ch.get_ref().clone()).collect(),
                website: c.website.clone(),
                roles: if c.roles.is_empty() {
                    vec![Role::Controller]
                } else {
                    c.roles.iter().map(|r| *r.get_ref()).collect()
                },
                dpo: c.dpo.as_ref().map(|d| {
                    let d = d.get_ref();
                    Dpo {
                        appointed: d.appointed,
                        name: d.name.clone(),
                        email: d.email.clone(),
                        phone: d.phone.clone(),
                        reason: d.reason.clone(),
                    }
                }),
                representative: c.representative.clone(),
                authority: c
                    .authority
                    .as_ref()
                    .and_then(|a| law::authority(a.get_ref()))
                    .map(AuthorityRef::from),
            }
        }
        None => Controller {
            name: None,
            address: None,
            country: None,
            registration: None,
            contact: Vec::new(),
            website: None,
            roles: vec![Role::Controller],
            dpo: None,
            representative: None,
            authority: None,
        },
    }
}

/// Back-references: which purposes use a category, which recipients receive it, and the other
/// way round.
#[derive(Default)]
struct BackRefs<'a> {
    cat_purposes: BTreeMap<&'a str, Vec<String>>,
    cat_recipients: BTreeMap<&'a str, BTreeSet<String>>,
    rec_purposes: BTreeMap<&'a str, Vec<String>>,
    rec_categories: BTreeMap<&'a str, BTreeSet<String>>,
}

fn back_references(file: &PolicyFile) -> BackRefs<'_> {
    let BackRefs {
        mut cat_purposes,
        mut cat_recipients,
        mut rec_purposes,
        mut rec_categories,
    } = BackRefs::default();
    for p in &file.purpose {
        let p = p.get_ref();
        for c in &p.categories {
            cat_purposes
                .entry(c.get_ref())
                .or_default()
                .push(p.id.get_ref().clone());
            for r in &p.recipients {
                cat_recipients
                    .entry(c.get_ref())
                    .or_default()
                    .insert(r.get_ref().clone());
                rec_categories
                    .entry(r.get_ref())
                    .or_default()
                    .insert(c.get_ref().clone());
            }
        }
        for r in &p.recipients {
            rec_purposes
                .entry(r.get_ref())
                .or_default()
                .push(p.id.get_ref().clone());
        }
    }
    for r in &file.recipient {
        let r = r.get_ref();
        for c in &r.categories {
            cat_recipients
                .entry(c.get_ref())
                .or_default()
                .insert(r.id.get_ref().clone());
            rec_categories
                .entry(r.id.get_ref())
                .or_default()
                .insert(c.get_ref().clone());
        }
    }
    BackRefs {
        cat_purposes,
        cat_recipients,
        rec_purposes,
        rec_categories,
    }
}

/// How rights are handled; where the file is silent, the controller's contacts and authority.
fn rights(file: &PolicyFile, controller: &Controller) -> Rights {
    match &file.rights {
        Some(r) => {
            let r = r.get_ref();
            Rights {
                offered: r.offered.iter().map(|x| *x.get_ref()).collect(),
                channels: if r.channels.is_empty() {
                    controller.contact.clone()
                } else {
                    r.channels.iter().map(|c| c.get_ref().clone()).collect()
                },
                response: r
                    .response
                    .as_ref()
                    .map(|p| *p.get_ref())
                    .unwrap_or_else(one_month),
                response_stated: r.response.is_some(),
                extension: r.extension.as_ref().map(|p| *p.get_ref()),
                export_formats: r.export_formats.clone(),
                complaint: if r.complaint.is_empty() {
                    controller.authority.iter().cloned().collect()
                } else {
                    r.complaint
                        .iter()
                        .filter_map(|a| law::authority(a.get_ref()))
                        .map(AuthorityRef::from)
                        .collect()
                },
                complaint_scopes: r
                    .complaint
                    .iter()
                    .filter_map(|a| law::ComplaintScope::parse(a.get_ref()))
                    .collect(),
                self_service: r.self_service.clone(),
                note: r.note.clone(),
            }
        }
        None => Rights {
            offered: Vec::new(),
            channels: controller.contact.clone(),
            response: one_month(),
            response_stated: false,
            extension: None,
            export_formats: Vec::new(),
            complaint: controller.authority.iter().cloned().collect(),
            complaint_scopes: Vec::new(),
            self_service: None,
            note: None,
        },
    }
}

fn build(file: &PolicyFile, parent_of: &[Option<usize>]) -> Policy {
    let meta = meta(file);
    let controller = controller(file);
    let BackRefs {
        mut cat_purposes,
        mut cat_recipients,
        mut rec_purposes,
        mut rec_categories,
    } = back_references(file);

    // Categories, inheriting from their parents (resolved root-first by walking up).
    let raw = &file.category;
    let ancestors = |i: usize| -> Vec<usize> {
        let mut chain = vec![i];
        let mut at = parent_of[i];
        while let Some(p) = at {
            chain.push(p);
            at = parent_of[p];
        }
        chain
    };
    let categories = (0..raw.len())
        .map(|i| {
            let chain = ancestors(i);
            let own = raw[i].get_ref();
            let first = |f: &dyn Fn(&m::Category) -> bool| {
                chain.iter().map(|&k| raw[k].get_ref()).find(|c| f(c))
            };
            let id = own.id.get_ref().clone();
            Category {
                parent: parent_of[i].map(|p| raw[p].get_ref().id.get_ref().clone()),
                depth: chain.len() - 1,
                name: own.name.clone(),
                examples: own.examples.clone(),
                subjects: first(&|c| !c.subjects.is_empty())
                    .map(|c| text_vec(&c.subjects))
                    .unwrap_or_default(),
                special: specials(first(&|c| c.special.is_some())).first().copied(),
                specials: specials(first(&|c| c.special.is_some())),
                sources: file
                    .source
                    .iter()
                    .filter(|s| {
                        s.get_ref().categories.iter().any(|c| {
                            chain
                                .iter()
                                .any(|&k| raw[k].get_ref().id.get_ref() == c.get_ref())
                        })
                    })
                    .map(|s| s.get_ref().id.get_ref().clone())
                    .collect(),
                criminal: chain.iter().any(|&k| raw[k].get_ref().criminal),
                source: first(&|c| c.source.is_some())
                    .and_then(|c| c.source.as_ref())
                    .map(|s| Source {
                        kind: *s.get_ref().kind.get_ref(),
                        description: s.get_ref().description.clone(),
                    })
                    .or_else(|| declared_source(file, &chain, raw))
                    .unwrap_or(Source {
                        kind: m::SourceKind::DataSubject,
                        description: None,
                    }),
                key_domain: first(&|c| c.key_domain.is_some())
                    .and_then(|c| c.key_domain.as_ref())
                    .map(|k| k.get_ref().clone())
                    .unwrap_or_else(|| "default".into()),
                stored: chain.iter().all(|&k| raw[k].get_ref().stored),
                handling: own.handling.clone(),
                retention: first(&|c| c.retention.is_some())
                    .and_then(|c| c.retention.as_ref())
                    .or(file.retention.as_ref())
                    .map(|r| resolve_retention(r.get_ref())),
                note: own.note.clone(),
                purposes: cat_purposes.remove(id.as_str()).unwrap_or_default(),
                recipients: cat_recipients
                    .remove(id.as_str())
                    .map(|s| s.into_iter().collect())
                    .unwrap_or_default(),
                dpv: first(&|c| !c.dpv.is_empty())
                    .map(|c| text_vec(&c.dpv))
                    .unwrap_or_default(),
                id,
            }
        })
        .collect::<Vec<_>>();

    let joint_by_purpose = |pid: &str| -> Vec<String> {
        file.joint_controller
            .iter()
            .filter(|j| j.get_ref().purposes.iter().any(|p| p.get_ref() == pid))
            .map(|j| j.get_ref().id.get_ref().clone())
            .collect()
    };
    let purposes = file
        .purpose
        .iter()
        .map(|p| {
            let p = p.get_ref();
            let cats = text_vec(&p.categories);
            let subjects = if p.subjects.is_empty() {
                let mut s: Vec<String> = cats
                    .iter()
                    .filter_map(|c| categories.iter().find(|k| &k.id == c))
                    .flat_map(|k| k.subjects.iter().cloned())
                    .collect();
                s.sort();
                s.dedup();
                s
            } else {
                text_vec(&p.subjects)
            };
            let bases: Vec<Basis> = p
                .basis
                .as_ref()
                .map(|b| b.get_ref().values().to_vec())
                .unwrap_or_default();
            let basis = bases.first().copied();
            let special_condition = p.special_condition.as_ref().map(|c| *c.get_ref());
            Purpose {
                id: p.id.get_ref().clone(),
                name: p.name.clone(),
                description: p.description.clone(),
                role: p
                    .role
                    .as_ref()
                    .map(|r| *r.get_ref())
                    .unwrap_or(Role::Controller),
                on_behalf_of: p.on_behalf_of.clone(),
                dpa: p.dpa.clone(),
                basis,
                basis_article: basis.map(law::basis_article),
                bases,
                basis_note: p.basis_note.clone(),
                legitimate_interest: p.legitimate_interest.clone(),
                legal_obligation: p.legal_obligation.clone(),
                special_condition,
                special_condition_article: special_condition.map(law::special_condition_article),
                criminal_authorisation: p.criminal_authorisation.clone(),
                choice: p.choice,
                withdraw: p.withdraw.clone(),
                direct_marketing: p.direct_marketing,
                provision: p.provision.as_ref().map(|x| Provision {
                    requirement: x.requirement,
                    consequence: x.consequence.clone(),
                }),
                automated_decision: p.automated_decision.as_ref().map(|a| {
                    let a = a.get_ref();
                    AutomatedDecision {
                        kind: *a.kind.get_ref(),
                        logic: a.logic.clone(),
                        significance: a.significance.clone(),
                        consequences: a.consequences.clone(),
                        safeguards: a.safeguards.clone(),
                    }
                }),
                stale_consent: text_vec(&p.stale_consent),
                approval: p.approval.as_ref().map(|a| {
                    let a = a.get_ref();
                    Approval {
                        action: a.action.get_ref().clone(),
                        approver: a.approver.clone(),
                        audit: a.audit,
                    }
                }),
                subjects,
                categories: cats,
                recipients: text_vec(&p.recipients),
                joint_controllers: joint_by_purpose(p.id.get_ref()),
                note: p.note.clone(),
                dpv: text_vec(&p.dpv),
            }
        })
        .collect();

    let recipients = file
        .recipient
        .iter()
        .map(|r| {
            let r = r.get_ref();
            let locations = text_vec(&r.locations);
            let id = r.id.get_ref().clone();
            let kinds = match &r.kind {
                Some(k) if !k.get_ref().values().is_empty() => k.get_ref().values().to_vec(),
                _ => vec![m::RecipientKind::Processor],
            };
            Recipient {
                name: r.name.get_ref().clone(),
                kind: kinds[0],
                kinds,
                purpose: r.purpose.clone(),
                third_countries: locations
                    .iter()
                    .filter(|l| law::zone(l) != Some(Zone::Eea))
                    .cloned()
                    .collect(),
                locations,
                location_note: r.location_note.clone(),
                transfer: r.transfer.iter().map(|t| *t.get_ref()).collect(),
                scc_module: r.scc_module.as_ref().map(|s| *s.get_ref()),
                safeguards: r.safeguards.clone(),
                derogation: r.derogation.as_ref().map(|d| d.get_ref().clone()),
                dpa: r.dpa,
                tia: r.tia,
                tenant_opt_in: r.tenant_opt_in,
                optional: r.optional,
                categories: rec_categories
                    .remove(id.as_str())
                    .map(|s| s.into_iter().collect())
                    .unwrap_or_default(),
                purposes: rec_purposes.remove(id.as_str()).unwrap_or_default(),
                note: r.note.clone(),
                id,
            }
        })
        .collect();

    let rights = rights(file, &controller);

    Policy {
        meta,
        joint_controllers: file
            .joint_controller
            .iter()
            .map(|j| {
                let j = j.get_ref();
                JointController {
                    id: j.id.get_ref().clone(),
                    name: j.name.clone(),
                    purposes: text_vec(&j.purposes),
                    arrangement: j.arrangement.clone(),
                    condition: j.condition.clone(),
                }
            })
            .collect(),
        subjects: file
            .subject
            .iter()
            .map(|s| {
                let s = s.get_ref();
                Subject {
                    id: s.id.get_ref().clone(),
                    name: s.name.clone(),
                    description: s.description.clone(),
                }
            })
            .collect(),
        categories,
        events: file
            .event
            .iter()
            .map(|e| EventDecl {
                id: e.get_ref().id.get_ref().clone(),
                name: e.get_ref().name.clone(),
                scope: e.get_ref().scope.iter().map(|s| *s.get_ref()).collect(),
            })
            .collect(),
        tiers: file
            .tier
            .iter()
            .map(|e| Named {
                id: e.get_ref().id.get_ref().clone(),
                name: e.get_ref().name.clone(),
            })
            .collect(),
        purposes,
        recipients,
        measures: file
            .measure
            .iter()
            .map(|x| {
                let x = x.get_ref();
                Measure {
                    id: x.id.get_ref().clone(),
                    kind: *x.kind.get_ref(),
                    description: x.description.clone(),
                    every: x.every.as_ref().map(|p| *p.get_ref()),
                }
            })
            .collect(),
        breach: file
            .breach
            .as_ref()
            .map(|b| {
                let b = b.get_ref();
                Breach {
                    authority_within: b.authority_within.as_ref().map(|p| *p.get_ref()),
                    subjects: b.subjects.clone(),
                    financial_undertaking: b.financial_undertaking,
                    note: b.note.clone(),
                }
            })
            .unwrap_or_default(),
        rights,
        notice: file
            .notice
            .as_ref()
            .map(|n| {
                let n = n.get_ref();
                Notice {
                    material_change: n.material_change.as_ref().map(|p| *p.get_ref()),
                    new_subprocessor: n.new_subprocessor.as_ref().map(|p| *p.get_ref()),
                    channel: n.channel.clone(),
                    acceptance: n.acceptance,
                    history: n.history.clone(),
                }
            })
            .unwrap_or_default(),
        commitments: file
            .commitment
            .iter()
            .map(|c| {
                let c = c.get_ref();
                Commitment {
                    id: c.id.get_ref().clone(),
                    title: c.title.clone(),
                    text: c.text.clone(),
                }
            })
            .collect(),
        cookies: cookies(file, &controller),
        sources: file
            .source
            .iter()
            .map(|x| {
                let x = x.get_ref();
                SourceDecl {
                    id: x.id.get_ref().clone(),
                    name: x.name.clone(),
                    kind: x
                        .kind
                        .as_ref()
                        .map_or(m::SourceKind::ThirdParty, |k| *k.get_ref()),
                    public: x.public,
                    categories: text_vec(&x.categories),
                    note: x.note.clone(),
                }
            })
            .collect(),
        retention: file
            .retention
            .as_ref()
            .map(|r| resolve_retention(r.get_ref())),
        transfer: file.transfer.as_ref().map(|t| {
            let t = t.get_ref();
            Transfer {
                outside_eea: t.outside_eea,
                locations: text_vec(&t.locations),
                mechanisms: t.mechanisms.iter().map(|x| *x.get_ref()).collect(),
                description: t.description.clone(),
                safeguards: t.safeguards.clone(),
            }
        }),
        laws: file
            .law
            .iter()
            .map(|l| {
                let l = l.get_ref();
                let known = law::national_law(l.id.get_ref());
                LawRef {
                    id: l.id.get_ref().clone(),
                    name: l
                        .name
                        .clone()
                        .or_else(|| known.map(|k| Text::Plain(k.name.to_owned())))
                        .unwrap_or_else(|| Text::Plain(l.id.get_ref().clone())),
                    country: l
                        .country
                        .as_ref()
                        .map(|c| c.get_ref().clone())
                        .or_else(|| known.map(|k| k.country.to_owned())),
                    url: l.url.clone(),
                    note: l.note.clone(),
                }
            })
            .collect(),
        controller,
    }
}

/// The Art. 9(1) kinds a category names, in the order written.
fn specials(c: Option<&m::Category>) -> Vec<m::SpecialKind> {
    c.and_then(|c| c.special.as_ref())
        .map(|s| s.get_ref().values().to_vec())
        .unwrap_or_default()
}

/// The source of a category (or an ancestor) named by a `[[source]]`, when the category names
/// none itself: its kind, and its name as the description.
fn declared_source(file: &PolicyFile, chain: &[usize], raw: &[Sp<m::Category>]) -> Option<Source> {
    let ids: Vec<&str> = chain
        .iter()
        .map(|&k| raw[k].get_ref().id.get_ref().as_str())
        .collect();
    let decls: Vec<&m::SourceDecl> = file
        .source
        .iter()
        .map(|s| s.get_ref())
        .filter(|s| {
            s.categories
                .iter()
                .any(|c| ids.contains(&c.get_ref().as_str()))
        })
        .collect();
    let first = decls.first()?;
    let kind = first
        .kind
        .as_ref()
        .map_or(m::SourceKind::ThirdParty, |k| *k.get_ref());
    // Several sources: their names joined, per language.
    let description = if decls.len() == 1 {
        first.name.clone()
    } else {
        let mut by_lang = BTreeMap::new();
        for lang in Lang::ALL {
            let names: Vec<&str> = decls.iter().map(|d| d.name.get_or_any(lang)).collect();
            by_lang.insert(lang, names.join("; "));
        }
        Text::Translated(by_lang)
    };
    Some(Source {
        kind,
        description: Some(description),
    })
}

/// Cookies with what the law requires filled in: a Dutch controller may set analytics with
/// minimal privacy impact without consent (Telecommunicatiewet art. 11.7a(3)(b)).
fn cookies(file: &PolicyFile, controller: &Controller) -> Vec<Cookie> {
    let dutch = controller.country.as_deref() == Some("NL");
    file.cookies()
        .map(|k| {
            let k = k.get_ref();
            let by_law = law::cookie_needs_consent(*k.kind.get_ref(), k.minimal_impact, dutch);
            let recipient = k.recipient.as_ref().map(|r| r.get_ref().clone());
            Cookie {
                id: k.id.get_ref().clone(),
                name: k.name.clone().unwrap_or_else(|| k.id.get_ref().clone()),
                provider: k
                    .provider
                    .as_ref()
                    .map(|p| p.get_ref().clone())
                    .or_else(|| {
                        let rid = recipient.as_deref()?;
                        file.recipient
                            .iter()
                            .find(|r| r.get_ref().id.get_ref() == rid)
                            .map(|r| r.get_ref().name.get_ref().clone())
                    }),
                recipient,
                purpose: k.purpose.clone(),
                kind: *k.kind.get_ref(),
                technology: k.technology,
                lifetime: k.lifetime.as_ref().map(|l| *l.get_ref()),
                party: k.party.as_ref().map(|p| *p.get_ref()),
                // What the company does: as stated; else no consent where it names another
                // basis or sets the cookie without an opt-in; else what the law requires.
                consent_needed: match (&k.consent, &k.basis, &k.choice) {
                    (Some(c), _, _) => *c.get_ref(),
                    (None, Some(b), _) if *b.get_ref() != Basis::Consent => false,
                    (None, _, Some(ch)) if *ch.get_ref() != m::CookieChoice::OptIn => false,
                    _ => by_law,
                },
                consent_required_by_law: by_law,
                consent_stated: match (&k.consent, &k.basis, &k.choice) {
                    (Some(c), _, _) => Some(*c.get_ref()),
                    (None, Some(b), _) => Some(*b.get_ref() == Basis::Consent),
                    (None, None, Some(ch)) => Some(*ch.get_ref() == m::CookieChoice::OptIn),
                    (None, None, None) => None,
                },
                choice: k.choice.as_ref().map(|c| *c.get_ref()),
                basis: k.basis.as_ref().map(|b| *b.get_ref()),
                minimal_impact: k.minimal_impact,
                consent_purpose: k.consent_purpose.as_ref().map(|p| p.get_ref().clone()),
                note: k.note.clone(),
            }
        })
        .collect()
}

fn one_month() -> Period {
    Period::parse("1 month").expect("`1 month` is a valid period")
}

fn resolve_retention(r: &m::Retention) -> Retention {
    Retention {
        period: r.period.as_ref().map(|p| *p.get_ref()),
        from: r
            .from
            .as_ref()
            .map(|f| f.get_ref().clone())
            .unwrap_or_else(|| "created".into()),
        until: text_vec(&r.until),
        criteria: r.criteria.clone(),
        statutory: r.statutory.as_ref().map(|s| {
            let s = s.get_ref();
            Statutory {
                law: s.law.clone(),
                period: s
                    .period
                    .as_ref()
                    .map(|p| *p.get_ref())
                    .or(r.period.as_ref().map(|p| *p.get_ref())),
            }
        }),
        tenant_override: r.tenant_override.as_ref().map(|b| {
            let b = b.get_ref();
            Bounds {
                min: b.min.as_ref().map(|p| *p.get_ref()),
                max: b.max.as_ref().map(|p| *p.get_ref()),
            }
        }),
        tiers: r
            .tiers
            .iter()
            .map(|t| TierPeriod {
                tier: t.get_ref().tier.get_ref().clone(),
                period: *t.get_ref().period.get_ref(),
            })
            .collect(),
        purge_every: r.purge_every.as_ref().map(|p| *p.get_ref()),
        note: r.note.clone(),
    }
}
