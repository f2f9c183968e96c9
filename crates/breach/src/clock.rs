//! The notification clock (Art. 33(1) GDPR): the controller notifies the authority "without
//! undue delay and, where feasible, not later than 72 hours after having become aware of it".
//!
//! The deadline is awareness plus the rule set's hours, counted straight through nights,
//! weekends and public holidays: Regulation 1182/71 (the EU rules on periods) moves the end of
//! a period to the next working day only for periods "other than those expressed in hours"
//! (Art. 3(4)). The arithmetic is in UTC, so a change to or from summer time in between cannot
//! move the deadline by an hour. Under Art. 3(1) of that regulation the hour in which awareness
//! falls is not counted, which would end the period at the end of the 72nd full hour after it;
//! Custos shows the earlier `aware_at + 72h`, the conservative reading.
//!
//! Whether to notify at all is [`crate::assess`]'s question; the clock only counts.
//!
//! **Processors** (Art. 33(2)) notify their controller "without undue delay": the GDPR sets no
//! hours. Custos therefore gives a processor no deadline of its own unless the processing
//! agreement sets one (`contract_hours`); it reports, as context, the controller's deadline if
//! the controller became aware at the same moment — the earliest the controller's 72 hours can
//! end, since a controller becomes aware when its processor tells it (EDPB Guidelines 9/2022).

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::record::{Breach, Role};
use crate::rules::LegalRules;

/// Reminders before a deadline, in hours left: 24, 6 and 1.
pub const DEFAULT_REMINDERS: [u32; 3] = [24, 6, 1];

/// Whose clock this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Duty {
    /// The controller's duty to notify the authority (Art. 33(1)).
    Controller,
    /// The processor's duty to notify the controller (Art. 33(2)): no hours in the GDPR;
    /// `contract_hours` when the processing agreement sets a limit.
    Processor {
        /// Hours set by the processing agreement, if any.
        contract_hours: Option<u32>,
    },
}

/// The clock of one breach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// When the organisation became aware.
    pub aware_at: Timestamp,
    /// Whose duty.
    pub duty: Duty,
    /// The hours of the rule set in force (the controller's period).
    pub rule_hours: u32,
    /// The rule set's citation, for reasons shown beside the clock.
    pub citation: String,
    /// When the duty was met (the authority, or for a processor the controller, was told).
    pub notified_at: Option<Timestamp>,
}

/// Where the clock stands at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Status {
    /// Time left, more than the largest reminder threshold.
    Running {
        /// The deadline.
        deadline: Timestamp,
        /// Time left.
        left: SignedDuration,
    },
    /// Within a reminder threshold: `threshold_hours` is the smallest threshold not yet
    /// undercut (24, 6 or 1 with the defaults).
    Due {
        /// The deadline.
        deadline: Timestamp,
        /// Time left.
        left: SignedDuration,
        /// The threshold crossed.
        threshold_hours: u32,
    },
    /// The deadline passed without notification: the notification must now give the reasons
    /// for the delay (Art. 33(1), second sentence).
    Passed {
        /// The deadline.
        deadline: Timestamp,
        /// How long ago.
        overdue: SignedDuration,
    },
    /// Notified: the clock stopped. `late` when after the deadline (reasons for the delay
    /// needed).
    Notified {
        /// When.
        at: Timestamp,
        /// After the deadline.
        late: bool,
    },
    /// A processor without a contractual limit: "without undue delay" (Art. 33(2)). `since`
    /// is the time since awareness; `controller_deadline_earliest` the controller's deadline had
    /// it become aware at the same moment.
    WithoutUndueDelay {
        /// Time since awareness.
        since: SignedDuration,
        /// Context: the earliest end of the controller's period.
        controller_deadline_earliest: Timestamp,
    },
}

/// A moment to remind someone of the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    /// When to remind.
    pub at: Timestamp,
    /// Hours left at that moment.
    pub hours_left: u32,
}

impl Clock {
    /// The controller's clock: awareness plus the rule set's hours (Art. 33(1)).
    pub fn controller(aware_at: Timestamp, rules: &LegalRules) -> Clock {
        Clock {
            aware_at,
            duty: Duty::Controller,
            rule_hours: rules.notify_authority_hours,
            citation: rules.citation.clone(),
            notified_at: None,
        }
    }

