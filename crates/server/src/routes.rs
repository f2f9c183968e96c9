//! The routes. Each handler is a thin call into a library and a response; the OpenAPI
//! document is generated from the same declarations (utoipa), so a route cannot exist without
//! being documented.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use custos_policy::Lang;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::ApiQuery;
use crate::problem::Problem;
use custos_types::ErrorCode;

/// All routes with their OpenAPI description.
pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(policy))
        .routes(routes!(statement))
        .routes(routes!(ropa))
        .routes(routes!(dpv))
        .routes(routes!(privacy_page))
        .routes(routes!(crate::data::create_tenant))
        .routes(routes!(crate::data::issue_key))
        .routes(routes!(crate::data::revoke_key))
        .routes(routes!(crate::data::put_record))
        .routes(routes!(crate::data::list_records))
        .routes(routes!(
            crate::data::get_record,
            crate::data::update_record,
            crate::data::delete_record
        ))
        .routes(routes!(crate::data::erase_subject))
        .routes(routes!(crate::data::audit))
        .routes(routes!(crate::data::audit_verify))
        .routes(routes!(crate::retention::record_event))
        .routes(routes!(crate::retention::set_tier))
        .routes(routes!(
            crate::retention::set_override,
            crate::retention::clear_override
        ))
        .routes(routes!(
            crate::retention::place_hold,
            crate::retention::list_holds
        ))
        .routes(routes!(crate::retention::release_hold))
        .routes(routes!(crate::retention::report))
        .routes(routes!(crate::retention::due))
        .routes(routes!(
            crate::breaches::record_breach,
            crate::breaches::list_breaches
        ))
        .routes(routes!(
            crate::breaches::get_breach,
            crate::breaches::update_breach
        ))
        .routes(routes!(crate::breaches::decide_breach))
        .routes(routes!(crate::breaches::affected))
        .routes(routes!(crate::breaches::draft))
        .routes(routes!(
            crate::breach_letters::send_letters,
            crate::breach_letters::letters
        ))
        .routes(routes!(crate::breach_letters::notify_controllers))
        .routes(routes!(crate::recipients::record_disclosure))
        .routes(routes!(crate::recipients::set_webhook))
        .routes(routes!(crate::recipients::set_app_webhook))
        .routes(routes!(crate::recipients::dead_letters))
        .routes(routes!(crate::recipients::retry))
        .routes(routes!(
            crate::requests::file_request,
            crate::requests::list_requests
        ))
        .routes(routes!(crate::requests::get_request))
        .routes(routes!(crate::requests::issue_code))
        .routes(routes!(crate::requests::verify_request))
        .routes(routes!(crate::requests::extend_request))
        .routes(routes!(crate::requests::refuse_request))
        .routes(routes!(crate::requests::execute_request))
        .routes(routes!(crate::opengdpr::discovery_v1))
        .routes(routes!(crate::opengdpr::create_v1))
        .routes(routes!(
            crate::opengdpr::status_v1,
            crate::opengdpr::cancel_v1
        ))
        .routes(routes!(crate::opengdpr::callback_secret))
        .routes(routes!(crate::opengdpr::discovery_v2))
        .routes(routes!(crate::opengdpr::create_v2))
        .routes(routes!(
            crate::opengdpr::status_v2,
            crate::opengdpr::cancel_v2
        ))
        .routes(routes!(crate::consent::gpc_support))
        .routes(routes!(crate::consent::record_consent))
        .routes(routes!(crate::consent::consent_state))
        .routes(routes!(crate::consent::consent_history))
        .routes(routes!(crate::consent::accept_statement))
        .routes(routes!(crate::consent::must_accept))
        .routes(routes!(crate::consent::suppress))
        .routes(routes!(crate::consent::decide))
        .routes(routes!(crate::consent::decide_batch))
        .routes(routes!(
            crate::consent::request_approval,
            crate::consent::list_approvals
        ))
        .routes(routes!(crate::consent::get_approval))
        .routes(routes!(crate::consent::approve))
        .routes(routes!(crate::consent::reject))
        .merge(crate::announcements::router())
}

