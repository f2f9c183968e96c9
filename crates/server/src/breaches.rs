//! The breach register over HTTP (PRODUCT.md C7, Arts 33 and 34 GDPR).
//!
//! Every breach is recorded, notified or not (Art. 33(5)): its record follows the EDPB's common
//! template (`custos_breach::record`), each answer marked as given by a person or derived by
//! Custos. The register counts the notification deadline by the rules in force when the
//! organisation became aware (72 hours in UTC through weekends and holidays, Art. 33(1)),
//! proposes whether to notify the authority and the people affected with the reasons, records
//! what a person decided, finds who was affected in the vault (counts only), and drafts the
//! notification to the Autoriteit Persoonsgegevens and the letter to the people affected.
//! Writes need a dpo key; auditors read. The record's text never reaches the audit trail: its
//! digest does.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use custos_access::Role;
use custos_breach::assess::Decision;
use custos_breach::clock::DEFAULT_REMINDERS;
use custos_breach::draft::{Contact, ControllerDetails};
use custos_breach::record::Breach;
use custos_policy::Lang;
use custos_types::ErrorCode;
use custos_vault::VaultError;
use custos_vault::breaches::{RegisterSettings, StoredBreach};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Caller;
use crate::data::{now, tenant_id};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::Problem;
use crate::work::{as_caller, read};

/// A vault error as a problem: an invalid record names each field with its reason.
pub(crate) fn problem(e: &VaultError) -> Problem {
    match e {
        VaultError::InvalidBreach(found) => found
            .iter()
            .fold(Problem::new(ErrorCode::InvalidBreach), |p, i| {
                p.field(&i.field, &i.reason)
            }),
        other => Problem::from(other),
    }
}

/// A breach as the register shows it: where it stands, the record, the clock, Custos's
/// proposal and the decision.
#[derive(Serialize)]
pub struct BreachView {
    /// The breach's id.
    pub breach_id: String,
    /// The version shown (write the next one on top of it).
    pub version: i64,
    /// When it was first recorded.
    pub opened_at: jiff::Timestamp,
    /// When the authority must have been notified.
    pub deadline_at: jiff::Timestamp,
    /// When the authority (as processor: the controller) was told.
    pub authority_notified_at: Option<jiff::Timestamp>,
    /// When it was closed in the register.
    pub closed_at: Option<jiff::Timestamp>,
    /// Who wrote this version.
    pub actor: String,
    /// The record.
    pub breach: Breach,
    /// What a person decided on notifying.
    pub decision: Option<Decision>,
    /// The clock: where it stands now, whether a delay needs reasons, when to remind.
    pub clock: ClockView,
    /// Custos's proposal (a person decides).
    pub proposal: custos_breach::assess::Proposal,
}

/// The clock of a breach now.
#[derive(Serialize)]
pub struct ClockView {
    /// Where it stands.
    pub status: custos_breach::clock::Status,
    /// Whether the notification must now give reasons for the delay (Art. 33(1)).
    pub requires_delay_reason: bool,
    /// The rule set it counts by, with its citation.
    pub rules: String,
    /// When to remind (24, 6 and 1 hours before the deadline).
    pub reminders: Vec<custos_breach::clock::Reminder>,
}

/// The view of a stored breach at `now`.
pub fn view(
    settings: &RegisterSettings,
    stored: &StoredBreach,
    now: jiff::Timestamp,
) -> Result<BreachView, VaultError> {
    let entry = stored.entry()?;
    let rules = settings.rules_for(&entry.breach)?;
    let mut clock = settings.clock(&entry.breach)?;
    if let Some(at) = stored.authority_notified_at {
        clock = clock.notified(at);
    }
    Ok(BreachView {
        breach_id: stored.breach_id.clone(),
        version: stored.version,
        opened_at: stored.opened_at,
        deadline_at: stored.deadline_at,
        authority_notified_at: stored.authority_notified_at,
        closed_at: stored.closed_at,
        actor: stored.actor.clone(),
        clock: ClockView {
            status: clock.status(now, &DEFAULT_REMINDERS),
            requires_delay_reason: clock.requires_delay_reason(now)
                && entry.breach.delay_reason.is_none(),
            rules: format!("{} ({})", rules.id, rules.citation),
            reminders: clock.reminders(&DEFAULT_REMINDERS),
        },
        proposal: settings.propose(&entry.breach)?,
        breach: entry.breach,
        decision: entry.decision,
    })
}

