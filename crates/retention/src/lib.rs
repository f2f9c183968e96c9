//! When does a record expire? (PRODUCT.md C4.) The answer follows from the policy's rule for the
//! record's category and the record's clocks: a period counted from a clock (creation, last
//! activity or a named event such as `draft.decided` or `contract.ended`), or "until" an event
//! (`consent.withdrawn`, `integration.removed`), a period of zero meaning "as soon as the event
//! happens". A tenant may choose its own period within the policy's bounds, tiers set periods
//! per subscription, and statutory retention keeps records at least as long as the law requires.
//! Legal holds stop any purge of what they cover.
//!
//! Everything here is a pure function of its inputs; the time is an argument.

use std::collections::BTreeMap;

use custos_policy::Period;
use custos_policy::resolved::{Policy, Retention};
use jiff::{Timestamp, tz::TimeZone};
use serde::Serialize;

/// What a record's clocks say: when it was created, last active, and when each named event
/// (record-, subject- or tenant-level, merged by the caller) happened.
#[derive(Debug, Clone, Default)]
pub struct Clocks {
    /// Creation.
    pub created: Option<Timestamp>,
    /// Last activity.
    pub last_activity: Option<Timestamp>,
    /// Named events, e.g. `draft.decided`, `contract.ended`, `consent.withdrawn`.
    pub events: BTreeMap<String, Timestamp>,
}

impl Clocks {
    /// Clocks of a record created at `created`.
    pub fn created_at(created: Timestamp) -> Clocks {
        Clocks {
            created: Some(created),
            ..Clocks::default()
        }
    }

    /// Records that `event` happened at `at`. Events are idempotent and may arrive late or out
    /// of order: the first time an event happened is the one that counts.
    pub fn record(&mut self, event: &str, at: Timestamp) {
        self.events
            .entry(event.to_owned())
            .and_modify(|t| *t = (*t).min(at))
            .or_insert(at);
    }

    fn get(&self, clock: &str) -> Option<Timestamp> {
        match clock {
            "created" => self.created,
            "last_activity" => self.last_activity.or(self.created),
            other => self.events.get(other).copied(),
        }
    }
}

/// A tenant's retention settings.
#[derive(Debug, Clone, Default)]
pub struct TenantSettings {
    /// Subscription tier.
    pub tier: Option<String>,
    /// Periods the tenant chose, per category, already checked with [`check_override`].
    pub overrides: BTreeMap<String, Period>,
}

/// When a record expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Expiry {
    /// At this moment (it may be in the past: the record is due for purging).
    At {
        /// The moment.
        at: Timestamp,
        /// Which rule decided it, for receipts and reports.
        rule: String,
    },
    /// Not yet known: waiting for the clock the period counts from, or for an `until` event.
    Pending {
        /// The clock or events awaited.
        waiting_for: Vec<String>,
    },
    /// The policy gives no period, only criteria: never purged automatically.
    Manual,
}

impl Expiry {
    /// Whether the record is due at `now`.
    pub fn due(&self, now: Timestamp) -> bool {
        matches!(self, Expiry::At { at, .. } if *at <= now)
    }
}

/// Why a question about retention cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    /// The category is not in the policy.
    #[error("category {} is not defined in the policy", custos_policy::diag::shown(.0))]
    UnknownCategory(String),
    /// The category is never stored, so no record of it can exist.
    #[error("category {} is never stored; no record of it can expire", custos_policy::diag::shown(.0))]
    NeverStored(String),
    /// The policy does not let tenants choose this category's period.
    #[error("category {} has no tenant override in the policy", custos_policy::diag::shown(.0))]
    NoOverride(String),
    /// The chosen period is outside the policy's bounds.
    #[error("{period} is outside the bounds for category `{category}`: {}", bounds_text(.min.as_deref(), .max.as_deref()))]
    OutOfBounds {
        /// Category.
        category: String,
        /// What was asked, in words.
        period: String,
        /// Lower bound, in words.
        min: Option<String>,
        /// Upper bound, in words.
        max: Option<String>,
    },
    /// Adding the period overflowed the calendar.
    #[error("the retention period of category `{0}` overflows the calendar")]
    Overflow(String),
}

impl RetentionError {
    /// Its code in the error table (`docs/errors.md`).
    pub fn code(&self) -> custos_types::ErrorCode {
        use custos_types::ErrorCode as C;
        match self {
            RetentionError::UnknownCategory(_) => C::UnknownCategory,
            RetentionError::NeverStored(_) => C::NeverStored,
            RetentionError::NoOverride(_) => C::NoOverride,
            RetentionError::OutOfBounds { .. } => C::OutOfBounds,
            RetentionError::Overflow(_) => C::PeriodOverflow,
        }
    }
}

fn bounds_text(min: Option<&str>, max: Option<&str>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("between {a} and {b}"),
        (Some(a), None) => format!("at least {a}"),
        (None, Some(b)) => format!("at most {b}"),
        (None, None) => "any period".into(),
    }
}

fn add(at: Timestamp, p: &Period, category: &str) -> Result<Timestamp, RetentionError> {
    at.to_zoned(TimeZone::UTC)
        .checked_add(p.span())
        .map(|z| z.timestamp())
        .map_err(|_| RetentionError::Overflow(category.to_owned()))
}