    /// A processor's clock (Art. 33(2)); see the module documentation.
    pub fn processor(
        aware_at: Timestamp,
        rules: &LegalRules,
        contract_hours: Option<u32>,
    ) -> Clock {
        Clock {
            duty: Duty::Processor { contract_hours },
            ..Clock::controller(aware_at, rules)
        }
    }

    /// The clock of a registered breach: its role decides the duty, and the first time the
    /// authority (controller) or a controller (processor) was told stops it.
    pub fn of(breach: &Breach, rules: &LegalRules, contract_hours: Option<u32>) -> Clock {
        let aware = breach.aware_at.value;
        match breach.role {
            Role::Controller => Clock {
                notified_at: breach.authority_notified_at(),
                ..Clock::controller(aware, rules)
            },
            Role::Processor => Clock {
                notified_at: breach
                    .first_told(|p| matches!(p, crate::record::Party::Controller { .. }))
                    .map(|t| t.at),
                ..Clock::processor(aware, rules, contract_hours)
            },
        }
    }

    /// The same clock, stopped at `at`.
    pub fn notified(self, at: Timestamp) -> Clock {
        Clock {
            notified_at: Some(at),
            ..self
        }
    }

    fn plus_hours(&self, hours: u32) -> Timestamp {
        // A Timestamp is an instant in UTC: adding hours to it is exact, whatever happens to
        // the clocks on the wall in between.
        self.aware_at
            .saturating_add(SignedDuration::from_hours(i64::from(hours)))
            .expect("adding a bounded number of hours to a timestamp saturates, never fails")
    }

    /// The deadline of this duty: for a controller awareness plus the rule's hours; for a
    /// processor the contractual limit, or `None` ("without undue delay", no hours).
    pub fn deadline(&self) -> Option<Timestamp> {
        match self.duty {
            Duty::Controller => Some(self.plus_hours(self.rule_hours)),
            Duty::Processor { contract_hours } => contract_hours.map(|h| self.plus_hours(h)),
        }
    }

    /// The controller's deadline had it become aware at the same moment as this clock's
    /// awareness: for a controller its own deadline; for a processor, context only.
    pub fn controller_deadline_earliest(&self) -> Timestamp {
        self.plus_hours(self.rule_hours)
    }

    /// Where the clock stands at `now`, with `thresholds` (hours left) for the `Due` status;
    /// pass [`DEFAULT_REMINDERS`] for 24, 6 and 1 hours.
    pub fn status(&self, now: Timestamp, thresholds: &[u32]) -> Status {
        let deadline = self.deadline();
        if let Some(at) = self.notified_at {
            return Status::Notified {
                at,
                late: deadline.is_some_and(|d| at > d),
            };
        }
        let Some(deadline) = deadline else {
            return Status::WithoutUndueDelay {
                since: now.duration_since(self.aware_at),
                controller_deadline_earliest: self.controller_deadline_earliest(),
            };
        };
        let left = deadline.duration_since(now);
        if left.is_negative() {
            return Status::Passed {
                deadline,
                overdue: -left,
            };
        }
        let crossed = thresholds
            .iter()
            .copied()
            .filter(|&h| left <= SignedDuration::from_hours(i64::from(h)))
            .min();
        match crossed {
            Some(threshold_hours) => Status::Due {
                deadline,
                left,
                threshold_hours,
            },
            None => Status::Running { deadline, left },
        }
    }

    /// `true` when a notification made at `now` (or already made late) must give reasons for
    /// the delay (Art. 33(1), second sentence: "Where the notification … is not made within 72
    /// hours, it shall be accompanied by reasons for the delay"). Never for a processor without
    /// a contractual limit: Art. 33(2) has no hours.
    pub fn requires_delay_reason(&self, now: Timestamp) -> bool {
        match (self.deadline(), self.notified_at) {
            (None, _) => false,
            (Some(d), Some(at)) => at > d,
            (Some(d), None) => now > d,
        }
    }

