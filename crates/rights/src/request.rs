//! The rules of a data-subject request (Art. 12–22 GDPR), without storage: its kinds and
//! states, which step may happen when (a small state machine), the purpose a withdrawal or an
//! objection names (Art. 7(3), 21), what a subject's flags mean for processing, and how a
//! request stands against its deadline. The vault stores requests and calls these; nothing here
//! reads a clock or a database, so every rule is tested with the law's own cases.
//!
//! A request moves `received → verified → in_progress → completed`, or ends `refused` (with the
//! reason and the right to complain, Art. 12(4)); nothing is disclosed or deleted before identity
//! is verified (Art. 12(6)).

use jiff::{Timestamp, civil::Date};
use serde::Serialize;

use custos_policy::Policy;
use custos_policy::model::Basis;

use crate::archive::AnswerKind;

/// The kinds of request, each with its article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// Art. 15: access.
    Access,
    /// Art. 16: rectification.
    Rectification,
    /// Art. 17: erasure.
    Erasure,
    /// Art. 18: restriction of processing.
    Restriction,
    /// Art. 20: data portability.
    Portability,
    /// Art. 21: objection.
    Objection,
    /// Art. 7(3): withdrawal of consent.
    Withdrawal,
}

impl RequestKind {
    /// Every kind.
    pub const ALL: [RequestKind; 7] = [
        RequestKind::Access,
        RequestKind::Rectification,
        RequestKind::Erasure,
        RequestKind::Restriction,
        RequestKind::Portability,
        RequestKind::Objection,
        RequestKind::Withdrawal,
    ];

    /// The kind's name as stored and spoken by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Access => "access",
            RequestKind::Rectification => "rectification",
            RequestKind::Erasure => "erasure",
            RequestKind::Restriction => "restriction",
            RequestKind::Portability => "portability",
            RequestKind::Objection => "objection",
            RequestKind::Withdrawal => "withdrawal",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<RequestKind> {
        RequestKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The article that grants the right.
    pub fn article(self) -> &'static str {
        match self {
            RequestKind::Access => "Art. 15 GDPR",
            RequestKind::Rectification => "Art. 16 GDPR",
            RequestKind::Erasure => "Art. 17 GDPR",
            RequestKind::Restriction => "Art. 18 GDPR",
            RequestKind::Portability => "Art. 20 GDPR",
            RequestKind::Objection => "Art. 21 GDPR",
            RequestKind::Withdrawal => "Art. 7(3) GDPR",
        }
    }

    /// What carrying out a request of this kind does.
    pub fn execution(self) -> Execution {
        match self {
            RequestKind::Access | RequestKind::Portability => Execution::Answer,
            RequestKind::Rectification => Execution::Rectify,
            RequestKind::Erasure => Execution::Erase,
            RequestKind::Restriction | RequestKind::Objection | RequestKind::Withdrawal => {
                Execution::SetFlag
            }
        }
    }

    /// The archive that answers a request of this kind: access (Art. 15) and portability
    /// (Art. 20); `None` for the kinds answered otherwise.
    pub fn answer(self) -> Option<AnswerKind> {
        match self {
            RequestKind::Access => Some(AnswerKind::Access),
            RequestKind::Portability => Some(AnswerKind::Portability),
            _ => None,
        }
    }

    /// The subject flag a request of this kind sets, which every later processing decision
    /// sees: `restricted` (Art. 18), `objected` (Art. 21), `withdrawn` (Art. 7(3)); `None` for
    /// the kinds that set none.
    pub fn flag(self) -> Option<&'static str> {
        match self {
            RequestKind::Restriction => Some("restricted"),
            RequestKind::Objection => Some("objected"),
            RequestKind::Withdrawal => Some("withdrawn"),
            _ => None,
        }
    }
}

/// What carrying out a request does, by its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution {
    /// Access and portability: the answer archive is handed over (Art. 15, 20).
    Answer,
    /// Rectification: the corrected data is written (Art. 16).
    Rectify,
    /// Erasure: everything but what a law keeps is erased (Art. 17).
    Erase,
    /// Restriction, objection, withdrawal: a flag every processing decision sees is set
    /// (Art. 18, 21, 7(3)).
    SetFlag,
}

impl Execution {
    /// The kinds carried out this way.
    fn kinds(self) -> &'static [RequestKind] {
        match self {
            Execution::Answer => &[RequestKind::Access, RequestKind::Portability],
            Execution::Rectify => &[RequestKind::Rectification],
            Execution::Erase => &[RequestKind::Erasure],
            Execution::SetFlag => &[
                RequestKind::Restriction,
                RequestKind::Objection,
                RequestKind::Withdrawal,
            ],
        }
    }

    /// The step's name in an error message.
    fn name(self) -> &'static str {
        match self {
            Execution::Answer => "an access or portability answer",
            Execution::Rectify => "rectification",
            Execution::Erase => "erasure",
            Execution::SetFlag => "setting a processing flag",
        }
    }
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Filed; identity not yet verified.
    Received,
    /// The requester proved to be the subject.
    Verified,
    /// Being carried out.
    InProgress,
    /// Answered.
    Completed,
    /// Refused, with the reason and the right to complain.
    Refused,
}

