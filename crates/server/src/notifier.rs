//! Delivers the notifications outbox: signed webhooks with retries and a dead-letter list (Art. 19).
//!
//! Inside `custos serve`, every `notify_interval`, on the blocking pool, in rounds over the
//! tenants (round-robin, so one tenant's backlog never starves another): claim up to [`BATCH`]
//! due notifications of the tenant (a lease, so another server does not send them meanwhile),
//! POST each to its recipient's webhook with the signature headers, all of the batch at once,
//! each bounded by `notify_timeout`, then record the outcomes in one transaction: delivered,
//! failed and due again after the backoff, or dead after the last attempt. Rounds go on while a
//! tenant still had a full batch, within a time budget. A slow or dead receiver costs one
//! timeout per round, never the worker: the other deliveries of the batch run beside it, and no
//! database connection is held while waiting on the network.
//!
//! The request: `POST <url>` with `Content-Type: application/json`, the body exactly as queued
//! (see `custos_vault::recipients::enqueue_notifications`), `Custos-Signature: t=…,v1=…` and
//! `Custos-Notification-Id` (see [`custos_rights::webhook`]). Any 2xx is an acknowledgement;
//! redirects are not followed (a receiver that moved gets a new webhook). Delivery is at least
//! once: receivers deduplicate on the notification id.
//!
//! Logs and metrics carry counts, tenant and recipient ids and notification ids only: never a
//! body, a URL or a secret.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use custos_rights::webhook::{self, Backoff};
use custos_vault::recipients::{Attempted, DueNotification, Recorded};
use custos_vault::{TenantId, VaultError};
use jiff::Timestamp;

use crate::AppState;

/// Notifications claimed and sent at once per tenant and round.
pub const BATCH: u32 = 16;

/// Who the audit trail names for the notifier's own changes.
const ACTOR: &str = "custos:notifier";

/// How the notifier sends.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The longest one delivery may take, connection included.
    pub timeout: Duration,
    /// When a failed delivery is tried again, and how often.
    pub backoff: Backoff,
    /// How long one run goes on while tenants still have a full batch due (the run ends at
    /// the first round that leaves none, or when this is spent).
    pub budget: Duration,
}

impl Settings {
    /// The lease of a claim: the round's deliveries run at once, so a round lasts about one
    /// timeout; twice that and a minute leaves room for recording the outcomes.
    fn lease(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::try_from(self.timeout.saturating_mul(2))
            .unwrap_or(jiff::SignedDuration::MAX)
            .saturating_add(jiff::SignedDuration::from_secs(60))
    }
}

/// What one run did.
#[derive(Debug, Default)]
pub struct NotifyRun {
    /// Deliveries the recipients acknowledged.
    pub delivered: u64,
    /// Failed attempts (those that made a dead letter included).
    pub failed: u64,
    /// Notifications that went dead in this run.
    pub dead: u64,
    /// Tenants the run could not serve, with the reason.
    pub failed_tenants: Vec<(String, String)>,
    /// Whether the run stopped early because the server is shutting down.
    pub interrupted: bool,
}

/// An HTTP client for deliveries: a total timeout per request, no redirects, statuses as values.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("custos-notifier/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Sends one notification; `Err` says why it failed, in words fit for the dead-letter list.
pub fn deliver(agent: &ureq::Agent, n: &DueNotification, timeout: Duration) -> Result<(), String> {
    post_signed(
        agent,
        &n.url,
        n.secret.expose(),
        &n.notification_id,
        n.body.as_bytes(),
        timeout,
    )
}

/// POSTs `body` to `url` signed with `secret` (the `Custos-Signature` of
/// [`custos_rights::webhook`]) and carrying `id`; any 2xx is an acknowledgement. Every webhook
/// Custos sends goes through here: the recipients' (Art. 19) and the daily digest.
pub fn post_signed(
    agent: &ureq::Agent,
    url: &str,
    secret: &[u8],
    id: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<(), String> {
    let t = Timestamp::now().as_second();
    let signature = webhook::sign(secret, t, body);
    let sent = agent
        .post(url)
        .header("content-type", "application/json")
        .header(webhook::SIGNATURE_HEADER, &signature)
        .header(webhook::ID_HEADER, id)
        .send(body);
    match sent {
        Ok(res) if res.status().is_success() => Ok(()),
        Ok(res) => Err(format!(
            "the receiver answered HTTP {}",
            res.status().as_u16()
        )),
        Err(e) => Err(describe(&e, timeout)),
    }
}

fn describe(e: &ureq::Error, timeout: Duration) -> String {
    use ureq::Error as E;
    match e {
        E::Timeout(_) => format!("no answer within the timeout ({} s)", timeout.as_secs_f64()),
        E::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused: nothing listens at the webhook's address".into()
        }
        E::Io(io) => format!("network error: {}", io.kind()),
        E::HostNotFound => "the webhook's host name does not resolve".into(),
        E::ConnectionFailed => "the connection to the webhook failed".into(),
        E::TlsRequired | E::Tls(_) => {
            "the TLS handshake with the webhook failed (certificate or protocol)".into()
        }
        E::TooManyRedirects | E::RedirectFailed => {
            "the receiver redirected; redirects are not followed, set the webhook to the final URL"
                .into()
        }
        E::BadUri(_) => "the webhook URL cannot be used".into(),
        other => format!("delivery failed: {other}"),
    }
}

