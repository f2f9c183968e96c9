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
    /// Overrides as stored that cannot be read as a period: category → the stored text. Kept
    /// apart rather than dropped, so that the category's expiry is an error
    /// ([`RetentionError::UnreadableOverride`]) instead of silently the policy's default.
    pub unreadable: BTreeMap<String, String>,
}

impl TenantSettings {
    /// Settings from their stored form: the tier and each override's period as text. An
    /// override that does not parse goes to [`TenantSettings::unreadable`].
    pub fn from_stored(tier: Option<String>, overrides: &BTreeMap<String, String>) -> Self {
        let mut settings = TenantSettings {
            tier,
            ..TenantSettings::default()
        };
        for (category, text) in overrides {
            match Period::parse(text) {
                Ok(p) => {
                    settings.overrides.insert(category.clone(), p);
                }
                Err(_) => {
                    settings.unreadable.insert(category.clone(), text.clone());
                }
            }
        }
        settings
    }
}

/// Where the period that applies to a category for a tenant comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeriodSource {
    /// The tenant's own choice, within the policy's bounds.
    TenantOverride,
    /// The tenant's subscription tier.
    Tier(String),
    /// The policy's default.
    Policy,
}

impl PeriodSource {
    /// In words, for receipts: `tenant override`, `tier pro`, `policy`.
    pub fn label(&self) -> String {
        match self {
            PeriodSource::TenantOverride => "tenant override".into(),
            PeriodSource::Tier(t) => format!("tier {t}"),
            PeriodSource::Policy => "policy".into(),
        }
    }
}

/// The period of `rule` (for `category`) that applies to a tenant with `settings`, and where it
/// comes from. Precedence: the tenant's own choice (only where the policy allows one), then its
/// tier, then the policy's default (which may be no period: `until` events or criteria only).
/// A stored override the policy would apply but that cannot be read is an error, never the
/// default in its place.
pub fn applicable_period(
    rule: &Retention,
    category: &str,
    settings: &TenantSettings,
) -> Result<(Option<Period>, PeriodSource), RetentionError> {
    if rule.tenant_override.is_some() {
        if let Some(text) = settings.unreadable.get(category) {
            return Err(RetentionError::UnreadableOverride {
                category: category.to_owned(),
                stored: text.clone(),
            });
        }
        if let Some(p) = settings.overrides.get(category) {
            return Ok((Some(*p), PeriodSource::TenantOverride));
        }
    }
    let tier = settings
        .tier
        .as_ref()
        .and_then(|t| rule.tiers.iter().find(|x| &x.tier == t));
    Ok(match tier {
        Some(t) => (Some(t.period), PeriodSource::Tier(t.tier.clone())),
        None => (rule.period, PeriodSource::Policy),
    })
}

/// The rule of `category` for a tenant with `settings`, in words (for receipts and reports),
/// e.g. `30 days from created (tenant override)`, `until consent.withdrawn or
/// integration.removed`, `7 years from subscription.ended; statutory 7 years`. A rule whose
/// period cannot be determined says why, so a report shows it rather than a default.
pub fn rule_text(policy: &Policy, category: &str, settings: &TenantSettings) -> String {
    let Some(rule) = policy.category(category).and_then(|c| c.retention.as_ref()) else {
        return "no retention rule (kept until erased)".into();
    };
    let (period, source) = match applicable_period(rule, category, settings) {
        Ok(x) => x,
        Err(e) => return format!("expiry cannot be computed: {e}"),
    };
    let source = match source {
        PeriodSource::Policy => String::new(),
        other => format!(" ({})", other.label()),
    };
    let mut parts = Vec::new();
    if let Some(p) = period {
        parts.push(format!("{p} from {}{source}", rule.from));
    }
    if !rule.until.is_empty() {
        parts.push(format!("until {}", rule.until.join(" or ")));
    }
    if parts.is_empty() {
        parts.push("criteria only (never purged automatically)".into());
    }
    let mut text = parts.join(", or ");
    if let Some(p) = rule
        .statutory
        .as_ref()
        .and_then(|st| st.period.or(rule.period))
    {
        text.push_str(&format!("; statutory {p}"));
    }
    text
}

