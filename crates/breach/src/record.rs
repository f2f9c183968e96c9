//! The breach record: one entry of the register every controller keeps (Art. 33(5) GDPR),
//! shaped after the EDPB's common breach-notification template (the draft the EDPB adopted in
//! 2026) so that the same record fills the authority's form, the letter to the people
//! affected and, when Custos's operator acts as processor, the notice to each controller.
//!
//! A record is filled in over time (Art. 33(4): information may be provided in phases): every
//! question is optional except the few a breach cannot be registered without (its id, whether it
//! is new or a follow-up, the awareness time and the kind of breach). Each answer says who gave
//! it: a person (with who) or Custos (with how it derived it), see [`Answer`].

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::error::Invalid;

/// A breach's identifier in the register: 1–64 characters from `A–Z a–z 0–9 _ - .`.
/// It is the controller's own reference in the authority's form; not personal data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BreachId(String);

impl BreachId {
    /// Validates a breach id.
    pub fn new(id: impl Into<String>) -> Result<BreachId, Invalid> {
        let id = id.into();
        if id.is_empty() || id.len() > 64 {
            return Err(Invalid::new("/id", "must be 1 to 64 characters"));
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(Invalid::new(
                "/id",
                "may only contain A-Z, a-z, 0-9, `_`, `-` and `.`",
            ));
        }
        Ok(BreachId(id))
    }

    /// The id of a record the register has not taken in yet (what a record without an `id`
    /// reads as); the register gives it its own when it records it.
    pub fn unassigned() -> BreachId {
        BreachId("unassigned".to_owned())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BreachId {
    type Error = Invalid;
    fn try_from(id: String) -> Result<BreachId, Invalid> {
        BreachId::new(id)
    }
}

impl From<BreachId> for String {
    fn from(id: BreachId) -> String {
        id.0
    }
}

impl std::fmt::Display for BreachId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who gave an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// Recorded by a person, e.g. the privacy officer; `actor` names them (an account name, not
    /// necessarily their legal name).
    Person {
        /// Who recorded it.
        actor: String,
    },
    /// Derived by Custos, e.g. the subject count found in the vault; `how` says from what.
    Custos {
        /// How Custos derived it.
        how: String,
    },
}

/// An answer to one question of the record, with who gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer<T> {
    /// The answer.
    pub value: T,
    /// Who gave it.
    pub source: Source,
}

impl<T> Answer<T> {
    /// An answer recorded by the person `actor`.
    pub fn person(value: T, actor: impl Into<String>) -> Answer<T> {
        Answer {
            value,
            source: Source::Person {
                actor: actor.into(),
            },
        }
    }

    /// An answer Custos derived; `how` says from what.
    pub fn custos(value: T, how: impl Into<String>) -> Answer<T> {
        Answer {
            value,
            source: Source::Custos { how: how.into() },
        }
    }
}

/// Whether this is the first notification of a breach or a further phase (Art. 33(4)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notification {
    /// The first notification.
    New,
    /// A follow-up to an earlier notification; `follows` is the breach it completes. It is an
    /// `Option` only so that a follow-up without it can be stored as a draft and refused with a
    /// clear reason by [`Breach::validate`].
    FollowUp {
        /// The breach this follows.
        follows: Option<BreachId>,
    },
}

/// When the breach happened, as far as known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Occurrence {
    /// On one day (UTC).
    Day {
        /// The day.
        date: Date,
    },
    /// Between two moments.
    Range {
        /// Start.
        from: Timestamp,
        /// End.
        to: Timestamp,
    },
    /// Began at `since` and has not ended.
    OngoingSince {
        /// Start.
        since: Timestamp,
    },
    /// Not known (yet).
    Unknown,
}

impl Occurrence {
    /// The earliest moment the breach can have begun, if known.
    pub fn start(&self) -> Option<Timestamp> {
        match self {
            Occurrence::Day { date } => date
                .to_zoned(jiff::tz::TimeZone::UTC)
                .ok()
                .map(|z| z.timestamp()),
            Occurrence::Range { from, .. } => Some(*from),
            Occurrence::OngoingSince { since } => Some(*since),
            Occurrence::Unknown => None,
        }
    }
}

