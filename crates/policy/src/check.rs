//! The GDPR rule catalogue. Each rule has a stable code, a name, a severity, the article it
//! enforces and a one-line explanation; `custos check --rules` lists them. [`check`] runs all of
//! them over a loaded policy and points every finding at the place in the file it concerns.
//!
//! Severity follows what a supervisory authority would make of the gap: `error` where the
//! statement or the processing breaks a rule of the Regulation outright (no legal basis, an
//! unlawful transfer, a response period longer than Art. 12(3) allows); `warning` where the law
//! asks for something "where applicable" and the policy leaves it open; `info` for advice.

use std::ops::Range;

use serde::Serialize;

use crate::law::{self, Zone};
use crate::model::{self as m, AutomatedKind, Basis, RecipientKind, Right, Role, SpecialCondition};
use crate::period::Period;
use crate::resolved::Policy;
use crate::text::{Lang, Text};
use crate::{Diagnostic, Loaded, Severity};

/// One rule of the catalogue.
#[derive(Debug, Serialize)]
pub struct Rule {
    /// Stable code, e.g. `C101`.
    pub code: &'static str,
    /// Stable kebab-case name.
    pub name: &'static str,
    /// Severity of its findings.
    pub severity: Severity,
    /// The article it enforces.
    pub article: &'static str,
    /// What the rule demands, in one line.
    pub summary: &'static str,
}

macro_rules! rules {
    ($($id:ident = $code:literal, $name:literal, $sev:ident, $article:literal, $summary:literal;)*) => {
        $(
            #[doc = concat!("`", $code, "` ", $name, ": ", $summary)]
            pub const $id: Rule = Rule { code: $code, name: $name, severity: Severity::$sev, article: $article, summary: $summary };
        )*
        /// Every rule, in code order.
        pub const RULES: &[Rule] = &[$($id),*];
    };
}

rules! {
    LEGAL_BASIS = "C101", "purpose-legal-basis", Error, "Art. 6(1) GDPR",
        "every purpose has a legal basis under Art. 6(1)";
    LEGITIMATE_INTEREST = "C102", "legitimate-interest-named", Error, "Art. 13(1)(d) GDPR",
        "a purpose based on legitimate interest names the interest pursued";
    CONSENT_WITHDRAWAL = "C103", "consent-withdrawable", Error, "Art. 7(3) GDPR",
        "a purpose based on consent says how consent is withdrawn, as easily as it was given";
    SPECIAL_CONDITION = "C104", "special-category-condition", Error, "Art. 9(2) GDPR",
        "a purpose that uses a special category of data names its Art. 9(2) condition";
    CRIMINAL_DATA = "C105", "criminal-data-authorised", Error, "Art. 10 GDPR",
        "a purpose that uses criminal-offence data names the law that authorises it";
    RETENTION = "C106", "retention-stated", Error, "Art. 13(2)(a) GDPR",
        "every stored category has a retention period, or the criteria used to determine it";
    TRANSFER_MECHANISM = "C107", "transfer-mechanism", Error, "Art. 44–46 GDPR",
        "a recipient outside the EEA has a transfer mechanism that covers its country";
    DPF_US_ONLY = "C108", "dpf-us-only", Error, "Art. 45 GDPR; Decision (EU) 2023/1795",
        "the EU-US Data Privacy Framework covers only recipients in the United States";
    CONTROLLER_IDENTITY = "C109", "controller-identity", Error, "Art. 13(1)(a) GDPR",
        "the controller's identity and contact details are stated";
    DPO_CONTACT = "C110", "dpo-contact", Error, "Art. 13(1)(b), 37(7) GDPR",
        "an appointed DPO has contact details in the statement";
    DPO_STATED = "C111", "dpo-or-reason", Warning, "Art. 13(1)(b), 37(1) GDPR",
        "the policy says who the DPO is, or why none is appointed";
    COMPLAINT = "C112", "complaint-authority", Error, "Art. 13(2)(d), 77 GDPR",
        "the statement names a supervisory authority people can complain to";
    RIGHTS_LISTED = "C113", "rights-listed", Error, "Art. 13(2)(b) GDPR",
        "the rights of access, rectification, erasure, restriction, objection and portability are listed";
    WITHDRAW_LISTED = "C114", "withdraw-right-listed", Error, "Art. 13(2)(c) GDPR",
        "where consent is a basis, the right to withdraw it at any time is listed";
    AUTOMATED_DECISION = "C115", "automated-decision-explained", Error, "Art. 13(2)(f), 22 GDPR",
        "automated decisions come with the logic involved, their significance and consequences";
    SOURCE = "C116", "indirect-source-named", Error, "Art. 14(2)(f) GDPR",
        "data not obtained from the data subject names its source";
    PROCESSOR_ACTIVITY_DPA = "C117", "processor-activity-agreement", Error, "Art. 28(3) GDPR",
        "processing done as a processor names the agreement with the controller";
    RECIPIENT_DPA = "C118", "processor-without-dpa", Error, "Art. 28(3) GDPR",
        "a processor or sub-processor works under a data processing agreement";
    RECIPIENT_DPA_UNSTATED = "C119", "processor-dpa-unstated", Warning, "Art. 28(3) GDPR",
        "the policy records whether a processor's data processing agreement is signed";
    RESPONSE_PERIOD = "C120", "response-period", Error, "Art. 12(3) GDPR",
        "requests are answered within one month, extendable by at most two further months";
    BREACH_DEADLINE = "C121", "breach-72-hours", Error, "Art. 33(1) GDPR",
        "a breach is notified to the authority within 72 hours of becoming aware of it";
    BREACH_UNSTATED = "C122", "breach-procedure", Warning, "Art. 33, 34 GDPR",
        "the policy says how breaches are notified to the authority and to the people affected";
    OVERRIDE_BOUNDS = "C123", "override-bounds", Error, "Art. 5(1)(e) GDPR",
        "tenant override bounds contain the default period (min ≤ default ≤ max)";
    NEVER_STORED = "C124", "never-stored-retention", Error, "Art. 5(1)(e) GDPR",
        "a category that is never stored has no retention period";
    TRANSLATION = "C125", "missing-translation", Warning, "Art. 12(1) GDPR",
        "every text exists in every language the statement is published in";
    LEGAL_OBLIGATION = "C126", "legal-obligation-cited", Error, "Art. 6(3) GDPR",
        "a purpose based on a legal obligation cites the law that imposes it";
    PURPOSE_DATA = "C127", "purpose-categories", Warning, "Art. 13(1)(c), 30(1)(c) GDPR",
        "every purpose names the categories of data it uses";
    CATEGORY_PURPOSE = "C128", "category-purpose", Warning, "Art. 5(1)(b) GDPR",
        "every category of data serves at least one purpose";
    DIRECT_MARKETING = "C129", "direct-marketing-objection", Error, "Art. 21(2)–(4) GDPR",
        "direct marketing says how to object (opt out), free of charge and at any time";
    RECIPIENT_LOCATION = "C130", "recipient-location", Warning, "Art. 13(1)(f) GDPR",
        "every recipient's location is stated, so transfers outside the EEA are visible";
    SCC_TIA = "C131", "scc-transfer-assessment", Warning, "Art. 46(1) GDPR; CJEU C-311/18",
        "a transfer on standard contractual clauses to a country without adequacy is assessed (TIA)";
    JOINT_ARRANGEMENT = "C132", "joint-arrangement", Warning, "Art. 26(2) GDPR",
        "the essence of a joint-controller arrangement is made available";
    REPRESENTATIVE = "C133", "eu-representative", Warning, "Art. 27 GDPR",
        "a controller established outside the EU names its representative in the Union";
    SUBPROCESSOR_NOTICE = "C134", "subprocessor-notice", Warning, "Art. 28(2) GDPR",
        "a processor says how much notice it gives before adding or replacing a sub-processor";
    DEROGATION_POINT = "C135", "derogation-point", Error, "Art. 49(1) GDPR",
        "a transfer on a derogation names the point of Art. 49(1) it relies on";
    EXPLICIT_CONSENT = "C136", "explicit-consent-basis", Warning, "Art. 9(2)(a) GDPR",
        "special categories processed on consent rely on explicit consent";
    STALE_CONSENT = "C137", "stale-consent", Error, "Art. 7(1) GDPR",
        "only a purpose based on consent lists notice versions whose consent no longer counts, and never the current version";
    EVENT_SCOPE = "C138", "event-scope", Warning, "Art. 5(1)(e) GDPR",
        "each event declares what it happens to (record, subject, tenant), so it cannot start every record's clock by mistake";
    SEVERAL_BASES = "C139", "several-bases-explained", Error, "Art. 13(1)(c), 5(1)(a) GDPR",
        "a purpose with several legal bases says which applies when (`basis_note`)";
    VAGUE_RETENTION = "C140", "retention-criteria-vague", Error, "Art. 13(2)(a) GDPR; WP260 rev.01 para. 48",
        "retention criteria say more than \"as long as necessary\": a period, or criteria from which the period follows";
    MECHANISM_INVALID = "C141", "transfer-mechanism-invalid", Error, "Art. 44, 46 GDPR; CJEU C-311/18; Decision (EU) 2021/914 Art. 4",
        "no transfer relies, on the statement's date, on the Privacy Shield (invalid since 16 July 2020) or the repealed 2010 clauses (usable until 27 Dec 2022)";
    SOCIAL_MEDIA = "C142", "social-media-joint-control", Warning, "Art. 26 GDPR; CJEU C-210/16 Wirtschaftsakademie; CJEU C-40/17 Fashion ID",
        "a page or plug-in on a social network is run in joint control with the platform, with an arrangement";
    SOURCE_CATEGORIES = "C143", "source-categories", Error, "Art. 14(1)(d), 14(2)(f) GDPR",
        "every indirect source names the categories of data obtained from it";
    RECIPIENT_PURPOSE = "C144", "recipient-purpose", Warning, "Art. 5(1)(b), 13(1)(e), 30(1)(d) GDPR",
        "every recipient is linked to the purposes it receives data for";
    LOCATION_CONTRADICTION = "C145", "location-contradiction", Warning, "Art. 13(1)(f) GDPR",
        "the policy says the same thing about where a recipient processes data in every place it says it";
    COOKIE_CONSENT = "C146", "cookie-consent", Error, "ePrivacy Directive Art. 5(3); Telecommunicatiewet art. 11.7a",
        "every cookie but the strictly necessary (and, under Dutch law, analytics with minimal privacy impact) is set only after consent";
    COOKIE_BASIS = "C147", "cookie-no-valid-consent", Error, "ePrivacy Directive Art. 5(3); Art. 4(11) GDPR; CJEU C-673/17 Planet49",
        "analytics and targeting cookies rest on active consent: not on legitimate interest, a pre-ticked box or a browser opt-out";
    COOKIE_INFORMATION = "C148", "cookie-information", Warning, "ePrivacy Directive Art. 5(3); CJEU C-673/17 Planet49 (operative part 2)",
        "each cookie says what it is for, how long it lives and whether third parties can read it";
    COOKIE_PURPOSE = "C149", "cookie-consent-purpose", Warning, "Art. 7(1) GDPR",
        "a cookie that needs consent names the consent purpose the choice is recorded under, and that purpose rests on consent";
    RECIPIENT_ROLE = "C150", "recipient-role-per-purpose", Warning, "Art. 28(2), 28(4) GDPR",
        "a recipient is a sub-processor for the purposes we carry out as processor and a processor for our own";
    LAW_SUPERSEDED = "C151", "national-law-superseded", Warning, "Art. 12(1) GDPR",
        "the national laws the statement cites were in force under that name on the statement's date";
    FINANCIAL_UNDERTAKING = "C152", "financial-undertaking-dutch", Warning, "Art. 34 GDPR; UAVG art. 42",
        "the UAVG art. 42 exemption from telling data subjects of a breach is claimed only by a Dutch financial undertaking";
    TRANSFER_CLAUSE = "C153", "transfer-clause-mechanism", Error, "Art. 13(1)(f), 44 GDPR",
        "a statement that data may leave the EEA names the mechanisms that make it lawful";
}