/// Who the organisation is, for the drafts: the policy's controller, its registration, contact
/// and DPO.
pub fn controller(policy: &custos_policy::Policy) -> ControllerDetails {
    let c = &policy.controller;
    let email = c
        .contact
        .iter()
        .find(|ch| matches!(ch.kind, custos_policy::model::ChannelKind::Email))
        .map(|ch| ch.address.clone())
        .unwrap_or_default();
    ControllerDetails {
        name: c.name.clone().unwrap_or_default(),
        registration: c
            .registration
            .as_ref()
            .map(|r| format!("{} {}", r.register.to_uppercase(), r.number)),
        contact: Contact {
            name: c.name.clone().unwrap_or_default(),
            email,
            phone: None,
        },
        dpo: c.dpo.as_ref().filter(|d| d.appointed).map(|d| Contact {
            name: d.name.clone().unwrap_or_else(|| "DPO".into()),
            email: d.email.clone().unwrap_or_default(),
            phone: d.phone.clone(),
        }),
    }
}

pub(crate) fn breach_id(id: &str) -> Result<String, Problem> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(Problem::new(ErrorCode::BreachNotFound).detail("a breach id is 32 hex digits"))
    }
}

fn answer(view: BreachView, status: StatusCode) -> Response {
    (status, axum::Json(view)).into_response()
}

/// Records a breach (dpo keys): the record after the EDPB template, without `id` (the register
/// gives it). Refused field by field when it contradicts itself (awareness in the future, an
/// end before a start, a count of 0 with people affected, a follow-up of no breach).
#[utoipa::path(post, path = "/v1/breaches", tag = "breaches", request_body = Object, security(("api_key" = [])),
    responses((status = 201, description = "The breach: id, version, deadline, the clock, Custos's proposal", body = Object),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "The record is invalid: every field named with its reason", body = Problem)))]
pub async fn record_breach(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(breach): ApiJson<Breach>,
) -> Result<Response, Problem> {
    caller.require(Role::may_handle_requests, "record breaches")?;
    let (tenant, actor) = (tenant_id(&caller)?, caller.0.actor());
    as_caller(&s, &tenant, actor, move |s, t| {
        let now = now();
        let stored = t
            .record_breach(breach, &s.breach_settings, now)
            .map_err(|e| problem(&e))?;
        let v = view(&s.breach_settings, &stored, now).map_err(|e| problem(&e))?;
        Ok(answer(v, StatusCode::CREATED))
    })
    .await
}

/// Which breaches to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `true`: closed ones too.
    #[serde(default)]
    all: bool,
}

/// The register (dpo and auditor keys): open breaches by deadline, closed ones with `all=true`.
#[utoipa::path(get, path = "/v1/breaches", tag = "breaches", params(ListQuery), security(("api_key" = [])),
    responses((status = 200, description = "The breaches, each with its clock and proposal", body = Object),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_breaches(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    caller.require(Role::may_read_audit, "read the breach register")?;
    let tenant = tenant_id(&caller)?;
    read(&s, move |s, v| {
        let now = now();
        let listed = v
            .tenant(&tenant)
            .breaches(q.all)
            .map_err(|e| problem(&e))?
            .iter()
            .map(|b| view(&s.breach_settings, b, now))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| problem(&e))?;
        Ok(axum::Json(serde_json::json!({ "breaches": listed })).into_response())
    })
    .await
}

