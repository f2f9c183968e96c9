//! The answer to an erasure request (Art. 17 GDPR): what a law obliges the controller to keep
//! (Art. 17(3)(b), `retention.statutory` in the policy), and until when it is kept. The vault
//! erases and counts; these rules say what is kept and how its end is told.

use jiff::Timestamp;
use serde::Serialize;

use custos_policy::{Lang, Policy};

/// A category kept under restriction by an erasure.
#[derive(Debug, Clone, Serialize)]
pub struct Kept {
    /// The category.
    pub category: String,
    /// How many of the subject's records.
    pub records: u64,
    /// The law that obliges keeping them.
    pub law: String,
    /// Until when they are kept: always said (see `docs/rights.md`).
    pub until: KeptUntil,
}

/// Until when an erasure keeps a category's records. Serialised with a `kind`:
/// `{"kind": "date", "date": "2033-03-03T09:05:00Z"}`,
/// `{"kind": "after_event", "event": "contract.ended", "period": "7 years"}` (with `not_before`
/// when some records are already dated), or `{"kind": "criteria", "criteria": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeptUntil {
    /// Every kept record's retention clock has started: the last of them may go at `date`.
    Date {
        /// When the last kept record's retention ends.
        date: Timestamp,
    },
    /// At least one kept record waits for the event that starts its retention clock (e.g.
    /// `contract.ended` not recorded yet): it is kept until `period` after `event` happens.
    AfterEvent {
        /// The event that starts the clock.
        event: String,
        /// The period the law prescribes from it, in words (`7 years`).
        period: String,
        /// The records already dated go no earlier than this.
        #[serde(skip_serializing_if = "Option::is_none")]
        not_before: Option<Timestamp>,
    },
    /// The policy gives the category no period at all, only criteria (Art. 13(2)(a)): kept while
    /// they apply. `custos check` should not let a statutory category get here.
    Criteria {
        /// The criteria, as the policy states them (English, or the policy's language).
        criteria: String,
    },
}

impl std::fmt::Display for KeptUntil {
    /// For people: `2033-03-03`, `7 years after contract.ended (not before 2030-01-01)`, or
    /// `while: <criteria>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Date { date } => write!(f, "{}", date.strftime("%Y-%m-%d")),
            Self::AfterEvent {
                event,
                period,
                not_before,
            } => {
                write!(f, "{period} after {event}")?;
                match not_before {
                    Some(d) => write!(f, " (not before {})", d.strftime("%Y-%m-%d")),
                    None => Ok(()),
                }
            }
            Self::Criteria { criteria } => write!(f, "while: {criteria}"),
        }
    }
}

/// How a statutory category's retention runs, for [`KeptUntil`]: law, clock, period, criteria.
#[derive(Debug, Clone)]
pub struct StatutoryRule {
    /// The category a law obliges keeping.
    pub category: String,
    /// The law, in English (or the policy's language).
    pub law: String,
    /// The event that starts the retention clock.
    pub from: String,
    /// The period, in words, when the policy gives one.
    pub period: Option<String>,
    /// The criteria, or `as long as <law> requires`.
    pub criteria: String,
}

impl StatutoryRule {
    /// The policy's statutory categories (`retention.statutory`): what an erasure keeps
    /// (Art. 17(3)(b)).
    pub fn of(policy: &Policy) -> Vec<StatutoryRule> {
        policy
            .categories
            .iter()
            .filter_map(|c| {
                let r = c.retention.as_ref()?;
                let st = r.statutory.as_ref()?;
                let law = st.law.get_or_any(Lang::En).to_owned();
                Some(StatutoryRule {
                    category: c.id.clone(),
                    from: r.from.clone(),
                    period: st.period.or(r.period).map(|p| p.to_string()),
                    criteria: r
                        .criteria
                        .as_ref()
                        .map(|t| t.get_or_any(Lang::En).to_owned())
                        .unwrap_or_else(|| format!("as long as {law} requires")),
                    law,
                })
            })
            .collect()
    }

