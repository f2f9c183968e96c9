//! Disclosures to recipients, their webhooks, and the outbox of notifications (Art. 19 GDPR).
//!
//! Art. 19: the controller "shall communicate any rectification or erasure of personal data or
//! restriction of processing carried out in accordance with Article 16, Article 17(1) and
//! Article 18 to each recipient to whom the personal data have been disclosed", and tell the
//! subject who those recipients are if asked. To know whom to tell, the app records every
//! disclosure ([`TenantVault::record_disclosure`]): the subject, the recipient (an id declared in
//! the policy's `[[recipient]]`), the categories that went, and the recipient's own opaque
//! reference for the subject, which is how the recipient will recognise whom a notification is
//! about. Custos's own subject id never leaves the vault.
//!
//! The notifications are an outbox in the same database:
//!
//! - [`enqueue_notifications`] runs *inside* the transaction of the rectification, erasure or
//!   restriction, so the notice exists exactly when the change does. It writes the body at once
//!   (the subject may be erased a moment later): event type, request id, action, the
//!   recipient's reference(s), the categories disclosed and the time, nothing else.
//! - a worker claims due notifications ([`TenantVault::claim_due_notifications`]), delivers
//!   them, and records the outcome ([`TenantVault::mark_delivered`],
//!   [`TenantVault::mark_failed`]). A claim takes a lease: the row's next attempt moves past the
//!   lease and its attempt count goes up, in one transaction (on PostgreSQL over rows locked
//!   `FOR UPDATE SKIP LOCKED`), so two servers never hold the same notification at once. The
//!   attempt count is the claim's fencing token: an outcome reported by a worker whose lease
//!   ran out and was taken over is ignored. Delivery is at least once (a worker may die after
//!   sending and before recording); receivers deduplicate on the notification id.
//! - after the last attempt a notification is dead: listed by [`TenantVault::dead_letters`] for a
//!   person to look at, and sent again by [`TenantVault::retry_dead`].
//!
//! A recipient that received the subject's data but has no webhook gets a notification too,
//! dead at once with the reason, so nobody is skipped silently: the dead-letter list is the
//! to-do list of recipients to tell some other way (or to give a webhook, then retry).
//!
//! Recording a disclosure, setting a webhook, a delivery, a notification going dead and a retry
//! are audited, with pseudonyms, recipient ids and notification ids only: never the reference,
//! the URL's path or query, or the body.
//!
//! The webhook secret is stored encrypted (AES-256-GCM under a per-tenant key derived from the
//! master key, bound to the tenant and the recipient); see [`WebhookSecret`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

use custos_policy::Policy;
use jiff::Timestamp;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::{Result, VaultError};
use crate::ids::SubjectId;
use crate::store::{Tx, Val};
use crate::vault::{AUDIT_CHECKPOINT_EVERY, TenantVault};

pub use crate::error::RecipientError;

pub use custos_rights::recipients::{ACTIONS, NO_WEBHOOK};

/// Longest recipient reference, webhook URL and stored error text.
const MAX_REFERENCE: usize = 256;
const MAX_URL: usize = 2048;
const MAX_ERROR: usize = 500;
/// Shortest and longest webhook secret, in bytes.
const MIN_SECRET: usize = 16;
const MAX_SECRET: usize = 512;

fn err(e: RecipientError) -> VaultError {
    VaultError::Recipient(e)
}

fn corrupt(what: &str) -> VaultError {
    VaultError::Corrupt(format!("unreadable {what} in the notifications outbox"))
}

fn ts(micros: i64) -> Result<Timestamp> {
    Timestamp::from_microsecond(micros)
        .map_err(|_| VaultError::Corrupt(format!("impossible time {micros} in recipient data")))
}

/// A recipient's webhook secret: the key of the HMAC-SHA256 signature on every delivery.
/// Zeroized on drop; `Debug` prints `WebhookSecret(<redacted>)`.
///
/// The worker needs the secret itself to sign, so a one-way hash will not do: it is stored
/// encrypted with AES-256-GCM under a key derived from the master key for the tenant
/// (`custos/vault/webhook-secret/v1/{tenant}`), with the tenant and the recipient as associated
/// data, so a copy of the database alone cannot forge deliveries and a row moved to another
/// recipient or tenant does not decrypt.
#[derive(Clone)]
pub struct WebhookSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// A secret of 16 to 512 bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes = Zeroizing::new(bytes.into());
        if bytes.len() < MIN_SECRET {
            return Err(err(RecipientError::InvalidSecret(
                "shorter than 16 bytes; use at least 32 random bytes",
            )));
        }
        if bytes.len() > MAX_SECRET {
            return Err(err(RecipientError::InvalidSecret("longer than 512 bytes")));
        }
        Ok(Self(bytes))
    }

    /// The bytes, to sign with.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

/// The first byte of a sealed webhook secret: the format, so it can change later.
const SECRET_FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;

/// What a sealed webhook secret is bound to.
fn secret_aad(tenant: &str, recipient: &str) -> Vec<u8> {
    let mut aad = b"custos/vault/webhook-secret/v1".to_vec();
    for field in [tenant, recipient] {
        aad.extend_from_slice(&u32::try_from(field.len()).unwrap_or(u32::MAX).to_be_bytes());
        aad.extend_from_slice(field.as_bytes());
    }
    aad
}

