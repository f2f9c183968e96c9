//! The policy as written in TOML: every table and key of the Custos policy language.
//!
//! Fields the GDPR requires are mostly `Option` here on purpose: a policy that leaves one out
//! still parses, and the checker reports the gap with its article instead of a parse error.
//! Identifiers and references carry their source span so diagnostics can point at them.

use serde::Deserialize;
use toml::Spanned;

use crate::period::Period;
use crate::text::{FormOfAddress, Lang, Text};

/// A value with the byte range it came from.
pub type Sp<T> = Spanned<T>;

/// The whole policy file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Version, date and languages of the statement.
    pub policy: Sp<PolicyMeta>,
    /// Who is responsible (Art. 4(7), 13(1)(a)).
    pub controller: Option<Sp<Controller>>,
    /// Joint controllers (Art. 26).
    #[serde(default)]
    pub joint_controller: Vec<Sp<JointController>>,
    /// Kinds of people whose data is processed.
    #[serde(default)]
    pub subject: Vec<Sp<Subject>>,
    /// Data categories, hierarchical through `parent` or a dotted id.
    #[serde(default)]
    pub category: Vec<Sp<Category>>,
    /// Named events that start or end retention clocks.
    #[serde(default)]
    pub event: Vec<Sp<Event>>,
    /// Subscription tiers that retention may depend on.
    #[serde(default)]
    pub tier: Vec<Sp<Tier>>,
    /// Purposes of processing with their legal basis.
    #[serde(default)]
    pub purpose: Vec<Sp<Purpose>>,
    /// Recipients and (sub-)processors.
    #[serde(default)]
    pub recipient: Vec<Sp<Recipient>>,
    /// Technical and organisational measures (Art. 32).
    #[serde(default)]
    pub measure: Vec<Sp<Measure>>,
    /// Breach handling (Art. 33, 34).
    pub breach: Option<Sp<Breach>>,
    /// How data-subject rights are handled (Art. 12–22).
    pub rights: Option<Sp<Rights>>,
    /// How changes are announced.
    pub notice: Option<Sp<Notice>>,
    /// Further promises the statement makes that are not modelled elsewhere.
    #[serde(default)]
    pub commitment: Vec<Sp<Commitment>>,
    /// Cookies on the company's own sites and apps (ePrivacy Directive Art. 5(3)).
    #[serde(default)]
    pub cookie: Vec<Sp<Cookie>>,
    /// Other trackers (local storage, pixels, SDKs), in the same shape as cookies; read
    /// [`PolicyFile::cookies`] for both.
    #[serde(default)]
    pub tracker: Vec<Sp<Cookie>>,
    /// Indirect sources and the categories each provides (Art. 14(1)(d), 14(2)(f)).
    #[serde(default)]
    pub source: Vec<Sp<SourceDecl>>,
    /// A retention rule for all data that has no rule of its own (Art. 13(2)(a)).
    pub retention: Option<Sp<Retention>>,
    /// A policy-wide transfer clause: data may leave the EEA, on which mechanisms (Art. 13(1)(f)).
    pub transfer: Option<Sp<TransferClause>>,
    /// National laws the statement relies on or refers to (UAVG, BDSG, TTDSG, …).
    #[serde(default)]
    pub law: Vec<Sp<LawDecl>>,
}

impl PolicyFile {
    /// Every `[[cookie]]` then every `[[tracker]]`: the order of `Policy::cookies`.
    pub fn cookies(&self) -> impl Iterator<Item = &Sp<Cookie>> {
        self.cookie.iter().chain(&self.tracker)
    }
}

/// `[policy]`: the statement's own metadata.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyMeta {
    /// Short id, e.g. `jbsync`.
    pub id: Option<Sp<String>>,
    /// Version label of the statement, e.g. `2.0`.
    pub version: Option<Sp<String>>,
    /// Date of the last update, `YYYY-MM-DD`.
    pub updated: Option<Sp<String>>,
    /// Languages the statement is published in; every text must exist in each.
    #[serde(default)]
    pub languages: Vec<Sp<Lang>>,
    /// Title of the statement.
    pub title: Option<Text>,
    /// Where the statement is published.
    pub url: Option<String>,
    /// What the statement covers (systems, sites, apps).
    pub scope: Option<Text>,
    /// How the Dutch statement addresses its reader: `u` (default) or `je`. Art. 12(1) asks
    /// for clear and plain language; one form throughout is part of that.
    pub form_of_address: Option<Sp<FormOfAddress>>,
}

