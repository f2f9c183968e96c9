//! The proposal: from the facts in the record, should the authority be notified (Art. 33(1))
//! and the people affected be told (Art. 34(1))? Every step gives its reason with the article
//! or guideline it rests on. A person decides: the proposal is only a proposal, and the
//! [`Decision`] is recorded beside it.
//!
//! The risk is the highest of three separate assessments, one per kind of breach the record
//! names (EDPB Guidelines 9/2022 and WP250: confidentiality, integrity, availability):
//!
//! - **confidentiality**: none if the data was unintelligible with the key safe (Art. 34(3)(a));
//!   otherwise weighed by who got it (a trusted recipient who deleted it, mistaken recipients,
//!   an identified person acting against the controller, unknown third parties, the public),
//!   by the data (special categories, criminal data, credentials; national ids, financial
//!   data) and vulnerable people, and by volume;
//! - **availability**: none if restored within [`QUICK_RESTORE_HOURS`] (EDPB 01/2021 case 01),
//!   high if a longer or permanent loss hits special categories or vulnerable people (case 03),
//!   a risk otherwise;
//! - **integrity**: a risk; high with special categories or vulnerable people.
//!
//! The thresholds [`FEW_SUBJECTS`], [`MANY_SUBJECTS`] and [`MANY_RECIPIENTS`] are Custos's
//! reading of the EDPB's worked cases, not numbers from the law; they are constants here so
//! a reviewer finds them in one place.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::record::{
    AvailabilityLoss, Breach, Exfiltration, Kind, Recipient, Risk, Unintelligibility,
};
use crate::rules::{LegalRules, Threshold};

/// Up to this many people, an accidental disclosure of ordinary data to an identified recipient
/// is unlikely to result in a risk (EDPB Guidelines 01/2021, case 13: two parcels swapped).
pub const FEW_SUBJECTS: u64 = 10;
/// From this many people, readable ordinary data in unknown hands is a high risk (EDPB
/// Guidelines 01/2021, case 11: a notebook with 100,000 customers' data).
pub const MANY_SUBJECTS: u64 = 100;
/// From this many unintended recipients per person, a mistaken disclosure is a high risk
/// (EDPB Guidelines 01/2021, case 15: an e-mail with an open list of addresses).
pub const MANY_RECIPIENTS: u64 = 100;
/// Restored within this many hours, a loss of availability of ordinary data is unlikely to
/// result in a risk (EDPB Guidelines 01/2021, case 01: restored "a few hours after the attack").
pub const QUICK_RESTORE_HOURS: u32 = 24;

/// National settings that change the proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Settings {
    /// The controller is a financial undertaking under the Dutch Wft: UAVG art. 42 exempts it
    /// from Art. 34 GDPR (communication to the data subject).
    pub uavg_art42_financial_undertaking: bool,
}

/// One step of the reasoning, with the provision or guideline it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// What the step found.
    pub text: String,
    /// The article or guideline paragraph, e.g. `Art. 34(3)(a) GDPR`.
    pub cites: String,
}

fn reason(text: impl Into<String>, cites: impl Into<String>) -> Reason {
    Reason {
        text: text.into(),
        cites: cites.into(),
    }
}

/// What to do about the people affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SubjectsAction {
    /// Tell each person (Art. 34(1)).
    Communicate,
    /// Not required: no high risk (Art. 34(1)).
    NotRequired,
    /// Not required because an exemption applies; `exemption` names it, e.g. `Art. 34(3)(b)`
    /// or `UAVG art. 42`.
    Exempt {
        /// The provision.
        exemption: String,
    },
    /// Telling each person would be a disproportionate effort: a public communication or a
    /// similarly effective measure instead (Art. 34(3)(c)).
    PublicCommunication,
}

/// Custos's proposal for one breach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The rule set it applied.
    pub rules: String,
    /// The risk Custos derives from the facts.
    pub risk: Risk,
    /// Notify the authority.
    pub notify_authority: bool,
    /// What to do about the people affected.
    pub subjects: SubjectsAction,
    /// Every step, in order.
    pub reasons: Vec<Reason>,
    /// Questions whose answers would change or firm up the proposal.
    pub open_questions: Vec<String>,
}