/// One breach (dpo and auditor keys), with its versions' count.
#[utoipa::path(get, path = "/v1/breaches/{breach_id}", tag = "breaches", security(("api_key" = [])),
    params(("breach_id" = String, Path, description = "The breach's id")),
    responses((status = 200, description = "The breach", body = Object),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_breach(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    caller.require(Role::may_read_audit, "read the breach register")?;
    let (tenant, id) = (tenant_id(&caller)?, breach_id(&id)?);
    read(&s, move |s, v| {
        let stored = v.tenant(&tenant).breach(&id).map_err(|e| problem(&e))?;
        let v = view(&s.breach_settings, &stored, now()).map_err(|e| problem(&e))?;
        Ok(answer(v, StatusCode::OK))
    })
    .await
}

/// A follow-up: the whole record again, written on top of the version it was made from.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUp {
    /// The version the change was made on (refused as `breach-stale` if another came since).
    version: i64,
    /// The record as it now stands.
    #[schema(value_type = Object)]
    breach: Breach,
}

/// Writes the next version of a breach (dpo keys): information given in phases (Art. 33(4)),
/// who was told when, the reasons for a delay.
#[utoipa::path(put, path = "/v1/breaches/{breach_id}", tag = "breaches", request_body = FollowUp, security(("api_key" = [])),
    params(("breach_id" = String, Path, description = "The breach's id")),
    responses((status = 200, description = "The breach", body = Object),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Another version was written since `version`", body = Problem),
        (status = 422, body = Problem)))]
pub async fn update_breach(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(f): ApiJson<FollowUp>,
) -> Result<Response, Problem> {
    caller.require(Role::may_handle_requests, "record breaches")?;
    let (tenant, actor, id) = (tenant_id(&caller)?, caller.0.actor(), breach_id(&id)?);
    as_caller(&s, &tenant, actor, move |s, t| {
        let now = now();
        let stored = t
            .update_breach(&id, f.version, f.breach, &s.breach_settings, now)
            .map_err(|e| problem(&e))?;
        let v = view(&s.breach_settings, &stored, now).map_err(|e| problem(&e))?;
        Ok(answer(v, StatusCode::OK))
    })
    .await
}

/// What a person decided on notifying.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// The version decided on.
    version: i64,
    /// Notify the authority (Art. 33(1)).
    notify_authority: bool,
    /// Tell the people affected (Art. 34(1)).
    notify_subjects: bool,
    /// Why; when departing from Custos's proposal, say so.
    reasons: String,
}

/// Records the decision on notifying (dpo keys), by the caller, checked against Custos's
/// proposal: departing from it is allowed with reasons that say so.
#[utoipa::path(post, path = "/v1/breaches/{breach_id}/decision", tag = "breaches", request_body = DecisionBody, security(("api_key" = [])),
    params(("breach_id" = String, Path, description = "The breach's id")),
    responses((status = 200, description = "The breach with the decision", body = Object),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn decide_breach(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(d): ApiJson<DecisionBody>,
) -> Result<Response, Problem> {
    caller.require(Role::may_handle_requests, "decide on notifying a breach")?;
    let (tenant, actor, id) = (tenant_id(&caller)?, caller.0.actor(), breach_id(&id)?);
    as_caller(&s, &tenant, actor.clone(), move |s, t| {
        let now = now();
        let decision = Decision {
            notify_authority: d.notify_authority,
            notify_subjects: d.notify_subjects,
            reasons: d.reasons.trim().to_owned(),
            by: actor,
            at: now,
        };
        let stored = t
            .decide_breach(&id, d.version, decision, &s.breach_settings, now)
            .map_err(|e| problem(&e))?;
        let v = view(&s.breach_settings, &stored, now).map_err(|e| problem(&e))?;
        Ok(answer(v, StatusCode::OK))
    })
    .await
}

/// Which data, over which time, to look for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AffectedQuery {
    /// The policy's category ids the breach concerned.
    categories: Vec<String>,
    /// The window's start (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    from: jiff::Timestamp,
    /// The window's end.
    #[schema(value_type = String, format = DateTime)]
    to: jiff::Timestamp,
}

