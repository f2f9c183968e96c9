//! "May we do this, now, and why?" Given a purpose, a category and what is known about the
//! subject, the answer is allow or deny with every reason, each naming its rule and article.

use std::borrow::Cow;

use custos_policy::Policy;
use custos_policy::model::{Basis, SpecialCondition};
use jiff::Timestamp;
use serde::Serialize;

use crate::ledger::ConsentState;

/// What the caller knows about this processing.
#[derive(Debug, Clone)]
pub struct DecisionInput<'a> {
    /// The purpose the app wants to process for.
    pub purpose: &'a str,
    /// The category of data.
    pub category: &'a str,
    /// Now.
    pub now: Timestamp,
    /// The subject's consent for this purpose.
    pub consent: &'a ConsentState,
    /// The subject's processing is restricted (Art. 18).
    pub restricted: bool,
    /// The subject objected to this purpose (Art. 21), or to direct marketing.
    pub objected: bool,
    /// The subject's address is on the marketing suppression list.
    pub suppressed: bool,
    /// The subject sent a Global Privacy Control signal.
    pub gpc: bool,
    /// When the record expires under the retention rules, if known.
    pub expires: Option<Timestamp>,
    /// The action about to be taken (e.g. `draft.send`), for approval gates.
    pub action: Option<&'a str>,
    /// Whether a valid, unused approval token was presented for that action.
    pub approved: bool,
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Supports processing.
    Allow,
    /// Forbids processing.
    Deny,
}

/// One reason, naming its rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// Stable rule name, e.g. `consent.withdrawn`.
    pub rule: &'static str,
    /// Its effect.
    pub effect: Effect,
    /// The article it applies.
    pub article: &'static str,
    /// In one sentence. Borrowed when the sentence is fixed: a decision runs on every
    /// processing call, and most of its reasons need no allocation.
    pub detail: Cow<'static, str>,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Whether processing may go ahead.
    pub allowed: bool,
    /// Every reason, denials first.
    pub reasons: Vec<Reason>,
}

impl Decision {
    /// The rules that denied, for metrics and messages.
    pub fn denied_by(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.reasons
            .iter()
            .filter(|r| r.effect == Effect::Deny)
            .map(|r| r.rule)
    }
}

fn reason(
    rule: &'static str,
    effect: Effect,
    article: &'static str,
    detail: impl Into<Cow<'static, str>>,
) -> Reason {
    Reason {
        rule,
        effect,
        article,
        detail: detail.into(),
    }
}

// Details with a name in them are joined with `concat` rather than `format!`: one allocation
// of the exact size, no formatting machinery, on a path that runs for every processing call.