/// The three kinds of breach of the EDPB (Guidelines 9/2022, after the security principles);
/// one breach can be of several kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Unauthorised or accidental disclosure of, or access to, personal data.
    Confidentiality,
    /// Unauthorised or accidental alteration of personal data.
    Integrity,
    /// Accidental or unauthorised loss of access to, or destruction of, personal data.
    Availability,
}

/// Whether the data left the controller's control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Exfiltration {
    /// Established.
    Yes,
    /// Likely, not established.
    Likely,
    /// Ruled out; `evidence` says what shows it (logs, forensic report).
    No {
        /// What shows it.
        evidence: String,
    },
    /// Cannot be assessed (e.g. logs missing).
    NotAssessable,
}

/// Whether the data was unintelligible to whoever got it (Art. 34(3)(a)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unintelligibility {
    /// Encrypted (or hashed with a salt) with a state-of-the-art algorithm, and the key was not
    /// compromised.
    EncryptedKeySafe,
    /// Encrypted, but the key was compromised as well.
    EncryptedKeyCompromised,
    /// Readable.
    NotEncrypted,
}

/// Who could read the data, when confidentiality was breached. The EDPB weighs the recipient
/// heavily: a trusted recipient who deleted the data differs from an unknown attacker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recipient {
    /// A recipient bound to confidentiality (e.g. a professional under secrecy, a regular
    /// business partner); `deletion_confirmed` when they confirmed deleting or returning it.
    Trusted {
        /// Deletion or return confirmed.
        deletion_confirmed: bool,
    },
    /// Identified, unintended recipients without malicious intent (a letter or e-mail to the
    /// wrong address). `per_subject`: how many such recipients saw each person's data (1 for a
    /// letter in the wrong envelope; everyone on the list for an open `cc`).
    Mistaken {
        /// Recipients per data subject.
        per_subject: u64,
    },
    /// An identified person acting against the controller's interest (e.g. a former employee
    /// who copied the customer list).
    Identified,
    /// Unknown third parties (an attacker, a thief).
    Unknown,
    /// Published (on the internet, a leak site).
    Public,
}

/// How long the data was unavailable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AvailabilityLoss {
    /// Restored (e.g. from a backup) after `restored_within_hours`.
    Temporary {
        /// Hours until restored.
        restored_within_hours: u32,
    },
    /// Lost for good.
    Permanent,
}

/// People who need more protection, which raises the risk (EDPB Guidelines 9/2022; Recital 75:
/// "vulnerable natural persons, in particular of children").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vulnerable {
    /// Children.
    Children,
    /// Patients.
    Patients,
    /// Other vulnerable people (e.g. asylum seekers, people in debt counselling).
    Other,
}

/// Who is affected.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Subjects {
    /// Categories of data subjects, e.g. `customers`, `employees`, `job applicants`.
    pub categories: Vec<String>,
    /// Vulnerable groups among them.
    #[serde(default)]
    pub vulnerable: Vec<Vulnerable>,
}

/// Which data is affected.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DataTypes {
    /// Special categories of personal data (Art. 9): health, religion, sexual orientation, …
    #[serde(default)]
    pub special_categories: bool,
    /// Personal data relating to criminal convictions and offences (Art. 10).
    #[serde(default)]
    pub criminal: bool,
    /// National identification numbers, such as the Dutch BSN (Art. 87; UAVG art. 46).
    #[serde(default)]
    pub national_id: bool,
    /// Financial data: bank account numbers, card numbers, income, debts.
    #[serde(default)]
    pub financial: bool,
    /// Credentials: passwords, tokens, security questions.
    #[serde(default)]
    pub credentials: bool,
    /// The policy's category ids concerned, e.g. `contact`, `order`.
    #[serde(default)]
    pub categories: Vec<String>,
}

/// A number of subjects or records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Count {
    /// Counted.
    Exact {
        /// The number.
        n: u64,
    },
    /// Estimated (Art. 33(3)(a) asks for "approximate number").
    Approximate {
        /// The estimate.
        n: u64,
    },
    /// Not known (yet).
    Unknown,
}

impl Count {
    /// The number, exact or estimated; `None` when unknown.
    pub fn number(&self) -> Option<u64> {
        match self {
            Count::Exact { n } | Count::Approximate { n } => Some(*n),
            Count::Unknown => None,
        }
    }
}

