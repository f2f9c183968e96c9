//! Tenants and keys (admin), records (app, dpo), erasure (dpo) and the audit trail (dpo,
//! auditor). A tenant key only ever reaches its own tenant: the tenant comes from the key, never
//! from the request, so another tenant's data is not addressable at all.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use custos_access::Role;
use custos_vault::{NewRecord, RecordId, SubjectId, TenantId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Caller;

use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::problem::Problem;
use crate::work::{as_caller, blocking, read, records_as_caller};
use custos_types::ErrorCode;

pub(crate) fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

// ---- admin --------------------------------------------------------------------------------

/// Admin operations go to the audit trail at once, attributed to the admin key.
fn audit_admin(
    b: &crate::Backend,
    tenant: &str,
    actor: &str,
    action: &str,
    details: serde_json::Value,
) -> Result<(), Problem> {
    let ev = custos_audit::Event {
        tenant: tenant.to_owned(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        subject: None,
        details,
    };
    b.vault().append_audit(&[ev], now()).map_err(Problem::from)
}

/// A new tenant.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    /// Id: 1–64 characters A–Z, a–z, 0–9, `-`, `_`, `.` (the one rule of every tenant id).
    id: String,
    /// Display name.
    name: String,
}

/// Creates a tenant (admin keys only).
#[utoipa::path(post, path = "/v1/tenants", tag = "admin", request_body = NewTenant, security(("api_key" = [])), responses(
    (status = 201, description = "Created"), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_tenant(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(t): ApiJson<NewTenant>,
) -> Result<Response, Problem> {
    caller.require(|r| r == Role::Admin, "create tenants")?;
    let actor = caller.0.actor();
    blocking(move || {
        let b = s.backend()?;
        let mut a = b.access.lock().unwrap_or_else(|p| p.into_inner());
        a.create_tenant(&t.id, &t.name, now())
            .map_err(Problem::from)?;
        drop(a);
        audit_admin(b, &t.id, &actor, "tenant.create", serde_json::json!({}))?;
        Ok((
            StatusCode::CREATED,
            axum::Json(serde_json::json!({ "id": t.id })),
        )
            .into_response())
    })
    .await
}

/// A key to issue.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// `app`, `dpo`, `auditor` or `approver`.
    role: String,
    /// What the key is for.
    #[serde(default)]
    label: String,
}

/// An issued key: the secret is shown this once.
#[derive(Serialize, ToSchema)]
pub struct IssuedKeyView {
    /// Key id (used in the audit trail and to revoke it).
    id: String,
    /// The key; store it now, it is not shown again.
    key: String,
    /// Role.
    role: String,
}