/// Why the expiries of `category` cannot be computed for a tenant with `settings`, if they
/// cannot: what a retention report lists so that such a category is never silently kept.
pub fn rule_problem(
    policy: &Policy,
    category: &str,
    settings: &TenantSettings,
) -> Option<RetentionError> {
    let rule = policy.category(category)?.retention.as_ref()?;
    applicable_period(rule, category, settings).err()
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
    /// The tenant's stored override for the category is not a period (the stored state was
    /// edited or damaged): its records' expiries cannot be computed until it is set again or
    /// removed.
    #[error(
        "the tenant's retention override for category `{category}` cannot be read ({stored:?}); set it again or remove it"
    )]
    UnreadableOverride {
        /// Category.
        category: String,
        /// The stored text.
        stored: String,
    },
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
            RetentionError::UnreadableOverride { .. } => C::UnreadableOverride,
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
    let (period, source) = applicable_period(rule, category, settings)?;
    let source = source.label();
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

/// What a legal hold covers (Art. 17(3)(e) GDPR: data kept for legal claims).
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
    /// Every record of one category and of the categories named under it (`calendar` covers
    /// `calendar.event`, not `calendars`).
    Category {
        /// Category id.
        category: String,
    },
}

impl HoldScope {
    /// The scope of a stored hold: a pseudonym makes it a subject hold, else a category makes
    /// it a category hold, else it covers the whole tenant.
    pub fn of(subject: Option<&str>, category: Option<&str>) -> HoldScope {
        match (subject, category) {
            (Some(s), _) => HoldScope::Subject {
                subject: s.to_owned(),
            },
            (None, Some(c)) => HoldScope::Category {
                category: c.to_owned(),
            },
            (None, None) => HoldScope::Tenant,
        }
    }

    /// `tenant`, `subject` or `category`, as receipts and answers name it.
    pub fn kind(&self) -> &'static str {
        match self {
            HoldScope::Tenant => "tenant",
            HoldScope::Subject { .. } => "subject",
            HoldScope::Category { .. } => "category",
        }
    }

    /// Whether the hold covers a record of `category` about `subject` (by pseudonym): such a
    /// record may be neither changed, deleted nor purged while the hold is active.
    pub fn covers(&self, subject: &str, category: &str) -> bool {
        match self {
            HoldScope::Tenant => true,
            HoldScope::Subject { subject: s } => s == subject,
            HoldScope::Category { category: c } => named_under(category, c),
        }
    }

    /// Whether the hold covers any of the data of `subject`, who has records of `categories`:
    /// an erasure of the subject is then refused.
    pub fn covers_any<'c>(
        &self,
        subject: &str,
        categories: impl IntoIterator<Item = &'c str>,
    ) -> bool {
        match self {
            HoldScope::Category { .. } => categories.into_iter().any(|c| self.covers(subject, c)),
            _ => self.covers(subject, ""),
        }
    }

    /// The categories of `policy` a purge must leave alone under this hold, whoever the
    /// subject: for a category hold, the category itself (even if the policy no longer names
    /// it) and [`categories_under`] it; nothing for a subject hold; every category for a tenant
    /// hold (`None`: no list is needed, nothing is purged).
    pub fn purge_exempt(&self, policy: &Policy) -> Option<Vec<String>> {
        match self {
            HoldScope::Tenant => None,
            HoldScope::Subject { .. } => Some(Vec::new()),
            HoldScope::Category { category } => {
                let mut list = categories_under(policy, category);
                if !list.contains(category) {
                    list.push(category.clone());
                }
                Some(list)
            }
        }
    }
}

/// Whether `category` is `parent` or named under it (`parent.` followed by more).
fn named_under(category: &str, parent: &str) -> bool {
    category
        .strip_prefix(parent)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The policy's categories equal to `category` or under it: named under it (dotted) or with it
/// as their declared parent. A change to the category's retention (an override) reaches these,
/// and a category hold keeps them from the purge.
pub fn categories_under(policy: &Policy, category: &str) -> Vec<String> {
    policy
        .categories
        .iter()
        .filter(|c| named_under(&c.id, category) || c.parent.as_deref() == Some(category))
        .map(|c| c.id.clone())
        .collect()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "../../../testkit/policies.rs"]
mod example_policies;
