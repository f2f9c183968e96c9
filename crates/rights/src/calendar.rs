//! Working-day calendars. A period that would end on a Saturday, Sunday or public holiday ends
//! at the end of the next working day (Regulation 1182/71, Art. 3(4)); which days are public
//! holidays depends on the Member State where the act is done (Art. 2).

use std::collections::BTreeSet;

use jiff::ToSpan;
use jiff::civil::{Date, Weekday};

/// Which days are not working days.
pub trait Calendar {
    /// Whether `d` is a public holiday (weekends are handled separately).
    fn is_public_holiday(&self, d: Date) -> bool;

    /// Whether `d` is a working day: not a Saturday, Sunday or public holiday.
    fn is_working_day(&self, d: Date) -> bool {
        !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) && !self.is_public_holiday(d)
    }
}

/// Saturdays and Sundays only (no public holidays).
#[derive(Debug, Clone, Copy, Default)]
pub struct WeekendsOnly;

impl Calendar for WeekendsOnly {
    fn is_public_holiday(&self, _: Date) -> bool {
        false
    }
}

/// The Dutch calendar of the Algemene termijnenwet (Atw), art. 3: New Year's Day, Good Friday
/// (equated by art. 3(2)), Easter Monday, King's Day, 5 May, Ascension Day, Whit Monday and
/// both Christmas days; plus the days the government equates by decree (art. 3(3)), which are
/// published per period and so come from configuration.
#[derive(Debug, Clone, Default)]
pub struct NlCalendar {
    equated: BTreeSet<Date>,
}

impl NlCalendar {
    /// The statutory days only.
    pub fn new() -> Self {
        NlCalendar::default()
    }

    /// With extra days equated to public holidays by decree (Atw art. 3(3)).
    pub fn with_equated(days: impl IntoIterator<Item = Date>) -> Self {
        NlCalendar {
            equated: days.into_iter().collect(),
        }
    }

    /// The statutory public holidays of `year`, in date order.
    pub fn holidays(year: i16) -> Vec<(Date, &'static str)> {
        let mut out = Vec::new();
        let Some(easter) = easter_sunday(year) else {
            return out;
        };
        let day = |m: i8, d: i8| Date::new(year, m, d).ok();
        let rel = |days: i64| easter.checked_add(days.days()).ok();
        let kings_day = if year >= 2014 {
            // 27 April; when that is a Sunday, the Saturday before.
            day(4, 27).map(|d| {
                if d.weekday() == Weekday::Sunday {
                    d.yesterday().unwrap_or(d)
                } else {
                    d
                }
            })
        } else {
            // Queen's Day, 30 April; when that is a Sunday, the Saturday before (the rule
            // from 1980 to 2013; earlier years are out of scope for request deadlines).
            day(4, 30).map(|d| {
                if d.weekday() == Weekday::Sunday {
                    d.yesterday().unwrap_or(d)
                } else {
                    d
                }
            })
        };
        for (d, name) in [
            (day(1, 1), "Nieuwjaarsdag"),
            (rel(-2), "Goede Vrijdag"),
            (rel(1), "Tweede Paasdag"),
            (kings_day, "Koningsdag"),
            (day(5, 5), "Bevrijdingsdag"),
            (rel(39), "Hemelvaartsdag"),
            (rel(50), "Tweede Pinksterdag"),
            (day(12, 25), "Eerste Kerstdag"),
            (day(12, 26), "Tweede Kerstdag"),
        ] {
            if let Some(d) = d {
                out.push((d, name));
            }
        }
        out.sort();
        out
    }
}

impl Calendar for NlCalendar {
    fn is_public_holiday(&self, d: Date) -> bool {
        self.equated.contains(&d) || NlCalendar::holidays(d.year()).iter().any(|(h, _)| *h == d)
    }
}

/// Easter Sunday in the Gregorian calendar (the anonymous Gregorian algorithm, "Meeus/Jones/
/// Butcher").
pub fn easter_sunday(year: i16) -> Option<Date> {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn easter_falls_on_the_known_sundays() {
        assert_eq!(easter_sunday(2024), Some(date(2024, 3, 31)));
        assert_eq!(easter_sunday(2025), Some(date(2025, 4, 20)));
        assert_eq!(easter_sunday(2026), Some(date(2026, 4, 5)));
        assert_eq!(easter_sunday(2027), Some(date(2027, 3, 28)));
        assert_eq!(easter_sunday(2038), Some(date(2038, 4, 25)));
    }

    #[test]
    fn the_dutch_holidays_of_2026() {
        let got: Vec<_> = NlCalendar::holidays(2026)
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        assert_eq!(
            got,
            [
                date(2026, 1, 1),
                date(2026, 4, 3),
                date(2026, 4, 6),
                date(2026, 4, 27),
                date(2026, 5, 5),
                date(2026, 5, 14),
                date(2026, 5, 25),
                date(2026, 12, 25),
                date(2026, 12, 26),
            ]
        );
    }

    #[test]
    fn kings_day_on_a_sunday_moves_to_the_saturday_before() {
        // 27 April 2025 was a Sunday.
        assert!(NlCalendar::holidays(2025).contains(&(date(2025, 4, 26), "Koningsdag")));
    }

    #[test]
    fn equated_days_are_holidays_too() {
        let c = NlCalendar::with_equated([date(2026, 5, 15)]);
        assert!(!c.is_working_day(date(2026, 5, 15)));
        assert!(NlCalendar::new().is_working_day(date(2026, 5, 15)));
    }
}
