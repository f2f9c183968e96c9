//! Consent and processing decisions over HTTP (PRODUCT.md C6, C7; issue 7): the consent ledger
//! (grant, withdraw, state, history), acceptance of statement versions, Global Privacy Control,
//! the marketing suppression list, the decision call (one and a batch) and approval gates with
//! one-time tokens. Each route is one library call in `custos_vault::consent` on the caller's own
//! tenant, attributed to the key in the audit trail.
//!
//! The subject identifier and the address always travel in the body, never in the URL, so they
//! never reach access logs or the route label of a metric. Decisions are not audited one by one
//! (too many); each reason is counted in `custos_decisions_total{effect,rule}`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use custos_access::Role;
use custos_consent::decision::{Decision, Effect};
use custos_consent::ledger::{ConsentKind, ConsentState};
use custos_vault::consent::{ConsentRecord, DecisionQuery};
use custos_vault::{RecordId, SubjectId, TenantId, TenantVault};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Caller;
use crate::data::{body_record, body_subject, now};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::Problem;
use crate::work::{as_caller, quick, write};
use custos_types::ErrorCode;

/// The most decisions one batch may ask for; a larger batch is refused whole (422), so an app
/// cannot tie up the server with one call.
pub const MAX_BATCH: usize = 1000;

/// Whether the request carries Global Privacy Control: a `Sec-GPC` header whose value is exactly
/// `1` (any other value is ignored; with several headers, one `1` is enough).
pub(crate) fn gpc(headers: &HeaderMap) -> bool {
    headers
        .get_all("sec-gpc")
        .iter()
        .any(|v| v.as_bytes() == b"1")
}

fn tenant(caller: &Caller) -> Result<TenantId, Problem> {
    crate::data::tenant_id(caller)
}

/// Records a `Sec-GPC: 1` signal for the subject (idempotent): an objection to sale or sharing
/// and to direct marketing that every later decision sees.
fn record_gpc(t: &mut TenantVault<'_>, who: &SubjectId, at: Timestamp) -> Result<(), Problem> {
    t.record_gpc(who, None, at)
        .map(|_| ())
        .map_err(Problem::from)
}

/// Runs a consent call about one subject on the caller's tenant, acting as the caller (see
/// [`as_caller`]). A `Sec-GPC: 1` signal on the request is recorded for the subject first, so
/// what `work` reads or records (at the time it is given) already sees it.
async fn about_subject<T: Send + 'static>(
    s: &Arc<AppState>,
    (tenant, actor): (TenantId, String),
    who: SubjectId,
    headers: &HeaderMap,
    work: impl FnOnce(&AppState, &mut TenantVault<'_>, &SubjectId, Timestamp) -> Result<T, Problem>
    + Send
    + 'static,
) -> Result<T, Problem> {
    let signal = gpc(headers);
    as_caller(s, &tenant, actor, move |s, t| {
        let now = now();
        if signal {
            record_gpc(t, &who, now)?;
        }
        work(s, t, &who, now)
    })
    .await
}

// ---- the ledger ---------------------------------------------------------------------------

/// Grant or withdraw.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum KindField {
    /// Consent given (Art. 4(11), 7(1)).
    Grant,
    /// Consent withdrawn (Art. 7(3)): one call, as easy as giving.
    Withdraw,
}

/// A grant or a withdrawal, as the app saw the person make it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConsent {
    /// The app's identifier for the person. Only its pseudonym is stored.
    subject: String,
    /// A purpose of the policy whose legal basis is consent (or an opt-in).
    purpose: String,
    /// `grant` or `withdraw`.
    kind: KindField,
    /// When the person did it (RFC 3339); default now. Not older than the purpose's last entry,
    /// at most 5 minutes in the future.
    #[schema(value_type = Option<String>, format = DateTime)]
    at: Option<Timestamp>,
    /// The version of the notice the person saw.
    notice_version: String,
    /// SHA-256 of the notice text the person saw, 64 hex digits.
    notice_hash: String,
    /// Through which channel (`web`, `app`, `email`, ...).
    channel: String,
    /// Proof: a form id, a truncated IP (`192.0.2.0/24`). A full IP address is refused.
    proof: String,
}