impl Proposal {
    /// `true` when the people affected are to be told, individually or publicly.
    pub fn notify_subjects(&self) -> bool {
        matches!(
            self.subjects,
            SubjectsAction::Communicate | SubjectsAction::PublicCommunication
        )
    }
}

/// What a person decided, recorded beside the proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Notify the authority.
    pub notify_authority: bool,
    /// Tell the people affected.
    pub notify_subjects: bool,
    /// Why; required always, and especially when departing from the proposal.
    pub reasons: String,
    /// Who decided (an authorised person).
    pub by: String,
    /// When.
    pub at: Timestamp,
}

impl Decision {
    /// Checks the decision can be recorded: someone decided, with reasons, not before the
    /// breach was known. Departing from the proposal is allowed — a person decides — but then the
    /// reasons must say so (at least mention it), so the register explains itself (Art. 33(5)).
    pub fn check(&self, breach: &Breach, proposal: &Proposal) -> Result<(), Error> {
        let bad = |field: &str, reason: &str| Error::Decision {
            field: field.into(),
            reason: reason.into(),
        };
        if self.by.trim().is_empty() {
            return Err(bad("by", "name the person who decided"));
        }
        if self.reasons.trim().is_empty() {
            return Err(bad(
                "reasons",
                "give the reasons: the register must let the authority verify compliance (Art. 33(5))",
            ));
        }
        if self.at < breach.aware_at.value {
            return Err(bad("at", "lies before awareness of the breach"));
        }
        let departs = self.notify_authority != proposal.notify_authority
            || self.notify_subjects != proposal.notify_subjects();
        if departs && self.reasons.trim().len() < 20 {
            return Err(bad(
                "reasons",
                "the decision departs from Custos's proposal: explain why in a sentence or more",
            ));
        }
        Ok(())
    }
}

struct Facts {
    sensitive: Vec<&'static str>,
    significant: Vec<&'static str>,
    vulnerable: bool,
    subjects: Option<u64>,
}

impl Facts {
    fn of(b: &Breach) -> Facts {
        let d = b.data_types();
        let mut sensitive = Vec::new();
        if d.special_categories {
            sensitive.push("special categories of data (Art. 9)");
        }
        if d.criminal {
            sensitive.push("criminal data (Art. 10)");
        }
        if d.credentials {
            sensitive.push("credentials");
        }
        let mut significant = Vec::new();
        if d.national_id {
            significant.push("national identification numbers (Art. 87)");
        }
        if d.financial {
            significant.push("financial data");
        }
        Facts {
            sensitive,
            significant,
            vulnerable: b
                .subjects
                .as_ref()
                .is_some_and(|s| !s.value.vulnerable.is_empty()),
            subjects: b.subject_count.as_ref().and_then(|c| c.value.number()),
        }
    }

    fn sensitive_or_vulnerable(&self) -> bool {
        !self.sensitive.is_empty() || self.vulnerable
    }
}

const EDPB_9_2022: &str = "EDPB Guidelines 9/2022, section IV (assessing risk)";