/// Encrypts a webhook secret for storage: format byte, random nonce, ciphertext and tag.
fn seal_secret(
    cipher: &Aes256Gcm,
    tenant: &str,
    recipient: &str,
    secret: &WebhookSecret,
) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    crate::keys::fill_random(&mut nonce)?;
    let aad = secret_aad(tenant, recipient);
    let ct = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: secret.expose(),
                aad: &aad,
            },
        )
        .map_err(|_| VaultError::Corrupt("AES-GCM refused to encrypt a webhook secret".into()))?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
    out.push(SECRET_FORMAT_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Decrypts a stored webhook secret; `None` when it does not authenticate (another master key,
/// a row moved to another recipient or tenant, or corruption).
fn open_secret(
    cipher: &Aes256Gcm,
    tenant: &str,
    recipient: &str,
    sealed: &[u8],
) -> Option<WebhookSecret> {
    let (&format, rest) = sealed.split_first()?;
    if format != SECRET_FORMAT_V1 || rest.len() < NONCE_LEN + 16 {
        return None;
    }
    let (nonce, ct) = rest.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    let aad = secret_aad(tenant, recipient);
    cipher
        .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad: &aad })
        .ok()
        .map(|plain| WebhookSecret(Zeroizing::new(plain)))
}

/// The `last_error` of a notification whose recipient's webhook secret does not decrypt.
const SECRET_UNREADABLE: &str = "the webhook secret cannot be decrypted (the vault's master key changed, or the row was moved); set the webhook again and retry";

/// One recorded disclosure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disclosure {
    /// Its id.
    pub disclosure_id: String,
    /// The recipient (a policy id).
    pub recipient: String,
    /// The categories disclosed.
    pub categories: Vec<String>,
    /// When.
    pub disclosed_at: Timestamp,
    /// Categories disclosed that the policy does not say this recipient receives (neither on
    /// the recipient nor through a purpose): the disclosure is recorded all the same, since the
    /// recipient must be told of later changes, but the privacy statement does not cover it
    /// (Art. 13(1)(e), 14(1)(e)) and the DPO should look. Usually empty.
    pub outside_policy: Vec<String>,
}

/// A recipient that received a subject's data, and what (Art. 19, second sentence: the subject
/// may ask who they are; Art. 15(1)(c)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipientOfSubject {
    /// The recipient (a policy id).
    pub recipient: String,
    /// Every category disclosed to it, sorted.
    pub categories: Vec<String>,
    /// Disclosures recorded.
    pub disclosures: u64,
    /// The first one.
    pub first_disclosed_at: Timestamp,
    /// The last one.
    pub last_disclosed_at: Timestamp,
    /// Whether it has a webhook (else it must be told some other way).
    pub has_webhook: bool,
}

/// A recipient's webhook, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    /// The recipient.
    pub recipient: String,
    /// Where notifications are POSTed.
    pub url: String,
    /// When it was set.
    pub set_at: Timestamp,
}

/// A notification's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationState {
    /// Waiting for its next attempt (or being attempted).
    Pending,
    /// The recipient acknowledged it (2xx).
    Delivered,
    /// Every attempt failed, or there is no webhook: a person must look at it.
    Dead,
}

impl NotificationState {
    fn parse(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(Self::Pending),
            "delivered" => Ok(Self::Delivered),
            "dead" => Ok(Self::Dead),
            _ => Err(corrupt("notification state")),
        }
    }
}

/// A notification as listed: who, about which request, and how it went (never its body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    /// Its id (also in the body and the `Custos-Notification-Id` header).
    pub notification_id: String,
    /// The request it tells about.
    pub request_id: Option<String>,
    /// The recipient.
    pub recipient: String,
    /// `rectification`, `erasure` or `restriction`.
    pub action: String,
    /// Its state.
    pub state: NotificationState,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (pending ones).
    pub next_attempt_at: Option<Timestamp>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: Timestamp,
    /// When the recipient acknowledged it.
    pub delivered_at: Option<Timestamp>,
}

/// A notification claimed for delivery: everything the worker needs to send it.
#[derive(Debug, Clone)]
pub struct DueNotification {
    /// Its id.
    pub notification_id: String,
    /// The recipient.
    pub recipient: String,
    /// This attempt's number (1 for the first); pass it back to [`TenantVault::mark_failed`].
    pub attempt: u32,
    /// The webhook URL.
    pub url: String,
    /// The webhook secret to sign with.
    pub secret: WebhookSecret,
    /// The JSON body, exactly as it must be sent and signed.
    pub body: String,
}

/// Where a failed notification goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Tried again at the given time.
    Retry(Timestamp),
    /// Dead: no attempts left.
    Dead,
    /// The claim was stale (another worker took the notification over): nothing recorded.
    Stale,
}

pub(crate) fn random_id(prefix: &str) -> Result<String> {
    let mut id = [0u8; 10];
    crate::keys::fill_random(&mut id)?;
    Ok(format!("{prefix}_{}", hex::encode(id)))
}

fn check_recipient(policy: &Policy, recipient: &str) -> Result<()> {
    if policy.recipient(recipient).is_some() {
        return Ok(());
    }
    Err(err(RecipientError::UnknownRecipient {
        recipient: recipient.to_owned(),
        nearest: custos_policy::diag::nearest(
            recipient,
            policy.recipients.iter().map(|r| r.id.as_str()),
        )
        .map(str::to_owned),
    }))
}

/// Checks a webhook URL: `http` or `https`, a host, no credentials, no spaces or control
/// characters, at most 2048 bytes. The message names the part that is wrong, never the URL.
pub fn validate_url(url: &str) -> Result<()> {
    custos_rights::recipients::check_webhook_url(url, MAX_URL)
        .map_err(|why| err(RecipientError::InvalidUrl(why.to_owned())))
}