/// Who a breach may have affected in the vault (dpo keys): distinct subjects and records per
/// category stored by the window's end, those erased since it began, and whether all of it was
/// encrypted at rest (Art. 34(3)(a)); and in `datasets`, the rows of those categories the
/// company's own databases hold now, per table, where connectors reach them. Counts only; the
/// queries and digests of the answers go into the audit trail.
#[utoipa::path(post, path = "/v1/breaches/{breach_id}/affected", tag = "breaches", request_body = AffectedQuery, security(("api_key" = [])),
    params(("breach_id" = String, Path, description = "The breach's id")),
    responses((status = 200, description = "The counts and their digest", body = Object),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn affected(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(q): ApiJson<AffectedQuery>,
) -> Result<Response, Problem> {
    caller.require(Role::may_handle_requests, "look for who a breach affected")?;
    let (tenant, actor, id) = (tenant_id(&caller)?, caller.0.actor(), breach_id(&id)?);
    if q.to < q.from {
        return Err(Problem::new(ErrorCode::InvalidBreach).field("/to", "ends before /from"));
    }
    if q.categories.is_empty() {
        return Err(Problem::new(ErrorCode::InvalidBreach)
            .field("/categories", "name at least one category"));
    }
    for (i, c) in q.categories.iter().enumerate() {
        if !s.loaded.policy.categories.iter().any(|k| &k.id == c) {
            return Err(Problem::new(ErrorCode::InvalidBreach)
                .field(format!("/categories/{i}"), "not a category of the policy"));
        }
    }
    as_caller(&s, &tenant, actor, move |s, t| {
        t.breach(&id).map_err(|e| problem(&e))?;
        let found = t
            .breach_affected(Some(&id), &q.categories, q.from, q.to, now())
            .map_err(|e| problem(&e))?;
        // The company's own databases, where connectors reach them: rows held now.
        let datasets = t
            .breach_affected_in_datasets(&s.loaded.policy, Some(&id), &q.categories, now())
            .map_err(|e| problem(&VaultError::from(e)))?;
        let mut body = serde_json::to_value(&found).map_err(|_| {
            Problem::new(ErrorCode::Internal).detail("the counts could not be encoded")
        })?;
        body["datasets"] = serde_json::to_value(&datasets).map_err(|_| {
            Problem::new(ErrorCode::Internal).detail("the counts could not be encoded")
        })?;
        Ok(axum::Json(body).into_response())
    })
    .await
}

/// The language of the drafts.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DraftQuery {
    /// `nl` (default) or `en`.
    lang: Option<String>,
}

/// The drafts of a breach (dpo and auditor keys): the notification to the Autoriteit
/// Persoonsgegevens in the order of its form, with every question still open listed, and the
/// letter to the people affected (Art. 34(2)).
#[utoipa::path(get, path = "/v1/breaches/{breach_id}/draft", tag = "breaches", params(("breach_id" = String, Path, description = "The breach's id"), DraftQuery), security(("api_key" = [])),
    responses((status = 200, description = "`authority` (chapters and `missing`) and `letter`", body = Object),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn draft(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DraftQuery>,
) -> Result<Response, Problem> {
    caller.require(Role::may_read_audit, "read the breach register")?;
    let (tenant, id) = (tenant_id(&caller)?, breach_id(&id)?);
    let lang = match q.lang.as_deref() {
        None => Lang::Nl,
        Some(code) => Lang::from_code(code)
            .ok_or_else(|| Problem::new(ErrorCode::InvalidQuery).field("lang", "use nl or en"))?,
    };
    read(&s, move |s, v| {
        let entry = v
            .tenant(&tenant)
            .breach(&id)
            .and_then(|b| b.entry())
            .map_err(|e| problem(&e))?;
        let who = controller(&s.loaded.policy);
        let authority = custos_breach::draft::ap_notification(
            &entry.breach,
            &who,
            entry.decision.as_ref(),
            lang,
        );
        let letter = custos_breach::draft::subject_letter(&entry.breach, &who, lang);
        Ok(
            axum::Json(serde_json::json!({ "authority": authority, "letter": letter }))
                .into_response(),
        )
    })
    .await
}