fn confidentiality(
    b: &Breach,
    f: &Facts,
    reasons: &mut Vec<Reason>,
    open: &mut Vec<String>,
) -> Risk {
    let unintelligible = b.unintelligible.as_ref().map(|u| u.value);
    if unintelligible == Some(Unintelligibility::EncryptedKeySafe) {
        reasons.push(reason(
            "Confidentiality: the data was unintelligible to whoever got it (state-of-the-art \
             encryption, key not compromised), so the confidentiality risk is reduced to a minimum",
            "Art. 34(3)(a) GDPR; EDPB Guidelines 01/2021, case 01 ¶20 and case 10",
        ));
        return Risk::NoRisk;
    }
    if unintelligible.is_none() {
        open.push("Was the data encrypted, and is the key safe? (Art. 34(3)(a))".into());
    }
    let exfiltration = b.exfiltration.as_ref().map(|e| &e.value);
    let Some(recipient) = b.recipient.as_ref().map(|r| &r.value) else {
        open.push("Who could read the data: a trusted recipient, mistaken recipients, an identified person, unknown third parties, the public?".into());
        let risk = if f.sensitive_or_vulnerable() {
            Risk::HighRisk
        } else {
            Risk::Risk
        };
        reasons.push(reason(
            format!(
                "Confidentiality: readable data may have been disclosed to unknown recipients; \
                 until it is known who got it, Custos assumes {}",
                describe(risk)
            ),
            EDPB_9_2022,
        ));
        return risk;
    };
    let what = describe_data(f);
    match recipient {
        Recipient::Trusted {
            deletion_confirmed: true,
        } if f.sensitive.is_empty() && f.significant.is_empty() => {
            reasons.push(reason(
                "Confidentiality: a trusted recipient bound to confidentiality got ordinary data and \
                 confirmed deleting or returning it",
                "EDPB Guidelines 01/2021, case 09",
            ));
            Risk::NoRisk
        }
        Recipient::Trusted { .. } => {
            reasons.push(reason(
                format!("Confidentiality: a trusted recipient got {what}; deletion is not confirmed or the data is more than ordinary"),
                "EDPB Guidelines 01/2021, case 09",
            ));
            Risk::Risk
        }
        Recipient::Mistaken { per_subject } => {
            if !f.sensitive.is_empty() {
                reasons.push(reason(
                    format!("Confidentiality: {what} was sent to the wrong recipients by mistake"),
                    "EDPB Guidelines 01/2021, case 14",
                ));
                Risk::HighRisk
            } else if *per_subject >= MANY_RECIPIENTS {
                reasons.push(reason(
                    format!(
                        "Confidentiality: each person's data went to {per_subject} unintended \
                         recipients (at least {MANY_RECIPIENTS} counts as many)"
                    ),
                    "EDPB Guidelines 01/2021, case 15",
                ));
                Risk::HighRisk
            } else if !f.significant.is_empty() {
                reasons.push(reason(
                    format!("Confidentiality: {what} went to a wrong recipient by mistake"),
                    EDPB_9_2022,
                ));
                Risk::Risk
            } else if f.subjects.is_some_and(|n| n <= FEW_SUBJECTS) && !f.vulnerable {
                reasons.push(reason(
                    format!(
                        "Confidentiality: ordinary data of at most {FEW_SUBJECTS} people went to an \
                         identified recipient by mistake"
                    ),
                    "EDPB Guidelines 01/2021, case 13",
                ));
                Risk::NoRisk
            } else {
                if f.subjects.is_none() {
                    open.push("How many people are affected? (Art. 33(3)(a))".into());
                }
                reasons.push(reason(
                    "Confidentiality: ordinary data of more than a few people went to wrong recipients \
                     by mistake",
                    "EDPB Guidelines 01/2021, case 16",
                ));
                Risk::Risk
            }
        }
        Recipient::Identified => {
            let risk = if f.sensitive_or_vulnerable() || !f.significant.is_empty() {
                Risk::HighRisk
            } else {
                Risk::Risk
            };
            reasons.push(reason(
                format!(
                    "Confidentiality: an identified person acting against the controller has {what}; \
                     without assurance of their intentions the risk cannot be considered low"
                ),
                "EDPB Guidelines 01/2021, case 08",
            ));
            risk
        }
        Recipient::Unknown | Recipient::Public => {
            if matches!(exfiltration, Some(Exfiltration::No { .. }))
                && matches!(recipient, Recipient::Unknown)
            {
                let risk = if f.sensitive_or_vulnerable() {
                    Risk::HighRisk
                } else {
                    Risk::Risk
                };
                reasons.push(reason(
                    format!("Confidentiality: unknown third parties had access to {what}, but exfiltration is ruled out by evidence"),
                    EDPB_9_2022,
                ));
                return risk;
            }
            if exfiltration.is_none() {
                open.push("Did the data leave the organisation (exfiltration)?".into());
            }
            let whom = if matches!(recipient, Recipient::Public) {
                "was published"
            } else {
                "is readable in unknown hands"
            };
            if matches!(recipient, Recipient::Public)
                || f.sensitive_or_vulnerable()
                || !f.significant.is_empty()
            {
                reasons.push(reason(
                    format!("Confidentiality: {what} {whom}"),
                    "EDPB Guidelines 01/2021, cases 04 and 05; Recital 85 GDPR",
                ));
                Risk::HighRisk
            } else if f.subjects.is_none_or(|n| n >= MANY_SUBJECTS) {
                reasons.push(reason(
                    format!(
                        "Confidentiality: {what} of many people (at least {MANY_SUBJECTS}, or not \
                         counted) {whom}: exposure to fraud, phishing and unsolicited marketing"
                    ),
                    "EDPB Guidelines 01/2021, cases 05 and 11",
                ));
                Risk::HighRisk
            } else {
                reasons.push(reason(
                    format!("Confidentiality: {what} of a few people {whom}"),
                    EDPB_9_2022,
                ));
                Risk::Risk
            }
        }
    }
}

