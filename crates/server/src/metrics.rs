//! Prometheus metrics: request counts and latency histograms per route and status, and the
//! retention purges (records purged per category, runs per outcome), and the webhook notifier
//! (deliveries per outcome, runs per outcome), and processing decisions (reasons per effect and
//! rule), and what the watch last read for a privacy team (open data-subject requests by risk,
//! dead letters, purge lag, the audit trail's unsealed tail, digests sent). Routes are the
//! matched templates (`/v1/policy`), never raw paths, so no id or personal data becomes a label;
//! the watch's gauges are totals over all tenants (per-tenant detail is in the digest, which
//! goes to the privacy team rather than to whoever can scrape `/metrics`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// The registry.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), Series>>,
    /// Records purged, per category (policy ids, never personal data).
    purged: Mutex<BTreeMap<String, u64>>,
    /// Purge runs, per outcome (`ok`, `partial`, `error`).
    purge_runs: Mutex<BTreeMap<&'static str, u64>>,
    /// Webhook delivery attempts to recipients, per outcome (`delivered`, `failed`, `dead`).
    notifications: Mutex<BTreeMap<&'static str, u64>>,
    /// Notifier runs, per outcome (`ok`, `partial`, `error`).
    notifier_runs: Mutex<BTreeMap<&'static str, u64>>,
    /// Processing decisions' reasons, per effect and rule (static rule ids, never personal data).
    decisions: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// What the watch read last.
    watched: Mutex<Option<Watched>>,
    /// Daily digests, per outcome (`sent`, `failed`).
    digests: Mutex<BTreeMap<&'static str, u64>>,
}

/// What the watch read last: totals over all tenants.
#[derive(Debug, Clone, Copy)]
pub struct Watched {
    /// When it was read.
    pub read_at: jiff::Timestamp,
    /// Open requests on track, at risk (due within 7 days) and overdue.
    pub on_track: u64,
    /// See `on_track`.
    pub at_risk: u64,
    /// See `on_track`.
    pub overdue: u64,
    /// Recipient notifications waiting for a person.
    pub dead_letters: u64,
    /// The least recent of the tenants' last purges (`None`: no tenant purged yet).
    pub stalest_purge: Option<jiff::Timestamp>,
    /// Tenants with data that were never purged.
    pub never_purged: u64,
    /// The audit trail's seal.
    pub seal: custos_vault::watch::SealState,
    /// Open breaches in the register.
    pub breaches_open: u64,
    /// Open breaches whose authority deadline passed without the authority told.
    pub breaches_past_deadline: u64,
    /// The soonest authority deadline not yet met (`None`: none).
    pub breach_next_deadline: Option<jiff::Timestamp>,
}