    /// The moments to remind someone, `thresholds` hours before the deadline, earliest first;
    /// thresholds longer than the whole period are left out (they would fall before awareness).
    /// Empty without a deadline or once notified.
    pub fn reminders(&self, thresholds: &[u32]) -> Vec<Reminder> {
        let (Some(deadline), None) = (self.deadline(), self.notified_at) else {
            return Vec::new();
        };
        let mut out: Vec<Reminder> = thresholds
            .iter()
            .copied()
            .filter_map(|h| {
                let at = deadline
                    .checked_sub(SignedDuration::from_hours(i64::from(h)))
                    .ok()?;
                (at >= self.aware_at).then_some(Reminder { at, hours_left: h })
            })
            .collect();
        out.sort_by_key(|r| r.at);
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Answer, BreachId, Kind, Party, Source, Told};
    use crate::rules::{digital_omnibus, gdpr_2016};

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("test timestamp")
    }

    #[test]
    fn deadline_is_72_hours_after_awareness_across_the_end_of_summer_time() {
        // Europe/Amsterdam leaves summer time on the last Sunday of October (25 October 2026,
        // 03:00 CEST → 02:00 CET). Counted in UTC, 72 hours stay 72 hours.
        let clock = Clock::controller(ts("2026-10-24T10:00:00Z"), &gdpr_2016());
        assert_eq!(clock.deadline(), Some(ts("2026-10-27T10:00:00Z")));
        let local = clock
            .deadline()
            .expect("controller deadline")
            .in_tz("Europe/Amsterdam")
            .expect("tz database has Europe/Amsterdam");
        // Awareness was 12:00 CEST; the deadline is 11:00 CET: the same instant 72 hours on.
        assert_eq!(local.hour(), 11);
    }

    #[test]
    fn hours_run_through_the_weekend_and_holidays() {
        // Reg. 1182/71 art. 3(4) rolls to the next working day only periods not in hours.
        // Aware Friday 24 December 2027 16:00Z: the deadline is Monday 27 December 16:00Z,
        // Christmas Day and Sunday included.
        let clock = Clock::controller(ts("2027-12-24T16:00:00Z"), &gdpr_2016());
        assert_eq!(clock.deadline(), Some(ts("2027-12-27T16:00:00Z")));
    }

    #[test]
    fn omnibus_rules_give_96_hours() {
        let clock = Clock::controller(
            ts("2028-01-03T08:00:00Z"),
            &digital_omnibus(jiff::civil::date(2027, 1, 1)),
        );
        assert_eq!(clock.deadline(), Some(ts("2028-01-07T08:00:00Z")));
    }

    #[test]
    fn status_runs_then_falls_due_then_passes() {
        let clock = Clock::controller(ts("2026-03-02T09:00:00Z"), &gdpr_2016());
        let deadline = ts("2026-03-05T09:00:00Z");
        assert_eq!(
            clock.status(ts("2026-03-02T10:00:00Z"), &DEFAULT_REMINDERS),
            Status::Running {
                deadline,
                left: SignedDuration::from_hours(71)
            }
        );
        assert_eq!(
            clock.status(ts("2026-03-04T10:00:00Z"), &DEFAULT_REMINDERS),
            Status::Due {
                deadline,
                left: SignedDuration::from_hours(23),
                threshold_hours: 24
            }
        );
        assert_eq!(
            clock.status(ts("2026-03-05T08:30:00Z"), &DEFAULT_REMINDERS),
            Status::Due {
                deadline,
                left: SignedDuration::from_mins(30),
                threshold_hours: 1
            }
        );
        assert_eq!(
            clock.status(ts("2026-03-05T11:00:00Z"), &DEFAULT_REMINDERS),
            Status::Passed {
                deadline,
                overdue: SignedDuration::from_hours(2)
            }
        );
    }

    #[test]
    fn a_passed_deadline_requires_a_reason_for_the_delay() {
        let clock = Clock::controller(ts("2026-03-02T09:00:00Z"), &gdpr_2016());
        assert!(!clock.requires_delay_reason(ts("2026-03-05T09:00:00Z")));
        assert!(clock.requires_delay_reason(ts("2026-03-05T09:00:01Z")));
        let on_time = clock.clone().notified(ts("2026-03-04T09:00:00Z"));
        assert!(!on_time.requires_delay_reason(ts("2026-03-09T00:00:00Z")));
        let late = clock.notified(ts("2026-03-06T09:00:00Z"));
        assert!(late.requires_delay_reason(ts("2026-03-09T00:00:00Z")));
        assert_eq!(
            late.status(ts("2026-03-09T00:00:00Z"), &DEFAULT_REMINDERS),
            Status::Notified {
                at: ts("2026-03-06T09:00:00Z"),
                late: true
            }
        );
    }

    #[test]
    fn notification_stops_the_clock() {
        let clock = Clock::controller(ts("2026-03-02T09:00:00Z"), &gdpr_2016())
            .notified(ts("2026-03-03T09:00:00Z"));
        assert_eq!(
            clock.status(ts("2026-03-10T00:00:00Z"), &DEFAULT_REMINDERS),
            Status::Notified {
                at: ts("2026-03-03T09:00:00Z"),
                late: false
            }
        );
        assert!(clock.reminders(&DEFAULT_REMINDERS).is_empty());
    }

    #[test]
    fn reminders_fall_24_6_and_1_hours_before_the_deadline() {
        let clock = Clock::controller(ts("2026-03-02T09:00:00Z"), &gdpr_2016());
        let at: Vec<_> = clock
            .reminders(&[1, 24, 6, 100])
            .into_iter()
            .map(|r| (r.at, r.hours_left))
            .collect();
        assert_eq!(
            at,
            [
                (ts("2026-03-04T09:00:00Z"), 24),
                (ts("2026-03-05T03:00:00Z"), 6),
                (ts("2026-03-05T08:00:00Z"), 1),
            ]
        );
    }

    #[test]
    fn a_processor_has_no_deadline_of_its_own_but_sees_the_controllers() {
        // Art. 33(2): "without undue delay", no hours.
        let clock = Clock::processor(ts("2026-03-02T09:00:00Z"), &gdpr_2016(), None);
        assert_eq!(clock.deadline(), None);
        assert!(clock.reminders(&DEFAULT_REMINDERS).is_empty());
        assert!(!clock.requires_delay_reason(ts("2026-04-01T00:00:00Z")));
        assert_eq!(
            clock.status(ts("2026-03-02T15:00:00Z"), &DEFAULT_REMINDERS),
            Status::WithoutUndueDelay {
                since: SignedDuration::from_hours(6),
                controller_deadline_earliest: ts("2026-03-05T09:00:00Z"),
            }
        );
    }

    #[test]
    fn a_processor_with_a_contractual_limit_counts_it() {
        let clock = Clock::processor(ts("2026-03-02T09:00:00Z"), &gdpr_2016(), Some(24));
        assert_eq!(clock.deadline(), Some(ts("2026-03-03T09:00:00Z")));
        assert_eq!(
            clock.controller_deadline_earliest(),
            ts("2026-03-05T09:00:00Z")
        );
        assert!(clock.requires_delay_reason(ts("2026-03-03T10:00:00Z")));
    }

    #[test]
    fn the_clock_of_a_breach_stops_at_the_first_notification() {
        let mut b = Breach::new(
            BreachId::new("b1").expect("valid id"),
            Answer::person(ts("2026-03-02T09:00:00Z"), "dpo"),
            Answer::person(vec![Kind::Confidentiality], "dpo"),
        );
        b.told.push(Told {
            party: Party::Authority {
                name: "Autoriteit Persoonsgegevens".into(),
            },
            at: ts("2026-03-03T09:00:00Z"),
            reference: None,
            source: Source::Person {
                actor: "dpo".into(),
            },
        });
        let clock = Clock::of(&b, &gdpr_2016(), None);
        assert_eq!(clock.notified_at, Some(ts("2026-03-03T09:00:00Z")));
        b.role = Role::Processor;
        let clock = Clock::of(&b, &gdpr_2016(), None);
        assert_eq!(
            clock.notified_at, None,
            "telling the authority is not telling the controller"
        );
        assert_eq!(clock.deadline(), None);
    }
}