fn typed(body: String, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

/// Health of the process.
#[derive(Serialize, ToSchema)]
struct Health {
    /// Always `ok` when the process answers.
    status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
async fn healthz() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// Readiness, and the policy's accepted findings.
#[derive(Serialize, ToSchema)]
struct Ready {
    /// `ok`.
    status: &'static str,
    /// The policy's findings of severity error that the configuration accepts
    /// (`[[accept_finding]]`), with their reasons; empty for a policy that passes `custos check`.
    accepted_findings: Vec<crate::AcceptedFindingView>,
}

/// Readiness: the policy is loaded (and, with the vault, the database and keys are usable).
/// Lists the policy's findings of severity error that the configuration accepts.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, body = Ready), (status = 503, body = Problem, content_type = "application/problem+json")))]
async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    if !s.ready.load(Ordering::Acquire) {
        return Problem::new(ErrorCode::Unavailable)
            .detail("the server is starting or shutting down")
            .into_response();
    }
    // With a database: ready only while it answers (the keys were checked when it was opened).
    if s.has_backend() {
        let st = s.clone();
        let ok = tokio::task::spawn_blocking(move || {
            st.backend().is_ok_and(|b| {
                b.access
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .tenant_exists("-")
                    .is_ok()
            })
        })
        .await
        .unwrap_or(false);
        if !ok {
            return Problem::new(ErrorCode::Unavailable)
                .detail("the database does not answer")
                .into_response();
        }
    }
    axum::Json(Ready {
        status: "ok",
        accepted_findings: s.accepted_findings.clone(),
    })
    .into_response()
}

/// Prometheus metrics: request counts and latencies per route.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    let mut out = s.metrics.render();
    // Only a server over a database other servers share has revocations to hear.
    if let Some(b) = s.backend.as_ref().filter(|b| b.shared()) {
        use std::fmt::Write as _;
        let _ = writeln!(
            out,
            "# HELP custos_revocations_heard Whether this server hears revoked keys from PostgreSQL now (1), or asks the database on every request (0).\n# TYPE custos_revocations_heard gauge\ncustos_revocations_heard {}",
            u8::from(b.revocations().1)
        );
    }
    typed(out, "text/plain; version=0.0.4")
}

/// The canonical, fully resolved policy (every default applied, every reference expanded).
#[utoipa::path(get, path = "/v1/policy", tag = "policy", responses((status = 200, description = "The resolved policy", body = Object)))]
async fn policy(State(s): State<Arc<AppState>>) -> Response {
    typed(s.rendered.canonical.clone(), "application/json")
}

/// Language and format of a rendered statement.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StatementQuery {
    /// `nl` or `en` (default: the statement's first language).
    #[param(schema_with = lang_param)]
    lang: Option<String>,
    /// `md` or `html` (default `html`).
    #[param(schema_with = statement_format_param)]
    format: Option<String>,
}

/// A string parameter that takes one of `values`. The handlers keep reading a plain string so that
/// a wrong value is answered with their own problem naming the choices.
fn one_of(values: &[&str]) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

fn lang_param() -> utoipa::openapi::Object {
    one_of(&["nl", "en"])
}

fn statement_format_param() -> utoipa::openapi::Object {
    one_of(&["md", "html"])
}

fn ropa_format_param() -> utoipa::openapi::Object {
    one_of(&["json", "csv"])
}

fn parse_lang(s: &AppState, lang: Option<&str>) -> Result<Lang, Problem> {
    match lang {
        None => Ok(s
            .loaded
            .policy
            .meta
            .languages
            .first()
            .copied()
            .unwrap_or(Lang::En)),
        Some(code) => Lang::from_code(code).ok_or_else(|| {
            Problem::new(ErrorCode::InvalidQuery).field(
                "lang",
                format!(
                    "{} is not a language; use `nl` or `en`",
                    custos_policy::diag::shown(code)
                ),
            )
        }),
    }
}

/// The public privacy statement, rendered.
#[utoipa::path(get, path = "/v1/policy/statement", tag = "policy", params(StatementQuery), responses(
    (status = 200, description = "The statement: HTML, or Markdown with `format=md`", content(
        (String = "text/html"), (String = "text/markdown"))),
    (status = 400, body = Problem, content_type = "application/problem+json")))]
async fn statement(
    State(s): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<StatementQuery>,
) -> Result<Response, Problem> {
    let lang = parse_lang(&s, q.lang.as_deref())?;
    let (html, ct) = match q.format.as_deref() {
        None | Some("html") => (true, "text/html; charset=utf-8"),
        Some("md") => (false, "text/markdown; charset=utf-8"),
        Some(other) => {
            return Err(Problem::new(ErrorCode::InvalidQuery).field(
                "format",
                format!(
                    "{} is not a format; use `md` or `html`",
                    custos_policy::diag::shown(other)
                ),
            ));
        }
    };
    let body = statement_in(&s, lang, html)?;
    let mut res = typed(body, ct);
    res.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.code()),
    );
    Ok(res)
}

