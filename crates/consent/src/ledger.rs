//! The consent ledger. Each entry records a grant or a withdrawal for one subject and purpose,
//! with the version and hash of the notice the person saw, when, through which channel, and the
//! proof (a form id, a truncated IP). Entries are never changed; the current state is derived.

use custos_policy::Policy;
use custos_policy::model::{Basis, SpecialCondition};
use custos_policy::resolved::Purpose;
use jiff::Timestamp;
use serde::Serialize;

/// Grant or withdrawal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentKind {
    /// Consent given (Art. 4(11), 7(1)).
    Grant,
    /// Consent withdrawn (Art. 7(3)).
    Withdraw,
}

/// One ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentEntry {
    /// The purpose consented to.
    pub purpose: String,
    /// Grant or withdraw.
    pub kind: ConsentKind,
    /// When.
    pub at: Timestamp,
    /// Version of the notice the person saw.
    pub notice_version: String,
    /// SHA-256 of the notice text the person saw (hex).
    pub notice_hash: String,
    /// Through which channel (web form, app, e-mail).
    pub channel: String,
    /// Proof, e.g. a form id and a truncated IP. No personal data in the clear.
    pub proof: String,
}

/// The derived state for one purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConsentState {
    /// Never asked or never given.
    Never,
    /// Given, and not withdrawn since.
    Granted {
        /// When.
        at: Timestamp,
        /// Under which notice version.
        notice_version: String,
    },
    /// Withdrawn.
    Withdrawn {
        /// When.
        at: Timestamp,
    },
}

/// Why an entry cannot be appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    /// The purpose is not in the policy.
    #[error("purpose {} is not defined in the policy", custos_policy::diag::shown(.0))]
    UnknownPurpose(String),
    /// The purpose's legal basis is not consent, so consent is not what makes it lawful.
    #[error(
        "purpose `{purpose}` is based on {basis}, not consent (Art. 6(1)(a), 9(2)(a)); consent cannot be recorded for it"
    )]
    NotConsentBased {
        /// Purpose.
        purpose: String,
        /// Its basis, e.g. `Art. 6(1)(b)`.
        basis: String,
    },
    /// A withdrawal with no consent in force.
    #[error("there is no consent in force for purpose {} to withdraw", custos_policy::diag::shown(.0))]
    NothingToWithdraw(String),
    /// An entry older than the last one (the ledger is append-only in time).
    #[error(
        "entry at {at} is older than the last entry for purpose `{purpose}` ({last}); the ledger only grows forward"
    )]
    OutOfOrder {
        /// Purpose.
        purpose: String,
        /// The new entry's time.
        at: Timestamp,
        /// The last entry's time.
        last: Timestamp,
    },
}

impl ConsentError {
    /// Its code in the error table (`docs/errors.md`).
    pub fn code(&self) -> custos_types::ErrorCode {
        use custos_types::ErrorCode as C;
        match self {
            ConsentError::UnknownPurpose(_) => C::UnknownPurpose,
            ConsentError::NotConsentBased { .. } => C::NotConsentBased,
            ConsentError::NothingToWithdraw(_) => C::NothingToWithdraw,
            ConsentError::OutOfOrder { .. } => C::OutOfOrder,
        }
    }
}

/// Whether consent is a lawful basis of `purpose` (Art. 6(1)(a) or 9(2)(a)), or an opt-in.
pub fn is_consent_purpose(policy: &Policy, purpose: &str) -> Result<bool, ConsentError> {
    let p = policy
        .purpose(purpose)
        .ok_or_else(|| ConsentError::UnknownPurpose(purpose.to_owned()))?;
    Ok(p.bases.contains(&Basis::Consent)
        || p.special_condition == Some(SpecialCondition::ExplicitConsent)
        || p.choice == custos_policy::model::Choice::OptIn)
}

/// The state of `purpose` after `entries` (the subject's ledger, oldest first).
pub fn state(entries: &[ConsentEntry], purpose: &str) -> ConsentState {
    entries
        .iter()
        .filter(|e| e.purpose == purpose)
        .fold(ConsentState::Never, |_, e| match e.kind {
            ConsentKind::Grant => ConsentState::Granted {
                at: e.at,
                notice_version: e.notice_version.clone(),
            },
            ConsentKind::Withdraw => ConsentState::Withdrawn { at: e.at },
        })
}

/// Checks that `entry` may be appended to the subject's `ledger` under `policy`.
pub fn validate(
    policy: &Policy,
    ledger: &[ConsentEntry],
    entry: &ConsentEntry,
) -> Result<(), ConsentError> {
    if !is_consent_purpose(policy, &entry.purpose)? {
        let basis = policy
            .purpose(&entry.purpose)
            .and_then(|p| p.basis_article)
            .map_or("no legal basis".to_owned(), |a| format!("Art. {a}"));
        return Err(ConsentError::NotConsentBased {
            purpose: entry.purpose.clone(),
            basis,
        });
    }
    if let Some(last) = ledger
        .iter()
        .filter(|e| e.purpose == entry.purpose)
        .map(|e| e.at)
        .max()
        && entry.at < last
    {
        return Err(ConsentError::OutOfOrder {
            purpose: entry.purpose.clone(),
            at: entry.at,
            last,
        });
    }
    if entry.kind == ConsentKind::Withdraw
        && !matches!(state(ledger, &entry.purpose), ConsentState::Granted { .. })
    {
        return Err(ConsentError::NothingToWithdraw(entry.purpose.clone()));
    }
    Ok(())
}

