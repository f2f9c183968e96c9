//! OpenGDPR v1.0 and OpenDSR v2.0, processor side (PRODUCT.md C5; issue 6, item 6): tools that
//! speak the protocol file erasure, access and portability requests, read their status and
//! cancel them while pending. See `docs/rights.md` for what Custos does and does not do of it.
//!
//! A request filed here is an ordinary Custos request (channel `opengdpr`), with the Art. 12(3)
//! deadline counted from the controller's `submitted_time`. Its id is the `subject_request_id`
//! without dashes, so status lookups need no mapping table. The controller's system
//! authenticates with a tenant API key, so the requester's identity counts as verified
//! (attested) at once; the DPO carries the request out through `/v1/requests/{id}/execute`.
//!
//! Errors use OpenGDPR's shape (`{"error": {"code", "message", "errors": [{"domain", "reason",
//! "message"}]}}`), never the RFC 9457 problems of the rest of the API, and never echo an
//! identity value. Responses and status callbacks are signed with the tenant's HMAC-SHA256
//! secret in the scheme of [`custos_rights::webhook::sign`] (`t=<unix seconds>,v1=<hex>`), not
//! with an X.509 certificate: discovery names no `processor_certificate`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use custos_access::Role;
use custos_rights::webhook;
use custos_vault::TenantId;
use custos_vault::opengdpr::status_callbacks;
use custos_vault::recipients::WebhookSecret;
use custos_vault::rights::{Request, RequestError, RequestKind, RequestState, Verification};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Caller;
use crate::data::tenant_id;
use crate::problem::Problem;
use crate::work::{as_caller, write};

/// The channel requests filed here carry.
const CHANNEL: &str = "opengdpr";

/// How long a status callback may take before it counts as failed.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(5);

/// How a controller's system is recorded as having verified the requester.
const ATTESTATION: &str = "OpenGDPR controller (authenticated API key)";

/// The refusal reason a cancellation records.
const CANCELLED: &str = "cancelled by the controller";

/// The controller's time zone (as in [`custos_vault::rights::day_of`]): a due date ends at the end of
/// that day there.
const ZONE: &str = "Europe/Amsterdam";

/// The protocol version a route speaks: header names, the version string, and whether
/// `regulation` is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    /// OpenGDPR 1.0: `/v1/...`, `X-OpenGDPR-*`.
    V1,
    /// OpenDSR 2.0: `/v2/...`, `X-OpenDSR-*`, `regulation` required.
    V2,
}

impl Version {
    fn api_version(self) -> &'static str {
        match self {
            Version::V1 => "1.0",
            Version::V2 => "2.0",
        }
    }

    fn domain_header(self) -> HeaderName {
        match self {
            Version::V1 => HeaderName::from_static("x-opengdpr-processor-domain"),
            Version::V2 => HeaderName::from_static("x-opendsr-processor-domain"),
        }
    }

    fn signature_header(self) -> HeaderName {
        match self {
            Version::V1 => HeaderName::from_static("x-opengdpr-signature"),
            Version::V2 => HeaderName::from_static("x-opendsr-signature"),
        }
    }
}

// ---- errors -------------------------------------------------------------------------------

/// One reason a request was not accepted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorItem {
    /// Always `custos`.
    domain: &'static str,
    /// A stable name: `invalid_json`, `required`, `invalid_value`, `unsupported_value`,
    /// `unsupported_identity`, `duplicate`, `not_found`, `not_pending`, `unauthenticated`,
    /// `forbidden`, `rate_limited`, `unavailable`, `internal`.
    reason: &'static str,
    /// What is wrong and where; never the value sent.
    message: String,
}

/// The error object.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// The HTTP status.
    code: u16,
    /// What went wrong.
    message: String,
    /// Each reason.
    errors: Vec<ErrorItem>,
}

/// An error in OpenGDPR's shape.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    error: ErrorDetail,
    /// Seconds to wait (sent as `Retry-After`).
    #[serde(skip)]
    retry_after: Option<u64>,
}

impl ErrorBody {
    fn new(code: u16, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code,
                message: message.into(),
                errors: Vec::new(),
            },
            retry_after: None,
        }
    }

    fn item(mut self, reason: &'static str, message: impl Into<String>) -> ErrorBody {
        self.error.errors.push(ErrorItem {
            domain: "custos",
            reason,
            message: message.into(),
        });
        self
    }

    /// A 400 naming each invalid field.
    fn invalid(items: Vec<ErrorItem>) -> ErrorBody {
        let mut e = ErrorBody::new(400, "the request is invalid; see `errors`");
        e.error.errors = items;
        e
    }

    /// A 400 for one reason.
    fn invalid_one(reason: &'static str, message: impl Into<String>) -> ErrorBody {
        ErrorBody::invalid(vec![err(reason, message)])
    }
}