/// Checks a loaded policy against every rule, in the order of the file.
pub fn check(loaded: &Loaded) -> Vec<Diagnostic> {
    let mut c = Checker {
        file: &loaded.file,
        policy: &loaded.policy,
        source: &loaded.source,
        date: loaded
            .policy
            .meta
            .updated
            .as_deref()
            .and_then(|d| d.parse::<jiff::civil::Date>().ok()),
        out: Vec::new(),
        groups: Vec::new(),
    };
    c.controller();
    c.purposes();
    c.categories();
    c.general_retention();
    c.recipients();
    c.transfers();
    c.sources();
    c.cookies();
    c.laws();
    c.rights();
    c.breach();
    c.notice();
    c.events();
    c.translations();
    c.flush_groups();
    let mut out = c.out;
    out.sort_by_key(|d| (d.span.as_ref().map_or(usize::MAX, |s| s.start), d.code));
    out
}

struct Checker<'a> {
    file: &'a m::PolicyFile,
    policy: &'a Policy,
    source: &'a crate::SourceFile,
    /// The statement's date (`[policy] updated`), as of which transfer mechanisms and national
    /// laws are judged; `None`: the law as it stands.
    date: Option<jiff::civil::Date>,
    out: Vec<Diagnostic>,
    /// Findings of one cause, reported once with every place they occur.
    groups: Vec<Group>,
}

/// Findings of one rule with one cause at several places: one finding lists them all (a
/// reader fixes the cause once, not 24 times).
struct Group {
    rule: &'static Rule,
    /// What the cause is, with `{n}` for the count, e.g. "{n} purposes have no legal basis".
    plural: String,
    help: String,
    /// Each place: the thing named, where, and the message had it been alone.
    items: Vec<(String, Option<Range<usize>>, String)>,
}

impl Diagnostic {
    /// A finding of `rule` at `span`.
    pub fn finding(rule: &Rule, message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Diagnostic {
            code: rule.code,
            name: rule.name,
            severity: rule.severity,
            message: message.into(),
            article: Some(rule.article),
            span,
            help: None,
        }
    }
}

fn span_of<T>(s: &m::Sp<T>) -> Option<Range<usize>> {
    Some(s.span())
}

fn present(t: &Option<Text>) -> bool {
    t.as_ref().is_some_and(|t| !t.is_blank())
}