impl RequestState {
    /// The state's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Received => "received",
            RequestState::Verified => "verified",
            RequestState::InProgress => "in_progress",
            RequestState::Completed => "completed",
            RequestState::Refused => "refused",
        }
    }

    /// The state named `s` (as [`RequestState::as_str`] writes it).
    pub fn parse(s: &str) -> Option<RequestState> {
        Some(match s {
            "received" => RequestState::Received,
            "verified" => RequestState::Verified,
            "in_progress" => RequestState::InProgress,
            "completed" => RequestState::Completed,
            "refused" => RequestState::Refused,
            _ => return None,
        })
    }

    /// Whether the request is finished.
    pub fn is_closed(self) -> bool {
        matches!(self, RequestState::Completed | RequestState::Refused)
    }
}

/// Why a request cannot go ahead. No message names the subject.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// No such request in this tenant.
    #[error("no request `{0}` in this tenant")]
    NotFound(String),
    /// A request with this id exists already (a different one, not a duplicate of it).
    #[error("a request with id {0} exists already")]
    IdTaken(String),
    /// A request id given by the caller is malformed.
    #[error("a request id is 32 hex digits (a UUID without dashes will do); got {0} characters")]
    BadId(usize),
    /// Identity is not verified yet.
    #[error(
        "request {0} is not verified: the requester's identity must be verified before anything is disclosed or deleted (Art. 12(6) GDPR)"
    )]
    NotVerified(String),
    /// The request is already completed or refused.
    #[error("request {request_id} is already {state}; nothing more can happen to it")]
    Closed {
        /// The request.
        request_id: String,
        /// `completed` or `refused`.
        state: &'static str,
    },
    /// This kind needs a purpose (withdrawal of consent, objection).
    #[error("a {kind} request needs the purpose it concerns (field `purpose`)")]
    PurposeRequired {
        /// The kind.
        kind: &'static str,
    },
    /// The purpose is not in the policy.
    #[error("purpose {} is not declared in the policy{}", custos_policy::diag::shown(.purpose), suggestion(.nearest))]
    UnknownPurpose {
        /// The purpose given.
        purpose: String,
        /// The nearest declared one.
        nearest: Option<String>,
    },
    /// Consent can only be withdrawn where it is the legal basis.
    #[error(
        "purpose `{purpose}` is not based on consent (its basis is {basis}); consent can only be withdrawn where it is the legal basis (Art. 7(3) GDPR); an objection (Art. 21) may fit"
    )]
    NotConsent {
        /// The purpose.
        purpose: String,
        /// Its basis.
        basis: String,
    },
    /// Art. 21 reaches processing on legitimate interests or a public task, and direct
    /// marketing.
    #[error(
        "purpose `{purpose}` rests on {basis}; an objection under Art. 21(1) GDPR reaches processing based on Art. 6(1)(e) or (f) only (and direct marketing, Art. 21(2))"
    )]
    NotObjectable {
        /// The purpose.
        purpose: String,
        /// Its basis.
        basis: String,
    },
    /// Extensions must be recorded within the first month.
    #[error(
        "request {request_id} was due {due_on}; an extension must be recorded, with its reason, before the first month runs out (Art. 12(3) GDPR), and today is {today}"
    )]
    ExtensionTooLate {
        /// The request.
        request_id: String,
        /// The original due date.
        due_on: Date,
        /// The day the extension was asked for.
        today: Date,
    },
    /// Only one extension of two months exists.
    #[error(
        "request {0} is already extended; Art. 12(3) GDPR allows one extension of two further months"
    )]
    AlreadyExtended(String),
    /// A reason is required and was empty.
    #[error("the {0} needs a reason (it is told to the requester)")]
    ReasonRequired(&'static str),
    /// The request's identity was verified already.
    #[error("request {0} is verified already; identity is verified once")]
    AlreadyVerified(String),
    /// A rectification was carried out without the corrected data.
    #[error(
        "a rectification carries the corrected records (`corrections`: record id and corrected data); to decline one, refuse the request with the reason (Art. 12(4) GDPR)"
    )]
    NoCorrections,
    /// No code was issued for this request.
    #[error("no verification code was issued for request {0}; ask for one first")]
    NoCode(String),
    /// The code is wrong.
    #[error("the verification code is wrong; {attempts_left} attempts left")]
    WrongCode {
        /// How many attempts remain before the code is void.
        attempts_left: u32,
    },
    /// The code expired or was tried too often.
    #[error("the verification code expired or was tried too often; ask for a new one")]
    CodeVoid,
    /// The subject given does not match the request.
    #[error("request {0} is not about this subject")]
    OtherSubject(String),
    /// This step does not apply to this kind of request.
    #[error("request {request_id} is a {kind} request; {step} does not apply to it")]
    WrongKind {
        /// The request.
        request_id: String,
        /// Its kind.
        kind: &'static str,
        /// What was asked.
        step: &'static str,
    },
}