/// Issues an API key for a tenant (admin keys only).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/keys", tag = "admin", request_body = NewKey, security(("api_key" = [])),
    params(("tenant" = String, Path, description = "Tenant id")),
    responses((status = 201, body = IssuedKeyView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn issue_key(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(tenant): ApiPath<String>,
    ApiJson(k): ApiJson<NewKey>,
) -> Result<Response, Problem> {
    caller.require(|r| r == Role::Admin, "issue keys")?;
    let role = Role::parse(&k.role)
        .filter(|r| *r != Role::Admin)
        .ok_or_else(|| {
            Problem::new(ErrorCode::InvalidBody)
                .field("/role", "use `app`, `dpo`, `auditor` or `approver`")
        })?;
    let actor = caller.0.actor();
    blocking(move || {
        let b = s.backend()?;
        let mut a = b.access.lock().unwrap_or_else(|p| p.into_inner());
        let issued = a
            .issue_key(Some(&tenant), role, &k.label, now())
            .map_err(Problem::from)?;
        drop(a);
        audit_admin(
            b,
            &tenant,
            &actor,
            "key.issue",
            serde_json::json!({ "key": issued.id, "role": role.as_str() }),
        )?;
        Ok((
            StatusCode::CREATED,
            axum::Json(IssuedKeyView {
                id: issued.id,
                key: issued.key,
                role: role.as_str().into(),
            }),
        )
            .into_response())
    })
    .await
}

/// Revokes a tenant's API key (admin keys only).
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/keys/{key_id}", tag = "admin", security(("api_key" = [])),
    params(("tenant" = String, Path, description = "Tenant id"), ("key_id" = String, Path, description = "Key id")),
    responses((status = 204, description = "Revoked"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_key(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath((tenant, key_id)): ApiPath<(String, String)>,
) -> Result<Response, Problem> {
    caller.require(|r| r == Role::Admin, "revoke keys")?;
    let actor = caller.0.actor();
    blocking(move || {
        let b = s.backend()?;
        let mut a = b.access.lock().unwrap_or_else(|p| p.into_inner());
        if a.revoke(Some(&tenant), &key_id, now())
            .map_err(Problem::from)?
        {
            drop(a);
            s.auth_cache.clear();
            audit_admin(
                b,
                &tenant,
                &actor,
                "key.revoke",
                serde_json::json!({ "key": key_id }),
            )?;
            Ok(StatusCode::NO_CONTENT.into_response())
        } else {
            Err(Problem::new(ErrorCode::NotFound)
                .detail("no active key with that id in that tenant"))
        }
    })
    .await
}

// ---- records ------------------------------------------------------------------------------

/// A record to store. The subject travels in the body, never in the URL: a reverse proxy's
/// access log keeps every path, and a subject id is often an e-mail address.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutRecord {
    /// The app's identifier for the person (see docs/vault.md for how e-mail addresses and
    /// phone numbers are normalised).
    subject: String,
    /// Policy category id, e.g. `mail.metadata`.
    category: String,
    /// Policy purpose ids it serves; each must use the category (Art. 5(1)(b)).
    purposes: Vec<String>,
    /// The data (any JSON); stored encrypted.
    data: serde_json::Value,
    /// Event clocks for retention, e.g. `{ "draft.decided": "2026-11-20T10:00:00Z" }`.
    #[serde(default)]
    #[schema(schema_with = clock_map)]
    clocks: BTreeMap<String, jiff::Timestamp>,
}

/// A stored record.
#[derive(Serialize, ToSchema)]
pub struct RecordView {
    /// Record id.
    id: String,
    /// The subject's pseudonym in this tenant.
    subject: String,
    /// Category.
    category: String,
    /// Purposes.
    purposes: Vec<String>,
    /// The data.
    data: serde_json::Value,
    /// Creation time.
    created_at: String,
    /// Event clocks.
    #[schema(value_type = Object)]
    clocks: BTreeMap<String, String>,
}

/// Clock names to RFC 3339 times.
fn clock_map() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{AdditionalProperties, KnownFormat, SchemaFormat, Type};
    let time = utoipa::openapi::ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)));
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::RefOr(time.into())))
        .build()
}

fn view(r: custos_vault::Record) -> RecordView {
    RecordView {
        id: r.id.as_str().to_owned(),
        subject: r.subject.as_str().to_owned(),
        category: r.category,
        purposes: r.purposes,
        data: serde_json::from_slice(&r.payload).unwrap_or(serde_json::Value::Null),
        created_at: r.created_at.to_string(),
        clocks: r
            .clocks
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect(),
    }
}

pub(crate) fn subject_id(s: String) -> Result<SubjectId, Problem> {
    SubjectId::new(s).map_err(Problem::from)
}

/// A subject identifier sent in a body at `field` (a JSON pointer such as `/subject`); the reason
/// never repeats the identifier.
pub(crate) fn body_subject(s: String, field: &str) -> Result<SubjectId, Problem> {
    SubjectId::new(s).map_err(|_| {
        Problem::new(ErrorCode::InvalidBody).field(field, "not a valid subject identifier")
    })
}

/// A record id sent in a body at `field` (a JSON pointer such as `/record_id`).
pub(crate) fn body_record(id: &str, field: impl Into<String>) -> Result<RecordId, Problem> {
    RecordId::parse(id)
        .map_err(|_| Problem::new(ErrorCode::InvalidBody).field(field, "not a record id"))
}

pub(crate) fn tenant_id(caller: &Caller) -> Result<TenantId, Problem> {
    TenantId::new(caller.tenant()?).map_err(Problem::from)
}

/// A record's data as stored: its JSON text.
fn serialised(data: &serde_json::Value) -> Result<Vec<u8>, Problem> {
    serde_json::to_vec(data)
        .map_err(|_| Problem::new(ErrorCode::InvalidBody).field("/data", "not serialisable"))
}