/// The scheme and host of a URL, for the audit trail (a path or query may carry a token).
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{authority}")
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Queues one notification per distinct recipient that received the subject's data, inside the
/// caller's transaction (the rectification, erasure or restriction it tells about), and returns
/// those recipients, sorted. Recipients with a webhook get a pending notification due at once;
/// those without get a dead one with [`NO_WEBHOOK`] as its error. The caller's audit entry should
/// name the recipients returned.
///
/// The body ([`custos_rights::recipients::notification_body`]) is written now, because the
/// subject may be erased a moment later.
pub(crate) fn enqueue_notifications(
    tx: &mut dyn Tx,
    tenant: &str,
    pseudonym: &str,
    request_id: &str,
    action: &str,
    now_micros: i64,
) -> Result<Vec<String>> {
    if !custos_rights::recipients::is_told(action) {
        return Err(err(RecipientError::UnknownAction(action.to_owned())));
    }
    let occurred_at = ts(now_micros)?;
    let rows = tx.query(
        "SELECT recipient, categories, reference FROM disclosures WHERE tenant_id = $1 AND pseudonym = $2",
        &[tenant.into(), pseudonym.into()],
    )?;
    let mut disclosures = Vec::with_capacity(rows.len());
    for r in rows {
        let mut it = r.into_iter();
        let (Some(rec), Some(cats), Some(reference)) = (it.next(), it.next(), it.next()) else {
            return Err(corrupt("disclosure"));
        };
        let rec = rec
            .into_text()
            .ok_or_else(|| corrupt("disclosure recipient"))?;
        let cats: Vec<String> = serde_json::from_str(cats.text().unwrap_or_default())
            .map_err(|_| corrupt("disclosure categories"))?;
        disclosures.push((rec, cats, reference.into_text()));
    }
    let per = custos_rights::recipients::recipients_to_tell(disclosures);
    if per.is_empty() {
        return Ok(Vec::new());
    }
    let hooked: BTreeSet<String> = tx
        .query(
            "SELECT recipient FROM webhooks WHERE tenant_id = $1",
            &[tenant.into()],
        )?
        .into_iter()
        .filter_map(|r| r.into_iter().next().and_then(Val::into_text))
        .collect();
    for (recipient, received) in &per {
        let id = random_id("ntf")?;
        let body = custos_rights::recipients::notification_body(
            &id,
            request_id,
            action,
            recipient,
            received,
            occurred_at,
        );
        let (state, error) = if hooked.contains(recipient) {
            ("pending", None)
        } else {
            ("dead", Some(NO_WEBHOOK.to_owned()))
        };
        tx.execute(
            "INSERT INTO notifications (tenant_id, notification_id, request_id, recipient, body, state, attempts, next_attempt_at, last_error, created_at, delivered_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $7, NULL)",
            &[
                tenant.into(),
                id.as_str().into(),
                request_id.into(),
                recipient.as_str().into(),
                body.into(),
                state.into(),
                now_micros.into(),
                error.into(),
            ],
        )?;
    }
    Ok(per.into_keys().collect())
}

/// What one delivery attempt came to, for [`TenantVault::record_attempts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempted {
    /// The notification.
    pub notification_id: String,
    /// The attempt's number, from [`DueNotification::attempt`] (ignored for a delivery).
    pub attempt: u32,
    /// `Ok` when the recipient acknowledged it; otherwise when to try again (`None`: never,
    /// it is dead) and why.
    pub result: std::result::Result<(), (Option<Timestamp>, String)>,
}

/// What recording an attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Delivered.
    Delivered,
    /// Tried again at the given time.
    Retry(Timestamp),
    /// Dead: no attempts left.
    Dead,
    /// Nothing recorded: no longer pending (delivered by another worker, retried from dead), or
    /// a failure from a claim another worker has taken over.
    Stale,
}

