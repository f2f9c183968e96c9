//! The daily digest for a privacy team: which data-subject requests are overdue or at risk,
//! per tenant, each with why, as a pure function of the open requests and the day.
//!
//! Art. 12(3) GDPR: the controller answers "without undue delay and in any event within one
//! month of receipt", a period that "may be extended by two further months where necessary",
//! and "shall inform the data subject of any such extension within one month of receipt,
//! together with the reasons for the delay". So an open request is at risk from
//! [`AT_RISK_DAYS`](crate::request::AT_RISK_DAYS) days before its due date, and while it is not
//! extended, the same date is also the last day to tell the subject of an extension.
//!
//! The digest names requests by id, kind, state and dates only: no subject, no pseudonym, no
//! channel detail. It leaves Custos (a webhook today, e-mail later), so it carries nothing a
//! person could be recognised by.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

use crate::request::{Request, Risk};

/// The digest of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    /// What this document is: `custos.digest.requests`.
    pub kind: &'static str,
    /// The day it is about, in the controller's time zone.
    pub date: Date,
    /// When it was made.
    pub generated_at: Timestamp,
    /// Over all tenants.
    pub totals: Totals,
    /// Per tenant with open requests or dead letters, by tenant id.
    pub tenants: Vec<TenantDigest>,
}

/// Counts over all tenants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Open requests.
    pub open: u64,
    /// Open requests due within the at-risk window.
    pub at_risk: u64,
    /// Open requests past their due date.
    pub overdue: u64,
    /// Recipient notifications (Art. 19) that failed for the last time and wait for a person.
    pub dead_letters: u64,
}

/// One tenant's part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantDigest {
    /// The tenant.
    pub tenant: String,
    /// Its counts.
    pub totals: Totals,
    /// Overdue requests, most overdue first.
    pub overdue: Vec<Item>,
    /// Requests at risk, soonest due first.
    pub at_risk: Vec<Item>,
}

/// A request that needs attention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// The request's id.
    pub request_id: String,
    /// What is asked (`access`, `erasure`, …).
    pub kind: &'static str,
    /// The article that grants it.
    pub article: &'static str,
    /// Where it stands (`received`, `verified`, `in_progress`).
    pub state: &'static str,
    /// The day of receipt.
    pub received_on: Date,
    /// The due date.
    pub due_on: Date,
    /// Whether the two-month extension was taken.
    pub extended: bool,
    /// Days until the due date (negative: days late).
    pub days_left: i32,
    /// Why it is listed and what to do, in a sentence.
    pub why: String,
}

/// What one tenant holds: its open requests and its dead letters.
pub struct TenantState {
    /// The tenant.
    pub tenant: String,
    /// Its open requests (closed ones are ignored).
    pub open: Vec<Request>,
    /// Its dead letters.
    pub dead_letters: u64,
}

/// The digest of `today`, made at `now`.
pub fn digest(today: Date, now: Timestamp, tenants: Vec<TenantState>) -> Digest {
    let mut totals = Totals::default();
    let mut out = Vec::new();
    for t in tenants {
        let mut d = TenantDigest {
            tenant: t.tenant,
            totals: Totals {
                dead_letters: t.dead_letters,
                ..Totals::default()
            },
            overdue: Vec::new(),
            at_risk: Vec::new(),
        };
        for r in t.open.iter().filter(|r| !r.state.is_closed()) {
            d.totals.open += 1;
            match r.risk(today) {
                Risk::Overdue => {
                    d.totals.overdue += 1;
                    d.overdue.push(item(r, today, Risk::Overdue));
                }
                Risk::AtRisk => {
                    d.totals.at_risk += 1;
                    d.at_risk.push(item(r, today, Risk::AtRisk));
                }
                Risk::OnTrack | Risk::Closed => {}
            }
        }
        d.overdue
            .sort_by_key(|i| (i.days_left, i.request_id.clone()));
        d.at_risk
            .sort_by_key(|i| (i.days_left, i.request_id.clone()));
        totals.open += d.totals.open;
        totals.at_risk += d.totals.at_risk;
        totals.overdue += d.totals.overdue;
        totals.dead_letters += d.totals.dead_letters;
        if d.totals.open > 0 || d.totals.dead_letters > 0 {
            out.push(d);
        }
    }
    out.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    Digest {
        kind: "custos.digest.requests",
        date: today,
        generated_at: now,
        totals,
        tenants: out,
    }
}