fn json_response(status: StatusCode, body: &impl Serialize) -> Result<Response, Problem> {
    let bytes = serde_json::to_vec(body)
        .map_err(|_| Problem::new(ErrorCode::Internal).detail("the answer could not be encoded"))?;
    let mut res = (status, bytes).into_response();
    res.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Ok(res)
}

/// Stores a record for a subject. The answer is built from what was written, so a purge right
/// after the commit cannot turn a stored write into a 404. With `Idempotency-Key`, the key is
/// stored with the write in its transaction: a retry with the same key and body (on any server,
/// within a day) writes nothing and answers as the first write did, with `Idempotent-Replayed:
/// true`; the same key with another body is 422.
#[utoipa::path(post, path = "/v1/records", tag = "records", request_body = PutRecord, security(("api_key" = [])),
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "1–255 visible ASCII characters. Replays of the same key with the same body return the first response")),
    responses((status = 201, body = RecordView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn put_record(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    ApiJson(r): ApiJson<PutRecord>,
) -> Result<Response, Problem> {
    caller.require(Role::may_use_records, "write records")?;
    let idem = match headers.get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if !k.is_empty() && k.len() <= 255 => Some(k.to_owned()),
            _ => {
                return Err(Problem::new(ErrorCode::InvalidBody)
                    .field("Idempotency-Key", "must be 1–255 visible ASCII characters"));
            }
        },
    };
    let request_hash = hex::encode(crate::limits::hash(
        serde_json::json!({ "subject": r.subject, "category": r.category, "purposes": r.purposes, "data": r.data, "clocks": r.clocks })
            .to_string()
            .as_bytes(),
    ));
    let (tenant, subject, actor) = (
        tenant_id(&caller)?,
        subject_id(r.subject.clone())?,
        caller.0.actor(),
    );
    let payload = serialised(&r.data)?;
    let (replayed, body) = records_as_caller(&s, &tenant, actor, move |s, t| {
        let rec = NewRecord {
            subject,
            category: r.category.clone(),
            purposes: r.purposes.clone(),
            payload,
            created_at: now(),
            clocks: r.clocks.clone(),
        };
        let key = idem.as_deref().map(|key| custos_vault::Idempotency {
            key,
            request_hash: &request_hash,
        });
        let w = t.put_once(&s.loaded.policy, rec, key.as_ref(), now())?;
        // The same body as the write (a replay's body is the same by its hash): the answer is
        // what was written.
        let view = RecordView {
            id: w.id.as_str().to_owned(),
            subject: w.subject.as_str().to_owned(),
            category: r.category,
            purposes: r.purposes,
            data: r.data,
            created_at: w.created_at.to_string(),
            clocks: r
                .clocks
                .into_iter()
                .map(|(k, v)| (k, v.to_string()))
                .collect(),
        };
        Ok((w.replayed, view))
    })
    .await?;
    let mut res = json_response(StatusCode::CREATED, &body)?;
    if replayed {
        res.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(res)
}

/// Reads one record of the caller's tenant.
#[utoipa::path(get, path = "/v1/records/{id}", tag = "records", security(("api_key" = [])),
    params(("id" = String, Path, description = "Record id")),
    responses((status = 200, body = RecordView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_record(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    caller.require(Role::may_use_records, "read records")?;
    let tenant = tenant_id(&caller)?;
    let id = RecordId::parse(&id).map_err(Problem::from)?;
    let actor = caller.0.actor();
    read(&s, move |s, v| {
        let r = v.tenant(&tenant).get(&id)?;
        s.note_read(
            tenant.as_str(),
            &actor,
            r.subject.as_str(),
            serde_json::json!({ "record": r.id.as_str(), "category": r.category }),
        );
        Ok(axum::Json(view(r)).into_response())
    })
    .await
}

/// A record's corrected data.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRecord {
    /// The corrected data (any JSON); replaces the stored data, encrypted under the record's
    /// own key. Category, purposes, clocks and retention stay as they are.
    data: serde_json::Value,
}

/// Corrects a record's data (Art. 16; app and dpo keys): re-encrypted in place, audited
/// (`record.rectify`, never the data), and every recipient that received the subject's data is
/// told (Art. 19, reference `record:<id>`). 409 while a legal hold covers it. Answers with the
/// record as written.
#[utoipa::path(put, path = "/v1/records/{id}", tag = "records", request_body = UpdateRecord, security(("api_key" = [])),
    params(("id" = String, Path, description = "Record id")),
    responses((status = 200, body = RecordView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, description = "A legal hold covers the record", body = Problem)))]