/// The risk to the rights and freedoms of natural persons (Arts 33(1) and 34(1)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// Unlikely to result in a risk (Art. 33(1), last words): documented only (Art. 33(5)).
    NoRisk,
    /// Likely to result in a risk: notify the authority (Art. 33(1)).
    Risk,
    /// Likely to result in a high risk: also communicate to the subjects (Art. 34(1)).
    HighRisk,
}

/// A person's assessment of the risk, with the reasoning the register must keep (Art. 33(5)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskAssessment {
    /// The outcome.
    pub outcome: Risk,
    /// Why.
    pub reasoning: String,
}

/// Who was told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Party {
    /// A supervisory authority, e.g. `Autoriteit Persoonsgegevens`.
    Authority {
        /// Its name.
        name: String,
    },
    /// The data subjects (Art. 34).
    Subjects,
    /// A public communication instead (Art. 34(3)(c)).
    Public,
    /// A controller, when acting as processor (Art. 33(2)).
    Controller {
        /// Its name.
        name: String,
    },
}

/// One time someone was told about the breach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Told {
    /// Who.
    pub party: Party,
    /// When.
    pub at: Timestamp,
    /// Their reference, e.g. the authority's case number.
    #[serde(default)]
    pub reference: Option<String>,
    /// Who recorded it.
    pub source: Source,
}

/// In which role the organisation keeping the register met the breach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// As controller: it notifies the authority and the subjects (Arts 33(1), 34).
    #[default]
    Controller,
    /// As processor: it notifies its controllers (Art. 33(2)).
    Processor,
}

/// People in other member states, and the authorities concerned (the AP form's "international"
/// chapter; Art. 56 one-stop shop).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CrossBorder {
    /// Member states (ISO 3166 codes) where affected people live.
    pub member_states: Vec<String>,
    /// Other authorities notified or to be notified.
    #[serde(default)]
    pub other_authorities: Vec<String>,
}

/// One breach in the register. Build it with [`Breach::new`], fill the answers as they come,
/// and check it with [`Breach::validate`] before storing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breach {
    /// The register's id; the controller's own reference in notifications. Left out of a new
    /// record, the register gives it.
    #[serde(default = "BreachId::unassigned")]
    pub id: BreachId,
    /// New or follow-up (Art. 33(4)).
    pub notification: Notification,
    /// Controller or processor.
    #[serde(default)]
    pub role: Role,
    /// When the breach happened.
    #[serde(default)]
    pub occurred: Option<Answer<Occurrence>>,
    /// When the organisation became aware: when it had a reasonable degree of certainty that a
    /// security incident compromised personal data (EDPB Guidelines 9/2022, ¶31–33). The
    /// Art. 33(1) clock starts here. UTC.
    pub aware_at: Answer<Timestamp>,
    /// When the breach was contained (ended), if it was.
    #[serde(default)]
    pub contained_at: Option<Answer<Timestamp>>,
    /// How it was discovered.
    #[serde(default)]
    pub discovery: Option<Answer<String>>,
    /// What happened, in a few sentences (the nature of the breach, Art. 33(3)(a)).
    #[serde(default)]
    pub description: Option<Answer<String>>,
    /// Confidentiality, integrity, availability: one or more.
    pub kinds: Answer<Vec<Kind>>,
    /// Whether the data left the organisation's control.
    #[serde(default)]
    pub exfiltration: Option<Answer<Exfiltration>>,
    /// Who could read the data, for a confidentiality breach.
    #[serde(default)]
    pub recipient: Option<Answer<Recipient>>,
    /// Whether the data was unintelligible (Art. 34(3)(a)).
    #[serde(default)]
    pub unintelligible: Option<Answer<Unintelligibility>>,
    /// For an availability breach: temporary (with time to restore) or permanent.
    #[serde(default)]
    pub availability_loss: Option<Answer<AvailabilityLoss>>,
    /// Categories of people affected.
    #[serde(default)]
    pub subjects: Option<Answer<Subjects>>,
    /// Categories of data affected.
    #[serde(default)]
    pub data: Option<Answer<DataTypes>>,
    /// How many people (Art. 33(3)(a)).
    #[serde(default)]
    pub subject_count: Option<Answer<Count>>,
    /// How many records (Art. 33(3)(a)).
    #[serde(default)]
    pub record_count: Option<Answer<Count>>,
    /// Measures taken (Art. 33(3)(d)).
    #[serde(default)]
    pub measures_taken: Option<Answer<Vec<String>>>,
    /// Measures proposed (Art. 33(3)(d)).
    #[serde(default)]
    pub measures_proposed: Option<Answer<Vec<String>>>,
    /// Subsequent measures that ensure a high risk is no longer likely to materialise
    /// (Art. 34(3)(b)), e.g. "all passwords were reset before any could be used".
    #[serde(default)]
    pub high_risk_neutralised: Option<Answer<String>>,
    /// Why telling each person would be a disproportionate effort (Art. 34(3)(c)), e.g. no
    /// contact details; a public communication is then due instead.
    #[serde(default)]
    pub disproportionate_effort: Option<Answer<String>>,
    /// Likely consequences (Art. 33(3)(c)).
    #[serde(default)]
    pub consequences: Option<Answer<String>>,
    /// What people can do themselves, for the letter (Art. 34(2) with 33(3)(d)).
    #[serde(default)]
    pub advice: Option<Answer<String>>,
    /// The risk outcome and its reasoning, as a person assessed it.
    #[serde(default)]
    pub risk: Option<Answer<RiskAssessment>>,
    /// Cross-border aspects.
    #[serde(default)]
    pub cross_border: Option<Answer<CrossBorder>>,
    /// Who was told when.
    #[serde(default)]
    pub told: Vec<Told>,
    /// Why the authority was told after the deadline (Art. 33(1), second sentence).
    #[serde(default)]
    pub delay_reason: Option<Answer<String>>,
}