impl From<Problem> for ErrorBody {
    /// The rest of the API's problems (authentication, roles, rate limits, storage) in
    /// OpenGDPR's shape; their texts never hold personal data.
    fn from(p: Problem) -> ErrorBody {
        // OpenGDPR reports invalid input as 400 whatever the reason.
        let code = if p.status == 422 { 400 } else { p.status };
        let reason = match code {
            400 => "invalid_value",
            401 => "unauthenticated",
            403 => "forbidden",
            404 => "not_found",
            409 => "conflict",
            429 => "rate_limited",
            503 => "unavailable",
            _ => "internal",
        };
        let message = p.detail.as_deref().unwrap_or(p.title).to_owned();
        let mut e = ErrorBody::new(code, message.clone());
        if p.errors.is_empty() {
            e = e.item(reason, message);
        }
        for f in p.errors {
            e = e.item(reason, format!("{}: {}", f.field, f.reason));
        }
        e.retry_after = p.retry_after.map(u64::from);
        e
    }
}

impl IntoResponse for ErrorBody {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, axum::Json(&self)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

fn not_found() -> ErrorBody {
    ErrorBody::new(404, "no OpenGDPR request with this subject_request_id").item(
        "not_found",
        "no request with this subject_request_id was filed over OpenGDPR with this key's tenant",
    )
}

// ---- validation (pure) --------------------------------------------------------------------

/// The request types Custos carries out, as OpenGDPR names them.
const TYPES: [(&str, RequestKind); 3] = [
    ("erasure", RequestKind::Erasure),
    ("access", RequestKind::Access),
    ("portability", RequestKind::Portability),
];

/// The identity types accepted, most preferred first; format `raw` only.
const IDENTITIES: [&str; 2] = ["controller_customer_id", "email"];

/// Whether `s` is a lowercase UUID version 4 (RFC 9562), as OpenGDPR requires of
/// `subject_request_id`.
fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

/// The Custos request id of a `subject_request_id`: its 32 hex digits.
fn request_id_of(uuid: &str) -> String {
    uuid.replace('-', "")
}

/// The `subject_request_id` of a Custos request id (the dashes put back).
fn uuid_of(id: &str) -> String {
    if id.len() != 32 {
        return id.to_owned();
    }
    format!(
        "{}-{}-{}-{}-{}",
        &id[..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..]
    )
}

/// A valid request, as Custos files it.
#[derive(Debug, Clone, PartialEq)]
struct Parsed {
    subject_request_id: String,
    kind: RequestKind,
    /// The identity value chosen as the subject id (personal data: never logged or echoed).
    subject: String,
    submitted: Timestamp,
    callbacks: Vec<String>,
}

fn err(reason: &'static str, message: impl Into<String>) -> ErrorItem {
    ErrorItem {
        domain: "custos",
        reason,
        message: message.into(),
    }
}

/// A status callback URL: absolute http(s) with a host, at most 2048 characters.
fn valid_callback(url: &str) -> bool {
    url.len() <= 2048
        && url.parse::<axum::http::Uri>().is_ok_and(|u| {
            matches!(u.scheme_str(), Some("http" | "https"))
                && u.host().is_some_and(|h| !h.is_empty())
        })
}

/// Checks a request body against the spec and picks the subject's identity
/// (`controller_customer_id` before `email`). Every invalid field is reported; no message holds
/// a value from the body. Unknown fields and `extensions` are ignored.
fn parse_request(body: &[u8], version: Version, now: Timestamp) -> Result<Parsed, ErrorBody> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ErrorBody::invalid_one(
            "invalid_json",
            format!(
                "the body is not JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let Some(obj) = value.as_object() else {
        return Err(ErrorBody::invalid_one(
            "invalid_json",
            "the body must be a JSON object",
        ));
    };
    let mut errors = Vec::new();
    let text =
        |obj: &Map<String, Value>, field: &str, errors: &mut Vec<ErrorItem>| match obj.get(field) {
            None | Some(Value::Null) => {
                errors.push(err("required", format!("`{field}` is required")));
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                errors.push(err("invalid_value", format!("`{field}` must be a string")));
                None
            }
        };

    let subject_request_id = text(obj, "subject_request_id", &mut errors);
    if let Some(id) = &subject_request_id
        && !is_uuid_v4(id)
    {
        errors.push(err(
            "invalid_value",
            "`subject_request_id` must be a lowercase UUID version 4 (xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx)",
        ));
    }

    let kind = text(obj, "subject_request_type", &mut errors).and_then(|t| {
        let found = TYPES.iter().find(|(name, _)| *name == t).map(|(_, k)| *k);
        if found.is_none() {
            errors.push(err(
                "unsupported_value",
                "`subject_request_type` must be one of: erasure, access, portability",
            ));
        }
        found
    });

    let submitted = text(obj, "submitted_time", &mut errors).and_then(|t| {
        match t.parse::<Timestamp>() {
            Err(_) => {
                errors.push(err(
                    "invalid_value",
                    "`submitted_time` must be an RFC 3339 date-time with an offset, e.g. 2026-11-23T09:30:00Z",
                ));
                None
            }
            Ok(at) if custos_types::limits::beyond_skew(at.as_second(), now.as_second()) => {
                errors.push(err("invalid_value", "`submitted_time` lies in the future"));
                None
            }
            Ok(at) => Some(at),
        }
    });

    match (version, obj.get("regulation")) {
        (Version::V2, None | Some(Value::Null)) => {
            errors.push(err("required", "`regulation` is required (`gdpr`)"));
        }
        (_, None | Some(Value::Null)) => {}
        (_, Some(Value::String(r))) if r == "gdpr" => {}
        (_, Some(Value::String(_))) => errors.push(err(
            "unsupported_value",
            "`regulation` must be `gdpr`: Custos answers requests under the GDPR only",
        )),
        (_, Some(_)) => errors.push(err("invalid_value", "`regulation` must be a string")),
    }

    if let Some(v) = obj.get("api_version")
        && !(v.is_string() || v.is_null())
    {
        errors.push(err("invalid_value", "`api_version` must be a string"));
    }
    if let Some(v) = obj.get("extensions")
        && !(v.is_object() || v.is_null())
    {
        errors.push(err("invalid_value", "`extensions` must be an object"));
    }

    let subject = identities(obj.get("subject_identities"), &mut errors);

    let mut callbacks = Vec::new();
    match obj.get("status_callback_urls") {
        None | Some(Value::Null) => {}
        Some(Value::Array(urls)) => {
            if urls.len() > custos_vault::opengdpr::MAX_CALLBACK_URLS {
                errors.push(err(
                    "invalid_value",
                    format!(
                        "`status_callback_urls` holds at most {} URLs",
                        custos_vault::opengdpr::MAX_CALLBACK_URLS
                    ),
                ));
            }
            for (i, u) in urls.iter().enumerate() {
                match u.as_str() {
                    Some(u) if valid_callback(u) => callbacks.push(u.to_owned()),
                    _ => errors.push(err(
                        "invalid_value",
                        format!(
                            "`status_callback_urls[{i}]` must be an absolute http or https URL"
                        ),
                    )),
                }
            }
        }
        Some(_) => errors.push(err(
            "invalid_value",
            "`status_callback_urls` must be an array of URLs",
        )),
    }

    match (subject_request_id, kind, subject, submitted) {
        (Some(id), Some(kind), Some(subject), Some(submitted)) if errors.is_empty() => Ok(Parsed {
            subject_request_id: id,
            kind,
            subject,
            submitted,
            callbacks,
        }),
        _ => Err(ErrorBody::invalid(errors)),
    }
}

/// The identity value to use as the subject id: the first raw `controller_customer_id`, else the
/// first raw `email`. Other types and hashed formats are ignored when a usable one is present.
fn identities(v: Option<&Value>, errors: &mut Vec<ErrorItem>) -> Option<String> {
    let list = match v {
        None | Some(Value::Null) => {
            errors.push(err("required", "`subject_identities` is required"));
            return None;
        }
        Some(Value::Array(list)) if list.is_empty() => {
            errors.push(err(
                "invalid_value",
                "`subject_identities` must hold at least one identity",
            ));
            return None;
        }
        Some(Value::Array(list)) => list,
        Some(_) => {
            errors.push(err(
                "invalid_value",
                "`subject_identities` must be an array of identities",
            ));
            return None;
        }
    };
    let mut usable: Vec<(usize, String)> = Vec::new();
    let mut malformed = false;
    for (i, item) in list.iter().enumerate() {
        let field = |f: &str| item.get(f).and_then(Value::as_str);
        let (Some(kind), Some(format), Some(value)) = (
            field("identity_type"),
            field("identity_format"),
            field("identity_value"),
        ) else {
            errors.push(err(
                "invalid_value",
                format!(
                    "`subject_identities[{i}]` needs the strings `identity_type`, `identity_value` and `identity_format`"
                ),
            ));
            malformed = true;
            continue;
        };
        let Some(rank) = IDENTITIES.iter().position(|t| *t == kind) else {
            continue;
        };
        if format != "raw" {
            continue;
        }
        if value.is_empty() || value.chars().count() > 1024 {
            errors.push(err(
                "invalid_value",
                format!("`subject_identities[{i}].identity_value` must be 1 to 1024 characters"),
            ));
            malformed = true;
            continue;
        }
        usable.push((rank, value.to_owned()));
    }
    if malformed {
        return None;
    }
    usable.sort_by_key(|(rank, _)| *rank);
    let chosen = usable.into_iter().next().map(|(_, v)| v);
    if chosen.is_none() {
        errors.push(err(
            "unsupported_identity",
            "no supported identity: send `controller_customer_id` or `email` with `identity_format` `raw`",
        ));
    }
    chosen
}

/// OpenGDPR's status for a Custos state. OpenGDPR knows no refusal: a refused request (a
/// cancellation, or a DPO's refusal under Art. 12(5)) is `cancelled`, since nothing will be done.
fn status_of(state: RequestState) -> &'static str {
    match state {
        RequestState::Received | RequestState::Verified => "pending",
        RequestState::InProgress => "in_progress",
        RequestState::Completed => "completed",
        RequestState::Refused => "cancelled",
    }
}