fn availability(b: &Breach, f: &Facts, reasons: &mut Vec<Reason>, open: &mut Vec<String>) -> Risk {
    match b.availability_loss.as_ref().map(|a| &a.value) {
        Some(AvailabilityLoss::Temporary {
            restored_within_hours,
        }) if *restored_within_hours <= QUICK_RESTORE_HOURS => {
            reasons.push(reason(
                format!(
                    "Availability: restored within {restored_within_hours} hours (at most \
                     {QUICK_RESTORE_HOURS}), without lasting effect"
                ),
                "EDPB Guidelines 01/2021, case 01 ¶22-25",
            ));
            Risk::NoRisk
        }
        Some(AvailabilityLoss::Temporary {
            restored_within_hours,
        }) => {
            if f.sensitive_or_vulnerable() {
                reasons.push(reason(
                    format!(
                        "Availability: unavailable for {restored_within_hours} hours, affecting \
                         special categories of data or vulnerable people (e.g. delayed care)"
                    ),
                    "EDPB Guidelines 01/2021, case 03",
                ));
                Risk::HighRisk
            } else {
                reasons.push(reason(
                    format!("Availability: unavailable for {restored_within_hours} hours"),
                    "EDPB Guidelines 01/2021, case 02",
                ));
                Risk::Risk
            }
        }
        Some(AvailabilityLoss::Permanent) => {
            let risk = if f.sensitive_or_vulnerable() {
                Risk::HighRisk
            } else {
                Risk::Risk
            };
            reasons.push(reason(
                "Availability: the data is lost for good (no usable backup)",
                "EDPB Guidelines 01/2021, cases 02 and 04",
            ));
            risk
        }
        None => {
            open.push(
                "Availability: was the data restored, and after how long, or is it lost for good?"
                    .into(),
            );
            reasons.push(reason(
                "Availability: not known whether or when the data was restored; Custos assumes a risk",
                EDPB_9_2022,
            ));
            Risk::Risk
        }
    }
}

fn integrity(f: &Facts, reasons: &mut Vec<Reason>) -> Risk {
    let risk = if f.sensitive_or_vulnerable() {
        Risk::HighRisk
    } else {
        Risk::Risk
    };
    reasons.push(reason(
        "Integrity: personal data was altered; decisions taken on altered data can harm people",
        EDPB_9_2022,
    ));
    risk
}

fn describe(risk: Risk) -> &'static str {
    match risk {
        Risk::NoRisk => "no risk",
        Risk::Risk => "a risk",
        Risk::HighRisk => "a high risk",
    }
}

fn describe_data(f: &Facts) -> String {
    let mut kinds: Vec<&str> = f.sensitive.iter().chain(&f.significant).copied().collect();
    if f.vulnerable {
        kinds.push("data of vulnerable people");
    }
    if kinds.is_empty() {
        "ordinary personal data".into()
    } else {
        kinds.join(", ")
    }
}