pub async fn update_record(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(u): ApiJson<UpdateRecord>,
) -> Result<Response, Problem> {
    caller.require(Role::may_use_records, "correct records")?;
    let (tenant, actor) = (tenant_id(&caller)?, caller.0.actor());
    let id = RecordId::parse(&id).map_err(Problem::from)?;
    let payload = serialised(&u.data)?;
    as_caller(&s, &tenant, actor, move |_, t| {
        Ok(axum::Json(view(t.update_record(&id, payload, now())?)).into_response())
    })
    .await
}

/// Deletes one record (app and dpo keys): audited (`record.delete`), recipients told (Art. 19).
/// 409 while a legal hold covers it or a law obliges keeping it (`retention.statutory`,
/// Art. 17(3)(b)).
#[utoipa::path(delete, path = "/v1/records/{id}", tag = "records", security(("api_key" = [])),
    params(("id" = String, Path, description = "Record id")),
    responses((status = 204, description = "Deleted"), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, description = "A legal hold or a law keeps the record", body = Problem)))]
pub async fn delete_record(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, Problem> {
    caller.require(Role::may_use_records, "delete records")?;
    let (tenant, actor) = (tenant_id(&caller)?, caller.0.actor());
    let id = RecordId::parse(&id).map_err(Problem::from)?;
    as_caller(&s, &tenant, actor, move |s, t| {
        t.delete_record(&s.loaded.policy, &id, now())?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

/// A page of records.
#[derive(Serialize, ToSchema)]
pub struct RecordPage {
    /// The records, oldest first.
    records: Vec<RecordView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// Which subject's records, and which page.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordQuery {
    /// The app's identifier for the person.
    subject: String,
    /// From `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1–500 (default 100).
    #[schema(minimum = 1, maximum = 500)]
    limit: Option<usize>,
}

/// Lists a subject's records in the caller's tenant. A POST so that the subject travels in the
/// body, not in a URL that access logs keep.
#[utoipa::path(post, path = "/v1/records/query", tag = "records", request_body = RecordQuery, security(("api_key" = [])),
    responses((status = 200, body = RecordPage), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_records(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(q): ApiJson<RecordQuery>,
) -> Result<Response, Problem> {
    caller.require(Role::may_use_records, "read records")?;
    let (tenant, subject) = (tenant_id(&caller)?, subject_id(q.subject)?);
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(
            Problem::new(ErrorCode::InvalidBody).field("/limit", "must be between 1 and 500")
        );
    }
    let skip = match q.cursor.as_deref() {
        None => 0,
        Some(c) => c.parse::<usize>().map_err(|_| {
            Problem::new(ErrorCode::InvalidBody).field("/cursor", "not a cursor from `next_cursor`")
        })?,
    };
    let actor = caller.0.actor();
    read(&s, move |s, v| {
        let mut t = v.tenant(&tenant);
        let all = t.list(&subject)?;
        let pseudonym = t.pseudonym(&subject);
        drop(t);
        let total = all.len();
        let records: Vec<RecordView> = all.into_iter().skip(skip).take(limit).map(view).collect();
        let next_cursor =
            (skip + records.len() < total).then(|| (skip + records.len()).to_string());
        s.note_read(
            tenant.as_str(),
            &actor,
            pseudonym.as_str(),
            serde_json::json!({ "records": records.len() }),
        );
        Ok(axum::Json(RecordPage {
            records,
            next_cursor,
        })
        .into_response())
    })
    .await
}

/// What an erasure did.
#[derive(Serialize, ToSchema)]
pub struct ErasureView {
    /// The erasure's id (in the audit trail and the journal).
    erasure_id: String,
    /// The subject's pseudonym.
    subject: String,
    /// Data keys destroyed.
    keys_destroyed: u64,
    /// Records deleted.
    records_deleted: u64,
}

/// Whom to erase.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseSubject {
    /// The app's identifier for the person.
    subject: String,
}

/// Erases a subject of the caller's tenant: keys destroyed, records deleted, journaled, audited
/// (dpo keys only). The subject travels in the body, not in the URL.
#[utoipa::path(post, path = "/v1/subjects/erase", tag = "records", request_body = EraseSubject, security(("api_key" = [])),
    responses((status = 200, body = ErasureView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, description = "A legal hold covers the subject's data", body = Problem)))]
pub async fn erase_subject(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(e): ApiJson<EraseSubject>,
) -> Result<Response, Problem> {
    caller.require(Role::may_handle_requests, "erase subjects")?;
    let (tenant, subject, actor) = (
        tenant_id(&caller)?,
        subject_id(e.subject)?,
        caller.0.actor(),
    );
    as_caller(&s, &tenant, actor, move |_, t| {
        let e = t.erase_subject(&subject, now())?;
        Ok(axum::Json(ErasureView {
            erasure_id: e.erasure_id,
            subject: e.subject.as_str().to_owned(),
            keys_destroyed: e.counts.keys,
            records_deleted: e.counts.records,
        })
        .into_response())
    })
    .await
}

/// The routes that carried a subject id in their path (`/v1/subjects/{subject}/records`,
/// `/v1/subjects/{subject}`) are gone: every reverse proxy's access log kept the id. They
/// answer 410 and name the route to use, without touching data and without repeating the path.
pub async fn moved_subject_route(method: axum::http::Method, uri: axum::http::Uri) -> Problem {
    let path = uri.path();
    let to = if path.ends_with("/records") && method == axum::http::Method::POST {
        "POST /v1/records with the subject in the body"
    } else if path.ends_with("/records") {
        "POST /v1/records/query with the subject in the body"
    } else if method == axum::http::Method::DELETE {
        "POST /v1/subjects/erase with the subject in the body"
    } else {
        "the routes that take the subject in the body (see /openapi.json)"
    };
    Problem::new(ErrorCode::Gone).detail(format!(
        "subject ids no longer travel in URL paths (access logs keep them); use {to}. See docs/upgrading.md"
    ))
}

// ---- audit --------------------------------------------------------------------------------

/// Audit filters.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries about this subject pseudonym.
    subject: Option<String>,
    /// Only entries with this action, e.g. `subject.erase`.
    action: Option<String>,
    /// From `next_cursor` of the previous page (an entry's seq, which the trail stores as a
    /// signed 64-bit number).
    #[param(minimum = 0, maximum = 9223372036854775807_i64, format = Int64)]
    cursor: Option<u64>,
    /// Page size, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

/// A page of audit entries.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// Entries, oldest first.
    #[schema(value_type = Vec<Object>)]
    entries: Vec<custos_audit::Entry>,
    /// Pass as `cursor` for the next page.
    next_cursor: Option<u64>,
}