/// The end of the due date in the controller's time zone, as an RFC 3339 instant (UTC).
fn end_of(due_on: Date) -> String {
    let tz = jiff::tz::TimeZone::get(ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    due_on
        .at(23, 59, 59, 0)
        .to_zoned(tz)
        .map(|z| z.timestamp().to_string())
        .unwrap_or_else(|_| format!("{due_on}T23:59:59Z"))
}

/// `now` to the second, as RFC 3339.
fn rfc3339(now: Timestamp) -> String {
    Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

// ---- responses ----------------------------------------------------------------------------

/// An identity Custos accepts.
#[derive(Serialize, ToSchema)]
pub struct SupportedIdentity {
    /// `controller_customer_id` or `email`.
    identity_type: &'static str,
    /// `raw`.
    identity_format: &'static str,
}

/// What this processor supports.
#[derive(Serialize, ToSchema)]
pub struct Discovery {
    /// `1.0` or `2.0`.
    api_version: &'static str,
    /// The identities accepted (the first raw `controller_customer_id`, else the first raw `email`,
    /// becomes the subject id).
    supported_identities: Vec<SupportedIdentity>,
    /// `erasure`, `access`, `portability`.
    supported_subject_request_types: Vec<&'static str>,
}

fn request_types() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["erasure", "access", "portability"]))
        .build()
}