impl Checker<'_> {
    /// Records a finding that is grouped with the others of the same rule and `plural` cause.
    #[allow(clippy::too_many_arguments)]
    fn group(
        &mut self,
        rule: &'static Rule,
        plural: &str,
        item: impl Into<String>,
        single: impl Into<String>,
        span: Option<Range<usize>>,
        help: &str,
    ) {
        let entry = (item.into(), span, single.into());
        match self
            .groups
            .iter_mut()
            .find(|g| g.rule.code == rule.code && g.plural == plural)
        {
            Some(g) => g.items.push(entry),
            None => self.groups.push(Group {
                rule,
                plural: plural.to_owned(),
                help: help.to_owned(),
                items: vec![entry],
            }),
        }
    }

    /// One finding per group: alone, as it would have been; several, one finding at the first
    /// place naming every item with its line.
    fn flush_groups(&mut self) {
        for g in std::mem::take(&mut self.groups) {
            if let [(_, span, single)] = g.items.as_slice() {
                self.push(g.rule, single.clone(), span.clone(), &g.help);
                continue;
            }
            let list: Vec<String> = g
                .items
                .iter()
                .map(|(item, span, _)| match span {
                    Some(s) => format!("`{item}` (line {})", self.source.line_col(s.start).line),
                    None => format!("`{item}`"),
                })
                .collect();
            let message = format!(
                "{}: {}",
                g.plural.replace("{n}", &g.items.len().to_string()),
                list.join(", ")
            );
            let span = g.items.iter().find_map(|(_, s, _)| s.clone());
            self.push(g.rule, message, span, &g.help);
        }
    }

    /// Whether purpose `id` is carried out as processor: Art. 6, 9, 13, 14 and 22 bind the
    /// controller, on whose behalf it is done; Art. 28(3) governs it instead.
    fn processor_purpose(&self, id: &str) -> bool {
        self.policy
            .purpose(id)
            .is_some_and(|p| p.role == Role::Processor)
    }

    /// Whether a category (with its children) is used only by purposes carried out as processor.
    fn processor_only(&self, cat: &crate::resolved::Category) -> bool {
        let mut uses: Vec<&String> = cat.purposes.iter().collect();
        for child in self
            .policy
            .categories
            .iter()
            .filter(|c| c.parent.as_deref() == Some(cat.id.as_str()))
        {
            uses.extend(child.purposes.iter());
        }
        !uses.is_empty() && uses.iter().all(|p| self.processor_purpose(p))
    }

    fn push(
        &mut self,
        rule: &Rule,
        message: impl Into<String>,
        span: Option<Range<usize>>,
        help: &str,
    ) {
        self.out
            .push(Diagnostic::finding(rule, message, span).with_help(help));
    }

    fn controller(&mut self) {
        let p = self.policy;
        let ctrl_span = self
            .file
            .controller
            .as_ref()
            .map(|c| c.span())
            .or_else(|| Some(self.file.policy.span()));
        let name_missing = p
            .controller
            .name
            .as_ref()
            .is_none_or(|n| n.trim().is_empty());
        if name_missing {
            self.push(
                &CONTROLLER_IDENTITY,
                "the controller's name is not stated",
                ctrl_span.clone(),
                "add `name = \"…\"` to [controller]",
            );
        }
        if p.controller.contact.is_empty() && p.controller.address.is_none() {
            self.push(
                &CONTROLLER_IDENTITY,
                "the controller has no contact details",
                ctrl_span.clone(),
                "add `contact = [{ kind = \"email\", address = \"…\" }]` or `address = \"…\"` to [controller]",
            );
        }
        let dpo_raw = self
            .file
            .controller
            .as_ref()
            .and_then(|c| c.get_ref().dpo.as_ref());
        match (&p.controller.dpo, dpo_raw) {
            (Some(d), Some(raw)) if d.appointed && d.email.is_none() && d.phone.is_none() => self.push(
                &DPO_CONTACT,
                "a DPO is appointed but the statement gives no way to reach them",
                span_of(raw),
                "add `email` or `phone` to [controller.dpo]",
            ),
            (Some(d), Some(raw)) if !d.appointed && !present(&d.reason) => self.push(
                &DPO_STATED,
                "no DPO is appointed and the policy does not say why",
                span_of(raw),
                "add `reason = \"…\"`: why the Art. 37(1) criteria do not apply",
            ),
            (None, _) => self.push(
                &DPO_STATED,
                "the policy does not say whether a DPO is appointed",
                ctrl_span.clone(),
                "add [controller.dpo] with `appointed = true` and contact details, or `appointed = false` and a `reason`",
            ),
            _ => {}
        }
        if let Some(country) = &p.controller.country {
            let outside_eu = law::zone(country).is_some_and(|z| z != Zone::Eea);
            if outside_eu && p.controller.representative.is_none() {
                let span = self
                    .file
                    .controller
                    .as_ref()
                    .and_then(|c| c.get_ref().country.as_ref())
                    .map(|c| c.span());
                self.push(
                    &REPRESENTATIVE,
                    format!("the controller is established in `{country}`, outside the EEA, and names no EU representative"),
                    span,
                    "add `representative = { name = \"…\", address = \"…\" }` to [controller] (unless Art. 27(2) exempts you)",
                );
            }
        }
    }

    fn purposes(&mut self) {
        let p = self.policy;
        for (raw, purpose) in self.file.purpose.iter().zip(&p.purposes) {
            let r = raw.get_ref();
            let at = span_of(&r.id);
            let id = &purpose.id;
            // Art. 6 and 13 bind the controller: a processor activity rests on the controller's
            // basis and is governed by the Art. 28(3) agreement (rule C117).
            let as_processor = purpose.role == Role::Processor;
            let basis_at = r.basis.as_ref().map(|b| b.span()).or(at.clone());
            if purpose.bases.is_empty() && !as_processor {
                self.group(
                    &LEGAL_BASIS,
                    "{n} purposes have no legal basis",
                    id,
                    format!("purpose `{id}` has no legal basis"),
                    at.clone(),
                    "add `basis = \"contract\"` (or consent, legal_obligation, vital_interests, public_task, legitimate_interest; an array for alternatives)",
                );
            }
            if purpose.bases.contains(&Basis::LegitimateInterest)
                && !present(&purpose.legitimate_interest)
            {
                self.group(
                    &LEGITIMATE_INTEREST,
                    "{n} purposes rely on legitimate interest without saying which interest",
                    id,
                    format!("purpose `{id}` relies on legitimate interest but does not say which interest"),
                    basis_at.clone(),
                    "add `legitimate_interest = \"…\"`: the interest pursued, by you or a third party",
                );
            }
            if purpose.bases.contains(&Basis::LegalObligation)
                && !present(&purpose.legal_obligation)
            {
                self.group(
                    &LEGAL_OBLIGATION,
                    "{n} purposes rely on a legal obligation without citing the law",
                    id,
                    format!("purpose `{id}` relies on a legal obligation but does not cite the law"),
                    basis_at.clone(),
                    "add `legal_obligation = \"…\"`, e.g. \"art. 52 AWR (7-year fiscal retention)\"",
                );
            }
            if purpose.bases.len() > 1 && !present(&purpose.basis_note) {
                let names: Vec<&str> = purpose
                    .bases
                    .iter()
                    .map(|b| law::basis_article(*b))
                    .collect();
                self.push(
                    &SEVERAL_BASES,
                    format!(
                        "purpose `{id}` names several legal bases (Art. {}) without saying which applies when",
                        names.join(", Art. ")
                    ),
                    basis_at.clone(),
                    "add `basis_note = \"…\"`: e.g. \"consent for newsletter subscribers, contract for customers\"; a person must know which basis covers them",
                );
            }
            let consent_based = purpose.bases.contains(&Basis::Consent)
                || purpose.special_condition == Some(SpecialCondition::ExplicitConsent);
            if consent_based && !present(&purpose.withdraw) && !as_processor {
                self.push(
                    &CONSENT_WITHDRAWAL,
                    format!("purpose `{id}` relies on consent but does not say how to withdraw it"),
                    r.basis.as_ref().and_then(span_of).or(at.clone()),
                    "add `withdraw = \"…\"`: where and how, as easily as consent was given",
                );
            }
            if let Some(first) = r.stale_consent.first() {
                let current = p.meta.version.as_deref();
                if !consent_based {
                    self.push(
                        &STALE_CONSENT,
                        format!("purpose `{id}` lists `stale_consent` but does not rely on consent"),
                        span_of(first),
                        "remove `stale_consent`: only consent given under an older notice can go stale",
                    );
                } else if let Some(v) = r
                    .stale_consent
                    .iter()
                    .find(|v| Some(v.get_ref().as_str()) == current)
                {
                    self.push(
                        &STALE_CONSENT,
                        format!(
                            "purpose `{id}` lists the current notice version `{}` in `stale_consent`: no consent could count",
                            v.get_ref()
                        ),
                        span_of(v),
                        "list only the versions before the change that needs consent again",
                    );
                }
            }
            if purpose.direct_marketing && !present(&purpose.withdraw) && !as_processor {
                self.push(
                    &DIRECT_MARKETING,
                    format!(
                        "purpose `{id}` is direct marketing but does not say how to object to it"
                    ),
                    at.clone(),
                    "add `withdraw = \"…\"`: e.g. the unsubscribe link in every message",
                );
            }
            if purpose.categories.is_empty() {
                self.push(
                    &PURPOSE_DATA,
                    format!("purpose `{id}` names no categories of data"),
                    at.clone(),
                    "add `categories = [\"…\"]`",
                );
            }
            let special: Vec<&str> = purpose
                .categories
                .iter()
                .filter_map(|c| p.category(c))
                .filter(|c| c.special.is_some())
                .map(|c| c.id.as_str())
                .collect();
            if !special.is_empty() && !as_processor {
                match purpose.special_condition {
                    None => self.push(
                        &SPECIAL_CONDITION,
                        format!("purpose `{id}` uses special categories ({}) without an Art. 9(2) condition", special.join(", ")),
                        at.clone(),
                        "add `special_condition = \"explicit_consent\"` (or another Art. 9(2) condition)",
                    ),
                    Some(_) if purpose.bases.contains(&Basis::Consent) && purpose.special_condition != Some(SpecialCondition::ExplicitConsent) => {
                        self.push(
                            &EXPLICIT_CONSENT,
                            format!("purpose `{id}` processes special categories on consent; Art. 9(2)(a) requires that consent be explicit"),
                            r.special_condition.as_ref().and_then(span_of),
                            "set `special_condition = \"explicit_consent\"`",
                        )
                    }
                    Some(_) => {}
                }
            }
            let criminal = purpose
                .categories
                .iter()
                .filter_map(|c| p.category(c))
                .any(|c| c.criminal);
            if criminal && !present(&purpose.criminal_authorisation) && !as_processor {
                self.push(
                    &CRIMINAL_DATA,
                    format!("purpose `{id}` uses criminal-offence data without naming the law that authorises it"),
                    at.clone(),
                    "add `criminal_authorisation = \"…\"` (Union or Member State law, e.g. UAVG art. 33)",
                );
            }
            if let (Some(ad), Some(raw_ad)) = (&purpose.automated_decision, &r.automated_decision) {
                let missing: Vec<&str> = [
                    ("logic", &ad.logic),
                    ("significance", &ad.significance),
                    ("consequences", &ad.consequences),
                ]
                .into_iter()
                .filter(|(_, t)| !present(t))
                .map(|(n, _)| n)
                .collect();
                // Art. 13(2)(f) asks for the logic "at least" of Art. 22(1) decisions: profiling
                // that decides nothing with legal or similar effect is not one (WP251 rev.01).
                if ad.kind == AutomatedKind::SolelyAutomated && !missing.is_empty() && !as_processor
                {
                    self.push(
                        &AUTOMATED_DECISION,
                        format!("purpose `{id}` involves automated decision-making but does not explain its {}", missing.join(", ")),
                        span_of(raw_ad),
                        "describe the logic involved, the significance and the envisaged consequences for the person",
                    );
                }
            }
            if purpose.role == Role::Processor && !present(&purpose.dpa) {
                self.push(
                    &PROCESSOR_ACTIVITY_DPA,
                    format!("purpose `{id}` is carried out as a processor but names no agreement with the controller"),
                    r.role.as_ref().and_then(span_of).or(at.clone()),
                    "add `dpa = \"…\"`: the data processing agreement or terms that govern it",
                );
            }
        }
        for (raw, j) in self.file.joint_controller.iter().zip(&p.joint_controllers) {
            if !present(&j.arrangement) {
                self.push(
                    &JOINT_ARRANGEMENT,
                    format!("joint controller `{}` has no arrangement described", j.id),
                    span_of(&raw.get_ref().id),
                    "add `arrangement = \"…\"`: who does what, in particular towards the data subject",
                );
            }
        }
    }

    fn categories(&mut self) {
        let p = self.policy;
        for (raw, cat) in self.file.category.iter().zip(&p.categories) {
            let r = raw.get_ref();
            let at = span_of(&r.id);
            let id = &cat.id;
            let children: Vec<_> = p
                .categories
                .iter()
                .filter(|c| c.parent.as_deref() == Some(id))
                .collect();
            if !cat.stored {
                if let Some(ret) = &r.retention
                    && (ret.get_ref().period.is_some() || !ret.get_ref().tiers.is_empty())
                {
                    self.push(
                        &NEVER_STORED,
                        format!("category `{id}` is never stored, yet has a retention period"),
                        span_of(ret),
                        "remove the retention, or remove `stored = false` if the data is kept",
                    );
                }
            } else {
                let has = |c: &crate::resolved::Category| {
                    c.retention.as_ref().is_some_and(|r| {
                        r.period.is_some()
                            || !r.until.is_empty()
                            || present(&r.criteria)
                            || !r.tiers.is_empty()
                    })
                };
                let covered_by_children =
                    !children.is_empty() && children.iter().all(|c| has(c) || !c.stored);
                // Art. 13(2)(a) binds the controller: data held only as processor is kept as
                // the controller instructs (Art. 28(3)(g)).
                if !has(cat) && !covered_by_children && !self.processor_only(cat) {
                    self.group(
                        &RETENTION,
                        "{n} categories have no retention period or criteria",
                        id,
                        format!("category `{id}` has no retention period or criteria"),
                        at.clone(),
                        "add `retention = { period = \"…\" }`, `until = [\"event\"]`, or `criteria = \"…\"` when no period can be given; or one `[retention]` rule for all data",
                    );
                }
                if let (Some(ret), Some(raw_ret)) = (&cat.retention, &r.retention)
                    && vague_criteria_only(ret)
                {
                    self.group(
                        &VAGUE_RETENTION,
                        "{n} categories give only \"as long as necessary\" as retention",
                        id,
                        format!("category `{id}` gives only \"as long as necessary\" as its retention"),
                        span_of(raw_ret),
                        "WP260 rev.01 para. 48: state the period, or criteria from which it follows (e.g. \"until the contract ends, then 7 years (art. 52 AWR)\")",
                    );
                }
            }
            if let (Some(ret), Some(raw_ret)) = (&cat.retention, &r.retention)
                && let Some(bounds) = &ret.tenant_override
            {
                let span = raw_ret.get_ref().tenant_override.as_ref().and_then(span_of);
                self.bounds(id, ret.period.as_ref(), bounds, span);
            }
            // Data we generate ourselves (drafts, profiles) has no outside source to name.
            let outside_source =
                cat.source.is_indirect() && cat.source.kind != m::SourceKind::Generated;
            if outside_source
                && !present(&cat.source.description)
                && r.source.is_some()
                && !self.processor_only(cat)
            {
                self.push(
                    &SOURCE,
                    format!("category `{id}` is not obtained from the data subject and does not name its source"),
                    r.source.as_ref().and_then(span_of),
                    "add `description = \"…\"` to the source: where the data comes from, and whether it is public",
                );
            }
            let used = !cat.purposes.is_empty() || children.iter().any(|c| !c.purposes.is_empty());
            let parent_used = cat
                .parent
                .as_deref()
                .and_then(|pid| p.category(pid))
                .is_some_and(|pc| !pc.purposes.is_empty());
            if !used && !parent_used {
                self.group(
                    &CATEGORY_PURPOSE,
                    "{n} categories are used by no purpose",
                    id,
                    format!("category `{id}` is not used by any purpose"),
                    at.clone(),
                    "list it in the `categories` of the purposes that use it, or remove it",
                );
            }
        }
    }

    /// The `[retention]` rule for all data, when it is only "as long as necessary".
    fn general_retention(&mut self) {
        if let (Some(ret), Some(raw)) = (&self.policy.retention, &self.file.retention)
            && vague_criteria_only(ret)
        {
            self.push(
                &VAGUE_RETENTION,
                "the retention rule for all data says only \"as long as necessary\"",
                span_of(raw),
                "WP260 rev.01 para. 48: state the period, or criteria from which it follows",
            );
        }
    }

    fn bounds(
        &mut self,
        id: &str,
        default: Option<&Period>,
        b: &crate::resolved::Bounds,
        span: Option<Range<usize>>,
    ) {
        if let (Some(min), Some(max)) = (&b.min, &b.max)
            && min > max
        {
            self.push(
                    &OVERRIDE_BOUNDS,
                    format!("category `{id}`: the override minimum ({min}) is longer than the maximum ({max})"),
                    span.clone(),
                    "swap `min` and `max`",
                );
            return;
        }
        if let Some(d) = default {
            let below = b.min.as_ref().is_some_and(|min| d < min);
            let above = b.max.as_ref().is_some_and(|max| d > max);
            if below || above {
                let range = format!(
                    "{} – {}",
                    b.min.as_ref().map_or("…".into(), |p| p.to_string()),
                    b.max.as_ref().map_or("…".into(), |p| p.to_string())
                );
                self.push(
                    &OVERRIDE_BOUNDS,
                    format!("category `{id}`: the default period {d} lies outside the tenant override bounds {range}"),
                    span,
                    "widen the bounds or change the default so that min ≤ default ≤ max",
                );
            }
        }
    }

    fn recipients(&mut self) {
        let p = self.policy;
        for (raw, rec) in self.file.recipient.iter().zip(&p.recipients) {
            let r = raw.get_ref();
            let at = span_of(&r.id);
            let id = &rec.id;
            if rec.locations.is_empty() {
                self.group(
                    &RECIPIENT_LOCATION,
                    "{n} recipients have no location",
                    id,
                    format!("recipient `{id}` has no location"),
                    at.clone(),
                    "add `locations = [\"NL\"]` (ISO country codes, or \"EU\"/\"EEA\")",
                );
            }
            for (mech_raw, mech) in r.transfer.iter().zip(&rec.transfer) {
                self.mechanism_validity(*mech, &format!("recipient `{id}`"), span_of(mech_raw));
            }
            let via_cookie = p.cookies.iter().any(|k| {
                k.recipient.as_deref() == Some(id.as_str()) && k.consent_purpose.is_some()
            });
            if rec.purposes.is_empty() && !via_cookie {
                self.group(
                    &RECIPIENT_PURPOSE,
                    "{n} recipients are linked to no purpose",
                    id,
                    format!("recipient `{id}` is linked to no purpose"),
                    at.clone(),
                    "list it in the `recipients` of the purposes it receives data for, so the statement and the record say why it gets the data",
                );
            }
            self.recipient_roles(rec, at.clone());
            self.location_contradictions(rec, at.clone());
            self.social_media(&rec.name, &rec.kinds, at.clone());
            let has_us = rec.locations.iter().any(|l| l == "US");
            if rec.transfer.contains(&m::Mechanism::Dpf) && !has_us {
                let span = r
                    .transfer
                    .iter()
                    .find(|t| *t.get_ref() == m::Mechanism::Dpf)
                    .and_then(span_of);
                self.push(
                    &DPF_US_ONLY,
                    format!("recipient `{id}` relies on the Data Privacy Framework but is not in the United States"),
                    span,
                    "the DPF is an adequacy decision for certified US organisations only; use SCCs or another Art. 46 safeguard",
                );
            }
            for (loc_raw, loc) in r.locations.iter().zip(&rec.locations) {
                let Some(zone) = law::zone(loc) else { continue };
                if zone == Zone::Eea {
                    continue;
                }
                if !rec
                    .transfer
                    .iter()
                    .any(|&mech| law::mechanism_covers(mech, zone))
                {
                    let why = match zone {
                        Zone::UnitedStates => "use `dpf` for a certified organisation, or `scc`",
                        Zone::Adequate => {
                            "the country has an adequacy decision: add `transfer = [\"adequacy\"]`"
                        }
                        _ => {
                            "there is no adequacy decision: use `scc`, `bcr` or another Art. 46 safeguard"
                        }
                    };
                    self.push(
                        &TRANSFER_MECHANISM,
                        format!("recipient `{id}` receives data in `{loc}`, outside the EEA, without a transfer mechanism that covers it"),
                        span_of(loc_raw),
                        why,
                    );
                }
            }
            if rec.transfer.contains(&m::Mechanism::Derogation) && rec.derogation.is_none() {
                self.push(
                    &DEROGATION_POINT,
                    format!(
                        "recipient `{id}` relies on an Art. 49 derogation without naming which"
                    ),
                    at.clone(),
                    "add `derogation = \"a\"` (explicit consent), `\"b\"` (contract), …",
                );
            }
            let on_scc = rec.transfer.contains(&m::Mechanism::Scc)
                || rec.transfer.contains(&m::Mechanism::Scc2010);
            let scc_to_unsafe = on_scc
                && rec
                    .locations
                    .iter()
                    .any(|l| matches!(law::zone(l), Some(Zone::ThirdCountry)))
                && rec.tia != Some(true);
            let scc_us_without_dpf = on_scc
                && has_us
                && !rec.transfer.contains(&m::Mechanism::Dpf)
                && rec.tia != Some(true);
            if scc_to_unsafe || scc_us_without_dpf {
                self.group(
                    &SCC_TIA,
                    "{n} recipients receive data on SCCs in a country without adequacy and no transfer impact assessment is recorded",
                    id,
                    format!("recipient `{id}` receives data on SCCs in a country without adequacy and no transfer impact assessment is recorded"),
                    at.clone(),
                    "assess the law of the destination (Schrems II) and set `tia = true`, with supplementary measures in `safeguards`",
                );
            }
            if rec
                .kinds
                .iter()
                .any(|k| matches!(k, RecipientKind::Processor | RecipientKind::SubProcessor))
            {
                match rec.dpa {
                    Some(false) => self.group(
                        &RECIPIENT_DPA,
                        "{n} recipients process on our behalf without a data processing agreement",
                        id,
                        format!("recipient `{id}` processes on our behalf without a data processing agreement"),
                        at.clone(),
                        "sign a DPA with the Art. 28(3) clauses before sharing data",
                    ),
                    None => self.group(
                        &RECIPIENT_DPA_UNSTATED,
                        "the policy does not record whether {n} processors have signed a data processing agreement",
                        id,
                        format!("the policy does not record whether recipient `{id}` has signed a data processing agreement"),
                        at.clone(),
                        "add `dpa = true` once the Art. 28(3) agreement is signed",
                    ),
                    Some(true) => {}
                }
            }
        }
    }

    /// C141: a mechanism that was not (or no longer) lawful on the statement's date.
    fn mechanism_validity(&mut self, mech: m::Mechanism, who: &str, span: Option<Range<usize>>) {
        let date = self
            .date
            .map_or_else(|| "today".to_owned(), |d| format!("on {d}"));
        match law::mechanism_validity(mech, self.date) {
            law::Validity::Valid => {}
            law::Validity::Invalid { why } => self.push(
                &MECHANISM_INVALID,
                format!("{who} relies on a transfer mechanism that is not valid {date}: {why}"),
                span,
                "use the EU-US Data Privacy Framework for a certified US organisation, or the 2021/914 clauses (`scc`) with a transfer impact assessment",
            ),
            law::Validity::Transitional { why } => self.push(
                &MECHANISM_INVALID,
                format!("{who} relies on the 2010 standard clauses {date}: {why}"),
                span,
                "move to the 2021/914 clauses (`scc`) before 27 December 2022",
            ),
        }
    }

    /// C150: a recipient's kind per purpose. Where we act as processor, whoever we engage is a
    /// sub-processor (Art. 28(2), (4)): it needs the controller's authorisation and the same
    /// obligations; for our own purposes it is our processor.
    fn recipient_roles(&mut self, rec: &crate::resolved::Recipient, at: Option<Range<usize>>) {
        let processor = rec.kinds.contains(&RecipientKind::Processor);
        let sub = rec.kinds.contains(&RecipientKind::SubProcessor);
        if !processor && !sub {
            return;
        }
        let (ours, theirs): (Vec<&String>, Vec<&String>) = rec
            .purposes
            .iter()
            .partition(|pid| !self.processor_purpose(pid));
        let id = &rec.id;
        if processor && !sub && !theirs.is_empty() {
            let list: Vec<String> = theirs.iter().map(|p| format!("`{p}`")).collect();
            self.push(
                &RECIPIENT_ROLE,
                format!("recipient `{id}` is declared a processor but receives data for {}, which we carry out as processor: there it is a sub-processor", list.join(", ")),
                at,
                "set `kind = [\"processor\", \"sub_processor\"]` and make sure the controller authorised it (Art. 28(2)) and the Art. 28(3) terms flow down (Art. 28(4))",
            );
        } else if sub && !processor && !ours.is_empty() {
            let list: Vec<String> = ours.iter().map(|p| format!("`{p}`")).collect();
            self.push(
                &RECIPIENT_ROLE,
                format!("recipient `{id}` is declared a sub-processor but receives data for {}, which we carry out as controller: there it is our processor", list.join(", ")),
                at,
                "set `kind = [\"processor\", \"sub_processor\"]`",
            );
        }
    }

    /// C145: a recipient located in one place by `locations` and in another by the words of its
    /// `location_note`, by a recipient of the same name, or by the policy's transfer clause.
    fn location_contradictions(
        &mut self,
        rec: &crate::resolved::Recipient,
        at: Option<Range<usize>>,
    ) {
        let id = &rec.id;
        if let Some(note) = &rec.location_note
            && !rec.locations.is_empty()
        {
            let named: Vec<&str> = countries_named(note)
                .into_iter()
                .filter(|code| !rec.locations.iter().any(|l| l == code))
                .collect();
            if !named.is_empty() {
                self.push(
                    &LOCATION_CONTRADICTION,
                    format!(
                        "recipient `{id}` is located in {} by `locations`, but its `location_note` names {}",
                        rec.locations.join(", "),
                        named.join(", ")
                    ),
                    at.clone(),
                    "make `locations` and `location_note` say the same; the checker judges transfers by `locations`",
                );
            }
        }
        let same_name = self.policy.recipients.iter().find(|o| {
            o.id != rec.id
                && o.name.trim().eq_ignore_ascii_case(rec.name.trim())
                && !o.locations.is_empty()
                && !rec.locations.is_empty()
                && sorted(&o.locations) != sorted(&rec.locations)
        });
        // Report the pair once, at the first of the two.
        if let Some(other) = same_name
            && self.policy.recipients.iter().position(|x| x.id == rec.id)
                < self.policy.recipients.iter().position(|x| x.id == other.id)
        {
            self.push(
                &LOCATION_CONTRADICTION,
                format!(
                    "recipients `{id}` and `{}` are both \"{}\" but located in {} and in {}",
                    other.id,
                    rec.name,
                    rec.locations.join(", "),
                    other.locations.join(", ")
                ),
                at.clone(),
                "one organisation, one set of locations: merge them or state every location in both",
            );
        }
        if let Some(t) = &self.policy.transfer
            && !t.outside_eea
            && !rec.third_countries.is_empty()
        {
            self.push(
                &LOCATION_CONTRADICTION,
                format!(
                    "the transfer clause says no data leaves the EEA, but recipient `{id}` is located in {}",
                    rec.third_countries.join(", ")
                ),
                at,
                "set `[transfer] outside_eea = true` with its mechanisms, or correct the recipient's `locations`",
            );
        }
    }

    /// C142: a page or plug-in on a social network. Whoever runs a fan page is joint controller
    /// with the platform for the page's statistics (CJEU C-210/16); whoever embeds a plug-in,
    /// for collecting and passing on visitors' data (C-40/17).
    fn social_media(&mut self, name: &str, kinds: &[RecipientKind], at: Option<Range<usize>>) {
        let Some(platform) = social_platform(name) else {
            return;
        };
        // A platform engaged as (sub-)processor (e.g. a messaging API) runs no page of ours.
        let only_processor = !kinds.is_empty()
            && kinds
                .iter()
                .all(|k| matches!(k, RecipientKind::Processor | RecipientKind::SubProcessor));
        if kinds.contains(&RecipientKind::JointController) || only_processor {
            return;
        }
        let arranged = self.policy.joint_controllers.iter().any(|j| {
            Lang::ALL
                .iter()
                .filter_map(|l| j.name.get(*l))
                .any(|n| n.to_lowercase().contains(platform))
        });
        if arranged {
            return;
        }
        self.group(
            &SOCIAL_MEDIA,
            "{n} social-network services are not treated as joint control",
            name,
            format!("\"{name}\" is a social network: a page or plug-in there is run in joint control with the platform, yet the policy names no joint controller for it"),
            at,
            "add a [[joint_controller]] for the platform with the purposes (page insights, plug-ins) and `arrangement` (e.g. the platform's Page Insights Controller Addendum), or set the recipient's `kind = \"joint_controller\"`",
        );
    }

    /// C153 and C141 on the policy-wide `[transfer]` clause.
    fn transfers(&mut self) {
        let (Some(t), Some(raw)) = (&self.policy.transfer, &self.file.transfer) else {
            return;
        };
        if t.outside_eea && t.mechanisms.is_empty() {
            self.push(
                &TRANSFER_CLAUSE,
                "the statement says data may leave the EEA but names no transfer mechanism",
                span_of(raw),
                "add `mechanisms = [\"scc\", \"dpf\"]` (or adequacy, bcr, …) and where a copy of the safeguards is available (`safeguards`)",
            );
        }
        for (mech_raw, mech) in raw.get_ref().mechanisms.iter().zip(&t.mechanisms) {
            self.mechanism_validity(*mech, "the transfer clause", span_of(mech_raw));
        }
    }

    /// C143: every declared source says which categories it provides.
    fn sources(&mut self) {
        for (raw, src) in self.file.source.iter().zip(&self.policy.sources) {
            if src.categories.is_empty() {
                self.push(
                    &SOURCE_CATEGORIES,
                    format!("source `{}` does not say which categories of data are obtained from it", src.id),
                    span_of(&raw.get_ref().id),
                    "add `categories = [\"…\"]`: Art. 14(1)(d) requires the categories concerned, and Art. 14(2)(f) the source of each",
                );
            }
        }
    }

    /// C146–C149 and C142 on cookies and similar trackers.
    fn cookies(&mut self) {
        let p = self.policy;
        let dutch = p.controller.country.as_deref() == Some("NL");
        for (raw, k) in self.file.cookies().zip(&p.cookies) {
            let r = raw.get_ref();
            let at = span_of(&r.id);
            let id = &k.id;
            // One cause, one finding: a cookie on another basis or an opt-out is C147.
            let objected = k.consent_required_by_law && cookie_objection(k).is_some();
            if k.consent_required_by_law && !k.consent_needed && !objected {
                let why = match k.kind {
                    m::CookieType::Analytics if dutch => {
                        "analytics needs consent unless it has little or no impact on privacy (set `minimal_impact = true` only if the data is not shared, the IP address is truncated and no profile is built: Telecommunicatiewet art. 11.7a(3)(b))"
                    }
                    m::CookieType::Analytics => {
                        "analytics needs consent (the Dutch exemption for analytics with minimal privacy impact applies only under Dutch law)"
                    }
                    _ => "only strictly necessary cookies may be set without consent",
                };
                self.push(
                    &COOKIE_CONSENT,
                    format!(
                        "cookie `{id}` ({}) is set without consent: {why}",
                        cookie_type_name(k.kind)
                    ),
                    r.consent.as_ref().and_then(span_of).or(at.clone()),
                    "set `consent = true` and load it only after the user agrees",
                );
            }
            if k.consent_required_by_law {
                let objection = cookie_objection(k);
                if let Some(why) = objection {
                    let span = r
                        .basis
                        .as_ref()
                        .and_then(span_of)
                        .or_else(|| r.choice.as_ref().and_then(span_of))
                        .or(at.clone());
                    self.push(
                        &COOKIE_BASIS,
                        format!("cookie `{id}` ({}) does not rest on valid consent: {why}", cookie_type_name(k.kind)),
                        span,
                        "ask active, prior consent (`basis = \"consent\"`, `choice = \"opt_in\"`), with refusing as easy as accepting",
                    );
                }
            }
            let mut missing = Vec::new();
            if !present(&k.purpose) {
                missing.push("purpose");
            }
            if k.lifetime.is_none() {
                missing.push("lifetime");
            }
            if k.party.is_none() {
                missing.push("first or third party");
            }
            if k.provider.is_none() {
                missing.push("provider");
            }
            if !missing.is_empty() {
                self.group(
                    &COOKIE_INFORMATION,
                    "{n} cookies lack what the user must be told (purpose, lifetime, who can read them)",
                    id,
                    format!("cookie `{id}` does not state its {}", missing.join(", ")),
                    at.clone(),
                    "add `purpose`, `lifetime` (\"session\" or a period), `party` (\"first\" or \"third\") and `provider`",
                );
            }
            if k.consent_needed {
                match k.consent_purpose.as_deref().and_then(|pid| p.purpose(pid)) {
                    None => self.group(
                        &COOKIE_PURPOSE,
                        "{n} cookies that need consent name no consent purpose",
                        id,
                        format!("cookie `{id}` needs consent but names no consent purpose to record the choice under"),
                        at.clone(),
                        "add `consent_purpose = \"…\"`: a [[purpose]] with `basis = \"consent\"` (e.g. `analytics`, `marketing`)",
                    ),
                    Some(purpose) if !purpose.bases.contains(&Basis::Consent) => self.push(
                        &COOKIE_PURPOSE,
                        format!("cookie `{id}` records its consent under purpose `{}`, which does not rest on consent", purpose.id),
                        r.consent_purpose.as_ref().and_then(span_of),
                        "map it to a purpose with `basis = \"consent\"`",
                    ),
                    Some(_) => {}
                }
            }
            if let Some(provider) = &k.provider
                && k.kind == m::CookieType::Marketing
                && k.recipient.is_none()
            {
                self.social_media(provider, &[], at.clone());
            }
        }
    }

    /// C151: a national law cited under a name it no longer had on the statement's date.
    fn laws(&mut self) {
        for l in &self.file.law {
            let l = l.get_ref();
            let Some(known) = law::national_law(l.id.get_ref()) else {
                continue;
            };
            let Some((since, what)) = known.superseded else {
                continue;
            };
            if self.date.is_none_or(|d| d >= since) {
                self.push(
                    &LAW_SUPERSEDED,
                    format!("the statement cites the {}, but {what}", known.name),
                    span_of(&l.id),
                    "cite the law in force on the statement's date (`tdddg` for German cookie rules since 14 May 2024)",
                );
            }
        }
    }

    fn rights(&mut self) {
        let p = self.policy;
        let rights_span = self
            .file
            .rights
            .as_ref()
            .map(|r| r.span())
            .or_else(|| Some(self.file.policy.span()));
        let core = [
            Right::Access,
            Right::Rectification,
            Right::Erasure,
            Right::Restriction,
            Right::Objection,
            Right::Portability,
        ];
        let missing: Vec<String> = core
            .iter()
            .filter(|r| !p.rights.offered.contains(r))
            .map(|r| format!("{} (Art. {})", r.key(), r.article()))
            .collect();
        // Art. 13 binds the controller: a policy that only describes processing done as
        // processor is not asked for the controller's notice.
        let only_processor =
            !p.purposes.is_empty() && p.purposes.iter().all(|x| x.role == Role::Processor);
        if !missing.is_empty() && !only_processor {
            self.push(
                &RIGHTS_LISTED,
                format!(
                    "the statement does not list the right(s) of {}",
                    missing.join(", ")
                ),
                rights_span.clone(),
                "add them to `offered` in [rights]",
            );
        }
        if p.uses_consent() && !p.rights.offered.contains(&Right::WithdrawConsent) {
            self.push(
                &WITHDRAW_LISTED,
                "purposes rely on consent, but the right to withdraw consent at any time is not listed",
                rights_span.clone(),
                "add \"withdraw_consent\" to `offered` in [rights]",
            );
        }
        if p.rights.complaint.is_empty() && p.rights.complaint_scopes.is_empty() && !only_processor
        {
            self.push(
                &COMPLAINT,
                "no supervisory authority is named for complaints",
                rights_span.clone(),
                "add `complaint = [\"nl-ap\"]` to [rights] or `authority = \"nl-ap\"` to [controller]",
            );
        }
        let raw = self.file.rights.as_ref().map(|r| r.get_ref());
        let one_month = Period::parse("1 month").expect("`1 month` is a valid period");
        let two_months = Period::parse("2 months").expect("`2 months` is a valid period");
        if p.rights.response > one_month {
            self.push(
                &RESPONSE_PERIOD,
                format!("the response period {} is longer than the one month Art. 12(3) allows", p.rights.response),
                raw.and_then(|r| r.response.as_ref()).and_then(span_of),
                "set `response = \"1 month\"` (or shorter) and use `extension` for complex requests",
            );
        }
        if let Some(ext) = &p.rights.extension
            && *ext > two_months
        {
            self.push(
                &RESPONSE_PERIOD,
                format!(
                    "the extension {ext} is longer than the two further months Art. 12(3) allows"
                ),
                raw.and_then(|r| r.extension.as_ref()).and_then(span_of),
                "set `extension = \"2 months\"` or shorter",
            );
        }
    }

    fn breach(&mut self) {
        if self.policy.breach.financial_undertaking
            && self.policy.controller.country.as_deref() != Some("NL")
        {
            self.push(
                &FINANCIAL_UNDERTAKING,
                "the policy claims the UAVG art. 42 exemption for financial undertakings, but the controller is not established in the Netherlands",
                self.file.breach.as_ref().map(|b| b.span()),
                "UAVG art. 42 applies to financial undertakings under the Dutch Wft; set `[controller] country = \"NL\"` or remove `financial_undertaking`",
            );
        }
        let limit = Period::parse("72 hours").expect("`72 hours` is a valid period");
        match (&self.policy.breach.authority_within, &self.file.breach) {
            (Some(within), Some(raw)) if *within > limit => self.push(
                &BREACH_DEADLINE,
                format!("breaches are notified to the authority within {within}, later than the 72 hours Art. 33(1) allows"),
                raw.get_ref().authority_within.as_ref().and_then(span_of),
                "set `authority_within = \"72 hours\"` or shorter",
            ),
            (None, raw) => self.push(
                &BREACH_UNSTATED,
                "the policy does not say within what time breaches are notified to the authority",
                raw.as_ref().map(|b| b.span()),
                "add [breach] with `authority_within = \"72 hours\"` and how affected people are told (`subjects`)",
            ),
            _ => {}
        }
    }

    fn events(&mut self) {
        for e in &self.file.event {
            let e = e.get_ref();
            if e.scope.is_empty() {
                self.push(
                    &EVENT_SCOPE,
                    format!(
                        "event `{}` does not say what it happens to: it is accepted for one record, one subject and the whole tenant alike",
                        e.id.get_ref()
                    ),
                    span_of(&e.id),
                    "add `scope = [\"record\"]` (or `\"subject\"`, `\"tenant\"`): an event sent at any other scope is refused",
                );
            }
        }
    }

    fn notice(&mut self) {
        let p = self.policy;
        let processor = p.controller.roles.contains(&Role::Processor)
            || p.purposes.iter().any(|x| x.role == Role::Processor);
        if processor && p.notice.new_subprocessor.is_none() {
            self.push(
                &SUBPROCESSOR_NOTICE,
                "Custos's customer acts as processor but the policy gives no notice period for new sub-processors",
                self.file.notice.as_ref().map(|n| n.span()),
                "add `new_subprocessor = \"30 days\"` to [notice]",
            );
        }
    }

    /// Walks every text of the resolved policy and reports translations missing for a
    /// language the statement is published in, naming the path to the text.
    fn translations(&mut self) {
        let langs = &self.policy.meta.languages;
        if langs.len() < 2 {
            return;
        }
        let Ok(value) = serde_json::to_value(self.policy) else {
            return;
        };
        let mut missing = Vec::new();
        walk_texts(&value, String::new(), langs, &mut missing);
        for (path, lang) in missing {
            let plural = format!("{{n}} texts have no {} text", lang_name(lang));
            self.group(
                &TRANSLATION,
                &plural,
                path.clone(),
                format!("`{path}` has no {} text", lang_name(lang)),
                None,
                &format!("add `{} = \"…\"` to each of them", lang.code()),
            );
        }
    }
}