/// A purpose's consent after the entry.
#[derive(Serialize, ToSchema)]
pub struct ConsentView {
    /// The purpose.
    purpose: String,
    /// `{"state": "never"}`, `{"state": "granted", "at", "notice_version"}` or
    /// `{"state": "withdrawn", "at"}`.
    #[schema(value_type = Object)]
    consent: ConsentState,
}

/// Records a grant or a withdrawal in the subject's ledger (app and dpo keys). Refused with 422
/// naming the field: an undefined purpose or one not based on consent (`/purpose`), a withdrawal
/// with nothing to withdraw (`/kind`), an entry older than the last one or in the future
/// (`/at`), a notice hash that is not SHA-256 (`/notice_hash`), a full IP address in the proof
/// (`/proof`). With `Sec-GPC: 1` the signal is recorded for the subject too.
#[utoipa::path(post, path = "/v1/consent", tag = "consent", request_body = NewConsent, security(("api_key" = [])),
    params(("Sec-GPC" = Option<String>, Header, description = "`1`: also record a Global Privacy Control objection for the subject")),
    responses((status = 201, body = ConsentView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "Refused by the ledger's rules; the field and the reason are named", body = Problem)))]
pub async fn record_consent(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(c): ApiJson<NewConsent>,
) -> Result<Response, Problem> {
    caller.require(Role::may_use_records, "record consent")?;
    let acting = (tenant(&caller)?, caller.0.actor());
    let who = body_subject(c.subject, "/subject")?;
    about_subject(&s, acting, who, &headers, move |s, t, who, now| {
        let record = ConsentRecord {
            kind: match c.kind {
                KindField::Grant => ConsentKind::Grant,
                KindField::Withdraw => ConsentKind::Withdraw,
            },
            purpose: c.purpose.trim().to_owned(),
            at: c.at.unwrap_or(now),
            notice_version: c.notice_version,
            notice_hash: c.notice_hash,
            channel: c.channel,
            proof: c.proof,
        };
        let consent = t.record_consent(&s.loaded.policy, who, &record, now)?;
        let body = ConsentView {
            purpose: record.purpose,
            consent,
        };
        Ok((StatusCode::CREATED, axum::Json(body)).into_response())
    })
    .await
}

/// Whose consent to read.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateQuery {
    /// The app's identifier for the person.
    subject: String,
    /// Notice versions whose change needs consent again (as `custos diff` reports them):
    /// consent given under one of them is `stale`.
    #[serde(default)]
    stale_versions: Vec<String>,
}

/// The subject's consent per consent-based purpose.
#[derive(Serialize, ToSchema)]
pub struct StatesView {
    /// Every consent-based purpose of the policy, in policy order: `purpose`, `consent` (as in
    /// the ledger) and `stale`.
    #[schema(value_type = Vec<Object>)]
    purposes: Vec<custos_vault::consent::PurposeConsent>,
}