    /// Until when the kept records go: `latest` is the last expiry among the kept records that
    /// have one; `waiting` whether any has none yet (its clock's event has not happened).
    pub fn until(&self, latest: Option<Timestamp>, waiting: bool) -> KeptUntil {
        match (latest, waiting, &self.period) {
            (Some(date), false, _) => KeptUntil::Date { date },
            (_, _, Some(period)) => KeptUntil::AfterEvent {
                event: self.from.clone(),
                period: period.clone(),
                not_before: latest,
            },
            (latest, _, None) => match latest {
                Some(date) => KeptUntil::Date { date },
                None => KeptUntil::Criteria {
                    criteria: self.criteria.clone(),
                },
            },
        }
    }
}

/// The answer to an erasure request.
#[derive(Debug, Clone, Serialize)]
pub struct ErasureAnswer {
    /// The erasure.
    pub erasure_id: String,
    /// Data keys destroyed.
    pub keys_destroyed: u64,
    /// Records erased.
    pub records_erased: u64,
    /// What is kept, why and until when (Art. 17(3)(b)).
    pub kept: Vec<Kept>,
    /// Whether this run finished an erasure a crash had interrupted.
    pub resumed: bool,
    /// What the erasure did in each of the company's own databases Custos reaches (PRODUCT.md
    /// C10), in the order they ran; the counts per table are in each dataset's
    /// `connector.erase` receipt in the audit trail.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<DatasetErasure>,
}

/// What one erasure did in one of the company's databases: counts only, no personal data.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DatasetErasure {
    /// The dataset.
    pub dataset: String,
    /// Rows deleted (cascades included).
    pub deleted: u64,
    /// Rows that mentioned the subject, the mentions masked.
    pub masked: u64,
    /// Rows reachable only through deleted ones: kept, no longer linked.
    pub unlinked: u64,
    /// Rows a law obliges keeping (Art. 17(3)(b)), per table, with the date the retention
    /// purge deletes them.
    pub kept: Vec<DatasetKept>,
    /// Rows of the subject a fresh search found after the commit (0: complete).
    pub remaining: u64,
}

/// Rows of one table kept under statutory retention after an erasure (Art. 17(3)(b)).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DatasetKept {
    /// The table.
    pub table: String,
    /// How many rows.
    pub rows: u64,
    /// Until when (the statutory clock of the latest row plus its period); the retention purge
    /// deletes them then.
    pub until: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_policy::{SourceFile, load_source};

    fn at(s: &str) -> Timestamp {
        s.parse().expect("a moment")
    }

    fn rule(period: Option<&str>) -> StatutoryRule {
        StatutoryRule {
            category: "billing".into(),
            law: "Article 52 AWR".into(),
            from: "contract.ended".into(),
            period: period.map(str::to_owned),
            criteria: "as long as Article 52 AWR requires".into(),
        }
    }

    #[test]
    fn an_erasure_keeps_the_categories_a_law_obliges_keeping() {
        // Art. 17(3)(b): erasure does not apply where processing is necessary "for compliance
        // with a legal obligation which requires processing by Union or Member State law".
        let policy = load_source(SourceFile::new(
            "jbsync.toml",
            include_str!("../../../examples/policies/jbsync.toml"),
        ))
        .expect("the example policy loads")
        .policy;
        let rules = StatutoryRule::of(&policy);
        let laws: Vec<(&str, &str)> = rules
            .iter()
            .map(|r| (r.category.as_str(), r.law.as_str()))
            .collect();
        assert!(laws.contains(&("account", "tax retention")), "{laws:?}");
        assert!(laws.contains(&("billing", "Article 52 AWR")), "{laws:?}");
    }

    #[test]
    fn kept_records_that_are_all_dated_go_on_the_last_date() {
        let until = rule(Some("7 years")).until(Some(at("2033-03-03T09:05:00Z")), false);
        assert_eq!(until.to_string(), "2033-03-03");
    }

    #[test]
    fn a_kept_record_waiting_for_its_event_goes_a_period_after_it() {
        let until = rule(Some("7 years")).until(Some(at("2030-01-01T00:00:00Z")), true);
        assert_eq!(
            until.to_string(),
            "7 years after contract.ended (not before 2030-01-01)"
        );
        assert_eq!(
            rule(Some("7 years")).until(None, true).to_string(),
            "7 years after contract.ended"
        );
    }

    #[test]
    fn without_a_period_or_a_date_the_criteria_are_said() {
        assert_eq!(
            rule(None).until(None, true).to_string(),
            "while: as long as Article 52 AWR requires"
        );
    }
}
