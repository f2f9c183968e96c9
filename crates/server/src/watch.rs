//! The watch: at start and then every `watch_interval`, on the blocking pool, read what needs a
//! privacy team's attention (`custos_vault::watch`) into the metrics' gauges, and once a day,
//! from `[digest] at` local time, send the digest of requests at risk and overdue
//! (`custos_rights::digest`) to the configured webhook.
//!
//! The digest is signed like the recipients' webhooks (`Custos-Signature`, HMAC-SHA256 over
//! `"{t}.{body}"`, see `custos_rights::webhook`), its id is `digest-<date>`, and it is sent once
//! a day however many servers run over one database: a server sends only after it moved the
//! stored day forward (`Vault::claim_day`). A failed send gives the claim back and is tried at the
//! next read. Logs carry counts and outcomes, never the URL, the body or the secret.

use std::time::Duration;

use custos_rights::digest::digest;
use custos_rights::request::{Risk, ZONE, day_of};
use custos_vault::watch::Attention;
use jiff::Timestamp;
use zeroize::Zeroizing;

use crate::AppState;
use crate::config::DigestConfig;
use crate::metrics::Watched;

/// The job name of the digest's daily claim.
const JOB: &str = "digest";

/// How long one digest delivery may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A digest webhook, checked and with its secret read, ready to send.
pub struct DigestSender {
    url: String,
    secret: Zeroizing<Vec<u8>>,
    at: jiff::civil::Time,
    agent: ureq::Agent,
}

impl DigestSender {
    /// Checks the URL and reads the secret; the error names the field and what is wrong.
    pub fn new(c: &DigestConfig) -> Result<DigestSender, String> {
        custos_rights::recipients::check_webhook_url(&c.url, 2048)
            .map_err(|why| format!("digest.url: {why}"))?;
        let text = Zeroizing::new(
            std::fs::read(&c.secret_file)
                .map_err(|e| format!("digest.secret_file: {}: {e}", c.secret_file.display()))?,
        );
        let secret = Zeroizing::new(text.trim_ascii_end().to_vec());
        if !(16..=512).contains(&secret.len()) {
            return Err(format!(
                "digest.secret_file: {}: the secret must be 16 to 512 bytes, not {}",
                c.secret_file.display(),
                secret.len()
            ));
        }
        Ok(DigestSender {
            url: c.url.clone(),
            secret,
            at: c.at,
            agent: crate::notifier::agent(TIMEOUT),
        })
    }
}

/// One read, and the digest if it is due. Blocking.
pub fn tick(state: &AppState, sender: Option<&DigestSender>) {
    let Ok(backend) = state.backend() else { return };
    let now = Timestamp::now();
    let today = day_of(now);
    let read = backend.vault().attention();
    let attention = match read {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "the watch could not read what needs attention");
            return;
        }
    };
    state.metrics.observe_watch(watched(&attention, now, today));
    let Some(sender) = sender else { return };
    let local = jiff::tz::TimeZone::get(ZONE)
        .map(|tz| now.to_zoned(tz).time())
        .unwrap_or_else(|_| now.to_zoned(jiff::tz::TimeZone::UTC).time());
    if local < sender.at {
        return;
    }
    match backend.vault().claim_day(JOB, today) {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(error = %e, "the daily digest could not be claimed");
            return;
        }
    }
    let d = digest(today, now, attention.tenants);
    let body = match serde_json::to_vec(&d) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "the daily digest could not be written");
            return;
        }
    };
    let id = format!("digest-{today}");
    match crate::notifier::post_signed(
        &sender.agent,
        &sender.url,
        &sender.secret,
        &id,
        &body,
        TIMEOUT,
    ) {
        Ok(()) => {
            state.metrics.observe_digest("sent");
            tracing::info!(
                date = %today,
                open = d.totals.open,
                at_risk = d.totals.at_risk,
                overdue = d.totals.overdue,
                dead_letters = d.totals.dead_letters,
                "daily digest sent"
            );
        }
        Err(why) => {
            state.metrics.observe_digest("failed");
            tracing::warn!(date = %today, reason = %why, "daily digest not delivered; tried again at the next read");
            if let Err(e) = backend.vault().release_day(JOB, today) {
                tracing::error!(error = %e, "the daily digest's claim could not be given back; it is sent again tomorrow");
            }
        }
    }
}

/// The totals the metrics show.
fn watched(a: &Attention, now: Timestamp, today: jiff::civil::Date) -> Watched {
    let mut w = Watched {
        read_at: now,
        on_track: 0,
        at_risk: 0,
        overdue: 0,
        dead_letters: 0,
        stalest_purge: None,
        never_purged: 0,
        seal: a.audit,
        breaches_open: a.breaches.len() as u64,
        breaches_past_deadline: 0,
        breach_next_deadline: None,
    };
    for b in a.breaches.iter().filter(|b| !b.notified) {
        if b.deadline_at < now {
            w.breaches_past_deadline += 1;
        }
        w.breach_next_deadline = Some(
            w.breach_next_deadline
                .map_or(b.deadline_at, |d| d.min(b.deadline_at)),
        );
    }
    for t in &a.tenants {
        w.dead_letters += t.dead_letters;
        for r in &t.open {
            match r.risk(today) {
                Risk::OnTrack => w.on_track += 1,
                Risk::AtRisk => w.at_risk += 1,
                Risk::Overdue => w.overdue += 1,
                Risk::Closed => {}
            }
        }
    }
    for (_, last) in &a.last_purges {
        match last {
            Some(t) => w.stalest_purge = Some(w.stalest_purge.map_or(*t, |s| s.min(*t))),
            None => w.never_purged += 1,
        }
    }
    w
}

/// Runs [`tick`] at once, then every `every`.
pub(crate) async fn run(
    state: std::sync::Arc<AppState>,
    sender: Option<std::sync::Arc<DigestSender>>,
    every: Duration,
) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let (st, sender) = (state.clone(), sender.clone());
        let _ = tokio::task::spawn_blocking(move || tick(&st, sender.as_deref())).await;
    }
}