/// The subject's consent for every consent-based purpose, each marked `stale` when given under
/// one of `stale_versions` (app, dpo and auditor keys). The subject is in the body, not the URL.
#[utoipa::path(post, path = "/v1/consent/state", tag = "consent", request_body = StateQuery, security(("api_key" = [])),
    params(("Sec-GPC" = Option<String>, Header, description = "`1`: also record a Global Privacy Control objection for the subject")),
    responses((status = 200, body = StatesView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn consent_state(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(q): ApiJson<StateQuery>,
) -> Result<Response, Problem> {
    caller.require(may_read_consent, "read consent")?;
    let acting = (tenant(&caller)?, caller.0.actor());
    let who = body_subject(q.subject, "/subject")?;
    about_subject(&s, acting, who, &headers, move |s, t, who, _| {
        let stale: Vec<&str> = q.stale_versions.iter().map(String::as_str).collect();
        let purposes = t.consent_states(&s.loaded.policy, who, &stale)?;
        Ok(axum::Json(StatesView { purposes }).into_response())
    })
    .await
}

/// Whose ledger to read.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectBody {
    /// The app's identifier for the person.
    subject: String,
}

/// The subject's ledger.
#[derive(Serialize, ToSchema)]
pub struct HistoryView {
    /// Every grant and withdrawal, oldest first: `purpose`, `kind`, `at`, `notice_version`,
    /// `notice_hash`, `channel`, `proof`.
    #[schema(value_type = Vec<Object>)]
    entries: Vec<custos_consent::ledger::ConsentEntry>,
}

/// The subject's whole consent ledger, oldest first (app, dpo and auditor keys): the evidence
/// of Art. 7(1).
#[utoipa::path(post, path = "/v1/consent/history", tag = "consent", request_body = SubjectBody, security(("api_key" = [])),
    params(("Sec-GPC" = Option<String>, Header, description = "`1`: also record a Global Privacy Control objection for the subject")),
    responses((status = 200, body = HistoryView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn consent_history(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(q): ApiJson<SubjectBody>,
) -> Result<Response, Problem> {
    caller.require(may_read_consent, "read consent")?;
    let acting = (tenant(&caller)?, caller.0.actor());
    let who = body_subject(q.subject, "/subject")?;
    about_subject(&s, acting, who, &headers, move |_, t, who, _| {
        let entries = t.consent_history(who)?;
        Ok(axum::Json(HistoryView { entries }).into_response())
    })
    .await
}

fn may_read_consent(r: Role) -> bool {
    r.may_use_records() || r.may_read_audit()
}

// ---- statement acceptances ----------------------------------------------------------------

/// The person accepted a statement version.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAcceptance {
    /// The app's identifier for the person.
    subject: String,
    /// The statement version accepted.
    version: String,
    /// SHA-256 of the statement text the person saw, 64 hex digits.
    notice_hash: String,
    /// When (RFC 3339); default now.
    #[schema(value_type = Option<String>, format = DateTime)]
    at: Option<Timestamp>,
    /// Through which channel (`app`, `web`, ...).
    channel: String,
    /// Proof: a screen or form id, a truncated IP. A full IP address is refused.
    proof: String,
}

/// What an acceptance did.
#[derive(Serialize, ToSchema)]
pub struct AcceptanceView {
    /// `false` when this version had been accepted before (nothing changed).
    recorded: bool,
}

/// Records that the subject accepted a statement version (app and dpo keys): 201 the first time,
/// 200 when that version was accepted before.
#[utoipa::path(post, path = "/v1/statement/acceptances", tag = "consent", request_body = NewAcceptance, security(("api_key" = [])),
    params(("Sec-GPC" = Option<String>, Header, description = "`1`: also record a Global Privacy Control objection for the subject")),
    responses((status = 201, body = AcceptanceView), (status = 200, description = "Accepted before", body = AcceptanceView),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "An empty field, a hash that is not SHA-256, a full IP address in the proof", body = Problem)))]