/// A number in `[0, 1)` for the backoff's jitter.
fn jitter() -> f64 {
    let mut b = [0u8; 4];
    match getrandom::fill(&mut b) {
        Ok(()) => f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0),
        // Without randomness the nominal delay is as good.
        Err(_) => 0.5,
    }
}

/// One round for one tenant: claims a batch, sends it, records the outcomes. Returns whether
/// the batch was full (more may be due).
fn round(
    state: &AppState,
    agent: &ureq::Agent,
    settings: &Settings,
    tenant: &TenantId,
    run: &mut NotifyRun,
) -> Result<bool, VaultError> {
    let Ok(backend) = state.backend() else {
        return Ok(false);
    };
    let due = backend
        .vault_for_write()
        .tenant(tenant)
        .acting_as(ACTOR)
        .claim_due_notifications(Timestamp::now(), BATCH, settings.lease())?;
    if due.is_empty() {
        return Ok(false);
    }
    // All of the batch at once, each bounded by the timeout: one slow receiver does not
    // hold up the others.
    let outcomes: Vec<Result<(), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = due
            .iter()
            .map(|n| s.spawn(|| deliver(agent, n, settings.timeout)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("the delivery thread failed".into()))
            })
            .collect()
    });
    // The whole batch's outcomes in one transaction.
    let now = Timestamp::now();
    let attempts: Vec<Attempted> = due
        .iter()
        .zip(outcomes)
        .map(|(n, outcome)| Attempted {
            notification_id: n.notification_id.clone(),
            attempt: n.attempt,
            result: outcome.map_err(|why| {
                let retry_at = settings
                    .backoff
                    .next_delay(n.attempt, jitter())
                    .map(|d| now.checked_add(d).unwrap_or(Timestamp::MAX));
                (retry_at, why)
            }),
        })
        .collect();
    let recorded = backend
        .vault_for_write()
        .tenant(tenant)
        .acting_as(ACTOR)
        .record_attempts(&attempts, now)?;
    for ((n, a), r) in due.iter().zip(&attempts).zip(recorded) {
        match r {
            Recorded::Delivered => run.delivered += 1,
            Recorded::Retry(_) => run.failed += 1,
            Recorded::Dead => {
                run.failed += 1;
                run.dead += 1;
                let reason = a.result.as_ref().err().map_or("", |(_, why)| why.as_str());
                tracing::warn!(tenant = %tenant, recipient = %n.recipient, notification_id = %n.notification_id, attempts = n.attempt, reason = %reason, "a notification to a recipient is dead after its last attempt");
            }
            Recorded::Stale => {}
        }
    }
    Ok(due.len() as u32 == BATCH)
}

/// Sends every tenant's due notifications, in rounds of [`BATCH`] per tenant, until none has a
/// full batch left or the budget is spent. Blocking. `stop` ends it between rounds.
pub fn run(
    state: &AppState,
    settings: &Settings,
    stop: &AtomicBool,
) -> Result<NotifyRun, VaultError> {
    let Ok(backend) = state.backend() else {
        return Ok(NotifyRun::default());
    };
    let started = std::time::Instant::now();
    let agent = agent(settings.timeout);
    let mut run = NotifyRun::default();
    let mut tenants = Vec::new();
    for id in backend.vault().tenant_ids()? {
        match TenantId::new(&id) {
            Ok(t) => tenants.push(t),
            Err(e) => run.failed_tenants.push((id, e.to_string())),
        }
    }
    // Round-robin: one batch per tenant per pass, so one tenant's backlog never starves the
    // others; passes go on over the tenants that had a full batch, within the budget.
    while !tenants.is_empty() {
        let mut busy = Vec::new();
        for tenant in tenants {
            if stop.load(Ordering::Acquire) {
                run.interrupted = true;
                return Ok(run);
            }
            match round(state, &agent, settings, &tenant, &mut run) {
                Ok(true) => busy.push(tenant),
                Ok(false) => {}
                Err(e) => run
                    .failed_tenants
                    .push((tenant.as_str().to_owned(), e.to_string())),
            }
        }
        if started.elapsed() >= settings.budget {
            break;
        }
        tenants = busy;
    }
    Ok(run)
}

/// Runs the notifier once, then logs it and counts it in the metrics. Blocking.
pub fn tick(state: &AppState, settings: &Settings, stop: &AtomicBool) {
    let started = std::time::Instant::now();
    match run(state, settings, stop) {
        Ok(r) => {
            let outcome = if r.failed_tenants.is_empty() {
                "ok"
            } else {
                "partial"
            };
            state
                .metrics
                .observe_notifier(outcome, r.delivered, r.failed, r.dead);
            for (tenant, reason) in &r.failed_tenants {
                tracing::warn!(tenant = %tenant, reason = %reason, "the notifier skipped a tenant");
            }
            if r.delivered + r.failed > 0 || !r.failed_tenants.is_empty() {
                tracing::info!(
                    outcome,
                    delivered = r.delivered,
                    failed = r.failed,
                    dead = r.dead,
                    tenants_failed = r.failed_tenants.len() as u64,
                    interrupted = r.interrupted,
                    duration_ms = started.elapsed().as_millis() as u64,
                    "recipient notifications"
                );
            }
        }
        Err(e) => {
            state.metrics.observe_notifier("error", 0, 0, 0);
            tracing::error!(error = %e, duration_ms = started.elapsed().as_millis() as u64, "the notifier failed");
        }
    }
}