fn regulations() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["gdpr"]))
        .build()
}

/// The request as OpenGDPR sends it (documentation; validated field by field).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OpenGdprRequest {
    /// Lowercase UUID v4 made by the controller.
    subject_request_id: String,
    /// `erasure`, `access` or `portability`.
    #[schema(schema_with = request_types)]
    subject_request_type: String,
    /// At least one `{identity_type, identity_value, identity_format}`; `controller_customer_id`
    /// or `email`, format `raw`.
    #[schema(value_type = Vec<Object>, min_items = 1)]
    subject_identities: Vec<Value>,
    /// When the person made the request (RFC 3339): the Art. 12(3) deadline counts from its day.
    #[schema(format = DateTime)]
    submitted_time: String,
    /// `gdpr` (required on `/v2`).
    #[schema(schema_with = regulations)]
    regulation: Option<String>,
    /// e.g. `1.0`.
    api_version: Option<String>,
    /// Called with the new status on every status change Custos's OpenGDPR routes cause.
    status_callback_urls: Option<Vec<String>>,
    /// Processor-specific extensions (ignored).
    #[schema(value_type = Option<Object>)]
    extensions: Option<Value>,
}

/// A request accepted.
#[derive(Serialize, ToSchema)]
pub struct Created {
    /// The tenant: the controller's id at this processor.
    controller_id: String,
    /// The end of the Art. 12(3) due date (RFC 3339).
    expected_completion_time: String,
    /// When Custos received it (RFC 3339).
    received_time: String,
    /// The request body as received, base64.
    encoded_request: String,
    /// The controller's id for the request.
    subject_request_id: String,
}

/// Where a request stands.
#[derive(Serialize, ToSchema)]
pub struct Status {
    /// The tenant.
    controller_id: String,
    /// The end of the due date (extended, if the extension was taken), RFC 3339.
    expected_completion_time: String,
    /// The controller's id for the request.
    subject_request_id: String,
    /// `pending`, `in_progress`, `completed` or `cancelled`.
    request_status: &'static str,
    /// `1.0` or `2.0`.
    api_version: &'static str,
}

/// A cancellation accepted.
#[derive(Serialize, ToSchema)]
pub struct Cancelled {
    /// The tenant.
    controller_id: String,
    /// When the cancellation was received (RFC 3339).
    received_time: String,
    /// The controller's id for the request.
    subject_request_id: String,
    /// `1.0` or `2.0`.
    api_version: &'static str,
}

/// The status callback body POSTed to every `status_callback_url`.
#[derive(Serialize)]
struct Callback<'a> {
    controller_id: &'a str,
    status_callback_url: &'a str,
    subject_request_id: &'a str,
    request_status: &'static str,
    expected_completion_time: &'a str,
    api_version: &'static str,
}

/// The secret that signs a tenant's responses and callbacks, as the DPO hands it to the
/// controller.
#[derive(Serialize, ToSchema)]
pub struct CallbackSecret {
    /// The HMAC-SHA256 key, hex.
    secret: String,
    /// `HMAC-SHA256`.
    algorithm: &'static str,
    /// How the signature headers read: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.
    format: &'static str,
    /// The headers that carry it.
    headers: Vec<&'static str>,
}

/// The domain the controller called (the `Host` header without its port), for the
/// processor-domain header.
pub(crate) fn processor_domain(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(host_of)
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "custos".to_owned())
}

/// The host of a `Host` header value: without the port, an IPv6 literal with its brackets.
fn host_of(value: &str) -> String {
    if value.starts_with('[') {
        return value
            .split_inclusive(']')
            .next()
            .unwrap_or(value)
            .to_owned();
    }
    value.split(':').next().unwrap_or(value).to_owned()
}