pub async fn accept_statement(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(a): ApiJson<NewAcceptance>,
) -> Result<Response, Problem> {
    caller.require(Role::may_use_records, "record acceptances")?;
    let acting = (tenant(&caller)?, caller.0.actor());
    let who = body_subject(a.subject, "/subject")?;
    // Refused before the GPC signal is recorded: a refused call changes nothing.
    if let Some(at) = a.at
        && custos_types::limits::beyond_skew(at.as_second(), now().as_second())
    {
        return Err(Problem::new(ErrorCode::InFuture).field("/at", "lies in the future"));
    }
    about_subject(&s, acting, who, &headers, move |_, t, who, now| {
        let at = a.at.unwrap_or(now);
        let recorded = t.accept_statement(
            who,
            &a.version,
            &a.notice_hash,
            at,
            &a.channel,
            &a.proof,
            now,
        )?;
        let status = if recorded {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok((status, axum::Json(AcceptanceView { recorded })).into_response())
    })
    .await
}

/// Must the person accept this version?
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MustAcceptQuery {
    /// The app's identifier for the person.
    subject: String,
    /// The current statement version; default the `version` of the policy this server runs.
    #[serde(default)]
    version: Option<String>,
}

/// The answer for the login screen.
#[derive(Serialize, ToSchema)]
pub struct MustAcceptView {
    /// The person has not accepted `version`: show it at the next login.
    must_accept: bool,
    /// The version asked about.
    version: String,
}

/// Whether the subject must accept statement `version` at the next login (app, dpo and auditor
/// keys).
#[utoipa::path(post, path = "/v1/statement/must-accept", tag = "consent", request_body = MustAcceptQuery, security(("api_key" = [])),
    params(("Sec-GPC" = Option<String>, Header, description = "`1`: also record a Global Privacy Control objection for the subject")),
    responses((status = 200, body = MustAcceptView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "A value breaks a rule of the policy or the API", body = Problem)))]
pub async fn must_accept(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(q): ApiJson<MustAcceptQuery>,
) -> Result<Response, Problem> {
    caller.require(may_read_consent, "read acceptances")?;
    let acting = (tenant(&caller)?, caller.0.actor());
    let who = body_subject(q.subject, "/subject")?;
    let version = match q.version {
        Some(v) if v.trim().is_empty() => {
            return Err(
                Problem::new(ErrorCode::MissingValue).field("/version", "must not be empty")
            );
        }
        Some(v) => v,
        None => s.loaded.policy.meta.version.clone().ok_or_else(|| {
            Problem::new(ErrorCode::MissingValue).field(
                "/version",
                "required: the policy this server runs states no `version` in [policy]",
            )
        })?,
    };
    about_subject(&s, acting, who, &headers, move |_, t, who, _| {
        let must_accept = t.must_accept(who, &version)?;
        Ok(axum::Json(MustAcceptView {
            must_accept,
            version,
        })
        .into_response())
    })
    .await
}

// ---- GPC and suppression ------------------------------------------------------------------

/// The GPC support resource (W3C Global Privacy Control, `.well-known/gpc.json`).
#[derive(Serialize, ToSchema)]
pub struct GpcSupport {
    /// Always `true`: this server honours `Sec-GPC: 1`.
    gpc: bool,
    /// When this was last changed: the policy's `updated` date (RFC 3339 date).
    #[serde(rename = "lastUpdate")]
    last_update: String,
}

/// The date Custos started to honour GPC, for a policy without an `updated` date.
const GPC_SINCE: &str = "2026-11-23";

/// Declares that this site honours Global Privacy Control: the consent API records a
/// `Sec-GPC: 1` request as the subject's objection to sale or sharing and to direct marketing
/// (Art. 21(2), (5) GDPR), and the decision call denies direct marketing for it.
#[utoipa::path(get, path = "/.well-known/gpc.json", tag = "public",
    responses((status = 200, body = GpcSupport)))]
pub async fn gpc_support(State(s): State<Arc<AppState>>) -> axum::Json<GpcSupport> {
    let updated = s
        .loaded
        .policy
        .meta
        .updated
        .as_ref()
        .map(|u| u.trim().to_owned())
        .filter(|u| u.parse::<jiff::civil::Date>().is_ok());
    axum::Json(GpcSupport {
        gpc: true,
        last_update: updated.unwrap_or_else(|| GPC_SINCE.to_owned()),
    })
}

/// An address to suppress.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSuppression {
    /// The person's e-mail address or phone number. Only a keyed hash of its normalised form is
    /// stored; it is never logged or echoed.
    address: String,
    /// Why, in a word or a code (`unsubscribe`, `complaint`); no personal data. 1–100 characters.
    reason: String,
}

/// What a suppression did.
#[derive(Serialize, ToSchema)]
pub struct SuppressionView {
    /// `false` when the address was on the list already.
    added: bool,
}