/// Phrases that say no more than Art. 5(1)(e) itself ("no longer than necessary"), in English
/// and Dutch. WP260 rev.01 para. 48: it is not sufficient to state generically that data is
/// kept as long as necessary for the purposes.
const VAGUE_RETENTION_PHRASES: &[&str] = &[
    "as long as necessary",
    "as long as needed",
    "as long as required",
    "as long as is necessary",
    "as long as it is necessary",
    "no longer than necessary",
    "not longer than necessary",
    "longer than is necessary",
    "for the necessary period",
    "zo lang als nodig",
    "zolang als nodig",
    "zolang nodig",
    "zo lang nodig",
    "zolang dat nodig is",
    "zo lang als noodzakelijk",
    "zolang noodzakelijk",
    "niet langer dan nodig",
    "niet langer dan noodzakelijk",
    "niet langer dan strikt noodzakelijk",
];

/// Words that tie "as long as necessary" to an event or a period (also written out:
/// "seven-year"), or to an account that ends, which makes the criteria concrete.
const CONCRETE_MARKERS: &[&str] = &[
    "until",
    "after",
    "once ",
    "totdat",
    "tot het",
    "tot de",
    "tot u",
    "tot je",
    "na afloop",
    "nadat",
    "zodra",
    "year",
    "month",
    "week",
    "day",
    "jaar",
    "maand",
    "dagen",
    "account is active",
    "account exists",
    "account actief",
    "account bestaat",
];