/// The rendered statement in `lang`, or `language-not-offered` naming the policy's languages.
fn statement_in(s: &AppState, lang: Lang, html: bool) -> Result<String, Problem> {
    s.rendered
        .statement(lang, html)
        .map(str::to_owned)
        .ok_or_else(|| {
            let offered: Vec<&str> = s
                .loaded
                .policy
                .meta
                .languages
                .iter()
                .map(|l| l.code())
                .collect();
            Problem::new(ErrorCode::LanguageNotOffered).field(
                "lang",
                format!(
                    "the statement is not published in `{lang}`; it is in: {}",
                    offered.join(", ")
                ),
            )
        })
}

/// Format of the record of processing activities.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RopaQuery {
    /// `json` (default) or `csv`.
    #[param(schema_with = ropa_format_param)]
    format: Option<String>,
}

/// The Art. 30 record of processing activities. An internal document kept for the
/// supervisory authority (Art. 30(4)), not a public one: admin, dpo and auditor keys only (the
/// statement, the policy and the DPV export stay public).
#[utoipa::path(get, path = "/v1/policy/ropa", tag = "policy", params(RopaQuery), security(("api_key" = [])), responses(
    (status = 200, description = "The record: JSON, or CSV with `format=csv`", content(
        (Object = "application/json"), (String = "text/csv"))),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json")))]
async fn ropa(
    State(s): State<Arc<AppState>>,
    caller: crate::auth::Caller,
    ApiQuery(q): ApiQuery<RopaQuery>,
) -> Result<Response, Problem> {
    caller.require(
        |r| r == custos_access::Role::Admin || r.may_read_audit(),
        "read the record of processing activities",
    )?;
    match q.format.as_deref() {
        None | Some("json") => Ok(typed(s.rendered.ropa_json.clone(), "application/json")),
        Some("csv") => Ok(typed(
            s.rendered.ropa_csv.clone(),
            "text/csv; charset=utf-8",
        )),
        Some(other) => Err(Problem::new(ErrorCode::InvalidQuery).field(
            "format",
            format!(
                "{} is not a format; use `json` or `csv`",
                custos_policy::diag::shown(other)
            ),
        )),
    }
}

/// The processing activities as W3C DPV JSON-LD.
#[utoipa::path(get, path = "/v1/policy/dpv", tag = "policy", responses((status = 200, description = "DPV JSON-LD", body = Object, content_type = "application/ld+json")))]
async fn dpv(State(s): State<Arc<AppState>>) -> Response {
    typed(s.rendered.dpv.clone(), "application/ld+json")
}

/// Language of the public page.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// `nl` or `en`; overrides `Accept-Language` (default: the language the browser prefers
    /// among the statement's, else the statement's first language).
    #[param(schema_with = lang_param)]
    lang: Option<String>,
}

/// The privacy statement as a public page, for a company to link its website to, in the
/// language the browser prefers among the statement's (`Accept-Language`, q-values honoured;
/// `?lang=` overrides it), with links to the statement's other languages; answered with
/// `Content-Language`. A request with `Sec-GPC: 1` is answered with
/// `Custos-GPC: received; not recorded`: the page knows no subject (see
/// `/.well-known/gpc.json`; apps record the signal per subject through the consent API).
#[utoipa::path(get, path = "/privacy", tag = "public", params(PageQuery), responses(
    (status = 200, description = "The statement page", content_type = "text/html"),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "`?lang=` names a language the statement is not published in", body = Problem, content_type = "application/problem+json")))]
async fn privacy_page(
    State(s): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Response, Problem> {
    let lang = match q.lang.as_deref() {
        Some(code) => parse_lang(&s, Some(code))?,
        None => headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Lang::negotiate(v, &s.loaded.policy.meta.languages))
            .map_or_else(|| parse_lang(&s, None), Ok)?,
    };
    let mut res = typed(statement_in(&s, lang, true)?, "text/html; charset=utf-8");
    res.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.code()),
    );
    // The page is public and anonymous: a GPC signal here has no subject to be recorded for
    // (the consent API records it per subject). It is acknowledged, and caches keep it apart,
    // as they keep the languages apart.
    res.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Sec-GPC"),
    );
    if crate::consent::gpc(&headers) {
        res.headers_mut().insert(
            "custos-gpc",
            HeaderValue::from_static("received; not recorded"),
        );
    }
    Ok(res)
}
