//! Disclosures and recipients' webhooks over HTTP (Art. 19).
//!
//! The app records each disclosure as it makes it (app and dpo keys): which subject's data of
//! which categories went to which recipient of the policy, with the recipient's own reference
//! for the subject. The DPO sets each recipient's webhook, reads the dead-letter list (auditors
//! too) and sends dead notifications again. The notifications themselves are queued by
//! rectification, erasure and restriction and sent by the notifier ([`crate::notifier`]). As
//! everywhere, the tenant comes from the key and the subject travels in the body, never the URL.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use custos_access::Role;
use custos_vault::VaultError;
use custos_vault::recipients::{Notification, RecipientError, WebhookSecret};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Caller;
use crate::data::{body_subject, now, tenant_id};
use crate::extract::{ApiJson, ApiPath};
use crate::problem::Problem;
use crate::work::{as_caller, read};

/// A vault error as a problem; an unknown category is blamed on `categories_field`, where this
/// route's body names the categories.
fn problem(e: &VaultError, categories_field: &str) -> Problem {
    let p = Problem::from(e);
    match e {
        VaultError::UnknownCategory { .. } => p.refield(categories_field),
        _ => p,
    }
}

/// A disclosure the app made.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDisclosure {
    /// The app's identifier for the person whose data went.
    subject: String,
    /// The recipient: an id declared in the policy (`[[recipient]]`).
    recipient: String,
    /// The categories of data disclosed (policy category ids; at least one).
    categories: Vec<String>,
    /// The recipient's own identifier for the person (1–256 characters), sent back to it in
    /// every notification so it can find whom a notice is about. Never the app's identifier
    /// unless the recipient knows the person by it.
    reference: Option<String>,
    /// When the data went (RFC 3339); default now. At most 5 minutes in the future.
    #[schema(value_type = Option<String>, format = DateTime)]
    disclosed_at: Option<jiff::Timestamp>,
}

/// Records that a subject's data went to a recipient, so the recipient is told of every later
/// rectification, erasure or restriction (Art. 19) (app and dpo keys).
#[utoipa::path(post, path = "/v1/disclosures", tag = "recipients", request_body = NewDisclosure, security(("api_key" = [])),
    responses((status = 201, description = "The disclosure: `disclosure_id`, `recipient`, `categories`, `disclosed_at`, and `outside_policy`: the categories the policy does not say this recipient receives (recorded all the same; the statement needs a look)", body = Object),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "Undeclared recipient (with the nearest declared one), unknown or no category, bad reference, or dated in the future", body = Problem)))]
pub async fn record_disclosure(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(d): ApiJson<NewDisclosure>,
) -> Result<Response, Problem> {
    caller.require(Role::may_use_records, "record disclosures")?;
    let subject = body_subject(d.subject, "/subject")?;
    let (tenant, actor) = (tenant_id(&caller)?, caller.0.actor());
    as_caller(&s, &tenant, actor, move |s, t| {
        let now = now();
        let at = d.disclosed_at.unwrap_or(now);
        crate::announcements::refuse_disclosure(s, t.tenant_id().as_str(), &d.recipient, at)?;
        let disclosure = t
            .record_disclosure(
                &s.loaded.policy,
                &subject,
                &d.recipient,
                &d.categories,
                d.reference,
                d.disclosed_at.unwrap_or(now),
                now,
            )
            .map_err(|e| problem(&e, "/categories"))?;
        Ok((StatusCode::CREATED, axum::Json(disclosure)).into_response())
    })
    .await
}

/// A recipient's webhook.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookChange {
    /// Where notifications are POSTed: an `http` or `https` URL, without credentials.
    url: String,
    /// The key of the HMAC-SHA256 signature on every delivery (16–512 bytes; use 32 random
    /// bytes). Shared with the recipient; never returned.
    secret: String,
}

/// Sets or replaces the webhook a recipient is notified through (dpo keys). Each delivery is
/// signed: `Custos-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{body}">`.
#[utoipa::path(put, path = "/v1/recipients/{recipient}/webhook", tag = "recipients", request_body = WebhookChange, security(("api_key" = [])),
    params(("recipient" = String, Path, description = "A recipient id declared in the policy")),
    responses((status = 200, description = "The webhook: `recipient`, `url`, `set_at` (never the secret)", body = Object),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "Undeclared recipient, a URL that is not http(s), or a secret of the wrong length", body = Problem)))]