/// A JSON response with the processor-domain header, signed when a secret is given.
fn respond(
    status: StatusCode,
    body: &impl Serialize,
    version: Version,
    domain: &str,
    secret: Option<&WebhookSecret>,
) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let signature =
        secret.map(|secret| webhook::sign(secret.expose(), Timestamp::now().as_second(), &bytes));
    let mut res = (status, bytes).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(domain) {
        h.insert(version.domain_header(), v);
    }
    if let Some(v) = signature.and_then(|sig| HeaderValue::from_str(&sig).ok()) {
        h.insert(version.signature_header(), v);
    }
    res
}

// ---- status callbacks ---------------------------------------------------------------------

/// POSTs the request's status to each of its callback URLs, signed, each within
/// [`CALLBACK_TIMEOUT`]; both the OpenGDPR and the OpenDSR header names are sent. A failure is
/// logged (the request id and why, never the URL or the person) and changes nothing else: the
/// controller can always ask for the status. Blocking.
fn send_callbacks(tenant: &str, r: &Request, secret: &WebhookSecret, domain: &str) {
    let urls = status_callbacks(r);
    if urls.is_empty() {
        return;
    }
    let agent = crate::notifier::agent(CALLBACK_TIMEOUT);
    let uuid = uuid_of(&r.request_id);
    let due = end_of(r.due_on);
    for url in &urls {
        let body = Callback {
            controller_id: tenant,
            status_callback_url: url,
            subject_request_id: &uuid,
            request_status: status_of(r.state),
            expected_completion_time: &due,
            api_version: Version::V1.api_version(),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let sig = webhook::sign(secret.expose(), Timestamp::now().as_second(), &bytes);
        let sent = agent
            .post(url)
            .header("content-type", "application/json")
            .header("x-opengdpr-processor-domain", domain)
            .header("x-opendsr-processor-domain", domain)
            .header("x-opengdpr-signature", &sig)
            .header("x-opendsr-signature", &sig)
            .send(&bytes[..]);
        let failure = match sent {
            Ok(res) if res.status().is_success() => None,
            Ok(res) => Some(format!(
                "the controller answered HTTP {}",
                res.status().as_u16()
            )),
            Err(ureq::Error::Timeout(_)) => Some("no answer within the timeout".to_owned()),
            Err(ureq::Error::TlsRequired | ureq::Error::Tls(_)) => {
                Some("the TLS handshake with the controller failed".to_owned())
            }
            Err(ureq::Error::Io(io)) => Some(format!("network error: {}", io.kind())),
            Err(_) => Some("the callback could not be delivered".to_owned()),
        };
        if let Some(why) = failure {
            tracing::warn!(request_id = %r.request_id, status = status_of(r.state), reason = %why,
                "an OpenGDPR status callback failed; the request is unaffected");
        }
    }
}

/// Sends the callbacks in the background, after the response.
pub(crate) fn announce(tenant: TenantId, r: Request, secret: WebhookSecret, domain: String) {
    if status_callbacks(&r).is_empty() {
        return;
    }
    tokio::task::spawn_blocking(move || send_callbacks(tenant.as_str(), &r, &secret, &domain));
}

// ---- handlers -----------------------------------------------------------------------------

fn discovery(version: Version, headers: &HeaderMap) -> Response {
    let body = Discovery {
        api_version: version.api_version(),
        supported_identities: IDENTITIES
            .iter()
            .map(|t| SupportedIdentity {
                identity_type: t,
                identity_format: "raw",
            })
            .collect(),
        supported_subject_request_types: TYPES.iter().map(|(name, _)| *name).collect(),
    };
    respond(
        StatusCode::OK,
        &body,
        version,
        &processor_domain(headers),
        None,
    )
}

async fn create(call: Call, body: Bytes, version: Version) -> Result<Response, ErrorBody> {
    let Call { s, caller, headers } = call;
    let caller = caller?;
    caller.require(Role::may_use_records, "file OpenGDPR requests")?;
    let (tenant, actor) = (tenant_id(&caller)?, caller.0.actor());
    let now = Timestamp::now();
    let p = parse_request(&body, version, now)?;
    let subject = custos_vault::SubjectId::new(p.subject).map_err(|_| {
        ErrorBody::invalid_one(
            "invalid_value",
            "the chosen identity_value is not a usable subject identifier",
        )
    })?;
    let mut new = s.new_request(p.kind, subject, None, p.submitted, CHANNEL.into())?;
    new.request_id = Some(request_id_of(&p.subject_request_id));
    let (request, secret) = as_caller(&s, &tenant, actor, move |s, t| {
        let filed = t.file_request(&s.loaded.policy, new)?;
        if filed.duplicate {
            return Ok(Err(filed.request.request_id));
        }
        let id = filed.request.request_id;
        if !p.callbacks.is_empty() {
            t.set_status_callbacks(&id, &p.callbacks)?;
        }
        let how = Verification::Attested {
            method: ATTESTATION.into(),
        };
        let r = t.verify_request(&id, &how, now)?;
        Ok(Ok((r, t.opengdpr_secret())))
    })
    .await
    .map_err(|p| {
        if p.status == 409 {
            ErrorBody::new(409, "a request with this subject_request_id exists").item(
                "duplicate",
                "this subject_request_id was filed before; ask for its status instead",
            )
        } else {
            ErrorBody::from(p)
        }
    })?
    .map_err(|existing| {
        ErrorBody::new(
            409,
            "an open request of this type for the same identity exists",
        )
        .item(
            "duplicate",
            format!(
                "Custos request {existing} of this type for the same identity is still open; it was not filed again"
            ),
        )
    })?;
    let domain = processor_domain(&headers);
    let created = Created {
        controller_id: tenant.as_str().to_owned(),
        expected_completion_time: end_of(request.due_on),
        received_time: rfc3339(now),
        encoded_request: base64::engine::general_purpose::STANDARD.encode(&body),
        subject_request_id: p.subject_request_id,
    };
    let res = respond(
        StatusCode::CREATED,
        &created,
        version,
        &domain,
        Some(&secret),
    );
    announce(tenant, request, secret, domain);
    Ok(res)
}

/// The request `uuid` of the caller's tenant, if it was filed over OpenGDPR, with the tenant's
/// secret.
async fn load(
    s: &Arc<AppState>,
    tenant: &TenantId,
    uuid: &str,
) -> Result<(Request, WebhookSecret), ErrorBody> {
    if !is_uuid_v4(uuid) {
        return Err(ErrorBody::invalid_one(
            "invalid_value",
            "the subject_request_id in the path must be a lowercase UUID version 4",
        ));
    }
    let (t2, id) = (tenant.clone(), request_id_of(uuid));
    write(s, move |_, v| {
        let mut t = v.tenant(&t2);
        match t.request(&id) {
            Ok(r) if r.detail.get("channel").and_then(Value::as_str) == Some(CHANNEL) => {
                Ok(Some((r, t.opengdpr_secret())))
            }
            Ok(_) | Err(custos_vault::VaultError::Request(RequestError::NotFound(_))) => Ok(None),
            Err(e) => Err(Problem::from(&e)),
        }
    })
    .await?
    .ok_or_else(not_found)
}

async fn status(call: Call, uuid: PathParam, version: Version) -> Result<Response, ErrorBody> {
    let Call { s, caller, headers } = call;
    let caller = caller?;
    let uuid = path(uuid)?;
    caller.require(
        |r| Role::may_use_records(r) || Role::may_read_audit(r),
        "read OpenGDPR requests",
    )?;
    let tenant = tenant_id(&caller)?;
    let (r, secret) = load(&s, &tenant, &uuid).await?;
    let body = Status {
        controller_id: tenant.as_str().to_owned(),
        expected_completion_time: end_of(r.due_on),
        subject_request_id: uuid,
        request_status: status_of(r.state),
        api_version: version.api_version(),
    };
    Ok(respond(
        StatusCode::OK,
        &body,
        version,
        &processor_domain(&headers),
        Some(&secret),
    ))
}

async fn cancel(call: Call, uuid: PathParam, version: Version) -> Result<Response, ErrorBody> {
    let Call { s, caller, headers } = call;
    let caller = caller?;
    let uuid = path(uuid)?;
    caller.require(Role::may_use_records, "cancel OpenGDPR requests")?;
    let (tenant, actor) = (tenant_id(&caller)?, caller.0.actor());
    let (r, secret) = load(&s, &tenant, &uuid).await?;
    let not_pending = |state: RequestState| {
        ErrorBody::new(400, "only a pending request can be cancelled").item(
            "not_pending",
            format!(
                "the request is {}; only a pending request can be cancelled",
                status_of(state)
            ),
        )
    };
    if status_of(r.state) != "pending" {
        return Err(not_pending(r.state));
    }
    let now = Timestamp::now();
    let id = r.request_id.clone();
    let cancelled = as_caller(&s, &tenant, actor, move |s, t| {
        // Checked again under the same lock as the refusal: the DPO may have started it.
        let r = t.request(&id)?;
        if status_of(r.state) != "pending" {
            return Ok(Err(r.state));
        }
        Ok(Ok(t.refuse_request(
            &s.loaded.policy,
            &id,
            CANCELLED,
            now,
        )?))
    })
    .await?
    .map_err(not_pending)?;
    let domain = processor_domain(&headers);
    let body = Cancelled {
        controller_id: tenant.as_str().to_owned(),
        received_time: rfc3339(now),
        subject_request_id: uuid,
        api_version: version.api_version(),
    };
    let res = respond(StatusCode::ACCEPTED, &body, version, &domain, Some(&secret));
    announce(tenant, cancelled, secret, domain);
    Ok(res)
}

/// What every OpenGDPR route takes from the request besides its path and body: the server, the
/// caller, and the headers (for the processor domain). A failed authentication is kept, not
/// rejected, so that it is answered in OpenGDPR's error shape.
pub struct Call {
    s: Arc<AppState>,
    caller: Result<Caller, Problem>,
    headers: HeaderMap,
}

impl FromRequestParts<Arc<AppState>> for Call {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await;
        Ok(Call {
            s: state.clone(),
            caller,
            headers: parts.headers.clone(),
        })
    }
}