/// The role an organisation plays in a processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Determines purposes and means (Art. 4(7)).
    Controller,
    /// Processes on behalf of a controller (Art. 4(8), 28).
    Processor,
    /// Determines purposes and means jointly with another controller (Art. 26).
    JointController,
}

/// `[controller]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Controller {
    /// Legal name.
    pub name: Option<Sp<String>>,
    /// Postal address.
    pub address: Option<String>,
    /// ISO 3166-1 alpha-2 country of establishment.
    pub country: Option<Sp<String>>,
    /// Registration, e.g. `{ register = "kvk", number = "99705907" }`.
    pub registration: Option<Registration>,
    /// Ways to reach the controller about privacy.
    #[serde(default)]
    pub contact: Vec<Sp<Channel>>,
    /// Website.
    pub website: Option<String>,
    /// Roles the organisation plays.
    #[serde(default)]
    pub roles: Vec<Sp<Role>>,
    /// Data protection officer, or why there is none.
    pub dpo: Option<Sp<Dpo>>,
    /// EU representative (Art. 27), for controllers outside the EU.
    pub representative: Option<Party>,
    /// Lead supervisory authority, e.g. `nl-ap`.
    pub authority: Option<Sp<String>>,
}

/// A company register entry.
#[derive(Debug, Deserialize, serde::Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The register, e.g. `kvk`.
    pub register: String,
    /// The number in it.
    pub number: String,
}

/// A contact channel.
#[derive(Debug, Deserialize, serde::Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    /// What kind of channel.
    pub kind: ChannelKind,
    /// The address, number or URL.
    pub address: String,
}

/// Kinds of contact channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// E-mail.
    Email,
    /// Telephone.
    Phone,
    /// WhatsApp.
    Whatsapp,
    /// A web form or page.
    Web,
    /// Post.
    Post,
    /// Inside the product.
    InApp,
}

/// Another organisation or person with contact details.
#[derive(Debug, Deserialize, serde::Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// Name.
    pub name: String,
    /// Postal address.
    pub address: Option<String>,
    /// E-mail.
    pub email: Option<String>,
}

/// `[controller.dpo]`: the DPO (Art. 37–39) or the reason there is none.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dpo {
    /// Whether a DPO is appointed.
    pub appointed: bool,
    /// Name of the DPO.
    pub name: Option<String>,
    /// E-mail of the DPO.
    pub email: Option<String>,
    /// Phone of the DPO.
    pub phone: Option<String>,
    /// Why no DPO is appointed (Art. 37(1) criteria not met).
    pub reason: Option<Text>,
}

/// `[[joint_controller]]`: a party that decides jointly with us (Art. 26).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JointController {
    /// Id referenced elsewhere.
    pub id: Sp<String>,
    /// Who they are.
    pub name: Text,
    /// For which purposes.
    #[serde(default)]
    pub purposes: Vec<Sp<String>>,
    /// The essence of the arrangement (Art. 26(2)).
    pub arrangement: Option<Text>,
    /// When the arrangement applies.
    pub condition: Option<Text>,
}

/// `[[subject]]`: a kind of data subject.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// Id referenced elsewhere.
    pub id: Sp<String>,
    /// Name.
    pub name: Text,
    /// Who they are.
    pub description: Option<Text>,
}

/// Art. 9(1) special categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecialKind {
    /// Racial or ethnic origin.
    RacialOrEthnicOrigin,
    /// Political opinions.
    PoliticalOpinions,
    /// Religious or philosophical beliefs.
    ReligiousOrPhilosophicalBeliefs,
    /// Trade-union membership.
    TradeUnionMembership,
    /// Genetic data.
    Genetic,
    /// Biometric data for uniquely identifying a person.
    Biometric,
    /// Data concerning health.
    Health,
    /// Sex life or sexual orientation.
    SexLifeOrOrientation,
    /// A special category the statement does not name (Art. 9(1) applies all the same).
    Unspecified,
}

