//! Data-subject requests over HTTP (PRODUCT.md C5, Art. 12–22 GDPR), and the OpenGDPR-compatible
//! endpoint. Apps file requests from their privacy pages, fetch the one-time code to send to the
//! address they hold on file, and relay the code the person typed; DPOs verify by attestation,
//! extend, refuse and carry requests out; auditors read them. Every step is one library call on
//! the caller's own tenant, recorded in the request's history and the audit trail.

use std::io::Write;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use custos_access::Role;
use custos_vault::rights::{Rectification, Request, RequestError, RequestKind, Risk, Verification};
use custos_vault::{RequestId, SubjectId, TenantId, TenantVault, VaultError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Caller;
use crate::data::{body_record, body_subject, now, tenant_id};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::Problem;
use crate::work::{as_caller, write};
use custos_types::ErrorCode;

pub(crate) use custos_vault::rights::day_of;

/// A new request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileRequest {
    /// `access`, `rectification`, `erasure`, `restriction`, `portability`, `objection` or
    /// `withdrawal`.
    kind: String,
    /// The app's identifier for the person.
    subject: String,
    /// The purpose concerned: required for `withdrawal`, optional for `objection`.
    purpose: Option<String>,
    /// When the person made the request (RFC 3339); default now. The deadline counts from its
    /// day in the controller's time zone.
    #[schema(value_type = Option<String>, format = DateTime)]
    received_at: Option<jiff::Timestamp>,
    /// How it came in (`web`, `email`, `letter`, ...); default `api`.
    channel: Option<String>,
}

/// A request, with how it stands against its deadline.
#[derive(Serialize, ToSchema)]
pub struct RequestView {
    /// The request (id, kind, state, purpose, subject pseudonym, dates, detail).
    #[schema(value_type = Object)]
    request: Request,
    /// `on_track`, `at_risk` (due within 7 days), `overdue` or `closed`.
    #[schema(value_type = String)]
    risk: Risk,
}

impl RequestView {
    fn new(request: Request) -> Self {
        let risk = request.risk(day_of(now()));
        RequestView { request, risk }
    }
}

/// A filed request.
#[derive(Serialize, ToSchema)]
pub struct FiledView {
    #[serde(flatten)]
    view: RequestView,
    /// Whether the same subject already had an open request of this kind; it is returned.
    duplicate: bool,
}

fn parse_kind(kind: &str) -> Result<RequestKind, Problem> {
    RequestKind::parse(kind).ok_or_else(|| {
        let all: Vec<&str> = RequestKind::ALL.iter().map(|k| k.as_str()).collect();
        Problem::new(ErrorCode::Unprocessable).field(
            "/kind",
            format!(
                "unknown request kind {}; one of: {}",
                custos_policy::diag::shown(kind),
                all.join(", ")
            ),
        )
    })
}

/// Files a data-subject request (app and dpo keys). The answer is the same whether or not the
/// person has data here. A second open request of the same kind from the same person returns the
/// first (200, `duplicate: true`).
#[utoipa::path(post, path = "/v1/requests", tag = "requests", request_body = FileRequest, security(("api_key" = [])),
    responses((status = 201, body = FiledView), (status = 200, description = "A duplicate: the open request returned", body = FiledView),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, description = "Unknown kind, or a purpose missing, undeclared or of the wrong legal basis", body = Problem)))]
pub async fn file_request(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(f): ApiJson<FileRequest>,
) -> Result<Response, Problem> {
    caller.require(Role::may_use_records, "file requests")?;
    let (tenant, actor) = (tenant_id(&caller)?, caller.0.actor());
    let kind = parse_kind(&f.kind)?;
    let subject = body_subject(f.subject, "/subject")?;
    let now = now();
    let at = f.received_at.unwrap_or(now);
    if custos_types::limits::beyond_skew(at.as_second(), now.as_second()) {
        return Err(Problem::new(ErrorCode::InFuture).field("/received_at", "lies in the future"));
    }
    let channel = f.channel.unwrap_or_else(|| "api".into());
    let new = s.new_request(kind, subject, f.purpose, at, channel)?;
    as_caller(&s, &tenant, actor, move |s, t| {
        let filed = t.file_request(&s.loaded.policy, new)?;
        let status = if filed.duplicate {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        let body = FiledView {
            view: RequestView::new(filed.request),
            duplicate: filed.duplicate,
        };
        Ok((status, axum::Json(body)).into_response())
    })
    .await
}

/// Which requests to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Include completed and refused requests.
    #[serde(default)]
    all: bool,
}

