//! The legal parameters of breach notification, as versioned data rather than code: how many
//! hours the controller has to notify the authority, from which risk on, and whether there is a
//! single EU entry point. A proposal to change the law (the Digital Omnibus) is one more set
//! with its own date, chosen by the operator, never switched on by default.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// From which risk on the authority must be notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Threshold {
    /// Any risk: "unless the breach is unlikely to result in a risk" (Art. 33(1) GDPR).
    Risk,
    /// Only a high risk (the Digital Omnibus proposal).
    HighRisk,
}

/// One version of the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalRules {
    /// A short stable id, e.g. `gdpr-2016`; lowercase letters, digits and `-`.
    pub id: String,
    /// The first day these rules apply.
    pub effective_from: Date,
    /// Where the rules come from, quoted in every reason that relies on them.
    pub citation: String,
    /// Hours from awareness within which the authority must be notified.
    pub notify_authority_hours: u32,
    /// From which risk on the authority must be notified.
    pub authority_threshold: Threshold,
    /// Whether notifications go to a single EU entry point instead of the competent authority.
    pub single_entry_point: bool,
}

/// The longest notification period a rule set may declare: 30 days. Anything longer is a typo.
const MAX_HOURS: u32 = 720;

/// The GDPR as adopted: Art. 33(1) Regulation (EU) 2016/679, applicable from 25 May 2018 —
/// notify the competent authority within 72 hours of awareness, unless the breach is unlikely
/// to result in a risk.
pub fn gdpr_2016() -> LegalRules {
    LegalRules {
        id: "gdpr-2016".into(),
        effective_from: jiff::civil::date(2018, 5, 25),
        citation: "Art. 33(1) GDPR (Regulation (EU) 2016/679)".into(),
        notify_authority_hours: 72,
        authority_threshold: Threshold::Risk,
        single_entry_point: false,
    }
}

/// The Digital Omnibus proposal (COM(2025) 837, 19 November 2025): the authority only for a
/// high risk, within 96 hours, through a single EU entry point. A proposal, not law: it applies
/// only from the date an operator configures, once (if ever) it is adopted.
pub fn digital_omnibus(effective_from: Date) -> LegalRules {
    LegalRules {
        id: "digital-omnibus".into(),
        effective_from,
        citation: "Art. 33(1) GDPR as amended by the Digital Omnibus (proposal COM(2025) 837)"
            .into(),
        notify_authority_hours: 96,
        authority_threshold: Threshold::HighRisk,
        single_entry_point: true,
    }
}

/// The built-in rule sets: the GDPR, plus the Digital Omnibus from `omnibus_from` when the
/// operator configured that date. Ordered by `effective_from`.
pub fn builtin(omnibus_from: Option<Date>) -> Vec<LegalRules> {
    let mut sets = vec![gdpr_2016()];
    sets.extend(omnibus_from.map(digital_omnibus));
    sets.sort_by_key(|s| s.effective_from);
    sets
}

/// The set in force on `date`: the one with the latest `effective_from` not after `date`.
/// Refuses a date before every set.
pub fn rules_on(date: Date, sets: &[LegalRules]) -> Result<&LegalRules, Error> {
    sets.iter()
        .filter(|s| s.effective_from <= date)
        .max_by_key(|s| s.effective_from)
        .ok_or_else(|| Error::NotInForce {
            field: "effective_from".into(),
            reason: match sets.iter().map(|s| s.effective_from).min() {
                Some(first) => {
                    format!("no rule set is in force on {date}; the earliest applies from {first}")
                }
                None => "no rule sets were given".into(),
            },
        })
}

impl LegalRules {
    /// Reads a rule set from any serde data (a TOML table, JSON), checks it, and says which
    /// field is wrong and why when it cannot be used: unknown fields, wrong types, an id that
    /// is not lowercase letters, digits and `-`, an empty citation, hours outside 1–720.
    pub fn parse<'de, D: serde::Deserializer<'de>>(data: D) -> Result<LegalRules, Error> {
        let rules: LegalRules = serde_path_to_error::deserialize(data).map_err(|e| {
            let path = e.path().to_string();
            Error::Rules {
                field: if path == "." { "(top)".into() } else { path },
                reason: e.into_inner().to_string(),
            }
        })?;
        rules.check()?;
        Ok(rules)
    }

    /// Checks a rule set built in code or read from data; see [`LegalRules::parse`].
    pub fn check(&self) -> Result<(), Error> {
        let bad = |field: &str, reason: &str| Error::Rules {
            field: field.into(),
            reason: reason.into(),
        };
        if self.id.is_empty()
            || !self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(bad(
                "id",
                "use lowercase letters, digits and `-`, e.g. `gdpr-2016`",
            ));
        }
        if self.citation.trim().is_empty() {
            return Err(bad(
                "citation",
                "cite the provision the rules come from; every reason quotes it",
            ));
        }
        if self.notify_authority_hours == 0 || self.notify_authority_hours > MAX_HOURS {
            return Err(bad(
                "notify_authority_hours",
                "must be between 1 and 720 hours (the GDPR says 72)",
            ));
        }
        Ok(())
    }
}