/// Whether a retention rule gives only criteria, and those say no more than "as long as
/// necessary": no period, no ending event, no tier, no statutory period, and no number in the
/// text that could be a period.
fn vague_criteria_only(r: &crate::resolved::Retention) -> bool {
    if r.period.is_some() || !r.until.is_empty() || !r.tiers.is_empty() || r.statutory.is_some() {
        return false;
    }
    let Some(criteria) = &r.criteria else {
        return false;
    };
    Lang::ALL
        .iter()
        .filter_map(|l| criteria.get(*l))
        .any(|text| {
            let t = text.to_lowercase();
            VAGUE_RETENTION_PHRASES.iter().any(|p| t.contains(p))
                && !t.chars().any(|c| c.is_ascii_digit())
                && !CONCRETE_MARKERS.iter().any(|m| t.contains(m))
        })
}

/// Why a cookie that needs consent does not rest on it, if it does not (C147).
fn cookie_objection(k: &crate::resolved::Cookie) -> Option<&'static str> {
    match (k.basis, k.choice) {
        (Some(Basis::LegitimateInterest), _) => Some(
            "legitimate interest is no basis for reading or storing information on a device that needs consent",
        ),
        (Some(b), _) if b != Basis::Consent => {
            Some("only consent can allow a cookie that is not strictly necessary")
        }
        (_, Some(m::CookieChoice::OptOut)) => Some(
            "a pre-ticked box, continued browsing or a browser setting is no consent (CJEU C-673/17 Planet49)",
        ),
        (_, Some(m::CookieChoice::None)) => Some("it is set for everyone, without a choice"),
        _ => None,
    }
}

fn sorted(v: &[String]) -> Vec<&str> {
    let mut out: Vec<&str> = v.iter().map(String::as_str).collect();
    out.sort_unstable();
    out
}

fn cookie_type_name(k: m::CookieType) -> &'static str {
    match k {
        m::CookieType::StrictlyNecessary => "strictly necessary",
        m::CookieType::Preferences => "preferences",
        m::CookieType::Analytics => "analytics",
        m::CookieType::Marketing => "marketing",
    }
}

/// Social networks on which a company runs pages or whose plug-ins it embeds, as they appear in
/// recipient and provider names (lowercase).
const SOCIAL_PLATFORMS: &[&str] = &[
    "facebook",
    "meta platforms",
    "instagram",
    "linkedin",
    "twitter",
    "tiktok",
    "pinterest",
    "snapchat",
    "youtube",
    "social media",
    "sociale media",
    "social network",
    "sociale netwerk",
];

fn social_platform(name: &str) -> Option<&'static str> {
    let n = name.to_lowercase();
    SOCIAL_PLATFORMS.iter().copied().find(|p| n.contains(p))
}

/// Country names (English and Dutch) a location note may use, with their codes; only countries
/// outside the EEA, where a contradiction changes whether a transfer takes place.
const COUNTRY_NAMES: &[(&str, &str)] = &[
    ("united states", "US"),
    ("verenigde staten", "US"),
    ("usa", "US"),
    ("u.s.", "US"),
    ("united kingdom", "GB"),
    ("verenigd koninkrijk", "GB"),
    ("india", "IN"),
    ("canada", "CA"),
    ("switzerland", "CH"),
    ("zwitserland", "CH"),
    ("japan", "JP"),
    ("australia", "AU"),
    ("australië", "AU"),
    ("israel", "IL"),
    ("singapore", "SG"),
    ("brazil", "BR"),
    ("brazilië", "BR"),
    ("china", "CN"),
];