/// Where data comes from (Art. 14(2)(f)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Provided by the data subject (Art. 13 applies).
    DataSubject,
    /// Observed from the subject's use of the service (Art. 13 applies).
    Observed,
    /// Provided by our customer about their own people.
    Customer,
    /// From another party.
    ThirdParty,
    /// From publicly accessible sources.
    Public,
    /// Derived or generated by us.
    Generated,
}

/// `source = { kind = …, description = … }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The kind of source.
    pub kind: Sp<SourceKind>,
    /// The sources, named (Art. 14(2)(f)).
    pub description: Option<Text>,
}

/// `[[category]]`: a category of personal data.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Id, e.g. `mail.metadata`; a dotted id is a child of its prefix when that exists.
    pub id: Sp<String>,
    /// Parent category (otherwise the dotted prefix).
    pub parent: Option<Sp<String>>,
    /// Name.
    pub name: Text,
    /// Examples of data in the category.
    pub examples: Option<Text>,
    /// Whose data.
    #[serde(default)]
    pub subjects: Vec<Sp<String>>,
    /// Art. 9(1) special category: one kind, several (`["health", "biometric"]`), or
    /// `"unspecified"` when the statement does not name it.
    pub special: Option<Sp<OneOrMany<SpecialKind>>>,
    /// Art. 10 criminal convictions and offences.
    #[serde(default)]
    pub criminal: bool,
    /// Where the data comes from (default: the data subject).
    pub source: Option<Sp<Source>>,
    /// Key domain whose key encrypts it (key separation).
    pub key_domain: Option<Sp<String>>,
    /// `false` for data that must never be stored (held in memory only).
    #[serde(default = "yes")]
    pub stored: bool,
    /// How the data is handled when it is never stored.
    pub handling: Option<Text>,
    /// How long it is kept.
    pub retention: Option<Sp<Retention>>,
    /// Further explanation shown in the statement.
    pub note: Option<Text>,
    /// W3C DPV personal-data concepts this category falls under, e.g. `pd:EmailAddress`.
    #[serde(default)]
    pub dpv: Vec<Sp<String>>,
}

fn yes() -> bool {
    true
}

/// `retention = { … }` on a category.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// How long, counted from `from`.
    pub period: Option<Sp<Period>>,
    /// The clock: `created` (default), `last_activity`, or a declared event.
    pub from: Option<Sp<String>>,
    /// Events that end retention at once (whichever comes first with `period`).
    #[serde(default)]
    pub until: Vec<Sp<String>>,
    /// The criteria when no period can be given (Art. 13(2)(a)).
    pub criteria: Option<Text>,
    /// Statutory retention that blocks erasure (Art. 17(3)(b)).
    pub statutory: Option<Sp<Statutory>>,
    /// Bounds within which a tenant may set its own period.
    pub tenant_override: Option<Sp<OverrideBounds>>,
    /// Periods per subscription tier.
    #[serde(default)]
    pub tiers: Vec<Sp<TierPeriod>>,
    /// How often expired data is purged.
    pub purge_every: Option<Sp<Period>>,
    /// Remark shown with the period.
    pub note: Option<Text>,
}

/// Statutory retention.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statutory {
    /// The law, e.g. `art. 52 AWR`.
    pub law: Text,
    /// The period the law prescribes (defaults to the retention period).
    pub period: Option<Sp<Period>>,
}

/// `tenant_override = { min = …, max = … }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideBounds {
    /// Shortest period a tenant may choose.
    pub min: Option<Sp<Period>>,
    /// Longest period a tenant may choose.
    pub max: Option<Sp<Period>>,
}

/// A retention period for one tier.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierPeriod {
    /// The tier id.
    pub tier: Sp<String>,
    /// Its period.
    pub period: Sp<Period>,
}

/// `[[event]]`: something that happens to data or a contract and starts or ends a clock.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Id, e.g. `contract.ended`.
    pub id: Sp<String>,
    /// Name.
    pub name: Option<Text>,
    /// What the event can happen to: `record` (one record, `draft.decided`), `subject` (one
    /// person, `account.deleted`) and/or `tenant` (the whole customer, `contract.ended`). An
    /// event is refused at any other scope, so a record-level event sent for the tenant cannot
    /// start the clock of every record at once. Empty: any scope (`custos check` warns, C138).
    #[serde(default)]
    pub scope: Vec<Sp<EventScope>>,
}

/// What an event can happen to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventScope {
    /// One record.
    Record,
    /// One data subject.
    Subject,
    /// The whole tenant.
    Tenant,
}