/// Whether consent to `purpose` given under `state` is stale: given under a notice version for
/// which a policy change (`custos diff`) requires consent again, as the policy lists them in the
/// purpose's `stale_consent`, or under one of `also` (versions a caller names for this question).
pub fn is_stale(state: &ConsentState, purpose: Option<&Purpose>, also: &[&str]) -> bool {
    match state {
        ConsentState::Granted { notice_version, .. } => {
            also.contains(&notice_version.as_str())
                || purpose.is_some_and(|p| p.stale_consent.iter().any(|v| v == notice_version))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::example_policies::jbsync;
    use custos_policy::{SourceFile, load_source};

    fn entry(purpose: &str, kind: ConsentKind, at: &str) -> ConsentEntry {
        ConsentEntry {
            purpose: purpose.into(),
            kind,
            at: at.parse().unwrap(),
            notice_version: "2.0".into(),
            notice_hash: "ab".repeat(32),
            channel: "settings".into(),
            proof: "form:style-toggle ip:192.0.2.0/24".into(),
        }
    }

    fn style_purpose(p: &Policy) -> String {
        p.purposes
            .iter()
            .find(|x| x.basis == Some(Basis::Consent))
            .expect("jbsync has a consent purpose")
            .id
            .clone()
    }

    #[test]
    fn state_is_derived_from_the_last_entry() {
        let p = jbsync();
        let s = style_purpose(&p);
        let mut ledger = vec![];
        assert_eq!(state(&ledger, &s), ConsentState::Never);
        let g = entry(&s, ConsentKind::Grant, "2026-01-01T10:00:00Z");
        validate(&p, &ledger, &g).unwrap();
        ledger.push(g);
        assert!(matches!(state(&ledger, &s), ConsentState::Granted { .. }));
        let w = entry(&s, ConsentKind::Withdraw, "2026-02-01T10:00:00Z");
        validate(&p, &ledger, &w).unwrap();
        ledger.push(w);
        assert!(matches!(state(&ledger, &s), ConsentState::Withdrawn { .. }));
    }

    #[test]
    fn consent_for_a_contract_purpose_or_an_unknown_one_is_refused() {
        let p = jbsync();
        let contract = p
            .purposes
            .iter()
            .find(|x| {
                x.basis == Some(Basis::Contract) && x.choice == custos_policy::model::Choice::None
            })
            .unwrap()
            .id
            .clone();
        let e = validate(
            &p,
            &[],
            &entry(&contract, ConsentKind::Grant, "2026-01-01T00:00:00Z"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("Art. 6(1)(b), not consent"), "{e}");
        assert_eq!(
            validate(
                &p,
                &[],
                &entry("nope", ConsentKind::Grant, "2026-01-01T00:00:00Z")
            ),
            Err(ConsentError::UnknownPurpose("nope".into()))
        );
    }

    #[test]
    fn a_withdrawal_without_a_grant_is_refused() {
        let p = jbsync();
        let s = style_purpose(&p);
        assert_eq!(
            validate(
                &p,
                &[],
                &entry(&s, ConsentKind::Withdraw, "2026-01-01T00:00:00Z")
            ),
            Err(ConsentError::NothingToWithdraw(s))
        );
    }

    #[test]
    fn an_entry_older_than_the_last_is_refused() {
        let p = jbsync();
        let s = style_purpose(&p);
        let ledger = vec![entry(&s, ConsentKind::Grant, "2026-03-01T00:00:00Z")];
        assert!(matches!(
            validate(
                &p,
                &ledger,
                &entry(&s, ConsentKind::Withdraw, "2026-02-01T00:00:00Z")
            ),
            Err(ConsentError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn consent_under_a_superseded_notice_is_stale() {
        let s = ConsentState::Granted {
            at: "2026-01-01T00:00:00Z".parse().unwrap(),
            notice_version: "1.0".into(),
        };
        assert!(is_stale(&s, None, &["1.0"]));
        assert!(!is_stale(&s, None, &["0.9"]));
        assert!(!is_stale(&ConsentState::Never, None, &["1.0"]));
    }

    #[test]
    fn consent_under_a_version_the_policy_lists_as_stale_does_not_count() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/policies/jbsync.toml"
        ))
        .unwrap()
        .replacen(
            "categories = [\"style_profile\"]",
            "categories = [\"style_profile\"]\nstale_consent = [\"1.0\"]",
            1,
        );
        let p = load_source(SourceFile::new("jbsync.toml", &text))
            .unwrap()
            .policy;
        let purpose = p.purpose("style_learning");
        let given = |v: &str| ConsentState::Granted {
            at: "2026-01-01T00:00:00Z".parse().unwrap(),
            notice_version: v.into(),
        };
        assert!(is_stale(&given("1.0"), purpose, &[]));
        assert!(!is_stale(&given("2.0"), purpose, &[]));
        assert!(is_stale(&given("2.0"), purpose, &["2.0"]));
        assert!(!is_stale(&given("1.0"), p.purpose("service"), &[]));
    }
}