/// Puts an address on the marketing suppression list (app and dpo keys): from now on no direct
/// marketing purpose is allowed for it, even after the subject is erased (Art. 21(3) GDPR).
#[utoipa::path(post, path = "/v1/suppression", tag = "consent", request_body = NewSuppression, security(("api_key" = [])),
    responses((status = 201, body = SuppressionView), (status = 200, description = "On the list already", body = SuppressionView),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn suppress(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(n): ApiJson<NewSuppression>,
) -> Result<Response, Problem> {
    caller.require(Role::may_use_records, "add to the suppression list")?;
    let (tenant, actor) = (tenant(&caller)?, caller.0.actor());
    let reason = n.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 100 {
        return Err(Problem::new(ErrorCode::Unprocessable).field("/reason", "1–100 characters"));
    }
    as_caller(&s, &tenant, actor, move |_, t| {
        let added = t.suppress(&n.address, &reason, now())?;
        let status = if added {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok((status, axum::Json(SuppressionView { added })).into_response())
    })
    .await
}

// ---- decisions ----------------------------------------------------------------------------

/// "May we do this, now?"
#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct DecisionAsk {
    /// The app's identifier for the person.
    subject: String,
    /// The purpose the app wants to process for.
    purpose: String,
    /// The category of data.
    category: String,
    /// The record concerned, if one: its retention expiry counts.
    record_id: Option<String>,
    /// The person's e-mail address or phone number, checked against the suppression list (never
    /// stored).
    address: Option<String>,
    /// The action about to be taken (e.g. `draft.send`), for approval gates: one the policy
    /// gates (`approval = { action = … }`), else 422.
    action: Option<String>,
    /// The item the action is taken on (the draft id), as given when the approval was asked:
    /// a token approves one item of one subject.
    item: Option<String>,
    /// The one-time approval token for `action`; used up only when the decision allows.
    approval_token: Option<String>,
    /// Notice versions whose change needs consent again (`custos diff`): consent given under one
    /// of them counts as absent.
    #[serde(default)]
    stale_versions: Vec<String>,
    /// The recipient the data is to be disclosed to (a `[[recipient]]` id of the policy), if
    /// any: denied when undeclared, announced as new and still in its notice period, or when
    /// this tenant objected to its announcement (`recipient.*` rules, docs/announcements.md).
    recipient: Option<String>,
}

/// One reason, naming its rule.
#[derive(Serialize, ToSchema)]
pub struct ReasonView {
    /// Stable rule id, e.g. `consent.withdrawn` (the list is in docs/consent.md).
    rule: &'static str,
    /// `allow` or `deny`.
    effect: &'static str,
    /// The article it applies.
    article: &'static str,
    /// In one sentence.
    detail: String,
}

/// The answer.
#[derive(Serialize, ToSchema)]
pub struct DecisionView {
    /// Whether processing may go ahead.
    allowed: bool,
    /// Every reason, denials first.
    reasons: Vec<ReasonView>,
}

fn effect(e: Effect) -> &'static str {
    match e {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
    }
}

impl From<Decision> for DecisionView {
    fn from(d: Decision) -> Self {
        DecisionView {
            allowed: d.allowed,
            reasons: d
                .reasons
                .into_iter()
                .map(|r| ReasonView {
                    rule: r.rule,
                    effect: effect(r.effect),
                    article: r.article,
                    detail: r.detail.into_owned(),
                })
                .collect(),
        }
    }
}

/// A question checked and parsed, ready for the vault.
struct Parsed {
    ask: DecisionAsk,
    subject: SubjectId,
    record: Option<RecordId>,
}

fn parse(ask: DecisionAsk, at: &str) -> Result<Parsed, Problem> {
    let subject = body_subject(ask.subject.clone(), &format!("{at}/subject"))?;
    let record = match &ask.record_id {
        None => None,
        Some(id) => Some(body_record(id, format!("{at}/record_id"))?),
    };
    Ok(Parsed {
        ask,
        subject,
        record,
    })
}