impl RequestError {
    /// Its code in the error table (`docs/errors.md`).
    pub fn code(&self) -> custos_types::ErrorCode {
        use custos_types::ErrorCode as C;
        match self {
            // Not found either way, so as not to confirm which subject a request concerns.
            RequestError::NotFound(_) | RequestError::OtherSubject(_) => C::RequestNotFound,
            RequestError::IdTaken(_) => C::RequestIdTaken,
            RequestError::BadId(_) => C::InvalidRequestId,
            RequestError::NotVerified(_) => C::RequestNotVerified,
            RequestError::Closed { .. } => C::RequestClosed,
            RequestError::PurposeRequired { .. } => C::PurposeRequired,
            RequestError::UnknownPurpose { .. } => C::UnknownPurpose,
            RequestError::NotConsent { .. } => C::NotConsentBased,
            RequestError::NotObjectable { .. } => C::NotObjectable,
            RequestError::ExtensionTooLate { .. } | RequestError::AlreadyExtended(_) => {
                C::ExtensionRefused
            }
            RequestError::ReasonRequired(_) => C::ReasonRequired,
            RequestError::AlreadyVerified(_) => C::AlreadyVerified,
            RequestError::NoCorrections => C::NoCorrections,
            RequestError::NoCode(_) => C::NoVerificationCode,
            RequestError::WrongCode { .. } => C::WrongVerificationCode,
            RequestError::CodeVoid => C::VerificationCodeVoid,
            RequestError::WrongKind { .. } => C::WrongRequestKind,
        }
    }
}

/// `; did you mean `x`?` or nothing.
fn suggestion(nearest: &Option<String>) -> String {
    match nearest {
        Some(n) => format!("; did you mean `{n}`?"),
        None => String::new(),
    }
}

/// A request as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    /// Its id: 32 hex digits.
    pub request_id: String,
    /// What is asked.
    pub kind: RequestKind,
    /// Where it stands.
    pub state: RequestState,
    /// The purpose it concerns, if any.
    pub purpose: Option<String>,
    /// The subject's pseudonym.
    pub subject: String,
    /// When it arrived.
    pub received_at: Timestamp,
    /// The day of receipt.
    pub received_on: Date,
    /// When the answer is due.
    pub due_on: Date,
    /// Whether the two-month extension was taken.
    pub extended: bool,
    /// When identity was verified.
    pub verified_at: Option<Timestamp>,
    /// When it was completed or refused.
    pub closed_at: Option<Timestamp>,
    /// The channel, the extension's reason, the refusal, the outcome. A pending one-time code's
    /// hash is kept here but never shown.
    #[serde(serialize_with = "without_code")]
    pub detail: serde_json::Value,
}

fn without_code<S: serde::Serializer>(detail: &serde_json::Value, s: S) -> Result<S::Ok, S::Error> {
    match detail.as_object() {
        Some(obj) if obj.contains_key("code") => {
            let mut shown = obj.clone();
            shown.remove("code");
            serde::Serialize::serialize(&shown, s)
        }
        _ => serde::Serialize::serialize(detail, s),
    }
}

/// A step someone asks a request to take. [`Request::check`] says whether the request's state
/// allows it, [`Action::state_after`] where it leaves the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Issue a one-time code for identity verification: any open request.
    IssueCode,
    /// Verify the requester's identity: once, from `received`.
    Verify,
    /// Take the two-month extension on `today`: once, and only while the first month runs
    /// (Art. 12(3)).
    Extend {
        /// The day the extension is asked for, in the controller's time zone.
        today: Date,
    },
    /// Refuse, with the reason (Art. 12(4)): any open request.
    Refuse,
    /// Start carrying a verified request out.
    Start,
    /// Complete a verified request with its outcome.
    Complete,
    /// Carry out what the request's kind asks: verified, and the execution must fit the kind.
    Execute(Execution),
}

impl Action {
    /// The state a request in `from` is left in once this step is done (after
    /// [`Request::check`] allowed it).
    pub fn state_after(self, from: RequestState) -> RequestState {
        match self {
            Action::IssueCode | Action::Extend { .. } => from,
            Action::Verify => RequestState::Verified,
            Action::Start => RequestState::InProgress,
            Action::Refuse => RequestState::Refused,
            Action::Complete | Action::Execute(_) => RequestState::Completed,
        }
    }
}