impl EventScope {
    /// The name used in the policy file and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            EventScope::Record => "record",
            EventScope::Subject => "subject",
            EventScope::Tenant => "tenant",
        }
    }
}

/// `[[tier]]`: a subscription tier.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Id.
    pub id: Sp<String>,
    /// Name.
    pub name: Option<Text>,
}

/// Art. 6(1) legal bases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// 6(1)(a).
    Consent,
    /// 6(1)(b).
    Contract,
    /// 6(1)(c).
    LegalObligation,
    /// 6(1)(d).
    VitalInterests,
    /// 6(1)(e).
    PublicTask,
    /// 6(1)(f).
    LegitimateInterest,
}

/// Art. 9(2) conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecialCondition {
    /// 9(2)(a).
    ExplicitConsent,
    /// 9(2)(b).
    EmploymentAndSocialSecurity,
    /// 9(2)(c).
    VitalInterests,
    /// 9(2)(d).
    NotForProfitBody,
    /// 9(2)(e).
    ManifestlyMadePublic,
    /// 9(2)(f).
    LegalClaims,
    /// 9(2)(g).
    SubstantialPublicInterest,
    /// 9(2)(h).
    HealthOrSocialCare,
    /// 9(2)(i).
    PublicHealth,
    /// 9(2)(j).
    ArchivingResearchStatistics,
}

/// Whether people choose to take part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// Part of the service; no separate choice.
    #[default]
    None,
    /// Only after the person switches it on.
    OptIn,
    /// Until the person switches it off.
    OptOut,
}

/// Art. 13(2)(e): whether providing the data is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    /// Required by law.
    Statutory,
    /// Required by contract.
    Contractual,
    /// Required to enter into a contract.
    PreContract,
    /// Not required.
    Voluntary,
}

/// `provision = { requirement = …, consequence = … }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provision {
    /// Whether it is required.
    pub requirement: Requirement,
    /// What happens if the person does not provide it.
    pub consequence: Option<Text>,
}

/// Kinds of automated decision-making (Art. 22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AutomatedKind {
    /// No decision based solely on automated processing with legal or similar effects.
    None,
    /// Profiling without such decisions.
    Profiling,
    /// Decisions based solely on automated processing (Art. 22(1)).
    SolelyAutomated,
}

/// `automated_decision = { … }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomatedDecision {
    /// What kind.
    pub kind: Sp<AutomatedKind>,
    /// Meaningful information about the logic involved (Art. 13(2)(f)).
    pub logic: Option<Text>,
    /// Significance for the person.
    pub significance: Option<Text>,
    /// Envisaged consequences.
    pub consequences: Option<Text>,
    /// Human intervention and how to contest (Art. 22(3)); or why there is no Art. 22 decision.
    pub safeguards: Option<Text>,
}

/// `approval = { … }`: a human-approval gate before an action leaves (PRODUCT.md C7).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The action that needs approval, e.g. `draft.send`.
    pub action: Sp<String>,
    /// Who may approve.
    pub approver: Text,
    /// Whether each decision is written to the audit trail.
    #[serde(default = "yes")]
    pub audit: bool,
}

