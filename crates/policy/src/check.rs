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
}

/// Checks a loaded policy against every rule, in the order of the file.
pub fn check(loaded: &Loaded) -> Vec<Diagnostic> {
    let mut c = Checker {
        file: &loaded.file,
        policy: &loaded.policy,
        out: Vec::new(),
    };
    c.controller();
    c.purposes();
    c.categories();
    c.recipients();
    c.rights();
    c.breach();
    c.notice();
    c.events();
    c.translations();
    let mut out = c.out;
    out.sort_by_key(|d| (d.span.as_ref().map_or(usize::MAX, |s| s.start), d.code));
    out
}

struct Checker<'a> {
    file: &'a m::PolicyFile,
    policy: &'a Policy,
    out: Vec<Diagnostic>,
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
            match purpose.basis {
                None => self.push(
                    &LEGAL_BASIS,
                    format!("purpose `{id}` has no legal basis"),
                    at.clone(),
                    "add `basis = \"contract\"` (or consent, legal_obligation, vital_interests, public_task, legitimate_interest)",
                ),
                Some(Basis::LegitimateInterest) if !present(&purpose.legitimate_interest) => self.push(
                    &LEGITIMATE_INTEREST,
                    format!("purpose `{id}` relies on legitimate interest but does not say which interest"),
                    r.basis.as_ref().and_then(span_of),
                    "add `legitimate_interest = \"…\"`: the interest pursued, by you or a third party",
                ),
                Some(Basis::LegalObligation) if !present(&purpose.legal_obligation) => self.push(
                    &LEGAL_OBLIGATION,
                    format!("purpose `{id}` relies on a legal obligation but does not cite the law"),
                    r.basis.as_ref().and_then(span_of),
                    "add `legal_obligation = \"…\"`, e.g. \"art. 52 AWR (7-year fiscal retention)\"",
                ),
                _ => {}
            }
            let consent_based = purpose.basis == Some(Basis::Consent)
                || purpose.special_condition == Some(SpecialCondition::ExplicitConsent);
            if consent_based && !present(&purpose.withdraw) {
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
            if purpose.direct_marketing && !present(&purpose.withdraw) {
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
            if !special.is_empty() {
                match purpose.special_condition {
                    None => self.push(
                        &SPECIAL_CONDITION,
                        format!("purpose `{id}` uses special categories ({}) without an Art. 9(2) condition", special.join(", ")),
                        at.clone(),
                        "add `special_condition = \"explicit_consent\"` (or another Art. 9(2) condition)",
                    ),
                    Some(_) if purpose.basis == Some(Basis::Consent) && purpose.special_condition != Some(SpecialCondition::ExplicitConsent) => {
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
            if criminal && !present(&purpose.criminal_authorisation) {
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
                if ad.kind != AutomatedKind::None && !missing.is_empty() {
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
                if !has(cat) && !covered_by_children {
                    self.push(
                        &RETENTION,
                        format!("category `{id}` has no retention period or criteria"),
                        at.clone(),
                        "add `retention = { period = \"…\" }`, `until = [\"event\"]`, or `criteria = \"…\"` when no period can be given",
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
            if outside_source && !present(&cat.source.description) && r.source.is_some() {
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
                self.push(
                    &CATEGORY_PURPOSE,
                    format!("category `{id}` is not used by any purpose"),
                    at.clone(),
                    "list it in the `categories` of the purposes that use it, or remove it",
                );
            }
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
                self.push(
                    &RECIPIENT_LOCATION,
                    format!("recipient `{id}` has no location"),
                    at.clone(),
                    "add `locations = [\"NL\"]` (ISO country codes, or \"EU\"/\"EEA\")",
                );
            }
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
            let scc_to_unsafe = rec.transfer.contains(&m::Mechanism::Scc)
                && rec
                    .locations
                    .iter()
                    .any(|l| matches!(law::zone(l), Some(Zone::ThirdCountry)))
                && rec.tia != Some(true);
            let scc_us_without_dpf = rec.transfer.contains(&m::Mechanism::Scc)
                && has_us
                && !rec.transfer.contains(&m::Mechanism::Dpf)
                && rec.tia != Some(true);
            if scc_to_unsafe || scc_us_without_dpf {
                self.push(
                    &SCC_TIA,
                    format!("recipient `{id}` receives data on SCCs in a country without adequacy and no transfer impact assessment is recorded"),
                    at.clone(),
                    "assess the law of the destination (Schrems II) and set `tia = true`, with supplementary measures in `safeguards`",
                );
            }
            if matches!(
                rec.kind,
                RecipientKind::Processor | RecipientKind::SubProcessor
            ) {
                match rec.dpa {
                    Some(false) => self.push(
                        &RECIPIENT_DPA,
                        format!("recipient `{id}` processes on our behalf without a data processing agreement"),
                        at.clone(),
                        "sign a DPA with the Art. 28(3) clauses before sharing data",
                    ),
                    None => self.push(
                        &RECIPIENT_DPA_UNSTATED,
                        format!("the policy does not record whether recipient `{id}` has signed a data processing agreement"),
                        at.clone(),
                        "add `dpa = true` once the Art. 28(3) agreement is signed",
                    ),
                    Some(true) => {}
                }
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
        if !missing.is_empty() {
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
        if p.rights.complaint.is_empty() {
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
            self.push(
                &TRANSLATION,
                format!("`{path}` has no {} text", lang_name(lang)),
                None,
                &format!("add `{} = \"…\"` to that text", lang.code()),
            );
        }
    }
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

    fn recipient(locations: &str, transfer: &str) -> Vec<&'static str> {
        codes(&format!(
            "[[recipient]]\nid = \"r\"\nname = \"R\"\nlocations = {locations}\ntransfer = {transfer}\ndpa = true\ntia = true\ncategories = [\"account\"]\n"
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
        let c = codes(
            "[[recipient]]\nid = \"r\"\nname = \"R\"\nlocations = [\"IN\"]\ntransfer = [\"scc\"]\ndpa = true\ncategories = [\"account\"]\n",
        );
        assert_eq!(c, ["C131"]);
    }

    #[test]
    fn art_28_processors_need_a_dpa() {
        let no = codes(
            "[[recipient]]\nid = \"r\"\nname = \"R\"\nlocations = [\"NL\"]\ndpa = false\ncategories = [\"account\"]\n",
        );
        assert_eq!(no, ["C118"]);
        let unknown = codes(
            "[[recipient]]\nid = \"r\"\nname = \"R\"\nlocations = [\"NL\"]\ncategories = [\"account\"]\n",
        );
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
}