/// Proposes, from the record, whether to notify the authority (Art. 33(1): unless the breach is
/// unlikely to result in a risk; the threshold and citation come from `rules`) and whether to
/// tell the people affected (Art. 34(1): a high risk; not if an exemption of Art. 34(3) or the
/// Dutch UAVG art. 42 applies). Every reason cites its article or guideline. A person decides:
/// record their [`Decision`] beside it.
pub fn propose(b: &Breach, rules: &LegalRules, settings: &Settings) -> Proposal {
    let facts = Facts::of(b);
    let mut reasons = Vec::new();
    let mut open = Vec::new();
    let mut risk = Risk::NoRisk;
    if b.is(Kind::Confidentiality) {
        risk = risk.max(confidentiality(b, &facts, &mut reasons, &mut open));
    }
    if b.is(Kind::Availability) {
        risk = risk.max(availability(b, &facts, &mut reasons, &mut open));
    }
    if b.is(Kind::Integrity) {
        risk = risk.max(integrity(&facts, &mut reasons));
    }
    reasons.push(reason(
        format!(
            "Overall: {} to the rights and freedoms of natural persons",
            describe(risk)
        ),
        "Arts 33(1) and 34(1) GDPR; Recitals 75, 76 and 85",
    ));
    if let Some(recorded) = &b.risk
        && recorded.value.outcome != risk
    {
        reasons.push(reason(
            format!(
                "The recorded assessment says {}; the facts recorded suggest {}: check one or the other",
                describe(recorded.value.outcome),
                describe(risk)
            ),
            "Art. 33(5) GDPR",
        ));
    }

    let notify_authority = match rules.authority_threshold {
        Threshold::Risk => risk >= Risk::Risk,
        Threshold::HighRisk => risk >= Risk::HighRisk,
    };
    reasons.push(reason(
        if notify_authority {
            format!(
                "Authority: notify within {} hours of awareness{}",
                rules.notify_authority_hours,
                if rules.single_entry_point {
                    ", through the single EU entry point"
                } else {
                    ""
                }
            )
        } else {
            "Authority: no notification needed; document the breach in the register".into()
        },
        if notify_authority {
            rules.citation.clone()
        } else {
            format!("{}; Art. 33(5) GDPR", rules.citation)
        },
    ));

    let subjects = if risk < Risk::HighRisk {
        reasons.push(reason(
            "Subjects: no high risk, so no communication is required (telling them may still be good practice)",
            "Art. 34(1) GDPR",
        ));
        SubjectsAction::NotRequired
    } else if settings.uavg_art42_financial_undertaking {
        reasons.push(reason(
            "Subjects: Art. 34 GDPR does not apply to a financial undertaking under the Wft; its duty \
             of care towards customers may still call for telling them",
            "UAVG art. 42",
        ));
        SubjectsAction::Exempt {
            exemption: "UAVG art. 42".into(),
        }
    } else if let Some(measures) = &b.high_risk_neutralised {
        reasons.push(reason(
            format!(
                "Subjects: subsequent measures ensure the high risk is no longer likely to materialise: {}",
                measures.value
            ),
            "Art. 34(3)(b) GDPR",
        ));
        SubjectsAction::Exempt {
            exemption: "Art. 34(3)(b)".into(),
        }
    } else if let Some(effort) = &b.disproportionate_effort {
        reasons.push(reason(
            format!(
                "Subjects: telling each person would involve disproportionate effort ({}); make a \
                 public communication or a similarly effective measure instead",
                effort.value
            ),
            "Art. 34(3)(c) GDPR",
        ));
        SubjectsAction::PublicCommunication
    } else {
        reasons.push(reason(
            "Subjects: a high risk: tell the people affected without undue delay, in clear and plain language",
            "Art. 34(1) and (2) GDPR",
        ));
        SubjectsAction::Communicate
    };

    Proposal {
        rules: rules.id.clone(),
        risk,
        notify_authority,
        subjects,
        reasons,
        open_questions: open,
    }
}

#[cfg(test)]
mod tests;