impl Request {
    /// Whether the request may take `action` now: nothing happens to a closed request, nothing
    /// is disclosed, changed or deleted before identity is verified (Art. 12(6)), identity is
    /// verified once, the extension is taken once and within the first month (Art. 12(3)), and
    /// each kind is carried out its own way.
    pub fn check(&self, action: Action) -> Result<(), RequestError> {
        if self.state.is_closed() {
            return Err(RequestError::Closed {
                request_id: self.request_id.clone(),
                state: self.state.as_str(),
            });
        }
        match action {
            Action::IssueCode | Action::Refuse => Ok(()),
            // Verified once: a second verification, with any code, is not an answer that the
            // code was right.
            Action::Verify if self.state != RequestState::Received => {
                Err(RequestError::AlreadyVerified(self.request_id.clone()))
            }
            Action::Verify => Ok(()),
            Action::Extend { .. } if self.extended => {
                Err(RequestError::AlreadyExtended(self.request_id.clone()))
            }
            Action::Extend { today } if today > self.due_on => {
                Err(RequestError::ExtensionTooLate {
                    request_id: self.request_id.clone(),
                    due_on: self.due_on,
                    today,
                })
            }
            Action::Extend { .. } => Ok(()),
            Action::Start | Action::Complete | Action::Execute(_)
                if self.state == RequestState::Received =>
            {
                Err(RequestError::NotVerified(self.request_id.clone()))
            }
            Action::Start | Action::Complete => Ok(()),
            Action::Execute(how) if !how.kinds().contains(&self.kind) => {
                Err(RequestError::WrongKind {
                    request_id: self.request_id.clone(),
                    kind: self.kind.as_str(),
                    step: how.name(),
                })
            }
            Action::Execute(_) => Ok(()),
        }
    }

    /// That the request is the subject's whose pseudonym is `pseudonym`; otherwise it is
    /// answered as another subject's, which says nothing about whose it is.
    pub fn check_subject(&self, pseudonym: &str) -> Result<(), RequestError> {
        if self.subject == pseudonym {
            Ok(())
        } else {
            Err(RequestError::OtherSubject(self.request_id.clone()))
        }
    }

    /// How the request stands against its deadline on `today`.
    pub fn risk(&self, today: Date) -> Risk {
        risk(self.state, self.due_on, today)
    }
}

/// Days before the due date from which an open request is flagged at risk.
pub const AT_RISK_DAYS: i32 = 7;

/// A request against its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// Open, due in more than [`AT_RISK_DAYS`] days.
    OnTrack,
    /// Open, due within [`AT_RISK_DAYS`] days.
    AtRisk,
    /// Open after its due date.
    Overdue,
    /// Completed or refused.
    Closed,
}

/// How a request in `state`, due on `due_on`, stands on `today`: the answer is due "without
/// undue delay and in any event within one month" (Art. 12(3)), so an open request is overdue
/// the day after its due date, and at risk from [`AT_RISK_DAYS`] before it.
pub fn risk(state: RequestState, due_on: Date, today: Date) -> Risk {
    if state.is_closed() {
        return Risk::Closed;
    }
    let left = today.until(due_on).map(|s| s.get_days()).unwrap_or(0);
    if left < 0 {
        Risk::Overdue
    } else if left <= AT_RISK_DAYS {
        Risk::AtRisk
    } else {
        Risk::OnTrack
    }
}

/// The due dates that separate the risks on `today`, for a store that counts requests without
/// loading them: an open request due before the first is overdue, one due from the first through
/// the second is at risk ([`risk`] says the same of one request).
pub fn risk_bounds(today: Date) -> (Date, Date) {
    let last = today
        .checked_add(jiff::Span::new().days(AT_RISK_DAYS))
        .unwrap_or(Date::MAX);
    (today, last)
}

/// The controller's time zone: a request's day of receipt is the day there.
pub const ZONE: &str = "Europe/Amsterdam";

/// The day `at` falls on in the controller's time zone (UTC when the zone database is missing,
/// which can only make a deadline a day earlier, never later).
pub fn day_of(at: Timestamp) -> Date {
    match jiff::tz::TimeZone::get(ZONE) {
        Ok(tz) => at.to_zoned(tz).date(),
        Err(_) => at.to_zoned(jiff::tz::TimeZone::UTC).date(),
    }
}

/// How identity was verified.
#[derive(Debug, Clone)]
pub enum Verification {
    /// The one-time code sent to the address on file, as typed by the requester.
    Code(String),
    /// Someone with the right role vouches, naming how (a signed-in session, an ID check at the
    /// desk). Recorded with the actor.
    Attested {
        /// How identity was established.
        method: String,
    },
}

/// Valid one-time codes per request before the code is void.
pub const CODE_ATTEMPTS: u32 = 5;
/// How long a code is valid.
pub const CODE_VALID_SECONDS: i64 = 15 * 60;

/// Checks a one-time code's use: void once it expired (at `expires_at`, in microseconds) or was
/// tried [`CODE_ATTEMPTS`] times, wrong (with the attempts left after this one) when `matches`
/// is false.
pub fn check_code(
    attempts: u32,
    expires_at: i64,
    matches: bool,
    now: Timestamp,
) -> Result<(), RequestError> {
    if attempts >= CODE_ATTEMPTS || now.as_microsecond() > expires_at {
        return Err(RequestError::CodeVoid);
    }
    if !matches {
        return Err(RequestError::WrongCode {
            attempts_left: CODE_ATTEMPTS - attempts - 1,
        });
    }
    Ok(())
}

/// A subject-level flag every later processing decision sees.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Flag {
    /// `restricted` (Art. 18), `objected` (Art. 21), `withdrawn` (Art. 7(3)).
    pub flag: String,
    /// The purpose it concerns; `None` for all.
    pub purpose: Option<String>,
    /// When it was set.
    pub set_at: Timestamp,
    /// The request that set it.
    pub request_id: Option<String>,
}