/// `[[purpose]]`: a purpose of processing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    /// Id referenced elsewhere.
    pub id: Sp<String>,
    /// Name.
    pub name: Text,
    /// What is done and why.
    pub description: Option<Text>,
    /// Our role in this processing (default: controller).
    pub role: Option<Sp<Role>>,
    /// For processor activities: on whose behalf (Art. 30(2)(a)).
    pub on_behalf_of: Option<Text>,
    /// For processor activities: the agreement that governs it (Art. 28(3)).
    pub dpa: Option<Text>,
    /// Legal basis (Art. 6(1)): one, or several alternatives (`["consent", "contract"]`), in
    /// which case `basis_note` says which applies when.
    pub basis: Option<Sp<OneOrMany<Basis>>>,
    /// With several bases: which applies when (Art. 13(1)(c), 5(1)(a)).
    pub basis_note: Option<Text>,
    /// The legitimate interest pursued (Art. 13(1)(d)).
    pub legitimate_interest: Option<Text>,
    /// The law that obliges the processing (Art. 6(3)).
    pub legal_obligation: Option<Text>,
    /// Art. 9(2) condition for special categories.
    pub special_condition: Option<Sp<SpecialCondition>>,
    /// The Union or Member State law that authorises Art. 10 data.
    pub criminal_authorisation: Option<Text>,
    /// Opt-in, opt-out or none.
    #[serde(default)]
    pub choice: Choice,
    /// How consent is withdrawn or the opt-out made (Art. 7(3), 21).
    pub withdraw: Option<Text>,
    /// Whether this is direct marketing (Art. 21(2)).
    #[serde(default)]
    pub direct_marketing: bool,
    /// Statutory or contractual requirement (Art. 13(2)(e)).
    pub provision: Option<Provision>,
    /// Automated decision-making (Art. 13(2)(f), 22).
    pub automated_decision: Option<Sp<AutomatedDecision>>,
    /// A human-approval gate.
    pub approval: Option<Sp<Approval>>,
    /// Notice versions under which consent to this purpose no longer counts: the change since
    /// then needs consent again (`custos diff` says when, Art. 4(11), 7(1)).
    #[serde(default)]
    pub stale_consent: Vec<Sp<String>>,
    /// Whose data.
    #[serde(default)]
    pub subjects: Vec<Sp<String>>,
    /// Which categories.
    #[serde(default)]
    pub categories: Vec<Sp<String>>,
    /// Who receives it.
    #[serde(default)]
    pub recipients: Vec<Sp<String>>,
    /// Further explanation.
    pub note: Option<Text>,
    /// W3C DPV purpose concepts, e.g. `dpv:ServiceProvision`.
    #[serde(default)]
    pub dpv: Vec<Sp<String>>,
}

/// Kinds of recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientKind {
    /// Processes on our behalf as controller (Art. 28).
    Processor,
    /// Processes on our behalf while we act as processor (Art. 28(2), (4)).
    SubProcessor,
    /// An independent controller.
    Controller,
    /// A joint controller (Art. 26).
    JointController,
    /// A public authority (e.g. the tax authority).
    PublicAuthority,
    /// Any other third party.
    ThirdParty,
}

/// Chapter V transfer mechanisms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    /// No transfer outside the EEA.
    None,
    /// Art. 45 adequacy decision for the destination country.
    Adequacy,
    /// EU-US Data Privacy Framework (Decision (EU) 2023/1795), US recipients only.
    Dpf,
    /// Standard contractual clauses, Decision (EU) 2021/914 (Art. 46(2)(c)).
    Scc,
    /// Binding corporate rules (Art. 46(2)(b), 47).
    Bcr,
    /// Approved code of conduct (Art. 46(2)(e)).
    CodeOfConduct,
    /// Approved certification (Art. 46(2)(f)).
    Certification,
    /// Ad hoc clauses authorised by the authority (Art. 46(3)(a)).
    AdHocClauses,
    /// Art. 49 derogation.
    Derogation,
    /// EU-US Privacy Shield (Decision 2016/1250), invalid since CJEU C-311/18 (16 July 2020).
    PrivacyShield,
    /// The 2001/2004/2010 standard clauses (Decision 2010/87/EU and its predecessors), repealed
    /// by Decision (EU) 2021/914; contracts concluded before 27 Sept 2021 held until 27 Dec 2022.
    #[serde(rename = "scc_2010")]
    Scc2010,
}

/// `[[recipient]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    /// Id referenced elsewhere.
    pub id: Sp<String>,
    /// Name (or category of recipients).
    pub name: Sp<String>,
    /// What kind of recipient; `["processor", "sub_processor"]` for one that is our processor
    /// for some purposes and, where we act as processor, a sub-processor for others.
    pub kind: Option<Sp<OneOrMany<RecipientKind>>>,
    /// What they do for us.
    pub purpose: Option<Text>,
    /// Where data is processed: ISO country codes, or `EU` / `EEA`.
    #[serde(default)]
    pub locations: Vec<Sp<String>>,
    /// Location as the statement words it.
    pub location_note: Option<Text>,
    /// Transfer mechanisms for locations outside the EEA.
    #[serde(default)]
    pub transfer: Vec<Sp<Mechanism>>,
    /// SCC module (1–4) when SCCs are used.
    pub scc_module: Option<Sp<u8>>,
    /// Supplementary measures and where a copy of the safeguards is available (Art. 13(1)(f)).
    pub safeguards: Option<Text>,
    /// Art. 49(1) derogation point, e.g. `a`.
    pub derogation: Option<Sp<String>>,
    /// Whether a data processing agreement is signed (Art. 28(3)).
    pub dpa: Option<bool>,
    /// Whether a transfer impact assessment was done.
    pub tia: Option<bool>,
    /// Whether a tenant must opt in before this recipient is used.
    #[serde(default)]
    pub tenant_opt_in: bool,
    /// Whether the service is optional.
    #[serde(default)]
    pub optional: bool,
    /// Which categories it receives.
    #[serde(default)]
    pub categories: Vec<Sp<String>>,
    /// Further explanation.
    pub note: Option<Text>,
}

