//! Events for the application itself: when Custos deletes records the application may hold
//! copies of (a retention purge, an erasure), the application is told, so it can drop its
//! caches, search indexes and derived copies too. Without that, a record purged in Custos could
//! live on in the application, and the promise in the statement ("kept at most 7 days") would be
//! kept in one place only.
//!
//! A tenant opts in by giving its application a webhook ([`TenantVault::set_app_webhook`]); the
//! events then go through the same outbox as the recipients' Art. 19 notices (same transaction
//! as the deletion, same signature, retries and dead letters; see [`crate::recipients`]), under
//! the reserved recipient id [`APP`], which no policy recipient can have (policy ids have no `@`).
//! Without a webhook nothing is queued and the purge keeps its fastest path.
//!
//! The body names records by the ids Custos gave them when they were stored, which the
//! application already has; never a subject identifier, a pseudonym or a payload:
//!
//! ```json
//! {"id":"ntf_…","type":"records.purged","tenant":"acme","occurred_at":"2026-12-05T10:00:00Z",
//!  "categories":["mail.metadata"],"records":["3f…","9a…"]}
//! {"id":"ntf_…","type":"subject.erased","tenant":"acme","occurred_at":"…","erasure_id":"…",
//!  "records":["…"],"restricted":["…"]}
//! ```
//!
//! `restricted` lists records kept under statutory retention (Art. 17(3)(b) GDPR): the
//! application must stop processing them, but Custos keeps them until their period ends.

use jiff::Timestamp;

use crate::error::Result;
use crate::recipients::{Webhook, WebhookSecret, random_id};
use crate::store::{Tx, Val};
use crate::vault::TenantVault;

/// The recipient id under which the application's own webhook and events are stored.
pub const APP: &str = "@app";

/// What happened, for the application.
pub(crate) enum AppEvent<'a> {
    /// A retention purge batch deleted these records.
    Purged {
        /// Their categories.
        categories: Vec<&'a str>,
        /// Their ids.
        records: Vec<String>,
    },
    /// A subject was erased: these records deleted, those restricted.
    Erased {
        /// The erasure's id (as in the audit trail and the journal).
        erasure_id: &'a str,
        /// Deleted records.
        records: Vec<String>,
        /// Records kept under statutory retention, restricted.
        restricted: Vec<String>,
    },
}

/// Whether the tenant's application has a webhook (so its events are to be queued).
pub(crate) fn hooked(tx: &mut dyn Tx, tenant: &str) -> Result<bool> {
    Ok(!tx
        .query(
            "SELECT 1 FROM webhooks WHERE tenant_id = $1 AND recipient = $2",
            &[tenant.into(), APP.into()],
        )?
        .is_empty())
}

/// Queues `event` for the tenant's application, in the caller's transaction. The caller has
/// checked [`hooked`].
pub(crate) fn enqueue(
    tx: &mut dyn Tx,
    tenant: &str,
    event: AppEvent<'_>,
    now: Timestamp,
) -> Result<()> {
    let id = random_id("ntf")?;
    let mut body = serde_json::json!({
        "id": id,
        "tenant": tenant,
        "occurred_at": now.to_string(),
    });
    match event {
        AppEvent::Purged {
            categories,
            records,
        } => {
            body["type"] = "records.purged".into();
            body["action"] = "purge".into();
            body["categories"] = categories.into();
            body["records"] = records.into();
        }
        AppEvent::Erased {
            erasure_id,
            records,
            restricted,
        } => {
            body["type"] = "subject.erased".into();
            body["action"] = "erasure".into();
            body["erasure_id"] = erasure_id.into();
            body["records"] = records.into();
            body["restricted"] = restricted.into();
        }
    }
    queue_for_app(tx, tenant, &id, &body, now)
}

/// Puts `body` (whose `id` is `id`) in the outbox for the tenant's application, in the caller's
/// transaction: the notifier signs, sends and retries it like every other event. Due at once
/// (next attempt at the epoch), whatever `now` the caller ran with: a purge run for a moment
/// ahead (`custos purge --now`) must not hold its event back until then.
pub(crate) fn queue_for_app(
    tx: &mut dyn Tx,
    tenant: &str,
    id: &str,
    body: &serde_json::Value,
    now: Timestamp,
) -> Result<()> {
    tx.execute(
        "INSERT INTO notifications (tenant_id, notification_id, request_id, recipient, body, state, attempts, next_attempt_at, last_error, created_at, delivered_at) \
         VALUES ($1, $2, NULL, $3, $4, 'pending', 0, 0, NULL, $5, NULL)",
        &[
            tenant.into(),
            id.into(),
            APP.into(),
            body.to_string().into(),
            now.as_microsecond().into(),
        ],
    )?;
    Ok(())
}

/// The ids of the rows a query returns in its first column.
pub(crate) fn ids(rows: Vec<Vec<Val>>) -> Vec<String> {
    rows.into_iter()
        .filter_map(|r| r.into_iter().next().and_then(Val::into_text))
        .collect()
}

impl TenantVault<'_> {
    /// Sets (or replaces) the webhook through which this tenant's application hears of records
    /// Custos deleted (purges, erasures): see the module documentation. Audited with the URL's
    /// scheme and host only.
    pub fn set_app_webhook(
        &mut self,
        url: &str,
        secret: &WebhookSecret,
        now: Timestamp,
    ) -> Result<Webhook> {
        self.store_webhook(APP, url, secret, now)
    }
}