impl Breach {
    /// A new breach with only what it cannot be registered without; every other answer is
    /// still open.
    pub fn new(id: BreachId, aware_at: Answer<Timestamp>, kinds: Answer<Vec<Kind>>) -> Breach {
        Breach {
            id,
            notification: Notification::New,
            role: Role::Controller,
            occurred: None,
            aware_at,
            contained_at: None,
            discovery: None,
            description: None,
            kinds,
            exfiltration: None,
            recipient: None,
            unintelligible: None,
            availability_loss: None,
            subjects: None,
            data: None,
            subject_count: None,
            record_count: None,
            measures_taken: None,
            measures_proposed: None,
            high_risk_neutralised: None,
            disproportionate_effort: None,
            consequences: None,
            advice: None,
            risk: None,
            cross_border: None,
            told: Vec::new(),
            delay_reason: None,
        }
    }

    /// `true` when the breach is (among others) of `kind`.
    pub fn is(&self, kind: Kind) -> bool {
        self.kinds.value.contains(&kind)
    }

    /// The data types, or none flagged when not answered yet.
    pub fn data_types(&self) -> DataTypes {
        self.data
            .as_ref()
            .map(|a| a.value.clone())
            .unwrap_or_default()
    }

    /// The first time `party` matches, if anyone like it was told.
    pub fn first_told(&self, matches: impl Fn(&Party) -> bool) -> Option<&Told> {
        self.told
            .iter()
            .filter(|t| matches(&t.party))
            .min_by_key(|t| t.at)
    }

    /// When the authority was first told, if it was.
    pub fn authority_notified_at(&self) -> Option<Timestamp> {
        self.first_told(|p| matches!(p, Party::Authority { .. }))
            .map(|t| t.at)
    }