fn rule_of<'p>(
    policy: &'p Policy,
    category: &str,
) -> Result<Option<&'p Retention>, RetentionError> {
    let c = policy
        .category(category)
        .ok_or_else(|| RetentionError::UnknownCategory(category.to_owned()))?;
    if !c.stored {
        return Err(RetentionError::NeverStored(category.to_owned()));
    }
    Ok(c.retention.as_ref())
}

/// Checks a tenant's chosen period for `category` against the policy's bounds.
pub fn check_override(
    policy: &Policy,
    category: &str,
    period: Period,
) -> Result<(), RetentionError> {
    let rule = rule_of(policy, category)?;
    let bounds = rule
        .and_then(|r| r.tenant_override.as_ref())
        .ok_or_else(|| RetentionError::NoOverride(category.to_owned()))?;
    let below = bounds.min.as_ref().is_some_and(|m| period < *m);
    let above = bounds.max.as_ref().is_some_and(|m| period > *m);
    if below || above {
        return Err(RetentionError::OutOfBounds {
            category: category.to_owned(),
            period: period.to_string(),
            min: bounds.min.map(|m| m.to_string()),
            max: bounds.max.map(|m| m.to_string()),
        });
    }
    Ok(())
}

/// When a record of `category` with `clocks` expires for a tenant with `settings`.
pub fn expiry(
    policy: &Policy,
    category: &str,
    clocks: &Clocks,
    settings: &TenantSettings,
) -> Result<Expiry, RetentionError> {
    let Some(rule) = rule_of(policy, category)? else {
        return Ok(Expiry::Manual);
    };
    // Precedence: the tenant's own choice (within bounds), then its tier, then the default.
    let (period, source) = match (
        settings.overrides.get(category),
        settings
            .tier
            .as_ref()
            .and_then(|t| rule.tiers.iter().find(|x| &x.tier == t)),
    ) {
        (Some(p), _) if rule.tenant_override.is_some() => (Some(*p), "tenant override".to_owned()),
        (_, Some(t)) => (Some(t.period), format!("tier {}", t.tier)),
        _ => (rule.period, "policy".to_owned()),
    };
    let until: Vec<(&String, Timestamp)> = rule
        .until
        .iter()
        .filter_map(|e| clocks.get(e).map(|t| (e, t)))
        .collect();
    let first_until = until.iter().min_by_key(|(_, t)| *t).copied();

    let from_period = match period {
        Some(p) if p.is_zero() && !rule.until.is_empty() => None,
        Some(p) => match clocks.get(&rule.from) {
            Some(start) => Some((
                add(start, &p, category)?,
                format!("{category}: {p} from {} ({source})", rule.from),
            )),
            None => {
                if first_until.is_none() {
                    let mut waiting = vec![rule.from.clone()];
                    waiting.extend(rule.until.iter().cloned());
                    return Ok(Expiry::Pending {
                        waiting_for: waiting,
                    });
                }
                None
            }
        },
        None => None,
    };
    let mut result = match (from_period, first_until) {
        (Some((a, ra)), Some((e, b))) => {
            if b < a {
                (b, format!("{category}: until {e}"))
            } else {
                (a, ra)
            }
        }
        (Some(x), None) => x,
        (None, Some((e, b))) => (b, format!("{category}: until {e}")),
        (None, None) if period.is_none() && rule.until.is_empty() => return Ok(Expiry::Manual),
        (None, None) => {
            return Ok(Expiry::Pending {
                waiting_for: rule.until.clone(),
            });
        }
    };
    // Statutory retention: never before the law's period has run from the same clock.
    if let Some(st) = &rule.statutory
        && let (Some(p), Some(start)) = (&st.period, clocks.get(&rule.from).or(clocks.created))
    {
        let keep_until = add(start, p, category)?;
        if keep_until > result.0 {
            result = (keep_until, format!("{category}: statutory {p}"));
        }
    }
    Ok(Expiry::At {
        at: result.0,
        rule: result.1,
    })
}

/// What a legal hold covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum HoldScope {
    /// Everything of the tenant.
    Tenant,
    /// Every record of one subject (by pseudonym).
    Subject {
        /// Pseudonym.
        subject: String,
    },
    /// Every record of one category.
    Category {
        /// Category id.
        category: String,
    },
}

/// A legal hold: stops every purge of what it covers until released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    /// What it covers.
    pub scope: HoldScope,
    /// Why (a case number, a claim; no personal data).
    pub reason: String,
    /// Who set it.
    pub set_by: String,
}

/// The first hold that covers a record of `category` about `subject`, if any.
pub fn held<'h>(holds: &'h [Hold], subject: &str, category: &str) -> Option<&'h Hold> {
    holds.iter().find(|h| match &h.scope {
        HoldScope::Tenant => true,
        HoldScope::Subject { subject: s } => s == subject,
        HoldScope::Category { category: c } => {
            c == category || category.starts_with(&format!("{c}."))
        }
    })
}

#[cfg(test)]
mod tests;