pub async fn set_webhook(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(recipient): ApiPath<String>,
    ApiJson(w): ApiJson<WebhookChange>,
) -> Result<Response, Problem> {
    caller.require(Role::may_handle_requests, "set recipients' webhooks")?;
    let secret = WebhookSecret::new(w.secret.into_bytes()).map_err(|e| problem(&e, "/secret"))?;
    let (tenant, actor) = (tenant_id(&caller)?, caller.0.actor());
    as_caller(&s, &tenant, actor, move |s, t| {
        let hook = t
            .set_webhook(&s.loaded.policy, &recipient, &w.url, &secret, now())
            .map_err(|e| match e {
                VaultError::Recipient(RecipientError::UnknownRecipient { .. }) => {
                    Problem::from(&e).refield("recipient")
                }
                other => problem(&other, "/categories"),
            })?;
        Ok(axum::Json(hook).into_response())
    })
    .await
}

/// Sets or replaces the webhook through which the tenant's application hears which records
/// Custos deleted (retention purges, erasures), to drop its own copies (app and dpo keys). The
/// events (`records.purged`, `subject.erased`) name records by id only and are signed and
/// retried like the recipients' notices; undelivered ones join the dead letters under the
/// recipient `@app`.
#[utoipa::path(put, path = "/v1/app/webhook", tag = "recipients", request_body = WebhookChange, security(("api_key" = [])),
    responses((status = 200, description = "The webhook: `recipient` (`@app`), `url`, `set_at` (never the secret)", body = Object),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "A URL that is not http(s), or a secret of the wrong length", body = Problem)))]
pub async fn set_app_webhook(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(w): ApiJson<WebhookChange>,
) -> Result<Response, Problem> {
    caller.require(Role::may_use_records, "set the application's webhook")?;
    let secret = WebhookSecret::new(w.secret.into_bytes()).map_err(|e| problem(&e, "/secret"))?;
    let (tenant, actor) = (tenant_id(&caller)?, caller.0.actor());
    as_caller(&s, &tenant, actor, move |_, t| {
        let hook = t
            .set_app_webhook(&w.url, &secret, now())
            .map_err(|e| problem(&e, "/url"))?;
        Ok(axum::Json(hook).into_response())
    })
    .await
}

/// The dead-letter list.
#[derive(Serialize, ToSchema)]
pub struct DeadLetters {
    /// Oldest first: `notification_id`, `request_id`, `recipient`, `action`, `state`,
    /// `attempts`, `last_error`, `created_at`.
    #[schema(value_type = Vec<Object>)]
    notifications: Vec<Notification>,
}

/// Notifications that could not be delivered (every attempt failed, or the recipient has no
/// webhook): the recipients still to be told, another way or by a retry (dpo and auditor keys).
#[utoipa::path(get, path = "/v1/notifications/dead", tag = "recipients", security(("api_key" = [])),
    responses((status = 200, body = DeadLetters), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn dead_letters(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Response, Problem> {
    caller.require(Role::may_read_audit, "read the dead-letter list")?;
    let tenant = tenant_id(&caller)?;
    read(&s, move |_, v| {
        let notifications = v.tenant(&tenant).dead_letters()?;
        Ok(axum::Json(DeadLetters { notifications }).into_response())
    })
    .await
}

/// Sends a dead notification again, with a fresh set of attempts, from the next notifier run
/// (dpo keys).
#[utoipa::path(post, path = "/v1/notifications/{notification_id}/retry", tag = "recipients", security(("api_key" = [])),
    params(("notification_id" = String, Path, description = "A dead notification's id")),
    responses((status = 200, description = "The notification, pending again", body = Object), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, description = "No dead notification with that id in this tenant", body = Problem)))]
pub async fn retry(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(notification_id): ApiPath<String>,
) -> Result<Response, Problem> {
    caller.require(Role::may_handle_requests, "retry notifications")?;
    let (tenant, actor) = (tenant_id(&caller)?, caller.0.actor());
    as_caller(&s, &tenant, actor, move |_, t| {
        let n = t
            .retry_dead(&notification_id, now())
            .map_err(|e| problem(&e, "/categories"))?;
        Ok(axum::Json(n).into_response())
    })
    .await
}