/// What a subject's flags mean for processing for one purpose: the inputs the processing
/// decision takes (`custos_consent::decision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct FlagsFor {
    /// Processing is restricted (Art. 18): only storage, or with consent, for legal claims, to
    /// protect another person or for an important public interest (Art. 18(2)).
    pub restricted: bool,
    /// The subject objected to this purpose, or to all processing on legitimate interests or a
    /// public task when the purpose rests on one (Art. 21).
    pub objected: bool,
    /// The subject withdrew consent for this purpose (Art. 7(3)).
    pub withdrawn: bool,
}

/// Reads a subject's flags for processing for `purpose`.
pub fn flags_for(policy: &Policy, flags: &[Flag], purpose: &str) -> FlagsFor {
    let objectable = policy.purpose(purpose).is_some_and(|p| {
        p.bases
            .iter()
            .any(|b| matches!(b, Basis::LegitimateInterest | Basis::PublicTask))
    });
    let mut out = FlagsFor::default();
    for f in flags {
        let this = f.purpose.as_deref() == Some(purpose);
        match f.flag.as_str() {
            "restricted" => out.restricted = true,
            "objected" if this || (f.purpose.is_none() && objectable) => out.objected = true,
            "withdrawn" if this => out.withdrawn = true,
            _ => {}
        }
    }
    out
}

/// The outcome a flag request records: the flag and the purpose, and for an objection whether
/// it is absolute — an objection to direct marketing is (Art. 21(3)).
pub fn flag_outcome(
    policy: &Policy,
    kind: RequestKind,
    purpose: Option<&str>,
) -> serde_json::Value {
    let mut outcome = serde_json::json!({ "flag": kind.flag(), "purpose": purpose });
    if kind == RequestKind::Objection {
        let absolute = purpose.is_some_and(|p| is_direct_marketing(policy, p));
        outcome["absolute"] = absolute.into();
        if absolute {
            outcome["article"] = "Art. 21(3) GDPR: no longer processed for direct marketing".into();
        }
    }
    outcome
}

/// Whether a purpose is direct marketing (`direct_marketing = true` in the policy), where an
/// objection is absolute (Art. 21(2)–(3)).
pub fn is_direct_marketing(policy: &Policy, purpose: &str) -> bool {
    policy.purpose(purpose).is_some_and(|p| p.direct_marketing)
}

/// Checks the purpose a request names against the policy: a withdrawal needs one based on
/// consent (Art. 7(3)); an objection, when it names one, one based on legitimate interests or a
/// public task (Art. 21(1)), or direct marketing (Art. 21(2)); any named purpose must be
/// declared.
pub fn check_purpose(
    policy: &Policy,
    kind: RequestKind,
    purpose: Option<&str>,
) -> Result<(), RequestError> {
    let Some(p) = purpose else {
        return if kind == RequestKind::Withdrawal {
            Err(RequestError::PurposeRequired {
                kind: kind.as_str(),
            })
        } else {
            Ok(())
        };
    };
    let Some(decl) = policy.purpose(p) else {
        return Err(RequestError::UnknownPurpose {
            purpose: p.to_owned(),
            nearest: nearest_purpose(policy, p),
        });
    };
    match kind {
        // With several bases, consent (or an objectable basis) among them is enough: which
        // applies depends on the person's case (`basis_note`), and the request settles it.
        RequestKind::Withdrawal if !decl.bases.contains(&Basis::Consent) => {
            Err(RequestError::NotConsent {
                purpose: p.to_owned(),
                basis: basis_names(&decl.bases),
            })
        }
        RequestKind::Objection
            if !decl
                .bases
                .iter()
                .any(|b| matches!(b, Basis::LegitimateInterest | Basis::PublicTask))
                && !is_direct_marketing(policy, p) =>
        {
            Err(RequestError::NotObjectable {
                purpose: p.to_owned(),
                basis: basis_names(&decl.bases),
            })
        }
        _ => Ok(()),
    }
}

fn nearest_purpose(policy: &Policy, p: &str) -> Option<String> {
    custos_policy::diag::nearest(p, policy.purposes.iter().map(|x| x.id.as_str()))
        .map(str::to_owned)
}