/// The caller's tenant's audit trail (dpo and auditor keys).
#[utoipa::path(get, path = "/v1/audit", tag = "audit", security(("api_key" = [])), params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn audit(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, Problem> {
    caller.require(Role::may_read_audit, "read the audit trail")?;
    let tenant = tenant_id(&caller)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(
            Problem::new(ErrorCode::InvalidQuery).field("limit", "must be between 1 and 1000")
        );
    }
    // Beyond i64 the store would read the seq back as negative: refused as the schema says.
    if q.cursor.is_some_and(|c| i64::try_from(c).is_err()) {
        return Err(Problem::new(ErrorCode::InvalidQuery)
            .field("cursor", "must be between 0 and 9223372036854775807"));
    }
    read(&s, move |_, v| {
        let query = custos_audit::Query {
            subject: q.subject,
            action: q.action,
            after_seq: q.cursor.unwrap_or(0),
            limit,
        };
        let entries = v.tenant(&tenant).audit(&query)?;
        let next_cursor = (entries.len() == limit)
            .then(|| entries.last().map(|e| e.seq))
            .flatten();
        Ok(axum::Json(AuditPage {
            entries,
            next_cursor,
        })
        .into_response())
    })
    .await
}

/// Parameters of `/v1/audit/verify`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// Admin keys: an entry the chain must hold, as `SEQ:HASH` (from a checkpoint published
    /// elsewhere); a chain without it is reported as cut.
    expect_head: Option<String>,
}