/// The path's `subject_request_id`; its rejection is reported after authentication.
type PathParam = Result<Path<String>, axum::extract::rejection::PathRejection>;

/// The `subject_request_id` in the path as text.
fn path(p: PathParam) -> Result<String, ErrorBody> {
    p.map(|Path(id)| id).map_err(|_| {
        ErrorBody::invalid_one(
            "invalid_value",
            "the subject_request_id in the path is not valid text",
        )
    })
}

/// OpenGDPR 1.0 discovery: the identities and request types Custos accepts. No
/// `processor_certificate`: Custos signs with a per-tenant HMAC secret, not an X.509 certificate.
#[utoipa::path(get, path = "/v1/discovery", tag = "opengdpr",
    responses((status = 200, body = Discovery)))]
pub async fn discovery_v1(headers: HeaderMap) -> Response {
    discovery(Version::V1, &headers)
}

/// OpenDSR 2.0 discovery (as `/v1/discovery`, `api_version` 2.0).
#[utoipa::path(get, path = "/v2/discovery", tag = "opengdpr",
    responses((status = 200, body = Discovery)))]
pub async fn discovery_v2(headers: HeaderMap) -> Response {
    discovery(Version::V2, &headers)
}

/// Files an OpenGDPR request (app and dpo keys). Its identity counts as verified (the
/// controller's system is authenticated); the deadline counts from `submitted_time`. The DPO
/// carries it out through `/v1/requests/{id}/execute` (the id is the subject_request_id without
/// dashes). Signed with the tenant's secret (`X-OpenGDPR-Signature`).
#[utoipa::path(post, path = "/v1/opengdpr_requests", tag = "opengdpr", request_body = OpenGdprRequest, security(("api_key" = [])),
    responses((status = 201, body = Created), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, description = "The subject_request_id was used before, or an open request of this type for the same identity exists", body = ErrorBody)))]