fn decide_one(
    s: &AppState,
    t: &mut TenantVault<'_>,
    p: &Parsed,
    gpc: bool,
    now: Timestamp,
) -> Result<Decision, custos_vault::VaultError> {
    let stale: Vec<&str> = p.ask.stale_versions.iter().map(String::as_str).collect();
    // In memory, no query; a refused recipient leaves an approval token unspent.
    let recipient = p
        .ask
        .recipient
        .as_deref()
        .map(|r| crate::announcements::recipient_reason(s, t.tenant_id().as_str(), r, now));
    let refused = recipient.as_ref().is_some_and(|r| r.effect == Effect::Deny);
    let q = DecisionQuery {
        subject: &p.subject,
        purpose: &p.ask.purpose,
        category: &p.ask.category,
        record: p.record.as_ref(),
        address: p.ask.address.as_deref(),
        gpc,
        action: p.ask.action.as_deref(),
        item: p.ask.item.as_deref(),
        approval_token: p.ask.approval_token.as_deref().filter(|_| !refused),
        stale_versions: &stale,
    };
    let mut d = t.decide(&s.loaded.policy, &q, now)?;
    if let Some(r) = recipient {
        d = crate::announcements::with_recipient(d, r);
    }
    s.metrics
        .observe_decision(d.reasons.iter().map(|r| (effect(r.effect), r.rule)));
    Ok(d)
}

/// The decision: may this subject's data of this category be processed for this purpose, now,
/// and why (app and dpo keys)? Gathers the purpose's legal basis, the consent ledger (stale
/// consent counts as absent), restriction and objection, GPC (the stored signal, or `Sec-GPC: 1`
/// on this request), the suppression list (with `address`), the record's retention expiry (with
/// `record_id`) and the approval gate (with `action` and `approval_token`). Every denial names
/// its rule and article; a failed token (replayed, expired, for another action, unknown) is the
/// rule `approval.token`. Not audited one by one; counted per rule in `/metrics`.
#[utoipa::path(post, path = "/v1/decisions", tag = "consent", request_body = DecisionAsk, security(("api_key" = [])),
    params(("Sec-GPC" = Option<String>, Header, description = "`1`: the person sent Global Privacy Control; direct marketing is denied for this decision")),
    responses((status = 200, body = DecisionView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, description = "No such record in this tenant", body = Problem),
        (status = 422, description = "The category, purpose or action is not declared in the policy, or a value is empty", body = Problem)))]
pub async fn decide(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(ask): ApiJson<DecisionAsk>,
) -> Result<Response, Problem> {
    caller.require(Role::may_use_records, "ask for decisions")?;
    let (tenant, actor) = (tenant(&caller)?, caller.0.actor());
    let p = parse(ask, "")?;
    let signal = gpc(&headers);
    let st = s.clone();
    quick(s, move |v| {
        let mut t = v.tenant(&tenant).acting_as(actor);
        let d = decide_one(&st, &mut t, &p, signal, now()).map_err(Problem::from)?;
        Ok(axum::Json(DecisionView::from(d)).into_response())
    })
    .await
}

/// Many decisions in one call.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBatch {
    /// At most 1000 questions.
    items: Vec<DecisionAsk>,
}

/// The answers, in the order asked.
#[derive(Serialize, ToSchema)]
pub struct BatchView {
    /// One answer per item.
    results: Vec<DecisionView>,
}

/// Prefixes a problem's fields with the item's place, so a refusal names the item.
fn at_item(mut p: Problem, i: usize) -> Problem {
    let prefix = format!("/items/{i}");
    for e in &mut p.errors {
        if !e.field.starts_with(&prefix) {
            e.field = format!("{prefix}{}", e.field);
        }
    }
    if p.errors.is_empty() {
        p = p.field(prefix, "this item was refused; see the detail");
    }
    p
}