/// The tenant's requests by due date, earliest first, each flagged on track, at risk or overdue
/// (dpo and auditor keys).
#[utoipa::path(get, path = "/v1/requests", tag = "requests", params(ListQuery), security(("api_key" = [])),
    responses((status = 200, body = Vec<RequestView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_requests(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, Problem> {
    caller.require(Role::may_read_audit, "list requests")?;
    let tenant = tenant_id(&caller)?;
    write(&s, move |_, v| {
        let list = v.tenant(&tenant).requests(q.all)?;
        let views: Vec<RequestView> = list.into_iter().map(RequestView::new).collect();
        Ok(axum::Json(views).into_response())
    })
    .await
}

/// A request with its history.
#[derive(Serialize, ToSchema)]
pub struct RequestDetail {
    #[serde(flatten)]
    view: RequestView,
    /// Every step: when, what, who.
    #[schema(value_type = Vec<Object>)]
    history: Vec<custos_vault::rights::Step>,
    /// The recipients told of it (Art. 19): who, and when they acknowledged.
    #[schema(value_type = Vec<Object>)]
    notifications: Vec<custos_vault::recipients::Notification>,
}

/// The path's request id: 32 hex digits, or a UUID.
fn request_id(id: &str) -> Result<RequestId, Problem> {
    RequestId::parse(id).map_err(|_| {
        Problem::new(ErrorCode::InvalidPath).field("request_id", "a request id is 32 hex digits")
    })
}

/// One request and its history (dpo and auditor keys).
#[utoipa::path(get, path = "/v1/requests/{request_id}", tag = "requests", security(("api_key" = [])),
    params(("request_id" = String, Path, description = "The request's id")),
    responses((status = 200, body = RequestDetail), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_request(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    caller.require(Role::may_read_audit, "read requests")?;
    let (tenant, id) = (tenant_id(&caller)?, request_id(&id)?);
    write(&s, move |_, v| {
        let mut t = v.tenant(&tenant);
        let request = t.request(id.as_str())?;
        let history = t.request_history(id.as_str())?;
        let notifications = t.notifications_of_request(id.as_str())?;
        Ok(axum::Json(RequestDetail {
            view: RequestView::new(request),
            history,
            notifications,
        })
        .into_response())
    })
    .await
}

/// A one-time code to send to the person.
#[derive(Serialize, ToSchema)]
pub struct CodeView {
    /// Six digits. Send it to the address you hold on file for this person (never to one the
    /// requester just gave), then relay what they type to `/verify`.
    code: String,
    /// Until when it is valid.
    #[schema(value_type = String, format = DateTime)]
    expires_at: jiff::Timestamp,
    /// Wrong tries allowed before it is void.
    attempts: u32,
}

/// Issues a one-time code for identity verification (app and dpo keys); a new code replaces the
/// old one. Only its keyed hash is stored.
#[utoipa::path(post, path = "/v1/requests/{request_id}/code", tag = "requests", security(("api_key" = [])),
    params(("request_id" = String, Path, description = "The request's id")),
    responses((status = 200, body = CodeView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn issue_code(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    caller.require(Role::may_use_records, "issue verification codes")?;
    let (tenant, actor, id) = (tenant_id(&caller)?, caller.0.actor(), request_id(&id)?);
    as_caller(&s, &tenant, actor, move |_, t| {
        let now = now();
        let code = t.issue_code(id.as_str(), now)?;
        Ok(axum::Json(CodeView {
            code,
            expires_at: now
                + jiff::SignedDuration::from_secs(custos_vault::rights::CODE_VALID_SECONDS),
            attempts: custos_vault::rights::CODE_ATTEMPTS,
        })
        .into_response())
    })
    .await
}

/// Proof of identity: the code the person typed, or (dpo keys) how identity was established.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    /// The one-time code as the person typed it.
    code: Option<String>,
    /// Instead of a code (dpo keys only): how identity was established, e.g. "ID checked at the
    /// desk", "signed-in session".
    attested: Option<String>,
}

/// Verifies the requester's identity; nothing is disclosed or deleted before (Art. 12(6)).
#[utoipa::path(post, path = "/v1/requests/{request_id}/verify", tag = "requests", request_body = VerifyBody, security(("api_key" = [])),
    params(("request_id" = String, Path, description = "The request's id")),
    responses((status = 200, body = RequestView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, description = "Wrong, expired or no code", body = Problem)))]
pub async fn verify_request(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<VerifyBody>,
) -> Result<Response, Problem> {
    caller.require(Role::may_use_records, "verify requests")?;
    let how = match (body.code, body.attested) {
        (Some(code), None) => Verification::Code(code),
        (None, Some(method)) => {
            caller.require(Role::may_handle_requests, "attest a requester's identity")?;
            Verification::Attested { method }
        }
        _ => {
            return Err(Problem::new(ErrorCode::InvalidBody)
                .field("/code", "give exactly one of `code` and `attested`"));
        }
    };
    let (tenant, actor, id) = (tenant_id(&caller)?, caller.0.actor(), request_id(&id)?);
    as_caller(&s, &tenant, actor, move |_, t| {
        let r = t.verify_request(id.as_str(), &how, now())?;
        Ok(axum::Json(RequestView::new(r)).into_response())
    })
    .await
}

/// A reason told to the requester.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// Why.
    reason: String,
}

/// Takes the two-month extension (Art. 12(3)), with its reason, before the first month runs out
/// (dpo keys).
#[utoipa::path(post, path = "/v1/requests/{request_id}/extend", tag = "requests", request_body = ReasonBody, security(("api_key" = [])),
    params(("request_id" = String, Path, description = "The request's id")),
    responses((status = 200, body = RequestView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Too late, already extended, or closed", body = Problem), (status = 422, body = Problem)))]
pub async fn extend_request(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> Result<Response, Problem> {
    caller.require(Role::may_handle_requests, "extend requests")?;
    announced_step(&s, &caller, &headers, &id, move |_, t, id, now| {
        t.extend_request(id, &body.reason, day_of(now), now)
    })
    .await
}

/// Refuses a request with its reason; the answer names the right to complain (Art. 12(4))
/// (dpo keys).
#[utoipa::path(post, path = "/v1/requests/{request_id}/refuse", tag = "requests", request_body = ReasonBody, security(("api_key" = [])),
    params(("request_id" = String, Path, description = "The request's id")),
    responses((status = 200, body = RequestView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn refuse_request(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> Result<Response, Problem> {
    caller.require(Role::may_handle_requests, "refuse requests")?;
    announced_step(&s, &caller, &headers, &id, move |s, t, id, now| {
        t.refuse_request(&s.loaded.policy, id, &body.reason, now)
    })
    .await
}

/// Runs a DPO's step on request `id` (extend, refuse) on the caller's tenant, acting as the
/// caller, at the time it is given; the answer is the request as it then stands, and an OpenGDPR
/// controller is told of the change.
async fn announced_step(
    s: &Arc<AppState>,
    caller: &Caller,
    headers: &axum::http::HeaderMap,
    id: &str,
    step: impl FnOnce(
        &AppState,
        &mut TenantVault<'_>,
        &str,
        jiff::Timestamp,
    ) -> Result<Request, VaultError>
    + Send
    + 'static,
) -> Result<Response, Problem> {
    let (tenant, actor, id) = (tenant_id(caller)?, caller.0.actor(), request_id(id)?);
    let domain = crate::opengdpr::processor_domain(headers);
    as_caller(s, &tenant, actor, move |s, t| {
        let r = step(s, t, id.as_str(), now())?;
        announce_status(t, &r, &domain);
        Ok(axum::Json(RequestView::new(r)).into_response())
    })
    .await
}

/// Tells an OpenGDPR controller, through the request's status callbacks, of a change made here
/// (extended, refused, completed); nothing for a request filed otherwise.
pub(crate) fn announce_status(t: &TenantVault<'_>, r: &Request, domain: &str) {
    if custos_vault::opengdpr::status_callbacks(r).is_empty() {
        return;
    }
    crate::opengdpr::announce(
        t.tenant_id().clone(),
        r.clone(),
        t.opengdpr_secret(),
        domain.to_owned(),
    );
}

/// Carrying a verified request out.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteBody {
    /// The app's identifier for the person (must be the request's subject).
    subject: String,
    /// For rectification: what was corrected, in words without personal data.
    note: Option<String>,
    /// For rectification: the corrected data of each record concerned, written with the
    /// request's completion in one transaction (Art. 16).
    #[serde(default)]
    corrections: Vec<CorrectionBody>,
}

/// One record's corrected data.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionBody {
    /// The record (one of the request's subject's).
    record_id: String,
    /// Its corrected data (any JSON).
    data: serde_json::Value,
}

/// Carries out a verified request (dpo keys): access and portability answer with the archive
/// (`application/zip`: data.json, data.csv and, for access, the Art. 15 report), streamed;
/// erasure erases all but what a law keeps (restricted, listed with law and date, Art. 17(3)(b));
/// restriction, objection and withdrawal set the flags processing decisions see; rectification
/// records what was corrected. Recipients that received the person's data are told (Art. 19).
#[utoipa::path(post, path = "/v1/requests/{request_id}/execute", tag = "requests", request_body = ExecuteBody, security(("api_key" = [])),
    params(("request_id" = String, Path, description = "The request's id")),
    responses((status = 200, description = "The answer: JSON, or the zip archive for access and portability", body = Object),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Not verified, closed, or a legal hold covers the data", body = Problem)))]
pub async fn execute_request(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ExecuteBody>,
) -> Result<Response, Problem> {
    caller.require(Role::may_handle_requests, "carry out requests")?;
    let (tenant, actor, id) = (tenant_id(&caller)?, caller.0.actor(), request_id(&id)?);
    let subject = body_subject(body.subject, "/subject")?;
    let note = body.note;
    let corrections = body
        .corrections
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let record = body_record(&c.record_id, format!("/corrections/{i}/record_id"))?;
            let payload = serde_json::to_vec(&c.data).map_err(|_| {
                Problem::new(ErrorCode::InvalidBody)
                    .field(format!("/corrections/{i}/data"), "not serialisable")
            })?;
            Ok(custos_vault::records::Correction { record, payload })
        })
        .collect::<Result<Vec<_>, Problem>>()?;
    let domain = crate::opengdpr::processor_domain(&headers);
    let (tenant2, id2) = (tenant.clone(), id.clone());
    let request = write(&s, move |_, v| {
        Ok(v.tenant(&tenant2).request(id2.as_str())?)
    })
    .await?;
    let kind = request.kind;
    if kind.answer().is_some() {
        // The answer is in the language the subject wrote in (Art. 12(1)), as its letters are.
        let lang = crate::center::letters::language_of(&s.loaded.policy, &request);
        return stream_answer(s, tenant, actor, id, kind, subject, domain, lang).await;
    }
    let rectification = Rectification {
        note: note.unwrap_or_default(),
        corrections,
    };
    as_caller(&s, &tenant, actor, move |s, t| {
        let executed = t
            .execute_request(
                &s.loaded.policy,
                id.as_str(),
                &subject,
                rectification,
                now(),
            )
            .map_err(|e| match e {
                VaultError::Request(RequestError::ReasonRequired(_)) => Problem::new(e.code())
                    .field("/note", "say what was corrected (without personal data)"),
                other => Problem::from(&other),
            })?;
        let r = t.request(id.as_str())?;
        announce_status(t, &r, &domain);
        let mut body = serde_json::to_value(RequestView::new(r)).unwrap_or_default();
        body["answer"] = serde_json::to_value(executed).unwrap_or_default();
        Ok(axum::Json(body).into_response())
    })
    .await
}

/// Why an answer archive failed midway.
#[derive(Debug, thiserror::Error)]
enum AnswerError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Export(#[from] custos_rights::access::ExportError),
}

/// A writer that hands each chunk to the response body; the archive is never whole in memory.
struct ChannelWriter(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
            })?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Access and portability: checks the request can be answered, then streams the archive while
/// the vault is read page by page, and completes the request once the archive is whole.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn stream_answer(
    s: Arc<AppState>,
    tenant: TenantId,
    actor: String,
    id: RequestId,
    kind: RequestKind,
    subject: SubjectId,
    domain: String,
    lang: custos_policy::Lang,
) -> Result<Response, Problem> {
    // Refuse before the first byte, so a refusal is a proper problem and not a cut-off download.
    let (t2, id2, sub2) = (tenant.clone(), id.clone(), subject.clone());
    write(&s, move |_, v| {
        v.tenant(&t2).request_to_answer(id2.as_str(), &sub2)?;
        Ok(())
    })
    .await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::task::spawn_blocking(move || {
        let result = (|| -> Result<(), AnswerError> {
            let b = s.backend().map_err(|_| {
                AnswerError::Vault(VaultError::Corrupt("the database is unavailable".into()))
            })?;
            let mut v = b.vault_for_write();
            let mut t = v.tenant(&tenant).acting_as(actor);
            let (r, _) = t.answer_request::<AnswerError, _>(
                &s.loaded.policy,
                id.as_str(),
                &subject,
                lang,
                now(),
                ChannelWriter(tx.clone()),
                |_| Ok(()),
            )?;
            announce_status(&t, &r, &domain);
            Ok(())
        })();
        if let Err(e) = result {
            tracing::error!(error = %e, "an access answer failed midway; the request stays open");
            let _ = tx.blocking_send(Err(std::io::Error::other("the answer failed midway")));
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let name = format!("attachment; filename=\"{}-answer.zip\"", kind.as_str());
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, name),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