pub async fn create_v1(call: Call, body: Bytes) -> Response {
    create(call, body, Version::V1).await.into_response()
}

/// Files an OpenDSR 2.0 request (as `/v1/opengdpr_requests`; `regulation` must be `gdpr`).
#[utoipa::path(post, path = "/v2/requests", tag = "opengdpr", request_body = OpenGdprRequest, security(("api_key" = [])),
    responses((status = 201, body = Created), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_v2(call: Call, body: Bytes) -> Response {
    create(call, body, Version::V2).await.into_response()
}

/// The status of an OpenGDPR request (app, dpo and auditor keys): `pending` (received or
/// verified), `in_progress`, `completed`, or `cancelled` (cancelled or refused).
#[utoipa::path(get, path = "/v1/opengdpr_requests/{subject_request_id}", tag = "opengdpr", security(("api_key" = [])),
    params(("subject_request_id" = String, Path, description = "The controller's id for the request")),
    responses((status = 200, body = Status), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn status_v1(call: Call, id: PathParam) -> Response {
    status(call, id, Version::V1).await.into_response()
}

/// The status of an OpenDSR 2.0 request (as `/v1/opengdpr_requests/{subject_request_id}`).
#[utoipa::path(get, path = "/v2/requests/{subject_request_id}", tag = "opengdpr", security(("api_key" = [])),
    params(("subject_request_id" = String, Path, description = "The controller's id for the request")),
    responses((status = 200, body = Status), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn status_v2(call: Call, id: PathParam) -> Response {
    status(call, id, Version::V2).await.into_response()
}

/// Cancels an OpenGDPR request while it is pending (app and dpo keys): recorded as a refusal
/// "cancelled by the controller"; 400 `not_pending` once the DPO has started or closed it.
#[utoipa::path(delete, path = "/v1/opengdpr_requests/{subject_request_id}", tag = "opengdpr", security(("api_key" = [])),
    params(("subject_request_id" = String, Path, description = "The controller's id for the request")),
    responses((status = 202, body = Cancelled), (status = 400, description = "Invalid id, or the request is no longer pending", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn cancel_v1(call: Call, id: PathParam) -> Response {
    cancel(call, id, Version::V1).await.into_response()
}

/// Cancels an OpenDSR 2.0 request while it is pending (as the `/v1` route).
#[utoipa::path(delete, path = "/v2/requests/{subject_request_id}", tag = "opengdpr", security(("api_key" = [])),
    params(("subject_request_id" = String, Path, description = "The controller's id for the request")),
    responses((status = 202, body = Cancelled), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn cancel_v2(call: Call, id: PathParam) -> Response {
    cancel(call, id, Version::V2).await.into_response()
}

/// The tenant's secret for verifying OpenGDPR responses and status callbacks (dpo keys), to hand
/// to the controller's system. Derived from the vault's keys; it changes only with the master key.
#[utoipa::path(get, path = "/v1/opengdpr/callback_secret", tag = "opengdpr", security(("api_key" = [])),
    responses((status = 200, body = CallbackSecret), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn callback_secret(call: Call) -> Response {
    let run = async move {
        let Call { s, caller, .. } = call;
        let caller = caller?;
        caller.require(
            Role::may_handle_requests,
            "read the OpenGDPR signing secret",
        )?;
        let tenant = tenant_id(&caller)?;
        let secret = write(&s, move |_, v| {
            Ok(hex::encode(v.tenant(&tenant).opengdpr_secret().expose()))
        })
        .await?;
        Ok::<_, ErrorBody>(
            axum::Json(CallbackSecret {
                secret,
                algorithm: "HMAC-SHA256",
                format: "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">",
                headers: vec!["X-OpenGDPR-Signature", "X-OpenDSR-Signature"],
            })
            .into_response(),
        )
    };
    run.await.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-23T10:00:00Z";
    const ID: &str = "a7551968-d5d6-44b2-9831-815ac9017798";

    fn body(v: Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    fn parse(v: Value) -> Result<Parsed, ErrorBody> {
        parse_request(&body(v), Version::V1, NOW.parse().unwrap())
    }

    fn valid() -> Value {
        serde_json::json!({
            "subject_request_id": ID,
            "subject_request_type": "erasure",
            "submitted_time": "2026-11-20T15:00:00Z",
            "subject_identities": [
                { "identity_type": "email", "identity_value": "jan@example.nl", "identity_format": "raw" },
                { "identity_type": "controller_customer_id", "identity_value": "cust-42", "identity_format": "raw" }
            ],
            "status_callback_urls": ["https://controller.example/opengdpr/callbacks"]
        })
    }

    #[test]
    fn only_lowercase_uuid_v4_is_a_subject_request_id() {
        assert!(is_uuid_v4(ID));
        assert!(!is_uuid_v4(&ID.to_uppercase()));
        assert!(
            !is_uuid_v4("a7551968-d5d6-14b2-9831-815ac9017798"),
            "version 1"
        );
        assert!(
            !is_uuid_v4("a7551968-d5d6-44b2-c831-815ac9017798"),
            "variant"
        );
        assert!(!is_uuid_v4("a7551968d5d644b29831815ac9017798"));
        assert_eq!(uuid_of(&request_id_of(ID)), ID);
    }

    #[test]
    fn a_customer_id_is_preferred_over_an_email() {
        let p = parse(valid()).unwrap();
        assert_eq!(p.subject, "cust-42");
        assert_eq!(p.kind, RequestKind::Erasure);
        assert_eq!(p.callbacks.len(), 1);
    }

    #[test]
    fn every_invalid_field_is_named_and_no_value_is_echoed() {
        let e = parse(serde_json::json!({
            "subject_request_id": "NOT-A-UUID",
            "subject_request_type": "rectification",
            "submitted_time": "yesterday",
            "subject_identities": [
                { "identity_type": "email", "identity_value": "jan@example.nl", "identity_format": "sha256" }
            ],
            "status_callback_urls": ["ftp://jan@example.nl/"]
        }))
        .unwrap_err();
        assert_eq!(e.error.code, 400);
        let text = serde_json::to_string(&e).unwrap();
        for value in ["NOT-A-UUID", "jan@example.nl", "yesterday", "rectification"] {
            assert!(!text.contains(value), "{value} echoed in {text}");
        }
        let reasons: Vec<&str> = e.error.errors.iter().map(|i| i.reason).collect();
        assert_eq!(
            reasons,
            [
                "invalid_value",
                "unsupported_value",
                "invalid_value",
                "unsupported_identity",
                "invalid_value"
            ]
        );
    }

    #[test]
    fn opendsr_requires_the_gdpr_regulation() {
        let at = NOW.parse().unwrap();
        let e = parse_request(&body(valid()), Version::V2, at).unwrap_err();
        assert_eq!(e.error.errors[0].reason, "required");
        let mut v = valid();
        v["regulation"] = "ccpa".into();
        let e = parse_request(&body(v.clone()), Version::V2, at).unwrap_err();
        assert_eq!(e.error.errors[0].reason, "unsupported_value");
        v["regulation"] = "gdpr".into();
        assert!(parse_request(&body(v), Version::V2, at).is_ok());
    }

    #[test]
    fn a_submission_in_the_future_is_refused() {
        let mut v = valid();
        v["submitted_time"] = "2026-11-24T10:00:00Z".into();
        assert!(parse(v).is_err());
    }

    #[test]
    fn the_processor_domain_is_the_host_without_its_port() {
        assert_eq!(host_of("opengdpr.example.com:8443"), "opengdpr.example.com");
        assert_eq!(host_of("opengdpr.example.com"), "opengdpr.example.com");
        assert_eq!(host_of("[::1]:8080"), "[::1]");
        assert_eq!(host_of("[::1]"), "[::1]");
    }

    #[test]
    fn states_map_onto_opengdpr_statuses() {
        assert_eq!(status_of(RequestState::Received), "pending");
        assert_eq!(status_of(RequestState::Verified), "pending");
        assert_eq!(status_of(RequestState::InProgress), "in_progress");
        assert_eq!(status_of(RequestState::Completed), "completed");
        assert_eq!(status_of(RequestState::Refused), "cancelled");
    }

    #[test]
    fn a_due_date_ends_at_midnight_in_amsterdam() {
        // 24 December 2026 is in winter time (UTC+1).
        assert_eq!(
            end_of("2026-12-24".parse().unwrap()),
            "2026-12-24T22:59:59Z"
        );
    }
}