/// "legal basis Art. 6(1)(b)": a fixed sentence for each point of Art. 6(1), built once at
/// compile time from the same text it would be formatted from.
fn basis_detail(article: &'static str) -> Cow<'static, str> {
    macro_rules! fixed {
        ($($a:literal),*) => {
            match article {
                $($a => Cow::Borrowed(concat!("legal basis Art. ", $a)),)*
                other => Cow::Owned(format!("legal basis Art. {other}")),
            }
        };
    }
    fixed!(
        "6(1)(a)", "6(1)(b)", "6(1)(c)", "6(1)(d)", "6(1)(e)", "6(1)(f)"
    )
}

/// Decides whether `input` may be processed under `policy`.
pub fn decide(policy: &Policy, input: &DecisionInput<'_>) -> Decision {
    use Effect::{Allow, Deny};
    let mut rs = Vec::new();
    let Some(p) = policy.purpose(input.purpose) else {
        rs.push(reason(
            "purpose.undefined",
            Deny,
            "Art. 5(1)(b) GDPR",
            [
                "purpose ",
                &custos_policy::diag::shown(input.purpose),
                " is not in the policy",
            ]
            .concat(),
        ));
        return Decision {
            allowed: false,
            reasons: rs,
        };
    };
    match policy.category(input.category) {
        None => rs.push(reason(
            "category.undefined",
            Deny,
            "Art. 5(1)(b) GDPR",
            [
                "category ",
                &custos_policy::diag::shown(input.category),
                " is not in the policy",
            ]
            .concat(),
        )),
        Some(c) if !p.uses(c) => rs.push(reason(
            "category.not_for_purpose",
            Deny,
            "Art. 5(1)(b) GDPR",
            [
                "purpose `",
                &p.id,
                "` does not use category `",
                input.category,
                "`",
            ]
            .concat(),
        )),
        Some(_) => {}
    }
    // Fail closed: with several bases, one of them consent, the call cannot tell which applies
    // to this subject, so consent is required (Art. 6(1)(a); the statement says when which).
    let consent_based = p.bases.contains(&Basis::Consent)
        || p.special_condition == Some(SpecialCondition::ExplicitConsent)
        || p.choice == custos_policy::model::Choice::OptIn;
    // At most one reason allows (the basis, or the consent that stands in for it); it goes
    // after the denials.
    let mut allow = None;
    match p.basis_article {
        None => rs.push(reason(
            "basis.missing",
            Deny,
            "Art. 6(1) GDPR",
            ["purpose `", &p.id, "` has no legal basis in the policy"].concat(),
        )),
        Some(a) if !consent_based => {
            allow = Some(reason("basis", Allow, "Art. 6(1) GDPR", basis_detail(a)));
        }
        Some(_) => {}
    }
    if consent_based {
        match input.consent {
            ConsentState::Granted { notice_version, .. } => {
                allow = Some(reason(
                    "consent.given",
                    Allow,
                    "Art. 6(1)(a), 7 GDPR",
                    ["consent given under notice ", notice_version].concat(),
                ));
            }
            ConsentState::Withdrawn { .. } => rs.push(reason(
                "consent.withdrawn",
                Deny,
                "Art. 7(3) GDPR",
                "consent was withdrawn",
            )),
            ConsentState::Never => rs.push(reason(
                "consent.absent",
                Deny,
                "Art. 6(1)(a) GDPR",
                "no consent has been given for this purpose",
            )),
        }
    }
    if input.restricted {
        rs.push(reason(
            "restriction",
            Deny,
            "Art. 18(2) GDPR",
            "processing of this subject's data is restricted",
        ));
    }
    if input.objected {
        if p.direct_marketing {
            rs.push(reason(
                "objection.direct_marketing",
                Deny,
                "Art. 21(3) GDPR",
                "the subject objected to direct marketing",
            ));
        } else if p
            .bases
            .iter()
            .any(|b| matches!(b, Basis::LegitimateInterest | Basis::PublicTask))
        {
            rs.push(reason(
                "objection",
                Deny,
                "Art. 21(1) GDPR",
                "the subject objected to this processing",
            ));
        }
    }
    if p.direct_marketing && input.suppressed {
        rs.push(reason(
            "suppression",
            Deny,
            "Art. 21(3) GDPR",
            "the address is on the marketing suppression list",
        ));
    }
    if p.direct_marketing && input.gpc {
        rs.push(reason(
            "gpc",
            Deny,
            "Art. 21(5) GDPR",
            "the subject sent a Global Privacy Control signal",
        ));
    }
    if let Some(exp) = input.expires
        && exp <= input.now
    {
        rs.push(reason(
            "retention.expired",
            Deny,
            "Art. 5(1)(e) GDPR",
            format!("the record expired at {exp}"),
        ));
    }
    // The gate holds wherever the action is asked about: an action that one purpose gates
    // needs its approval under any purpose the app names.
    // (A scan, not `Policy::approval_actions`: no list is built per decision.)
    if !input.approved
        && let Some(action) = input.action.filter(|a| {
            policy
                .purposes
                .iter()
                .any(|q| q.approval.as_ref().is_some_and(|g| g.action == *a))
        })
    {
        rs.push(reason(
            "approval.required",
            Deny,
            "PRODUCT.md C7",
            ["`", action, "` needs a person's approval first"].concat(),
        ));
    }
    let allowed = rs.is_empty();
    rs.extend(allow);
    Decision {
        allowed,
        reasons: rs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_policy::{SourceFile, load_source};

    const POLICY: &str = r#"
[policy]
[[category]]
id = "mail"
name = "Mail"
[[category]]
id = "mail.metadata"
name = "Metadata"
[[category]]
id = "style"
name = "Style"
[[category]]
id = "contact"
name = "Contact"
[[purpose]]
id = "assistant"
name = "Assistant"
basis = "contract"
categories = ["mail"]
approval = { action = "draft.send", approver = "a person" }
[[purpose]]
id = "style_learning"
name = "Style"
basis = "consent"
withdraw = "settings"
categories = ["style"]
[[purpose]]
id = "profile"
name = "Profile"
basis = ["contract", "consent"]
basis_note = "contract for customers, consent for visitors"
withdraw = "settings"
categories = ["contact"]
[[purpose]]
id = "newsletter"
name = "News"
basis = "legitimate_interest"
legitimate_interest = "existing customers"
direct_marketing = true
withdraw = "unsubscribe link"
categories = ["contact"]
"#;

    fn pol() -> Policy {
        load_source(SourceFile::new("p.toml", POLICY))
            .unwrap()
            .policy
    }

    fn input<'a>(
        purpose: &'a str,
        category: &'a str,
        consent: &'a ConsentState,
    ) -> DecisionInput<'a> {
        DecisionInput {
            purpose,
            category,
            now: "2026-06-01T00:00:00Z".parse().unwrap(),
            consent,
            restricted: false,
            objected: false,
            suppressed: false,
            gpc: false,
            expires: None,
            action: None,
            approved: false,
        }
    }

    /// The fixed sentences are the ones formatting would give, for every basis of Art. 6(1).
    #[test]
    fn every_basis_has_its_sentence_without_allocating() {
        use custos_policy::law::basis_article;
        for b in [
            Basis::Consent,
            Basis::Contract,
            Basis::LegalObligation,
            Basis::VitalInterests,
            Basis::PublicTask,
            Basis::LegitimateInterest,
        ] {
            let a = basis_article(b);
            let d = basis_detail(a);
            assert!(matches!(d, Cow::Borrowed(_)), "{b:?}");
            assert_eq!(d, format!("legal basis Art. {a}"));
        }
    }

    #[test]
    fn a_contract_purpose_on_its_own_category_is_allowed_with_its_basis() {
        let d = decide(
            &pol(),
            &input("assistant", "mail.metadata", &ConsentState::Never),
        );
        assert!(d.allowed, "{d:?}");
        assert_eq!(d.reasons[0].detail, "legal basis Art. 6(1)(b)");
    }

    /// Fail closed: a purpose on contract or consent cannot tell from the call which applies to
    /// this subject, so it needs consent (Art. 6(1)(a)); with consent it is allowed.
    #[test]
    fn a_purpose_with_consent_among_several_bases_needs_consent() {
        let p = pol();
        let d = decide(&p, &input("profile", "contact", &ConsentState::Never));
        assert!(!d.allowed, "{d:?}");
        assert_eq!(d.denied_by().collect::<Vec<_>>(), ["consent.absent"]);
        let granted = ConsentState::Granted {
            at: "2026-05-01T00:00:00Z".parse().unwrap(),
            notice_version: "1".into(),
        };
        assert!(decide(&p, &input("profile", "contact", &granted)).allowed);
    }

    #[test]
    fn a_category_the_purpose_does_not_use_is_denied() {
        let d = decide(&pol(), &input("assistant", "contact", &ConsentState::Never));
        assert_eq!(
            d.denied_by().collect::<Vec<_>>(),
            ["category.not_for_purpose"]
        );
    }

    #[test]
    fn consent_purposes_follow_the_ledger() {
        let p = pol();
        assert_eq!(
            decide(&p, &input("style_learning", "style", &ConsentState::Never))
                .denied_by()
                .collect::<Vec<_>>(),
            ["consent.absent"]
        );
        let granted = ConsentState::Granted {
            at: "2026-01-01T00:00:00Z".parse().unwrap(),
            notice_version: "2".into(),
        };
        assert!(decide(&p, &input("style_learning", "style", &granted)).allowed);
        let withdrawn = ConsentState::Withdrawn {
            at: "2026-02-01T00:00:00Z".parse().unwrap(),
        };
        assert_eq!(
            decide(&p, &input("style_learning", "style", &withdrawn))
                .denied_by()
                .collect::<Vec<_>>(),
            ["consent.withdrawn"]
        );
    }

    #[test]
    fn marketing_stops_at_objection_suppression_and_gpc_each_named() {
        let p = pol();
        let never = ConsentState::Never;
        assert!(decide(&p, &input("newsletter", "contact", &never)).allowed);
        let mut i = input("newsletter", "contact", &never);
        i.objected = true;
        i.suppressed = true;
        i.gpc = true;
        let d = decide(&p, &i);
        assert!(!d.allowed);
        assert_eq!(
            d.denied_by().collect::<Vec<_>>(),
            ["objection.direct_marketing", "suppression", "gpc"]
        );
    }

    #[test]
    fn restriction_expiry_and_missing_approval_deny() {
        let p = pol();
        let never = ConsentState::Never;
        let mut i = input("assistant", "mail", &never);
        i.restricted = true;
        i.expires = Some("2026-05-01T00:00:00Z".parse().unwrap());
        i.action = Some("draft.send");
        assert_eq!(
            decide(&p, &i).denied_by().collect::<Vec<_>>(),
            ["restriction", "retention.expired", "approval.required"]
        );
        let mut ok = input("assistant", "mail", &never);
        ok.action = Some("draft.send");
        ok.approved = true;
        assert!(decide(&p, &ok).allowed);
    }

    #[test]
    fn an_unknown_purpose_is_denied() {
        assert_eq!(
            decide(&pol(), &input("ads", "mail", &ConsentState::Never))
                .denied_by()
                .collect::<Vec<_>>(),
            ["purpose.undefined"]
        );
    }
}