    /// Checks the record against the facts of time and the law, and lists every problem, each
    /// with the field (a JSON pointer) and the reason. `now` is the time of the check.
    ///
    /// Refuses: an awareness time in the future; an occurrence that ends before it starts,
    /// begins after awareness or ends in the future; an approximate count of 0, or an exact
    /// count of 0 when categories of subjects are listed; a follow-up without the breach it
    /// follows (Art. 33(4)) or following itself; no kind of breach; "no exfiltration" without
    /// evidence; an availability loss on a breach not marked as one of availability; a
    /// containment or a notification before awareness or in the future; a risk outcome without
    /// reasoning (Art. 33(5) asks the register to let the authority verify compliance).
    pub fn validate(&self, now: Timestamp) -> Result<(), Vec<Invalid>> {
        let mut problems = Vec::new();
        let aware = self.aware_at.value;
        if aware > now {
            problems.push(Invalid::new(
                "/aware_at",
                "lies in the future: awareness is when the organisation had a reasonable degree \
                 of certainty that personal data were compromised (EDPB Guidelines 9/2022)",
            ));
        }
        if let Notification::FollowUp { follows } = &self.notification {
            match follows {
                None => problems.push(Invalid::new(
                    "/notification/follows",
                    "a follow-up (Art. 33(4): information in phases) must name the breach it follows",
                )),
                Some(f) if *f == self.id => problems.push(Invalid::new(
                    "/notification/follows",
                    "a breach cannot follow itself: name the earlier notification",
                )),
                Some(_) => {}
            }
        }
        if self.kinds.value.is_empty() {
            problems.push(Invalid::new(
                "/kinds",
                "name at least one of confidentiality, integrity, availability",
            ));
        }
        if let Some(occurred) = &self.occurred {
            self.check_occurrence(&occurred.value, now, &mut problems);
        }
        if let Some(contained) = &self.contained_at {
            if contained.value > now {
                problems.push(Invalid::new("/contained_at", "lies in the future"));
            }
            if let Some(start) = self.occurred.as_ref().and_then(|o| o.value.start())
                && contained.value < start
            {
                problems.push(Invalid::new(
                    "/contained_at",
                    "lies before the breach began",
                ));
            }
        }
        let has_categories = self
            .subjects
            .as_ref()
            .is_some_and(|s| !s.value.categories.is_empty());
        for (field, count) in [
            ("/subject_count", &self.subject_count),
            ("/record_count", &self.record_count),
        ] {
            match count.as_ref().map(|c| c.value) {
                Some(Count::Approximate { n: 0 }) => problems.push(Invalid::new(
                    field,
                    "an approximate count of 0 says nothing: give an estimate above 0, an exact 0, \
                     or unknown (Art. 33(3)(a) asks for the approximate number)",
                )),
                Some(Count::Exact { n: 0 }) if has_categories => problems.push(Invalid::new(
                    field,
                    "is 0 while categories of subjects are affected: give the number or unknown",
                )),
                _ => {}
            }
        }
        if let Some(Exfiltration::No { evidence }) = self.exfiltration.as_ref().map(|e| &e.value)
            && evidence.trim().is_empty()
        {
            problems.push(Invalid::new(
                "/exfiltration",
                "\"no exfiltration\" needs the evidence that rules it out (logs, a forensic \
                 report); otherwise say likely or not assessable",
            ));
        }
        if self.availability_loss.is_some() && !self.is(Kind::Availability) {
            problems.push(Invalid::new(
                "/availability_loss",
                "describes a loss of availability, but the breach is not marked as one of \
                 availability: add it to the kinds or remove the loss",
            ));
        }
        for (i, told) in self.told.iter().enumerate() {
            if told.at > now {
                problems.push(Invalid::new(format!("/told/{i}/at"), "lies in the future"));
            } else if told.at < aware {
                problems.push(Invalid::new(
                    format!("/told/{i}/at"),
                    "lies before awareness: correct the awareness time or this date",
                ));
            }
        }
        if let Some(risk) = &self.risk
            && risk.value.reasoning.trim().is_empty()
        {
            problems.push(Invalid::new(
                "/risk",
                "give the reasoning: the register must let the authority verify the assessment \
                 (Art. 33(5))",
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    fn check_occurrence(&self, occurred: &Occurrence, now: Timestamp, problems: &mut Vec<Invalid>) {
        let aware = self.aware_at.value;
        match occurred {
            Occurrence::Range { from, to } => {
                if to < from {
                    problems.push(Invalid::new("/occurred", "ends before it starts"));
                }
                if *to > now {
                    problems.push(Invalid::new(
                        "/occurred",
                        "ends in the future: a breach still going on is \"ongoing since\"",
                    ));
                }
            }
            Occurrence::OngoingSince { since } if *since > now => {
                problems.push(Invalid::new("/occurred", "begins in the future"));
            }
            Occurrence::Day { date } if *date > aware.to_zoned(jiff::tz::TimeZone::UTC).date() => {
                problems.push(Invalid::new(
                    "/occurred",
                    "lies after awareness: one cannot be aware of a breach before it happens",
                ));
                return;
            }
            _ => {}
        }
        if !matches!(occurred, Occurrence::Day { .. })
            && let Some(start) = occurred.start()
            && start > aware
        {
            problems.push(Invalid::new(
                "/occurred",
                "begins after awareness: one cannot be aware of a breach before it happens",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("test timestamp")
    }

    fn breach() -> Breach {
        Breach::new(
            BreachId::new("2026-001").expect("valid id"),
            Answer::person(ts("2026-03-02T09:00:00Z"), "dpo"),
            Answer::person(vec![Kind::Confidentiality], "dpo"),
        )
    }

    fn fields(b: &Breach, now: &str) -> Vec<String> {
        b.validate(ts(now))
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|i| i.field)
            .collect()
    }

    const NOW: &str = "2026-03-03T12:00:00Z";

    #[test]
    fn a_plain_record_is_valid() {
        assert_eq!(breach().validate(ts(NOW)), Ok(()));
    }

    #[test]
    fn awareness_in_the_future_is_refused() {
        assert_eq!(fields(&breach(), "2026-03-01T00:00:00Z"), ["/aware_at"]);
    }

    #[test]
    fn occurrence_range_ending_before_it_starts_is_refused() {
        let mut b = breach();
        b.occurred = Some(Answer::person(
            Occurrence::Range {
                from: ts("2026-03-01T10:00:00Z"),
                to: ts("2026-03-01T08:00:00Z"),
            },
            "dpo",
        ));
        let problems = b.validate(ts(NOW)).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "/occurred");
        assert!(problems[0].reason.contains("ends before it starts"));
    }

    #[test]
    fn occurrence_after_awareness_is_refused() {
        let mut b = breach();
        b.occurred = Some(Answer::person(
            Occurrence::OngoingSince {
                since: ts("2026-03-02T10:00:00Z"),
            },
            "dpo",
        ));
        assert_eq!(fields(&b, NOW), ["/occurred"]);
        b.occurred = Some(Answer::person(
            Occurrence::Day {
                date: jiff::civil::date(2026, 3, 3),
            },
            "dpo",
        ));
        assert_eq!(fields(&b, NOW), ["/occurred"]);
        b.occurred = Some(Answer::person(
            Occurrence::Day {
                date: jiff::civil::date(2026, 3, 2),
            },
            "dpo",
        ));
        assert_eq!(fields(&b, NOW), Vec::<String>::new());
    }

    #[test]
    fn occurrence_range_ending_in_the_future_is_refused() {
        let mut b = breach();
        b.occurred = Some(Answer::person(
            Occurrence::Range {
                from: ts("2026-03-01T10:00:00Z"),
                to: ts("2026-03-04T08:00:00Z"),
            },
            "dpo",
        ));
        assert_eq!(fields(&b, NOW), ["/occurred"]);
    }

    #[test]
    fn approximate_count_of_zero_is_refused() {
        let mut b = breach();
        b.subject_count = Some(Answer::person(Count::Approximate { n: 0 }, "dpo"));
        assert_eq!(fields(&b, NOW), ["/subject_count"]);
    }

    #[test]
    fn exact_zero_with_subject_categories_is_refused() {
        let mut b = breach();
        b.subjects = Some(Answer::person(
            Subjects {
                categories: vec!["customers".into()],
                vulnerable: vec![],
            },
            "dpo",
        ));
        b.record_count = Some(Answer::custos(Count::Exact { n: 0 }, "vault count"));
        assert_eq!(fields(&b, NOW), ["/record_count"]);
    }

    #[test]
    fn follow_up_without_the_breach_it_follows_is_refused() {
        let mut b = breach();
        b.notification = Notification::FollowUp { follows: None };
        assert_eq!(fields(&b, NOW), ["/notification/follows"]);
        b.notification = Notification::FollowUp {
            follows: Some(b.id.clone()),
        };
        assert_eq!(fields(&b, NOW), ["/notification/follows"]);
        b.notification = Notification::FollowUp {
            follows: Some(BreachId::new("2026-000").expect("valid id")),
        };
        assert_eq!(b.validate(ts(NOW)), Ok(()));
    }

    #[test]
    fn a_breach_of_no_kind_is_refused() {
        let mut b = breach();
        b.kinds.value.clear();
        assert_eq!(fields(&b, NOW), ["/kinds"]);
    }

    #[test]
    fn no_exfiltration_without_evidence_is_refused() {
        let mut b = breach();
        b.exfiltration = Some(Answer::person(
            Exfiltration::No {
                evidence: " ".into(),
            },
            "dpo",
        ));
        assert_eq!(fields(&b, NOW), ["/exfiltration"]);
    }

    #[test]
    fn availability_loss_on_a_breach_not_of_availability_is_refused() {
        let mut b = breach();
        b.availability_loss = Some(Answer::person(AvailabilityLoss::Permanent, "dpo"));
        assert_eq!(fields(&b, NOW), ["/availability_loss"]);
    }

    #[test]
    fn telling_before_awareness_or_in_the_future_is_refused() {
        let mut b = breach();
        for at in ["2026-03-01T00:00:00Z", "2026-03-05T00:00:00Z"] {
            b.told.push(Told {
                party: Party::Subjects,
                at: ts(at),
                reference: None,
                source: Source::Person {
                    actor: "dpo".into(),
                },
            });
        }
        assert_eq!(fields(&b, NOW), ["/told/0/at", "/told/1/at"]);
    }

    #[test]
    fn containment_in_the_future_is_refused() {
        let mut b = breach();
        b.contained_at = Some(Answer::person(ts("2026-03-04T00:00:00Z"), "dpo"));
        assert_eq!(fields(&b, NOW), ["/contained_at"]);
    }

    #[test]
    fn risk_without_reasoning_is_refused() {
        let mut b = breach();
        b.risk = Some(Answer::person(
            RiskAssessment {
                outcome: Risk::Risk,
                reasoning: String::new(),
            },
            "dpo",
        ));
        assert_eq!(fields(&b, NOW), ["/risk"]);
    }

    #[test]
    fn every_problem_is_reported_not_just_the_first() {
        let mut b = breach();
        b.notification = Notification::FollowUp { follows: None };
        b.subject_count = Some(Answer::person(Count::Approximate { n: 0 }, "dpo"));
        assert_eq!(
            fields(&b, "2026-03-01T00:00:00Z"),
            ["/aware_at", "/notification/follows", "/subject_count"]
        );
    }

    #[test]
    fn breach_ids_are_checked() {
        assert!(BreachId::new("").is_err());
        assert!(BreachId::new("a b").is_err());
        assert!(BreachId::new("x".repeat(65)).is_err());
        assert_eq!(
            BreachId::new("2026-001").map(|i| i.to_string()),
            Ok("2026-001".into())
        );
        assert!(serde_json::from_str::<BreachId>("\"a/b\"").is_err());
    }

    #[test]
    fn the_record_serializes_with_kind_tags_and_snake_case() {
        let mut b = breach();
        b.notification = Notification::FollowUp {
            follows: Some(BreachId::new("2026-000").expect("valid id")),
        };
        b.subject_count = Some(Answer::custos(
            Count::Approximate { n: 120 },
            "vault: subjects with category contact",
        ));
        b.exfiltration = Some(Answer::person(Exfiltration::NotAssessable, "dpo"));
        let json = serde_json::to_value(&b).expect("serializes");
        assert_eq!(json["notification"]["kind"], "follow_up");
        assert_eq!(json["notification"]["follows"], "2026-000");
        assert_eq!(json["subject_count"]["value"]["kind"], "approximate");
        assert_eq!(json["subject_count"]["source"]["kind"], "custos");
        assert_eq!(json["exfiltration"]["value"]["kind"], "not_assessable");
        assert_eq!(json["aware_at"]["source"]["actor"], "dpo");
        assert_eq!(json["kinds"]["value"][0], "confidentiality");
        let back: Breach = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, b);
    }

    #[test]
    fn helpers_answer_from_the_record() {
        let mut b = breach();
        assert!(b.is(Kind::Confidentiality));
        assert!(!b.is(Kind::Availability));
        assert_eq!(b.data_types(), DataTypes::default());
        assert_eq!(b.authority_notified_at(), None);
        for at in ["2026-03-03T10:00:00Z", "2026-03-02T10:00:00Z"] {
            b.told.push(Told {
                party: Party::Authority {
                    name: "Autoriteit Persoonsgegevens".into(),
                },
                at: ts(at),
                reference: Some("AP-1".into()),
                source: Source::Person {
                    actor: "dpo".into(),
                },
            });
        }
        assert_eq!(b.authority_notified_at(), Some(ts("2026-03-02T10:00:00Z")));
        assert_eq!(Count::Approximate { n: 5 }.number(), Some(5));
        assert_eq!(Count::Unknown.number(), None);
        assert_eq!(Occurrence::Unknown.start(), None);
        assert_eq!(
            Occurrence::Day {
                date: jiff::civil::date(2026, 3, 1)
            }
            .start(),
            Some(ts("2026-03-01T00:00:00Z"))
        );
    }
}