/// Kinds of technical and organisational measure (Art. 32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MeasureKind {
    /// TLS and similar.
    EncryptionInTransit,
    /// Storage encryption.
    EncryptionAtRest,
    /// Separate keys per data domain.
    KeySeparation,
    /// Key management.
    KeyManagement,
    /// HTTP Strict Transport Security.
    Hsts,
    /// Role-based or least-privilege access.
    AccessControl,
    /// Authentication controls.
    Authentication,
    /// Multi-factor authentication.
    MultiFactorAuthentication,
    /// Tenant isolation.
    TenantIsolation,
    /// Audit logging.
    AuditLogging,
    /// Monitoring and intrusion detection.
    Monitoring,
    /// Penetration testing.
    PenetrationTesting,
    /// Vulnerability scanning.
    VulnerabilityScanning,
    /// Patch management.
    PatchManagement,
    /// Incident response and breach procedure.
    IncidentResponse,
    /// Staff training.
    StaffTraining,
    /// Privacy by design.
    PrivacyByDesign,
    /// Data minimisation.
    DataMinimisation,
    /// Pseudonymisation.
    Pseudonymisation,
    /// Anonymisation.
    Anonymisation,
    /// Backups.
    Backup,
    /// Physical security.
    PhysicalSecurity,
    /// Secure development (code review, testing).
    SecureDevelopment,
    /// Vendor management.
    VendorManagement,
    /// Hosting location.
    DataLocalisation,
    /// Anything else.
    Other,
}

/// `[[measure]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measure {
    /// Id.
    pub id: Sp<String>,
    /// Kind.
    pub kind: Sp<MeasureKind>,
    /// What is done.
    pub description: Text,
    /// How often (pen tests, reviews).
    pub every: Option<Sp<Period>>,
}

/// `[breach]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Breach {
    /// Notice to the supervisory authority within this period of becoming aware (Art. 33(1)).
    pub authority_within: Option<Sp<Period>>,
    /// How affected people or customers are told (Art. 34).
    pub subjects: Option<Text>,
    /// Whether the controller is a Dutch financial undertaking (Wft), for which UAVG art. 42
    /// sets aside the Art. 34 notice to data subjects.
    #[serde(default)]
    pub financial_undertaking: bool,
    /// Further explanation.
    pub note: Option<Text>,
}

/// Data-subject rights.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, PartialOrd, Ord, Hash,
)]
#[serde(rename_all = "snake_case")]
pub enum Right {
    /// Art. 15.
    Access,
    /// Art. 16.
    Rectification,
    /// Art. 17.
    Erasure,
    /// Art. 18.
    Restriction,
    /// Art. 20.
    Portability,
    /// Art. 21.
    Objection,
    /// Art. 7(3).
    WithdrawConsent,
    /// Art. 22(3).
    HumanIntervention,
}

impl Right {
    /// Every right, in article order.
    pub const ALL: [Right; 8] = [
        Right::Access,
        Right::Rectification,
        Right::Erasure,
        Right::Restriction,
        Right::Portability,
        Right::Objection,
        Right::WithdrawConsent,
        Right::HumanIntervention,
    ];

    /// The article that grants it.
    pub fn article(self) -> &'static str {
        match self {
            Right::Access => "15",
            Right::Rectification => "16",
            Right::Erasure => "17",
            Right::Restriction => "18",
            Right::Portability => "20",
            Right::Objection => "21",
            Right::WithdrawConsent => "7(3)",
            Right::HumanIntervention => "22(3)",
        }
    }

    /// The snake_case name.
    pub fn key(self) -> &'static str {
        match self {
            Right::Access => "access",
            Right::Rectification => "rectification",
            Right::Erasure => "erasure",
            Right::Restriction => "restriction",
            Right::Portability => "portability",
            Right::Objection => "objection",
            Right::WithdrawConsent => "withdraw_consent",
            Right::HumanIntervention => "human_intervention",
        }
    }
}

