//! Periods of time as a policy writes them: plain words ("7 days", "2 months", "7 years",
//! "72 hours") or ISO 8601 ("P7Y", "PT72H"). Calendar units stay calendar units: "1 month"
//! is not 30 days, so deadlines can later be counted the way Regulation 1182/71 counts them.

use std::cmp::Ordering;
use std::fmt;

use jiff::{Span, SpanRound, Unit, civil::date};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A span of calendar time, kept exactly as written in units (years, months, weeks, days,
/// hours, minutes). Ordering compares the spans' lengths from a fixed reference date, which is
/// what "is this retention longer?" needs.
#[derive(Clone, Copy)]
pub struct Period(Span);

/// Why a text is not a period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a period: write it as a number and a unit (\"7 days\", \"2 months\", \"7 years\", \"72 hours\") or in ISO 8601 (\"P7Y\", \"PT72H\")"
)]
pub struct PeriodError {
    /// The text that was given.
    pub input: String,
}

impl Period {
    /// Parses plain words or ISO 8601. Negative periods and sub-minute precision are refused.
    pub fn parse(input: &str) -> Result<Period, PeriodError> {
        let err = || PeriodError {
            input: input.to_owned(),
        };
        let trimmed = input.trim();
        if trimmed.is_empty() || trimmed.starts_with('-') {
            return Err(err());
        }
        let span: Span = trimmed.parse().map_err(|_| err())?;
        if span.is_negative()
            || span.get_seconds() != 0
            || span.get_milliseconds() != 0
            || span.get_microseconds() != 0
            || span.get_nanoseconds() != 0
        {
            return Err(err());
        }
        Ok(Period(span))
    }

    /// The underlying calendar span.
    pub fn span(&self) -> Span {
        self.0
    }

    /// Whether the period is zero ("immediately").
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    /// Length in hours counted from the fixed reference date 2000-01-01; used for ordering
    /// and for comparing against limits such as the 72 hours of Art. 33(1).
    pub fn nominal_hours(&self) -> f64 {
        let reference = date(2000, 1, 1).at(0, 0, 0, 0);
        self.0.total((Unit::Hour, reference)).unwrap_or(f64::MAX)
    }

    /// ISO 8601 form, e.g. `P7Y`, `PT72H`.
    pub fn iso(&self) -> String {
        self.0.to_string()
    }

    /// The (amount, unit) parts, largest unit first, for rendering in any language.
    /// Units are `years`, `months`, `weeks`, `days`, `hours`, `minutes`.
    pub fn parts(&self) -> Vec<(i64, &'static str)> {
        let s = self.0;
        let all = [
            (i64::from(s.get_years()), "years"),
            (i64::from(s.get_months()), "months"),
            (i64::from(s.get_weeks()), "weeks"),
            (i64::from(s.get_days()), "days"),
            i64_part(s.get_hours(), "hours"),
            i64_part(s.get_minutes(), "minutes"),
        ];
        let parts: Vec<_> = all.into_iter().filter(|(n, _)| *n != 0).collect();
        if parts.is_empty() {
            vec![(0, "days")]
        } else {
            parts
        }
    }

    /// The period with weeks folded into days, for comparing what two policy versions say.
    pub fn normalized(&self) -> Span {
        self.0
            .round(
                SpanRound::new()
                    .largest(Unit::Year)
                    .relative(date(2000, 1, 1)),
            )
            .unwrap_or(self.0)
    }
}

fn i64_part<T: Into<i64>>(v: T, unit: &'static str) -> (i64, &'static str) {
    (v.into(), unit)
}

impl PartialEq for Period {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Period {}
impl PartialOrd for Period {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Period {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nominal_hours().total_cmp(&other.nominal_hours())
    }
}

impl fmt::Debug for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Period({})", self.iso())
    }
}

impl fmt::Display for Period {
    /// English plain words, e.g. `7 years`, `1 month`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self
            .parts()
            .into_iter()
            .map(|(n, unit)| {
                if n == 1 {
                    format!("1 {}", unit.trim_end_matches('s'))
                } else {
                    format!("{n} {unit}")
                }
            })
            .collect();
        f.write_str(&words.join(" "))
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.iso())
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Period;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a period such as \"7 days\", \"2 months\" or \"P7Y\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Period, E> {
                Period::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_and_iso_8601_mean_the_same_period() {
        assert_eq!(
            Period::parse("7 years").unwrap(),
            Period::parse("P7Y").unwrap()
        );
        assert_eq!(
            Period::parse("72 hours").unwrap(),
            Period::parse("PT72H").unwrap()
        );
        assert_eq!(Period::parse("2 months").unwrap().iso(), "P2M");
    }

    #[test]
    fn a_month_is_a_calendar_month_and_longer_than_four_weeks() {
        assert!(Period::parse("1 month").unwrap() > Period::parse("4 weeks").unwrap());
        assert!(Period::parse("3 months").unwrap() > Period::parse("90 days").unwrap());
        assert!(Period::parse("12 months").unwrap() == Period::parse("1 year").unwrap());
    }

    #[test]
    fn nonsense_negative_and_second_precision_are_refused_with_the_input_named() {
        for bad in ["", "seven days", "-3 days", "P", "5 seconds", "7 dayz"] {
            let e = Period::parse(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("`{bad}`")), "{e}");
        }
    }

    #[test]
    fn display_uses_singular_for_one() {
        assert_eq!(Period::parse("1 month").unwrap().to_string(), "1 month");
        assert_eq!(
            Period::parse("P1Y2M").unwrap().to_string(),
            "1 year 2 months"
        );
        assert_eq!(Period::parse("0 days").unwrap().to_string(), "0 days");
    }
}