type AuditDetails = Option<(&'static str, serde_json::Value)>;

/// Marks one notification delivered (if still pending) and redacts its body.
fn delivered_in(
    tx: &mut dyn Tx,
    tenant: &str,
    id: &str,
    now: Timestamp,
) -> Result<(Recorded, AuditDetails)> {
    let rows = tx.query(
        "UPDATE notifications SET state = 'delivered', delivered_at = $3, last_error = NULL \
         WHERE tenant_id = $1 AND notification_id = $2 AND state = 'pending' RETURNING recipient, request_id, attempts, body",
        &[tenant.into(), id.into(), now.as_microsecond().into()],
    )?;
    let Some(r) = rows.into_iter().next() else {
        return Ok((Recorded::Stale, None));
    };
    let mut it = r.into_iter();
    let recipient = it.next().and_then(Val::into_text);
    let request_id = it.next().and_then(Val::into_text);
    let attempts = it.next().and_then(|v| v.int());
    // Data minimisation (Art. 5(1)(c)): once the recipient has it, the recipient's reference
    // for the subject is not kept here; the rest stays as the record.
    if let Some(body) = it.next().as_ref().and_then(Val::text) {
        tx.execute(
            "UPDATE notifications SET body = $3 WHERE tenant_id = $1 AND notification_id = $2",
            &[
                tenant.into(),
                id.into(),
                custos_rights::recipients::redact_delivered(body).into(),
            ],
        )?;
    }
    Ok((
        Recorded::Delivered,
        Some((
            "recipients.notification.delivered",
            serde_json::json!({ "notification_id": id, "recipient": recipient, "request_id": request_id, "attempts": attempts }),
        )),
    ))
}

/// Records a failed attempt, fenced by its attempt number: due again at `retry_at`, or dead.
fn failed_in(
    tx: &mut dyn Tx,
    tenant: &str,
    id: &str,
    attempt: u32,
    retry_at: Option<Timestamp>,
    error: &str,
) -> Result<(Recorded, AuditDetails)> {
    let fence = "tenant_id = $1 AND notification_id = $2 AND attempts = $3 AND state = 'pending'";
    let mut params: Vec<Val> = vec![
        tenant.into(),
        id.into(),
        i64::from(attempt).into(),
        error.into(),
    ];
    if let Some(at) = retry_at {
        params.push(at.as_microsecond().into());
        let n = tx.execute(
            &format!(
                "UPDATE notifications SET last_error = $4, next_attempt_at = $5 WHERE {fence}"
            ),
            &params,
        )?;
        return Ok((
            if n == 1 {
                Recorded::Retry(at)
            } else {
                Recorded::Stale
            },
            None,
        ));
    }
    let rows = tx.query(
        &format!(
            "UPDATE notifications SET state = 'dead', last_error = $4 WHERE {fence} RETURNING recipient, request_id"
        ),
        &params,
    )?;
    let Some(r) = rows.into_iter().next() else {
        return Ok((Recorded::Stale, None));
    };
    let mut it = r.into_iter();
    let recipient = it.next().and_then(Val::into_text);
    let request_id = it.next().and_then(Val::into_text);
    Ok((
        Recorded::Dead,
        Some((
            "recipients.notification.dead",
            serde_json::json!({ "notification_id": id, "recipient": recipient, "request_id": request_id, "attempts": attempt, "error": error }),
        )),
    ))
}

const NOTIFICATION_COLUMNS: &str = "notification_id, request_id, recipient, body, state, attempts, next_attempt_at, last_error, created_at, delivered_at";

fn notification_row(r: Vec<Val>) -> Result<Notification> {
    let mut it = r.into_iter();
    let mut next = || it.next().ok_or_else(|| corrupt("notification"));
    let notification_id = next()?
        .into_text()
        .ok_or_else(|| corrupt("notification id"))?;
    let request_id = next()?.into_text();
    let recipient = next()?
        .into_text()
        .ok_or_else(|| corrupt("notification recipient"))?;
    let body: serde_json::Value =
        serde_json::from_str(next()?.text().unwrap_or_default()).unwrap_or_default();
    let action = body["action"].as_str().unwrap_or_default().to_owned();
    let state = NotificationState::parse(next()?.text().unwrap_or_default())?;
    let attempts = u32::try_from(next()?.int().unwrap_or(0)).unwrap_or(0);
    let next_attempt = next()?.int();
    let last_error = next()?.into_text();
    let created_at = ts(next()?.int().ok_or_else(|| corrupt("notification time"))?)?;
    let delivered_at = next()?.int().map(ts).transpose()?;
    Ok(Notification {
        notification_id,
        request_id,
        recipient,
        action,
        state,
        attempts,
        next_attempt_at: match state {
            NotificationState::Pending => next_attempt.map(ts).transpose()?,
            _ => None,
        },
        last_error,
        created_at,
        delivered_at,
    })
}

impl TenantVault<'_> {
    /// The cipher of this tenant's webhook secrets.
    fn secret_cipher(&self) -> Aes256Gcm {
        let key = self.tenant_key("vault/webhook-secret");
        let k: &[u8; 32] = &key;
        Aes256Gcm::new(k.into())
    }

    /// Records that the subject's data of `categories` went to `recipient` at `at` (not after
    /// `now`). `reference` is the recipient's own id for the subject, sent back to it in every
    /// notification so it can find whom the notice is about; 1–256 characters, no control
    /// characters. The recipient must be declared in the policy and each category too
    /// (never-stored categories included: data may be passed on without being kept). Audited.
    #[allow(clippy::too_many_arguments)]
    pub fn record_disclosure(
        &mut self,
        policy: &Policy,
        subject: &SubjectId,
        recipient: &str,
        categories: &[String],
        reference: Option<String>,
        at: Timestamp,
        now: Timestamp,
    ) -> Result<Disclosure> {
        check_recipient(policy, recipient)?;
        if categories.is_empty() {
            return Err(err(RecipientError::NoCategories));
        }
        let mut cats = BTreeSet::new();
        for c in categories {
            if policy.category(c).is_none() {
                return Err(VaultError::UnknownCategory {
                    category: c.clone(),
                });
            }
            cats.insert(c.clone());
        }
        if let Some(r) = &reference {
            if r.trim().is_empty() {
                return Err(err(RecipientError::InvalidReference(
                    "empty; leave it out instead",
                )));
            }
            if r.chars().count() > MAX_REFERENCE {
                return Err(err(RecipientError::InvalidReference(
                    "longer than 256 characters",
                )));
            }
            if r.chars().any(char::is_control) {
                return Err(err(RecipientError::InvalidReference(
                    "contains control characters",
                )));
            }
        }
        if at.duration_since(now)
            > jiff::SignedDuration::from_secs(custos_types::limits::CLOCK_SKEW_SECONDS)
        {
            return Err(err(RecipientError::InFuture { at, now }));
        }
        let outside_policy = cats
            .iter()
            .filter(|c| {
                policy
                    .category(c)
                    .is_some_and(|cat| !cat.recipients.iter().any(|r| r == recipient))
            })
            .cloned()
            .collect();
        let disclosure = Disclosure {
            disclosure_id: random_id("dsc")?,
            recipient: recipient.to_owned(),
            categories: cats.into_iter().collect(),
            disclosed_at: at,
            outside_policy,
        };
        let pseudonym = self.pseudonym(subject).as_str().to_owned();
        let tenant = self.tenant_id().as_str().to_owned();
        let actor = self.actor().to_owned();
        let cats_json = serde_json::to_string(&disclosure.categories)
            .map_err(|_| corrupt("disclosure categories"))?;
        let ev = custos_audit::Event::new(
            &tenant,
            &actor,
            "recipients.disclosed",
            Some(pseudonym.clone()),
            serde_json::json!({
                "disclosure_id": disclosure.disclosure_id,
                "recipient": recipient,
                "categories": disclosure.categories,
                "disclosed_at": at,
                "with_reference": reference.is_some(),
                "outside_policy": disclosure.outside_policy,
            }),
        );
        let key = self.audit_key().clone();
        self.with_tx("recording a disclosure", &mut |tx| {
            // Registers the tenant, so the notification worker visits it.
            tx.execute(
                "INSERT INTO tenants (tenant_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[tenant.as_str().into(), now.as_microsecond().into()],
            )?;
            tx.execute(
                "INSERT INTO disclosures (tenant_id, disclosure_id, pseudonym, recipient, categories, reference, disclosed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    tenant.as_str().into(),
                    disclosure.disclosure_id.as_str().into(),
                    pseudonym.as_str().into(),
                    recipient.into(),
                    cats_json.as_str().into(),
                    reference.clone().into(),
                    at.as_microsecond().into(),
                ],
            )?;
            tx.append_audit(&mut |head| {
                custos_audit::build(head, std::slice::from_ref(&ev), now, &key, AUDIT_CHECKPOINT_EVERY)
            })
        })?;
        Ok(disclosure)
    }

    /// Runs `work` in one transaction of this tenant. (`store()` borrows the handle mutably, so
    /// the audit key and actor are read before.)
    fn with_tx(
        &mut self,
        operation: &'static str,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<()>,
    ) -> Result<()> {
        let tenant = self.tenant_id().as_str().to_owned();
        self.store().in_tx(&tenant, operation, work)
    }

    /// Sets (or replaces) the webhook that `recipient` is notified through. The URL must be
    /// `http` or `https` (see [`validate_url`]). Audited with the URL's scheme and host only.
    pub fn set_webhook(
        &mut self,
        policy: &Policy,
        recipient: &str,
        url: &str,
        secret: &WebhookSecret,
        now: Timestamp,
    ) -> Result<Webhook> {
        check_recipient(policy, recipient)?;
        self.store_webhook(recipient, url, secret, now)
    }

    /// Stores the webhook of `recipient` (a policy recipient, or the application itself,
    /// [`crate::app_events::APP`]), audited with the URL's scheme and host only.
    pub(crate) fn store_webhook(
        &mut self,
        recipient: &str,
        url: &str,
        secret: &WebhookSecret,
        now: Timestamp,
    ) -> Result<Webhook> {
        validate_url(url)?;
        let tenant = self.tenant_id().as_str().to_owned();
        let ev = custos_audit::Event::new(
            &tenant,
            self.actor(),
            "recipients.webhook.set",
            None,
            serde_json::json!({ "recipient": recipient, "origin": origin(url) }),
        );
        let key = self.audit_key().clone();
        let sealed = seal_secret(&self.secret_cipher(), &tenant, recipient, secret)?;
        self.with_tx("setting a webhook", &mut |tx| {
            tx.execute(
                "INSERT INTO tenants (tenant_id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[tenant.as_str().into(), now.as_microsecond().into()],
            )?;
            tx.execute(
                "INSERT INTO webhooks (tenant_id, recipient, url, secret, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (tenant_id, recipient) DO UPDATE SET url = excluded.url, secret = excluded.secret, created_at = excluded.created_at",
                &[
                    tenant.as_str().into(),
                    recipient.into(),
                    url.into(),
                    sealed.clone().into(),
                    now.as_microsecond().into(),
                ],
            )?;
            tx.append_audit(&mut |head| {
                custos_audit::build(head, std::slice::from_ref(&ev), now, &key, AUDIT_CHECKPOINT_EVERY)
            })
        })?;
        Ok(Webhook {
            recipient: recipient.to_owned(),
            url: url.to_owned(),
            set_at: now,
        })
    }

    /// The tenant's webhooks, by recipient (without their secrets).
    pub fn webhooks(&mut self) -> Result<Vec<Webhook>> {
        let tenant = self.tenant_id().as_str().to_owned();
        let mut out = Vec::new();
        self.with_tx("listing webhooks", &mut |tx| {
            out = tx
                .query(
                    "SELECT recipient, url, created_at FROM webhooks WHERE tenant_id = $1 ORDER BY recipient",
                    &[tenant.as_str().into()],
                )?
                .into_iter()
                .map(|r| {
                    let mut it = r.into_iter();
                    Ok(Webhook {
                        recipient: it.next().and_then(Val::into_text).ok_or_else(|| corrupt("webhook"))?,
                        url: it.next().and_then(Val::into_text).ok_or_else(|| corrupt("webhook"))?,
                        set_at: ts(it.next().and_then(|v| v.int()).ok_or_else(|| corrupt("webhook"))?)?,
                    })
                })
                .collect::<Result<_>>()?;
            Ok(())
        })?;
        Ok(out)
    }

    /// The recipients that received the subject's data, by recipient id: what went, how often,
    /// first and last, and whether each can be notified by webhook.
    pub fn recipients_of(&mut self, subject: &SubjectId) -> Result<Vec<RecipientOfSubject>> {
        let pseudonym = self.pseudonym(subject).as_str().to_owned();
        let tenant = self.tenant_id().as_str().to_owned();
        let mut out = Vec::new();
        self.with_tx("listing a subject's recipients", &mut |tx| {
            let hooked: BTreeSet<String> = tx
                .query(
                    "SELECT recipient FROM webhooks WHERE tenant_id = $1",
                    &[tenant.as_str().into()],
                )?
                .into_iter()
                .filter_map(|r| r.into_iter().next().and_then(Val::into_text))
                .collect();
            let mut per: BTreeMap<String, (BTreeSet<String>, u64, i64, i64)> = BTreeMap::new();
            for r in tx.query(
                "SELECT recipient, categories, disclosed_at FROM disclosures WHERE tenant_id = $1 AND pseudonym = $2",
                &[tenant.as_str().into(), pseudonym.as_str().into()],
            )? {
                let mut it = r.into_iter();
                let rec = it.next().and_then(Val::into_text).ok_or_else(|| corrupt("disclosure"))?;
                let cats: Vec<String> = serde_json::from_str(it.next().as_ref().and_then(Val::text).unwrap_or_default())
                    .map_err(|_| corrupt("disclosure categories"))?;
                let at = it.next().and_then(|v| v.int()).ok_or_else(|| corrupt("disclosure time"))?;
                let e = per.entry(rec).or_insert((BTreeSet::new(), 0, i64::MAX, i64::MIN));
                e.0.extend(cats);
                e.1 += 1;
                e.2 = e.2.min(at);
                e.3 = e.3.max(at);
            }
            out = per
                .into_iter()
                .map(|(recipient, (cats, n, first, last))| {
                    Ok(RecipientOfSubject {
                        has_webhook: hooked.contains(&recipient),
                        recipient,
                        categories: cats.into_iter().collect(),
                        disclosures: n,
                        first_disclosed_at: ts(first)?,
                        last_disclosed_at: ts(last)?,
                    })
                })
                .collect::<Result<_>>()?;
            Ok(())
        })?;
        Ok(out)
    }

    /// Claims up to `limit` pending notifications due at `now`, for `lease`: until `now + lease`
    /// no other claimer gets them, and each claim counts as an attempt. Notifications whose
    /// recipient lost its webhook go dead here instead. See the module documentation.
    pub fn claim_due_notifications(
        &mut self,
        now: Timestamp,
        limit: u32,
        lease: jiff::SignedDuration,
    ) -> Result<Vec<DueNotification>> {
        let tenant = self.tenant_id().as_str().to_owned();
        let actor = self.actor().to_owned();
        let key = self.audit_key().clone();
        let until = now
            .checked_add(lease)
            .unwrap_or(Timestamp::MAX)
            .as_microsecond();
        let cipher = self.secret_cipher();
        let mut out = Vec::new();
        self.with_tx("claiming due notifications", &mut |tx| {
            out.clear();
            let lock = tx.for_update_skip_locked();
            let due = "tenant_id = $1 AND state = 'pending' AND next_attempt_at <= $2";
            let claimed = tx.query(
                &format!(
                    "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = $4 \
                     WHERE {due} AND notification_id IN \
                     (SELECT notification_id FROM notifications WHERE {due} ORDER BY next_attempt_at, notification_id LIMIT $3{lock}) \
                     RETURNING notification_id, recipient, body, attempts"
                ),
                &[tenant.as_str().into(), now.as_microsecond().into(), i64::from(limit.max(1)).into(), until.into()],
            )?;
            if claimed.is_empty() {
                return Ok(());
            }
            let mut hooks: BTreeMap<String, (String, Vec<u8>)> = BTreeMap::new();
            for r in tx.query(
                "SELECT recipient, url, secret FROM webhooks WHERE tenant_id = $1",
                &[tenant.as_str().into()],
            )? {
                let mut it = r.into_iter();
                let (Some(rec), Some(url), Some(secret)) = (
                    it.next().and_then(Val::into_text),
                    it.next().and_then(Val::into_text),
                    it.next().and_then(Val::into_bytes),
                ) else {
                    return Err(corrupt("webhook"));
                };
                hooks.insert(rec, (url, secret));
            }
            let mut dead = Vec::new();
            for r in claimed {
                let mut it = r.into_iter();
                let id = it.next().and_then(Val::into_text).ok_or_else(|| corrupt("notification"))?;
                let recipient = it.next().and_then(Val::into_text).ok_or_else(|| corrupt("notification"))?;
                let body = it.next().and_then(Val::into_text).ok_or_else(|| corrupt("notification body"))?;
                let attempt = u32::try_from(it.next().and_then(|v| v.int()).unwrap_or(1)).unwrap_or(u32::MAX);
                let secret = hooks
                    .get(&recipient)
                    .map(|(url, sealed)| (url, open_secret(&cipher, &tenant, &recipient, sealed)));
                let why = match secret {
                    Some((url, Some(secret))) => {
                        out.push(DueNotification {
                            notification_id: id,
                            recipient,
                            attempt,
                            url: url.clone(),
                            secret,
                            body,
                        });
                        continue;
                    }
                    Some((_, None)) => SECRET_UNREADABLE,
                    None => NO_WEBHOOK,
                };
                tx.execute(
                    "UPDATE notifications SET state = 'dead', last_error = $3 WHERE tenant_id = $1 AND notification_id = $2",
                    &[tenant.as_str().into(), id.as_str().into(), why.into()],
                )?;
                dead.push(custos_audit::Event::new(&tenant, &actor, "recipients.notification.dead", None,
                    serde_json::json!({ "notification_id": id, "recipient": recipient, "attempts": attempt, "error": why })));
            }
            if !dead.is_empty() {
                tx.append_audit(&mut |head| custos_audit::build(head, &dead, now, &key, AUDIT_CHECKPOINT_EVERY))?;
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Records the outcomes of a batch of delivery attempts in one transaction (one audit append
    /// for the lot), in order: see [`TenantVault::mark_delivered`] and
    /// [`TenantVault::mark_failed`] for what each does.
    pub fn record_attempts(
        &mut self,
        attempts: &[Attempted],
        now: Timestamp,
    ) -> Result<Vec<Recorded>> {
        let tenant = self.tenant_id().as_str().to_owned();
        let actor = self.actor().to_owned();
        let key = self.audit_key().clone();
        let mut out = Vec::new();
        self.with_tx("recording delivery attempts", &mut |tx| {
            out.clear();
            let mut events = Vec::new();
            for a in attempts {
                let (recorded, details) = match &a.result {
                    Ok(()) => delivered_in(tx, &tenant, &a.notification_id, now)?,
                    Err((retry_at, error)) => failed_in(
                        tx,
                        &tenant,
                        &a.notification_id,
                        a.attempt,
                        *retry_at,
                        &truncate(error, MAX_ERROR),
                    )?,
                };
                if let Some((action, details)) = details {
                    events.push(custos_audit::Event::new(
                        &tenant, &actor, action, None, details,
                    ));
                }
                out.push(recorded);
            }
            if events.is_empty() {
                return Ok(());
            }
            tx.append_audit(&mut |head| {
                custos_audit::build(head, &events, now, &key, AUDIT_CHECKPOINT_EVERY)
            })
        })?;
        Ok(out)
    }

    /// Records that the recipient acknowledged the notification, and drops the recipient's
    /// references for the subject from the stored body (it has them now). Returns `false` when
    /// it was no longer pending (delivered already by another worker, or retried from dead
    /// meanwhile). Audited.
    pub fn mark_delivered(&mut self, notification_id: &str, now: Timestamp) -> Result<bool> {
        let attempt = Attempted {
            notification_id: notification_id.to_owned(),
            attempt: 0,
            result: Ok(()),
        };
        let recorded = self.record_attempts(std::slice::from_ref(&attempt), now)?;
        Ok(recorded.first() == Some(&Recorded::Delivered))
    }

    /// Records a failed attempt `attempt` (from [`DueNotification::attempt`]): tried again at
    /// `retry_at`, or dead when `None` (no attempts left; audited). `error` says what happened
    /// (a status code, a timeout), is cut to 500 characters and must hold no personal data. A
    /// stale claim records nothing ([`FailureOutcome::Stale`]).
    pub fn mark_failed(
        &mut self,
        notification_id: &str,
        attempt: u32,
        retry_at: Option<Timestamp>,
        error: &str,
        now: Timestamp,
    ) -> Result<FailureOutcome> {
        let attempted = Attempted {
            notification_id: notification_id.to_owned(),
            attempt,
            result: Err((retry_at, error.to_owned())),
        };
        let recorded = self.record_attempts(std::slice::from_ref(&attempted), now)?;
        Ok(match recorded.first() {
            Some(Recorded::Retry(at)) => FailureOutcome::Retry(*at),
            Some(Recorded::Dead) => FailureOutcome::Dead,
            _ => FailureOutcome::Stale,
        })
    }

    /// The tenant's dead letters, oldest first.
    pub fn dead_letters(&mut self) -> Result<Vec<Notification>> {
        let tenant = self.tenant_id().as_str().to_owned();
        self.list_notifications(
            "listing dead notifications",
            "state = 'dead'",
            vec![tenant.into()],
        )
    }

    /// The notifications about one request, with who was told when: part of the request's
    /// history.
    pub fn notifications_of_request(&mut self, request_id: &str) -> Result<Vec<Notification>> {
        let tenant = self.tenant_id().as_str().to_owned();
        self.list_notifications(
            "listing a request's notifications",
            "request_id = $2",
            vec![tenant.into(), request_id.into()],
        )
    }

    fn list_notifications(
        &mut self,
        operation: &'static str,
        filter: &str,
        params: Vec<Val>,
    ) -> Result<Vec<Notification>> {
        let mut out = Vec::new();
        self.with_tx(operation, &mut |tx| {
            out = tx
                .query(
                    &format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE tenant_id = $1 AND {filter} ORDER BY created_at, recipient, notification_id"),
                    &params,
                )?
                .into_iter()
                .map(notification_row)
                .collect::<Result<_>>()?;
            Ok(())
        })?;
        Ok(out)
    }

    /// Sends a dead notification again: pending, due at `now`, with a fresh set of attempts.
    /// Refused with [`RecipientError::NotDead`] for an id that is not a dead letter of this
    /// tenant. Audited.
    pub fn retry_dead(&mut self, notification_id: &str, now: Timestamp) -> Result<Notification> {
        let tenant = self.tenant_id().as_str().to_owned();
        let actor = self.actor().to_owned();
        let key = self.audit_key().clone();
        let mut out = None;
        self.with_tx("retrying a dead notification", &mut |tx| {
            let n = tx.execute(
                "UPDATE notifications SET state = 'pending', attempts = 0, next_attempt_at = $3 \
                 WHERE tenant_id = $1 AND notification_id = $2 AND state = 'dead'",
                &[tenant.as_str().into(), notification_id.into(), now.as_microsecond().into()],
            )?;
            if n == 0 {
                return Err(err(RecipientError::NotDead(notification_id.to_owned())));
            }
            let row = tx
                .query(
                    &format!("SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE tenant_id = $1 AND notification_id = $2"),
                    &[tenant.as_str().into(), notification_id.into()],
                )?
                .into_iter()
                .next()
                .ok_or_else(|| corrupt("notification"))?;
            let n = notification_row(row)?;
            let ev = custos_audit::Event::new(&tenant, &actor, "recipients.notification.retried", None,
                serde_json::json!({ "notification_id": n.notification_id, "recipient": n.recipient, "request_id": n.request_id }));
            tx.append_audit(&mut |head| custos_audit::build(head, std::slice::from_ref(&ev), now, &key, AUDIT_CHECKPOINT_EVERY))?;
            out = Some(n);
            Ok(())
        })?;
        out.ok_or_else(|| corrupt("notification"))
    }

    /// Queues the notifications of a rectification, erasure or restriction of `subject` in a
    /// transaction of its own (see [`enqueue_notifications`], which the request code calls inside
    /// its own transaction). For tests and tools; returns the recipients.
    pub fn notify_recipients(
        &mut self,
        subject: &SubjectId,
        request_id: &str,
        action: &str,
        now: Timestamp,
    ) -> Result<Vec<String>> {
        let pseudonym = self.pseudonym(subject).as_str().to_owned();
        let tenant = self.tenant_id().as_str().to_owned();
        let mut out = Vec::new();
        self.with_tx("queueing notifications", &mut |tx| {
            out = enqueue_notifications(
                tx,
                &tenant,
                &pseudonym,
                request_id,
                action,
                now.as_microsecond(),
            )?;
            Ok(())
        })?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_must_be_http_or_https_with_a_host() {
        for ok in [
            "https://hooks.example.com/custos",
            "http://127.0.0.1:8080/x?y=1",
            "https://[::1]:443/",
            "HTTPS://EXAMPLE.COM",
        ] {
            assert!(validate_url(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("ftp://example.com/", "scheme"),
            ("example.com/hook", "scheme"),
            ("https://", "no host"),
            ("https:///path", "no host"),
            ("https://user:pw@example.com/", "credentials"),
            ("https://example.com:99999/", "port"),
            ("https://exa mple.com/", "spaces"),
            ("https://example.com/\n", "control"),
        ] {
            let e = validate_url(bad).expect_err(bad).to_string();
            assert!(e.contains(why), "{bad}: {e}");
            assert!(!e.contains(bad.trim()), "the URL is not echoed: {e}");
        }
        assert!(validate_url(&format!("https://e.com/{}", "a".repeat(3000))).is_err());
    }

    #[test]
    fn the_audit_trail_gets_only_the_origin_of_a_url() {
        assert_eq!(
            origin("https://hooks.example.com:8443/t/SECRET?token=x"),
            "https://hooks.example.com:8443"
        );
    }

    #[test]
    fn a_webhook_secret_never_prints_and_has_a_minimum_length() {
        let s = WebhookSecret::new(b"0123456789abcdef".to_vec()).expect("16 bytes");
        assert_eq!(format!("{s:?}"), "WebhookSecret(<redacted>)");
        assert!(WebhookSecret::new(b"short".to_vec()).is_err());
        assert!(WebhookSecret::new(vec![0u8; 513]).is_err());
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_tenant_and_recipient() {
        let cipher = Aes256Gcm::new(&[7u8; 32].into());
        let secret = WebhookSecret::new(b"0123456789abcdef0123".to_vec()).unwrap();
        let sealed = seal_secret(&cipher, "acme", "anthropic", &secret).unwrap();
        assert!(!sealed.windows(16).any(|w| w == b"0123456789abcdef"));
        let opened = open_secret(&cipher, "acme", "anthropic", &sealed).expect("opens");
        assert_eq!(opened.expose(), secret.expose());
        assert!(open_secret(&cipher, "globex", "anthropic", &sealed).is_none());
        assert!(open_secret(&cipher, "acme", "openai", &sealed).is_none());
        let other = Aes256Gcm::new(&[8u8; 32].into());
        assert!(open_secret(&other, "acme", "anthropic", &sealed).is_none());
        for len in 0..sealed.len() {
            assert!(open_secret(&cipher, "acme", "anthropic", &sealed[..len]).is_none());
        }
        // A secret stored as given (before it was encrypted) does not open either.
        assert!(open_secret(&cipher, "acme", "anthropic", secret.expose()).is_none());
    }

    #[test]
    fn a_delivered_body_keeps_everything_but_the_subject_references() {
        let body = r#"{"type":"custos.subject.erasure","action":"erasure","subject_references":["cus_42"],"categories":["draft"]}"#;
        let kept = custos_rights::recipients::redact_delivered(body);
        assert!(!kept.contains("cus_42"), "{kept}");
        let v: serde_json::Value = serde_json::from_str(&kept).unwrap();
        assert_eq!(v["action"], "erasure");
        assert_eq!(v["categories"], serde_json::json!(["draft"]));
        assert_eq!(
            custos_rights::recipients::redact_delivered("not json"),
            "{}"
        );
    }

    #[test]
    fn long_errors_are_cut_on_a_character_boundary() {
        let s = "é".repeat(600);
        let t = truncate(&s, 500);
        assert_eq!(t.chars().count(), 501);
        assert!(t.ends_with('…'));
    }
}