/// The codes of the non-EEA countries a text names, each once.
fn countries_named(t: &Text) -> Vec<&'static str> {
    let mut out = Vec::new();
    for text in Lang::ALL.iter().filter_map(|l| t.get(*l)) {
        let lower = text.to_lowercase();
        for (name, code) in COUNTRY_NAMES {
            let found = lower.match_indices(name).any(|(i, _)| {
                let before = lower[..i].chars().next_back();
                let after = lower[i + name.len()..].chars().next();
                !before.is_some_and(char::is_alphanumeric)
                    && !after.is_some_and(char::is_alphanumeric)
            });
            if found && !out.contains(code) {
                out.push(*code);
            }
        }
    }
    out
}

fn lang_name(l: Lang) -> &'static str {
    match l {
        Lang::En => "English",
        Lang::Nl => "Dutch",
    }
}

/// A translated text serialises as an object whose keys are all language codes.
fn walk_texts(v: &serde_json::Value, path: String, langs: &[Lang], out: &mut Vec<(String, Lang)>) {
    match v {
        serde_json::Value::Object(map) => {
            let is_text = !map.is_empty()
                && map
                    .iter()
                    .all(|(k, v)| Lang::from_code(k).is_some() && v.is_string());
            if is_text {
                for l in langs {
                    if !map.contains_key(l.code()) {
                        out.push((path.clone(), *l));
                    }
                }
                return;
            }
            for (k, v) in map {
                // Back-references repeat texts already walked; authority names are built in.
                if matches!(k.as_str(), "complaint" | "authority") {
                    continue;
                }
                walk_texts(
                    v,
                    if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    },
                    langs,
                    out,
                );
            }
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let label = item
                    .get("id")
                    .and_then(|id| id.as_str())
                    .map_or(i.to_string(), |id| id.to_owned());
                walk_texts(item, format!("{path}[{label}]"), langs, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceFile;

    const BASE: &str = r#"
[policy]
id = "t"
languages = ["en"]

[controller]
name = "Acme B.V."
contact = [{ kind = "email", address = "privacy@acme.example" }]
authority = "nl-ap"
dpo = { appointed = false, reason = "no large-scale monitoring" }

[[category]]
id = "account"
name = "Account"
retention = { period = "1 year" }

[[purpose]]
id = "service"
name = "Service"
basis = "contract"
categories = ["account"]

[rights]
offered = ["access", "rectification", "erasure", "restriction", "objection", "portability"]

[breach]
authority_within = "72 hours"
"#;

    fn codes(extra: &str) -> Vec<&'static str> {
        let loaded = crate::load_source(SourceFile::new("t.toml", format!("{BASE}{extra}")))
            .unwrap_or_else(|e| panic!("{e:?}"));
        check(&loaded).into_iter().map(|d| d.code).collect()
    }

    fn findings(text: &str) -> Vec<Diagnostic> {
        let loaded =
            crate::load_source(SourceFile::new("t.toml", text)).unwrap_or_else(|e| panic!("{e:?}"));
        check(&loaded)
    }

    #[test]
    fn a_complete_minimal_policy_is_clean() {
        assert_eq!(codes(""), Vec::<&str>::new());
    }

    #[test]
    fn rule_codes_are_unique_and_every_rule_cites_an_article() {
        let mut seen = std::collections::BTreeSet::new();
        for r in RULES {
            assert!(seen.insert(r.code), "duplicate code {}", r.code);
            assert!(
                r.article.contains("Art.") || r.article.contains("CJEU"),
                "{} cites no article",
                r.code
            );
        }
    }

    #[test]
    fn art_6_1_a_purpose_without_basis_is_an_error() {
        assert_eq!(
            codes("[[purpose]]\nid = \"x\"\nname = \"X\"\ncategories = [\"account\"]\n"),
            ["C101"]
        );
    }

    #[test]
    fn art_13_1_d_legitimate_interest_must_be_named() {
        let c = codes(
            "[[purpose]]\nid = \"x\"\nname = \"X\"\nbasis = \"legitimate_interest\"\ncategories = [\"account\"]\n",
        );
        assert_eq!(c, ["C102"]);
    }

    #[test]
    fn art_7_3_consent_needs_a_way_to_withdraw_and_the_right_listed() {
        let c = codes(
            "[[purpose]]\nid = \"x\"\nname = \"X\"\nbasis = \"consent\"\ncategories = [\"account\"]\n",
        );
        assert!(c.contains(&"C103") && c.contains(&"C114"), "{c:?}");
    }

    #[test]
    fn art_7_1_stale_consent_only_on_consent_and_never_the_current_version() {
        let with = |extra: &str| {
            let text = format!(
                "{}{extra}",
                BASE.replace("id = \"t\"", "id = \"t\"\nversion = \"2\"")
            );
            findings(&text)
                .into_iter()
                .filter(|d| d.code == "C137")
                .map(|d| d.message)
                .collect::<Vec<_>>()
        };
        let consent = "[[purpose]]\nid = \"x\"\nname = \"X\"\nbasis = \"consent\"\nwithdraw = \"settings\"\ncategories = [\"account\"]\n";
        assert!(with(&format!("{consent}stale_consent = [\"1\"]\n")).is_empty());
        assert_eq!(
            with(&format!("{consent}stale_consent = [\"1\", \"2\"]\n")),
            [
                "purpose `x` lists the current notice version `2` in `stale_consent`: no consent could count"
            ]
        );
        assert_eq!(
            with(
                "[[purpose]]\nid = \"y\"\nname = \"Y\"\nbasis = \"contract\"\ncategories = [\"account\"]\nstale_consent = [\"1\"]\n"
            ),
            ["purpose `y` lists `stale_consent` but does not rely on consent"]
        );
    }

    #[test]
    fn art_9_2_special_categories_need_a_condition() {
        let extra = "[[category]]\nid = \"health\"\nname = \"H\"\nspecial = \"health\"\nretention = { period = \"1 year\" }\n\
                     [[purpose]]\nid = \"care\"\nname = \"C\"\nbasis = \"contract\"\ncategories = [\"health\"]\n";
        assert_eq!(codes(extra), ["C104"]);
    }

    #[test]
    fn art_10_criminal_data_needs_an_authorising_law() {
        let extra = "[[category]]\nid = \"vog\"\nname = \"V\"\ncriminal = true\nretention = { period = \"1 year\" }\n\
                     [[purpose]]\nid = \"screen\"\nname = \"S\"\nbasis = \"legal_obligation\"\nlegal_obligation = \"law\"\ncategories = [\"vog\"]\n";
        assert_eq!(codes(extra), ["C105"]);
    }

    #[test]
    fn art_13_2_a_a_category_without_retention_is_an_error_but_criteria_suffice() {
        assert_eq!(
            codes(
                "[[category]]\nid = \"logs\"\nname = \"L\"\n[[purpose]]\nid = \"ops\"\nname = \"O\"\nbasis = \"contract\"\ncategories = [\"logs\"]\n"
            ),
            ["C106"]
        );
        let with_criteria = "[[category]]\nid = \"logs\"\nname = \"L\"\nretention = { criteria = \"as long as the account exists\" }\n\
                             [[purpose]]\nid = \"ops\"\nname = \"O\"\nbasis = \"contract\"\ncategories = [\"logs\"]\n";
        assert_eq!(codes(with_criteria), Vec::<&str>::new());
    }

    /// A purpose that links recipient `r` (C144 asks every recipient to serve a purpose).
    const LINK_R: &str = "[[purpose]]\nid = \"hosting\"\nname = \"H\"\nbasis = \"contract\"\ncategories = [\"account\"]\nrecipients = [\"r\"]\n";

    fn recipient(locations: &str, transfer: &str) -> Vec<&'static str> {
        codes(&format!(
            "{LINK_R}[[recipient]]\nid = \"r\"\nname = \"R\"\nlocations = {locations}\ntransfer = {transfer}\ndpa = true\ntia = true\ncategories = [\"account\"]\n"
        ))
    }

    #[test]
    fn art_44_46_transfers_need_a_mechanism_that_covers_the_country() {
        assert_eq!(recipient("[\"NL\"]", "[]"), Vec::<&str>::new());
        assert_eq!(recipient("[\"US\"]", "[]"), ["C107"]);
        assert_eq!(recipient("[\"US\"]", "[\"dpf\"]"), Vec::<&str>::new());
        assert_eq!(recipient("[\"US\"]", "[\"adequacy\"]"), ["C107"]);
        assert_eq!(recipient("[\"GB\"]", "[\"adequacy\"]"), Vec::<&str>::new());
        assert_eq!(recipient("[\"JP\"]", "[]"), ["C107"]);
        assert_eq!(recipient("[\"IN\"]", "[\"scc\"]"), Vec::<&str>::new());
        assert_eq!(recipient("[\"IN\"]", "[\"adequacy\"]"), ["C107"]);
    }

    #[test]
    fn the_dpf_only_covers_recipients_in_the_united_states() {
        assert_eq!(recipient("[\"IN\"]", "[\"dpf\"]"), ["C107", "C108"]);
        assert_eq!(recipient("[\"EU\"]", "[\"dpf\"]"), ["C108"]);
    }

    #[test]
    fn scc_transfers_without_assessment_are_flagged() {
        let c = codes(&format!(
            "{LINK_R}[[recipient]]\nid = \"r\"\nname = \"R\"\nlocations = [\"IN\"]\ntransfer = [\"scc\"]\ndpa = true\ncategories = [\"account\"]\n",
        ));
        assert_eq!(c, ["C131"]);
    }

    #[test]
    fn art_28_processors_need_a_dpa() {
        let no = codes(&format!(
            "{LINK_R}[[recipient]]\nid = \"r\"\nname = \"R\"\nlocations = [\"NL\"]\ndpa = false\ncategories = [\"account\"]\n",
        ));
        assert_eq!(no, ["C118"]);
        let unknown = codes(&format!(
            "{LINK_R}[[recipient]]\nid = \"r\"\nname = \"R\"\nlocations = [\"NL\"]\ncategories = [\"account\"]\n",
        ));
        assert_eq!(unknown, ["C119"]);
        let activity = codes(
            "[[purpose]]\nid = \"x\"\nname = \"X\"\nrole = \"processor\"\nbasis = \"contract\"\ncategories = [\"account\"]\n",
        );
        assert!(activity.contains(&"C117"), "{activity:?}");
    }

    #[test]
    fn art_13_1_a_controller_identity_and_contact_are_required() {
        let f = findings("[policy]\nid = \"x\"\n");
        let c: Vec<_> = f.iter().map(|d| d.code).collect();
        assert_eq!(c.iter().filter(|&&x| x == "C109").count(), 2, "{c:?}");
        assert!(
            c.contains(&"C111")
                && c.contains(&"C112")
                && c.contains(&"C113")
                && c.contains(&"C122"),
            "{c:?}"
        );
    }

    #[test]
    fn art_13_1_b_an_appointed_dpo_needs_contact_details() {
        let text = BASE.replace(
            "dpo = { appointed = false, reason = \"no large-scale monitoring\" }",
            "dpo = { appointed = true, name = \"D\" }",
        );
        let c: Vec<_> = findings(&text).into_iter().map(|d| d.code).collect();
        assert_eq!(c, ["C110"]);
    }

    #[test]
    fn art_12_3_response_within_one_month_and_extension_within_two() {
        let text = BASE.replace(
            "[rights]\n",
            "[rights]\nresponse = \"6 weeks\"\nextension = \"3 months\"\n",
        );
        let c: Vec<_> = findings(&text).into_iter().map(|d| d.code).collect();
        assert_eq!(c, ["C120", "C120"]);
        let ok = BASE.replace(
            "[rights]\n",
            "[rights]\nresponse = \"1 month\"\nextension = \"2 months\"\n",
        );
        assert!(findings(&ok).is_empty());
    }

    #[test]
    fn art_33_1_breach_notice_within_72_hours() {
        let late = BASE.replace(
            "authority_within = \"72 hours\"",
            "authority_within = \"4 days\"",
        );
        assert_eq!(
            findings(&late)
                .into_iter()
                .map(|d| d.code)
                .collect::<Vec<_>>(),
            ["C121"]
        );
        let exact = BASE.replace(
            "authority_within = \"72 hours\"",
            "authority_within = \"3 days\"",
        );
        assert!(findings(&exact).is_empty());
    }

    #[test]
    fn art_13_2_f_automated_decisions_must_be_explained() {
        let extra = "[[purpose]]\nid = \"score\"\nname = \"S\"\nbasis = \"contract\"\ncategories = [\"account\"]\n\
                     automated_decision = { kind = \"solely_automated\", logic = \"a score\" }\n";
        let f = findings(&format!("{BASE}{extra}"));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "C115");
        assert!(
            f[0].message.contains("significance, consequences"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn art_14_2_f_indirect_data_needs_its_source() {
        let extra = "[[category]]\nid = \"leads\"\nname = \"L\"\nsource = { kind = \"third_party\" }\nretention = { period = \"1 year\" }\n\
                     [[purpose]]\nid = \"sales\"\nname = \"S\"\nbasis = \"legitimate_interest\"\nlegitimate_interest = \"sales\"\ncategories = [\"leads\"]\n";
        assert_eq!(codes(extra), ["C116"]);
    }

    #[test]
    fn override_bounds_must_contain_the_default() {
        let extra = "[[category]]\nid = \"wa\"\nname = \"W\"\nretention = { period = \"90 days\", tenant_override = { min = \"7 days\", max = \"60 days\" } }\n\
                     [[purpose]]\nid = \"chat\"\nname = \"C\"\nbasis = \"contract\"\ncategories = [\"wa\"]\n";
        let f = findings(&format!("{BASE}{extra}"));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].code, "C123");
        assert!(
            f[0].message.contains("90 days") && f[0].message.contains("7 days – 60 days"),
            "{}",
            f[0].message
        );
        let ok = extra.replace("60 days", "1 year");
        assert!(findings(&format!("{BASE}{ok}")).is_empty());
    }

    #[test]
    fn a_never_stored_category_has_no_retention() {
        let extra = "[[category]]\nid = \"audio\"\nname = \"A\"\nstored = false\nretention = { period = \"1 day\" }\n\
                     [[purpose]]\nid = \"call\"\nname = \"C\"\nbasis = \"contract\"\ncategories = [\"audio\"]\n";
        assert_eq!(codes(extra), ["C124"]);
        let fine = "[[category]]\nid = \"audio\"\nname = \"A\"\nstored = false\n\
                    [[purpose]]\nid = \"call\"\nname = \"C\"\nbasis = \"contract\"\ncategories = [\"audio\"]\n";
        assert_eq!(codes(fine), Vec::<&str>::new());
    }

    #[test]
    fn missing_translations_are_named_by_path() {
        let text = BASE
            .replace("languages = [\"en\"]", "languages = [\"en\", \"nl\"]")
            .replace("name = \"Service\"", "name = { en = \"Service\" }");
        let f = findings(&text);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].code, "C125");
        assert_eq!(f[0].message, "`purposes[service].name` has no Dutch text");
    }

    #[test]
    fn findings_point_at_the_line_of_the_offending_item() {
        let text =
            format!("{BASE}[[purpose]]\nid = \"x\"\nname = \"X\"\ncategories = [\"account\"]\n");
        let loaded = crate::load_source(SourceFile::new("t.toml", text)).unwrap();
        let f = check(&loaded);
        let at = loaded.source.line_col(f[0].span.clone().unwrap().start);
        assert_eq!(loaded.source.line_text(at.line), "id = \"x\"");
    }

    // ---- issue 22: the policy language for real statements ---------------------------------

    fn with_policy(extra: &str) -> crate::Loaded {
        crate::load_source(SourceFile::new("t.toml", format!("{BASE}{extra}")))
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn art_13_1_c_several_legal_bases_load_and_must_say_which_applies_when() {
        let p = "[[purpose]]\nid = \"news\"\nname = \"N\"\nbasis = [\"consent\", \"contract\"]\nwithdraw = \"link\"\ncategories = [\"account\"]\n";
        let rights = "withdraw_consent";
        let text = format!("{BASE}{p}").replace(
            "\"portability\"]",
            &format!("\"portability\", \"{rights}\"]"),
        );
        let loaded = crate::load_source(SourceFile::new("t.toml", text.clone())).unwrap();
        let news = loaded.policy.purpose("news").unwrap();
        assert_eq!(news.bases, [Basis::Consent, Basis::Contract]);
        assert_eq!(news.basis, Some(Basis::Consent));
        let c: Vec<_> = check(&loaded).into_iter().map(|d| d.code).collect();
        assert_eq!(c, ["C139"]);
        let noted = text.replace(
            "withdraw = \"link\"",
            "withdraw = \"link\"\nbasis_note = \"contract for customers, consent for subscribers\"",
        );
        assert!(findings(&noted).is_empty());
    }

    #[test]
    fn art_6_13_a_processor_activity_is_asked_for_no_basis_retention_or_art_22_information() {
        let extra = "[[category]]\nid = \"end_user\"\nname = \"E\"\n\
                     [[purpose]]\nid = \"hosting\"\nname = \"H\"\nrole = \"processor\"\ndpa = \"our DPA\"\ncategories = [\"end_user\"]\n\
                     automated_decision = { kind = \"solely_automated\" }\n\
                     [notice]\nnew_subprocessor = \"30 days\"\n";
        assert_eq!(codes(extra), Vec::<&str>::new());
    }

    #[test]
    fn art_13_2_f_profiling_without_an_art_22_1_decision_needs_no_logic_explained() {
        let extra = "[[purpose]]\nid = \"segments\"\nname = \"S\"\nbasis = \"contract\"\ncategories = [\"account\"]\n\
                     automated_decision = { kind = \"profiling\" }\n";
        assert_eq!(codes(extra), Vec::<&str>::new());
    }

    #[test]
    fn art_77_any_authority_or_the_habitual_residence_one_is_a_named_complaint_route() {
        for scope in ["any", "habitual_residence"] {
            let text = BASE.replace("authority = \"nl-ap\"\n", "").replace(
                "[rights]\n",
                &format!("[rights]\ncomplaint = [\"{scope}\"]\n"),
            );
            let loaded = crate::load_source(SourceFile::new("t.toml", text)).unwrap();
            assert!(loaded.policy.rights.complaint.is_empty());
            assert_eq!(loaded.policy.rights.complaint_scopes.len(), 1);
            assert!(check(&loaded).is_empty(), "{scope}: {:?}", check(&loaded));
        }
        let text = BASE.replace(
            "[rights]\n",
            "[rights]\ncomplaint = [\"de-by-lda\", \"de-nw\"]\n",
        );
        let loaded = crate::load_source(SourceFile::new("t.toml", text)).unwrap();
        let names: Vec<&str> = loaded
            .policy
            .rights
            .complaint
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(names, ["de-by-lda", "de-nw"]);
        assert_eq!(
            loaded.policy.rights.complaint[0].region.as_deref(),
            Some("BY")
        );
    }

    #[test]
    fn one_cause_at_many_places_is_one_finding_listing_each_place_with_its_line() {
        let extra = "[[purpose]]\nid = \"a\"\nname = \"A\"\ncategories = [\"account\"]\n\
                     [[purpose]]\nid = \"b\"\nname = \"B\"\ncategories = [\"account\"]\n\
                     [[purpose]]\nid = \"c\"\nname = \"C\"\ncategories = [\"account\"]\n";
        let f: Vec<_> = findings(&format!("{BASE}{extra}"))
            .into_iter()
            .filter(|d| d.code == "C101")
            .collect();
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].message
                .starts_with("3 purposes have no legal basis: `a` (line"),
            "{}",
            f[0].message
        );
        assert!(f[0].message.contains("`c` (line"), "{}", f[0].message);
    }

    #[test]
    fn wp260_para_48_as_long_as_necessary_is_not_a_retention_criterion() {
        let cat = |criteria: &str| {
            format!(
                "[[category]]\nid = \"logs\"\nname = \"L\"\nretention = {{ criteria = \"{criteria}\" }}\n\
                 [[purpose]]\nid = \"ops\"\nname = \"O\"\nbasis = \"contract\"\ncategories = [\"logs\"]\n"
            )
        };
        assert_eq!(
            codes(&cat("As long as necessary for the purposes")),
            ["C140"]
        );
        assert_eq!(codes(&cat("Niet langer dan noodzakelijk")), ["C140"]);
        assert_eq!(
            codes(&cat("As long as necessary, until the account is closed")),
            Vec::<&str>::new()
        );
        let general = "[retention]\ncriteria = \"zo lang als nodig\"\n[[category]]\nid = \"logs\"\nname = \"L\"\n\
                       [[purpose]]\nid = \"ops\"\nname = \"O\"\nbasis = \"contract\"\ncategories = [\"logs\"]\n";
        assert_eq!(codes(general), ["C140"]);
    }

    #[test]
    fn a_general_retention_rule_covers_every_category_without_its_own() {
        let extra = "[retention]\nperiod = \"2 years\"\nfrom = \"last_activity\"\n\
                     [[category]]\nid = \"logs\"\nname = \"L\"\n\
                     [[purpose]]\nid = \"ops\"\nname = \"O\"\nbasis = \"contract\"\ncategories = [\"logs\"]\n";
        let loaded = with_policy(extra);
        let logs = loaded.policy.category("logs").unwrap();
        assert_eq!(logs.retention.as_ref().unwrap().from, "last_activity");
        assert_eq!(
            loaded
                .policy
                .category("account")
                .unwrap()
                .retention
                .as_ref()
                .unwrap()
                .period
                .unwrap()
                .to_string(),
            "1 year"
        );
        assert!(check(&loaded).is_empty());
    }

    fn dated(date: &str, extra: &str) -> Vec<Diagnostic> {
        let text = format!(
            "{}{LINK_R}{extra}",
            BASE.replace("id = \"t\"", &format!("id = \"t\"\nupdated = \"{date}\""))
        );
        findings(&text)
    }

    #[test]
    fn cjeu_c_311_18_privacy_shield_is_invalid_from_16_july_2020() {
        let r = "[[recipient]]\nid = \"r\"\nname = \"R\"\nlocations = [\"US\"]\ntransfer = [\"privacy_shield\"]\ndpa = true\ncategories = [\"account\"]\n";
        assert!(dated("2020-07-15", r).is_empty());
        let f = dated("2021-03-01", r);
        assert_eq!(f.iter().map(|d| d.code).collect::<Vec<_>>(), ["C141"]);
        assert!(f[0].message.contains("C-311/18"), "{}", f[0].message);
    }

    #[test]
    fn decision_2021_914_the_2010_clauses_hold_until_27_december_2022_for_old_contracts() {
        let r = "[[recipient]]\nid = \"r\"\nname = \"R\"\nlocations = [\"IN\"]\ntransfer = [\"scc_2010\"]\ntia = true\ndpa = true\ncategories = [\"account\"]\n";
        assert!(dated("2021-09-26", r).is_empty());
        let transitional = dated("2022-06-01", r);
        assert_eq!(transitional.len(), 1);
        assert!(
            transitional[0].message.contains("27 December 2022"),
            "{}",
            transitional[0].message
        );
        let late = dated("2022-12-28", r);
        assert_eq!(late.iter().map(|d| d.code).collect::<Vec<_>>(), ["C141"]);
        assert!(
            late[0].message.contains("not valid on 2022-12-28"),
            "{}",
            late[0].message
        );
    }

    #[test]
    fn art_13_1_f_a_transfer_clause_names_its_mechanisms_and_agrees_with_the_recipients() {
        assert_eq!(codes("[transfer]\noutside_eea = true\n"), ["C153"]);
        assert_eq!(
            codes(
                "[transfer]\noutside_eea = true\nmechanisms = [\"scc\"]\nsafeguards = \"copy on request\"\n"
            ),
            Vec::<&str>::new()
        );
        let contradiction = "[transfer]\noutside_eea = false\n[[recipient]]\nid = \"r\"\nname = \"R\"\nlocations = [\"US\"]\ntransfer = [\"dpf\"]\ndpa = true\n";
        assert_eq!(codes(&format!("{LINK_R}{contradiction}")), ["C145"]);
    }

    #[test]
    fn cjeu_c_210_16_a_social_media_page_is_joint_control() {
        let r = "[[recipient]]\nid = \"r\"\nname = \"Meta Platforms Ireland Ltd. (Facebook)\"\nkind = \"controller\"\nlocations = [\"IE\"]\n";
        assert_eq!(codes(&format!("{LINK_R}{r}")), ["C142"]);
        let joint = "[[joint_controller]]\nid = \"meta\"\nname = \"Facebook (Meta Platforms Ireland)\"\narrangement = \"Page Insights Controller Addendum\"\n";
        assert_eq!(codes(&format!("{LINK_R}{r}{joint}")), Vec::<&str>::new());
        // The platform engaged as processor (a messaging API) runs no page of ours.
        let api = r.replace("kind = \"controller\"", "kind = \"processor\"\ndpa = true");
        assert_eq!(codes(&format!("{LINK_R}{api}")), Vec::<&str>::new());
    }

    #[test]
    fn art_14_1_d_a_source_names_the_categories_it_provides_and_they_inherit_it() {
        assert_eq!(
            codes("[[source]]\nid = \"broker\"\nname = \"Data broker\"\n"),
            ["C143"]
        );
        let loaded = with_policy(
            "[[source]]\nid = \"broker\"\nname = \"Acme Data Ltd.\"\ncategories = [\"account\"]\n",
        );
        let account = loaded.policy.category("account").unwrap();
        assert_eq!(account.sources, ["broker"]);
        assert_eq!(account.source.kind, m::SourceKind::ThirdParty);
        assert_eq!(
            account.source.description.as_ref().unwrap().get(Lang::En),
            Some("Acme Data Ltd.")
        );
        assert!(check(&loaded).is_empty());
    }

    #[test]
    fn art_13_1_e_a_recipient_linked_to_no_purpose_is_reported() {
        let r = "[[recipient]]\nid = \"r\"\nname = \"R\"\nlocations = [\"NL\"]\ndpa = true\n";
        assert_eq!(codes(r), ["C144"]);
        assert_eq!(codes(&format!("{LINK_R}{r}")), Vec::<&str>::new());
    }

    #[test]
    fn a_location_note_that_names_another_country_than_the_locations_is_a_contradiction() {
        let r = "[[recipient]]\nid = \"r\"\nname = \"R\"\nlocations = [\"EU\"]\nlocation_note = \"servers in the United States\"\ndpa = true\n";
        let f = findings(&format!("{BASE}{LINK_R}{r}"));
        assert_eq!(f.iter().map(|d| d.code).collect::<Vec<_>>(), ["C145"]);
        assert!(f[0].message.contains("names US"), "{}", f[0].message);
        let twice = "[[recipient]]\nid = \"r\"\nname = \"Cloud\"\nlocations = [\"NL\"]\ndpa = true\n\
                     [[recipient]]\nid = \"r2\"\nname = \"Cloud\"\nlocations = [\"US\"]\ntransfer = [\"dpf\"]\ndpa = true\n";
        let link = LINK_R.replace("[\"r\"]", "[\"r\", \"r2\"]");
        assert_eq!(codes(&format!("{link}{twice}")), ["C145"]);
    }

    #[test]
    fn art_28_4_a_processor_engaged_for_a_processor_activity_is_a_sub_processor_there() {
        let extra = "[[purpose]]\nid = \"hosting\"\nname = \"H\"\nrole = \"processor\"\ndpa = \"DPA\"\ncategories = [\"account\"]\nrecipients = [\"cloud\"]\n\
                     [[purpose]]\nid = \"billing\"\nname = \"B\"\nbasis = \"contract\"\ncategories = [\"account\"]\nrecipients = [\"cloud\"]\n\
                     [notice]\nnew_subprocessor = \"30 days\"\n\
                     [[recipient]]\nid = \"cloud\"\nname = \"Cloud\"\nlocations = [\"NL\"]\ndpa = true\n";
        assert_eq!(codes(extra), ["C150"]);
        let both = extra.replace(
            "name = \"Cloud\"",
            "name = \"Cloud\"\nkind = [\"processor\", \"sub_processor\"]",
        );
        let loaded = with_policy(&both);
        assert_eq!(
            loaded.policy.recipient("cloud").unwrap().kinds,
            [RecipientKind::Processor, RecipientKind::SubProcessor]
        );
        assert!(check(&loaded).is_empty());
    }

    fn cookie(fields: &str) -> String {
        format!(
            "[[purpose]]\nid = \"analytics\"\nname = \"A\"\nbasis = \"consent\"\nwithdraw = \"banner\"\ncategories = [\"account\"]\n\
             [[cookie]]\nid = \"k\"\nprovider = \"P\"\npurpose = \"measure\"\nlifetime = \"1 year\"\nparty = \"first\"\n{fields}"
        )
    }

    fn cookie_codes(country: &str, fields: &str) -> Vec<&'static str> {
        let text = format!("{BASE}{}", cookie(fields))
            .replace(
                "authority = \"nl-ap\"",
                &format!("authority = \"nl-ap\"\ncountry = \"{country}\""),
            )
            .replace("\"portability\"]", "\"portability\", \"withdraw_consent\"]");
        findings(&text).into_iter().map(|d| d.code).collect()
    }

    #[test]
    fn the_banner_gets_each_consent_purpose_with_the_cookies_it_covers() {
        let extra = format!(
            "{}[[cookie]]\nid = \"ads\"\ntype = \"marketing\"\nconsent_purpose = \"analytics\"\n\
             [[cookie]]\nid = \"stray\"\ntype = \"preferences\"\n\
             [[cookie]]\nid = \"cart\"\ntype = \"strictly_necessary\"\n",
            cookie("type = \"analytics\"\nconsent_purpose = \"analytics\"\n")
        );
        let loaded = with_policy(&extra);
        let groups: Vec<(Option<&str>, Vec<&str>)> = loaded
            .policy
            .cookie_consent_groups()
            .into_iter()
            .map(|(p, cs)| (p, cs.into_iter().map(|c| c.id.as_str()).collect()))
            .collect();
        assert_eq!(
            groups,
            [(Some("analytics"), vec!["k", "ads"]), (None, vec!["stray"])]
        );
    }

    #[test]
    fn eprivacy_5_3_only_strictly_necessary_cookies_go_without_consent() {
        assert_eq!(
            cookie_codes("NL", "type = \"strictly_necessary\"\n"),
            Vec::<&str>::new()
        );
        assert_eq!(
            cookie_codes("NL", "type = \"marketing\"\nconsent = false\n"),
            ["C146"]
        );
        assert_eq!(
            cookie_codes(
                "NL",
                "type = \"marketing\"\nconsent_purpose = \"analytics\"\n"
            ),
            Vec::<&str>::new()
        );
        // Default: what the law requires, so the banner asks.
        let loaded = with_policy(&cookie(
            "type = \"preferences\"\nconsent_purpose = \"analytics\"\n",
        ));
        assert!(loaded.policy.cookie("k").unwrap().consent_needed);
    }

    #[test]
    fn telecommunicatiewet_11_7a_minimal_impact_analytics_needs_no_consent_only_in_the_netherlands()
    {
        let fields = "type = \"analytics\"\nminimal_impact = true\nconsent = false\n";
        assert_eq!(cookie_codes("NL", fields), Vec::<&str>::new());
        assert_eq!(cookie_codes("BE", fields), ["C146"]);
        assert_eq!(
            cookie_codes("NL", "type = \"analytics\"\nconsent = false\n"),
            ["C146"]
        );
    }

    #[test]
    fn cjeu_c_673_17_planet49_legitimate_interest_or_an_opt_out_is_no_consent_for_tracking() {
        let li = "type = \"marketing\"\nbasis = \"legitimate_interest\"\nconsent_purpose = \"analytics\"\n";
        assert_eq!(cookie_codes("NL", li), ["C147"]);
        let opt_out =
            "type = \"analytics\"\nchoice = \"opt_out\"\nconsent_purpose = \"analytics\"\n";
        assert_eq!(cookie_codes("NL", opt_out), ["C147"]);
        // The statement and the banner say what the company does: no consent asked.
        let loaded = with_policy(&cookie(li));
        let k = loaded.policy.cookie("k").unwrap();
        assert!(k.consent_required_by_law && !k.consent_needed);
    }

    #[test]
    fn cjeu_c_673_17_planet49_the_user_is_told_each_cookies_lifetime_and_third_party_access() {
        let text = format!(
            "{BASE}[[cookie]]\nid = \"session\"\ntype = \"strictly_necessary\"\n[[cookie]]\nid = \"lang\"\ntype = \"strictly_necessary\"\n"
        );
        let f: Vec<_> = findings(&text)
            .into_iter()
            .filter(|d| d.code == "C148")
            .collect();
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.starts_with("2 cookies lack"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn art_7_1_a_cookie_that_needs_consent_maps_to_a_consent_purpose() {
        assert_eq!(cookie_codes("NL", "type = \"marketing\"\n"), ["C149"]);
        let wrong = "type = \"marketing\"\nconsent_purpose = \"service\"\n";
        assert_eq!(cookie_codes("NL", wrong), ["C149"]);
    }

    #[test]
    fn the_tmg_cited_after_1_december_2021_is_superseded() {
        let law = "[[law]]\nid = \"tmg\"\n";
        let text = |date: &str| {
            format!(
                "{}{law}",
                BASE.replace("id = \"t\"", &format!("id = \"t\"\nupdated = \"{date}\""))
            )
        };
        assert!(findings(&text("2021-06-01")).is_empty());
        let f = findings(&text("2022-01-01"));
        assert_eq!(f.iter().map(|d| d.code).collect::<Vec<_>>(), ["C151"]);
        assert!(f[0].message.contains("TTDSG"), "{}", f[0].message);
        let loaded = with_policy("[[law]]\nid = \"uavg\"\n");
        assert_eq!(loaded.policy.laws[0].country.as_deref(), Some("NL"));
    }

    #[test]
    fn uavg_art_42_the_financial_undertaking_exemption_is_dutch_and_reaches_the_resolved_policy() {
        let text = BASE.replace(
            "authority_within = \"72 hours\"",
            "authority_within = \"72 hours\"\nfinancial_undertaking = true",
        );
        let loaded = crate::load_source(SourceFile::new("t.toml", text.clone())).unwrap();
        assert!(loaded.policy.breach.financial_undertaking);
        assert_eq!(
            check(&loaded).iter().map(|d| d.code).collect::<Vec<_>>(),
            ["C152"]
        );
        let dutch = text.replace(
            "authority = \"nl-ap\"",
            "authority = \"nl-ap\"\ncountry = \"NL\"",
        );
        assert!(findings(&dutch).is_empty());
        assert!(!with_policy("").policy.breach.financial_undertaking);
    }

    #[test]
    fn art_9_1_special_categories_may_be_unnamed_or_several() {
        let extra = "[[category]]\nid = \"h\"\nname = \"H\"\nspecial = [\"health\", \"biometric\"]\nretention = { period = \"1 year\" }\n\
                     [[category]]\nid = \"u\"\nname = \"U\"\nspecial = \"unspecified\"\nretention = { period = \"1 year\" }\n\
                     [[purpose]]\nid = \"care\"\nname = \"C\"\nbasis = \"contract\"\nspecial_condition = \"health_or_social_care\"\ncategories = [\"h\", \"u\"]\n";
        let loaded = with_policy(extra);
        assert_eq!(
            loaded.policy.category("h").unwrap().specials,
            [m::SpecialKind::Health, m::SpecialKind::Biometric]
        );
        assert_eq!(
            loaded.policy.category("u").unwrap().special,
            Some(m::SpecialKind::Unspecified)
        );
        assert!(check(&loaded).is_empty());
        let no_condition = extra.replace("special_condition = \"health_or_social_care\"\n", "");
        assert_eq!(codes(&no_condition), ["C104"]);
    }
}
