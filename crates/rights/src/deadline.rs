//! When a request must be answered: "within one month of receipt", extendable "by two further
//! months" (Art. 12(3) GDPR), counted as Regulation (EEC, Euratom) No 1182/71 counts periods:
//! - Art. 3(1): the day of receipt does not count;
//! - Art. 3(2)(c): a period in months ends at the end of the day in the last month with the same
//!   date as the day of receipt, or, when that month has no such date, at the end of its last day;
//! - Art. 3(4): a period that would end on a Saturday, Sunday or public holiday ends at the end
//!   of the next working day.
//!
//! The extended period is counted from the day of receipt too (three months in all), not from
//! the rolled-forward first deadline.

use jiff::ToSpan;
use jiff::civil::Date;

use crate::calendar::Calendar;

/// A computed deadline with how it was reached, so anyone can check the arithmetic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    /// The day the request was received.
    pub received: Date,
    /// The date the months land on (Art. 3(2)(c)).
    pub nominal: Date,
    /// The due date after moving past weekends and holidays (Art. 3(4)).
    pub due: Date,
}

/// Adds `months` to `d`, clamping to the last day of a shorter month (Art. 3(2)(c)).
fn add_months(d: Date, months: i64) -> Option<Date> {
    // jiff clamps a day that does not exist in the target month to its last day.
    d.checked_add(months.months()).ok()
}

/// The next working day on or after `d`.
fn roll_forward(mut d: Date, cal: &dyn Calendar) -> Option<Date> {
    // At most a handful of days: a long weekend around Christmas is four.
    for _ in 0..31 {
        if cal.is_working_day(d) {
            return Some(d);
        }
        d = d.tomorrow().ok()?;
    }
    None
}

/// The due date of a request received on `received`: one month, or three with the extension.
/// `None` only beyond the calendar's range (the year 9999).
///
/// A request received on 31 January 2027: February has no 31st, so the month ends on its last
/// day (Art. 3(2)(c) of Reg. 1182/71), Sunday 28 February; a period ending on a Sunday runs to
/// the end of the next working day (Art. 3(4)), Monday 1 March.
///
/// ```
/// use custos_rights::{NlCalendar, due_date};
/// use jiff::civil::date;
///
/// let d = due_date(date(2027, 1, 31), false, &NlCalendar::new()).unwrap();
/// assert_eq!(d.nominal, date(2027, 2, 28));
/// assert_eq!(d.due, date(2027, 3, 1));
/// ```
pub fn due_date(received: Date, extended: bool, cal: &dyn Calendar) -> Option<Deadline> {
    let nominal = add_months(received, if extended { 3 } else { 1 })?;
    Some(Deadline {
        received,
        nominal,
        due: roll_forward(nominal, cal)?,
    })
}

/// The last day to tell the person that the period is extended, with the reasons: within one
/// month of receipt (Art. 12(3), second sentence).
pub fn extension_notice_due(received: Date, cal: &dyn Calendar) -> Option<Date> {
    due_date(received, false, cal).map(|d| d.due)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{NlCalendar, WeekendsOnly};
    use jiff::civil::date;

    fn nl(y: i16, m: i8, d: i8, extended: bool) -> Date {
        due_date(date(y, m, d), extended, &NlCalendar::new())
            .unwrap()
            .due
    }

    #[test]
    fn the_same_date_next_month_when_that_is_a_working_day() {
        assert_eq!(nl(2026, 3, 15, false), date(2026, 4, 15));
    }

    #[test]
    fn a_missing_date_ends_on_the_last_day_of_the_month() {
        // 31 January + 1 month → 28 February 2026, a Saturday → Monday 2 March.
        let d = due_date(date(2026, 1, 31), false, &NlCalendar::new()).unwrap();
        assert_eq!(d.nominal, date(2026, 2, 28));
        assert_eq!(d.due, date(2026, 3, 2));
        // In a leap year, 29 February, a Thursday.
        assert_eq!(nl(2024, 1, 31, false), date(2024, 2, 29));
    }

    #[test]
    fn weekends_roll_forward_to_monday() {
        // 14 February 2026 (Sat) + 1 month → 14 March (Sat) → 16 March.
        assert_eq!(nl(2026, 2, 14, false), date(2026, 3, 16));
        assert_eq!(
            due_date(date(2026, 2, 15), false, &WeekendsOnly)
                .unwrap()
                .due,
            date(2026, 3, 16)
        );
    }

    #[test]
    fn dutch_holidays_roll_forward() {
        // Easter Monday 6 April 2026 → 7 April.
        assert_eq!(nl(2026, 3, 6, false), date(2026, 4, 7));
        // Good Friday 3 April 2026 → Monday 6 April is Easter Monday → 7 April.
        assert_eq!(nl(2026, 3, 3, false), date(2026, 4, 7));
        // King's Day, Monday 27 April 2026 → 28 April.
        assert_eq!(nl(2026, 3, 27, false), date(2026, 4, 28));
        // Liberation Day, Tuesday 5 May 2026 → 6 May.
        assert_eq!(nl(2026, 4, 5, false), date(2026, 5, 6));
        // Ascension, Thursday 14 May 2026 → Friday 15 May (unless a decree equates it).
        assert_eq!(nl(2026, 4, 14, false), date(2026, 5, 15));
        let with_bridge = NlCalendar::with_equated([date(2026, 5, 15)]);
        assert_eq!(
            due_date(date(2026, 4, 14), false, &with_bridge)
                .unwrap()
                .due,
            date(2026, 5, 18)
        );
        // Whit Monday 25 May 2026 → 26 May.
        assert_eq!(nl(2026, 4, 25, false), date(2026, 5, 26));
        // Christmas Friday 25 December 2026 → Sat, Sun → Monday 28 December.
        assert_eq!(nl(2026, 11, 25, false), date(2026, 12, 28));
        // New Year's Day 2027 is a Friday → Monday 4 January.
        assert_eq!(nl(2026, 12, 1, false), date(2027, 1, 4));
    }

    #[test]
    fn the_extension_counts_three_months_from_receipt() {
        assert_eq!(nl(2026, 1, 31, true), date(2026, 4, 30));
        // 30 November 2025 + 3 months → 28 February 2026 (Sat) → 2 March.
        assert_eq!(nl(2025, 11, 30, true), date(2026, 3, 2));
        // The extension must be announced within the first month.
        assert_eq!(
            extension_notice_due(date(2026, 1, 31), &NlCalendar::new()),
            Some(date(2026, 3, 2))
        );
    }

    #[test]
    fn the_day_of_receipt_does_not_count() {
        // Received on the last day of a month: the period still runs a full month.
        assert_eq!(nl(2026, 6, 30, false), date(2026, 7, 30));
    }
}