fn item(r: &Request, today: Date, risk: Risk) -> Item {
    let days_left = today
        .until(r.due_on)
        .map(|s| s.get_days())
        .unwrap_or_default();
    let why = match (risk, r.extended) {
        (Risk::Overdue, _) => format!(
            "overdue: the answer was due on {} ({} day{} late); answer now and record the delay \
             (Art. 12(3) GDPR)",
            r.due_on,
            -days_left,
            if days_left == -1 { "" } else { "s" }
        ),
        (_, false) => format!(
            "due on {} ({days_left} day{} left): answer, or tell the subject of an extension with \
             its reasons before then (Art. 12(3) GDPR)",
            r.due_on,
            if days_left == 1 { "" } else { "s" }
        ),
        (_, true) => format!(
            "due on {} after the extension ({days_left} day{} left): no further extension is \
             possible (Art. 12(3) GDPR)",
            r.due_on,
            if days_left == 1 { "" } else { "s" }
        ),
    };
    Item {
        request_id: r.request_id.clone(),
        kind: r.kind.as_str(),
        article: r.kind.article(),
        state: r.state.as_str(),
        received_on: r.received_on,
        due_on: r.due_on,
        extended: r.extended,
        days_left,
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{RequestKind, RequestState};
    use jiff::civil::date;

    fn request(id: &str, received_on: Date, due_on: Date, extended: bool) -> Request {
        Request {
            request_id: id.into(),
            kind: RequestKind::Access,
            state: RequestState::Verified,
            purpose: None,
            subject: "9f86d081884c7d659a2feaa0c55ad015".into(),
            received_at: "2026-10-01T09:00:00Z".parse().unwrap(),
            received_on,
            due_on,
            extended,
            verified_at: None,
            closed_at: None,
            detail: serde_json::json!({ "channel": "email" }),
        }
    }

    #[test]
    fn a_request_received_on_the_first_of_november_is_at_risk_on_the_twenty_fifth_and_overdue_after_the_first_of_december()
     {
        // Received 1 November 2026: one month ends on 1 December 2026 (a Tuesday), Reg. 1182/71.
        let r = request("a1", date(2026, 11, 1), date(2026, 12, 1), false);
        let on = |d: Date| {
            digest(
                d,
                "2026-12-05T07:00:00Z".parse().unwrap(),
                vec![TenantState {
                    tenant: "jbsync".into(),
                    open: vec![r.clone()],
                    dead_letters: 0,
                }],
            )
        };
        assert_eq!(on(date(2026, 11, 23)).totals.at_risk, 0, "8 days left");
        let d = on(date(2026, 11, 25));
        assert_eq!(d.totals.at_risk, 1);
        assert_eq!(d.tenants[0].at_risk[0].days_left, 6);
        assert!(
            d.tenants[0].at_risk[0]
                .why
                .contains("tell the subject of an extension"),
            "{}",
            d.tenants[0].at_risk[0].why
        );
        assert_eq!(
            on(date(2026, 12, 1)).totals.overdue,
            0,
            "due today is not late"
        );
        let d = on(date(2026, 12, 3));
        assert_eq!(d.totals.overdue, 1);
        assert_eq!(d.tenants[0].overdue[0].days_left, -2);
        assert!(d.tenants[0].overdue[0].why.contains("2 days late"));
    }

    #[test]
    fn an_extended_request_at_risk_says_no_further_extension_is_possible() {
        let r = request("b2", date(2026, 10, 1), date(2026, 12, 1), true);
        let d = digest(
            date(2026, 11, 28),
            "2026-11-28T07:00:00Z".parse().unwrap(),
            vec![TenantState {
                tenant: "t".into(),
                open: vec![r],
                dead_letters: 0,
            }],
        );
        assert!(d.tenants[0].at_risk[0].why.contains("no further extension"));
    }

    #[test]
    fn the_digest_carries_no_subject_and_skips_quiet_tenants() {
        let d = digest(
            date(2026, 12, 5),
            "2026-12-05T07:00:00Z".parse().unwrap(),
            vec![
                TenantState {
                    tenant: "quiet".into(),
                    open: vec![],
                    dead_letters: 0,
                },
                TenantState {
                    tenant: "busy".into(),
                    open: vec![request("c3", date(2026, 11, 1), date(2026, 12, 1), false)],
                    dead_letters: 2,
                },
            ],
        );
        assert_eq!(d.tenants.len(), 1);
        assert_eq!(d.totals.dead_letters, 2);
        let json = serde_json::to_string(&d).unwrap();
        assert!(!json.contains("9f86d081884c7d659a2feaa0c55ad015"), "{json}");
        assert!(!json.contains("email"), "{json}");
    }
}