impl Metrics {
    /// Records one request.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let s = map
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default();
        s.count += 1;
        s.sum += secs;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                s.buckets[i] += 1;
            }
        }
    }

    /// Records one scheduled purge run: its outcome and the records purged per category.
    pub fn observe_purge(&self, outcome: &'static str, purged: &BTreeMap<String, u64>) {
        *self
            .purge_runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(outcome)
            .or_default() += 1;
        let mut map = self.purged.lock().unwrap_or_else(|p| p.into_inner());
        for (category, n) in purged {
            *map.entry(category.clone()).or_default() += n;
        }
    }

    /// Records one notifier run: its outcome, and its delivery attempts that succeeded, failed
    /// (to be retried) and failed for the last time (dead letters).
    pub fn observe_notifier(&self, outcome: &'static str, delivered: u64, failed: u64, dead: u64) {
        *self
            .notifier_runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(outcome)
            .or_default() += 1;
        let mut map = self.notifications.lock().unwrap_or_else(|p| p.into_inner());
        for (k, n) in [("delivered", delivered), ("failed", failed), ("dead", dead)] {
            *map.entry(k).or_default() += n;
        }
    }

    /// Records one processing decision: each of its reasons as (effect, rule).
    pub fn observe_decision(&self, reasons: impl Iterator<Item = (&'static str, &'static str)>) {
        let mut map = self.decisions.lock().unwrap_or_else(|p| p.into_inner());
        for key in reasons {
            *map.entry(key).or_default() += 1;
        }
    }

    /// Keeps what the watch read.
    pub fn observe_watch(&self, w: Watched) {
        *self.watched.lock().unwrap_or_else(|p| p.into_inner()) = Some(w);
    }

    /// Records one daily digest's outcome (`sent`, `failed`).
    pub fn observe_digest(&self, outcome: &'static str) {
        *self
            .digests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(outcome)
            .or_default() += 1;
    }

    /// The watch's gauges, ages measured at `now` (the scrape).
    fn render_watch(&self, out: &mut String, now: jiff::Timestamp) {
        let secs = |t: jiff::Timestamp| t.as_millisecond() as f64 / 1000.0;
        let age =
            |t: jiff::Timestamp| (now.as_millisecond() - t.as_millisecond()).max(0) as f64 / 1000.0;
        let mut gauge = |name: &str, help: &str, value: Option<f64>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            if let Some(v) = value {
                let _ = writeln!(out, "{name} {v}");
            }
        };
        let w = *self.watched.lock().unwrap_or_else(|p| p.into_inner());
        gauge(
            "custos_watch_last_read_timestamp_seconds",
            "When the server last read the open requests, dead letters, purges and audit seal (Unix time).",
            w.map(|w| secs(w.read_at)),
        );
        gauge(
            "custos_breaches_open",
            "Breaches open in the register (Art. 33(5)).",
            w.map(|w| w.breaches_open as f64),
        );
        gauge(
            "custos_breaches_past_deadline",
            "Open breaches whose 72 hours (Art. 33(1)) passed without the authority told: the notification must now give the reasons for the delay.",
            w.map(|w| w.breaches_past_deadline as f64),
        );
        gauge(
            "custos_breach_deadline_seconds",
            "Time left until the soonest authority deadline not yet met (negative once passed); absent when none runs.",
            w.and_then(|w| w.breach_next_deadline)
                .map(|d| (d.as_millisecond() - now.as_millisecond()) as f64 / 1000.0),
        );
        gauge(
            "custos_notifications_dead_letters",
            "Recipient notifications (Art. 19) that failed for the last time and wait for a person.",
            w.map(|w| w.dead_letters as f64),
        );
        gauge(
            "custos_purge_lag_seconds",
            "Time since the least recently purged tenant's last retention purge: no expired record has waited longer than this plus one purge.",
            w.and_then(|w| w.stalest_purge).map(age),
        );
        gauge(
            "custos_purge_never_run_tenants",
            "Tenants with data whose retention purge has never run.",
            w.map(|w| w.never_purged as f64),
        );
        gauge(
            "custos_audit_unsealed_entries",
            "Audit entries after the last signed checkpoint.",
            w.map(|w| w.seal.head.saturating_sub(w.seal.sealed) as f64),
        );
        gauge(
            "custos_audit_unsealed_age_seconds",
            "Age of the oldest audit entry no signed checkpoint covers (0: all sealed).",
            w.map(|w| w.seal.oldest_unsealed_at.map_or(0.0, age)),
        );
        gauge(
            "custos_audit_last_checkpoint_timestamp_seconds",
            "When the last audit checkpoint was signed (Unix time).",
            w.and_then(|w| w.seal.last_checkpoint_at).map(secs),
        );
        let _ = writeln!(
            out,
            "# HELP custos_requests_open Open data-subject requests by risk against their Art. 12(3) deadline: on_track, at_risk (due within 7 days), overdue.\n# TYPE custos_requests_open gauge"
        );
        if let Some(w) = w {
            for (risk, n) in [
                ("on_track", w.on_track),
                ("at_risk", w.at_risk),
                ("overdue", w.overdue),
            ] {
                let _ = writeln!(out, "custos_requests_open{{risk=\"{risk}\"}} {n}");
            }
        }
        let digests = self.digests.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(
            out,
            "# HELP custos_digest_runs_total Daily digests of requests at risk, by outcome.\n# TYPE custos_digest_runs_total counter"
        );
        for (outcome, n) in digests.iter() {
            let _ = writeln!(out, "custos_digest_runs_total{{outcome=\"{outcome}\"}} {n}");
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_watch(&mut out, jiff::Timestamp::now());
        {
            let runs = self.purge_runs.lock().unwrap_or_else(|p| p.into_inner());
            out.push_str("# HELP custos_purge_runs_total Scheduled retention purge runs by outcome.\n# TYPE custos_purge_runs_total counter\n");
            for (outcome, n) in runs.iter() {
                let _ = writeln!(out, "custos_purge_runs_total{{outcome=\"{outcome}\"}} {n}");
            }
            let purged = self.purged.lock().unwrap_or_else(|p| p.into_inner());
            out.push_str("# HELP custos_purged_records_total Records deleted by scheduled retention purges, by category.\n# TYPE custos_purged_records_total counter\n");
            for (category, n) in purged.iter() {
                let _ = writeln!(
                    out,
                    "custos_purged_records_total{{category=\"{category}\"}} {n}"
                );
            }
        }
        {
            let runs = self.notifier_runs.lock().unwrap_or_else(|p| p.into_inner());
            out.push_str("# HELP custos_notifier_runs_total Webhook notifier runs by outcome.\n# TYPE custos_notifier_runs_total counter\n");
            for (outcome, n) in runs.iter() {
                let _ = writeln!(
                    out,
                    "custos_notifier_runs_total{{outcome=\"{outcome}\"}} {n}"
                );
            }
            let sent = self.notifications.lock().unwrap_or_else(|p| p.into_inner());
            out.push_str("# HELP custos_notifications_total Webhook deliveries to recipients (Art. 19) by outcome: delivered, failed (retried later), dead (no attempts left).\n# TYPE custos_notifications_total counter\n");
            for (outcome, n) in sent.iter() {
                let _ = writeln!(
                    out,
                    "custos_notifications_total{{outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        {
            let decisions = self.decisions.lock().unwrap_or_else(|p| p.into_inner());
            out.push_str("# HELP custos_decisions_total Reasons given by processing decisions, by effect and rule.\n# TYPE custos_decisions_total counter\n");
            for ((effect, rule), n) in decisions.iter() {
                let _ = writeln!(
                    out,
                    "custos_decisions_total{{effect=\"{effect}\",rule=\"{rule}\"}} {n}"
                );
            }
        }
        let map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str("# HELP custos_http_requests_total HTTP requests by route and status.\n# TYPE custos_http_requests_total counter\n");
        for ((method, route, status), s) in map.iter() {
            let _ = writeln!(
                out,
                "custos_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        out.push_str("# HELP custos_http_request_duration_seconds Request latency by route.\n# TYPE custos_http_request_duration_seconds histogram\n");
        for ((method, route, status), s) in map.iter() {
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "custos_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "custos_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "custos_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "custos_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        let groups = custos_vault::group_commit_totals();
        let _ = writeln!(
            out,
            "# HELP custos_write_groups_total Transactions that committed API writes of records together (PostgreSQL group commit).\n# TYPE custos_write_groups_total counter\ncustos_write_groups_total {}\n# HELP custos_grouped_writes_total Writes of records those transactions held (divided by custos_write_groups_total: the mean group size).\n# TYPE custos_grouped_writes_total counter\ncustos_grouped_writes_total {}",
            groups.transactions, groups.writes
        );
        out
    }
}
