//! Retention over HTTP (PRODUCT.md C4): events (app, dpo), the tenant's tier and overrides
//! (dpo), legal holds (dpo places and releases them; auditors may list them), and the retention
//! report and the purge's dry run (dpo, auditor). Every call is one library call on the caller's
//! own tenant, attributed to the key in the audit trail; the tenant comes from the key.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use custos_access::Role;
use custos_vault::{EventTarget, HoldTarget, PurgeOptions, VaultError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Caller;
use crate::data::{body_record, body_subject, now, tenant_id};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::Problem;
use crate::work::{as_caller, read, write};
use custos_types::ErrorCode;

/// Whom an event or a hold is about.
#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EventScope {
    /// The whole tenant (`subscription.ended`, `integration.removed`).
    Tenant,
    /// One subject (`account.deleted`, `consent.withdrawn`), optionally for one purpose.
    Subject,
    /// One record (`draft.decided`, `transcript.created`).
    Record,
}

/// An event that starts or ends retention periods.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    /// An event declared in the policy (`[[event]]`) or a built-in clock (`last_activity`,
    /// `consent.withdrawn`, `objection.received`).
    event: String,
    /// `tenant`, `subject` or `record`.
    scope: EventScope,
    /// With scope `subject`: the app's identifier for the person.
    subject: Option<String>,
    /// With scope `subject`: the purpose the event concerns (then only records serving it).
    purpose: Option<String>,
    /// With scope `record`: the record's id.
    record_id: Option<String>,
    /// When it happened (RFC 3339); default now. At most 5 minutes in the future.
    #[schema(value_type = Option<String>, format = DateTime)]
    at: Option<jiff::Timestamp>,
}

/// What a retention change did.
#[derive(Serialize, ToSchema)]
pub struct ChangeView {
    /// Whether anything changed (an event already known with an earlier time changes nothing).
    changed: bool,
    /// Records whose expiry was recomputed.
    recomputed: u64,
}

impl From<custos_vault::ChangeOutcome> for ChangeView {
    fn from(c: custos_vault::ChangeOutcome) -> Self {
        ChangeView {
            changed: c.changed,
            recomputed: c.recomputed,
        }
    }
}

fn absent(value: &Option<String>, field: &str, scope: &str) -> Result<(), Problem> {
    match value {
        Some(_) => Err(Problem::new(ErrorCode::InvalidBody).field(
            format!("/{field}"),
            format!("an event with scope `{scope}` takes no `{field}`"),
        )),
        None => Ok(()),
    }
}

fn required(value: Option<String>, field: &str, scope: &str) -> Result<String, Problem> {
    value.ok_or_else(|| {
        Problem::new(ErrorCode::InvalidBody).field(
            format!("/{field}"),
            format!("scope `{scope}` needs `{field}`"),
        )
    })
}

/// Records that an event happened: the retention periods it starts or ends are recomputed at
/// once (app and dpo keys, at every scope: the app is what knows a subscription ended).
#[utoipa::path(post, path = "/v1/events", tag = "retention", request_body = NewEvent, security(("api_key" = [])),
    responses((status = 200, body = ChangeView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, description = "Unknown record, subject, or a tenant without data", body = Problem),
        (status = 422, description = "Unknown event (with the nearest declared one), unknown purpose, or an event in the future", body = Problem)))]
pub async fn record_event(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(e): ApiJson<NewEvent>,
) -> Result<Response, Problem> {
    caller.require(Role::may_use_records, "record events")?;
    let tenant = tenant_id(&caller)?;
    let target = match e.scope {
        EventScope::Tenant => {
            absent(&e.subject, "subject", "tenant")?;
            absent(&e.purpose, "purpose", "tenant")?;
            absent(&e.record_id, "record_id", "tenant")?;
            EventTarget::Tenant
        }
        EventScope::Subject => {
            absent(&e.record_id, "record_id", "subject")?;
            let subject = body_subject(required(e.subject, "subject", "subject")?, "/subject")?;
            EventTarget::Subject {
                subject,
                purpose: e.purpose,
            }
        }
        EventScope::Record => {
            absent(&e.subject, "subject", "record")?;
            absent(&e.purpose, "purpose", "record")?;
            let id = required(e.record_id, "record_id", "record")?;
            EventTarget::Record(body_record(&id, "/record_id")?)
        }
    };
    let (event, actor) = (e.event, caller.0.actor());
    let at = e.at;
    as_caller(&s, &tenant, actor, move |s, t| {
        let now = now();
        let outcome = t
            .record_event(&s.loaded.policy, &target, &event, at.unwrap_or(now), now)
            .map_err(|e| match e {
                VaultError::UnknownPurpose { .. } => Problem::from(&e).refield("/purpose"),
                other => Problem::from(&other),
            })?;
        Ok(axum::Json(ChangeView::from(outcome)).into_response())
    })
    .await
}