/// Up to 1000 decisions in one call, answered in order, with the same rules and `Sec-GPC`
/// handling as `POST /v1/decisions` (app and dpo keys). A malformed item or an unknown record
/// refuses the whole batch, naming the item (`/items/3/record_id`); a batch over the cap is 422
/// (`/items`), a body over the server's size limit 413.
#[utoipa::path(post, path = "/v1/decisions/batch", tag = "consent", request_body = DecisionBatch, security(("api_key" = [])),
    params(("Sec-GPC" = Option<String>, Header, description = "`1`: the person sent Global Privacy Control; applies to every item")),
    responses((status = 200, body = BatchView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, description = "An item names a record not in this tenant", body = Problem),
        (status = 413, description = "The body exceeds the server's limit", body = Problem),
        (status = 422, description = "More than 1000 items", body = Problem)))]
pub async fn decide_batch(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(batch): ApiJson<DecisionBatch>,
) -> Result<Response, Problem> {
    caller.require(Role::may_use_records, "ask for decisions")?;
    if batch.items.len() > MAX_BATCH {
        return Err(Problem::new(ErrorCode::Unprocessable).field(
            "/items",
            format!(
                "{} items; a batch holds at most {MAX_BATCH}: split it",
                batch.items.len()
            ),
        ));
    }
    let (tenant, actor) = (tenant(&caller)?, caller.0.actor());
    let parsed = batch
        .items
        .into_iter()
        .enumerate()
        .map(|(i, ask)| parse(ask, &format!("/items/{i}")))
        .collect::<Result<Vec<_>, _>>()?;
    let signal = gpc(&headers);
    as_caller(&s, &tenant, actor, move |s, t| {
        let now = now();
        let mut results = Vec::with_capacity(parsed.len());
        for (i, p) in parsed.iter().enumerate() {
            let d = decide_one(s, t, p, signal, now).map_err(|e| at_item(Problem::from(&e), i))?;
            results.push(DecisionView::from(d));
        }
        Ok(axum::Json(BatchView { results }).into_response())
    })
    .await
}

// ---- approval gates -----------------------------------------------------------------------

/// An item that needs a person's approval.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApproval {
    /// The action it gates, as the policy's purpose declares it (`draft.send`).
    action: String,
    /// The app's own reference for the item (a draft id); opaque, no personal data.
    item: String,
    /// The app's identifier for the person the item concerns (the draft's addressee): the
    /// token an approval yields is good only for this item of this subject.
    subject: String,
}

/// Registers an item that needs a person's approval before `action` (app and dpo keys). The
/// approval is `pending` until an approver or dpo key approves or rejects it. Audited.
#[utoipa::path(post, path = "/v1/approvals", tag = "approvals", request_body = NewApproval, security(("api_key" = [])),
    responses((status = 201, description = "The pending approval: `approval_id`, `action`, `item`, `state`, `requested_by`, `requested_at`", body = Object),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn request_approval(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(n): ApiJson<NewApproval>,
) -> Result<Response, Problem> {
    caller.require(Role::may_use_records, "ask for approvals")?;
    let (tenant, actor) = (tenant(&caller)?, caller.0.actor());
    let who = body_subject(n.subject.clone(), "/subject")?;
    as_caller(&s, &tenant, actor, move |s, t| {
        let a = t.request_approval(&s.loaded.policy, &n.action, &n.item, &who, now())?;
        Ok((StatusCode::CREATED, axum::Json(a)).into_response())
    })
    .await
}

/// Which approvals to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsQuery {
    /// `true`: decided ones too (default: pending only).
    #[serde(default)]
    all: bool,
}

/// The tenant's approvals.
#[derive(Serialize, ToSchema)]
pub struct ApprovalList {
    /// Oldest first.
    #[schema(value_type = Vec<Object>)]
    approvals: Vec<custos_vault::consent::Approval>,
}