/// Checks a list of rule sets as a whole: each set on its own, no id twice, no two sets
/// starting on the same day (which one would apply?).
pub fn check_sets(sets: &[LegalRules]) -> Result<(), Error> {
    for (i, set) in sets.iter().enumerate() {
        set.check()?;
        for other in &sets[..i] {
            if other.id == set.id {
                return Err(Error::Rules {
                    field: "id".into(),
                    reason: format!("`{}` is declared twice", set.id),
                });
            }
            if other.effective_from == set.effective_from {
                return Err(Error::Rules {
                    field: "effective_from".into(),
                    reason: format!(
                        "`{}` and `{}` both start on {}: give each its own date",
                        other.id, set.id, set.effective_from
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn gdpr_gives_72_hours_unless_unlikely_to_result_in_a_risk() {
        // Art. 33(1): "not later than 72 hours after having become aware of it … unless the
        // personal data breach is unlikely to result in a risk".
        let r = gdpr_2016();
        assert_eq!(r.notify_authority_hours, 72);
        assert_eq!(r.authority_threshold, Threshold::Risk);
        assert!(!r.single_entry_point);
        assert_eq!(r.check(), Ok(()));
    }

    #[test]
    fn omnibus_is_not_in_force_by_default() {
        let sets = builtin(None);
        assert_eq!(sets.len(), 1);
        assert_eq!(
            rules_on(date(2030, 1, 1), &sets).map(|r| r.id.as_str()),
            Ok("gdpr-2016")
        );
    }

    #[test]
    fn omnibus_applies_from_the_configured_date_only() {
        let sets = builtin(Some(date(2027, 6, 1)));
        assert_eq!(
            rules_on(date(2027, 5, 31), &sets).map(|r| r.id.as_str()),
            Ok("gdpr-2016")
        );
        let omnibus = rules_on(date(2027, 6, 1), &sets).expect("in force");
        assert_eq!(omnibus.id, "digital-omnibus");
        assert_eq!(omnibus.notify_authority_hours, 96);
        assert_eq!(omnibus.authority_threshold, Threshold::HighRisk);
        assert!(omnibus.single_entry_point);
        assert_eq!(check_sets(&sets), Ok(()));
    }

    #[test]
    fn no_set_before_the_gdpr_applied() {
        let err = rules_on(date(2018, 5, 24), &builtin(None)).unwrap_err();
        assert!(matches!(err, Error::NotInForce { ref field, .. } if field == "effective_from"));
        assert!(err.to_string().contains("2018-05-25"));
        assert!(rules_on(date(2020, 1, 1), &[]).is_err());
    }

    #[test]
    fn a_rule_set_is_read_from_toml() {
        let table: toml::Table = r#"
            id = "gdpr-2027"
            effective_from = "2027-01-01"
            citation = "Art. 33(1) GDPR as amended"
            notify_authority_hours = 96
            authority_threshold = "high_risk"
            single_entry_point = true
        "#
        .parse()
        .expect("valid toml");
        let rules = LegalRules::parse(toml::Value::Table(table)).expect("valid rules");
        assert_eq!(rules.effective_from, date(2027, 1, 1));
        assert_eq!(rules.authority_threshold, Threshold::HighRisk);
    }

    #[test]
    fn a_wrong_type_names_its_field() {
        let err = LegalRules::parse(serde_json::json!({
            "id": "x", "effective_from": "2027-01-01", "citation": "c",
            "notify_authority_hours": "72", "authority_threshold": "risk",
            "single_entry_point": false
        }))
        .unwrap_err();
        assert!(
            matches!(err, Error::Rules { ref field, .. } if field == "notify_authority_hours"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_field_or_threshold_is_refused() {
        let err = LegalRules::parse(serde_json::json!({
            "id": "x", "effective_from": "2027-01-01", "citation": "c",
            "notify_authority_hours": 72, "authority_threshold": "risk",
            "single_entry_point": false, "hours": 96
        }))
        .unwrap_err();
        assert!(err.to_string().contains("hours"), "{err}");
        let err = LegalRules::parse(serde_json::json!({
            "id": "x", "effective_from": "2027-01-01", "citation": "c",
            "notify_authority_hours": 72, "authority_threshold": "medium",
            "single_entry_point": false
        }))
        .unwrap_err();
        assert!(
            matches!(err, Error::Rules { ref field, .. } if field == "authority_threshold"),
            "{err}"
        );
    }

    #[test]
    fn nonsense_values_are_refused_with_the_field() {
        let mut r = gdpr_2016();
        r.notify_authority_hours = 0;
        assert!(
            matches!(r.check(), Err(Error::Rules { field, .. }) if field == "notify_authority_hours")
        );
        let mut r = gdpr_2016();
        r.id = "GDPR 2016".into();
        assert!(matches!(r.check(), Err(Error::Rules { field, .. }) if field == "id"));
        let mut r = gdpr_2016();
        r.citation = " ".into();
        assert!(matches!(r.check(), Err(Error::Rules { field, .. }) if field == "citation"));
    }

    #[test]
    fn sets_with_the_same_id_or_start_are_refused() {
        let mut sets = builtin(Some(date(2027, 1, 1)));
        sets.push(gdpr_2016());
        assert!(matches!(check_sets(&sets), Err(Error::Rules { field, .. }) if field == "id"));
        let sets = vec![gdpr_2016(), digital_omnibus(date(2018, 5, 25))];
        assert!(
            matches!(check_sets(&sets), Err(Error::Rules { field, .. }) if field == "effective_from")
        );
    }
}