/// The tenant's subscription tier.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierChange {
    /// A tier declared in the policy (`[[tier]]`).
    tier: String,
    /// Since when (RFC 3339); default now. A change dated before the current one is stale.
    #[schema(value_type = Option<String>, format = DateTime)]
    since: Option<jiff::Timestamp>,
}

/// Sets the tenant's tier; the expiries of the categories with per-tier periods follow (dpo
/// keys).
#[utoipa::path(put, path = "/v1/retention/tier", tag = "retention", request_body = TierChange, security(("api_key" = [])),
    responses((status = 200, body = ChangeView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "Unknown tier (with the nearest declared one)", body = Problem)))]
pub async fn set_tier(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(change): ApiJson<TierChange>,
) -> Result<Response, Problem> {
    caller.require(Role::may_handle_requests, "change the retention tier")?;
    let (tenant, actor) = (tenant_id(&caller)?, caller.0.actor());
    as_caller(&s, &tenant, actor, move |s, t| {
        let now = now();
        let since = change.since.unwrap_or(now);
        let outcome = t.set_tier(&s.loaded.policy, &change.tier, since, now)?;
        Ok(axum::Json(ChangeView::from(outcome)).into_response())
    })
    .await
}

/// The tenant's own retention period for a category.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideChange {
    /// In words or ISO 8601 (`"30 days"`, `"P1Y"`), within the policy's bounds.
    period: String,
}

/// Sets the tenant's own period for a category whose rule allows one (dpo keys).
#[utoipa::path(put, path = "/v1/retention/overrides/{category}", tag = "retention", request_body = OverrideChange, security(("api_key" = [])),
    params(("category" = String, Path, description = "Policy category id")),
    responses((status = 200, body = ChangeView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "Outside the policy's bounds (named in the detail), no override allowed, or unknown category", body = Problem)))]
pub async fn set_override(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(category): ApiPath<String>,
    ApiJson(o): ApiJson<OverrideChange>,
) -> Result<Response, Problem> {
    caller.require(Role::may_handle_requests, "change retention overrides")?;
    let period = custos_policy::Period::parse(&o.period)
        .map_err(|e| Problem::new(ErrorCode::InvalidBody).field("/period", e.to_string()))?;
    change_override(s, &caller, category, Some(period)).await
}

/// Removes the tenant's own period for a category: the policy's applies again (dpo keys).
#[utoipa::path(delete, path = "/v1/retention/overrides/{category}", tag = "retention", security(("api_key" = [])),
    params(("category" = String, Path, description = "Policy category id")),
    responses((status = 200, body = ChangeView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn clear_override(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(category): ApiPath<String>,
) -> Result<Response, Problem> {
    caller.require(Role::may_handle_requests, "change retention overrides")?;
    change_override(s, &caller, category, None).await
}

async fn change_override(
    s: Arc<AppState>,
    caller: &Caller,
    category: String,
    period: Option<custos_policy::Period>,
) -> Result<Response, Problem> {
    let (tenant, actor) = (tenant_id(caller)?, caller.0.actor());
    as_caller(&s, &tenant, actor, move |s, t| {
        let outcome = t.set_override(&s.loaded.policy, &category, period, now())?;
        Ok(axum::Json(ChangeView::from(outcome)).into_response())
    })
    .await
}

// ---- legal holds --------------------------------------------------------------------------

/// A legal hold to place.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHold {
    /// `tenant` (everything), `subject` or `category`.
    scope: HoldScope,
    /// With scope `subject`: the app's identifier for the person.
    subject: Option<String>,
    /// With scope `category`: the category (its sub-categories are covered too).
    category: Option<String>,
    /// Why: a case or claim reference, never personal data (1–500 characters).
    reason: String,
}

/// What a legal hold covers.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum HoldScope {
    /// Everything of the tenant.
    Tenant,
    /// Every record of one subject.
    Subject,
    /// Every record of one category.
    Category,
}