/// Lists the tenant's approvals, pending ones unless `all=true` (dpo, auditor and approver keys).
#[utoipa::path(get, path = "/v1/approvals", tag = "approvals", params(ApprovalsQuery), security(("api_key" = [])),
    responses((status = 200, body = ApprovalList), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_approvals(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ApprovalsQuery>,
) -> Result<Response, Problem> {
    caller.require(|r| r.may_read_audit() || r.may_approve(), "list approvals")?;
    let tenant = tenant(&caller)?;
    write(&s, move |_, v| {
        let approvals = v.tenant(&tenant).approvals(q.all)?;
        Ok(axum::Json(ApprovalList { approvals }).into_response())
    })
    .await
}

/// One approval's state, for the app that asked for it to read before acting (app, dpo and
/// approver keys of the tenant): `pending`, `approved` (with `token_used_at` once spent) or
/// `rejected` (with the reason).
#[utoipa::path(get, path = "/v1/approvals/{approval_id}", tag = "approvals", security(("api_key" = [])),
    params(("approval_id" = String, Path, description = "The approval's id")),
    responses((status = 200, description = "The approval", body = Object), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_approval(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    caller.require(
        |r| Role::may_use_records(r) || Role::may_read_audit(r) || Role::may_approve(r),
        "read approvals",
    )?;
    let (tenant, id) = (tenant(&caller)?, approval_id(&id)?);
    write(&s, move |_, v| {
        Ok(axum::Json(v.tenant(&tenant).approval(&id)?).into_response())
    })
    .await
}

/// A person's verdict.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    /// Why: required to reject, optional to approve. No personal data.
    reason: Option<String>,
}

/// An approval decided.
#[derive(Serialize, ToSchema)]
pub struct DecidedView {
    /// The approval, with `decided_by` and `decided_at`.
    #[schema(value_type = Object)]
    approval: custos_vault::consent::Approval,
    /// On approval: the one-time token the app presents to the decision call for the action.
    /// Shown once (only its hash is stored), good for one action within 15 minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

fn approval_id(id: &str) -> Result<String, Problem> {
    let id = id.to_ascii_lowercase();
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id)
    } else {
        Err(Problem::new(ErrorCode::InvalidPath)
            .field("approval_id", "an approval id is 32 hex digits"))
    }
}

/// Approves an item (approver and dpo keys: the person approving, named in the audit trail).
/// The answer holds the one-time token for the action; an approval decided before is 409
/// `refused`.
#[utoipa::path(post, path = "/v1/approvals/{approval_id}/approve", tag = "approvals", request_body = Verdict, security(("api_key" = [])),
    params(("approval_id" = String, Path, description = "The approval's id")),
    responses((status = 200, body = DecidedView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, description = "Already approved or rejected", body = Problem)))]
pub async fn approve(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(v): ApiJson<Verdict>,
) -> Result<Response, Problem> {
    verdict(s, caller, id, true, v).await
}

/// Rejects an item, with the reason (approver and dpo keys: the person rejecting, named in the
/// audit trail).
/// An approval decided before is 409 `refused`; a missing reason 422 (`/reason`).
#[utoipa::path(post, path = "/v1/approvals/{approval_id}/reject", tag = "approvals", request_body = Verdict, security(("api_key" = [])),
    params(("approval_id" = String, Path, description = "The approval's id")),
    responses((status = 200, body = DecidedView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, description = "Already approved or rejected", body = Problem),
        (status = 422, description = "No reason given", body = Problem)))]
pub async fn reject(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(v): ApiJson<Verdict>,
) -> Result<Response, Problem> {
    verdict(s, caller, id, false, v).await
}

async fn verdict(
    s: Arc<AppState>,
    caller: Caller,
    id: String,
    approve: bool,
    v: Verdict,
) -> Result<Response, Problem> {
    caller.require(
        Role::may_approve,
        if approve {
            "approve items"
        } else {
            "reject items"
        },
    )?;
    let (tenant, actor, id) = (tenant(&caller)?, caller.0.actor(), approval_id(&id)?);
    as_caller(&s, &tenant, actor, move |_, t| {
        let (approval, token) = t.decide_approval(&id, approve, v.reason.as_deref(), now())?;
        Ok(axum::Json(DecidedView { approval, token }).into_response())
    })
    .await
}