/// The bases of a purpose for an error message: `legitimate interests (Art. 6(1)(f))`, or
/// `contract (Art. 6(1)(b)) or a legal obligation (Art. 6(1)(c))`.
fn basis_names(bases: &[Basis]) -> String {
    if bases.is_empty() {
        return "no declared basis".to_owned();
    }
    bases
        .iter()
        .map(|b| match b {
            Basis::Consent => "consent (Art. 6(1)(a))",
            Basis::Contract => "contract (Art. 6(1)(b))",
            Basis::LegalObligation => "a legal obligation (Art. 6(1)(c))",
            Basis::VitalInterests => "vital interests (Art. 6(1)(d))",
            Basis::PublicTask => "a public task (Art. 6(1)(e))",
            Basis::LegitimateInterest => "legitimate interests (Art. 6(1)(f))",
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The right to complain, in words drawn from the policy (Art. 12(4), 77, 79).
pub fn complaint_text(policy: &Policy) -> String {
    let authorities: Vec<String> = policy
        .rights
        .complaint
        .iter()
        .map(|a| a.name_en.clone())
        .collect();
    let with = if authorities.is_empty() {
        "a supervisory authority, in particular in the Member State of your habitual residence, place of work or place of the alleged infringement".to_owned()
    } else {
        authorities.join(", ")
    };
    format!(
        "You may lodge a complaint with {with} (Art. 77 GDPR) and seek a judicial remedy (Art. 79 GDPR)."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::example_policies::jbsync;

    fn date(s: &str) -> Date {
        s.parse().expect("a date")
    }

    /// An access request received on 1 November 2026, due 1 December 2026.
    fn request(kind: RequestKind, state: RequestState) -> Request {
        Request {
            request_id: "0a1b2c3d00004000800000000000000f".into(),
            kind,
            state,
            purpose: None,
            subject: "5f0c6e1d2a3b4c5d6e7f809112233445".into(),
            received_at: "2026-11-01T09:00:00Z".parse().expect("a moment"),
            received_on: date("2026-11-01"),
            due_on: date("2026-12-01"),
            extended: false,
            verified_at: None,
            closed_at: None,
            detail: serde_json::json!({}),
        }
    }

    const EVERY_ACTION: [Action; 10] = [
        Action::IssueCode,
        Action::Verify,
        Action::Extend {
            today: Date::constant(2026, 11, 2),
        },
        Action::Refuse,
        Action::Start,
        Action::Complete,
        Action::Execute(Execution::Answer),
        Action::Execute(Execution::Rectify),
        Action::Execute(Execution::Erase),
        Action::Execute(Execution::SetFlag),
    ];

    #[test]
    fn a_closed_request_takes_no_further_step() {
        for state in [RequestState::Completed, RequestState::Refused] {
            let r = request(RequestKind::Access, state);
            for action in EVERY_ACTION {
                let e = r.check(action).expect_err("closed");
                assert!(
                    matches!(e, RequestError::Closed { state: s, .. } if s == state.as_str()),
                    "{state:?} {action:?}: {e}"
                );
            }
        }
    }

    #[test]
    fn nothing_is_disclosed_changed_or_deleted_before_identity_is_verified() {
        // Art. 12(6): "where the controller has reasonable doubts concerning the identity of the
        // natural person making the request ..., the controller may request the provision of
        // additional information necessary to confirm the identity of the data subject."
        let r = request(RequestKind::Erasure, RequestState::Received);
        for action in [
            Action::Start,
            Action::Complete,
            Action::Execute(Execution::Erase),
        ] {
            let e = r.check(action).expect_err("unverified");
            assert!(matches!(e, RequestError::NotVerified(_)), "{action:?}: {e}");
            assert!(e.to_string().contains("Art. 12(6) GDPR"), "{e}");
        }
        for action in [
            Action::IssueCode,
            Action::Verify,
            Action::Refuse,
            Action::Extend {
                today: date("2026-11-02"),
            },
        ] {
            assert!(r.check(action).is_ok(), "{action:?}");
        }
    }

    #[test]
    fn identity_is_verified_once() {
        for state in [RequestState::Verified, RequestState::InProgress] {
            let e = request(RequestKind::Access, state)
                .check(Action::Verify)
                .expect_err("verified already");
            assert!(matches!(e, RequestError::AlreadyVerified(_)), "{e}");
        }
    }

    #[test]
    fn the_extension_is_taken_once_and_before_the_first_month_runs_out() {
        // Art. 12(3): "That period may be extended by two further months where necessary ...
        // The controller shall inform the data subject of any such extension within one month
        // of receipt of the request, together with the reasons for the delay."
        let r = request(RequestKind::Access, RequestState::Verified);
        assert!(
            r.check(Action::Extend {
                today: date("2026-12-01")
            })
            .is_ok(),
            "the due date itself is still within the first month"
        );
        let late = r
            .check(Action::Extend {
                today: date("2026-12-02"),
            })
            .expect_err("too late");
        assert!(
            matches!(late, RequestError::ExtensionTooLate { due_on, today, .. }
                if due_on == date("2026-12-01") && today == date("2026-12-02")),
            "{late}"
        );
        let mut extended = r;
        extended.extended = true;
        let again = extended
            .check(Action::Extend {
                today: date("2026-11-02"),
            })
            .expect_err("once");
        assert!(matches!(again, RequestError::AlreadyExtended(_)), "{again}");
    }

    #[test]
    fn each_kind_is_carried_out_its_own_way() {
        for kind in RequestKind::ALL {
            let r = request(kind, RequestState::Verified);
            assert!(
                r.check(Action::Execute(kind.execution())).is_ok(),
                "{kind:?}"
            );
        }
        let e = request(RequestKind::Access, RequestState::Verified)
            .check(Action::Execute(Execution::Erase))
            .expect_err("an access request is not erased");
        assert_eq!(
            e.to_string(),
            "request 0a1b2c3d00004000800000000000000f is a access request; erasure does not apply to it"
        );
    }

    #[test]
    fn a_request_goes_received_verified_in_progress_completed_or_refused() {
        let mut state = RequestState::Received;
        for (action, after) in [
            (Action::IssueCode, RequestState::Received),
            (Action::Verify, RequestState::Verified),
            (
                Action::Extend {
                    today: date("2026-11-02"),
                },
                RequestState::Verified,
            ),
            (Action::Start, RequestState::InProgress),
            (Action::Complete, RequestState::Completed),
        ] {
            assert!(request(RequestKind::Access, state).check(action).is_ok());
            state = action.state_after(state);
            assert_eq!(state, after, "{action:?}");
        }
        assert_eq!(
            Action::Refuse.state_after(RequestState::Received),
            RequestState::Refused
        );
    }

    #[test]
    fn another_subjects_request_is_answered_as_not_about_this_subject() {
        let r = request(RequestKind::Access, RequestState::Verified);
        assert!(r.check_subject("5f0c6e1d2a3b4c5d6e7f809112233445").is_ok());
        let e = r
            .check_subject("00000000000000000000000000000000")
            .expect_err("another subject");
        assert!(matches!(e, RequestError::OtherSubject(_)), "{e}");
    }

    #[test]
    fn an_open_request_is_at_risk_seven_days_before_it_is_due_and_overdue_the_day_after() {
        // Art. 12(3): information on action taken "without undue delay and in any event within
        // one month of receipt of the request".
        let due = date("2026-12-01");
        let open = RequestState::InProgress;
        assert_eq!(risk(open, due, date("2026-11-23")), Risk::OnTrack);
        assert_eq!(risk(open, due, date("2026-11-24")), Risk::AtRisk);
        assert_eq!(risk(open, due, date("2026-12-01")), Risk::AtRisk);
        assert_eq!(risk(open, due, date("2026-12-02")), Risk::Overdue);
        assert_eq!(
            risk(RequestState::Completed, due, date("2027-01-01")),
            Risk::Closed
        );
    }

    #[test]
    fn the_risk_bounds_split_due_dates_as_risk_does() {
        let today = date("2026-11-24");
        let (first, last) = risk_bounds(today);
        let open = RequestState::Verified;
        for due in [
            "2026-11-20",
            "2026-11-23",
            "2026-11-24",
            "2026-12-01",
            "2026-12-02",
        ] {
            let due = date(due);
            let by_bounds = if due < first {
                Risk::Overdue
            } else if due <= last {
                Risk::AtRisk
            } else {
                Risk::OnTrack
            };
            assert_eq!(by_bounds, risk(open, due, today), "due {due}");
        }
    }

    #[test]
    fn a_moment_counts_on_its_day_in_amsterdam() {
        // 23:30 UTC on 31 October is 00:30 on 1 November in Amsterdam (CET).
        let at: Timestamp = "2026-10-31T23:30:00Z".parse().expect("a moment");
        assert_eq!(day_of(at), date("2026-11-01"));
    }

    #[test]
    fn a_code_is_void_after_five_tries_or_fifteen_minutes() {
        let issued: Timestamp = "2026-11-01T09:00:00Z".parse().expect("a moment");
        let expires = issued.as_microsecond() + CODE_VALID_SECONDS * 1_000_000;
        let later = |s: i64| issued + jiff::SignedDuration::from_secs(s);
        assert!(check_code(0, expires, true, later(15 * 60)).is_ok());
        assert!(matches!(
            check_code(0, expires, true, later(15 * 60 + 1)),
            Err(RequestError::CodeVoid)
        ));
        assert!(matches!(
            check_code(CODE_ATTEMPTS, expires, true, later(60)),
            Err(RequestError::CodeVoid)
        ));
    }

    #[test]
    fn a_wrong_code_says_how_many_tries_are_left() {
        let now: Timestamp = "2026-11-01T09:00:00Z".parse().expect("a moment");
        let expires = now.as_microsecond() + 1;
        let e = check_code(3, expires, false, now).expect_err("wrong");
        assert_eq!(
            e.to_string(),
            "the verification code is wrong; 1 attempts left"
        );
    }

    #[test]
    fn consent_can_be_withdrawn_only_where_it_is_the_legal_basis() {
        // Art. 7(3): "The data subject shall have the right to withdraw his or her consent at
        // any time."
        let p = jbsync();
        assert!(check_purpose(&p, RequestKind::Withdrawal, Some("style_learning")).is_ok());
        let e = check_purpose(&p, RequestKind::Withdrawal, Some("security")).expect_err("no");
        assert!(
            matches!(&e, RequestError::NotConsent { basis, .. } if basis == "legitimate interests (Art. 6(1)(f))"),
            "{e}"
        );
        let e = check_purpose(&p, RequestKind::Withdrawal, None).expect_err("needs one");
        assert!(
            matches!(e, RequestError::PurposeRequired { kind: "withdrawal" }),
            "{e}"
        );
    }

    #[test]
    fn an_objection_reaches_legitimate_interests_and_direct_marketing_only() {
        // Art. 21(1): processing "based on point (e) or (f) of Article 6(1)"; Art. 21(2):
        // "where personal data are processed for direct marketing purposes".
        let p = jbsync();
        assert!(check_purpose(&p, RequestKind::Objection, Some("security")).is_ok());
        assert!(check_purpose(&p, RequestKind::Objection, Some("customer_email")).is_ok());
        assert!(check_purpose(&p, RequestKind::Objection, None).is_ok());
        let e = check_purpose(&p, RequestKind::Objection, Some("service")).expect_err("contract");
        assert!(matches!(e, RequestError::NotObjectable { .. }), "{e}");
    }

    #[test]
    fn with_several_bases_an_objectable_one_among_them_is_enough() {
        // Issue 22: the webshop's customer service is contract or legitimate interest; which
        // applies is the person's case, so the objection is taken, not refused on the first.
        let p = crate::example_policies::example("webshop");
        assert!(check_purpose(&p, RequestKind::Objection, Some("service")).is_ok());
        let e = check_purpose(&p, RequestKind::Withdrawal, Some("service")).expect_err("no");
        assert!(
            matches!(&e, RequestError::NotConsent { basis, .. } if basis == "contract (Art. 6(1)(b)) or legitimate interests (Art. 6(1)(f))"),
            "{e}"
        );
    }

    #[test]
    fn an_undeclared_purpose_is_named_with_the_nearest_declared_one() {
        let e = check_purpose(&jbsync(), RequestKind::Objection, Some("securty")).expect_err("no");
        assert_eq!(
            e.to_string(),
            "purpose `securty` is not declared in the policy; did you mean `security`?"
        );
    }

    #[test]
    fn an_objection_to_direct_marketing_is_absolute() {
        // Art. 21(3): "Where the data subject objects to processing for direct marketing
        // purposes, the personal data shall no longer be processed for such purposes."
        let p = jbsync();
        let o = flag_outcome(&p, RequestKind::Objection, Some("customer_email"));
        assert_eq!(o["flag"], "objected");
        assert_eq!(o["absolute"], true);
        assert_eq!(
            o["article"],
            "Art. 21(3) GDPR: no longer processed for direct marketing"
        );
        let o = flag_outcome(&p, RequestKind::Objection, Some("security"));
        assert_eq!(o["absolute"], false);
        assert!(o.get("article").is_none());
        let o = flag_outcome(&p, RequestKind::Restriction, None);
        assert_eq!(
            o,
            serde_json::json!({ "flag": "restricted", "purpose": null })
        );
    }

    fn flag(name: &str, purpose: Option<&str>) -> Flag {
        Flag {
            flag: name.into(),
            purpose: purpose.map(str::to_owned),
            set_at: "2026-11-01T09:00:00Z".parse().expect("a moment"),
            request_id: None,
        }
    }

    #[test]
    fn a_restriction_reaches_every_purpose() {
        // Art. 18(2): restricted data "shall, with the exception of storage, only be processed
        // with the data subject's consent or for ..." legal claims and the like.
        let p = jbsync();
        let flags = [flag("restricted", None)];
        for purpose in ["service", "security", "style_learning"] {
            assert!(flags_for(&p, &flags, purpose).restricted, "{purpose}");
        }
    }

    #[test]
    fn an_objection_without_a_purpose_reaches_legitimate_interests_only() {
        let p = jbsync();
        let flags = [flag("objected", None)];
        assert!(flags_for(&p, &flags, "security").objected);
        assert!(!flags_for(&p, &flags, "service").objected, "a contract");
        let flags = [flag("objected", Some("customer_email"))];
        assert!(flags_for(&p, &flags, "customer_email").objected);
        assert!(!flags_for(&p, &flags, "security").objected);
    }

    #[test]
    fn a_withdrawal_reaches_its_own_purpose_only() {
        let p = jbsync();
        let flags = [flag("withdrawn", Some("style_learning"))];
        assert_eq!(
            flags_for(&p, &flags, "style_learning"),
            FlagsFor {
                withdrawn: true,
                ..FlagsFor::default()
            }
        );
        assert_eq!(flags_for(&p, &flags, "service"), FlagsFor::default());
    }

    #[test]
    fn a_refusal_names_the_policys_authorities_and_the_judicial_remedy() {
        // Art. 12(4): "... of the possibility of lodging a complaint with a supervisory
        // authority and seeking a judicial remedy."
        let text = complaint_text(&jbsync());
        assert!(text.contains("Autoriteit Persoonsgegevens"), "{text}");
        assert!(text.contains("Gegevensbeschermingsautoriteit"), "{text}");
        assert!(
            text.ends_with("(Art. 77 GDPR) and seek a judicial remedy (Art. 79 GDPR)."),
            "{text}"
        );
    }

    #[test]
    fn a_pending_codes_hash_is_never_shown() {
        let mut r = request(RequestKind::Access, RequestState::Received);
        r.detail = serde_json::json!({ "channel": "web", "code": { "hash": "secret" } });
        let shown = serde_json::to_value(&r).expect("serialises");
        assert_eq!(shown["detail"], serde_json::json!({ "channel": "web" }));
    }
}