/// Places a legal hold: until it is released, no purge and no erasure removes what it covers
/// (Art. 17(3)(e) GDPR) (dpo keys).
#[utoipa::path(post, path = "/v1/holds", tag = "retention", request_body = NewHold, security(("api_key" = [])),
    responses((status = 201, description = "The hold: `hold_id`, `scope`, `subject` (pseudonym), `category`, `reason`, `set_by`, `set_at`", body = Object),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn place_hold(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(h): ApiJson<NewHold>,
) -> Result<Response, Problem> {
    caller.require(Role::may_handle_requests, "place legal holds")?;
    let wrong = |field: &str, scope: &str| {
        Problem::new(ErrorCode::InvalidBody).field(
            format!("/{field}"),
            format!("a hold with scope `{scope}` takes no `{field}`"),
        )
    };
    let target = match h.scope {
        HoldScope::Tenant if h.subject.is_some() => return Err(wrong("subject", "tenant")),
        HoldScope::Tenant if h.category.is_some() => return Err(wrong("category", "tenant")),
        HoldScope::Tenant => HoldTarget::Tenant,
        HoldScope::Subject if h.category.is_some() => return Err(wrong("category", "subject")),
        HoldScope::Subject => HoldTarget::Subject(body_subject(
            required(h.subject, "subject", "subject")?,
            "/subject",
        )?),
        HoldScope::Category if h.subject.is_some() => return Err(wrong("subject", "category")),
        HoldScope::Category => HoldTarget::Category(required(h.category, "category", "category")?),
    };
    let (tenant, actor) = (tenant_id(&caller)?, caller.0.actor());
    as_caller(&s, &tenant, actor, move |s, t| {
        let hold = t.place_hold(&s.loaded.policy, &target, &h.reason, now())?;
        Ok((StatusCode::CREATED, axum::Json(hold)).into_response())
    })
    .await
}

/// Which holds to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HoldsQuery {
    /// `true`: released holds too (default: active ones only).
    all: Option<bool>,
}

/// The tenant's legal holds.
#[derive(Serialize, ToSchema)]
pub struct HoldList {
    /// Oldest first.
    #[schema(value_type = Vec<Object>)]
    holds: Vec<custos_vault::HoldInfo>,
}

/// Lists the tenant's legal holds (dpo and auditor keys).
#[utoipa::path(get, path = "/v1/holds", tag = "retention", params(HoldsQuery), security(("api_key" = [])),
    responses((status = 200, body = HoldList), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_holds(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<HoldsQuery>,
) -> Result<Response, Problem> {
    caller.require(Role::may_read_audit, "list legal holds")?;
    let tenant = tenant_id(&caller)?;
    read(&s, move |_, v| {
        let holds = v.tenant(&tenant).holds(q.all.unwrap_or(false))?;
        Ok(axum::Json(HoldList { holds }).into_response())
    })
    .await
}

/// Releases a legal hold; the next purge takes what it kept (dpo keys).
#[utoipa::path(delete, path = "/v1/holds/{hold_id}", tag = "retention", security(("api_key" = [])),
    params(("hold_id" = String, Path, description = "The hold's id")),
    responses((status = 200, description = "The released hold", body = Object), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, description = "No active hold with that id in this tenant", body = Problem)))]
pub async fn release_hold(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(hold_id): ApiPath<String>,
) -> Result<Response, Problem> {
    caller.require(Role::may_handle_requests, "release legal holds")?;
    let (tenant, actor) = (tenant_id(&caller)?, caller.0.actor());
    as_caller(&s, &tenant, actor, move |_, t| {
        Ok(axum::Json(t.release_hold(&hold_id, now())?).into_response())
    })
    .await
}

// ---- reports ------------------------------------------------------------------------------

/// The tenant's retention report: per category the rule, records, oldest, next expiry, due,
/// waiting for an event, held; the tier, overrides, tenant events, holds and last purge (dpo and
/// auditor keys).
#[utoipa::path(get, path = "/v1/retention/report", tag = "retention", security(("api_key" = [])),
    responses((status = 200, description = "The report", body = Object), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn report(State(s): State<Arc<AppState>>, caller: Caller) -> Result<Response, Problem> {
    caller.require(Role::may_read_audit, "read the retention report")?;
    let tenant = tenant_id(&caller)?;
    read(&s, move |s, v| {
        let r = v
            .tenant(&tenant)
            .retention_report(&s.loaded.policy, now())?;
        Ok(axum::Json(r).into_response())
    })
    .await
}

/// What the next purge would remove from the tenant now: a dry run, per category the rule, the
/// records due, those kept by holds, and their expiry range (dpo and auditor keys).
#[utoipa::path(get, path = "/v1/retention/due", tag = "retention", security(("api_key" = [])),
    responses((status = 200, description = "The dry-run purge report (`rules[].purged` counts records due)", body = Object), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn due(State(s): State<Arc<AppState>>, caller: Caller) -> Result<Response, Problem> {
    caller.require(Role::may_read_audit, "read what is due")?;
    let tenant = tenant_id(&caller)?;
    write(&s, move |s, v| {
        let now = now();
        // A tenant with no data in the vault has nothing due (and gets no retention row).
        let known = v
            .tenant_ids()
            .map_err(Problem::from)?
            .iter()
            .any(|t| t == tenant.as_str());
        let report = if known {
            let opts = PurgeOptions {
                dry_run: true,
                ..PurgeOptions::default()
            };
            v.tenant(&tenant)
                .purge(&s.loaded.policy, now, opts, &mut |_| {})
                .map_err(Problem::from)?
        } else {
            custos_vault::PurgeReport {
                dry_run: true,
                now: Some(now),
                ..Default::default()
            }
        };
        Ok(axum::Json(report).into_response())
    })
    .await
}