/// Export formats for access and portability answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// JSON.
    Json,
    /// CSV.
    Csv,
    /// A readable HTML report.
    Html,
}

/// `[rights]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rights {
    /// The rights the statement lists.
    #[serde(default)]
    pub offered: Vec<Sp<Right>>,
    /// Where requests go.
    #[serde(default)]
    pub channels: Vec<Sp<Channel>>,
    /// Response period (Art. 12(3): at most one month).
    pub response: Option<Sp<Period>>,
    /// Extension for complex requests (Art. 12(3): at most two further months).
    pub extension: Option<Sp<Period>>,
    /// Formats of access and portability exports.
    #[serde(default)]
    pub export_formats: Vec<ExportFormat>,
    /// Supervisory authorities a complaint can go to: ids such as `nl-ap` or `de-by-lda`, and
    /// `any` (any supervisory authority), `habitual_residence`, `place_of_work` or
    /// `place_of_infringement` (the authorities of Art. 77(1)).
    #[serde(default)]
    pub complaint: Vec<Sp<String>>,
    /// What people can do themselves in the product.
    pub self_service: Option<Text>,
    /// Further explanation.
    pub note: Option<Text>,
}

/// How customers accept a new statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Acceptance {
    /// No acceptance is asked.
    #[default]
    None,
    /// Accepted at the next login.
    NextLogin,
}

/// `[notice]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    /// Days of notice before a material change takes effect.
    pub material_change: Option<Sp<Period>>,
    /// Days of notice before a new or replaced sub-processor.
    pub new_subprocessor: Option<Sp<Period>>,
    /// How notice is given.
    pub channel: Option<Text>,
    /// Whether customers must accept the new version.
    #[serde(default)]
    pub acceptance: Acceptance,
    /// Where earlier versions can be obtained.
    pub history: Option<Text>,
}

/// `[[commitment]]`: a promise the statement makes that has no field of its own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commitment {
    /// Id.
    pub id: Sp<String>,
    /// Heading.
    pub title: Text,
    /// The promise.
    pub text: Text,
}

/// One value or an array of them: `basis = "contract"` and `basis = ["consent", "contract"]`.
/// A single value keeps the policies written before arrays were allowed valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<T> OneOrMany<T> {
    /// The values, in the order written.
    pub fn values(&self) -> &[T] {
        &self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{IntoDeserializer, SeqAccess, Visitor};
        use std::marker::PhantomData;
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a value or an array of values")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(|t| OneOrMany(vec![t]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(t) = seq.next_element::<T>()? {
                    out.push(t);
                }
                Ok(OneOrMany(out))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// What a cookie or tracker is for, in the four classes consent banners use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CookieType {
    /// Strictly necessary to provide the service the user asked for (Art. 5(3), second
    /// sentence, ePrivacy Directive): no consent needed.
    StrictlyNecessary,
    /// Remembers choices (language, layout).
    Preferences,
    /// Measures use of the site.
    Analytics,
    /// Advertising, targeting and profiling across sites.
    Marketing,
}

/// Who sets a cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CookieParty {
    /// The site's own domain.
    First,
    /// Another party's domain (third parties may read it).
    Third,
}

/// The storage or access technique (Art. 5(3) covers all of them, not only cookies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Technology {
    /// An HTTP cookie.
    #[default]
    Cookie,
    /// Browser local or session storage.
    LocalStorage,
    /// A tracking pixel or web beacon.
    Pixel,
    /// A software development kit in an app.
    Sdk,
    /// Device fingerprinting.
    Fingerprint,
}

/// How a cookie comes to be set: only after an active choice, or until the user objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CookieChoice {
    /// Set only after the user actively agrees (an unticked box, an "accept" button).
    OptIn,
    /// Set unless the user switches it off: a pre-ticked box, "by continuing to browse", a
    /// browser setting. No consent under CJEU C-673/17 Planet49.
    OptOut,
    /// No choice: set for everyone.
    None,
}