/// A tenant's view of the verification: the state of the chain and the tenant's own figures,
/// never the trail's global entry count or head (they would tell one tenant another's volume).
#[derive(Serialize)]
struct TenantVerification {
    /// `intact` (every entry of the tenant's is covered by a signed checkpoint),
    /// `unsealed_tail` (some are not yet) or `tampered`.
    status: &'static str,
    /// Always `tenant`.
    scope: &'static str,
    /// The tenant's own entries.
    entries: u64,
    /// The tenant's entries after the last signed checkpoint.
    unsealed: u64,
    /// With `tampered`: what kind of tampering (`edited`, `cut`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
}

/// Verifies the whole audit trail: hash chain, signed checkpoints, the checkpoint cadence and
/// the checkpoint file (when configured). Admin keys get the trail's figures (`entries`,
/// `checkpoints`, `head`, `sealed_to`, `unsealed`) and may pass `expect_head`; dpo and auditor
/// keys get the status with their own tenant's figures only.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", security(("api_key" = [])), params(VerifyQuery),
    responses((status = 200, description = "`{status: intact|unsealed_tail|tampered, ...}`", body = Object), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn audit_verify(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<VerifyQuery>,
) -> Result<Response, Problem> {
    let admin = caller.0.role == Role::Admin;
    if !admin {
        caller.require(Role::may_read_audit, "verify the audit trail")?;
    }
    let tenant = if admin {
        None
    } else {
        Some(tenant_id(&caller)?)
    };
    let head = match &q.expect_head {
        None => None,
        Some(_) if !admin => {
            return Err(Problem::new(ErrorCode::Forbidden)
                .detail("`expect_head` names a position in the whole trail: use an admin key"));
        }
        Some(text) => Some(
            custos_audit::chain::parse_anchor(text)
                .map_err(|why| Problem::new(ErrorCode::InvalidQuery).field("expect_head", why))?,
        ),
    };
    blocking(move || {
        let published = match &s.checkpoint_file {
            Some(p) => p.read().map_err(|e| {
                tracing::error!(error = %e, "reading the audit checkpoint file failed");
                Problem::new(ErrorCode::Internal)
                    .detail("the audit checkpoint file cannot be read; it has been logged")
            })?,
            None => Vec::new(),
        };
        let expect = custos_audit::Expect {
            head,
            published,
            ..custos_audit::Expect::default()
        };
        let b = s.backend()?;
        let mut v = b.vault();
        let result = v.verify_audit_with(expect).map_err(Problem::from)?;
        let Some(tenant) = tenant else {
            return Ok(axum::Json(result).into_response());
        };
        let sealed_to = result.unbroken().map_or(0, |x| x.sealed_to);
        let (entries, unsealed) = v
            .tenant(&tenant)
            .audit_counts(sealed_to)
            .map_err(Problem::from)?;
        let view = match &result {
            custos_audit::Verification::Tampered(t) => TenantVerification {
                status: "tampered",
                scope: "tenant",
                entries,
                unsealed,
                kind: serde_json::to_value(t)
                    .ok()
                    .and_then(|j| j["kind"].as_str().map(str::to_owned)),
            },
            _ => TenantVerification {
                status: if unsealed == 0 {
                    "intact"
                } else {
                    "unsealed_tail"
                },
                scope: "tenant",
                entries,
                unsealed,
                kind: None,
            },
        };
        Ok(axum::Json(view).into_response())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_subject_in_a_body_is_named_by_its_field_and_not_repeated() {
        let p = body_subject(String::new(), "/items/3/subject").unwrap_err();
        assert_eq!((p.code, p.status), ("invalid-body", 400));
        assert_eq!(p.errors[0].field, "/items/3/subject");
        assert_eq!(p.errors[0].reason, "not a valid subject identifier");
    }

    #[test]
    fn a_bad_record_id_in_a_body_is_named_by_its_field_and_not_repeated() {
        let p = body_record("jan@example.nl", "/record_id").unwrap_err();
        assert_eq!((p.code, p.status), ("invalid-body", 400));
        assert_eq!(p.errors[0].field, "/record_id");
        assert!(
            !serde_json::to_string(&p)
                .unwrap()
                .contains("jan@example.nl")
        );
    }
}