/// How long a cookie lives: until the browser closes, or a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Deleted when the browser session ends.
    Session,
    /// Kept for this period.
    Period(Period),
}

impl<'de> Deserialize<'de> for Lifetime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().eq_ignore_ascii_case("session") {
            return Ok(Lifetime::Session);
        }
        Period::parse(&s)
            .map(Lifetime::Period)
            .map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Lifetime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Lifetime::Session => s.serialize_str("session"),
            Lifetime::Period(p) => p.serialize(s),
        }
    }
}

/// `[[cookie]]` (or `[[tracker]]`): one cookie or similar technique on the company's site.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cookie {
    /// Id, unique among cookies; what the consent banner and the page refer to.
    pub id: Sp<String>,
    /// The name as the browser shows it, e.g. `_ga` (defaults to the id).
    pub name: Option<String>,
    /// Who sets and reads it, e.g. `Google Ireland Ltd.`.
    pub provider: Option<Sp<String>>,
    /// The recipient the data goes to, when it is a declared `[[recipient]]`.
    pub recipient: Option<Sp<String>>,
    /// What it is for, in words.
    pub purpose: Option<Text>,
    /// The class: strictly necessary, preferences, analytics or marketing.
    #[serde(rename = "type")]
    pub kind: Sp<CookieType>,
    /// Cookie, local storage, pixel, SDK or fingerprint.
    #[serde(default)]
    pub technology: Technology,
    /// How long it is kept: `session` or a period (CJEU C-673/17: part of the information).
    pub lifetime: Option<Sp<Lifetime>>,
    /// First or third party (CJEU C-673/17: whether third parties may have access).
    pub party: Option<Sp<CookieParty>>,
    /// Whether consent is asked before it is set (default: what the law requires).
    pub consent: Option<Sp<bool>>,
    /// How it comes to be set: `opt_in`, `opt_out` (pre-ticked, browser setting) or `none`.
    pub choice: Option<Sp<CookieChoice>>,
    /// The legal basis the statement claims for it, if any.
    pub basis: Option<Sp<Basis>>,
    /// For analytics: configured with little or no impact on privacy (Dutch
    /// Telecommunicatiewet art. 11.7a(3)(b): no sharing, truncated IP, no cross-site tracking).
    #[serde(default)]
    pub minimal_impact: bool,
    /// The consent purpose the banner records the choice under (a `[[purpose]]` id).
    pub consent_purpose: Option<Sp<String>>,
    /// Further explanation.
    pub note: Option<Text>,
}

/// `[[source]]`: a party or register personal data is obtained from (Art. 14).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDecl {
    /// Id.
    pub id: Sp<String>,
    /// Who or what the source is (Art. 14(2)(f)).
    pub name: Text,
    /// The kind of source (default: third party).
    pub kind: Option<Sp<SourceKind>>,
    /// Whether it is publicly accessible (Art. 14(2)(f)).
    #[serde(default)]
    pub public: bool,
    /// The categories of data obtained from it (Art. 14(1)(d)).
    #[serde(default)]
    pub categories: Vec<Sp<String>>,
    /// Further explanation.
    pub note: Option<Text>,
}

/// `[transfer]`: what the statement says about transfers outside the EEA as a whole.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferClause {
    /// Whether data may be transferred outside the EEA at all.
    pub outside_eea: bool,
    /// Where to, when the statement names countries (ISO codes).
    #[serde(default)]
    pub locations: Vec<Sp<String>>,
    /// The mechanisms relied on.
    #[serde(default)]
    pub mechanisms: Vec<Sp<Mechanism>>,
    /// The clause as the statement words it.
    pub description: Option<Text>,
    /// Where a copy of the safeguards can be obtained (Art. 13(1)(f)).
    pub safeguards: Option<Text>,
}

/// `[[law]]`: a national law the statement relies on (a known id such as `uavg`, `bdsg`,
/// `ttdsg`, or a law of your own with a name).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LawDecl {
    /// A known id (`uavg`, `bdsg`, `tdddg`, …) or an id of your own.
    pub id: Sp<String>,
    /// Name; required for a law Custos does not know.
    pub name: Option<Text>,
    /// ISO country code.
    pub country: Option<Sp<String>>,
    /// Where the text is published.
    pub url: Option<String>,
    /// What the statement relies on it for.
    pub note: Option<Text>,
}
